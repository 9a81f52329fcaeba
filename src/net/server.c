/*
 * Listeners, the acceptor, network threads and connections (see server.h).
 *
 * Each network thread runs one event_base.  A connection lives on exactly one
 * of them; other threads never touch its socket, they queue an operation
 * (respond, close) to the owning thread and wake it.  A connection is
 * refcounted: the thread's list holds one reference and a frame that is with a
 * handler holds another, so an answer that arrives after the peer has gone is
 * simply dropped.
 *
 * Reading is our own, writing is libevent's.  libevent 2.1 reads a socket 4 KiB
 * per wake-up, which for a megabyte produce request means hundreds of wake-ups,
 * reads and TCP window updates and then a copy to make the frame contiguous.  So
 * a connection reads into one buffer of its own, sized to the frame once the
 * size prefix is known and filled in as few reads as the socket allows, and the
 * handler gets the frame where it was read.  Answers go out through a
 * bufferevent (its output side only), which sends file ranges with sendfile(2).
 */
#include "samsa/net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "samsa/util/buf.h"
#include "samsa/util/endian.h"
#include "samsa/util/log.h"
#include "samsa/util/tls.h"
#include "samsa/util/xalloc.h"

/* Frames handled back to back on one connection before yielding to the loop. */
#define MAX_FRAMES_PER_WAKEUP 16
/* Bytes asked for while the next frame's size is not known yet: enough for many
 * small pipelined requests in one read, little to move when a big frame follows. */
#define READ_CHUNK (16 * 1024)
/* A buffer grows to the frame's size, but by at most this much beyond what has
 * arrived, so a size prefix alone cannot make us allocate socket.request.max.bytes. */
#define GROW_AHEAD (1024 * 1024)
/* An idle connection (nothing buffered, nothing in the socket) keeps a buffer up to
 * this size and frees a bigger one. */
#define KEEP_IDLE_BUFFER (64 * 1024)
/* The most SO_RCVLOWAT asks for: a quarter of the reads of one per 64 KiB segment,
 * and well under half of Kafka's default receive buffer (100 KB, doubled by Linux). */
#define LOWAT_MAX (64 * 1024)

enum op_type { OP_RESPOND, OP_RESPOND_NONE, OP_RESPOND_CLOSE, OP_CLOSE, OP_ADOPT };

/* While a lazy answer is being made, the output is topped up below this much queued. */
#define LAZY_LOW_WATER (256 * 1024)
/* A TLS connection's decrypted bytes waiting for us stop the socket reads at this much. */
#define TLS_READ_HIGH_WATER (1024 * 1024)
/* What one call of a lazy source is asked for. */
#define LAZY_CHUNK (128 * 1024)

/* The part of an answer after its first lazy gap, queued as the socket drains. */
struct lazy_tail {
	uint8_t *bytes;              /* the frame's bytes from the first lazy gap on */
	size_t n_bytes;
	struct lazy_gap {
		size_t pos;          /* in bytes */
		size_t len;
		struct net_lazy_source src;
		bool released;
	} *gaps;
	size_t n_gaps;
	size_t at;                   /* bytes[at] is the next frame byte to queue */
	size_t gi;                   /* the gap at or after at */
	size_t gap_sent;             /* of gaps[gi], once at == gaps[gi].pos */
	struct wbuf chunk;
};

struct net_op {
	struct net_op *next;
	enum op_type type;
	struct conn *conn;
	int fd;                      /* OP_ADOPT */
	const struct listener *l;    /* OP_ADOPT */
	struct evbuffer *out;        /* OP_RESPOND: size prefix + bytes, ready to append */
	struct lazy_tail *tail;      /* OP_RESPOND: the rest, made as the socket drains */
};

struct listener {
	struct listener_spec *spec;
	struct evconnlistener *evl;
	struct net_server *server;
};

struct netthread {
	struct net_server *server;
	int index;
	pthread_t tid;
	struct event_base *base;
	struct event *wakeup;
	pthread_mutex_t lock;        /* guards ops */
	struct net_op *ops_head, *ops_tail;
	struct conn *conns;          /* doubly linked, owned by this thread */
};

struct conn {
	struct conn *prev, *next;
	struct netthread *t;
	struct bufferevent *bev;     /* the output side; its reading stays disabled */
	struct event *readable;      /* our reads; pending while not muted */
	uint8_t *in;                 /* received bytes: [in_start, in_len) not yet handled */
	size_t in_start, in_len, in_cap;
	int rcvlowat;                /* SO_RCVLOWAT as last set (1: the kernel's default) */
	int refs;                    /* atomic */
	bool muted;                  /* a frame is with the handler */
	bool delivering;             /* inside try_deliver: answers must not recurse */
	bool closing;                /* close once the output is flushed */
	bool dead;                   /* bufferevent gone; the struct lives until refs drop */
	size_t frame_total;          /* 4 + size of the frame with the handler */
	struct event *resume;        /* deferred delivery of already-buffered frames */
	struct lazy_tail *tail;      /* an answer still being made (the connection stays muted) */
	int32_t throttle_ms;         /* net_conn_throttle: stay muted this long after the answer */
	struct event *unthrottle;    /* ends that mute */
	bool tls;                    /* bev is an OpenSSL bufferevent: reads come through it, not recv */
	const struct listener *listener;
	bool handshake_done;
	int32_t max_frame;           /* socket.request.max.bytes, or sasl.server.max.receive.size before SASL */
	void *state;                 /* net_conn_set_state */
	void (*state_free)(void *);
	struct conn_info info;
};

struct net_server {
	struct net_config cfg;
	struct event_base *accept_base;
	pthread_t accept_tid;
	struct listener *listeners;
	int n_listeners;
	struct netthread *threads;
	int n_threads;
	unsigned next_thread;
	uint64_t next_conn_id;
};

static void try_deliver(struct conn *c);
static void watch_readable(struct conn *c);
static void release_idle_buffer(struct conn *c);

static void conn_ref(struct conn *c) { __atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL); }

static void conn_unref(struct conn *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(c->in); /* only now: a handler may still be reading its frame from it */
		if (c->state_free)
			c->state_free(c->state);
		free(c);
	}
}

static bool on_thread(const struct netthread *t) { return pthread_equal(pthread_self(), t->tid); }

/* Tear down the socket side now; the struct goes when the last reference does. */
static void lazy_tail_free(struct lazy_tail *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_gaps; i++)
		if (!t->gaps[i].released && t->gaps[i].src.release)
			t->gaps[i].src.release(t->gaps[i].src.arg);
	free(t->gaps);
	free(t->bytes);
	wbuf_free(&t->chunk);
	free(t);
}

static void conn_destroy(struct conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->readable)
		event_free(c->readable);
	c->readable = NULL;
	bufferevent_free(c->bev);
	c->bev = NULL;
	event_free(c->resume);
	c->resume = NULL;
	if (c->unthrottle)
		event_free(c->unthrottle);
	c->unthrottle = NULL;
	lazy_tail_free(c->tail);
	c->tail = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->t->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	conn_unref(c);
}

static void close_after_flush(struct conn *c)
{
	if (c->dead)
		return;
	c->closing = true;
	if (c->readable)
		event_del(c->readable);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_destroy(c);
	/* else the write callback destroys it once the output drains */
}

/*
 * Quota throttling [Kafka's SocketServer throttling, KIP-219]: the answer goes
 * out at once, carrying throttle_time_ms, and then the connection reads no
 * request until that time has passed.  This is the one place it happens.
 */
static void unthrottle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (c->dead || c->closing || !c->muted)
		return;
	c->muted = false;
	watch_readable(c);
	event_active(c->resume, EV_READ, 0);
}

/* After an answer: true when the connection stays muted for its throttle time. */
static bool throttle_mute(struct conn *c)
{
	int32_t ms = __atomic_exchange_n(&c->throttle_ms, 0, __ATOMIC_ACQ_REL);
	if (ms <= 0)
		return false;
	if (!c->unthrottle)
		c->unthrottle = evtimer_new(c->t->base, unthrottle_cb, c);
	if (!c->unthrottle)
		return false;
	c->muted = true; /* with no frame at the handler: frame_total stays 0 */
	if (c->readable)
		event_del(c->readable);
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	evtimer_add(c->unthrottle, &tv);
	return true;
}

void net_conn_throttle(struct conn *c, int32_t ms)
{
	if (ms > 0)
		__atomic_store_n(&c->throttle_ms, ms, __ATOMIC_RELEASE);
}

/* The handler answered the current frame (on the owning thread). */
static void finish_frame(struct conn *c, struct evbuffer *out)
{
	if (c->dead) {
		if (out)
			evbuffer_free(out);
		return;
	}
	if (out) {
		evbuffer_add_buffer(bufferevent_get_output(c->bev), out);
		evbuffer_free(out);
	}
	if (c->muted) {
		c->in_start += c->frame_total;
		if (c->in_start == c->in_len) {
			c->in_start = c->in_len = 0;
			release_idle_buffer(c);
		}
		c->muted = false;
		c->frame_total = 0;
	}
	if (c->closing)
		return;
	if (throttle_mute(c))
		return;
	watch_readable(c);
	if (!c->delivering)
		event_active(c->resume, EV_READ, 0); /* next buffered frame, from the loop */
}

static void run_op(struct netthread *t, struct net_op *op);

/*
 * Queue more of the lazy answer while the output is below the low-water mark
 * (from the write callback, and once when the answer arrives).  When all of it
 * is queued the frame is finished like any other.
 */
static void pump_lazy(struct conn *c)
{
	struct lazy_tail *t = c->tail;
	struct evbuffer *o = bufferevent_get_output(c->bev);
	while (evbuffer_get_length(o) < LAZY_LOW_WATER) {
		if (t->gi < t->n_gaps && t->at == t->gaps[t->gi].pos) {
			struct lazy_gap *g = &t->gaps[t->gi];
			int rc = 1;
			if (t->gap_sent < g->len) {
				wbuf_reset(&t->chunk);
				rc = g->src.next(g->src.arg, &t->chunk, LAZY_CHUNK);
				size_t n = t->chunk.len < g->len - t->gap_sent ? t->chunk.len : g->len - t->gap_sent;
				if (rc < 0 || (rc == 1 && t->gap_sent + n < g->len)) {
					log_error("Connection %s: a lazily made answer came %s; closing", c->info.peer,
						  rc < 0 ? "to an error" : "out short");
					c->tail = NULL;
					lazy_tail_free(t);
					close_after_flush(c);
					return;
				}
				evbuffer_add(o, t->chunk.data, n);
				t->gap_sent += n;
			}
			if (t->gap_sent == g->len) {
				g->src.release(g->src.arg);
				g->released = true;
				t->gi++;
				t->gap_sent = 0;
			}
			continue;
		}
		size_t end = t->gi < t->n_gaps ? t->gaps[t->gi].pos : t->n_bytes;
		evbuffer_add(o, t->bytes + t->at, end - t->at);
		t->at = end;
		if (t->at == t->n_bytes && t->gi == t->n_gaps) {
			c->tail = NULL;
			lazy_tail_free(t);
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			finish_frame(c, NULL);
			return;
		}
	}
}

/* With nothing buffered: a big buffer goes if the socket has nothing either (an idle
 * connection), and stays while the peer keeps sending (no malloc per request). */
static void release_idle_buffer(struct conn *c)
{
	int pending = 0;
	if (c->in_cap <= KEEP_IDLE_BUFFER || ioctl(bufferevent_getfd(c->bev), FIONREAD, &pending) != 0 ||
	    pending > 0)
		return;
	free(c->in);
	c->in = NULL;
	c->in_cap = 0;
}

/* Wait for the socket to become readable again, with connections.max.idle.ms as the
 * timeout (a muted connection is not idle: its clock stops while a handler works). */
static void watch_readable(struct conn *c)
{
	if (c->tls) {
		/* OpenSSL's bufferevent reads for us; what it has buffered already is delivered now. */
		bufferevent_enable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 && !c->delivering)
			event_active(c->resume, EV_READ, 0);
		return;
	}
	int64_t ms = c->t->server->cfg.connections_max_idle_ms;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	event_add(c->readable, ms > 0 ? &tv : NULL);
}

static void queue_op(struct netthread *t, struct net_op *op)
{
	pthread_mutex_lock(&t->lock);
	if (t->ops_tail)
		t->ops_tail->next = op;
	else
		t->ops_head = op;
	t->ops_tail = op;
	pthread_mutex_unlock(&t->lock);
	event_active(t->wakeup, EV_READ, 0);
}

static struct evbuffer *frame_buffer(struct wbuf *frame)
{
	struct evbuffer *out = evbuffer_new();
	uint8_t size[4];
	be32_store(size, (uint32_t)frame->len);
	evbuffer_add(out, size, 4);
	evbuffer_add(out, frame->data, frame->len);
	wbuf_reset(frame);
	return out;
}

static void dispatch(struct conn *c, enum op_type type, struct evbuffer *out)
{
	struct netthread *t = c->t;
	struct net_op *op = xcalloc(1, sizeof *op);
	op->type = type;
	op->conn = c;
	op->out = out;
	if (on_thread(t)) {
		run_op(t, op);
		return;
	}
	queue_op(t, op);
}

void net_respond(struct conn *c, struct wbuf *frame) { dispatch(c, OP_RESPOND, frame_buffer(frame)); }

/* OP_RESPOND with the lazy rest of the answer. */
static void dispatch_tail(struct conn *c, struct evbuffer *out, struct lazy_tail *tail)
{
	struct netthread *t = c->t;
	struct net_op *op = xcalloc(1, sizeof *op);
	op->type = OP_RESPOND;
	op->conn = c;
	op->out = out;
	op->tail = tail;
	if (on_thread(t)) {
		run_op(t, op);
		return;
	}
	queue_op(t, op);
}

void net_respond_none(struct conn *c) { dispatch(c, OP_RESPOND_NONE, NULL); }

void net_close(struct conn *c) { dispatch(c, OP_CLOSE, NULL); }

void net_respond_and_close(struct conn *c, struct wbuf *frame) { dispatch(c, OP_RESPOND_CLOSE, frame_buffer(frame)); }

void net_conn_set_state(struct conn *c, void *state, void (*free_fn)(void *))
{
	if (c->state_free && c->state != state)
		c->state_free(c->state);
	c->state = state;
	c->state_free = free_fn;
}

void *net_conn_state(struct conn *c) { return c->state; }

void net_conn_set_principal(struct conn *c, const char *principal)
{
	snprintf(c->info.principal, sizeof c->info.principal, "%s", principal);
	/* Authenticated: frames are requests again, up to socket.request.max.bytes. */
	c->max_frame = c->t->server->cfg.socket_request_max_bytes;
}

/* Queue len bytes of fd from offset: sent with sendfile(2), since mmap is off for the segment. */
static int add_file_range(struct evbuffer *out, int fd, off_t offset, size_t len)
{
	int dfd = dup(fd);
	struct evbuffer_file_segment *seg =
		dfd >= 0 ? evbuffer_file_segment_new(dfd, offset, (ev_off_t)len, EVBUF_FS_CLOSE_ON_FREE | EVBUF_FS_DISABLE_MMAP)
			 : NULL;
	if (!seg || evbuffer_add_file_segment(out, seg, 0, (ev_off_t)len) != 0) {
		if (seg)
			evbuffer_file_segment_free(seg);
		else if (dfd >= 0)
			close(dfd);
		return -1;
	}
	evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
	return 0;
}

static void respond_spliced(struct conn *c, struct wbuf *frame, const struct net_file_range *files);

static void release_lazy_sources(const struct wbuf *frame, const struct net_file_range *files)
{
	for (size_t i = 0; i < frame->ngaps; i++)
		if (files[i].lazy.next && files[i].lazy.release)
			files[i].lazy.release(files[i].lazy.arg);
}

/* The frame from its first lazy gap on, to be queued as the socket drains. */
static struct lazy_tail *make_tail(const struct wbuf *frame, const struct net_file_range *files, size_t first)
{
	struct lazy_tail *t = xcalloc(1, sizeof *t);
	size_t from = frame->gaps[first].pos;
	t->n_bytes = frame->len - from;
	t->bytes = xmalloc(t->n_bytes ? t->n_bytes : 1);
	memcpy(t->bytes, frame->data + from, t->n_bytes);
	t->n_gaps = frame->ngaps - first;
	t->gaps = xcalloc(t->n_gaps, sizeof *t->gaps);
	for (size_t i = 0; i < t->n_gaps; i++) {
		const struct wbuf_gap *g = &frame->gaps[first + i];
		t->gaps[i] = (struct lazy_gap){ .pos = g->pos - from, .len = g->len, .src = files[first + i].lazy };
	}
	wbuf_init(&t->chunk);
	return t;
}

/*
 * On TLS there is no sendfile (no kernel TLS here): a file range is read in
 * chunks as the socket drains, like a lazy gap, and encrypted in user space.
 */
struct file_source {
	int fd; /* dup'd */
	off_t offset;
	size_t left;
};

static int file_source_next(void *arg, struct wbuf *out, size_t want)
{
	struct file_source *f = arg;
	size_t n = want < f->left ? want : f->left;
	wbuf_reserve(out, n);
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(f->fd, out->data + out->len + got, n - got, f->offset + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	out->len += got;
	f->offset += (off_t)got;
	f->left -= got;
	return f->left == 0 ? 1 : 0;
}

static void file_source_release(void *arg)
{
	struct file_source *f = arg;
	close(f->fd);
	free(f);
}

void net_respond_spliced(struct conn *c, struct wbuf *frame, const struct net_file_range *files)
{
	struct net_file_range *streamed = NULL;
	if (c->tls && frame->ngaps > 0) {
		streamed = xcalloc(frame->ngaps, sizeof *streamed);
		for (size_t i = 0; i < frame->ngaps; i++) {
			streamed[i] = files[i];
			if (files[i].lazy.next || frame->gaps[i].len == 0)
				continue;
			struct file_source *f = xcalloc(1, sizeof *f);
			f->fd = dup(files[i].fd);
			f->offset = files[i].offset;
			f->left = frame->gaps[i].len;
			if (f->fd < 0) {
				free(f);
				log_error("Connection %s: cannot dup a segment file: %s", c->info.peer, strerror(errno));
				for (size_t k = 0; k < i; k++)
					if (streamed[k].lazy.release)
						streamed[k].lazy.release(streamed[k].lazy.arg);
				free(streamed);
				wbuf_reset(frame);
				dispatch(c, OP_CLOSE, NULL);
				return;
			}
			streamed[i].lazy = (struct net_lazy_source){ file_source_next, file_source_release, f };
		}
		files = streamed;
	}
	respond_spliced(c, frame, files);
	free(streamed);
}

static void respond_spliced(struct conn *c, struct wbuf *frame, const struct net_file_range *files)
{
	size_t first_lazy = frame->ngaps;
	bool any_file = false;
	for (size_t i = 0; i < frame->ngaps; i++) {
		if (files[i].lazy.next && first_lazy == frame->ngaps)
			first_lazy = i;
		else if (!files[i].lazy.next && frame->gaps[i].len)
			any_file = true;
	}
	if (first_lazy < frame->ngaps && any_file) {
		log_error("Connection %s: an answer mixes file and lazy gaps; closing", c->info.peer);
		release_lazy_sources(frame, files);
		wbuf_reset(frame);
		dispatch(c, OP_CLOSE, NULL);
		return;
	}
	struct evbuffer *out = evbuffer_new();
	/* libevent decides sendfile-or-read when a segment is added, by this flag of the
	 * buffer it is added to; this buffer ends up on a socket, so say so now. */
	if (!c->tls)
		evbuffer_set_flags(out, EVBUFFER_FLAG_DRAINS_TO_FD);
	size_t total = frame->len;
	for (size_t i = 0; i < frame->ngaps; i++)
		total += frame->gaps[i].len;
	uint8_t size[4];
	be32_store(size, (uint32_t)total);
	evbuffer_add(out, size, 4);
	size_t at = 0;
	for (size_t i = 0; i < first_lazy; i++) {
		const struct wbuf_gap *g = &frame->gaps[i];
		evbuffer_add(out, frame->data + at, g->pos - at);
		at = g->pos;
		if (g->len && add_file_range(out, files[i].fd, files[i].offset, g->len) != 0) {
			log_error("Connection %s: cannot queue %zu bytes of file data", c->info.peer, g->len);
			evbuffer_free(out);
			wbuf_reset(frame);
			dispatch(c, OP_CLOSE, NULL);
			return;
		}
	}
	struct lazy_tail *tail = NULL;
	if (first_lazy < frame->ngaps) {
		evbuffer_add(out, frame->data + at, frame->gaps[first_lazy].pos - at);
		tail = make_tail(frame, files, first_lazy);
	} else {
		evbuffer_add(out, frame->data + at, frame->len - at);
	}
	wbuf_reset(frame);
	dispatch_tail(c, out, tail);
}

void net_respond_with_file(struct conn *c, struct wbuf *head, int fd, off_t offset, size_t len)
{
	/* The file's bytes are one gap at the end of head. */
	struct net_file_range f = { .fd = fd, .offset = offset };
	struct wbuf_gap g = { head->len, len };
	struct wbuf framed = *head;
	framed.gaps = &g;
	framed.ngaps = framed.gaps_cap = 1;
	net_respond_spliced(c, &framed, &f);
	wbuf_reset(head);
}

/* ------------------------------------------------------------- reading frames */

/* Wake this connection only when `want` more bytes are in the socket (the kernel caps
 * it at half the receive buffer, and wakes us anyway when the window is full): a big
 * request then arrives in a few large reads rather than one per TCP segment. */
static void set_rcvlowat(struct conn *c, size_t want)
{
	if (c->tls)
		return; /* the TLS layer reads records, not our frames */
	/* Capped here too, so the value (a system call to change) stays put for most of
	 * a big frame instead of following every read. */
	int v = want > LOWAT_MAX ? LOWAT_MAX : (int)want;
	if (v == c->rcvlowat)
		return;
	if (setsockopt(bufferevent_getfd(c->bev), SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0)
		c->rcvlowat = v;
}

/* Make room for `more` bytes after in_len, keeping [in_start, in_len). */
static void reserve_input(struct conn *c, size_t more)
{
	if (c->in_start > 0 && c->in_len + more > c->in_cap) {
		/* Few bytes to move: a read past a frame's end asks for READ_CHUNK at most. */
		memmove(c->in, c->in + c->in_start, c->in_len - c->in_start);
		c->in_len -= c->in_start;
		c->in_start = 0;
	}
	if (c->in_len + more > c->in_cap) {
		c->in_cap = c->in_len + more;
		c->in = xrealloc(c->in, c->in_cap);
	}
}

/*
 * One read from the socket into the connection's buffer.  With a frame's size known,
 * it asks for the rest of that frame and no more, so the next frame starts at the
 * front of the buffer again; otherwise for READ_CHUNK.  Returns bytes read, 0 when the
 * socket has nothing or nothing is needed, -1 when the connection is gone.
 */
static ssize_t fill_input(struct conn *c)
{
	size_t have = c->in_len - c->in_start, want = READ_CHUNK;
	if (have >= 4) {
		uint32_t size = be32_load(c->in + c->in_start);
		if (size > (uint32_t)c->max_frame || have >= 4 + (size_t)size)
			return 0; /* a bad size is try_deliver's to report; a whole frame needs no read */
		want = 4 + (size_t)size - have;
		/* Grow by what has arrived (at least GROW_AHEAD): doubling, paid for by the peer. */
		size_t ahead = have > GROW_AHEAD ? have : GROW_AHEAD;
		if (want > ahead && c->in_len + want > c->in_cap)
			want = c->in_cap - c->in_len > ahead ? c->in_cap - c->in_len : ahead;
	}
	reserve_input(c, want);
	if (c->tls) {
		/* Decrypted by OpenSSL's bufferevent, which reads the socket itself. */
		int k = evbuffer_remove(bufferevent_get_input(c->bev), c->in + c->in_len, want);
		if (k > 0)
			c->in_len += (size_t)k;
		return k > 0 ? k : 0;
	}
	ssize_t n = recv(bufferevent_getfd(c->bev), c->in + c->in_len, want, 0);
	if (n > 0) {
		c->in_len += (size_t)n;
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n < 0)
		log_debug("Connection %s: %s", c->info.peer, strerror(errno));
	conn_destroy(c);
	return -1;
}

static void try_deliver(struct conn *c)
{
	struct net_server *s = c->t->server;
	c->delivering = true;
	conn_ref(c);
	for (int i = 0; i < MAX_FRAMES_PER_WAKEUP && !c->dead && !c->muted && !c->closing; i++) {
		size_t avail = c->in_len - c->in_start;
		if (avail < 4) {
			set_rcvlowat(c, 1);
			break;
		}
		int32_t size = (int32_t)be32_load(c->in + c->in_start);
		if (size < 0 || size > c->max_frame) {
			log_warn("Closing connection %s (listener %s): frame size %d is %s (%s=%d)", c->info.peer,
				 c->info.listener_name, size, size < 0 ? "negative" : "too large",
				 c->max_frame == s->cfg.socket_request_max_bytes ? "socket.request.max.bytes"
										 : "sasl.server.max.receive.size",
				 c->max_frame);
			conn_destroy(c);
			break;
		}
		if (avail < 4 + (size_t)size) {
			/* Recomputed after every read, so it never asks for more than the frame lacks. */
			set_rcvlowat(c, 4 + (size_t)size - avail);
			break;
		}
		uint8_t *frame = c->in + c->in_start;
		c->muted = true;
		c->frame_total = 4 + (size_t)size;
		/* Kafka mutes the channel until the answer */
		if (c->readable)
			event_del(c->readable);
		conn_ref(c); /* the handler's reference, dropped when it answers */
		s->cfg.on_request(c, &c->info, frame + 4, (size_t)size, s->cfg.arg);
	}
	if (!c->dead && !c->muted && !c->closing && c->in_len - c->in_start >= 4 &&
	    c->in_len - c->in_start >= 4 + (size_t)be32_load(c->in + c->in_start))
		/* More whole frames are buffered: continue after others had their turn. */
		event_active(c->resume, EV_READ, 0);
	c->delivering = false;
	conn_unref(c);
}

static void readable_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	struct conn *c = arg;
	if (what & EV_TIMEOUT) {
		log_info("Closing idle connection %s (connections.max.idle.ms)", c->info.peer);
		conn_destroy(c);
		return;
	}
	if (c->dead || c->muted || c->closing)
		return;
	if (fill_input(c) < 0)
		return;
	try_deliver(c);
}

/* TLS: move what OpenSSL's bufferevent has decrypted into our buffer (up to the frame we need). */
static bool tls_pull(struct conn *c)
{
	ssize_t n;
	while ((n = fill_input(c)) > 0)
		;
	return n == 0;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct conn *c = arg;
	if (!c->dead && !c->muted && (!c->tls || tls_pull(c)))
		try_deliver(c);
}

static void tls_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	/* While a frame is with the handler the bytes wait in the bufferevent (its read
	 * high-water mark stops the socket reads), as Kafka mutes the channel. */
	if (c->dead || c->muted || c->closing)
		return;
	if (tls_pull(c))
		try_deliver(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->tail) {
		pump_lazy(c);
		return;
	}
	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_destroy(c);
}

/* The TLS handshake finished: who the peer is. */
static void tls_connected(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	c->handshake_done = true;
	const struct listener_spec *spec = c->listener->spec;
	tls_peer_principal(ssl, spec->principal_rules, c->info.principal, sizeof c->info.principal);
	log_info("TLS connection from %s on listener %s: %s, %s, principal %s", c->info.peer, spec->name,
		 SSL_get_version(ssl), SSL_get_cipher_name(ssl), c->info.principal);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (c->tls && (what & BEV_EVENT_CONNECTED)) {
		tls_connected(c);
		return;
	}
	if (c->tls && (what & BEV_EVENT_TIMEOUT)) {
		log_info("Closing idle connection %s (connections.max.idle.ms)", c->info.peer);
		conn_destroy(c);
		return;
	}
	if (c->tls && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) && !c->handshake_done) {
		/* Plaintext to a TLS port, an untrusted or missing client certificate, a peer
		 * that gave up: one line, then the connection goes. */
		unsigned long e = bufferevent_get_openssl_error(bev);
		char why[256] = "the peer closed the connection";
		if (e)
			ERR_error_string_n(e, why, sizeof why);
		log_warn("TLS handshake with %s on listener %s failed: %s", c->info.peer, c->listener->spec->name,
			 why);
		conn_destroy(c);
		return;
	}
	/* On plaintext only writing is enabled on the bufferevent, so this is a failed write. */
	if (what & BEV_EVENT_ERROR)
		log_debug("Connection %s: %s", c->info.peer, strerror(EVUTIL_SOCKET_ERROR()));
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_destroy(c);
}

/* ------------------------------------------------------------ thread plumbing */

static void adopt(struct netthread *t, int fd, const struct listener *l)
{
	struct net_server *s = t->server;
	struct conn *c = xcalloc(1, sizeof *c);
	c->t = t;
	c->refs = 1; /* the thread's list */
	c->info.listener_name = l->spec->name;
	c->info.protocol = l->spec->protocol;
	c->info.id = __atomic_add_fetch(&s->next_conn_id, 1, __ATOMIC_RELAXED);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
			port = ntohs(sin->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
			port = ntohs(sin6->sin6_port);
		}
	}
	snprintf(c->info.peer, sizeof c->info.peer, "%s:%d", host, port);

	c->listener = l;
	snprintf(c->info.principal, sizeof c->info.principal, "User:ANONYMOUS");
	/* Until SASL is done a frame is a token at most, as Kafka's sasl.server.max.receive.size has it. */
	bool sasl = l->spec->protocol == SECPROTO_SASL_PLAINTEXT || l->spec->protocol == SECPROTO_SASL_SSL;
	c->max_frame = sasl && s->cfg.sasl_max_receive_bytes > 0 ? s->cfg.sasl_max_receive_bytes
								 : s->cfg.socket_request_max_bytes;
	if (l->spec->tls_ctx) {
		/* TLS: OpenSSL's bufferevent owns the socket, reading and writing through the session. */
		SSL *ssl = SSL_new(l->spec->tls_ctx);
		c->bev = ssl ? bufferevent_openssl_socket_new(t->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
							      BEV_OPT_CLOSE_ON_FREE)
			     : NULL;
		if (!c->bev && ssl)
			SSL_free(ssl);
		c->tls = true;
	} else {
		c->bev = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	c->resume = event_new(t->base, -1, 0, resume_cb, c);
	c->rcvlowat = 1;
	c->next = t->conns;
	if (t->conns)
		t->conns->prev = c;
	t->conns = c;
	if (c->tls) {
		int64_t ms = s->cfg.connections_max_idle_ms;
		struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
		bufferevent_setcb(c->bev, tls_read_cb, write_cb, event_cb, c);
		bufferevent_setwatermark(c->bev, EV_READ, 0, TLS_READ_HIGH_WATER);
		bufferevent_set_timeouts(c->bev, ms > 0 ? &tv : NULL, NULL);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
		return;
	}
	c->readable = event_new(t->base, fd, EV_READ | EV_PERSIST, readable_cb, c);
	bufferevent_setcb(c->bev, NULL, write_cb, event_cb, c);
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_enable(c->bev, EV_WRITE);
	watch_readable(c);
}

static void run_op(struct netthread *t, struct net_op *op)
{
	struct conn *c = op->conn;
	switch (op->type) {
	case OP_ADOPT:
		adopt(t, op->fd, op->l);
		break;
	case OP_RESPOND:
		if (op->tail && !c->dead) {
			/* What comes before the first lazy gap goes now; the rest as the socket drains. */
			evbuffer_add_buffer(bufferevent_get_output(c->bev), op->out);
			evbuffer_free(op->out);
			c->tail = op->tail;
			bufferevent_setwatermark(c->bev, EV_WRITE, LAZY_LOW_WATER, 0);
			pump_lazy(c);
		} else {
			lazy_tail_free(op->tail);
			finish_frame(c, op->out);
		}
		conn_unref(c);
		break;
	case OP_RESPOND_NONE:
		finish_frame(c, NULL);
		conn_unref(c);
		break;
	case OP_RESPOND_CLOSE:
		if (!c->dead) {
			evbuffer_add_buffer(bufferevent_get_output(c->bev), op->out);
			c->muted = false;
			close_after_flush(c);
		}
		evbuffer_free(op->out);
		conn_unref(c);
		break;
	case OP_CLOSE:
		if (!c->dead) {
			c->muted = false;
			close_after_flush(c);
		}
		conn_unref(c);
		break;
	}
	free(op);
}

static void wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct netthread *t = arg;
	pthread_mutex_lock(&t->lock);
	struct net_op *op = t->ops_head;
	t->ops_head = t->ops_tail = NULL;
	pthread_mutex_unlock(&t->lock);
	while (op) {
		struct net_op *next = op->next;
		run_op(t, op);
		op = next;
	}
}

static void *thread_main(void *arg)
{
	struct netthread *t = arg;
	event_base_loop(t->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int net_server_thread_cpu_ns(struct net_server *s, int64_t *out, int max)
{
	for (int i = 0; i < s->n_threads && i < max; i++) {
		clockid_t id;
		struct timespec ts;
		out[i] = 0;
		if (pthread_getcpuclockid(s->threads[i].tid, &id) == 0 && clock_gettime(id, &ts) == 0)
			out[i] = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	}
	return s->n_threads;
}

static void set_buffer_sizes(const struct net_config *cfg, int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (cfg->socket_send_buffer_bytes > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cfg->socket_send_buffer_bytes, sizeof(int));
	if (cfg->socket_receive_buffer_bytes > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg->socket_receive_buffer_bytes, sizeof(int));
}

static void accept_cb(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)evl;
	(void)sa;
	(void)salen;
	struct listener *l = arg;
	struct net_server *s = l->server;
	evutil_make_socket_nonblocking(fd);
	set_buffer_sizes(&s->cfg, fd);
	struct netthread *t = &s->threads[s->next_thread++ % (unsigned)s->n_threads];
	struct net_op *op = xcalloc(1, sizeof *op);
	op->type = OP_ADOPT;
	op->fd = fd;
	op->l = l;
	queue_op(t, op);
}

static void *accept_main(void *arg)
{
	struct net_server *s = arg;
	event_base_loop(s->accept_base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static int bind_listener(struct net_server *s, struct listener *l)
{
	struct listener_spec *spec = l->spec;
	if ((spec->protocol == SECPROTO_SSL || spec->protocol == SECPROTO_SASL_SSL) && !spec->tls_ctx) {
		log_error("Listener %s: an SSL listener needs its TLS settings", spec->name);
		return -1;
	}
	char port[16];
	snprintf(port, sizeof port, "%d", spec->port);
	struct addrinfo hints = { 0 }, *res = NULL;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	const char *host = spec->host && spec->host[0] ? spec->host : NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		log_error("Listener %s: cannot resolve %s: %s", spec->name, host ? host : "*", gai_strerror(rc));
		return -1;
	}
	/* With no host, prefer the IPv6 wildcard (dual stack) when the system offers it. */
	struct addrinfo *ai = res;
	for (struct addrinfo *p = res; p && !host; p = p->ai_next)
		if (p->ai_family == AF_INET6)
			ai = p;
	l->evl = evconnlistener_new_bind(s->accept_base, accept_cb, l,
					 LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
					 ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(res);
	if (!l->evl) {
		log_error("Listener %s: cannot bind %s:%d: %s", spec->name, host ? host : "*", spec->port,
			  strerror(errno));
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(evconnlistener_get_fd(l->evl), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET)
			spec->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			spec->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	return 0;
}

static pthread_once_t evthread_once = PTHREAD_ONCE_INIT;
static void evthread_init(void) { evthread_use_pthreads(); }

struct net_server *net_server_start(const struct net_config *cfg, struct listener_spec *listeners, int n_listeners)
{
	pthread_once(&evthread_once, evthread_init);
	struct net_server *s = xcalloc(1, sizeof *s);
	s->cfg = *cfg;
	if (s->cfg.num_network_threads < 1)
		s->cfg.num_network_threads = 1;
	s->accept_base = event_base_new();
	s->n_listeners = n_listeners;
	s->listeners = xcalloc((size_t)(n_listeners ? n_listeners : 1), sizeof *s->listeners);
	for (int i = 0; i < n_listeners; i++) {
		s->listeners[i].spec = &listeners[i];
		s->listeners[i].server = s;
		if (bind_listener(s, &s->listeners[i]) != 0) {
			net_server_stop(s);
			return NULL;
		}
	}
	s->n_threads = s->cfg.num_network_threads;
	s->threads = xcalloc((size_t)s->n_threads, sizeof *s->threads);
	for (int i = 0; i < s->n_threads; i++) {
		struct netthread *t = &s->threads[i];
		t->server = s;
		t->index = i;
		t->base = event_base_new();
		pthread_mutex_init(&t->lock, NULL);
		t->wakeup = event_new(t->base, -1, EV_PERSIST, wakeup_cb, t);
		pthread_create(&t->tid, NULL, thread_main, t);
	}
	pthread_create(&s->accept_tid, NULL, accept_main, s);
	return s;
}

void net_server_stop(struct net_server *s)
{
	if (!s)
		return;
	if (s->accept_tid) {
		event_base_loopbreak(s->accept_base);
		pthread_join(s->accept_tid, NULL);
	}
	for (int i = 0; i < s->n_listeners; i++)
		if (s->listeners[i].evl)
			evconnlistener_free(s->listeners[i].evl);
	for (int i = 0; i < s->n_threads; i++) {
		struct netthread *t = &s->threads[i];
		event_base_loopbreak(t->base);
		pthread_join(t->tid, NULL);
	}
	/* The threads are gone: what they owned is ours to free now. */
	for (int i = 0; i < s->n_threads; i++) {
		struct netthread *t = &s->threads[i];
		struct net_op *op = t->ops_head;
		while (op) {
			struct net_op *next = op->next;
			if (op->type == OP_ADOPT)
				close(op->fd);
			else {
				if (op->out)
					evbuffer_free(op->out);
				conn_unref(op->conn);
			}
			free(op);
			op = next;
		}
		while (t->conns)
			conn_destroy(t->conns);
		event_free(t->wakeup);
		/*
		 * A callback libevent had deferred when the loop stopped (an
		 * evbuffer's, say) holds a reference to its bufferevent, and
		 * event_base_free drops such callbacks without running them, so
		 * that bufferevent (with its TLS session) would never be freed.
		 * One more pass of the loop runs them; the bufferevents are freed
		 * already, so none reaches our callbacks.
		 */
		event_base_loop(t->base, EVLOOP_NONBLOCK);
		event_base_free(t->base);
		pthread_mutex_destroy(&t->lock);
	}
	free(s->threads);
	free(s->listeners);
	event_base_free(s->accept_base);
	free(s);
}
