/*
 * tests/unit/stats/test_stats.c - the drift tests against scipy 1.10's
 * figures (tests/golden/stats/cases.txt, made by
 * tests/tools/gen_stats_cases.py): ks_2samp (exact and asymptotic
 * branches), kstwo.sf, chi2_contingency and chi2.sf; the phishing data's
 * 30 ternary columns (8844 vs 2211 rows) against scipy and against a time
 * budget; bad input and allocation failure.
 */
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* The statics: the one-sample Kolmogorov distribution is checked directly. */
#include "stats/ks.c"

#define GOLDEN NETSEC_SOURCE_DIR "/tests/golden/stats/cases.txt"
#define PHISHING NETSEC_SOURCE_DIR "/data/phisingData.csv"

/*
 * p-values: within 1e-6 absolute, and within REL_TOL relative from 1e-300
 * to 1e-3 (below 1e-300 both sides are underflowing noise: scipy's exact
 * recursion runs into subnormals, ours flushes them).
 */
#define ABS_TOL 1e-6
#define REL_TOL 1e-7
#define REL_FLOOR 1e-300

struct errors {
	double max_abs, max_rel;
	int n;
};

static void check_p(double got, double want, const char *what, int line, struct errors *e)
{
	double abs_err = fabs(got - want);
	double rel_err = want > 0 ? abs_err / want : (got == 0 ? 0 : INFINITY);
	bool relative = want >= REL_FLOOR && want < 1e-3;
	e->n++;
	if (abs_err > e->max_abs)
		e->max_abs = abs_err;
	if (relative && rel_err > e->max_rel)
		e->max_rel = rel_err;
	if (!(abs_err <= ABS_TOL) || (relative && !(rel_err <= REL_TOL))) {
		fprintf(stderr, "cases.txt:%d: %s = %.17g, scipy: %.17g\n", line, what, got, want);
		fail();
	}
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* splitmix64 uniforms in [0, 1), as the generator script makes them. */
static double next_uniform(uint64_t *state)
{
	uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}

/* Parses a sample spec (see the generator script) into a new array. */
static double *parse_sample(const char *spec, size_t *n_out)
{
	double *x = NULL;
	size_t n = 0;
	if (strncmp(spec, "L:", 2) == 0) {
		const char *s = spec + 2;
		size_t cap = 1;
		for (const char *c = s; *c; c++)
			cap += *c == ',';
		x = malloc(cap * sizeof(*x));
		assert_non_null(x);
		while (*s) {
			char *end;
			x[n++] = strtod(s, &end);
			assert_true(end != s);
			s = *end == ',' ? end + 1 : end;
		}
	} else {
		char kind;
		unsigned long long seed;
		double p1, p2;
		uint64_t state;
		assert_int_equal(sscanf(spec, "G:%c:%llu:%zu:%lf:%lf", &kind, &seed, &n, &p1, &p2),
				 5);
		state = seed;
		x = malloc(n * sizeof(*x));
		assert_non_null(x);
		for (size_t i = 0; i < n; i++) {
			double u = kind == 'A' ? 0.0 : next_uniform(&state);
			switch (kind) {
			case 'U':
				x[i] = p1 + p2 * u;
				break;
			case 'S':
				x[i] = p1 + p2 * u * u;
				break;
			case 'I':
				x[i] = floor(p2 * u) + p1;
				break;
			case 'T':
				x[i] = u < p1 ? -1.0 : u < p2 ? 0.0 : 1.0;
				break;
			case 'A':
				x[i] = p1 + p2 * (double)i;
				break;
			default:
				fail_msg("unknown generator %c", kind);
			}
		}
	}
	*n_out = n;
	return x;
}

static enum ns_ks_method method_of(const char *s)
{
	return strcmp(s, "exact") == 0 ? NS_KS_EXACT : NS_KS_ASYMP;
}

static void test_golden(void **state)
{
	FILE *fp = fopen(GOLDEN, "r");
	char *line = NULL;
	size_t cap = 0;
	int line_no = 0, n_ks = 0, n_kstwo = 0, n_chi2 = 0, n_sf = 0;
	struct errors e_exact = {0}, e_asymp = {0}, e_kstwo = {0}, e_chi2 = {0}, e_sf = {0};
	(void)state;
	assert_non_null(fp);
	while (getline(&line, &cap, fp) > 0) {
		char kind[16];
		int used = 0;
		line_no++;
		if (sscanf(line, "%15s %n", kind, &used) != 1)
			continue;
		if (strcmp(kind, "ks") == 0) {
			char *sa = malloc(cap), *sb = malloc(cap), meth[8];
			double d, p, *a, *b;
			size_t na, nb;
			struct ns_ks_result r;
			assert_int_equal(
				sscanf(line + used, "%s %s %lf %lf %7s", sa, sb, &d, &p, meth), 5);
			a = parse_sample(sa, &na);
			b = parse_sample(sb, &nb);
			assert_int_equal(ns_ks_2samp(a, na, b, nb, &r), NS_OK);
			if (r.statistic != d) {
				fprintf(stderr, "cases.txt:%d: D = %.17g, scipy: %.17g\n", line_no,
					r.statistic, d);
				fail();
			}
			if (r.method != method_of(meth)) {
				fprintf(stderr, "cases.txt:%d: method %d, scipy: %s\n", line_no,
					(int)r.method, meth);
				fail();
			}
			check_p(r.pvalue, p, "ks p", line_no,
				r.method == NS_KS_EXACT ? &e_exact : &e_asymp);
			/* The test is symmetric in its samples. */
			{
				struct ns_ks_result s;
				assert_int_equal(ns_ks_2samp(b, nb, a, na, &s), NS_OK);
				assert_true(s.statistic == r.statistic);
				assert_true(fabs(s.pvalue - r.pvalue) <=
						    1e-12 * (r.pvalue + 1e-300) ||
					    fabs(s.pvalue - r.pvalue) <= 1e-15);
			}
			free(a);
			free(b);
			free(sa);
			free(sb);
			n_ks++;
		} else if (strcmp(kind, "kstwo") == 0) {
			long n;
			double x, p;
			assert_int_equal(sscanf(line + used, "%ld %lf %lf", &n, &x, &p), 3);
			check_p(kolmogorov_sf(n, x), p, "kstwo.sf", line_no, &e_kstwo);
			n_kstwo++;
		} else if (strcmp(kind, "chi2") == 0) {
			size_t rows, cols;
			int off = 0;
			double *t, stat, p;
			unsigned dof;
			struct ns_chi2_result r;
			const char *s = line + used;
			assert_int_equal(sscanf(s, "%zu %zu %n", &rows, &cols, &off), 2);
			s += off;
			t = malloc(rows * cols * sizeof(*t));
			for (size_t i = 0; i < rows * cols; i++) {
				assert_int_equal(sscanf(s, "%lf %n", &t[i], &off), 1);
				s += off;
			}
			assert_int_equal(sscanf(s, "%lf %lf %u", &stat, &p, &dof), 3);
			assert_int_equal(ns_chi2_contingency(t, rows, cols, &r), NS_OK);
			assert_int_equal(r.dof, dof);
			if (!(fabs(r.statistic - stat) <= 1e-9 * (1 + stat))) {
				fprintf(stderr, "cases.txt:%d: X2 = %.17g, scipy: %.17g\n", line_no,
					r.statistic, stat);
				fail();
			}
			check_p(r.pvalue, p, "chi2 p", line_no, &e_chi2);
			free(t);
			n_chi2++;
		} else if (strcmp(kind, "chi2sf") == 0) {
			double x, dof, p;
			assert_int_equal(sscanf(line + used, "%lf %lf %lf", &x, &dof, &p), 3);
			check_p(ns_chi2_sf(x, dof), p, "chi2.sf", line_no, &e_sf);
			n_sf++;
		}
	}
	free(line);
	fclose(fp);
	fprintf(stderr,
		"stats golden: ks %d (exact max abs %.3g rel %.3g; asymp max abs %.3g rel %.3g), "
		"kstwo %d (abs %.3g rel %.3g), chi2 %d (abs %.3g rel %.3g), chi2.sf %d (abs %.3g "
		"rel %.3g)\n",
		n_ks, e_exact.max_abs, e_exact.max_rel, e_asymp.max_abs, e_asymp.max_rel, n_kstwo,
		e_kstwo.max_abs, e_kstwo.max_rel, n_chi2, e_chi2.max_abs, e_chi2.max_rel, n_sf,
		e_sf.max_abs, e_sf.max_rel);
	assert_true(n_ks >= 200 && n_kstwo >= 200 && n_chi2 >= 30 && n_sf >= 100);
	assert_true(e_exact.n > 0 && e_asymp.n > 0);
}

/*
 * The real use: each of the phishing data's 30 ternary features, the first
 * 8844 rows against the last 2211 (the exact branch), checked against scipy
 * and timed.
 */
static void test_phishing_columns(void **state)
{
	enum { N_COLS = 31, N_FEATURES = 30 };
	FILE *fp = fopen(PHISHING, "r");
	char *line = NULL;
	size_t cap = 0, n_rows = 0, n_alloc = 0;
	double *cols[N_COLS] = {0}, total = 0.0, worst = 0.0;
	struct errors e = {0};
	int checked = 0;
	(void)state;
	assert_non_null(fp);
	assert_true(getline(&line, &cap, fp) > 0); /* header */
	while (getline(&line, &cap, fp) > 0) {
		char *s = line, *end;
		if (n_rows == n_alloc) {
			n_alloc = n_alloc ? 2 * n_alloc : 4096;
			for (int c = 0; c < N_COLS; c++) {
				cols[c] = realloc(cols[c], n_alloc * sizeof(double));
				assert_non_null(cols[c]);
			}
		}
		for (int c = 0; c < N_COLS; c++) {
			cols[c][n_rows] = strtod(s, &end);
			assert_true(end != s);
			s = *end == ',' ? end + 1 : end;
		}
		n_rows++;
	}
	free(line);
	fclose(fp);
	assert_int_equal(n_rows, 11055);

	fp = fopen(GOLDEN, "r");
	assert_non_null(fp);
	line = NULL;
	cap = 0;
	for (int line_no = 1; getline(&line, &cap, fp) > 0; line_no++) {
		size_t ntrain;
		int col;
		double d, p, t0, dt;
		char meth[8];
		struct ns_ks_result r;
		if (sscanf(line, "phishing %zu %d %lf %lf %7s", &ntrain, &col, &d, &p, meth) != 5)
			continue;
		assert_true(col >= 0 && col < N_FEATURES && ntrain < n_rows);
		t0 = now_seconds();
		assert_int_equal(
			ns_ks_2samp(cols[col], ntrain, cols[col] + ntrain, n_rows - ntrain, &r),
			NS_OK);
		dt = now_seconds() - t0;
		total += dt;
		if (dt > worst)
			worst = dt;
		assert_true(r.statistic == d);
		assert_int_equal(r.method, method_of(meth));
		check_p(r.pvalue, p, "phishing ks p", line_no, &e);
		checked++;
	}
	free(line);
	fclose(fp);
	for (int c = 0; c < N_COLS; c++)
		free(cols[c]);
	fprintf(stderr,
		"phishing: %d columns of 8844 vs 2211 in %.3f ms (slowest %.3f ms), max abs err "
		"%.3g\n",
		checked, total * 1e3, worst * 1e3, e.max_abs);
	assert_int_equal(checked, N_FEATURES);
	assert_true(total < 1.0);
}

/* A strongly drifted ternary column is the slow end of the exact branch. */
static void test_exact_worst_case_time(void **state)
{
	size_t na = 8844, nb = 2211;
	double *a = malloc(na * sizeof(*a)), *b = malloc(nb * sizeof(*b)), t0, dt;
	uint64_t s = 7;
	struct ns_ks_result r;
	(void)state;
	for (size_t i = 0; i < na; i++)
		a[i] = next_uniform(&s) < 0.5 ? -1.0 : 1.0;
	for (size_t i = 0; i < nb; i++)
		b[i] = next_uniform(&s) < 0.1 ? -1.0 : 1.0;
	t0 = now_seconds();
	assert_int_equal(ns_ks_2samp(a, na, b, nb, &r), NS_OK);
	dt = now_seconds() - t0;
	fprintf(stderr, "drifted 8844 vs 2211: D = %.4f, p = %.3g, %.3f ms\n", r.statistic,
		r.pvalue, dt * 1e3);
	assert_int_equal(r.method, NS_KS_EXACT);
	assert_true(r.pvalue < 1e-100);
	assert_true(dt < 0.5);
	free(a);
	free(b);
}

static void test_bad_input(void **state)
{
	double a[] = {1.0, 2.0, 3.0}, b[] = {1.5, NAN}, t[] = {1, 2, 3, 4};
	struct ns_ks_result r = {.statistic = -1};
	struct ns_chi2_result c = {.dof = 77};
	(void)state;
	assert_int_equal(ns_ks_2samp(a, 3, b, 2, &r), NS_ERR_INVALID);
	assert_int_equal(ns_ks_2samp(b, 2, a, 3, &r), NS_ERR_INVALID);
	assert_int_equal(ns_ks_2samp(a, 0, a, 3, &r), NS_ERR_INVALID);
	assert_int_equal(ns_ks_2samp(a, 3, a, 0, &r), NS_ERR_INVALID);
	assert_int_equal(ns_ks_2samp(NULL, 3, a, 3, &r), NS_ERR_INVALID);
	assert_int_equal(ns_ks_2samp(a, 3, a, 3, NULL), NS_ERR_INVALID);
	assert_true(r.statistic == -1); /* untouched on error */
	/* Identical samples. */
	assert_int_equal(ns_ks_2samp(a, 3, a, 3, &r), NS_OK);
	assert_true(r.statistic == 0.0 && r.pvalue == 1.0 && r.method == NS_KS_EXACT);

	assert_int_equal(ns_chi2_contingency(t, 0, 2, &c), NS_ERR_INVALID);
	assert_int_equal(ns_chi2_contingency(t, 2, 0, &c), NS_ERR_INVALID);
	assert_int_equal(ns_chi2_contingency(NULL, 2, 2, &c), NS_ERR_INVALID);
	t[1] = -1;
	assert_int_equal(ns_chi2_contingency(t, 2, 2, &c), NS_ERR_INVALID);
	t[1] = NAN;
	assert_int_equal(ns_chi2_contingency(t, 2, 2, &c), NS_ERR_INVALID);
	t[1] = INFINITY;
	assert_int_equal(ns_chi2_contingency(t, 2, 2, &c), NS_ERR_INVALID);
	t[0] = t[1] = 0; /* a zero row */
	assert_int_equal(ns_chi2_contingency(t, 2, 2, &c), NS_ERR_INVALID);
	t[0] = 1, t[1] = 0, t[3] = 0; /* a zero column */
	assert_int_equal(ns_chi2_contingency(t, 2, 2, &c), NS_ERR_INVALID);
	assert_int_equal(c.dof, 77);
	t[1] = 5, t[3] = 4;
	assert_int_equal(ns_chi2_contingency(t, 1, 4, &c), NS_OK);
	assert_true(c.statistic == 0.0 && c.pvalue == 1.0 && c.dof == 0);

	assert_true(isnan(ns_chi2_sf(NAN, 2)));
	assert_true(isnan(ns_chi2_sf(1, 0)));
	assert_true(isnan(ns_chi2_sf(1, -1)));
	assert_true(ns_chi2_sf(-1, 3) == 1.0);
	assert_true(ns_chi2_sf(0, 3) == 1.0);
	assert_true(ns_chi2_sf(INFINITY, 3) == 0.0);
}

static void test_out_of_memory(void **state)
{
	double a[50], b[40];
	struct ns_ks_result r;
	enum ns_status st;
	long n_alloc;
	(void)state;
	for (int i = 0; i < 50; i++)
		a[i] = i;
	for (int i = 0; i < 40; i++)
		b[i] = i + 0.5;
	ns_alloc_fail_reset();
	assert_int_equal(ns_ks_2samp(a, 50, b, 40, &r), NS_OK);
	n_alloc = ns_alloc_count();
	for (long k = 0; k < n_alloc; k++) {
		ns_alloc_fail_after(k);
		st = ns_ks_2samp(a, 50, b, 40, &r);
		ns_alloc_fail_reset();
		assert_int_equal(st, NS_ERR_NOMEM);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_phishing_columns),
		cmocka_unit_test(test_exact_worst_case_time),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_out_of_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
