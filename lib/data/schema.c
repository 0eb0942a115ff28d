/*
 * lib/data/schema.c - dataset schemas: YAML load and save, self-checks, hash.
 *
 * Loading is two steps.  libyaml's event parser turns the text into a small
 * tree of our own (one array of nodes, scalars in one text buffer, every node
 * with its line and column); then the tree is read into a struct ns_schema,
 * checking every key and value and naming the line:column of whatever is
 * wrong.  The event API is used rather than libyaml's document loader so that
 * aliases can be refused (a "billion laughs" document expands exponentially
 * when walked) and so that node counts and depth are capped as events arrive.
 *
 * Limits: 16 MiB of YAML, 2^21 nodes, nesting depth 64, 65536 columns,
 * 100000 allowed values per column and classes, 1024 missing-value markers.
 *
 * Saving writes a canonical form (fixed key order, every string
 * double-quoted, numbers in shortest round-trip form), so that
 * parse(to_yaml(s)) is the same schema and the SHA-256 of that form identifies
 * it.  Threading: no shared state; a schema is immutable once built.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <yaml.h>

#include "core/internal.h"
#include "data/schema_internal.h"
#include "data/strmap.h"

#define Y_NONE UINT32_MAX
#define Y_MAX_NODES ((size_t)1 << 21)
#define Y_MAX_DEPTH 64
#define NAME_MAX_BYTES 1024

/* ---- small shared helpers ------------------------------------------------- */

const char *ns_col_type_name(enum ns_col_type t)
{
	switch (t) {
	case NS_TYPE_INT:
		return "int";
	case NS_TYPE_FLOAT:
		return "float";
	case NS_TYPE_CATEGORY:
		return "category";
	}
	return "unknown";
}

static bool ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return *a == *b;
}

bool ns__col_type_parse(const char *s, enum ns_col_type *out)
{
	static const struct {
		const char *name;
		enum ns_col_type type;
	} types[] = {
		{"int", NS_TYPE_INT},
		{"int64", NS_TYPE_INT},
		{"int32", NS_TYPE_INT},
		{"integer", NS_TYPE_INT},
		{"float", NS_TYPE_FLOAT},
		{"float64", NS_TYPE_FLOAT},
		{"float32", NS_TYPE_FLOAT},
		{"double", NS_TYPE_FLOAT},
		{"number", NS_TYPE_FLOAT},
		{"category", NS_TYPE_CATEGORY},
		{"categorical", NS_TYPE_CATEGORY},
		{"object", NS_TYPE_CATEGORY},
		{"str", NS_TYPE_CATEGORY},
		{"string", NS_TYPE_CATEGORY},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (ieq(s, types[i].name)) {
			*out = types[i].type;
			return true;
		}
	}
	return false;
}

long ns__schema_guess_target(const struct ns_schema_column *cols, size_t n)
{
	static const char *const names[] = {"result", "label", "class", "target"};
	for (size_t i = 0; i < n; i++) {
		if (cols[i].ignore)
			continue;
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			if (ieq(cols[i].name, names[k]))
				return (long)i;
		}
	}
	for (size_t i = n; i-- > 0;) {
		if (!cols[i].ignore)
			return (long)i;
	}
	return -1;
}

size_t ns__number_text(double v, char *buf, size_t size)
{
	if (v == 0)
		v = 0.0; /* -0 reads and compares as 0: write it so */
	return ns_format_double(v, buf, size);
}

/* Decodes one UTF-8 sequence; returns its length (1..4) and sets *cp, or 0. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
		min = 0x80;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
		min = 0x800;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

bool ns__utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

void ns_schema_free(struct ns_schema *s)
{
	if (!s)
		return;
	ns_free(s->name);
	ns__free_strings(s->na_values, s->n_na);
	if (s->columns) {
		for (size_t i = 0; i < s->n_columns; i++) {
			struct ns_schema_column *c = &s->columns[i];
			ns_free(c->name);
			ns__free_strings(c->allowed, c->n_allowed);
			ns_free(c->allowed_num);
		}
		ns_free(s->columns);
	}
	ns__free_strings(s->classes, s->n_classes);
	ns_free(s->note);
	ns_free(s);
}

static enum ns_status set_default_na(struct ns_schema *s)
{
	struct ns_na_set def = ns_na_set_default();
	s->na_values = ns_calloc(def.n, sizeof(char *));
	if (!s->na_values)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < def.n; i++) {
		s->na_values[i] = ns_strdup(def.values[i]);
		if (!s->na_values[i])
			return NS_ERR_NOMEM;
		s->n_na++;
	}
	return NS_OK;
}

struct ns_schema *ns__schema_new(void)
{
	struct ns_schema *s = ns_calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->header = true;
	s->delimiter = ',';
	s->target = -1;
	s->threat = -1;
	s->benign = -1;
	s->max_missing = 1.0;
	if (set_default_na(s) != NS_OK) {
		ns_schema_free(s);
		return NULL;
	}
	return s;
}

/* ---- YAML text to a tree ---------------------------------------------------- */

enum { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	uint8_t kind;
	bool plain; /* a plain (unquoted) scalar */
	uint32_t line; /* 1-based */
	uint32_t col; /* 1-based */
	uint32_t n_children;
	uint32_t first, last, next;
	uint32_t off, len; /* scalar text in ytree.text (NUL-terminated there) */
};

struct ytree {
	struct ynode *nodes;
	size_t n, cap;
	struct ns__buf text;
	uint32_t root;
};

static void ytree_fini(struct ytree *t)
{
	ns_free(t->nodes);
	ns__buf_fini(&t->text);
}

static void set_location(struct ns_diag *diag, const char *file, uint64_t line, uint64_t col,
			 const char *field)
{
	if (!diag)
		return;
	diag->line = 0;
	diag->column = 0;
	diag->field[0] = '\0';
	ns_diag_where(diag, file, line, col, field);
}

static enum ns_status yaml_fail(const yaml_parser_t *p, const char *text, size_t len,
				const char *source, struct ns_diag *diag)
{
	uint64_t line = 1, col = 1;
	if (p->error == YAML_MEMORY_ERROR)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory parsing YAML");
	if (p->error == YAML_READER_ERROR) {
		/* Reader errors carry a byte offset, not a mark: count lines. */
		size_t end = p->problem_offset < len ? p->problem_offset : len;
		for (size_t i = 0; i < end; i++) {
			if (text[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		set_location(diag, source, line, col, NULL);
		if (p->problem_value >= 0)
			return ns_diag_set(diag, NS_ERR_PARSE, "YAML syntax: %s (byte 0x%02x)",
					   p->problem ? p->problem : "bad input",
					   (unsigned)p->problem_value & 0xFFu);
		return ns_diag_set(diag, NS_ERR_PARSE, "YAML syntax: %s",
				   p->problem ? p->problem : "bad input");
	}
	line = p->problem_mark.line + 1;
	col = p->problem_mark.column + 1;
	set_location(diag, source, line, col, NULL);
	if (p->context)
		return ns_diag_set(diag, NS_ERR_PARSE,
				   "YAML syntax: %s (%s that starts at line %llu, column %llu)",
				   p->problem ? p->problem : "bad input", p->context,
				   (unsigned long long)p->context_mark.line + 1,
				   (unsigned long long)p->context_mark.column + 1);
	return ns_diag_set(diag, NS_ERR_PARSE, "YAML syntax: %s",
			   p->problem ? p->problem : "bad input");
}

static enum ns_status add_node(struct ytree *t, int kind, const yaml_mark_t *mark,
			       const uint32_t *stack, size_t depth, uint32_t *idx)
{
	struct ynode *n;
	uint32_t i;
	if (t->n >= Y_MAX_NODES)
		return NS_ERR_LIMIT;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct ynode *nodes = ns_reallocarray(t->nodes, cap, sizeof(*nodes));
		if (!nodes)
			return NS_ERR_NOMEM;
		t->nodes = nodes;
		t->cap = cap;
	}
	i = (uint32_t)t->n++;
	n = &t->nodes[i];
	memset(n, 0, sizeof(*n));
	n->kind = (uint8_t)kind;
	n->line = mark->line + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(mark->line + 1);
	n->col = mark->column + 1 > UINT32_MAX ? UINT32_MAX : (uint32_t)(mark->column + 1);
	n->first = n->last = n->next = Y_NONE;
	if (depth > 0) {
		struct ynode *parent = &t->nodes[stack[depth - 1]];
		if (parent->first == Y_NONE)
			parent->first = i;
		else
			t->nodes[parent->last].next = i;
		parent->last = i;
		parent->n_children++;
	} else {
		t->root = i;
	}
	*idx = i;
	return NS_OK;
}

static enum ns_status build_tree(const char *text, size_t len, const char *source, struct ytree *t,
				 struct ns_diag *diag)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool have_ev = false, done = false;
	uint32_t stack[Y_MAX_DEPTH];
	size_t depth = 0;
	int n_docs = 0;
	enum ns_status st = NS_OK;

	memset(t, 0, sizeof(*t));
	t->root = Y_NONE;
	ns__buf_init(&t->text, 0);
	if (!yaml_parser_initialize(&parser))
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory parsing YAML");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		uint32_t idx;
		if (!yaml_parser_parse(&parser, &ev)) {
			st = yaml_fail(&parser, text, len, source, diag);
			goto out;
		}
		have_ev = true;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (n_docs++ > 0) {
				set_location(diag, source, ev.start_mark.line + 1,
					     ev.start_mark.column + 1, NULL);
				st = ns_diag_set(
					diag, NS_ERR_SCHEMA,
					"a schema is one YAML document; a second one starts "
					"here");
				goto out;
			}
			break;
		case YAML_ALIAS_EVENT:
			set_location(diag, source, ev.start_mark.line + 1, ev.start_mark.column + 1,
				     NULL);
			st = ns_diag_set(diag, NS_ERR_SCHEMA,
					 "YAML aliases (*%s) are not supported in a schema",
					 (const char *)ev.data.alias.anchor);
			goto out;
		case YAML_SCALAR_EVENT:
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT: {
			int kind = ev.type == YAML_SCALAR_EVENT           ? Y_SCALAR
				   : ev.type == YAML_SEQUENCE_START_EVENT ? Y_SEQ
									  : Y_MAP;
			st = add_node(t, kind, &ev.start_mark, stack, depth, &idx);
			if (st != NS_OK) {
				set_location(diag, source, ev.start_mark.line + 1,
					     ev.start_mark.column + 1, NULL);
				if (st == NS_ERR_LIMIT)
					ns_diag_set(diag, st, "more than %zu YAML nodes",
						    (size_t)Y_MAX_NODES);
				else
					ns_diag_set(diag, st, "out of memory parsing YAML");
				goto out;
			}
			if (kind == Y_SCALAR) {
				size_t off = t->text.len;
				st = ns__buf_append(&t->text, ev.data.scalar.value,
						    ev.data.scalar.length);
				if (st == NS_OK)
					st = ns__buf_append(&t->text, "", 1);
				if (st != NS_OK) {
					ns_diag_set(diag, NS_ERR_NOMEM,
						    "out of memory parsing YAML");
					st = NS_ERR_NOMEM;
					goto out;
				}
				t->nodes[idx].off = (uint32_t)off;
				t->nodes[idx].len = (uint32_t)ev.data.scalar.length;
				t->nodes[idx].plain =
					ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
			} else {
				if (depth == Y_MAX_DEPTH) {
					set_location(diag, source, ev.start_mark.line + 1,
						     ev.start_mark.column + 1, NULL);
					st = ns_diag_set(diag, NS_ERR_LIMIT,
							 "YAML nested more than %d deep",
							 Y_MAX_DEPTH);
					goto out;
				}
				stack[depth++] = idx;
			}
			break;
		}
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (depth > 0)
				depth--;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		have_ev = false;
	}
out:
	if (have_ev)
		yaml_event_delete(&ev);
	yaml_parser_delete(&parser);
	return st;
}

/* ---- tree to schema ------------------------------------------------------------ */

struct pctx {
	const struct ytree *t;
	const char *source;
	struct ns_diag *diag;
	struct ns_schema *s;
};

static const struct ynode *node(const struct pctx *c, uint32_t i)
{
	return &c->t->nodes[i];
}

static const char *text_of(const struct pctx *c, const struct ynode *n)
{
	return c->t->text.data + n->off;
}

static enum ns_status fail(struct pctx *c, uint32_t at, enum ns_status st, const char *field,
			   const char *fmt, ...) NS_PRINTF(5, 6);
static enum ns_status fail(struct pctx *c, uint32_t at, enum ns_status st, const char *field,
			   const char *fmt, ...)
{
	va_list ap;
	if (!c->diag)
		return st;
	if (at != Y_NONE)
		set_location(c->diag, c->source, node(c, at)->line, node(c, at)->col, field);
	else
		set_location(c->diag, c->source, 0, 0, field);
	va_start(ap, fmt);
	ns_diag_vset(c->diag, st, fmt, ap);
	va_end(ap);
	return st;
}

static enum ns_status nomem(struct pctx *c)
{
	return ns_diag_set(c->diag, NS_ERR_NOMEM, "out of memory loading the schema");
}

static bool is_null(const struct pctx *c, uint32_t i)
{
	const struct ynode *n = node(c, i);
	const char *s;
	if (n->kind != Y_SCALAR || !n->plain)
		return false;
	s = text_of(c, n);
	return n->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	       strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static const char *kind_word(const struct ynode *n)
{
	return n->kind == Y_SCALAR ? "a single value" : n->kind == Y_SEQ ? "a list" : "a mapping";
}

/* A scalar's text; NUL bytes (from a "\0" escape) are refused. */
static enum ns_status get_text(struct pctx *c, uint32_t i, const char *key, const char *field,
			       const char **s, size_t *len)
{
	const struct ynode *n = node(c, i);
	if (n->kind != Y_SCALAR)
		return fail(c, i, NS_ERR_SCHEMA, field, "'%s' must be a single value, not %s", key,
			    kind_word(n));
	if (memchr(text_of(c, n), '\0', n->len))
		return fail(c, i, NS_ERR_SCHEMA, field, "'%s' contains a NUL character", key);
	*s = text_of(c, n);
	*len = n->len;
	return NS_OK;
}

static enum ns_status get_bool(struct pctx *c, uint32_t i, const char *key, const char *field,
			       bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const struct ynode *n = node(c, i);
	if (n->kind == Y_SCALAR && n->plain) {
		for (size_t k = 0; k < 3; k++) {
			if (ieq(text_of(c, n), yes[k])) {
				*out = true;
				return NS_OK;
			}
			if (ieq(text_of(c, n), no[k])) {
				*out = false;
				return NS_OK;
			}
		}
	}
	return fail(c, i, NS_ERR_SCHEMA, field, "'%s' must be true or false", key);
}

static enum ns_status get_number(struct pctx *c, uint32_t i, const char *key, const char *field,
				 double *out)
{
	const struct ynode *n = node(c, i);
	if (n->kind != Y_SCALAR)
		return fail(c, i, NS_ERR_SCHEMA, field, "'%s' must be a number, not %s", key,
			    kind_word(n));
	if (!ns_parse_double(text_of(c, n), n->len, out) || !isfinite(*out))
		return fail(c, i, NS_ERR_SCHEMA, field, "'%s' must be a finite number, got '%s'",
			    key, text_of(c, n));
	if (*out == 0)
		*out = 0.0;
	return NS_OK;
}

static enum ns_status get_share(struct pctx *c, uint32_t i, const char *key, const char *field,
				double *out)
{
	enum ns_status st = get_number(c, i, key, field, out);
	if (st == NS_OK && (*out < 0 || *out > 1))
		return fail(c, i, NS_ERR_SCHEMA, field,
			    "'%s' is a share of values between 0 and 1, got %s", key,
			    text_of(c, node(c, i)));
	return st;
}

static enum ns_status get_list(struct pctx *c, uint32_t i, const char *key, const char *field,
			       size_t max)
{
	const struct ynode *n = node(c, i);
	if (n->kind != Y_SEQ)
		return fail(c, i, NS_ERR_SCHEMA, field, "'%s' must be a list like [a, b], not %s",
			    key, kind_word(n));
	if (n->n_children == 0)
		return fail(c, i, NS_ERR_SCHEMA, field,
			    "'%s' is an empty list; leave it out instead", key);
	if (n->n_children > max)
		return fail(c, i, NS_ERR_LIMIT, field,
			    "'%s' has %u entries; at most %zu are allowed", key, n->n_children,
			    max);
	return NS_OK;
}

/*
 * Reads the keys of mapping `map` into vals[] (value node per known key, or
 * Y_NONE) and keys[] (the key nodes).  Unknown and repeated keys are errors.
 */
static enum ns_status read_keys(struct pctx *c, uint32_t map, const char *const *names,
				size_t n_names, uint32_t *keys, uint32_t *vals, const char *where,
				const char *field)
{
	uint32_t k = node(c, map)->first;
	for (size_t i = 0; i < n_names; i++)
		keys[i] = vals[i] = Y_NONE;
	while (k != Y_NONE) {
		uint32_t v = node(c, k)->next;
		const char *name;
		size_t i;
		if (node(c, k)->kind != Y_SCALAR)
			return fail(c, k, NS_ERR_SCHEMA, field, "keys in %s must be plain words",
				    where);
		name = text_of(c, node(c, k));
		for (i = 0; i < n_names; i++) {
			/* (A key with a NUL from a "\0" escape matches nothing.) */
			if (strlen(name) == node(c, k)->len && strcmp(name, names[i]) == 0)
				break;
		}
		if (i == n_names) {
			char known[256];
			size_t off = 0;
			for (size_t j = 0; j < n_names && off < sizeof(known); j++) {
				int w = snprintf(known + off, sizeof(known) - off, "%s%s",
						 j ? ", " : "", names[j]);
				if (w > 0)
					off += (size_t)w;
			}
			return fail(c, k, NS_ERR_SCHEMA, field,
				    "unknown key '%s' in %s (known: %s)", name, where, known);
		}
		if (vals[i] != Y_NONE)
			return fail(c, k, NS_ERR_SCHEMA, field,
				    "key '%s' appears twice in %s (first at line %u)", name, where,
				    node(c, keys[i])->line);
		keys[i] = k;
		vals[i] = v;
		k = node(c, v)->next;
	}
	return NS_OK;
}

static enum ns_status check_column_name(struct pctx *c, uint32_t at, const char *s, size_t len)
{
	if (len == 0)
		return fail(c, at, NS_ERR_SCHEMA, NULL, "a column name is empty");
	if (len > NAME_MAX_BYTES)
		return fail(c, at, NS_ERR_SCHEMA, NULL, "a column name is longer than %d bytes",
			    NAME_MAX_BYTES);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return fail(c, at, NS_ERR_SCHEMA, NULL,
				    "column name '%s' contains a control character", s);
	}
	return NS_OK;
}

static enum ns_status parse_type(struct pctx *c, uint32_t at, const char *field,
				 enum ns_col_type *out)
{
	const struct ynode *n = node(c, at);
	if (n->kind != Y_SCALAR || strlen(text_of(c, n)) != n->len ||
	    !ns__col_type_parse(text_of(c, n), out))
		return fail(c, at, NS_ERR_SCHEMA, field,
			    "unknown type '%s': use int, float or category (or int64, float64, "
			    "object, ...)",
			    n->kind == Y_SCALAR ? text_of(c, n) : kind_word(n));
	return NS_OK;
}

/*
 * Reads a list of values for a column of type `type` (allowed values, or the
 * target's classes).  Numeric values are checked (int: integral) and compared
 * by value for duplicates.  With `canonical`, numeric entries are stored in
 * canonical number text, else as written.
 */
static enum ns_status parse_value_list(struct pctx *c, uint32_t list, const char *key,
				       const char *field, enum ns_col_type type, bool canonical,
				       char ***out, double **out_num, size_t *out_n)
{
	const struct ynode *ln = node(c, list);
	struct ns__strmap seen;
	char **vals = NULL;
	double *nums = NULL;
	size_t n = 0;
	enum ns_status st;
	uint32_t k;

	ns__strmap_init(&seen);
	st = get_list(c, list, key, field, NS__SCHEMA_MAX_VALUES);
	if (st != NS_OK)
		goto out;
	vals = ns_calloc(ln->n_children, sizeof(char *));
	if (type != NS_TYPE_CATEGORY)
		nums = ns_calloc(ln->n_children, sizeof(double));
	if (!vals || (type != NS_TYPE_CATEGORY && !nums)) {
		st = nomem(c);
		goto out;
	}
	for (k = ln->first; k != Y_NONE; k = node(c, k)->next) {
		const char *s, *key_text;
		size_t len, key_len;
		char canon[40];
		bool added;
		st = get_text(c, k, key, field, &s, &len);
		if (st != NS_OK)
			goto out;
		key_text = s;
		key_len = len;
		if (type != NS_TYPE_CATEGORY) {
			double v;
			if (!ns_parse_double(s, len, &v) || isnan(v)) {
				st = fail(c, k, NS_ERR_SCHEMA, field,
					  "'%s': '%s' is not a number (the column is %s)", key, s,
					  ns_col_type_name(type));
				goto out;
			}
			if (type == NS_TYPE_INT && !ns__is_integral(v)) {
				st = fail(c, k, NS_ERR_SCHEMA, field,
					  "'%s': %s is not an integer (the column is int)", key, s);
				goto out;
			}
			if (v == 0)
				v = 0.0;
			nums[n] = v;
			key_len = ns__number_text(v, canon, sizeof(canon));
			key_text = canon;
		}
		st = ns__strmap_add(&seen, key_text, key_len, NULL, &added);
		if (st != NS_OK) {
			st = nomem(c);
			goto out;
		}
		if (!added) {
			st = fail(c, k, NS_ERR_SCHEMA, field, "'%s': '%s' is listed twice", key, s);
			goto out;
		}
		vals[n] = canonical && type != NS_TYPE_CATEGORY ? ns_strndup(canon, key_len)
								: ns_strndup(s, len);
		if (!vals[n]) {
			st = nomem(c);
			goto out;
		}
		n++;
	}
	*out = vals;
	*out_num = nums;
	*out_n = n;
	vals = NULL;
	nums = NULL;
out:
	ns__free_strings(vals, n);
	ns_free(nums);
	ns__strmap_fini(&seen);
	return st;
}

enum { CK_NAME, CK_TYPE, CK_VALUES, CK_MIN, CK_MAX, CK_RANGE, CK_MAX_MISSING, CK_IGNORE, CK_N };
static const char *const column_keys[CK_N] = {"name", "type",  "values",      "min",
					      "max",  "range", "max_missing", "ignore"};

/*
 * One column: either the full form (a mapping with `name:`), or the short
 * form of the reference project (a one-key mapping `NAME: TYPE`).  *name_at
 * gets the node of the name for later messages.
 */
static enum ns_status parse_column(struct pctx *c, uint32_t item, struct ns_schema_column *col,
				   uint32_t *name_at)
{
	const struct ynode *in = node(c, item);
	uint32_t keys[CK_N], vals[CK_N];
	const char *s;
	size_t len;
	enum ns_status st;

	col->max_missing = c->s->max_missing;
	if (in->kind != Y_MAP || in->n_children == 0)
		return fail(c, item, NS_ERR_SCHEMA, NULL,
			    "a column is a mapping: `- name: NAME` with `type: TYPE`, or "
			    "`- NAME: TYPE`");
	/* Short form: one key that is not a column keyword. */
	{
		uint32_t k = in->first;
		bool keyword = false;
		if (node(c, k)->kind == Y_SCALAR) {
			for (size_t i = 0; i < CK_N; i++)
				keyword |= strcmp(text_of(c, node(c, k)), column_keys[i]) == 0;
		}
		if (in->n_children == 2 && !keyword) {
			st = get_text(c, k, "column name", NULL, &s, &len);
			if (st != NS_OK)
				return st;
			st = check_column_name(c, k, s, len);
			if (st != NS_OK)
				return st;
			col->name = ns_strndup(s, len);
			if (!col->name)
				return nomem(c);
			*name_at = k;
			return parse_type(c, node(c, k)->next, col->name, &col->type);
		}
	}
	st = read_keys(c, item, column_keys, CK_N, keys, vals, "a column", NULL);
	if (st != NS_OK)
		return st;
	if (vals[CK_NAME] == Y_NONE)
		return fail(c, item, NS_ERR_SCHEMA, NULL, "a column has no 'name'");
	st = get_text(c, vals[CK_NAME], "name", NULL, &s, &len);
	if (st != NS_OK)
		return st;
	st = check_column_name(c, vals[CK_NAME], s, len);
	if (st != NS_OK)
		return st;
	col->name = ns_strndup(s, len);
	if (!col->name)
		return nomem(c);
	*name_at = vals[CK_NAME];
	if (vals[CK_TYPE] == Y_NONE)
		return fail(c, item, NS_ERR_SCHEMA, col->name,
			    "column '%s' has no 'type' (int, float or category)", col->name);
	st = parse_type(c, vals[CK_TYPE], col->name, &col->type);
	if (st != NS_OK)
		return st;
	if (vals[CK_VALUES] != Y_NONE) {
		st = parse_value_list(c, vals[CK_VALUES], "values", col->name, col->type, true,
				      &col->allowed, &col->allowed_num, &col->n_allowed);
		if (st != NS_OK)
			return st;
	}
	if (col->type == NS_TYPE_CATEGORY) {
		for (int k = CK_MIN; k <= CK_RANGE; k++) {
			if (vals[k] != Y_NONE)
				return fail(c, keys[k], NS_ERR_SCHEMA, col->name,
					    "'%s' applies to int and float columns; '%s' is a "
					    "category",
					    column_keys[k], col->name);
		}
	}
	if (vals[CK_RANGE] != Y_NONE) {
		const struct ynode *r = node(c, vals[CK_RANGE]);
		if (vals[CK_MIN] != Y_NONE || vals[CK_MAX] != Y_NONE)
			return fail(c, keys[CK_RANGE], NS_ERR_SCHEMA, col->name,
				    "give either 'range' or 'min'/'max', not both");
		if (r->kind != Y_SEQ || r->n_children != 2)
			return fail(c, vals[CK_RANGE], NS_ERR_SCHEMA, col->name,
				    "'range' must be a list of two numbers [min, max]");
		st = get_number(c, r->first, "range", col->name, &col->min);
		if (st == NS_OK)
			st = get_number(c, node(c, r->first)->next, "range", col->name, &col->max);
		if (st != NS_OK)
			return st;
		col->has_min = col->has_max = true;
	}
	if (vals[CK_MIN] != Y_NONE) {
		st = get_number(c, vals[CK_MIN], "min", col->name, &col->min);
		if (st != NS_OK)
			return st;
		col->has_min = true;
	}
	if (vals[CK_MAX] != Y_NONE) {
		st = get_number(c, vals[CK_MAX], "max", col->name, &col->max);
		if (st != NS_OK)
			return st;
		col->has_max = true;
	}
	if (col->has_min && col->has_max && col->min > col->max) {
		uint32_t at = vals[CK_RANGE] != Y_NONE ? vals[CK_RANGE] : vals[CK_MAX];
		char a[40], b[40];
		ns__number_text(col->min, a, sizeof(a));
		ns__number_text(col->max, b, sizeof(b));
		return fail(c, at, NS_ERR_SCHEMA, col->name, "min %s is greater than max %s", a, b);
	}
	if (vals[CK_MAX_MISSING] != Y_NONE) {
		st = get_share(c, vals[CK_MAX_MISSING], "max_missing", col->name,
			       &col->max_missing);
		if (st != NS_OK)
			return st;
	}
	if (vals[CK_IGNORE] != Y_NONE) {
		st = get_bool(c, vals[CK_IGNORE], "ignore", col->name, &col->ignore);
		if (st != NS_OK)
			return st;
	}
	return NS_OK;
}

/* Looks a name up among the columns through the name map; reports unknown names. */
static enum ns_status find_column(struct pctx *c, const struct ns__strmap *names, uint32_t at,
				  const char *key, long *idx)
{
	const char *s;
	size_t len;
	enum ns_status st = get_text(c, at, key, NULL, &s, &len);
	if (st != NS_OK)
		return st;
	*idx = ns__strmap_find(names, s, len);
	if (*idx < 0)
		return fail(c, at, NS_ERR_SCHEMA, NULL, "'%s': '%s' is not a column", key, s);
	return NS_OK;
}

enum {
	TK_NAME,
	TK_HEADER,
	TK_DELIMITER,
	TK_NA_VALUES,
	TK_MAX_MISSING,
	TK_TARGET,
	TK_CLASSES,
	TK_THREAT,
	TK_BENIGN,
	TK_COLUMNS,
	TK_IGNORE,
	TK_NUMERICAL,
	TK_CATEGORICAL,
	TK_N
};
static const char *const top_keys[TK_N] = {"name",
					   "header",
					   "delimiter",
					   "na_values",
					   "max_missing",
					   "target",
					   "classes",
					   "threat",
					   "benign",
					   "columns",
					   "ignore",
					   "numerical_columns",
					   "categorical_columns"};

static enum ns_status parse_columns(struct pctx *c, uint32_t at, struct ns__strmap *names)
{
	struct ns_schema *s = c->s;
	const struct ynode *cn = node(c, at);
	uint32_t *name_at = NULL;
	size_t n_items;
	enum ns_status st = NS_OK;

	if (cn->kind == Y_SCALAR)
		return fail(c, at, NS_ERR_SCHEMA, NULL,
			    "'columns' must be a list of columns, not a single value");
	n_items = cn->kind == Y_MAP ? cn->n_children / 2 : cn->n_children;
	if (n_items == 0)
		return fail(c, at, NS_ERR_SCHEMA, NULL,
			    "'columns' is empty: a schema needs columns");
	if (n_items > NS__SCHEMA_MAX_COLUMNS)
		return fail(c, at, NS_ERR_LIMIT, NULL, "%zu columns; at most %d are allowed",
			    n_items, NS__SCHEMA_MAX_COLUMNS);
	s->columns = ns_calloc(n_items, sizeof(*s->columns));
	name_at = ns_calloc(n_items, sizeof(*name_at));
	if (!s->columns || !name_at) {
		st = nomem(c);
		goto out;
	}
	for (uint32_t k = cn->first; k != Y_NONE; k = node(c, k)->next) {
		struct ns_schema_column *col = &s->columns[s->n_columns];
		size_t i = s->n_columns;
		bool added;
		s->n_columns++;
		if (cn->kind == Y_MAP) {
			/* `columns: {NAME: TYPE, ...}`: the short form as one mapping. */
			const char *nm;
			size_t len;
			col->max_missing = s->max_missing;
			st = get_text(c, k, "column name", NULL, &nm, &len);
			if (st == NS_OK)
				st = check_column_name(c, k, nm, len);
			if (st != NS_OK)
				goto out;
			col->name = ns_strndup(nm, len);
			if (!col->name) {
				st = nomem(c);
				goto out;
			}
			name_at[i] = k;
			k = node(c, k)->next;
			st = parse_type(c, k, col->name, &col->type);
		} else {
			st = parse_column(c, k, col, &name_at[i]);
		}
		if (st != NS_OK)
			goto out;
		st = ns__strmap_add(names, col->name, strlen(col->name), NULL, &added);
		if (st != NS_OK) {
			st = nomem(c);
			goto out;
		}
		if (!added) {
			long first = ns__strmap_find(names, col->name, strlen(col->name));
			st = fail(c, name_at[i], NS_ERR_SCHEMA, col->name,
				  "column '%s' is defined twice (first at line %u)", col->name,
				  node(c, name_at[first])->line);
			goto out;
		}
	}
out:
	ns_free(name_at);
	return st;
}

static enum ns_status parse_name_list(struct pctx *c, uint32_t at, const char *key,
				      const struct ns__strmap *names, bool *marks)
{
	enum ns_status st = get_list(c, at, key, NULL, NS__SCHEMA_MAX_COLUMNS);
	if (st != NS_OK)
		return st;
	for (uint32_t k = node(c, at)->first; k != Y_NONE; k = node(c, k)->next) {
		long i;
		st = find_column(c, names, k, key, &i);
		if (st != NS_OK)
			return st;
		if (marks)
			marks[i] = true;
	}
	return NS_OK;
}

static enum ns_status parse_root(struct pctx *c)
{
	struct ns_schema *s = c->s;
	uint32_t keys[TK_N], vals[TK_N];
	struct ns__strmap names;
	bool *numerical = NULL, *categorical = NULL;
	const char *str;
	size_t len;
	enum ns_status st;

	ns__strmap_init(&names);
	if (c->t->root == Y_NONE)
		return fail(c, Y_NONE, NS_ERR_SCHEMA, NULL, "the schema is empty");
	if (node(c, c->t->root)->kind != Y_MAP)
		return fail(c, c->t->root, NS_ERR_SCHEMA, NULL,
			    "a schema is a YAML mapping (key: value lines), not %s",
			    kind_word(node(c, c->t->root)));
	st = read_keys(c, c->t->root, top_keys, TK_N, keys, vals, "the schema", NULL);
	if (st != NS_OK)
		goto out;

	if (vals[TK_NAME] != Y_NONE && !is_null(c, vals[TK_NAME])) {
		st = get_text(c, vals[TK_NAME], "name", NULL, &str, &len);
		if (st != NS_OK)
			goto out;
		if (!ns__valid_name(str)) {
			st = fail(c, vals[TK_NAME], NS_ERR_SCHEMA, NULL,
				  "name '%s' must be 1 to 64 characters of A-Z a-z 0-9 _ . -", str);
			goto out;
		}
		s->name = ns_strndup(str, len);
		if (!s->name) {
			st = nomem(c);
			goto out;
		}
	}
	if (vals[TK_HEADER] != Y_NONE) {
		st = get_bool(c, vals[TK_HEADER], "header", NULL, &s->header);
		if (st != NS_OK)
			goto out;
	}
	if (vals[TK_DELIMITER] != Y_NONE) {
		st = get_text(c, vals[TK_DELIMITER], "delimiter", NULL, &str, &len);
		if (st != NS_OK)
			goto out;
		if (len != 1 || (unsigned char)str[0] >= 0x80 || str[0] == '"' || str[0] == '\r' ||
		    str[0] == '\n') {
			st = fail(c, vals[TK_DELIMITER], NS_ERR_SCHEMA, NULL,
				  "'delimiter' must be one ASCII character other than a quote or "
				  "a line end, like \",\" or \"\\t\"");
			goto out;
		}
		s->delimiter = str[0];
	}
	if (vals[TK_NA_VALUES] != Y_NONE) {
		const struct ynode *ln = node(c, vals[TK_NA_VALUES]);
		ns__free_strings(s->na_values, s->n_na);
		s->na_values = NULL;
		s->n_na = 0;
		if (ln->kind != Y_SEQ) {
			st = fail(c, vals[TK_NA_VALUES], NS_ERR_SCHEMA, NULL,
				  "'na_values' must be a list like [\"\", \"NA\"] ([] for none)");
			goto out;
		}
		if (ln->n_children > NS__SCHEMA_MAX_NA) {
			st = fail(c, vals[TK_NA_VALUES], NS_ERR_LIMIT, NULL,
				  "'na_values' has %u entries; at most %d are allowed",
				  ln->n_children, NS__SCHEMA_MAX_NA);
			goto out;
		}
		if (ln->n_children > 0) {
			s->na_values = ns_calloc(ln->n_children, sizeof(char *));
			if (!s->na_values) {
				st = nomem(c);
				goto out;
			}
		}
		for (uint32_t k = ln->first; k != Y_NONE; k = node(c, k)->next) {
			st = get_text(c, k, "na_values", NULL, &str, &len);
			if (st != NS_OK)
				goto out;
			s->na_values[s->n_na] = ns_strndup(str, len);
			if (!s->na_values[s->n_na]) {
				st = nomem(c);
				goto out;
			}
			s->n_na++;
		}
	}
	if (vals[TK_MAX_MISSING] != Y_NONE) {
		st = get_share(c, vals[TK_MAX_MISSING], "max_missing", NULL, &s->max_missing);
		if (st != NS_OK)
			goto out;
	}
	if (vals[TK_COLUMNS] == Y_NONE) {
		st = fail(c, c->t->root, NS_ERR_SCHEMA, NULL, "the schema has no 'columns'");
		goto out;
	}
	st = parse_columns(c, vals[TK_COLUMNS], &names);
	if (st != NS_OK)
		goto out;
	if (vals[TK_IGNORE] != Y_NONE) {
		st = get_list(c, vals[TK_IGNORE], "ignore", NULL, NS__SCHEMA_MAX_COLUMNS);
		if (st != NS_OK)
			goto out;
		for (uint32_t k = node(c, vals[TK_IGNORE])->first; k != Y_NONE;
		     k = node(c, k)->next) {
			long i;
			st = find_column(c, &names, k, "ignore", &i);
			if (st != NS_OK)
				goto out;
			s->columns[i].ignore = true;
		}
	}
	/* The reference project's lists: accepted and checked against the columns. */
	if (vals[TK_NUMERICAL] != Y_NONE || vals[TK_CATEGORICAL] != Y_NONE) {
		numerical = ns_calloc(s->n_columns, sizeof(bool));
		categorical = ns_calloc(s->n_columns, sizeof(bool));
		if (!numerical || !categorical) {
			st = nomem(c);
			goto out;
		}
	}
	if (vals[TK_NUMERICAL] != Y_NONE) {
		st = parse_name_list(c, vals[TK_NUMERICAL], "numerical_columns", &names, numerical);
		if (st != NS_OK)
			goto out;
		for (uint32_t k = node(c, vals[TK_NUMERICAL])->first; k != Y_NONE;
		     k = node(c, k)->next) {
			long i = ns__strmap_find(&names, text_of(c, node(c, k)), node(c, k)->len);
			if (s->columns[i].type == NS_TYPE_CATEGORY) {
				st = fail(c, k, NS_ERR_SCHEMA, s->columns[i].name,
					  "'%s' is listed in numerical_columns but its type is "
					  "category",
					  s->columns[i].name);
				goto out;
			}
		}
	}
	if (vals[TK_CATEGORICAL] != Y_NONE) {
		st = parse_name_list(c, vals[TK_CATEGORICAL], "categorical_columns", &names,
				     categorical);
		if (st != NS_OK)
			goto out;
		for (uint32_t k = node(c, vals[TK_CATEGORICAL])->first; k != Y_NONE;
		     k = node(c, k)->next) {
			long i = ns__strmap_find(&names, text_of(c, node(c, k)), node(c, k)->len);
			if (numerical[i]) {
				st = fail(c, k, NS_ERR_SCHEMA, s->columns[i].name,
					  "'%s' is listed both in numerical_columns and in "
					  "categorical_columns",
					  s->columns[i].name);
				goto out;
			}
		}
	}
	/* Target: named, explicitly none (null), or by default. */
	if (vals[TK_TARGET] != Y_NONE) {
		if (!is_null(c, vals[TK_TARGET])) {
			st = find_column(c, &names, vals[TK_TARGET], "target", &s->target);
			if (st != NS_OK)
				goto out;
			if (s->columns[s->target].ignore) {
				st = fail(c, vals[TK_TARGET], NS_ERR_SCHEMA,
					  s->columns[s->target].name,
					  "the target '%s' cannot be ignored",
					  s->columns[s->target].name);
				goto out;
			}
		}
	} else {
		s->target = ns__schema_guess_target(s->columns, s->n_columns);
	}
	if (vals[TK_CLASSES] != Y_NONE) {
		if (s->target < 0) {
			st = fail(c, keys[TK_CLASSES], NS_ERR_SCHEMA, NULL,
				  "'classes' need a target column");
			goto out;
		}
		double *class_num = NULL;
		st = parse_value_list(c, vals[TK_CLASSES], "classes", s->columns[s->target].name,
				      s->columns[s->target].type, false, &s->classes, &class_num,
				      &s->n_classes);
		ns_free(class_num);
		if (st != NS_OK)
			goto out;
	}
	for (int which = TK_THREAT; which <= TK_BENIGN; which++) {
		const char *key = top_keys[which];
		long *dst = which == TK_THREAT ? &s->threat : &s->benign;
		if (vals[which] == Y_NONE || is_null(c, vals[which]))
			continue;
		st = get_text(c, vals[which], key, NULL, &str, &len);
		if (st != NS_OK)
			goto out;
		if (s->n_classes == 0) {
			st = fail(c, vals[which], NS_ERR_SCHEMA, NULL,
				  "'%s' needs 'classes': list the target's classes", key);
			goto out;
		}
		*dst = ns_schema_class_index(s, str, len);
		if (*dst < 0) {
			st = fail(c, vals[which], NS_ERR_SCHEMA, NULL,
				  "%s '%s' is not one of the classes", key, str);
			goto out;
		}
	}
	if (s->threat >= 0 && s->benign >= 0) {
		st = fail(c, keys[TK_BENIGN], NS_ERR_SCHEMA, NULL,
			  "give either 'threat' (the one threat class) or 'benign' (the one "
			  "benign class), not both");
		goto out;
	}
out:
	ns_free(numerical);
	ns_free(categorical);
	ns__strmap_fini(&names);
	return st;
}

enum ns_status ns_schema_parse(const char *text, size_t len, const char *source,
			       struct ns_schema **out, struct ns_diag *diag)
{
	struct ytree tree;
	struct pctx c;
	struct ns_schema *s = NULL;
	enum ns_status st;

	if (!out || (!text && len))
		return ns_diag_set(diag, NS_ERR_INVALID, "no schema text");
	if (!source)
		source = "schema";
	if (len > NS__SCHEMA_MAX_BYTES) {
		set_location(diag, source, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_LIMIT, "the schema is larger than %zu bytes",
				   NS__SCHEMA_MAX_BYTES);
	}
	st = build_tree(text ? text : "", len, source, &tree, diag);
	if (st != NS_OK)
		goto out;
	s = ns__schema_new();
	if (!s) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory loading the schema");
		goto out;
	}
	c.t = &tree;
	c.source = source;
	c.diag = diag;
	c.s = s;
	st = parse_root(&c);
	if (st != NS_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	ns_schema_free(s);
	ytree_fini(&tree);
	return st;
}

enum ns_status ns_schema_load(const char *path, struct ns_schema **out, struct ns_diag *diag)
{
	char *text = NULL;
	size_t len = 0;
	enum ns_status st;
	if (!path || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no schema path");
	st = ns_read_file(path, NS__SCHEMA_MAX_BYTES, &text, &len, diag);
	if (st != NS_OK)
		return st;
	st = ns_schema_parse(text, len, path, out, diag);
	ns_free(text);
	return st;
}

/* ---- canonical YAML -------------------------------------------------------------- */

/*
 * Appends `s` as a YAML double-quoted scalar.  Escaped: quote, backslash, C0
 * and C1 controls, DEL, and the characters libyaml reads as line breaks or
 * refuses raw (U+2028, U+2029, U+FEFF, U+FFFE, U+FFFF); other UTF-8 is copied.
 * NS_ERR_INVALID when `s` is not valid UTF-8 (YAML cannot carry such bytes).
 */
static enum ns_status emit_str(struct ns__buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	enum ns_status st = ns__buf_append(b, "\"", 1);
	while (st == NS_OK && i < len) {
		uint32_t cp;
		size_t n;
		char esc[16];
		const char *e = NULL;
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
			i++;
			run++;
			continue;
		}
		n = p[i] < 0x80 ? 1 : utf8_decode(p + i, len - i, &cp);
		if (n == 0)
			return NS_ERR_INVALID;
		if (p[i] < 0x80)
			cp = p[i];
		switch (cp) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\0':
			e = "\\0";
			break;
		case '\t':
			e = "\\t";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		default:
			if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
				snprintf(esc, sizeof(esc), "\\x%02X", (unsigned)cp);
				e = esc;
			} else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE ||
				   cp == 0xFFFF) {
				snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)cp);
				e = esc;
			}
			break;
		}
		if (!e) {
			i += n;
			run += n;
			continue;
		}
		st = ns__buf_append(b, s + i - run, run);
		if (st == NS_OK)
			st = ns__buf_append(b, e, strlen(e));
		run = 0;
		i += n;
	}
	if (st == NS_OK)
		st = ns__buf_append(b, s + i - run, run);
	if (st == NS_OK)
		st = ns__buf_append(b, "\"", 1);
	return st;
}

static enum ns_status emit_num(struct ns__buf *b, double v)
{
	char num[40];
	size_t n = ns__number_text(v, num, sizeof(num));
	return ns__buf_append(b, num, n);
}

static enum ns_status emit_str_list(struct ns__buf *b, char *const *v, size_t n)
{
	enum ns_status st = ns__buf_append(b, "[", 1);
	for (size_t i = 0; st == NS_OK && i < n; i++) {
		if (i)
			st = ns__buf_append(b, ", ", 2);
		if (st == NS_OK)
			st = emit_str(b, v[i], strlen(v[i]));
	}
	if (st == NS_OK)
		st = ns__buf_append(b, "]\n", 2);
	return st;
}

/* A struct that did not come from our parser may be inconsistent: check. */
static bool schema_consistent(const struct ns_schema *s)
{
	if (!s || s->n_columns == 0 || !s->columns || (s->n_na && !s->na_values))
		return false;
	if (s->target < -1 || s->target >= (long)s->n_columns)
		return false;
	if (s->n_classes && (!s->classes || s->target < 0))
		return false;
	if (s->threat < -1 || s->threat >= (long)s->n_classes || s->benign < -1 ||
	    s->benign >= (long)s->n_classes || (s->threat >= 0 && s->benign >= 0))
		return false;
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct ns_schema_column *c = &s->columns[i];
		if (!c->name || (c->n_allowed && !c->allowed) ||
		    (c->n_allowed && c->type != NS_TYPE_CATEGORY && !c->allowed_num) ||
		    (unsigned)c->type > NS_TYPE_CATEGORY)
			return false;
	}
	return true;
}

static enum ns_status emit_body(const struct ns_schema *s, struct ns__buf *b)
{
	enum ns_status st = NS_OK;
	char delim = s->delimiter;

	if (!schema_consistent(s))
		return NS_ERR_INVALID;
#define EMIT(p, n) \
	do { \
		if ((st = ns__buf_append(b, p, n)) != NS_OK) \
			return st; \
	} while (0)
#define EMIT_LIT(lit) EMIT(lit, sizeof(lit) - 1)
#define CHECK(expr) \
	do { \
		if ((st = (expr)) != NS_OK) \
			return st; \
	} while (0)
	if (s->name) {
		EMIT_LIT("name: ");
		CHECK(emit_str(b, s->name, strlen(s->name)));
		EMIT_LIT("\n");
	}
	if (s->header)
		EMIT_LIT("header: true\n");
	else
		EMIT_LIT("header: false\n");
	EMIT_LIT("delimiter: ");
	CHECK(emit_str(b, &delim, 1));
	EMIT_LIT("\nna_values: ");
	CHECK(emit_str_list(b, s->na_values, s->n_na));
	EMIT_LIT("max_missing: ");
	CHECK(emit_num(b, s->max_missing));
	EMIT_LIT("\ntarget: ");
	if (s->target >= 0) {
		const char *t = s->columns[s->target].name;
		CHECK(emit_str(b, t, strlen(t)));
	} else {
		EMIT_LIT("null");
	}
	EMIT_LIT("\n");
	if (s->n_classes) {
		EMIT_LIT("classes: ");
		CHECK(emit_str_list(b, s->classes, s->n_classes));
	}
	if (s->threat >= 0) {
		EMIT_LIT("threat: ");
		CHECK(emit_str(b, s->classes[s->threat], strlen(s->classes[s->threat])));
		EMIT_LIT("\n");
	}
	if (s->benign >= 0) {
		EMIT_LIT("benign: ");
		CHECK(emit_str(b, s->classes[s->benign], strlen(s->classes[s->benign])));
		EMIT_LIT("\n");
	}
	EMIT_LIT("columns:\n");
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct ns_schema_column *c = &s->columns[i];
		EMIT_LIT("  - name: ");
		CHECK(emit_str(b, c->name, strlen(c->name)));
		EMIT_LIT("\n    type: ");
		EMIT(ns_col_type_name(c->type), strlen(ns_col_type_name(c->type)));
		EMIT_LIT("\n");
		if (c->n_allowed) {
			EMIT_LIT("    values: [");
			for (size_t k = 0; k < c->n_allowed; k++) {
				if (k)
					EMIT_LIT(", ");
				if (c->type == NS_TYPE_CATEGORY)
					CHECK(emit_str(b, c->allowed[k], strlen(c->allowed[k])));
				else
					CHECK(emit_num(b, c->allowed_num[k]));
			}
			EMIT_LIT("]\n");
		}
		if (c->type != NS_TYPE_CATEGORY && c->has_min) {
			EMIT_LIT("    min: ");
			CHECK(emit_num(b, c->min));
			EMIT_LIT("\n");
		}
		if (c->type != NS_TYPE_CATEGORY && c->has_max) {
			EMIT_LIT("    max: ");
			CHECK(emit_num(b, c->max));
			EMIT_LIT("\n");
		}
		if (c->max_missing != s->max_missing) {
			EMIT_LIT("    max_missing: ");
			CHECK(emit_num(b, c->max_missing));
			EMIT_LIT("\n");
		}
		if (c->ignore)
			EMIT_LIT("    ignore: true\n");
	}
#undef EMIT
#undef EMIT_LIT
#undef CHECK
	return NS_OK;
}

static enum ns_status emit_note(const char *note, struct ns__buf *b)
{
	enum ns_status st = NS_OK;
	const char *p = note;
	while (st == NS_OK && *p) {
		size_t n = strcspn(p, "\r\n");
		st = ns__buf_append(b, n ? "# " : "#", n ? 2 : 1);
		for (size_t i = 0; st == NS_OK && i < n; i++) {
			/* Comments end at a line break; anything odd becomes a space. */
			char ch = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? ' ' : p[i];
			st = ns__buf_append(b, &ch, 1);
		}
		if (st == NS_OK)
			st = ns__buf_append(b, "\n", 1);
		p += n;
		if (*p == '\r' && p[1] == '\n')
			p++;
		if (*p)
			p++;
	}
	return st;
}

enum ns_status ns_schema_to_yaml(const struct ns_schema *s, char **out, size_t *len)
{
	struct ns__buf b;
	enum ns_status st;
	if (!s || !out)
		return NS_ERR_INVALID;
	ns__buf_init(&b, 0);
	st = s->note ? emit_note(s->note, &b) : NS_OK;
	if (st == NS_OK)
		st = emit_body(s, &b);
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return st;
	}
	*out = b.data;
	if (len)
		*len = b.len;
	return NS_OK;
}

enum ns_status ns_schema_save(const struct ns_schema *s, const char *path, struct ns_diag *diag)
{
	char *yaml = NULL;
	size_t len = 0;
	enum ns_status st;
	if (!path)
		return ns_diag_set(diag, NS_ERR_INVALID, "no schema path");
	st = ns_schema_to_yaml(s, &yaml, &len);
	if (st != NS_OK) {
		set_location(diag, path, 0, 0, NULL);
		return ns_diag_set(diag, st,
				   st == NS_ERR_NOMEM ? "out of memory writing the schema"
						      : "the schema is inconsistent or holds text "
							"that is not UTF-8");
	}
	st = ns_write_file_atomic(path, yaml, len, diag);
	ns_free(yaml);
	return st;
}

enum ns_status ns_schema_hash(const struct ns_schema *s, char hex[65])
{
	struct ns__buf b;
	struct ns_sha256 h;
	uint8_t digest[32];
	enum ns_status st;
	if (!s || !hex)
		return NS_ERR_INVALID;
	ns__buf_init(&b, 0);
	st = emit_body(s, &b);
	if (st == NS_OK) {
		ns_sha256_init(&h);
		ns_sha256_update(&h, b.data, b.len);
		ns_sha256_final(&h, digest);
		ns_sha256_hex(digest, hex);
	}
	ns__buf_fini(&b);
	return st;
}

/* ---- lookups ----------------------------------------------------------------------- */

long ns_schema_col_index(const struct ns_schema *s, const char *name)
{
	if (!s || !name)
		return -1;
	for (size_t i = 0; i < s->n_columns; i++) {
		if (strcmp(s->columns[i].name, name) == 0)
			return (long)i;
	}
	return -1;
}

long ns_schema_class_index(const struct ns_schema *s, const char *value, size_t len)
{
	if (!s || s->n_classes == 0 || s->target < 0 || (!value && len))
		return -1;
	if (s->columns[s->target].type == NS_TYPE_CATEGORY) {
		for (size_t i = 0; i < s->n_classes; i++) {
			if (strlen(s->classes[i]) == len && memcmp(s->classes[i], value, len) == 0)
				return (long)i;
		}
		return -1;
	}
	{
		double v, w;
		if (!ns_parse_double(value, len, &v) || isnan(v))
			return -1;
		for (size_t i = 0; i < s->n_classes; i++) {
			if (ns_parse_double(s->classes[i], strlen(s->classes[i]), &w) && w == v)
				return (long)i;
		}
	}
	return -1;
}

bool ns_schema_class_is_threat(const struct ns_schema *s, long k)
{
	if (!s || k < 0 || k >= (long)s->n_classes)
		return false;
	if (s->threat >= 0)
		return k == s->threat;
	if (s->benign >= 0)
		return k != s->benign;
	return false;
}
