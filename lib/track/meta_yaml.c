/*
 * lib/track/meta_yaml.c - the small YAML subset of MLflow's meta.yaml files:
 * writing `key: scalar` lines that PyYAML's safe loader reads back exactly,
 * and reading a flat top-level mapping with libyaml.
 *
 * Writing: a string goes out plain only when PyYAML could not take it for
 * anything but that string (it starts with a letter or '/', holds only
 * letters, digits and "_./:-%~+", and is not one of YAML 1.1's boolean or null
 * words); otherwise single-quoted when every character is printable, else
 * double-quoted with escapes.  Characters PyYAML's reader refuses to see raw
 * (C0/C1 controls, DEL, U+FEFF, U+FFFE/F) and line breaks are always
 * escaped, so no value can break the file's structure.
 *
 * Reading: anything but a mapping at the top is NS_ERR_CORRUPT; nested
 * sequences or mappings (MLflow's `tags: []`) are skipped.  Inputs are
 * bounded by the callers (ns_read_file with a cap).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "track/track_impl.h"

static bool word_is(const char *s, const char *w)
{
	for (; *s && *w; s++, w++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != *w)
			return false;
	}
	return *s == '\0' && *w == '\0';
}

static bool plain_ok(const char *s)
{
	static const char *const reserved[] = {"y",     "n",  "yes", "no",   "true",
					       "false", "on", "off", "null", NULL};
	size_t n = strlen(s);
	if (n == 0)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '/'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '/' || c == ':' || c == '-' || c == '%' ||
		      c == '~' || c == '+'))
			return false;
	}
	if (s[n - 1] == ':')
		return false;
	for (size_t i = 0; reserved[i]; i++)
		if (word_is(s, reserved[i]))
			return false;
	return true;
}

/* Decodes one UTF-8 sequence at p; returns its length (0: invalid). */
static size_t utf8_next(const unsigned char *p, uint32_t *cp)
{
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF && (p[1] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
		return 2;
	}
	if (p[0] >= 0xE0 && p[0] <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) |
		      (p[2] & 0x3F);
		if (*cp < 0x800 || (*cp >= 0xD800 && *cp <= 0xDFFF))
			return 0;
		return 3;
	}
	if (p[0] >= 0xF0 && p[0] <= 0xF4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
	    (p[3] & 0xC0) == 0x80) {
		*cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
		      ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
		if (*cp < 0x10000 || *cp > 0x10FFFF)
			return 0;
		return 4;
	}
	return 0;
}

size_t ns__track_utf8_len(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0;
	while (*p) {
		uint32_t cp;
		size_t k = utf8_next(p, &cp);
		if (k == 0)
			return SIZE_MAX;
		p += k;
		n++;
	}
	return n;
}

/* Characters PyYAML will not accept raw inside a quoted scalar, or that a
 * loader would fold (line breaks). */
static bool needs_escape(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 ||
	       cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF;
}

static enum ns_status put_double_quoted(struct ns__buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	enum ns_status st = ns__buf_append(b, "\"", 1);
	while (st == NS_OK && *p) {
		uint32_t cp;
		size_t k = utf8_next(p, &cp);
		if (k == 0)
			return NS_ERR_INVALID;
		if (cp == '"' || cp == '\\') {
			char e[2] = {'\\', (char)cp};
			st = ns__buf_append(b, e, 2);
		} else if (cp == '\n') {
			st = ns__buf_append(b, "\\n", 2);
		} else if (cp == '\t') {
			st = ns__buf_append(b, "\\t", 2);
		} else if (cp == '\r') {
			st = ns__buf_append(b, "\\r", 2);
		} else if (needs_escape(cp)) {
			st = cp <= 0xFF ? ns__buf_printf(b, "\\x%02X", (unsigned)cp)
					: ns__buf_printf(b, "\\u%04X", (unsigned)cp);
		} else {
			st = ns__buf_append(b, p, k);
		}
		p += k;
	}
	if (st == NS_OK)
		st = ns__buf_append(b, "\"", 1);
	return st;
}

static enum ns_status put_scalar(struct ns__buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool printable = true;
	enum ns_status st;

	while (*p) {
		uint32_t cp;
		size_t k = utf8_next(p, &cp);
		if (k == 0)
			return NS_ERR_INVALID;
		if (needs_escape(cp))
			printable = false;
		p += k;
	}
	if (plain_ok(s))
		return ns__buf_append(b, s, strlen(s));
	if (!printable)
		return put_double_quoted(b, s);
	st = ns__buf_append(b, "'", 1);
	for (const char *q = s; st == NS_OK && *q; q++)
		st = *q == '\'' ? ns__buf_append(b, "''", 2) : ns__buf_append(b, q, 1);
	if (st == NS_OK)
		st = ns__buf_append(b, "'", 1);
	return st;
}

enum ns_status ns__yaml_put_str(struct ns__buf *b, const char *key, const char *value)
{
	enum ns_status st = ns__buf_printf(b, "%s: ", key);
	if (st == NS_OK)
		st = put_scalar(b, value);
	if (st == NS_OK)
		st = ns__buf_append(b, "\n", 1);
	return st;
}

enum ns_status ns__yaml_put_int(struct ns__buf *b, const char *key, int64_t value)
{
	return ns__buf_printf(b, "%s: %" PRId64 "\n", key, value);
}

enum ns_status ns__yaml_put_null(struct ns__buf *b, const char *key)
{
	return ns__buf_printf(b, "%s: null\n", key);
}

/* ---- reading ------------------------------------------------------------- */

void ns__yaml_map_fini(struct ns__yaml_map *m)
{
	for (size_t i = 0; i < m->n; i++) {
		ns_free(m->v[i].key);
		ns_free(m->v[i].value);
	}
	ns_free(m->v);
	m->v = NULL;
	m->n = 0;
}

static enum ns_status map_add(struct ns__yaml_map *m, const yaml_event_t *k, const yaml_event_t *v)
{
	struct ns__yaml_entry *nv = ns_reallocarray(m->v, m->n + 1, sizeof(*nv));
	if (!nv)
		return NS_ERR_NOMEM;
	m->v = nv;
	nv[m->n].key = ns_strndup((const char *)k->data.scalar.value, k->data.scalar.length);
	nv[m->n].value = ns_strndup((const char *)v->data.scalar.value, v->data.scalar.length);
	nv[m->n].plain = v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	if (!nv[m->n].key || !nv[m->n].value) {
		ns_free(nv[m->n].key);
		ns_free(nv[m->n].value);
		return NS_ERR_NOMEM;
	}
	m->n++;
	return NS_OK;
}

enum ns_status ns__yaml_map_parse(const char *text, size_t len, struct ns__yaml_map *m,
				  struct ns_diag *diag)
{
	yaml_parser_t parser;
	yaml_event_t ev, key;

	memset(&key, 0, sizeof(key));
	enum ns_status st = NS_OK;
	/* 0: before the mapping, 1: expecting a key, 2: expecting a value */
	int state = 0;
	int skip_depth = 0;
	bool have_key = false, done = false;

	m->v = NULL;
	m->n = 0;
	if (!yaml_parser_initialize(&parser))
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			st = ns_diag_set(diag, NS_ERR_CORRUPT, "YAML error: %s at line %zu",
					 parser.problem ? parser.problem : "unknown",
					 (size_t)parser.problem_mark.line + 1);
			break;
		}
		if (skip_depth > 0) {
			if (ev.type == YAML_SEQUENCE_START_EVENT ||
			    ev.type == YAML_MAPPING_START_EVENT)
				skip_depth++;
			else if (ev.type == YAML_SEQUENCE_END_EVENT ||
				 ev.type == YAML_MAPPING_END_EVENT)
				skip_depth--;
			yaml_event_delete(&ev);
			continue;
		}
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
			break;
		case YAML_MAPPING_START_EVENT:
			if (state == 0) {
				state = 1;
			} else if (state == 2) {
				skip_depth = 1;
				yaml_event_delete(&key);
				have_key = false;
				state = 1;
			} else {
				st = ns_diag_set(diag, NS_ERR_CORRUPT,
						 "a mapping key is not a string");
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
			if (state == 2) {
				skip_depth = 1;
				yaml_event_delete(&key);
				have_key = false;
				state = 1;
			} else {
				st = ns_diag_set(diag, NS_ERR_CORRUPT,
						 "not a mapping of names to values");
			}
			break;
		case YAML_SCALAR_EVENT:
			if (state == 1) {
				key = ev;
				have_key = true;
				state = 2;
				continue; /* keep the event */
			} else if (state == 2) {
				st = map_add(m, &key, &ev);
				if (st == NS_ERR_NOMEM)
					ns_diag_set(diag, st, "out of memory");
				yaml_event_delete(&key);
				have_key = false;
				state = 1;
			} else {
				st = ns_diag_set(diag, NS_ERR_CORRUPT,
						 "not a mapping of names to values");
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			st = ns_diag_set(diag, NS_ERR_CORRUPT, "unexpected YAML (alias or tag)");
			break;
		}
		yaml_event_delete(&ev);
		if (st != NS_OK)
			break;
	}
	if (have_key)
		yaml_event_delete(&key);
	yaml_parser_delete(&parser);
	if (st == NS_OK && state == 0)
		st = ns_diag_set(diag, NS_ERR_CORRUPT, "empty file, not a mapping");
	if (st != NS_OK)
		ns__yaml_map_fini(m);
	return st;
}

const struct ns__yaml_entry *ns__yaml_map_get(const struct ns__yaml_map *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].key, key) == 0)
			return &m->v[i];
	return NULL;
}

const char *ns__yaml_map_str(const struct ns__yaml_map *m, const char *key)
{
	const struct ns__yaml_entry *e = ns__yaml_map_get(m, key);
	if (!e)
		return NULL;
	if (e->plain &&
	    (strcmp(e->value, "null") == 0 || strcmp(e->value, "~") == 0 ||
	     strcmp(e->value, "Null") == 0 || strcmp(e->value, "NULL") == 0 || e->value[0] == '\0'))
		return NULL;
	return e->value;
}

bool ns__yaml_map_int(const struct ns__yaml_map *m, const char *key, int64_t *out)
{
	const char *s = ns__yaml_map_str(m, key);
	char *end;
	long long v;
	if (!s || !*s)
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = (int64_t)v;
	return true;
}
