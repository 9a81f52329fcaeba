/* An in-memory ZooKeeper tree behind struct zk handles (see fake_zk.h). */
#include "fake_zk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "samsa/util/xalloc.h"
#include "samsa/zk.h"

struct fnode {
	char *path;
	char *data;      /* NULL with len -1: a null znode */
	int len;
	int32_t version;
	int32_t cversion;
	int64_t czxid, mzxid;
	int64_t owner;   /* ephemeral owner's session id, 0 for persistent */
};

enum { W_DATA, W_CHILD };

struct fwatch {
	char *path;
	int kind;        /* W_DATA: get and exists watches; W_CHILD: children watches */
	zk_watch_fn fn;
	void *arg;
	int64_t session;
};

struct trigger {
	char *path;
	int kind;
};

struct fsession {
	struct fsession *next;
	struct fake_zk *fz;
	int64_t id;
	bool expired;
};

struct fake_zk {
	struct fnode *nodes;
	int n_nodes;
	struct fwatch *watches;
	int n_watches;
	struct trigger *pending; /* watches a write will fire once it is applied */
	int n_pending;
	char **journal;
	int n_journal;
	int64_t zxid;
	int64_t next_session;
	struct fsession *sessions;
};

static struct fnode *find(struct fake_zk *fz, const char *path)
{
	for (int i = 0; i < fz->n_nodes; i++)
		if (strcmp(fz->nodes[i].path, path) == 0)
			return &fz->nodes[i];
	return NULL;
}

/* The parent of `path` ("/" for a top-level znode), malloc'd; NULL for "/" itself. */
static char *parent_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || strcmp(path, "/") == 0)
		return NULL;
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Whether `path` is a direct child of `parent`, and then its name. */
static const char *child_name(const char *parent, const char *path)
{
	size_t n = strlen(parent);
	if (strcmp(parent, "/") == 0)
		n = 0;
	if (strncmp(path, parent, n) != 0 || path[n] != '/' || path[n + 1] == '\0')
		return NULL;
	const char *name = path + n + 1;
	return strchr(name, '/') ? NULL : name;
}

static int count_children(struct fake_zk *fz, const char *path)
{
	int k = 0;
	for (int i = 0; i < fz->n_nodes; i++)
		if (child_name(path, fz->nodes[i].path))
			k++;
	return k;
}

static void fill_stat(struct fake_zk *fz, const struct fnode *nd, struct Stat *st)
{
	if (!st)
		return;
	memset(st, 0, sizeof *st);
	st->czxid = nd->czxid;
	st->mzxid = nd->mzxid;
	st->pzxid = nd->mzxid;
	st->version = nd->version;
	st->cversion = nd->cversion;
	st->ephemeralOwner = nd->owner;
	st->dataLength = nd->len > 0 ? nd->len : 0;
	st->numChildren = count_children(fz, nd->path);
}

static void journal(struct fake_zk *fz, const char *op, const char *path)
{
	fz->journal = xrealloc(fz->journal, sizeof *fz->journal * (size_t)(fz->n_journal + 1));
	size_t n = strlen(op) + strlen(path) + 2;
	char *e = xmalloc(n);
	snprintf(e, n, "%s %s", op, path);
	fz->journal[fz->n_journal++] = e;
}

static void trigger(struct fake_zk *fz, const char *path, int kind)
{
	fz->pending = xrealloc(fz->pending, sizeof *fz->pending * (size_t)(fz->n_pending + 1));
	fz->pending[fz->n_pending++] = (struct trigger){ xstrdup(path), kind };
}

static void drop_pending(struct fake_zk *fz)
{
	for (int i = 0; i < fz->n_pending; i++)
		free(fz->pending[i].path);
	free(fz->pending);
	fz->pending = NULL;
	fz->n_pending = 0;
}

/* Fires (once each) the watches the applied writes triggered. */
static void fire_pending(struct fake_zk *fz)
{
	struct trigger *t = fz->pending;
	int nt = fz->n_pending;
	fz->pending = NULL;
	fz->n_pending = 0;
	struct fwatch *fired = NULL;
	int nf = 0;
	for (int i = 0; i < fz->n_watches;) {
		bool hit = false;
		for (int k = 0; k < nt && !hit; k++)
			hit = t[k].kind == fz->watches[i].kind && strcmp(t[k].path, fz->watches[i].path) == 0;
		if (!hit) {
			i++;
			continue;
		}
		fired = xrealloc(fired, sizeof *fired * (size_t)(nf + 1));
		fired[nf++] = fz->watches[i];
		fz->watches[i] = fz->watches[--fz->n_watches];
	}
	for (int k = 0; k < nt; k++)
		free(t[k].path);
	free(t);
	/* After the bookkeeping: a callback may call back into the tree. */
	for (int i = 0; i < nf; i++) {
		fired[i].fn(fired[i].arg);
		free(fired[i].path);
	}
	free(fired);
}

static void add_watch(struct fake_zk *fz, struct fsession *s, const char *path, int kind, zk_watch_fn fn, void *arg)
{
	if (!fn)
		return;
	for (int i = 0; i < fz->n_watches; i++) {
		const struct fwatch *w = &fz->watches[i];
		if (w->kind == kind && w->fn == fn && w->arg == arg && strcmp(w->path, path) == 0)
			return; /* ZooKeeper keeps one per watcher and path */
	}
	fz->watches = xrealloc(fz->watches, sizeof *fz->watches * (size_t)(fz->n_watches + 1));
	fz->watches[fz->n_watches++] = (struct fwatch){ xstrdup(path), kind, fn, arg, s->id };
}

static void drop_watches_of(struct fake_zk *fz, int64_t session)
{
	for (int i = 0; i < fz->n_watches;) {
		if (fz->watches[i].session == session) {
			free(fz->watches[i].path);
			fz->watches[i] = fz->watches[--fz->n_watches];
		} else {
			i++;
		}
	}
}

/* --- writes, applied without firing (multi may still roll them back) ------------------- */

static int do_create(struct fake_zk *fz, struct fsession *s, const char *path, const char *data, int len, int flags,
		     struct Stat *st, char *created, int created_len)
{
	if (path[0] != '/' || (strlen(path) > 1 && path[strlen(path) - 1] == '/'))
		return ZBADARGUMENTS;
	char *parent = parent_of(path);
	if (!parent)
		return ZNODEEXISTS; /* "/" */
	struct fnode *pn = strcmp(parent, "/") == 0 ? NULL : find(fz, parent);
	if (strcmp(parent, "/") != 0 && !pn) {
		free(parent);
		return ZNONODE;
	}
	if (pn && pn->owner) {
		free(parent);
		return ZNOCHILDRENFOREPHEMERALS;
	}
	char real[1024];
	if (flags & ZOO_SEQUENCE)
		snprintf(real, sizeof real, "%s%010d", path, pn ? pn->cversion : 0);
	else
		snprintf(real, sizeof real, "%s", path);
	if (find(fz, real)) {
		free(parent);
		return ZNODEEXISTS;
	}
	fz->nodes = xrealloc(fz->nodes, sizeof *fz->nodes * (size_t)(fz->n_nodes + 1));
	struct fnode *nd = &fz->nodes[fz->n_nodes++];
	memset(nd, 0, sizeof *nd);
	nd->path = xstrdup(real);
	if (data && len >= 0) {
		nd->data = xmalloc((size_t)len + 1);
		memcpy(nd->data, data, (size_t)len);
		nd->data[len] = '\0';
		nd->len = len;
	} else {
		nd->len = -1;
	}
	nd->czxid = nd->mzxid = ++fz->zxid;
	nd->owner = (flags & ZOO_EPHEMERAL) ? s->id : 0;
	pn = find(fz, parent); /* the array may have moved */
	if (pn)
		pn->cversion++;
	fill_stat(fz, nd, st);
	if (created && created_len > 0)
		snprintf(created, (size_t)created_len, "%s", real);
	journal(fz, "create", real);
	trigger(fz, real, W_DATA);
	trigger(fz, parent, W_CHILD);
	free(parent);
	return ZOK;
}

static int do_set(struct fake_zk *fz, const char *path, const char *data, int len, int version, struct Stat *st)
{
	struct fnode *nd = find(fz, path);
	if (!nd)
		return ZNONODE;
	if (version != -1 && version != nd->version)
		return ZBADVERSION;
	free(nd->data);
	nd->data = NULL;
	nd->len = -1;
	if (data && len >= 0) {
		nd->data = xmalloc((size_t)len + 1);
		memcpy(nd->data, data, (size_t)len);
		nd->data[len] = '\0';
		nd->len = len;
	}
	nd->version++;
	nd->mzxid = ++fz->zxid;
	fill_stat(fz, nd, st);
	journal(fz, "set", path);
	trigger(fz, path, W_DATA);
	return ZOK;
}

static int do_delete(struct fake_zk *fz, const char *path, int version)
{
	struct fnode *nd = find(fz, path);
	if (!nd)
		return ZNONODE;
	if (version != -1 && version != nd->version)
		return ZBADVERSION;
	if (count_children(fz, path) > 0)
		return ZNOTEMPTY;
	char *parent = parent_of(path);
	journal(fz, "delete", path);
	trigger(fz, path, W_DATA);
	trigger(fz, path, W_CHILD);
	trigger(fz, parent, W_CHILD);
	free(nd->path);
	free(nd->data);
	*nd = fz->nodes[--fz->n_nodes];
	struct fnode *pn = find(fz, parent);
	if (pn)
		pn->cversion++;
	free(parent);
	++fz->zxid;
	return ZOK;
}

static int do_check(struct fake_zk *fz, const char *path, int version)
{
	struct fnode *nd = find(fz, path);
	if (!nd)
		return ZNONODE;
	return version != -1 && version != nd->version ? ZBADVERSION : ZOK;
}

/* --- the zk_ops of a session ------------------------------------------------------------- */

static int f_get(void *impl, const char *path, zk_watch_fn watch, void *arg, char **data, int *len, struct Stat *st)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	struct fnode *nd = find(s->fz, path);
	if (!nd)
		return ZNONODE; /* getData on a missing znode leaves no watch */
	add_watch(s->fz, s, path, W_DATA, watch, arg);
	if (nd->len < 0) {
		*data = NULL;
		*len = -1;
	} else {
		*data = xmalloc((size_t)nd->len + 1);
		memcpy(*data, nd->data, (size_t)nd->len + 1);
		*len = nd->len;
	}
	fill_stat(s->fz, nd, st);
	return ZOK;
}

static int f_exists(void *impl, const char *path, zk_watch_fn watch, void *arg, struct Stat *st)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	/* exists leaves its watch whether or not the znode is there. */
	add_watch(s->fz, s, path, W_DATA, watch, arg);
	struct fnode *nd = find(s->fz, path);
	if (!nd)
		return strcmp(path, "/") == 0 ? ZOK : ZNONODE;
	fill_stat(s->fz, nd, st);
	return ZOK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int f_children(void *impl, const char *path, zk_watch_fn watch, void *arg, struct String_vector *out)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	if (strcmp(path, "/") != 0 && !find(s->fz, path))
		return ZNONODE;
	add_watch(s->fz, s, path, W_CHILD, watch, arg);
	int n = count_children(s->fz, path);
	out->count = n;
	/* Allocated with malloc: deallocate_String_vector frees them. */
	out->data = calloc((size_t)(n ? n : 1), sizeof *out->data);
	int k = 0;
	for (int i = 0; i < s->fz->n_nodes; i++) {
		const char *name = child_name(path, s->fz->nodes[i].path);
		if (name)
			out->data[k++] = strdup(name);
	}
	qsort(out->data, (size_t)n, sizeof *out->data, cmp_str); /* ZooKeeper's order is unspecified; ours is sorted */
	return ZOK;
}

static int f_create(void *impl, const char *path, const char *data, int len, int flags, struct Stat *st, char *created,
		    int created_len)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	int rc = do_create(s->fz, s, path, data, len, flags, st, created, created_len);
	if (rc == ZOK)
		fire_pending(s->fz);
	else
		drop_pending(s->fz);
	return rc;
}

static int f_set(void *impl, const char *path, const char *data, int len, int version, struct Stat *st)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	int rc = do_set(s->fz, path, data, len, version, st);
	if (rc == ZOK)
		fire_pending(s->fz);
	else
		drop_pending(s->fz);
	return rc;
}

static int f_delete(void *impl, const char *path, int version)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	int rc = do_delete(s->fz, path, version);
	if (rc == ZOK)
		fire_pending(s->fz);
	else
		drop_pending(s->fz);
	return rc;
}

/* A copy of the tree for a multi to return to when one of its ops fails. */
struct snapshot {
	struct fnode *nodes;
	int n_nodes;
	int n_journal;
	int64_t zxid;
};

static void take_snapshot(struct fake_zk *fz, struct snapshot *sn)
{
	sn->n_nodes = fz->n_nodes;
	sn->nodes = xcalloc((size_t)(fz->n_nodes ? fz->n_nodes : 1), sizeof *sn->nodes);
	for (int i = 0; i < fz->n_nodes; i++) {
		sn->nodes[i] = fz->nodes[i];
		sn->nodes[i].path = xstrdup(fz->nodes[i].path);
		if (fz->nodes[i].data) {
			sn->nodes[i].data = xmalloc((size_t)fz->nodes[i].len + 1);
			memcpy(sn->nodes[i].data, fz->nodes[i].data, (size_t)fz->nodes[i].len + 1);
		}
	}
	sn->n_journal = fz->n_journal;
	sn->zxid = fz->zxid;
}

static void free_nodes(struct fnode *nodes, int n)
{
	for (int i = 0; i < n; i++) {
		free(nodes[i].path);
		free(nodes[i].data);
	}
	free(nodes);
}

static void restore_snapshot(struct fake_zk *fz, struct snapshot *sn)
{
	free_nodes(fz->nodes, fz->n_nodes);
	fz->nodes = sn->nodes;
	fz->n_nodes = sn->n_nodes;
	while (fz->n_journal > sn->n_journal)
		free(fz->journal[--fz->n_journal]);
	fz->zxid = sn->zxid;
}

/*
 * All or nothing, as ZooKeeper's multi: on failure the failing op has its code,
 * those before it ZOK, those after ZRUNTIMEINCONSISTENCY, and the call returns
 * the failing op's code.
 */
static int f_multi(void *impl, int count, const zoo_op_t *ops, zoo_op_result_t *results)
{
	struct fsession *s = impl;
	if (s->expired)
		return ZSESSIONEXPIRED;
	struct fake_zk *fz = s->fz;
	struct snapshot sn;
	take_snapshot(fz, &sn);
	int failed = -1, rc = ZOK;
	for (int i = 0; i < count; i++) {
		const zoo_op_t *op = &ops[i];
		memset(&results[i], 0, sizeof results[i]);
		if (op->type == ZOO_CREATE_OP)
			rc = do_create(fz, s, op->create_op.path, op->create_op.data, op->create_op.datalen,
				       op->create_op.flags, NULL, op->create_op.buf, op->create_op.buflen);
		else if (op->type == ZOO_SETDATA_OP)
			rc = do_set(fz, op->set_op.path, op->set_op.data, op->set_op.datalen, op->set_op.version,
				    op->set_op.stat);
		else if (op->type == ZOO_DELETE_OP)
			rc = do_delete(fz, op->delete_op.path, op->delete_op.version);
		else if (op->type == ZOO_CHECK_OP)
			rc = do_check(fz, op->check_op.path, op->check_op.version);
		else
			rc = ZUNIMPLEMENTED;
		results[i].err = rc;
		if (rc != ZOK) {
			failed = i;
			break;
		}
	}
	if (failed < 0) {
		free_nodes(sn.nodes, sn.n_nodes);
		fire_pending(fz);
		return ZOK;
	}
	for (int i = failed + 1; i < count; i++) {
		memset(&results[i], 0, sizeof results[i]);
		results[i].err = ZRUNTIMEINCONSISTENCY;
	}
	restore_snapshot(fz, &sn);
	drop_pending(fz);
	return rc;
}

static int64_t f_session_id(void *impl)
{
	struct fsession *s = impl;
	return s->id;
}

/* Ephemeral znodes of `session` go (watches fire), as when ZooKeeper ends a session. */
static void end_session(struct fake_zk *fz, int64_t session)
{
	for (;;) {
		struct fnode *victim = NULL;
		for (int i = 0; i < fz->n_nodes && !victim; i++)
			if (fz->nodes[i].owner == session)
				victim = &fz->nodes[i];
		if (!victim)
			break;
		char *path = xstrdup(victim->path);
		do_delete(fz, path, -1);
		free(path);
	}
	drop_watches_of(fz, session);
	fire_pending(fz);
}

static int f_reconnect(void *impl)
{
	struct fsession *s = impl;
	if (!s->expired)
		end_session(s->fz, s->id);
	s->id = ++s->fz->next_session;
	s->expired = false;
	return 0;
}

static void f_close(void *impl)
{
	struct fsession *s = impl;
	struct fake_zk *fz = s->fz;
	if (!s->expired)
		end_session(fz, s->id);
	for (struct fsession **pp = &fz->sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

static const struct zk_ops fake_ops = {
	.get = f_get,
	.exists = f_exists,
	.children = f_children,
	.create = f_create,
	.set = f_set,
	.delete_node = f_delete,
	.multi = f_multi,
	.session_id = f_session_id,
	.reconnect = f_reconnect,
	.close = f_close,
};

/* --- the test's side ------------------------------------------------------------------- */

struct fake_zk *fake_zk_new(void)
{
	struct fake_zk *fz = xcalloc(1, sizeof *fz);
	fz->next_session = 0x1000;
	return fz;
}

void fake_zk_free(struct fake_zk *fz)
{
	if (!fz)
		return;
	free_nodes(fz->nodes, fz->n_nodes);
	for (int i = 0; i < fz->n_watches; i++)
		free(fz->watches[i].path);
	free(fz->watches);
	drop_pending(fz);
	fake_zk_journal_clear(fz);
	while (fz->sessions) { /* a test that forgot to close: free them anyway */
		struct fsession *next = fz->sessions->next;
		free(fz->sessions);
		fz->sessions = next;
	}
	free(fz);
}

struct zk *fake_zk_session(struct fake_zk *fz)
{
	struct fsession *s = xcalloc(1, sizeof *s);
	s->fz = fz;
	s->id = ++fz->next_session;
	s->next = fz->sessions;
	fz->sessions = s;
	return zk_new_with_ops(&fake_ops, s);
}

void fake_zk_expire(struct fake_zk *fz, struct zk *zk)
{
	int64_t id = zk_session_id(zk);
	for (struct fsession *s = fz->sessions; s; s = s->next) {
		if (s->id != id || s->expired)
			continue;
		s->expired = true;
		end_session(fz, id);
		return;
	}
}

char *fake_zk_data(struct fake_zk *fz, const char *path)
{
	struct fnode *nd = find(fz, path);
	if (!nd)
		return NULL;
	return xstrdup(nd->data ? nd->data : "");
}

bool fake_zk_exists(struct fake_zk *fz, const char *path) { return find(fz, path) != NULL; }

int fake_zk_version(struct fake_zk *fz, const char *path)
{
	struct fnode *nd = find(fz, path);
	return nd ? nd->version : -1;
}

int fake_zk_journal_len(struct fake_zk *fz) { return fz->n_journal; }

const char *fake_zk_journal_at(struct fake_zk *fz, int i) { return i >= 0 && i < fz->n_journal ? fz->journal[i] : NULL; }

int fake_zk_journal_find(struct fake_zk *fz, const char *entry, int from)
{
	for (int i = from < 0 ? 0 : from; i < fz->n_journal; i++)
		if (strcmp(fz->journal[i], entry) == 0)
			return i;
	return -1;
}

void fake_zk_journal_clear(struct fake_zk *fz)
{
	for (int i = 0; i < fz->n_journal; i++)
		free(fz->journal[i]);
	free(fz->journal);
	fz->journal = NULL;
	fz->n_journal = 0;
}
