/*
 * tests/unit/prep/test_imputer.c - the KNN imputer against scikit-learn's
 * KNNImputer (tests/golden/impute/cases.txt, made by
 * tests/tools/gen_impute_cases.py): hand-made cases, continuous data,
 * ternary data full of duplicate rows, samples of the phishing set, rows
 * with every feature missing, k above the donor count, new data.  The tie
 * order itself is checked against np.argpartition
 * (tests/golden/impute/argpartition.txt).  Also: errors, save/load,
 * truncated and corrupted buffers, thread-count independence and
 * allocation failures.
 *
 * Includes lib/prep/imputer.c to reach the selection routine.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "prep/imputer.c"

#define GOLDEN NETSEC_SOURCE_DIR "/tests/golden/impute/"
#define TOL 1e-9
#define MAX_MATRICES 64

struct mat {
	char name[64];
	size_t rows, cols;
	double *v;
};

static struct mat mats[MAX_MATRICES];
static size_t n_mats;

static const struct mat *find_mat(const char *name)
{
	for (size_t i = 0; i < n_mats; i++)
		if (strcmp(mats[i].name, name) == 0)
			return &mats[i];
	fail_msg("no matrix '%s' in the golden file", name);
	return NULL;
}

static double read_value(FILE *fp)
{
	char tok[64];
	assert_int_equal(fscanf(fp, "%63s", tok), 1);
	return strtod(tok, NULL); /* "nan" included */
}

static void free_mats(void)
{
	for (size_t i = 0; i < n_mats; i++)
		free(mats[i].v);
	n_mats = 0;
}

/* Every run of cases.txt: fit, transform a copy, compare each filled cell. */
static void test_matches_sklearn(void **state)
{
	FILE *fp = fopen(GOLDEN "cases.txt", "r");
	char word[64];
	double max_diff = 0;
	size_t n_runs = 0, n_cells = 0;
	(void)state;

	assert_non_null(fp);
	fscanf(fp, "%*[^\n]\n"); /* the comment line */
	while (fscanf(fp, "%63s", word) == 1) {
		if (strcmp(word, "matrix") == 0) {
			struct mat *m = &mats[n_mats++];
			assert_true(n_mats <= MAX_MATRICES);
			assert_int_equal(fscanf(fp, "%63s %zu %zu", m->name, &m->rows, &m->cols),
					 3);
			m->v = malloc(m->rows * m->cols * sizeof(double));
			assert_non_null(m->v);
			for (size_t i = 0; i < m->rows * m->cols; i++)
				m->v[i] = read_value(fp);
			continue;
		}
		assert_string_equal(word, "run");
		{
			char fname[64], xname[64];
			unsigned k;
			size_t n_exp, filled = 0;
			const struct mat *f, *x;
			struct ns_imputer *im = NULL;
			struct ns_diag diag;
			double *out;
			assert_int_equal(fscanf(fp, "%63s %63s %u %zu", fname, xname, &k, &n_exp),
					 4);
			f = find_mat(fname);
			x = find_mat(xname);
			assert_int_equal(ns_imputer_fit(f->v, f->rows, f->cols, k, &im, &diag),
					 NS_OK);
			out = malloc(x->rows * x->cols * sizeof(double));
			assert_non_null(out);
			memcpy(out, x->v, x->rows * x->cols * sizeof(double));
			assert_int_equal(ns_imputer_transform(im, out, x->rows, &filled, &diag),
					 NS_OK);
			assert_int_equal(filled, n_exp);
			for (size_t i = 0; i < n_exp; i++) {
				size_t r, c;
				double want, got, diff;
				assert_int_equal(fscanf(fp, "%zu %zu", &r, &c), 2);
				want = read_value(fp);
				assert_true(isnan(x->v[r * x->cols + c]));
				got = out[r * x->cols + c];
				diff = fabs(got - want);
				if (!(diff <= TOL))
					fail_msg("run %s -> %s k=%u: cell (%zu, %zu) = %.17g, "
						 "sklearn %.17g",
						 fname, xname, k, r, c, got, want);
				if (diff > max_diff)
					max_diff = diff;
			}
			/* Present cells are untouched, and no NaN is left. */
			for (size_t i = 0; i < x->rows * x->cols; i++) {
				assert_false(isnan(out[i]));
				if (!isnan(x->v[i]))
					assert_memory_equal(&out[i], &x->v[i], sizeof(double));
			}
			n_runs++;
			n_cells += n_exp;
			free(out);
			ns_imputer_free(im);
		}
	}
	fclose(fp);
	free_mats();
	printf("imputer: %zu runs, %zu filled cells, max |diff| to sklearn %.3g\n", n_runs, n_cells,
	       max_diff);
	assert_true(n_runs >= 20);
}

/* select_nth leaves the indices where np.argpartition leaves them. */
static void test_argpartition_order(void **state)
{
	FILE *fp = fopen(GOLDEN "argpartition.txt", "r");
	char word[64];
	size_t n_cases = 0;
	(void)state;

	assert_non_null(fp);
	fscanf(fp, "%*[^\n]\n");
	while (fscanf(fp, "%63s", word) == 1) {
		size_t n, kth;
		double *v;
		uint32_t *t;
		assert_string_equal(word, "select");
		assert_int_equal(fscanf(fp, "%zu %zu", &n, &kth), 2);
		v = malloc(n * sizeof(double));
		t = malloc(n * sizeof(uint32_t));
		assert_true(v && t);
		for (size_t i = 0; i < n; i++) {
			v[i] = read_value(fp);
			t[i] = (uint32_t)i;
		}
		select_nth(v, t, (ptrdiff_t)n, (ptrdiff_t)kth, false);
		for (size_t i = 0; i < n; i++) {
			unsigned want;
			assert_int_equal(fscanf(fp, "%u", &want), 1);
			if (t[i] != want)
				fail_msg("case %zu (n=%zu kth=%zu): place %zu holds %u, numpy %u",
					 n_cases, n, kth, i, t[i], want);
		}
		free(v);
		free(t);
		n_cases++;
	}
	fclose(fp);
	assert_true(n_cases >= 100);
}

/* A small matrix with gaps used by the tests below. */
static double *sample(size_t n, size_t d, unsigned seed, double gap)
{
	double *x = malloc(n * d * sizeof(double));
	uint64_t s = seed * 2654435761u + 1;
	assert_non_null(x);
	for (size_t i = 0; i < n * d; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		x[i] = (double)((s >> 33) % 3) - 1.0; /* ternary, many ties */
		if ((double)((s >> 11) % 1000) / 1000.0 < gap)
			x[i] = NAN;
	}
	return x;
}

static void test_errors(void **state)
{
	double x[] = {1, NAN, 3, 2, NAN, 4, 0, NAN, 5};
	struct ns_imputer *im = NULL;
	struct ns_diag diag;
	(void)state;

	/* A column missing everywhere: refused, and named. */
	ns_diag_clear(&diag);
	assert_int_equal(ns_imputer_fit(x, 3, 3, 3, &im, &diag), NS_ERR_INVALID);
	assert_null(im);
	assert_int_equal(diag.column, 2);
	assert_non_null(strstr(diag.message, "column 1 (0-based)"));

	x[4] = 7;
	assert_int_equal(ns_imputer_fit(x, 3, 3, 0, &im, &diag), NS_ERR_INVALID);
	assert_int_equal(ns_imputer_fit(x, 0, 3, 3, &im, &diag), NS_ERR_INVALID);
	assert_int_equal(ns_imputer_fit(x, 3, 0, 3, &im, &diag), NS_ERR_INVALID);
	x[0] = INFINITY;
	assert_int_equal(ns_imputer_fit(x, 3, 3, 3, &im, &diag), NS_ERR_INVALID);
	assert_int_equal(diag.line, 1);
	assert_int_equal(diag.column, 1);
	assert_null(im);
	x[0] = 1;
	assert_int_equal(ns_imputer_fit(x, 3, 3, 3, &im, NULL), NS_OK);
	assert_int_equal(ns_imputer_n_features(im), 3);
	assert_int_equal(ns_imputer_n_rows(im), 3);
	assert_int_equal(ns_imputer_k(im), 3);
	{
		/* An infinite value in transform: refused, x untouched. */
		double y[] = {NAN, 1, 2, 3, -INFINITY, NAN};
		size_t filled = 99;
		assert_int_equal(ns_imputer_transform(im, y, 2, &filled, &diag), NS_ERR_INVALID);
		assert_int_equal(diag.line, 2);
		assert_int_equal(diag.column, 2);
		assert_true(isnan(y[0]) && isnan(y[5]));
		assert_int_equal(filled, 99);
		/* Nothing to fill, and no rows at all. */
		y[0] = 0, y[4] = 0, y[5] = 0;
		assert_int_equal(ns_imputer_transform(im, y, 2, &filled, &diag), NS_OK);
		assert_int_equal(filled, 0);
		assert_int_equal(ns_imputer_transform(im, NULL, 0, &filled, &diag), NS_OK);
		assert_int_equal(filled, 0);
	}
	ns_imputer_free(im);
	ns_imputer_free(NULL);
}

/* k above the donor count: the mean of every donor, as sklearn's min(k, donors). */
static void test_k_above_donors(void **state)
{
	double f[] = {1, 10, 2, NAN, 3, 30, NAN, 40};
	double x[] = {5, NAN, NAN, NAN};
	struct ns_imputer *im;
	size_t filled;
	(void)state;

	assert_int_equal(ns_imputer_fit(f, 4, 2, 100, &im, NULL), NS_OK);
	assert_int_equal(ns_imputer_transform(im, x, 2, &filled, NULL), NS_OK);
	assert_int_equal(filled, 3);
	/* Column 1 donors: rows 0, 2, 3 (row 3 at NaN distance still counts). */
	assert_true(fabs(x[1] - (10 + 30 + 40) / 3.0) < 1e-12);
	/* The all-missing row shares nothing with anyone: the column means. */
	assert_true(fabs(x[2] - 2.0) < 1e-12);
	assert_true(fabs(x[3] - 80.0 / 3.0) < 1e-12);
	ns_imputer_free(im);
}

static void test_save_load(void **state)
{
	size_t n = 300, d = 7, filled_a, filled_b;
	double *f = sample(n, d, 1, 0.05), *xa = sample(100, d, 2, 0.2), *xb;
	struct ns_imputer *im, *back;
	uint8_t *buf, *buf2;
	size_t len, len2;
	(void)state;

	assert_int_equal(ns_imputer_fit(f, n, d, 3, &im, NULL), NS_OK);
	assert_int_equal(ns_imputer_to_buffer(im, &buf, &len), NS_OK);
	assert_int_equal(ns_imputer_from_buffer(buf, len, &back, NULL), NS_OK);
	assert_int_equal(ns_imputer_to_buffer(back, &buf2, &len2), NS_OK);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	xb = malloc(100 * d * sizeof(double));
	assert_non_null(xb);
	memcpy(xb, xa, 100 * d * sizeof(double));
	assert_int_equal(ns_imputer_transform(im, xa, 100, &filled_a, NULL), NS_OK);
	assert_int_equal(ns_imputer_transform(back, xb, 100, &filled_b, NULL), NS_OK);
	assert_int_equal(filled_a, filled_b);
	assert_true(filled_a > 0);
	assert_memory_equal(xa, xb, 100 * d * sizeof(double));
	ns_free(buf2);
	ns_imputer_free(back);

	/* Every truncation is corrupt. */
	for (size_t cut = 0; cut < len; cut += cut < 64 ? 1 : 97) {
		struct ns_diag diag;
		back = NULL;
		assert_int_equal(ns_imputer_from_buffer(buf, cut, &back, &diag), NS_ERR_CORRUPT);
		assert_null(back);
	}
	/* Flipped bytes: corrupt or, for a value byte, a usable imputer. */
	for (size_t at = 0; at < len; at += at < 64 ? 1 : 131) {
		for (int bit = 0; bit < 8; bit += 3) {
			enum ns_status st;
			back = NULL;
			buf[at] ^= (uint8_t)(1u << bit);
			st = ns_imputer_from_buffer(buf, len, &back, NULL);
			assert_true(st == NS_OK || st == NS_ERR_CORRUPT);
			if (st == NS_OK) {
				memcpy(xb, xa, 10 * d * sizeof(double));
				xb[0] = NAN;
				assert_int_equal(ns_imputer_transform(back, xb, 10, NULL, NULL),
						 NS_OK);
				ns_imputer_free(back);
			}
			buf[at] ^= (uint8_t)(1u << bit);
		}
	}
	{
		/* Hand-made headers: huge counts, zero k, trailing bytes. */
		uint8_t h[8 + 8 + 8 + 4 + 8] = "NSIMP1";
		struct ns_imputer *bad = NULL;
		memset(h + 6, 0, sizeof(h) - 6);
		h[8] = 1, h[16] = 1, h[24] = 3; /* n = 1, d = 1, k = 3, value 0 */
		assert_int_equal(ns_imputer_from_buffer(h, sizeof(h), &bad, NULL), NS_OK);
		ns_imputer_free(bad);
		bad = NULL;
		h[24] = 0;
		assert_int_equal(ns_imputer_from_buffer(h, sizeof(h), &bad, NULL), NS_ERR_CORRUPT);
		h[24] = 3;
		memset(h + 8, 0xff, 8); /* n = 2^64 - 1 */
		assert_int_equal(ns_imputer_from_buffer(h, sizeof(h), &bad, NULL), NS_ERR_CORRUPT);
		memset(h + 8, 0, 8);
		h[8] = 1;
		h[20] = 0x40; /* d = 2^38 */
		assert_int_equal(ns_imputer_from_buffer(h, sizeof(h), &bad, NULL), NS_ERR_CORRUPT);
		h[20] = 0;
		memset(h + 28, 0xff, 8); /* the value is a NaN: column all missing */
		assert_int_equal(ns_imputer_from_buffer(h, sizeof(h), &bad, NULL), NS_ERR_CORRUPT);
		memset(h + 28, 0, 8);
		h[34] = 0xf0, h[35] = 0x7f; /* +inf */
		assert_int_equal(ns_imputer_from_buffer(h, sizeof(h), &bad, NULL), NS_ERR_CORRUPT);
		assert_null(bad);
	}
	ns_free(buf);
	ns_imputer_free(im);
	free(f);
	free(xa);
	free(xb);
}

/* One thread or many: the same bits (every row is independent). */
static void test_threads(void **state)
{
	size_t n = 2000, d = 12;
	double *f = sample(n, d, 3, 0.02), *a = sample(600, d, 4, 0.1), *b;
	struct ns_imputer *im;
	int saved = omp_get_max_threads();
	(void)state;

	b = malloc(600 * d * sizeof(double));
	assert_non_null(b);
	memcpy(b, a, 600 * d * sizeof(double));
	assert_int_equal(ns_imputer_fit(f, n, d, 3, &im, NULL), NS_OK);
	omp_set_num_threads(1);
	assert_int_equal(ns_imputer_transform(im, a, 600, NULL, NULL), NS_OK);
	omp_set_num_threads(4);
	assert_int_equal(ns_imputer_transform(im, b, 600, NULL, NULL), NS_OK);
	omp_set_num_threads(saved);
	assert_memory_equal(a, b, 600 * d * sizeof(double));
	ns_imputer_free(im);
	free(f);
	free(a);
	free(b);
}

static void test_alloc_failures(void **state)
{
	size_t n = 200, d = 5;
	double *f = sample(n, d, 5, 0.05), *x = sample(50, d, 6, 0.2), *y;
	struct ns_imputer *im = NULL;
	uint8_t *buf;
	size_t len;
	(void)state;

	y = malloc(50 * d * sizeof(double));
	assert_non_null(y);
	for (long k = 0; k < 20; k++) {
		enum ns_status st;
		im = NULL;
		ns_alloc_fail_after(k);
		st = ns_imputer_fit(f, n, d, 3, &im, NULL);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			ns_imputer_free(im);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(im);
	}
	assert_int_equal(ns_imputer_fit(f, n, d, 3, &im, NULL), NS_OK);
	assert_int_equal(ns_imputer_to_buffer(im, &buf, &len), NS_OK);
	for (long k = 0; k < 20; k++) {
		enum ns_status st;
		struct ns_imputer *back = NULL;
		ns_alloc_fail_after(k);
		st = ns_imputer_from_buffer(buf, len, &back, NULL);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			ns_imputer_free(back);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
	}
	for (long k = 0; k < 5; k++) {
		enum ns_status st;
		memcpy(y, x, 50 * d * sizeof(double));
		ns_alloc_fail_after(k);
		st = ns_imputer_transform(im, y, 50, NULL, NULL);
		ns_alloc_fail_reset();
		if (st == NS_OK)
			break;
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_memory_equal(y, x, 50 * d * sizeof(double)); /* untouched */
	}
	ns_free(buf);
	ns_imputer_free(im);
	free(f);
	free(x);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches_sklearn), cmocka_unit_test(test_argpartition_order),
		cmocka_unit_test(test_errors),          cmocka_unit_test(test_k_above_donors),
		cmocka_unit_test(test_save_load),       cmocka_unit_test(test_threads),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
