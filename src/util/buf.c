/* Bounds-checked wire readers and growable writers (see buf.h). */
#include "samsa/util/buf.h"

#include <stdlib.h>
#include <string.h>

#include "samsa/util/endian.h"
#include "samsa/util/xalloc.h"

static inline bool need(struct rd *r, size_t n)
{
	if (r->err || (size_t)(r->end - r->p) < n) {
		r->err = 1;
		return false;
	}
	return true;
}

int8_t rd_i8(struct rd *r)
{
	if (!need(r, 1))
		return 0;
	return (int8_t)*r->p++;
}

uint16_t rd_u16(struct rd *r)
{
	if (!need(r, 2))
		return 0;
	uint16_t v = be16_load(r->p);
	r->p += 2;
	return v;
}

int16_t rd_i16(struct rd *r) { return (int16_t)rd_u16(r); }

uint32_t rd_u32(struct rd *r)
{
	if (!need(r, 4))
		return 0;
	uint32_t v = be32_load(r->p);
	r->p += 4;
	return v;
}

int32_t rd_i32(struct rd *r) { return (int32_t)rd_u32(r); }

int64_t rd_i64(struct rd *r)
{
	if (!need(r, 8))
		return 0;
	uint64_t v = be64_load(r->p);
	r->p += 8;
	return (int64_t)v;
}

double rd_f64(struct rd *r)
{
	uint64_t u = (uint64_t)rd_i64(r);
	double d;
	memcpy(&d, &u, sizeof d);
	return d;
}

bool rd_bool(struct rd *r) { return rd_i8(r) != 0; }

uint64_t rd_uvarlong(struct rd *r)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		if (!need(r, 1))
			return 0;
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->err = 1; /* more than 10 bytes: not a varlong */
	return 0;
}

uint32_t rd_uvarint(struct rd *r)
{
	uint32_t v = 0;
	for (int shift = 0; shift < 35; shift += 7) {
		if (!need(r, 1))
			return 0;
		uint8_t b = *r->p++;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	r->err = 1; /* more than 5 bytes: not a varint */
	return 0;
}

int32_t rd_varint(struct rd *r)
{
	uint32_t u = rd_uvarint(r);
	return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

int64_t rd_varlong(struct rd *r)
{
	uint64_t u = rd_uvarlong(r);
	return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

void rd_uuid(struct rd *r, uint8_t out[16])
{
	if (!need(r, 16)) {
		memset(out, 0, 16);
		return;
	}
	memcpy(out, r->p, 16);
	r->p += 16;
}

const uint8_t *rd_take(struct rd *r, size_t n)
{
	if (!need(r, n))
		return NULL;
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

void rd_skip(struct rd *r, size_t n) { (void)rd_take(r, n); }

struct kstr rd_string(struct rd *r)
{
	struct kstr s = { NULL, -1 };
	int16_t n = rd_i16(r);
	if (r->err || n < 0) {
		if (n < -1)
			r->err = 1;
		return s;
	}
	s.ptr = (const char *)rd_take(r, (size_t)n);
	s.len = s.ptr ? n : -1;
	return s;
}

struct kstr rd_compact_string(struct rd *r)
{
	struct kstr s = { NULL, -1 };
	uint32_t n = rd_uvarint(r);
	if (r->err || n == 0)
		return s;
	if (n - 1 > 0x7fff) { /* Kafka strings are limited to int16 lengths */
		r->err = 1;
		return s;
	}
	s.ptr = (const char *)rd_take(r, n - 1);
	s.len = s.ptr ? (int32_t)(n - 1) : -1;
	return s;
}

struct kbytes rd_bytes(struct rd *r)
{
	struct kbytes b = { NULL, -1 };
	int32_t n = rd_i32(r);
	if (r->err || n < 0) {
		if (n < -1)
			r->err = 1;
		return b;
	}
	b.ptr = rd_take(r, (size_t)n);
	b.len = b.ptr ? n : -1;
	return b;
}

struct kbytes rd_compact_bytes(struct rd *r)
{
	struct kbytes b = { NULL, -1 };
	uint32_t n = rd_uvarint(r);
	if (r->err || n == 0)
		return b;
	if (n - 1 > INT32_MAX) {
		r->err = 1;
		return b;
	}
	b.ptr = rd_take(r, n - 1);
	b.len = b.ptr ? (int32_t)(n - 1) : -1;
	return b;
}

/* An array can never hold more elements than bytes remain (each takes >= 1 byte
 * on the wire, except zero-field structs which Kafka has none of), so reject
 * counts that could only lead to a huge allocation. */
static int32_t check_count(struct rd *r, int64_t n)
{
	if (r->err)
		return -1;
	if (n < -1 || n > (int64_t)rd_remaining(r)) {
		r->err = 1;
		return -1;
	}
	return (int32_t)n;
}

int32_t rd_array_len(struct rd *r) { return check_count(r, rd_i32(r)); }

int32_t rd_compact_array_len(struct rd *r)
{
	uint32_t n = rd_uvarint(r);
	return check_count(r, (int64_t)n - 1);
}

const uint8_t wbuf_external[1];

void wbuf_init(struct wbuf *w)
{
	w->data = NULL;
	w->len = 0;
	w->cap = 0;
	w->gaps = NULL;
	w->ngaps = 0;
	w->gaps_cap = 0;
}

void wbuf_free(struct wbuf *w)
{
	free(w->data);
	free(w->gaps);
	wbuf_init(w);
}

void wbuf_reset(struct wbuf *w)
{
	w->len = 0;
	w->ngaps = 0;
}

static void add_gap(struct wbuf *w, size_t len)
{
	if (w->ngaps == w->gaps_cap) {
		w->gaps_cap = w->gaps_cap ? w->gaps_cap * 2 : 8;
		w->gaps = xrealloc(w->gaps, sizeof *w->gaps * w->gaps_cap);
	}
	w->gaps[w->ngaps].pos = w->len;
	w->gaps[w->ngaps].len = len;
	w->ngaps++;
}

void wbuf_reserve(struct wbuf *w, size_t n)
{
	if (w->cap - w->len >= n)
		return;
	size_t cap = w->cap ? w->cap : 256;
	while (cap - w->len < n)
		cap *= 2;
	w->data = xrealloc(w->data, cap);
	w->cap = cap;
}

uint8_t *wbuf_extend(struct wbuf *w, size_t n)
{
	wbuf_reserve(w, n);
	uint8_t *p = w->data + w->len;
	w->len += n;
	return p;
}

void wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	if (n)
		memcpy(wbuf_extend(w, n), p, n);
}

void wbuf_i8(struct wbuf *w, int8_t v) { *wbuf_extend(w, 1) = (uint8_t)v; }

void wbuf_i16(struct wbuf *w, int16_t v)
{
	be16_store(wbuf_extend(w, 2), (uint16_t)v);
}

void wbuf_u32(struct wbuf *w, uint32_t v)
{
	be32_store(wbuf_extend(w, 4), v);
}

void wbuf_i32(struct wbuf *w, int32_t v) { wbuf_u32(w, (uint32_t)v); }

void wbuf_i64(struct wbuf *w, int64_t v)
{
	be64_store(wbuf_extend(w, 8), (uint64_t)v);
}

void wbuf_f64(struct wbuf *w, double v)
{
	uint64_t u;
	memcpy(&u, &v, sizeof u);
	wbuf_i64(w, (int64_t)u);
}

void wbuf_bool(struct wbuf *w, bool v) { wbuf_i8(w, v ? 1 : 0); }

void wbuf_uvarlong(struct wbuf *w, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	wbuf_put(w, tmp, n);
}

void wbuf_uvarint(struct wbuf *w, uint32_t v) { wbuf_uvarlong(w, v); }

void wbuf_varint(struct wbuf *w, int32_t v)
{
	wbuf_uvarint(w, ((uint32_t)v << 1) ^ (uint32_t)(v >> 31));
}

void wbuf_varlong(struct wbuf *w, int64_t v)
{
	wbuf_uvarlong(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

size_t uvarint_size(uint32_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void wbuf_uuid(struct wbuf *w, const uint8_t v[16]) { wbuf_put(w, v, 16); }

void wbuf_string(struct wbuf *w, struct kstr s)
{
	if (!s.ptr) {
		wbuf_i16(w, -1);
		return;
	}
	wbuf_i16(w, (int16_t)s.len);
	wbuf_put(w, s.ptr, (size_t)s.len);
}

void wbuf_compact_string(struct wbuf *w, struct kstr s)
{
	if (!s.ptr) {
		wbuf_uvarint(w, 0);
		return;
	}
	wbuf_uvarint(w, (uint32_t)s.len + 1);
	wbuf_put(w, s.ptr, (size_t)s.len);
}

void wbuf_bytes(struct wbuf *w, struct kbytes b)
{
	if (!b.ptr) {
		wbuf_i32(w, -1);
		return;
	}
	wbuf_i32(w, b.len);
	if (b.ptr == wbuf_external)
		add_gap(w, (size_t)b.len);
	else
		wbuf_put(w, b.ptr, (size_t)b.len);
}

void wbuf_compact_bytes(struct wbuf *w, struct kbytes b)
{
	if (!b.ptr) {
		wbuf_uvarint(w, 0);
		return;
	}
	wbuf_uvarint(w, (uint32_t)b.len + 1);
	if (b.ptr == wbuf_external)
		add_gap(w, (size_t)b.len);
	else
		wbuf_put(w, b.ptr, (size_t)b.len);
}

void wbuf_array_len(struct wbuf *w, int32_t n) { wbuf_i32(w, n); }

void wbuf_compact_array_len(struct wbuf *w, int32_t n) { wbuf_uvarint(w, (uint32_t)(n + 1)); }

void wbuf_patch_i32(struct wbuf *w, size_t pos, int32_t v)
{
	be32_store(w->data + pos, (uint32_t)v);
}
