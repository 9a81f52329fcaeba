/*
 * The interface of src/proto/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_PROTO_H
#define SAMSA_PROTO_H

#include <stdint.h>

#include "samsa/util/buf.h"

#include "proto/gen/constants.h"
#include "proto/gen/messages.h"

/*
 * Request and response headers.  Which header version a message uses depends
 * on the API and its version: flexible versions use request header v2 and
 * response header v1 (tagged fields), ControlledShutdown v0 has no client id,
 * and ApiVersions responses always use header v0 so that a client can read the
 * answer before it knows which versions the broker speaks.
 */
struct request_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct kstr client_id; /* null for header v0 */
	int16_t header_version;
};

/* 0, 1 or 2 for a request of this API at this version (unknown APIs: 1). */
int16_t request_header_version(int16_t api_key, int16_t api_version);
/* 0 or 1. */
int16_t response_header_version(int16_t api_key, int16_t api_version);

/*
 * Reads the request header from the start of a frame.  Unknown API keys and
 * versions are read as header v1 (key, version, correlation id, client id), the
 * layout every client uses for its first ApiVersions request, so the broker can
 * still answer with the correlation id.  Returns 0 or -1.
 */
int request_header_decode(struct rd *r, struct request_header *h);
void request_header_encode(struct wbuf *w, const struct request_header *h);
void response_header_encode(struct wbuf *w, int16_t header_version, int32_t correlation_id);

#endif
