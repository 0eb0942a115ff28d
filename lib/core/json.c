/*
 * lib/core/json.c - strict RFC 8259 reader into a read-only tree.
 *
 * Recursive descent over the bytes, bounded by the depth limit.  Values live
 * in an arena owned by the document.  While a container is being read its
 * children sit on one shared scratch stack (by value); when it closes they
 * are copied into the arena as one contiguous array and popped, so the tree
 * has no per-node allocations and no linked lists.  Strings are found first
 * (closing quote), then decoded and validated into an arena block of the raw
 * length, which the decoded form never exceeds.
 *
 * Errors carry the byte offset of the offending byte; line and column are
 * computed only when an error is reported.  Reentrant; no globals.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/json.h"

#define DEFAULT_MAX_SIZE ((size_t)64 << 20)
#define DEFAULT_MAX_DEPTH 256
#define BLOCK_SIZE ((size_t)64 << 10)

struct ns_json {
	unsigned char type; /* enum ns_json_type */
	bool b;
	size_t n; /* string bytes, array elements, object members */
	union {
		double num;
		const char *str;
		struct ns_json *items; /* arrays */
		struct member *members; /* objects */
	} u;
};

struct member {
	const char *key;
	size_t key_len;
	struct ns_json value;
};

/* A member on the scratch stack also remembers where its key started. */
struct slot {
	struct member m;
	size_t pos;
};

struct block {
	struct block *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct ns_json_doc {
	struct block *blocks;
	struct ns_json root;
};

struct parser {
	const unsigned char *s;
	size_t len, pos;
	size_t max_depth;
	bool allow_duplicates;
	struct ns_json_doc *doc;
	struct slot *stack;
	size_t top, cap;
	/* the first error */
	enum ns_status st;
	size_t err_pos;
	char msg[200];
};

struct ns_json_params ns_json_params_default(void)
{
	struct ns_json_params p = {DEFAULT_MAX_SIZE, DEFAULT_MAX_DEPTH, false};
	return p;
}

static void *arena_alloc(struct ns_json_doc *doc, size_t size)
{
	struct block *b = doc->blocks;
	size = (size + 15) & ~(size_t)15;
	if (size == 0)
		size = 16;
	if (!b || b->cap - b->used < size) {
		size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
		b = ns_malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		/* A big one-off block goes behind the current one, which keeps its free tail. */
		if (size > BLOCK_SIZE && doc->blocks) {
			b->next = doc->blocks->next;
			doc->blocks->next = b;
		} else {
			b->next = doc->blocks;
			doc->blocks = b;
		}
	}
	b->used += size;
	return b->data + b->used - size;
}

NS_PRINTF(4, 5)
static bool fail(struct parser *p, size_t pos, enum ns_status st, const char *fmt, ...)
{
	va_list ap;
	if (p->st != NS_OK)
		return false;
	p->st = st;
	p->err_pos = pos;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	return false;
}

static bool nomem(struct parser *p)
{
	return fail(p, p->pos, NS_ERR_NOMEM, "out of memory");
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		p->pos++;
	}
}

/* Describes the byte at pos for an error message. */
static const char *describe(const struct parser *p, size_t pos, char *buf, size_t size)
{
	unsigned char c;
	if (pos >= p->len)
		return "the end of the input";
	c = p->s[pos];
	if (c >= 0x21 && c < 0x7f)
		snprintf(buf, size, "'%c'", c);
	else
		snprintf(buf, size, "byte 0x%02x", c);
	return buf;
}

static bool unexpected(struct parser *p, const char *expected)
{
	char buf[16];
	return fail(p, p->pos, NS_ERR_PARSE, "expected %s, found %s", expected,
		    describe(p, p->pos, buf, sizeof(buf)));
}

static bool push(struct parser *p, const struct slot *s)
{
	if (p->top == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct slot *n = ns_reallocarray(p->stack, cap, sizeof(*n));
		if (!n)
			return nomem(p);
		p->stack = n;
		p->cap = cap;
	}
	p->stack[p->top++] = *s;
	return true;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads the 4 hex digits of a \u escape at p->s[i]; -1 if malformed. */
static long hex4(const struct parser *p, size_t i, size_t end)
{
	long v = 0;
	if (end - i < 4)
		return -1;
	for (size_t k = 0; k < 4; k++) {
		int h = hexval(p->s[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Length of the valid UTF-8 sequence at s[i] (< end), or 0 (RFC 3629, table 3-7). */
static size_t utf8_len(const unsigned char *s, size_t i, size_t end)
{
	unsigned char c = s[i];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (end - i < n)
		return 0;
	if (s[i + 1] < lo || s[i + 1] > hi)
		return 0;
	for (size_t k = 2; k < n; k++) {
		if (s[i + k] < 0x80 || s[i + k] > 0xbf)
			return 0;
	}
	return n;
}

static size_t put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* p->pos is at the opening quote.  On success p->pos is past the closing one. */
static bool parse_string(struct parser *p, const char **out, size_t *out_len)
{
	size_t start = p->pos + 1, end = start, o = 0;
	char *buf;
	while (end < p->len && p->s[end] != '"')
		end += p->s[end] == '\\' ? 2 : 1;
	if (end >= p->len)
		return fail(p, p->pos, NS_ERR_PARSE, "unterminated string");
	buf = arena_alloc(p->doc, end - start + 1);
	if (!buf)
		return nomem(p);
	for (size_t i = start; i < end;) {
		unsigned char c = p->s[i];
		if (c == '\\') {
			unsigned char e = p->s[i + 1];
			long cp;
			switch (e) {
			case '"':
			case '\\':
			case '/':
				buf[o++] = (char)e;
				break;
			case 'b':
				buf[o++] = '\b';
				break;
			case 'f':
				buf[o++] = '\f';
				break;
			case 'n':
				buf[o++] = '\n';
				break;
			case 'r':
				buf[o++] = '\r';
				break;
			case 't':
				buf[o++] = '\t';
				break;
			case 'u':
				cp = hex4(p, i + 2, end);
				if (cp < 0)
					return fail(p, i, NS_ERR_PARSE,
						    "\\u must be followed by four hex digits");
				if (cp >= 0xdc00 && cp <= 0xdfff)
					return fail(p, i, NS_ERR_PARSE,
						    "lone low surrogate \\u%04lx in a string", cp);
				if (cp >= 0xd800 && cp <= 0xdbff) {
					long lo = -1;
					if (end - i >= 12 && p->s[i + 6] == '\\' &&
					    p->s[i + 7] == 'u')
						lo = hex4(p, i + 8, end);
					if (lo < 0xdc00 || lo > 0xdfff)
						return fail(p, i, NS_ERR_PARSE,
							    "high surrogate \\u%04lx is not "
							    "followed by "
							    "a low surrogate",
							    cp);
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
					i += 6;
				}
				o += put_utf8(buf + o, (unsigned long)cp);
				i += 6;
				continue;
			default: {
				char d[16];
				return fail(p, i, NS_ERR_PARSE,
					    "invalid escape: backslash before %s",
					    describe(p, i + 1, d, sizeof(d)));
			}
			}
			i += 2;
		} else if (c < 0x20) {
			return fail(p, i, NS_ERR_PARSE,
				    "control character 0x%02x in a string must be escaped", c);
		} else if (c < 0x80) {
			buf[o++] = (char)c;
			i++;
		} else {
			size_t n = utf8_len(p->s, i, end);
			if (n == 0)
				return fail(p, i, NS_ERR_PARSE, "invalid UTF-8 in a string");
			memcpy(buf + o, p->s + i, n);
			o += n;
			i += n;
		}
	}
	buf[o] = '\0';
	*out = buf;
	*out_len = o;
	p->pos = end + 1;
	return true;
}

static bool parse_number(struct parser *p, struct ns_json *v)
{
	const unsigned char *s = p->s;
	size_t start = p->pos, i = p->pos;
	double d;
	if (i < p->len && s[i] == '-')
		i++;
	if (i >= p->len || s[i] < '0' || s[i] > '9') {
		p->pos = i;
		return unexpected(p, "a digit");
	}
	if (s[i] == '0') {
		i++;
		if (i < p->len && s[i] >= '0' && s[i] <= '9')
			return fail(p, start, NS_ERR_PARSE,
				    "a number must not have a leading zero");
	} else {
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < p->len && s[i] == '.') {
		i++;
		if (i >= p->len || s[i] < '0' || s[i] > '9') {
			p->pos = i;
			return unexpected(p, "a digit after the decimal point");
		}
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < p->len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= p->len || s[i] < '0' || s[i] > '9') {
			p->pos = i;
			return unexpected(p, "a digit in the exponent");
		}
		while (i < p->len && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	if (!ns_parse_double((const char *)s + start, i - start, &d))
		return nomem(p); /* the grammar is checked: only a failed copy is left */
	if (!isfinite(d))
		return fail(p, start, NS_ERR_PARSE, "number out of the range of a double");
	v->type = NS_JSON_NUMBER;
	v->u.num = d;
	p->pos = i;
	return true;
}

static bool literal(struct parser *p, const char *word, struct ns_json *v, unsigned char type,
		    bool b)
{
	size_t n = strlen(word);
	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
		return fail(p, p->pos, NS_ERR_PARSE, "invalid literal (expected %s)", word);
	p->pos += n;
	v->type = type;
	v->b = b;
	return true;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct slot *x = *(const struct slot *const *)a;
	const struct slot *y = *(const struct slot *const *)b;
	size_t n = x->m.key_len < y->m.key_len ? x->m.key_len : y->m.key_len;
	int c = memcmp(x->m.key, y->m.key, n);
	if (c != 0)
		return c;
	if (x->m.key_len != y->m.key_len)
		return x->m.key_len < y->m.key_len ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool same_key(const struct slot *a, const struct slot *b)
{
	return a->m.key_len == b->m.key_len && memcmp(a->m.key, b->m.key, a->m.key_len) == 0;
}

static bool duplicate_error(struct parser *p, const struct slot *s)
{
	char shown[48];
	size_t n = 0;
	for (size_t i = 0; i < s->m.key_len && n + 4 < sizeof(shown); i++) {
		unsigned char c = (unsigned char)s->m.key[i];
		shown[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (n < s->m.key_len) {
		memcpy(shown + n, "...", 3);
		n += 3;
	}
	shown[n] = '\0';
	return fail(p, s->pos, NS_ERR_PARSE, "duplicate key \"%s\" in an object", shown);
}

/* Members p->stack[base .. top): reports the second occurrence of a repeated key. */
static bool check_duplicates(struct parser *p, size_t base)
{
	size_t n = p->top - base;
	const struct slot *dup = NULL;
	if (n < 2)
		return true;
	if (n <= 16) {
		for (size_t j = base + 1; j < p->top && !dup; j++) {
			for (size_t i = base; i < j; i++) {
				if (same_key(&p->stack[i], &p->stack[j])) {
					dup = &p->stack[j];
					break;
				}
			}
		}
	} else {
		const struct slot **v = ns_reallocarray(NULL, n, sizeof(*v));
		if (!v)
			return nomem(p);
		for (size_t i = 0; i < n; i++)
			v[i] = &p->stack[base + i];
		qsort(v, n, sizeof(*v), cmp_slot);
		/* Sorted by key, then position: the first repeat of the earliest pair wins. */
		for (size_t i = 1; i < n; i++) {
			if (same_key(v[i - 1], v[i]) && (!dup || v[i]->pos < dup->pos))
				dup = v[i];
		}
		ns_free(v);
	}
	return dup ? duplicate_error(p, dup) : true;
}

static bool parse_value(struct parser *p, size_t depth, struct ns_json *v);

static bool parse_container(struct parser *p, size_t depth, struct ns_json *v, bool object)
{
	size_t base = p->top, n;
	unsigned char close = object ? '}' : ']';
	if (depth >= p->max_depth)
		return fail(p, p->pos, NS_ERR_LIMIT, "nesting deeper than %zu levels",
			    p->max_depth);
	p->pos++;
	skip_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		goto done;
	}
	for (;;) {
		struct slot s;
		memset(&s, 0, sizeof(s));
		skip_ws(p);
		if (object) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return unexpected(p, "a string key");
			s.pos = p->pos;
			if (!parse_string(p, &s.m.key, &s.m.key_len))
				return false;
			skip_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return unexpected(p, "':' after the key");
			p->pos++;
		}
		if (!parse_value(p, depth + 1, &s.m.value) || !push(p, &s))
			return false;
		skip_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			break;
		}
		return unexpected(p, object ? "',' or '}'" : "',' or ']'");
	}
done:
	n = p->top - base;
	v->type = object ? NS_JSON_OBJECT : NS_JSON_ARRAY;
	v->n = n;
	if (object) {
		if (!p->allow_duplicates && !check_duplicates(p, base))
			return false;
		if (n) {
			struct member *m = arena_alloc(p->doc, n * sizeof(*m));
			if (!m)
				return nomem(p);
			for (size_t i = 0; i < n; i++)
				m[i] = p->stack[base + i].m;
			v->u.members = m;
		}
	} else if (n) {
		struct ns_json *items = arena_alloc(p->doc, n * sizeof(*items));
		if (!items)
			return nomem(p);
		for (size_t i = 0; i < n; i++)
			items[i] = p->stack[base + i].m.value;
		v->u.items = items;
	}
	p->top = base;
	return true;
}

static bool parse_value(struct parser *p, size_t depth, struct ns_json *v)
{
	char buf[16];
	memset(v, 0, sizeof(*v));
	skip_ws(p);
	if (p->pos >= p->len)
		return unexpected(p, "a value");
	switch (p->s[p->pos]) {
	case '{':
		return parse_container(p, depth, v, true);
	case '[':
		return parse_container(p, depth, v, false);
	case '"':
		v->type = NS_JSON_STRING;
		return parse_string(p, &v->u.str, &v->n);
	case 't':
		return literal(p, "true", v, NS_JSON_BOOL, true);
	case 'f':
		return literal(p, "false", v, NS_JSON_BOOL, false);
	case 'n':
		return literal(p, "null", v, NS_JSON_NULL, false);
	case '-':
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
	case '8':
	case '9':
		return parse_number(p, v);
	default:
		if (p->pos == 0 && p->len >= 3 && memcmp(p->s, "\xef\xbb\xbf", 3) == 0)
			return fail(p, 0, NS_ERR_PARSE, "a byte order mark is not allowed");
		return fail(p, p->pos, NS_ERR_PARSE, "expected a value, found %s",
			    describe(p, p->pos, buf, sizeof(buf)));
	}
}

static void report(const struct parser *p, const char *source, struct ns_diag *diag)
{
	uint64_t line = 1, col = 1;
	if (p->st == NS_ERR_NOMEM) {
		ns_diag_set(diag, NS_ERR_NOMEM, "out of memory reading JSON");
		return;
	}
	for (size_t i = 0; i < p->err_pos && i < p->len; i++) {
		if (p->s[i] == '\n') {
			line++;
			col = 1;
		} else if ((p->s[i] & 0xc0) != 0x80) {
			col++;
		}
	}
	ns_diag_where(diag, source ? source : "", line, col, NULL);
	ns_diag_set(diag, p->st, "%s (byte %zu)", p->msg, p->err_pos);
}

enum ns_status ns_json_parse(const char *text, size_t len, const char *source,
			     const struct ns_json_params *params, struct ns_json_doc **out,
			     struct ns_diag *diag)
{
	struct ns_json_params def = ns_json_params_default();
	struct parser p;
	struct ns_json_doc *doc;

	if (!out || (!text && len))
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_json_parse: NULL argument");
	if (!params)
		params = &def;
	if (params->max_size && len > params->max_size) {
		ns_diag_where(diag, source ? source : "", 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_LIMIT,
				   "JSON document of %zu bytes is over the %zu-byte limit", len,
				   params->max_size);
	}
	doc = ns_calloc(1, sizeof(*doc));
	if (!doc)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory reading JSON");
	memset(&p, 0, sizeof(p));
	p.s = (const unsigned char *)(text ? text : "");
	p.len = len;
	p.max_depth = params->max_depth == 0 || params->max_depth > NS_JSON_DEPTH_MAX
			      ? NS_JSON_DEPTH_MAX
			      : params->max_depth;
	p.allow_duplicates = params->allow_duplicates;
	p.doc = doc;
	if (parse_value(&p, 0, &doc->root)) {
		skip_ws(&p);
		if (p.pos < p.len)
			unexpected(&p, "the end of the input after the value");
	}
	ns_free(p.stack);
	if (p.st != NS_OK) {
		report(&p, source, diag);
		ns_json_doc_free(doc);
		return p.st;
	}
	*out = doc;
	return NS_OK;
}

void ns_json_doc_free(struct ns_json_doc *doc)
{
	struct block *b, *next;
	if (!doc)
		return;
	for (b = doc->blocks; b; b = next) {
		next = b->next;
		ns_free(b);
	}
	ns_free(doc);
}

const struct ns_json *ns_json_root(const struct ns_json_doc *doc)
{
	return doc ? &doc->root : NULL;
}

enum ns_json_type ns_json_type(const struct ns_json *v)
{
	return v ? (enum ns_json_type)v->type : NS_JSON_NONE;
}

const char *ns_json_type_name(enum ns_json_type t)
{
	switch (t) {
	case NS_JSON_NULL:
		return "null";
	case NS_JSON_BOOL:
		return "bool";
	case NS_JSON_NUMBER:
		return "number";
	case NS_JSON_STRING:
		return "string";
	case NS_JSON_ARRAY:
		return "array";
	case NS_JSON_OBJECT:
		return "object";
	default:
		return "none";
	}
}

size_t ns_json_length(const struct ns_json *v)
{
	return v && (v->type == NS_JSON_ARRAY || v->type == NS_JSON_OBJECT) ? v->n : 0;
}

const struct ns_json *ns_json_at(const struct ns_json *array, size_t i)
{
	if (!array || array->type != NS_JSON_ARRAY || i >= array->n)
		return NULL;
	return &array->u.items[i];
}

const struct ns_json *ns_json_getn(const struct ns_json *object, const char *key, size_t key_len)
{
	if (!object || object->type != NS_JSON_OBJECT || !key)
		return NULL;
	/* From the end: with duplicates allowed the last one wins. */
	for (size_t i = object->n; i-- > 0;) {
		const struct member *m = &object->u.members[i];
		if (m->key_len == key_len && memcmp(m->key, key, key_len) == 0)
			return &m->value;
	}
	return NULL;
}

const struct ns_json *ns_json_get(const struct ns_json *object, const char *key)
{
	return key ? ns_json_getn(object, key, strlen(key)) : NULL;
}

const char *ns_json_member_key(const struct ns_json *object, size_t i, size_t *key_len)
{
	if (!object || object->type != NS_JSON_OBJECT || i >= object->n)
		return NULL;
	if (key_len)
		*key_len = object->u.members[i].key_len;
	return object->u.members[i].key;
}

const struct ns_json *ns_json_member_value(const struct ns_json *object, size_t i)
{
	if (!object || object->type != NS_JSON_OBJECT || i >= object->n)
		return NULL;
	return &object->u.members[i].value;
}

const char *ns_json_string(const struct ns_json *v, size_t *len)
{
	if (!v || v->type != NS_JSON_STRING)
		return NULL;
	if (len)
		*len = v->n;
	return v->u.str;
}

bool ns_json_number(const struct ns_json *v, double *out)
{
	if (!v || v->type != NS_JSON_NUMBER)
		return false;
	if (out)
		*out = v->u.num;
	return true;
}

bool ns_json_bool(const struct ns_json *v, bool *out)
{
	if (!v || v->type != NS_JSON_BOOL)
		return false;
	if (out)
		*out = v->b;
	return true;
}

bool ns_json_is_null(const struct ns_json *v)
{
	return v && v->type == NS_JSON_NULL;
}
