/* The group coordinator's host on this broker (group_apis.c). */
#ifndef SAMSA_SERVER_GROUP_APIS_H
#define SAMSA_SERVER_GROUP_APIS_H

#include "samsa/group.h"

struct broker;

/* The coordinator's view of b: its __consumer_offsets partitions, purgatory and metadata. */
struct group_host broker_group_host(struct broker *b);

#endif
