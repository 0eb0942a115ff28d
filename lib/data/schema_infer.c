/*
 * lib/data/schema_infer.c - writes a schema from a CSV file's contents.
 *
 * The first MiB of the file (more when the first record is longer) is read
 * into memory to guess the delimiter and whether the first record is a
 * header; the same bytes then start the full pass, so the file (or a pipe)
 * is read from the start only once.  The
 * full pass keeps per-column counters, at most max_levels + 1 distinct
 * integers per column, and the distinct strings of columns that hold text
 * (at most max_category_levels each).  A column whose first text value comes
 * after numbers needs the numbers' spellings as category levels too: those
 * columns alone are read again in a second pass, which needs a real file.
 *
 * Rules (docs/schema.md, "Inference"): types int / float / category; values
 * listed for int columns with at most max_levels distinct values and for
 * every category; `min: 0` for other numeric columns whose values are all
 * >= 0; the target's classes sorted; the threat never guessed.
 *
 * Threading: no shared state.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "data/schema_internal.h"
#include "data/strmap.h"

#define HEAD_BYTES ((size_t)1 << 20)
#define MAX_HEAD_BYTES ((size_t)32 << 20) /* twice the reader's default record cap */
#define CHUNK_BYTES ((size_t)1 << 20)
#define SNIFF_RECORDS 1000

struct ns_infer_params ns_infer_params_default(void)
{
	struct ns_infer_params p;
	memset(&p, 0, sizeof(p));
	p.header = NS_HEADER_AUTO;
	p.max_levels = 16;
	p.max_category_levels = 10000;
	return p;
}

/* ---- reading --------------------------------------------------------------------- */

/* The file's first bytes (up to HEAD_BYTES) and whether that was all of it. */
struct head {
	char *data;
	size_t len;
	bool eof;
};

/* Reads on until the head holds `size` bytes or the file ends. */
static enum ns_status read_head(FILE *fp, const char *path, struct head *h, size_t size,
				struct ns_diag *diag)
{
	char *data = ns_realloc(h->data, size);
	if (!data)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	h->data = data;
	while (h->len < size) {
		size_t n = fread(h->data + h->len, 1, size - h->len, fp);
		h->len += n;
		if (n == 0) {
			if (ferror(fp)) {
				ns_diag_where(diag, path, 0, 0, NULL);
				return ns_diag_set(diag, NS_ERR_IO, "cannot read the file");
			}
			h->eof = true;
			break;
		}
	}
	return NS_OK;
}

/* Feeds the head, then the rest of `fp` (if any), through a new reader. */
static enum ns_status read_all(FILE *fp, const char *path, const struct head *h,
			       const struct ns_csv_params *cp, ns_csv_record_fn fn, void *user,
			       struct ns_diag *diag)
{
	struct ns_csv_reader *r = NULL;
	char *chunk = NULL;
	enum ns_status st = ns_csv_reader_create(cp, fn, user, &r, diag);
	if (st != NS_OK)
		return st;
	st = ns_csv_reader_feed(r, h->data, h->len, diag);
	if (st == NS_OK && !h->eof) {
		chunk = ns_malloc(CHUNK_BYTES);
		if (!chunk)
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		while (st == NS_OK) {
			size_t n = fread(chunk, 1, CHUNK_BYTES, fp);
			if (n == 0) {
				if (ferror(fp)) {
					ns_diag_where(diag, path, 0, 0, NULL);
					st = ns_diag_set(diag, NS_ERR_IO, "cannot read the file");
				}
				break;
			}
			st = ns_csv_reader_feed(r, chunk, n, diag);
		}
	}
	if (st == NS_OK)
		st = ns_csv_reader_finish(r, diag);
	ns_free(chunk);
	ns_csv_reader_free(r);
	return st;
}

/* ---- sniffing: delimiter and header ---------------------------------------------- */

struct sniff {
	size_t n_records;
	size_t n_fields; /* of the first record */
	bool ragged;
	/* Kept when keep is set: the records' fields, for header detection. */
	bool keep;
	char ***rows;
	size_t *row_len;
};

static void sniff_fini(struct sniff *sn)
{
	for (size_t i = 0; sn->rows && i < SNIFF_RECORDS; i++) {
		for (size_t j = 0; sn->rows[i] && j < sn->row_len[i]; j++)
			ns_free(sn->rows[i][j]);
		ns_free(sn->rows[i]);
	}
	ns_free(sn->rows);
	ns_free(sn->row_len);
	memset(sn, 0, sizeof(*sn));
}

static enum ns_status sniff_record(void *user, const struct ns_csv_record *rec,
				   struct ns_diag *diag)
{
	struct sniff *sn = user;
	(void)diag;
	if (sn->n_records == 0)
		sn->n_fields = rec->n_fields;
	else if (rec->n_fields != sn->n_fields)
		sn->ragged = true;
	if (sn->keep) {
		size_t i = sn->n_records;
		sn->rows[i] = ns_calloc(rec->n_fields ? rec->n_fields : 1, sizeof(char *));
		if (!sn->rows[i])
			return NS_ERR_NOMEM;
		sn->row_len[i] = rec->n_fields;
		for (size_t j = 0; j < rec->n_fields; j++) {
			sn->rows[i][j] = ns_strndup(rec->fields[j], rec->lens[j]);
			if (!sn->rows[i][j])
				return NS_ERR_NOMEM;
		}
	}
	sn->n_records++;
	return sn->n_records >= SNIFF_RECORDS ? NS_ERR_ABORTED : NS_OK;
}

/* Parses the head with `delim`; errors past the first record only end the sample. */
static enum ns_status sniff_head(const struct head *h, char delim, struct sniff *sn)
{
	struct ns_csv_params cp = ns_csv_params_default();
	struct ns_csv_reader *r = NULL;
	enum ns_status st;
	cp.delimiter = delim;
	if (sn->keep) {
		sn->rows = ns_calloc(SNIFF_RECORDS, sizeof(char **));
		sn->row_len = ns_calloc(SNIFF_RECORDS, sizeof(size_t));
		if (!sn->rows || !sn->row_len)
			return NS_ERR_NOMEM;
	}
	st = ns_csv_reader_create(&cp, sniff_record, sn, &r, NULL);
	if (st != NS_OK)
		return st;
	st = ns_csv_reader_feed(r, h->data, h->len, NULL);
	if (st == NS_OK && h->eof)
		st = ns_csv_reader_finish(r, NULL);
	ns_csv_reader_free(r);
	return st == NS_ERR_NOMEM ? st : NS_OK;
}

/*
 * The delimiter that gives the same number (> 1) of fields in every sampled
 * record, the most fields winning, ties in the order , ; tab |.  None: ','.
 */
static enum ns_status guess_delimiter(const struct head *h, char *out)
{
	static const char cands[] = {',', ';', '\t', '|'};
	size_t best_fields = 1;
	*out = ',';
	for (size_t i = 0; i < sizeof(cands); i++) {
		struct sniff sn;
		enum ns_status st;
		memset(&sn, 0, sizeof(sn));
		st = sniff_head(h, cands[i], &sn);
		if (st == NS_OK && sn.n_records > 0 && !sn.ragged && sn.n_fields > best_fields) {
			best_fields = sn.n_fields;
			*out = cands[i];
		}
		sniff_fini(&sn);
		if (st != NS_OK)
			return st;
	}
	return NS_OK;
}

/* A number with a digit: words such as "inf" or "nan" could be column names. */
static bool is_numeric(const char *s, size_t len)
{
	double d;
	return ns_parse_double(s, len, &d) && strpbrk(s, "0123456789") != NULL;
}

/*
 * Header detection (NS_HEADER_AUTO), on the sampled records: the first record
 * is a header when all its fields are distinct, not missing markers and not
 * numbers (a number has a digit: a column may be called "inf"), and then either some column holds a number further down, or (a
 * file of text only) in at least half of the columns the first value does not
 * occur again below.  A file of one record is a header when that record
 * passes the first test.
 */
static bool detect_header(const struct sniff *sn, const struct ns_na_set *na)
{
	struct ns__strmap seen;
	size_t n = sn->row_len[0], n_new = 0;
	bool candidate = true;
	if (sn->n_records == 0)
		return false;
	ns__strmap_init(&seen);
	for (size_t j = 0; j < n && candidate; j++) {
		const char *f = sn->rows[0][j];
		bool added = false;
		if (ns_na_set_has(na, f, strlen(f)) || is_numeric(f, strlen(f)) ||
		    ns__strmap_add(&seen, f, strlen(f), NULL, &added) != NS_OK || !added)
			candidate = false;
	}
	ns__strmap_fini(&seen);
	if (!candidate)
		return false;
	if (sn->n_records == 1)
		return true;
	for (size_t i = 1; i < sn->n_records; i++) {
		for (size_t j = 0; j < n && j < sn->row_len[i]; j++) {
			const char *f = sn->rows[i][j];
			if (!ns_na_set_has(na, f, strlen(f)) && is_numeric(f, strlen(f)))
				return true;
		}
	}
	for (size_t j = 0; j < n; j++) {
		bool again = false;
		for (size_t i = 1; i < sn->n_records && !again; i++)
			again = j < sn->row_len[i] && strcmp(sn->rows[i][j], sn->rows[0][j]) == 0;
		n_new += !again;
	}
	return 2 * n_new >= n;
}

/* ---- the full pass ------------------------------------------------------------------- */

struct icol {
	uint64_t n_missing, n_numeric, n_text;
	bool fractional; /* a non-integral number was seen */
	bool negative; /* a number < 0 was seen */
	bool levels_overflow;
	size_t n_levels;
	double *levels; /* distinct integers, up to max_levels + 1 */
	struct ns__strmap text; /* distinct spellings, once the column holds text */
	bool need_pass2; /* numbers came before the first text */
	uint64_t first_text_line;
};

struct infer {
	const struct ns_infer_params *p;
	const char *path;
	struct ns_na_set na;
	bool header;
	size_t n_cols;
	char **names;
	long target; /* known before the pass when named; -1 otherwise */
	struct icol *cols;
	struct ns__strmap target_text; /* distinct target spellings */
	uint64_t n_records;
	int pass;
	size_t max_cat;
};

static enum ns_status fail_at(struct infer *in, struct ns_diag *diag, enum ns_status st,
			      uint64_t line, uint64_t col, const char *fmt, ...) NS_PRINTF(6, 7);
static enum ns_status fail_at(struct infer *in, struct ns_diag *diag, enum ns_status st,
			      uint64_t line, uint64_t col, const char *fmt, ...)
{
	va_list ap;
	if (!diag)
		return st;
	diag->line = 0;
	diag->column = 0;
	diag->field[0] = '\0';
	ns_diag_where(diag, in->path, line, col,
		      col && col <= in->n_cols && in->names ? in->names[col - 1] : NULL);
	va_start(ap, fmt);
	ns_diag_vset(diag, st, fmt, ap);
	va_end(ap);
	return st;
}

static enum ns_status add_text(struct infer *in, struct icol *c, const struct ns_csv_record *rec,
			       size_t j, struct ns_diag *diag)
{
	bool added;
	enum ns_status st = ns__strmap_add(&c->text, rec->fields[j], rec->lens[j], NULL, &added);
	if (st != NS_OK)
		return ns_diag_set(diag, st, "out of memory");
	if (!added)
		return NS_OK;
	if (!ns__utf8_valid(rec->fields[j], rec->lens[j]))
		return fail_at(in, diag, NS_ERR_PARSE, rec->line, j + 1,
			       "the value is not valid UTF-8 text");
	if (c->text.n > in->max_cat)
		return fail_at(in, diag, NS_ERR_LIMIT, rec->line, j + 1,
			       "column '%s' holds text (first at line %llu) and more than %zu "
			       "distinct values: too many for a category (if that text marks a "
			       "missing value, list it in the schema's na_values)",
			       in->names[j], (unsigned long long)c->first_text_line, in->max_cat);
	return NS_OK;
}

static enum ns_status infer_record(void *user, const struct ns_csv_record *rec,
				   struct ns_diag *diag)
{
	struct infer *in = user;
	enum ns_status st;
	if (rec->index == 0 && in->header)
		return NS_OK;
	if (rec->n_fields != in->n_cols)
		return fail_at(in, diag, NS_ERR_PARSE, rec->line,
			       (rec->n_fields < in->n_cols ? rec->n_fields : in->n_cols) + 1,
			       "this record has %zu fields, the first one has %zu", rec->n_fields,
			       in->n_cols);
	if (in->pass == 1)
		in->n_records++;
	for (size_t j = 0; j < in->n_cols; j++) {
		struct icol *c = &in->cols[j];
		const char *text = rec->fields[j];
		size_t len = rec->lens[j];
		double d;
		bool num;
		if (ns_na_set_has(&in->na, text, len))
			goto missing;
		num = ns_parse_double(text, len, &d);
		if (num && isnan(d))
			goto missing;
		if (in->pass == 2) {
			if (c->need_pass2) {
				st = add_text(in, c, rec, j, diag);
				if (st != NS_OK)
					return st;
			}
			continue;
		}
		if ((long)j == in->target) {
			bool added;
			st = ns__strmap_add(&in->target_text, text, len, NULL, &added);
			if (st != NS_OK)
				return ns_diag_set(diag, st, "out of memory");
			if (added && !ns__utf8_valid(text, len))
				return fail_at(in, diag, NS_ERR_PARSE, rec->line, j + 1,
					       "the label is not valid UTF-8 text");
			if (in->target_text.n > in->max_cat)
				return fail_at(in, diag, NS_ERR_LIMIT, rec->line, j + 1,
					       "the target '%s' has more than %zu distinct values: "
					       "not a class label (choose the target with "
					       "--target)",
					       in->names[j], in->max_cat);
		}
		if (num) {
			c->n_numeric++;
			if (!ns__is_integral(d))
				c->fractional = true;
			if (d < 0)
				c->negative = true;
			if (!c->fractional && !c->levels_overflow) {
				size_t k = 0;
				while (k < c->n_levels && c->levels[k] != d)
					k++;
				if (k == c->n_levels) {
					if (c->n_levels > in->p->max_levels)
						c->levels_overflow = true;
					else
						c->levels[c->n_levels++] = d;
				}
			}
			if (c->n_text) {
				st = add_text(in, c, rec, j, diag);
				if (st != NS_OK)
					return st;
			}
			continue;
		}
		if (c->n_text == 0) {
			c->first_text_line = rec->line;
			c->need_pass2 = c->n_numeric > 0;
		}
		c->n_text++;
		st = add_text(in, c, rec, j, diag);
		if (st != NS_OK)
			return st;
		continue;
	missing:
		if (in->pass == 1)
			c->n_missing++;
	}
	return NS_OK;
}

/* ---- building the schema ---------------------------------------------------------------- */

static int cmp_entry(const void *a, const void *b)
{
	const struct ns__strmap_entry *x = *(const struct ns__strmap_entry *const *)a;
	const struct ns__strmap_entry *y = *(const struct ns__strmap_entry *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The distinct strings of `m`, sorted bytewise, as a new array of copies. */
static enum ns_status sorted_strings(const struct ns__strmap *m, char ***out, size_t *n_out)
{
	const struct ns__strmap_entry **order = ns_calloc(m->n ? m->n : 1, sizeof(*order));
	char **v = ns_calloc(m->n ? m->n : 1, sizeof(char *));
	size_t n = 0;
	enum ns_status st = NS_OK;
	if (!order || !v) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < m->n; i++)
		order[i] = &m->entries[i];
	qsort(order, m->n, sizeof(*order), cmp_entry);
	for (; n < m->n; n++) {
		v[n] = ns_strndup(order[n]->s, order[n]->len);
		if (!v[n]) {
			st = NS_ERR_NOMEM;
			goto out;
		}
	}
	*out = v;
	*n_out = n;
	v = NULL;
out:
	if (v) {
		for (size_t i = 0; i < n; i++)
			ns_free(v[i]);
		ns_free(v);
	}
	ns_free(order);
	return st;
}

/* Sorted distinct numbers as canonical strings plus their values. */
static enum ns_status number_list(const double *vals, size_t n, char ***out_text, double **out_num,
				  size_t *out_n)
{
	double *num = ns_calloc(n ? n : 1, sizeof(double));
	char **text = ns_calloc(n ? n : 1, sizeof(char *));
	size_t k = 0;
	enum ns_status st = NS_OK;
	if (!num || !text) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	memcpy(num, vals, n * sizeof(double));
	qsort(num, n, sizeof(double), cmp_double);
	for (size_t i = 0; i < n; i++) {
		char buf[40];
		size_t len;
		if (k > 0 && num[k - 1] == num[i])
			continue;
		num[k] = num[i] == 0 ? 0.0 : num[i];
		len = ns__number_text(num[k], buf, sizeof(buf));
		text[k] = ns_strndup(buf, len);
		if (!text[k]) {
			st = NS_ERR_NOMEM;
			goto out;
		}
		k++;
	}
	*out_text = text;
	*out_num = num;
	*out_n = k;
	text = NULL;
	num = NULL;
out:
	if (text) {
		for (size_t i = 0; i < k; i++)
			ns_free(text[i]);
		ns_free(text);
	}
	ns_free(num);
	return st;
}

static enum ns_status build_classes(struct infer *in, struct ns_schema *s)
{
	const struct ns__strmap *m = &in->target_text;
	enum ns_status st;
	if (m->n == 0)
		return NS_OK;
	if (s->columns[s->target].type == NS_TYPE_CATEGORY)
		return sorted_strings(m, &s->classes, &s->n_classes);
	{
		double *vals = ns_calloc(m->n, sizeof(double)), *num = NULL;
		for (size_t i = 0; vals && i < m->n; i++) {
			if (!ns_parse_double(m->entries[i].s, m->entries[i].len, &vals[i]))
				vals[i] = 0; /* cannot happen: the column is numeric */
		}
		if (!vals)
			return NS_ERR_NOMEM;
		st = number_list(vals, m->n, &s->classes, &num, &s->n_classes);
		ns_free(vals);
		ns_free(num);
		return st;
	}
}

static enum ns_status make_note(struct infer *in, struct ns_schema *s, char delim,
				bool delim_guessed, bool header_guessed)
{
	struct ns__buf b;
	enum ns_status st;
	const char *base = strrchr(in->path, '/');
	base = base ? base + 1 : in->path;
	ns__buf_init(&b, 0);
	st = ns__buf_printf(
		&b,
		"Inferred by netsec from %s: %llu records, %zu columns, header %s (%s), "
		"delimiter %s (%s).",
		base, (unsigned long long)in->n_records, in->n_cols, in->header ? "yes" : "no",
		header_guessed ? "detected" : "given",
		delim == '\t' ? "tab" : (char[]){'\'', delim, '\'', '\0'},
		delim_guessed ? "guessed" : "given");
	if (st == NS_OK && s->target >= 0 && s->threat < 0 && s->benign < 0)
		st = ns__buf_printf(&b,
				    "\nNo threat class is set: inference never guesses which class "
				    "is the threat.\nAdd `threat: CLASS` (the one threat class) or "
				    "`benign: CLASS` (every other class is a threat).");
	if (st == NS_OK && s->target < 0)
		st = ns__buf_printf(&b, "\nNo target column.");
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return st;
	}
	s->note = b.data;
	return NS_OK;
}

static enum ns_status build_schema(struct infer *in, struct ns_schema *s, struct ns_diag *diag)
{
	const struct ns_infer_params *p = in->p;
	enum ns_status st;

	s->columns = ns_calloc(in->n_cols, sizeof(*s->columns));
	if (!s->columns)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	s->n_columns = in->n_cols;
	s->header = in->header;
	for (size_t j = 0; j < in->n_cols; j++) {
		struct ns_schema_column *col = &s->columns[j];
		const struct icol *c = &in->cols[j];
		col->name = in->names[j];
		in->names[j] = NULL;
		col->max_missing = 1.0;
		col->type = c->n_text                          ? NS_TYPE_CATEGORY
			    : (c->n_numeric && !c->fractional) ? NS_TYPE_INT
							       : NS_TYPE_FLOAT;
	}
	for (size_t k = 0; k < p->n_ignore; k++) {
		long i = p->ignore[k] ? ns_schema_col_index(s, p->ignore[k]) : -1;
		if (i < 0) {
			ns_diag_where(diag, in->path, 0, 0, NULL);
			return ns_diag_set(diag, NS_ERR_INVALID, "no column '%s' to ignore",
					   p->ignore[k] ? p->ignore[k] : "(null)");
		}
		s->columns[i].ignore = true;
	}
	s->target =
		in->target >= 0 ? in->target : ns__schema_guess_target(s->columns, s->n_columns);
	if (s->target >= 0 && s->columns[s->target].ignore) {
		ns_diag_where(diag, in->path, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_INVALID, "the target '%s' cannot be ignored",
				   s->columns[s->target].name);
	}
	for (size_t j = 0; j < in->n_cols; j++) {
		struct ns_schema_column *col = &s->columns[j];
		const struct icol *c = &in->cols[j];
		if ((long)j == s->target)
			continue;
		if (col->type == NS_TYPE_CATEGORY) {
			st = sorted_strings(&c->text, &col->allowed, &col->n_allowed);
			if (st != NS_OK)
				return ns_diag_set(diag, st, "out of memory");
			continue;
		}
		if (col->type == NS_TYPE_INT && !c->levels_overflow && c->n_levels > 0 &&
		    c->n_levels <= p->max_levels) {
			st = number_list(c->levels, c->n_levels, &col->allowed, &col->allowed_num,
					 &col->n_allowed);
			if (st != NS_OK)
				return ns_diag_set(diag, st, "out of memory");
			continue;
		}
		if (c->n_numeric && !c->negative) {
			col->has_min = true;
			col->min = 0;
		}
	}
	if (s->target >= 0) {
		st = build_classes(in, s);
		if (st != NS_OK)
			return ns_diag_set(diag, st, "out of memory");
	}
	if (p->threat && p->benign) {
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "give either a threat class or a benign class, not both");
	}
	if (p->threat || p->benign) {
		const char *v = p->threat ? p->threat : p->benign;
		long k = ns_schema_class_index(s, v, strlen(v));
		if (k < 0) {
			ns_diag_where(diag, in->path, 0, 0, NULL);
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "%s class '%s' is not among the target's values",
					   p->threat ? "threat" : "benign", v);
		}
		if (p->threat)
			s->threat = k;
		else
			s->benign = k;
	}
	return NS_OK;
}

/* Column names: the header's, the given ones, or column_1, column_2, ... */
static enum ns_status set_names(struct infer *in, const struct sniff *sn, struct ns_diag *diag)
{
	const struct ns_infer_params *p = in->p;
	struct ns__strmap seen;
	enum ns_status st = NS_OK;

	ns__strmap_init(&seen);
	in->names = ns_calloc(in->n_cols, sizeof(char *));
	if (!in->names) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (p->names && p->n_names != in->n_cols) {
		ns_diag_where(diag, in->path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_INVALID,
				 "%zu names given, but the file has %zu fields", p->n_names,
				 in->n_cols);
		goto out;
	}
	for (size_t j = 0; j < in->n_cols; j++) {
		char gen[32];
		const char *name;
		bool added;
		if (p->names) {
			name = p->names[j] ? p->names[j] : "";
			if (in->header && strcmp(name, sn->rows[0][j]) != 0) {
				st = fail_at(
					in, diag, NS_ERR_INVALID, 1, j + 1,
					"the file has a header, and its column %zu is '%s', not "
					"'%s' as given",
					j + 1, sn->rows[0][j], name);
				goto out;
			}
		} else if (in->header) {
			name = sn->rows[0][j];
		} else {
			snprintf(gen, sizeof(gen), "column_%zu", j + 1);
			name = gen;
		}
		in->names[j] = ns_strdup(name);
		if (!in->names[j]) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
		if (name[0] == '\0' || !ns__utf8_valid(name, strlen(name)) || strlen(name) > 1024) {
			st = fail_at(in, diag, p->names ? NS_ERR_INVALID : NS_ERR_PARSE,
				     in->header ? 1 : 0, j + 1,
				     "column %zu's name is empty, too long or not UTF-8", j + 1);
			goto out;
		}
		for (const char *q = name; *q; q++) {
			if ((unsigned char)*q < 0x20 || *q == 0x7f) {
				st = fail_at(in, diag, p->names ? NS_ERR_INVALID : NS_ERR_PARSE,
					     in->header ? 1 : 0, j + 1,
					     "column %zu's name contains a control character",
					     j + 1);
				goto out;
			}
		}
		st = ns__strmap_add(&seen, name, strlen(name), NULL, &added);
		if (st != NS_OK) {
			st = ns_diag_set(diag, st, "out of memory");
			goto out;
		}
		if (!added) {
			st = fail_at(in, diag, p->names ? NS_ERR_INVALID : NS_ERR_PARSE,
				     in->header ? 1 : 0, j + 1, "column name '%s' appears twice",
				     name);
			goto out;
		}
	}
	if (p->target) {
		in->target = ns__strmap_find(&seen, p->target, strlen(p->target));
		if (in->target < 0) {
			ns_diag_where(diag, in->path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_INVALID, "no column '%s' for the target",
					 p->target);
			goto out;
		}
	}
out:
	ns__strmap_fini(&seen);
	return st;
}

static void infer_fini(struct infer *in)
{
	if (in->names) {
		for (size_t j = 0; j < in->n_cols; j++)
			ns_free(in->names[j]);
		ns_free(in->names);
	}
	if (in->cols) {
		for (size_t j = 0; j < in->n_cols; j++) {
			ns_free(in->cols[j].levels);
			ns__strmap_fini(&in->cols[j].text);
		}
		ns_free(in->cols);
	}
	ns__strmap_fini(&in->target_text);
}

enum ns_status ns_schema_infer_file(const char *path, const struct ns_infer_params *params,
				    struct ns_schema **out, struct ns_diag *diag)
{
	struct ns_infer_params defaults = ns_infer_params_default();
	const struct ns_infer_params *p = params ? params : &defaults;
	struct infer in;
	struct head h = {0};
	struct sniff sn;
	struct ns_csv_params cp = ns_csv_params_default();
	struct ns_schema *s = NULL;
	FILE *fp = NULL;
	bool is_stdin = path && strcmp(path, "-") == 0;
	bool need_pass2 = false;
	char delim;
	enum ns_status st;

	memset(&in, 0, sizeof(in));
	memset(&sn, 0, sizeof(sn));
	ns__strmap_init(&in.target_text);
	if (!path || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no file");
	if (p->name && !ns__valid_name(p->name))
		return ns_diag_set(
			diag, NS_ERR_INVALID,
			"dataset name '%s' must be 1 to 64 characters of A-Z a-z 0-9 _ . -",
			p->name);
	if (p->delimiter == '"' || p->delimiter == '\r' || p->delimiter == '\n' ||
	    (unsigned char)p->delimiter >= 0x80)
		return ns_diag_set(diag, NS_ERR_INVALID, "bad delimiter");
	in.p = p;
	in.path = path;
	in.na = ns_na_set_default();
	in.target = -1;
	in.pass = 1;
	in.max_cat = p->max_category_levels ? p->max_category_levels : 10000;
	if (in.max_cat > NS__SCHEMA_MAX_VALUES)
		in.max_cat = NS__SCHEMA_MAX_VALUES;

	fp = is_stdin ? stdin : fopen(path, "rb");
	if (!fp) {
		ns_diag_where(diag, path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_IO, "cannot open: %s", strerror(errno));
		goto out;
	}
	/* The head must hold a whole first record: a very wide file gets a longer one. */
	for (size_t size = HEAD_BYTES;; size *= 2) {
		struct sniff first;
		memset(&first, 0, sizeof(first));
		st = read_head(fp, path, &h, size, diag);
		if (st != NS_OK)
			goto out;
		st = sniff_head(&h, p->delimiter ? p->delimiter : ',', &first);
		sniff_fini(&first);
		if (st != NS_OK) {
			ns_diag_set(diag, st, "out of memory");
			goto out;
		}
		if (first.n_records > 0 || h.eof || size >= MAX_HEAD_BYTES)
			break;
	}
	delim = p->delimiter;
	if (!delim) {
		st = guess_delimiter(&h, &delim);
		if (st != NS_OK) {
			ns_diag_set(diag, st, "out of memory");
			goto out;
		}
	}
	sn.keep = true;
	st = sniff_head(&h, delim, &sn);
	if (st != NS_OK) {
		ns_diag_set(diag, st, "out of memory");
		goto out;
	}
	if (sn.n_records == 0) {
		/* Empty, or broken in its first record: the reader says which. */
		cp.delimiter = delim;
		cp.source_name = path;
		st = read_all(fp, path, &h, &cp, infer_record, &in, diag);
		if (st != NS_OK)
			goto out;
	} else {
		in.n_cols = sn.row_len[0];
		if (in.n_cols > NS__SCHEMA_MAX_COLUMNS) {
			ns_diag_where(diag, path, 1, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_LIMIT, "%zu columns; at most %d are allowed",
					 in.n_cols, NS__SCHEMA_MAX_COLUMNS);
			goto out;
		}
		in.header = p->header == NS_HEADER_YES  ? true
			    : p->header == NS_HEADER_NO ? false
							: detect_header(&sn, &in.na);
		st = set_names(&in, &sn, diag);
		if (st != NS_OK)
			goto out;
		in.cols = ns_calloc(in.n_cols, sizeof(*in.cols));
		if (!in.cols) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (size_t j = 0; j < in.n_cols; j++) {
			ns__strmap_init(&in.cols[j].text);
			in.cols[j].levels = ns_calloc(p->max_levels + 1, sizeof(double));
			if (!in.cols[j].levels) {
				st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
				goto out;
			}
		}
	}
	cp.delimiter = delim;
	cp.source_name = path;
	if (in.n_cols > 0) {
		if (in.target < 0 && !p->target) {
			/* The default target is chosen by name or position, before the pass. */
			struct ns_schema_column *tmp = ns_calloc(in.n_cols, sizeof(*tmp));
			if (!tmp) {
				st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
				goto out;
			}
			for (size_t j = 0; j < in.n_cols; j++)
				tmp[j].name = in.names[j];
			for (size_t k = 0; k < p->n_ignore; k++) {
				for (size_t j = 0; j < in.n_cols; j++) {
					if (p->ignore[k] && strcmp(p->ignore[k], in.names[j]) == 0)
						tmp[j].ignore = true;
				}
			}
			in.target = ns__schema_guess_target(tmp, in.n_cols);
			ns_free(tmp);
		}
		st = read_all(fp, path, &h, &cp, infer_record, &in, diag);
		if (st != NS_OK)
			goto out;
	}
	if (in.n_records == 0) {
		ns_diag_where(diag, path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_PARSE, "no data records to infer a schema from");
		goto out;
	}
	for (size_t j = 0; j < in.n_cols; j++)
		need_pass2 |= in.cols[j].need_pass2;
	if (need_pass2) {
		if (is_stdin) {
			ns_diag_where(diag, path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_UNSUPPORTED,
					 "a column mixes numbers and text: inferring its levels "
					 "reads the input twice, so it needs a file, not stdin");
			goto out;
		}
		in.pass = 2;
		st = ns_csv_read_file(path, &cp, infer_record, &in, diag);
		if (st != NS_OK)
			goto out;
	}
	s = ns__schema_new();
	if (!s) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	s->delimiter = delim;
	if (p->name) {
		s->name = ns_strdup(p->name);
		if (!s->name) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	st = build_schema(&in, s, diag);
	if (st == NS_OK) {
		st = make_note(&in, s, delim, !p->delimiter, p->header == NS_HEADER_AUTO);
		if (st != NS_OK)
			ns_diag_set(diag, st, "out of memory");
	}
	if (st != NS_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	if (fp && !is_stdin)
		fclose(fp);
	ns_free(h.data);
	sniff_fini(&sn);
	infer_fini(&in);
	ns_schema_free(s);
	return st;
}
