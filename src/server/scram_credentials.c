/*
 * AlterUserScramCredentials and DescribeUserScramCredentials [Kafka's
 * ZkAdminManager.alterUserScramCredentials / describeUserScramCredentials]:
 * SCRAM credentials live in /config/users/<user> under the keys
 * SCRAM-SHA-256 and SCRAM-SHA-512, in Kafka's string form; a change is
 * announced under /config/changes.  In ZooKeeper mode only the controller
 * alters them (others answer NOT_CONTROLLER, and admin clients go to it).
 * Both run on the admin thread, which may wait on ZooKeeper.
 */
#include <stdlib.h>
#include <string.h>

#include "samsa/controller.h"
#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/scram.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"
#include "server/admin_executor.h"
#include "server/apis.h"
#include "server/authorizer.h"
#include "server/broker.h"

typedef struct alter_user_scram_credentials_response_alter_user_scram_credentials_result alter_result;
typedef struct describe_user_scram_credentials_response_describe_user_scram_credentials_result describe_result;

static bool kstr_is(struct kstr a, struct kstr b)
{
	return a.len == b.len && (a.len <= 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

static char *kstr_dup(struct kstr s) { return xstrndup(s.ptr ? s.ptr : "", s.len > 0 ? (size_t)s.len : 0); }

/* One user's changes: the SCRAM keys of its znode set or removed, the rest kept. */
static int16_t apply_user(struct broker *b, const char *user, const struct alter_user_scram_credentials_request *q,
			  struct kstr name, const char **why)
{
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e;
	int n;
	int32_t version;
	int rc = config_zk_get(b->zk, "users", user, &a, &e, &n, &version);
	if (rc != ZOK && rc != ZNONODE) {
		arena_free(&a);
		*why = "cannot read the user's znode";
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	struct topic_config_entry *out = arena_alloc(&a, sizeof *out * (size_t)(n + 2));
	int m = 0;
	for (int i = 0; i < n; i++)
		out[m++] = e[i];
	for (int i = 0; i < q->deletions_count; i++) {
		const struct alter_user_scram_credentials_request_scram_credential_deletion *d = &q->deletions[i];
		if (!kstr_is(d->name, name))
			continue;
		const char *key = scram_mech_name(d->mechanism);
		int k = 0;
		while (k < m && strcmp(out[k].key, key))
			k++;
		if (k == m) {
			arena_free(&a);
			*why = "Attempt to delete a user credential that does not exist";
			return KERR_RESOURCE_NOT_FOUND;
		}
		out[k] = out[--m];
	}
	for (int i = 0; i < q->upsertions_count; i++) {
		const struct alter_user_scram_credentials_request_scram_credential_upsertion *u = &q->upsertions[i];
		if (!kstr_is(u->name, name))
			continue;
		struct scram_credential c;
		scram_credential_from_salted(u->mechanism, u->salt.ptr, (size_t)u->salt.len, u->salted_password.ptr,
					     u->iterations, &c);
		char *value = scram_credential_format(u->mechanism, &c);
		const char *key = scram_mech_name(u->mechanism);
		int k = 0;
		while (k < m && strcmp(out[k].key, key))
			k++;
		if (k == m)
			m++;
		out[k].key = key;
		out[k].value = arena_strndup(&a, value, strlen(value));
		free(value);
	}
	rc = config_zk_set(b->zk, "users", user, out, m, rc == ZNONODE ? -1 : version);
	arena_free(&a);
	if (rc != ZOK) {
		*why = rc == ZBADVERSION || rc == ZNODEEXISTS ? "the user's znode changed meanwhile; retry" : "cannot write the user's znode";
		return KERR_UNKNOWN_SERVER_ERROR;
	}
	if (config_zk_notify(b->zk, "users", user) != ZOK)
		log_warn("AlterUserScramCredentials: cannot write the /config/changes notice for user %s", user);
	return KERR_NONE;
}

/* Kafka's checks before anything is written, for the user at name. */
static int16_t check_user(const struct alter_user_scram_credentials_request *q, struct kstr name, const char **why)
{
	if (name.len <= 0) {
		*why = "Username must not be empty";
		return KERR_UNACCEPTABLE_CREDENTIAL;
	}
	int seen[3] = { 0 };
	for (int i = 0; i < q->deletions_count; i++)
		if (kstr_is(q->deletions[i].name, name)) {
			int8_t mech = q->deletions[i].mechanism;
			if (!scram_mech_name(mech)) {
				*why = "Unknown SCRAM mechanism";
				return KERR_UNSUPPORTED_SASL_MECHANISM;
			}
			if (seen[mech]++) {
				*why = "A user credential cannot be altered twice in the same request";
				return KERR_DUPLICATE_RESOURCE;
			}
		}
	for (int i = 0; i < q->upsertions_count; i++)
		if (kstr_is(q->upsertions[i].name, name)) {
			const struct alter_user_scram_credentials_request_scram_credential_upsertion *u = &q->upsertions[i];
			if (!scram_mech_name(u->mechanism)) {
				*why = "Unknown SCRAM mechanism";
				return KERR_UNSUPPORTED_SASL_MECHANISM;
			}
			if (seen[u->mechanism]++) {
				*why = "A user credential cannot be altered twice in the same request";
				return KERR_DUPLICATE_RESOURCE;
			}
			if (u->iterations < SCRAM_MIN_ITERATIONS) {
				*why = "Too few iterations";
				return KERR_UNACCEPTABLE_CREDENTIAL;
			}
			if (u->iterations > SCRAM_MAX_ITERATIONS) {
				*why = "Too many iterations";
				return KERR_UNACCEPTABLE_CREDENTIAL;
			}
			if (u->salt.len <= 0 || u->salted_password.len != (int32_t)scram_hash_len(u->mechanism)) {
				*why = "The salt or salted password is empty or of the wrong length";
				return KERR_UNACCEPTABLE_CREDENTIAL;
			}
		}
	return KERR_NONE;
}

static void alter_job(struct request *req)
{
	struct broker *b = req->broker;
	const struct alter_user_scram_credentials_request *q = req->body;
	struct alter_user_scram_credentials_response resp;
	alter_user_scram_credentials_response_init(&resp);
	int total = (q->deletions_count > 0 ? q->deletions_count : 0) + (q->upsertions_count > 0 ? q->upsertions_count : 0);
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(total ? total : 1));
	bool controller = b->controller && controller_is_active(b->controller);
	bool may = request_authorize(req, ACL_OP_ALTER, ACL_RESOURCE_CLUSTER, NULL, 0);
	for (int i = 0; i < total; i++) {
		struct kstr name = i < q->deletions_count ? q->deletions[i].name : q->upsertions[i - q->deletions_count].name;
		bool done = false;
		for (int k = 0; k < resp.results_count && !done; k++)
			done = kstr_is(resp.results[k].user, name);
		if (done)
			continue;
		alter_result *r = &resp.results[resp.results_count++];
		alter_user_scram_credentials_response_alter_user_scram_credentials_result_init(r);
		r->user = name;
		const char *why = NULL;
		if (!may) {
			r->error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
			continue;
		}
		if (!controller) {
			r->error_code = KERR_NOT_CONTROLLER;
			continue;
		}
		r->error_code = check_user(q, name, &why);
		if (r->error_code == KERR_NONE) {
			char *user = kstr_dup(name);
			r->error_code = apply_user(b, user, q, name, &why);
			if (r->error_code == KERR_NONE)
				log_info("AlterUserScramCredentials from %s: SCRAM credentials of user %s changed",
					 req->info.peer, user);
			free(user);
		}
		if (why)
			r->error_message = kstr_c(why);
	}
	request_respond(req, &resp);
}

void handle_alter_user_scram_credentials(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, alter_job);
}

/* One user's credential infos into r; false when the user has none. */
static bool describe_user(struct broker *b, struct arena *ra, const char *user, describe_result *r)
{
	struct arena a;
	arena_init(&a);
	struct topic_config_entry *e;
	int n;
	int32_t version;
	int rc = config_zk_get(b->zk, "users", user, &a, &e, &n, &version);
	r->credential_infos = arena_alloc(ra, sizeof *r->credential_infos * 2);
	for (int mech = SCRAM_SHA_256; rc == ZOK && mech <= SCRAM_SHA_512; mech++)
		for (int i = 0; i < n; i++) {
			struct scram_credential c;
			if (strcmp(e[i].key, scram_mech_name(mech)) || !e[i].value ||
			    !scram_credential_parse(mech, e[i].value, &c))
				continue;
			struct describe_user_scram_credentials_response_credential_info *ci =
				&r->credential_infos[r->credential_infos_count++];
			describe_user_scram_credentials_response_credential_info_init(ci);
			ci->mechanism = (int8_t)mech;
			ci->iterations = c.iterations;
		}
	arena_free(&a);
	return r->credential_infos_count > 0;
}

static void describe_job(struct request *req)
{
	struct broker *b = req->broker;
	const struct describe_user_scram_credentials_request *q = req->body;
	struct describe_user_scram_credentials_response resp;
	describe_user_scram_credentials_response_init(&resp);
	if (!request_authorize(req, ACL_OP_DESCRIBE, ACL_RESOURCE_CLUSTER, NULL, 0)) {
		resp.error_code = KERR_CLUSTER_AUTHORIZATION_FAILED;
		resp.error_message = kstr_c("Cluster authorization failed.");
		request_respond(req, &resp);
		return;
	}
	char **names = NULL;
	int n = 0;
	bool all = q->users_count <= 0;
	if (all) {
		struct String_vector kids;
		if (zk_children(b->zk, "/config/users", NULL, NULL, &kids) == ZOK) {
			names = xcalloc((size_t)(kids.count ? kids.count : 1), sizeof *names);
			for (int i = 0; i < kids.count; i++)
				names[n++] = xstrdup(kids.data[i]);
			deallocate_String_vector(&kids);
		}
	} else {
		names = xcalloc((size_t)q->users_count, sizeof *names);
		for (int i = 0; i < q->users_count; i++)
			names[n++] = kstr_dup(q->users[i].name);
	}
	resp.results = arena_alloc(&req->arena, sizeof *resp.results * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		describe_result *r = &resp.results[resp.results_count];
		describe_user_scram_credentials_response_describe_user_scram_credentials_result_init(r);
		r->user = (struct kstr){ arena_strndup(&req->arena, names[i], strlen(names[i])), (int32_t)strlen(names[i]) };
		bool dup = false;
		for (int k = 0; k < i && !all; k++)
			dup |= !strcmp(names[k], names[i]);
		if (dup) {
			r->error_code = KERR_DUPLICATE_RESOURCE;
			r->error_message = kstr_c("Cannot describe SCRAM credentials for the same user twice in a single request");
		} else if (!describe_user(b, &req->arena, names[i], r)) {
			if (all)
				continue; /* a user znode with quotas only */
			r->error_code = KERR_RESOURCE_NOT_FOUND;
			r->error_message = kstr_c("Attempt to describe a user credential that does not exist");
		}
		resp.results_count++;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	request_respond(req, &resp);
}

void handle_describe_user_scram_credentials(struct request *req)
{
	admin_executor_submit(req->broker->admin, req, describe_job);
}
