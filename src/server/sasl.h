/*
 * SASL on SASL_PLAINTEXT and SASL_SSL listeners [Kafka's
 * SaslServerAuthenticator]: SaslHandshake v0/v1 and SaslAuthenticate, PLAIN
 * against the users of the listener's JAAS config, SCRAM-SHA-256/512 against
 * the credentials in ZooKeeper (/config/users/<user>), re-authentication and
 * session expiry (connections.max.reauth.ms, KIP-368).
 */
#ifndef SAMSA_SERVER_SASL_H
#define SAMSA_SERVER_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct conn;
struct conn_info;
struct request;

/* Read and check every SASL listener's settings; 0, or -1 after logging why (the start stops). */
int broker_sasl_prepare(struct broker *b);
void broker_sasl_free(struct broker *b);

/*
 * Before a frame of a SASL listener is decoded as a request: true when it was
 * SASL's (a raw token after SaslHandshake v0) and has been answered or closed.
 */
bool sasl_intercept(struct broker *b, struct conn *c, const struct conn_info *info, const uint8_t *frame,
		    size_t len);
/*
 * Whether the decoded request may be served on its connection: before
 * authentication only ApiVersions, SaslHandshake and SaslAuthenticate are,
 * and after the session expired only SaslHandshake.  When false the request
 * has been closed (logged once).
 */
bool sasl_allows(struct request *req);

void handle_sasl_handshake(struct request *req);
void handle_sasl_authenticate(struct request *req);


#endif
