/*
 * libFuzzer target: one request frame (the bytes after the size prefix), as a
 * network thread would see it.  The header and the body must decode without
 * reading past the frame; what decodes must re-encode and decode again to the
 * same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rd r;
	rd_init(&r, data, size);
	struct request_header h;
	if (request_header_decode(&r, &h) != 0)
		return 0;
	const struct proto_api *api = proto_api_get(h.api_key);
	if (!api || h.api_version < api->min_version || h.api_version > api->max_version)
		return 0;
	struct arena a;
	arena_init(&a);
	void *body = NULL;
	if (proto_request_decode(h.api_key, h.api_version, &r, &a, &body) == 0 && !r.err) {
		struct wbuf w1, w2;
		wbuf_init(&w1);
		wbuf_init(&w2);
		proto_request_encode(h.api_key, h.api_version, &w1, body);
		struct rd r2;
		rd_init(&r2, w1.data, w1.len);
		void *again = NULL;
		if (proto_request_decode(h.api_key, h.api_version, &r2, &a, &again) != 0 || r2.err)
			abort(); /* we wrote something we cannot read */
		proto_request_encode(h.api_key, h.api_version, &w2, again);
		if (w1.len != w2.len || (w1.len && memcmp(w1.data, w2.data, w1.len) != 0))
			abort(); /* encoding is not stable */
		wbuf_free(&w1);
		wbuf_free(&w2);
	}
	arena_free(&a);
	return 0;
}
