/*
 * samsa acls: add, remove and list ACLs with the flags of Kafka's
 * kafka-acls.sh (--bootstrap-server, --add/--remove/--list,
 * --allow-principal/--deny-principal, --allow-host/--deny-host, --operation,
 * --topic/--group/--cluster/--transactional-id, --resource-pattern-type,
 * --principal, --producer/--consumer/--idempotent, --force), through
 * CreateAcls, DeleteAcls and DescribeAcls, and its output: "Current ACLs for
 * resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`:"
 * followed by one "(principal=.., host=.., operation=.., permissionType=..)"
 * line per ACL.
 */
#include "tools/commands.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/client.h"
#include "samsa/proto.h"
#include "samsa/util/acl.h"
#include "samsa/util/xalloc.h"

#define CONNECT_TIMEOUT_MS 10000
#define MAX_ITEMS 64

struct resource {
	int type;
	const char *name;
};

struct acls_opts {
	const char *bootstrap;
	bool add, remove, list, producer, consumer, idempotent;
	int pattern; /* -1: the default (LITERAL for add/remove, ANY for list) */
	const char *allow_principals[MAX_ITEMS], *deny_principals[MAX_ITEMS], *allow_hosts[MAX_ITEMS],
		*deny_hosts[MAX_ITEMS], *principals[MAX_ITEMS];
	int n_allow_p, n_deny_p, n_allow_h, n_deny_h, n_principals;
	int ops[MAX_ITEMS];
	int n_ops;
	struct resource res[MAX_ITEMS];
	int n_res;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: samsa acls --bootstrap-server HOST:PORT (--add | --remove | --list)\n"
		"       [--allow-principal P]... [--deny-principal P]... [--allow-host H]... [--deny-host H]...\n"
		"       [--operation OP]... [--topic T]... [--group G]... [--cluster] [--transactional-id ID]...\n"
		"       [--resource-pattern-type literal|prefixed|any|match] [--principal P]...\n"
		"       [--producer] [--consumer] [--idempotent] [--force] [--command-config FILE]\n");
}

/* Kafka prints the enum constants: TOPIC, LITERAL, READ, ALLOW, CLUSTER_ACTION. */
static void print_enum(const char *camel)
{
	for (const char *p = camel; *p; p++) {
		if (p != camel && isupper((unsigned char)*p) && islower((unsigned char)p[-1]))
			putchar('_');
		putchar(toupper((unsigned char)*p));
	}
}

static void print_pattern(int type, const char *name, int pattern)
{
	printf("ResourcePattern(resourceType=%s, name=%s, patternType=%s)", acl_resource_type_enum_name(type), name,
	       acl_pattern_type_name(pattern));
}

static void print_entry(const char *principal, const char *host, int op, int perm)
{
	printf(" \t(principal=%s, host=%s, operation=", principal, host);
	print_enum(acl_operation_name(op));
	printf(", permissionType=");
	print_enum(acl_permission_name(perm));
	printf(")\n");
}

static int push(const char **list, int *n, const char *v)
{
	if (*n >= MAX_ITEMS) {
		fprintf(stderr, "samsa acls: too many values\n");
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct acls_opts *o)
{
	enum { O_ADD = 256, O_REMOVE, O_LIST, O_ALLOW_P, O_DENY_P, O_ALLOW_H, O_DENY_H, O_OP, O_TOPIC, O_GROUP,
	       O_CLUSTER, O_TXN, O_PATTERN, O_PRINCIPAL, O_PRODUCER, O_CONSUMER, O_IDEMPOTENT, O_FORCE, O_BOOT };
	static const struct option opts[] = {
		{ "bootstrap-server", required_argument, NULL, O_BOOT },
		{ "add", no_argument, NULL, O_ADD },
		{ "remove", no_argument, NULL, O_REMOVE },
		{ "list", no_argument, NULL, O_LIST },
		{ "allow-principal", required_argument, NULL, O_ALLOW_P },
		{ "deny-principal", required_argument, NULL, O_DENY_P },
		{ "allow-host", required_argument, NULL, O_ALLOW_H },
		{ "deny-host", required_argument, NULL, O_DENY_H },
		{ "operation", required_argument, NULL, O_OP },
		{ "topic", required_argument, NULL, O_TOPIC },
		{ "group", required_argument, NULL, O_GROUP },
		{ "cluster", no_argument, NULL, O_CLUSTER },
		{ "transactional-id", required_argument, NULL, O_TXN },
		{ "resource-pattern-type", required_argument, NULL, O_PATTERN },
		{ "principal", required_argument, NULL, O_PRINCIPAL },
		{ "producer", no_argument, NULL, O_PRODUCER },
		{ "consumer", no_argument, NULL, O_CONSUMER },
		{ "idempotent", no_argument, NULL, O_IDEMPOTENT },
		{ "force", no_argument, NULL, O_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof *o);
	o->pattern = -1;
	optind = 2;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int rc = 0;
		switch (ch) {
		case O_BOOT: o->bootstrap = optarg; break;
		case O_ADD: o->add = true; break;
		case O_REMOVE: o->remove = true; break;
		case O_LIST: o->list = true; break;
		case O_ALLOW_P: rc = push(o->allow_principals, &o->n_allow_p, optarg); break;
		case O_DENY_P: rc = push(o->deny_principals, &o->n_deny_p, optarg); break;
		case O_ALLOW_H: rc = push(o->allow_hosts, &o->n_allow_h, optarg); break;
		case O_DENY_H: rc = push(o->deny_hosts, &o->n_deny_h, optarg); break;
		case O_PRINCIPAL: rc = push(o->principals, &o->n_principals, optarg); break;
		case O_OP: {
			int op = acl_operation_parse(optarg);
			if (op < ACL_OP_ALL) {
				fprintf(stderr, "samsa acls: unknown operation '%s'\n", optarg);
				return -1;
			}
			if (o->n_ops < MAX_ITEMS)
				o->ops[o->n_ops++] = op;
			break;
		}
		case O_TOPIC:
		case O_GROUP:
		case O_TXN:
		case O_CLUSTER:
			if (o->n_res >= MAX_ITEMS)
				return -1;
			o->res[o->n_res].type = ch == O_TOPIC ? ACL_RESOURCE_TOPIC
						: ch == O_GROUP ? ACL_RESOURCE_GROUP
						: ch == O_TXN ? ACL_RESOURCE_TRANSACTIONAL_ID
							      : ACL_RESOURCE_CLUSTER;
			o->res[o->n_res++].name = ch == O_CLUSTER ? ACL_CLUSTER_NAME : optarg;
			break;
		case O_PATTERN:
			o->pattern = acl_pattern_type_parse(optarg);
			if (!o->pattern) {
				fprintf(stderr, "samsa acls: unknown resource pattern type '%s'\n", optarg);
				return -1;
			}
			break;
		case O_PRODUCER: o->producer = true; break;
		case O_CONSUMER: o->consumer = true; break;
		case O_IDEMPOTENT: o->idempotent = true; break;
		case O_FORCE: break; /* never asks */
		default: return -1;
		}
		if (rc)
			return -1;
	}
	if (!o->bootstrap || (o->add + o->remove + o->list) != 1)
		return -1;
	if (o->pattern < 0)
		o->pattern = o->list ? ACL_PATTERN_ANY : ACL_PATTERN_LITERAL;
	if ((o->add || o->remove) && (o->pattern == ACL_PATTERN_ANY || o->pattern == ACL_PATTERN_MATCH)) {
		fprintf(stderr, "samsa acls: A '--resource-pattern-type' value of 'Any' or 'Match' is not valid when "
				"adding or removing acls.\n");
		return -1;
	}
	return 0;
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
	if (rc)
		fprintf(stderr, "samsa acls: cannot connect to %s\n", bootstrap);
	return rc;
}

/* The ACLs to add or remove: (resource, principal, host, operation, permission). */
struct binding {
	int type;
	const char *name;
	const char *principal, *host;
	int op, perm;
};

static int add_binding(struct binding *out, int *n, int cap, struct binding b)
{
	if (*n >= cap)
		return -1;
	out[(*n)++] = b;
	return 0;
}

/* kafka-acls.sh's expansion: each resource x each principal x each host x each operation. */
static int expand(const struct acls_opts *o, struct binding *out, int cap)
{
	int n = 0;
	for (int r = 0; r < o->n_res; r++) {
		int ops[MAX_ITEMS + 4];
		int nops = 0;
		int type = o->res[r].type;
		if (o->producer || o->consumer) {
			if (o->producer && type == ACL_RESOURCE_TOPIC) {
				ops[nops++] = ACL_OP_WRITE;
				ops[nops++] = ACL_OP_DESCRIBE;
				ops[nops++] = ACL_OP_CREATE;
			}
			if (o->producer && type == ACL_RESOURCE_TRANSACTIONAL_ID) {
				ops[nops++] = ACL_OP_WRITE;
				ops[nops++] = ACL_OP_DESCRIBE;
			}
			if (o->consumer && type == ACL_RESOURCE_TOPIC) {
				ops[nops++] = ACL_OP_READ;
				ops[nops++] = ACL_OP_DESCRIBE;
			}
			if (o->consumer && type == ACL_RESOURCE_GROUP)
				ops[nops++] = ACL_OP_READ;
		} else if (o->n_ops) {
			for (int i = 0; i < o->n_ops; i++)
				ops[nops++] = o->ops[i];
		} else {
			ops[nops++] = ACL_OP_ALL;
		}
		for (int perm = 0; perm < 2; perm++) {
			const char *const *ps = perm ? o->deny_principals : o->allow_principals;
			int np = perm ? o->n_deny_p : o->n_allow_p;
			const char *const *hs = perm ? o->deny_hosts : o->allow_hosts;
			int nh = perm ? o->n_deny_h : o->n_allow_h;
			static const char *const star[] = { ACL_WILDCARD };
			if (nh == 0) {
				hs = star;
				nh = 1;
			}
			for (int p = 0; p < np; p++)
				for (int h = 0; h < nh; h++)
					for (int k = 0; k < nops; k++)
						if (add_binding(out, &n, cap,
								(struct binding){ type, o->res[r].name, ps[p], hs[h], ops[k],
										  perm ? ACL_PERM_DENY : ACL_PERM_ALLOW }))
							return -1;
		}
	}
	/* --producer --idempotent: IdempotentWrite on the cluster for the allowed principals. */
	if (o->producer && o->idempotent)
		for (int p = 0; p < o->n_allow_p; p++)
			if (add_binding(out, &n, cap,
					(struct binding){ ACL_RESOURCE_CLUSTER, ACL_CLUSTER_NAME, o->allow_principals[p], ACL_WILDCARD,
							  ACL_OP_IDEMPOTENT_WRITE, ACL_PERM_ALLOW }))
				return -1;
	return n;
}

/* Prints the ACLs of every pattern the filter matches; 0, or 1 after saying why. */
static int list_acls(struct kclient *kc, int type, const char *name, int pattern, const char *principal, bool exact)
{
	struct arena a;
	arena_init(&a);
	struct describe_acls_request q;
	describe_acls_request_init(&q);
	q.resource_type_filter = (int8_t)type;
	q.resource_name_filter = name ? kstr_c(name) : (struct kstr){ NULL, -1 };
	q.pattern_type_filter = (int8_t)pattern;
	q.principal_filter = principal ? kstr_c(principal) : (struct kstr){ NULL, -1 };
	q.host_filter = (struct kstr){ NULL, -1 };
	q.operation = ACL_OP_ANY;
	q.permission_type = ACL_PERM_ANY;
	void *out = NULL;
	int status = 0;
	if (kclient_call(kc, API_DESCRIBE_ACLS, 2, &q, &a, &out) != 0) {
		fprintf(stderr, "samsa acls: DescribeAcls failed\n");
		arena_free(&a);
		return 1;
	}
	const struct describe_acls_response *r = out;
	if (r->error_code) {
		fprintf(stderr, "Error while executing ACL command: %s%s%.*s\n", kafka_error_name(r->error_code),
			r->error_message.ptr ? ": " : "", r->error_message.ptr ? r->error_message.len : 0,
			r->error_message.ptr ? r->error_message.ptr : "");
		status = 1;
	}
	for (int i = 0; i < r->resources_count; i++) {
		const struct describe_acls_response_describe_acls_resource *res = &r->resources[i];
		char *rn = xstrndup(res->resource_name.ptr ? res->resource_name.ptr : "",
				    res->resource_name.len > 0 ? (size_t)res->resource_name.len : 0);
		(void)exact;
		printf("Current ACLs for resource `");
		print_pattern(res->resource_type, rn, res->pattern_type);
		printf("`: \n");
		for (int j = 0; j < res->acls_count; j++) {
			const struct describe_acls_response_acl_description *d = &res->acls[j];
			char *p = xstrndup(d->principal.ptr ? d->principal.ptr : "", d->principal.len > 0 ? (size_t)d->principal.len : 0);
			char *h = xstrndup(d->host.ptr ? d->host.ptr : "", d->host.len > 0 ? (size_t)d->host.len : 0);
			print_entry(p, h, d->operation, d->permission_type);
			free(p);
			free(h);
		}
		printf("\n");
		free(rn);
	}
	arena_free(&a);
	return status;
}

static int do_add(struct kclient *kc, const struct acls_opts *o)
{
	struct binding bs[1024];
	int n = expand(o, bs, 1024);
	if (n < 0) {
		fprintf(stderr, "samsa acls: too many ACLs in one command\n");
		return 1;
	}
	if (n == 0) {
		fprintf(stderr, "samsa acls: you must specify one of: --allow-principal, --deny-principal when trying "
				"to add ACLs, and a resource (--topic, --group, --cluster, --transactional-id)\n");
		return 2;
	}
	struct arena a;
	arena_init(&a);
	struct create_acls_request q;
	create_acls_request_init(&q);
	q.creations = arena_alloc(&a, sizeof *q.creations * (size_t)n);
	q.creations_count = n;
	for (int i = 0; i < n; i++) {
		struct create_acls_request_acl_creation *c = &q.creations[i];
		create_acls_request_acl_creation_init(c);
		c->resource_type = (int8_t)bs[i].type;
		c->resource_name = kstr_c(bs[i].name);
		c->resource_pattern_type = (int8_t)o->pattern;
		c->principal = kstr_c(bs[i].principal);
		c->host = kstr_c(bs[i].host);
		c->operation = (int8_t)bs[i].op;
		c->permission_type = (int8_t)bs[i].perm;
	}
	for (int i = 0; i < n; i++) {
		bool first = true;
		for (int j = 0; j < i && first; j++)
			first = !(bs[j].type == bs[i].type && !strcmp(bs[j].name, bs[i].name));
		if (!first)
			continue;
		printf("Adding ACLs for resource `");
		print_pattern(bs[i].type, bs[i].name, o->pattern);
		printf("`: \n");
		for (int j = i; j < n; j++)
			if (bs[j].type == bs[i].type && !strcmp(bs[j].name, bs[i].name))
				print_entry(bs[j].principal, bs[j].host, bs[j].op, bs[j].perm);
		printf("\n");
	}
	void *out = NULL;
	int status = 0;
	if (kclient_call(kc, API_CREATE_ACLS, 2, &q, &a, &out) != 0) {
		fprintf(stderr, "samsa acls: CreateAcls failed\n");
		arena_free(&a);
		return 1;
	}
	const struct create_acls_response *r = out;
	for (int i = 0; i < r->results_count; i++)
		if (r->results[i].error_code) {
			fprintf(stderr, "Error while executing ACL command: %s%s%.*s\n", kafka_error_name(r->results[i].error_code),
				r->results[i].error_message.ptr ? ": " : "",
				r->results[i].error_message.ptr ? r->results[i].error_message.len : 0,
				r->results[i].error_message.ptr ? r->results[i].error_message.ptr : "");
			status = 1;
			break;
		}
	arena_free(&a);
	return status;
}

static int do_remove(struct kclient *kc, const struct acls_opts *o)
{
	struct arena a;
	arena_init(&a);
	struct delete_acls_request q;
	delete_acls_request_init(&q);
	struct binding bs[1024];
	int n = 0;
	bool any_principal = o->n_allow_p == 0 && o->n_deny_p == 0;
	if (!any_principal) {
		n = expand(o, bs, 1024);
		if (n < 0) {
			fprintf(stderr, "samsa acls: too many ACLs in one command\n");
			arena_free(&a);
			return 1;
		}
	}
	/* No principal: every ACL of each resource goes (kafka-acls.sh's removeAcls without principals). */
	int nf = any_principal ? o->n_res : n;
	q.filters = arena_alloc(&a, sizeof *q.filters * (size_t)(nf ? nf : 1));
	q.filters_count = nf;
	for (int i = 0; i < nf; i++) {
		struct delete_acls_request_delete_acls_filter *f = &q.filters[i];
		delete_acls_request_delete_acls_filter_init(f);
		f->resource_type_filter = (int8_t)(any_principal ? o->res[i].type : bs[i].type);
		f->resource_name_filter = kstr_c(any_principal ? o->res[i].name : bs[i].name);
		f->pattern_type_filter = (int8_t)o->pattern;
		f->principal_filter = any_principal ? (struct kstr){ NULL, -1 } : kstr_c(bs[i].principal);
		f->host_filter = any_principal ? (struct kstr){ NULL, -1 } : kstr_c(bs[i].host);
		f->operation = (int8_t)(any_principal ? ACL_OP_ANY : bs[i].op);
		f->permission_type = (int8_t)(any_principal ? ACL_PERM_ANY : bs[i].perm);
	}
	void *out = NULL;
	int status = 0;
	if (kclient_call(kc, API_DELETE_ACLS, 2, &q, &a, &out) != 0) {
		fprintf(stderr, "samsa acls: DeleteAcls failed\n");
		arena_free(&a);
		return 1;
	}
	const struct delete_acls_response *r = out;
	for (int i = 0; i < r->filter_results_count; i++)
		if (r->filter_results[i].error_code) {
			fprintf(stderr, "Error while executing ACL command: %s%s%.*s\n",
				kafka_error_name(r->filter_results[i].error_code), r->filter_results[i].error_message.ptr ? ": " : "",
				r->filter_results[i].error_message.ptr ? r->filter_results[i].error_message.len : 0,
				r->filter_results[i].error_message.ptr ? r->filter_results[i].error_message.ptr : "");
			status = 1;
			break;
		}
	arena_free(&a);
	return status;
}

int cmd_acls(int argc, char **argv)
{
	struct acls_opts o;
	if (parse_opts(argc, argv, &o) != 0) {
		usage();
		return 2;
	}
	struct kclient kc;
	if (connect_any(&kc, o.bootstrap) != 0)
		return 1;
	int status;
	if (o.add) {
		status = do_add(&kc, &o);
		/* kafka-acls.sh then lists what each resource has now. */
		for (int i = 0; i < o.n_res && status == 0; i++)
			status = list_acls(&kc, o.res[i].type, o.res[i].name, o.pattern, NULL, true);
	} else if (o.remove) {
		status = do_remove(&kc, &o);
		for (int i = 0; i < o.n_res && status == 0; i++)
			status = list_acls(&kc, o.res[i].type, o.res[i].name, o.pattern, NULL, true);
	} else if (o.n_res == 0) {
		status = 0;
		if (o.n_principals == 0)
			status = list_acls(&kc, ACL_RESOURCE_ANY, NULL, o.pattern, NULL, false);
		for (int p = 0; p < o.n_principals && status == 0; p++)
			status = list_acls(&kc, ACL_RESOURCE_ANY, NULL, o.pattern, o.principals[p], false);
	} else {
		status = 0;
		for (int i = 0; i < o.n_res && status == 0; i++) {
			if (o.n_principals == 0)
				status = list_acls(&kc, o.res[i].type, o.res[i].name, o.pattern, NULL, false);
			for (int p = 0; p < o.n_principals && status == 0; p++)
				status = list_acls(&kc, o.res[i].type, o.res[i].name, o.pattern, o.principals[p], false);
		}
	}
	kclient_close(&kc);
	return status;
}
