/* Names and retriability of Kafka error codes. */
#include "util/errors.h"

#include <stddef.h>

struct kerr_info {
	int16_t code;
	bool retriable;
	const char *name;
};

static const struct kerr_info infos[] = {
	{ 0, false, "NONE" },
	{ -1, false, "UNKNOWN_SERVER_ERROR" },
	{ 1, false, "OFFSET_OUT_OF_RANGE" },
	{ 2, true, "CORRUPT_MESSAGE" },
	{ 3, true, "UNKNOWN_TOPIC_OR_PARTITION" },
	{ 4, false, "INVALID_FETCH_SIZE" },
	{ 5, true, "LEADER_NOT_AVAILABLE" },
	{ 6, true, "NOT_LEADER_OR_FOLLOWER" },
	{ 7, true, "REQUEST_TIMED_OUT" },
	{ 8, false, "BROKER_NOT_AVAILABLE" },
	{ 9, true, "REPLICA_NOT_AVAILABLE" },
	{ 10, false, "MESSAGE_TOO_LARGE" },
	{ 11, false, "STALE_CONTROLLER_EPOCH" },
	{ 12, false, "OFFSET_METADATA_TOO_LARGE" },
	{ 13, true, "NETWORK_EXCEPTION" },
	{ 14, true, "COORDINATOR_LOAD_IN_PROGRESS" },
	{ 15, true, "COORDINATOR_NOT_AVAILABLE" },
	{ 16, true, "NOT_COORDINATOR" },
	{ 17, false, "INVALID_TOPIC_EXCEPTION" },
	{ 18, false, "RECORD_LIST_TOO_LARGE" },
	{ 19, true, "NOT_ENOUGH_REPLICAS" },
	{ 20, true, "NOT_ENOUGH_REPLICAS_AFTER_APPEND" },
	{ 21, false, "INVALID_REQUIRED_ACKS" },
	{ 22, false, "ILLEGAL_GENERATION" },
	{ 23, false, "INCONSISTENT_GROUP_PROTOCOL" },
	{ 24, false, "INVALID_GROUP_ID" },
	{ 25, false, "UNKNOWN_MEMBER_ID" },
	{ 26, false, "INVALID_SESSION_TIMEOUT" },
	{ 27, false, "REBALANCE_IN_PROGRESS" },
	{ 28, false, "INVALID_COMMIT_OFFSET_SIZE" },
	{ 29, false, "TOPIC_AUTHORIZATION_FAILED" },
	{ 30, false, "GROUP_AUTHORIZATION_FAILED" },
	{ 31, false, "CLUSTER_AUTHORIZATION_FAILED" },
	{ 32, false, "INVALID_TIMESTAMP" },
	{ 33, false, "UNSUPPORTED_SASL_MECHANISM" },
	{ 34, false, "ILLEGAL_SASL_STATE" },
	{ 35, false, "UNSUPPORTED_VERSION" },
	{ 36, false, "TOPIC_ALREADY_EXISTS" },
	{ 37, false, "INVALID_PARTITIONS" },
	{ 38, false, "INVALID_REPLICATION_FACTOR" },
	{ 39, false, "INVALID_REPLICA_ASSIGNMENT" },
	{ 40, false, "INVALID_CONFIG" },
	{ 41, true, "NOT_CONTROLLER" },
	{ 42, false, "INVALID_REQUEST" },
	{ 43, false, "UNSUPPORTED_FOR_MESSAGE_FORMAT" },
	{ 44, false, "POLICY_VIOLATION" },
	{ 45, false, "OUT_OF_ORDER_SEQUENCE_NUMBER" },
	{ 46, false, "DUPLICATE_SEQUENCE_NUMBER" },
	{ 47, false, "INVALID_PRODUCER_EPOCH" },
	{ 48, false, "INVALID_TXN_STATE" },
	{ 49, false, "INVALID_PRODUCER_ID_MAPPING" },
	{ 50, false, "INVALID_TRANSACTION_TIMEOUT" },
	{ 51, true, "CONCURRENT_TRANSACTIONS" },
	{ 52, false, "TRANSACTION_COORDINATOR_FENCED" },
	{ 53, false, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" },
	{ 54, false, "SECURITY_DISABLED" },
	{ 55, false, "OPERATION_NOT_ATTEMPTED" },
	{ 56, true, "KAFKA_STORAGE_ERROR" },
	{ 57, false, "LOG_DIR_NOT_FOUND" },
	{ 58, false, "SASL_AUTHENTICATION_FAILED" },
	{ 59, false, "UNKNOWN_PRODUCER_ID" },
	{ 60, false, "REASSIGNMENT_IN_PROGRESS" },
	{ 61, false, "DELEGATION_TOKEN_AUTH_DISABLED" },
	{ 62, false, "DELEGATION_TOKEN_NOT_FOUND" },
	{ 63, false, "DELEGATION_TOKEN_OWNER_MISMATCH" },
	{ 64, false, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED" },
	{ 65, false, "DELEGATION_TOKEN_AUTHORIZATION_FAILED" },
	{ 66, false, "DELEGATION_TOKEN_EXPIRED" },
	{ 67, false, "INVALID_PRINCIPAL_TYPE" },
	{ 68, false, "NON_EMPTY_GROUP" },
	{ 69, false, "GROUP_ID_NOT_FOUND" },
	{ 70, true, "FETCH_SESSION_ID_NOT_FOUND" },
	{ 71, true, "INVALID_FETCH_SESSION_EPOCH" },
	{ 72, true, "LISTENER_NOT_FOUND" },
	{ 73, false, "TOPIC_DELETION_DISABLED" },
	{ 74, true, "FENCED_LEADER_EPOCH" },
	{ 75, true, "UNKNOWN_LEADER_EPOCH" },
	{ 76, false, "UNSUPPORTED_COMPRESSION_TYPE" },
	{ 77, false, "STALE_BROKER_EPOCH" },
	{ 78, true, "OFFSET_NOT_AVAILABLE" },
	{ 79, false, "MEMBER_ID_REQUIRED" },
	{ 80, true, "PREFERRED_LEADER_NOT_AVAILABLE" },
	{ 81, false, "GROUP_MAX_SIZE_REACHED" },
	{ 82, false, "FENCED_INSTANCE_ID" },
	{ 83, true, "ELIGIBLE_LEADERS_NOT_AVAILABLE" },
	{ 84, true, "ELECTION_NOT_NEEDED" },
	{ 85, false, "NO_REASSIGNMENT_IN_PROGRESS" },
	{ 86, false, "GROUP_SUBSCRIBED_TO_TOPIC" },
	{ 87, false, "INVALID_RECORD" },
	{ 88, true, "UNSTABLE_OFFSET_COMMIT" },
	{ 89, true, "THROTTLING_QUOTA_EXCEEDED" },
	{ 90, false, "PRODUCER_FENCED" },
	{ 91, false, "RESOURCE_NOT_FOUND" },
	{ 92, false, "DUPLICATE_RESOURCE" },
	{ 93, false, "UNACCEPTABLE_CREDENTIAL" },
	{ 94, false, "INCONSISTENT_VOTER_SET" },
	{ 95, false, "INVALID_UPDATE_VERSION" },
	{ 96, false, "FEATURE_UPDATE_FAILED" },
	{ 97, false, "PRINCIPAL_DESERIALIZATION_FAILURE" },
	{ 98, false, "SNAPSHOT_NOT_FOUND" },
	{ 100, true, "UNKNOWN_TOPIC_ID" },
	{ 101, false, "DUPLICATE_BROKER_REGISTRATION" },
	{ 102, false, "BROKER_ID_NOT_REGISTERED" },
	{ 103, true, "INCONSISTENT_TOPIC_ID" },
	{ 104, false, "INCONSISTENT_CLUSTER_ID" },
	{ 105, false, "TRANSACTIONAL_ID_NOT_FOUND" },
	{ 106, true, "FETCH_SESSION_TOPIC_ID_ERROR" },
	{ 107, false, "INELIGIBLE_REPLICA" },
	{ 108, false, "NEW_LEADER_ELECTED" },
	{ 109, false, "OFFSET_MOVED_TO_TIERED_STORAGE" },
	{ 110, false, "FENCED_MEMBER_EPOCH" },
	{ 111, false, "UNRELEASED_INSTANCE_ID" },
	{ 112, false, "UNSUPPORTED_ASSIGNOR" },
	{ 113, false, "STALE_MEMBER_EPOCH" },
	{ 114, false, "MISMATCHED_ENDPOINT_TYPE" },
	{ 115, false, "UNSUPPORTED_ENDPOINT_TYPE" },
	{ 116, false, "UNKNOWN_CONTROLLER_ID" },
	{ 117, false, "UNKNOWN_SUBSCRIPTION_ID" },
	{ 118, false, "TELEMETRY_TOO_LARGE" },
	{ 119, false, "INVALID_REGISTRATION" },
	{ 120, false, "TRANSACTION_ABORTABLE" },
	{ 121, false, "INVALID_RECORD_STATE" },
	{ 122, true, "SHARE_SESSION_NOT_FOUND" },
	{ 123, true, "INVALID_SHARE_SESSION_EPOCH" },
	{ 124, false, "FENCED_STATE_EPOCH" },
	{ 125, false, "INVALID_VOTER_KEY" },
	{ 126, false, "DUPLICATE_VOTER" },
	{ 127, false, "VOTER_NOT_FOUND" },
};

static const struct kerr_info *find(int16_t code)
{
	for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++)
		if (infos[i].code == code)
			return &infos[i];
	return NULL;
}

const char *kafka_error_name(int16_t code)
{
	const struct kerr_info *e = find(code);
	return e ? e->name : "UNKNOWN_ERROR_CODE";
}

bool kafka_error_retriable(int16_t code)
{
	const struct kerr_info *e = find(code);
	return e && e->retriable;
}
