/* Request/response header versions and codecs (see header.h). */
#include "samsa/proto.h"

#include "proto/gen/messages.h"

static int flexible(int16_t api_key, int16_t api_version)
{
	const struct proto_api *api = proto_api_get(api_key);
	return api && api->flexible_from >= 0 && api_version >= api->flexible_from &&
	       api_version <= api->max_version;
}

int16_t request_header_version(int16_t api_key, int16_t api_version)
{
	if (api_key == API_CONTROLLED_SHUTDOWN && api_version == 0)
		return 0;
	return flexible(api_key, api_version) ? 2 : 1;
}

int16_t response_header_version(int16_t api_key, int16_t api_version)
{
	if (api_key == API_API_VERSIONS)
		return 0;
	return flexible(api_key, api_version) ? 1 : 0;
}

static void skip_tagged_fields(struct rd *r)
{
	uint32_t n = rd_uvarint(r);
	for (uint32_t i = 0; i < n && !r->err; i++) {
		rd_uvarint(r);
		rd_skip(r, rd_uvarint(r));
	}
}

int request_header_decode(struct rd *r, struct request_header *h)
{
	h->api_key = rd_i16(r);
	h->api_version = rd_i16(r);
	h->correlation_id = rd_i32(r);
	h->client_id = (struct kstr){ NULL, -1 };
	h->header_version = request_header_version(h->api_key, h->api_version);
	if (h->header_version >= 1)
		h->client_id = rd_string(r); /* never compact, even in header v2 */
	if (h->header_version >= 2)
		skip_tagged_fields(r);
	return r->err ? -1 : 0;
}

void request_header_encode(struct wbuf *w, const struct request_header *h)
{
	int16_t v = request_header_version(h->api_key, h->api_version);
	wbuf_i16(w, h->api_key);
	wbuf_i16(w, h->api_version);
	wbuf_i32(w, h->correlation_id);
	if (v >= 1)
		wbuf_string(w, h->client_id);
	if (v >= 2)
		wbuf_uvarint(w, 0);
}

void response_header_encode(struct wbuf *w, int16_t header_version, int32_t correlation_id)
{
	wbuf_i32(w, correlation_id);
	if (header_version >= 1)
		wbuf_uvarint(w, 0);
}
