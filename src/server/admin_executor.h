/*
 * A worker thread for requests that must wait on ZooKeeper (CreateTopics,
 * DeleteTopics...), so network threads never block on a ZooKeeper round trip.
 * Jobs run one at a time, in order; a job answers its request itself
 * (request_respond is safe from any thread).
 */
#ifndef SAMSA_SERVER_ADMIN_EXECUTOR_H
#define SAMSA_SERVER_ADMIN_EXECUTOR_H

struct request;
struct admin_executor;

typedef void (*admin_job_fn)(struct request *req);

struct admin_executor *admin_executor_start(void);
/* Runs what is queued, then joins the thread.  Jobs submitted after this run at
 * once on the submitting thread (shutdown is brief; nothing is refused). */
void admin_executor_stop(struct admin_executor *ex);
void admin_executor_free(struct admin_executor *ex);
void admin_executor_submit(struct admin_executor *ex, struct request *req, admin_job_fn fn);

#endif
