/*
 * tests/unit/learn/test_forest.c - the random forest family.
 *
 * Checks: a one-tree forest without bootstrap is the decision tree; a
 * bootstrap tree is the tree grown with the draw counts as weights; the
 * out-of-bag score against a slow recomputation from the trees; prefixes
 * (n trees of a bigger forest = a forest of n); independence from the
 * thread count; batch prediction = row-by-row prediction; save/load;
 * corrupt payloads; parameter errors; one class; allocation failures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "learn/cart.h"

static const struct ns_family *fam(void)
{
	return &ns__family_forest;
}

static struct ns_fit_options opts(uint64_t seed, int threads)
{
	struct ns_fit_options o;
	memset(&o, 0, sizeof(o));
	o.seed = seed;
	o.n_threads = threads;
	o.threat_class = -1;
	return o;
}

static void set_params_of(const struct ns_family *f, struct ns_params *p, const char *list)
{
	struct ns_diag d;
	ns_params_init(p, f);
	ns_diag_clear(&d);
	if (ns_params_parse(p, list, &d) != NS_OK)
		fail_msg("params '%s': %s", list, d.message);
}

static void *fit_of(const struct ns_family *f, const char *list, const struct ns_dataset *d,
		    uint64_t seed, int threads)
{
	struct ns_params p;
	struct ns_fit_options o = opts(seed, threads);
	struct ns_diag dg;
	void *impl = NULL;
	enum ns_status st;
	set_params_of(f, &p, list);
	ns_diag_clear(&dg);
	st = f->ops->fit(&p, d, &o, &impl, &dg);
	if (st != NS_OK)
		fail_msg("fit(%s): %s: %s", list, ns_status_name(st), dg.message);
	return impl;
}

static void *fit_ok(const char *list, const struct ns_dataset *d, uint64_t seed, int threads)
{
	return fit_of(fam(), list, d, seed, threads);
}

static enum ns_status fit_status(const char *list, const struct ns_dataset *d, char *msg,
				 size_t msg_size)
{
	struct ns_params p;
	struct ns_fit_options o = opts(0, 1);
	struct ns_diag dg;
	void *impl = NULL;
	enum ns_status st;
	set_params_of(fam(), &p, list);
	ns_diag_clear(&dg);
	st = fam()->ops->fit(&p, d, &o, &impl, &dg);
	if (st == NS_OK)
		fam()->ops->free(impl);
	else
		assert_null(impl);
	snprintf(msg, msg_size, "%s", dg.message);
	return st;
}

static uint8_t *save_of(const struct ns_family *f, const void *impl, size_t *len)
{
	struct ns__wbuf w;
	uint8_t *out;
	ns__w_init(&w);
	assert_int_equal(f->ops->save(impl, &w), NS_OK);
	out = malloc(w.len ? w.len : 1);
	memcpy(out, w.data, w.len);
	*len = w.len;
	ns__w_fini(&w);
	return out;
}

static void make_data(size_t n, size_t nf, uint32_t k, unsigned seed, bool continuous, double **x,
		      uint32_t **y)
{
	*x = malloc(n * nf * sizeof(double));
	*y = malloc(n * sizeof(uint32_t));
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < nf; j++) {
			double v = continuous ? (double)rand() / RAND_MAX * 2 - 1
					      : (double)(rand() % 3 - 1);
			(*x)[i * nf + j] = v;
			if (j < 3)
				s += v * (double)(j + 1);
		}
		/* Informative first features plus 10% label noise. */
		(*y)[i] = rand() % 10 == 0 ? (uint32_t)(rand() % (int)k)
					   : (uint32_t)((s > 0) + (k > 2 && s > 1.5));
	}
}

static double *predict(const void *impl, const struct ns_dataset *d, size_t n_est)
{
	double *out = malloc(d->n_rows * d->n_classes * sizeof(double));
	fam()->ops->predict_proba(impl, d->x, d->n_rows, d->n_features, d->n_classes, n_est, out);
	return out;
}

/* Reads the trees of a forest payload (after the header and importances). */
static struct ns__cart_tree *payload_trees(const uint8_t *buf, size_t len, size_t nf, uint32_t k,
					   uint32_t *n_trees)
{
	struct ns__rbuf r;
	struct ns__cart_tree *t;
	ns__r_init(&r, buf, len);
	*n_trees = ns__r_u32(&r);
	(void)ns__r_u8(&r);
	(void)ns__r_f64(&r);
	for (size_t j = 0; j < nf; j++)
		(void)ns__r_f64(&r);
	t = calloc(*n_trees, sizeof(*t));
	for (uint32_t i = 0; i < *n_trees; i++)
		assert_int_equal(ns__cart_tree_load(&r, nf, k, "t", &t[i], NULL), NS_OK);
	assert_true(ns__r_done(&r));
	return t;
}

/* ---- equivalences ------------------------------------------------------------------ */

static void test_params_table(void **state)
{
	struct ns_params p;
	(void)state;
	assert_ptr_equal(ns_family_find("random_forest"), fam());
	assert_ptr_equal(ns_family_find("RF"), fam());
	assert_ptr_equal(ns_family_find("randomforest"), fam());
	assert_string_equal(ns_family_prefix_param(fam()), "n_estimators");
	assert_true(ns_family_needs_complete(fam()));
	ns_params_init(&p, fam());
	assert_true(ns_params_get(&p, "n_estimators") == 100);
	assert_true(ns_params_get(&p, "max_features") == -1); /* sqrt */
	assert_true(ns_params_get(&p, "bootstrap") == 1);
	assert_true(ns_params_get(&p, "oob_score") == 0);
	assert_true(isnan(ns_params_get(&p, "max_samples")));
	assert_int_equal(ns_params_set(&p, "n_estimators", "10001", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "n_estimators", "0", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_samples", "1.5", NULL), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "class_weight", "balanced_subsample", NULL), NS_OK);
}

/* One tree, no bootstrap, all features: exactly the decision tree. */
static void test_one_tree_is_the_tree(void **state)
{
	double *x, *pf, *pt;
	uint32_t *y;
	size_t n = 500, nf = 6;
	(void)state;
	make_data(n, nf, 3, 3, false, &x, &y);
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		void *f = fit_ok("n_estimators=1,bootstrap=false,max_features=all", &d, 9, 1);
		void *t = fit_of(&ns__family_tree, "", &d, 9, 1);
		pf = predict(f, &d, 0);
		pt = malloc(n * 3 * sizeof(double));
		ns__family_tree.ops->predict_proba(t, x, n, nf, 3, 0, pt);
		assert_memory_equal(pf, pt, n * 3 * sizeof(double));
		{
			double fi[6], ti[6];
			fam()->ops->feature_importance(f, nf, fi);
			ns__family_tree.ops->feature_importance(t, nf, ti);
			for (size_t j = 0; j < nf; j++)
				assert_true(fabs(fi[j] - ti[j]) < 1e-12);
		}
		fam()->ops->free(f);
		ns__family_tree.ops->free(t);
	}
	free(x);
	free(y);
	free(pf);
	free(pt);
}

/* Replays tree t's bootstrap draws (the first draws of its stream). */
static void draw_counts(uint64_t seed, size_t t, size_t n, size_t n_boot, double *count)
{
	struct ns__rng rng;
	ns__rng_seed(&rng, seed, t);
	for (size_t i = 0; i < n; i++)
		count[i] = 0;
	for (size_t i = 0; i < n_boot; i++)
		count[ns__cart_rng_below(&rng, (uint32_t)n)] += 1;
}

/*
 * Drawn rows get the same probabilities.  (Rows not drawn may differ: in a
 * small node several features often cut the drawn rows the same way, and
 * the two fits draw features in different orders.)
 */
static void check_inbag(const double *pf, const double *pt, const double *w, size_t n)
{
	size_t inbag = 0;
	for (size_t i = 0; i < n; i++) {
		if (w[i] == 0)
			continue;
		inbag++;
		assert_true(fabs(pf[2 * i] - pt[2 * i]) < 1e-12);
		assert_true(fabs(pf[2 * i + 1] - pt[2 * i + 1]) < 1e-12);
	}
	assert_true(inbag > n / 4);
}

/*
 * A bootstrap tree is the tree grown with the draw counts as sample
 * weights (continuous features, so ties between different cuts of the
 * drawn rows are unlikely).
 */
static void test_bootstrap_is_weights(void **state)
{
	double *x, *w, *pf, *pt;
	uint32_t *y;
	size_t n = 300, nf = 4;
	(void)state;
	make_data(n, nf, 2, 5, true, &x, &y);
	w = malloc(n * sizeof(double));
	draw_counts(11, 0, n, n, w);
	{
		struct ns_dataset d = {n, nf, x, y, 2, NULL}, dw = {n, nf, x, y, 2, w};
		void *f = fit_ok("n_estimators=1,max_features=all", &d, 11, 1);
		void *t = fit_of(&ns__family_tree, "", &dw, 11, 1);
		pf = predict(f, &d, 0);
		pt = malloc(n * 2 * sizeof(double));
		ns__family_tree.ops->predict_proba(t, x, n, nf, 2, 0, pt);
		check_inbag(pf, pt, w, n);
		fam()->ops->free(f);
		ns__family_tree.ops->free(t);
		free(pf);
		free(pt);
		/* max_samples: round(n * 0.3) draws. */
		draw_counts(11, 0, n, 90, w);
		f = fit_ok("n_estimators=1,max_features=all,max_samples=0.3", &d, 11, 1);
		t = fit_of(&ns__family_tree, "", &dw, 11, 1);
		pf = predict(f, &d, 0);
		pt = malloc(n * 2 * sizeof(double));
		ns__family_tree.ops->predict_proba(t, x, n, nf, 2, 0, pt);
		check_inbag(pf, pt, w, n);
		fam()->ops->free(f);
		ns__family_tree.ops->free(t);
	}
	free(x);
	free(y);
	free(w);
	free(pf);
	free(pt);
}

/* The OOB score against a slow recomputation from the saved trees. */
static void test_oob_score(void **state)
{
	double *x, *count, *sum, *p1;
	uint32_t *y, n_trees, k = 3;
	size_t n = 400, nf = 5, len, correct = 0;
	struct ns__cart_tree *trees;
	uint8_t *buf;
	(void)state;
	make_data(n, nf, k, 12, false, &x, &y);
	count = malloc(n * sizeof(double));
	sum = calloc(n * k, sizeof(double));
	p1 = malloc(n * k * sizeof(double));
	{
		struct ns_dataset d = {n, nf, x, y, k, NULL};
		void *f = fit_ok("n_estimators=15,oob_score=true", &d, 4, 2);
		struct ns__buf b;
		double oob = -1;
		const char *at;
		buf = save_of(fam(), f, &len);
		trees = payload_trees(buf, len, nf, k, &n_trees);
		assert_int_equal(n_trees, 15);
		for (uint32_t t = 0; t < n_trees; t++) {
			draw_counts(4, t, n, n, count);
			ns__cart_predict(&trees[t], 1, x, n, nf, k, p1);
			for (size_t i = 0; i < n; i++)
				if (count[i] == 0)
					for (uint32_t c = 0; c < k; c++)
						sum[i * k + c] += p1[i * k + c];
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t a = 0;
			for (uint32_t c = 1; c < k; c++)
				if (sum[i * k + c] > sum[i * k + a])
					a = c;
			correct += a == y[i];
		}
		ns__buf_init(&b, 0);
		assert_int_equal(fam()->ops->describe(f, &b), NS_OK);
		at = strstr(b.data, "\"oob_score\":");
		assert_non_null(at);
		assert_int_equal(sscanf(at, "\"oob_score\":%lf", &oob), 1);
		assert_true(fabs(oob - (double)correct / (double)n) < 1e-12);
		assert_true(oob > 0.6);
		ns__buf_fini(&b);
		for (uint32_t t = 0; t < n_trees; t++)
			ns__cart_tree_fini(&trees[t]);
		free(trees);
		free(buf);
		fam()->ops->free(f);
		/* Without oob_score, describe says null. */
		f = fit_ok("n_estimators=3", &d, 4, 1);
		ns__buf_init(&b, 0);
		assert_int_equal(fam()->ops->describe(f, &b), NS_OK);
		assert_non_null(strstr(b.data, "\"oob_score\":null"));
		assert_non_null(strstr(b.data, "\"trees\":3"));
		ns__buf_fini(&b);
		fam()->ops->free(f);
	}
	free(x);
	free(y);
	free(count);
	free(sum);
	free(p1);
}

/* ---- prefixes, threads, batch --------------------------------------------------------- */

static void test_prefix_and_threads(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 600, nf = 8;
	(void)state;
	make_data(n, nf, 2, 21, false, &x, &y);
	{
		struct ns_dataset d = {n, nf, x, y, 2, NULL};
		void *big1 =
			fit_ok("n_estimators=24,oob_score=true,class_weight=balanced_subsample", &d,
			       77, 1);
		void *big2 =
			fit_ok("n_estimators=24,oob_score=true,class_weight=balanced_subsample", &d,
			       77, 2);
		void *small = fit_ok("n_estimators=10,class_weight=balanced_subsample", &d, 77, 2);
		size_t l1, l2;
		uint8_t *b1 = save_of(fam(), big1, &l1), *b2 = save_of(fam(), big2, &l2);
		double *pb = predict(big1, &d, 10), *ps = predict(small, &d, 0);
		double *pall = predict(big1, &d, 0), *pover = predict(big1, &d, 1000);
		assert_int_equal(fam()->ops->n_estimators(big1), 24);
		assert_int_equal(l1, l2);
		assert_memory_equal(b1, b2, l1);
		assert_memory_equal(pb, ps, n * 2 * sizeof(double));
		assert_memory_equal(pall, pover, n * 2 * sizeof(double));
		free(b1);
		free(b2);
		free(pb);
		free(ps);
		free(pall);
		free(pover);
		fam()->ops->free(big1);
		fam()->ops->free(big2);
		fam()->ops->free(small);
	}
	free(x);
	free(y);
}

/* Big batches (blocks, threads) give exactly the row-by-row probabilities. */
static void test_batch_equals_rows(void **state)
{
	double *x, *batch, one[3];
	uint32_t *y;
	size_t n = 9000, nf = 7;
	(void)state;
	make_data(n, nf, 3, 31, true, &x, &y);
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		void *f = fit_ok("n_estimators=40,max_depth=12", &d, 5, 2);
		batch = predict(f, &d, 0);
		for (size_t i = 0; i < n; i += 7) {
			fam()->ops->predict_proba(f, x + i * nf, 1, nf, 3, 0, one);
			assert_memory_equal(one, batch + i * 3, sizeof(one));
			assert_true(fabs(one[0] + one[1] + one[2] - 1) < 1e-12);
		}
		fam()->ops->free(f);
	}
	free(x);
	free(y);
	free(batch);
}

/* ---- importance, class weights, errors ------------------------------------------------ */

static void test_importance_and_weights(void **state)
{
	double *x, imp[6], sum = 0;
	uint32_t *y;
	size_t n = 800, nf = 6;
	(void)state;
	make_data(n, nf, 2, 41, true, &x, &y);
	{
		struct ns_dataset d = {n, nf, x, y, 2, NULL};
		const char *lists[] = {"n_estimators=20", "n_estimators=20,class_weight=balanced",
				       "n_estimators=20,criterion=entropy,max_depth=5",
				       "n_estimators=20,bootstrap=false,max_features=0.5"};
		for (int l = 0; l < 4; l++) {
			void *f = fit_ok(lists[l], &d, 1, 2);
			double *p = predict(f, &d, 0);
			size_t correct = 0;
			fam()->ops->feature_importance(f, nf, imp);
			sum = 0;
			for (size_t j = 0; j < nf; j++) {
				assert_true(imp[j] >= 0);
				sum += imp[j];
			}
			assert_true(fabs(sum - 1) < 1e-12);
			/* Features 0..2 carry the label, 3..5 are noise. */
			assert_true(imp[2] > imp[3] && imp[2] > imp[4] && imp[2] > imp[5]);
			for (size_t i = 0; i < n; i++)
				correct += (p[i * 2 + 1] > p[i * 2]) == (y[i] == 1);
			assert_true(correct > n * 8 / 10);
			free(p);
			fam()->ops->free(f);
		}
		/* balanced_subsample without bootstrap is balanced. */
		{
			void *a = fit_ok("n_estimators=3,bootstrap=false,class_weight=balanced", &d,
					 1, 1);
			void *b = fit_ok(
				"n_estimators=3,bootstrap=false,class_weight=balanced_subsample",
				&d, 1, 1);
			size_t la, lb;
			uint8_t *ba = save_of(fam(), a, &la), *bb = save_of(fam(), b, &lb);
			assert_int_equal(la, lb);
			assert_memory_equal(ba, bb, la);
			free(ba);
			free(bb);
			fam()->ops->free(a);
			fam()->ops->free(b);
		}
	}
	free(x);
	free(y);
}

static void test_param_errors_and_one_class(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 50, nf = 3;
	char msg[NS_DIAG_MESSAGE_MAX];
	(void)state;
	make_data(n, nf, 2, 2, false, &x, &y);
	{
		struct ns_dataset d = {n, nf, x, y, 2, NULL};
		assert_int_equal(fit_status("oob_score=true,bootstrap=false", &d, msg, sizeof(msg)),
				 NS_ERR_INVALID);
		assert_non_null(strstr(msg, "bootstrap"));
		assert_int_equal(
			fit_status("max_samples=0.5,bootstrap=false", &d, msg, sizeof(msg)),
			NS_ERR_INVALID);
		assert_non_null(strstr(msg, "max_samples"));
		assert_int_equal(fit_status("max_samples=0", &d, msg, sizeof(msg)), NS_ERR_INVALID);
		assert_int_equal(
			fit_status("n_estimators=5,max_samples=0.001", &d, msg, sizeof(msg)),
			NS_OK);
		for (size_t i = 0; i < n; i++)
			y[i] = 1;
		assert_int_equal(fit_status("n_estimators=5,oob_score=true,class_weight=balanced",
					    &d, msg, sizeof(msg)),
				 NS_OK);
		{
			void *f = fit_ok("n_estimators=4", &d, 0, 1);
			double *p = predict(f, &d, 0), imp[3];
			for (size_t i = 0; i < n; i++)
				assert_true(p[i * 2 + 1] == 1.0);
			fam()->ops->feature_importance(f, nf, imp);
			assert_true(imp[0] == 0 && imp[1] == 0 && imp[2] == 0);
			free(p);
			fam()->ops->free(f);
		}
	}
	free(x);
	free(y);
}

/* ---- payloads ------------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 400, nf = 5;
	struct ns_params p;
	(void)state;
	make_data(n, nf, 3, 51, true, &x, &y);
	set_params_of(fam(), &p, "n_estimators=12,oob_score=true");
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		void *f = fit_ok("n_estimators=12,oob_score=true", &d, 8, 2), *l = NULL;
		size_t len, len2;
		uint8_t *buf = save_of(fam(), f, &len), *buf2;
		struct ns__rbuf r;
		struct ns_diag dg;
		double *pa, *pl, ia[5], il[5];
		struct ns__buf ba, bl;
		ns__r_init(&r, buf, len);
		ns_diag_clear(&dg);
		assert_int_equal(fam()->ops->load(&r, &p, nf, 3, &l, &dg), NS_OK);
		assert_true(ns__r_done(&r));
		buf2 = save_of(fam(), l, &len2);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);
		pa = predict(f, &d, 5);
		pl = predict(l, &d, 5);
		assert_memory_equal(pa, pl, n * 3 * sizeof(double));
		fam()->ops->feature_importance(f, nf, ia);
		fam()->ops->feature_importance(l, nf, il);
		assert_memory_equal(ia, il, sizeof(ia));
		ns__buf_init(&ba, 0);
		ns__buf_init(&bl, 0);
		fam()->ops->describe(f, &ba);
		fam()->ops->describe(l, &bl);
		assert_string_equal(ba.data, bl.data);
		ns__buf_fini(&ba);
		ns__buf_fini(&bl);
		/* The payload must agree with the parameters. */
		{
			struct ns_params q;
			void *m = NULL;
			set_params_of(fam(), &q, "n_estimators=11,oob_score=true");
			ns__r_init(&r, buf, len);
			assert_int_equal(fam()->ops->load(&r, &q, nf, 3, &m, &dg), NS_ERR_CORRUPT);
			set_params_of(fam(), &q, "n_estimators=12");
			ns__r_init(&r, buf, len);
			assert_int_equal(fam()->ops->load(&r, &q, nf, 3, &m, &dg), NS_ERR_CORRUPT);
			assert_null(m);
		}
		free(pa);
		free(pl);
		free(buf);
		free(buf2);
		fam()->ops->free(f);
		fam()->ops->free(l);
	}
	free(x);
	free(y);
}

static void test_corrupt_payloads(void **state)
{
	double *x, *pr;
	uint32_t *y;
	size_t n = 40, nf = 3, len;
	struct ns_params p;
	(void)state;
	make_data(n, nf, 2, 61, false, &x, &y);
	pr = malloc(n * 2 * sizeof(double));
	set_params_of(fam(), &p, "n_estimators=3,max_depth=3,oob_score=true");
	{
		struct ns_dataset d = {n, nf, x, y, 2, NULL};
		void *f = fit_ok("n_estimators=3,max_depth=3,oob_score=true", &d, 1, 1);
		uint8_t *good = save_of(fam(), f, &len), *bad = malloc(len);
		int loaded = 0, refused = 0;
		for (size_t pos = 0; pos < len; pos++)
			for (int v = 0; v < 3; v++) {
				static const uint8_t xors[3] = {0x01, 0x40, 0xff};
				struct ns__rbuf r;
				struct ns_diag dg;
				void *l = NULL;
				enum ns_status st;
				memcpy(bad, good, len);
				bad[pos] ^= xors[v];
				ns__r_init(&r, bad, len);
				ns_diag_clear(&dg);
				st = fam()->ops->load(&r, &p, nf, 2, &l, &dg);
				if (st == NS_OK) {
					fam()->ops->predict_proba(l, x, n, nf, 2, 0, pr);
					for (size_t i = 0; i < n; i++)
						assert_true(fabs(pr[i * 2] + pr[i * 2 + 1] - 1) <
							    1e-5);
					fam()->ops->free(l);
					loaded++;
				} else {
					assert_int_equal(st, NS_ERR_CORRUPT);
					assert_true(dg.message[0] != '\0');
					assert_null(l);
					refused++;
				}
			}
		for (size_t cut = 0; cut < len; cut++) {
			struct ns__rbuf r;
			void *l = NULL;
			ns__r_init(&r, good, cut);
			assert_int_equal(fam()->ops->load(&r, &p, nf, 2, &l, NULL), NS_ERR_CORRUPT);
			assert_null(l);
		}
		assert_true(refused > loaded);
		free(good);
		free(bad);
		fam()->ops->free(f);
	}
	free(x);
	free(y);
	free(pr);
}

static void test_alloc_failures(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 120, nf = 4;
	struct ns_params p;
	struct ns_fit_options o = opts(3, 1);
	int failures = 0;
	(void)state;
	make_data(n, nf, 3, 71, false, &x, &y);
	set_params_of(fam(), &p, "n_estimators=4,oob_score=true,class_weight=balanced_subsample");
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		for (long k = 0;; k++) {
			void *impl = NULL;
			struct ns_diag dg;
			enum ns_status st;
			ns_diag_clear(&dg);
			ns_alloc_fail_after(k);
			st = fam()->ops->fit(&p, &d, &o, &impl, &dg);
			ns_alloc_fail_reset();
			if (st == NS_OK) {
				size_t len;
				uint8_t *buf = save_of(fam(), impl, &len);
				for (long j = 0;; j++) {
					struct ns__rbuf r;
					void *l = NULL;
					enum ns_status ls;
					ns__r_init(&r, buf, len);
					ns_alloc_fail_after(j);
					ls = fam()->ops->load(&r, &p, nf, 3, &l, NULL);
					ns_alloc_fail_reset();
					if (ls == NS_OK) {
						fam()->ops->free(l);
						break;
					}
					assert_true(ls == NS_ERR_NOMEM || ls == NS_ERR_CORRUPT);
					assert_true(j < 200);
				}
				free(buf);
				fam()->ops->free(impl);
				break;
			}
			assert_int_equal(st, NS_ERR_NOMEM);
			assert_non_null(strstr(dg.message, "memory"));
			assert_null(impl);
			failures++;
			assert_true(k < 2000);
		}
	}
	assert_true(failures > 10);
	free(x);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params_table),
		cmocka_unit_test(test_one_tree_is_the_tree),
		cmocka_unit_test(test_bootstrap_is_weights),
		cmocka_unit_test(test_oob_score),
		cmocka_unit_test(test_prefix_and_threads),
		cmocka_unit_test(test_batch_equals_rows),
		cmocka_unit_test(test_importance_and_weights),
		cmocka_unit_test(test_param_errors_and_one_class),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
