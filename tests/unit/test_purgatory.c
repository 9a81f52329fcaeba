/*
 * The purgatory: an operation completes when a key it watches is checked and
 * not for another key; exactly once when two threads check its two keys at
 * the same moment; at its deadline, in deadline order, with no check at all
 * (100,000 of them too); on stop; at once when added after stop or already
 * satisfied when added; and a check made from inside a try function or a
 * deadline that comes while another thread tries are handed over, not lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samsa/purgatory.h"
#include "samsa/util/clock.h"

struct test_op {
	atomic_bool ready;
	atomic_int tries;
	atomic_int completions;
	atomic_int in_try;
	atomic_bool overlap;   /* two threads were in its try function at once */
	atomic_bool slow;      /* the next unexpired try takes slow_ms */
	int slow_ms;
	bool expired;          /* how it completed */
	int64_t deadline_ms;
	int64_t done_ms;
	pthread_t done_by;
	struct purgatory *p;   /* with then_check: checked from inside the try */
	const struct purgatory_key *then_check;
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

static bool try_op(void *arg, bool expired)
{
	struct test_op *o = arg;
	atomic_fetch_add(&o->tries, 1);
	if (atomic_fetch_add(&o->in_try, 1) > 0)
		atomic_store(&o->overlap, true);
	bool done = false;
	if (!expired && atomic_exchange(&o->slow, false))
		sleep_ms(o->slow_ms);
	if (expired || atomic_load(&o->ready)) {
		if (o->then_check)
			purgatory_check_and_complete(o->p, o->then_check);
		o->expired = expired;
		o->done_ms = wall_clock_ms();
		o->done_by = pthread_self();
		atomic_fetch_add(&o->completions, 1);
		done = true;
	}
	atomic_fetch_sub(&o->in_try, 1);
	return done;
}

static struct test_op *op_new(int64_t deadline_ms)
{
	struct test_op *o = calloc(1, sizeof *o);
	o->deadline_ms = deadline_ms;
	return o;
}

static bool wait_empty(struct purgatory *p, int timeout_ms)
{
	int64_t until = wall_clock_ms() + timeout_ms;
	while (purgatory_size(p) > 0) {
		if (wall_clock_ms() > until)
			return false;
		sleep_ms(1);
	}
	return true;
}

static void test_completes_on_its_key_only(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	struct purgatory_key k = purgatory_partition_key("orders", 6, 3);
	struct test_op *o = op_new(wall_clock_ms() + 60000);
	purgatory_add(p, o, o->deadline_ms, try_op, &k, 1);
	assert_int_equal(atomic_load(&o->tries), 1); /* tried once after parking */
	assert_int_equal(purgatory_size(p), 1);
	assert_int_equal(purgatory_watched_keys(p), 1);

	atomic_store(&o->ready, true);
	struct purgatory_key others[] = {
		purgatory_partition_key("orders", 6, 4),
		purgatory_partition_key("orderz", 6, 3),
		purgatory_partition_key("order", 5, 3),
		purgatory_group_key("orders", 6),
	};
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		purgatory_check_and_complete(p, &others[i]);
	assert_int_equal(atomic_load(&o->tries), 1);
	assert_int_equal(atomic_load(&o->completions), 0);

	/* A copy of the key, not the same pointer: keys compare by value. */
	char name[] = "orders";
	struct purgatory_key same = purgatory_partition_key(name, 6, 3);
	purgatory_check_and_complete(p, &same);
	assert_int_equal(atomic_load(&o->completions), 1);
	assert_false(o->expired);
	assert_int_equal(purgatory_size(p), 0);
	assert_int_equal(purgatory_watched_keys(p), 0); /* the emptied list is gone */

	purgatory_check_and_complete(p, &same); /* nothing watches it any more */
	assert_int_equal(atomic_load(&o->tries), 2);
	purgatory_free(p);
	free(o);
}

/* Two threads, each checking one of the two keys of the same op, released together. */
struct checker {
	pthread_barrier_t *start, *end;
	struct purgatory *p;
	struct purgatory_key key;
	int rounds;
};

static void *checker_main(void *arg)
{
	struct checker *c = arg;
	for (int i = 0; i < c->rounds; i++) {
		pthread_barrier_wait(c->start);
		purgatory_check_and_complete(c->p, &c->key);
		pthread_barrier_wait(c->end);
	}
	return NULL;
}

static void test_two_keys_two_threads_once(void **state)
{
	(void)state;
	enum { ROUNDS = 1000 };
	struct purgatory *p = purgatory_start();
	pthread_barrier_t start, end;
	pthread_barrier_init(&start, NULL, 3);
	pthread_barrier_init(&end, NULL, 3);
	struct purgatory_key keys[] = { purgatory_partition_key("t", 1, 0), purgatory_partition_key("t", 1, 1) };
	struct checker c[2] = {
		{ &start, &end, p, keys[0], ROUNDS },
		{ &start, &end, p, keys[1], ROUNDS },
	};
	pthread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, checker_main, &c[i]), 0);
	struct test_op *ops = calloc(ROUNDS, sizeof *ops);
	for (int r = 0; r < ROUNDS; r++) {
		struct test_op *o = &ops[r];
		purgatory_add(p, o, wall_clock_ms() + 60000, try_op, keys, 2);
		atomic_store(&o->ready, true);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&end);
		assert_int_equal(atomic_load(&o->completions), 1);
		assert_false(atomic_load(&o->overlap));
		assert_false(o->expired);
		assert_int_equal(purgatory_size(p), 0);
		assert_int_equal(purgatory_watched_keys(p), 0);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&end);
	purgatory_free(p);
	free(ops);
}

static void test_expires_at_deadline_in_order(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	int64_t now = wall_clock_ms();
	int offsets[] = { 50, 10, 40, 20, 30 };
	enum { N = sizeof offsets / sizeof offsets[0] };
	struct test_op *ops[N];
	struct purgatory_key k = purgatory_partition_key("t", 1, 0);
	for (int i = 0; i < N; i++) {
		ops[i] = op_new(now + offsets[i]);
		purgatory_add(p, ops[i], ops[i]->deadline_ms, try_op, &k, 1);
	}
	assert_int_equal(purgatory_size(p), N);
	assert_true(wait_empty(p, 2000));
	for (int i = 0; i < N; i++) {
		assert_int_equal(atomic_load(&ops[i]->completions), 1);
		assert_true(ops[i]->expired);
		assert_true(ops[i]->done_ms >= ops[i]->deadline_ms);
		assert_true(ops[i]->done_ms < ops[i]->deadline_ms + 500);
		for (int j = 0; j < N; j++)
			if (ops[j]->deadline_ms < ops[i]->deadline_ms)
				assert_true(ops[j]->done_ms <= ops[i]->done_ms);
	}
	assert_int_equal(purgatory_watched_keys(p), 0);
	purgatory_free(p);
	for (int i = 0; i < N; i++)
		free(ops[i]);
}

/* Expiry order for many: the deadlines each op saw when it expired, in the order they expired. */
enum { MANY = 100000 };
static int64_t expired_deadlines[MANY];
static atomic_int n_expired;
static atomic_bool release_thread, thread_held;
static pthread_t main_thread;

static bool try_record(void *arg, bool expired)
{
	struct test_op *o = arg;
	if (!expired)
		return false;
	if (o->slow_ms) {
		/* The holder: on the purgatory thread, keep it until every op is parked. */
		if (pthread_equal(pthread_self(), main_thread))
			return true; /* expired during its own add (a loaded machine): the test adds another */
		atomic_store(&thread_held, true);
		while (!atomic_load(&release_thread))
			sleep_ms(1);
		return true;
	}
	expired_deadlines[atomic_fetch_add(&n_expired, 1)] = o->deadline_ms;
	o->done_ms = wall_clock_ms();
	return true;
}

static void test_many_expire_in_order(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	int64_t now = wall_clock_ms();
	struct test_op *ops = calloc(MANY, sizeof *ops);
	struct test_op holders[10];
	memset(holders, 0, sizeof holders);
	main_thread = pthread_self();
	atomic_store(&n_expired, 0);
	atomic_store(&release_thread, false);
	atomic_store(&thread_held, false);
	/* A holder expires first and keeps the thread until all are added, so none is due before it is parked. */
	for (int h = 0; !atomic_load(&thread_held); h++) {
		assert_true(h < 10);
		holders[h].slow_ms = 1;
		purgatory_add(p, &holders[h], wall_clock_ms() + 5, try_record, NULL, 0);
		for (int w = 0; w < 1000 && purgatory_size(p) > 0 && !atomic_load(&thread_held); w++)
			sleep_ms(1);
	}
	now = wall_clock_ms();
	uint32_t x = 2463534242u;
	for (int i = 0; i < MANY; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		ops[i].deadline_ms = now + 5 + (int64_t)(x % 60);
		struct purgatory_key k = purgatory_partition_key("many", 4, (int32_t)(x % 1000));
		purgatory_add(p, &ops[i], ops[i].deadline_ms, try_record, &k, 1);
	}
	assert_true(purgatory_watched_keys(p) > 900);
	atomic_store(&release_thread, true);
	assert_true(wait_empty(p, 5000));
	assert_int_equal(atomic_load(&n_expired), MANY);
	for (int i = 1; i < MANY; i++)
		assert_true(expired_deadlines[i - 1] <= expired_deadlines[i]);
	for (int i = 0; i < MANY; i++)
		assert_true(ops[i].done_ms >= ops[i].deadline_ms);
	assert_int_equal(purgatory_watched_keys(p), 0);
	purgatory_free(p);
	free(ops);
}

static void test_stop_expires_all_then_add_completes_at_once(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	enum { N = 10 };
	struct test_op *ops[N];
	for (int i = 0; i < N; i++) {
		ops[i] = op_new(wall_clock_ms() + 60000);
		struct purgatory_key k = purgatory_group_key("g", 1);
		purgatory_add(p, ops[i], ops[i]->deadline_ms, try_op, &k, (size_t)(i % 2));
	}
	assert_int_equal(purgatory_size(p), N);
	purgatory_stop(p);
	assert_int_equal(purgatory_size(p), 0);
	assert_int_equal(purgatory_watched_keys(p), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(atomic_load(&ops[i]->completions), 1);
		assert_true(ops[i]->expired);
	}
	struct test_op *late = op_new(wall_clock_ms() + 60000);
	struct purgatory_key k = purgatory_partition_key("t", 1, 0);
	purgatory_add(p, late, late->deadline_ms, try_op, &k, 1);
	assert_int_equal(atomic_load(&late->completions), 1);
	assert_true(late->expired);
	assert_int_equal(purgatory_size(p), 0);
	purgatory_check_and_complete(p, &k);
	purgatory_check_later(p, &k);
	purgatory_free(p);
	for (int i = 0; i < N; i++)
		free(ops[i]);
	free(late);
}

/* Satisfied before it is added (the append raced ahead of parking): the try on add answers it. */
static void test_try_on_add(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	struct test_op *o = op_new(wall_clock_ms() + 60000);
	atomic_store(&o->ready, true);
	struct purgatory_key keys[] = { purgatory_partition_key("t", 1, 0), purgatory_partition_key("t", 1, 0) };
	purgatory_add(p, o, o->deadline_ms, try_op, keys, 2);
	assert_int_equal(atomic_load(&o->completions), 1);
	assert_int_equal(atomic_load(&o->tries), 1);
	assert_false(o->expired);
	assert_true(pthread_equal(o->done_by, pthread_self()));
	assert_int_equal(purgatory_size(p), 0);
	assert_int_equal(purgatory_watched_keys(p), 0);
	purgatory_free(p);
	free(o);
}

/* A check from inside a try function goes to the purgatory thread, which completes what it wakes. */
static void test_check_from_try_is_handed_over(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	struct purgatory_key ka = purgatory_partition_key("a", 1, 0), kb = purgatory_partition_key("b", 1, 0);
	struct test_op *a = op_new(wall_clock_ms() + 60000), *b = op_new(wall_clock_ms() + 60000);
	purgatory_add(p, b, b->deadline_ms, try_op, &kb, 1);
	a->p = p;
	a->then_check = &kb;
	purgatory_add(p, a, a->deadline_ms, try_op, &ka, 1);
	atomic_store(&b->ready, true);
	atomic_store(&a->ready, true);
	purgatory_check_and_complete(p, &ka);
	assert_int_equal(atomic_load(&a->completions), 1);
	assert_true(wait_empty(p, 2000));
	assert_int_equal(atomic_load(&b->completions), 1);
	assert_false(b->expired);
	assert_false(pthread_equal(b->done_by, pthread_self()));
	purgatory_free(p);
	free(a);
	free(b);
}

/*
 * The deadline passes while a thread is trying (here the try on add, which is slow): that
 * thread expires it, once, and the purgatory thread does not run it meanwhile.
 */
static void test_deadline_during_a_try(void **state)
{
	(void)state;
	struct purgatory *p = purgatory_start();
	struct purgatory_key k = purgatory_partition_key("t", 1, 0);
	struct test_op *o = op_new(wall_clock_ms() + 20);
	o->slow_ms = 100;
	atomic_store(&o->slow, true);
	purgatory_add(p, o, o->deadline_ms, try_op, &k, 1);
	assert_int_equal(atomic_load(&o->completions), 1);
	assert_int_equal(atomic_load(&o->tries), 2);
	assert_true(o->expired);
	assert_true(pthread_equal(o->done_by, pthread_self()));
	assert_false(atomic_load(&o->overlap));
	assert_int_equal(purgatory_size(p), 0);
	assert_int_equal(purgatory_watched_keys(p), 0);
	purgatory_free(p);
	free(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_completes_on_its_key_only),
		cmocka_unit_test(test_two_keys_two_threads_once),
		cmocka_unit_test(test_expires_at_deadline_in_order),
		cmocka_unit_test(test_many_expire_in_order),
		cmocka_unit_test(test_stop_expires_all_then_add_completes_at_once),
		cmocka_unit_test(test_try_on_add),
		cmocka_unit_test(test_check_from_try_is_handed_over),
		cmocka_unit_test(test_deadline_during_a_try),
	};
	if (getenv("TEST_FILTER"))
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
