/* SASL on the broker's SASL listeners (see sasl.h). */
#include "server/sasl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "samsa/config.h"
#include "samsa/net.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/jaas.h"
#include "samsa/util/log.h"
#include "samsa/util/scram.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/broker.h"
#include "server/request.h"

enum { MECH_NONE, MECH_PLAIN, MECH_SCRAM_256, MECH_SCRAM_512 };

static const char *const mech_names[] = { "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" };

struct plain_user {
	char *name, *password;
};

/* One SASL listener's settings. */
struct sasl_listener {
	char *name;
	bool enabled[4];
	char *enabled_list;           /* as configured, for the handshake's answer */
	struct plain_user *users;     /* PLAIN: user_<name>="<password>" of its JAAS config */
	int n_users;
	int64_t reauth_ms;            /* connections.max.reauth.ms; 0: sessions do not expire */
};

static struct sasl_listener *listeners;
static int n_listeners;

/* One connection's SASL state. */
struct sasl_conn {
	const struct sasl_listener *l;
	int mech;
	bool handshaken;      /* SaslHandshake done: SaslAuthenticate (v1) or raw tokens (v0) next */
	bool raw;             /* after SaslHandshake v0: the next frames are bare tokens */
	bool authenticated;
	bool reauthenticating;
	int64_t expires_ms;   /* the session's end (KIP-368), 0 for none */
	char principal[300];
	int scram_step;       /* 0: client-first next, 1: client-final next */
	struct scram_server scram;
};

static void sasl_conn_free(void *p)
{
	struct sasl_conn *s = p;
	if (!s)
		return;
	scram_server_clear(&s->scram);
	free(s);
}

/* ------------------------------------------------------------------ settings */

static int prepare_listener(struct broker *b, const char *name, struct sasl_listener *l)
{
	memset(l, 0, sizeof *l);
	l->name = xstrdup(name);
	const char *mechs = config_listener_raw(b->config, name, "sasl.enabled.mechanisms");
	l->enabled_list = xstrdup(mechs ? mechs : "");
	char *copy = xstrdup(l->enabled_list), *save = NULL;
	int count = 0;
	for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
		count++;
		if (!strcmp(t, "PLAIN"))
			l->enabled[MECH_PLAIN] = true;
		else if (!strcmp(t, "SCRAM-SHA-256"))
			l->enabled[MECH_SCRAM_256] = true;
		else if (!strcmp(t, "SCRAM-SHA-512"))
			l->enabled[MECH_SCRAM_512] = true;
		else {
			log_error("Listener %s: SASL mechanism %s is not supported (samsa offers PLAIN, SCRAM-SHA-256 "
				  "and SCRAM-SHA-512; GSSAPI and OAUTHBEARER are not available): set "
				  "sasl.enabled.mechanisms", name, t);
			free(copy);
			return -1;
		}
	}
	free(copy);
	if (count == 0) {
		log_error("Listener %s: sasl.enabled.mechanisms is empty", name);
		return -1;
	}
	if (l->enabled[MECH_PLAIN]) {
		const char *jaas = config_listener_raw(b->config, name, "plain.sasl.jaas.config");
		if (!jaas)
			jaas = config_listener_raw(b->config, name, "sasl.jaas.config");
		struct jaas_option *o;
		int n;
		if (!jaas || jaas_parse(jaas, &o, &n) != 0) {
			log_error("Listener %s: PLAIN needs listener.name.%s.plain.sasl.jaas.config (PlainLoginModule "
				  "with user_<name>=\"<password>\" entries)%s", name, name, jaas ? ", which cannot be parsed" : "");
			return -1;
		}
		for (int i = 0; i < n; i++)
			if (!strncmp(o[i].key, "user_", 5) && o[i].key[5]) {
				l->users = xrealloc(l->users, sizeof *l->users * (size_t)(l->n_users + 1));
				l->users[l->n_users++] = (struct plain_user){ xstrdup(o[i].key + 5), xstrdup(o[i].value) };
			}
		jaas_free(o, n);
	}
	const char *reauth = config_listener_raw(b->config, name, "connections.max.reauth.ms");
	l->reauth_ms = reauth ? strtoll(reauth, NULL, 10) : 0;
	return 0;
}

int broker_sasl_prepare(struct broker *b)
{
	for (int i = 0; i < b->n_listeners; i++) {
		struct listener_spec *spec = &b->listeners[i];
		if (spec->protocol != SECPROTO_SASL_PLAINTEXT && spec->protocol != SECPROTO_SASL_SSL)
			continue;
		listeners = xrealloc(listeners, sizeof *listeners * (size_t)(n_listeners + 1));
		if (prepare_listener(b, spec->name, &listeners[n_listeners]) != 0) {
			n_listeners++;
			return -1;
		}
		log_info("Listener %s: SASL with %s", spec->name, listeners[n_listeners].enabled_list);
		n_listeners++;
	}
	return 0;
}

void broker_sasl_free(struct broker *b)
{
	(void)b;
	for (int i = 0; i < n_listeners; i++) {
		free(listeners[i].name);
		free(listeners[i].enabled_list);
		for (int k = 0; k < listeners[i].n_users; k++) {
			free(listeners[i].users[k].name);
			OPENSSL_cleanse(listeners[i].users[k].password, strlen(listeners[i].users[k].password));
			free(listeners[i].users[k].password);
		}
		free(listeners[i].users);
	}
	free(listeners);
	listeners = NULL;
	n_listeners = 0;
}

static const struct sasl_listener *listener_of(const char *name)
{
	for (int i = 0; i < n_listeners; i++)
		if (!strcmp(listeners[i].name, name))
			return &listeners[i];
	return NULL;
}

static bool is_sasl(const struct conn_info *info)
{
	return info->protocol == SECPROTO_SASL_PLAINTEXT || info->protocol == SECPROTO_SASL_SSL;
}

/* ------------------------------------------------------------------ the gate */

bool sasl_allows(struct request *req)
{
	if (!is_sasl(&req->info))
		return true;
	struct sasl_conn *s = net_conn_state(req->conn);
	int16_t key = req->header.api_key;
	if (s && s->authenticated && !s->reauthenticating) {
		if (s->expires_ms && wall_clock_ms() > s->expires_ms && key != API_SASL_HANDSHAKE) {
			log_info("Closing connection %s: its SASL session expired (connections.max.reauth.ms) and was not "
				 "re-authenticated", req->info.peer);
			request_close(req);
			return false;
		}
		return true;
	}
	if (key == API_API_VERSIONS || key == API_SASL_HANDSHAKE || (key == API_SASL_AUTHENTICATE && s && s->handshaken))
		return true;
	log_warn("Closing connection %s: unexpected Kafka request of type %s during SASL handshake", req->info.peer,
		 api_key_name(key));
	request_close(req);
	return false;
}

/* ------------------------------------------------------------------ mechanisms */

static const char *failure_message(int mech)
{
	return mech == MECH_PLAIN ? "Authentication failed: Invalid username or password"
				  : mech == MECH_SCRAM_256
					    ? "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256"
					    : "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
}

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static bool plain_check(const struct sasl_listener *l, const uint8_t *p, size_t n, char *user, size_t cap)
{
	const uint8_t *a = memchr(p, 0, n);
	if (!a)
		return false;
	const uint8_t *u = a + 1;
	const uint8_t *b = memchr(u, 0, n - (size_t)(u - p));
	if (!b)
		return false;
	size_t ulen = (size_t)(b - u), plen = n - (size_t)(b + 1 - p), alen = (size_t)(a - p);
	if (ulen == 0 || ulen >= cap || memchr(b + 1, 0, plen))
		return false;
	/* An authorization id other than the user itself is refused, as Kafka does. */
	if (alen && (alen != ulen || memcmp(p, u, ulen)))
		return false;
	memcpy(user, u, ulen);
	user[ulen] = 0;
	for (int i = 0; i < l->n_users; i++) {
		const char *pw = l->users[i].password;
		if (!strcmp(l->users[i].name, user) && strlen(pw) == plen && CRYPTO_memcmp(pw, b + 1, plen) == 0)
			return true;
	}
	return false;
}

/* What one step answers: a token, an error, and whether the exchange is over. */
struct step {
	int16_t error;
	const char *message;
	uint8_t *token; /* malloc'd */
	size_t token_len;
	bool done;
};

static void succeed(struct request *req, struct sasl_conn *s, const char *user)
{
	char principal[300];
	snprintf(principal, sizeof principal, "User:%s", user);
	if (s->reauthenticating && strcmp(principal, s->principal)) {
		log_warn("Re-authentication of %s changed the principal from %s to %s; refused", req->info.peer,
			 s->principal, principal);
		s->authenticated = false;
		return;
	}
	snprintf(s->principal, sizeof s->principal, "%s", principal);
	s->authenticated = true;
	s->reauthenticating = false;
	s->handshaken = false;
	s->expires_ms = s->l->reauth_ms > 0 ? wall_clock_ms() + s->l->reauth_ms : 0;
	net_conn_set_principal(req->conn, principal);
	log_info("SASL %s authentication of %s on listener %s: principal %s", mech_names[s->mech], req->info.peer,
		 req->info.listener_name, principal);
}

/* ------------------------------------------------------------------ answers */

static void answer_authenticate(struct request *req, struct sasl_conn *s, struct step *st)
{
	if (s->raw) {
		/* SaslHandshake v0: tokens go bare, and a failure is a closed connection. */
		struct wbuf w;
		wbuf_init(&w);
		if (st->error == KERR_NONE) {
			wbuf_put(&w, st->token ? st->token : (const uint8_t *)"", st->token_len);
			net_respond(req->conn, &w);
		} else {
			net_close(req->conn);
		}
		wbuf_free(&w);
		free(st->token);
		request_free(req);
		return;
	}
	struct sasl_authenticate_response resp;
	sasl_authenticate_response_init(&resp);
	resp.error_code = st->error;
	resp.error_message = st->error ? kstr_c(st->message) : (struct kstr){ NULL, -1 };
	resp.auth_bytes = (struct kbytes){ st->token ? st->token : (const uint8_t *)"", (int32_t)st->token_len };
	if (st->error == KERR_NONE && st->done && s->expires_ms)
		resp.session_lifetime_ms = s->l->reauth_ms;
	if (st->error != KERR_NONE) {
		const struct request_header *h = &req->header;
		struct wbuf w;
		wbuf_init(&w);
		response_header_encode(&w, response_header_version(h->api_key, h->api_version), h->correlation_id);
		proto_response_encode(h->api_key, h->api_version, &w, &resp);
		net_respond_and_close(req->conn, &w);
		wbuf_free(&w);
		free(st->token);
		request_free(req);
		return;
	}
	request_respond(req, &resp);
	free(st->token);
}

static void fail(struct request *req, struct sasl_conn *s, struct step *st, const char *who)
{
	log_warn("SASL %s authentication of %s on listener %s failed%s%s", mech_names[s->mech], req->info.peer,
		 req->info.listener_name, who ? " for user " : "", who ? who : "");
	st->error = KERR_SASL_AUTHENTICATION_FAILED;
	st->message = failure_message(s->mech);
	free(st->token);
	st->token = NULL;
	st->token_len = 0;
	s->authenticated = false;
}

/* SCRAM's first step needs the user's credential from ZooKeeper: on the admin thread. */
static void scram_first_job(struct request *req)
{
	struct sasl_conn *s = net_conn_state(req->conn);
	struct step st = { 0 };
	int mech = s->mech == MECH_SCRAM_256 ? SCRAM_SHA_256 : SCRAM_SHA_512;
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e;
	int n;
	int32_t version;
	int rc = config_zk_get(req->broker->zk, "users", s->scram.user, &a, &e, &n, &version);
	struct scram_credential cred;
	bool found = false;
	for (int i = 0; rc == ZOK && i < n && !found; i++)
		if (!strcmp(e[i].key, scram_mech_name(mech)) && e[i].value)
			found = scram_credential_parse(mech, e[i].value, &cred);
	arena_free(&a);
	if (!found) {
		fail(req, s, &st, s->scram.user);
	} else {
		char *challenge = scram_server_challenge(&s->scram, &cred);
		st.token = (uint8_t *)challenge;
		st.token_len = strlen(challenge);
		s->scram_step = 1;
		OPENSSL_cleanse(&cred, sizeof cred);
	}
	answer_authenticate(req, s, &st);
}

/* One token of the exchange; answers it (now or from the admin thread). */
static void authenticate(struct request *req, struct sasl_conn *s, const uint8_t *token, size_t len)
{
	struct step st = { 0 };
	if (s->mech == MECH_PLAIN) {
		char user[256] = "";
		if (plain_check(s->l, token, len, user, sizeof user)) {
			st.done = true;
			succeed(req, s, user);
			if (!s->authenticated)
				fail(req, s, &st, user);
		} else {
			fail(req, s, &st, user[0] ? user : NULL);
		}
		answer_authenticate(req, s, &st);
		return;
	}
	int mech = s->mech == MECH_SCRAM_256 ? SCRAM_SHA_256 : SCRAM_SHA_512;
	if (s->scram_step == 0) {
		scram_server_clear(&s->scram);
		if (!scram_server_first(&s->scram, mech, token, len)) {
			fail(req, s, &st, NULL);
			answer_authenticate(req, s, &st);
			return;
		}
		admin_executor_submit(req->broker->admin, req, scram_first_job);
		return;
	}
	char *final = scram_server_final(&s->scram, token, len);
	if (!final) {
		fail(req, s, &st, s->scram.user);
	} else {
		st.token = (uint8_t *)final;
		st.token_len = strlen(final);
		st.done = true;
		s->scram_step = 0;
		succeed(req, s, s->scram.user);
		if (!s->authenticated)
			fail(req, s, &st, s->scram.user);
	}
	answer_authenticate(req, s, &st);
}

bool sasl_intercept(struct broker *b, struct conn *c, const struct conn_info *info, const uint8_t *frame,
		    size_t len)
{
	(void)b;
	if (!is_sasl(info))
		return false;
	struct sasl_conn *s = net_conn_state(c);
	if (!s || !s->raw || !s->handshaken)
		return false;
	struct request *req = xcalloc(1, sizeof *req);
	req->broker = b;
	req->conn = c;
	req->info = *info;
	arena_init(&req->arena);
	/* The frame is only valid until the answer: the SCRAM job may answer later, so copy it. */
	uint8_t *copy = arena_alloc(&req->arena, len ? len : 1);
	memcpy(copy, frame, len);
	authenticate(req, s, copy, len);
	return true;
}

void handle_sasl_handshake(struct request *req)
{
	const struct sasl_handshake_request *q = req->body;
	struct sasl_handshake_response resp;
	sasl_handshake_response_init(&resp);
	const struct sasl_listener *l = listener_of(req->info.listener_name);
	if (!l) {
		/* Not a SASL listener: Kafka has no authenticator there and answers ILLEGAL_SASL_STATE. */
		resp.error_code = KERR_ILLEGAL_SASL_STATE;
		request_respond(req, &resp);
		return;
	}
	/* The enabled mechanisms, for the answer whatever it is. */
	int n = 0;
	struct kstr *names = arena_alloc(&req->arena, sizeof *names * 3);
	for (int m = MECH_PLAIN; m <= MECH_SCRAM_512; m++)
		if (l->enabled[m])
			names[n++] = kstr_c(mech_names[m]);
	resp.mechanisms = names;
	resp.mechanisms_count = n;
	int mech = MECH_NONE;
	for (int m = MECH_PLAIN; m <= MECH_SCRAM_512; m++)
		if (q->mechanism.ptr && (size_t)q->mechanism.len == strlen(mech_names[m]) &&
		    !memcmp(q->mechanism.ptr, mech_names[m], strlen(mech_names[m])))
			mech = m;
	struct sasl_conn *s = net_conn_state(req->conn);
	if (mech == MECH_NONE || !l->enabled[mech]) {
		log_warn("Connection %s: SASL mechanism %.*s is not enabled on listener %s", req->info.peer,
			 q->mechanism.ptr ? q->mechanism.len : 4, q->mechanism.ptr ? q->mechanism.ptr : "null", l->name);
		resp.error_code = KERR_UNSUPPORTED_SASL_MECHANISM;
		const struct request_header *h = &req->header;
		struct wbuf w;
		wbuf_init(&w);
		response_header_encode(&w, response_header_version(h->api_key, h->api_version), h->correlation_id);
		proto_response_encode(h->api_key, h->api_version, &w, &resp);
		net_respond_and_close(req->conn, &w);
		wbuf_free(&w);
		request_free(req);
		return;
	}
	if (s && s->handshaken) {
		log_warn("Closing connection %s: a second SaslHandshake before authenticating", req->info.peer);
		request_close(req);
		return;
	}
	if (s && s->authenticated) {
		/* KIP-368 re-authentication: v1 and the same mechanism only. */
		if (req->header.api_version < 1 || mech != s->mech) {
			log_warn("Closing connection %s: re-authentication must use SaslHandshake v1 and %s",
				 req->info.peer, mech_names[s->mech]);
			request_close(req);
			return;
		}
		s->reauthenticating = true;
	} else {
		s = xcalloc(1, sizeof *s);
		s->l = l;
		net_conn_set_state(req->conn, s, sasl_conn_free);
	}
	s->mech = mech;
	s->handshaken = true;
	s->raw = req->header.api_version == 0;
	s->scram_step = 0;
	request_respond(req, &resp);
}

void handle_sasl_authenticate(struct request *req)
{
	const struct sasl_authenticate_request *q = req->body;
	struct sasl_conn *s = net_conn_state(req->conn);
	if (!s || !s->handshaken || s->raw) {
		log_warn("Closing connection %s: SaslAuthenticate without SaslHandshake v1", req->info.peer);
		request_close(req);
		return;
	}
	authenticate(req, s, q->auth_bytes.ptr ? q->auth_bytes.ptr : (const uint8_t *)"",
		     q->auth_bytes.len > 0 ? (size_t)q->auth_bytes.len : 0);
}
