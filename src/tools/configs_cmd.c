/*
 * samsa configs: topic and broker configs and users' SCRAM credentials, with
 * the flags of Kafka's kafka-configs.sh --bootstrap-server:
 *
 *   samsa configs --bootstrap-server H:P --describe --entity-type topics --entity-name orders
 *   samsa configs --bootstrap-server H:P --describe --entity-type brokers --entity-name 1
 *   samsa configs --bootstrap-server H:P --alter --entity-type brokers --entity-default \
 *       --add-config log.retention.ms=3600000 (or --entity-name 1: that broker alone)
 *   samsa configs --bootstrap-server H:P --alter --entity-type broker-loggers --entity-name 1 \
 *       --add-config root=DEBUG
 *   samsa configs --bootstrap-server H:P --alter --entity-type topics --entity-name orders \
 *       --add-config retention.ms=3600000,max.message.bytes=2000000 [--delete-config segment.ms]
 *
 *   samsa configs --bootstrap-server H:P --alter --entity-type users --entity-name alice \
 *       --add-config 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]'
 *   samsa configs --bootstrap-server H:P --alter --entity-type users --entity-name alice \
 *       --delete-config SCRAM-SHA-512
 *   samsa configs --bootstrap-server H:P --describe --entity-type users [--entity-name alice]
 *
 *   samsa configs --bootstrap-server H:P --alter --entity-type clients --entity-name app \
 *       --add-config producer_byte_rate=1048576,consumer_byte_rate=2097152
 *   samsa configs --bootstrap-server H:P --alter --entity-type users --entity-default \
 *       --add-config request_percentage=200 [--delete-config producer_byte_rate]
 *   samsa configs --bootstrap-server H:P --describe --entity-type clients [--entity-name app]
 *
 * The salted password is made here, as Kafka's tool makes it (a random salt,
 * PBKDF2 with 4096 iterations unless told), and sent to the controller with
 * AlterUserScramCredentials; the password never leaves this process.  Topic
 * changes go through IncrementalAlterConfigs (SET for --add-config, DELETE
 * for --delete-config); users' and clients' quota keys through
 * AlterClientQuotas and DescribeClientQuotas.
 */
#include "tools/commands.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/scram.h"
#include "samsa/util/xalloc.h"

#define CONNECT_TIMEOUT_MS 10000
#define SALT_BYTES 32

struct configs_opts {
	const char *bootstrap, *entity_type, *entity_name, *add, *del;
	bool alter, describe, entity_default;
};

static void usage(void)
{
	fprintf(stderr, "usage: samsa configs --bootstrap-server HOST:PORT --entity-type users\n"
			"         (--alter --entity-name USER (--add-config 'SCRAM-SHA-512=[iterations=N,password=P]' |\n"
			"          --delete-config SCRAM-SHA-512) | --describe [--entity-name USER])\n"
			"       samsa configs --bootstrap-server HOST:PORT --entity-type users|clients\n"
			"         (--entity-name NAME | --entity-default) (--alter [--add-config producer_byte_rate=N,...]\n"
			"          [--delete-config KEY,...] | --describe)\n"
			"       samsa configs --bootstrap-server HOST:PORT --entity-type topics|brokers|broker-loggers\n"
			"         (--entity-name NAME | --entity-default (brokers))\n"
			"         (--describe | --alter [--add-config k=v,...] [--delete-config k,...])\n");
}

/* One failed resource, as kafka-configs.sh reports it. */
static void print_config_error(int16_t code, struct kstr message)
{
	fprintf(stderr, "Error while executing config command: %s%s%.*s\n", kafka_error_name(code),
		message.ptr ? ": " : "", message.ptr ? message.len : 0, message.ptr ? message.ptr : "");
}

static int connect_any(struct kclient *kc, const char *bootstrap)
{
	char *list = xstrdup(bootstrap), *save = NULL;
	int rc = -1;
	for (char *hp = strtok_r(list, ",", &save); hp && rc; hp = strtok_r(NULL, ",", &save)) {
		rc = kclient_connect(kc, hp, CONNECT_TIMEOUT_MS);
		if (rc)
			kclient_close(kc);
	}
	free(list);
	return rc;
}

/* A connection to the controller (AlterUserScramCredentials goes there in ZooKeeper mode). */
static int connect_controller(struct kclient *kc, const char *bootstrap)
{
	struct kclient boot;
	if (connect_any(&boot, bootstrap) != 0) {
		fprintf(stderr, "samsa configs: cannot connect to %s\n", bootstrap);
		return -1;
	}
	struct arena a;
	arena_init(&a);
	struct metadata_request req;
	metadata_request_init(&req);
	req.topics_count = 0;
	void *out = NULL;
	int rc = -1;
	if (kclient_call_arena(&boot, API_METADATA, 12, &req, &a, &out) == 0) {
		const struct metadata_response *md = out;
		for (int i = 0; i < md->brokers_count; i++)
			if (md->brokers[i].node_id == md->controller_id) {
				char *hp = xasprintf("%.*s:%d", md->brokers[i].host.len, md->brokers[i].host.ptr,
						     md->brokers[i].port);
				rc = kclient_connect(kc, hp, CONNECT_TIMEOUT_MS);
				if (rc)
					fprintf(stderr, "samsa configs: cannot connect to the controller at %s\n", hp);
				free(hp);
			}
		if (rc && md->controller_id < 0)
			fprintf(stderr, "samsa configs: the cluster has no controller now\n");
	}
	arena_free(&a);
	kclient_close(&boot);
	return rc;
}

/* 'SCRAM-SHA-512=[iterations=8192,password=secret]', possibly several, comma-separated outside brackets. */
static int parse_add(const char *spec, const char *user, struct arena *a,
		     struct alter_user_scram_credentials_request *req)
{
	const char *p = spec;
	while (*p) {
		const char *eq = strchr(p, '=');
		if (!eq || eq[1] != '[')
			return -1;
		char *mech_name = xstrndup(p, (size_t)(eq - p));
		int mech = scram_mech_from_name(mech_name);
		free(mech_name);
		const char *close = strchr(eq + 2, ']');
		if (!mech || !close)
			return -1;
		char *inner = xstrndup(eq + 2, (size_t)(close - eq - 2)), *save = NULL;
		int iterations = 4096;
		char *password = NULL;
		for (char *kv = strtok_r(inner, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
			if (!strncmp(kv, "iterations=", 11))
				iterations = atoi(kv + 11);
			else if (!strncmp(kv, "password=", 9))
				password = kv + 9;
		}
		if (!password) {
			free(inner);
			return -1;
		}
		uint8_t *salt = arena_alloc(a, SALT_BYTES), *salted = arena_alloc(a, SCRAM_MAX_HASH);
		RAND_bytes(salt, SALT_BYTES);
		scram_salted_password(mech, password, salt, SALT_BYTES, iterations, salted);
		free(inner);
		struct alter_user_scram_credentials_request_scram_credential_upsertion *u =
			&req->upsertions[req->upsertions_count++];
		alter_user_scram_credentials_request_scram_credential_upsertion_init(u);
		u->name = kstr_c(user);
		u->mechanism = (int8_t)mech;
		u->iterations = iterations;
		u->salt = (struct kbytes){ salt, SALT_BYTES };
		u->salted_password = (struct kbytes){ salted, (int32_t)scram_hash_len(mech) };
		p = close + 1;
		if (*p == ',')
			p++;
	}
	return 0;
}

static int do_alter(const struct configs_opts *o)
{
	struct arena a;
	arena_init(&a);
	struct alter_user_scram_credentials_request req;
	alter_user_scram_credentials_request_init(&req);
	req.upsertions = arena_alloc(&a, sizeof *req.upsertions * 4);
	req.deletions = arena_alloc(&a, sizeof *req.deletions * 4);
	if (o->add && parse_add(o->add, o->entity_name, &a, &req) != 0) {
		fprintf(stderr, "samsa configs: --add-config takes SCRAM-SHA-256=[iterations=N,password=P] or "
				"SCRAM-SHA-512=[...]\n");
		arena_free(&a);
		return 2;
	}
	if (o->del) {
		char *copy = xstrdup(o->del), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && req.deletions_count < 4; t = strtok_r(NULL, ",", &save)) {
			int mech = scram_mech_from_name(t);
			if (!mech) {
				fprintf(stderr, "samsa configs: --delete-config takes SCRAM-SHA-256 or SCRAM-SHA-512\n");
				free(copy);
				arena_free(&a);
				return 2;
			}
			struct alter_user_scram_credentials_request_scram_credential_deletion *d =
				&req.deletions[req.deletions_count++];
			alter_user_scram_credentials_request_scram_credential_deletion_init(d);
			d->name = kstr_c(o->entity_name);
			d->mechanism = (int8_t)mech;
		}
		free(copy);
	}
	struct kclient kc;
	int status = 1;
	if (connect_controller(&kc, o->bootstrap) == 0) {
		void *out = NULL;
		if (kclient_call(&kc, API_ALTER_USER_SCRAM_CREDENTIALS, 0, &req, &a, &out) == 0) {
			const struct alter_user_scram_credentials_response *r = out;
			status = 0;
			for (int i = 0; i < r->results_count; i++) {
				if (r->results[i].error_code) {
					print_config_error(r->results[i].error_code, r->results[i].error_message);
					status = 1;
				}
			}
			if (!status)
				printf("Completed updating config for user %s.\n", o->entity_name);
		} else {
			fprintf(stderr, "samsa configs: AlterUserScramCredentials failed\n");
		}
		kclient_close(&kc);
	}
	arena_free(&a);
	return status;
}

static int do_describe(const struct configs_opts *o)
{
	struct kclient kc;
	if (connect_any(&kc, o->bootstrap) != 0) {
		fprintf(stderr, "samsa configs: cannot connect to %s\n", o->bootstrap);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	struct describe_user_scram_credentials_request req;
	describe_user_scram_credentials_request_init(&req);
	struct describe_user_scram_credentials_request_user_name one;
	if (o->entity_name) {
		describe_user_scram_credentials_request_user_name_init(&one);
		one.name = kstr_c(o->entity_name);
		req.users = &one;
		req.users_count = 1;
	} else {
		req.users_count = -1;
	}
	void *out = NULL;
	int status = 1;
	if (kclient_call(&kc, API_DESCRIBE_USER_SCRAM_CREDENTIALS, 0, &req, &a, &out) == 0) {
		const struct describe_user_scram_credentials_response *r = out;
		status = r->error_code ? 1 : 0;
		for (int i = 0; i < r->results_count; i++) {
			const struct describe_user_scram_credentials_response_describe_user_scram_credentials_result *u =
				&r->results[i];
			if (u->error_code) {
				fprintf(stderr, "User %.*s: %s\n", u->user.len, u->user.ptr, kafka_error_name(u->error_code));
				status = 1;
				continue;
			}
			printf("SCRAM credential configs for user-principal '%.*s' are ", u->user.len, u->user.ptr);
			for (int k = 0; k < u->credential_infos_count; k++)
				printf("%s%s=iterations=%d", k ? ", " : "", scram_mech_name(u->credential_infos[k].mechanism),
				       u->credential_infos[k].iterations);
			printf("\n");
		}
	} else {
		fprintf(stderr, "samsa configs: DescribeUserScramCredentials failed\n");
	}
	arena_free(&a);
	kclient_close(&kc);
	return status;
}

/* --entity-type topics or brokers --describe: DescribeConfigs, printed as kafka-configs.sh does. */
static int describe_entity(const struct configs_opts *o, int8_t type)
{
	struct kclient kc;
	if (connect_any(&kc, o->bootstrap) != 0) {
		fprintf(stderr, "samsa configs: cannot connect to %s\n", o->bootstrap);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	struct describe_configs_request req;
	describe_configs_request_init(&req);
	struct describe_configs_request_describe_configs_resource r;
	describe_configs_request_describe_configs_resource_init(&r);
	r.resource_type = type;
	r.resource_name = kstr_c(o->entity_name ? o->entity_name : "");
	r.configuration_keys_count = -1;
	req.resources = &r;
	req.resources_count = 1;
	req.include_synonyms = true;
	void *out = NULL;
	int status = 1;
	if (kclient_call(&kc, API_DESCRIBE_CONFIGS, 4, &req, &a, &out) == 0) {
		const struct describe_configs_response *resp = out;
		for (int i = 0; i < resp->results_count; i++) {
			const struct describe_configs_response_describe_configs_result *res = &resp->results[i];
			if (res->error_code) {
				print_config_error(res->error_code, res->error_message);
				continue;
			}
			status = 0;
			if (type == 4 && !o->entity_name)
				printf("Default configs for brokers in the cluster are:\n");
			else
				printf("All configs for %s %s are:\n", type == 2 ? "topic" : type == 4 ? "broker" : "broker-logger",
				       o->entity_name ? o->entity_name : "");
			static const char *const sources[] = { "UNKNOWN", "DYNAMIC_TOPIC_CONFIG", "DYNAMIC_BROKER_CONFIG",
							       "DYNAMIC_DEFAULT_BROKER_CONFIG", "STATIC_BROKER_CONFIG",
							       "DEFAULT_CONFIG", "DYNAMIC_BROKER_LOGGER_CONFIG" };
			for (int k = 0; k < res->configs_count; k++) {
				const struct describe_configs_response_describe_configs_resource_result *e = &res->configs[k];
				int src = e->config_source >= 0 && e->config_source <= 6 ? e->config_source : 0;
				printf("  %.*s=%.*s sensitive=%s synonyms={", e->name.len, e->name.ptr,
				       e->value.ptr ? e->value.len : 4, e->value.ptr ? e->value.ptr : "null",
				       e->is_sensitive ? "true" : "false");
				for (int y = 0; y < e->synonyms_count; y++) {
					int ss = e->synonyms[y].source >= 0 && e->synonyms[y].source <= 6 ? e->synonyms[y].source : 0;
					printf("%s%s:%.*s=%.*s", y ? ", " : "", sources[ss], e->synonyms[y].name.len,
					       e->synonyms[y].name.ptr, e->synonyms[y].value.ptr ? e->synonyms[y].value.len : 4,
					       e->synonyms[y].value.ptr ? e->synonyms[y].value.ptr : "null");
				}
				printf("} source=%s\n", sources[src]);
			}
		}
	} else {
		fprintf(stderr, "samsa configs: DescribeConfigs failed\n");
	}
	arena_free(&a);
	kclient_close(&kc);
	return status;
}

/*
 * --entity-type topics|brokers|broker-loggers --alter: IncrementalAlterConfigs
 * SET for --add-config k=v,..., DELETE for --delete-config k,...; a broker is
 * --entity-name ID or --entity-default (the cluster default, name "").
 */
static int alter_resource(const struct configs_opts *o, int8_t type)
{
	struct arena a;
	arena_init(&a);
	struct incremental_alter_configs_request req;
	incremental_alter_configs_request_init(&req);
	struct incremental_alter_configs_request_alter_configs_resource r;
	incremental_alter_configs_request_alter_configs_resource_init(&r);
	r.resource_type = type;
	r.resource_name = kstr_c(o->entity_default ? "" : o->entity_name);
	r.configs = arena_alloc(&a, sizeof *r.configs * 64);
	for (int pass = 0; pass < 2; pass++) {
		const char *spec = pass ? o->del : o->add;
		if (!spec)
			continue;
		char *copy = arena_strndup(&a, spec, strlen(spec)), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && r.configs_count < 64; t = strtok_r(NULL, ",", &save)) {
			struct incremental_alter_configs_request_alterable_config *c = &r.configs[r.configs_count++];
			incremental_alter_configs_request_alterable_config_init(c);
			char *eq = pass ? NULL : strchr(t, '=');
			if (!pass && !eq) {
				fprintf(stderr, "samsa configs: --add-config takes key=value[,key=value...]\n");
				arena_free(&a);
				return 2;
			}
			if (eq)
				*eq = 0;
			c->name = kstr_c(t);
			c->config_operation = pass ? 1 : 0;
			c->value = eq ? kstr_c(eq + 1) : (struct kstr){ NULL, -1 };
		}
	}
	req.resources = &r;
	req.resources_count = 1;
	struct kclient kc;
	int status = 1;
	if (connect_any(&kc, o->bootstrap) != 0) {
		fprintf(stderr, "samsa configs: cannot connect to %s\n", o->bootstrap);
		arena_free(&a);
		return 1;
	}
	void *out = NULL;
	if (kclient_call(&kc, API_INCREMENTAL_ALTER_CONFIGS, 1, &req, &a, &out) == 0) {
		const struct incremental_alter_configs_response *resp = out;
		status = 0;
		for (int i = 0; i < resp->responses_count; i++)
			if (resp->responses[i].error_code) {
				print_config_error(resp->responses[i].error_code, resp->responses[i].error_message);
				status = 1;
			}
		if (!status && o->entity_default)
			printf("Completed updating default config for brokers in the cluster.\n");
		else if (!status)
			printf("Completed updating config for %s %s.\n", type == 2 ? "topic" : type == 4 ? "broker" : "broker-logger",
			       o->entity_name);
	} else {
		fprintf(stderr, "samsa configs: IncrementalAlterConfigs failed\n");
	}
	kclient_close(&kc);
	arena_free(&a);
	return status;
}


/* ---- client quotas: --entity-type users|clients with quota keys ------------------ */

static bool is_scram_spec(const char *spec) { return spec && !strncmp(spec, "SCRAM-", 6); }

/* The entity type's protocol name and how kafka-configs.sh names one in its output. */
static const char *quota_entity_type(const struct configs_opts *o) { return !strcmp(o->entity_type, "users") ? "user" : "client-id"; }

static void print_entity(const char *type, struct kstr name)
{
	const char *what = !strcmp(type, "user") ? "user-principal" : "client-id";
	if (name.ptr)
		printf("%s '%.*s'", what, name.len, name.ptr);
	else
		printf("the default %s", what);
}

/* AlterClientQuotas: --add-config k=v,... sets, --delete-config k,... removes. */
static int alter_quotas(const struct configs_opts *o)
{
	struct arena a;
	arena_init(&a);
	struct alter_client_quotas_request req;
	alter_client_quotas_request_init(&req);
	struct alter_client_quotas_request_entry_data en;
	alter_client_quotas_request_entry_data_init(&en);
	struct alter_client_quotas_request_entity_data ent;
	alter_client_quotas_request_entity_data_init(&ent);
	ent.entity_type = kstr_c(quota_entity_type(o));
	ent.entity_name = o->entity_default ? (struct kstr){ NULL, -1 } : kstr_c(o->entity_name);
	en.entity = &ent;
	en.entity_count = 1;
	en.ops = arena_alloc(&a, sizeof *en.ops * 16);
	for (int pass = 0; pass < 2; pass++) {
		const char *spec = pass ? o->del : o->add;
		if (!spec)
			continue;
		char *copy = arena_strndup(&a, spec, strlen(spec)), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && en.ops_count < 16; t = strtok_r(NULL, ",", &save)) {
			struct alter_client_quotas_request_op_data *op = &en.ops[en.ops_count++];
			alter_client_quotas_request_op_data_init(op);
			char *eq = pass ? NULL : strchr(t, '=');
			if (!pass && !eq) {
				fprintf(stderr, "samsa configs: --add-config takes key=value[,key=value...]\n");
				arena_free(&a);
				return 2;
			}
			if (eq) {
				*eq = 0;
				char *end = NULL;
				op->value = strtod(eq + 1, &end);
				if (end == eq + 1 || *end) {
					fprintf(stderr, "samsa configs: the value of %s must be a number, not %s\n", t, eq + 1);
					arena_free(&a);
					return 2;
				}
			}
			op->key = kstr_c(t);
			op->remove = pass == 1;
		}
	}
	req.entries = &en;
	req.entries_count = 1;
	struct kclient kc;
	if (connect_any(&kc, o->bootstrap) != 0) {
		fprintf(stderr, "samsa configs: cannot connect to %s\n", o->bootstrap);
		arena_free(&a);
		return 1;
	}
	void *out = NULL;
	int status = 1;
	if (kclient_call(&kc, API_ALTER_CLIENT_QUOTAS, 0, &req, &a, &out) == 0) {
		const struct alter_client_quotas_response *r = out;
		status = 0;
		for (int i = 0; i < r->entries_count; i++)
			if (r->entries[i].error_code) {
				print_config_error(r->entries[i].error_code, r->entries[i].error_message);
				status = 1;
			}
		if (!status) {
			printf("Completed updating config for ");
			print_entity(quota_entity_type(o), ent.entity_name);
			printf(".\n");
		}
	} else {
		fprintf(stderr, "samsa configs: AlterClientQuotas failed\n");
	}
	kclient_close(&kc);
	arena_free(&a);
	return status;
}

/* DescribeClientQuotas for the entity (or every entity of the type), printed as kafka-configs.sh does. */
static int describe_quotas(const struct configs_opts *o)
{
	struct kclient kc;
	if (connect_any(&kc, o->bootstrap) != 0) {
		fprintf(stderr, "samsa configs: cannot connect to %s\n", o->bootstrap);
		return 1;
	}
	struct arena a;
	arena_init(&a);
	struct describe_client_quotas_request req;
	describe_client_quotas_request_init(&req);
	struct describe_client_quotas_request_component_data comp;
	describe_client_quotas_request_component_data_init(&comp);
	comp.entity_type = kstr_c(quota_entity_type(o));
	comp.match_type = o->entity_default ? 1 : o->entity_name ? 0 : 2;
	comp.match = o->entity_name && !o->entity_default ? kstr_c(o->entity_name) : (struct kstr){ NULL, -1 };
	req.components = &comp;
	req.components_count = 1;
	req.strict = true;
	void *out = NULL;
	int status = 1;
	if (kclient_call(&kc, API_DESCRIBE_CLIENT_QUOTAS, 0, &req, &a, &out) == 0) {
		const struct describe_client_quotas_response *r = out;
		if (r->error_code) {
			print_config_error(r->error_code, r->error_message);
		} else {
			status = 0;
			for (int i = 0; i < r->entries_count; i++) {
				const struct describe_client_quotas_response_entry_data *e = &r->entries[i];
				printf("Quota configs for ");
				for (int k = 0; k < e->entity_count; k++) {
					char type[32];
					snprintf(type, sizeof type, "%.*s", e->entity[k].entity_type.len > 0 &&
						 e->entity[k].entity_type.len < 31 ? e->entity[k].entity_type.len : 0,
						 e->entity[k].entity_type.ptr ? e->entity[k].entity_type.ptr : "");
					printf("%s", k ? ", " : "");
					print_entity(type, e->entity[k].entity_name);
				}
				printf(" are ");
				for (int k = 0; k < e->values_count; k++)
					printf("%s%.*s=%.1f", k ? ", " : "", e->values[k].key.len, e->values[k].key.ptr,
					       e->values[k].value);
				printf("\n");
			}
		}
	} else {
		fprintf(stderr, "samsa configs: DescribeClientQuotas failed\n");
	}
	arena_free(&a);
	kclient_close(&kc);
	return status;
}

int cmd_configs(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, 'b' }, { "entity-type", required_argument, NULL, 't' },
		{ "entity-name", required_argument, NULL, 'n' },      { "add-config", required_argument, NULL, 'a' },
		{ "delete-config", required_argument, NULL, 'd' },    { "alter", no_argument, NULL, 'A' },
		{ "describe", no_argument, NULL, 'D' },               { "entity-default", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	struct configs_opts o = { 0 };
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': o.bootstrap = optarg; break;
		case 't': o.entity_type = optarg; break;
		case 'n': o.entity_name = optarg; break;
		case 'a': o.add = optarg; break;
		case 'd': o.del = optarg; break;
		case 'A': o.alter = true; break;
		case 'D': o.describe = true; break;
		case 'E': o.entity_default = true; break;
		default: usage(); return 2;
		}
	}
	if (!o.bootstrap || !o.entity_type || o.alter == o.describe || optind != argc) {
		usage();
		return 2;
	}
	if (!strcmp(o.entity_type, "topics") || !strcmp(o.entity_type, "brokers") ||
	    !strcmp(o.entity_type, "broker-loggers")) {
		int8_t type = !strcmp(o.entity_type, "topics") ? 2 : !strcmp(o.entity_type, "brokers") ? 4 : 8;
		if (o.entity_default && (type != 4 || o.entity_name)) {
			fprintf(stderr, "samsa configs: --entity-default is for brokers, users and clients, without --entity-name\n");
			return 2;
		}
		if (o.describe)
			return describe_entity(&o, type);
		if ((!o.entity_name && !o.entity_default) || (!o.add && !o.del)) {
			usage();
			return 2;
		}
		return alter_resource(&o, type);
	}
	if (strcmp(o.entity_type, "users") && strcmp(o.entity_type, "clients")) {
		fprintf(stderr, "samsa configs: --entity-type is topics, brokers, users or clients\n");
		return 2;
	}
	bool users = !strcmp(o.entity_type, "users");
	if (o.entity_default && o.entity_name) {
		fprintf(stderr, "samsa configs: --entity-name and --entity-default exclude each other\n");
		return 2;
	}
	if (o.alter && ((!o.entity_name && !o.entity_default) || (!o.add && !o.del))) {
		usage();
		return 2;
	}
	if (o.describe) {
		int st = describe_quotas(&o);
		if (users && !o.entity_default)
			st |= do_describe(&o);
		return st;
	}
	/* SCRAM credentials through AlterUserScramCredentials, quota keys through AlterClientQuotas. */
	if (users && (is_scram_spec(o.add) || is_scram_spec(o.del))) {
		if (o.entity_default) {
			fprintf(stderr, "samsa configs: SCRAM credentials need --entity-name\n");
			return 2;
		}
		return do_alter(&o);
	}
	return alter_quotas(&o);
}
