/*
 * Bounds-checked readers and growable writers for the Kafka wire format.
 *
 * A reader never reads past its end: every read checks the bytes left and,
 * when short, sets `err` and returns a zero value.  Callers check `err` once
 * after a whole decode, so no half-parsed request reaches a handler.
 */
#ifndef SAMSA_UTIL_BUF_H
#define SAMSA_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* A string as it sits in a frame: not NUL-terminated; ptr == NULL means null. */
struct kstr {
	const char *ptr;
	int32_t len;
};

/* Bytes as they sit in a frame; ptr == NULL means null. */
struct kbytes {
	const uint8_t *ptr;
	int32_t len;
};

struct rd {
	const uint8_t *p;
	const uint8_t *end;
	int err; /* 0 = fine; set once a read would pass the end or a value is invalid */
};

static inline void rd_init(struct rd *r, const void *p, size_t len)
{
	static const uint8_t empty[1];
	if (!p) { /* an empty wbuf has no data pointer; NULL + 0 is still undefined */
		p = empty;
		len = 0;
	}
	r->p = p;
	r->end = (const uint8_t *)p + len;
	r->err = 0;
}

static inline size_t rd_remaining(const struct rd *r) { return (size_t)(r->end - r->p); }

int8_t rd_i8(struct rd *r);
int16_t rd_i16(struct rd *r);
int32_t rd_i32(struct rd *r);
int64_t rd_i64(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
double rd_f64(struct rd *r);
bool rd_bool(struct rd *r);
uint32_t rd_uvarint(struct rd *r);
int32_t rd_varint(struct rd *r);   /* zig-zag */
int64_t rd_varlong(struct rd *r);  /* zig-zag */
uint64_t rd_uvarlong(struct rd *r);
void rd_uuid(struct rd *r, uint8_t out[16]);
/* Returns a pointer into the buffer and advances; NULL (with err set) when short. */
const uint8_t *rd_take(struct rd *r, size_t n);
void rd_skip(struct rd *r, size_t n);

/* Kafka's classic (int16/int32 length) and compact (uvarint length+1) encodings. */
struct kstr rd_string(struct rd *r);          /* int16 length, -1 = null */
struct kstr rd_compact_string(struct rd *r);  /* uvarint length+1, 0 = null */
struct kbytes rd_bytes(struct rd *r);         /* int32 length, -1 = null */
struct kbytes rd_compact_bytes(struct rd *r); /* uvarint length+1, 0 = null */
int32_t rd_array_len(struct rd *r);           /* int32, -1 = null */
int32_t rd_compact_array_len(struct rd *r);   /* uvarint n+1, 0 = null (-1) */

/*
 * A byte range left out of a wbuf: a kbytes whose ptr is wbuf_external is
 * written as its length prefix only, and the place and size of the bytes it
 * stands for are recorded here, to be sent from elsewhere (the fetch path
 * sends record data from segment files with sendfile, never through memory).
 */
struct wbuf_gap {
	size_t pos; /* where in data the missing bytes belong */
	size_t len;
};

extern const uint8_t wbuf_external[1];

struct wbuf {
	uint8_t *data;
	size_t len;
	size_t cap;
	struct wbuf_gap *gaps; /* in order of pos; see wbuf_external */
	size_t ngaps, gaps_cap;
};

void wbuf_init(struct wbuf *w);
void wbuf_free(struct wbuf *w);
void wbuf_reset(struct wbuf *w);
/* Make room for n more bytes; aborts on allocation failure (like xmalloc). */
void wbuf_reserve(struct wbuf *w, size_t n);
uint8_t *wbuf_extend(struct wbuf *w, size_t n); /* returns where the n new bytes go */
void wbuf_put(struct wbuf *w, const void *p, size_t n);
void wbuf_i8(struct wbuf *w, int8_t v);
void wbuf_i16(struct wbuf *w, int16_t v);
void wbuf_i32(struct wbuf *w, int32_t v);
void wbuf_i64(struct wbuf *w, int64_t v);
void wbuf_u32(struct wbuf *w, uint32_t v);
void wbuf_f64(struct wbuf *w, double v);
void wbuf_bool(struct wbuf *w, bool v);
void wbuf_uvarint(struct wbuf *w, uint32_t v);
void wbuf_uvarlong(struct wbuf *w, uint64_t v);
void wbuf_varint(struct wbuf *w, int32_t v);
void wbuf_varlong(struct wbuf *w, int64_t v);
void wbuf_uuid(struct wbuf *w, const uint8_t v[16]);
void wbuf_string(struct wbuf *w, struct kstr s);
void wbuf_compact_string(struct wbuf *w, struct kstr s);
void wbuf_bytes(struct wbuf *w, struct kbytes b);
void wbuf_compact_bytes(struct wbuf *w, struct kbytes b);
void wbuf_array_len(struct wbuf *w, int32_t n);         /* -1 = null */
void wbuf_compact_array_len(struct wbuf *w, int32_t n); /* -1 = null */
/* Overwrite 4 bytes at an earlier position (frame size prefixes). */
void wbuf_patch_i32(struct wbuf *w, size_t pos, int32_t v);

size_t uvarint_size(uint32_t v);

static inline struct kstr kstr_c(const char *s);
#include <string.h>
static inline struct kstr kstr_c(const char *s)
{
	struct kstr k = { s, s ? (int32_t)strlen(s) : -1 };
	return k;
}
/* a holds exactly the C string b (false when either is null). */
static inline bool kstr_eq(struct kstr a, const char *b)
{
	if (!b)
		return false;
	size_t n = strlen(b);
	return a.ptr && (size_t)a.len == n && memcmp(a.ptr, b, n) == 0;
}
/* Present and not empty (a group id, a member id). */
static inline bool kstr_nonempty(struct kstr s)
{
	return s.ptr && s.len > 0;
}

#endif
