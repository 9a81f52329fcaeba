/*
 * One request in flight [Kafka's RequestChannel.Request]: the decoded header and
 * body, the arena they live in, and how to answer.  Handlers get a request,
 * fill a response struct and call request_respond(); the request is freed then.
 */
#ifndef SAMSA_SERVER_REQUEST_H
#define SAMSA_SERVER_REQUEST_H

#include <stdint.h>

#include "samsa/net.h"
#include "samsa/proto.h"
#include "samsa/util/arena.h"
#include "samsa/util/buf.h"

struct broker;

struct request {
	struct broker *broker;
	struct conn *conn;
	struct conn_info info;         /* copied: listener name, peer */
	struct request_header header;
	void *body;                    /* decoded request struct, in arena */
	struct arena arena;
	uint8_t *frame;                /* owned copy of the frame (the body points into it) */
	size_t frame_len;
	int64_t start_us;              /* metrics_now_us() at arrival; 0 before the header is decoded */
};

/* Encode `response` (the API's response struct) at the request's version, send it, free the request. */
void request_respond(struct request *req, const void *response);
/* The same, for a response whose record fields are wbuf_external gaps: the i-th
 * gap in encoding order is sent from files[i] (the zero-copy fetch path). */
void request_respond_spliced(struct request *req, const void *response, const struct net_file_range *files,
			     size_t n_files);
/* No response (acks=0 produce); frees the request. */
void request_respond_none(struct request *req);
/* Free a request answered some other way (net_respond_and_close, a bare SASL token). */
void request_free(struct request *req);
/* Close the connection (protocol violation); frees the request. */
void request_close(struct request *req);

/* Entry point from the network layer (net_request_fn). */
void request_dispatch(struct conn *c, const struct conn_info *info, const uint8_t *frame, size_t len,
		      void *broker);

typedef void (*api_handler_fn)(struct request *req);

/* The handler table: NULL for APIs not implemented yet. */
api_handler_fn api_handler(int16_t api_key);
/* The highest version the handler implements (the schema's max unless narrowed). */
int16_t api_max_version(int16_t api_key);

#endif
