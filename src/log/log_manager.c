/* Every partition log of the broker, its checkpoints and its scheduler (see log_manager.h). */
#include "samsa/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/checkpoint.h"
#include "log/recovery.h"
#include "samsa/proto.h"
#include "samsa/util/clock.h"
#include "samsa/util/log.h"
#include "samsa/util/tp_index.h"
#include "samsa/util/uuid.h"
#include "samsa/util/xalloc.h"

struct log_ref {
	struct log_manager *lm;
	char *topic;
	size_t topic_len;
	int32_t partition;
	int dir;              /* index into lm->dirs */
	struct log *log;
	atomic_int refs;
	atomic_bool deleted;  /* remove the directory when the last reference goes */
	bool future;          /* an AlterReplicaLogDirs copy that will replace the current log */
	bool moved;           /* loaded at start with MOVED_MARKER: the copy that wins */
	char *delete_path;    /* set when a move renamed the directory to its -delete name */
	bool cleaning;        /* a cleaner thread has it (lm->lock) */
	bool uncleanable;     /* the cleaner found a corrupt batch: left alone until restart (lm->lock) */
};

/*
 * A partition directory being filled by AlterReplicaLogDirs carries
 * FUTURE_MARKER; committing the move renames it to MOVED_MARKER, renames the
 * old directory to its -delete name and then removes the marker.  So after
 * a crash at any step, start-up finds either an unfinished copy (removed),
 * or a committed one that wins over any other copy of the partition.  Both
 * names start with '.', which the segment loader skips.
 */
#define FUTURE_MARKER ".samsa-future"
#define MOVED_MARKER ".samsa-moved"

/* A dir AlterReplicaLogDirs asked for a partition this broker does not host yet [preferredLogDirs]. */
struct preferred_dir {
	char *topic;
	int32_t partition;
	int dir;
};

struct log_manager {
	pthread_mutex_t lock; /* the table; never held across file I/O of a log */
	struct log_manager_config cfg;
	char **dirs;                /* absolute paths, in log.dirs order */
	int n_dirs;
	bool *offline;              /* per dir: taken out of service after an I/O error (lock held to read) */
	struct log_ref **refs;
	int n, cap;
	struct log_ref **futures;   /* future logs of moves in progress (any order) */
	int n_futures;
	struct preferred_dir *preferred;
	int n_preferred;

	pthread_t scheduler;
	bool scheduler_running; /* started (checkpoints and the clean marker are written at shutdown) */
	bool scheduler_joined;
	pthread_mutex_t sched_lock;
	pthread_cond_t sched_cond;
	bool stopping;

	/* The log cleaner's threads [LogCleaner]; cleaner_lock guards the wait between passes. */
	pthread_t *cleaners;
	struct log_cleaner **cleaner_state;
	int n_cleaners;
	volatile bool cleaner_stop;
	pthread_mutex_t cleaner_lock;
	pthread_cond_t cleaner_cond;
	pthread_mutex_t cleaner_ck_lock; /* one writer of cleaner-offset-checkpoint at a time */
};

static void remove_tree(const char *path);
static void write_cleaner_checkpoint(struct log_manager *lm);

/* ------------------------------------------------------------------ references */

struct log *log_ref_log(const struct log_ref *r) { return r->log; }

struct log_ref *log_ref_dup(struct log_ref *r)
{
	atomic_fetch_add(&r->refs, 1);
	return r;
}

void log_ref_put(struct log_ref *r)
{
	if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	if (atomic_load(&r->deleted) && r->delete_path) {
		log_info("Deleting %s, the log's old copy", r->delete_path);
		log_close(r->log);
		remove_tree(r->delete_path);
	} else if (atomic_load(&r->deleted)) {
		log_info("Deleting log %s", log_dir(r->log));
		if (log_close_and_delete(r->log) != KERR_NONE)
			log_error("Log %.*s-%d was not removed completely", (int)r->topic_len, r->topic, r->partition);
	} else {
		log_close(r->log);
	}
	free(r->delete_path);
	free(r->topic);
	free(r);
}

/* ------------------------------------------------------------------ the table */

static struct tp_key ref_key(const void *slot)
{
	const struct log_ref *r = *(struct log_ref *const *)slot;
	return tp_key(r->topic, r->topic_len, r->partition);
}

static int ref_cmp(const void *x, const void *y)
{
	const struct log_ref *a = *(struct log_ref *const *)x, *b = *(struct log_ref *const *)y;
	size_t n = a->topic_len < b->topic_len ? a->topic_len : b->topic_len;
	int c = memcmp(a->topic, b->topic, n);
	if (c)
		return c;
	if (a->topic_len != b->topic_len)
		return a->topic_len < b->topic_len ? -1 : 1;
	return (a->partition > b->partition) - (a->partition < b->partition);
}

/* lm->refs is in (topic, partition) order (lock held). */
static int search(struct log_manager *lm, const char *t, size_t tl, int32_t p, bool *found)
{
	return tp_index_search(lm->refs, lm->n, sizeof *lm->refs, ref_key, tp_key(t, tl, p), found);
}

/* Insert a new entry (lock held); the table keeps the first reference. */
static struct log_ref *table_insert(struct log_manager *lm, int at, const char *topic, size_t tl, int32_t p,
				    int dir, struct log *log)
{
	struct log_ref *r = xcalloc(1, sizeof *r);
	r->lm = lm;
	r->topic = xstrndup(topic, tl);
	r->topic_len = tl;
	r->partition = p;
	r->dir = dir;
	r->log = log;
	atomic_init(&r->refs, 1);
	atomic_init(&r->deleted, false);
	if (lm->n == lm->cap) {
		lm->cap = lm->cap ? lm->cap * 2 : 64;
		lm->refs = xrealloc(lm->refs, sizeof *lm->refs * (size_t)lm->cap);
	}
	*(struct log_ref **)tp_index_insert_at(lm->refs, lm->n++, sizeof *lm->refs, at) = r;
	return r;
}

/* References to every log (for the scheduler and checkpoints); caller puts them and frees the array. */
static struct log_ref **snapshot(struct log_manager *lm, int *n)
{
	pthread_mutex_lock(&lm->lock);
	struct log_ref **out = xmalloc(sizeof *out * (size_t)(lm->n ? lm->n : 1));
	for (int i = 0; i < lm->n; i++)
		out[i] = log_ref_dup(lm->refs[i]);
	*n = lm->n;
	pthread_mutex_unlock(&lm->lock);
	return out;
}

static void snapshot_put(struct log_ref **s, int n)
{
	for (int i = 0; i < n; i++)
		log_ref_put(s[i]);
	free(s);
}

/* ------------------------------------------------------------------ start-up */

static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = 0;
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*q = '/';
	}
	int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
	free(p);
	return rc;
}

/* What check_meta and load_dir found wrong: an unreadable dir goes offline, the rest stop the start. */
enum { META_IO_ERROR = -1, META_FATAL = -2, LOAD_IO_ERROR = -1, LOAD_FATAL = -2 };

/* meta.properties must name this broker and cluster; written when absent. */
static int check_meta(const struct log_manager *lm, const char *dir)
{
	struct meta_properties m;
	bool exists = false;
	if (meta_properties_read(dir, &m, &exists) != KERR_NONE) {
		log_error("%s/%s is damaged", dir, META_PROPERTIES_FILE);
		return META_IO_ERROR;
	}
	if (exists) {
		if (m.has_broker_id && m.broker_id != lm->cfg.broker_id) {
			log_error("Configured broker.id %d does not match the broker.id %d stored in %s/%s; "
				  "is this log dir another broker's?",
				  lm->cfg.broker_id, m.broker_id, dir, META_PROPERTIES_FILE);
			return META_FATAL;
		}
		if (m.cluster_id[0] && lm->cfg.cluster_id && strcmp(m.cluster_id, lm->cfg.cluster_id) != 0) {
			log_error("The cluster id %s in ZooKeeper does not match the cluster.id %s stored in %s/%s; "
				  "the broker is pointed at the wrong ZooKeeper or chroot",
				  lm->cfg.cluster_id, m.cluster_id, dir, META_PROPERTIES_FILE);
			return META_FATAL;
		}
		if (m.has_broker_id && m.cluster_id[0])
			return 0;
	}
	memset(&m, 0, sizeof m);
	m.version = 0;
	m.has_broker_id = true;
	m.broker_id = lm->cfg.broker_id;
	if (lm->cfg.cluster_id)
		snprintf(m.cluster_id, sizeof m.cluster_id, "%s", lm->cfg.cluster_id);
	if (meta_properties_write(dir, &m, time(NULL)) != KERR_NONE) {
		log_error("Cannot write %s/%s", dir, META_PROPERTIES_FILE);
		return META_IO_ERROR;
	}
	return 0;
}

/* Remove a directory tree left behind by an interrupted delete (<topic>-<p>.<id>-delete). */
static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *p = xasprintf("%s/%s", path, de->d_name);
			if (unlink(p) < 0 && errno == EISDIR)
				remove_tree(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(path);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool has_marker(const char *partition_dir, const char *marker)
{
	char *p = xasprintf("%s/%s", partition_dir, marker);
	struct stat st;
	bool yes = stat(p, &st) == 0;
	free(p);
	return yes;
}

/* Is dir d out of service?  (Takes the table lock.) */
static bool dir_offline(struct log_manager *lm, int d)
{
	pthread_mutex_lock(&lm->lock);
	bool off = lm->offline[d];
	pthread_mutex_unlock(&lm->lock);
	return off;
}

/* Take every log of dir d out of the table (lock held); their table references go to *out. */
static struct log_ref **take_dir_logs(struct log_manager *lm, int d, int *n_out)
{
	struct log_ref **out = xmalloc(sizeof *out * (size_t)(lm->n ? lm->n : 1));
	int n = 0, k = 0;
	for (int i = 0; i < lm->n; i++) {
		if (lm->refs[i]->dir == d)
			out[n++] = lm->refs[i];
		else
			lm->refs[k++] = lm->refs[i];
	}
	lm->n = k;
	*n_out = n;
	return out;
}

/* At start-up, before anyone holds a reference: close the logs of a dir found unusable. */
static void drop_dir_logs(struct log_manager *lm, int d)
{
	int n;
	struct log_ref **gone = take_dir_logs(lm, d, &n);
	snapshot_put(gone, n);
}

static int load_dir(struct log_manager *lm, int di)
{
	const char *dir = lm->dirs[di];
	bool clean = recovery_clean_shutdown_exists(dir);
	struct checkpoint_entry *rp = NULL, *lso = NULL, *hw = NULL;
	size_t n_rp = 0, n_lso = 0, n_hw = 0;
	char *p_rp = xasprintf("%s/%s", dir, CHECKPOINT_RECOVERY_POINT);
	char *p_lso = xasprintf("%s/%s", dir, CHECKPOINT_LOG_START_OFFSET);
	char *p_hw = xasprintf("%s/%s", dir, CHECKPOINT_REPLICATION);
	char *p_cl = xasprintf("%s/%s", dir, CHECKPOINT_CLEANER);
	struct checkpoint_entry *cl = NULL;
	size_t n_cl = 0;
	if (checkpoint_read(p_cl, &cl, &n_cl) != KERR_NONE)
		cl = NULL, n_cl = 0;
	free(p_cl);
	/* A damaged checkpoint is not fatal: every log is then recovered from its start. */
	if (checkpoint_read(p_rp, &rp, &n_rp) != KERR_NONE) {
		clean = false;
		rp = NULL, n_rp = 0;
	}
	if (checkpoint_read(p_lso, &lso, &n_lso) != KERR_NONE)
		lso = NULL, n_lso = 0;
	if (checkpoint_read(p_hw, &hw, &n_hw) != KERR_NONE)
		hw = NULL, n_hw = 0;
	free(p_rp);
	free(p_lso);
	free(p_hw);

	if (!clean)
		log_info("Log dir %s was not shut down cleanly; recovering its logs", dir);
	int rc = 0, loaded = 0;
	int64_t t0 = wall_clock_ms();
	DIR *d = opendir(dir);
	if (!d) {
		log_error("Cannot read log dir %s: %s", dir, strerror(errno));
		rc = LOAD_IO_ERROR;
		goto out;
	}
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			free(path);
			continue;
		}
		if (ends_with(de->d_name, "-delete")) {
			log_info("Removing %s, left by an unfinished topic deletion", path);
			remove_tree(path);
			free(path);
			continue;
		}
		if (has_marker(path, FUTURE_MARKER)) {
			log_info("Removing %s, the copy of an unfinished log dir move", path);
			remove_tree(path);
			free(path);
			continue;
		}
		char topic[256];
		int32_t part;
		if (!log_parse_dir_name(de->d_name, topic, sizeof topic, &part)) {
			log_warn("Ignoring %s: not a <topic>-<partition> directory", path);
			free(path);
			continue;
		}
		struct log_open_args a = {
			.dir = path,
			.config = &lm->cfg.defaults,
			.clean_shutdown = clean,
			.recovery_point = checkpoint_lookup(rp, n_rp, topic, part, 0),
			.log_start_offset = checkpoint_lookup(lso, n_lso, topic, part, 0),
			.now_ms = wall_clock_ms(),
		};
		struct log *l = NULL;
		if (log_open(&a, &l) != KERR_NONE) {
			log_error("Cannot load log %s; the log dir is taken offline", path);
			free(path);
			rc = LOAD_IO_ERROR;
			break;
		}
		log_set_high_watermark(l, checkpoint_lookup(hw, n_hw, topic, part, 0));
		log_set_cleaner_offset(l, checkpoint_lookup(cl, n_cl, topic, part, -1));
		bool found;
		size_t tl = strlen(topic);
		int at = search(lm, topic, tl, part, &found);
		bool moved = has_marker(path, MOVED_MARKER);
		if (found && moved != lm->refs[at]->moved) {
			/* A committed move whose old copy was not yet renamed away: the old copy goes. */
			struct log_ref *old = lm->refs[at];
			const char *stale = moved ? log_dir(old->log) : path;
			log_info("Removing %s: partition %s-%d was moved to %s", stale, topic, part,
				 moved ? path : log_dir(old->log));
			if (moved) {
				char *gone = xstrdup(log_dir(old->log));
				log_close(old->log);
				remove_tree(gone);
				free(gone);
				old->log = l;
				old->dir = di;
				old->moved = true;
			} else {
				log_close(l);
				remove_tree(path);
			}
			free(path);
			continue;
		}
		if (found) {
			log_error("Partition %s-%d has a directory in two log dirs (%s and %s)", topic, part,
				  log_dir(lm->refs[at]->log), path);
			log_close(l);
			free(path);
			rc = LOAD_FATAL;
			break;
		}
		table_insert(lm, at, topic, tl, part, di, l)->moved = moved;
		loaded++;
		free(path);
	}
	closedir(d);
	log_info("Loaded %d logs from %s in %lld ms", loaded, dir, (long long)(wall_clock_ms() - t0));
	/* From here on appends happen: a crash must lead to recovery again. */
	if (rc == 0 && recovery_remove_clean_shutdown(dir) != KERR_NONE)
		rc = LOAD_IO_ERROR;
out:
	checkpoint_entries_free(rp, n_rp);
	checkpoint_entries_free(lso, n_lso);
	checkpoint_entries_free(hw, n_hw);
	checkpoint_entries_free(cl, n_cl);
	return rc;
}

/* Kafka reports log dirs by absolute path (File.getAbsolutePath): so do we. */
static char *absolute_path(const char *dir)
{
	if (dir[0] == '/')
		return xstrdup(dir);
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return xstrdup(dir);
	return xasprintf("%s/%s", cwd, dir);
}

struct log_manager *log_manager_open(const struct log_manager_config *cfg)
{
	struct log_manager *lm = xcalloc(1, sizeof *lm);
	pthread_mutex_init(&lm->lock, NULL);
	pthread_mutex_init(&lm->sched_lock, NULL);
	pthread_cond_init(&lm->sched_cond, NULL);
	pthread_mutex_init(&lm->cleaner_lock, NULL);
	pthread_cond_init(&lm->cleaner_cond, NULL);
	pthread_mutex_init(&lm->cleaner_ck_lock, NULL);
	lm->cfg = *cfg;
	lm->n_dirs = cfg->n_dirs;
	lm->dirs = xcalloc((size_t)(cfg->n_dirs ? cfg->n_dirs : 1), sizeof *lm->dirs);
	lm->offline = xcalloc((size_t)(cfg->n_dirs ? cfg->n_dirs : 1), sizeof *lm->offline);
	for (int i = 0; i < cfg->n_dirs; i++)
		lm->dirs[i] = absolute_path(cfg->dirs[i]);
	lm->cfg.dirs = lm->dirs;
	lm->cfg.cluster_id = cfg->cluster_id ? xstrdup(cfg->cluster_id) : NULL;
	int online = 0;
	for (int i = 0; i < lm->n_dirs; i++) {
		/* Kafka starts with the dirs it can use and reports the others offline
		 * [LogManager.createAndValidateLogDirs, loadLogs]; a dir of another broker
		 * or cluster, or one partition in two dirs, stops the start instead. */
		if (mkdir_p(lm->dirs[i]) < 0) {
			log_error("Cannot create log dir %s: %s; it is offline", lm->dirs[i], strerror(errno));
			lm->offline[i] = true;
			continue;
		}
		int rc = check_meta(lm, lm->dirs[i]);
		if (rc == META_FATAL)
			goto fail;
		if (rc == META_IO_ERROR || (rc = load_dir(lm, i)) == LOAD_IO_ERROR) {
			log_error("Log dir %s is offline: it cannot be read", lm->dirs[i]);
			drop_dir_logs(lm, i);
			lm->offline[i] = true;
			continue;
		}
		if (rc == LOAD_FATAL)
			goto fail;
		online++;
	}
	if (online == 0) {
		log_error("None of the log dirs can be used; shutting down");
		goto fail;
	}
	/* Moves committed before a crash are complete now that their old copies are gone. */
	for (int i = 0; i < lm->n; i++)
		if (lm->refs[i]->moved) {
			char *m = xasprintf("%s/%s", log_dir(lm->refs[i]->log), MOVED_MARKER);
			unlink(m);
			free(m);
			lm->refs[i]->moved = false;
		}
	return lm;
fail:
	log_manager_shutdown(lm);
	return NULL;
}

/* ------------------------------------------------------------------ lookups */

struct log_ref *log_manager_get(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition)
{
	pthread_mutex_lock(&lm->lock);
	bool found;
	int at = search(lm, topic, topic_len, partition, &found);
	struct log_ref *r = found ? log_ref_dup(lm->refs[at]) : NULL;
	pthread_mutex_unlock(&lm->lock);
	return r;
}

/* The dir holding the fewest logs, as Kafka places a new partition (lock held). */
static int pick_dir(struct log_manager *lm)
{
	int best = -1, best_n = -1;
	for (int d = 0; d < lm->n_dirs; d++) {
		if (lm->offline[d])
			continue;
		int n = 0;
		for (int i = 0; i < lm->n; i++)
			n += lm->refs[i]->dir == d;
		if (best_n < 0 || n < best_n) {
			best = d;
			best_n = n;
		}
	}
	return best;
}

/* The dir AlterReplicaLogDirs asked for this partition, if online; the wish is used up (lock held). */
static int take_preferred(struct log_manager *lm, const char *topic, size_t tl, int32_t partition)
{
	for (int i = 0; i < lm->n_preferred; i++) {
		struct preferred_dir *pd = &lm->preferred[i];
		if (pd->partition != partition || strlen(pd->topic) != tl || memcmp(pd->topic, topic, tl) != 0)
			continue;
		int d = pd->dir;
		free(pd->topic);
		lm->preferred[i] = lm->preferred[--lm->n_preferred];
		return lm->offline[d] ? -1 : d;
	}
	return -1;
}

int log_manager_get_or_create(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition,
			      const uint8_t *topic_id, const struct log_config *cfg, struct log_ref **out)
{
	*out = NULL;
	if (lm->n_dirs == 0)
		return KERR_KAFKA_STORAGE_ERROR;
	/* Creation holds the table lock across the mkdir of an empty log: rare, and it keeps
	 * two LeaderAndIsr requests from creating the same directory twice. */
	pthread_mutex_lock(&lm->lock);
	bool found;
	int at = search(lm, topic, topic_len, partition, &found);
	if (found) {
		*out = log_ref_dup(lm->refs[at]);
		pthread_mutex_unlock(&lm->lock);
		return KERR_NONE;
	}
	int di = take_preferred(lm, topic, topic_len, partition);
	if (di < 0)
		di = pick_dir(lm);
	if (di < 0) {
		pthread_mutex_unlock(&lm->lock);
		log_error("Cannot create log for %.*s-%d: every log dir is offline", (int)topic_len, topic, partition);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	char *path = xasprintf("%s/%.*s-%d", lm->dirs[di], (int)topic_len, topic, partition);
	struct log_open_args a = {
		.dir = path,
		.config = cfg ? cfg : &lm->cfg.defaults,
		.clean_shutdown = true,
		.recovery_point = 0,
		.log_start_offset = 0,
		.now_ms = wall_clock_ms(),
	};
	struct log *l = NULL;
	int err = log_open(&a, &l);
	if (err != KERR_NONE) {
		pthread_mutex_unlock(&lm->lock);
		log_error("Cannot create log %s", path);
		free(path);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	if (topic_id) {
		char id[32];
		uuid_to_base64(topic_id, id);
		partition_metadata_write(path, id);
	}
	struct log_ref *r = table_insert(lm, at, topic, topic_len, partition, di, l);
	*out = log_ref_dup(r);
	pthread_mutex_unlock(&lm->lock);
	log_info("Created log for partition %.*s-%d in %s", (int)topic_len, topic, partition, path);
	free(path);
	return KERR_NONE;
}

void log_manager_delete(struct log_manager *lm, const char *topic, size_t topic_len, int32_t partition)
{
	pthread_mutex_lock(&lm->lock);
	bool found;
	int at = search(lm, topic, topic_len, partition, &found);
	struct log_ref *r = NULL;
	if (found) {
		r = lm->refs[at];
		tp_index_remove_at(lm->refs, lm->n--, sizeof *lm->refs, at);
		atomic_store(&r->deleted, true);
	}
	pthread_mutex_unlock(&lm->lock);
	log_ref_put(r); /* the table's reference */
}

int log_manager_count(struct log_manager *lm)
{
	pthread_mutex_lock(&lm->lock);
	int n = lm->n;
	pthread_mutex_unlock(&lm->lock);
	return n;
}

/* ------------------------------------------------------------------ log dirs */

int log_manager_dir_count(struct log_manager *lm) { return lm->n_dirs; }

const char *log_manager_dir_path(struct log_manager *lm, int d) { return lm->dirs[d]; }

bool log_manager_dir_online(struct log_manager *lm, int d) { return !dir_offline(lm, d); }

struct log_ref **log_manager_dir_logs(struct log_manager *lm, int d, int *n_out)
{
	pthread_mutex_lock(&lm->lock);
	struct log_ref **out = xmalloc(sizeof *out * (size_t)(lm->n ? lm->n : 1));
	int n = 0;
	for (int i = 0; i < lm->n; i++)
		if (lm->refs[i]->dir == d)
			out[n++] = log_ref_dup(lm->refs[i]);
	int n_cur = n;
	out = xrealloc(out, sizeof *out * (size_t)(n + lm->n_futures + 1));
	for (int i = 0; i < lm->n_futures; i++)
		if (lm->futures[i]->dir == d)
			out[n++] = log_ref_dup(lm->futures[i]);
	pthread_mutex_unlock(&lm->lock);
	/* Futures join in topic-partition order too. */
	qsort(out + n_cur, (size_t)(n - n_cur), sizeof *out, ref_cmp);
	struct log_ref **merged = xmalloc(sizeof *merged * (size_t)(n ? n : 1));
	int a = 0, b = n_cur, k = 0;
	while (a < n_cur || b < n)
		merged[k++] = (b >= n || (a < n_cur && ref_cmp(&out[a], &out[b]) <= 0)) ? out[a++] : out[b++];
	free(out);
	*n_out = n;
	return merged;
}

void log_manager_refs_put(struct log_ref **refs, int n) { snapshot_put(refs, n); }

const char *log_ref_topic(const struct log_ref *r, size_t *len)
{
	*len = r->topic_len;
	return r->topic;
}

int32_t log_ref_partition(const struct log_ref *r) { return r->partition; }

int log_ref_dir(const struct log_ref *r) { return r->dir; }

bool log_ref_is_future(const struct log_ref *r) { return r->future; }

int log_manager_online_dir_count(struct log_manager *lm)
{
	pthread_mutex_lock(&lm->lock);
	int n = 0;
	for (int d = 0; d < lm->n_dirs; d++)
		n += !lm->offline[d];
	pthread_mutex_unlock(&lm->lock);
	return n;
}

/*
 * [Kafka's LogManager.handleLogDirFailure]: the dir leaves service and its logs
 * leave the table, so nothing is created in it and no checkpoint is written
 * there; the owner hears which logs were there (it takes their partitions
 * offline and tells the controller).  Their files stay as they are.
 */
void log_manager_fail_dir(struct log_manager *lm, int d)
{
	if (d < 0 || d >= lm->n_dirs)
		return;
	pthread_mutex_lock(&lm->lock);
	if (lm->offline[d]) {
		pthread_mutex_unlock(&lm->lock);
		return;
	}
	lm->offline[d] = true;
	int n;
	struct log_ref **gone = take_dir_logs(lm, d, &n);
	pthread_mutex_unlock(&lm->lock);
	log_error("Log dir %s is offline after an I/O error; its %d partition(s) stop being served here", lm->dirs[d],
		  n);
	if (lm->cfg.dir_failed)
		lm->cfg.dir_failed(lm->cfg.dir_failed_arg, lm->dirs[d], gone, n);
	snapshot_put(gone, n);
}

/* A log that met an I/O error takes its dir down with it, as Kafka's LogDirFailureChannel does. */
static void check_failed_logs(struct log_manager *lm)
{
	int n;
	struct log_ref **s = snapshot(lm, &n);
	for (int i = 0; i < n; i++)
		if (log_failed(s[i]->log)) {
			log_error("Log %s failed; taking log dir %s offline", log_dir(s[i]->log), lm->dirs[s[i]->dir]);
			log_manager_fail_dir(lm, s[i]->dir);
		}
	snapshot_put(s, n);
}

/* ------------------------------------------------------------------ moves between dirs */

int log_manager_find_dir(struct log_manager *lm, const char *path)
{
	char *abs = absolute_path(path);
	/* Trailing slashes do not make another dir. */
	for (size_t n = strlen(abs); n > 1 && abs[n - 1] == '/'; n--)
		abs[n - 1] = 0;
	int found = -1;
	for (int d = 0; d < lm->n_dirs && found < 0; d++)
		if (strcmp(lm->dirs[d], abs) == 0)
			found = d;
	free(abs);
	return found;
}

void log_manager_set_preferred_dir(struct log_manager *lm, const char *topic, size_t tl, int32_t partition, int d)
{
	pthread_mutex_lock(&lm->lock);
	int i = 0;
	while (i < lm->n_preferred && !(lm->preferred[i].partition == partition &&
					strlen(lm->preferred[i].topic) == tl &&
					memcmp(lm->preferred[i].topic, topic, tl) == 0))
		i++;
	if (i == lm->n_preferred) {
		lm->preferred = xrealloc(lm->preferred, sizeof *lm->preferred * (size_t)(lm->n_preferred + 1));
		lm->preferred[lm->n_preferred++] = (struct preferred_dir){ xstrndup(topic, tl), partition, d };
	} else {
		lm->preferred[i].dir = d;
	}
	pthread_mutex_unlock(&lm->lock);
}

static int find_future(struct log_manager *lm, const char *topic, size_t tl, int32_t partition)
{
	for (int i = 0; i < lm->n_futures; i++) {
		const struct log_ref *f = lm->futures[i];
		if (f->partition == partition && f->topic_len == tl && memcmp(f->topic, topic, tl) == 0)
			return i;
	}
	return -1;
}

struct log_ref *log_manager_get_future(struct log_manager *lm, const char *topic, size_t tl, int32_t partition)
{
	pthread_mutex_lock(&lm->lock);
	int i = find_future(lm, topic, tl, partition);
	struct log_ref *r = i >= 0 ? log_ref_dup(lm->futures[i]) : NULL;
	pthread_mutex_unlock(&lm->lock);
	return r;
}

static int write_marker(const char *dir, const char *marker)
{
	char *p = xasprintf("%s/%s", dir, marker);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	free(p);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	close(fd);
	return rc;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int log_manager_create_future(struct log_manager *lm, const char *topic, size_t tl, int32_t partition, int d,
			      const uint8_t *topic_id, const struct log_config *cfg, struct log_ref **out)
{
	*out = NULL;
	pthread_mutex_lock(&lm->lock);
	if (d < 0 || d >= lm->n_dirs || lm->offline[d]) {
		pthread_mutex_unlock(&lm->lock);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	int i = find_future(lm, topic, tl, partition);
	if (i >= 0) {
		int err = lm->futures[i]->dir == d ? KERR_NONE : KERR_REPLICA_NOT_AVAILABLE;
		if (err == KERR_NONE)
			*out = log_ref_dup(lm->futures[i]);
		pthread_mutex_unlock(&lm->lock);
		return err;
	}
	char *path = xasprintf("%s/%.*s-%d", lm->dirs[d], (int)tl, topic, partition);
	struct stat st;
	if (stat(path, &st) == 0) {
		/* Not ours (the current log lives elsewhere): a leftover no one loaded. */
		log_warn("Removing %s, found where a log dir move begins", path);
		remove_tree(path);
	}
	struct log_open_args a = {
		.dir = path,
		.config = cfg ? cfg : &lm->cfg.defaults,
		.clean_shutdown = true,
		.now_ms = wall_clock_ms(),
	};
	struct log *l = NULL;
	/* The marker goes in before the first segment is written, so a crash leaves a dir start-up removes. */
	if (mkdir(path, 0755) < 0 || write_marker(path, FUTURE_MARKER) < 0 || log_open(&a, &l) != KERR_NONE) {
		pthread_mutex_unlock(&lm->lock);
		log_error("Cannot create the future log %s: %s", path, strerror(errno));
		remove_tree(path);
		free(path);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	if (topic_id) {
		char id[32];
		uuid_to_base64(topic_id, id);
		partition_metadata_write(path, id);
	}
	struct log_ref *r = xcalloc(1, sizeof *r);
	r->lm = lm;
	r->topic = xstrndup(topic, tl);
	r->topic_len = tl;
	r->partition = partition;
	r->dir = d;
	r->log = l;
	r->future = true;
	atomic_init(&r->refs, 1);
	atomic_init(&r->deleted, false);
	lm->futures = xrealloc(lm->futures, sizeof *lm->futures * (size_t)(lm->n_futures + 1));
	lm->futures[lm->n_futures++] = r;
	*out = log_ref_dup(r);
	pthread_mutex_unlock(&lm->lock);
	log_info("Created future log %s for a move of %.*s-%d", path, (int)tl, topic, partition);
	free(path);
	return KERR_NONE;
}

void log_manager_abort_future(struct log_manager *lm, const char *topic, size_t tl, int32_t partition)
{
	pthread_mutex_lock(&lm->lock);
	int i = find_future(lm, topic, tl, partition);
	struct log_ref *r = NULL;
	if (i >= 0) {
		r = lm->futures[i];
		lm->futures[i] = lm->futures[--lm->n_futures];
		atomic_store(&r->deleted, true);
	}
	pthread_mutex_unlock(&lm->lock);
	if (r)
		log_info("Abandoning the future log %s", log_dir(r->log));
	log_ref_put(r);
}

int log_manager_commit_future(struct log_manager *lm, const char *topic, size_t tl, int32_t partition,
			      struct log_ref **current)
{
	*current = NULL;
	pthread_mutex_lock(&lm->lock);
	int fi = find_future(lm, topic, tl, partition);
	bool found;
	int at = search(lm, topic, tl, partition, &found);
	if (fi < 0 || !found) {
		pthread_mutex_unlock(&lm->lock);
		return KERR_REPLICA_NOT_AVAILABLE;
	}
	struct log_ref *f = lm->futures[fi], *old = lm->refs[at];
	const char *fdir = log_dir(f->log);
	char *from = xasprintf("%s/%s", fdir, FUTURE_MARKER), *to = xasprintf("%s/%s", fdir, MOVED_MARKER);
	char id[40];
	uint8_t u[16];
	uuid_random(u);
	for (int k = 0; k < 16; k++)
		snprintf(id + 2 * k, 3, "%02x", u[k]);
	char *del = xasprintf("%s.%s-delete", log_dir(old->log), id);
	int err = KERR_NONE;
	/* 1: the copy is the partition's from now on; 2: the old copy leaves; 3: done. */
	if (rename(from, to) < 0) {
		err = KERR_KAFKA_STORAGE_ERROR;
	} else {
		fsync_dir(fdir);
		if (rename(log_dir(old->log), del) < 0) {
			log_error("Cannot rename %s away: %s; the next start removes it", log_dir(old->log),
				  strerror(errno));
		} else {
			fsync_dir(lm->dirs[old->dir]);
			old->delete_path = xstrdup(del);
		}
		unlink(to);
		fsync_dir(fdir);
	}
	if (err == KERR_NONE) {
		lm->futures[fi] = lm->futures[--lm->n_futures];
		f->future = false;
		lm->refs[at] = f; /* same (topic, partition): the order holds */
		atomic_store(&old->deleted, true);
		*current = log_ref_dup(f);
	}
	pthread_mutex_unlock(&lm->lock);
	if (err == KERR_NONE) {
		log_info("Moved partition %.*s-%d to %s", (int)tl, topic, partition, fdir);
		log_ref_put(old); /* the table's reference: the files go when the last user lets go */
	} else {
		log_error("Cannot commit the move of %.*s-%d: %s", (int)tl, topic, partition, strerror(errno));
	}
	free(from);
	free(to);
	free(del);
	return err;
}

/* ------------------------------------------------------------------ checkpoints */

enum ck_kind { CK_RECOVERY_POINT, CK_LOG_START, CK_HIGH_WATERMARK };

static void write_checkpoint(struct log_manager *lm, enum ck_kind kind)
{
	static const char *const names[] = { CHECKPOINT_RECOVERY_POINT, CHECKPOINT_LOG_START_OFFSET,
					     CHECKPOINT_REPLICATION };
	int n;
	struct log_ref **s = snapshot(lm, &n);
	struct checkpoint_entry *e = xmalloc(sizeof *e * (size_t)(n ? n : 1));
	for (int d = 0; d < lm->n_dirs; d++) {
		if (dir_offline(lm, d))
			continue;
		size_t k = 0;
		for (int i = 0; i < n; i++) {
			if (s[i]->dir != d)
				continue;
			struct log *l = s[i]->log;
			int64_t off = kind == CK_RECOVERY_POINT ? log_recovery_point(l)
				      : kind == CK_LOG_START   ? log_start_offset(l)
							       : log_high_watermark(l);
			/* Kafka leaves logs whose start is 0 out of the start-offset file. */
			if (kind == CK_LOG_START && off == 0)
				continue;
			e[k].topic = s[i]->topic;
			e[k].partition = s[i]->partition;
			e[k].offset = off;
			k++;
		}
		char *path = xasprintf("%s/%s", lm->dirs[d], names[kind]);
		if (checkpoint_write(path, e, k) != KERR_NONE)
			log_error("Cannot write %s", path);
		free(path);
	}
	free(e);
	snapshot_put(s, n);
}

void log_manager_checkpoint(struct log_manager *lm)
{
	write_checkpoint(lm, CK_RECOVERY_POINT);
	write_checkpoint(lm, CK_LOG_START);
	write_checkpoint(lm, CK_HIGH_WATERMARK);
	write_cleaner_checkpoint(lm);
}

/* ------------------------------------------------------------------ the log cleaner */

/* cleaner-offset-checkpoint: the cleaner offset of every compacted log that has one [LogCleanerManager]. */
static void write_cleaner_checkpoint(struct log_manager *lm)
{
	int n;
	struct log_ref **s = snapshot(lm, &n);
	struct checkpoint_entry *e = xmalloc(sizeof *e * (size_t)(n ? n : 1));
	pthread_mutex_lock(&lm->cleaner_ck_lock);
	for (int d = 0; d < lm->n_dirs; d++) {
		if (dir_offline(lm, d))
			continue;
		size_t k = 0;
		for (int i = 0; i < n; i++) {
			if (s[i]->dir != d)
				continue;
			int64_t off = log_cleaner_offset(s[i]->log);
			if (off < 0)
				continue;
			e[k].topic = s[i]->topic;
			e[k].partition = s[i]->partition;
			e[k].offset = off;
			k++;
		}
		char *path = xasprintf("%s/%s", lm->dirs[d], CHECKPOINT_CLEANER);
		if (checkpoint_write(path, e, k) != KERR_NONE)
			log_error("Cannot write %s", path);
		free(path);
	}
	pthread_mutex_unlock(&lm->cleaner_ck_lock);
	free(e);
	snapshot_put(s, n);
}

/*
 * The dirtiest compacted log no other cleaner has [grabFilthiestCompactedLog]:
 * the highest dirty ratio above min.cleanable.dirty.ratio, or any whose
 * max.compaction.lag.ms has passed.  Returned claimed and referenced.
 */
static struct log_ref *grab_filthiest(struct log_manager *lm, int64_t now)
{
	int n;
	struct log_ref **s = snapshot(lm, &n);
	struct log_ref *best = NULL;
	double best_ratio = -1;
	for (int i = 0; i < n; i++) {
		struct log_ref *r = s[i];
		if (r->future || atomic_load(&r->deleted) || dir_offline(lm, r->dir))
			continue;
		pthread_mutex_lock(&lm->lock);
		bool skip = r->cleaning || r->uncleanable;
		pthread_mutex_unlock(&lm->lock);
		struct log_cleanable cs;
		if (skip || !log_cleanable_state(r->log, now, &cs))
			continue;
		struct log_config cfg;
		log_get_config(r->log, &cfg);
		if (!(cs.ratio > cfg.min_cleanable_ratio || cs.need_now))
			continue;
		/* A log past its max lag goes before the merely dirty ones [Kafka: the max compaction delay first]. */
		double score = cs.ratio + (cs.need_now ? 2 : 0);
		if (score > best_ratio) {
			best = r;
			best_ratio = score;
		}
	}
	if (best) {
		pthread_mutex_lock(&lm->lock);
		if (best->cleaning)
			best = NULL;
		else
			best->cleaning = true;
		pthread_mutex_unlock(&lm->lock);
	}
	if (best)
		log_ref_dup(best);
	snapshot_put(s, n);
	return best;
}

struct cleaner_arg {
	struct log_manager *lm;
	struct log_cleaner *c;
	int id;
};

static void *cleaner_main(void *arg)
{
	struct cleaner_arg *a = arg;
	struct log_manager *lm = a->lm;
	while (!lm->cleaner_stop) {
		struct log_ref *r = grab_filthiest(lm, wall_clock_ms());
		if (!r) {
			int64_t wake = wall_clock_ms() + (lm->cfg.cleaner_backoff_ms > 0 ? lm->cfg.cleaner_backoff_ms : 1);
			struct timespec ts = { .tv_sec = wake / 1000, .tv_nsec = (long)(wake % 1000) * 1000000 };
			pthread_mutex_lock(&lm->cleaner_lock);
			if (!lm->cleaner_stop)
				pthread_cond_timedwait(&lm->cleaner_cond, &lm->cleaner_lock, &ts);
			pthread_mutex_unlock(&lm->cleaner_lock);
			continue;
		}
		struct log_clean_stats st;
		int64_t t0 = wall_clock_ms();
		int err = log_clean(a->c, r->log, t0, &st);
		bool corrupt = err == KERR_CORRUPT_MESSAGE;
		if (err == KERR_NONE) {
			log_info("Cleaner %d: cleaned log %s (%d segments) up to offset %lld in %lld ms: "
				 "%lld of %lld records kept, %lld bytes read, %lld written", a->id, log_dir(r->log),
				 st.segments_cleaned, (long long)st.map_end, (long long)(wall_clock_ms() - t0),
				 (long long)st.records_kept, (long long)st.records_read, (long long)st.bytes_read,
				 (long long)st.bytes_written);
			write_cleaner_checkpoint(lm);
		} else if (corrupt) {
			log_error("Cleaner %d: log %s holds a corrupt batch; it is not cleaned again until restart",
				  a->id, log_dir(r->log));
		} else if (!lm->cleaner_stop) {
			log_debug("Cleaner %d: cleaning %s stopped: %s", a->id, log_dir(r->log), kafka_error_name(err));
		}
		pthread_mutex_lock(&lm->lock);
		r->cleaning = false;
		r->uncleanable = r->uncleanable || corrupt;
		pthread_mutex_unlock(&lm->lock);
		log_ref_put(r);
		/* A clean that changed nothing (or failed) waits like an idle pass, so no loop spins. */
		if (err != KERR_NONE && !lm->cleaner_stop) {
			int64_t wake = wall_clock_ms() + (lm->cfg.cleaner_backoff_ms > 0 ? lm->cfg.cleaner_backoff_ms : 1);
			struct timespec ts = { .tv_sec = wake / 1000, .tv_nsec = (long)(wake % 1000) * 1000000 };
			pthread_mutex_lock(&lm->cleaner_lock);
			if (!lm->cleaner_stop)
				pthread_cond_timedwait(&lm->cleaner_cond, &lm->cleaner_lock, &ts);
			pthread_mutex_unlock(&lm->cleaner_lock);
		}
	}
	free(a);
	return NULL;
}

static void start_cleaners(struct log_manager *lm)
{
	int n = lm->cfg.cleaner_enable ? lm->cfg.cleaner_threads : 0;
	if (n <= 0)
		return;
	lm->cleaners = xcalloc((size_t)n, sizeof *lm->cleaners);
	lm->cleaner_state = xcalloc((size_t)n, sizeof *lm->cleaner_state);
	int64_t dedupe = lm->cfg.cleaner_dedupe_buffer_size > 0 ? lm->cfg.cleaner_dedupe_buffer_size : 134217728;
	double rate = lm->cfg.cleaner_io_max_bytes_per_second;
	for (int i = 0; i < n; i++) {
		struct log_cleaner *c = log_cleaner_new((size_t)(dedupe / n), lm->cfg.cleaner_io_buffer_load_factor,
							rate > 0 && rate < 1e300 ? rate / n : 0,
							&lm->cleaner_stop);
		if (!c)
			break;
		struct cleaner_arg *a = xmalloc(sizeof *a);
		*a = (struct cleaner_arg){ lm, c, i };
		if (pthread_create(&lm->cleaners[lm->n_cleaners], NULL, cleaner_main, a) != 0) {
			log_error("Cannot start log cleaner thread %d", i);
			log_cleaner_free(c);
			free(a);
			break;
		}
		lm->cleaner_state[lm->n_cleaners++] = c;
	}
	log_info("Started %d log cleaner threads", lm->n_cleaners);
}

static void stop_cleaners(struct log_manager *lm)
{
	if (lm->n_cleaners == 0)
		return;
	pthread_mutex_lock(&lm->cleaner_lock);
	lm->cleaner_stop = true;
	pthread_cond_broadcast(&lm->cleaner_cond);
	pthread_mutex_unlock(&lm->cleaner_lock);
	for (int i = 0; i < lm->n_cleaners; i++) {
		void *ret;
		pthread_join(lm->cleaners[i], &ret);
		log_cleaner_free(lm->cleaner_state[i]);
	}
	free(lm->cleaners);
	free(lm->cleaner_state);
	lm->cleaners = NULL;
	lm->cleaner_state = NULL;
	lm->n_cleaners = 0;
}

/* ------------------------------------------------------------------ scheduler */

static void run_retention(struct log_manager *lm, int64_t now)
{
	int n;
	struct log_ref **s = snapshot(lm, &n);
	int total = 0;
	for (int i = 0; i < n; i++) {
		int deleted = 0;
		if (log_enforce_retention(s[i]->log, now, &deleted) == KERR_NONE)
			total += deleted;
		if (lm->cfg.producer_id_expiration_ms > 0)
			log_expire_producers(s[i]->log, now, lm->cfg.producer_id_expiration_ms);
	}
	if (total)
		log_info("Retention removed %d segments", total);
	snapshot_put(s, n);
}

static void run_flush_and_deletes(struct log_manager *lm, int64_t now)
{
	int n;
	struct log_ref **s = snapshot(lm, &n);
	for (int i = 0; i < n; i++) {
		log_maybe_flush(s[i]->log, now);
		log_delete_expired(s[i]->log, now);
	}
	snapshot_put(s, n);
}

static void *scheduler_main(void *arg)
{
	struct log_manager *lm = arg;
	int64_t start = wall_clock_ms();
	int64_t next_retention = start + 30000; /* Kafka's InitialTaskDelayMs */
	int64_t next_flush = start + lm->cfg.flush_scheduler_interval_ms;
	int64_t next_rp = start + lm->cfg.flush_checkpoint_interval_ms;
	int64_t next_lso = start + lm->cfg.flush_start_offset_checkpoint_interval_ms;
	int64_t next_hw = start + lm->cfg.hw_checkpoint_interval_ms;
	if (lm->cfg.retention_check_interval_ms < 30000)
		next_retention = start + lm->cfg.retention_check_interval_ms;
	pthread_mutex_lock(&lm->sched_lock);
	while (!lm->stopping) {
		int64_t now = wall_clock_ms();
		int64_t wake = next_retention;
		int64_t times[] = { next_flush, next_rp, next_lso, next_hw, now + 1000 };
		for (size_t i = 0; i < sizeof times / sizeof times[0]; i++)
			if (times[i] < wake)
				wake = times[i];
		if (wake > now) {
			struct timespec ts = { .tv_sec = wake / 1000, .tv_nsec = (long)(wake % 1000) * 1000000 };
			pthread_cond_timedwait(&lm->sched_cond, &lm->sched_lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&lm->sched_lock);
		if (now >= next_retention) {
			run_retention(lm, now);
			next_retention = now + lm->cfg.retention_check_interval_ms;
		}
		/* Deferred deletes are checked every pass; flushes by their own interval. */
		run_flush_and_deletes(lm, now);
		check_failed_logs(lm);
		if (now >= next_flush)
			next_flush = now + lm->cfg.flush_scheduler_interval_ms;
		if (now >= next_rp) {
			write_checkpoint(lm, CK_RECOVERY_POINT);
			next_rp = now + lm->cfg.flush_checkpoint_interval_ms;
		}
		if (now >= next_lso) {
			write_checkpoint(lm, CK_LOG_START);
			next_lso = now + lm->cfg.flush_start_offset_checkpoint_interval_ms;
		}
		if (now >= next_hw) {
			write_checkpoint(lm, CK_HIGH_WATERMARK);
			next_hw = now + lm->cfg.hw_checkpoint_interval_ms;
		}
		pthread_mutex_lock(&lm->sched_lock);
	}
	pthread_mutex_unlock(&lm->sched_lock);
	return NULL;
}

void log_manager_start(struct log_manager *lm)
{
	if (lm->cfg.retention_check_interval_ms <= 0)
		lm->cfg.retention_check_interval_ms = 300000;
	if (lm->cfg.flush_scheduler_interval_ms <= 0 || lm->cfg.flush_scheduler_interval_ms > 3600000)
		lm->cfg.flush_scheduler_interval_ms = 1000;
	if (lm->cfg.flush_checkpoint_interval_ms <= 0)
		lm->cfg.flush_checkpoint_interval_ms = 60000;
	if (lm->cfg.flush_start_offset_checkpoint_interval_ms <= 0)
		lm->cfg.flush_start_offset_checkpoint_interval_ms = 60000;
	if (lm->cfg.hw_checkpoint_interval_ms <= 0)
		lm->cfg.hw_checkpoint_interval_ms = 5000;
	if (pthread_create(&lm->scheduler, NULL, scheduler_main, lm) == 0)
		lm->scheduler_running = true;
	else
		log_error("Cannot start the log scheduler thread");
	start_cleaners(lm);
}

void log_manager_stop_scheduler(struct log_manager *lm)
{
	if (lm)
		stop_cleaners(lm);
	if (!lm || !lm->scheduler_running || lm->scheduler_joined)
		return;
	pthread_mutex_lock(&lm->sched_lock);
	lm->stopping = true;
	pthread_cond_signal(&lm->sched_cond);
	pthread_mutex_unlock(&lm->sched_lock);
	pthread_join(lm->scheduler, NULL);
	lm->scheduler_joined = true;
}

void log_manager_shutdown(struct log_manager *lm)
{
	if (!lm)
		return;
	log_manager_stop_scheduler(lm);
	bool clean = true;
	int64_t now = wall_clock_ms();
	for (int i = 0; i < lm->n; i++) {
		if (log_flush(lm->refs[i]->log, now) != KERR_NONE)
			clean = false;
		/* [ProducerStateManager.takeSnapshot at close]: the next start replays nothing. */
		else if (log_write_producer_snapshot(lm->refs[i]->log) != KERR_NONE)
			clean = false;
	}
	if (lm->scheduler_running)
		log_manager_checkpoint(lm);
	for (int i = 0; i < lm->n; i++) {
		if (atomic_load(&lm->refs[i]->refs) != 1)
			log_warn("Log %s still in use at shutdown", log_dir(lm->refs[i]->log));
		log_ref_put(lm->refs[i]);
	}
	lm->n = 0;
	/* A move in progress is dropped: its copy carries FUTURE_MARKER, which the next start removes. */
	for (int i = 0; i < lm->n_futures; i++)
		log_ref_put(lm->futures[i]);
	free(lm->futures);
	for (int i = 0; i < lm->n_preferred; i++)
		free(lm->preferred[i].topic);
	free(lm->preferred);
	/* The marker says every log above is whole: the next start skips recovery. */
	if (clean && lm->scheduler_running)
		for (int d = 0; d < lm->n_dirs; d++)
			if (!lm->offline[d])
				recovery_write_clean_shutdown(lm->dirs[d]);
	for (int d = 0; d < lm->n_dirs; d++)
		free(lm->dirs[d]);
	free(lm->dirs);
	free(lm->offline);
	free((char *)lm->cfg.cluster_id);
	free(lm->refs);
	pthread_cond_destroy(&lm->sched_cond);
	pthread_mutex_destroy(&lm->sched_lock);
	pthread_cond_destroy(&lm->cleaner_cond);
	pthread_mutex_destroy(&lm->cleaner_lock);
	pthread_mutex_destroy(&lm->cleaner_ck_lock);
	pthread_mutex_destroy(&lm->lock);
	free(lm);
}
