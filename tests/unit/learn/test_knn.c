/*
 * tests/unit/learn/test_knn.c - k-nearest neighbours against a naive
 * reference (every distance, a full stable sort, an independent vote) on
 * random data, data full of duplicate rows and the phishing set; prefix
 * semantics of n_neighbors; hand-checked cases; save/load, corrupt payloads,
 * one class and allocation failures.
 *
 * Includes lib/learn/knn.c to reach the neighbour lists.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "learn/knn.c"

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

static const struct ns_family *const F = &ns__family_knn;

static void params_from(struct ns_params *p, const char *list)
{
	struct ns_diag diag;
	ns_params_init(p, F);
	if (ns_params_parse(p, list, &diag) != NS_OK) {
		fprintf(stderr, "params '%s': %s\n", list, diag.message);
		fail();
	}
}

static double urand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) * 0x1.0p-53;
}

struct data {
	size_t n, d;
	uint32_t k;
	double *x;
	uint32_t *y;
};

static void data_free(struct data *t)
{
	free(t->x);
	free(t->y);
	memset(t, 0, sizeof(*t));
}

/* levels = 0: continuous values; else integers in [-(levels-1)/2, ...] (many ties). */
static void data_random(struct data *t, size_t n, size_t d, uint32_t k, uint64_t seed, int levels)
{
	uint64_t s = seed;
	t->n = n;
	t->d = d;
	t->k = k;
	t->x = malloc(n * d * sizeof(double));
	t->y = malloc(n * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < d; j++) {
			double u = urand(&s);
			t->x[i * d + j] = levels ? floor(u * levels) - (levels - 1) / 2 : 6 * u - 3;
		}
		t->y[i] = (uint32_t)(urand(&s) * k);
	}
}

/* The phishing set's rows (30 features in {-1, 0, 1}; class 0 = label -1). */
static void data_phishing(struct data *t)
{
	FILE *fp = fopen(NETSEC_SOURCE_DIR "/data/phisingData.csv", "r");
	char line[1024];
	size_t cap = 11055;
	assert_non_null(fp);
	t->d = 30;
	t->k = 2;
	t->n = 0;
	t->x = malloc(cap * 30 * sizeof(double));
	t->y = malloc(cap * sizeof(uint32_t));
	assert_non_null(fgets(line, sizeof(line), fp)); /* header */
	while (t->n < cap && fgets(line, sizeof(line), fp)) {
		char *s = line;
		for (size_t j = 0; j <= 30; j++) {
			char *e;
			long v = strtol(s, &e, 10);
			assert_true(e != s);
			if (j < 30)
				t->x[t->n * 30 + j] = (double)v;
			else
				t->y[t->n] = v == 1;
			s = *e == ',' ? e + 1 : e;
		}
		t->n++;
	}
	fclose(fp);
	assert_int_equal(t->n, 11055);
}

static struct ns_dataset as_dataset(const struct data *t, size_t n)
{
	struct ns_dataset ds = {n, t->d, t->x, t->y, t->k, NULL};
	return ds;
}

static struct knn *fit_ok(const struct ns_params *p, const struct ns_dataset *ds)
{
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag diag;
	void *impl = NULL;
	enum ns_status st;
	ns_diag_clear(&diag);
	st = F->ops->fit(p, ds, &o, &impl, &diag);
	if (st != NS_OK)
		fprintf(stderr, "fit: %s\n", diag.message);
	assert_int_equal(st, NS_OK);
	return impl;
}

/* ---- the naive reference -------------------------------------------------------------------- */

struct cand {
	double dist;
	uint32_t idx;
};

static int cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->dist != y->dist)
		return x->dist < y->dist ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Every distance, one full sort by (distance, row), the first k. */
static void naive_neighbours(const double *xtr, size_t n, size_t d, const double *q, int p,
			     size_t k, struct cand *all, double *dist, uint32_t *idx)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < d; j++) {
			double e = q[j] - xtr[i * d + j];
			s += p == 2 ? e * e : fabs(e);
		}
		all[i].dist = s;
		all[i].idx = (uint32_t)i;
	}
	qsort(all, n, sizeof(*all), cand_cmp);
	for (size_t t = 0; t < k; t++) {
		dist[t] = all[t].dist;
		idx[t] = all[t].idx;
	}
}

/* scikit-learn's predict_proba for one query, from the sorted neighbours. */
static void naive_vote(const uint32_t *ytr, const double *dist, const uint32_t *idx, size_t k,
		       int p, bool distance, uint32_t nc, double *out)
{
	double w[4096], total = 0;
	bool zero = false;
	for (size_t t = 0; t < k; t++)
		zero |= dist[t] == 0;
	for (size_t t = 0; t < k; t++) {
		double dd = p == 2 ? sqrt(dist[t]) : dist[t];
		w[t] = !distance ? 1 : zero ? (dd == 0) : 1 / dd;
	}
	for (uint32_t c = 0; c < nc; c++)
		out[c] = 0;
	for (size_t t = 0; t < k; t++)
		out[ytr[idx[t]]] += w[t];
	for (uint32_t c = 0; c < nc; c++)
		total += out[c];
	for (uint32_t c = 0; c < nc; c++)
		out[c] /= total;
}

/*
 * Fits on the first n_train rows of t, queries the next n_query rows (and the
 * first few training rows themselves), and compares neighbour lists and
 * probabilities with the naive reference, to the bit.
 */
static void check_against_naive(const struct data *t, size_t n_train, size_t n_query, size_t k,
				int p, bool distance)
{
	char plist[128];
	struct ns_params par;
	struct ns_dataset ds = as_dataset(t, n_train);
	struct knn *m;
	const double *xq = t->x + (n_train - 8) * t->d; /* 8 training rows, then unseen ones */
	size_t nq = n_query + 8;
	struct cand *all = malloc(n_train * sizeof(*all));
	double *dist = malloc(KNN_QB * k * sizeof(double)), *rd = malloc(k * sizeof(double));
	uint32_t *idx = malloc(KNN_QB * k * sizeof(uint32_t)), *ri = malloc(k * sizeof(uint32_t));
	double *out = malloc(nq * t->k * sizeof(double)),
	       *out2 = malloc(nq * t->k * sizeof(double));
	double want[64];

	snprintf(plist, sizeof(plist), "n_neighbors=%zu,p=%d,weights=%s", k, p,
		 distance ? "distance" : "uniform");
	params_from(&par, plist);
	m = fit_ok(&par, &ds);
	F->ops->predict_proba(m, xq, nq, t->d, t->k, 0, out);
	for (size_t q0 = 0; q0 < nq; q0 += KNN_QB) {
		size_t q1 = q0 + KNN_QB < nq ? q0 + KNN_QB : nq;
		predict_block(m, xq, q0, q1, k, dist, idx, t->k, out2);
		for (size_t q = q0; q < q1; q++) {
			const double *gd = dist + (q - q0) * k;
			const uint32_t *gi = idx + (q - q0) * k;
			naive_neighbours(t->x, n_train, t->d, xq + q * t->d, p, k, all, rd, ri);
			for (size_t r = 0; r < k; r++)
				if (gi[r] != ri[r] || memcmp(&gd[r], &rd[r], sizeof(double)) != 0) {
					fprintf(stderr,
						"%s, %zu rows: query %zu neighbour %zu is row %u "
						"at "
						"%.17g, the naive search says row %u at %.17g\n",
						plist, n_train, q, r, gi[r], gd[r], ri[r], rd[r]);
					fail();
				}
			naive_vote(t->y, rd, ri, k, p, distance, t->k, want);
			for (uint32_t c = 0; c < t->k; c++)
				if (memcmp(&out[q * t->k + c], &want[c], sizeof(double)) != 0) {
					fprintf(stderr,
						"%s: query %zu class %u: %.17g, naive %.17g\n",
						plist, q, c, out[q * t->k + c], want[c]);
					fail();
				}
		}
	}
	assert_memory_equal(out, out2, nq * t->k * sizeof(double));
	F->ops->free(m);
	free(all);
	free(dist);
	free(rd);
	free(idx);
	free(ri);
	free(out);
	free(out2);
}

static void test_params(void **state)
{
	struct ns_params p;
	struct ns_diag diag;
	char buf[128];
	(void)state;
	assert_ptr_equal(ns_family_find("knn"), F);
	assert_ptr_equal(ns_family_find("kneighbors"), F);
	assert_ptr_equal(ns_family_find("k_neighbors"), F);
	assert_ptr_equal(ns_family_find("nearest_neighbors"), F);
	assert_string_equal(F->prefix_param, "n_neighbors");
	ns_params_init(&p, F);
	ns_params_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "n_neighbors=5,weights=uniform,p=2");
	assert_int_equal(ns_params_set(&p, "n_neighbors", "0", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "p", "3", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "p", "1.5", &diag), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "weights", "distance", &diag), NS_OK);
	assert_int_equal(ns_params_set(&p, "p", "1", &diag), NS_OK);
}

static void test_naive_random(void **state)
{
	static const size_t ks[] = {1, 2, 5, 32, 33, 64, 150, 300};
	struct data t;
	(void)state;
	data_random(&t, 300 + 90, 5, 4, 1, 0);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		for (int p = 1; p <= 2; p++)
			for (int w = 0; w < 2; w++)
				check_against_naive(&t, 300, 90, ks[i], p, w);
	data_free(&t);
	/* k above 1024: smaller query blocks. */
	data_random(&t, 1500 + 70, 2, 3, 3, 0);
	check_against_naive(&t, 1500, 70, 1100, 2, false);
	check_against_naive(&t, 1500, 70, 1500, 1, true);
	data_free(&t);
}

/* 27 distinct points among 401 rows: distances tie everywhere, often at 0. */
static void test_naive_duplicates(void **state)
{
	static const size_t ks[] = {1, 3, 5, 17, 40, 401};
	struct data t;
	(void)state;
	data_random(&t, 401 + 70, 3, 3, 2, 3);
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
		for (int p = 1; p <= 2; p++)
			for (int w = 0; w < 2; w++)
				check_against_naive(&t, 401, 70, ks[i], p, w);
	data_free(&t);
}

static void test_naive_phishing(void **state)
{
	struct data t;
	(void)state;
	data_phishing(&t);
	check_against_naive(&t, 3000, 300, 5, 2, false);
	check_against_naive(&t, 3000, 300, 15, 2, true);
	check_against_naive(&t, 3000, 300, 5, 1, false);
	check_against_naive(&t, 3000, 300, 50, 2, false);
	data_free(&t);
}

/* predict_proba_prefix with k' equals a fresh model with n_neighbors = k', to the bit. */
static void test_prefix(void **state)
{
	struct data t;
	(void)state;
	data_phishing(&t);
	for (int w = 0; w < 2; w++) {
		struct ns_params p;
		struct ns_dataset ds = as_dataset(&t, 2000);
		const double *xq = t.x + 2000 * 30;
		size_t nq = 200;
		double *a = malloc(nq * 2 * sizeof(double)), *b = malloc(nq * 2 * sizeof(double));
		struct knn *big;
		params_from(&p, w ? "n_neighbors=15,weights=distance" : "n_neighbors=15");
		big = fit_ok(&p, &ds);
		assert_int_equal(F->ops->n_estimators(big), 15);
		for (size_t k = 1; k <= 16; k++) {
			struct knn *small;
			p.v[P_N_NEIGHBORS] = (double)(k > 15 ? 15 : k);
			small = fit_ok(&p, &ds);
			F->ops->predict_proba(big, xq, nq, 30, 2, k, a);
			F->ops->predict_proba(small, xq, nq, 30, 2, 0, b);
			assert_memory_equal(a, b, nq * 2 * sizeof(double));
			F->ops->free(small);
		}
		F->ops->predict_proba(big, xq, nq, 30, 2, 0, a);
		F->ops->predict_proba(big, xq, nq, 30, 2, 1000, b);
		assert_memory_equal(a, b, nq * 2 * sizeof(double));
		F->ops->free(big);
		free(a);
		free(b);
	}
	data_free(&t);
}

static void test_hand_checked(void **state)
{
	double x[5] = {0, 1, 2, 10, 11}, q[3] = {1.4, 10, NAN}, out[6];
	uint32_t y[5] = {0, 0, 1, 1, 1};
	struct ns_dataset ds = {5, 1, x, y, 2, NULL};
	struct ns_params p;
	struct knn *m;
	(void)state;
	/* Neighbours of 1.4: rows 1 (0.4), 2 (0.6), 0 (1.4): classes 0, 1, 0. */
	params_from(&p, "n_neighbors=3");
	m = fit_ok(&p, &ds);
	F->ops->predict_proba(m, q, 3, 1, 2, 0, out);
	CHECK_CLOSE(out[0], 2.0 / 3, 1e-15);
	CHECK_CLOSE(out[1], 1.0 / 3, 1e-15);
	CHECK_CLOSE(out[2], 0, 0);
	CHECK_CLOSE(out[4] + out[5], 1, 0); /* a NaN query still gets a distribution */
	F->ops->free(m);
	params_from(&p, "n_neighbors=3,weights=distance");
	m = fit_ok(&p, &ds);
	F->ops->predict_proba(m, q, 3, 1, 2, 0, out);
	{
		double w0 = 1 / 0.4 + 1 / 1.4, w1 = 1 / 0.6;
		CHECK_CLOSE(out[0], w0 / (w0 + w1), 1e-12);
	}
	/* 10 is a training row: weight 1 for it, 0 for the rest. */
	CHECK_CLOSE(out[2], 0, 0);
	CHECK_CLOSE(out[3], 1, 0);
	CHECK_CLOSE(out[4] + out[5], 1, 1e-15);
	F->ops->free(m);

	/* Every row at distance 1 from 0: the lowest row indices win. */
	{
		double xt[4] = {1, -1, 1, -1}, zero = 0;
		uint32_t yt[4] = {0, 1, 1, 0};
		struct ns_dataset d2 = {4, 1, xt, yt, 2, NULL};
		params_from(&p, "n_neighbors=3");
		m = fit_ok(&p, &d2);
		F->ops->predict_proba(m, &zero, 1, 1, 2, 1, out);
		CHECK_CLOSE(out[0], 1, 0);
		F->ops->predict_proba(m, &zero, 1, 1, 2, 2, out);
		CHECK_CLOSE(out[0], 0.5, 0);
		F->ops->predict_proba(m, &zero, 1, 1, 2, 3, out);
		CHECK_CLOSE(out[1], 2.0 / 3, 1e-15);
		F->ops->free(m);
	}
	/* Manhattan. */
	{
		double xt[4] = {0, 0, 3, 3}, qq[2] = {1, 1};
		uint32_t yt[2] = {0, 1};
		struct ns_dataset d2 = {2, 2, xt, yt, 2, NULL};
		params_from(&p, "n_neighbors=2,p=1,weights=distance");
		m = fit_ok(&p, &d2);
		F->ops->predict_proba(m, qq, 1, 2, 2, 0, out);
		CHECK_CLOSE(out[0], (1 / 2.0) / (1 / 2.0 + 1 / 4.0), 1e-15);
		F->ops->free(m);
	}
	/* More neighbours than rows is refused. */
	params_from(&p, "n_neighbors=6");
	assert_int_equal(F->ops->fit(&p, &ds, NULL, (void **)&m, NULL), NS_ERR_INVALID);
}

static void test_determinism_and_save_load(void **state)
{
	struct data t;
	struct ns_params p;
	struct ns_dataset ds;
	struct ns_fit_options o = ns_fit_options_default();
	struct ns__wbuf a, b, c;
	struct ns__rbuf r;
	struct ns__buf js;
	void *m1 = NULL, *m2 = NULL, *m3 = NULL;
	double *p1, *p3;
	(void)state;
	data_random(&t, 150, 4, 3, 5, 0);
	ds = as_dataset(&t, 150);
	params_from(&p, "n_neighbors=7,weights=distance,p=1");
	o.n_threads = 1;
	assert_int_equal(F->ops->fit(&p, &ds, &o, &m1, NULL), NS_OK);
	o.n_threads = 2;
	assert_int_equal(F->ops->fit(&p, &ds, &o, &m2, NULL), NS_OK);
	ns__w_init(&a);
	ns__w_init(&b);
	ns__w_init(&c);
	assert_int_equal(F->ops->save(m1, &a), NS_OK);
	assert_int_equal(F->ops->save(m2, &b), NS_OK);
	assert_int_equal(a.len, 8 + 150 * (4 * 8 + 4));
	assert_memory_equal(a.data, b.data, a.len);
	ns__r_init(&r, a.data, a.len);
	assert_int_equal(F->ops->load(&r, &p, 4, 3, &m3, NULL), NS_OK);
	assert_true(ns__r_done(&r));
	p1 = malloc(150 * 3 * sizeof(double));
	p3 = malloc(150 * 3 * sizeof(double));
	F->ops->predict_proba(m1, t.x, 150, 4, 3, 0, p1);
	F->ops->predict_proba(m3, t.x, 150, 4, 3, 0, p3);
	assert_memory_equal(p1, p3, 150 * 3 * sizeof(double));
	assert_int_equal(F->ops->save(m3, &c), NS_OK);
	assert_memory_equal(a.data, c.data, a.len);
	F->ops->feature_importance(m3, 4, p3);
	for (int j = 0; j < 4; j++)
		CHECK_CLOSE(p3[j], 0, 0);
	ns__buf_init(&js, 0);
	assert_int_equal(F->ops->describe(m3, &js), NS_OK);
	assert_string_equal(js.data,
			    "{\"algorithm\":\"brute\",\"n_neighbors\":7,\"weights\":"
			    "\"distance\",\"p\":1,\"metric\":\"manhattan\",\"n_train\":150}");
	ns__buf_fini(&js);
	ns__w_fini(&a);
	ns__w_fini(&b);
	ns__w_fini(&c);
	free(p1);
	free(p3);
	F->ops->free(m1);
	F->ops->free(m2);
	F->ops->free(m3);
	data_free(&t);
}

static void test_corrupt_payloads(void **state)
{
	struct data t;
	struct ns_params p;
	struct ns_dataset ds;
	struct ns__wbuf a;
	double proba[5 * 3];
	void *m = NULL;
	(void)state;
	data_random(&t, 12, 2, 3, 6, 3);
	ds = as_dataset(&t, 12);
	params_from(&p, "n_neighbors=3");
	assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_OK);
	ns__w_init(&a);
	assert_int_equal(F->ops->save(m, &a), NS_OK);
	for (size_t len = 0; len <= a.len; len++)
		for (int flip = -1; flip < (int)(len ? 8 : 0); flip++)
			for (size_t pos = 0; pos < (flip < 0 ? 1 : len); pos++) {
				uint8_t *buf;
				struct ns__rbuf r;
				struct ns_diag diag;
				void *impl = NULL;
				enum ns_status st;
				if (flip >= 0 && len != a.len && pos % 7)
					continue; /* every byte of the whole payload, some of the rest */
				buf = malloc(len ? len : 1);
				memcpy(buf, a.data, len);
				if (flip >= 0)
					buf[pos] ^= (uint8_t)(1u << flip);
				ns__r_init(&r, buf, len);
				ns_diag_clear(&diag);
				st = F->ops->load(&r, &p, 2, 3, &impl, &diag);
				if (st == NS_OK) {
					F->ops->predict_proba(impl, t.x, 5, 2, 3, 0, proba);
					for (int i = 0; i < 5; i++)
						CHECK_CLOSE(proba[i * 3] + proba[i * 3 + 1] +
								    proba[i * 3 + 2],
							    1, 1e-12);
					F->ops->free(impl);
				} else {
					assert_int_equal(st, NS_ERR_CORRUPT);
					assert_true(diag.message[0] != '\0');
				}
				free(buf);
			}
	/* Parameters that do not fit the payload. */
	{
		struct ns__rbuf r;
		void *impl = NULL;
		ns__r_init(&r, a.data, a.len);
		p.v[P_N_NEIGHBORS] = 13;
		assert_int_equal(F->ops->load(&r, &p, 2, 3, &impl, NULL), NS_ERR_CORRUPT);
		ns__r_init(&r, a.data, a.len);
		p.v[P_N_NEIGHBORS] = 3;
		p.v[P_P] = 3;
		assert_int_equal(F->ops->load(&r, &p, 2, 3, &impl, NULL), NS_ERR_CORRUPT);
		ns__r_init(&r, a.data, a.len);
		p.v[P_P] = 2;
		assert_int_equal(F->ops->load(&r, &p, 3, 3, &impl, NULL), NS_ERR_CORRUPT);
		/* Two classes instead of three: fine only if no row has class 2. */
		{
			bool two = true;
			for (size_t i = 0; i < t.n; i++)
				two &= t.y[i] < 2;
			ns__r_init(&r, a.data, a.len);
			assert_int_equal(F->ops->load(&r, &p, 2, 2, &impl, NULL),
					 two ? NS_OK : NS_ERR_CORRUPT);
		}
		F->ops->free(impl);
	}
	ns__w_fini(&a);
	F->ops->free(m);
	data_free(&t);
}

static void test_one_class(void **state)
{
	struct data t;
	struct ns_params p;
	struct ns_dataset ds;
	void *m = NULL;
	double proba[4 * 2];
	(void)state;
	data_random(&t, 20, 2, 2, 9, 0);
	for (size_t i = 0; i < t.n; i++)
		t.y[i] = 1;
	ds = as_dataset(&t, 20);
	params_from(&p, "weights=distance");
	assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_OK);
	F->ops->predict_proba(m, t.x, 4, 2, 2, 0, proba);
	for (int i = 0; i < 4; i++) {
		CHECK_CLOSE(proba[i * 2], 0, 0);
		CHECK_CLOSE(proba[i * 2 + 1], 1, 0);
	}
	F->ops->free(m);
	t.y[4] = 2;
	assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_ERR_INVALID);
	data_free(&t);
}

static void test_alloc_failures(void **state)
{
	struct data t;
	struct ns_params p;
	struct ns_dataset ds;
	struct ns__wbuf a;
	bool done = false;
	(void)state;
	data_random(&t, 40, 3, 2, 10, 0);
	ds = as_dataset(&t, 40);
	params_from(&p, "");
	for (long n = 0; n < 50 && !done; n++) {
		void *m = NULL;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = F->ops->fit(&p, &ds, NULL, &m, NULL);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			done = true;
			ns__w_init(&a);
			assert_int_equal(F->ops->save(m, &a), NS_OK);
			F->ops->free(m);
		} else {
			assert_int_equal(st, NS_ERR_NOMEM);
			assert_null(m);
		}
	}
	assert_true(done);
	done = false;
	for (long n = 0; n < 50 && !done; n++) {
		struct ns__rbuf r;
		void *m = NULL;
		enum ns_status st;
		ns__r_init(&r, a.data, a.len);
		ns_alloc_fail_after(n);
		st = F->ops->load(&r, &p, 3, 2, &m, NULL);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			done = true;
			F->ops->free(m);
		} else {
			assert_int_equal(st, NS_ERR_NOMEM);
		}
	}
	assert_true(done);
	/* A failed save reports it. */
	{
		void *m = NULL;
		struct ns__wbuf w;
		assert_int_equal(F->ops->fit(&p, &ds, NULL, &m, NULL), NS_OK);
		ns__w_init(&w);
		ns_alloc_fail_after(0);
		assert_int_equal(F->ops->save(m, &w), NS_ERR_NOMEM);
		ns_alloc_fail_reset();
		ns__w_fini(&w);
		F->ops->free(m);
	}
	ns__w_fini(&a);
	data_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_naive_random),
		cmocka_unit_test(test_naive_duplicates),
		cmocka_unit_test(test_naive_phishing),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_hand_checked),
		cmocka_unit_test(test_determinism_and_save_load),
		cmocka_unit_test(test_corrupt_payloads),
		cmocka_unit_test(test_one_class),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
