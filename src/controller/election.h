/*
 * Leader election and ISR arithmetic as pure functions [Kafka's Election /
 * PartitionLeaderElectionAlgorithms]: no controller, no ZooKeeper, no clock.
 * The state machines (partitions.c) gather what they know -- the assignment,
 * the ISR as ZooKeeper has it, which replicas are online -- and ask these.
 *
 * "Online" is Kafka's isReplicaOnline: live in /brokers/ids, not shutting down
 * and not a bounced broker whose old incarnation is still being failed.
 */
#ifndef SAMSA_CONTROLLER_ELECTION_H
#define SAMSA_CONTROLLER_ELECTION_H

#include <stdbool.h>
#include <stdint.h>

/* A short list of broker ids (a replica set, an ISR), not owned. */
struct ctl_ids {
	const int32_t *ids;
	int n;
};

static inline struct ctl_ids ctl_ids(const int32_t *ids, int n) { return (struct ctl_ids){ ids, n }; }
bool ctl_ids_has(struct ctl_ids s, int32_t id);

/*
 * [offlinePartitionLeaderElection]: the first replica in assignment order that is
 * online and in the ISR; failing that, with `unclean`, the first online replica
 * (it leads from outside the ISR); else -1.
 */
int32_t election_offline_leader(struct ctl_ids replicas, struct ctl_ids isr, struct ctl_ids online, bool unclean);
/* [reassignPartitionLeaderElection]: the first target replica online and in the ISR, else -1. */
int32_t election_reassign_leader(struct ctl_ids target, struct ctl_ids isr, struct ctl_ids online);
/* [preferredReplicaPartitionLeaderElection]: the first replica when it is online and in the ISR, else -1. */
int32_t election_preferred_leader(struct ctl_ids replicas, struct ctl_ids isr, struct ctl_ids online);
/*
 * [controlledShutdownPartitionLeaderElection]: the first replica that is live
 * (brokers shutting down count as live here), in the ISR and not shutting down; else -1.
 */
int32_t election_controlled_shutdown_leader(struct ctl_ids replicas, struct ctl_ids isr, struct ctl_ids live,
					    struct ctl_ids shutting_down);

/* The ISR members that are in `keep`, in ISR order, into out (room for isr.n); their count. */
int election_isr_keep(struct ctl_ids isr, struct ctl_ids keep, int32_t *out);
/* The ISR members that are not in `drop`, in ISR order, into out (room for isr.n); their count. */
int election_isr_drop(struct ctl_ids isr, struct ctl_ids drop, int32_t *out);
/*
 * [removeReplicasFromIsr]: `id` leaves the ISR, except that the last member stays
 * (ZooKeeper-mode Kafka never writes an empty ISR: the last one is who may come
 * back with every acknowledged write); a leader that leaves leaves no leader (-1).
 * Fills *leader and out (room for isr.n); returns the ISR's new size.
 */
int election_remove_from_isr(int32_t leader, struct ctl_ids isr, int32_t id, int32_t *new_leader, int32_t *out);

#endif
