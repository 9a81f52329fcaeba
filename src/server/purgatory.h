/*
 * The purgatory [Kafka's DelayedOperationPurgatory]: requests that wait for
 * something to happen (a fetch for min.bytes, later a produce for acks=all)
 * or for their deadline, whichever comes first.
 *
 * One thread owns the waiting operations.  Anything that may let one complete
 * (an append, a high-watermark move) calls purgatory_notify, which is cheap
 * and never blocks on I/O; the thread then retries every waiting operation.
 * An operation completes by answering its request from the purgatory thread
 * (the network layer accepts answers from any thread).
 */
#ifndef SAMSA_SERVER_PURGATORY_H
#define SAMSA_SERVER_PURGATORY_H

#include <stdbool.h>
#include <stdint.h>

struct purgatory;

/*
 * Try to complete op.  expired: the deadline has passed, so it must complete
 * now with what there is.  Returns true when op answered and freed itself.
 */
typedef bool (*delayed_try_fn)(void *op, bool expired);

struct purgatory *purgatory_start(void);
/* Expire every waiting operation (each answers) and stop the thread; later
 * additions complete at once, on the caller's thread. */
void purgatory_stop(struct purgatory *p);
/* Stop if not stopped, and free p (nothing may use it afterwards). */
void purgatory_free(struct purgatory *p);
/* Park op until try_fn completes it or deadline_ms (wall clock) passes.  It is
 * tried once more right away, so an append that raced with parking is not missed. */
void purgatory_add(struct purgatory *p, void *op, int64_t deadline_ms, delayed_try_fn try_fn);
/* Something changed: retry the waiting operations. */
void purgatory_notify(struct purgatory *p);
/* How many operations wait (for tests and metrics). */
int purgatory_size(struct purgatory *p);

#endif
