/*
 * tests/unit/learn/test_logreg.c - logistic regression and the L-BFGS
 * minimiser: finite-difference gradients (the slow reference), Rosenbrock,
 * scikit-learn 1.2.1's coefficients on tiny sets, determinism across thread
 * counts, save/load, corrupt payloads, one class and allocation failures.
 *
 * Includes lib/learn/logreg.c to reach the objective and its context.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Threads even for tiny sums, so the tests run the parallel path. */
#define LR_PARALLEL_MIN_WORK 0
#include "learn/logreg.c"

#define CHECK_CLOSE(got, want, tol) check_close((got), (want), (tol), #got, __FILE__, __LINE__)

static void check_close(double got, double want, double tol, const char *what, const char *file,
			int line)
{
	if (!(fabs(got - want) <= tol)) {
		fprintf(stderr, "%s:%d: %s = %.17g, want %.17g (tol %g)\n", file, line, what, got,
			want, tol);
		fail();
	}
}

static const struct ns_family *const F = &ns__family_logreg;

static void params_from(struct ns_params *p, const char *list)
{
	struct ns_diag diag;
	ns_params_init(p, F);
	if (ns_params_parse(p, list, &diag) != NS_OK) {
		fprintf(stderr, "params '%s': %s\n", list, diag.message);
		fail();
	}
}

/* A small deterministic generator for test data (not the library's). */
static double urand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) * 0x1.0p-53;
}

struct data {
	size_t n, d;
	uint32_t k;
	double *x, *w;
	uint32_t *y;
};

static void data_free(struct data *t)
{
	free(t->x);
	free(t->w);
	free(t->y);
	memset(t, 0, sizeof(*t));
}

/* Random rows; `sparse` makes most values zero; labels from a noisy linear rule. */
static void data_random(struct data *t, size_t n, size_t d, uint32_t k, uint64_t seed, bool sparse,
			bool weights)
{
	uint64_t s = seed;
	t->n = n;
	t->d = d;
	t->k = k;
	t->x = malloc(n * d * sizeof(double));
	t->y = malloc(n * sizeof(uint32_t));
	t->w = weights ? malloc(n * sizeof(double)) : NULL;
	for (size_t i = 0; i < n; i++) {
		double best = -INFINITY;
		for (size_t j = 0; j < d; j++) {
			double v = 4 * urand(&s) - 2;
			if (sparse && urand(&s) < 0.85)
				v = 0;
			t->x[i * d + j] = v;
		}
		t->y[i] = 0;
		for (uint32_t c = 0; c < k; c++) {
			double sc = t->x[i * d + c % d] * (c % 2 ? -1 : 1) + urand(&s);
			if (sc > best) {
				best = sc;
				t->y[i] = c;
			}
		}
		if (t->w)
			t->w[i] = 0.25 + 2 * urand(&s);
	}
}

static struct ns_dataset as_dataset(const struct data *t)
{
	struct ns_dataset ds = {t->n, t->d, t->x, t->y, t->k, t->w};
	return ds;
}

static void *fit_ok(const struct ns_params *p, const struct ns_dataset *ds, int n_threads)
{
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag diag;
	void *impl = NULL;
	enum ns_status st;
	o.n_threads = n_threads;
	ns_diag_clear(&diag);
	st = F->ops->fit(p, ds, &o, &impl, &diag);
	if (st != NS_OK)
		fprintf(stderr, "fit: %s\n", diag.message);
	assert_int_equal(st, NS_OK);
	assert_non_null(impl);
	return impl;
}

static void save_ok(const void *impl, struct ns__wbuf *w)
{
	ns__w_init(w);
	assert_int_equal(F->ops->save(impl, w), NS_OK);
	assert_false(w->failed);
}

/* ---- the parameter table ----------------------------------------------------------------- */

static void test_params(void **state)
{
	struct ns_params p;
	struct ns_diag diag;
	char buf[256];
	(void)state;
	assert_ptr_equal(ns_family_find("logreg"), F);
	assert_ptr_equal(ns_family_find("logistic_regression"), F);
	assert_ptr_equal(ns_family_find("LR"), F);
	assert_ptr_equal(ns_family_find("logistic"), F);
	ns_params_init(&p, F);
	ns_params_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "penalty=l2,C=1,fit_intercept=true,max_iter=100,tol=0.0001,"
				 "class_weight=none");
	assert_int_equal(ns_params_set(&p, "C", "0", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "C", "-1", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_iter", "0", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "penalty", "l1", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "penalty", "none", &diag), NS_OK);
	assert_int_equal(ns_params_set(&p, "class_weight", "balanced", &diag), NS_OK);
	assert_int_equal(ns_params_set(&p, "tol", "1e-8", &diag), NS_OK);
	assert_null(F->prefix_param);
	assert_true(F->flags & NS__FAMILY_NEEDS_COMPLETE);
}

/* ---- L-BFGS on its own ------------------------------------------------------------------- */

static double rosenbrock(void *ctx, const double *x, double *g)
{
	size_t n = *(const size_t *)ctx;
	double f = 0;
	memset(g, 0, n * sizeof(double));
	for (size_t i = 0; i + 1 < n; i++) {
		double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
		f += 100 * a * a + b * b;
		g[i] += -400 * a * x[i] - 2 * b;
		g[i + 1] += 200 * a;
	}
	return f;
}

static void test_lbfgs_rosenbrock(void **state)
{
	struct ns__lbfgs_options o;
	struct ns__lbfgs_result r;
	size_t n = 2;
	double x[10] = {-1.2, 1};
	(void)state;
	ns__lbfgs_options_default(&o);
	o.pgtol = 1e-9;
	o.ftol = 0;
	assert_int_equal(ns__lbfgs_minimize(n, x, rosenbrock, &n, &o, &r), NS_OK);
	assert_int_equal(r.stop, NS__LBFGS_PGTOL);
	CHECK_CLOSE(x[0], 1.0, 1e-7);
	CHECK_CLOSE(x[1], 1.0, 1e-7);
	assert_true(r.n_iter > 10 && r.n_iter < 100);
	assert_true(r.f < 1e-14);

	/* Ten dimensions from the classic start. */
	n = 10;
	for (size_t i = 0; i < n; i++)
		x[i] = i % 2 ? 1.0 : -1.2;
	assert_int_equal(ns__lbfgs_minimize(n, x, rosenbrock, &n, &o, &r), NS_OK);
	assert_int_equal(r.stop, NS__LBFGS_PGTOL);
	for (size_t i = 0; i < n; i++)
		CHECK_CLOSE(x[i], 1.0, 1e-6);

	/* The iteration limit stops where SciPy would. */
	x[0] = -1.2;
	x[1] = 1;
	n = 2;
	o.max_iter = 3;
	assert_int_equal(ns__lbfgs_minimize(n, x, rosenbrock, &n, &o, &r), NS_OK);
	assert_int_equal(r.stop, NS__LBFGS_MAX_ITER);
	assert_int_equal(r.n_iter, 3);
	assert_string_equal(ns__lbfgs_stop_name(r.stop), "max_iter");

	/* Bad arguments. */
	assert_int_equal(ns__lbfgs_minimize(0, x, rosenbrock, &n, &o, &r), NS_ERR_INVALID);
	o.m = 0;
	assert_int_equal(ns__lbfgs_minimize(n, x, rosenbrock, &n, &o, &r), NS_ERR_INVALID);
	ns__lbfgs_options_default(&o);
	ns_alloc_fail_after(0);
	assert_int_equal(ns__lbfgs_minimize(n, x, rosenbrock, &n, &o, &r), NS_ERR_NOMEM);
	ns_alloc_fail_reset();
}

/* An objective whose value turns NaN away from the start: the run ends cleanly. */
static double nan_bowl(void *ctx, const double *x, double *g)
{
	(void)ctx;
	g[0] = 2 * (x[0] - 5);
	if (x[0] > 0.5)
		return NAN;
	return (x[0] - 5) * (x[0] - 5);
}

static void test_lbfgs_nonfinite(void **state)
{
	struct ns__lbfgs_options o;
	struct ns__lbfgs_result r;
	double x = 0;
	(void)state;
	ns__lbfgs_options_default(&o);
	assert_int_equal(ns__lbfgs_minimize(1, &x, nan_bowl, NULL, &o, &r), NS_OK);
	assert_true(x <= 0.5);
	assert_false(isnan(r.f));
}

/* ---- the objective: the slow reference ---------------------------------------------------- */

/* The objective written the obvious way: row by row, no tiles, no chunks. */
static double naive_objective(const struct lr_ctx *c, const double *w)
{
	const size_t d = c->d, k = c->k;
	double f = 0, pen = 0;
	for (size_t i = 0; i < c->n; i++) {
		const double *xi = c->x + i * d;
		if (k == 1) {
			double z = c->intercept ? w[d] : 0, y = c->y[i] == 1;
			for (size_t j = 0; j < d; j++)
				z += xi[j] * w[j];
			f += c->sw[i] * (log(1 + exp(z)) - y * z);
		} else {
			double z[16], m = -INFINITY, s = 0;
			for (size_t t = 0; t < k; t++) {
				z[t] = c->intercept ? w[d * k + t] : 0;
				for (size_t j = 0; j < d; j++)
					z[t] += xi[j] * w[j * k + t];
				m = fmax(m, z[t]);
			}
			for (size_t t = 0; t < k; t++)
				s += exp(z[t] - m);
			f += c->sw[i] * (m + log(s) - z[c->y[i]]);
		}
	}
	for (size_t t = 0; t < d * k; t++)
		pen += w[t] * w[t];
	return f + 0.5 * c->l2 * pen;
}

static void check_gradient(const struct data *t, const char *plist, uint64_t seed)
{
	struct ns_params p;
	struct ns_dataset ds = as_dataset(t);
	struct lr_ctx c;
	double *w, *g, *g2, gmax = 0, f, f2;
	uint64_t s = seed;

	params_from(&p, plist);
	assert_int_equal(lr_ctx_init(&c, &p, &ds, 2, NULL), NS_OK);
	w = malloc(c.n_params * sizeof(double));
	g = malloc(c.n_params * sizeof(double));
	g2 = malloc(c.n_params * sizeof(double));
	for (size_t i = 0; i < c.n_params; i++)
		w[i] = 1.5 * urand(&s) - 0.75;
	f = lr_objective(&c, w, g);
	/* The value agrees with the obvious formula ... */
	CHECK_CLOSE(f, naive_objective(&c, w), 1e-10 * fabs(f));
	/* ... and does not depend on the thread count, to the bit. */
	c.n_threads = 1;
	f2 = lr_objective(&c, w, g2);
	assert_memory_equal(&f, &f2, sizeof(f));
	assert_memory_equal(g, g2, c.n_params * sizeof(double));
	for (size_t i = 0; i < c.n_params; i++)
		gmax = fmax(gmax, fabs(g[i]));
	/* Central differences, component by component. */
	for (size_t i = 0; i < c.n_params; i++) {
		double keep = w[i], h = 1e-5 * fmax(1, fabs(w[i])), fp, fm, fd;
		w[i] = keep + h;
		fp = lr_objective(&c, w, g2);
		w[i] = keep - h;
		fm = lr_objective(&c, w, g2);
		w[i] = keep;
		fd = (fp - fm) / (2 * h);
		if (!(fabs(fd - g[i]) <= 1e-6 * fmax(1, gmax))) {
			fprintf(stderr,
				"%s (n %zu d %zu k %u): d/dw[%zu] analytic %.17g, finite "
				"difference %.17g\n",
				plist, t->n, t->d, t->k, i, g[i], fd);
			fail();
		}
	}
	free(w);
	free(g);
	free(g2);
	lr_ctx_fini(&c);
}

static void test_gradient_finite_differences(void **state)
{
	static const char *const plists[] = {
		"",
		"fit_intercept=false",
		"class_weight=balanced",
		"penalty=none,class_weight=balanced,fit_intercept=false",
		"C=0.01",
	};
	(void)state;
	for (size_t pi = 0; pi < sizeof(plists) / sizeof(plists[0]); pi++) {
		for (int weights = 0; weights < 2; weights++) {
			struct data t;
			/* Binary; several chunks and a ragged last one. */
			data_random(&t, 700, 6, 2, 11 + pi, false, weights);
			check_gradient(&t, plists[pi], 100 + pi);
			data_free(&t);
			/* Multinomial, dense: 4 x 4 tiles, a feature tail and padded classes. */
			data_random(&t, 531, 7, 5, 21 + pi, false, weights);
			check_gradient(&t, plists[pi], 200 + pi);
			data_free(&t);
			/* Multinomial, mostly zeros: the row-by-row path. */
			data_random(&t, 300, 9, 3, 31 + pi, true, weights);
			check_gradient(&t, plists[pi], 300 + pi);
			data_free(&t);
			/* Four classes (no padding), one feature. */
			data_random(&t, 65, 1, 4, 41 + pi, false, weights);
			check_gradient(&t, plists[pi], 400 + pi);
			data_free(&t);
		}
	}
}

/* Integer sample weights are the same objective as repeated rows. */
static void test_weights_repeat_rows(void **state)
{
	struct data t, r;
	struct ns_params p;
	struct lr_ctx c1, c2;
	size_t m = 0;
	(void)state;
	data_random(&t, 40, 3, 3, 5, false, true);
	for (size_t i = 0; i < t.n; i++) {
		t.w[i] = (double)(1 + i % 3);
		m += 1 + i % 3;
	}
	r.n = m;
	r.d = t.d;
	r.k = t.k;
	r.w = NULL;
	r.x = malloc(m * t.d * sizeof(double));
	r.y = malloc(m * sizeof(uint32_t));
	m = 0;
	for (size_t i = 0; i < t.n; i++)
		for (size_t c = 0; c < 1 + i % 3; c++, m++) {
			memcpy(r.x + m * t.d, t.x + i * t.d, t.d * sizeof(double));
			r.y[m] = t.y[i];
		}
	params_from(&p, "");
	{
		struct ns_dataset a = as_dataset(&t), b = as_dataset(&r);
		double w[12], g1[12], g2[12], f1, f2;
		uint64_t s = 9;
		assert_int_equal(lr_ctx_init(&c1, &p, &a, 1, NULL), NS_OK);
		assert_int_equal(lr_ctx_init(&c2, &p, &b, 1, NULL), NS_OK);
		assert_int_equal(c1.n_params, 12);
		for (int i = 0; i < 12; i++)
			w[i] = urand(&s) - 0.5;
		f1 = lr_objective(&c1, w, g1);
		f2 = lr_objective(&c2, w, g2);
		CHECK_CLOSE(f1, f2, 1e-12 * f2);
		for (int i = 0; i < 12; i++)
			CHECK_CLOSE(g1[i], g2[i], 1e-12 * fmax(1, fabs(g2[i])));
		lr_ctx_fini(&c1);
		lr_ctx_fini(&c2);
	}
	data_free(&t);
	data_free(&r);
}

/* ---- fits ------------------------------------------------------------------------------- */

/* Gradient of the objective at a fitted model, from its stored coefficients. */
static double fitted_gradient_max(const struct logreg *m, const struct ns_params *p,
				  const struct ns_dataset *ds)
{
	struct lr_ctx c;
	double *w, *g, gmax = 0;
	assert_int_equal(lr_ctx_init(&c, p, ds, 1, NULL), NS_OK);
	w = malloc(c.n_params * sizeof(double));
	g = malloc(c.n_params * sizeof(double));
	for (uint32_t t = 0; t < c.k; t++) {
		for (size_t j = 0; j < c.d; j++)
			w[j * c.k + t] = m->coef[t * c.d + j];
		if (c.intercept)
			w[c.d * c.k + t] = m->intercept[t];
	}
	lr_objective(&c, w, g);
	for (size_t i = 0; i < c.n_params; i++)
		gmax = fmax(gmax, fabs(g[i]));
	free(w);
	free(g);
	lr_ctx_fini(&c);
	return gmax;
}

/* The tiny sets of tests/tools-free scikit-learn runs (see the expectations below). */
static void set_b(struct data *t)
{
	t->n = 60;
	t->d = 4;
	t->k = 2;
	t->x = malloc(60 * 4 * sizeof(double));
	t->y = malloc(60 * sizeof(uint32_t));
	t->w = NULL;
	for (size_t i = 0; i < 60; i++) {
		double *x = t->x + i * 4;
		for (size_t j = 0; j < 4; j++)
			x[j] = 2 * sin(0.37 * (double)i * (double)(j + 1) + (double)j);
		t->y[i] = x[0] - 0.5 * x[1] + 0.25 * x[2] + sin(2.1 * (double)i) > 0;
	}
}

static void set_m(struct data *t)
{
	t->n = 90;
	t->d = 3;
	t->k = 3;
	t->x = malloc(90 * 3 * sizeof(double));
	t->y = malloc(90 * sizeof(uint32_t));
	t->w = NULL;
	for (size_t i = 0; i < 90; i++) {
		double *x = t->x + i * 3, s[3];
		for (size_t j = 0; j < 3; j++)
			x[j] = 2 * sin(0.23 * (double)i * (double)(j + 2) + 0.5 * (double)j);
		s[0] = x[0] + 0.3 * sin((double)i * 1.7);
		s[1] = x[1] + 0.3 * cos((double)i * 1.1);
		s[2] = -x[0] - x[1] + 0.2 * x[2];
		t->y[i] = s[1] > s[0] ? (s[2] > s[1] ? 2 : 1) : (s[2] > s[0] ? 2 : 0);
	}
}

/*
 * scikit-learn 1.2.1, LogisticRegression(**kw).fit(X, y) on set_b / set_m
 * (the same formulas in Python with math.sin/cos): coef_, intercept_ and
 * predict_proba of row 0.
 */
static void test_matches_sklearn(void **state)
{
	static const struct {
		bool multi;
		const char *params;
		uint32_t n_iter;
		double coef[9], icpt[3], proba0[3];
	} cases[] = {
		{false,
		 "",
		 11,
		 {1.8036348514739999, -0.44639555458146285, 0.38539453052685418,
		  0.17208266233965802},
		 {-0.70829433443899559},
		 {0.67042480800347004, 0.32957519199652996}},
		{false,
		 "class_weight=balanced,fit_intercept=false,C=0.5",
		 8,
		 {1.5274965131917679, -0.53492280281798044, 0.3147983796082181,
		  0.088574418086347861},
		 {0},
		 {0.57511563541762212, 0.42488436458237788}},
		{true,
		 "",
		 22,
		 {1.6848967084528459, -0.49731042639188383, -0.59575552663289233,
		  -0.27818414775046862, 1.8275818099818921, 0.16369955024970029,
		  -1.4067125607023778, -1.3302713835900088, 0.4320559763831921},
		 {-0.63385880254582827, 0.12638259914726147, 0.50747620339856692},
		 {0.01245438515431376, 0.88860998923584544, 0.09893562560984076}},
		{true,
		 "class_weight=balanced,C=10",
		 27,
		 {4.3708190603706072, -0.58641387927668065, -0.33979566285766166,
		  -0.76906789004273646, 3.3688975007180724, 0.018153083080123977,
		  -3.6017511703278648, -2.7824836214413993, 0.32164257977752431},
		 {-2.2777848337453972, 1.0107535271877857, 1.2670313065576189},
		 {0.00045744706691698583, 0.99367064049426879, 0.0058719124388142011}},
	};
	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct data t;
		struct ns_params p;
		struct ns_dataset ds;
		struct logreg *m;
		double proba[3];
		size_t nv;
		if (cases[c].multi)
			set_m(&t);
		else
			set_b(&t);
		ds = as_dataset(&t);
		params_from(&p, cases[c].params);
		m = fit_ok(&p, &ds, 1);
		nv = cases[c].multi ? 3 : 1;
		assert_int_equal(m->n_vectors, nv);
		/* Same iteration path as SciPy's L-BFGS-B, up to rounding. */
		assert_int_equal(m->n_iter, cases[c].n_iter);
		for (size_t i = 0; i < nv * t.d; i++)
			CHECK_CLOSE(m->coef[i], cases[c].coef[i], 1e-6);
		for (size_t i = 0; i < nv; i++)
			CHECK_CLOSE(m->intercept[i], cases[c].icpt[i], 1e-6);
		F->ops->predict_proba(m, t.x, 1, t.d, t.k, 0, proba);
		for (uint32_t i = 0; i < t.k; i++)
			CHECK_CLOSE(proba[i], cases[c].proba0[i], 1e-7);
		F->ops->free(m);
		data_free(&t);
	}
}

/* At the optimum of a small, nearly separable set the gradient is within tol. */
static void test_optimum_gradient(void **state)
{
	static const char *const plists[] = {"max_iter=1000", "max_iter=1000,tol=1e-6",
					     "max_iter=1000,C=100,class_weight=balanced"};
	(void)state;
	for (int multi = 0; multi < 2; multi++)
		for (size_t pi = 0; pi < 3; pi++) {
			struct data t;
			struct ns_params p;
			struct ns_dataset ds;
			struct logreg *m;
			if (multi)
				set_m(&t);
			else
				set_b(&t);
			ds = as_dataset(&t);
			params_from(&p, plists[pi]);
			m = fit_ok(&p, &ds, 1);
			if (m->stop == NS__LBFGS_PGTOL)
				assert_true(fitted_gradient_max(m, &p, &ds) <= p.v[P_TOL]);
			else /* stopped on the relative reduction: close anyway */
				assert_true(fitted_gradient_max(m, &p, &ds) <= 100 * p.v[P_TOL]);
			F->ops->free(m);
			data_free(&t);
		}
}

/*
 * By hand: x = -1 (class 0) and x = 1 (class 1), C = 1.  By symmetry b = 0
 * and w solves w = 2 / (1 + e^w); P(class 1 | x = 1) = 1 / (1 + e^-w).
 */
static void test_hand_checked(void **state)
{
	double x[2] = {-1, 1}, w = 0.5, proba[4];
	uint32_t y[2] = {0, 1};
	struct ns_dataset ds = {2, 1, x, y, 2, NULL};
	struct ns_params p;
	struct logreg *m;
	(void)state;
	for (int i = 0; i < 50; i++) { /* Newton on w - 2 / (1 + e^w) */
		double e = exp(w);
		w -= (w - 2 / (1 + e)) / (1 + 2 * e / ((1 + e) * (1 + e)));
	}
	params_from(&p, "tol=1e-10");
	m = fit_ok(&p, &ds, 1);
	CHECK_CLOSE(m->coef[0], w, 1e-7);
	CHECK_CLOSE(m->intercept[0], 0, 1e-7);
	F->ops->predict_proba(m, x, 2, 1, 2, 0, proba);
	CHECK_CLOSE(proba[3], 1 / (1 + exp(-w)), 1e-7);
	CHECK_CLOSE(proba[0], proba[3], 1e-7);
	CHECK_CLOSE(proba[0] + proba[1], 1, 1e-15);
	F->ops->feature_importance(m, 1, proba);
	CHECK_CLOSE(proba[0], 1, 0);
	F->ops->free(m);

	/* Without a penalty the weight grows until the gradient, 2 / (1 + e^w),
	 * falls below tol: w >= log(2 / tol - 1) = 9.90. */
	params_from(&p, "penalty=none,C=0.001");
	m = fit_ok(&p, &ds, 1);
	assert_int_equal(m->stop, NS__LBFGS_PGTOL);
	assert_true(m->coef[0] >= log(2 / 1e-4 - 1) && m->coef[0] < 12);
	F->ops->free(m);
}

static void test_multiclass(void **state)
{
	struct data t;
	struct ns_params p;
	struct ns_dataset ds;
	struct logreg *m;
	double *proba, imp[6], sum = 0;
	size_t correct = 0;
	(void)state;
	data_random(&t, 400, 6, 4, 77, false, false);
	ds = as_dataset(&t);
	params_from(&p, "");
	m = fit_ok(&p, &ds, 2);
	proba = malloc(t.n * 4 * sizeof(double));
	F->ops->predict_proba(m, t.x, t.n, t.d, 4, 0, proba);
	for (size_t i = 0; i < t.n; i++) {
		double s = 0;
		uint32_t best = 0;
		for (uint32_t c = 0; c < 4; c++) {
			s += proba[i * 4 + c];
			if (proba[i * 4 + c] > proba[i * 4 + best])
				best = c;
		}
		CHECK_CLOSE(s, 1, 1e-12);
		correct += best == t.y[i];
	}
	assert_true(correct > t.n * 7 / 10);
	F->ops->feature_importance(m, 6, imp);
	for (int j = 0; j < 6; j++) {
		assert_true(imp[j] >= 0);
		sum += imp[j];
	}
	CHECK_CLOSE(sum, 1, 1e-12);
	/* The first four features drive the labels; the last two are noise. */
	assert_true(imp[0] > imp[5] && imp[1] > imp[4]);
	free(proba);
	F->ops->free(m);
	data_free(&t);
}

static void test_determinism_threads(void **state)
{
	static const uint32_t ks[] = {2, 3};
	(void)state;
	for (size_t c = 0; c < 2; c++) {
		struct data t;
		struct ns_params p;
		struct ns_dataset ds;
		struct ns__wbuf a, b;
		void *m1, *m2;
		data_random(&t, 3000, 10, ks[c], 3 + c, false, true);
		ds = as_dataset(&t);
		params_from(&p, "class_weight=balanced");
		m1 = fit_ok(&p, &ds, 1);
		m2 = fit_ok(&p, &ds, 2);
		save_ok(m1, &a);
		save_ok(m2, &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		ns__w_fini(&a);
		ns__w_fini(&b);
		F->ops->free(m1);
		F->ops->free(m2);
		data_free(&t);
	}
}

static void *load_ok(const struct ns__wbuf *w, const struct ns_params *p, size_t d, uint32_t k)
{
	struct ns__rbuf r;
	struct ns_diag diag;
	void *impl = NULL;
	ns__r_init(&r, w->data, w->len);
	ns_diag_clear(&diag);
	if (F->ops->load(&r, p, d, k, &impl, &diag) != NS_OK)
		fprintf(stderr, "load: %s\n", diag.message);
	assert_non_null(impl);
	assert_true(ns__r_done(&r));
	return impl;
}

static void test_save_load(void **state)
{
	(void)state;
	for (uint32_t k = 2; k <= 3; k++) {
		struct data t;
		struct ns_params p;
		struct ns_dataset ds;
		struct ns__wbuf a, b;
		struct ns__buf js;
		double *p1, *p2;
		void *m, *m2;
		data_random(&t, 200, 5, k, 8, false, false);
		ds = as_dataset(&t);
		params_from(&p, k == 2 ? "fit_intercept=false" : "");
		m = fit_ok(&p, &ds, 1);
		save_ok(m, &a);
		m2 = load_ok(&a, &p, t.d, k);
		p1 = malloc(t.n * k * sizeof(double));
		p2 = malloc(t.n * k * sizeof(double));
		F->ops->predict_proba(m, t.x, t.n, t.d, k, 0, p1);
		F->ops->predict_proba(m2, t.x, t.n, t.d, k, 0, p2);
		assert_memory_equal(p1, p2, t.n * k * sizeof(double));
		save_ok(m2, &b);
		assert_int_equal(a.len, b.len);
		assert_memory_equal(a.data, b.data, a.len);
		ns__buf_init(&js, 0);
		assert_int_equal(F->ops->describe(m2, &js), NS_OK);
		assert_non_null(strstr(js.data, "\"solver\":\"lbfgs\""));
		assert_non_null(strstr(js.data, k == 2 ? "\"binomial\"" : "\"multinomial\""));
		ns__buf_fini(&js);
		ns__w_fini(&a);
		ns__w_fini(&b);
		free(p1);
		free(p2);
		F->ops->free(m);
		F->ops->free(m2);
		data_free(&t);
	}
}

/* Flipped and truncated payloads: a clean error or a model that predicts. */
static void test_corrupt_payloads(void **state)
{
	(void)state;
	for (uint32_t k = 2; k <= 3; k++) {
		struct data t;
		struct ns_params p;
		struct ns_dataset ds;
		struct ns__wbuf a;
		double proba[8 * 3];
		void *m;
		data_random(&t, 50, 3, k, 4, false, false);
		ds = as_dataset(&t);
		params_from(&p, "");
		m = fit_ok(&p, &ds, 1);
		save_ok(m, &a);
		for (size_t len = 0; len <= a.len; len++)
			for (int flip = -1; flip < (int)(len ? 8 : 0); flip++) {
				uint8_t *buf = malloc(len ? len : 1);
				struct ns__rbuf r;
				struct ns_diag diag;
				void *impl = NULL;
				enum ns_status st;
				memcpy(buf, a.data, len);
				if (flip >= 0)
					buf[(len * 7 + (size_t)flip * 13) % len] ^=
						(uint8_t)(1u << flip);
				ns__r_init(&r, buf, len);
				ns_diag_clear(&diag);
				st = F->ops->load(&r, &p, t.d, k, &impl, &diag);
				if (st == NS_OK) {
					F->ops->predict_proba(impl, t.x, 8, t.d, k, 0, proba);
					F->ops->free(impl);
				} else {
					assert_int_equal(st, NS_ERR_CORRUPT);
					assert_true(diag.message[0] != '\0');
					assert_null(impl);
				}
				free(buf);
			}
		/* Specific inconsistencies. */
		{
			struct ns__rbuf r;
			void *impl = NULL;
			uint8_t *buf = malloc(a.len);
			double nan = NAN;
			memcpy(buf, a.data, a.len);
			buf[0] ^= 1; /* n_vectors */
			ns__r_init(&r, buf, a.len);
			assert_int_equal(F->ops->load(&r, &p, t.d, k, &impl, NULL), NS_ERR_CORRUPT);
			memcpy(buf, a.data, a.len);
			memcpy(buf + 18, &nan, 8); /* the first coefficient */
			ns__r_init(&r, buf, a.len);
			assert_int_equal(F->ops->load(&r, &p, t.d, k, &impl, NULL), NS_ERR_CORRUPT);
			ns__r_init(&r, a.data, a.len); /* fit_intercept differs from the params */
			p.v[P_FIT_INTERCEPT] = 0;
			assert_int_equal(F->ops->load(&r, &p, t.d, k, &impl, NULL), NS_ERR_CORRUPT);
			ns__r_init(&r, a.data, a.len); /* wrong class count for the payload */
			p.v[P_FIT_INTERCEPT] = 1;
			assert_int_equal(F->ops->load(&r, &p, t.d, k == 2 ? 4 : 2, &impl, NULL),
					 NS_ERR_CORRUPT);
			assert_null(impl);
			free(buf);
		}
		ns__w_fini(&a);
		F->ops->free(m);
		data_free(&t);
	}
}

static void test_one_class(void **state)
{
	struct data t;
	struct ns_params p;
	struct ns_dataset ds;
	void *m;
	double proba[3 * 5];
	(void)state;
	data_random(&t, 30, 3, 2, 6, false, false);
	for (size_t i = 0; i < t.n; i++)
		t.y[i] = 0;
	ds = as_dataset(&t);
	params_from(&p, "class_weight=balanced");
	m = fit_ok(&p, &ds, 1);
	F->ops->predict_proba(m, t.x, 5, t.d, 2, 0, proba);
	for (int i = 0; i < 5; i++)
		assert_true(proba[i * 2] > 0.9);
	F->ops->free(m);
	/* Three classes declared, one present. */
	for (size_t i = 0; i < t.n; i++)
		t.y[i] = 1;
	ds.n_classes = 3;
	m = fit_ok(&p, &ds, 1);
	F->ops->predict_proba(m, t.x, 5, t.d, 3, 0, proba);
	for (int i = 0; i < 5; i++)
		assert_true(proba[i * 3 + 1] > 0.9);
	F->ops->free(m);
	/* Bad input is refused, not crashed on. */
	ds.n_classes = 1;
	assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_ERR_INVALID);
	ds.n_classes = 2;
	t.y[3] = 7;
	assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_ERR_INVALID);
	t.y[3] = 0;
	t.w = malloc(t.n * sizeof(double));
	for (size_t i = 0; i < t.n; i++)
		t.w[i] = 1;
	t.w[2] = -1;
	ds.weight = t.w;
	assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_ERR_INVALID);
	data_free(&t);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	for (uint32_t k = 2; k <= 3; k++) {
		struct data t;
		struct ns_params p;
		struct ns_dataset ds;
		struct ns_fit_options o = ns_fit_options_default();
		struct ns__wbuf a;
		bool done = false;
		o.n_threads = 1;
		data_random(&t, 300, 4, k, 12, false, true);
		ds = as_dataset(&t);
		params_from(&p, "class_weight=balanced");
		for (long n = 0; n < 100 && !done; n++) {
			void *m = NULL;
			enum ns_status st;
			ns_alloc_fail_after(n);
			st = F->ops->fit(&p, &ds, &o, &m, NULL);
			ns_alloc_fail_reset();
			if (st == NS_OK) {
				done = true;
				save_ok(m, &a);
				F->ops->free(m);
			} else {
				assert_int_equal(st, NS_ERR_NOMEM);
				assert_null(m);
			}
		}
		assert_true(done);
		done = false;
		for (long n = 0; n < 100 && !done; n++) {
			struct ns__rbuf r;
			void *m = NULL;
			enum ns_status st;
			ns__r_init(&r, a.data, a.len);
			ns_alloc_fail_after(n);
			st = F->ops->load(&r, &p, t.d, k, &m, NULL);
			ns_alloc_fail_reset();
			if (st == NS_OK) {
				done = true;
				F->ops->free(m);
			} else {
				assert_int_equal(st, NS_ERR_NOMEM);
			}
		}
		assert_true(done);
		ns__w_fini(&a);
		data_free(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_lbfgs_rosenbrock),
		cmocka_unit_test(test_lbfgs_nonfinite),
		cmocka_unit_test(test_gradient_finite_differences),
		cmocka_unit_test(test_weights_repeat_rows),
		cmocka_unit_test(test_matches_sklearn),
		cmocka_unit_test(test_optimum_gradient),
		cmocka_unit_test(test_hand_checked),
		cmocka_unit_test(test_multiclass),
		cmocka_unit_test(test_determinism_threads),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_one_class),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
