/* The controller's event thread: election, live-broker tracking, resignation (see controller.h). */
#include "controller/controller_internal.h"

void controller_post(struct controller *c, enum event_type type)
{
	struct event *e = xcalloc(1, sizeof *e);
	e->type = type;
	pthread_mutex_lock(&c->lock);
	if (c->tail)
		c->tail->next = e;
	else
		c->head = e;
	c->tail = e;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
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
	const char *name = c->broker->bc->inter_broker_listener_name;
	for (int i = 0; i < bi->n_endpoints; i++)
		if (strcmp(bi->endpoints[i].listener, name) == 0)
			return &bi->endpoints[i];
	return NULL;
}

/* Re-read /brokers/ids (re-arming the watch); reconcile channels. Returns true when the set changed. */
static bool refresh_live_brokers(struct controller *c)
{
	struct kafka_broker_info *list = NULL;
	int n = 0;
	if (kafka_zk_get_brokers(c->broker->zk, on_brokers_watch, c, &list, &n) != 0) {
		log_error("Controller: cannot read /brokers/ids");
		return false;
	}
	bool changed = n != c->n_live;
	for (int i = 0; i < c->n_live; i++) {
		const struct kafka_broker_info *now = controller_find_live(list, n, c->live[i].id);
		if (!now || now->epoch != c->live[i].epoch) {
			log_info("Controller %d: broker %d is gone", c->broker->id, c->live[i].id);
			channel_manager_remove_broker(c->channels, c->live[i].id);
			changed = true;
		}
	}
	for (int i = 0; i < n; i++) {
		if (channel_manager_has_broker(c->channels, list[i].id))
			continue;
		const struct kafka_endpoint *e = controller_inter_broker_endpoint(c, &list[i]);
		if (!e) {
			log_error("Controller: broker %d has no endpoint for inter-broker listener %s", list[i].id,
				  c->broker->bc->inter_broker_listener_name);
			continue;
		}
		log_info("Controller %d: broker %d is live at %s:%d", c->broker->id, list[i].id, e->host, e->port);
		channel_manager_add_broker(c->channels, list[i].id, e->host, e->port);
		changed = true;
	}
	free_live(c);
	c->live = list;
	c->n_live = n;
	return changed;
}

static void become_active(struct controller *c)
{
	log_info("Broker %d is now the controller (epoch %d)", c->broker->id, c->epoch);
	__atomic_store_n(&c->is_active, 1, __ATOMIC_RELEASE);
	c->channels = channel_manager_new(c->broker->id, c->broker->bc->controller_socket_timeout_ms);
	refresh_live_brokers(c);
	controller_refresh_topics(c);
	controller_send_update_metadata_to_all(c);
	controller_process_deletions(c);
}

static void resign(struct controller *c)
{
	if (!c->is_active)
		return;
	log_info("Broker %d resigns as controller", c->broker->id);
	__atomic_store_n(&c->is_active, 0, __ATOMIC_RELEASE);
	channel_manager_free(c->channels);
	c->channels = NULL;
	free_live(c);
	controller_free_topics(c);
}

/* Kafka's elect(): look at /controller (re-arming the watch); if nobody holds it, try to take it. */
static void elect(struct controller *c)
{
	int32_t id = -1;
	if (kafka_zk_get_controller_id(c->broker->zk, on_controller_watch, c, &id) != 0) {
		log_error("Cannot read /controller");
		return;
	}
	if (id != -1) {
		if (id != c->broker->id)
			resign(c);
		__atomic_store_n(&c->active_id, id, __ATOMIC_RELEASE);
		return;
	}
	struct kafka_election e;
	if (kafka_zk_elect_controller(c->broker->zk, c->broker->id, &e) != 0) {
		log_error("Controller election failed on ZooKeeper error");
		return;
	}
	if (!e.won) {
		__atomic_store_n(&c->active_id, e.controller_id, __ATOMIC_RELEASE);
		return;
	}
	__atomic_store_n(&c->epoch, e.epoch, __ATOMIC_RELEASE);
	c->epoch_zk_version = e.epoch_zk_version;
	__atomic_store_n(&c->active_id, c->broker->id, __ATOMIC_RELEASE);
	/* The election's create of /controller fired no watch for us: re-arm it. */
	kafka_zk_get_controller_id(c->broker->zk, on_controller_watch, c, &id);
	become_active(c);
}

static void handle_session_expired(struct controller *c)
{
	log_warn("ZooKeeper session expired: re-registering broker %d and re-electing", c->broker->id);
	resign(c);
	__atomic_store_n(&c->active_id, -1, __ATOMIC_RELEASE);
	if (broker_reregister(c->broker) != 0) {
		log_error("Re-registration of broker %d failed; will retry on the next session event", c->broker->id);
		return;
	}
	elect(c);
}

static void *controller_main(void *arg)
{
	struct controller *c = arg;
	for (;;) {
		pthread_mutex_lock(&c->lock);
		while (!c->head)
			pthread_cond_wait(&c->cond, &c->lock);
		struct event *e = c->head;
		c->head = e->next;
		if (!c->head)
			c->tail = NULL;
		pthread_mutex_unlock(&c->lock);

		enum event_type type = e->type;
		free(e);
		switch (type) {
		case EV_ELECT:
			elect(c);
			break;
		case EV_BROKER_CHANGE:
			if (c->is_active && refresh_live_brokers(c)) {
				/* A (re)started broker learns its partitions; leaders are unchanged for now
				 * (electing new leaders when one dies comes with replication). */
				controller_send_leader_and_isr(c, NULL);
				controller_send_update_metadata_to_all(c);
			}
			break;
		case EV_SESSION_EXPIRED:
			handle_session_expired(c);
			break;
		case EV_TOPIC_CHANGE:
			if (c->is_active && controller_refresh_topics(c) > 0)
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
		case EV_SHUTDOWN:
			resign(c);
			return NULL;
		}
	}
}

struct controller *controller_new(struct broker *b)
{
	struct controller *c = xcalloc(1, sizeof *c);
	c->broker = b;
	c->active_id = -1;
	c->epoch = -1;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}

void controller_start(struct controller *c)
{
	c->started = true;
	pthread_create(&c->thread, NULL, controller_main, c);
	controller_post(c, EV_ELECT);
}

void controller_stop(struct controller *c)
{
	if (!c->started)
		return;
	controller_post(c, EV_SHUTDOWN);
	pthread_join(c->thread, NULL);
	c->started = false;
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
	free(c);
}
