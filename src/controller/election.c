/* Leader election strategies and ISR arithmetic, without side effects (see election.h). */
#include "controller/election.h"

bool ctl_ids_has(struct ctl_ids s, int32_t id)
{
	for (int i = 0; i < s.n; i++)
		if (s.ids[i] == id)
			return true;
	return false;
}

int32_t election_offline_leader(struct ctl_ids replicas, struct ctl_ids isr, struct ctl_ids online, bool unclean)
{
	for (int r = 0; r < replicas.n; r++)
		if (ctl_ids_has(online, replicas.ids[r]) && ctl_ids_has(isr, replicas.ids[r]))
			return replicas.ids[r];
	if (!unclean)
		return -1;
	for (int r = 0; r < replicas.n; r++)
		if (ctl_ids_has(online, replicas.ids[r]))
			return replicas.ids[r];
	return -1;
}

int32_t election_reassign_leader(struct ctl_ids target, struct ctl_ids isr, struct ctl_ids online)
{
	/* The same rule as a clean offline election, over the target replicas only. */
	return election_offline_leader(target, isr, online, false);
}

int32_t election_preferred_leader(struct ctl_ids replicas, struct ctl_ids isr, struct ctl_ids online)
{
	if (replicas.n == 0)
		return -1;
	int32_t preferred = replicas.ids[0];
	return ctl_ids_has(online, preferred) && ctl_ids_has(isr, preferred) ? preferred : -1;
}

int32_t election_controlled_shutdown_leader(struct ctl_ids replicas, struct ctl_ids isr, struct ctl_ids live,
					    struct ctl_ids shutting_down)
{
	for (int r = 0; r < replicas.n; r++) {
		int32_t id = replicas.ids[r];
		if (ctl_ids_has(live, id) && ctl_ids_has(isr, id) && !ctl_ids_has(shutting_down, id))
			return id;
	}
	return -1;
}

int election_isr_keep(struct ctl_ids isr, struct ctl_ids keep, int32_t *out)
{
	int n = 0;
	for (int i = 0; i < isr.n; i++)
		if (ctl_ids_has(keep, isr.ids[i]))
			out[n++] = isr.ids[i];
	return n;
}

int election_isr_drop(struct ctl_ids isr, struct ctl_ids drop, int32_t *out)
{
	int n = 0;
	for (int i = 0; i < isr.n; i++)
		if (!ctl_ids_has(drop, isr.ids[i]))
			out[n++] = isr.ids[i];
	return n;
}

int election_remove_from_isr(int32_t leader, struct ctl_ids isr, int32_t id, int32_t *new_leader, int32_t *out)
{
	*new_leader = leader == id ? -1 : leader;
	int n = 0;
	for (int i = 0; i < isr.n; i++)
		if (isr.n == 1 || isr.ids[i] != id)
			out[n++] = isr.ids[i];
	return n;
}
