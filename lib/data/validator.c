/*
 * lib/data/validator.c - the streaming record validator, file validation, and
 * reading a CSV file into a frame through a schema.
 *
 * The validator is fed the CSV reader's records one by one and keeps only
 * per-column counters, so a file of any size is validated in constant
 * memory.  Columns are matched once, at the header (by name, in any order)
 * or at the first record (by position); after that each cell costs one
 * missing-marker check (by length first), one number parse for numeric
 * columns, and a binary search or hash lookup when the column lists its
 * allowed values.  Short integers (sign and at most 15 digits, the common
 * case) skip the general parse, and their allowed values, classes and range
 * are usually folded at creation into one 64-bit set (struct ns__int_check).
 * judge() is the one place that decides what a cell is; check_cell() adds
 * the counting and the messages, which live out of line because they are
 * rare.  Problem messages are formatted only when a problem is passed on, so
 * a file with a million bad cells and max_problems = 10 costs ten messages.
 *
 * Threading: a validator is used by one thread at a time; it borrows its
 * schema, which must outlive it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/fastpath.h"
#include "data/schema_internal.h"
#include "data/strmap.h"

#define QUOTE_MAX 48 /* bytes of a cell quoted in a message */

/* Rare paths (problem reports) are kept out of the per-cell code. */
#if defined(__GNUC__)
#define COLD __attribute__((noinline, cold))
#else
#define COLD
#endif

const char *ns_problem_kind_name(enum ns_problem_kind k)
{
	switch (k) {
	case NS_PROBLEM_SYNTAX:
		return "syntax";
	case NS_PROBLEM_HEADER:
		return "header";
	case NS_PROBLEM_FIELD_COUNT:
		return "field-count";
	case NS_PROBLEM_TYPE:
		return "type";
	case NS_PROBLEM_RANGE:
		return "range";
	case NS_PROBLEM_VALUE:
		return "value";
	case NS_PROBLEM_LABEL:
		return "label";
	case NS_PROBLEM_MISSING:
		return "missing";
	case NS_PROBLEM_EMPTY:
		return "empty";
	}
	return "unknown";
}

struct ns_validator_params ns_validator_params_default(void)
{
	struct ns_validator_params p;
	memset(&p, 0, sizeof(p));
	return p;
}

/* A column's set of allowed values (or the target's classes), ready for lookups. */
struct valset {
	size_t n;
	double *num; /* numeric: sorted */
	struct ns__strmap str; /* category */
};

struct vcol {
	size_t field; /* 1-based field number in the file, 0 when absent */
	uint64_t n_missing;
	struct valset allowed;
	/* Copied from the schema column, so that a cell's checks read one struct. */
	enum ns_col_type type;
	bool is_target;
	bool check_class; /* the target, with classes to check */
	bool has_min, has_max;
	double min, max;
	struct ns__int_check int_check; /* numeric columns */
};

struct ns_validator {
	const struct ns_schema *s;
	struct ns_validator_params p;
	ns_problem_fn fn;
	void *user;

	/* Missing markers, with a bitmap of their lengths for a quick "no". */
	uint64_t na_len_mask;
	/* First bytes of the markers; an empty marker is tracked by na_len_mask. */
	uint8_t na_first[256];
	/* Bytes that may start a short integer (digits, signs) and start no marker. */
	uint8_t int_first[256];
	size_t *na_lens;

	struct vcol *cols;
	size_t *col_map; /* cols[i].field, as the public array */
	struct valset classes;
	struct ns__strmap names; /* schema column names -> index */

	bool started; /* the header (or first record) has been seen */
	bool header_bad; /* header problems: no record is valid */
	bool fatal; /* no record can be read */
	bool finished;
	size_t n_expected; /* fields per record */

	char **extra_names;
	size_t *extra_fields;
	size_t n_extra;

	uint64_t n_records, n_valid, n_problems, n_reported, n_counted;
	char msg[NS_DIAG_MESSAGE_MAX];
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void valset_fini(struct valset *vs)
{
	ns_free(vs->num);
	ns__strmap_fini(&vs->str);
}

static enum ns_status valset_init(struct valset *vs, enum ns_col_type type, char *const *text,
				  const double *num, size_t n)
{
	memset(vs, 0, sizeof(*vs));
	ns__strmap_init(&vs->str);
	vs->n = n;
	if (n == 0)
		return NS_OK;
	if (type != NS_TYPE_CATEGORY) {
		vs->num = ns_calloc(n, sizeof(double));
		if (!vs->num)
			return NS_ERR_NOMEM;
		for (size_t i = 0; i < n; i++) {
			if (num) {
				vs->num[i] = num[i];
			} else if (!ns_parse_double(text[i], strlen(text[i]), &vs->num[i])) {
				return NS_ERR_INVALID;
			}
		}
		qsort(vs->num, n, sizeof(double), cmp_double);
		return NS_OK;
	}
	for (size_t i = 0; i < n; i++) {
		enum ns_status st = ns__strmap_add(&vs->str, text[i], strlen(text[i]), NULL, NULL);
		if (st != NS_OK)
			return st;
	}
	return NS_OK;
}

static bool valset_has_num(const struct valset *vs, double v)
{
	size_t lo = 0, hi = vs->n;
	if (vs->n <= 8) { /* small sets (the common {-1, 0, 1}): a scan beats the search */
		for (size_t i = 0; i < vs->n; i++)
			if (vs->num[i] == v)
				return true;
		return false;
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (vs->num[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < vs->n && vs->num[lo] == v;
}

/*
 * Folds what an integer-valued cell of column `ci` must satisfy into one
 * test (see ns__int_check in fastpath.h).  Only integers the short-integer
 * parse can give (|x| < 1e15) matter: other members of the value sets can
 * never equal one of them.  When those members fit in a 64-wide window, bit
 * x - lo says whether x is in every set and in range; a column with no sets
 * checks the range only; anything else asks the full checks.
 */
static void plan_int_check(struct ns_validator *v, struct vcol *vc)
{
	struct ns__int_check *c = &vc->int_check;
	const struct valset *a = NULL;
	double lo = 0, hi = 0;
	bool any = false;

	memset(c, 0, sizeof(*c));
	c->min = vc->has_min ? vc->min : -INFINITY;
	c->max = vc->has_max ? vc->max : INFINITY;
	if (!vc->allowed.n && !vc->check_class) {
		c->mode = NS__INT_RANGE;
		return;
	}
	a = vc->allowed.n ? &vc->allowed : &v->classes;
	if (vc->allowed.n && vc->check_class && v->classes.n < a->n)
		a = &v->classes;
	for (size_t k = 0; k < a->n; k++) {
		double x = a->num[k]; /* sorted */
		if (!(fabs(x) < 1e15) || !ns__is_integral(x))
			continue;
		if (!any)
			lo = x;
		hi = x;
		any = true;
	}
	c->mode = NS__INT_FULL;
	if (any && hi - lo >= 64)
		return;
	c->mode = NS__INT_BITS;
	c->lo = (int64_t)lo;
	for (size_t k = 0; any && k < a->n; k++) {
		double x = a->num[k];
		if (!(fabs(x) < 1e15) || !ns__is_integral(x))
			continue;
		if (vc->allowed.n && !valset_has_num(&vc->allowed, x))
			continue;
		if (vc->check_class && !valset_has_num(&v->classes, x))
			continue;
		if ((vc->has_min && x < vc->min) || (vc->has_max && x > vc->max))
			continue;
		c->bits |= UINT64_C(1) << (uint64_t)((int64_t)x - c->lo);
	}
}

void ns_validator_free(struct ns_validator *v)
{
	if (!v)
		return;
	if (v->cols) {
		for (size_t i = 0; i < v->s->n_columns; i++)
			valset_fini(&v->cols[i].allowed);
		ns_free(v->cols);
	}
	valset_fini(&v->classes);
	ns__strmap_fini(&v->names);
	ns_free(v->na_lens);
	ns_free(v->col_map);
	for (size_t i = 0; i < v->n_extra; i++)
		ns_free(v->extra_names[i]);
	ns_free(v->extra_names);
	ns_free(v->extra_fields);
	ns_free(v);
}

enum ns_status ns_validator_create(const struct ns_schema *s, const struct ns_validator_params *p,
				   ns_problem_fn fn, void *user, struct ns_validator **out)
{
	struct ns_validator *v;
	enum ns_status st = NS_ERR_NOMEM;

	if (!s || !out || s->n_columns == 0 || !s->columns)
		return NS_ERR_INVALID;
	v = ns_calloc(1, sizeof(*v));
	if (!v)
		return NS_ERR_NOMEM;
	v->s = s;
	v->p = p ? *p : ns_validator_params_default();
	v->fn = fn;
	v->user = user;
	ns__strmap_init(&v->names);
	ns__strmap_init(&v->classes.str);
	v->cols = ns_calloc(s->n_columns, sizeof(*v->cols));
	v->col_map = ns_calloc(s->n_columns, sizeof(size_t));
	v->na_lens = ns_calloc(s->n_na ? s->n_na : 1, sizeof(size_t));
	if (!v->cols || !v->col_map || !v->na_lens)
		goto fail;
	for (size_t i = 0; i < s->n_columns; i++)
		ns__strmap_init(&v->cols[i].allowed.str);
	for (size_t i = 0; i < s->n_na; i++) {
		v->na_lens[i] = strlen(s->na_values[i]);
		v->na_len_mask |=
			v->na_lens[i] < 63 ? UINT64_C(1) << v->na_lens[i] : UINT64_C(1) << 63;
		if (v->na_lens[i])
			v->na_first[(unsigned char)s->na_values[i][0]] = 1;
	}
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct ns_schema_column *c = &s->columns[i];
		size_t idx;
		bool added;
		st = valset_init(&v->cols[i].allowed, c->type, c->allowed, c->allowed_num,
				 c->n_allowed);
		if (st != NS_OK)
			goto fail;
		st = ns__strmap_add(&v->names, c->name, strlen(c->name), &idx, &added);
		if (st != NS_OK)
			goto fail;
		if (!added) {
			st = NS_ERR_INVALID; /* duplicate names: not a schema we loaded */
			goto fail;
		}
	}
	if (s->target >= 0 && s->n_classes) {
		st = valset_init(&v->classes, s->columns[s->target].type, s->classes, NULL,
				 s->n_classes);
		if (st != NS_OK)
			goto fail;
	}
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct ns_schema_column *c = &s->columns[i];
		struct vcol *vc = &v->cols[i];
		vc->type = c->type;
		vc->is_target = (long)i == s->target;
		vc->check_class = vc->is_target && v->classes.n;
		vc->has_min = c->has_min;
		vc->has_max = c->has_max;
		vc->min = c->min;
		vc->max = c->max;
		if (c->type != NS_TYPE_CATEGORY)
			plan_int_check(v, vc);
	}
	for (unsigned ch = 0; ch < 256; ch++)
		v->int_first[ch] =
			((ch >= '0' && ch <= '9') || ch == '-' || ch == '+') && !v->na_first[ch];
	*out = v;
	return NS_OK;
fail:
	ns_validator_free(v);
	return st;
}

/* ---- problems -------------------------------------------------------------------- */

/* Counts a problem; true when it is to be passed on (so worth formatting). */
static bool begin_problem(struct ns_validator *v)
{
	v->n_problems++;
	if (!v->fn || (v->p.max_problems && v->n_reported >= v->p.max_problems))
		return false;
	v->n_reported++;
	return true;
}

static void emit(struct ns_validator *v, enum ns_problem_kind kind, uint64_t line, uint64_t column,
		 const char *field, const char *fmt, ...) NS_PRINTF(6, 7);
static void emit(struct ns_validator *v, enum ns_problem_kind kind, uint64_t line, uint64_t column,
		 const char *field, const char *fmt, ...)
{
	struct ns_problem p;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	p.kind = kind;
	p.line = line;
	p.column = column;
	p.field = field;
	p.message = v->msg;
	v->fn(v->user, &p);
}

/* Writes a cell for a message: at most QUOTE_MAX bytes, controls as \xNN. */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 8 < size; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (i == QUOTE_MAX) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch < 0x20 || ch == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02X", ch);
		else
			buf[o++] = (char)ch;
	}
	buf[o] = '\0';
	return buf;
}

/* "a, b, c" or "a, b, ... (66 values)" for messages. */
static const char *summarize(char *buf, size_t size, char *const *list, size_t n)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char q[QUOTE_MAX * 4 + 8];
		int w;
		if (i == 8 && n > 10) {
			snprintf(buf + o, size - o, ", ... (%zu values)", n);
			break;
		}
		w = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
			     quote(q, sizeof(q), list[i], strlen(list[i])));
		if (w < 0 || (size_t)w >= size - o)
			break;
		o += (size_t)w;
	}
	return buf;
}

/* ---- header ------------------------------------------------------------------------ */

static enum ns_status add_extra(struct ns_validator *v, const char *name, size_t len, size_t field)
{
	char **names = ns_reallocarray(v->extra_names, v->n_extra + 1, sizeof(char *));
	size_t *fields;
	if (!names)
		return NS_ERR_NOMEM;
	v->extra_names = names;
	fields = ns_reallocarray(v->extra_fields, v->n_extra + 1, sizeof(size_t));
	if (!fields)
		return NS_ERR_NOMEM;
	v->extra_fields = fields;
	v->extra_names[v->n_extra] = ns_strndup(name, len);
	if (!v->extra_names[v->n_extra])
		return NS_ERR_NOMEM;
	v->extra_fields[v->n_extra] = field;
	v->n_extra++;
	return NS_OK;
}

static enum ns_status read_header(struct ns_validator *v, const struct ns_csv_record *rec)
{
	const struct ns_schema *s = v->s;
	struct ns__strmap seen;
	size_t *first_at = NULL;
	size_t n_found = 0;
	enum ns_status st = NS_OK;
	char q[QUOTE_MAX * 4 + 8];

	ns__strmap_init(&seen);
	for (size_t i = 0; i < rec->n_fields; i++)
		n_found += ns__strmap_find(&v->names, rec->fields[i], rec->lens[i]) >= 0;
	v->n_expected = rec->n_fields;
	if (n_found == 0) {
		/* Most likely data where a header was expected: one problem, not one per field. */
		v->fatal = true;
		if (begin_problem(v))
			emit(v, NS_PROBLEM_HEADER, rec->line, 0, NULL,
			     "no column of the schema is in the header: is the first line data? "
			     "(the schema says header: true)");
		st = NS_ERR_SCHEMA;
		goto out;
	}
	first_at = ns_calloc(rec->n_fields ? rec->n_fields : 1, sizeof(size_t));
	if (!first_at) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < rec->n_fields; i++) {
		const char *name = rec->fields[i];
		size_t len = rec->lens[i], idx;
		bool added;
		long ci;
		st = ns__strmap_add(&seen, name, len, &idx, &added);
		if (st != NS_OK)
			goto out;
		if (!added) {
			v->header_bad = true;
			if (begin_problem(v))
				emit(v, NS_PROBLEM_HEADER, rec->line, i + 1,
				     quote(q, sizeof(q), name, len),
				     "column '%s' appears twice in the header (also field %zu)",
				     quote(q, sizeof(q), name, len), first_at[idx]);
			continue;
		}
		first_at[idx] = i + 1;
		ci = ns__strmap_find(&v->names, name, len);
		if (ci >= 0) {
			v->cols[ci].field = i + 1;
		} else if (v->p.allow_extra) {
			st = add_extra(v, name, len, i + 1);
			if (st != NS_OK)
				goto out;
		} else {
			v->header_bad = true;
			if (begin_problem(v))
				emit(v, NS_PROBLEM_HEADER, rec->line, i + 1,
				     quote(q, sizeof(q), name, len),
				     "column '%s' is not in the schema",
				     quote(q, sizeof(q), name, len));
		}
	}
	for (size_t i = 0; i < s->n_columns; i++) {
		if (v->cols[i].field)
			continue;
		if ((long)i == s->target && v->p.target_optional)
			continue;
		v->header_bad = true;
		if (begin_problem(v))
			emit(v, NS_PROBLEM_HEADER, rec->line, 0, s->columns[i].name,
			     "column '%s' is missing from the header", s->columns[i].name);
	}
out:
	ns_free(first_at);
	ns__strmap_fini(&seen);
	return st;
}

/* Header-less files: columns by position; the target may be left out when optional. */
static void map_positions(struct ns_validator *v, const struct ns_csv_record *rec)
{
	const struct ns_schema *s = v->s;
	bool skip_target =
		v->p.target_optional && s->target >= 0 && rec->n_fields + 1 == s->n_columns;
	size_t f = 0;
	for (size_t i = 0; i < s->n_columns; i++) {
		if (skip_target && (long)i == s->target)
			continue;
		v->cols[i].field = ++f;
	}
	v->n_expected = f;
}

/* ---- data records ------------------------------------------------------------------ */

static bool is_na(const struct ns_validator *v, const char *s, size_t len)
{
	uint64_t bit = len < 63 ? UINT64_C(1) << len : UINT64_C(1) << 63;
	if (!(v->na_len_mask & bit))
		return false;
	/* Most cells are numbers whose first byte starts no marker: skip the compares. */
	if (len && !v->na_first[(unsigned char)s[0]])
		return false;
	for (size_t i = 0; i < v->s->n_na; i++) {
		if (v->na_lens[i] == len && memcmp(v->s->na_values[i], s, len) == 0)
			return true;
	}
	return false;
}

/* What a cell is, in the order the checks run; the first failing check names the problem. */
enum judgement {
	J_OK = 0,
	J_MISSING,
	J_NOT_NUMBER,
	J_NOT_INT,
	J_RANGE,
	J_NOT_ALLOWED,
	J_NOT_CLASS,
};

/* The checks of a number `d` (not NaN) in numeric column `vc`. */
static enum judgement judge_number(const struct ns_validator *v, const struct vcol *vc, double d)
{
	if (vc->type == NS_TYPE_INT && !ns__is_integral(d))
		return J_NOT_INT;
	if ((vc->has_min && d < vc->min) || (vc->has_max && d > vc->max))
		return J_RANGE;
	if (vc->allowed.n && !valset_has_num(&vc->allowed, d))
		return J_NOT_ALLOWED;
	if (vc->check_class && !valset_has_num(&v->classes, d))
		return J_NOT_CLASS;
	return J_OK;
}

/* Every cell that is not a short integer: markers, categories, general numbers. */
static enum judgement judge_general(const struct ns_validator *v, const struct vcol *vc,
				    const char *text, size_t len, double *num)
{
	if (is_na(v, text, len))
		return J_MISSING;
	if (vc->type == NS_TYPE_CATEGORY) {
		if (vc->allowed.n && ns__strmap_find(&vc->allowed.str, text, len) < 0)
			return J_NOT_ALLOWED;
		if (vc->check_class && ns__strmap_find(&v->classes.str, text, len) < 0)
			return J_NOT_CLASS;
		return J_OK;
	}
	if (!ns_parse_double(text, len, num))
		return J_NOT_NUMBER;
	if (isnan(*num))
		return J_MISSING;
	return judge_number(v, vc, *num);
}

/*
 * The short-integer route: a cell of a numeric column that is a sign and at
 * most 15 digits, whose first byte starts no NA marker, is not a marker,
 * parses exactly (ns__small_int), is integral, and usually passes or fails
 * on the precomputed int_check alone.  False when the cell is not such a
 * text (the general route decides then); else *j is the judgement and *num
 * the value.
 */
static inline bool judge_small_int(const struct ns_validator *v, const struct vcol *vc,
				   const char *text, size_t len, double *num, enum judgement *j)
{
	uint64_t neg, mag;
	if (vc->type == NS_TYPE_CATEGORY || !len || !v->int_first[(unsigned char)text[0]] ||
	    !ns__small_int(text, len, &neg, &mag))
		return false;
	*num = ns__signed_double(mag, neg);
	if (ns__int_check_pass(&vc->int_check, ns__signed_int(mag, neg), *num))
		*j = J_OK;
	else
		*j = judge_number(v, vc, *num);
	return true;
}

/*
 * Decides what cell `text` of column `vc` is; *num gets the value of a cell
 * that parsed as a number (NaN otherwise).
 */
static enum judgement judge(const struct ns_validator *v, const struct vcol *vc, const char *text,
			    size_t len, double *num)
{
	enum judgement j;
	*num = NAN;
	if (judge_small_int(v, vc, text, len, num, &j))
		return j;
	return judge_general(v, vc, text, len, num);
}

/*
 * The rare outcomes of check_cell: a missing value (counted; a problem for a
 * required label) or a problem, with its message.  Out of line so that the
 * per-cell code stays small.
 */
static COLD bool cell_trouble(struct ns_validator *v, size_t ci, const struct ns_csv_record *rec,
			      enum judgement j, double d)
{
	const struct ns_schema *s = v->s;
	const struct ns_schema_column *c = &s->columns[ci];
	struct vcol *vc = &v->cols[ci];
	const char *text = rec->fields[vc->field - 1];
	size_t len = rec->lens[vc->field - 1];
	uint64_t line = rec->line, col = vc->field;
	char q[QUOTE_MAX * 4 + 8], a[40], b[1024];
	bool cat = c->type == NS_TYPE_CATEGORY;

	switch (j) {
	case J_OK:
		return true;
	case J_MISSING:
		vc->n_missing++;
		if (vc->is_target && !v->p.target_optional) {
			if (begin_problem(v))
				emit(v, NS_PROBLEM_LABEL, line, col, c->name,
				     "the label is missing ('%s')", quote(q, sizeof(q), text, len));
			return false;
		}
		return true;
	case J_NOT_NUMBER:
		if (begin_problem(v))
			emit(v, NS_PROBLEM_TYPE, line, col, c->name, "expected a number, got '%s'",
			     quote(q, sizeof(q), text, len));
		return false;
	case J_NOT_INT:
		if (begin_problem(v))
			emit(v, NS_PROBLEM_TYPE, line, col, c->name, "%s is not an integer",
			     quote(q, sizeof(q), text, len));
		return false;
	case J_RANGE:
		if (begin_problem(v)) {
			bool below = c->has_min && d < c->min;
			ns__number_text(below ? c->min : c->max, a, sizeof(a));
			emit(v, NS_PROBLEM_RANGE, line, col, c->name, "%s is %s the %s %s",
			     quote(q, sizeof(q), text, len), below ? "below" : "above",
			     below ? "minimum" : "maximum", a);
		}
		return false;
	case J_NOT_ALLOWED:
		if (begin_problem(v))
			emit(v, NS_PROBLEM_VALUE, line, col, c->name,
			     cat ? "'%s' is not an allowed value (allowed: %s)"
				 : "%s is not an allowed value (allowed: %s)",
			     quote(q, sizeof(q), text, len),
			     summarize(b, sizeof(b), c->allowed, c->n_allowed));
		return false;
	case J_NOT_CLASS:
		if (begin_problem(v))
			emit(v, NS_PROBLEM_LABEL, line, col, c->name,
			     cat ? "'%s' is not a class (classes: %s)"
				 : "%s is not a class (classes: %s)",
			     quote(q, sizeof(q), text, len),
			     summarize(b, sizeof(b), s->classes, s->n_classes));
		return false;
	}
	return false;
}

/* Validates one cell of column `ci` into *out; problems go to the callback. */
static inline bool check_cell(struct ns_validator *v, size_t ci, const struct ns_csv_record *rec,
			      struct ns_value *out)
{
	const struct vcol *vc = &v->cols[ci];
	const char *text = rec->fields[vc->field - 1];
	size_t len = rec->lens[vc->field - 1];
	double d = NAN;
	enum judgement j;

	if (!judge_small_int(v, vc, text, len, &d, &j))
		j = judge_general(v, vc, text, len, &d);
	out->num = d;
	out->str = NULL;
	out->len = 0;
	out->missing = j == J_MISSING;
	if (j == J_OK) {
		if (vc->type == NS_TYPE_CATEGORY) {
			out->str = text;
			out->len = len;
		}
		return true;
	}
	out->num = NAN;
	return cell_trouble(v, ci, rec, j, d);
}

enum ns_status ns_validator_record(struct ns_validator *v, const struct ns_csv_record *rec,
				   struct ns_value *values, bool *ok)
{
	const struct ns_schema *s;
	bool good;
	if (ok)
		*ok = false;
	if (!v || !rec)
		return NS_ERR_INVALID;
	s = v->s;
	if (v->fatal)
		return NS_ERR_SCHEMA;
	if (!v->started) {
		enum ns_status st = NS_OK;
		v->started = true;
		if (s->header)
			st = read_header(v, rec);
		else
			map_positions(v, rec);
		for (size_t i = 0; i < s->n_columns; i++)
			v->col_map[i] = v->cols[i].field;
		if (s->header)
			return st;
	}
	v->n_records++;
	if (rec->n_fields != v->n_expected) {
		if (begin_problem(v)) {
			bool few = rec->n_fields < v->n_expected;
			size_t at = few ? rec->n_fields + 1 : v->n_expected + 1;
			const char *field = NULL;
			for (size_t i = 0; few && i < s->n_columns; i++) {
				if (v->cols[i].field == at)
					field = s->columns[i].name;
			}
			emit(v, NS_PROBLEM_FIELD_COUNT, rec->line, at, field,
			     "expected %zu fields, got %zu", v->n_expected, rec->n_fields);
		}
		return NS_OK;
	}
	v->n_counted++;
	good = !v->header_bad;
	for (size_t i = 0; i < s->n_columns; i++) {
		struct ns_value scratch, *out = values ? &values[i] : &scratch;
		if (v->cols[i].field == 0) {
			out->num = NAN;
			out->str = NULL;
			out->len = 0;
			out->missing = true;
			continue;
		}
		good &= check_cell(v, i, rec, out);
	}
	if (good)
		v->n_valid++;
	if (ok)
		*ok = good;
	return NS_OK;
}

enum ns_status ns_validator_finish(struct ns_validator *v)
{
	const struct ns_schema *s;
	if (!v)
		return NS_ERR_INVALID;
	if (v->finished || v->fatal)
		return NS_OK;
	v->finished = true;
	s = v->s;
	if (v->n_records == 0) {
		if (begin_problem(v))
			emit(v, NS_PROBLEM_EMPTY, 0, 0, NULL, "no data records");
		return NS_OK;
	}
	if (v->n_counted == 0)
		return NS_OK;
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct vcol *vc = &v->cols[i];
		double share = (double)vc->n_missing / (double)v->n_counted;
		/* The target has its own rule: a missing label is a label problem. */
		if (vc->field == 0 || (long)i == s->target || share <= s->columns[i].max_missing)
			continue;
		if (begin_problem(v))
			emit(v, NS_PROBLEM_MISSING, 0, vc->field, s->columns[i].name,
			     "%.1f%% of the values are missing (%llu of %llu); at most %g%% are "
			     "allowed",
			     100.0 * share, (unsigned long long)vc->n_missing,
			     (unsigned long long)v->n_counted, 100.0 * s->columns[i].max_missing);
	}
	return NS_OK;
}

uint64_t ns_validator_n_records(const struct ns_validator *v)
{
	return v ? v->n_records : 0;
}

uint64_t ns_validator_n_valid(const struct ns_validator *v)
{
	return v ? v->n_valid : 0;
}

uint64_t ns_validator_n_problems(const struct ns_validator *v)
{
	return v ? v->n_problems : 0;
}

const size_t *ns_validator_column_map(const struct ns_validator *v)
{
	return v ? v->col_map : NULL;
}

size_t ns_validator_n_extra(const struct ns_validator *v)
{
	return v ? v->n_extra : 0;
}

const char *ns_validator_extra_name(const struct ns_validator *v, size_t i)
{
	return v && i < v->n_extra ? v->extra_names[i] : NULL;
}

size_t ns_validator_extra_field(const struct ns_validator *v, size_t i)
{
	return v && i < v->n_extra ? v->extra_fields[i] : 0;
}

/* ---- the fast path's view (fastpath.h) ------------------------------------------------ */

size_t ns__validator_fast_fields(const struct ns_validator *v, struct ns__fast_field *fields)
{
	const struct ns_schema *s = v->s;
	if (!v->started || v->fatal || v->header_bad || v->n_expected == 0)
		return 0;
	if (!fields)
		return v->n_expected;
	/* Fields no schema column claims are extras (allow_extra): skipped. */
	memset(fields, 0, v->n_expected * sizeof(*fields));
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct vcol *vc = &v->cols[i];
		struct ns__fast_field *ff;
		if (vc->field == 0)
			continue;
		ff = &fields[vc->field - 1];
		ff->kind = vc->type == NS_TYPE_CATEGORY ? NS__FIELD_CAT : NS__FIELD_NUM;
		ff->missing_ok = !vc->is_target || v->p.target_optional;
		ff->col = i;
		ff->chk = vc->int_check;
	}
	return v->n_expected;
}

const uint8_t *ns__validator_int_first(const struct ns_validator *v)
{
	return v->int_first;
}

static enum ns__verdict verdict_of(enum judgement j)
{
	return j == J_OK ? NS__CELL_OK : j == J_MISSING ? NS__CELL_MISSING : NS__CELL_BAD;
}

enum ns__verdict ns__validator_cell(const struct ns_validator *v, size_t col, const char *text,
				    size_t len, double *num)
{
	return verdict_of(judge(v, &v->cols[col], text, len, num));
}

enum ns__verdict ns__validator_number(const struct ns_validator *v, size_t col, double d)
{
	return verdict_of(judge_number(v, &v->cols[col], d));
}

void ns__validator_add_valid(struct ns_validator *v, uint64_t n, uint64_t *n_missing)
{
	v->n_records += n;
	v->n_counted += n;
	v->n_valid += n;
	for (size_t i = 0; i < v->s->n_columns; i++) {
		v->cols[i].n_missing += n_missing[i];
		n_missing[i] = 0;
	}
}

/* ---- whole files --------------------------------------------------------------------- */

struct vfile {
	struct ns_validator *v;
	struct ns_value *values;
	enum ns_status stopped; /* the validator's own error, if it stopped the read */
};

static enum ns_status vfile_record(void *user, const struct ns_csv_record *rec,
				   struct ns_diag *diag)
{
	struct vfile *ctx = user;
	bool ok;
	enum ns_status st = ns_validator_record(ctx->v, rec, ctx->values, &ok);
	if (st != NS_OK) {
		ctx->stopped = st;
		return ns_diag_set(diag, st,
				   st == NS_ERR_SCHEMA ? "the header does not match" : NULL);
	}
	return NS_OK;
}

static struct ns_csv_params csv_params_for(const struct ns_schema *s, const char *path)
{
	struct ns_csv_params cp = ns_csv_params_default();
	cp.delimiter = s->delimiter;
	cp.source_name = path;
	return cp;
}

enum ns_status ns_validate_file(const char *path, const struct ns_schema *s,
				const struct ns_validator_params *p, ns_problem_fn fn, void *user,
				struct ns_validate_summary *summary, struct ns_diag *diag)
{
	struct vfile ctx;
	struct ns_csv_params cp;
	struct ns_diag rd;
	enum ns_status st;

	if (!path || !s)
		return ns_diag_set(diag, NS_ERR_INVALID, "no file or no schema");
	memset(&ctx, 0, sizeof(ctx));
	st = ns_validator_create(s, p, fn, user, &ctx.v);
	if (st != NS_OK)
		return ns_diag_set(diag, st, st == NS_ERR_NOMEM ? "out of memory" : "bad schema");
	ctx.values = ns_calloc(s->n_columns, sizeof(struct ns_value));
	if (!ctx.values) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	cp = csv_params_for(s, path);
	ns_diag_clear(&rd);
	st = ns_csv_read_file(path, &cp, vfile_record, &ctx, &rd);
	if (st == NS_OK) {
		ns_validator_finish(ctx.v);
	} else if (ctx.stopped == NS_ERR_SCHEMA) {
		/* A header with none of the columns: already reported. */
	} else if (ctx.stopped == NS_OK && (st == NS_ERR_PARSE || st == NS_ERR_LIMIT)) {
		/* CSV syntax or a cap: a problem like any other, and the end of the file. */
		struct ns_validator *v = ctx.v;
		if (begin_problem(v))
			emit(v, NS_PROBLEM_SYNTAX, rd.line, rd.column,
			     rd.field[0] ? rd.field : NULL, "%s",
			     rd.message[0] ? rd.message : ns_status_str(st));
	} else {
		if (diag)
			*diag = rd;
		goto out;
	}
	if (summary) {
		summary->n_records = ctx.v->n_records;
		summary->n_valid = ctx.v->n_valid;
		summary->n_problems = ctx.v->n_problems;
	}
	if (ctx.v->n_problems) {
		ns_diag_where(diag, path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_SCHEMA, "%llu problems in %llu records",
				 (unsigned long long)ctx.v->n_problems,
				 (unsigned long long)ctx.v->n_records);
	} else {
		st = NS_OK;
	}
out:
	ns_free(ctx.values);
	ns_validator_free(ctx.v);
	return st;
}

/* ---- CSV to frame -------------------------------------------------------------------- */

struct fread {
	const struct ns_schema *s;
	struct ns_frame *f;
	struct ns_validator *v;
	struct ns_value *values;
	const char *path;
	struct ns_diag first; /* the first problem */
	bool have_problem;
	/* schema-less reading */
	size_t n_cols;
	bool started;
	struct ns_na_set na;
};

static void fread_problem(void *user, const struct ns_problem *p)
{
	struct fread *ctx = user;
	if (ctx->have_problem)
		return;
	ctx->have_problem = true;
	ns_diag_clear(&ctx->first);
	ns_diag_where(&ctx->first, ctx->path, p->line, p->column, p->field);
	ns_diag_set(&ctx->first, NS_ERR_SCHEMA, "%s", p->message);
}

static enum ns_status fread_record(void *user, const struct ns_csv_record *rec,
				   struct ns_diag *diag)
{
	struct fread *ctx = user;
	const struct ns_schema *s = ctx->s;
	size_t row;
	bool ok;
	enum ns_status st = ns_validator_record(ctx->v, rec, ctx->values, &ok);
	if (st == NS_OK && ctx->have_problem)
		st = NS_ERR_SCHEMA;
	if (st != NS_OK) {
		if (st == NS_ERR_SCHEMA && diag)
			*diag = ctx->first;
		return st;
	}
	if (!ok)
		return NS_OK; /* the header */
	st = ns_frame_add_rows(ctx->f, 1, &row);
	if (st != NS_OK)
		return ns_diag_set(diag, st, "out of memory");
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct ns_value *val = &ctx->values[i];
		if (val->missing)
			continue;
		if (s->columns[i].type == NS_TYPE_CATEGORY) {
			st = ns_frame_set_category(ctx->f, row, i, val->str, val->len);
			if (st != NS_OK) {
				ns_diag_where(diag, ctx->path, rec->line, ctx->v->cols[i].field,
					      s->columns[i].name);
				return ns_diag_set(diag, st, "cannot store the value");
			}
		} else {
			ns_frame_set_number(ctx->f, row, i, val->num);
		}
	}
	return NS_OK;
}

static enum ns_status fail_rec(struct fread *ctx, struct ns_diag *diag, enum ns_status st,
			       uint64_t line, uint64_t col, const char *field, const char *fmt, ...)
	NS_PRINTF(7, 8);
static enum ns_status fail_rec(struct fread *ctx, struct ns_diag *diag, enum ns_status st,
			       uint64_t line, uint64_t col, const char *field, const char *fmt, ...)
{
	va_list ap;
	ns_diag_where(diag, ctx->path, line, col, field);
	va_start(ap, fmt);
	ns_diag_vset(diag, st, fmt, ap);
	va_end(ap);
	return st;
}

/* Without a schema: the header names the columns, and a column is numeric until a
 * value that is neither missing nor a number turns it into a category. */
static enum ns_status fread_plain_record(void *user, const struct ns_csv_record *rec,
					 struct ns_diag *diag)
{
	struct fread *ctx = user;
	size_t row;
	enum ns_status st;
	char q[QUOTE_MAX * 4 + 8];

	if (!ctx->started) {
		ctx->started = true;
		for (size_t i = 0; i < rec->n_fields; i++) {
			struct ns_diag d;
			ns_diag_clear(&d);
			if (memchr(rec->fields[i], '\0', rec->lens[i]))
				return fail_rec(ctx, diag, NS_ERR_SCHEMA, rec->line, i + 1, NULL,
						"a column name contains a NUL byte");
			st = ns_frame_add_column(ctx->f, rec->fields[i], NS_COL_NUMERIC, &d);
			if (st == NS_ERR_EXISTS)
				return fail_rec(ctx, diag, NS_ERR_SCHEMA, rec->line, i + 1,
						rec->fields[i],
						"column '%s' appears twice in the header",
						quote(q, sizeof(q), rec->fields[i], rec->lens[i]));
			if (st != NS_OK)
				return fail_rec(ctx, diag, st, rec->line, i + 1, rec->fields[i],
						"%s", d.message[0] ? d.message : ns_status_str(st));
		}
		ctx->n_cols = rec->n_fields;
		return NS_OK;
	}
	if (rec->n_fields != ctx->n_cols)
		return fail_rec(ctx, diag, NS_ERR_SCHEMA, rec->line,
				(rec->n_fields < ctx->n_cols ? rec->n_fields : ctx->n_cols) + 1,
				NULL, "expected %zu fields, got %zu", ctx->n_cols, rec->n_fields);
	st = ns_frame_add_rows(ctx->f, 1, &row);
	if (st != NS_OK)
		return ns_diag_set(diag, st, "out of memory");
	for (size_t i = 0; i < rec->n_fields; i++) {
		const char *text = rec->fields[i];
		size_t len = rec->lens[i];
		double d;
		if (ns_na_set_has(&ctx->na, text, len))
			continue;
		if (ns_frame_col_kind(ctx->f, i) == NS_COL_NUMERIC) {
			if (ns_parse_double(text, len, &d)) {
				ns_frame_set_number(ctx->f, row, i, d);
				continue;
			}
			st = ns_frame_numeric_to_category(ctx->f, i);
			if (st != NS_OK)
				return fail_rec(ctx, diag, st, rec->line, i + 1,
						ns_frame_col_name(ctx->f, i), "%s",
						ns_status_str(st));
		}
		st = ns_frame_set_category(ctx->f, row, i, text, len);
		if (st != NS_OK)
			return fail_rec(ctx, diag, st, rec->line, i + 1,
					ns_frame_col_name(ctx->f, i), "%s", ns_status_str(st));
	}
	return NS_OK;
}

enum ns_status ns__frame_read_csv_opts(const char *path, const struct ns_schema *schema,
				       const struct ns_validator_params *p,
				       const struct ns__fast_opts *o, struct ns_frame **out,
				       struct ns_diag *diag)
{
	struct fread ctx;
	struct ns_csv_params cp = ns_csv_params_default();
	struct ns_validator_params vp = p ? *p : ns_validator_params_default();
	enum ns_status st;

	if (!path || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no file");
	memset(&ctx, 0, sizeof(ctx));
	ctx.s = schema;
	ctx.path = path;
	ctx.na = ns_na_set_default();
	cp.source_name = path;
	st = ns_frame_create(&ctx.f);
	if (st != NS_OK)
		return ns_diag_set(diag, st, "out of memory");
	if (!schema) {
		st = ns_csv_read_file(path, &cp, fread_plain_record, &ctx, diag);
		if (st == NS_OK && ns_frame_n_rows(ctx.f) == 0) {
			ns_diag_where(diag, path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_SCHEMA,
					 ctx.started ? "no data records" : "the file is empty");
		}
		goto out;
	}
	vp.max_problems = 0;
	st = ns_validator_create(schema, &vp, fread_problem, &ctx, &ctx.v);
	if (st != NS_OK) {
		ns_diag_set(diag, st, st == NS_ERR_NOMEM ? "out of memory" : "bad schema");
		goto out;
	}
	ctx.values = ns_calloc(schema->n_columns, sizeof(struct ns_value));
	if (!ctx.values) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < schema->n_columns; i++) {
		const struct ns_schema_column *c = &schema->columns[i];
		st = ns_frame_add_column(
			ctx.f, c->name,
			c->type == NS_TYPE_CATEGORY ? NS_COL_CATEGORY : NS_COL_NUMERIC, diag);
		if (st != NS_OK)
			goto out;
	}
	cp = csv_params_for(schema, path);
	if (!o || !o->generic)
		st = ns__fast_read_file(path, &cp, ctx.v, ctx.f, fread_record, &ctx, o, diag);
	else
		st = ns_csv_read_file(path, &cp, fread_record, &ctx, diag);
	if (st != NS_OK)
		goto out;
	ns_validator_finish(ctx.v);
	if (ctx.have_problem) {
		if (diag)
			*diag = ctx.first;
		st = NS_ERR_SCHEMA;
	}
out:
	if (st == NS_OK) {
		/* Give back the growth slack; a frame that keeps it is still correct. */
		(void)ns_frame_shrink(ctx.f);
		*out = ctx.f;
		ctx.f = NULL;
	}
	ns_frame_free(ctx.f);
	ns_free(ctx.values);
	ns_validator_free(ctx.v);
	return st;
}

enum ns_status ns_frame_read_csv_ex(const char *path, const struct ns_schema *schema,
				    const struct ns_validator_params *p, struct ns_frame **out,
				    struct ns_diag *diag)
{
	return ns__frame_read_csv_opts(path, schema, p, NULL, out, diag);
}

enum ns_status ns_frame_read_csv(const char *path, const struct ns_schema *schema,
				 struct ns_frame **out, struct ns_diag *diag)
{
	return ns_frame_read_csv_ex(path, schema, NULL, out, diag);
}
