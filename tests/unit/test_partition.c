/*
 * The partition object on a real log in a temp dir, without ZooKeeper or a
 * socket: the high-watermark rules (the ISR minimum, never backwards, an
 * unheard ISR member holds it), ISR expansion and shrink as queued changes,
 * min.insync.replicas, epoch fencing of reads, leases and LeaderAndIsr, and
 * the demotion race: appends racing a LeaderAndIsr that makes us follower
 * land before it or get NOT_LEADER_OR_FOLLOWER, never after it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "samsa/log.h"
#include "samsa/proto.h"
#include "samsa/replica.h"
#include "samsa/util/buf.h"
#include "samsa/util/clock.h"
#include "samsa/util/xalloc.h"

#define ME 1

/* What the partition told its owner. */
struct owner {
	atomic_int changed;
	int queued;
	int32_t last_isr[8];
	int last_n;
	int32_t last_epoch;
};

static void on_changed(void *arg, const char *topic, size_t len, int32_t partition)
{
	(void)topic;
	(void)len;
	(void)partition;
	atomic_fetch_add(&((struct owner *)arg)->changed, 1);
}

static void on_queue(void *arg, struct partition *p, int32_t epoch, const int32_t *isr, int n)
{
	(void)p;
	struct owner *o = arg;
	o->queued++;
	o->last_n = n;
	o->last_epoch = epoch;
	memcpy(o->last_isr, isr, sizeof *isr * (size_t)n);
}

struct fixture {
	char root[64];
	struct log_manager *lm;
	struct log_ref *log; /* handed to the partition by the first become() */
	struct owner owner;
	struct partition_hooks hooks;
	struct partition *p;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	strcpy(f->root, "/tmp/samsa-parttest-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	char *dirs[] = { f->root };
	struct log_manager_config lc = { .dirs = dirs, .n_dirs = 1, .broker_id = ME, .cluster_id = "parttest-cluster-id0",
					 .retention_check_interval_ms = 300000, .flush_scheduler_interval_ms = 300000,
					 .flush_checkpoint_interval_ms = 60000,
					 .flush_start_offset_checkpoint_interval_ms = 60000,
					 .hw_checkpoint_interval_ms = 5000 };
	log_config_init(&lc.defaults);
	lc.defaults.min_insync_replicas = 2;
	f->lm = log_manager_open(&lc);
	if (!f->lm || log_manager_get_or_create(f->lm, "t", 1, 0, NULL, NULL, &f->log) != KERR_NONE)
		return -1;
	f->hooks = (struct partition_hooks){ ME, on_changed, on_queue, &f->owner };
	f->p = partition_new(&f->hooks, "t", 1, 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	partition_unref(f->p);
	log_ref_put(f->log);
	log_manager_shutdown(f->lm);
	char *cmd = xasprintf("rm -rf '%s'", f->root);
	int rc = system(cmd);
	free(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static void become(struct fixture *f, int32_t leader, int32_t epoch, const int32_t *isr, int n_isr,
		   const int32_t *replicas, int n_replicas, int16_t want)
{
	struct partition_update u = { .index = 0, .controller_epoch = 1, .leader = leader, .leader_epoch = epoch,
				      .partition_epoch = epoch, .isr = isr, .n_isr = n_isr, .replicas = replicas,
				      .n_replicas = n_replicas };
	bool leads;
	struct log_ref *ref = f->log;
	f->log = NULL; /* the partition keeps the first one */
	assert_int_equal(partition_make_leader_or_follower(f->p, NULL, &u, ref, &leads), want);
	if (want == KERR_NONE)
		assert_int_equal(leads, leader == ME);
}

/* One batch of n records. */
static size_t make_batch(struct wbuf *w, int n)
{
	struct batch_builder b;
	wbuf_reset(w);
	batch_builder_begin(&b, w, NULL);
	for (int i = 0; i < n; i++)
		batch_builder_add(&b, wall_clock_ms(), (struct kbytes){ NULL, -1 }, (struct kbytes){ (const uint8_t *)"v", 1 },
				  NULL, 0);
	return batch_builder_finish(&b);
}

static int16_t append(struct fixture *f, int n, int16_t acks, int64_t *wait)
{
	struct wbuf w;
	wbuf_init(&w);
	size_t len = make_batch(&w, n);
	struct log_append_info ai;
	int64_t ignored;
	int16_t err = partition_append_as_leader(f->p, w.data, len, acks, wall_clock_ms(), &ai, wait ? wait : &ignored);
	wbuf_free(&w);
	return err;
}

static int64_t hw(struct fixture *f)
{
	struct partition_lease l;
	assert_int_equal(partition_lease_leader(f->p, -1, &l), KERR_NONE);
	int64_t v = log_high_watermark(l.log);
	partition_lease_release(&l);
	return v;
}

/* A follower's fetch from offset; returns the read's error. */
static int16_t follower_fetch(struct fixture *f, int32_t id, int64_t offset, int32_t last_epoch)
{
	struct partition_fetch pf = { .fetch_offset = offset, .max_bytes = 1 << 20, .min_one = true,
				      .current_leader_epoch = -1, .replica_id = id, .last_fetched_epoch = last_epoch };
	struct log_read_result r;
	int32_t de;
	int64_t deo;
	int16_t err = partition_read(f->p, &pf, &r, &de, &deo);
	log_read_release(&r);
	return err;
}

static const int32_t three[] = { 1, 2, 3 };

static void test_hw_is_the_isr_minimum(void **state)
{
	struct fixture *f = *state;
	become(f, ME, 1, three, 3, three, 3, KERR_NONE);
	int64_t wait;
	assert_int_equal(append(f, 3, -1, &wait), KERR_NONE);
	assert_int_equal(wait, 3);
	assert_int_equal(hw(f), 0); /* nobody else has it */
	int16_t e;
	assert_false(partition_acks_done(f->p, 3, &e));

	assert_int_equal(follower_fetch(f, 2, 3, 1), KERR_NONE);
	assert_int_equal(hw(f), 0); /* broker 3 not heard from under this leader: it holds the HW back */
	assert_int_equal(follower_fetch(f, 3, 2, 1), KERR_NONE);
	assert_int_equal(hw(f), 2);
	assert_int_equal(follower_fetch(f, 3, 1, 1), KERR_NONE);
	assert_int_equal(hw(f), 2); /* never backwards */
	assert_int_equal(follower_fetch(f, 3, 3, 1), KERR_NONE);
	assert_int_equal(hw(f), 3);
	assert_true(partition_acks_done(f->p, 3, &e));
	assert_int_equal(e, KERR_NONE);
	assert_true(atomic_load(&f->owner.changed) >= 3); /* the append and each HW move */
	assert_int_equal(follower_fetch(f, 9, 0, 1), KERR_NOT_LEADER_OR_FOLLOWER); /* not a replica */
}

static void test_min_isr_refuses_before_writing(void **state)
{
	struct fixture *f = *state;
	const int32_t alone[] = { 1 };
	become(f, ME, 1, alone, 1, three, 3, KERR_NONE);
	int64_t wait;
	assert_int_equal(append(f, 2, -1, &wait), KERR_NOT_ENOUGH_REPLICAS);
	assert_int_equal(append(f, 2, 1, &wait), KERR_NONE); /* acks=1 does not ask */
	assert_int_equal(wait, -1);                            /* alone in the ISR: the HW moved already */
	assert_int_equal(hw(f), 2);
}

static void test_expand_and_shrink_are_queued_once(void **state)
{
	struct fixture *f = *state;
	const int32_t two[] = { 1, 2 };
	become(f, ME, 4, two, 2, three, 3, KERR_NONE);
	assert_int_equal(append(f, 5, 1, NULL), KERR_NONE);
	assert_int_equal(follower_fetch(f, 2, 5, 4), KERR_NONE);
	assert_int_equal(hw(f), 5);
	/* Broker 3, out of the ISR, below the HW: not yet. */
	assert_int_equal(follower_fetch(f, 3, 4, 4), KERR_NONE);
	assert_int_equal(f->owner.queued, 0);
	/* At the HW: an expansion is queued, once. */
	assert_int_equal(follower_fetch(f, 3, 5, 4), KERR_NONE);
	assert_int_equal(f->owner.queued, 1);
	assert_int_equal(f->owner.last_n, 3);
	assert_int_equal(f->owner.last_isr[2], 3);
	assert_int_equal(f->owner.last_epoch, 4);
	assert_int_equal(follower_fetch(f, 3, 5, 4), KERR_NONE);
	assert_int_equal(f->owner.queued, 1);
	int32_t ver, cepoch;
	assert_true(partition_isr_write_begin(f->p, 4, &ver, &cepoch));
	assert_int_equal(ver, 4);
	partition_isr_write_end(f->p, 4, 0, f->owner.last_isr, 3, 17);
	int32_t isr[8];
	assert_int_equal(partition_isr(f->p, isr, 8), 3);

	/* Broker 2 stops fetching: once past the lag bound it is shrunk out. */
	partition_maybe_shrink_isr(f->p, wall_clock_ms(), 60000);
	assert_int_equal(f->owner.queued, 1);
	partition_maybe_shrink_isr(f->p, wall_clock_ms() + 120000, 60000);
	assert_int_equal(f->owner.queued, 2);
	assert_int_equal(f->owner.last_n, 1); /* both followers are lagging by then */
	assert_int_equal(f->owner.last_isr[0], ME);
	/* A change for an epoch we no longer lead at is dropped. */
	assert_false(partition_isr_write_begin(f->p, 3, &ver, &cepoch));
	/* The znode moved under us (rc 1): the ISR stays. */
	partition_isr_write_end(f->p, 4, 1, f->owner.last_isr, 1, 18);
	assert_int_equal(partition_isr(f->p, isr, 8), 3);
}

static void test_epochs_fence_reads_and_leases(void **state)
{
	struct fixture *f = *state;
	become(f, ME, 5, three, 3, three, 3, KERR_NONE);
	struct partition_lease l;
	assert_int_equal(partition_lease_leader(f->p, 4, &l), KERR_FENCED_LEADER_EPOCH);
	assert_int_equal(partition_lease_leader(f->p, 6, &l), KERR_UNKNOWN_LEADER_EPOCH);
	assert_int_equal(partition_lease_leader(f->p, 5, &l), KERR_NONE);
	partition_lease_release(&l);
	assert_int_equal(partition_lease_follower(f->p, 5, &l), KERR_NOT_LEADER_OR_FOLLOWER);

	/* An older LeaderAndIsr is refused; a newer one makes us follower of 2. */
	become(f, 2, 4, three, 3, three, 3, KERR_STALE_CONTROLLER_EPOCH);
	assert_int_equal(append(f, 1, 1, NULL), KERR_NONE);
	become(f, 2, 6, three, 3, three, 3, KERR_NONE);
	assert_int_equal(append(f, 1, 1, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
	assert_int_equal(partition_lease_follower(f->p, 5, &l), KERR_FENCED_LEADER_EPOCH); /* a fetch made before */
	assert_int_equal(partition_lease_follower(f->p, 6, &l), KERR_NONE);
	assert_int_equal(log_end_offset(l.log), 1);
	partition_lease_release(&l);

	/* Stopped: nothing more in or out. */
	assert_int_equal(partition_stop(f->p, 5), KERR_FENCED_LEADER_EPOCH);
	assert_int_equal(partition_stop(f->p, -2), KERR_NONE);
	assert_int_equal(partition_lease_follower(f->p, 6, &l), KERR_NOT_LEADER_OR_FOLLOWER);
	assert_int_equal(append(f, 1, 1, NULL), KERR_NOT_LEADER_OR_FOLLOWER);
}

static void test_diverging_follower_is_told_where(void **state)
{
	struct fixture *f = *state;
	become(f, ME, 3, three, 3, three, 3, KERR_NONE);
	assert_int_equal(append(f, 4, 1, NULL), KERR_NONE); /* epoch 3 starts at 0 */
	struct partition_fetch pf = { .fetch_offset = 6, .max_bytes = 1 << 20, .min_one = true,
				      .current_leader_epoch = 3, .replica_id = 2, .last_fetched_epoch = 3 };
	struct log_read_result r;
	int32_t de;
	int64_t deo;
	assert_int_equal(partition_read(f->p, &pf, &r, &de, &deo), KERR_NONE);
	assert_int_equal(de, 3);
	assert_int_equal(deo, 4); /* its epoch 3 ends at our LEO, below its 6 */
	assert_null(r.segment);
	log_read_release(&r);
}

/* --- the demotion race --------------------------------------------------------------- */

struct racer {
	struct fixture *f;
	atomic_bool *demoted;
	int ok_after;      /* appends that succeeded after the demotion returned */
	int refused;
	int64_t max_last;  /* the highest offset an accepted append got */
};

static void *race_appends(void *arg)
{
	struct racer *r = arg;
	struct wbuf w;
	wbuf_init(&w);
	r->max_last = -1;
	for (;;) {
		size_t len = make_batch(&w, 1);
		struct log_append_info ai;
		int64_t wait;
		bool demoted_before = atomic_load(r->demoted);
		int16_t err = partition_append_as_leader(r->f->p, w.data, len, 1, wall_clock_ms(), &ai, &wait);
		if (err == KERR_NONE) {
			if (demoted_before)
				r->ok_after++;
			if (ai.last_offset > r->max_last)
				r->max_last = ai.last_offset;
		} else {
			assert_int_equal(err, KERR_NOT_LEADER_OR_FOLLOWER);
			r->refused++;
			break;
		}
	}
	wbuf_free(&w);
	return NULL;
}

static void test_demotion_races_appends(void **state)
{
	struct fixture *f = *state;
	const int32_t alone[] = { 1 };
	become(f, ME, 1, alone, 1, three, 3, KERR_NONE);
	atomic_bool demoted;
	atomic_init(&demoted, false);
	struct racer rs[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		rs[i] = (struct racer){ .f = f, .demoted = &demoted };
		pthread_create(&th[i], NULL, race_appends, &rs[i]);
	}
	usleep(20000);
	become(f, 2, 2, three, 3, three, 3, KERR_NONE);
	atomic_store(&demoted, true);
	struct partition_lease l;
	assert_int_equal(partition_lease_follower(f->p, 2, &l), KERR_NONE);
	int64_t leo_at_demotion = log_end_offset(l.log);
	partition_lease_release(&l);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(partition_lease_follower(f->p, 2, &l), KERR_NONE);
	assert_int_equal(log_end_offset(l.log), leo_at_demotion); /* nothing landed after it */
	partition_lease_release(&l);
	assert_true(leo_at_demotion > 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rs[i].ok_after, 0);
		assert_int_equal(rs[i].refused, 1);
		assert_true(rs[i].max_last < leo_at_demotion);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_hw_is_the_isr_minimum, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_isr_refuses_before_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expand_and_shrink_are_queued_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_epochs_fence_reads_and_leases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_diverging_follower_is_told_where, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demotion_races_appends, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
