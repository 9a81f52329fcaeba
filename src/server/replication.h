/*
 * The broker's side of replication: the replica fetchers configured from
 * replica.fetch.*, ISR changes written to ZooKeeper the pre-2.7 way (the
 * leader updates the partition state znode and announces it under
 * /isr_change_notification for the controller), and high-watermark moves
 * waking the purgatory.
 */
#ifndef SAMSA_SERVER_REPLICATION_H
#define SAMSA_SERVER_REPLICATION_H

struct broker;

/* After the replica manager and purgatory exist; before the first LeaderAndIsr. */
void broker_replication_start(struct broker *b);
/* Fetchers and the ISR thread stop; call once no request handler can run. */
void broker_replication_stop(struct broker *b);

#endif
