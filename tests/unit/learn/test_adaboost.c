/*
 * tests/unit/learn/test_adaboost.c - AdaBoost on stumps (lib/learn/adaboost.c).
 *
 * Slow references: an exhaustive weighted gini stump search against the
 * stump fitted; sample weights after one SAMME and one SAMME.R round computed
 * by hand; scikit-learn 1.2.1's probabilities and importances on small
 * generated sets (the same generator in Python; no split ties: the figures
 * do not depend on sklearn's random_state).  Also early stops, absent
 * classes, zero weights, prefixes, thread-count determinism, save/load,
 * corrupt payloads and allocation failures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NS_ADA_TEST_HOOKS
#include "learn/adaboost.c"

/* From /tmp/gbdt/refdata.py with scikit-learn 1.2.1 (first 6 rows' probabilities):
 * ada_r_a: SAMME.R, 10 stumps; ada_r_a_w: SAMME.R, learning_rate 0.5, weighted;
 * ada_d_a: SAMME; ada_r_b: SAMME.R on 3 classes; ada_d_b: SAMME, learning_rate 0.7. */
static const double ada_r_a_proba[] = {
	0.50857331695498376, 0.4914266830450163,   0.62407223620209629, 0.37592776379790377,
	0.98522931678071135, 0.014770683219288627, 0.98422060016096391, 0.015779399839036118,
	0.57063283949894972, 0.42936716050105028,  0.50574047030929148, 0.49425952969070852};
static const double ada_r_a_fi[] = {0.10000000000000001, 0.40000000000000002, 0.20000000000000001,
				    0.29999999999999999};
static const double ada_r_a_w_proba[] = {
	0.52831381194411708, 0.47168618805588286,  0.61387532088823249, 0.38612467911176757,
	0.98679484589503919, 0.013205154104960808, 0.98290275109380076, 0.017097248906199132,
	0.56557399975074774, 0.43442600024925238,  0.50693465755185696, 0.49306534244814298};
static const double ada_r_a_w_fi[] = {0.20000000000000001, 0.40000000000000002, 0.10000000000000001,
				      0.29999999999999999};
static const double ada_d_a_proba[] = {
	0.52283393836512682, 0.47716606163487324, 0.61674925184347396, 0.38325074815652599,
	0.7310585786300049,  0.26894142136999516, 0.69196754448517861, 0.30803245551482145,
	0.5700525180444217,  0.42994748195557836, 0.47787887972214332, 0.52212112027785673};
static const double ada_d_a_fi[] = {0.17187074688237775, 0.68990366040745588, 0,
				    0.13822559271016618};
static const double ada_r_b_proba[] = {
	0.33543780606832918, 0.33151112691450552, 0.3330510670171653,  0.34901047283582914,
	0.3319546672375534,  0.3190348599266174,  0.34631870458925224, 0.35869108280839801,
	0.29499021260234981, 0.35888114620581202, 0.29910426371844012, 0.34201459007574797,
	0.32240836765288872, 0.3403364523650162,  0.33725517998209509, 0.32693355548881381,
	0.31131568782547897, 0.36175075668570711};
static const double ada_r_b_fi[] = {0.20000000000000001, 0.40000000000000002, 0.40000000000000002};
static const double ada_d_b_proba[] = {
	0.33448749799314476, 0.33458246382235751, 0.33093003818449768, 0.33448749799314476,
	0.33458246382235751, 0.33093003818449768, 0.34876911121298909, 0.35122789913331043,
	0.30000298965370048, 0.3514517849572536,  0.29109803876252627, 0.35745017628022013,
	0.33448749799314476, 0.33458246382235751, 0.33093003818449768, 0.33385189965951567,
	0.30786825393097766, 0.35827984640950672};
static const double ada_d_b_fi[] = {0.42451438833505678, 0.10738688308945313, 0.46809872857549023};

/* ---- data ------------------------------------------------------------------------ */

struct tdata {
	size_t n, nf;
	uint32_t n_classes;
	double *x;
	uint32_t *y;
	double *w;
};

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static void tdata_alloc(struct tdata *t, size_t n, size_t nf, uint32_t k)
{
	t->n = n;
	t->nf = nf;
	t->n_classes = k;
	t->x = calloc(n * nf, sizeof(double));
	t->y = calloc(n, sizeof(uint32_t));
	t->w = calloc(n, sizeof(double));
	assert_non_null(t->x);
	assert_non_null(t->y);
	assert_non_null(t->w);
}

static void tdata_free(struct tdata *t)
{
	free(t->x);
	free(t->y);
	free(t->w);
}

/* The binary set "A" of refdata.py. */
static void data_a(struct tdata *t)
{
	uint64_t s = 1;
	tdata_alloc(t, 80, 4, 2);
	for (size_t i = 0; i < t->n; i++) {
		double *x = t->x + i * 4;
		for (int j = 0; j < 4; j++)
			x[j] = (double)(lcg(&s) % (uint64_t)(3 + 2 * j));
		double noise = (double)(lcg(&s) % 5);
		t->y[i] = x[0] + x[1] - x[2] / 2 + noise - 2 > 3 ? 1 : 0;
		t->w[i] = (double)(1 + lcg(&s) % 3);
	}
}

/* The 3-class set "B" of refdata.py. */
static void data_b(struct tdata *t)
{
	uint64_t s = 7;
	tdata_alloc(t, 90, 3, 3);
	for (size_t i = 0; i < t->n; i++) {
		double *x = t->x + i * 3;
		for (int j = 0; j < 3; j++)
			x[j] = (double)(lcg(&s) % (uint64_t)(4 + j));
		t->y[i] = (uint32_t)(((uint64_t)x[0] + (uint64_t)x[1] + lcg(&s) % 3) % 3);
		t->w[i] = 1;
	}
}

/* A noisy k-class set with continuous features (and near-equal values). */
static void data_blobs(struct tdata *t, size_t n, size_t nf, uint32_t k, uint64_t seed)
{
	uint64_t s = seed;
	tdata_alloc(t, n, nf, k);
	for (size_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(lcg(&s) % k);
		t->y[i] = c;
		t->w[i] = 0.5 + (double)(lcg(&s) % 4) / 2;
		for (size_t j = 0; j < nf; j++) {
			double u = (double)(lcg(&s) % 1000) / 1000.0;
			if (lcg(&s) % 5 == 0)
				u += 3e-8; /* closer than sklearn's FEATURE_THRESHOLD */
			t->x[i * nf + j] = u * 4 + (j % (k + 1) == c ? 1.5 : 0.0);
		}
	}
}

static struct ns_dataset as_dataset(const struct tdata *t, bool weighted)
{
	struct ns_dataset d = {t->n, t->nf, t->x, t->y, t->n_classes, weighted ? t->w : NULL};
	return d;
}

static struct ns_params params_of(const char *list)
{
	struct ns_params p;
	struct ns_diag dg;
	ns_params_init(&p, &ns__family_adaboost);
	ns_diag_clear(&dg);
	if (ns_params_parse(&p, list, &dg) != NS_OK)
		fail_msg("params '%s': %s", list, dg.message);
	return p;
}

static struct ada *fit(const char *list, const struct ns_dataset *d, int threads)
{
	struct ns_params p = params_of(list);
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag dg;
	void *impl = NULL;
	o.n_threads = threads;
	ns_diag_clear(&dg);
	enum ns_status st = ns__family_adaboost.ops->fit(&p, d, &o, &impl, &dg);
	if (st != NS_OK)
		fail_msg("fit '%s': %s (%s)", list, ns_status_name(st), dg.message);
	return impl;
}

static double *proba(const struct ada *m, const double *x, size_t n, size_t nf, uint32_t k,
		     size_t prefix)
{
	double *p = malloc(n * k * sizeof(double));
	assert_non_null(p);
	ns__family_adaboost.ops->predict_proba(m, x, n, nf, k, prefix, p);
	return p;
}

static uint8_t *save(const struct ada *m, size_t *len)
{
	struct ns__wbuf w;
	ns__w_init(&w);
	assert_int_equal(ns__family_adaboost.ops->save(m, &w), NS_OK);
	*len = w.len;
	uint8_t *out = malloc(w.len ? w.len : 1);
	assert_non_null(out);
	memcpy(out, w.data, w.len);
	ns__w_fini(&w);
	return out;
}

static struct ada *load(const uint8_t *b, size_t len, const char *list, size_t nf, uint32_t k,
			enum ns_status *st)
{
	struct ns__rbuf r;
	struct ns_diag dg;
	void *impl = NULL;
	struct ns_params p = params_of(list);
	ns_diag_clear(&dg);
	ns__r_init(&r, b, len);
	*st = ns__family_adaboost.ops->load(&r, &p, nf, k, &impl, &dg);
	if (*st == NS_OK && !ns__r_done(&r)) {
		ada_free(impl);
		*st = NS_ERR_CORRUPT;
		return NULL;
	}
	if (*st != NS_OK)
		assert_null(impl);
	return impl;
}

static void check_close(double got, double want, double tol, const char *what, size_t i)
{
	if (!(fabs(got - want) <= tol * (1 + fabs(want))))
		fail_msg("%s[%zu]: got %.17g, want %.17g", what, i, got, want);
}

/* ---- the table ------------------------------------------------------------------------ */

static void test_table(void **state)
{
	struct ns_params p;
	(void)state;
	assert_ptr_equal(ns_family_find("adaboost"), &ns__family_adaboost);
	assert_ptr_equal(ns_family_find("ada"), &ns__family_adaboost);
	assert_ptr_equal(ns_family_find("AdaBoostClassifier"), &ns__family_adaboost);
	assert_true(ns_family_needs_complete(&ns__family_adaboost));
	assert_string_equal(ns_family_prefix_param(&ns__family_adaboost), "n_estimators");
	ns_params_init(&p, &ns__family_adaboost);
	assert_true(ns_params_get(&p, "algorithm") == SAMME_R);
	assert_true(ns_params_get(&p, "n_estimators") == 50);
	assert_true(ns_params_get(&p, "learning_rate") == 1.0);
	assert_int_equal(ns_params_set(&p, "algorithm", "samme", NULL), NS_OK);
	assert_true(ns_params_get(&p, "algorithm") == SAMME);
	assert_int_equal(ns_params_set(&p, "algorithm", "real", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "learning_rate", "0", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "n_estimators", "0", NULL), NS_ERR_INVALID);
}

/* ---- the stump: exhaustive reference ----------------------------------------------------- */

struct bstump {
	double score;
	size_t f;
	double thr;
	double pl[4], pr[4];
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The best weighted-gini stump over every feature and threshold (K <= 4). */
static struct bstump brute_stump(const struct tdata *t, const double *w)
{
	struct bstump best = {-INFINITY, 0, 0, {0}, {0}};
	const uint32_t K = t->n_classes;
	double *v = malloc(t->n * sizeof(double));
	assert_non_null(v);
	for (size_t f = 0; f < t->nf; f++) {
		size_t m = 0;
		for (size_t i = 0; i < t->n; i++)
			if (w[i] > 0)
				v[m++] = t->x[i * t->nf + f];
		qsort(v, m, sizeof(double), cmp_double);
		for (size_t a = 1; a < m; a++) {
			if (!(v[a] > v[a - 1] + 1e-7))
				continue;
			double thr = v[a - 1] / 2 + v[a] / 2;
			double cl[4] = {0}, cr[4] = {0}, wl = 0, wr = 0;
			for (size_t i = 0; i < t->n; i++) {
				if (!(w[i] > 0))
					continue;
				if (t->x[i * t->nf + f] <= thr) {
					cl[t->y[i]] += w[i];
					wl += w[i];
				} else {
					cr[t->y[i]] += w[i];
					wr += w[i];
				}
			}
			/* Minimising weighted gini = maximising sum c^2 / w on both sides. */
			double score = 0;
			for (uint32_t k = 0; k < K; k++)
				score += cl[k] * cl[k] / wl + cr[k] * cr[k] / wr;
			if (score > best.score * (1 + 1e-12)) {
				best.score = score;
				best.f = f;
				best.thr = thr;
				for (uint32_t k = 0; k < K; k++) {
					best.pl[k] = cl[k] / wl;
					best.pr[k] = cr[k] / wr;
				}
			}
		}
	}
	free(v);
	return best;
}

static void test_stump_brute_force(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 30; seed++) {
		struct tdata t;
		uint64_t s = seed;
		uint32_t K = 2 + (uint32_t)(seed % 3);
		tdata_alloc(&t, 20 + seed * 4, 3, K);
		for (size_t i = 0; i < t.n; i++) {
			for (size_t j = 0; j < 3; j++)
				t.x[i * 3 + j] = (double)(lcg(&s) % (3 + 7 * j)) * 0.5 +
						 (lcg(&s) % 4 == 0 ? 5e-8 : 0.0);
			t.y[i] = (uint32_t)(lcg(&s) % K);
			if (t.x[i * 3 + seed % 3] > 2)
				t.y[i] = (uint32_t)(seed % K);
			t.w[i] = seed % 4 == 0 && i % 9 == 0 ? 0.0
							     : 0.25 + (double)(lcg(&s) % 8) / 4;
		}
		t.y[0] = 0;
		t.y[1] = 1; /* at least two classes */
		t.w[0] = t.w[1] = 1;
		struct ns_dataset d = as_dataset(&t, true);
		struct ada *m = fit("n_estimators=1", &d, 1);
		double *w = malloc(t.n * sizeof(double)), sw = 0;
		assert_non_null(w);
		for (size_t i = 0; i < t.n; i++)
			sw += t.w[i];
		for (size_t i = 0; i < t.n; i++)
			w[i] = t.w[i] / sw;
		struct bstump b = brute_stump(&t, w);
		assert_int_equal(m->n_stumps, 1);
		assert_true(b.score > -INFINITY);
		assert_int_equal(m->st[0].feat, b.f);
		assert_true(m->st[0].thr == b.thr);
		for (uint32_t k = 0; k < m->K; k++) {
			check_close(m->proba[k], b.pl[m->present[k]], 1e-12, "left", k);
			check_close(m->proba[m->K + k], b.pr[m->present[k]], 1e-12, "right", k);
		}
		free(w);
		ada_free(m);
		tdata_free(&t);
	}
}

/* ---- one round by hand ---------------------------------------------------------------------- */

static void test_one_round_by_hand(void **state)
{
	static const double x[6] = {1, 2, 3, 4, 5, 6};
	static const uint32_t y[6] = {0, 0, 0, 1, 0, 1};
	struct ns_dataset d = {6, 1, x, y, 2, NULL};
	struct ada_work w;
	struct stump s;
	double pb[4], err;
	(void)state;

	/* The stump: x <= 3.5 is pure class 0 (gini sum c^2/w: 3 + 5/3, against
	 * 17/5 + 1 at 5.5); the right leaf is [1/3, 2/3].  It misclassifies row 4
	 * alone: error 1/6. */
	assert_int_equal(ada_work_init(&w, &d, 1, NULL), NS_OK);
	assert_int_equal(ada_round(&w, SAMME, 1.0, false, &s, pb, &err), ROUND_OK);
	assert_int_equal(s.feat, 0);
	assert_true(s.thr == 3.5);
	assert_true(pb[0] == 1 && pb[1] == 0);
	check_close(pb[2], 1.0 / 3, 1e-15, "right leaf", 0);
	check_close(pb[3], 2.0 / 3, 1e-15, "right leaf", 1);
	check_close(err, 1.0 / 6, 1e-15, "error", 0);
	/* SAMME: alpha = log((1 - 1/6) / (1/6)) + log(K - 1) = log 5; the wrong row's
	 * weight grows by e^alpha = 5, the others stay 1/6. */
	check_close(s.weight, log(5.0), 1e-15, "alpha", 0);
	for (size_t i = 0; i < 6; i++)
		check_close(w.sw[i], i == 4 ? 5.0 / 6 : 1.0 / 6, 1e-15, "sample weight", i);
	ada_work_fini(&w);

	/* SAMME.R: factor exp(-lr (K-1)/K sum_k y_k log p_k) with y = (1, -1) for the
	 * true class first: left rows (p = [1, eps]) get exp(log(eps)/2) = sqrt(eps);
	 * right rows of class 1 get exp(-log(2)/2), row 4 (class 0) exp(log(2)/2). */
	assert_int_equal(ada_work_init(&w, &d, 1, NULL), NS_OK);
	assert_int_equal(ada_round(&w, SAMME_R, 1.0, false, &s, pb, &err), ROUND_OK);
	assert_true(s.weight == 1.0);
	const double e = sqrt(DBL_EPSILON) / 6;
	const double want[6] = {e, e, e, 1 / (6 * sqrt(2.0)), sqrt(2.0) / 6, 1 / (6 * sqrt(2.0))};
	for (size_t i = 0; i < 6; i++)
		check_close(w.sw[i], want[i], 1e-14, "sample weight", i);
	ada_work_fini(&w);

	/* The last round leaves the weights alone, after clipping them at DBL_EPSILON
	 * (weights that were 0 from the start stay 0). */
	static const double w0[6] = {1, 0, 1, 1, 1, 1};
	d.weight = w0;
	assert_int_equal(ada_work_init(&w, &d, 1, NULL), NS_OK);
	w.sw[2] = 1e-20;
	assert_int_equal(ada_round(&w, SAMME, 1.0, true, &s, pb, &err), ROUND_OK);
	for (size_t i = 0; i < 6; i++)
		assert_true(w.sw[i] == (i == 1 ? 0.0 : i == 2 ? DBL_EPSILON : 0.2));
	ada_work_fini(&w);
}

/* ---- scikit-learn's figures ------------------------------------------------------------------- */

static void check_reference(const char *list, const struct tdata *t, bool weighted,
			    const double *want_p, const double *want_fi)
{
	struct ns_dataset d = as_dataset(t, weighted);
	struct ada *m = fit(list, &d, 2);
	double *p = proba(m, t->x, 6, t->nf, t->n_classes, 0), fi[8];
	for (size_t i = 0; i < 6 * t->n_classes; i++)
		check_close(p[i], want_p[i], 1e-12, "proba", i);
	ns__family_adaboost.ops->feature_importance(m, t->nf, fi);
	for (size_t f = 0; f < t->nf; f++)
		check_close(fi[f], want_fi[f], 1e-12, "importance", f);
	free(p);
	ada_free(m);
}

static void test_sklearn_reference(void **state)
{
	struct tdata a, b;
	(void)state;
	data_a(&a);
	data_b(&b);
	check_reference("n_estimators=10", &a, false, ada_r_a_proba, ada_r_a_fi);
	check_reference("n_estimators=10,learning_rate=0.5", &a, true, ada_r_a_w_proba,
			ada_r_a_w_fi);
	check_reference("n_estimators=10,algorithm=SAMME", &a, false, ada_d_a_proba, ada_d_a_fi);
	check_reference("n_estimators=10", &b, false, ada_r_b_proba, ada_r_b_fi);
	check_reference("n_estimators=10,algorithm=SAMME,learning_rate=0.7", &b, false,
			ada_d_b_proba, ada_d_b_fi);
	tdata_free(&a);
	tdata_free(&b);
}

/* ---- early stops ------------------------------------------------------------------------------ */

static void test_early_stops(void **state)
{
	static const double x[6] = {1, 2, 3, 4, 5, 6};
	static const uint32_t y[6] = {0, 0, 0, 1, 1, 1};
	struct ns_dataset d = {6, 1, x, y, 2, NULL};
	(void)state;
	/* A perfect stump ends the fit; it keeps weight 1. */
	struct ada *m = fit("", &d, 1);
	assert_int_equal(m->n_stumps, 1);
	assert_true(m->st[0].weight == 1.0);
	double *p = proba(m, x, 6, 1, 2, 0);
	/* SAMME.R on p = [1, eps]: the decision is log(eps), p_1 = eps / (1 + eps). */
	check_close(p[0], 1 / (1 + DBL_EPSILON), 1e-15, "p0", 0);
	check_close(p[1], DBL_EPSILON / (1 + DBL_EPSILON), 1e-12, "p1", 0);
	check_close(p[11], 1 / (1 + DBL_EPSILON), 1e-15, "p1", 5);
	free(p);
	ada_free(m);
	m = fit("algorithm=SAMME", &d, 1);
	assert_int_equal(m->n_stumps, 1);
	p = proba(m, x, 6, 1, 2, 0);
	check_close(p[11], 1 / (1 + exp(-1.0)), 1e-15, "p1", 5); /* decision 1 */
	free(p);
	ada_free(m);

	/* SAMME: a first stump no better than chance is an error (as sklearn); SAMME.R
	 * boosts on regardless. */
	static const double xc[4] = {1, 1, 1, 1};
	static const uint32_t yc[4] = {0, 1, 0, 1};
	struct ns_dataset dc = {4, 1, xc, yc, 2, NULL};
	struct ns_params pp = params_of("algorithm=SAMME");
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag dg;
	void *impl = NULL;
	ns_diag_clear(&dg);
	assert_int_equal(ns__family_adaboost.ops->fit(&pp, &dc, &o, &impl, &dg), NS_ERR_INVALID);
	assert_null(impl);
	assert_non_null(strstr(dg.message, "random"));
	m = fit("n_estimators=7", &dc, 1);
	assert_int_equal(m->n_stumps, 7);
	assert_int_equal(m->st[0].feat, LEAF);
	p = proba(m, xc, 1, 1, 2, 0);
	assert_true(p[0] == 0.5 && p[1] == 0.5);
	free(p);
	double fi[1];
	ns__family_adaboost.ops->feature_importance(m, 1, fi);
	assert_true(fi[0] == 0);
	ada_free(m);

	/* Three classes under SAMME: chance is an error of 2/3. */
	static const double x3[6] = {1, 1, 2, 2, 3, 3};
	static const uint32_t y3[6] = {0, 1, 1, 2, 2, 0};
	struct ns_dataset d3 = {6, 1, x3, y3, 3, NULL};
	m = fit("algorithm=SAMME,n_estimators=20", &d3, 1);
	assert_true(m->n_stumps >= 1 && m->n_stumps <= 20);
	for (size_t t = 0; t < m->n_stumps; t++)
		assert_true(m->st[t].weight > 0);
	ada_free(m);
}

/* Threshold midpoints that round up to the upper value fall back to the lower. */
static void test_threshold_rounding(void **state)
{
	static const double x[4] = {9007199254740994.0, 9007199254740996.0, 9007199254740994.0,
				    9007199254740996.0};
	static const uint32_t y[4] = {0, 1, 0, 1};
	struct ns_dataset d = {4, 1, x, y, 2, NULL};
	(void)state;
	struct ada *m = fit("", &d, 1);
	assert_true(m->st[0].thr == 9007199254740994.0);
	double *p = proba(m, x, 4, 1, 2, 0);
	assert_true(p[0] > 0.5 && p[3] > 0.5);
	free(p);
	ada_free(m);
}

/* ---- classes, zero weights -------------------------------------------------------------------------- */

static void test_classes_and_weights(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 300, 5, 4, 3);
	for (size_t i = 0; i < t.n; i++)
		if (t.y[i] == 2)
			t.y[i] = 1; /* class 2 of 4 absent */
	struct ns_dataset d = as_dataset(&t, false);
	for (int algo = 0; algo < 2; algo++) {
		struct ada *m =
			fit(algo ? "algorithm=SAMME,n_estimators=20" : "n_estimators=20", &d, 1);
		assert_int_equal(m->K, 3);
		double *p = proba(m, t.x, t.n, t.nf, 4, 0);
		size_t right = 0;
		for (size_t i = 0; i < t.n; i++) {
			assert_true(p[i * 4 + 2] == 0.0);
			check_close(p[i * 4] + p[i * 4 + 1] + p[i * 4 + 3], 1, 1e-12, "sum", i);
			uint32_t b = 0;
			for (uint32_t k = 1; k < 4; k++)
				b = p[i * 4 + k] > p[i * 4 + b] ? k : b;
			right += b == t.y[i];
		}
		assert_true(right > t.n / 2);
		free(p);
		ada_free(m);
	}

	/* Rows of weight 0 change nothing: the same payload as without them. */
	struct tdata u;
	tdata_alloc(&u, t.n + 40, t.nf, 4);
	memcpy(u.x, t.x, t.n * t.nf * sizeof(double));
	memcpy(u.y, t.y, t.n * sizeof(uint32_t));
	memcpy(u.w, t.w, t.n * sizeof(double));
	for (size_t i = t.n; i < u.n; i++) {
		for (size_t j = 0; j < u.nf; j++)
			u.x[i * u.nf + j] = (double)(i % 13) - 100;
		u.y[i] = (uint32_t)(i % 2);
		u.w[i] = 0;
	}
	struct ns_dataset dt = as_dataset(&t, true), du = as_dataset(&u, true);
	for (int algo = 0; algo < 2; algo++) {
		const char *list = algo ? "algorithm=SAMME,n_estimators=15" : "n_estimators=15";
		struct ada *a = fit(list, &dt, 1), *b = fit(list, &du, 1);
		size_t la, lb;
		uint8_t *sa = save(a, &la), *sb = save(b, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(sa, sb, la);
		free(sa);
		free(sb);
		ada_free(a);
		ada_free(b);
	}
	tdata_free(&u);
	tdata_free(&t);
}

static void test_one_class(void **state)
{
	double x[4] = {1, 2, 3, 4};
	uint32_t y[4] = {1, 1, 1, 1};
	double w[4] = {0, 0, 0, 0};
	struct ns_dataset d = {4, 1, x, y, 2, NULL};
	struct ns_params p = params_of("");
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag dg;
	void *impl = NULL;
	(void)state;
	ns_diag_clear(&dg);
	assert_int_equal(ns__family_adaboost.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	assert_non_null(strstr(dg.message, "one class"));
	d.n_classes = 1;
	assert_int_equal(ns__family_adaboost.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	d.n_classes = 2;
	y[0] = 0;
	d.weight = w; /* weights summing to 0 */
	assert_int_equal(ns__family_adaboost.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	d.weight = NULL;
	y[1] = 9;
	assert_int_equal(ns__family_adaboost.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	assert_null(impl);
}

/* ---- prefixes, threads ------------------------------------------------------------------------------ */

static void test_prefix(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 300, 4, 3, 5);
	struct ns_dataset d = as_dataset(&t, true);
	for (int algo = 0; algo < 2; algo++) {
		struct ada *mb = fit(algo ? "algorithm=SAMME,n_estimators=14,learning_rate=0.4"
					  : "n_estimators=14,learning_rate=0.4",
				     &d, 2);
		struct ada *ms = fit(algo ? "algorithm=SAMME,n_estimators=6,learning_rate=0.4"
					  : "n_estimators=6,learning_rate=0.4",
				     &d, 1);
		assert_int_equal(ns__family_adaboost.ops->n_estimators(mb), 14);
		double *pb = proba(mb, t.x, t.n, t.nf, 3, 6), *ps = proba(ms, t.x, t.n, t.nf, 3, 0);
		assert_memory_equal(pb, ps, t.n * 3 * sizeof(double));
		free(pb);
		free(ps);
		ada_free(mb);
		ada_free(ms);
	}
	tdata_free(&t);
}

static void test_thread_determinism(void **state)
{
	struct tdata t;
	(void)state;
	PAR_WORK = 1;
	data_blobs(&t, 700, 9, 3, 17);
	struct ns_dataset d = as_dataset(&t, true);
	for (int algo = 0; algo < 2; algo++) {
		uint8_t *ref = NULL;
		size_t ref_len = 0;
		for (int threads = 1; threads <= 3; threads++) {
			struct ada *m =
				fit(algo ? "algorithm=SAMME,n_estimators=12" : "n_estimators=12",
				    &d, threads);
			size_t len;
			uint8_t *b = save(m, &len);
			if (!ref) {
				ref = b;
				ref_len = len;
			} else {
				assert_int_equal(len, ref_len);
				assert_memory_equal(b, ref, len);
				free(b);
			}
			ada_free(m);
		}
		free(ref);
	}
	PAR_WORK = 1000000;
	tdata_free(&t);
}

/* ---- save, load, corruption, allocation failures ------------------------------------------------------ */

static void test_save_load(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 200, 4, 3, 6);
	struct ns_dataset d = as_dataset(&t, false);
	static const char *const lists[2] = {"n_estimators=9", "algorithm=SAMME,n_estimators=9"};
	for (int algo = 0; algo < 2; algo++) {
		struct ada *m = fit(lists[algo], &d, 1);
		size_t len, len2;
		uint8_t *b = save(m, &len);
		enum ns_status st;
		struct ada *m2 = load(b, len, lists[algo], t.nf, 3, &st);
		assert_int_equal(st, NS_OK);
		uint8_t *b2 = save(m2, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(b, b2, len);
		double *p1 = proba(m, t.x, t.n, t.nf, 3, 0), *p2 = proba(m2, t.x, t.n, t.nf, 3, 0);
		assert_memory_equal(p1, p2, t.n * 3 * sizeof(double));
		struct ns__buf js;
		ns__buf_init(&js, 0);
		assert_int_equal(ns__family_adaboost.ops->describe(m2, &js), NS_OK);
		assert_non_null(strstr(js.data, "\"stumps\":9"));
		ns__buf_fini(&js);
		/* The other algorithm's parameters, or other shapes, are refused. */
		assert_null(load(b, len, lists[!algo], t.nf, 3, &st));
		assert_int_equal(st, NS_ERR_CORRUPT);
		assert_null(load(b, len, lists[algo], t.nf, 2, &st));
		assert_null(load(b, len, lists[algo], 1, 3, &st));
		free(p1);
		free(p2);
		free(b);
		free(b2);
		ada_free(m);
		ada_free(m2);
	}
	tdata_free(&t);
}

static void test_corrupt_payloads(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 120, 3, 3, 9);
	struct ns_dataset d = as_dataset(&t, false);
	struct ada *m = fit("n_estimators=4", &d, 1);
	size_t len;
	uint8_t *b = save(m, &len), *c = malloc(len);
	double q[6] = {NAN, 1, 2, 3, INFINITY, -INFINITY}, out[6];
	enum ns_status st;
	assert_non_null(c);
	for (size_t cut = 0; cut < len; cut++) {
		assert_null(load(b, cut, "", 3, 3, &st));
		assert_int_equal(st, NS_ERR_CORRUPT);
	}
	size_t ok = 0;
	for (size_t i = 0; i < len; i++)
		for (int v = 0; v < 3; v++) {
			static const uint8_t flips[3] = {0xFF, 0x01, 0x80};
			memcpy(c, b, len);
			c[i] ^= flips[v];
			struct ada *x = load(c, len, "", 3, 3, &st);
			if (!x) {
				assert_int_equal(st, NS_ERR_CORRUPT);
				continue;
			}
			ok++;
			ns__family_adaboost.ops->predict_proba(x, q, 2, 3, 3, 0, out);
			ada_free(x);
		}
	assert_true(ok > 0);
	free(b);
	free(c);
	ada_free(m);
	tdata_free(&t);
}

static void test_alloc_failures(void **state)
{
	struct tdata t;
	(void)state;
	PAR_WORK = 1;
	data_blobs(&t, 90, 3, 3, 2);
	struct ns_dataset d = as_dataset(&t, true);
	struct ns_params p = params_of("n_estimators=4");
	struct ns_fit_options o = ns_fit_options_default();
	o.n_threads = 2;
	void *impl = NULL;
	long n;
	for (n = 0;; n++) {
		struct ns_diag dg;
		ns_diag_clear(&dg);
		ns_alloc_fail_after(n);
		enum ns_status st = ns__family_adaboost.ops->fit(&p, &d, &o, &impl, &dg);
		ns_alloc_fail_reset();
		if (st == NS_OK)
			break;
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(impl);
	}
	PAR_WORK = 1000000;
	assert_true(n > 5);
	size_t len;
	uint8_t *b = save(impl, &len);
	for (n = 0;; n++) {
		enum ns_status st;
		ns_alloc_fail_after(n);
		struct ada *x = load(b, len, "", 3, 3, &st);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			ada_free(x);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
	}
	struct ns__wbuf w;
	ns__w_init(&w);
	ns_alloc_fail_after(0);
	assert_int_equal(ns__family_adaboost.ops->save(impl, &w), NS_ERR_NOMEM);
	ns_alloc_fail_reset();
	ns__w_fini(&w);
	free(b);
	ada_free(impl);
	tdata_free(&t);
}

/* Boosting rounds allocate nothing: the count does not grow with n_estimators. */
static void test_no_allocation_per_round(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 300, 4, 3, 14);
	struct ns_dataset d = as_dataset(&t, true);
	static const char *const lists[2][2] = {
		{"n_estimators=3", "n_estimators=40"},
		{"n_estimators=3,algorithm=SAMME", "n_estimators=40,algorithm=SAMME"}};
	for (size_t l = 0; l < 2; l++) {
		long count[2];
		for (int i = 0; i < 2; i++) {
			ns_alloc_fail_reset();
			struct ada *m = fit(lists[l][i], &d, 2);
			count[i] = ns_alloc_count();
			assert_int_equal(m->n_stumps, i ? 40 : 3);
			ada_free(m);
		}
		assert_int_equal(count[0], count[1]);
	}
	tdata_free(&t);
}

static void test_model_api(void **state)
{
	struct tdata t;
	struct ns_model *m = NULL, *m2 = NULL;
	struct ns_diag dg;
	(void)state;
	data_blobs(&t, 150, 3, 2, 8);
	struct ns_dataset d = as_dataset(&t, false);
	struct ns_params p = params_of("n_estimators=8");
	struct ns_fit_options o = ns_fit_options_default();
	ns_diag_clear(&dg);
	assert_int_equal(ns_model_fit(&p, &d, &o, &m, &dg), NS_OK);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(ns_model_to_buffer(m, &buf, &len), NS_OK);
	assert_int_equal(ns_model_from_buffer(buf, len, &m2, &dg), NS_OK);
	double p1[300], p2[300];
	assert_int_equal(ns_model_predict_proba(m, t.x, t.n, p1), NS_OK);
	assert_int_equal(ns_model_predict_proba(m2, t.x, t.n, p2), NS_OK);
	assert_memory_equal(p1, p2, sizeof(p1));
	double fi[3];
	assert_int_equal(ns_model_feature_importance(m2, fi), NS_OK);
	check_close(fi[0] + fi[1] + fi[2], 1.0, 1e-12, "importance sum", 0);
	ns_free(buf);
	ns_model_free(m);
	ns_model_free(m2);
	/* Missing values are refused before the fit (the family needs complete data). */
	t.x[5] = NAN;
	assert_int_equal(ns_model_fit(&p, &d, &o, &m, &dg), NS_ERR_SCHEMA);
	tdata_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_stump_brute_force),
		cmocka_unit_test(test_one_round_by_hand),
		cmocka_unit_test(test_sklearn_reference),
		cmocka_unit_test(test_early_stops),
		cmocka_unit_test(test_threshold_rounding),
		cmocka_unit_test(test_classes_and_weights),
		cmocka_unit_test(test_one_class),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_thread_determinism),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_no_allocation_per_round),
		cmocka_unit_test(test_model_api),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
