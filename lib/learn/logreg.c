/*
 * lib/learn/logreg.c - logistic regression, as scikit-learn 1.2's
 * LogisticRegression(solver="lbfgs").
 *
 * Two classes: one weight vector on the half-binomial loss (the positive
 * class is index 1).  More classes: the multinomial (softmax) loss with one
 * vector per class.  The objective is scikit-learn's
 *
 *     sum_i s_i * loss_i + 0.5 / C * ||W||^2      (the intercepts not penalised)
 *
 * with s_i = sample weight * class weight ("balanced": n / (classes present *
 * count of the class), from unweighted counts as compute_class_weight does),
 * minimised from zero by lib/learn/lbfgs.c with SciPy's L-BFGS-B defaults as
 * scikit-learn 1.2.1 passes them: m = 10, maxls = 20, ftol = 2.22e-9 (factr
 * 1e7), gtol = tol, maxiter = max_iter.
 *
 * Limits: needs complete data (no NaN).  A class index with no rows gets a
 * weight vector that only the penalty holds back; scikit-learn would not know
 * the class at all.
 *
 * Threading and numerics: the loss and gradient (the hot loop) split the rows
 * into a number of chunks that depends on the row count only; OpenMP threads
 * take whole chunks, each chunk sums its rows in order into its own slot, and
 * the slots are added in chunk order, so the fit is bit-identical whatever the
 * thread count.  log(1 + e^z) and log-sum-exp use the max-shifted stable forms.
 * Prediction only reads the model.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "learn/family.h"
#include "learn/lbfgs.h"

enum { P_PENALTY, P_C, P_FIT_INTERCEPT, P_MAX_ITER, P_TOL, P_CLASS_WEIGHT };
enum { PENALTY_L2 = 0, PENALTY_NONE = 1 };
enum { CW_NONE = 0, CW_BALANCED = 1 };

/* Rows per chunk of the loss/gradient sum, and the most chunks kept. */
#define LR_CHUNK_MIN_ROWS 256
#define LR_MAX_CHUNKS 64
/* Multiply-adds per evaluation below which one thread is used (tests lower it). */
#ifndef LR_PARALLEL_MIN_WORK
#define LR_PARALLEL_MIN_WORK 4e6
#endif

struct logreg {
	size_t n_features;
	uint32_t n_classes;
	uint32_t n_vectors; /* 1 (binary) or n_classes (multinomial) */
	bool fit_intercept;
	double *coef; /* n_vectors * n_features, vector-major */
	double *intercept; /* n_vectors (zeros without an intercept) */
	uint32_t n_iter;
	uint8_t stop; /* enum ns__lbfgs_stop */
	double loss; /* objective at the solution */
};

static void logreg_free(void *impl)
{
	struct logreg *m = impl;
	if (!m)
		return;
	ns_free(m->coef);
	ns_free(m->intercept);
	ns_free(m);
}

/* ---- the objective ------------------------------------------------------------ */

/*
 * The parameter vector is scikit-learn's ravelled F-order layout: w[j*K + k]
 * is feature j of vector k, and the K intercepts follow at d*K.
 *
 * The multinomial loop works on mini-blocks of LR_RB rows: logits Z = X W + b
 * and the gradient G += X^T R are computed in 4 x 4 register tiles over a
 * copy of W whose class count is padded to kp, a multiple of 4 (padded
 * columns stay zero).  Every sum still runs over features (for Z) or rows
 * (for G) in increasing order, so the tiling changes speed, not results.
 */
#define LR_RB 64
#define LR_T 4

struct lr_ctx {
	const double *x;
	const uint32_t *y;
	const double *sw; /* combined sample weights, n */
	size_t n, d;
	uint32_t k; /* vectors: 1 or n_classes */
	size_t kp; /* k padded to a multiple of LR_T (1 when k = 1) */
	bool intercept;
	double l2; /* 1 / C, 0 without a penalty */
	size_t n_params; /* d*k (+ k) */
	size_t n_chunks, chunk_rows;
	size_t slot; /* (d + 1) * kp + 1: gradient, intercept gradient, loss */
	double *partial; /* n_chunks * slot */
	double *zbuf; /* n_chunks * (LR_RB + LR_T) * kp */
	double *wp; /* (d + 1) * kp: padded weights, then padded intercepts */
	int n_threads;
};

/* log(1 + e^z) without overflow or loss of precision. */
static inline double softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* 1 / (1 + e^-z) without overflow. */
static inline double expit(double z)
{
	if (z >= 0)
		return 1.0 / (1.0 + exp(-z));
	double e = exp(z);
	return e / (1.0 + e);
}

static void chunk_binary(const struct lr_ctx *c, const double *w, size_t lo, size_t hi, double *g)
{
	const size_t d = c->d;
	const double b = c->intercept ? w[d] : 0.0;
	double l = 0.0, gb = 0.0;
	memset(g, 0, c->slot * sizeof(double));
	for (size_t i = lo; i < hi; i++) {
		const double *xi = c->x + i * d;
		const double yi = c->y[i] == 1 ? 1.0 : 0.0;
		double z = b, r;
		for (size_t j = 0; j < d; j++)
			z += xi[j] * w[j];
		l += c->sw[i] * (softplus(z) - yi * z);
		r = c->sw[i] * (expit(z) - yi);
#pragma omp simd
		for (size_t j = 0; j < d; j++)
			g[j] += r * xi[j];
		gb += r;
	}
	g[d] = gb;
	g[c->slot - 1] = l;
}

/* Z[r][t] = b[t] + sum_j x[r][j] W[j][t] for 4 rows and classes t0 .. t0+3. */
static void tile_logits(const double *const xr[LR_T], const double *wp, const double *bp, size_t d,
			size_t kp, size_t t0, double *z0, double *z1, double *z2, double *z3)
{
	double a0[LR_T], a1[LR_T], a2[LR_T], a3[LR_T];
	for (int u = 0; u < LR_T; u++)
		a0[u] = a1[u] = a2[u] = a3[u] = bp[t0 + u];
	for (size_t j = 0; j < d; j++) {
		const double *wj = wp + j * kp + t0;
		const double x0 = xr[0][j], x1 = xr[1][j], x2 = xr[2][j], x3 = xr[3][j];
#pragma GCC unroll 4
		for (int u = 0; u < LR_T; u++) {
			a0[u] += x0 * wj[u];
			a1[u] += x1 * wj[u];
			a2[u] += x2 * wj[u];
			a3[u] += x3 * wj[u];
		}
	}
	memcpy(z0 + t0, a0, sizeof(a0));
	memcpy(z1 + t0, a1, sizeof(a1));
	memcpy(z2 + t0, a2, sizeof(a2));
	memcpy(z3 + t0, a3, sizeof(a3));
}

/* G[j0..j0+3][t0..t0+3] += sum over the nr rows of x[r][j] R[r][t], rows in order. */
static void tile_gradient(const double *x0, size_t d, const double *rz, size_t nr, size_t kp,
			  size_t j0, size_t t0, double *g)
{
	double a0[LR_T], a1[LR_T], a2[LR_T], a3[LR_T];
	memcpy(a0, g + (j0 + 0) * kp + t0, sizeof(a0));
	memcpy(a1, g + (j0 + 1) * kp + t0, sizeof(a1));
	memcpy(a2, g + (j0 + 2) * kp + t0, sizeof(a2));
	memcpy(a3, g + (j0 + 3) * kp + t0, sizeof(a3));
	for (size_t r = 0; r < nr; r++) {
		const double *xi = x0 + r * d + j0;
		const double *ri = rz + r * kp + t0;
		const double v0 = xi[0], v1 = xi[1], v2 = xi[2], v3 = xi[3];
#pragma GCC unroll 4
		for (int u = 0; u < LR_T; u++) {
			a0[u] += v0 * ri[u];
			a1[u] += v1 * ri[u];
			a2[u] += v2 * ri[u];
			a3[u] += v3 * ri[u];
		}
	}
	memcpy(g + (j0 + 0) * kp + t0, a0, sizeof(a0));
	memcpy(g + (j0 + 1) * kp + t0, a1, sizeof(a1));
	memcpy(g + (j0 + 2) * kp + t0, a2, sizeof(a2));
	memcpy(g + (j0 + 3) * kp + t0, a3, sizeof(a3));
}

static void chunk_multinomial(const struct lr_ctx *c, size_t lo, size_t hi, double *g, double *z)
{
	const size_t d = c->d, k = c->k, kp = c->kp;
	const double *bp = c->wp + d * kp;
	double *gb = g + d * kp;
	double l = 0.0;
	memset(g, 0, c->slot * sizeof(double));
	for (size_t i0 = lo; i0 < hi; i0 += LR_RB) {
		const size_t nr = hi - i0 < LR_RB ? hi - i0 : LR_RB;
		const double *xb = c->x + i0 * d;
		size_t nnz = 0;
		bool sparse;
		for (size_t t = 0; t < nr * d; t++)
			nnz += xb[t] != 0.0;
		sparse = nnz * 10 < nr * d * 3;
		if (sparse) {
			/* Mostly zeros (one-hot columns): row by row, skipping zeros. */
			for (size_t r = 0; r < nr; r++) {
				const double *xi = xb + r * d;
				double *zi = z + r * kp;
				memcpy(zi, bp, kp * sizeof(double));
				for (size_t j = 0; j < d; j++) {
					const double v = xi[j], *wj = c->wp + j * kp;
					if (v == 0.0)
						continue;
#pragma omp simd
					for (size_t t = 0; t < kp; t++)
						zi[t] += v * wj[t];
				}
			}
		} else {
			/* Four rows at a time; a last partial group computes rows past
			 * nr from repeated data into the spare rows of z. */
			for (size_t r = 0; r < nr; r += LR_T) {
				const double *xr[LR_T];
				for (size_t q = 0; q < LR_T; q++)
					xr[q] = xb + (r + q < nr ? r + q : nr - 1) * d;
				for (size_t t0 = 0; t0 < kp; t0 += LR_T)
					tile_logits(xr, c->wp, bp, d, kp, t0, z + r * kp,
						    z + (r + 1) * kp, z + (r + 2) * kp,
						    z + (r + 3) * kp);
			}
		}

		/* Loss and residuals R = s (softmax - onehot), in place of Z. */
		for (size_t r = 0; r < nr; r++) {
			double *zi = z + r * kp, zmax = zi[0], zy, sum = 0.0;
			const uint32_t yi = c->y[i0 + r];
			const double si = c->sw[i0 + r];
			for (size_t t = 1; t < k; t++)
				if (zi[t] > zmax)
					zmax = zi[t];
			zy = zi[yi] - zmax;
			for (size_t t = 0; t < k; t++) {
				zi[t] = exp(zi[t] - zmax);
				sum += zi[t];
			}
			/* loss = logsumexp(z) - z_y = log(sum) - (z_y - zmax) */
			l += si * (log(sum) - zy);
			for (size_t t = 0; t < k; t++)
				zi[t] = si * (zi[t] / sum - (t == yi ? 1.0 : 0.0));
			for (size_t t = k; t < kp; t++)
				zi[t] = 0.0;
		}

		/* Gradient, rows in order for every entry: dense 4 x 4 tiles and a
		 * feature tail, or row by row skipping zeros; then the intercepts. */
		size_t j0 = 0;
		if (!sparse)
			for (; j0 + LR_T <= d; j0 += LR_T)
				for (size_t t0 = 0; t0 < kp; t0 += LR_T)
					tile_gradient(xb, d, z, nr, kp, j0, t0, g);
		for (size_t r = 0; r < nr; r++) {
			const double *xi = xb + r * d, *ri = z + r * kp;
			for (size_t j = j0; j < d; j++) {
				double *gj = g + j * kp;
				const double v = xi[j];
				if (v == 0.0)
					continue;
#pragma omp simd
				for (size_t t = 0; t < kp; t++)
					gj[t] += v * ri[t];
			}
#pragma omp simd
			for (size_t t = 0; t < kp; t++)
				gb[t] += ri[t];
		}
	}
	g[c->slot - 1] = l;
}

/* The L-BFGS objective: loss and gradient at w. */
static double lr_objective(void *ctx, const double *w, double *grad)
{
	struct lr_ctx *c = ctx;
	const size_t np = c->n_params, d = c->d, k = c->k, kp = c->kp, nw = d * k;
	double loss, pen = 0.0;
	long nc = (long)c->n_chunks;
	int nt = c->n_threads;

	if (k > 1) {
		/* Padded copy: wp[j*kp + t] = w[j*k + t], intercepts at d*kp. */
		memset(c->wp, 0, (d + 1) * kp * sizeof(double));
		for (size_t j = 0; j < d; j++)
			memcpy(c->wp + j * kp, w + j * k, k * sizeof(double));
		if (c->intercept)
			memcpy(c->wp + d * kp, w + d * k, k * sizeof(double));
	}
	if (nt > nc)
		nt = (int)nc;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
	for (long ci = 0; ci < nc; ci++) {
		size_t lo = (size_t)ci * c->chunk_rows;
		size_t hi = lo + c->chunk_rows < c->n ? lo + c->chunk_rows : c->n;
		double *slot = c->partial + (size_t)ci * c->slot;
		if (k == 1)
			chunk_binary(c, w, lo, hi, slot);
		else
			chunk_multinomial(c, lo, hi, slot,
					  c->zbuf + (size_t)ci * (LR_RB + LR_T) * kp);
	}
	/* Fixed-order reduction over the chunks, from the padded layout. */
	memset(grad, 0, np * sizeof(double));
	loss = 0.0;
	for (size_t ci = 0; ci < c->n_chunks; ci++) {
		const double *slot = c->partial + ci * c->slot;
		for (size_t j = 0; j < d; j++)
			for (size_t t = 0; t < k; t++)
				grad[j * k + t] += slot[j * kp + t];
		if (c->intercept)
			for (size_t t = 0; t < k; t++)
				grad[d * k + t] += slot[d * kp + t];
		loss += slot[c->slot - 1];
	}
	if (c->l2 > 0) {
		for (size_t t = 0; t < nw; t++) {
			pen += w[t] * w[t];
			grad[t] += c->l2 * w[t];
		}
		loss += 0.5 * c->l2 * pen;
	}
	return loss;
}

/* ---- fit ------------------------------------------------------------------------ */

static void lr_ctx_fini(struct lr_ctx *c)
{
	ns_free((void *)c->sw);
	ns_free(c->partial);
	ns_free(c->zbuf);
	ns_free(c->wp);
	memset(c, 0, sizeof(*c));
}

/*
 * Sets up the objective for p and ds: sizes, chunks, combined sample weights
 * and scratch.  NS_ERR_INVALID (bad data or weights), NS_ERR_LIMIT,
 * NS_ERR_NOMEM; on failure nothing is left allocated.
 */
static enum ns_status lr_ctx_init(struct lr_ctx *c, const struct ns_params *p,
				  const struct ns_dataset *ds, int n_threads, struct ns_diag *diag)
{
	const size_t n = ds->n_rows, d = ds->n_features;
	const uint32_t nclass = ds->n_classes;
	double *sw = NULL, *cw = NULL;
	size_t *count = NULL;
	enum ns_status st = NS_ERR_NOMEM;

	memset(c, 0, sizeof(*c));
	if (n == 0 || d == 0 || nclass < 2 || !ds->x || !ds->y)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "logreg needs rows, features and at least two classes");
	c->k = nclass == 2 ? 1 : nclass;
	if (d >= SIZE_MAX / sizeof(double) / (c->k + LR_T) / LR_MAX_CHUNKS / (LR_RB + LR_T))
		return ns_diag_set(diag, NS_ERR_LIMIT, "logreg: too many features x classes");
	for (size_t i = 0; i < n; i++)
		if (ds->y[i] >= nclass)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "logreg: class index %u of row %zu is out of range",
					   ds->y[i], i);
	c->x = ds->x;
	c->y = ds->y;
	c->n = n;
	c->d = d;
	c->intercept = p->v[P_FIT_INTERCEPT] != 0;
	c->l2 = p->v[P_PENALTY] == PENALTY_NONE ? 0.0 : 1.0 / p->v[P_C];
	c->kp = c->k == 1 ? 1 : (c->k + LR_T - 1) / LR_T * LR_T;
	c->n_params = d * c->k + (c->intercept ? c->k : 0);
	c->slot = (d + 1) * c->kp + 1;
	/* The chunking depends on n only, never on the thread count. */
	c->n_chunks = (n + LR_CHUNK_MIN_ROWS - 1) / LR_CHUNK_MIN_ROWS;
	if (c->n_chunks > LR_MAX_CHUNKS)
		c->n_chunks = LR_MAX_CHUNKS;
	c->chunk_rows = (n + c->n_chunks - 1) / c->n_chunks;
	c->n_chunks = (n + c->chunk_rows - 1) / c->chunk_rows;
	c->n_threads = ns__threads(n_threads);
	/* A parallel region per evaluation costs more than small sums gain. */
	if ((double)n * (double)d * (double)c->kp < LR_PARALLEL_MIN_WORK)
		c->n_threads = 1;

	sw = ns_malloc(n * sizeof(double));
	cw = ns_malloc(nclass * sizeof(double));
	count = ns_calloc(nclass, sizeof(size_t));
	c->partial = ns_malloc(c->n_chunks * c->slot * sizeof(double));
	c->zbuf = ns_malloc(c->n_chunks * (LR_RB + LR_T) * c->kp * sizeof(double));
	c->wp = ns_malloc(c->slot * sizeof(double));
	c->sw = sw;
	if (!sw || !cw || !count || !c->partial || !c->zbuf || !c->wp) {
		ns_diag_set(diag, st, "logreg: out of memory");
		goto out;
	}
	/* Class weights from unweighted counts, as compute_class_weight. */
	for (size_t i = 0; i < n; i++)
		count[ds->y[i]]++;
	for (uint32_t t = 0; t < nclass; t++)
		cw[t] = 1.0;
	if (p->v[P_CLASS_WEIGHT] == CW_BALANCED) {
		size_t present = 0;
		for (uint32_t t = 0; t < nclass; t++)
			present += count[t] > 0;
		for (uint32_t t = 0; t < nclass; t++)
			if (count[t])
				cw[t] = (double)n / ((double)present * (double)count[t]);
	}
	for (size_t i = 0; i < n; i++) {
		double wi = ds->weight ? ds->weight[i] : 1.0;
		if (!(wi >= 0) || isinf(wi)) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "logreg: sample weight of row %zu is not a finite "
					 "number >= 0",
					 i);
			goto out;
		}
		sw[i] = wi * cw[ds->y[i]];
	}
	st = NS_OK;
out:
	ns_free(cw);
	ns_free(count);
	if (st != NS_OK)
		lr_ctx_fini(c);
	return st;
}

static enum ns_status logreg_fit(const struct ns_params *p, const struct ns_dataset *ds,
				 const struct ns_fit_options *o, void **impl, struct ns_diag *diag)
{
	const size_t d = ds->n_features;
	struct logreg *m = NULL;
	struct lr_ctx c;
	struct ns__lbfgs_options lo;
	struct ns__lbfgs_result res;
	double *w = NULL;
	enum ns_status st;

	st = lr_ctx_init(&c, p, ds, o ? o->n_threads : 0, diag);
	if (st != NS_OK)
		return st;
	st = NS_ERR_NOMEM;
	w = ns_calloc(c.n_params, sizeof(double));
	m = ns_calloc(1, sizeof(*m));
	if (!w || !m)
		goto out;
	m->coef = ns_malloc(d * c.k * sizeof(double));
	m->intercept = ns_calloc(c.k, sizeof(double));
	if (!m->coef || !m->intercept)
		goto out;

	ns__lbfgs_options_default(&lo);
	lo.max_iter = (long)p->v[P_MAX_ITER];
	lo.pgtol = p->v[P_TOL];
	st = ns__lbfgs_minimize(c.n_params, w, lr_objective, &c, &lo, &res);
	if (st != NS_OK)
		goto out;
	if (res.stop != NS__LBFGS_PGTOL && res.stop != NS__LBFGS_FTOL)
		ns_log(NS_LOG_WARN,
		       "logreg: lbfgs did not converge in %ld iterations (stop: %s, max |g| "
		       "%.3g > tol); scale the features or raise max_iter",
		       res.n_iter, ns__lbfgs_stop_name(res.stop), res.pg_norm);
	ns_log(NS_LOG_DEBUG, "logreg: lbfgs stopped (%s) after %ld iterations, %ld evaluations",
	       ns__lbfgs_stop_name(res.stop), res.n_iter, res.n_fun);

	m->n_features = d;
	m->n_classes = ds->n_classes;
	m->n_vectors = c.k;
	m->fit_intercept = c.intercept;
	m->n_iter = res.n_iter > UINT32_MAX ? UINT32_MAX : (uint32_t)res.n_iter;
	m->stop = (uint8_t)res.stop;
	m->loss = res.f;
	for (uint32_t t = 0; t < c.k; t++) {
		for (size_t j = 0; j < d; j++)
			m->coef[t * d + j] = w[j * c.k + t];
		if (c.intercept)
			m->intercept[t] = w[d * c.k + t];
	}
	*impl = m;
	m = NULL;
out:
	if (st != NS_OK)
		ns_diag_set(diag, st, "logreg: %s",
			    st == NS_ERR_NOMEM ? "out of memory" : "the optimiser failed");
	logreg_free(m);
	ns_free(w);
	lr_ctx_fini(&c);
	return st;
}

/* ---- predict -------------------------------------------------------------------------- */

static void logreg_predict_proba(const void *impl, const double *x, size_t n, size_t n_features,
				 uint32_t n_classes, size_t n_estimators, double *out)
{
	const struct logreg *m = impl;
	const size_t d = m->n_features;
	(void)n_features;
	(void)n_estimators;
	for (size_t i = 0; i < n; i++) {
		const double *xi = x + i * d;
		double *pi = out + i * n_classes;
		if (m->n_vectors == 1) {
			double z = m->intercept[0], p1;
			for (size_t j = 0; j < d; j++)
				z += xi[j] * m->coef[j];
			p1 = expit(z);
			pi[0] = 1.0 - p1;
			pi[1] = p1;
		} else {
			double zmax = -INFINITY, sum = 0.0;
			for (uint32_t t = 0; t < n_classes; t++) {
				const double *wt = m->coef + t * d;
				double z = m->intercept[t];
				for (size_t j = 0; j < d; j++)
					z += xi[j] * wt[j];
				pi[t] = z;
				if (z > zmax)
					zmax = z;
			}
			for (uint32_t t = 0; t < n_classes; t++) {
				pi[t] = exp(pi[t] - zmax);
				sum += pi[t];
			}
			for (uint32_t t = 0; t < n_classes; t++)
				pi[t] /= sum;
		}
	}
}

static size_t logreg_n_estimators(const void *impl)
{
	(void)impl;
	return 1;
}

/*
 * scikit-learn has no feature_importances_ for linear models; ours is |coef|
 * (binary) or the mean |coef| over the class vectors (multinomial),
 * normalised to sum to 1.  Only meaningful on standardised features.
 */
static void logreg_feature_importance(const void *impl, size_t n_features, double *out)
{
	const struct logreg *m = impl;
	double total = 0.0;
	for (size_t j = 0; j < n_features; j++) {
		double s = 0.0;
		for (uint32_t t = 0; t < m->n_vectors; t++)
			s += fabs(m->coef[t * m->n_features + j]);
		out[j] = s / m->n_vectors;
		total += out[j];
	}
	for (size_t j = 0; j < n_features; j++)
		out[j] = total > 0 && isfinite(total) ? out[j] / total : 0.0;
}

/* ---- save / load / describe -------------------------------------------------------------- */

/*
 * Payload v1: u32 n_vectors, u8 fit_intercept, u8 stop, u32 n_iter, f64 loss,
 * f64 coef[n_vectors * n_features] (vector-major), f64 intercept[n_vectors].
 */
static enum ns_status logreg_save(const void *impl, struct ns__wbuf *w)
{
	const struct logreg *m = impl;
	ns__w_u32(w, m->n_vectors);
	ns__w_u8(w, m->fit_intercept ? 1 : 0);
	ns__w_u8(w, m->stop);
	ns__w_u32(w, m->n_iter);
	ns__w_f64(w, m->loss);
	ns__w_f64s(w, m->coef, (size_t)m->n_vectors * m->n_features);
	ns__w_f64s(w, m->intercept, m->n_vectors);
	return w->failed ? NS_ERR_NOMEM : NS_OK;
}

static enum ns_status logreg_load(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
				  uint32_t n_classes, void **impl, struct ns_diag *diag)
{
	struct logreg *m;
	uint32_t nv;
	uint8_t fi;
	enum ns_status st = NS_ERR_CORRUPT;

	if (n_classes < 2 || n_features == 0)
		return ns_diag_set(diag, NS_ERR_CORRUPT,
				   "logreg model: needs >= 2 classes and >= 1 feature");
	nv = ns__r_u32(r);
	fi = ns__r_u8(r);
	if (r->bad)
		return ns_diag_set(diag, NS_ERR_CORRUPT, "logreg model: truncated header");
	if (nv != (n_classes == 2 ? 1u : n_classes))
		return ns_diag_set(diag, NS_ERR_CORRUPT,
				   "logreg model: %u weight vectors for %u classes", nv, n_classes);
	if (fi > 1 || (p && (double)fi != p->v[P_FIT_INTERCEPT]))
		return ns_diag_set(diag, NS_ERR_CORRUPT,
				   "logreg model: fit_intercept flag %u does not match the "
				   "parameters",
				   fi);
	if (n_features > SIZE_MAX / 8 / nv)
		return ns_diag_set(diag, NS_ERR_CORRUPT, "logreg model: sizes overflow");
	m = ns_calloc(1, sizeof(*m));
	if (!m)
		return ns_diag_set(diag, NS_ERR_NOMEM, "logreg model: out of memory");
	m->n_features = n_features;
	m->n_classes = n_classes;
	m->n_vectors = nv;
	m->fit_intercept = fi != 0;
	m->stop = ns__r_u8(r);
	m->n_iter = ns__r_u32(r);
	m->loss = ns__r_f64(r);
	if (r->bad) {
		ns_diag_set(diag, st, "logreg model: truncated header");
		goto fail;
	}
	if (m->stop > NS__LBFGS_ABNORMAL || isnan(m->loss)) {
		ns_diag_set(diag, st, "logreg model: bad stop reason %u or loss", m->stop);
		goto fail;
	}
	{
		size_t nc = (size_t)nv * n_features, room = (r->len - r->off) / 8;
		if (nc > room || nv > room - nc) {
			ns_diag_set(diag, st,
				    "logreg model: %u x %zu coefficients do not fit in %zu bytes",
				    nv, n_features, r->len - r->off);
			goto fail;
		}
		m->coef = ns__r_f64s(r, nc);
		m->intercept = ns__r_f64s(r, nv);
		if (!m->coef || !m->intercept) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "logreg model: out of memory");
			goto fail;
		}
	}
	for (size_t t = 0; t < (size_t)nv * n_features; t++)
		if (!isfinite(m->coef[t])) {
			ns_diag_set(diag, st, "logreg model: coefficient %zu is not finite", t);
			goto fail;
		}
	for (uint32_t t = 0; t < nv; t++)
		if (!isfinite(m->intercept[t]) || (!m->fit_intercept && m->intercept[t] != 0)) {
			ns_diag_set(diag, st, "logreg model: bad intercept %u", t);
			goto fail;
		}
	*impl = m;
	return NS_OK;
fail:
	logreg_free(m);
	return st;
}

static enum ns_status logreg_describe(const void *impl, struct ns__buf *b)
{
	const struct logreg *m = impl;
	char loss[40];
	if (!ns_format_double(m->loss, loss, sizeof(loss)) || !isfinite(m->loss))
		snprintf(loss, sizeof(loss), "null");
	return ns__buf_printf(b,
			      "{\"solver\":\"lbfgs\",\"loss\":\"%s\",\"vectors\":%u,"
			      "\"fit_intercept\":%s,\"n_iter\":%u,\"converged\":%s,"
			      "\"stop\":\"%s\",\"objective\":%s}",
			      m->n_vectors == 1 ? "binomial" : "multinomial", m->n_vectors,
			      m->fit_intercept ? "true" : "false", m->n_iter,
			      m->stop <= NS__LBFGS_FTOL ? "true" : "false",
			      ns__lbfgs_stop_name((enum ns__lbfgs_stop)m->stop), loss);
}

/* ---- the family ------------------------------------------------------------------------------ */

static const char *const penalty_choices[] = {"l2", "none", NULL};
static const char *const class_weight_choices[] = {"none", "balanced", NULL};

static const struct ns_param_def logreg_params[] = {
	{"penalty", NS_PARAM_CHOICE, PENALTY_L2, 0, 0, penalty_choices, false,
	 "l2: add 0.5/C * ||w||^2 (intercept excluded); none: no penalty (C ignored)"},
	{"C", NS_PARAM_FLOAT, 1.0, DBL_MIN, 1e300, NULL, false,
	 "inverse regularisation strength, > 0; smaller is stronger"},
	{"fit_intercept", NS_PARAM_BOOL, 1, 0, 1, NULL, false,
	 "learn an intercept per weight vector (not penalised)"},
	{"max_iter", NS_PARAM_INT, 100, 1, 1e7, NULL, false,
	 "most L-BFGS iterations; not converging logs a warning"},
	{"tol", NS_PARAM_FLOAT, 1e-4, 0, 1e300, NULL, false,
	 "stop when the largest |gradient| component is <= tol (scipy gtol)"},
	{"class_weight", NS_PARAM_CHOICE, CW_NONE, 0, 0, class_weight_choices, false,
	 "balanced: weight rows by n / (classes * class count)"},
};

static const char *const logreg_aliases[] = {"logistic_regression", "lr", "logistic", NULL};

static const struct ns__family_ops logreg_ops = {
	.fit = logreg_fit,
	.predict_proba = logreg_predict_proba,
	.n_estimators = logreg_n_estimators,
	.feature_importance = logreg_feature_importance,
	.save = logreg_save,
	.load = logreg_load,
	.describe = logreg_describe,
	.free = logreg_free,
};

const struct ns_family ns__family_logreg = {
	.name = "logreg",
	.aliases = logreg_aliases,
	.doc = "logistic regression (binomial or multinomial) fitted by L-BFGS, as "
	       "scikit-learn's LogisticRegression(solver=\"lbfgs\")",
	.version = 1,
	.flags = NS__FAMILY_NEEDS_COMPLETE,
	.params = logreg_params,
	.n_params = sizeof(logreg_params) / sizeof(logreg_params[0]),
	.prefix_param = NULL,
	.ops = &logreg_ops,
};
