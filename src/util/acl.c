/*
 * ACL names and decisions, as Kafka's AclAuthorizer and its filter classes
 * make them (see include/samsa/util/acl.h).
 */
#include "samsa/util/acl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = { "Unknown", "Any", "Topic", "Group", "Cluster", "TransactionalId",
					  "DelegationToken", "User" };
static const char *const type_enums[] = { "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID",
					  "DELEGATION_TOKEN", "USER" };
static const char *const pattern_names[] = { "UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED" };
static const char *const op_names[] = { "Unknown", "Any", "All", "Read", "Write", "Create", "Delete", "Alter",
					"Describe", "ClusterAction", "DescribeConfigs", "AlterConfigs",
					"IdempotentWrite", "CreateTokens", "DescribeTokens" };
static const char *const perm_names[] = { "Unknown", "Any", "Deny", "Allow" };

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *acl_resource_type_name(int t) { return t >= 0 && t < COUNT(type_names) ? type_names[t] : NULL; }
const char *acl_resource_type_enum_name(int t) { return t >= 0 && t < COUNT(type_enums) ? type_enums[t] : NULL; }
const char *acl_pattern_type_name(int p) { return p >= 0 && p < COUNT(pattern_names) ? pattern_names[p] : NULL; }
const char *acl_operation_name(int o) { return o >= 0 && o < COUNT(op_names) ? op_names[o] : NULL; }
const char *acl_permission_name(int p) { return p >= 0 && p < COUNT(perm_names) ? perm_names[p] : NULL; }

int acl_resource_type_from_code(int c) { return c > 0 && c < COUNT(type_names) ? c : 0; }
int acl_pattern_type_from_code(int c) { return c > 0 && c < COUNT(pattern_names) ? c : 0; }
int acl_operation_from_code(int c) { return c > 0 && c < COUNT(op_names) ? c : 0; }
int acl_permission_from_code(int c) { return c > 0 && c < COUNT(perm_names) ? c : 0; }

/* Equal ignoring case and any '_' or '-' ("TRANSACTIONAL_ID" is "TransactionalId"). */
static bool loose_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_' || *a == '-')
			a++;
		while (*b == '_' || *b == '-')
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return false;
		a++, b++;
	}
}

static int parse_in(const char *const *names, int n, const char *s)
{
	if (!s)
		return 0;
	for (int i = 1; i < n; i++)
		if (loose_eq(names[i], s))
			return i;
	return 0;
}

int acl_resource_type_parse(const char *s) { return parse_in(type_names, COUNT(type_names), s); }
int acl_pattern_type_parse(const char *s) { return parse_in(pattern_names, COUNT(pattern_names), s); }
int acl_operation_parse(const char *s) { return parse_in(op_names, COUNT(op_names), s); }
int acl_permission_parse(const char *s) { return parse_in(perm_names, COUNT(perm_names), s); }

bool acl_principal_valid(const char *p)
{
	if (!p)
		return false;
	const char *colon = strchr(p, ':');
	return colon && colon != p;
}

bool acl_pattern_applies(int type, int pattern, const char *name, int rtype, const char *rname)
{
	if (type != rtype)
		return false;
	if (pattern == ACL_PATTERN_LITERAL)
		return !strcmp(name, rname) || !strcmp(name, ACL_WILDCARD);
	if (pattern == ACL_PATTERN_PREFIXED)
		return !strncmp(rname, name, strlen(name));
	return false;
}

/* AclAuthorizer.matchingAclExists for one operation and permission. */
static bool entry_exists(const struct acl_resource *const *rs, int n, const char *principal, const char *host,
			 enum acl_operation op, enum acl_permission perm)
{
	for (int i = 0; i < n; i++)
		for (int j = 0; j < rs[i]->n_entries; j++) {
			const struct acl_entry *e = &rs[i]->entries[j];
			if (e->permission != perm)
				continue;
			if (strcmp(e->principal, principal) && strcmp(e->principal, ACL_WILDCARD_PRINCIPAL))
				continue;
			if (e->operation != op && e->operation != ACL_OP_ALL)
				continue;
			if (strcmp(e->host, ACL_WILDCARD) && strcmp(e->host, host))
				continue;
			return true;
		}
	return false;
}

bool acl_decide(const struct acl_resource *const *rs, int n, const char *principal, const char *host,
		enum acl_operation op, bool allow_if_none)
{
	int total = 0;
	for (int i = 0; i < n; i++)
		total += rs[i]->n_entries;
	if (total == 0)
		return allow_if_none;
	if (entry_exists(rs, n, principal, host, op, ACL_PERM_DENY))
		return false;
	if (entry_exists(rs, n, principal, host, op, ACL_PERM_ALLOW))
		return true;
	/* Read, Write, Delete or Alter imply Describe; AlterConfigs implies DescribeConfigs. */
	static const enum acl_operation implies_describe[] = { ACL_OP_READ, ACL_OP_WRITE, ACL_OP_DELETE, ACL_OP_ALTER };
	if (op == ACL_OP_DESCRIBE) {
		for (size_t k = 0; k < sizeof implies_describe / sizeof implies_describe[0]; k++)
			if (entry_exists(rs, n, principal, host, implies_describe[k], ACL_PERM_ALLOW))
				return true;
	} else if (op == ACL_OP_DESCRIBE_CONFIGS) {
		return entry_exists(rs, n, principal, host, ACL_OP_ALTER_CONFIGS, ACL_PERM_ALLOW);
	}
	return false;
}

bool acl_filter_matches_pattern(const struct acl_filter *f, int type, int pattern, const char *name)
{
	if (f->resource_type != ACL_RESOURCE_ANY && f->resource_type != type)
		return false;
	if (f->pattern != ACL_PATTERN_ANY && f->pattern != ACL_PATTERN_MATCH && f->pattern != pattern)
		return false;
	if (!f->name)
		return true;
	if (f->pattern == ACL_PATTERN_ANY || f->pattern == pattern)
		return !strcmp(f->name, name);
	/* MATCH: the patterns that would apply to a resource named f->name. */
	if (pattern == ACL_PATTERN_LITERAL)
		return !strcmp(f->name, name) || !strcmp(name, ACL_WILDCARD);
	if (pattern == ACL_PATTERN_PREFIXED)
		return !strncmp(f->name, name, strlen(name));
	return false;
}

bool acl_filter_matches_entry(const struct acl_filter *f, const struct acl_entry *e)
{
	if (f->principal && strcmp(f->principal, e->principal))
		return false;
	if (f->host && strcmp(f->host, e->host))
		return false;
	if (f->operation != ACL_OP_ANY && f->operation != (int)e->operation)
		return false;
	if (f->permission != ACL_PERM_ANY && f->permission != (int)e->permission)
		return false;
	return true;
}

void acl_resource_clear(struct acl_resource *r)
{
	for (int i = 0; i < r->n_entries; i++) {
		free(r->entries[i].principal);
		free(r->entries[i].host);
	}
	free(r->entries);
	free(r->name);
	r->entries = NULL;
	r->n_entries = 0;
	r->name = NULL;
}
