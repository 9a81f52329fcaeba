/* Producer ids from blocks claimed in ZooKeeper (see producer_ids.h). */
#include "server/producer_ids.h"

#include <pthread.h>
#include <stdlib.h>

#include "samsa/proto.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"
#include "samsa/zk.h"

struct producer_ids {
	pthread_mutex_t lock;        /* the block; never held across ZooKeeper */
	pthread_mutex_t refill_lock; /* one claim at a time */
	struct zk *zk;
	int32_t broker_id;
	int64_t next, last;          /* next > last: used up (or none claimed yet) */
};

struct producer_ids *producer_ids_new(struct zk *zk, int32_t broker_id)
{
	struct producer_ids *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->refill_lock, NULL);
	p->zk = zk;
	p->broker_id = broker_id;
	p->next = 0;
	p->last = -1;
	return p;
}

void producer_ids_free(struct producer_ids *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->refill_lock);
	free(p);
}

int16_t producer_ids_next(struct producer_ids *p, int64_t *out)
{
	pthread_mutex_lock(&p->lock);
	int16_t err = KERR_COORDINATOR_LOAD_IN_PROGRESS;
	if (p->next <= p->last) {
		*out = p->next++;
		err = KERR_NONE;
	}
	pthread_mutex_unlock(&p->lock);
	return err;
}

bool producer_ids_available(struct producer_ids *p)
{
	pthread_mutex_lock(&p->lock);
	bool ok = p->next <= p->last;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int16_t producer_ids_refill(struct producer_ids *p)
{
	pthread_mutex_lock(&p->refill_lock);
	int16_t err = KERR_NONE;
	if (!producer_ids_available(p)) {
		struct kafka_producer_id_block blk;
		int rc = kafka_zk_claim_producer_id_block(p->zk, p->broker_id, &blk);
		if (rc == ZOK) {
			pthread_mutex_lock(&p->lock);
			p->next = blk.first;
			p->last = blk.last;
			pthread_mutex_unlock(&p->lock);
		} else {
			log_warn("No producer id block could be claimed (%d)", rc);
			err = KERR_UNKNOWN_SERVER_ERROR;
		}
	}
	pthread_mutex_unlock(&p->refill_lock);
	return err;
}
