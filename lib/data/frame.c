/*
 * lib/data/frame.c - the columnar table.
 *
 * Numeric columns are plain double arrays; categorical columns are uint32
 * code arrays plus a dictionary (level strings and an open-addressing hash
 * index for lookups).  All columns share one row capacity that grows by 1.5x;
 * ns_frame_shrink() trims it so that numeric data costs 8 bytes a cell.
 *
 * Large column arrays are marked for transparent huge pages where the
 * system has them only on request (Linux "madvise" mode): filling a fresh
 * array of hundreds of megabytes otherwise costs one page fault per 4 KiB,
 * more than reading the CSV that fills it.
 *
 * Limits: at most 2^32-2 levels per column.  Threading: none inside; see
 * frame.h.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "netsec/frame.h"

struct dict {
	char **levels;
	size_t *lens;
	size_t n, cap;
	uint32_t *index; /* code + 1; 0 = empty slot */
	size_t index_cap; /* power of two */
};

struct column {
	char *name;
	enum ns_col_kind kind;
	double *num;
	uint32_t *codes;
	struct dict dict;
};

struct ns_frame {
	size_t n_rows, cap_rows;
	size_t n_cols, cap_cols;
	struct column *cols;
};

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h ^ (h >> 29);
}

static void dict_fini(struct dict *d)
{
	for (size_t i = 0; i < d->n; i++)
		ns_free(d->levels[i]);
	ns_free(d->levels);
	ns_free(d->lens);
	ns_free(d->index);
	memset(d, 0, sizeof(*d));
}

static uint32_t dict_find(const struct dict *d, const char *s, size_t len)
{
	size_t mask, i;
	if (!d->index_cap)
		return NS_FRAME_NA_CODE;
	mask = d->index_cap - 1;
	for (i = hash_bytes(s, len) & mask;; i = (i + 1) & mask) {
		uint32_t slot = d->index[i];
		if (!slot)
			return NS_FRAME_NA_CODE;
		if (d->lens[slot - 1] == len && memcmp(d->levels[slot - 1], s, len) == 0)
			return slot - 1;
	}
}

static enum ns_status dict_rehash(struct dict *d, size_t cap)
{
	uint32_t *idx = ns_calloc(cap, sizeof(*idx));
	if (!idx)
		return NS_ERR_NOMEM;
	for (size_t c = 0; c < d->n; c++) {
		size_t i = hash_bytes(d->levels[c], d->lens[c]) & (cap - 1);
		while (idx[i])
			i = (i + 1) & (cap - 1);
		idx[i] = (uint32_t)(c + 1);
	}
	ns_free(d->index);
	d->index = idx;
	d->index_cap = cap;
	return NS_OK;
}

/* Finds or adds a level; OUT *code. */
static enum ns_status dict_intern(struct dict *d, const char *s, size_t len, uint32_t *code)
{
	uint32_t c = dict_find(d, s, len);
	char *copy;
	if (c != NS_FRAME_NA_CODE) {
		*code = c;
		return NS_OK;
	}
	if (d->n >= (size_t)UINT32_MAX - 1)
		return NS_ERR_LIMIT;
	if ((d->n + 1) * 2 > d->index_cap) {
		enum ns_status st = dict_rehash(d, d->index_cap ? d->index_cap * 2 : 16);
		if (st != NS_OK)
			return st;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		char **lv = ns_reallocarray(d->levels, cap, sizeof(*lv));
		size_t *ln;
		if (!lv)
			return NS_ERR_NOMEM;
		d->levels = lv;
		ln = ns_reallocarray(d->lens, cap, sizeof(*ln));
		if (!ln)
			return NS_ERR_NOMEM;
		d->lens = ln;
		d->cap = cap;
	}
	copy = ns_strndup(s, len);
	if (!copy)
		return NS_ERR_NOMEM;
	d->levels[d->n] = copy;
	d->lens[d->n] = len;
	{
		size_t mask = d->index_cap - 1, i = hash_bytes(s, len) & mask;
		while (d->index[i])
			i = (i + 1) & mask;
		d->index[i] = (uint32_t)(d->n + 1);
	}
	*code = (uint32_t)d->n++;
	return NS_OK;
}

static void column_fini(struct column *c)
{
	ns_free(c->name);
	ns_free(c->num);
	ns_free(c->codes);
	dict_fini(&c->dict);
}

enum ns_status ns_frame_create(struct ns_frame **out)
{
	struct ns_frame *f = ns_calloc(1, sizeof(*f));
	if (!f)
		return NS_ERR_NOMEM;
	*out = f;
	return NS_OK;
}

void ns_frame_free(struct ns_frame *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_cols; i++)
		column_fini(&f->cols[i]);
	ns_free(f->cols);
	ns_free(f);
}

/* Asks for huge pages over the whole 2 MiB pages inside a large array (a hint only). */
static void advise_huge(void *p, size_t bytes)
{
#if defined(MADV_HUGEPAGE)
	const uintptr_t huge = (uintptr_t)2 << 20;
	uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
	uintptr_t e = ((uintptr_t)p + bytes) & ~(huge - 1);
	if (bytes >= 4 * huge && e > a)
		(void)madvise((void *)a, e - a, MADV_HUGEPAGE);
#else
	(void)p;
	(void)bytes;
#endif
}

/* Gives column `c` storage for `cap` rows, rows [from, cap) missing. */
static enum ns_status column_resize(struct column *c, size_t from, size_t cap)
{
	if (c->kind == NS_COL_NUMERIC) {
		double *p = ns_reallocarray(c->num, cap, sizeof(*p));
		if (!p)
			return NS_ERR_NOMEM;
		if (cap > from)
			advise_huge(p, cap * sizeof(*p));
		for (size_t r = from; r < cap; r++)
			p[r] = NAN;
		c->num = p;
	} else {
		uint32_t *p = ns_reallocarray(c->codes, cap, sizeof(*p));
		if (!p)
			return NS_ERR_NOMEM;
		if (cap > from)
			advise_huge(p, cap * sizeof(*p));
		for (size_t r = from; r < cap; r++)
			p[r] = NS_FRAME_NA_CODE;
		c->codes = p;
	}
	return NS_OK;
}

enum ns_status ns_frame_add_column(struct ns_frame *f, const char *name, enum ns_col_kind kind,
				   struct ns_diag *diag)
{
	struct column c;
	enum ns_status st;
	if (!name || (kind != NS_COL_NUMERIC && kind != NS_COL_CATEGORY))
		return ns_diag_set(diag, NS_ERR_INVALID, "invalid column");
	if (ns_frame_col_index(f, name) >= 0) {
		ns_diag_where(diag, NULL, 0, 0, name);
		return ns_diag_set(diag, NS_ERR_EXISTS, "duplicate column name '%s'", name);
	}
	if (f->n_cols == f->cap_cols) {
		size_t cap = f->cap_cols ? f->cap_cols * 2 : 8;
		struct column *cols = ns_reallocarray(f->cols, cap, sizeof(*cols));
		if (!cols)
			return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		f->cols = cols;
		f->cap_cols = cap;
	}
	memset(&c, 0, sizeof(c));
	c.kind = kind;
	c.name = ns_strdup(name);
	if (!c.name)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	if (f->cap_rows) {
		st = column_resize(&c, 0, f->cap_rows);
		if (st != NS_OK) {
			column_fini(&c);
			return ns_diag_set(diag, st, "out of memory");
		}
	}
	f->cols[f->n_cols++] = c;
	return NS_OK;
}

size_t ns_frame_n_rows(const struct ns_frame *f)
{
	return f->n_rows;
}

size_t ns_frame_n_cols(const struct ns_frame *f)
{
	return f->n_cols;
}

const char *ns_frame_col_name(const struct ns_frame *f, size_t col)
{
	return col < f->n_cols ? f->cols[col].name : NULL;
}

enum ns_col_kind ns_frame_col_kind(const struct ns_frame *f, size_t col)
{
	return f->cols[col].kind;
}

long ns_frame_col_index(const struct ns_frame *f, const char *name)
{
	for (size_t i = 0; i < f->n_cols; i++)
		if (strcmp(f->cols[i].name, name) == 0)
			return (long)i;
	return -1;
}

static enum ns_status set_capacity(struct ns_frame *f, size_t cap)
{
	for (size_t i = 0; i < f->n_cols; i++) {
		size_t from = f->cap_rows < cap ? f->cap_rows : cap;
		enum ns_status st = column_resize(&f->cols[i], from, cap);
		if (st != NS_OK)
			return st; /* columns resized so far keep their larger, valid arrays */
	}
	f->cap_rows = cap;
	return NS_OK;
}

enum ns_status ns_frame_reserve(struct ns_frame *f, size_t n_rows)
{
	if (n_rows <= f->cap_rows)
		return NS_OK;
	if (n_rows > SIZE_MAX / sizeof(double))
		return NS_ERR_LIMIT;
	return set_capacity(f, n_rows);
}

enum ns_status ns_frame_shrink(struct ns_frame *f)
{
	if (f->cap_rows == f->n_rows || f->n_rows == 0)
		return NS_OK;
	return set_capacity(f, f->n_rows);
}

enum ns_status ns_frame_add_rows(struct ns_frame *f, size_t n, size_t *first_row)
{
	if (n > SIZE_MAX / sizeof(double) - f->n_rows)
		return NS_ERR_LIMIT;
	if (f->n_rows + n > f->cap_rows) {
		size_t cap = f->cap_rows < 16 ? 16 : f->cap_rows + f->cap_rows / 2;
		enum ns_status st;
		if (cap < f->n_rows + n)
			cap = f->n_rows + n;
		st = set_capacity(f, cap);
		if (st != NS_OK)
			return st;
	}
	if (first_row)
		*first_row = f->n_rows;
	f->n_rows += n;
	return NS_OK;
}

void ns_frame_set_number(struct ns_frame *f, size_t row, size_t col, double v)
{
	f->cols[col].num[row] = v;
}

enum ns_status ns_frame_set_category(struct ns_frame *f, size_t row, size_t col, const char *s,
				     size_t len)
{
	uint32_t code;
	enum ns_status st = dict_intern(&f->cols[col].dict, s, len, &code);
	if (st != NS_OK)
		return st;
	f->cols[col].codes[row] = code;
	return NS_OK;
}

void ns_frame_set_code(struct ns_frame *f, size_t row, size_t col, uint32_t code)
{
	f->cols[col].codes[row] = code;
}

enum ns_status ns_frame_numeric_to_category(struct ns_frame *f, size_t col)
{
	struct column *c = &f->cols[col];
	struct dict d;
	uint32_t *codes;
	enum ns_status st = NS_OK;
	if (c->kind == NS_COL_CATEGORY)
		return NS_OK;
	memset(&d, 0, sizeof(d));
	codes = ns_reallocarray(NULL, f->cap_rows ? f->cap_rows : 1, sizeof(*codes));
	if (!codes)
		return NS_ERR_NOMEM;
	for (size_t r = 0; r < f->cap_rows; r++) {
		char buf[40];
		size_t n;
		if (r >= f->n_rows || isnan(c->num[r])) {
			codes[r] = NS_FRAME_NA_CODE;
			continue;
		}
		n = ns_format_double(c->num[r], buf, sizeof(buf));
		st = dict_intern(&d, buf, n, &codes[r]);
		if (st != NS_OK)
			goto fail;
	}
	ns_free(c->num);
	c->num = NULL;
	c->codes = codes;
	c->dict = d;
	c->kind = NS_COL_CATEGORY;
	return NS_OK;
fail:
	ns_free(codes);
	dict_fini(&d);
	return st;
}

const double *ns_frame_numbers(const struct ns_frame *f, size_t col)
{
	return f->cols[col].kind == NS_COL_NUMERIC ? f->cols[col].num : NULL;
}

double *ns_frame_numbers_mut(struct ns_frame *f, size_t col)
{
	return f->cols[col].kind == NS_COL_NUMERIC ? f->cols[col].num : NULL;
}

const uint32_t *ns_frame_codes(const struct ns_frame *f, size_t col)
{
	return f->cols[col].kind == NS_COL_CATEGORY ? f->cols[col].codes : NULL;
}

size_t ns_frame_n_levels(const struct ns_frame *f, size_t col)
{
	return f->cols[col].dict.n;
}

const char *ns_frame_level(const struct ns_frame *f, size_t col, uint32_t code)
{
	const struct dict *d = &f->cols[col].dict;
	return code < d->n ? d->levels[code] : NULL;
}

uint32_t ns_frame_level_code(const struct ns_frame *f, size_t col, const char *s, size_t len)
{
	return dict_find(&f->cols[col].dict, s, len);
}

/* A new frame with f's columns (names, kinds, whole dictionaries), no rows. */
static enum ns_status clone_columns(const struct ns_frame *f, const size_t *cols, size_t n,
				    struct ns_frame **out)
{
	struct ns_frame *g;
	enum ns_status st = ns_frame_create(&g);
	if (st != NS_OK)
		return st;
	for (size_t j = 0; j < n; j++) {
		const struct column *c = &f->cols[cols ? cols[j] : j];
		st = ns_frame_add_column(g, c->name, c->kind, NULL);
		if (st != NS_OK)
			goto fail;
		for (size_t k = 0; k < c->dict.n; k++) {
			uint32_t code;
			st = dict_intern(&g->cols[j].dict, c->dict.levels[k], c->dict.lens[k],
					 &code);
			if (st != NS_OK)
				goto fail;
		}
	}
	*out = g;
	return NS_OK;
fail:
	ns_frame_free(g);
	return st;
}

enum ns_status ns_frame_select_rows(const struct ns_frame *f, const size_t *rows, size_t n,
				    struct ns_frame **out)
{
	struct ns_frame *g;
	enum ns_status st;
	for (size_t i = 0; i < n; i++)
		if (rows[i] >= f->n_rows)
			return NS_ERR_INVALID;
	st = clone_columns(f, NULL, f->n_cols, &g);
	if (st != NS_OK)
		return st;
	st = ns_frame_add_rows(g, n, NULL);
	if (st != NS_OK) {
		ns_frame_free(g);
		return st;
	}
	for (size_t j = 0; j < f->n_cols; j++) {
		const struct column *c = &f->cols[j];
		if (c->kind == NS_COL_NUMERIC)
			for (size_t i = 0; i < n; i++)
				g->cols[j].num[i] = c->num[rows[i]];
		else
			for (size_t i = 0; i < n; i++)
				g->cols[j].codes[i] = c->codes[rows[i]];
	}
	*out = g;
	return NS_OK;
}

enum ns_status ns_frame_select_cols(const struct ns_frame *f, const size_t *cols, size_t n,
				    struct ns_frame **out)
{
	struct ns_frame *g;
	enum ns_status st;
	for (size_t j = 0; j < n; j++)
		if (cols[j] >= f->n_cols)
			return NS_ERR_INVALID;
	for (size_t j = 0; j < n; j++)
		for (size_t k = 0; k < j; k++)
			if (cols[j] == cols[k])
				return NS_ERR_INVALID; /* names must stay unique */
	st = clone_columns(f, cols, n, &g);
	if (st != NS_OK)
		return st;
	st = ns_frame_add_rows(g, f->n_rows, NULL);
	if (st != NS_OK) {
		ns_frame_free(g);
		return st;
	}
	for (size_t j = 0; j < n; j++) {
		const struct column *c = &f->cols[cols[j]];
		if (c->kind == NS_COL_NUMERIC)
			memcpy(g->cols[j].num, c->num, f->n_rows * sizeof(double));
		else
			memcpy(g->cols[j].codes, c->codes, f->n_rows * sizeof(uint32_t));
	}
	*out = g;
	return NS_OK;
}

enum ns_status ns_frame_append(struct ns_frame *dst, const struct ns_frame *src,
			       struct ns_diag *diag)
{
	size_t first, *map = NULL;
	uint32_t **remap = NULL;
	enum ns_status st = NS_OK;

	if (src->n_cols != dst->n_cols)
		return ns_diag_set(diag, NS_ERR_SCHEMA,
				   "cannot append a frame of %zu columns to one of %zu",
				   src->n_cols, dst->n_cols);
	map = ns_calloc(src->n_cols ? src->n_cols : 1, sizeof(*map));
	remap = ns_calloc(src->n_cols ? src->n_cols : 1, sizeof(*remap));
	if (!map || !remap) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t j = 0; j < src->n_cols; j++) {
		long k = ns_frame_col_index(dst, src->cols[j].name);
		if (k < 0 || dst->cols[k].kind != src->cols[j].kind) {
			ns_diag_where(diag, NULL, 0, 0, src->cols[j].name);
			st = ns_diag_set(diag, NS_ERR_SCHEMA,
					 k < 0 ? "column '%s' is not in the destination"
					       : "column '%s' has a different kind",
					 src->cols[j].name);
			goto out;
		}
		map[j] = (size_t)k;
	}
	/* Translate dictionaries first so that a failure leaves dst's rows untouched. */
	for (size_t j = 0; j < src->n_cols; j++) {
		const struct dict *sd = &src->cols[j].dict;
		if (src->cols[j].kind != NS_COL_CATEGORY)
			continue;
		remap[j] = ns_calloc(sd->n ? sd->n : 1, sizeof(uint32_t));
		if (!remap[j]) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (size_t c = 0; c < sd->n; c++) {
			st = dict_intern(&dst->cols[map[j]].dict, sd->levels[c], sd->lens[c],
					 &remap[j][c]);
			if (st != NS_OK) {
				ns_diag_set(diag, st, "cannot add category levels");
				goto out;
			}
		}
	}
	st = ns_frame_add_rows(dst, src->n_rows, &first);
	if (st != NS_OK) {
		ns_diag_set(diag, st, "cannot grow the frame");
		goto out;
	}
	for (size_t j = 0; j < src->n_cols; j++) {
		const struct column *s = &src->cols[j];
		struct column *d = &dst->cols[map[j]];
		if (s->kind == NS_COL_NUMERIC) {
			memcpy(d->num + first, s->num, src->n_rows * sizeof(double));
		} else {
			for (size_t r = 0; r < src->n_rows; r++)
				d->codes[first + r] = s->codes[r] == NS_FRAME_NA_CODE
							      ? NS_FRAME_NA_CODE
							      : remap[j][s->codes[r]];
		}
	}
out:
	if (remap)
		for (size_t j = 0; j < src->n_cols; j++)
			ns_free(remap[j]);
	ns_free(remap);
	ns_free(map);
	return st;
}

size_t ns_frame_memory(const struct ns_frame *f)
{
	size_t bytes = sizeof(*f) + f->cap_cols * sizeof(struct column);
	for (size_t j = 0; j < f->n_cols; j++) {
		const struct column *c = &f->cols[j];
		bytes += strlen(c->name) + 1;
		bytes += f->cap_rows *
			 (c->kind == NS_COL_NUMERIC ? sizeof(double) : sizeof(uint32_t));
		bytes += c->dict.cap * (sizeof(char *) + sizeof(size_t)) +
			 c->dict.index_cap * sizeof(uint32_t);
		for (size_t k = 0; k < c->dict.n; k++)
			bytes += c->dict.lens[k] + 1;
	}
	return bytes;
}
