/*
 * tests/unit/learn/test_gbdt.c - gradient boosting (lib/learn/gbdt.c) and its
 * binning (lib/learn/hist_bin.c).
 *
 * Slow references: finite differences of the log-loss against the residuals
 * and the Newton denominators; an exhaustive split search against the
 * histogram search; one-tree models computed by hand; scikit-learn 1.2.1's
 * probabilities and importances on small generated sets (the generator is
 * repeated in Python; the literals come from GradientBoostingClassifier, and
 * do not depend on its random_state, so no split ties).  Also: missing
 * values, absent classes, prefixes, thread-count determinism, the depth-first
 * fallback, save/load, corrupt payloads and allocation failures.
 *
 * The test includes gbdt.c with NS_GBDT_TEST_HOOKS, which turns the block size,
 * the parallel thresholds and the breadth-first width into variables.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define NS_GBDT_TEST_HOOKS
#include "learn/gbdt.c"

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

/* The binary set "A" of refdata.py: 4 features with 3, 5, 7, 9 values. */
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

/* The 3-class set "C" of refdata.py. */
static void data_c(struct tdata *t)
{
	static const uint64_t mods[3] = {53, 71, 97};
	uint64_t s = 11;
	tdata_alloc(t, 150, 3, 3);
	for (size_t i = 0; i < t->n; i++) {
		double *x = t->x + i * 3;
		for (int j = 0; j < 3; j++)
			x[j] = (double)(lcg(&s) % mods[j]);
		t->y[i] = (uint32_t)(((uint64_t)x[0] + (uint64_t)x[1] + lcg(&s) % 3) % 3);
		t->w[i] = 1;
	}
}

/* A noisy k-class set with continuous features, some NaN. */
static void data_blobs(struct tdata *t, size_t n, size_t nf, uint32_t k, uint64_t seed,
		       double nan_rate)
{
	uint64_t s = seed;
	tdata_alloc(t, n, nf, k);
	for (size_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(lcg(&s) % k);
		t->y[i] = c;
		t->w[i] = 0.5 + (double)(lcg(&s) % 4) / 2;
		for (size_t j = 0; j < nf; j++) {
			double u = (double)(lcg(&s) % 100000) / 100000.0;
			double v = u * 4 + (j % (k + 1) == c ? 3.0 : 0.0);
			if ((double)(lcg(&s) % 10000) / 10000.0 < nan_rate)
				v = NAN;
			t->x[i * nf + j] = v;
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
	ns_params_init(&p, &ns__family_gbdt);
	ns_diag_clear(&dg);
	if (ns_params_parse(&p, list, &dg) != NS_OK)
		fail_msg("params '%s': %s", list, dg.message);
	return p;
}

static struct gbdt *fit(const char *list, const struct ns_dataset *d, int threads, uint64_t seed)
{
	struct ns_params p = params_of(list);
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag dg;
	void *impl = NULL;
	o.n_threads = threads;
	o.seed = seed;
	ns_diag_clear(&dg);
	enum ns_status st = ns__family_gbdt.ops->fit(&p, d, &o, &impl, &dg);
	if (st != NS_OK)
		fail_msg("fit '%s': %s (%s)", list, ns_status_name(st), dg.message);
	return impl;
}

static double *proba(const struct gbdt *m, const double *x, size_t n, size_t nf, uint32_t k,
		     size_t prefix)
{
	double *p = malloc(n * k * sizeof(double));
	assert_non_null(p);
	ns__family_gbdt.ops->predict_proba(m, x, n, nf, k, prefix, p);
	return p;
}

static uint8_t *save(const struct gbdt *m, size_t *len)
{
	struct ns__wbuf w;
	ns__w_init(&w);
	assert_int_equal(ns__family_gbdt.ops->save(m, &w), NS_OK);
	*len = w.len;
	uint8_t *out = malloc(w.len ? w.len : 1);
	assert_non_null(out);
	memcpy(out, w.data, w.len);
	ns__w_fini(&w);
	return out;
}

static void check_close(double got, double want, double tol, const char *what, size_t i)
{
	if (!(fabs(got - want) <= tol * (1 + fabs(want))))
		fail_msg("%s[%zu]: got %.17g, want %.17g", what, i, got, want);
}

/* ---- the parameter table ---------------------------------------------------------- */

static void test_table(void **state)
{
	struct ns_params p;
	(void)state;
	assert_ptr_equal(ns_family_find("gbdt"), &ns__family_gbdt);
	assert_ptr_equal(ns_family_find("GradientBoosting"), &ns__family_gbdt);
	assert_ptr_equal(ns_family_find("gbm"), &ns__family_gbdt);
	assert_ptr_equal(ns_family_find("gb"), &ns__family_gbdt);
	assert_ptr_equal(ns_family_find("gradient_boosting"), &ns__family_gbdt);
	assert_false(ns_family_needs_complete(&ns__family_gbdt));
	assert_string_equal(ns_family_prefix_param(&ns__family_gbdt), "n_estimators");
	ns_params_init(&p, &ns__family_gbdt);
	assert_true(ns_params_get(&p, "learning_rate") == 0.1);
	assert_true(ns_params_get(&p, "n_estimators") == 100);
	assert_true(ns_params_get(&p, "subsample") == 1.0);
	assert_true(ns_params_get(&p, "max_depth") == 3);
	assert_true(ns_params_get(&p, "min_samples_split") == 2);
	assert_true(ns_params_get(&p, "min_samples_leaf") == 1);
	assert_true(ns_params_get(&p, "min_impurity_decrease") == 0);
	assert_true(isnan(ns_params_get(&p, "max_features")));
	assert_true(ns_params_get(&p, "max_bins") == 255);
	assert_int_equal(ns_params_set(&p, "learning_rate", "0", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "subsample", "1.5", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "subsample", "0", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_bins", "256", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_bins", "1", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_depth", "none", NULL), NS_OK);
	assert_int_equal(ns_params_set(&p, "loss", "deviance", NULL), NS_OK);
	assert_int_equal(ns_params_set(&p, "loss", "exponential", NULL), NS_ERR_INVALID);
}

/* ---- the loss: finite differences ---------------------------------------------------- */

/* Residuals from compute_residuals() for one row of raw scores. */
static void residuals_of(uint32_t K, uint32_t cls, const double *raw, double *r)
{
	struct work w;
	memset(&w, 0, sizeof(w));
	w.n = 1;
	w.K = K;
	w.T = K == 2 ? 1 : K;
	w.nt = 1;
	w.raw = (double *)raw;
	w.res = r;
	w.cls = &cls;
	compute_residuals(&w);
}

static double log_loss(uint32_t K, uint32_t cls, const double *raw)
{
	if (K == 2) /* log(1 + e^F) - y F */
		return log1p(exp(raw[0])) - (cls == 1 ? raw[0] : 0.0);
	double mx = raw[0], s = 0;
	for (uint32_t k = 1; k < K; k++)
		mx = raw[k] > mx ? raw[k] : mx;
	for (uint32_t k = 0; k < K; k++)
		s += exp(raw[k] - mx);
	return log(s) + mx - raw[cls];
}

static void check_fd(uint32_t K, uint32_t cls, const double *raw0)
{
	const double h = 1e-5;
	const uint32_t T = K == 2 ? 1 : K;
	double r[8], rp[8], rm[8], raw[8];
	residuals_of(K, cls, raw0, r);
	for (uint32_t k = 0; k < T; k++) {
		memcpy(raw, raw0, T * sizeof(double));
		raw[k] = raw0[k] + h;
		double lp = log_loss(K, cls, raw);
		residuals_of(K, cls, raw, rp);
		raw[k] = raw0[k] - h;
		double lm = log_loss(K, cls, raw);
		residuals_of(K, cls, raw, rm);
		/* The residual is the negative gradient. */
		double grad = (lp - lm) / (2 * h);
		check_close(-r[k], grad, 1e-7, "gradient", k);
		/* The Newton denominator's w (y - r)(1 - y + r) is the diagonal Hessian. */
		double y = (K == 2 ? cls == 1 : cls == k) ? 1.0 : 0.0;
		double hess = (-rp[k] + rm[k]) / (2 * h);
		check_close((y - r[k]) * (1 - y + r[k]), hess, 1e-6, "hessian", k);
	}
}

static void test_loss_finite_differences(void **state)
{
	static const double fs[] = {-4, -1.3, -0.2, 0, 0.7, 2.5, 5};
	(void)state;
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		for (uint32_t y = 0; y < 2; y++)
			check_fd(2, y, &fs[i]);
	for (size_t i = 0; i + 4 <= sizeof(fs) / sizeof(fs[0]); i++)
		for (uint32_t y = 0; y < 4; y++)
			check_fd(4, y, &fs[i]);
	for (uint32_t y = 0; y < 3; y++)
		check_fd(3, y, (const double[]){300, -2, 1}); /* saturated softmax */
}

/* ---- split search: exhaustive reference ----------------------------------------------- */

struct bsplit {
	double gain;
	size_t f;
	double thr;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The best friedman_mse split of residuals r (weights w) over every threshold. */
static struct bsplit brute_split(const struct tdata *t, const double *r, const double *w,
				 size_t msl)
{
	struct bsplit best = {-INFINITY, 0, 0};
	double *v = malloc(t->n * sizeof(double));
	assert_non_null(v);
	for (size_t f = 0; f < t->nf; f++) {
		for (size_t i = 0; i < t->n; i++)
			v[i] = t->x[i * t->nf + f];
		qsort(v, t->n, sizeof(double), cmp_double);
		for (size_t a = 1; a < t->n; a++) {
			if (v[a] == v[a - 1])
				continue;
			double thr = v[a - 1] / 2 + v[a] / 2;
			double sl = 0, sr = 0, wl = 0, wr = 0;
			size_t nl = 0, nr = 0;
			for (size_t i = 0; i < t->n; i++) {
				double x = t->x[i * t->nf + f];
				if (x <= thr) {
					sl += w[i] * r[i];
					wl += w[i];
					nl++;
				} else {
					sr += w[i] * r[i];
					wr += w[i];
					nr++;
				}
			}
			if (nl < msl || nr < msl)
				continue;
			double diff = wr * sl - wl * sr, gain = diff * diff / (wl * wr);
			/* Ties within rounding count as equal: the first one stays. */
			if (gain > best.gain * (1 + 1e-12)) {
				best.gain = gain;
				best.f = f;
				best.thr = thr;
			}
		}
	}
	free(v);
	return best;
}

static void check_stump_against_brute_force(struct tdata *t, bool weighted, size_t msl)
{
	char list[128];
	struct ns_dataset d = as_dataset(t, weighted);
	snprintf(list, sizeof(list),
		 "n_estimators=1,max_depth=1,learning_rate=1,"
		 "min_samples_leaf=%zu",
		 msl);
	struct gbdt *m = fit(list, &d, 1, 0);
	double *r = malloc(t->n * sizeof(double)), *w = malloc(t->n * sizeof(double));
	double sw = 0, sy = 0;
	assert_non_null(r);
	assert_non_null(w);
	for (size_t i = 0; i < t->n; i++) {
		w[i] = weighted ? t->w[i] : 1.0;
		sw += w[i];
		sy += w[i] * (t->y[i] == 1);
	}
	double p0 = sy / sw;
	for (size_t i = 0; i < t->n; i++)
		r[i] = (t->y[i] == 1) - p0;
	struct bsplit b = brute_split(t, r, w, msl);
	assert_true(m->n_nodes == 3);
	assert_int_equal(m->nodes[0].feat & FEATURE_MASK, b.f);
	assert_true(m->nodes[0].v == b.thr);
	/* Leaf values: Newton steps over each side's rows. */
	double num[2] = {0, 0}, den[2] = {0, 0};
	for (size_t i = 0; i < t->n; i++) {
		int s = !(t->x[i * t->nf + b.f] <= b.thr);
		num[s] += w[i] * r[i];
		den[s] += w[i] * p0 * (1 - p0);
	}
	check_close(m->nodes[1].v, num[0] / den[0], 1e-12, "left leaf", 0);
	check_close(m->nodes[2].v, num[1] / den[1], 1e-12, "right leaf", 0);
	/* Importance: all on the split feature. */
	double fi[8];
	ns__family_gbdt.ops->feature_importance(m, t->nf, fi);
	for (size_t f = 0; f < t->nf; f++)
		assert_true(fi[f] == (f == b.f ? 1.0 : 0.0));
	free(r);
	free(w);
	gbdt_free(m);
}

static void test_split_brute_force(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 25; seed++) {
		struct tdata t;
		uint64_t s = seed;
		tdata_alloc(&t, 30 + seed * 3, 3, 2);
		for (size_t i = 0; i < t.n; i++) {
			for (size_t j = 0; j < 3; j++)
				t.x[i * 3 + j] = (double)(lcg(&s) % (4 + 5 * j)) * 0.25 - 1;
			t.y[i] = lcg(&s) % 3 == 0 || t.x[i * 3 + seed % 3] > 0.5;
			t.w[i] = 0.25 + (double)(lcg(&s) % 8) / 4;
		}
		check_stump_against_brute_force(&t, false, 1);
		check_stump_against_brute_force(&t, true, 1);
		check_stump_against_brute_force(&t, seed % 2, 1 + seed % 7);
		tdata_free(&t);
	}
}

/* ---- one tree by hand ------------------------------------------------------------------ */

static void test_one_tree_by_hand(void **state)
{
	static const double x[6] = {1, 2, 3, 4, 5, 6};
	static const uint32_t yb[6] = {0, 0, 1, 1, 1, 1};
	static const uint32_t y3[6] = {0, 0, 1, 1, 2, 2};
	(void)state;

	/* Binary, prior 2/3: init log 2; residuals -2/3 (x <= 2.5) and 1/3; leaf values
	 * (-4/3) / (2 * 2/9) = -3 and (4/3) / (4 * 2/9) = 1.5. */
	struct ns_dataset d = {6, 1, x, yb, 2, NULL};
	struct gbdt *m = fit("n_estimators=1,max_depth=1,learning_rate=0.1", &d, 1, 0);
	assert_true(m->nodes[0].v == 2.5);
	check_close(m->init[0], log(2.0), 1e-15, "init", 0);
	check_close(m->nodes[1].v, -3.0, 1e-14, "leaf", 1);
	check_close(m->nodes[2].v, 1.5, 1e-14, "leaf", 2);
	double *p = proba(m, x, 6, 1, 2, 0);
	for (size_t i = 0; i < 6; i++) {
		double raw = log(2.0) + 0.1 * (x[i] <= 2.5 ? -3.0 : 1.5);
		check_close(p[i * 2 + 1], 1 / (1 + exp(-raw)), 1e-15, "p1", i);
		check_close(p[i * 2 + 0] + p[i * 2 + 1], 1.0, 1e-15, "sum", i);
	}
	free(p);
	gbdt_free(m);

	/* Three classes, priors 1/3: init log(1/3); class 0's residuals 2/3 (x <= 2.5)
	 * and -1/3; leaves (2/3)(4/3) / (2 * 2/9) = 2 and (2/3)(-4/3) / (4 * 2/9) = -1. */
	struct ns_dataset d3 = {6, 1, x, y3, 3, NULL};
	m = fit("n_estimators=1,max_depth=1,learning_rate=0.1", &d3, 1, 0);
	assert_int_equal(m->tpi, 3);
	for (uint32_t k = 0; k < 3; k++)
		check_close(m->init[k], log(1.0 / 3), 1e-15, "init", k);
	const struct gnode *t0 = m->nodes + m->tree_off[0];
	assert_true(t0[0].v == 2.5);
	check_close(t0[1].v, 2.0, 1e-14, "class 0 left", 0);
	check_close(t0[2].v, -1.0, 1e-14, "class 0 right", 0);
	/* Class 2: residuals -1/3 (x <= 4.5), 2/3: leaves -1 and 2. */
	const struct gnode *t2 = m->nodes + m->tree_off[2];
	assert_true(t2[0].v == 4.5);
	check_close(t2[1].v, -1.0, 1e-14, "class 2 left", 0);
	check_close(t2[2].v, 2.0, 1e-14, "class 2 right", 0);
	p = proba(m, x, 6, 1, 3, 0);
	for (size_t i = 0; i < 6; i++) {
		double raw[3], s = 0;
		for (uint32_t k = 0; k < 3; k++) {
			const struct gnode *t = m->nodes + m->tree_off[k];
			raw[k] = log(1.0 / 3) + 0.1 * (x[i] <= t[0].v ? t[1].v : t[2].v);
			s += exp(raw[k]);
		}
		for (uint32_t k = 0; k < 3; k++)
			check_close(p[i * 3 + k], exp(raw[k]) / s, 1e-14, "p", i);
	}
	free(p);
	gbdt_free(m);
}

/* The initial scores: class priors (weighted), clipped at float32's epsilon. */
static void test_init_prior(void **state)
{
	static const double x[5] = {1, 2, 3, 4, 5};
	static const uint32_t y[5] = {0, 1, 2, 2, 2};
	double w[5] = {1, 1e-12, 2, 2, 1};
	(void)state;
	struct ns_dataset d = {5, 1, x, y, 3, w};
	struct gbdt *m = fit("n_estimators=1", &d, 1, 0);
	const double eps = 1.1920928955078125e-07; /* np.finfo(np.float32).eps */
	double total = 1 + 1e-12 + 5;
	check_close(m->init[0], log(1 / total), 1e-15, "init", 0);
	assert_true(m->init[1] == log(eps));
	check_close(m->init[2], log(5 / total), 1e-15, "init", 2);
	gbdt_free(m);
	d.y = (const uint32_t[]){0, 1, 0, 0, 0};
	d.n_classes = 2;
	m = fit("n_estimators=1", &d, 1, 0);
	assert_true(m->init[0] == log(eps / (1 - eps)));
	gbdt_free(m);
	d.y = (const uint32_t[]){1, 0, 1, 1, 1};
	m = fit("n_estimators=1", &d, 1, 0);
	assert_true(m->init[0] == log((1 - eps) / (1 - (1 - eps))));
	gbdt_free(m);
}

/* ---- scikit-learn's figures ---------------------------------------------------------------- */

/* From /tmp/gbdt/refdata.py with scikit-learn 1.2.1 (first 6 rows' probabilities). */
static const double gb_a_proba[] = {0.6478524353656121,   0.3521475646343879,  0.9462025511505463,
				    0.053797448849453644, 0.98549160108385503, 0.01450839891614495,
				    0.98549160108385503,  0.01450839891614495, 0.8393863812410115,
				    0.16061361875898847,  0.55696193154472029, 0.44303806845527977};
static const double gb_a_fi[] = {0.14482400160588818, 0.57063340210036795, 0.018048545189330596,
				 0.26649405110441332};
static const double gb_a_w_proba[] = {
	0.52949608004633486, 0.4705039199536652,  0.91993728800008356, 0.080062711999916394,
	0.98237195204113359, 0.0176280479588664,  0.98133193459132684, 0.01866806540867318,
	0.72714828780466856, 0.27285171219533144, 0.68849960092000062, 0.31150039907999943};
static const double gb_a_w_fi[] = {0.055091545941388924, 0.59045187815582112, 0.043650496635970627,
				   0.31080607926681936};
static const double gb_c_proba[] = {0.34804847864307575, 0.25736370557847166, 0.3945878157784527,
				    0.26790908220065002, 0.44546210687703924, 0.28662881092231057,
				    0.34385517209792377, 0.42660185681635981, 0.22954297108571647,
				    0.37341525770173523, 0.35435420087910641, 0.27223054141915848,
				    0.26676750285294143, 0.61770819198930249, 0.11552430515775607,
				    0.37341525770173523, 0.35435420087910641, 0.27223054141915848};
static const double gb_c_fi[] = {0.38403729153145877, 0.3032927666697367, 0.31266994179880453};

static void check_reference(const char *list, const struct tdata *t, bool weighted,
			    const double *want_p, const double *want_fi)
{
	struct ns_dataset d = as_dataset(t, weighted);
	struct gbdt *m = fit(list, &d, 2, 0);
	double *p = proba(m, t->x, 6, t->nf, t->n_classes, 0), fi[8];
	for (size_t i = 0; i < 6 * t->n_classes; i++)
		check_close(p[i], want_p[i], 1e-12, "proba", i);
	ns__family_gbdt.ops->feature_importance(m, t->nf, fi);
	for (size_t f = 0; f < t->nf; f++)
		check_close(fi[f], want_fi[f], 1e-12, "importance", f);
	free(p);
	gbdt_free(m);
}

static void test_sklearn_reference(void **state)
{
	struct tdata a, c;
	(void)state;
	data_a(&a);
	data_c(&c);
	check_reference("n_estimators=10,max_depth=2,learning_rate=0.3", &a, false, gb_a_proba,
			gb_a_fi);
	check_reference("n_estimators=10,max_depth=2,learning_rate=0.3", &a, true, gb_a_w_proba,
			gb_a_w_fi);
	check_reference("n_estimators=6,max_depth=2,learning_rate=0.2,min_samples_leaf=3", &c,
			false, gb_c_proba, gb_c_fi);
	tdata_free(&a);
	tdata_free(&c);
}

/* ---- binning ---------------------------------------------------------------------------------- */

static void test_binning(void **state)
{
	(void)state;
	/* Few distinct values: one bin each, cuts at midpoints, NaN in the last bin. */
	double x1[] = {3, 1, 2, 2, NAN, 5};
	uint32_t y1[6] = {0};
	struct ns_dataset d1 = {6, 1, x1, y1, 2, NULL};
	struct ns__hist_bins b;
	assert_int_equal(ns__hist_bins_build(&d1, 255, 1, &b), NS_OK);
	assert_int_equal(b.n_bins[0], 4);
	assert_true(b.has_missing[0]);
	assert_int_equal(b.cut_off[1], 3);
	assert_true(b.cuts[0] == 1.5 && b.cuts[1] == 2.5 && b.cuts[2] == 4);
	static const uint8_t want1[6] = {2, 0, 1, 1, 4, 3};
	assert_memory_equal(b.codes, want1, 6);
	assert_int_equal(b.hist_off[1], 5);
	ns__hist_bins_fini(&b);

	/* Many values: quantile bins, consistent with the cuts, roughly balanced. */
	const size_t n = 1000;
	double *x2 = malloc(n * 2 * sizeof(double));
	uint32_t *y2 = calloc(n, sizeof(uint32_t));
	uint64_t s = 5;
	assert_non_null(x2);
	assert_non_null(y2);
	for (size_t i = 0; i < n; i++) {
		x2[i * 2] = (double)(lcg(&s) % 1000000) * 0.37;
		x2[i * 2 + 1] = i % 7 == 0 ? NAN : (double)(i % 300);
	}
	struct ns_dataset d2 = {n, 2, x2, y2, 2, NULL};
	assert_int_equal(ns__hist_bins_build(&d2, 16, 2, &b), NS_OK);
	for (size_t f = 0; f < 2; f++) {
		unsigned nb = b.n_bins[f];
		size_t counts[17] = {0};
		const double *cut = b.cuts + b.cut_off[f];
		assert_true(nb >= 2 && nb <= 16);
		assert_int_equal(b.cut_off[f + 1] - b.cut_off[f], nb - 1);
		for (size_t c = 1; c + 1 < nb; c++)
			assert_true(cut[c] > cut[c - 1]);
		for (size_t i = 0; i < n; i++) {
			double v = x2[i * 2 + f];
			unsigned code = b.codes[f * n + i];
			counts[code]++;
			if (isnan(v)) {
				assert_int_equal(code, nb);
				continue;
			}
			assert_true(code < nb);
			assert_true(code == 0 || v > cut[code - 1]);
			assert_true(code == nb - 1 || v <= cut[code]);
			assert_int_equal(ns__hist_bin_of(&b, f, v), code);
		}
		for (unsigned c = 0; c < nb; c++)
			assert_true(counts[c] >= 20 && counts[c] <= 130);
	}
	assert_false(b.has_missing[0]);
	assert_true(b.has_missing[1]);
	ns__hist_bins_fini(&b);

	/* max_bins = 2 with three values; a column of only NaN. */
	double x3[] = {1, NAN, 2, NAN, 3, NAN, 3, NAN};
	uint32_t y3[4] = {0, 1, 0, 1};
	struct ns_dataset d3 = {4, 2, x3, y3, 2, NULL};
	assert_int_equal(ns__hist_bins_build(&d3, 2, 1, &b), NS_OK);
	assert_int_equal(b.n_bins[0], 2);
	assert_int_equal(b.n_bins[1], 0);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(b.codes[4 + i], 0);
	ns__hist_bins_fini(&b);

	/* A midpoint that rounds up to the upper value falls back to the lower. */
	double x4[] = {9007199254740994.0, 9007199254740996.0};
	struct ns_dataset d4 = {2, 1, x4, y1, 2, NULL};
	assert_int_equal(ns__hist_bins_build(&d4, 255, 1, &b), NS_OK);
	assert_true(b.cuts[0] == 9007199254740994.0);
	assert_true(b.codes[0] == 0 && b.codes[1] == 1);
	ns__hist_bins_fini(&b);

	/* The sort. */
	for (size_t len = 0; len < 300; len += 37) {
		double *v = malloc((len + 1) * sizeof(double)),
		       *u = malloc((len + 1) * sizeof(double));
		assert_non_null(v);
		assert_non_null(u);
		for (size_t i = 0; i < len; i++)
			v[i] = u[i] = (double)(lcg(&s) % 50) - 20;
		ns__sort_doubles(v, len);
		qsort(u, len, sizeof(double), cmp_double);
		assert_memory_equal(v, u, len * sizeof(double));
		free(v);
		free(u);
	}
	free(x2);
	free(y2);
}

/* ---- missing values ----------------------------------------------------------------------------- */

static void test_missing_values(void **state)
{
	(void)state;
	/* Missingness itself tells the class: a split with only NaN on one side. */
	enum { N = 40 };
	double x[N * 2];
	uint32_t y[N];
	for (size_t i = 0; i < N; i++) {
		y[i] = i % 2;
		x[i * 2] = y[i] ? NAN : (double)(i % 5);
		x[i * 2 + 1] = (double)(i % 3);
	}
	struct ns_dataset d = {N, 2, x, y, 2, NULL};
	struct gbdt *m = fit("n_estimators=5,max_depth=1", &d, 1, 0);
	assert_int_equal(m->nodes[0].feat, 0); /* feature 0, NaN right */
	assert_true(isinf(m->nodes[0].v));
	double q[4] = {NAN, 1, 2, 1}, *p = proba(m, q, 2, 2, 2, 0);
	assert_true(p[1] > 0.5 && p[2] > 0.5);
	free(p);
	gbdt_free(m);

	/* No NaN in training: NaN at prediction goes to the child with more rows. */
	double x2[10];
	uint32_t y2[10];
	for (size_t i = 0; i < 10; i++) {
		x2[i] = (double)i;
		y2[i] = i >= 7;
	}
	struct ns_dataset d2 = {10, 1, x2, y2, 2, NULL};
	m = fit("n_estimators=1,max_depth=1", &d2, 1, 0);
	assert_true(m->nodes[0].v == 6.5);
	assert_true(m->nodes[0].feat & MISSING_LEFT);
	double qn = NAN, ql = 0;
	double *pn = proba(m, &qn, 1, 1, 2, 0), *pl = proba(m, &ql, 1, 1, 2, 0);
	assert_memory_equal(pn, pl, 2 * sizeof(double));
	free(pn);
	free(pl);
	gbdt_free(m);
	for (size_t i = 0; i < 10; i++)
		y2[i] = i >= 5; /* equal children: left */
	m = fit("n_estimators=1,max_depth=1", &d2, 1, 0);
	assert_true(m->nodes[0].v == 4.5);
	assert_true(m->nodes[0].feat & MISSING_LEFT);
	gbdt_free(m);
	for (size_t i = 0; i < 10; i++)
		y2[i] = i >= 3; /* now the right child is larger */
	m = fit("n_estimators=1,max_depth=1", &d2, 1, 0);
	assert_true(m->nodes[0].v == 2.5);
	assert_false(m->nodes[0].feat & MISSING_LEFT);
	gbdt_free(m);

	/* NaN rows of one class: they follow that class's side. */
	double x3[16];
	uint32_t y3[16];
	for (size_t i = 0; i < 16; i++) {
		x3[i] = i < 10 ? (double)i : NAN;
		y3[i] = i < 10 ? i >= 5 : 0;
	}
	struct ns_dataset d3 = {16, 1, x3, y3, 2, NULL};
	m = fit("n_estimators=1,max_depth=1", &d3, 1, 0);
	assert_true(m->nodes[0].v == 4.5);
	assert_true(m->nodes[0].feat & MISSING_LEFT);
	gbdt_free(m);
	for (size_t i = 10; i < 16; i++)
		y3[i] = 1;
	m = fit("n_estimators=1,max_depth=1", &d3, 1, 0);
	assert_true(m->nodes[0].v == 4.5);
	assert_false(m->nodes[0].feat & MISSING_LEFT);
	gbdt_free(m);
}

/* ---- classes ---------------------------------------------------------------------------------- */

static void test_multiclass_and_absent_classes(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 600, 5, 4, 3, 0.05);
	struct ns_dataset d = as_dataset(&t, false);
	struct gbdt *m = fit("n_estimators=30,max_depth=3", &d, 2, 0);
	double *p = proba(m, t.x, t.n, t.nf, 4, 0);
	size_t right = 0;
	for (size_t i = 0; i < t.n; i++) {
		double s = 0;
		for (uint32_t k = 0; k < 4; k++)
			s += p[i * 4 + k];
		check_close(s, 1.0, 1e-12, "row sum", i);
		uint32_t b = 0;
		for (uint32_t k = 1; k < 4; k++)
			b = p[i * 4 + k] > p[i * 4 + b] ? k : b;
		right += b == t.y[i];
	}
	assert_true(right > t.n * 8 / 10);
	free(p);
	gbdt_free(m);

	/* Class 2 of 4 absent: three present, multinomial; its probability is 0. */
	for (size_t i = 0; i < t.n; i++)
		if (t.y[i] == 2)
			t.y[i] = 3;
	m = fit("n_estimators=5", &d, 1, 0);
	assert_int_equal(m->n_present, 3);
	assert_int_equal(m->tpi, 3);
	p = proba(m, t.x, t.n, t.nf, 4, 0);
	for (size_t i = 0; i < t.n; i++) {
		assert_true(p[i * 4 + 2] == 0.0);
		check_close(p[i * 4] + p[i * 4 + 1] + p[i * 4 + 3], 1.0, 1e-12, "sum", i);
	}
	free(p);
	gbdt_free(m);

	/* Only classes 0 and 3 of 4: binary on the two. */
	for (size_t i = 0; i < t.n; i++)
		t.y[i] = t.y[i] == 1 ? 0 : t.y[i];
	m = fit("n_estimators=5", &d, 1, 0);
	assert_int_equal(m->n_present, 2);
	assert_int_equal(m->tpi, 1);
	p = proba(m, t.x, 3, t.nf, 4, 0);
	for (size_t i = 0; i < 3; i++) {
		assert_true(p[i * 4 + 1] == 0.0 && p[i * 4 + 2] == 0.0);
		check_close(p[i * 4] + p[i * 4 + 3], 1.0, 1e-15, "sum", i);
	}
	free(p);
	gbdt_free(m);
	tdata_free(&t);
}

static void test_one_class(void **state)
{
	(void)state;
	double x[4] = {1, 2, 3, 4};
	uint32_t y[4] = {1, 1, 1, 1};
	struct ns_dataset d = {4, 1, x, y, 2, NULL};
	struct ns_params p = params_of("");
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag dg;
	void *impl = NULL;
	ns_diag_clear(&dg);
	assert_int_equal(ns__family_gbdt.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	assert_null(impl);
	assert_non_null(strstr(dg.message, "one class"));
	d.n_classes = 1;
	assert_int_equal(ns__family_gbdt.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	d.n_classes = 2;
	y[3] = 7; /* out of range */
	assert_int_equal(ns__family_gbdt.ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
	assert_null(impl);
}

/* ---- prefixes, determinism, layouts -------------------------------------------------------------- */

static void test_prefix(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 400, 6, 3, 9, 0.1);
	struct ns_dataset d = as_dataset(&t, true);
	static const char *const lists[] = {"max_depth=3",
					    "subsample=0.7,max_features=sqrt,max_depth=4",
					    "max_depth=none,min_samples_leaf=5,learning_rate=0.3"};
	for (size_t l = 0; l < 3; l++) {
		char big[128], small[128];
		snprintf(big, sizeof(big), "%s,n_estimators=12", lists[l]);
		snprintf(small, sizeof(small), "%s,n_estimators=5", lists[l]);
		struct gbdt *mb = fit(big, &d, 2, 42), *ms = fit(small, &d, 1, 42);
		assert_int_equal(ns__family_gbdt.ops->n_estimators(mb), 12);
		double *pb = proba(mb, t.x, t.n, t.nf, 3, 5), *ps = proba(ms, t.x, t.n, t.nf, 3, 0);
		assert_memory_equal(pb, ps, t.n * 3 * sizeof(double));
		free(pb);
		free(ps);
		double *pa = proba(mb, t.x, t.n, t.nf, 3, 0),
		       *pz = proba(mb, t.x, t.n, t.nf, 3, 99);
		assert_memory_equal(pa, pz, t.n * 3 * sizeof(double));
		free(pa);
		free(pz);
		gbdt_free(mb);
		gbdt_free(ms);
	}
	tdata_free(&t);
}

static void test_thread_determinism(void **state)
{
	struct tdata t;
	(void)state;
	/* Small blocks and no parallel threshold: every pass runs split across threads. */
	BLK = 64;
	PAR_ROWS = 1;
	PAR_WORK = 1;
	data_blobs(&t, 3000, 7, 3, 21, 0.08);
	for (size_t i = 0; i < t.n; i++)
		t.x[i * t.nf + 6] = (double)(i % 11); /* a few-valued feature */
	struct ns_dataset d = as_dataset(&t, true);
	static const char *const lists[] = {
		"n_estimators=8,max_depth=5", "n_estimators=6,subsample=0.6,max_features=0.5",
		"n_estimators=3,max_depth=none,min_samples_leaf=20,max_bins=32"};
	for (size_t l = 0; l < 3; l++) {
		uint8_t *ref = NULL;
		size_t ref_len = 0;
		for (int threads = 1; threads <= 3; threads++) {
			struct gbdt *m = fit(lists[l], &d, threads, 7);
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
			gbdt_free(m);
		}
		/* Another seed changes a sampled fit. */
		if (l == 1) {
			struct gbdt *m = fit(lists[l], &d, 2, 8);
			size_t len;
			uint8_t *b = save(m, &len);
			assert_true(len != ref_len || memcmp(b, ref, len) != 0);
			free(b);
			gbdt_free(m);
		}
		free(ref);
	}
	BLK = 8192;
	PAR_ROWS = 100000;
	PAR_WORK = 1000000;
	tdata_free(&t);
}

static void test_depth_first_fallback(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 800, 4, 2, 33, 0.05);
	struct ns_dataset d = as_dataset(&t, false);
	const char *list = "n_estimators=4,max_depth=none,min_samples_leaf=3";
	struct gbdt *a = fit(list, &d, 1, 0);
	MAX_OPEN = 1;
	struct gbdt *b = fit(list, &d, 2, 0);
	MAX_OPEN = 2;
	struct gbdt *c = fit(list, &d, 1, 0);
	MAX_OPEN = 0;
	assert_int_equal(a->n_nodes, b->n_nodes);
	assert_memory_equal(a->nodes, b->nodes, a->n_nodes * sizeof(struct gnode));
	assert_memory_equal(a->nodes, c->nodes, a->n_nodes * sizeof(struct gnode));
	double *pa = proba(a, t.x, t.n, t.nf, 2, 0), *pb = proba(b, t.x, t.n, t.nf, 2, 0);
	assert_memory_equal(pa, pb, t.n * 2 * sizeof(double));
	for (size_t f = 0; f < t.nf; f++)
		check_close(b->importance[f], a->importance[f], 1e-12, "importance", f);
	free(pa);
	free(pb);
	gbdt_free(a);
	gbdt_free(b);
	gbdt_free(c);
	tdata_free(&t);
}

/* ---- save, load, corruption ---------------------------------------------------------------------- */

static struct gbdt *load(const uint8_t *b, size_t len, size_t nf, uint32_t k, enum ns_status *st)
{
	struct ns__rbuf r;
	struct ns_diag dg;
	void *impl = NULL;
	struct ns_params p = params_of("");
	ns_diag_clear(&dg);
	ns__r_init(&r, b, len);
	*st = ns__family_gbdt.ops->load(&r, &p, nf, k, &impl, &dg);
	if (*st == NS_OK && !ns__r_done(&r)) {
		gbdt_free(impl);
		*st = NS_ERR_CORRUPT;
		return NULL;
	}
	if (*st != NS_OK)
		assert_null(impl);
	return impl;
}

static void test_save_load(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 300, 5, 3, 4, 0.1);
	struct ns_dataset d = as_dataset(&t, true);
	struct gbdt *m = fit("n_estimators=7,max_depth=3,subsample=0.9", &d, 1, 3);
	size_t len, len2;
	uint8_t *b = save(m, &len);
	enum ns_status st;
	struct gbdt *m2 = load(b, len, t.nf, 3, &st);
	assert_int_equal(st, NS_OK);
	uint8_t *b2 = save(m2, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(b, b2, len);
	double *p1 = proba(m, t.x, t.n, t.nf, 3, 0), *p2 = proba(m2, t.x, t.n, t.nf, 3, 0);
	assert_memory_equal(p1, p2, t.n * 3 * sizeof(double));
	double f1[5], f2[5];
	ns__family_gbdt.ops->feature_importance(m, 5, f1);
	ns__family_gbdt.ops->feature_importance(m2, 5, f2);
	assert_memory_equal(f1, f2, sizeof(f1));
	struct ns__buf js;
	ns__buf_init(&js, 0);
	assert_int_equal(ns__family_gbdt.ops->describe(m2, &js), NS_OK);
	assert_non_null(strstr(js.data, "\"trees\":21"));
	assert_non_null(strstr(js.data, "\"trees_per_iteration\":3"));
	ns__buf_fini(&js);
	/* A payload for other shapes is refused. */
	assert_null(load(b, len, t.nf, 2, &st));
	assert_int_equal(st, NS_ERR_CORRUPT);
	assert_null(load(b, len, 2, 3, &st));
	assert_int_equal(st, NS_ERR_CORRUPT);
	free(p1);
	free(p2);
	free(b);
	free(b2);
	gbdt_free(m);
	gbdt_free(m2);
	tdata_free(&t);
}

static void test_corrupt_payloads(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 200, 4, 3, 12, 0.15);
	struct ns_dataset d = as_dataset(&t, false);
	struct gbdt *m = fit("n_estimators=3,max_depth=3", &d, 1, 0);
	size_t len;
	uint8_t *b = save(m, &len), *c = malloc(len);
	double q[8] = {NAN, 1, 2, 3, INFINITY, -INFINITY, NAN, 0}, out[6];
	enum ns_status st;
	assert_non_null(c);
	/* Truncations always fail. */
	for (size_t cut = 0; cut < len; cut++) {
		assert_null(load(b, cut, 4, 3, &st));
		assert_int_equal(st, NS_ERR_CORRUPT);
	}
	/* Flipped bytes fail cleanly or give a model that predicts without crashing. */
	size_t ok = 0;
	for (size_t i = 0; i < len; i++)
		for (int v = 0; v < 3; v++) {
			static const uint8_t flips[3] = {0xFF, 0x01, 0x80};
			memcpy(c, b, len);
			c[i] ^= flips[v];
			struct gbdt *x = load(c, len, 4, 3, &st);
			if (!x) {
				assert_true(st == NS_ERR_CORRUPT);
				continue;
			}
			ok++;
			ns__family_gbdt.ops->predict_proba(x, q, 2, 4, 3, 0, out);
			gbdt_free(x);
		}
	assert_true(ok > 0);
	/* A split whose child points backwards is refused. */
	memcpy(c, b, len);
	size_t first_tree = 4 + 3 * 4 + 4 + 4 + 8 + 3 * 8 + 4 * 8;
	uint32_t cnt;
	memcpy(&cnt, c + first_tree, 4);
	assert_true(cnt >= 3);
	memset(c + first_tree + 4 + 12, 0, 4); /* root's left child = 0 */
	assert_null(load(c, len, 4, 3, &st));
	assert_int_equal(st, NS_ERR_CORRUPT);
	free(b);
	free(c);
	gbdt_free(m);
	tdata_free(&t);
}

/* ---- allocation failures ------------------------------------------------------------------------ */

static void test_alloc_failures(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 120, 4, 3, 5, 0.1);
	struct ns_dataset d = as_dataset(&t, true);
	struct ns_params p = params_of("n_estimators=3,max_depth=none,subsample=0.8,"
				       "max_features=2,min_samples_leaf=4");
	struct ns_fit_options o = ns_fit_options_default();
	o.n_threads = 2;
	MAX_OPEN = 2; /* also the depth-first stack */
	void *impl = NULL;
	long n;
	for (n = 0;; n++) {
		struct ns_diag dg;
		ns_diag_clear(&dg);
		ns_alloc_fail_after(n);
		enum ns_status st = ns__family_gbdt.ops->fit(&p, &d, &o, &impl, &dg);
		ns_alloc_fail_reset();
		if (st == NS_OK)
			break;
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(impl);
	}
	MAX_OPEN = 0;
	assert_true(n > 10);
	size_t len;
	uint8_t *b = save(impl, &len);
	for (n = 0;; n++) {
		enum ns_status st;
		ns_alloc_fail_after(n);
		struct gbdt *x = load(b, len, 4, 3, &st);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			gbdt_free(x);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
	}
	/* The write buffer fails cleanly too. */
	struct ns__wbuf w;
	ns__w_init(&w);
	ns_alloc_fail_after(0);
	assert_int_equal(ns__family_gbdt.ops->save(impl, &w), NS_ERR_NOMEM);
	ns_alloc_fail_reset();
	ns__w_fini(&w);
	struct ns__buf js;
	ns__buf_init(&js, 0);
	ns_alloc_fail_after(0);
	assert_int_equal(ns__family_gbdt.ops->describe(impl, &js), NS_ERR_NOMEM);
	ns_alloc_fail_reset();
	ns__buf_fini(&js);
	free(b);
	gbdt_free(impl);
	tdata_free(&t);
}

/* Boosting iterations allocate nothing: the count does not grow with n_estimators. */
static void test_no_allocation_per_iteration(void **state)
{
	struct tdata t;
	(void)state;
	data_blobs(&t, 500, 6, 3, 14, 0.05);
	struct ns_dataset d = as_dataset(&t, true);
	static const char *const lists[3][2] = {
		{"n_estimators=4", "n_estimators=60"},
		{"n_estimators=4,max_depth=6,subsample=0.5",
		 "n_estimators=60,max_depth=6,subsample=0.5"},
		{"n_estimators=4,max_features=sqrt", "n_estimators=60,max_features=sqrt"}};
	for (size_t l = 0; l < 3; l++) {
		long count[2];
		for (int i = 0; i < 2; i++) {
			ns_alloc_fail_reset();
			struct gbdt *m = fit(lists[l][i], &d, 2, 1);
			count[i] = ns_alloc_count();
			gbdt_free(m);
		}
		if (count[0] != count[1])
			fail_msg("%s: %ld allocations, %s: %ld", lists[l][0], count[0], lists[l][1],
				 count[1]);
	}
	tdata_free(&t);
}

/* ---- through the public model API ------------------------------------------------------------------ */

static void test_model_api(void **state)
{
	struct tdata t;
	struct ns_model *m = NULL, *m2 = NULL;
	struct ns_diag dg;
	(void)state;
	data_blobs(&t, 250, 3, 2, 8, 0.2);
	struct ns_dataset d = as_dataset(&t, false);
	struct ns_params p = params_of("n_estimators=9");
	struct ns_fit_options o = ns_fit_options_default();
	ns_diag_clear(&dg);
	assert_int_equal(ns_model_fit(&p, &d, &o, &m, &dg), NS_OK);
	assert_int_equal(ns_model_n_estimators(m), 9);
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(ns_model_to_buffer(m, &buf, &len), NS_OK);
	assert_int_equal(ns_model_from_buffer(buf, len, &m2, &dg), NS_OK);
	double *p1 = malloc(t.n * 2 * sizeof(double)), *p2 = malloc(t.n * 2 * sizeof(double));
	assert_non_null(p1);
	assert_non_null(p2);
	assert_int_equal(ns_model_predict_proba(m, t.x, t.n, p1), NS_OK);
	assert_int_equal(ns_model_predict_proba(m2, t.x, t.n, p2), NS_OK);
	assert_memory_equal(p1, p2, t.n * 2 * sizeof(double));
	double fi[3], s = 0;
	assert_int_equal(ns_model_feature_importance(m2, fi), NS_OK);
	for (int f = 0; f < 3; f++)
		s += fi[f];
	check_close(s, 1.0, 1e-12, "importance sum", 0);
	char *js = NULL;
	assert_int_equal(ns_model_describe_json(m2, &js), NS_OK);
	assert_non_null(strstr(js, "\"iterations\":9"));
	ns_free(js);
	ns_free(buf);
	free(p1);
	free(p2);
	ns_model_free(m);
	ns_model_free(m2);
	tdata_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_loss_finite_differences),
		cmocka_unit_test(test_split_brute_force),
		cmocka_unit_test(test_one_tree_by_hand),
		cmocka_unit_test(test_init_prior),
		cmocka_unit_test(test_sklearn_reference),
		cmocka_unit_test(test_binning),
		cmocka_unit_test(test_missing_values),
		cmocka_unit_test(test_multiclass_and_absent_classes),
		cmocka_unit_test(test_one_class),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_thread_determinism),
		cmocka_unit_test(test_depth_first_fallback),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_no_allocation_per_iteration),
		cmocka_unit_test(test_model_api),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
