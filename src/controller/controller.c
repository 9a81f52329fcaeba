/* The controller's event thread: election, live-broker tracking, resignation (see controller.h). */
#include "controller/controller_internal.h"

#include <errno.h>

#include "samsa/proto.h"

void controller_post_event(struct controller *c, struct event *e)
{
	pthread_mutex_lock(&c->lock);
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void controller_post(struct controller *c, enum event_type type)
{
	struct event *e = xcalloc(1, sizeof *e);
	e->type = type;
	controller_post_event(c, e);
}

/* Requests still queued when the controller stops get NOT_CONTROLLER; so do later ones. */
static void drain_after_shutdown(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	c->stopped = true;
	struct event *e = c->head;
	c->head = c->tail = NULL;
	pthread_mutex_unlock(&c->lock);
	while (e) {
		struct event *next = e->next;
		if (e->type == EV_CONTROLLED_SHUTDOWN)
			e->cb(e->cb_arg, KERR_NOT_CONTROLLER, NULL, 0);
		else if (e->type == EV_ALTER_REASSIGNMENTS)
			e->reassign_cb(e->cb_arg, KERR_NOT_CONTROLLER, e->items, e->n_items);
		else if (e->type == EV_LIST_REASSIGNMENTS)
			e->list_cb(e->cb_arg, KERR_NOT_CONTROLLER, NULL, 0);
		else if (e->type == EV_ELECT_LEADERS)
			e->elect_cb(e->cb_arg, KERR_NOT_CONTROLLER, e->items, e->n_items < 0 ? 0 : e->n_items);
		else if (e->type == EV_LAI_RESPONSE)
			free(e->items);
		free(e);
		e = next;
	}
}

void controller_controlled_shutdown(struct controller *c, int32_t id, int64_t broker_epoch, controller_shutdown_fn cb,
				    void *arg)
{
	pthread_mutex_lock(&c->lock);
	if (c->stopped || !c->started) {
		pthread_mutex_unlock(&c->lock);
		cb(arg, KERR_NOT_CONTROLLER, NULL, 0);
		return;
	}
	struct event *e = xcalloc(1, sizeof *e);
	e->type = EV_CONTROLLED_SHUTDOWN;
	e->broker_id = id;
	e->broker_epoch = broker_epoch;
	e->cb = cb;
	e->cb_arg = arg;
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

/* Queues an admin request's event, or answers NOT_CONTROLLER at once when the controller is not running. */
static bool post_request(struct controller *c, struct event *e)
{
	pthread_mutex_lock(&c->lock);
	if (c->stopped || !c->started) {
		pthread_mutex_unlock(&c->lock);
		return false;
	}
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return true;
}

void controller_alter_reassignments(struct controller *c, struct ctl_reassign_item *items, int n,
				    controller_reassign_fn cb, void *arg)
{
	struct event *e = xcalloc(1, sizeof *e);
	e->type = EV_ALTER_REASSIGNMENTS;
	e->items = items;
	e->n_items = n;
	e->reassign_cb = cb;
	e->cb_arg = arg;
	if (!post_request(c, e)) {
		free(e);
		cb(arg, KERR_NOT_CONTROLLER, items, n);
	}
}

void controller_list_reassignments(struct controller *c, const struct topic_partition_ref *filter, int n_filter,
				   controller_list_reassign_fn cb, void *arg)
{
	struct event *e = xcalloc(1, sizeof *e);
	e->type = EV_LIST_REASSIGNMENTS;
	e->items = (void *)filter;
	e->n_items = n_filter;
	e->list_cb = cb;
	e->cb_arg = arg;
	if (!post_request(c, e)) {
		free(e);
		cb(arg, KERR_NOT_CONTROLLER, NULL, 0);
	}
}

void controller_elect_leaders(struct controller *c, int8_t election_type, struct ctl_election_item *items, int n,
			      controller_elect_fn cb, void *arg)
{
	struct event *e = xcalloc(1, sizeof *e);
	e->type = EV_ELECT_LEADERS;
	e->election_type = election_type;
	e->items = items;
	e->n_items = n;
	e->elect_cb = cb;
	e->cb_arg = arg;
	if (!post_request(c, e)) {
		free(e);
		cb(arg, KERR_NOT_CONTROLLER, items, n < 0 ? 0 : n);
	}
}

void controller_notify_controller_change(struct controller *c) { controller_post(c, EV_ELECT); }
void controller_notify_broker_change(struct controller *c) { controller_post(c, EV_BROKER_CHANGE); }
void controller_notify_session_expired(struct controller *c) { controller_post(c, EV_SESSION_EXPIRED); }

int32_t controller_active_id(struct controller *c) { return __atomic_load_n(&c->active_id, __ATOMIC_ACQUIRE); }
int controller_is_active(struct controller *c) { return __atomic_load_n(&c->is_active, __ATOMIC_ACQUIRE); }
int32_t controller_epoch(struct controller *c) { return __atomic_load_n(&c->epoch, __ATOMIC_ACQUIRE); }

static void on_controller_watch(void *arg) { controller_notify_controller_change(arg); }
static void on_brokers_watch(void *arg) { controller_notify_broker_change(arg); }

static void free_live(struct controller *c)
{
	kafka_broker_info_free_array(c->live, c->n_live);
	c->live = NULL;
	c->n_live = 0;
}

const struct kafka_broker_info *controller_find_live(struct kafka_broker_info *list, int n, int32_t id)
{
	for (int i = 0; i < n; i++)
		if (list[i].id == id)
			return &list[i];
	return NULL;
}

/* The endpoint other brokers use to reach `bi`: the inter-broker listener. */
const struct kafka_endpoint *controller_inter_broker_endpoint(struct controller *c, const struct kafka_broker_info *bi)
{
	const char *name = c->cfg.inter_broker_listener_name;
	for (int i = 0; i < bi->n_endpoints; i++)
		if (strcmp(bi->endpoints[i].listener, name) == 0)
			return &bi->endpoints[i];
	return NULL;
}

/*
 * Re-read /brokers/ids (re-arming the watch); reconcile channels [Kafka's
 * processBrokerChange].  Fills the brokers that are gone, new, or bounced (same
 * id, new registration), each malloc'd; returns true when anything changed.
 */
static bool refresh_live_brokers(struct controller *c, int32_t **dead, int *n_dead, int32_t **born, int *n_born,
				 int32_t **bounced, int *n_bounced)
{
	*dead = *born = *bounced = NULL;
	*n_dead = *n_born = *n_bounced = 0;
	struct kafka_broker_info *list = NULL;
	int n = 0;
	if (kafka_zk_get_brokers(c->zk, on_brokers_watch, c, &list, &n) != 0) {
		log_error("Controller: cannot read /brokers/ids");
		return false;
	}
	*dead = xcalloc((size_t)(c->n_live + 1), sizeof **dead);
	*bounced = xcalloc((size_t)(c->n_live + 1), sizeof **bounced);
	*born = xcalloc((size_t)(n + 1), sizeof **born);
	for (int i = 0; i < c->n_live; i++) {
		const struct kafka_broker_info *now = controller_find_live(list, n, c->live[i].id);
		if (!now) {
			log_info("Controller %d: broker %d is gone", c->id, c->live[i].id);
			(*dead)[(*n_dead)++] = c->live[i].id;
		} else if (now->epoch != c->live[i].epoch) {
			log_info("Controller %d: broker %d registered again (broker epoch %lld -> %lld)", c->id,
				 c->live[i].id, (long long)c->live[i].epoch, (long long)now->epoch);
			(*bounced)[(*n_bounced)++] = c->live[i].id;
		} else {
			continue;
		}
		channel_manager_remove_broker(c->channels, c->live[i].id);
	}
	for (int i = 0; i < n; i++) {
		if (channel_manager_has_broker(c->channels, list[i].id))
			continue;
		if (!controller_find_live(c->live, c->n_live, list[i].id))
			(*born)[(*n_born)++] = list[i].id;
		const struct kafka_endpoint *e = controller_inter_broker_endpoint(c, &list[i]);
		if (!e) {
			log_error("Controller: broker %d has no endpoint for inter-broker listener %s", list[i].id,
				  c->cfg.inter_broker_listener_name);
			continue;
		}
		log_info("Controller %d: broker %d is live at %s:%d", c->id, list[i].id, e->host, e->port);
		channel_manager_add_broker(c->channels, list[i].id, e->host, e->port);
	}
	free_live(c);
	c->live = list;
	c->n_live = n;
	return *n_dead || *n_born || *n_bounced;
}

/* [Kafka's processBrokerChange]: failures (bounced brokers' old selves included) first, then startups. */
static void process_broker_change(struct controller *c)
{
	int32_t *dead, *born, *bounced;
	int n_dead, n_born, n_bounced;
	if (refresh_live_brokers(c, &dead, &n_dead, &born, &n_born, &bounced, &n_bounced)) {
		/* A bounced broker is offline while its old incarnation's replicas are failed. */
		c->bouncing = bounced;
		c->n_bouncing = n_bounced;
		int32_t *gone = xcalloc((size_t)(n_dead + n_bounced + 1), sizeof *gone);
		memcpy(gone, dead, sizeof *gone * (size_t)n_dead);
		memcpy(gone + n_dead, bounced, sizeof *gone * (size_t)n_bounced);
		if (n_dead + n_bounced > 0)
			controller_on_broker_failure(c, gone, n_dead + n_bounced);
		c->bouncing = NULL;
		c->n_bouncing = 0;
		memcpy(born + n_born, bounced, sizeof *born * (size_t)n_bounced);
		if (n_born + n_bounced > 0 && !c->fenced)
			controller_on_broker_startup(c, born, n_born + n_bounced);
		free(gone);
	}
	free(dead);
	free(born);
	free(bounced);
}

/*
 * [Kafka's onControllerFailover]: everything is read fresh from ZooKeeper --
 * live brokers, assignments, every partition state -- and then the state
 * machines start from there, so a new controller resumes where ZooKeeper is.
 */
static void become_active(struct controller *c)
{
	log_info("Broker %d is now the controller (epoch %d)", c->id, c->epoch);
	__atomic_store_n(&c->is_active, 1, __ATOMIC_RELEASE);
	c->fenced = false;
	c->channels = c->new_channels(c->id, c->cfg.controller_socket_timeout_ms, c->new_channels_arg);
	controller_delete_isr_changes(c);
	controller_delete_log_dir_events(c);
	int32_t *dead, *born, *bounced;
	int n_dead, n_born, n_bounced;
	refresh_live_brokers(c, &dead, &n_dead, &born, &n_born, &bounced, &n_bounced);
	free(dead);
	free(born);
	free(bounced);
	controller_refresh_topics(c, false);
	controller_send_update_metadata_to_all(c);
	controller_start_state_machines(c);
	controller_process_deletions(c);
	controller_process_isr_changes(c);
	controller_init_reassignments(c);
}

static void resign(struct controller *c)
{
	if (!c->is_active)
		return;
	log_info("Broker %d resigns as controller", c->id);
	__atomic_store_n(&c->is_active, 0, __ATOMIC_RELEASE);
	c->next_rebalance_ms = 0;
	channel_manager_free(c->channels);
	c->channels = NULL;
	free_live(c);
	controller_free_topics(c);
	free(c->shutting_down);
	c->shutting_down = NULL;
	c->n_shutting_down = 0;
	controller_offline_dirs_free(c);
}

/* Kafka's elect(): look at /controller (re-arming the watch); if nobody holds it, try to take it. */
static void elect(struct controller *c)
{
	int32_t id = -1;
	if (kafka_zk_get_controller_id(c->zk, on_controller_watch, c, &id) != 0) {
		log_error("Cannot read /controller");
		return;
	}
	if (id != -1) {
		if (id != c->id)
			resign(c);
		__atomic_store_n(&c->active_id, id, __ATOMIC_RELEASE);
		return;
	}
	struct kafka_election e;
	if (kafka_zk_elect_controller(c->zk, c->id, &e) != 0) {
		log_error("Controller election failed on ZooKeeper error");
		return;
	}
	if (!e.won) {
		__atomic_store_n(&c->active_id, e.controller_id, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&c->epoch, e.epoch, __ATOMIC_RELEASE);
	c->epoch_zk_version = e.epoch_zk_version;
	__atomic_store_n(&c->active_id, c->id, __ATOMIC_RELEASE);
	/* The election's create of /controller fired no watch for us: re-arm it. */
	kafka_zk_get_controller_id(c->zk, on_controller_watch, c, &id);
	become_active(c);
}

static void handle_session_expired(struct controller *c)
{
	log_warn("ZooKeeper session expired: re-registering broker %d and re-electing", c->id);
	resign(c);
	__atomic_store_n(&c->active_id, -1, __ATOMIC_RELEASE);
	if (c->hooks.reregister && c->hooks.reregister(c->hooks.arg) != 0) {
		log_error("Re-registration of broker %d failed; will retry on the next session event", c->id);
		return;
	}
	elect(c);
}

/* Runs one event; false after EV_SHUTDOWN (the controller is done). */
static bool handle_event(struct controller *c, struct event *e)
{
	switch (e->type) {
	case EV_ELECT:
		elect(c);
		break;
	case EV_BROKER_CHANGE:
		if (c->is_active && !c->fenced)
			process_broker_change(c);
		break;
	case EV_SESSION_EXPIRED:
		handle_session_expired(c);
		break;
	case EV_TOPIC_CHANGE:
		if (c->is_active && !c->fenced && controller_refresh_topics(c, true) > 0)
			controller_send_update_metadata_to_all(c);
		break;
	case EV_TOPIC_DELETION:
		if (c->is_active)
			controller_process_deletions(c);
		break;
	case EV_TOPIC_DATA:
		if (c->is_active && controller_refresh_partition_counts(c) > 0)
			controller_send_update_metadata_to_all(c);
		break;
	case EV_ISR_CHANGE:
		if (c->is_active && !c->fenced)
			controller_process_isr_changes(c);
		break;
	case EV_CONTROLLED_SHUTDOWN:
		controller_do_controlled_shutdown(c, e->broker_id, e->broker_epoch, e->cb, e->cb_arg);
		break;
	case EV_REASSIGN_ZNODE:
		controller_process_reassign_znode(c);
		break;
	case EV_PREFERRED_ZNODE:
		controller_process_preferred_znode(c);
		break;
	case EV_ALTER_REASSIGNMENTS:
		controller_do_alter_reassignments(c, e->items, e->n_items, e->reassign_cb, e->cb_arg);
		break;
	case EV_LIST_REASSIGNMENTS:
		controller_do_list_reassignments(c, e->items, e->n_items, e->list_cb, e->cb_arg);
		break;
	case EV_ELECT_LEADERS:
		controller_do_elect_leaders(c, e->election_type, e->items, e->n_items, e->elect_cb, e->cb_arg);
		break;
	case EV_LOG_DIR_EVENT:
		if (c->is_active && !c->fenced)
			controller_process_log_dir_events(c);
		break;
	case EV_LAI_RESPONSE:
		controller_handle_lai_response(c, e->broker_id, e->items, e->n_items);
		free(e->items);
		break;
	case EV_SHUTDOWN:
		resign(c);
		drain_after_shutdown(c);
		return false;
	}
	return true;
}

/* The next queued event, or NULL; the caller holds c->lock. */
static struct event *pop_event(struct controller *c)
{
	struct event *e = c->head;
	if (e) {
		c->head = e->next;
		if (!c->head)
			c->tail = NULL;
	}
	return e;
}

static void *controller_main(void *arg)
{
	struct controller *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		bool rebalance = false;
		while (!c->head && !rebalance) {
			/* The auto leader rebalance task [scheduleAutoLeaderRebalanceTask] runs between events. */
			if (c->next_rebalance_ms > 0 && c->is_active) {
				int64_t at = c->next_rebalance_ms;
				struct timespec ts = { (time_t)(at / 1000), (long)(at % 1000) * 1000000L };
				if (pthread_cond_timedwait(&c->cond, &c->lock, &ts) == ETIMEDOUT && !c->head)
					rebalance = controller_now_ms() >= c->next_rebalance_ms;
			} else {
				pthread_cond_wait(&c->cond, &c->lock);
			}
		}
		if (rebalance) {
			pthread_mutex_unlock(&c->lock);
			/* [processAutoPreferredReplicaLeaderElection]: check, then schedule the next one. */
			if (!c->fenced)
				controller_check_auto_rebalance(c);
			if (c->next_rebalance_ms > 0)
				c->next_rebalance_ms = controller_now_ms() +
						       c->cfg.leader_imbalance_check_interval_seconds * 1000;
			continue;
		}
		struct event *e = pop_event(c);
		pthread_mutex_unlock(&c->lock);
		bool more = handle_event(c, e);
		free(e);
		if (!more)
			return NULL;
	}
}

void controller_run_pending(struct controller *c)
{
	for (;;) {
		pthread_mutex_lock(&c->lock);
		struct event *e = pop_event(c);
		pthread_mutex_unlock(&c->lock);
		if (!e)
			return;
		bool more = handle_event(c, e);
		free(e);
		if (!more)
			return;
	}
}

void controller_set_channel_factory(struct controller *c, channel_manager_factory_fn fn, void *arg)
{
	c->new_channels = fn;
	c->new_channels_arg = arg;
}

static struct channel_manager *default_channels(int32_t controller_id, int32_t socket_timeout_ms, void *arg)
{
	const struct controller *c = arg;
	struct channel_manager *cm = channel_manager_new(controller_id, socket_timeout_ms);
	if (c->cfg.inter_broker_security)
		channel_manager_set_security(cm, c->cfg.inter_broker_security);
	return cm;
}

struct controller *controller_new(const struct controller_config *cfg, struct zk *zk,
				  const struct controller_hooks *hooks)
{
	struct controller *c = xcalloc(1, sizeof *c);
	c->id = cfg->broker_id;
	c->cfg = *cfg;
	c->listener_name = xstrdup(cfg->inter_broker_listener_name ? cfg->inter_broker_listener_name : "");
	c->cfg.inter_broker_listener_name = c->listener_name;
	c->zk = zk;
	if (hooks)
		c->hooks = *hooks;
	c->new_channels = default_channels;
	c->new_channels_arg = c;
	c->active_id = -1;
	c->epoch = -1;
	pthread_mutex_init(&c->lock, NULL);
	/* Timed waits (the auto rebalance schedule) are on the monotonic clock. */
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &ca);
	pthread_condattr_destroy(&ca);
	return c;
}

void controller_start(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	c->started = true;
	pthread_mutex_unlock(&c->lock);
	pthread_create(&c->thread, NULL, controller_main, c);
	controller_post(c, EV_ELECT);
}

void controller_stop(struct controller *c)
{
	if (!c->started)
		return;
	controller_post(c, EV_SHUTDOWN);
	pthread_join(c->thread, NULL);
	pthread_mutex_lock(&c->lock);
	c->started = false;
	pthread_mutex_unlock(&c->lock);
}

void controller_free(struct controller *c)
{
	if (!c)
		return;
	struct event *e = c->head;
	while (e) {
		struct event *next = e->next;
		free(e);
		e = next;
	}
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->listener_name);
	free(c);
}
