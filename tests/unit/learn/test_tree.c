/*
 * tests/unit/learn/test_tree.c - the decision tree family and the CART core.
 *
 * Checks: hand-computed gini/entropy decreases and sklearn 1.2's tree on a
 * tiny set; every split of a fully grown tree against an exhaustive search
 * (every feature, every threshold between distinct values, impurity from
 * scratch) on random small data; perfect training accuracy on separable
 * data; multi-class; weights; determinism; save/load; corrupt payloads;
 * one class; allocation failures.
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
	return &ns__family_tree;
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

static void set_params(struct ns_params *p, const char *list)
{
	struct ns_diag d;
	ns_params_init(p, fam());
	ns_diag_clear(&d);
	if (ns_params_parse(p, list, &d) != NS_OK)
		fail_msg("params '%s': %s", list, d.message);
}

static void *fit_ok(const char *list, const struct ns_dataset *d, uint64_t seed, int threads)
{
	struct ns_params p;
	struct ns_fit_options o = opts(seed, threads);
	struct ns_diag dg;
	void *impl = NULL;
	enum ns_status st;
	set_params(&p, list);
	ns_diag_clear(&dg);
	st = fam()->ops->fit(&p, d, &o, &impl, &dg);
	if (st != NS_OK)
		fail_msg("fit(%s): %s: %s", list, ns_status_name(st), dg.message);
	return impl;
}

static uint8_t *save_bytes(const void *impl, size_t *len)
{
	struct ns__wbuf w;
	uint8_t *out;
	ns__w_init(&w);
	assert_int_equal(fam()->ops->save(impl, &w), NS_OK);
	out = malloc(w.len ? w.len : 1);
	memcpy(out, w.data, w.len);
	*len = w.len;
	ns__w_fini(&w);
	return out;
}

/* Plain node view parsed from the payload (canonical form). */
struct pnode {
	uint32_t feature, next;
	float threshold;
};

static struct pnode *parse_nodes(const uint8_t *buf, size_t len, uint32_t *n_nodes)
{
	struct ns__rbuf r;
	struct pnode *nodes;
	ns__r_init(&r, buf, len);
	*n_nodes = ns__r_u32(&r);
	(void)ns__r_u32(&r);
	nodes = calloc(*n_nodes, sizeof(*nodes));
	for (uint32_t i = 0; i < *n_nodes; i++) {
		uint32_t bits;
		nodes[i].feature = ns__r_u32(&r);
		bits = ns__r_u32(&r);
		memcpy(&nodes[i].threshold, &bits, 4);
		nodes[i].next = ns__r_u32(&r);
	}
	assert_false(r.bad);
	return nodes;
}

static void proba(const void *impl, const struct ns_dataset *d, double *out)
{
	fam()->ops->predict_proba(impl, d->x, d->n_rows, d->n_features, d->n_classes, 0, out);
}

static uint32_t argmax(const double *p, uint32_t k)
{
	uint32_t a = 0;
	for (uint32_t c = 1; c < k; c++)
		if (p[c] > p[a])
			a = c;
	return a;
}

/* ---- hand-checked ------------------------------------------------------------------- */

/*
 * x = 0..4, y = 0 0 1 1 0.  Root gini 1 - 0.6^2 - 0.4^2 = 0.48; the best
 * split is x <= 1.5 (left 0 0, right 1 1 0 with gini 4/9), decrease
 * 0.48 - 3/5 * 4/9 = 0.213333.  Then x <= 3.5 splits the right node.
 * scikit-learn 1.2 gives thresholds [1.5, 3.5] and impurities
 * [0.48, 0, 0.444, 0, 0].  Entropy: root H(0.6) = 0.970951 bits, right
 * child H(1/3) = 0.918296, decrease 0.970951 - 0.6 * 0.918296 = 0.419973.
 */
static const double tiny_x[5] = {0, 1, 2, 3, 4};
static const uint32_t tiny_y[5] = {0, 0, 1, 1, 0};

static void test_hand_gini(void **state)
{
	struct ns_dataset d = {5, 1, tiny_x, tiny_y, 2, NULL};
	void *impl;
	uint8_t *buf;
	size_t len;
	uint32_t n;
	struct pnode *nodes;
	double pr[10], imp[1];
	(void)state;

	impl = fit_ok("", &d, 1, 1);
	buf = save_bytes(impl, &len);
	nodes = parse_nodes(buf, len, &n);
	/* Pre-order: 0 [x<=1.5] -> 1 leaf, 2 [x<=3.5] -> 3 leaf, 4 leaf. */
	assert_int_equal(n, 5);
	assert_int_equal(nodes[0].feature, 0);
	assert_true(nodes[0].threshold == 1.5f);
	assert_int_equal(nodes[0].next, 2);
	assert_int_equal(nodes[1].feature, NS__CART_LEAF);
	assert_int_equal(nodes[2].feature, 0);
	assert_true(nodes[2].threshold == 3.5f);
	assert_int_equal(nodes[2].next, 4);
	proba(impl, &d, pr);
	for (int i = 0; i < 5; i++)
		assert_int_equal(argmax(pr + 2 * i, 2), tiny_y[i]);
	fam()->ops->feature_importance(impl, 1, imp);
	assert_true(imp[0] == 1.0);
	free(nodes);
	free(buf);
	fam()->ops->free(impl);

	/* The root decrease is 0.213333...: a bigger minimum makes it a leaf. */
	impl = fit_ok("min_impurity_decrease=0.2133", &d, 1, 1);
	buf = save_bytes(impl, &len);
	nodes = parse_nodes(buf, len, &n);
	assert_true(n >= 3);
	free(nodes);
	free(buf);
	fam()->ops->free(impl);
	impl = fit_ok("min_impurity_decrease=0.2134", &d, 1, 1);
	buf = save_bytes(impl, &len);
	nodes = parse_nodes(buf, len, &n);
	assert_int_equal(n, 1);
	proba(impl, &d, pr);
	assert_true(fabs(pr[0] - 0.6) < 1e-15 && fabs(pr[1] - 0.4) < 1e-15);
	free(nodes);
	free(buf);
	fam()->ops->free(impl);
}

static void test_hand_entropy(void **state)
{
	struct ns_dataset d = {5, 1, tiny_x, tiny_y, 2, NULL};
	const char *crit[] = {"criterion=entropy", "criterion=log_loss"};
	(void)state;
	for (int c = 0; c < 2; c++) {
		char list[128];
		void *impl;
		uint8_t *buf;
		size_t len;
		uint32_t n;
		struct pnode *nodes;
		snprintf(list, sizeof(list), "%s,min_impurity_decrease=0.4199", crit[c]);
		impl = fit_ok(list, &d, 1, 1);
		buf = save_bytes(impl, &len);
		nodes = parse_nodes(buf, len, &n);
		assert_true(n >= 3);
		assert_true(nodes[0].threshold == 1.5f);
		free(nodes);
		free(buf);
		fam()->ops->free(impl);
		snprintf(list, sizeof(list), "%s,min_impurity_decrease=0.4201", crit[c]);
		impl = fit_ok(list, &d, 1, 1);
		buf = save_bytes(impl, &len);
		nodes = parse_nodes(buf, len, &n);
		assert_int_equal(n, 1);
		free(nodes);
		free(buf);
		fam()->ops->free(impl);
	}
}

/*
 * Importances on 2 features, from scikit-learn 1.2 (the same for
 * random_state 0..11, so no ties are involved):
 * X = [[0,0],[2,2],[0,1],[0,0],[0,2],[0,1],[2,0],[2,0]],
 * y = [0,0,0,0,1,0,1,1]: DecisionTreeClassifier gives features
 * [0, 1, leaf, leaf, 1, leaf, leaf], thresholds [1, 1.5, -, -, 1] and
 * feature_importances_ [0.21777777777777790, 0.7822222222222220].
 */
static void test_importance_sklearn(void **state)
{
	static const double x[16] = {0, 0, 2, 2, 0, 1, 0, 0, 0, 2, 0, 1, 2, 0, 2, 0};
	static const uint32_t y[8] = {0, 0, 0, 0, 1, 0, 1, 1};
	struct ns_dataset d = {8, 2, x, y, 2, NULL};
	double imp[2], pr[16];
	(void)state;
	for (uint64_t seed = 0; seed < 8; seed++) {
		void *impl = fit_ok("", &d, seed, 1);
		size_t len;
		uint8_t *buf = save_bytes(impl, &len);
		uint32_t n;
		struct pnode *nodes = parse_nodes(buf, len, &n);
		assert_int_equal(n, 7);
		assert_int_equal(nodes[0].feature, 0);
		assert_true(nodes[0].threshold == 1.0f);
		assert_int_equal(nodes[1].feature, 1);
		assert_true(nodes[1].threshold == 1.5f);
		assert_int_equal(nodes[4].feature, 1);
		assert_true(nodes[4].threshold == 1.0f);
		fam()->ops->feature_importance(impl, 2, imp);
		assert_true(fabs(imp[0] - 0.21777777777777790) < 1e-12);
		assert_true(fabs(imp[1] - 0.7822222222222220) < 1e-12);
		proba(impl, &d, pr);
		for (int i = 0; i < 8; i++)
			assert_int_equal(argmax(pr + 2 * i, 2), y[i]);
		free(nodes);
		free(buf);
		fam()->ops->free(impl);
	}
}

/* ---- the exhaustive split search ------------------------------------------------------ */

static double gini_of(const double *c, uint32_t k, double w)
{
	double s = 0;
	if (w <= 0)
		return 0;
	for (uint32_t i = 0; i < k; i++)
		s += (c[i] / w) * (c[i] / w);
	return 1 - s;
}

static double entropy_of(const double *c, uint32_t k, double w)
{
	double s = 0;
	if (w <= 0)
		return 0;
	for (uint32_t i = 0; i < k; i++)
		if (c[i] > 0)
			s -= c[i] / w * log2(c[i] / w);
	return s;
}

struct ref_data {
	size_t n, nf;
	uint32_t k;
	const double *x;
	const uint32_t *y;
	const double *w;
	bool entropy;
	uint32_t msl;
};

/* Weighted impurity decrease of splitting `rows` at x[f] <= t, from scratch. */
static double decrease(const struct ref_data *r, const uint32_t *rows, size_t m, size_t f, double t,
		       size_t *n_left)
{
	double cl[8] = {0}, cr[8] = {0}, ct[8] = {0}, wl = 0, wr = 0, wt, it, il, ir;
	size_t nl = 0;
	for (size_t i = 0; i < m; i++) {
		uint32_t s = rows[i];
		double v = (float)r->x[s * r->nf + f];
		ct[r->y[s]] += r->w[s];
		if (v <= t) {
			cl[r->y[s]] += r->w[s];
			wl += r->w[s];
			nl++;
		} else {
			cr[r->y[s]] += r->w[s];
			wr += r->w[s];
		}
	}
	wt = wl + wr;
	it = r->entropy ? entropy_of(ct, r->k, wt) : gini_of(ct, r->k, wt);
	il = r->entropy ? entropy_of(cl, r->k, wl) : gini_of(cl, r->k, wl);
	ir = r->entropy ? entropy_of(cr, r->k, wr) : gini_of(cr, r->k, wr);
	*n_left = nl;
	return it - wl / wt * il - wr / wt * ir;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Best decrease over every feature and every threshold between distinct values. */
static double best_decrease(const struct ref_data *r, const uint32_t *rows, size_t m)
{
	double best = -1, *v = malloc(m * sizeof(double));
	for (size_t f = 0; f < r->nf; f++) {
		for (size_t i = 0; i < m; i++)
			v[i] = (float)r->x[rows[i] * r->nf + f];
		qsort(v, m, sizeof(double), cmp_double);
		for (size_t i = 1; i < m; i++) {
			size_t nl;
			double dec;
			if (!(v[i] > v[i - 1]))
				continue;
			dec = decrease(r, rows, m, f, v[i - 1] / 2 + v[i] / 2, &nl);
			if (nl < r->msl || m - nl < r->msl)
				continue;
			if (dec > best)
				best = dec;
		}
	}
	free(v);
	return best;
}

/*
 * Checks every internal node of a tree grown with max_features = all:
 * its split's decrease on the rows reaching it equals the exhaustive best.
 * Returns the number of internal nodes checked.
 */
static int check_node(const struct ref_data *r, const struct pnode *nodes, uint32_t i,
		      uint32_t *rows, size_t m, uint32_t *end)
{
	uint32_t *left, *right;
	size_t nl = 0, nr = 0, dummy;
	double got, want;
	int checked = 1;
	if (nodes[i].feature == NS__CART_LEAF) {
		*end = i + 1;
		return 0;
	}
	got = decrease(r, rows, m, nodes[i].feature, nodes[i].threshold, &dummy);
	want = best_decrease(r, rows, m);
	if (fabs(got - want) > 1e-9 * (1 + fabs(want)))
		fail_msg("node %u: split decrease %.17g, exhaustive best %.17g (%zu rows)", i, got,
			 want, m);
	left = malloc(m * sizeof(uint32_t));
	right = malloc(m * sizeof(uint32_t));
	for (size_t j = 0; j < m; j++) {
		double v = (float)r->x[rows[j] * r->nf + nodes[i].feature];
		if (v <= nodes[i].threshold)
			left[nl++] = rows[j];
		else
			right[nr++] = rows[j];
	}
	assert_true(nl >= r->msl && nr >= r->msl);
	checked += check_node(r, nodes, i + 1, left, nl, end);
	assert_int_equal(*end, nodes[i].next);
	checked += check_node(r, nodes, nodes[i].next, right, nr, end);
	free(left);
	free(right);
	return checked;
}

static void test_exhaustive_split(void **state)
{
	int total = 0;
	(void)state;
	srand(12345);
	for (int trial = 0; trial < 60; trial++) {
		size_t n = 20 + (size_t)(rand() % 60), nf = 1 + (size_t)(rand() % 5);
		uint32_t k = 2 + (uint32_t)(rand() % 3),
			 msl = 1 + (uint32_t)(trial % 3 == 0 ? 2 : 0);
		double *x = malloc(n * nf * sizeof(double)), *w = malloc(n * sizeof(double));
		uint32_t *y = malloc(n * sizeof(uint32_t)), *rows = malloc(n * sizeof(uint32_t));
		bool weighted = trial % 2 == 1, entropy = trial % 4 >= 2;
		struct ns_dataset d = {n, nf, x, y, k, weighted ? w : NULL};
		struct ref_data r = {n, nf, k, x, y, w, entropy, msl};
		char list[128];
		void *impl;
		uint8_t *buf;
		size_t len, m = 0;
		uint32_t n_nodes, end = 0;
		struct pnode *nodes;

		for (size_t i = 0; i < n * nf; i++) {
			/* Mix few-valued features (histogram path) and many-valued ones
			 * (sorting path, > 256 values are not reachable here, so force
			 * variety via continuous values). */
			size_t f = i % nf;
			x[i] = f % 2 ? (double)(rand() % 4) : (double)rand() / RAND_MAX * 10 - 5;
		}
		for (size_t i = 0; i < n; i++) {
			y[i] = (uint32_t)(rand() % (int)k);
			w[i] = weighted ? (rand() % 5 == 0 ? 0 : 0.25 + (double)(rand() % 8) / 4)
					: 1;
			if (w[i] > 0)
				rows[m++] = (uint32_t)i;
		}
		snprintf(list, sizeof(list), "min_samples_leaf=%u%s", msl,
			 entropy ? ",criterion=entropy" : "");
		impl = fit_ok(list, &d, (uint64_t)trial, 1);
		buf = save_bytes(impl, &len);
		nodes = parse_nodes(buf, len, &n_nodes);
		total += check_node(&r, nodes, 0, rows, m, &end);
		assert_int_equal(end, n_nodes);
		free(nodes);
		free(buf);
		fam()->ops->free(impl);
		free(x);
		free(w);
		free(y);
		free(rows);
	}
	assert_true(total > 300);
}

/* The sorting path: a feature with more than 256 distinct values. */
static void test_exhaustive_many_values(void **state)
{
	size_t n = 600, nf = 2;
	double *x = malloc(n * nf * sizeof(double)), *w = malloc(n * sizeof(double));
	uint32_t *y = malloc(n * sizeof(uint32_t)), *rows = malloc(n * sizeof(uint32_t));
	struct ns_dataset d = {n, nf, x, y, 3, NULL};
	struct ref_data r = {n, nf, 3, x, y, w, false, 1};
	void *impl;
	uint8_t *buf;
	size_t len;
	uint32_t n_nodes, end = 0;
	struct pnode *nodes;
	(void)state;
	srand(777);
	for (size_t i = 0; i < n; i++) {
		x[i * nf] = (double)rand() / RAND_MAX * 1000 - 500;
		x[i * nf + 1] = (double)(rand() % 1000) * 0.37;
		y[i] = (x[i * nf] > 100) + (x[i * nf + 1] > 200 && rand() % 4 != 0);
		w[i] = 1;
		rows[i] = (uint32_t)i;
	}
	impl = fit_ok("max_depth=6", &d, 3, 1);
	buf = save_bytes(impl, &len);
	nodes = parse_nodes(buf, len, &n_nodes);
	assert_true(check_node(&r, nodes, 0, rows, n, &end) > 10);
	assert_int_equal(end, n_nodes);
	free(nodes);
	free(buf);
	fam()->ops->free(impl);
	free(x);
	free(w);
	free(y);
	free(rows);
}

/* ---- behaviour ------------------------------------------------------------------------ */

static void make_blobs(size_t n, size_t nf, uint32_t k, unsigned seed, double **x, uint32_t **y)
{
	*x = malloc(n * nf * sizeof(double));
	*y = malloc(n * sizeof(uint32_t));
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		uint32_t c = (uint32_t)(i % k);
		(*y)[i] = c;
		for (size_t j = 0; j < nf; j++)
			(*x)[i * nf + j] =
				(double)rand() / RAND_MAX * 4 + (j == c % nf ? 2.5 * c : 0);
	}
}

static void test_separable_perfect(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 400, nf = 5;
	double *pr = malloc(n * 4 * sizeof(double));
	(void)state;
	make_blobs(n, nf, 4, 9, &x, &y);
	{
		struct ns_dataset d = {n, nf, x, y, 4, NULL};
		const char *lists[] = {"", "criterion=entropy", "splitter=random",
				       "max_features=sqrt"};
		for (int l = 0; l < 4; l++) {
			void *impl = fit_ok(lists[l], &d, 5, 1);
			proba(impl, &d, pr);
			for (size_t i = 0; i < n; i++) {
				double s = 0;
				for (uint32_t c = 0; c < 4; c++)
					s += pr[i * 4 + c];
				assert_true(fabs(s - 1) < 1e-12);
				assert_int_equal(argmax(pr + i * 4, 4), y[i]);
			}
			fam()->ops->free(impl);
		}
	}
	free(x);
	free(y);
	free(pr);
}

static void test_limits_respected(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 500, nf = 4;
	(void)state;
	make_blobs(n, nf, 3, 4, &x, &y);
	for (int depth = 1; depth <= 4; depth++) {
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		char list[64];
		void *impl;
		struct ns__buf b;
		snprintf(list, sizeof(list), "max_depth=%d,min_samples_leaf=7", depth);
		impl = fit_ok(list, &d, 1, 1);
		ns__buf_init(&b, 0);
		assert_int_equal(fam()->ops->describe(impl, &b), NS_OK);
		{
			unsigned nodes, leaves, dep;
			assert_int_equal(sscanf(b.data, "{\"nodes\":%u,\"leaves\":%u,\"depth\":%u}",
						&nodes, &leaves, &dep),
					 3);
			assert_true(dep <= (unsigned)depth);
			assert_int_equal(nodes, 2 * leaves - 1);
		}
		ns__buf_fini(&b);
		fam()->ops->free(impl);
	}
	free(x);
	free(y);
}

static void test_weights(void **state)
{
	double *x, *pr1, *pr2, *w, *x2;
	uint32_t *y, *y2;
	size_t n = 300, nf = 3, m = 0;
	(void)state;
	make_blobs(n, nf, 3, 21, &x, &y);
	w = malloc(n * sizeof(double));
	x2 = malloc(n * nf * sizeof(double));
	y2 = malloc(n * sizeof(uint32_t));
	pr1 = malloc(n * 3 * sizeof(double));
	pr2 = malloc(n * 3 * sizeof(double));
	/* Weight 0 = the row is not there. */
	for (size_t i = 0; i < n; i++) {
		w[i] = i % 3 == 0 ? 0 : 1;
		if (w[i] > 0) {
			memcpy(x2 + m * nf, x + i * nf, nf * sizeof(double));
			y2[m++] = y[i];
		}
	}
	{
		struct ns_dataset dw = {n, nf, x, y, 3, w}, ds = {m, nf, x2, y2, 3, NULL};
		void *a = fit_ok("max_features=2", &dw, 3, 1),
		     *b = fit_ok("max_features=2", &ds, 3, 1);
		size_t la, lb;
		uint8_t *ba = save_bytes(a, &la), *bb = save_bytes(b, &lb);
		assert_int_equal(la, lb);
		assert_memory_equal(ba, bb, la);
		free(ba);
		free(bb);
		fam()->ops->free(a);
		fam()->ops->free(b);
	}
	/* class_weight=balanced on a constant feature: leaf = weighted fractions. */
	{
		static const double xc[4] = {1, 1, 1, 1};
		static const uint32_t yc[4] = {0, 0, 0, 1};
		struct ns_dataset d = {4, 1, xc, yc, 2, NULL};
		void *a = fit_ok("", &d, 0, 1), *b = fit_ok("class_weight=balanced", &d, 0, 1);
		proba(a, &d, pr1);
		proba(b, &d, pr2);
		assert_true(fabs(pr1[0] - 0.75) < 1e-15);
		assert_true(fabs(pr2[0] - 0.5) < 1e-15 && fabs(pr2[1] - 0.5) < 1e-15);
		fam()->ops->free(a);
		fam()->ops->free(b);
	}
	/* Bad weights are refused with a message. */
	{
		struct ns_dataset d = {n, nf, x, y, 3, w};
		struct ns_params p;
		struct ns_fit_options o = opts(0, 1);
		struct ns_diag dg;
		void *impl = NULL;
		w[5] = -1;
		set_params(&p, "");
		ns_diag_clear(&dg);
		assert_int_equal(fam()->ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
		assert_non_null(strstr(dg.message, "weight"));
		for (size_t i = 0; i < n; i++)
			w[i] = 0;
		assert_int_equal(fam()->ops->fit(&p, &d, &o, &impl, &dg), NS_ERR_INVALID);
		assert_null(impl);
	}
	free(x);
	free(y);
	free(w);
	free(x2);
	free(y2);
	free(pr1);
	free(pr2);
}

static void test_one_class_and_nan(void **state)
{
	static const double x[6] = {1, 2, 3, 4, 5, 6};
	static const uint32_t y[6] = {1, 1, 1, 1, 1, 1};
	struct ns_dataset d = {6, 1, x, y, 3, NULL};
	double pr[18];
	void *impl = fit_ok("", &d, 0, 1);
	(void)state;
	proba(impl, &d, pr);
	for (int i = 0; i < 6; i++) {
		assert_true(pr[i * 3 + 1] == 1.0);
		assert_true(pr[i * 3] == 0.0 && pr[i * 3 + 2] == 0.0);
	}
	fam()->ops->free(impl);
	{
		double xn[6] = {1, 2, NAN, 4, 5, 6};
		struct ns_dataset dn = {6, 1, xn, y, 3, NULL};
		struct ns_params p;
		struct ns_fit_options o = opts(0, 1);
		struct ns_diag dg;
		impl = NULL;
		set_params(&p, "");
		ns_diag_clear(&dg);
		assert_int_equal(fam()->ops->fit(&p, &dn, &o, &impl, &dg), NS_ERR_INVALID);
		assert_non_null(strstr(dg.message, "NaN"));
		assert_null(impl);
	}
}

static void test_params_table(void **state)
{
	struct ns_params p;
	struct ns_diag dg;
	(void)state;
	assert_ptr_equal(ns_family_find("decision_tree"), fam());
	assert_ptr_equal(ns_family_find("DT"), fam());
	assert_ptr_equal(ns_family_find("cart"), fam());
	assert_true(ns_family_needs_complete(fam()));
	assert_null(ns_family_prefix_param(fam()));
	ns_params_init(&p, fam());
	assert_true(isnan(ns_params_get(&p, "max_depth")));
	assert_true(isnan(ns_params_get(&p, "max_features")));
	assert_true(ns_params_get(&p, "min_samples_split") == 2);
	assert_true(ns_params_get(&p, "min_samples_leaf") == 1);
	assert_int_equal(ns_params_set(&p, "min_samples_split", "1", &dg), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "criterion", "mse", &dg), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_depth", "0", &dg), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "min_impurity_decrease", "-1", &dg), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "splitter", "random", &dg), NS_OK);
	assert_int_equal(ns_params_set(&p, "class_weight", "balanced", &dg), NS_OK);
	assert_true(ns__cart_max_features(-1, 30) == 5);
	assert_true(ns__cart_max_features(-2, 30) == 4);
	assert_true(ns__cart_max_features(NAN, 30) == 30);
	assert_true(ns__cart_max_features(0.5, 30) == 15);
	assert_true(ns__cart_max_features(0.01, 30) == 1);
	assert_true(ns__cart_max_features(40, 30) == 30);
}

/* ---- keys, determinism, payloads ------------------------------------------------------- */

static void test_keys_order(void **state)
{
	static const float v[] = {-INFINITY, -1e30f, -2.5f, -1e-30f, -0.0f, 0.0f,
				  1e-40f,    1e-30f, 1.0f,  2.5f,    3e38f, INFINITY};
	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		for (size_t j = 0; j < sizeof(v) / sizeof(v[0]); j++)
			assert_int_equal(v[i] <= v[j], ns__cart_key(v[i]) <= ns__cart_key(v[j]));
	/* NaN goes right of every threshold, as `NaN <= t` is false. */
	assert_true(ns__cart_key(NAN) > ns__cart_key(INFINITY));
	assert_true(ns__cart_key(-NAN) > ns__cart_key(INFINITY));
	assert_true(ns__cart_key(-INFINITY) > INT32_MIN);
	assert_true(ns__cart_f32(1e300) == INFINITY && ns__cart_f32(-1e300) == -INFINITY);
	assert_true(ns__cart_f32(0.1) == 0.1f);
}

static void test_determinism_roundtrip(void **state)
{
	double *x, *p1, *p2;
	uint32_t *y;
	size_t n = 700, nf = 6;
	(void)state;
	make_blobs(n, nf, 3, 33, &x, &y);
	p1 = malloc(n * 3 * sizeof(double));
	p2 = malloc(n * 3 * sizeof(double));
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		struct ns_params p;
		void *a = fit_ok("max_features=sqrt,splitter=random", &d, 42, 1);
		void *b = fit_ok("max_features=sqrt,splitter=random", &d, 42, 2);
		void *c = fit_ok("max_features=sqrt,splitter=random", &d, 43, 1);
		void *l = NULL;
		size_t la, lb, lc, ll;
		uint8_t *ba = save_bytes(a, &la), *bb = save_bytes(b, &lb),
			*bc = save_bytes(c, &lc);
		uint8_t *bl;
		struct ns__rbuf r;
		struct ns_diag dg;
		assert_int_equal(la, lb);
		assert_memory_equal(ba, bb, la);
		assert_true(la != lc || memcmp(ba, bc, la) != 0);
		set_params(&p, "max_features=sqrt,splitter=random");
		ns__r_init(&r, ba, la);
		ns_diag_clear(&dg);
		assert_int_equal(fam()->ops->load(&r, &p, nf, 3, &l, &dg), NS_OK);
		assert_true(ns__r_done(&r));
		bl = save_bytes(l, &ll);
		assert_int_equal(ll, la);
		assert_memory_equal(bl, ba, la);
		proba(a, &d, p1);
		proba(l, &d, p2);
		assert_memory_equal(p1, p2, n * 3 * sizeof(double));
		{
			double ia[6], il[6];
			fam()->ops->feature_importance(a, nf, ia);
			fam()->ops->feature_importance(l, nf, il);
			assert_memory_equal(ia, il, sizeof(ia));
		}
		free(ba);
		free(bb);
		free(bc);
		free(bl);
		fam()->ops->free(a);
		fam()->ops->free(b);
		fam()->ops->free(c);
		fam()->ops->free(l);
	}
	free(x);
	free(y);
	free(p1);
	free(p2);
}

/* Flips and truncations: load fails cleanly or gives a model that predicts. */
static void test_corrupt_payloads(void **state)
{
	double *x, *pr;
	uint32_t *y;
	size_t n = 60, nf = 3, len;
	struct ns_params p;
	(void)state;
	make_blobs(n, nf, 3, 8, &x, &y);
	pr = malloc(n * 3 * sizeof(double));
	set_params(&p, "max_depth=4");
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		void *a = fit_ok("max_depth=4", &d, 1, 1);
		uint8_t *good = save_bytes(a, &len), *bad = malloc(len);
		int loaded = 0, refused = 0;
		for (size_t pos = 0; pos < len; pos++)
			for (int v = 0; v < 3; v++) {
				static const uint8_t xors[3] = {0x01, 0x80, 0xff};
				struct ns__rbuf r;
				struct ns_diag dg;
				void *l = NULL;
				enum ns_status st;
				memcpy(bad, good, len);
				bad[pos] ^= xors[v];
				ns__r_init(&r, bad, len);
				ns_diag_clear(&dg);
				st = fam()->ops->load(&r, &p, nf, 3, &l, &dg);
				if (st == NS_OK) {
					proba(l, &d, pr);
					for (size_t i = 0; i < n; i++) {
						double s =
							pr[i * 3] + pr[i * 3 + 1] + pr[i * 3 + 2];
						assert_true(fabs(s - 1) < 1e-5);
					}
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
			assert_int_equal(fam()->ops->load(&r, &p, nf, 3, &l, NULL), NS_ERR_CORRUPT);
			assert_null(l);
		}
		assert_true(refused > loaded);
		/* Targeted: a feature index out of range, a right child out of range. */
		{
			struct ns__rbuf r;
			void *l = NULL;
			uint32_t v32 = 3; /* node 0's feature = n_features */
			memcpy(bad, good, len);
			memcpy(bad + 8, &v32, 4);
			ns__r_init(&r, bad, len);
			assert_int_equal(fam()->ops->load(&r, &p, nf, 3, &l, NULL), NS_ERR_CORRUPT);
			v32 = 0; /* node 0's right child = itself */
			memcpy(bad, good, len);
			memcpy(bad + 16, &v32, 4);
			ns__r_init(&r, bad, len);
			assert_int_equal(fam()->ops->load(&r, &p, nf, 3, &l, NULL), NS_ERR_CORRUPT);
			/* The model is for 3 features: loading with 2 must fail or fit. */
			ns__r_init(&r, good, len);
			if (fam()->ops->load(&r, &p, 1, 3, &l, NULL) == NS_OK)
				fam()->ops->free(l);
		}
		free(good);
		free(bad);
		fam()->ops->free(a);
	}
	free(x);
	free(y);
	free(pr);
}

static void test_alloc_failures(void **state)
{
	double *x;
	uint32_t *y;
	size_t n = 200, nf = 4;
	struct ns_params p;
	struct ns_fit_options o = opts(7, 1);
	int failures = 0;
	(void)state;
	make_blobs(n, nf, 3, 14, &x, &y);
	set_params(&p, "class_weight=balanced");
	{
		struct ns_dataset d = {n, nf, x, y, 3, NULL};
		for (long k = 0;; k++) {
			void *impl = NULL;
			enum ns_status st;
			ns_alloc_fail_after(k);
			st = fam()->ops->fit(&p, &d, &o, &impl, NULL);
			ns_alloc_fail_reset();
			if (st == NS_OK) {
				/* Predicting without memory falls back to a slow walk. */
				double *a = malloc(n * 3 * sizeof(double)),
				       *b = malloc(n * 3 * sizeof(double));
				proba(impl, &d, a);
				ns_alloc_fail_after(0);
				proba(impl, &d, b);
				ns_alloc_fail_reset();
				assert_memory_equal(a, b, n * 3 * sizeof(double));
				free(a);
				free(b);
				fam()->ops->free(impl);
				break;
			}
			assert_int_equal(st, NS_ERR_NOMEM);
			assert_null(impl);
			failures++;
			assert_true(k < 1000);
		}
		/* And load. */
		{
			void *a = fit_ok("class_weight=balanced", &d, 7, 1);
			size_t len;
			uint8_t *buf = save_bytes(a, &len);
			for (long k = 0;; k++) {
				struct ns__rbuf r;
				void *l = NULL;
				enum ns_status st;
				ns__r_init(&r, buf, len);
				ns_alloc_fail_after(k);
				st = fam()->ops->load(&r, &p, nf, 3, &l, NULL);
				ns_alloc_fail_reset();
				if (st == NS_OK) {
					fam()->ops->free(l);
					break;
				}
				assert_true(st == NS_ERR_NOMEM || st == NS_ERR_CORRUPT);
				assert_true(k < 100);
			}
			free(buf);
			fam()->ops->free(a);
		}
	}
	assert_true(failures > 5);
	free(x);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hand_gini),
		cmocka_unit_test(test_hand_entropy),
		cmocka_unit_test(test_importance_sklearn),
		cmocka_unit_test(test_exhaustive_split),
		cmocka_unit_test(test_exhaustive_many_values),
		cmocka_unit_test(test_separable_perfect),
		cmocka_unit_test(test_limits_respected),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_one_class_and_nan),
		cmocka_unit_test(test_params_table),
		cmocka_unit_test(test_keys_order),
		cmocka_unit_test(test_determinism_roundtrip),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
