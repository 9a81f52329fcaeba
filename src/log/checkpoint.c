/*
 * Checkpoint files, meta.properties and partition.metadata (checkpoint.h).
 */
#include "log/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "samsa/proto.h"
#include "samsa/util/buf.h"
#include "samsa/util/log.h"
#include "samsa/util/xalloc.h"

/* --- atomic writes ------------------------------------------------------------ */

static int fsync_dir_of(const char *path)
{
	char *copy = xstrdup(path);
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = KERR_NONE;
	if (fd < 0 || fsync(fd) < 0) {
		log_error("cannot sync directory of %s: %s", path, strerror(errno));
		err = KERR_KAFKA_STORAGE_ERROR;
	}
	if (fd >= 0)
		close(fd);
	free(copy);
	return err;
}

int checkpoint_write_file(const char *path, const void *data, size_t len)
{
	char *tmp = xasprintf("%s.tmp", path);
	const uint8_t *p = data;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		goto fail;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	free(tmp);
	return fsync_dir_of(path);
fail:
	log_error("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return KERR_KAFKA_STORAGE_ERROR;
}

/* Whole file into a NUL-terminated buffer; *exists false if there is none. */
static int slurp(const char *path, char **out, size_t *len, bool *exists)
{
	FILE *f = fopen(path, "re");
	*out = NULL;
	*len = 0;
	*exists = f != NULL;
	if (!f) {
		if (errno == ENOENT)
			return KERR_NONE;
		log_error("cannot open %s: %s", path, strerror(errno));
		return KERR_KAFKA_STORAGE_ERROR;
	}
	struct wbuf w;
	wbuf_init(&w);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		wbuf_put(&w, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		log_error("cannot read %s", path);
		wbuf_free(&w);
		return KERR_KAFKA_STORAGE_ERROR;
	}
	*len = w.len;
	wbuf_put(&w, "", 1);
	*out = (char *)w.data;
	return KERR_NONE;
}

/* --- the shared frame: version line, count line, entry lines ------------------ */

/* Java's Integer/Long.parseLong: optional sign, digits, nothing else. */
static bool parse_i64(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t v = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return false;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
			return false;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool parse_i32(const char *s, size_t len, int32_t *out)
{
	int64_t v;
	if (!parse_i64(s, len, &v) || v < INT32_MIN || v > INT32_MAX)
		return false;
	*out = (int32_t)v;
	return true;
}

struct lines {
	const char *p, *end;
};

/* Next line without its "\n" (or "\r\n"); false at the end of the data. */
static bool next_line(struct lines *l, const char **s, size_t *len)
{
	if (l->p >= l->end)
		return false;
	const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	const char *stop = nl ? nl : l->end;
	*s = l->p;
	*len = (size_t)(stop - l->p);
	if (*len > 0 && (*s)[*len - 1] == '\r')
		(*len)--;
	l->p = nl ? nl + 1 : l->end;
	return true;
}

/* Split on runs of whitespace, as Kafka's "\s+" split does. */
static int split_fields(const char *s, size_t len, const char **f, size_t *flen, int max)
{
	int n = 0;
	size_t i = 0;
	while (i < len) {
		while (i < len && isspace((unsigned char)s[i]))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && !isspace((unsigned char)s[i]))
			i++;
		if (n == max)
			return max + 1;
		f[n] = s + start;
		flen[n] = i - start;
		n++;
	}
	return n;
}

typedef bool (*entry_parser)(const char **f, size_t *flen, int nf, void *out);
typedef void (*entry_freer)(void *entry);

static int read_frame(const char *path, size_t entry_size, entry_parser parse,
    entry_freer free_entry, void **out, size_t *n_out)
{
	char *data;
	size_t len;
	bool exists;
	const char *s;
	size_t sl;
	int64_t version, count;
	const char *why = NULL;

	*out = NULL;
	*n_out = 0;
	int err = slurp(path, &data, &len, &exists);
	if (err != KERR_NONE || !exists)
		return err;
	struct lines l = { data, data + len };
	if (!next_line(&l, &s, &sl)) {
		free(data); /* an empty file: no entries */
		return KERR_NONE;
	}
	if (!parse_i64(s, sl, &version) || version != 0) {
		why = "unrecognised version";
		goto bad;
	}
	if (!next_line(&l, &s, &sl) || !parse_i64(s, sl, &count) || count < 0 || count > 10000000) {
		why = "malformed entry count";
		goto bad;
	}
	uint8_t *entries = xcalloc((size_t)count + 1, entry_size);
	size_t i = 0;
	while (next_line(&l, &s, &sl)) {
		const char *f[4];
		size_t flen[4];
		int nf = split_fields(s, sl, f, flen, 3);
		if ((int64_t)i >= count) {
			why = "more entries than its count";
			break;
		}
		if (!parse(f, flen, nf, entries + i * entry_size)) {
			why = "malformed line";
			break;
		}
		i++;
	}
	if (!why && (int64_t)i != count)
		why = "fewer entries than its count";
	if (why) {
		for (size_t k = 0; free_entry && k < i; k++)
			free_entry(entries + k * entry_size);
		free(entries);
		goto bad;
	}
	free(data);
	*out = entries;
	*n_out = i;
	return KERR_NONE;
bad:
	log_warn("corrupt checkpoint file %s: %s", path, why);
	free(data);
	return KERR_CORRUPT_MESSAGE;
}

/* --- offset checkpoints ------------------------------------------------------------ */

int checkpoint_write(const char *path, const struct checkpoint_entry *e, size_t n)
{
	struct wbuf w;
	char line[64];
	wbuf_init(&w);
	int k = snprintf(line, sizeof line, "0\n%zu\n", n);
	wbuf_put(&w, line, (size_t)k);
	for (size_t i = 0; i < n; i++) {
		wbuf_put(&w, e[i].topic, strlen(e[i].topic));
		k = snprintf(line, sizeof line, " %" PRId32 " %" PRId64 "\n", e[i].partition, e[i].offset);
		wbuf_put(&w, line, (size_t)k);
	}
	int err = checkpoint_write_file(path, w.data, w.len);
	wbuf_free(&w);
	return err;
}

static bool parse_offset_entry(const char **f, size_t *flen, int nf, void *out)
{
	struct checkpoint_entry *e = out;
	if (nf != 3)
		return false;
	if (!parse_i32(f[1], flen[1], &e->partition) || !parse_i64(f[2], flen[2], &e->offset))
		return false;
	e->topic = xstrndup(f[0], flen[0]);
	return true;
}

static void free_offset_entry(void *entry)
{
	free(((struct checkpoint_entry *)entry)->topic);
}

int checkpoint_read(const char *path, struct checkpoint_entry **out, size_t *n)
{
	void *p;
	int err = read_frame(path, sizeof(struct checkpoint_entry), parse_offset_entry,
	    free_offset_entry, &p, n);
	*out = p;
	return err;
}

void checkpoint_entries_free(struct checkpoint_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].topic);
	free(e);
}

int64_t checkpoint_lookup(const struct checkpoint_entry *e, size_t n, const char *topic,
    int32_t partition, int64_t def)
{
	for (size_t i = 0; i < n; i++)
		if (e[i].partition == partition && strcmp(e[i].topic, topic) == 0)
			return e[i].offset;
	return def;
}

/* --- leader epochs -------------------------------------------------------------------- */

int checkpoint_write_epochs(const char *path, const struct epoch_entry *e, size_t n)
{
	struct wbuf w;
	char line[64];
	wbuf_init(&w);
	int k = snprintf(line, sizeof line, "0\n%zu\n", n);
	wbuf_put(&w, line, (size_t)k);
	for (size_t i = 0; i < n; i++) {
		k = snprintf(line, sizeof line, "%" PRId32 " %" PRId64 "\n", e[i].epoch,
		    e[i].start_offset);
		wbuf_put(&w, line, (size_t)k);
	}
	int err = checkpoint_write_file(path, w.data, w.len);
	wbuf_free(&w);
	return err;
}

static bool parse_epoch_entry(const char **f, size_t *flen, int nf, void *out)
{
	struct epoch_entry *e = out;
	return nf == 2 && parse_i32(f[0], flen[0], &e->epoch) &&
	    parse_i64(f[1], flen[1], &e->start_offset);
}

int checkpoint_read_epochs(const char *path, struct epoch_entry **out, size_t *n)
{
	void *p;
	int err = read_frame(path, sizeof(struct epoch_entry), parse_epoch_entry, NULL, &p, n);
	*out = p;
	return err;
}

/* --- meta.properties ------------------------------------------------------------------ */

/* Properties.store escaping: the characters that would change the parse. */
static void put_escaped(struct wbuf *w, const char *s, bool is_key)
{
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		if (c == '\\' || c == '=' || c == ':' || c == '#' || c == '!' ||
		    (c == ' ' && (is_key || i == 0))) {
			wbuf_put(w, "\\", 1);
			wbuf_put(w, &c, 1);
		} else if (c == '\n') {
			wbuf_put(w, "\\n", 2);
		} else if (c == '\t') {
			wbuf_put(w, "\\t", 2);
		} else {
			wbuf_put(w, &c, 1);
		}
	}
}

static void put_prop(struct wbuf *w, const char *key, const char *value)
{
	put_escaped(w, key, true);
	wbuf_put(w, "=", 1);
	put_escaped(w, value, false);
	wbuf_put(w, "\n", 1);
}

int meta_properties_write(const char *dir, const struct meta_properties *m, time_t now)
{
	struct wbuf w;
	char date[64], num[32];
	struct tm tm;

	wbuf_init(&w);
	localtime_r(&now, &tm);
	/* Java's Date.toString: "EEE MMM dd HH:mm:ss zzz yyyy". */
	strftime(date, sizeof date, "%a %b %d %H:%M:%S %Z %Y", &tm);
	wbuf_put(&w, "#\n#", 3);
	wbuf_put(&w, date, strlen(date));
	wbuf_put(&w, "\n", 1);
	snprintf(num, sizeof num, "%d", m->version);
	put_prop(&w, "version", num);
	if (m->has_broker_id) {
		snprintf(num, sizeof num, "%" PRId32, m->broker_id);
		put_prop(&w, "broker.id", num);
	}
	if (m->cluster_id[0])
		put_prop(&w, "cluster.id", m->cluster_id);
	if (m->directory_id[0])
		put_prop(&w, "directory.id", m->directory_id);
	char *path = xasprintf("%s/%s", dir, META_PROPERTIES_FILE);
	int err = checkpoint_write_file(path, w.data, w.len);
	free(path);
	wbuf_free(&w);
	return err;
}

/* Undo Properties escaping in place-ish: copy s[0..len) unescaped into out. */
static void unescape(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < len) {
			c = s[++i];
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'r')
				c = '\r';
		}
		out[o++] = c;
	}
	out[o] = 0;
}

int meta_properties_read(const char *dir, struct meta_properties *m, bool *exists)
{
	char *path = xasprintf("%s/%s", dir, META_PROPERTIES_FILE);
	char *data;
	size_t len;
	const char *s;
	size_t sl;
	bool have_version = false;
	int err;

	memset(m, 0, sizeof *m);
	err = slurp(path, &data, &len, exists);
	if (err != KERR_NONE || !*exists) {
		free(path);
		return err;
	}
	struct lines l = { data, data + len };
	while (next_line(&l, &s, &sl)) {
		size_t i = 0;
		while (i < sl && isspace((unsigned char)s[i]))
			i++;
		if (i == sl || s[i] == '#' || s[i] == '!')
			continue;
		/* Key ends at an unescaped '=', ':' or whitespace. */
		size_t ks = i;
		while (i < sl && s[i] != '=' && s[i] != ':' && !isspace((unsigned char)s[i])) {
			if (s[i] == '\\')
				i++;
			i++;
		}
		if (i > sl)
			i = sl;
		size_t ke = i;
		while (i < sl && isspace((unsigned char)s[i]))
			i++;
		if (i < sl && (s[i] == '=' || s[i] == ':'))
			i++;
		while (i < sl && isspace((unsigned char)s[i]))
			i++;
		char key[64], val[64];
		unescape(s + ks, ke - ks, key, sizeof key);
		unescape(s + i, sl - i, val, sizeof val);
		int32_t v;
		if (strcmp(key, "version") == 0) {
			if (!parse_i32(val, strlen(val), &v))
				goto bad;
			m->version = v;
			have_version = true;
		} else if (strcmp(key, "broker.id") == 0) {
			if (!parse_i32(val, strlen(val), &v))
				goto bad;
			m->broker_id = v;
			m->has_broker_id = true;
		} else if (strcmp(key, "cluster.id") == 0) {
			memcpy(m->cluster_id, val, sizeof val);
		} else if (strcmp(key, "directory.id") == 0) {
			memcpy(m->directory_id, val, sizeof val);
		}
	}
	if (!have_version)
		goto bad;
	free(data);
	free(path);
	return KERR_NONE;
bad:
	log_warn("corrupt %s: missing version or a malformed number", path);
	free(data);
	free(path);
	return KERR_CORRUPT_MESSAGE;
}

/* --- partition.metadata ------------------------------------------------------------------ */

int partition_metadata_write(const char *dir, const char *topic_id)
{
	char *path = xasprintf("%s/%s", dir, PARTITION_METADATA_FILE);
	char *text = xasprintf("version: 0\ntopic_id: %s", topic_id);
	int err = checkpoint_write_file(path, text, strlen(text));
	free(text);
	free(path);
	return err;
}

int partition_metadata_read(const char *dir, char topic_id[32], bool *exists)
{
	char *path = xasprintf("%s/%s", dir, PARTITION_METADATA_FILE);
	char *data;
	size_t len;
	const char *s;
	size_t sl;
	int err;

	topic_id[0] = 0;
	err = slurp(path, &data, &len, exists);
	if (err != KERR_NONE || !*exists) {
		free(path);
		return err;
	}
	struct lines l = { data, data + len };
	if (!next_line(&l, &s, &sl) || sl != 10 || memcmp(s, "version: 0", 10) != 0)
		goto bad;
	if (!next_line(&l, &s, &sl) || sl < 10 || memcmp(s, "topic_id: ", 10) != 0 ||
	    sl - 10 == 0 || sl - 10 >= 32)
		goto bad;
	memcpy(topic_id, s + 10, sl - 10);
	topic_id[sl - 10] = 0;
	free(data);
	free(path);
	return KERR_NONE;
bad:
	log_warn("corrupt %s", path);
	free(data);
	free(path);
	return KERR_CORRUPT_MESSAGE;
}
