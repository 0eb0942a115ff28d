/*
 * lib/pipeline/split.c - exact duplicates, the seeded stratified split and
 * the train/test leakage count.
 *
 * Rows are compared by a 64-bit hash of their cells, and rows whose hashes
 * agree are compared cell by cell, so a hash collision never merges two
 * different rows.  Numbers compare by value (-0 == 0, every NaN alike);
 * categories by their dictionary codes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn/family.h"
#include "netsec/pipeline.h"

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdULL;
}

static uint64_t cell_bits(const struct ns_frame *f, size_t col, size_t row)
{
	if (ns_frame_col_kind(f, col) == NS_COL_NUMERIC) {
		double v = ns_frame_numbers(f, col)[row];
		uint64_t bits;
		if (isnan(v))
			return 0x7ff8000000000001ULL;
		if (v == 0)
			v = 0;
		memcpy(&bits, &v, sizeof(bits));
		return bits;
	}
	return ns_frame_codes(f, col)[row];
}

static bool rows_equal(const struct ns_frame *f, size_t a, size_t b, long ignore)
{
	for (size_t j = 0; j < ns_frame_n_cols(f); j++)
		if ((long)j != ignore && cell_bits(f, j, a) != cell_bits(f, j, b))
			return false;
	return true;
}

struct key {
	uint64_t hash;
	size_t row;
	uint32_t side; /* leakage: 0 train, 1 test */
};

static int cmp_key(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->side != y->side)
		return x->side < y->side ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

static uint64_t row_hash(const struct ns_frame *f, size_t r, long ignore)
{
	uint64_t h = 0x243f6a8885a308d3ULL;
	for (size_t j = 0; j < ns_frame_n_cols(f); j++)
		if ((long)j != ignore)
			h = mix(h, cell_bits(f, j, r));
	return h;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

enum ns_status ns_frame_unique_rows(const struct ns_frame *f, size_t **keep, size_t *n_keep)
{
	size_t n = ns_frame_n_rows(f), k = 0;
	struct key *keys = ns_malloc((n ? n : 1) * sizeof(*keys));
	size_t *out = ns_malloc((n ? n : 1) * sizeof(*out));
	if (!keys || !out) {
		ns_free(keys);
		ns_free(out);
		return NS_ERR_NOMEM;
	}
	for (size_t r = 0; r < n; r++)
		keys[r] = (struct key){row_hash(f, r, -1), r, 0};
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && keys[j].hash == keys[i].hash)
			j++;
		/* Within a hash group (sorted by row), keep a row unless it
		 * equals an earlier member. */
		for (size_t a = i; a < j; a++) {
			bool dup = false;
			for (size_t b = i; b < a && !dup; b++)
				dup = rows_equal(f, keys[a].row, keys[b].row, -1);
			if (!dup)
				out[k++] = keys[a].row;
		}
		i = j;
	}
	ns_free(keys);
	qsort(out, k, sizeof(*out), cmp_size);
	*keep = out;
	*n_keep = k;
	return NS_OK;
}

enum ns_status ns_split_stratified(const uint32_t *y, const size_t *rows, size_t n,
				   uint32_t n_classes, double test_fraction, uint64_t seed,
				   size_t **train, size_t *n_train, size_t **test, size_t *n_test,
				   struct ns_diag *diag)
{
	size_t *count = NULL, *take = NULL, *start = NULL, *order = NULL, *tr = NULL, *te = NULL;
	double *rem = NULL;
	size_t want, given = 0, ntr = 0, nte = 0;
	struct ns__rng rng;
	enum ns_status st = NS_ERR_NOMEM;

	if (!(test_fraction > 0 && test_fraction < 1))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "the test fraction must be in (0, 1), not %g", test_fraction);
	if (n < 2 || n_classes == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "%zu rows cannot be split", n);
	count = ns_calloc(n_classes, sizeof(*count));
	take = ns_calloc(n_classes, sizeof(*take));
	start = ns_calloc((size_t)n_classes + 1, sizeof(*start));
	rem = ns_calloc(n_classes, sizeof(*rem));
	order = ns_malloc(n * sizeof(*order));
	tr = ns_malloc(n * sizeof(*tr));
	te = ns_malloc(n * sizeof(*te));
	if (!count || !take || !start || !rem || !order || !tr || !te)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (y[i] >= n_classes) {
			st = ns_diag_set(diag, NS_ERR_INVALID, "class index out of range");
			goto out;
		}
		count[y[i]]++;
	}
	/* The test size as scikit-learn rounds it (ceil), shared among the
	 * classes by largest remainder (ties: the lower class index). */
	want = (size_t)ceil(test_fraction * (double)n);
	if (want >= n)
		want = n - 1;
	for (uint32_t k = 0; k < n_classes; k++) {
		double exact = (double)count[k] * (double)want / (double)n;
		take[k] = (size_t)floor(exact);
		rem[k] = exact - (double)take[k];
		given += take[k];
	}
	while (given < want) {
		long best = -1;
		for (uint32_t k = 0; k < n_classes; k++)
			if (take[k] < count[k] && (best < 0 || rem[k] > rem[best]))
				best = (long)k;
		if (best < 0)
			break;
		take[best]++;
		rem[best] = -1;
		given++;
	}
	/* Rows grouped by class, each group shuffled (Fisher-Yates, one
	 * stream per class so that classes do not disturb each other). */
	for (uint32_t k = 0; k < n_classes; k++)
		start[k + 1] = start[k] + count[k];
	{
		size_t *fill = ns_calloc(n_classes, sizeof(*fill));
		if (!fill)
			goto out;
		for (size_t i = 0; i < n; i++)
			order[start[y[i]] + fill[y[i]]++] = rows ? rows[i] : i;
		ns_free(fill);
	}
	for (uint32_t k = 0; k < n_classes; k++) {
		size_t *g = order + start[k], m = count[k];
		ns__rng_seed(&rng, seed, 0x5011700000000000ULL + k);
		for (size_t i = m; i > 1; i--) {
			size_t j = (size_t)ns__rng_below(&rng, i);
			size_t t = g[i - 1];
			g[i - 1] = g[j];
			g[j] = t;
		}
		for (size_t i = 0; i < m; i++) {
			if (i < take[k])
				te[nte++] = g[i];
			else
				tr[ntr++] = g[i];
		}
	}
	if (ntr == 0 || nte == 0) {
		st = ns_diag_set(diag, NS_ERR_INVALID,
				 "a test fraction of %g leaves the %s split empty", test_fraction,
				 ntr ? "test" : "training");
		goto out;
	}
	qsort(tr, ntr, sizeof(*tr), cmp_size);
	qsort(te, nte, sizeof(*te), cmp_size);
	*train = tr;
	*test = te;
	*n_train = ntr;
	*n_test = nte;
	tr = te = NULL;
	st = NS_OK;
out:
	if (st == NS_ERR_NOMEM)
		ns_diag_set(diag, st, "out of memory while splitting");
	ns_free(count);
	ns_free(take);
	ns_free(start);
	ns_free(rem);
	ns_free(order);
	ns_free(tr);
	ns_free(te);
	return st;
}

enum ns_status ns_split_leakage(const struct ns_frame *f, const size_t *train, size_t n_train,
				const size_t *test, size_t n_test, long ignore_col, size_t *leaked)
{
	size_t n = n_train + n_test, count = 0;
	struct key *keys = ns_malloc((n ? n : 1) * sizeof(*keys));
	if (!keys)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < n_train; i++)
		keys[i] = (struct key){row_hash(f, train[i], ignore_col), train[i], 0};
	for (size_t i = 0; i < n_test; i++)
		keys[n_train + i] = (struct key){row_hash(f, test[i], ignore_col), test[i], 1};
	qsort(keys, n, sizeof(*keys), cmp_key);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1, first_test;
		while (j < n && keys[j].hash == keys[i].hash)
			j++;
		first_test = i;
		while (first_test < j && keys[first_test].side == 0)
			first_test++;
		for (size_t a = first_test; a < j; a++)
			for (size_t b = i; b < first_test; b++)
				if (rows_equal(f, keys[a].row, keys[b].row, ignore_col)) {
					count++;
					break;
				}
		i = j;
	}
	ns_free(keys);
	*leaked = count;
	return NS_OK;
}
