/*
 * The authorizer's pure parts: Kafka's AclAuthorizer decisions (util/acl),
 * the filters of DescribeAcls/DeleteAcls, the names, and the ACL JSON and
 * change notices of zk/acl_zk against the in-memory ZooKeeper.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fake_zk.h"
#include "samsa/util/acl.h"
#include "samsa/zk.h"

static struct acl_entry E(const char *principal, const char *host, enum acl_operation op, enum acl_permission perm)
{
	return (struct acl_entry){ (char *)principal, (char *)host, op, perm };
}

static struct acl_resource R(int type, int pattern, const char *name, struct acl_entry *e, int n)
{
	return (struct acl_resource){ type, pattern, (char *)name, e, n, 0 };
}

static bool decide1(const struct acl_resource *r, const char *principal, const char *host, enum acl_operation op)
{
	const struct acl_resource *rs[] = { r };
	return acl_decide(rs, 1, principal, host, op, false);
}

static void test_allow_deny_and_implications(void **state)
{
	(void)state;
	struct acl_entry e[] = { E("User:alice", "*", ACL_OP_WRITE, ACL_PERM_ALLOW) };
	struct acl_resource r = R(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", e, 1);
	assert_true(decide1(&r, "User:alice", "1.2.3.4", ACL_OP_WRITE));
	assert_false(decide1(&r, "User:alice", "1.2.3.4", ACL_OP_READ));
	assert_true(decide1(&r, "User:alice", "1.2.3.4", ACL_OP_DESCRIBE)); /* Write implies Describe */
	assert_false(decide1(&r, "User:bob", "1.2.3.4", ACL_OP_WRITE));
	/* AlterConfigs implies DescribeConfigs, not the other way round. */
	struct acl_entry c[] = { E("User:alice", "*", ACL_OP_ALTER_CONFIGS, ACL_PERM_ALLOW) };
	r = R(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", c, 1);
	assert_true(decide1(&r, "User:alice", "h", ACL_OP_DESCRIBE_CONFIGS));
	assert_false(decide1(&r, "User:alice", "h", ACL_OP_DESCRIBE));
	/* Deny beats allow; a denied Read does not deny Describe implied by Write. */
	struct acl_entry d[] = { E("User:alice", "*", ACL_OP_ALL, ACL_PERM_ALLOW),
				 E("User:alice", "*", ACL_OP_READ, ACL_PERM_DENY) };
	r = R(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", d, 2);
	assert_false(decide1(&r, "User:alice", "h", ACL_OP_READ));
	assert_true(decide1(&r, "User:alice", "h", ACL_OP_WRITE));
	assert_true(decide1(&r, "User:alice", "h", ACL_OP_DESCRIBE));
	/* Deny All denies everything. */
	struct acl_entry da[] = { E("User:*", "*", ACL_OP_ALL, ACL_PERM_DENY),
				  E("User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW) };
	r = R(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", da, 2);
	assert_false(decide1(&r, "User:alice", "h", ACL_OP_READ));
}

static void test_hosts_wildcards_and_no_acls(void **state)
{
	(void)state;
	struct acl_entry e[] = { E("User:*", "10.0.0.1", ACL_OP_READ, ACL_PERM_ALLOW) };
	struct acl_resource r = R(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", e, 1);
	assert_true(decide1(&r, "User:anyone", "10.0.0.1", ACL_OP_READ));
	assert_false(decide1(&r, "User:anyone", "10.0.0.2", ACL_OP_READ));
	/* Nothing at all: allow.everyone.if.no.acl.found decides. */
	assert_false(acl_decide(NULL, 0, "User:a", "h", ACL_OP_READ, false));
	assert_true(acl_decide(NULL, 0, "User:a", "h", ACL_OP_READ, true));
	/* ACLs exist (for someone else): allow_if_none no longer applies. */
	const struct acl_resource *rs[] = { &r };
	assert_false(acl_decide(rs, 1, "User:a", "10.0.0.9", ACL_OP_READ, true));
}

static void test_patterns_apply(void **state)
{
	(void)state;
	assert_true(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", ACL_RESOURCE_TOPIC, "t"));
	assert_true(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "*", ACL_RESOURCE_TOPIC, "t"));
	assert_false(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", ACL_RESOURCE_GROUP, "t"));
	assert_true(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "pre-", ACL_RESOURCE_TOPIC, "pre-x"));
	assert_true(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "pre-", ACL_RESOURCE_TOPIC, "pre-"));
	assert_false(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "pre-", ACL_RESOURCE_TOPIC, "pre"));
	/* A prefixed "*" is a literal star prefix, not a wildcard. */
	assert_false(acl_pattern_applies(ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "*", ACL_RESOURCE_TOPIC, "t"));
}

static void test_filters(void **state)
{
	(void)state;
	struct acl_filter any = { ACL_RESOURCE_ANY, NULL, ACL_PATTERN_ANY, NULL, NULL, ACL_OP_ANY, ACL_PERM_ANY };
	assert_true(acl_filter_matches_pattern(&any, ACL_RESOURCE_GROUP, ACL_PATTERN_PREFIXED, "g"));
	struct acl_filter lit = { ACL_RESOURCE_TOPIC, "t", ACL_PATTERN_LITERAL, NULL, NULL, ACL_OP_ANY, ACL_PERM_ANY };
	assert_true(acl_filter_matches_pattern(&lit, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t"));
	assert_false(acl_filter_matches_pattern(&lit, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "*"));
	assert_false(acl_filter_matches_pattern(&lit, ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "t"));
	/* MATCH: every pattern that would apply to a topic named "pre-x". */
	struct acl_filter m = { ACL_RESOURCE_TOPIC, "pre-x", ACL_PATTERN_MATCH, NULL, NULL, ACL_OP_ANY, ACL_PERM_ANY };
	assert_true(acl_filter_matches_pattern(&m, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "pre-x"));
	assert_true(acl_filter_matches_pattern(&m, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "*"));
	assert_true(acl_filter_matches_pattern(&m, ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "pre-"));
	assert_false(acl_filter_matches_pattern(&m, ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "post-"));
	/* ANY pattern with a name: that exact name, literal or prefixed. */
	struct acl_filter an = { ACL_RESOURCE_TOPIC, "pre-", ACL_PATTERN_ANY, NULL, NULL, ACL_OP_ANY, ACL_PERM_ANY };
	assert_true(acl_filter_matches_pattern(&an, ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "pre-"));
	assert_false(acl_filter_matches_pattern(&an, ACL_RESOURCE_TOPIC, ACL_PATTERN_PREFIXED, "pre"));
	struct acl_entry e = E("User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW);
	struct acl_filter ef = { ACL_RESOURCE_ANY, NULL, ACL_PATTERN_ANY, "User:alice", NULL, ACL_OP_READ, ACL_PERM_ANY };
	assert_true(acl_filter_matches_entry(&ef, &e));
	ef.host = "1.1.1.1"; /* filters compare exactly: "*" is not every host here */
	assert_false(acl_filter_matches_entry(&ef, &e));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(acl_resource_type_name(ACL_RESOURCE_TRANSACTIONAL_ID), "TransactionalId");
	assert_string_equal(acl_resource_type_enum_name(ACL_RESOURCE_TRANSACTIONAL_ID), "TRANSACTIONAL_ID");
	assert_int_equal(acl_resource_type_parse("TRANSACTIONAL_ID"), ACL_RESOURCE_TRANSACTIONAL_ID);
	assert_int_equal(acl_resource_type_parse("topic"), ACL_RESOURCE_TOPIC);
	assert_int_equal(acl_operation_parse("ClusterAction"), ACL_OP_CLUSTER_ACTION);
	assert_int_equal(acl_operation_parse("cluster_action"), ACL_OP_CLUSTER_ACTION);
	assert_int_equal(acl_operation_parse("bogus"), ACL_OP_UNKNOWN);
	assert_string_equal(acl_operation_name(ACL_OP_IDEMPOTENT_WRITE), "IdempotentWrite");
	assert_int_equal(acl_pattern_type_parse("prefixed"), ACL_PATTERN_PREFIXED);
	assert_int_equal(acl_permission_parse("Deny"), ACL_PERM_DENY);
	assert_int_equal(acl_operation_from_code(15), ACL_OP_UNKNOWN);
	assert_int_equal(acl_resource_type_from_code(-3), ACL_RESOURCE_UNKNOWN);
	assert_true(acl_principal_valid("User:alice"));
	assert_false(acl_principal_valid("alice"));
	assert_false(acl_principal_valid(":alice"));
}

static void test_zk_json_and_notices(void **state)
{
	(void)state;
	struct fake_zk *fz = fake_zk_new();
	struct zk *zk = fake_zk_session(fz);
	assert_int_equal(acl_zk_ensure_paths(zk), 0);
	struct acl_entry e[] = { E("User:alice", "*", ACL_OP_READ, ACL_PERM_ALLOW),
				 E("User:bob", "10.0.0.1", ACL_OP_WRITE, ACL_PERM_DENY) };
	int v = 99;
	assert_int_equal(acl_zk_set(zk, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", e, 2, -1, &v), ZOK);
	char *data = NULL;
	int len = 0;
	assert_int_equal(zk_get(zk, "/kafka-acl/Topic/t", NULL, NULL, &data, &len, NULL), ZOK);
	const char *want = "{\"version\":1,\"acls\":[{\"principal\":\"User:alice\",\"permissionType\":\"Allow\","
			   "\"operation\":\"Read\",\"host\":\"*\"},{\"principal\":\"User:bob\",\"permissionType\":\"Deny\","
			   "\"operation\":\"Write\",\"host\":\"10.0.0.1\"}]}";
	assert_int_equal(len, (int)strlen(want));
	assert_memory_equal(data, want, strlen(want));
	free(data);
	/* Created again when it exists already: a race, told apart from other failures. */
	assert_int_equal(acl_zk_set(zk, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", e, 1, -1, &v), ZBADVERSION);
	struct acl_resource r;
	assert_int_equal(acl_zk_get(zk, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", &r), ZOK);
	assert_int_equal(r.n_entries, 2);
	assert_string_equal(r.entries[1].host, "10.0.0.1");
	assert_int_equal(r.entries[1].permission, ACL_PERM_DENY);
	assert_int_equal(acl_zk_set(zk, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", e, 0, r.zk_version, &v), ZOK);
	acl_resource_clear(&r);
	assert_int_equal(acl_zk_get(zk, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t", &r), ZOK);
	assert_int_equal(r.zk_version, -1);
	acl_resource_clear(&r);
	/* Prefixed patterns live under /kafka-acl-extended/prefixed. */
	assert_int_equal(acl_zk_set(zk, ACL_RESOURCE_GROUP, ACL_PATTERN_PREFIXED, "g-", e, 1, -1, &v), ZOK);
	assert_int_equal(zk_exists(zk, "/kafka-acl-extended/prefixed/Group/g-", NULL, NULL, NULL), ZOK);
	/* Change notices, both kinds, read back. */
	assert_int_equal(acl_zk_notify(zk, ACL_RESOURCE_TOPIC, ACL_PATTERN_LITERAL, "t"), ZOK);
	assert_int_equal(acl_zk_notify(zk, ACL_RESOURCE_GROUP, ACL_PATTERN_PREFIXED, "g-"), ZOK);
	struct String_vector kids;
	for (int ext = 0; ext < 2; ext++) {
		assert_int_equal(acl_zk_list_changes(zk, ext, NULL, NULL, &kids), ZOK);
		assert_int_equal(kids.count, 1);
		assert_true(acl_zk_change_seq(kids.data[0]) >= 0);
		int type = 0, pattern = 0;
		char *name = NULL;
		int64_t ct;
		assert_int_equal(acl_zk_read_change(zk, ext, kids.data[0], &type, &pattern, &name, &ct), ZOK);
		assert_int_equal(type, ext ? ACL_RESOURCE_GROUP : ACL_RESOURCE_TOPIC);
		assert_int_equal(pattern, ext ? ACL_PATTERN_PREFIXED : ACL_PATTERN_LITERAL);
		assert_string_equal(name, ext ? "g-" : "t");
		free(name);
		char path[128];
		snprintf(path, sizeof path, "%s/%s", ext ? "/kafka-acl-extended-changes" : "/kafka-acl-changes", kids.data[0]);
		data = NULL;
		assert_int_equal(zk_get(zk, path, NULL, NULL, &data, &len, NULL), ZOK);
		const char *w = ext ? "{\"version\":1,\"resourceType\":\"GROUP\",\"name\":\"g-\",\"patternType\":\"PREFIXED\"}"
				    : "Topic:t";
		assert_int_equal(len, (int)strlen(w));
		assert_memory_equal(data, w, strlen(w));
		free(data);
		deallocate_String_vector(&kids);
	}
	/* Junk in a znode reads as no ACLs, never as a crash. */
	struct acl_entry *out;
	int n;
	const char *bad = "{\"version\":1,\"acls\":7}", *partial = "{\"acls\":[{\"principal\":\"User:a\"}]}";
	assert_int_equal(acl_zk_parse(bad, (int)strlen(bad), &out, &n), -1);
	assert_int_equal(acl_zk_parse(partial, (int)strlen(partial), &out, &n), 0);
	assert_int_equal(n, 0);
	free(out);
	zk_close(zk);
	fake_zk_free(fz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_deny_and_implications),
		cmocka_unit_test(test_hosts_wildcards_and_no_acls),
		cmocka_unit_test(test_patterns_apply),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_zk_json_and_notices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
