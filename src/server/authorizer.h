/*
 * The broker's authorizer [Kafka's kafka.security.authorizer.AclAuthorizer]:
 * the ACLs of ZooKeeper in memory, kept current through the change
 * notifications every broker watches, super.users and
 * allow.everyone.if.no.acl.found, and the ACL APIs (CreateAcls, DescribeAcls,
 * DeleteAcls).  Off (b->authorizer NULL) unless authorizer.class.name names
 * the ZooKeeper authorizer; then every API checks what Kafka's KafkaApis checks.
 *
 * Handlers call request_authorize(); docs/security.md lists what each API checks.
 */
#ifndef SAMSA_SERVER_AUTHORIZER_H
#define SAMSA_SERVER_AUTHORIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "samsa/util/acl.h"

struct broker;
struct request;
struct authorizer;

/* Does authorizer.class.name ask for the ZooKeeper ACL authorizer?  -1 (logged) for a value samsa cannot honour. */
int authorizer_configured(struct broker *b);
/* Reads super.users and allow.everyone.if.no.acl.found, creates the ACL paths, watches the change
 * notices and loads every ACL.  NULL after logging why. */
struct authorizer *authorizer_start(struct broker *b);
void authorizer_stop(struct authorizer *az);
void authorizer_free(struct authorizer *az);

/*
 * May `principal` ("User:alice") from `host` (an IP) do `op` on the literal
 * resource (type, name)?  Super users may do everything; otherwise Kafka's
 * AclAuthorizer rules (samsa/util/acl.h acl_decide) over the literal, wildcard
 * and prefixed ACLs of the resource.  Safe from any thread; takes no lock
 * across I/O.
 */
bool authorizer_authorize(struct authorizer *az, const char *principal, const char *host, enum acl_operation op,
			  enum acl_resource_type type, const char *name, size_t name_len);

/*
 * Kafka's authorizeByResourceType: may the principal do `op` on at least one
 * resource of the type (an Allow no Deny covers; allow.everyone.if.no.acl.found
 * unless a Deny on "*" says otherwise)?  InitProducerId asks it for Write on topics.
 */
bool authorizer_authorize_any(struct authorizer *az, const char *principal, const char *host, enum acl_operation op,
			      enum acl_resource_type type);

/*
 * The call handlers make: true when the broker has no authorizer, else
 * authorizer_authorize with the request's principal and client address.  For
 * the cluster resource pass name NULL.  Denials are logged at info, as Kafka's
 * authorizer logger does for resources a request named.
 */
bool request_authorize(struct request *req, enum acl_operation op, enum acl_resource_type type, const char *name,
		       size_t name_len);
/* The same without the log line (filters: Metadata's all-topics, ListGroups, authorized operations). */
bool request_authorize_quiet(struct request *req, enum acl_operation op, enum acl_resource_type type,
			     const char *name, size_t name_len);
/* authorizer_authorize_any for the request's principal and address; true without an authorizer. */
bool request_authorize_any(struct request *req, enum acl_operation op, enum acl_resource_type type);
/* The bit set of Kafka's authorized operations (bit = AclOperation code) a principal has on a resource,
 * among `ops` (a list ending with ACL_OP_UNKNOWN); INT32_MIN when there is no authorizer. */
int32_t request_authorized_operations(struct request *req, enum acl_resource_type type, const char *name,
				      size_t name_len, const enum acl_operation *ops);

void handle_create_acls(struct request *req);
void handle_describe_acls(struct request *req);
void handle_delete_acls(struct request *req);

#endif
