/* TLS contexts from Kafka's ssl.* settings, and certificate principals (see tls.h). */
#include "samsa/util/tls.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "samsa/util/xalloc.h"

static void say(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *err, size_t n, const char *fmt, ...)
{
	if (!err || !n)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

void tls_last_error(char *out, size_t cap)
{
	unsigned long e = ERR_get_error();
	if (!e) {
		snprintf(out, cap, "no OpenSSL error");
		return;
	}
	ERR_error_string_n(e, out, cap);
	ERR_clear_error();
}

static bool set(const char *s) { return s && *s; }

/* ------------------------------------------------------------------ stores */

enum store_kind { STORE_PKCS12, STORE_PEM };

static bool read_file(const char *path, uint8_t **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	size_t cap = 4096, n = 0;
	uint8_t *buf = xmalloc(cap);
	size_t k;
	while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	fclose(f);
	*data = buf;
	*len = n;
	return true;
}

static bool has_pem_block(const uint8_t *d, size_t n)
{
	static const char tag[] = "-----BEGIN";
	for (size_t i = 0; i + sizeof tag - 1 <= n; i++)
		if (memcmp(d + i, tag, sizeof tag - 1) == 0)
			return true;
	return false;
}

/*
 * What a store file holds, given its ssl.*.type: a JKS keystore (its magic,
 * 0xFEEDFEED) cannot be read here; a PKCS12 file is read whatever the type says
 * (Java's JKS type reads PKCS12 files too); PEM when the text says so.
 */
static int store_kind(const char *what, const char *type, const char *path, const uint8_t *d, size_t n, char *err,
		      size_t err_len)
{
	if (n >= 4 && d[0] == 0xFE && d[1] == 0xED && d[2] == 0xFE && d[3] == 0xED) {
		say(err, err_len,
		    "%s %s is a JKS keystore, which samsa cannot read: convert it to PKCS12 (keytool -importkeystore "
		    "-deststoretype PKCS12) or PEM and set the type to PKCS12 or PEM",
		    what, path);
		return -1;
	}
	bool pem = has_pem_block(d, n);
	if (type && !strcasecmp(type, "PEM")) {
		if (!pem) {
			say(err, err_len, "%s %s has type PEM but holds no PEM block", what, path);
			return -1;
		}
		return STORE_PEM;
	}
	if (type && strcasecmp(type, "PKCS12") && strcasecmp(type, "JKS")) {
		say(err, err_len, "%s type %s is not supported: use PKCS12 or PEM", what, type);
		return -1;
	}
	if (n > 0 && d[0] == 0x30)
		return STORE_PKCS12;
	say(err, err_len, "%s %s is not a PKCS12 file%s", what, path,
	    pem ? " (it is PEM: set the type to PEM)" : "; samsa reads PKCS12 and PEM stores");
	return -1;
}

static PKCS12 *parse_p12(const uint8_t *d, size_t n)
{
	const unsigned char *p = d;
	return d2i_PKCS12(NULL, &p, (long)n);
}

static int key_password_cb(char *buf, int size, int rwflag, void *u)
{
	(void)rwflag;
	const char *pw = u;
	if (!pw)
		return 0;
	int n = (int)strlen(pw);
	if (n > size)
		n = size;
	memcpy(buf, pw, (size_t)n);
	return n;
}

/* Certificate chain and key from PEM text: the first certificate is the leaf. */
static int use_pem_keystore(SSL_CTX *ctx, const char *chain, size_t chain_len, const char *key, size_t key_len,
			    const char *password, const char *what, char *err, size_t err_len)
{
	BIO *b = BIO_new_mem_buf(chain, (int)chain_len);
	X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
	if (!leaf || SSL_CTX_use_certificate(ctx, leaf) != 1) {
		say(err, err_len, "%s: no certificate could be read", what);
		X509_free(leaf);
		BIO_free(b);
		return -1;
	}
	X509_free(leaf);
	X509 *extra;
	while ((extra = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, extra) != 1)
			X509_free(extra);
	ERR_clear_error(); /* the loop ends on "no start line" */
	BIO_free(b);
	b = BIO_new_mem_buf(key, (int)key_len);
	EVP_PKEY *pkey = PEM_read_bio_PrivateKey(b, NULL, key_password_cb, (void *)password);
	BIO_free(b);
	if (!pkey || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		char e[256];
		tls_last_error(e, sizeof e);
		say(err, err_len, "%s: the private key cannot be used (wrong ssl.key.password, or not the "
				  "certificate's key?): %s", what, e);
		EVP_PKEY_free(pkey);
		return -1;
	}
	EVP_PKEY_free(pkey);
	return 0;
}

static int load_keystore(SSL_CTX *ctx, const struct tls_settings *s, char *err, size_t err_len)
{
	if (set(s->keystore_certificate_chain) || set(s->keystore_key)) {
		if (!set(s->keystore_certificate_chain) || !set(s->keystore_key)) {
			say(err, err_len, "ssl.keystore.certificate.chain and ssl.keystore.key must be set together");
			return -1;
		}
		return use_pem_keystore(ctx, s->keystore_certificate_chain, strlen(s->keystore_certificate_chain),
					s->keystore_key, strlen(s->keystore_key), s->key_password,
					"ssl.keystore.certificate.chain", err, err_len);
	}
	uint8_t *d;
	size_t n;
	if (!read_file(s->keystore_location, &d, &n)) {
		say(err, err_len, "ssl.keystore.location %s cannot be read", s->keystore_location);
		return -1;
	}
	int rc = -1;
	int kind = store_kind("ssl.keystore.location", s->keystore_type, s->keystore_location, d, n, err, err_len);
	if (kind == STORE_PEM) {
		/* Kafka's PEM keystore file: the key and the chain in one file. */
		rc = use_pem_keystore(ctx, (const char *)d, n, (const char *)d, n,
				      set(s->key_password) ? s->key_password : s->keystore_password,
				      "ssl.keystore.location", err, err_len);
	} else if (kind == STORE_PKCS12) {
		PKCS12 *p12 = parse_p12(d, n);
		EVP_PKEY *pkey = NULL;
		X509 *cert = NULL;
		STACK_OF(X509) *ca = NULL;
		if (!p12 || PKCS12_parse(p12, s->keystore_password ? s->keystore_password : "", &pkey, &cert, &ca) != 1 ||
		    !pkey || !cert) {
			char e[256];
			tls_last_error(e, sizeof e);
			say(err, err_len, "ssl.keystore.location %s: cannot read a key and certificate "
					  "(wrong ssl.keystore.password?): %s", s->keystore_location, e);
		} else if (SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
			   SSL_CTX_check_private_key(ctx) != 1) {
			say(err, err_len, "ssl.keystore.location %s: the key does not fit the certificate",
			    s->keystore_location);
		} else {
			for (int i = 0; ca && i < sk_X509_num(ca); i++) {
				X509 *c = sk_X509_value(ca, i);
				X509_up_ref(c);
				if (SSL_CTX_add0_chain_cert(ctx, c) != 1)
					X509_free(c);
			}
			rc = 0;
		}
		EVP_PKEY_free(pkey);
		X509_free(cert);
		sk_X509_pop_free(ca, X509_free);
		PKCS12_free(p12);
	}
	free(d);
	return rc;
}

static int add_pem_certs(X509_STORE *st, const char *pem, size_t len)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	int added = 0;
	X509 *c;
	while ((c = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(st, c) == 1)
			added++;
		X509_free(c);
	}
	ERR_clear_error();
	BIO_free(b);
	return added;
}

static int load_truststore(SSL_CTX *ctx, const struct tls_settings *s, char *err, size_t err_len)
{
	X509_STORE *st = SSL_CTX_get_cert_store(ctx);
	if (set(s->truststore_certificates)) {
		if (add_pem_certs(st, s->truststore_certificates, strlen(s->truststore_certificates)) == 0) {
			say(err, err_len, "ssl.truststore.certificates holds no certificate");
			return -1;
		}
		return 0;
	}
	if (!set(s->truststore_location))
		return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
	uint8_t *d;
	size_t n;
	if (!read_file(s->truststore_location, &d, &n)) {
		say(err, err_len, "ssl.truststore.location %s cannot be read", s->truststore_location);
		return -1;
	}
	int rc = -1;
	int kind = store_kind("ssl.truststore.location", s->truststore_type, s->truststore_location, d, n, err,
			      err_len);
	if (kind == STORE_PEM) {
		rc = add_pem_certs(st, (const char *)d, n) > 0 ? 0 : -1;
		if (rc)
			say(err, err_len, "ssl.truststore.location %s holds no certificate", s->truststore_location);
	} else if (kind == STORE_PKCS12) {
		PKCS12 *p12 = parse_p12(d, n);
		EVP_PKEY *pkey = NULL;
		X509 *cert = NULL;
		STACK_OF(X509) *ca = NULL;
		if (p12 && PKCS12_parse(p12, s->truststore_password ? s->truststore_password : "", &pkey, &cert, &ca) ==
				   1) {
			int added = 0;
			if (cert && X509_STORE_add_cert(st, cert) == 1)
				added++;
			for (int i = 0; ca && i < sk_X509_num(ca); i++)
				added += X509_STORE_add_cert(st, sk_X509_value(ca, i)) == 1;
			rc = added > 0 ? 0 : -1;
		}
		if (rc) {
			char e[256];
			tls_last_error(e, sizeof e);
			say(err, err_len, "ssl.truststore.location %s: no certificate could be read "
					  "(wrong ssl.truststore.password?): %s", s->truststore_location, e);
		}
		EVP_PKEY_free(pkey);
		X509_free(cert);
		sk_X509_pop_free(ca, X509_free);
		PKCS12_free(p12);
	}
	free(d);
	return rc;
}

/* ------------------------------------------------------------------ protocols and ciphers */

static int protocol_version(const char *name)
{
	if (!strcasecmp(name, "TLSv1.3"))
		return TLS1_3_VERSION;
	if (!strcasecmp(name, "TLSv1.2"))
		return TLS1_2_VERSION;
	if (!strcasecmp(name, "TLSv1.1"))
		return TLS1_1_VERSION;
	if (!strcasecmp(name, "TLSv1"))
		return TLS1_VERSION;
	return -1;
}

static int set_protocols(SSL_CTX *ctx, const char *list, char *err, size_t err_len)
{
	if (!set(list))
		list = "TLSv1.2,TLSv1.3";
	int lo = 0, hi = 0;
	char *copy = xstrdup(list), *save = NULL;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		int v = protocol_version(t);
		if (v < 0) {
			say(err, err_len, "ssl.enabled.protocols: unknown protocol %s", t);
			free(copy);
			return -1;
		}
		lo = lo && lo < v ? lo : v;
		hi = hi > v ? hi : v;
	}
	free(copy);
	if (!lo) {
		say(err, err_len, "ssl.enabled.protocols names no protocol");
		return -1;
	}
	SSL_CTX_set_min_proto_version(ctx, lo);
	SSL_CTX_set_max_proto_version(ctx, hi);
	return 0;
}

/*
 * Kafka names suites the IANA way (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
 * TLS_AES_128_GCM_SHA256); OpenSSL takes its own names for TLS 1.2 and the IANA
 * ones for TLS 1.3.
 */
static int set_ciphers(SSL_CTX *ctx, const char *list, char *err, size_t err_len)
{
	if (!set(list))
		return 0;
	SSL *probe = SSL_new(ctx);
	STACK_OF(SSL_CIPHER) *all = probe ? SSL_get_ciphers(probe) : NULL;
	char tls12[4096] = "", tls13[1024] = "";
	char *copy = xstrdup(list), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(copy, ", ", &save); t && !rc; t = strtok_r(NULL, ", ", &save)) {
		const SSL_CIPHER *found = NULL;
		for (int i = 0; all && i < sk_SSL_CIPHER_num(all) && !found; i++) {
			const SSL_CIPHER *c = sk_SSL_CIPHER_value(all, i);
			const char *std = SSL_CIPHER_standard_name(c);
			if ((std && !strcmp(std, t)) || !strcmp(SSL_CIPHER_get_name(c), t))
				found = c;
		}
		if (!found) {
			say(err, err_len, "ssl.cipher.suites: %s is not a suite this OpenSSL offers", t);
			rc = -1;
			break;
		}
		/* OpenSSL names TLS 1.3 suites the IANA way, TLS_...; its TLS 1.2 names differ. */
		bool v13 = strncmp(SSL_CIPHER_get_name(found), "TLS_", 4) == 0;
		char *dst = v13 ? tls13 : tls12;
		size_t cap = v13 ? sizeof tls13 : sizeof tls12;
		size_t len = strlen(dst);
		snprintf(dst + len, cap - len, "%s%s", len ? ":" : "", v13 ? SSL_CIPHER_standard_name(found)
									 : SSL_CIPHER_get_name(found));
	}
	free(copy);
	SSL_free(probe);
	if (rc)
		return rc;
	/* Only suites of one kind named: the other kind gets none, as Java's list would give. */
	if (SSL_CTX_set_cipher_list(ctx, tls12[0] ? tls12 : "") != 1 && tls12[0]) {
		say(err, err_len, "ssl.cipher.suites: OpenSSL refused %s", tls12);
		return -1;
	}
	ERR_clear_error();
	if (SSL_CTX_set_ciphersuites(ctx, tls13) != 1) {
		say(err, err_len, "ssl.cipher.suites: OpenSSL refused %s", tls13);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ the context */

struct ssl_ctx_st *tls_context_new(const struct tls_settings *s, bool server, char *err, size_t err_len)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		say(err, err_len, "OpenSSL cannot make a TLS context");
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	bool have_keystore = set(s->keystore_location) || set(s->keystore_certificate_chain) || set(s->keystore_key);
	if (server && !have_keystore) {
		say(err, err_len, "an SSL listener needs a keystore: ssl.keystore.location (PKCS12 or PEM) or "
				  "ssl.keystore.certificate.chain and ssl.keystore.key");
		goto fail;
	}
	if (have_keystore && load_keystore(ctx, s, err, err_len) != 0)
		goto fail;
	if (set_protocols(ctx, s->enabled_protocols, err, err_len) != 0 ||
	    set_ciphers(ctx, s->cipher_suites, err, err_len) != 0)
		goto fail;
	bool want_peer = !server;
	bool require = !server;
	if (server && set(s->client_auth)) {
		if (!strcasecmp(s->client_auth, "required"))
			want_peer = require = true;
		else if (!strcasecmp(s->client_auth, "requested"))
			want_peer = true;
		else if (strcasecmp(s->client_auth, "none")) {
			say(err, err_len, "ssl.client.auth must be none, requested or required, not %s", s->client_auth);
			goto fail;
		}
	}
	if (want_peer) {
		if (load_truststore(ctx, s, err, err_len) != 0)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (require && server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
				   NULL);
	} else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void tls_context_free(struct ssl_ctx_st *ctx) { SSL_CTX_free(ctx); }

/* ------------------------------------------------------------------ principals */

/* One rule of ssl.principal.mapping.rules; *p advances past it.  -1 when malformed. */
struct rule {
	bool is_default;
	char *pattern, *replacement;
	char fold; /* 'L', 'U' or 0 */
};

static int next_rule(const char **p, struct rule *r)
{
	memset(r, 0, sizeof *r);
	const char *s = *p;
	while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n')
		s++;
	if (!*s) {
		*p = s;
		return 0;
	}
	if (!strncmp(s, "DEFAULT", 7)) {
		r->is_default = true;
		s += 7;
	} else if (!strncmp(s, "RULE:", 5)) {
		s += 5;
		const char *a = strchr(s, '/');
		if (!a)
			return -1;
		const char *b = strchr(a + 1, '/');
		if (!b)
			return -1;
		r->pattern = xstrndup(s, (size_t)(a - s));
		r->replacement = xstrndup(a + 1, (size_t)(b - a - 1));
		s = b + 1;
		if (*s == 'L' || *s == 'U')
			r->fold = *s++;
	} else {
		return -1;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s && *s != ',') {
		free(r->pattern);
		free(r->replacement);
		return -1;
	}
	*p = s;
	return 1;
}

static void rule_free(struct rule *r)
{
	free(r->pattern);
	free(r->replacement);
}

/*
 * glibc compiles stacked repetitions ("a+++...") into trees that grow without
 * bound; Java reads most of them as possessive or lazy forms.  Such patterns,
 * and very long ones, are refused rather than compiled.
 */
static bool pattern_tame(const char *p)
{
	if (strlen(p) > 512)
		return false;
	for (const char *c = p; *c; c++) {
		bool rep = *c == '*' || *c == '+' || *c == '}';
		char next = c[1];
		bool next_rep = next == '*' || next == '+' || next == '{';
		/* "*?" and "+?" (Java's lazy forms) are fine; two repetitions in a row are not. */
		if (rep && next_rep)
			return false;
	}
	return true;
}

int tls_principal_rules_check(const char *rules, char *err, size_t err_len)
{
	const char *p = set(rules) ? rules : "DEFAULT";
	struct rule r;
	int rc;
	while ((rc = next_rule(&p, &r)) == 1) {
		if (!r.is_default) {
			regex_t re;
			if (!pattern_tame(r.pattern) || regcomp(&re, r.pattern, REG_EXTENDED) != 0) {
				say(err, err_len, "ssl.principal.mapping.rules: bad pattern %s", r.pattern);
				rule_free(&r);
				return -1;
			}
			regfree(&re);
		}
		rule_free(&r);
	}
	if (rc < 0) {
		say(err, err_len, "ssl.principal.mapping.rules: cannot parse %s (rules are DEFAULT or "
				  "RULE:pattern/replacement/[LU], separated by commas)", p);
		return -1;
	}
	return 0;
}

/* [SslPrincipalMapper]: the first rule that matches the whole DN decides; none: the DN itself. */
void tls_map_principal(const char *dn, const char *rules, char *out, size_t cap)
{
	const char *p = set(rules) ? rules : "DEFAULT";
	struct rule r;
	snprintf(out, cap, "%s", dn);
	while (next_rule(&p, &r) == 1) {
		if (r.is_default) {
			rule_free(&r);
			return;
		}
		regex_t re;
		regmatch_t m[10];
		bool compiled = pattern_tame(r.pattern) && regcomp(&re, r.pattern, REG_EXTENDED) == 0;
		bool hit = compiled && regexec(&re, dn, 10, m, 0) == 0 && m[0].rm_so == 0 && (size_t)m[0].rm_eo == strlen(dn);
		if (hit) {
			size_t n = 0;
			for (const char *q = r.replacement; *q && n + 1 < cap; q++) {
				if (*q == '$' && isdigit((unsigned char)q[1])) {
					int g = q[1] - '0';
					if (m[g].rm_so >= 0)
						for (regoff_t k = m[g].rm_so; k < m[g].rm_eo && n + 1 < cap; k++)
							out[n++] = dn[k];
					q++;
				} else {
					out[n++] = *q;
				}
			}
			out[n] = 0;
			for (size_t k = 0; r.fold && k < n; k++)
				out[k] = (char)(r.fold == 'L' ? tolower((unsigned char)out[k]) : toupper((unsigned char)out[k]));
		}
		if (compiled)
			regfree(&re);
		rule_free(&r);
		if (hit)
			return;
	}
}

void tls_peer_principal(struct ssl_st *ssl, const char *rules, char *out, size_t cap)
{
	X509 *peer = ssl ? SSL_get1_peer_certificate(ssl) : NULL;
	if (!peer) {
		snprintf(out, cap, "User:ANONYMOUS");
		return;
	}
	/* RFC 2253, most specific first, as Java's X500Principal.getName() has it. */
	BIO *b = BIO_new(BIO_s_mem());
	X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char dn[512];
	int n = BIO_read(b, dn, sizeof dn - 1);
	dn[n > 0 ? n : 0] = 0;
	BIO_free(b);
	X509_free(peer);
	char mapped[512];
	tls_map_principal(dn, rules, mapped, sizeof mapped);
	snprintf(out, cap, "User:%s", mapped);
}

/* ------------------------------------------------------------------ blocking clients */

struct ssl_st *tls_client_connect(struct ssl_ctx_st *ctx, int fd, const char *host, bool verify_host, char *err,
				  size_t err_len)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl) {
		say(err, err_len, "OpenSSL cannot make a session");
		return NULL;
	}
	SSL_set_fd(ssl, fd);
	struct in6_addr a6;
	struct in_addr a4;
	bool is_ip = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
	if (!is_ip)
		SSL_set_tlsext_host_name(ssl, host);
	if (verify_host) {
		X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
		if (is_ip)
			X509_VERIFY_PARAM_set1_ip_asc(vp, host);
		else
			X509_VERIFY_PARAM_set1_host(vp, host, 0);
	}
	if (SSL_connect(ssl) != 1) {
		char e[256];
		tls_last_error(e, sizeof e);
		long v = SSL_get_verify_result(ssl);
		say(err, err_len, "TLS handshake with %s failed: %s%s%s", host, e, v != X509_V_OK ? "; " : "",
		    v != X509_V_OK ? X509_verify_cert_error_string(v) : "");
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

int tls_write_all(struct ssl_st *ssl, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		size_t done = 0;
		if (SSL_write_ex(ssl, b, n, &done) != 1)
			return -1;
		b += done;
		n -= done;
	}
	return 0;
}

int tls_read_all(struct ssl_st *ssl, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		size_t got = 0;
		if (SSL_read_ex(ssl, b, n, &got) != 1)
			return -1;
		b += got;
		n -= got;
	}
	return 0;
}

void tls_close(struct ssl_st *ssl)
{
	if (!ssl)
		return;
	SSL_shutdown(ssl);
	SSL_free(ssl);
}
