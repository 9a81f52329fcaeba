/* SCRAM as Kafka uses it (see scram.h). */
#include "samsa/util/scram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "samsa/util/xalloc.h"

const char *scram_mech_name(int mech)
{
	return mech == SCRAM_SHA_256 ? "SCRAM-SHA-256" : mech == SCRAM_SHA_512 ? "SCRAM-SHA-512" : NULL;
}

int scram_mech_from_name(const char *name)
{
	if (name && !strcmp(name, "SCRAM-SHA-256"))
		return SCRAM_SHA_256;
	if (name && !strcmp(name, "SCRAM-SHA-512"))
		return SCRAM_SHA_512;
	return 0;
}

static const EVP_MD *md(int mech) { return mech == SCRAM_SHA_512 ? EVP_sha512() : EVP_sha256(); }

size_t scram_hash_len(int mech) { return mech == SCRAM_SHA_512 ? 64 : 32; }

static void hmac(int mech, const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t *out)
{
	unsigned int n = 0;
	HMAC(md(mech), key, (int)klen, msg, mlen, out, &n);
}

static void hash(int mech, const uint8_t *p, size_t n, uint8_t *out)
{
	unsigned int k = 0;
	EVP_Digest(p, n, out, &k, md(mech), NULL);
}

void scram_salted_password(int mech, const char *password, const uint8_t *salt, size_t salt_len, int iterations,
			   uint8_t *out)
{
	PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)salt_len, iterations, md(mech),
			  (int)scram_hash_len(mech), out);
}

void scram_credential_from_salted(int mech, const uint8_t *salt, size_t salt_len, const uint8_t *salted,
				  int iterations, struct scram_credential *out)
{
	size_t h = scram_hash_len(mech);
	memset(out, 0, sizeof *out);
	if (salt_len > sizeof out->salt)
		salt_len = sizeof out->salt;
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	uint8_t client_key[SCRAM_MAX_HASH];
	hmac(mech, salted, h, "Client Key", 10, client_key);
	hash(mech, client_key, h, out->stored_key);
	hmac(mech, salted, h, "Server Key", 10, out->server_key);
	OPENSSL_cleanse(client_key, sizeof client_key);
}

char *scram_b64(const uint8_t *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

long scram_unb64(const char *s, size_t n, uint8_t *out, size_t cap)
{
	if (n % 4 != 0 || n / 4 * 3 > cap + 2)
		return -1;
	uint8_t *tmp = xmalloc(n / 4 * 3 + 1);
	int k = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)n);
	if (k < 0) {
		free(tmp);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding's zero bytes: take them off. */
	if (n >= 1 && s[n - 1] == '=')
		k--;
	if (n >= 2 && s[n - 2] == '=')
		k--;
	if ((size_t)k > cap) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, (size_t)k);
	free(tmp);
	return k;
}

char *scram_credential_format(int mech, const struct scram_credential *c)
{
	size_t h = scram_hash_len(mech);
	char *salt = scram_b64(c->salt, c->salt_len), *sk = scram_b64(c->stored_key, h),
	     *srv = scram_b64(c->server_key, h);
	char *out = xasprintf("salt=%s,stored_key=%s,server_key=%s,iterations=%d", salt, sk, srv, c->iterations);
	free(salt);
	free(sk);
	free(srv);
	return out;
}

/* The value of key= in a comma-separated attribute list (len in *n), or NULL. */
static const char *attr(const char *s, size_t len, const char *key, size_t *n)
{
	size_t kl = strlen(key);
	const char *p = s, *end = s + len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		if ((size_t)(e - p) > kl && !memcmp(p, key, kl) && p[kl] == '=') {
			*n = (size_t)(e - p - (long)kl - 1);
			return p + kl + 1;
		}
		p = comma ? comma + 1 : end;
	}
	return NULL;
}

bool scram_credential_parse(int mech, const char *s, struct scram_credential *out)
{
	memset(out, 0, sizeof *out);
	size_t len = strlen(s), n;
	const char *v;
	long k;
	size_t h = scram_hash_len(mech);
	if (!(v = attr(s, len, "salt", &n)) || (k = scram_unb64(v, n, out->salt, sizeof out->salt)) < 0)
		return false;
	out->salt_len = (size_t)k;
	if (!(v = attr(s, len, "stored_key", &n)) || scram_unb64(v, n, out->stored_key, sizeof out->stored_key) !=
								(long)h)
		return false;
	if (!(v = attr(s, len, "server_key", &n)) || scram_unb64(v, n, out->server_key, sizeof out->server_key) !=
								(long)h)
		return false;
	if (!(v = attr(s, len, "iterations", &n)) || n == 0 || n > 9)
		return false;
	char num[16];
	memcpy(num, v, n);
	num[n] = 0;
	char *end;
	long it = strtol(num, &end, 10);
	if (*end || it <= 0)
		return false;
	out->iterations = (int)it;
	return true;
}

/* ------------------------------------------------------------------ server */

static void random_nonce(char *out, size_t chars)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	uint8_t r[128];
	if (chars > sizeof r)
		chars = sizeof r;
	RAND_bytes(r, (int)chars);
	for (size_t i = 0; i < chars; i++)
		out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
	out[chars] = 0;
}

/* saslname: "=2C" is ',' and "=3D" is '='; any other '=' is malformed. */
static bool unescape_name(const char *p, size_t n, char *out, size_t cap)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (k + 1 >= cap)
			return false;
		if (p[i] == '=') {
			if (i + 3 <= n && !strncmp(p + i, "=2C", 3))
				out[k++] = ',';
			else if (i + 3 <= n && !strncmp(p + i, "=3D", 3))
				out[k++] = '=';
			else
				return false;
			i += 2;
		} else if (p[i] == ',') {
			return false;
		} else {
			out[k++] = p[i];
		}
	}
	out[k] = 0;
	return k > 0;
}

bool scram_server_first(struct scram_server *s, int mech, const uint8_t *msg, size_t len)
{
	char nonce[33];
	random_nonce(nonce, 32);
	return scram_server_first_nonce(s, mech, msg, len, nonce);
}

bool scram_server_first_nonce(struct scram_server *s, int mech, const uint8_t *msg, size_t len,
			      const char *server_nonce)
{
	memset(s, 0, sizeof *s);
	s->mech = mech;
	const char *m = (const char *)msg;
	if (len < 3 || memchr(m, 0, len))
		return false;
	/* gs2-header: "n," or "y," (no channel binding), an optional "a=authzid", then ",". */
	if ((m[0] != 'n' && m[0] != 'y') || m[1] != ',')
		return false;
	const char *p = memchr(m + 2, ',', len - 2);
	if (!p)
		return false;
	const char *bare = p + 1;
	size_t bare_len = len - (size_t)(bare - m);
	size_t n;
	if (bare_len < 2 || bare[0] != 'n' || bare[1] != '=')
		return false;
	const char *ucomma = memchr(bare + 2, ',', bare_len - 2);
	if (!ucomma || !unescape_name(bare + 2, (size_t)(ucomma - bare - 2), s->user, sizeof s->user))
		return false;
	const char *r;
	r = attr(bare, bare_len, "r", &n);
	if (!r || n == 0 || n >= 96)
		return false;
	if (n + strlen(server_nonce) >= sizeof s->nonce)
		return false;
	memcpy(s->nonce, r, n);
	memcpy(s->nonce + n, server_nonce, strlen(server_nonce) + 1);
	s->client_first_bare = xstrndup(bare, bare_len);
	return true;
}

char *scram_server_challenge(struct scram_server *s, const struct scram_credential *c)
{
	s->cred = *c;
	char *salt = scram_b64(c->salt, c->salt_len);
	s->server_first = xasprintf("r=%s,s=%s,i=%d", s->nonce, salt, c->iterations);
	free(salt);
	return xstrdup(s->server_first);
}

char *scram_server_final(struct scram_server *s, const uint8_t *msg, size_t len)
{
	const char *m = (const char *)msg;
	if (!s->server_first || memchr(m, 0, len))
		return NULL;
	size_t n;
	const char *r = attr(m, len, "r", &n);
	/* Kafka checks that the nonce ends with the server's, not that it equals it: librdkafka
	 * sends its own nonce once more in front, and Kafka accepts that. */
	size_t nl = strlen(s->nonce);
	if (!r || n < nl || memcmp(r + n - nl, s->nonce, nl))
		return NULL;
	/* The proof is the last attribute: everything before ",p=" is signed. */
	const char *pp = NULL;
	for (size_t i = 0; i + 3 <= len; i++)
		if (!memcmp(m + i, ",p=", 3))
			pp = m + i;
	if (!pp)
		return NULL;
	size_t h = scram_hash_len(s->mech);
	uint8_t proof[SCRAM_MAX_HASH];
	size_t plen = len - (size_t)(pp + 3 - m);
	if (scram_unb64(pp + 3, plen, proof, sizeof proof) != (long)h)
		return NULL;
	char *auth = xasprintf("%s,%s,%.*s", s->client_first_bare, s->server_first, (int)(pp - m), m);
	uint8_t sig[SCRAM_MAX_HASH], client_key[SCRAM_MAX_HASH], stored[SCRAM_MAX_HASH];
	hmac(s->mech, s->cred.stored_key, h, auth, strlen(auth), sig);
	for (size_t i = 0; i < h; i++)
		client_key[i] = proof[i] ^ sig[i];
	hash(s->mech, client_key, h, stored);
	char *out = NULL;
	if (CRYPTO_memcmp(stored, s->cred.stored_key, h) == 0) {
		uint8_t server_sig[SCRAM_MAX_HASH];
		hmac(s->mech, s->cred.server_key, h, auth, strlen(auth), server_sig);
		char *v = scram_b64(server_sig, h);
		out = xasprintf("v=%s", v);
		free(v);
	}
	OPENSSL_cleanse(client_key, sizeof client_key);
	free(auth);
	return out;
}

void scram_server_clear(struct scram_server *s)
{
	free(s->client_first_bare);
	free(s->server_first);
	OPENSSL_cleanse(&s->cred, sizeof s->cred);
	memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ client */

char *scram_client_first(struct scram_client *c, int mech, const char *user, const char *password)
{
	char nonce[33];
	random_nonce(nonce, 32);
	return scram_client_first_nonce(c, mech, user, password, nonce);
}

char *scram_client_first_nonce(struct scram_client *c, int mech, const char *user, const char *password,
			       const char *nonce)
{
	memset(c, 0, sizeof *c);
	c->mech = mech;
	c->user = xstrdup(user);
	c->password = xstrdup(password);
	snprintf(c->nonce, sizeof c->nonce, "%s", nonce);
	/* saslname escaping of ',' and '=' */
	size_t n = 0;
	char esc[768];
	for (const char *p = user; *p && n + 4 < sizeof esc; p++) {
		if (*p == ',')
			n += (size_t)snprintf(esc + n, sizeof esc - n, "=2C");
		else if (*p == '=')
			n += (size_t)snprintf(esc + n, sizeof esc - n, "=3D");
		else
			esc[n++] = *p;
	}
	esc[n] = 0;
	c->client_first_bare = xasprintf("n=%s,r=%s", esc, c->nonce);
	return xasprintf("n,,%s", c->client_first_bare);
}

char *scram_client_final(struct scram_client *c, const uint8_t *server_first, size_t len)
{
	const char *m = (const char *)server_first;
	size_t rn, sn, in;
	const char *r = attr(m, len, "r", &rn), *s = attr(m, len, "s", &sn), *i = attr(m, len, "i", &in);
	if (!r || !s || !i || rn < strlen(c->nonce) || memcmp(r, c->nonce, strlen(c->nonce)) || in == 0 || in > 9)
		return NULL;
	uint8_t salt[128];
	long sl = scram_unb64(s, sn, salt, sizeof salt);
	char num[16];
	memcpy(num, i, in);
	num[in] = 0;
	int iterations = atoi(num);
	if (sl < 0 || iterations <= 0)
		return NULL;
	size_t h = scram_hash_len(c->mech);
	uint8_t salted[SCRAM_MAX_HASH], client_key[SCRAM_MAX_HASH], stored[SCRAM_MAX_HASH], sig[SCRAM_MAX_HASH],
		server_key[SCRAM_MAX_HASH];
	scram_salted_password(c->mech, c->password, salt, (size_t)sl, iterations, salted);
	hmac(c->mech, salted, h, "Client Key", 10, client_key);
	hash(c->mech, client_key, h, stored);
	char *without_proof = xasprintf("c=biws,r=%.*s", (int)rn, r);
	char *auth = xasprintf("%s,%.*s,%s", c->client_first_bare, (int)len, m, without_proof);
	hmac(c->mech, stored, h, auth, strlen(auth), sig);
	uint8_t proof[SCRAM_MAX_HASH];
	for (size_t k = 0; k < h; k++)
		proof[k] = client_key[k] ^ sig[k];
	hmac(c->mech, salted, h, "Server Key", 10, server_key);
	hmac(c->mech, server_key, h, auth, strlen(auth), c->server_signature);
	char *p64 = scram_b64(proof, h);
	char *out = xasprintf("%s,p=%s", without_proof, p64);
	free(p64);
	free(auth);
	free(without_proof);
	OPENSSL_cleanse(salted, sizeof salted);
	OPENSSL_cleanse(client_key, sizeof client_key);
	return out;
}

bool scram_client_verify(struct scram_client *c, const uint8_t *server_final, size_t len)
{
	size_t h = scram_hash_len(c->mech), n;
	const char *v = attr((const char *)server_final, len, "v", &n);
	uint8_t sig[SCRAM_MAX_HASH];
	return v && scram_unb64(v, n, sig, sizeof sig) == (long)h && CRYPTO_memcmp(sig, c->server_signature, h) == 0;
}

void scram_client_clear(struct scram_client *c)
{
	free(c->user);
	if (c->password)
		OPENSSL_cleanse(c->password, strlen(c->password));
	free(c->password);
	free(c->client_first_bare);
	memset(c, 0, sizeof *c);
}
