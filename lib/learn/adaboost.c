/*
 * lib/learn/adaboost.c - AdaBoost on decision stumps, after scikit-learn 1.2's
 * AdaBoostClassifier with its default base estimator (a depth-1 CART tree:
 * gini, best splitter, midpoint thresholds, sample-weighted).
 *
 * Boosting follows sklearn's BaseWeightBoosting.fit, _boost_real (SAMME.R)
 * and _boost_discrete (SAMME): sample weights start as the given weights over
 * their sum and are clipped at DBL_EPSILON before each round (weights that
 * were 0 stay 0); SAMME.R gives every stump weight 1 and multiplies each
 * sample weight by exp(-lr (K-1)/K sum_k y_k log p_k) with y_k = 1 for the
 * true class and -1/(K-1) otherwise, p the stump's leaf probabilities clipped
 * at DBL_EPSILON; SAMME gives weight lr (log((1-err)/err) + log(K-1)) and
 * multiplies misclassified samples' weights by exp of it.  A stump with
 * weighted error 0 ends the fit (it is kept, with weight 1); under SAMME a
 * stump with error >= 1 - 1/K is dropped and ends the fit (the first one
 * failing so is an error, as in sklearn); weights summing to a non-finite or
 * non-positive value end it too.  Weights are renormalised between rounds.
 * Only classes present in the training data take part (K of them).
 *
 * Prediction is sklearn's decision_function and predict_proba: SAMME.R sums
 * (K-1)(log p - mean log p) over the stumps, SAMME sums the weight of each
 * stump on its predicted class; both divide by the sum of the stump weights;
 * the probabilities are softmax(decision / (K-1)) (binary: softmax of
 * (-d/2, d/2) with d the second class's score minus the first's).  A prefix
 * of n stumps is exactly the model sklearn's staged_predict_proba gives after
 * n rounds, and the model a fit with n_estimators = n gives.
 *
 * Stumps: the exhaustive weighted search over all features (index order; ties
 * between features may resolve differently from sklearn, which visits them in
 * a random order) and all thresholds between consecutive distinct values
 * (values closer than 1e-7 count as equal, as sklearn's FEATURE_THRESHOLD),
 * maximising sklearn's gini proxy -W_R gini_R - W_L gini_L.  Values are
 * compared as doubles (sklearn casts X to float32).  Feature importance is
 * the stump-weight-weighted mean of the stumps' importances (each stump's is
 * 1 on its feature), normalised to sum 1.
 *
 * Needs complete data (NaN compares false: right child).  Threading: the
 * search is parallel over features with a fixed-order reduction, so results
 * do not depend on the thread count; prediction is serial and read-only.
 */
#include <float.h>
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "learn/family.h"

#define LEAF 0xFFFFFFFFu
#define FEATURE_THRESHOLD 1e-7

/* Work (rows x features) below which the stump search runs on one thread; a
 * test that includes this file defines NS_ADA_TEST_HOOKS to lower it. */
#ifdef NS_ADA_TEST_HOOKS
static size_t PAR_WORK = 1000000;
#else
#define PAR_WORK ((size_t)1000000)
#endif

enum { P_ALGORITHM, P_N_EST, P_LR, P_COUNT };
enum { SAMME_R = 0, SAMME = 1 };

static const char *const algo_choices[] = {"SAMME.R", "SAMME", NULL};

static const struct ns_param_def ada_params[P_COUNT] = {
	{"algorithm", NS_PARAM_CHOICE, SAMME_R, 0, 0, algo_choices, false,
	 "SAMME.R (real: boosts on the stumps' class probabilities) or SAMME (discrete)"},
	{"n_estimators", NS_PARAM_INT, 50, 1, 1000000, NULL, false,
	 "maximum number of stumps (boosting stops early on a perfect stump)"},
	{"learning_rate", NS_PARAM_FLOAT, 1.0, DBL_MIN, 1e6, NULL, false,
	 "weight applied to each stump's boost (> 0)"},
};

struct stump {
	uint32_t feat; /* LEAF: no split (both leaves hold the node's probabilities) */
	uint32_t flags; /* 1: the split decreased the weighted gini (it has importance) */
	double thr;
	double weight; /* estimator weight */
};

struct ada {
	uint32_t algo;
	uint32_t K; /* classes present in training */
	uint32_t *present; /* their indices, ascending */
	uint32_t n_stumps;
	size_t n_features;
	struct stump *st;
	double *proba; /* n_stumps * 2 * K: left leaf, right leaf */
	double *contrib; /* derived: each leaf's term of the decision function */
};

static void ada_free(void *impl)
{
	struct ada *m = impl;
	if (!m)
		return;
	ns_free(m->present);
	ns_free(m->st);
	ns_free(m->proba);
	ns_free(m->contrib);
	ns_free(m);
}

/* The index of the largest value (the first on ties), as numpy's argmax. */
static uint32_t argmax(const double *v, uint32_t n)
{
	uint32_t b = 0;
	for (uint32_t k = 1; k < n; k++)
		if (v[k] > v[b])
			b = k;
	return b;
}

/* Each leaf's additive term of sklearn's decision function (before the division). */
static enum ns_status derive_contrib(struct ada *m)
{
	const uint32_t K = m->K;
	m->contrib = ns_malloc((size_t)m->n_stumps * 2 * K * sizeof(double));
	if (!m->contrib)
		return NS_ERR_NOMEM;
	for (size_t t = 0; t < m->n_stumps; t++)
		for (int leaf = 0; leaf < 2; leaf++) {
			const double *p = m->proba + (t * 2 + (size_t)leaf) * K;
			double *c = m->contrib + (t * 2 + (size_t)leaf) * K;
			if (m->algo == SAMME_R) {
				/* sklearn's _samme_proba. */
				double s = 0;
				for (uint32_t k = 0; k < K; k++) {
					c[k] = log(p[k] < DBL_EPSILON ? DBL_EPSILON : p[k]);
					s += c[k];
				}
				for (uint32_t k = 0; k < K; k++)
					c[k] = (double)(K - 1) * (c[k] - (1.0 / (double)K) * s);
			} else {
				uint32_t b = argmax(p, K);
				for (uint32_t k = 0; k < K; k++)
					c[k] = k == b ? m->st[t].weight : 0.0;
			}
		}
	return NS_OK;
}

/* sklearn's softmax over the present classes' columns of o, in place. */
static void softmax_cols(double *o, const uint32_t *cols, uint32_t K)
{
	double mx = o[cols[0]], s = 0;
	for (uint32_t k = 1; k < K; k++)
		if (o[cols[k]] > mx)
			mx = o[cols[k]];
	for (uint32_t k = 0; k < K; k++) {
		o[cols[k]] = exp(o[cols[k]] - mx);
		s += o[cols[k]];
	}
	for (uint32_t k = 0; k < K; k++)
		o[cols[k]] /= s;
}

static void ada_predict_proba(const void *impl, const double *x, size_t n, size_t n_features,
			      uint32_t n_classes, size_t n_estimators, double *out)
{
	const struct ada *m = impl;
	const uint32_t K = m->K, *pc = m->present;
	size_t n_st = n_estimators == 0 || n_estimators > m->n_stumps ? m->n_stumps : n_estimators;
	double norm = 0;

	for (size_t t = 0; t < n_st; t++)
		norm += m->st[t].weight;
	for (size_t i = 0; i < n; i++) {
		const double *row = x + i * n_features;
		double *o = out + i * n_classes;
		/* The decision function accumulates in the output row, at the present
		 * classes' columns, in stump order (sklearn's summation order). */
		for (uint32_t c = 0; c < n_classes; c++)
			o[c] = 0;
		for (size_t t = 0; t < n_st; t++) {
			const struct stump *s = &m->st[t];
			int leaf = s->feat != LEAF && !(row[s->feat] <= s->thr);
			const double *c = m->contrib + (t * 2 + (size_t)leaf) * K;
			for (uint32_t k = 0; k < K; k++)
				o[pc[k]] += c[k];
		}
		if (K == 2) {
			double dec = o[pc[1]] / norm - o[pc[0]] / norm;
			o[pc[0]] = -dec / 2;
			o[pc[1]] = dec / 2;
		} else {
			for (uint32_t k = 0; k < K; k++)
				o[pc[k]] = o[pc[k]] / norm / (double)(K - 1);
		}
		softmax_cols(o, pc, K);
	}
}

static size_t ada_n_estimators(const void *impl)
{
	return ((const struct ada *)impl)->n_stumps;
}

static void ada_feature_importance(const void *impl, size_t n_features, double *out)
{
	const struct ada *m = impl;
	double s = 0;
	for (size_t f = 0; f < n_features; f++)
		out[f] = 0;
	for (size_t t = 0; t < m->n_stumps; t++)
		if (m->st[t].feat != LEAF && (m->st[t].flags & 1)) {
			out[m->st[t].feat] += m->st[t].weight;
			s += m->st[t].weight;
		}
	for (size_t f = 0; f < n_features; f++)
		out[f] = s > 0 ? out[f] / s : 0.0;
}

/* ---- fitting ----------------------------------------------------------------------- */

struct split {
	double proxy;
	uint32_t pos; /* first sorted position of the right child */
};

struct ada_work {
	const struct ns_dataset *d;
	size_t n, nf, n_pos; /* rows; features; rows of positive weight */
	uint32_t K;
	int nt;
	uint32_t *cls; /* per row: position of its class among the present ones */
	double *sw; /* sample weights */
	bool *zero; /* weight 0 from the start */
	uint32_t *order; /* nf * n_pos: positive-weight rows sorted by each feature */
	uint8_t *cut; /* nf * n_pos: 1 where a threshold may go before this position */
	double *scratch; /* nt * K */
	double *tot; /* K: class weights of the node */
	struct split *best; /* per feature */
	uint32_t *leaf; /* per row: 0 left, 1 right */
	double *ew; /* SAMME.R: weight exponent per (leaf, true class) */
	uint32_t *map; /* class index -> position among the present classes */
};

struct keyed {
	double v;
	uint32_t i;
};

/* Stable merge sort by value (rows stay in index order among equal values). */
static void merge_sort(struct keyed *a, struct keyed *tmp, size_t n)
{
	for (size_t width = 1; width < n; width *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * width) {
			size_t mid = lo + width < n ? lo + width : n;
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
			size_t i = lo, j = mid, k = lo;
			while (i < mid && j < hi)
				tmp[k++] = a[j].v < a[i].v ? a[j++] : a[i++];
			while (i < mid)
				tmp[k++] = a[i++];
			while (j < hi)
				tmp[k++] = a[j++];
		}
		memcpy(a, tmp, n * sizeof(*a));
	}
}

/* Sorted orders and threshold positions of every feature over the positive-weight rows. */
static enum ns_status presort(struct ada_work *w, const uint32_t *rows)
{
	const size_t np = w->n_pos, nf = w->nf;
	struct keyed *buf = ns_reallocarray(NULL, (size_t)w->nt * 2 * (np ? np : 1), sizeof(*buf));
	if (!buf)
		return NS_ERR_NOMEM;
#pragma omp parallel for num_threads(w->nt) schedule(dynamic, 1)
	for (size_t f = 0; f < nf; f++) {
		int t = 0;
#ifdef _OPENMP
		t = omp_get_thread_num();
#endif
		struct keyed *a = buf + (size_t)t * 2 * np, *tmp = a + np;
		for (size_t j = 0; j < np; j++) {
			a[j].v = w->d->x[(size_t)rows[j] * nf + f];
			a[j].i = rows[j];
		}
		merge_sort(a, tmp, np);
		uint32_t *o = w->order + f * np;
		uint8_t *c = w->cut + f * np;
		for (size_t j = 0; j < np; j++) {
			o[j] = a[j].i;
			/* sklearn: a split before p needs Xf[p] > Xf[p - 1] + FEATURE_THRESHOLD. */
			c[j] = j > 0 && a[j].v > a[j - 1].v + FEATURE_THRESHOLD;
		}
	}
	ns_free(buf);
	return NS_OK;
}

/* The best threshold position of feature f (proxy -inf: none). */
static struct split search_feature(struct ada_work *w, size_t f, const double *tot, double wsum,
				   double *cl)
{
	const uint32_t K = w->K;
	const uint32_t *o = w->order + f * w->n_pos;
	const uint8_t *c = w->cut + f * w->n_pos;
	struct split best = {-INFINITY, 0};
	double wl = 0;
	for (uint32_t k = 0; k < K; k++)
		cl[k] = 0;
	for (size_t p = 0; p < w->n_pos; p++) {
		if (c[p]) {
			/* Left = positions [0, p), right = [p, n_pos): sklearn's Gini proxy. */
			double wr = wsum - wl, sql = 0, sqr = 0;
			for (uint32_t k = 0; k < K; k++) {
				double cr = tot[k] - cl[k];
				sql += cl[k] * cl[k];
				sqr += cr * cr;
			}
			double gl = 1.0 - sql / (wl * wl), gr = 1.0 - sqr / (wr * wr);
			double proxy = -wr * gr - wl * gl;
			if (proxy > best.proxy) {
				best.proxy = proxy;
				best.pos = (uint32_t)p;
			}
		}
		uint32_t i = o[p];
		cl[w->cls[i]] += w->sw[i];
		wl += w->sw[i];
	}
	return best;
}

static double gini(const double *cnt, uint32_t K, double wsum)
{
	double sq = 0;
	for (uint32_t k = 0; k < K; k++)
		sq += cnt[k] * cnt[k];
	return 1.0 - sq / (wsum * wsum);
}

/*
 * Fits one stump on the current weights: s and its leaf probabilities p
 * (2 * K), and w->leaf for every row.
 */
static void fit_stump(struct ada_work *w, struct stump *s, double *p)
{
	const uint32_t K = w->K;
	const size_t n = w->n, nf = w->nf;
	double *tot = w->tot, wsum = 0;

	/* Node totals in row order, as sklearn's criterion sums them. */
	for (uint32_t k = 0; k < K; k++)
		tot[k] = 0;
	for (size_t i = 0; i < n; i++)
		if (w->sw[i] > 0) {
			tot[w->cls[i]] += w->sw[i];
			wsum += w->sw[i];
		}

	s->feat = LEAF;
	s->flags = 0;
	s->thr = 0;
	bool leaf = w->n_pos < 2 || gini(tot, K, wsum) <= DBL_EPSILON;
	if (!leaf) {
#pragma omp parallel for num_threads(w->nt) schedule(dynamic, 1) if (w->n_pos * nf >= PAR_WORK)
		for (size_t f = 0; f < nf; f++) {
			int t = 0;
#ifdef _OPENMP
			t = omp_get_thread_num();
#endif
			w->best[f] = search_feature(w, f, tot, wsum, w->scratch + (size_t)t * K);
		}
		struct split b = {-INFINITY, 0};
		size_t bf = 0;
		for (size_t f = 0; f < nf; f++)
			if (w->best[f].proxy > b.proxy) {
				b = w->best[f];
				bf = f;
			}
		if (b.proxy > -INFINITY) {
			const uint32_t *o = w->order + bf * w->n_pos;
			double lo = w->d->x[(size_t)o[b.pos - 1] * nf + bf];
			double hi = w->d->x[(size_t)o[b.pos] * nf + bf];
			double thr = lo / 2.0 + hi / 2.0;
			if (thr == hi || isinf(thr))
				thr = lo;
			s->feat = (uint32_t)bf;
			s->thr = thr;
		}
	}

	/* Leaf class weights (rows of zero weight add nothing). */
	double *pl = p, *pr = p + K, node[2] = {0, 0};
	for (uint32_t k = 0; k < K; k++)
		pl[k] = pr[k] = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t side = s->feat != LEAF && !(w->d->x[i * nf + s->feat] <= s->thr);
		w->leaf[i] = side;
		if (w->sw[i] > 0) {
			(side ? pr : pl)[w->cls[i]] += w->sw[i];
			node[side] += w->sw[i];
		}
	}
	if (s->feat == LEAF) {
		for (uint32_t k = 0; k < K; k++)
			pr[k] = pl[k];
		node[1] = node[0];
	} else {
		double imp = wsum * gini(tot, K, wsum) - node[0] * gini(pl, K, node[0]) -
			     node[1] * gini(pr, K, node[1]);
		s->flags = imp > 0;
	}
	for (int side = 0; side < 2; side++) {
		double *v = side ? pr : pl, sum = 0;
		for (uint32_t k = 0; k < K; k++)
			sum += v[k];
		if (sum == 0)
			sum = 1;
		for (uint32_t k = 0; k < K; k++)
			v[k] /= sum;
	}
}

static void ada_work_fini(struct ada_work *w)
{
	ns_free(w->cls);
	ns_free(w->sw);
	ns_free(w->zero);
	ns_free(w->order);
	ns_free(w->cut);
	ns_free(w->scratch);
	ns_free(w->tot);
	ns_free(w->best);
	ns_free(w->leaf);
	ns_free(w->ew);
	ns_free(w->map);
}

/*
 * Classes present, normalised sample weights (sklearn: w / w.sum()) and the
 * sorted orders of the rows of positive weight.
 */
static enum ns_status ada_work_init(struct ada_work *w, const struct ns_dataset *d, int n_threads,
				    struct ns_diag *diag)
{
	const size_t n = d->n_rows, nf = d->n_features;
	uint32_t *rows = NULL;
	enum ns_status st = NS_ERR_NOMEM;

	memset(w, 0, sizeof(*w));
	if (d->n_classes < 2 || n == 0 || nf == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "adaboost needs data with two classes");
	if (n >= UINT32_MAX || nf >= UINT32_MAX / 2)
		return ns_diag_set(diag, NS_ERR_LIMIT, "adaboost: too many rows or features");
	w->d = d;
	w->n = n;
	w->nf = nf;
	w->nt = ns__threads(n_threads);
	w->map = ns_malloc(d->n_classes * sizeof(uint32_t));
	w->cls = ns_malloc(n * sizeof(uint32_t));
	if (!w->map || !w->cls)
		goto nomem;
	for (uint32_t c = 0; c < d->n_classes; c++)
		w->map[c] = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		if (d->y[i] >= d->n_classes)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "adaboost: row %zu: class index %u >= %u", i, d->y[i],
					   d->n_classes);
		w->map[d->y[i]] = 0;
	}
	for (uint32_t c = 0; c < d->n_classes; c++)
		if (w->map[c] != UINT32_MAX)
			w->map[c] = w->K++;
	if (w->K < 2)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "adaboost: the training data has only one class");
	const uint32_t K = w->K;
	for (size_t i = 0; i < n; i++)
		w->cls[i] = w->map[d->y[i]];
	w->sw = ns_malloc(n * sizeof(double));
	w->zero = ns_malloc(n * sizeof(bool));
	w->leaf = ns_malloc(n * sizeof(uint32_t));
	w->scratch = ns_malloc((size_t)w->nt * K * sizeof(double));
	w->tot = ns_malloc(K * sizeof(double));
	w->best = ns_malloc(nf * sizeof(struct split));
	w->ew = ns_malloc(2 * (size_t)K * sizeof(double));
	rows = ns_malloc(n * sizeof(uint32_t));
	if (!w->sw || !w->zero || !w->leaf || !w->scratch || !w->tot || !w->best || !w->ew || !rows)
		goto nomem;
	double wsum = 0;
	for (size_t i = 0; i < n; i++)
		wsum += d->weight ? d->weight[i] : 1.0;
	if (!(wsum > 0) || isinf(wsum)) {
		st = ns_diag_set(diag, NS_ERR_INVALID,
				 "adaboost: the sample weights must have a positive finite sum");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		w->sw[i] = (d->weight ? d->weight[i] : 1.0) / wsum;
		w->zero[i] = w->sw[i] == 0.0;
		if (!w->zero[i])
			rows[w->n_pos++] = (uint32_t)i;
	}
	w->order = ns_reallocarray(NULL, nf * (w->n_pos ? w->n_pos : 1), sizeof(uint32_t));
	w->cut = ns_malloc(nf * (w->n_pos ? w->n_pos : 1));
	if (!w->order || !w->cut || presort(w, rows) != NS_OK)
		goto nomem;
	st = NS_OK;
	goto out;
nomem:
	st = ns_diag_set(diag, NS_ERR_NOMEM, "adaboost: out of memory");
out:
	ns_free(rows);
	return st;
}

enum round_result { ROUND_OK, ROUND_PERFECT, ROUND_WORSE };

/*
 * One boosting round (sklearn's _boost_real / _boost_discrete): clips the
 * weights, fits stump s (leaf probabilities pb), sets its weight and updates
 * the sample weights unless `last`.  ROUND_PERFECT: error 0 (keep the stump,
 * stop); ROUND_WORSE: SAMME error >= 1 - 1/K (drop it, stop).  The caller
 * normalises the weights.
 */
static enum round_result ada_round(struct ada_work *w, uint32_t algo, double lr, bool last,
				   struct stump *s, double *pb, double *err_out)
{
	const size_t n = w->n;
	const uint32_t K = w->K;
	double *ew = w->ew;

	for (size_t i = 0; i < n; i++)
		if (!w->zero[i] && w->sw[i] < DBL_EPSILON)
			w->sw[i] = DBL_EPSILON;
	fit_stump(w, s, pb);

	/* np.average(incorrect, weights=sample_weight) */
	uint32_t pred[2] = {argmax(pb, K), argmax(pb + K, K)};
	double err_num = 0, err_den = 0;
	for (size_t i = 0; i < n; i++) {
		err_num += w->sw[i] * (pred[w->leaf[i]] != w->cls[i] ? 1.0 : 0.0);
		err_den += w->sw[i];
	}
	double err = err_num / err_den;
	*err_out = err;
	if (err <= 0) {
		s->weight = 1.0;
		return ROUND_PERFECT;
	}
	if (algo == SAMME_R) {
		for (int leaf = 0; leaf < 2; leaf++)
			for (uint32_t c = 0; c < K; c++) {
				double sum = 0;
				for (uint32_t k = 0; k < K; k++) {
					double pk = pb[(size_t)leaf * K + k];
					double code = k == c ? 1.0 : -1.0 / (double)(K - 1);
					sum += code * log(pk < DBL_EPSILON ? DBL_EPSILON : pk);
				}
				ew[(size_t)leaf * K + c] =
					-1.0 * lr * (((double)K - 1.0) / (double)K) * sum;
			}
		if (!last)
			for (size_t i = 0; i < n; i++) {
				double e = ew[(size_t)w->leaf[i] * K + w->cls[i]];
				if (w->sw[i] > 0 || e < 0)
					w->sw[i] *= exp(e);
			}
		s->weight = 1.0;
		return ROUND_OK;
	}
	if (err >= 1.0 - 1.0 / (double)K)
		return ROUND_WORSE;
	double a = lr * (log((1.0 - err) / err) + log((double)K - 1.0));
	if (!last)
		for (size_t i = 0; i < n; i++) {
			bool wrong = pred[w->leaf[i]] != w->cls[i];
			w->sw[i] = exp(log(w->sw[i]) + (wrong && w->sw[i] > 0 ? a : 0.0));
		}
	s->weight = a;
	return ROUND_OK;
}

static enum ns_status ada_fit(const struct ns_params *p, const struct ns_dataset *d,
			      const struct ns_fit_options *o, void **impl, struct ns_diag *diag)
{
	struct ada_work w;
	struct ada *m = NULL;
	enum ns_status st;
	const uint32_t algo = (uint32_t)p->v[P_ALGORITHM];
	const uint32_t n_est = (uint32_t)p->v[P_N_EST];
	const double lr = p->v[P_LR];

	st = ada_work_init(&w, d, o ? o->n_threads : 0, diag);
	if (st != NS_OK)
		goto out;
	const uint32_t K = w.K;
	m = ns_calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	m->algo = algo;
	m->K = K;
	m->n_features = w.nf;
	m->present = ns_malloc(K * sizeof(uint32_t));
	m->st = ns_malloc(n_est * sizeof(struct stump));
	m->proba = ns_malloc((size_t)n_est * 2 * K * sizeof(double));
	if (!m->present || !m->st || !m->proba)
		goto nomem;
	for (uint32_t c = 0; c < d->n_classes; c++)
		if (w.map[c] != UINT32_MAX)
			m->present[w.map[c]] = c;

	for (uint32_t it = 0; it < n_est; it++) {
		bool last = it == n_est - 1;
		double err;
		enum round_result rr = ada_round(&w, algo, lr, last, &m->st[m->n_stumps],
						 m->proba + (size_t)m->n_stumps * 2 * K, &err);
		if (rr == ROUND_WORSE) {
			if (m->n_stumps == 0) {
				st = ns_diag_set(
					diag, NS_ERR_INVALID,
					"adaboost: the first stump is no better than random "
					"guessing (weighted error %g); the ensemble cannot "
					"be fit",
					err);
				goto out;
			}
			break;
		}
		m->n_stumps++;
		if (rr == ROUND_PERFECT)
			break;
		double sum = 0;
		for (size_t i = 0; i < w.n; i++)
			sum += w.sw[i];
		if (!isfinite(sum) || sum <= 0)
			break;
		if (!last)
			for (size_t i = 0; i < w.n; i++)
				w.sw[i] /= sum;
	}
	if (derive_contrib(m) != NS_OK)
		goto nomem;
	*impl = m;
	m = NULL;
	st = NS_OK;
	goto out;
nomem:
	st = ns_diag_set(diag, NS_ERR_NOMEM, "adaboost: out of memory");
out:
	ada_work_fini(&w);
	ada_free(m);
	return st;
}

/* ---- save, load, describe -------------------------------------------------------------- */

static enum ns_status ada_save(const void *impl, struct ns__wbuf *wb)
{
	const struct ada *m = impl;
	ns__w_u32(wb, m->algo);
	ns__w_u32(wb, m->K);
	ns__w_u32s(wb, m->present, m->K);
	ns__w_u32(wb, m->n_stumps);
	for (size_t t = 0; t < m->n_stumps; t++) {
		ns__w_u32(wb, m->st[t].feat);
		ns__w_u32(wb, m->st[t].flags);
		ns__w_f64(wb, m->st[t].thr);
		ns__w_f64(wb, m->st[t].weight);
		ns__w_f64s(wb, m->proba + t * 2 * m->K, 2 * (size_t)m->K);
	}
	return wb->failed ? NS_ERR_NOMEM : NS_OK;
}

static enum ns_status ada_load(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
			       uint32_t n_classes, void **impl, struct ns_diag *diag)
{
	struct ada *m = ns_calloc(1, sizeof(*m));
	const char *why = "truncated";
	if (!m)
		return ns_diag_set(diag, NS_ERR_NOMEM, "adaboost model: out of memory");
	m->n_features = n_features;
	m->algo = ns__r_u32(r);
	m->K = ns__r_u32(r);
	if (r->bad)
		goto bad;
	if (m->algo > SAMME || (p && (double)m->algo != p->v[P_ALGORITHM])) {
		why = "algorithm does not match the parameters";
		goto bad;
	}
	if (m->K < 2 || m->K > n_classes) {
		why = "bad number of classes";
		goto bad;
	}
	/* K <= n_classes: bounded before the allocation; reads past the end set bad. */
	m->present = ns_malloc(m->K * sizeof(uint32_t));
	if (!m->present) {
		ada_free(m);
		return ns_diag_set(diag, NS_ERR_NOMEM, "adaboost model: out of memory");
	}
	for (uint32_t k = 0; k < m->K; k++)
		m->present[k] = ns__r_u32(r);
	if (r->bad)
		goto bad;
	for (uint32_t k = 0; k < m->K; k++)
		if (m->present[k] >= n_classes || (k && m->present[k] <= m->present[k - 1])) {
			why = "bad class index";
			goto bad;
		}
	m->n_stumps = ns__r_u32(r);
	if (r->bad)
		goto bad;
	size_t per = 24 + 16 * (size_t)m->K;
	if (m->n_stumps == 0 || m->n_stumps > (r->len - r->off) / per) {
		why = "bad stump count";
		goto bad;
	}
	m->st = ns_malloc(m->n_stumps * sizeof(struct stump));
	m->proba = ns_malloc((size_t)m->n_stumps * 2 * m->K * sizeof(double));
	if (!m->st || !m->proba)
		goto nomem;
	for (size_t t = 0; t < m->n_stumps; t++) {
		struct stump *s = &m->st[t];
		s->feat = ns__r_u32(r);
		s->flags = ns__r_u32(r);
		s->thr = ns__r_f64(r);
		s->weight = ns__r_f64(r);
		double *pb = m->proba + t * 2 * m->K;
		for (size_t k = 0; k < 2 * (size_t)m->K; k++)
			pb[k] = ns__r_f64(r);
		if (r->bad)
			goto bad;
		if ((s->feat != LEAF && s->feat >= n_features) || s->flags > 1 ||
		    (s->feat == LEAF && (s->flags || s->thr != 0)) || isnan(s->thr)) {
			why = "bad stump split";
			goto bad;
		}
		if (!(s->weight > 0) || isinf(s->weight)) {
			why = "bad stump weight";
			goto bad;
		}
		for (size_t k = 0; k < 2 * (size_t)m->K; k++)
			if (!(pb[k] >= 0 && pb[k] <= 1)) {
				why = "bad leaf probability";
				goto bad;
			}
	}
	if (derive_contrib(m) != NS_OK)
		goto nomem;
	*impl = m;
	return NS_OK;
nomem:
	ada_free(m);
	return ns_diag_set(diag, NS_ERR_NOMEM, "adaboost model: out of memory");
bad:
	ada_free(m);
	return ns_diag_set(diag, NS_ERR_CORRUPT, "adaboost model: %s", why);
}

static enum ns_status ada_describe(const void *impl, struct ns__buf *b)
{
	const struct ada *m = impl;
	size_t used = 0, splits = 0;
	double wsum = 0;
	for (size_t t = 0; t < m->n_stumps; t++) {
		wsum += m->st[t].weight;
		if (m->st[t].feat == LEAF)
			continue;
		splits++;
		bool seen = false;
		for (size_t u = 0; u < t && !seen; u++)
			seen = m->st[u].feat == m->st[t].feat;
		used += !seen;
	}
	return ns__buf_printf(b,
			      "{\"stumps\":%u,\"algorithm\":\"%s\",\"splits\":%zu,"
			      "\"features_used\":%zu,\"estimator_weight_sum\":%.17g}",
			      m->n_stumps, algo_choices[m->algo], splits, used, wsum);
}

static const struct ns__family_ops ada_ops = {
	.fit = ada_fit,
	.predict_proba = ada_predict_proba,
	.n_estimators = ada_n_estimators,
	.feature_importance = ada_feature_importance,
	.save = ada_save,
	.load = ada_load,
	.describe = ada_describe,
	.free = ada_free,
};

static const char *const ada_aliases[] = {"ada", "adaboostclassifier", NULL};

const struct ns_family ns__family_adaboost = {
	.name = "adaboost",
	.aliases = ada_aliases,
	.doc = "AdaBoost on decision stumps (scikit-learn's AdaBoostClassifier, SAMME.R or "
	       "SAMME); needs complete data",
	.version = 1,
	.flags = NS__FAMILY_NEEDS_COMPLETE,
	.params = ada_params,
	.n_params = P_COUNT,
	.prefix_param = "n_estimators",
	.ops = &ada_ops,
};
