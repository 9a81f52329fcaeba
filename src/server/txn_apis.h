/* The transaction coordinator's host on this broker (txn_apis.c). */
#ifndef SAMSA_SERVER_TXN_APIS_H
#define SAMSA_SERVER_TXN_APIS_H

#include "samsa/txn.h"

struct broker;
struct request;

/* The coordinator's view of b: __transaction_state, producer ids, markers to partition leaders. */
struct txn_host broker_txn_host(struct broker *b);
/* InitProducerId with a transactional id, handed to the coordinator. */
void txn_init_producer_id(struct request *req);

#endif
