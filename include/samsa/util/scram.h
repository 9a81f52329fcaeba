/*
 * SCRAM (RFC 5802, 7677) as Kafka uses it [ScramFormatter, ScramCredentialUtils,
 * ScramSaslServer]: the key derivations, Kafka's credential string
 * ("salt=<b64>,stored_key=<b64>,server_key=<b64>,iterations=<n>") and the
 * server's side of the two-message exchange.
 */
#ifndef SAMSA_UTIL_SCRAM_H
#define SAMSA_UTIL_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's ScramMechanism ids (AlterUserScramCredentials, DescribeUserScramCredentials). */
#define SCRAM_SHA_256 1
#define SCRAM_SHA_512 2
#define SCRAM_MAX_HASH 64
/* Kafka's bounds on iterations (UNACCEPTABLE_CREDENTIAL outside them). */
#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 16384

const char *scram_mech_name(int mech);       /* "SCRAM-SHA-256", or NULL */
int scram_mech_from_name(const char *name);  /* 0 when not one */
size_t scram_hash_len(int mech);

struct scram_credential {
	uint8_t salt[128];
	size_t salt_len;
	uint8_t stored_key[SCRAM_MAX_HASH];
	uint8_t server_key[SCRAM_MAX_HASH];
	int iterations;
};

/* Hi(password, salt, i) = PBKDF2-HMAC. */
void scram_salted_password(int mech, const char *password, const uint8_t *salt, size_t salt_len, int iterations,
			   uint8_t *out);
/* The credential a salted password gives. */
void scram_credential_from_salted(int mech, const uint8_t *salt, size_t salt_len, const uint8_t *salted,
				  int iterations, struct scram_credential *out);
/* Kafka's string form; malloc'd. */
char *scram_credential_format(int mech, const struct scram_credential *c);
/* false when s is not that form. */
bool scram_credential_parse(int mech, const char *s, struct scram_credential *out);

/*
 * The server side of one exchange.  scram_server_first parses the
 * client-first message and gives the user name (for the caller to find its
 * credential); scram_server_challenge makes the server-first message;
 * scram_server_final checks the client's proof and makes the server-final
 * message.  Each returns false on a malformed message or a failed proof.
 */
struct scram_server {
	int mech;
	char user[256];
	char *client_first_bare;
	char *server_first;
	char nonce[160];
	struct scram_credential cred;
};
bool scram_server_first(struct scram_server *s, int mech, const uint8_t *msg, size_t len);
/* The same with the server's part of the nonce given (tests with RFC vectors). */
bool scram_server_first_nonce(struct scram_server *s, int mech, const uint8_t *msg, size_t len,
			      const char *server_nonce);
/* Malloc'd server-first message for credential c. */
char *scram_server_challenge(struct scram_server *s, const struct scram_credential *c);
/* Malloc'd server-final message, or NULL when the proof is wrong or the message malformed. */
char *scram_server_final(struct scram_server *s, const uint8_t *msg, size_t len);
void scram_server_clear(struct scram_server *s);

/* The client side (inter-broker SASL and tests): the messages a client sends. */
struct scram_client {
	int mech;
	char *user;
	char *password;
	char nonce[64];
	char *client_first_bare;
	uint8_t server_signature[SCRAM_MAX_HASH];
};
char *scram_client_first(struct scram_client *c, int mech, const char *user, const char *password);
char *scram_client_first_nonce(struct scram_client *c, int mech, const char *user, const char *password,
			       const char *nonce);
char *scram_client_final(struct scram_client *c, const uint8_t *server_first, size_t len);
bool scram_client_verify(struct scram_client *c, const uint8_t *server_final, size_t len);
void scram_client_clear(struct scram_client *c);

/* Base64 (standard alphabet, padded); the decoder returns -1 on bad input. */
char *scram_b64(const uint8_t *p, size_t n);
long scram_unb64(const char *s, size_t n, uint8_t *out, size_t cap);

#endif
