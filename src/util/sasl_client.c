/*
 * The client side of SASL for the broker's own connections (see
 * client_security.h).  The two requests are small and not flexible, so they
 * are written here byte by byte: a request header v1 (api key, version,
 * correlation id, client id) and the body; answers are read the same way.
 */
#include "samsa/util/client_security.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/endian.h"
#include "samsa/util/scram.h"
#include "samsa/util/xalloc.h"

/* util may not include proto (scripts/check-layers), whose generated table owns the API
 * keys; these two are Kafka's fixed numbers, spelled here for that reason only. */
#define API_SASL_HANDSHAKE 17
#define API_SASL_AUTHENTICATE 36
#define MAX_ANSWER (1 << 20)

struct frame {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct frame *f, const void *d, size_t n)
{
	if (f->n + n > f->cap) {
		f->cap = (f->n + n) * 2;
		f->p = xrealloc(f->p, f->cap);
	}
	memcpy(f->p + f->n, d, n);
	f->n += n;
}

static void put16(struct frame *f, uint16_t v)
{
	uint8_t b[2];
	be16_store(b, v);
	put(f, b, 2);
}

static void put32(struct frame *f, uint32_t v)
{
	uint8_t b[4];
	be32_store(b, v);
	put(f, b, 4);
}

/* One round trip; the answer (after the correlation id) in *out, malloc'd. */
static int round_trip(const struct client_io *io, int16_t api, int16_t version, int32_t corr, const char *client_id,
		      const void *body, size_t body_len, uint8_t **out, size_t *out_len)
{
	struct frame f = { 0 };
	put32(&f, 0);
	put16(&f, (uint16_t)api);
	put16(&f, (uint16_t)version);
	put32(&f, (uint32_t)corr);
	put16(&f, (uint16_t)strlen(client_id));
	put(&f, client_id, strlen(client_id));
	put(&f, body, body_len);
	be32_store(f.p, (uint32_t)(f.n - 4));
	int rc = io->write_all(io->arg, f.p, f.n);
	free(f.p);
	if (rc)
		return -1;
	uint8_t sz[4];
	if (io->read_all(io->arg, sz, 4))
		return -1;
	uint32_t n = be32_load(sz);
	if (n < 4 || n > MAX_ANSWER)
		return -1;
	uint8_t *p = xmalloc(n);
	if (io->read_all(io->arg, p, n) || (int32_t)be32_load(p) != corr) {
		free(p);
		return -1;
	}
	memmove(p, p + 4, n - 4);
	*out = p;
	*out_len = n - 4;
	return 0;
}

/* SaslAuthenticate v1: error, message, bytes. */
static int authenticate(const struct client_io *io, int32_t corr, const char *client_id, const void *token, size_t n,
			uint8_t **reply, size_t *reply_len, char *err, size_t err_len)
{
	struct frame body = { 0 };
	put32(&body, (uint32_t)n);
	put(&body, token, n);
	uint8_t *a;
	size_t al;
	int rc = round_trip(io, API_SASL_AUTHENTICATE, 1, corr, client_id, body.p, body.n, &a, &al);
	free(body.p);
	if (rc) {
		snprintf(err, err_len, "SaslAuthenticate: the connection failed");
		return -1;
	}
	rc = -1;
	if (al >= 4) {
		int16_t code = (int16_t)be16_load(a);
		int16_t ml = (int16_t)be16_load(a + 2);
		size_t at = 4 + (ml > 0 ? (size_t)ml : 0);
		if (code != 0) {
			snprintf(err, err_len, "SASL authentication failed (error %d): %.*s", code,
				 ml > 0 && 4 + (size_t)ml <= al ? ml : 0, (const char *)a + 4);
		} else if (at + 4 <= al) {
			int32_t bl = (int32_t)be32_load(a + at);
			if (bl >= 0 && at + 4 + (size_t)bl <= al) {
				*reply = xmalloc((size_t)bl + 1);
				memcpy(*reply, a + at + 4, (size_t)bl);
				*reply_len = (size_t)bl;
				rc = 0;
			}
		}
		if (rc && code == 0)
			snprintf(err, err_len, "SaslAuthenticate: a malformed answer");
	}
	free(a);
	return rc;
}

int sasl_client_authenticate(const struct client_io *io, const char *client_id, const struct client_security *s,
			     char *err, size_t err_len)
{
	const char *mech = s->sasl_mechanism;
	struct frame body = { 0 };
	put16(&body, (uint16_t)strlen(mech));
	put(&body, mech, strlen(mech));
	uint8_t *a;
	size_t al;
	int rc = round_trip(io, API_SASL_HANDSHAKE, 1, 1, client_id, body.p, body.n, &a, &al);
	free(body.p);
	if (rc || al < 2) {
		snprintf(err, err_len, "SaslHandshake: the connection failed");
		if (!rc)
			free(a);
		return -1;
	}
	int16_t code = (int16_t)be16_load(a);
	free(a);
	if (code != 0) {
		snprintf(err, err_len, "SaslHandshake for %s: error %d (mechanism not enabled?)", mech, code);
		return -1;
	}
	uint8_t *reply = NULL;
	size_t rl = 0;
	if (!strcmp(mech, "PLAIN")) {
		size_t ul = strlen(s->sasl_username), pl = strlen(s->sasl_password);
		uint8_t *tok = xmalloc(ul + pl + 2);
		tok[0] = 0;
		memcpy(tok + 1, s->sasl_username, ul);
		tok[1 + ul] = 0;
		memcpy(tok + 2 + ul, s->sasl_password, pl);
		rc = authenticate(io, 2, client_id, tok, ul + pl + 2, &reply, &rl, err, err_len);
		free(tok);
		free(reply);
		return rc;
	}
	int m = scram_mech_from_name(mech);
	if (!m) {
		snprintf(err, err_len, "SASL mechanism %s is not supported for inter-broker connections", mech);
		return -1;
	}
	struct scram_client c;
	char *first = scram_client_first(&c, m, s->sasl_username, s->sasl_password);
	rc = authenticate(io, 2, client_id, first, strlen(first), &reply, &rl, err, err_len);
	free(first);
	char *final = rc ? NULL : scram_client_final(&c, reply, rl);
	free(reply);
	reply = NULL;
	if (!rc && !final) {
		snprintf(err, err_len, "SCRAM: the server's first message is malformed");
		rc = -1;
	}
	if (!rc)
		rc = authenticate(io, 3, client_id, final, strlen(final), &reply, &rl, err, err_len);
	free(final);
	if (!rc && !scram_client_verify(&c, reply, rl)) {
		snprintf(err, err_len, "SCRAM: the server's signature does not verify");
		rc = -1;
	}
	free(reply);
	scram_client_clear(&c);
	return rc;
}
