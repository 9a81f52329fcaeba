/*
 * ACLs as Kafka's AclAuthorizer sees them: the codes of resource types,
 * pattern types, operations and permissions (the wire's numbers), their
 * names (ZooKeeper's JSON and kafka-acls.sh), one ACL entry, and the pure
 * decisions: does a set of ACLs let a principal from a host do an operation
 * on a resource, and does a filter (DescribeAcls/DeleteAcls) match a binding.
 * No ZooKeeper, no threads: the broker's cache (src/server/authorizer.c)
 * calls these with what it holds.
 */
#ifndef SAMSA_UTIL_ACL_H
#define SAMSA_UTIL_ACL_H

#include <stdbool.h>
#include <stddef.h>

/* org.apache.kafka.common.resource.ResourceType codes. */
enum acl_resource_type {
	ACL_RESOURCE_UNKNOWN = 0,
	ACL_RESOURCE_ANY = 1,
	ACL_RESOURCE_TOPIC = 2,
	ACL_RESOURCE_GROUP = 3,
	ACL_RESOURCE_CLUSTER = 4,
	ACL_RESOURCE_TRANSACTIONAL_ID = 5,
	ACL_RESOURCE_DELEGATION_TOKEN = 6,
	ACL_RESOURCE_USER = 7,
};

/* PatternType codes. */
enum acl_pattern_type {
	ACL_PATTERN_UNKNOWN = 0,
	ACL_PATTERN_ANY = 1,
	ACL_PATTERN_MATCH = 2,
	ACL_PATTERN_LITERAL = 3,
	ACL_PATTERN_PREFIXED = 4,
};

/* AclOperation codes. */
enum acl_operation {
	ACL_OP_UNKNOWN = 0,
	ACL_OP_ANY = 1,
	ACL_OP_ALL = 2,
	ACL_OP_READ = 3,
	ACL_OP_WRITE = 4,
	ACL_OP_CREATE = 5,
	ACL_OP_DELETE = 6,
	ACL_OP_ALTER = 7,
	ACL_OP_DESCRIBE = 8,
	ACL_OP_CLUSTER_ACTION = 9,
	ACL_OP_DESCRIBE_CONFIGS = 10,
	ACL_OP_ALTER_CONFIGS = 11,
	ACL_OP_IDEMPOTENT_WRITE = 12,
	ACL_OP_CREATE_TOKENS = 13,
	ACL_OP_DESCRIBE_TOKENS = 14,
};

/* AclPermissionType codes. */
enum acl_permission {
	ACL_PERM_UNKNOWN = 0,
	ACL_PERM_ANY = 1,
	ACL_PERM_DENY = 2,
	ACL_PERM_ALLOW = 3,
};

#define ACL_CLUSTER_NAME "kafka-cluster"
#define ACL_WILDCARD "*"
#define ACL_WILDCARD_PRINCIPAL "User:*"

/* One access control entry of a resource pattern (strings owned by whoever holds it). */
struct acl_entry {
	char *principal; /* "User:alice", "User:*" */
	char *host;      /* an IP or "*" */
	enum acl_operation operation;
	enum acl_permission permission;
};

/* A resource pattern and its entries: what one ZooKeeper ACL znode holds. */
struct acl_resource {
	enum acl_resource_type type;
	enum acl_pattern_type pattern;
	char *name;
	struct acl_entry *entries;
	int n_entries;
	int zk_version; /* -1: the znode does not exist */
};

/* Names: "Topic", "LITERAL", "Read", "Allow" (ZooKeeper's JSON and paths).  NULL for codes without one. */
const char *acl_resource_type_name(int type);
const char *acl_pattern_type_name(int pattern);
const char *acl_operation_name(int op);
const char *acl_permission_name(int perm);
/* The enum constants' names Kafka prints and the extended change notices carry: "TOPIC", "TRANSACTIONAL_ID". */
const char *acl_resource_type_enum_name(int type);
/* Parsing, case-insensitive, with or without underscores ("TransactionalId", "TRANSACTIONAL_ID",
 * "transactional-id" for the CLI too); UNKNOWN (0) when nothing fits. */
int acl_resource_type_parse(const char *s);
int acl_pattern_type_parse(const char *s);
int acl_operation_parse(const char *s);
int acl_permission_parse(const char *s);
/* A code the wire may carry that names a known value (0..max); anything else reads as UNKNOWN. */
int acl_resource_type_from_code(int c);
int acl_pattern_type_from_code(int c);
int acl_operation_from_code(int c);
int acl_permission_from_code(int c);

/* "type:name" with a non-empty type (Kafka's SecurityUtils.parseKafkaPrincipal). */
bool acl_principal_valid(const char *principal);

/*
 * Kafka's AclAuthorizer decision for one literal resource, given the ACLs that
 * apply to it (the resource's own literal ACLs, the wildcard "*" ones of its
 * type, and the prefixed ones whose prefix starts its name; see
 * acl_pattern_applies).  Deny wins over allow; Describe is also allowed by
 * Read, Write, Delete or Alter, DescribeConfigs by AlterConfigs; All stands
 * for every operation; "User:*" and host "*" match everyone.  No ACL at all:
 * allow_if_none (allow.everyone.if.no.acl.found).  Super users are the
 * caller's business.
 */
bool acl_decide(const struct acl_resource *const *applicable, int n, const char *principal, const char *host,
		enum acl_operation op, bool allow_if_none);
/* Does the pattern (type, pattern, name) apply to the literal resource (type, rname)? */
bool acl_pattern_applies(int type, int pattern, const char *name, int rtype, const char *rname);

/* A DescribeAcls/DeleteAcls filter: ANY codes and NULL strings match everything. */
struct acl_filter {
	int resource_type;
	const char *name; /* NULL: any */
	int pattern;      /* ANY, MATCH, LITERAL, PREFIXED */
	const char *principal;
	const char *host;
	int operation;
	int permission;
};
/* ResourcePatternFilter.matches */
bool acl_filter_matches_pattern(const struct acl_filter *f, int type, int pattern, const char *name);
/* AccessControlEntryFilter.matches */
bool acl_filter_matches_entry(const struct acl_filter *f, const struct acl_entry *e);

void acl_resource_clear(struct acl_resource *r);

#endif
