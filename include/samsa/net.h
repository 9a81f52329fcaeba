/*
 * The interface of src/net/: the one header of the module that other
 * modules include (its private headers stay beside its .c files).
 * docs/architecture.md shows which modules may include it.
 */
#ifndef SAMSA_NET_H
#define SAMSA_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The network layer [Kafka's SocketServer]: listeners, network threads, connections,
 * size-prefixed framing.  It knows nothing of Kafka APIs: it hands each complete
 * request frame to the request handler and sends back what the handler answers.
 *
 * Ordering: a connection delivers one frame at a time and is muted (no further
 * frames delivered) until the handler answers with net_respond() or
 * net_respond_none(), exactly as Kafka mutes a channel until the response is
 * queued; clients rely on in-order responses.
 *
 * Threads: each network thread owns one event_base and the connections handed to
 * it.  The handler is called on that thread.  net_respond()/net_respond_none()/
 * net_close() may be called from any thread: from another thread the call is
 * queued to the owning thread and takes effect there.
 */
struct conn;
struct wbuf;
struct event_base;

enum security_protocol {
	SECPROTO_PLAINTEXT,
	SECPROTO_SSL,
	SECPROTO_SASL_PLAINTEXT,
	SECPROTO_SASL_SSL,
};

struct listener_spec {
	char *name;     /* listener name, e.g. "PLAINTEXT" or "INTERNAL" */
	char *host;     /* bind host; "" or NULL = all interfaces */
	int port;       /* 0 = pick a free port (the chosen one is written back) */
	enum security_protocol protocol;
	/* SSL and SASL_SSL: the listener's OpenSSL SSL_CTX (the caller's; it must outlive
	 * the server) and its ssl.principal.mapping.rules.  NULL for plaintext listeners. */
	void *tls_ctx;
	const char *principal_rules;
};

/* What a handler learns about the connection a frame came on. */
struct conn_info {
	const char *listener_name;
	enum security_protocol protocol;
	char peer[64];  /* "ip:port" */
	uint64_t id;    /* unique per process, for logs */
	/* Kafka's principal: "User:ANONYMOUS" on plaintext and for a TLS peer without a
	 * certificate, else from the certificate's subject (ssl.principal.mapping.rules). */
	char principal[256];
};

/*
 * Called on the connection's network thread with one whole frame (the bytes after
 * the 4-byte size prefix).  The frame memory is valid until the handler answers.
 * The handler must eventually call exactly one of net_respond, net_respond_none
 * or net_close for this frame.
 */
typedef void (*net_request_fn)(struct conn *c, const struct conn_info *info,
			       const uint8_t *frame, size_t len, void *arg);

struct net_config {
	int num_network_threads;          /* num.network.threads */
	int32_t socket_request_max_bytes; /* socket.request.max.bytes */
	int socket_send_buffer_bytes;     /* socket.send.buffer.bytes, -1 = OS default */
	int socket_receive_buffer_bytes;  /* socket.receive.buffer.bytes, -1 = OS default */
	int64_t connections_max_idle_ms;  /* connections.max.idle.ms */
	int queued_max_requests;          /* unused until request queues exist */
	int32_t sasl_max_receive_bytes;   /* sasl.server.max.receive.size: frames before SASL is done */
	net_request_fn on_request;
	void *arg;
};

struct net_server;

/* Binds every listener (writing back chosen ports) and starts the network threads.
 * Returns NULL and logs why on failure (e.g. port in use). */
struct net_server *net_server_start(const struct net_config *cfg,
				    struct listener_spec *listeners, int n_listeners);
/*
 * The CPU time (ns) each network thread has used so far, into out (up to max);
 * returns the thread count.  The metrics' idle ratio is 1 - CPU / wall time.
 */
int net_server_thread_cpu_ns(struct net_server *s, int64_t *out, int max);
/* Stops accepting, closes every connection, joins the threads. */
void net_server_stop(struct net_server *s);

/* Answer the current frame: `frame` is the response without the size prefix
 * (response header + body); net prepends the size.  Takes the bytes (the
 * wbuf is left empty). Unmutes the connection. */
void net_respond(struct conn *c, struct wbuf *frame);
/* The current frame needs no answer (Produce with acks=0). Unmutes the connection. */
void net_respond_none(struct conn *c);
/* Answer with `head` followed by `len` bytes of the file `fd` from `offset`, sent
 * with sendfile(2) (the zero-copy fetch path).  The size prefix covers both; fd is
 * dup'd, so the caller may close its own. */
void net_respond_with_file(struct conn *c, struct wbuf *head, int fd, off_t offset, size_t len);
/*
 * A gap whose bytes are made while the connection drains (Fetch's lazy
 * down-conversion, as Kafka's LazyDownConversionRecordsSend): next() runs on
 * the network thread whenever the queued output falls below a few hundred
 * KiB and appends the next chunk (up to about `want` bytes) to out; it
 * returns 1 once it has made its last bytes, 0 while more follow, -1 on
 * failure (the connection is closed).  The gap's bytes must come out exactly
 * its length in all: the network layer sends no more, and closes the
 * connection when it got fewer.  release(arg) is called once, on the network
 * thread, when the gap is done or the connection goes.
 */
struct net_lazy_source {
	int (*next)(void *arg, struct wbuf *out, size_t want);
	void (*release)(void *arg);
	void *arg;
};
/* Where the bytes of one gap of a frame come from (see struct wbuf_gap). */
struct net_file_range {
	int fd;       /* dup'd: the caller may close its own once the call returns */
	off_t offset;
	struct net_lazy_source lazy; /* next != NULL: the gap is made by it (then fd is unused) */
};
/* Answer with frame, whose gaps (frame->gaps[i]) are filled from files[i] with
 * sendfile(2) or, for lazy gaps, as the socket drains; the connection reads its
 * next request only once a lazy answer is all queued.  A frame with lazy gaps may
 * not have file gaps.  Takes the bytes (the wbuf is left empty); lazy sources are
 * released in every case. */
void net_respond_spliced(struct conn *c, struct wbuf *frame, const struct net_file_range *files);
/* Close the connection (after flushing what is already queued). */
void net_close(struct conn *c);
/* Answer the current frame, then close once that answer is written (SASL failures). */
void net_respond_and_close(struct conn *c, struct wbuf *frame);

/*
 * Per-connection state of a layer above (SASL's): set and read by the handler
 * of the connection's current frame (the connection is muted meanwhile, so no
 * two run at once); free_fn(state) runs when the connection goes.
 */
void net_conn_set_state(struct conn *c, void *state, void (*free_fn)(void *));
void *net_conn_state(struct conn *c);
/* The principal the connection's later frames carry in their conn_info (after SASL). */
void net_conn_set_principal(struct conn *c, const char *principal);

#endif
