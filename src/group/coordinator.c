/*
 * The coordinator's plumbing: which __consumer_offsets partitions we own,
 * loading their groups from the log when we become leader, dropping them
 * when we stop, appending records, and the thread that enforces deadlines
 * (session timeouts, delayed joins, offset expiry).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "group/group_internal.h"
#include "samsa/config.h"
#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

int32_t group_partition_for(const struct group_coordinator *gc, const char *id, size_t len)
{
	return coord_partitions_for(&gc->cp, id, len);
}

int32_t group_coordinator_partition_for(const struct group_coordinator *gc, const char *group, size_t len)
{
	return group_partition_for(gc, group, len);
}

int32_t group_coordinator_topic_num_partitions(const struct group_coordinator *gc) { return gc->cfg.n_partitions; }
int16_t group_coordinator_replication_factor(const struct group_coordinator *gc)
{
	return gc->cfg.replication_factor;
}
int32_t group_coordinator_segment_bytes(const struct group_coordinator *gc) { return gc->cfg.segment_bytes; }

int16_t group_owner_error(struct group_coordinator *gc, const char *id, size_t len)
{
	if (!gc->running)
		return KERR_COORDINATOR_NOT_AVAILABLE;
	const struct coord_part *p = coord_partitions_owner(&gc->cp, id, len, NULL);
	if (!p)
		return KERR_NOT_COORDINATOR;
	switch (p->state) {
	case PART_OWNED: return KERR_NONE;
	case PART_LOADING: return KERR_COORDINATOR_LOAD_IN_PROGRESS;
	default: return KERR_NOT_COORDINATOR;
	}
}

void reply_add(struct reply_list *rl, struct group_request *req, void *resp)
{
	if (rl->n == rl->cap) {
		rl->cap = rl->cap ? rl->cap * 2 : 8;
		rl->r = xrealloc(rl->r, sizeof *rl->r * (size_t)rl->cap);
	}
	rl->r[rl->n++] = (struct reply){ req, resp };
}

void reply_send(struct reply_list *rl)
{
	for (int i = 0; i < rl->n; i++)
		group_respond(rl->r[i].req, rl->r[i].resp);
	free(rl->r);
	rl->r = NULL;
	rl->n = rl->cap = 0;
}

void group_kick(struct group_coordinator *gc) { pthread_cond_signal(&gc->wake); }

int group_append(struct group_coordinator *gc, int32_t partition, struct wbuf *records)
{
	return group_append_replicated(gc, partition, records, NULL);
}

int group_append_replicated(struct group_coordinator *gc, int32_t partition, struct wbuf *records,
			    int64_t *required)
{
	if (required)
		*required = -1;
	if (gc->cp.parts[partition].state != PART_OWNED)
		return KERR_NOT_COORDINATOR;
	/*
	 * The group lock stays held across this page-cache write: releasing it would let a
	 * partition unload free the group the caller holds, and would let two writes reach
	 * the log in another order than memory saw them.  The write is one pwrite of a few
	 * hundred bytes (no fsync unless flush.messages asks for one).
	 */
	int64_t wait_offset = -1;
	int err = gc->host.append(gc->host.arg, partition, records->data, records->len, &wait_offset);
	if (err == KERR_NONE && required)
		*required = wait_offset;
	if (err == KERR_NOT_LEADER_OR_FOLLOWER || err == KERR_UNKNOWN_TOPIC_OR_PARTITION ||
	    err == KERR_FENCED_LEADER_EPOCH)
		err = KERR_NOT_COORDINATOR;
	else if (err != KERR_NONE) {
		log_warn("Group coordinator: writing to %s-%d failed: %s", GROUP_OFFSETS_TOPIC, partition,
			 kafka_error_name((int16_t)err));
		err = KERR_UNKNOWN_SERVER_ERROR;
	}
	return err;
}

/* --- loading --------------------------------------------------------------------------- */

/* Groups and offsets read from one partition, before they are installed. */
struct loaded {
	struct group **groups;
	int n, cap;
	int32_t partition;
	int64_t txn_pid; /* the batch being read is this producer's transactional one (-1: not) */
};

static struct group *loaded_group(struct loaded *ld, const char *id, bool create)
{
	for (int i = 0; i < ld->n; i++)
		if (strcmp(ld->groups[i]->id, id) == 0)
			return ld->groups[i];
	if (!create)
		return NULL;
	if (ld->n == ld->cap) {
		ld->cap = ld->cap ? ld->cap * 2 : 16;
		ld->groups = xrealloc(ld->groups, sizeof *ld->groups * (size_t)ld->cap);
	}
	struct group *g = xcalloc(1, sizeof *g);
	g->id = xstrdup(id);
	g->state = GROUP_EMPTY;
	g->state_ts = -1;
	ld->groups[ld->n++] = g;
	return g;
}

static void on_offset(void *arg, const char *group, const char *topic, int32_t partition,
		      const struct committed_offset *o)
{
	struct loaded *ld = arg;
	if (ld->txn_pid >= 0) {
		/* A transactional commit: pending until its producer's marker follows in the log. */
		struct group *tg = o ? loaded_group(ld, group, true) : NULL;
		if (tg) {
			struct committed_offset copy = *o;
			copy.topic = (char *)topic;
			group_txn_offset_put(tg, ld->txn_pid, &copy);
		}
		return;
	}
	struct group *g = loaded_group(ld, group, o != NULL);
	if (!g)
		return;
	struct committed_offset *slot = group_offset(g, topic, strlen(topic), partition, o != NULL);
	if (!o) {
		if (slot)
			group_drop_offset(g, slot);
		return;
	}
	free(slot->metadata);
	slot->offset = o->offset;
	slot->leader_epoch = o->leader_epoch;
	slot->metadata = o->metadata ? xstrdup(o->metadata) : NULL;
	slot->commit_ts = o->commit_ts;
	slot->expire_ts = o->expire_ts;
}

/* A group record replaces the group's membership; its offsets stay (they have their own records). */
static void on_group(void *arg, const char *id, const struct group *rec)
{
	struct loaded *ld = arg;
	struct group *g = loaded_group(ld, id, rec != NULL);
	if (!g)
		return;
	struct group *fresh = (struct group *)rec;
	if (!fresh) {
		/* Tombstone: the group is gone, offsets included (Kafka writes their tombstones too). */
		for (int i = 0; i < ld->n; i++)
			if (ld->groups[i] == g) {
				ld->groups[i] = ld->groups[--ld->n];
				break;
			}
		group_free(g);
		return;
	}
	fresh->offsets = g->offsets;
	fresh->n_offsets = g->n_offsets;
	g->offsets = NULL;
	g->n_offsets = 0;
	fresh->txn_offsets = g->txn_offsets;
	fresh->n_txn_offsets = g->n_txn_offsets;
	g->txn_offsets = NULL;
	g->n_txn_offsets = 0;
	for (int i = 0; i < ld->n; i++)
		if (ld->groups[i] == g)
			ld->groups[i] = fresh;
	group_free(g);
}

/* A control batch: its transaction marker settles the producer's pending offsets. */
static void load_control(const struct record_batch *b, struct loaded *ld)
{
	struct record_iter it;
	struct record rec;
	record_iter_init(&it, record_batch_records(b), record_batch_records_len(b), b->record_count);
	if (!record_iter_next(&it, &rec) || !rec.key.ptr || rec.key.len < 4)
		return;
	int16_t type = (int16_t)(rec.key.ptr[2] << 8 | rec.key.ptr[3]);
	if (type != 0 && type != 1)
		return;
	for (int i = 0; i < ld->n; i++)
		(void)group_txn_offsets_complete(ld->groups[i], b->producer_id, type == 1);
}

/* Every record of one batch into the sink; control batches settle transactional offsets. */
static void load_batch(const uint8_t *p, uint32_t size, struct wbuf *plain, const struct group_record_sink *sink)
{
	struct record_batch b;
	struct loaded *ld = sink->arg;
	if (record_batch_parse(p, size, &b) != KERR_NONE)
		return;
	if (record_batch_is_control(&b)) {
		load_control(&b, ld);
		return;
	}
	ld->txn_pid = record_batch_is_transactional(&b) ? b.producer_id : -1;
	const uint8_t *recs = record_batch_records(&b);
	size_t len = record_batch_records_len(&b);
	if (record_batch_codec(&b) != COMPRESSION_NONE) {
		wbuf_reset(plain);
		if (compression_decompress((enum compression_codec)record_batch_codec(&b), recs, len, plain,
					   (size_t)256 << 20) != KERR_NONE)
			return;
		recs = plain->data;
		len = plain->len;
	}
	struct record_iter it;
	struct record rec;
	record_iter_init(&it, recs, len, b.record_count);
	while (record_iter_next(&it, &rec))
		records_decode(rec.key.ptr, rec.key.len, rec.value.ptr, rec.value.len, sink);
	ld->txn_pid = -1;
}

/* Read the whole partition log (we lead it, so it is ours to read) into ld. */
static int load_partition(struct group_coordinator *gc, int32_t partition, struct loaded *ld)
{
	struct group_record_sink sink = { ld, on_offset, on_group };
	struct wbuf buf, plain;
	wbuf_init(&buf);
	wbuf_init(&plain);
	int64_t offset = -1;
	int err;
	for (;;) {
		int64_t log_start = -1;
		err = gc->host.read(gc->host.arg, partition, offset, (size_t)1 << 20, &buf, &log_start);
		if (offset < 0 && err == KERR_OFFSET_OUT_OF_RANGE && log_start >= 0) {
			offset = log_start; /* the first read only learns where the log starts */
			continue;
		}
		if (err != KERR_NONE || buf.len == 0)
			break;
		size_t pos = 0, n = buf.len;
		int64_t next = offset;
		while (pos < n) {
			int64_t base;
			uint32_t size;
			int8_t magic;
			if (!record_batch_peek(buf.data + pos, n - pos, &base, &size, &magic) || size > n - pos)
				break;
			struct record_batch b;
			if (record_batch_parse(buf.data + pos, size, &b) == KERR_NONE) {
				if (record_batch_next_offset(&b) > offset)
					load_batch(buf.data + pos, size, &plain, &sink);
				next = record_batch_next_offset(&b);
			}
			pos += size;
		}
		if (next <= offset)
			break; /* no whole batch: nothing more to read */
		offset = next;
	}
	wbuf_free(&buf);
	wbuf_free(&plain);
	return err;
}

static void install(struct group_coordinator *gc, struct loaded *ld, int64_t now)
{
	for (int i = 0; i < ld->n; i++) {
		struct group *g = ld->groups[i];
		ld->groups[i] = NULL;
		if (g->n_members == 0 && g->n_offsets == 0 && g->generation == 0 && g->n_txn_offsets == 0) {
			group_free(g);
			continue;
		}
		g->partition = ld->partition;
		if (g->state_ts < 0)
			g->state_ts = now;
		/* Loaded members must heartbeat within their session timeout, or leave. */
		for (int j = 0; j < g->n_members; j++)
			g->members[j]->heartbeat_deadline = now + g->members[j]->session_timeout_ms;
		struct group *old = group_find(gc, g->id, strlen(g->id));
		if (old)
			group_remove(gc, old);
		bool found;
		(void)found;
		struct group *slot = group_add(gc, g->id, strlen(g->id), ld->partition);
		/* Swap the placeholder for the loaded group. */
		for (int k = 0; k < gc->n_groups; k++)
			if (gc->groups[k] == slot) {
				gc->groups[k] = g;
				break;
			}
		group_free(slot);
	}
	free(ld->groups);
	ld->groups = NULL;
	ld->n = ld->cap = 0;
}

static void drop_partition(struct group_coordinator *gc, int32_t partition, struct reply_list *rl)
{
	for (int i = 0; i < gc->n_groups;) {
		struct group *g = gc->groups[i];
		if (g->partition != partition) {
			i++;
			continue;
		}
		membership_abort(g, KERR_NOT_COORDINATOR, rl);
		group_remove(gc, g);
	}
}

static void run_job(struct group_coordinator *gc, struct coord_load_job job, struct reply_list *rl)
{
	/* Called with the lock held. */
	struct coord_part *op = &gc->cp.parts[job.partition];
	if (!job.elect) {
		if (op->state == PART_NOT_OWNED) {
			drop_partition(gc, job.partition, rl);
			op->state = PART_NOT_OWNED;
			log_info("Group coordinator: unloaded %s-%d", GROUP_OFFSETS_TOPIC, job.partition);
		}
		return;
	}
	if (op->state != PART_LOADING || op->leader_epoch != job.epoch)
		return;
	pthread_mutex_unlock(&gc->lock);
	int64_t t0 = wall_clock_ms();
	struct loaded ld = { .partition = job.partition, .txn_pid = -1 };
	int err = load_partition(gc, job.partition, &ld);
	pthread_mutex_lock(&gc->lock);
	if (op->state != PART_LOADING || op->leader_epoch != job.epoch) {
		for (int i = 0; i < ld.n; i++)
			group_free(ld.groups[i]);
		free(ld.groups);
		return;
	}
	if (err != KERR_NONE) {
		log_warn("Group coordinator: loading %s-%d failed: %s; will retry", GROUP_OFFSETS_TOPIC, job.partition,
			 kafka_error_name((int16_t)err));
		for (int i = 0; i < ld.n; i++)
			group_free(ld.groups[i]);
		free(ld.groups);
		/* Try again shortly: the log may not be open yet. */
		coord_partitions_push_job(&gc->cp, job);
		return;
	}
	int n = ld.n;
	drop_partition(gc, job.partition, rl);
	install(gc, &ld, wall_clock_ms());
	op->state = PART_OWNED;
	log_info("Group coordinator: loaded %d groups from %s-%d in %" PRId64 " ms", n, GROUP_OFFSETS_TOPIC,
		 job.partition, wall_clock_ms() - t0);
}

static void *coordinator_main(void *arg)
{
	struct group_coordinator *gc = arg;
	pthread_mutex_lock(&gc->lock);
	while (!gc->stop) {
		struct reply_list rl = { 0 };
		bool retry = false;
		int n = gc->cp.n_jobs;
		struct coord_load_job job;
		for (int i = 0; i < n && !gc->stop && coord_partitions_pop_job(&gc->cp, &job); i++)
			run_job(gc, job, &rl);
		if (gc->cp.n_jobs > 0)
			retry = true;
		int64_t now = wall_clock_ms();
		int64_t next = membership_tick(gc, now, &rl);
		if (now >= gc->next_expiry_check) {
			offsets_expire(gc, now);
			gc->next_expiry_check = now + gc->cfg.retention_check_ms;
		}
		if (gc->next_expiry_check < next)
			next = gc->next_expiry_check;
		if (retry && next > now + 200)
			next = now + 200;
		if (rl.n > 0) {
			pthread_mutex_unlock(&gc->lock);
			reply_send(&rl);
			pthread_mutex_lock(&gc->lock);
			continue;
		}
		if (gc->stop || gc->cp.n_jobs > n)
			continue;
		struct timespec ts = { .tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000 };
		if (next > now)
			pthread_cond_timedwait(&gc->wake, &gc->lock, &ts);
	}
	pthread_mutex_unlock(&gc->lock);
	return NULL;
}

struct group_coordinator *group_coordinator_new(const struct config *c, const struct group_host *host)
{
	struct group_coordinator *gc = xcalloc(1, sizeof *gc);
	pthread_mutex_init(&gc->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&gc->wake, &ca);
	pthread_condattr_destroy(&ca);
	gc->host = *host;
	gc->cfg.n_partitions = config_int(c, "offsets.topic.num.partitions");
	gc->cfg.replication_factor = (int16_t)config_int(c, "offsets.topic.replication.factor");
	gc->cfg.segment_bytes = config_int(c, "offsets.topic.segment.bytes");
	gc->cfg.min_session_ms = config_int(c, "group.min.session.timeout.ms");
	gc->cfg.max_session_ms = config_int(c, "group.max.session.timeout.ms");
	gc->cfg.initial_delay_ms = config_int(c, "group.initial.rebalance.delay.ms");
	gc->cfg.max_size = config_int(c, "group.max.size");
	gc->cfg.max_metadata_bytes = config_int(c, "offset.metadata.max.bytes");
	gc->cfg.commit_timeout_ms = config_int(c, "offsets.commit.timeout.ms");
	gc->cfg.retention_ms = (int64_t)config_int(c, "offsets.retention.minutes") * 60 * 1000;
	gc->cfg.retention_check_ms = config_long(c, "offsets.retention.check.interval.ms");
	if (gc->cfg.n_partitions <= 0)
		gc->cfg.n_partitions = 50;
	coord_partitions_init(&gc->cp, gc->cfg.n_partitions);
	gc->next_expiry_check = wall_clock_ms() + gc->cfg.retention_check_ms;
	return gc;
}

void group_coordinator_start(struct group_coordinator *gc)
{
	pthread_mutex_lock(&gc->lock);
	gc->running = true;
	pthread_mutex_unlock(&gc->lock);
	pthread_create(&gc->thread, NULL, coordinator_main, gc);
}

void group_coordinator_stop(struct group_coordinator *gc)
{
	if (!gc)
		return;
	struct reply_list rl = { 0 };
	pthread_mutex_lock(&gc->lock);
	bool was_running = gc->running;
	gc->stop = true;
	gc->running = false;
	for (int i = 0; i < gc->n_groups; i++)
		membership_abort(gc->groups[i], KERR_NOT_COORDINATOR, &rl);
	pthread_cond_signal(&gc->wake);
	pthread_mutex_unlock(&gc->lock);
	reply_send(&rl);
	if (was_running)
		pthread_join(gc->thread, NULL);
}

void group_coordinator_free(struct group_coordinator *gc)
{
	if (!gc)
		return;
	for (int i = 0; i < gc->n_groups; i++)
		group_free(gc->groups[i]);
	free(gc->groups);
	coord_partitions_free(&gc->cp);
	pthread_cond_destroy(&gc->wake);
	pthread_mutex_destroy(&gc->lock);
	free(gc);
}

void group_coordinator_on_leadership(struct group_coordinator *gc, int32_t partition, bool leader,
				     int32_t leader_epoch)
{
	if (!gc || partition < 0)
		return;
	pthread_mutex_lock(&gc->lock);
	if (coord_partitions_on_leadership(&gc->cp, partition, leader, leader_epoch))
		pthread_cond_signal(&gc->wake);
	pthread_mutex_unlock(&gc->lock);
}

void group_coordinator_set_topic_partitions(struct group_coordinator *gc, int32_t n)
{
	if (!gc || n <= 0)
		return;
	/* Every UpdateMetadata calls this; the usual case needs no lock. */
	if (coord_partitions_count_is(&gc->cp, n))
		return;
	pthread_mutex_lock(&gc->lock);
	switch (coord_partitions_set_count(&gc->cp, n)) {
	case COORD_COUNT_FIRST:
		if (n != gc->cfg.n_partitions)
			log_info("Group coordinator: %s has %d partitions (offsets.topic.num.partitions is %d); groups map onto %d",
				 GROUP_OFFSETS_TOPIC, n, gc->cfg.n_partitions, n);
		break;
	case COORD_COUNT_CHANGED:
		log_warn("Group coordinator: %s now has %d partitions; groups keep mapping onto %d until a restart",
			 GROUP_OFFSETS_TOPIC, n, gc->cp.n_partitions);
		break;
	case COORD_COUNT_SAME: break;
	}
	pthread_mutex_unlock(&gc->lock);
}
