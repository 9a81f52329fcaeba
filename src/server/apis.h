/* Handlers, one per API, each in its own file [Kafka's KafkaApis]. */
#ifndef SAMSA_SERVER_APIS_H
#define SAMSA_SERVER_APIS_H

#include "server/request.h"

void handle_api_versions(struct request *req);
void handle_produce(struct request *req);
void handle_fetch(struct request *req);
void handle_list_offsets(struct request *req);
void handle_delete_records(struct request *req);
void handle_metadata(struct request *req);
void handle_leader_and_isr(struct request *req);
void handle_stop_replica(struct request *req);
void handle_update_metadata(struct request *req);
void handle_create_topics(struct request *req);
void handle_delete_topics(struct request *req);
void handle_create_partitions(struct request *req);
void handle_offset_commit(struct request *req);  /* v0 only so far: ZooKeeper offsets */
void handle_offset_fetch(struct request *req);   /* v0 only so far: ZooKeeper offsets */

/* Creates `name` with num.partitions and default.replication.factor, as
 * auto.create.topics.enable does; KERR_NONE or Kafka's error.  Talks to
 * ZooKeeper: call it on the admin executor only. */
int16_t topic_auto_create(struct broker *b, const char *name);

/* The KIP-511 fallback: an ApiVersions request at a version we don't know gets a
 * v0 response with UNSUPPORTED_VERSION and our api list. */
void api_versions_unsupported(struct request *req);

#endif
