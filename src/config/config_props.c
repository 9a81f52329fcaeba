/*
 * Reader for Java .properties text [java.util.Properties.load], which is what a
 * Kafka server.properties is: '#'/'!' comment lines, key=value, key: value or
 * key value, backslash-newline continuation, and backslash escapes.  Bytes
 * other than the escapes pass through unchanged (Java reads the file as
 * ISO-8859-1; we keep UTF-8 paths and names intact instead).
 */
#include "config/config_internal.h"

#include <stdlib.h>
#include <string.h>

#include "samsa/util/xalloc.h"

void props_put(struct props *p, const char *key, const char *value)
{
	for (int i = 0; i < p->n; i++) {
		if (strcmp(p->v[i].key, key) == 0) {
			free(p->v[i].value);
			p->v[i].value = xstrdup(value);
			return;
		}
	}
	if (p->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->v = xrealloc(p->v, (size_t)p->cap * sizeof *p->v);
	}
	p->v[p->n].key = xstrdup(key);
	p->v[p->n].value = xstrdup(value);
	p->n++;
}

const char *props_get(const struct props *p, const char *key)
{
	for (int i = 0; i < p->n; i++)
		if (strcmp(p->v[i].key, key) == 0)
			return p->v[i].value;
	return NULL;
}

void props_free(struct props *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

/* A growable byte string; small enough not to need util/buf's wbuf. */
struct sb {
	char *s;
	size_t len, cap;
};

static void sb_putc(struct sb *b, char c)
{
	if (b->len + 1 >= b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->s = xrealloc(b->s, b->cap);
	}
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

static void sb_put_utf8(struct sb *b, uint32_t cp)
{
	if (cp < 0x80) {
		sb_putc(b, (char)cp);
	} else if (cp < 0x800) {
		sb_putc(b, (char)(0xc0 | (cp >> 6)));
		sb_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else if (cp < 0x10000) {
		sb_putc(b, (char)(0xe0 | (cp >> 12)));
		sb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_putc(b, (char)(0x80 | (cp & 0x3f)));
	} else {
		sb_putc(b, (char)(0xf0 | (cp >> 18)));
		sb_putc(b, (char)(0x80 | ((cp >> 12) & 0x3f)));
		sb_putc(b, (char)(0x80 | ((cp >> 6) & 0x3f)));
		sb_putc(b, (char)(0x80 | (cp & 0x3f)));
	}
}

static int hex4(const char *s, size_t n, uint32_t *out)
{
	uint32_t v = 0;
	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Undoes the escapes of one key or value (Java's loadConvert). */
static int unescape(const char *s, size_t n, char **out, char **err)
{
	struct sb b = { 0 };
	size_t i = 0;

	sb_putc(&b, 0);
	b.len = 0;
	while (i < n) {
		char c = s[i++];
		if (c != '\\' || i == n) {
			sb_putc(&b, c);
			continue;
		}
		c = s[i++];
		switch (c) {
		case 't': sb_putc(&b, '\t'); break;
		case 'n': sb_putc(&b, '\n'); break;
		case 'r': sb_putc(&b, '\r'); break;
		case 'f': sb_putc(&b, '\f'); break;
		case 'u': {
			uint32_t cp, lo;
			if (hex4(s + i, n - i, &cp) != 0) {
				free(b.s);
				*err = xstrdup("Malformed \\uxxxx encoding.");
				return -1;
			}
			i += 4;
			/* Java strings are UTF-16: a surrogate pair spelled as two escapes is one character. */
			if (cp >= 0xd800 && cp < 0xdc00 && n - i >= 6 && s[i] == '\\' && s[i + 1] == 'u' &&
			    hex4(s + i + 2, n - i - 2, &lo) == 0 && lo >= 0xdc00 && lo < 0xe000) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			sb_put_utf8(&b, cp);
			break;
		}
		default:
			sb_putc(&b, c);
		}
	}
	*out = b.s;
	return 0;
}

/* Splits one logical line into key and value (Java's load0). */
static int parse_line(struct props *p, const char *line, size_t len, char **err)
{
	size_t key_len = 0, value_start = len;
	bool has_sep = false, backslash = false;

	while (key_len < len) {
		char c = line[key_len];
		if ((c == '=' || c == ':') && !backslash) {
			value_start = key_len + 1;
			has_sep = true;
			break;
		}
		if (is_blank(c) && !backslash) {
			value_start = key_len + 1;
			break;
		}
		backslash = c == '\\' ? !backslash : false;
		key_len++;
	}
	while (value_start < len) {
		char c = line[value_start];
		if (!is_blank(c)) {
			if (!has_sep && (c == '=' || c == ':'))
				has_sep = true;
			else
				break;
		}
		value_start++;
	}

	char *key, *value;
	if (unescape(line, key_len, &key, err) != 0)
		return -1;
	if (unescape(line + value_start, len - value_start, &value, err) != 0) {
		free(key);
		return -1;
	}
	props_put(p, key, value);
	free(key);
	free(value);
	return 0;
}

int props_parse(struct props *p, const char *text, size_t len, char **err)
{
	struct sb line = { 0 };
	size_t i = 0;

	while (i < len) {
		/* Start of a logical line: skip leading blanks and empty lines. */
		while (i < len && (is_blank(text[i]) || text[i] == '\n' || text[i] == '\r'))
			i++;
		if (i >= len)
			break;
		if (text[i] == '#' || text[i] == '!') {
			/* Comment lines end at the newline; a trailing backslash does not continue them. */
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			continue;
		}
		line.len = 0;
		sb_putc(&line, 0);
		line.len = 0;
		for (;;) {
			size_t start = i;
			while (i < len && text[i] != '\n' && text[i] != '\r')
				i++;
			size_t end = i;
			/* An odd run of backslashes before the newline joins the next line. */
			size_t nbs = 0;
			while (end - nbs > start && text[end - nbs - 1] == '\\')
				nbs++;
			bool cont = nbs % 2 == 1;
			for (size_t k = start; k < end - (cont ? 1 : 0); k++)
				sb_putc(&line, text[k]);
			if (!cont || i >= len)
				break;
			if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
				i++;
			i++;
			while (i < len && is_blank(text[i]))
				i++;
		}
		if (parse_line(p, line.s, line.len, err) != 0) {
			free(line.s);
			return -1;
		}
	}
	free(line.s);
	return 0;
}
