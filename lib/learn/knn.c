/*
 * lib/learn/knn.c - k-nearest neighbours, as scikit-learn 1.2's
 * KNeighborsClassifier(algorithm="brute").
 *
 * The model is the training data.  A query's neighbours are the k training
 * rows with the smallest (distance, row index): ties in distance go to the
 * lower row index, so the k' nearest for k' < k are the first k' of the k
 * nearest (n_neighbors is the prefix parameter: predict_proba_prefix with k'
 * equals a fresh model with n_neighbors = k').  scikit-learn's brute force
 * keeps the right distances but settles ties at the k-th place by heap
 * position, so on data with many equal distances (the phishing set) its
 * neighbour set can differ from ours among equally distant rows.
 *
 * Distances are computed exactly, as the sum over features in order of
 * (q_j - t_j)^2 (p = 2, ranked by the squared distance) or |q_j - t_j|
 * (p = 1), never as ||q||^2 - 2 q.t + ||t||^2, whose cancellation would
 * invent or break ties.  weights=distance uses 1/d; when some of the k
 * neighbours are at distance 0, those get weight 1 and the others 0, as
 * scikit-learn does.  Sample weights are ignored (scikit-learn has none).
 *
 * Layout and threading: fit copies the rows into blocks of KNN_RB rows stored
 * feature-major, so the distance kernel runs over KNN_RB training rows at
 * once in vector registers for KNN_QM queries.  Prediction splits the
 * queries into blocks handled by OpenMP threads; every query scans training
 * rows in index order, so results do not depend on the thread count.  The
 * model is only read.
 */
#include <math.h>
#include <stdio.h>

#include "learn/family.h"

enum { P_N_NEIGHBORS, P_WEIGHTS, P_P };
enum { W_UNIFORM = 0, W_DISTANCE = 1 };

#define KNN_RB 8 /* training rows per feature-major block */
#define KNN_QM 4 /* queries per kernel call */
#define KNN_QB 64 /* queries per parallel task */
#define KNN_TILE 512 /* training rows per cache tile */
#define KNN_STACK_ENTRIES 2048 /* neighbour lists kept on the stack up to this size */
#define KNN_SORTED_MAX 32 /* k up to this: sorted insertion, above: a heap */
#define KNN_LIST_BUDGET 65536 /* list entries per thread before query blocks shrink */

struct knn {
	size_t n_train, n_features;
	uint32_t n_classes;
	uint32_t k;
	int p; /* 1 or 2 */
	bool distance; /* weights=distance */
	double *xb; /* ceil(n_train / KNN_RB) blocks of n_features * KNN_RB, zero-padded */
	uint32_t *y; /* n_train class indices */
};

static void knn_free(void *impl)
{
	struct knn *m = impl;
	if (!m)
		return;
	ns_free(m->xb);
	ns_free(m->y);
	ns_free(m);
}

static inline size_t n_blocks(size_t n_train)
{
	return (n_train + KNN_RB - 1) / KNN_RB;
}

static inline double *xb_at(const struct knn *m, size_t row, size_t j)
{
	return m->xb + (row / KNN_RB) * m->n_features * KNN_RB + j * KNN_RB + row % KNN_RB;
}

/* Allocates the model and its blocks (zeroed); NULL on failure or overflow. */
static struct knn *knn_alloc(size_t n_train, size_t n_features)
{
	struct knn *m;
	size_t nb = n_blocks(n_train);
	if (n_features == 0 || nb > SIZE_MAX / sizeof(double) / KNN_RB / n_features)
		return NULL;
	m = ns_calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->n_train = n_train;
	m->n_features = n_features;
	m->xb = ns_calloc(nb * KNN_RB * n_features, sizeof(double));
	m->y = ns_malloc(n_train * sizeof(uint32_t));
	if (!m->xb || !m->y) {
		knn_free(m);
		return NULL;
	}
	return m;
}

static enum ns_status knn_fit(const struct ns_params *p, const struct ns_dataset *ds,
			      const struct ns_fit_options *o, void **impl, struct ns_diag *diag)
{
	const size_t n = ds->n_rows, d = ds->n_features;
	const double k = p->v[P_N_NEIGHBORS];
	struct knn *m;
	(void)o;

	if (n == 0 || d == 0 || ds->n_classes < 1 || !ds->x || !ds->y)
		return ns_diag_set(diag, NS_ERR_INVALID, "knn needs rows, features and classes");
	if (n > UINT32_MAX)
		return ns_diag_set(diag, NS_ERR_LIMIT, "knn: at most %u training rows", UINT32_MAX);
	if (k > (double)n)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "knn: n_neighbors = %.0f exceeds the %zu training rows", k, n);
	for (size_t i = 0; i < n; i++)
		if (ds->y[i] >= ds->n_classes)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "knn: class index %u of row %zu is out of range",
					   ds->y[i], i);
	m = knn_alloc(n, d);
	if (!m)
		return ns_diag_set(diag, NS_ERR_NOMEM, "knn: out of memory for %zu x %zu rows", n,
				   d);
	m->n_classes = ds->n_classes;
	m->k = (uint32_t)k;
	m->p = (int)p->v[P_P];
	m->distance = p->v[P_WEIGHTS] == W_DISTANCE;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < d; j++)
			*xb_at(m, i, j) = ds->x[i * d + j];
		m->y[i] = ds->y[i];
	}
	*impl = m;
	return NS_OK;
}

/* ---- distances --------------------------------------------------------------------- */

/*
 * Distances from KNN_QM queries to the KNN_RB rows of one block, summed over
 * the features in order (the same sum a naive loop computes, bit for bit;
 * ISO C mode keeps the compiler from contracting into FMAs).
 */
/* Built for AVX2 too, chosen at run time: four doubles a lane instead of two.  The
 * sums stay in feature order without contraction, so results are identical. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define KNN_CLONES
#endif

KNN_CLONES static void kernel_l2(const double *const q[KNN_QM], const double *tb, size_t d,
				 double out[KNN_QM][KNN_RB])
{
	double a0[KNN_RB] = {0}, a1[KNN_RB] = {0}, a2[KNN_RB] = {0}, a3[KNN_RB] = {0};
	for (size_t j = 0; j < d; j++) {
		const double *t = tb + j * KNN_RB;
		const double v0 = q[0][j], v1 = q[1][j], v2 = q[2][j], v3 = q[3][j];
		for (int r = 0; r < KNN_RB; r++) {
			double e0 = v0 - t[r], e1 = v1 - t[r], e2 = v2 - t[r], e3 = v3 - t[r];
			a0[r] += e0 * e0;
			a1[r] += e1 * e1;
			a2[r] += e2 * e2;
			a3[r] += e3 * e3;
		}
	}
	memcpy(out[0], a0, sizeof(a0));
	memcpy(out[1], a1, sizeof(a1));
	memcpy(out[2], a2, sizeof(a2));
	memcpy(out[3], a3, sizeof(a3));
}

KNN_CLONES static void kernel_l1(const double *const q[KNN_QM], const double *tb, size_t d,
				 double out[KNN_QM][KNN_RB])
{
	double a0[KNN_RB] = {0}, a1[KNN_RB] = {0}, a2[KNN_RB] = {0}, a3[KNN_RB] = {0};
	for (size_t j = 0; j < d; j++) {
		const double *t = tb + j * KNN_RB;
		const double v0 = q[0][j], v1 = q[1][j], v2 = q[2][j], v3 = q[3][j];
		for (int r = 0; r < KNN_RB; r++) {
			a0[r] += fabs(v0 - t[r]);
			a1[r] += fabs(v1 - t[r]);
			a2[r] += fabs(v2 - t[r]);
			a3[r] += fabs(v3 - t[r]);
		}
	}
	memcpy(out[0], a0, sizeof(a0));
	memcpy(out[1], a1, sizeof(a1));
	memcpy(out[2], a2, sizeof(a2));
	memcpy(out[3], a3, sizeof(a3));
}

/* ---- the k best of one query ------------------------------------------------------------- */

/*
 * A list of at most k (distance, row) pairs.  Rows arrive in increasing index
 * order, so a newcomer with a distance equal to the worst kept one is worse
 * (higher index) and is not taken: only a strictly smaller distance enters a
 * full list.  Small k: a sorted array with insertion; large k: a max-heap on
 * (distance, row), sorted once at the end.
 */
struct kbest {
	double *dist;
	uint32_t *idx;
	size_t count, k;
};

static inline bool pair_gt(double da, uint32_t ia, double db, uint32_t ib)
{
	return da > db || (da == db && ia > ib);
}

static void heap_sift_down(double *dist, uint32_t *idx, size_t n, size_t i)
{
	double dv = dist[i];
	uint32_t iv = idx[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && pair_gt(dist[c + 1], idx[c + 1], dist[c], idx[c]))
			c++;
		if (!pair_gt(dist[c], idx[c], dv, iv))
			break;
		dist[i] = dist[c];
		idx[i] = idx[c];
		i = c;
	}
	dist[i] = dv;
	idx[i] = iv;
}

static inline void kbest_push(struct kbest *b, double dd, uint32_t id)
{
	if (isnan(dd))
		dd = INFINITY;
	if (b->k <= KNN_SORTED_MAX) {
		size_t pos;
		if (b->count == b->k) {
			if (!(dd < b->dist[b->k - 1]))
				return;
			pos = b->k - 1;
		} else {
			pos = b->count++;
		}
		while (pos > 0 && b->dist[pos - 1] > dd) {
			b->dist[pos] = b->dist[pos - 1];
			b->idx[pos] = b->idx[pos - 1];
			pos--;
		}
		b->dist[pos] = dd;
		b->idx[pos] = id;
		return;
	}
	if (b->count < b->k) {
		size_t i = b->count++;
		while (i > 0) {
			size_t parent = (i - 1) / 2;
			if (!pair_gt(dd, id, b->dist[parent], b->idx[parent]))
				break;
			b->dist[i] = b->dist[parent];
			b->idx[i] = b->idx[parent];
			i = parent;
		}
		b->dist[i] = dd;
		b->idx[i] = id;
	} else if (dd < b->dist[0]) {
		b->dist[0] = dd;
		b->idx[0] = id;
		heap_sift_down(b->dist, b->idx, b->count, 0);
	}
}

/* Puts the list in increasing (distance, row) order. */
static void kbest_finish(struct kbest *b)
{
	if (b->k <= KNN_SORTED_MAX)
		return;
	for (size_t n = b->count; n > 1; n--) {
		double dv = b->dist[0];
		uint32_t iv = b->idx[0];
		b->dist[0] = b->dist[n - 1];
		b->idx[0] = b->idx[n - 1];
		b->dist[n - 1] = dv;
		b->idx[n - 1] = iv;
		heap_sift_down(b->dist, b->idx, n - 1, 0);
	}
}

/* ---- predict ---------------------------------------------------------------------------- */

/*
 * Class probabilities of one query from the first `count` entries of its
 * sorted neighbour list (uniform or distance weights).
 */
static void vote(const struct knn *m, const struct kbest *b, size_t count, bool distance,
		 uint32_t n_classes, double *out)
{
	bool zero = false;
	double total = 0.0;
	memset(out, 0, n_classes * sizeof(double));
	if (distance) {
		for (size_t t = 0; t < count; t++)
			if (b->dist[t] == 0.0)
				zero = true;
		for (size_t t = 0; t < count; t++) {
			double dd = m->p == 2 ? sqrt(b->dist[t]) : b->dist[t], w;
			if (zero)
				w = dd == 0.0 ? 1.0 : 0.0;
			else
				w = 1.0 / dd;
			out[m->y[b->idx[t]]] += w;
		}
		for (uint32_t c = 0; c < n_classes; c++)
			total += out[c];
		if (total > 0 && isfinite(total)) {
			for (uint32_t c = 0; c < n_classes; c++)
				out[c] /= total;
			return;
		}
		/* Every neighbour infinitely far: fall back to counting. */
		memset(out, 0, n_classes * sizeof(double));
	}
	for (size_t t = 0; t < count; t++)
		out[m->y[b->idx[t]]] += 1.0;
	for (uint32_t c = 0; c < n_classes; c++)
		out[c] /= (double)count;
}

/* What to predict: n_var variants, each voting with its first kv[v] neighbours
 * (the lists hold k = max kv) and its weights, into out[v]. */
struct variants {
	size_t n_var, k;
	const size_t *kv;
	const bool *distance;
	double *const *out;
};

/*
 * Queries [q0, q1) (at most KNN_QB): scan the training tiles in order, then
 * vote.  dist/idx hold (q1 - q0) lists of k entries.  The k' nearest are the
 * first k' of the k nearest, so each variant's vote equals that of a model
 * with its own n_neighbors.
 */
static void predict_block_multi(const struct knn *m, const double *x, size_t q0, size_t q1,
				const struct variants *vs, double *dist, uint32_t *idx,
				uint32_t n_classes)
{
	const size_t d = m->n_features, nq = q1 - q0, nb = n_blocks(m->n_train), k = vs->k;
	const size_t tile_blocks = KNN_TILE / KNN_RB;
	struct kbest lists[KNN_QB];
	double dd[KNN_QM][KNN_RB];

	for (size_t q = 0; q < nq; q++) {
		lists[q].dist = dist + q * k;
		lists[q].idx = idx + q * k;
		lists[q].count = 0;
		lists[q].k = k;
	}
	for (size_t b0 = 0; b0 < nb; b0 += tile_blocks) {
		size_t b1 = b0 + tile_blocks < nb ? b0 + tile_blocks : nb;
		for (size_t qa = 0; qa < nq; qa += KNN_QM) {
			const double *qp[KNN_QM];
			size_t nm = nq - qa < KNN_QM ? nq - qa : KNN_QM;
			for (size_t t = 0; t < KNN_QM; t++)
				qp[t] = x + (q0 + qa + (t < nm ? t : nm - 1)) * d;
			for (size_t bi = b0; bi < b1; bi++) {
				const double *tb = m->xb + bi * d * KNN_RB;
				size_t row0 = bi * KNN_RB;
				size_t nr = m->n_train - row0 < KNN_RB ? m->n_train - row0 : KNN_RB;
				if (m->p == 2)
					kernel_l2(qp, tb, d, dd);
				else
					kernel_l1(qp, tb, d, dd);
				for (size_t t = 0; t < nm; t++) {
					struct kbest *l = &lists[qa + t];
					for (size_t r = 0; r < nr; r++)
						kbest_push(l, dd[t][r], (uint32_t)(row0 + r));
				}
			}
		}
	}
	for (size_t q = 0; q < nq; q++) {
		kbest_finish(&lists[q]);
		for (size_t v = 0; v < vs->n_var; v++) {
			size_t count = vs->kv[v] < lists[q].count ? vs->kv[v] : lists[q].count;
			vote(m, &lists[q], count, vs->distance[v], n_classes,
			     vs->out[v] + (q0 + q) * n_classes);
		}
	}
}

/* One variant: k neighbours, the model's weights (what the unit test checks
 * against a naive search; inline, so unused here without a warning). */
static inline void predict_block(const struct knn *m, const double *x, size_t q0, size_t q1,
				 size_t k, double *dist, uint32_t *idx, uint32_t n_classes,
				 double *out)
{
	struct variants vs = {1, k, &k, &m->distance, &out};
	predict_block_multi(m, x, q0, q1, &vs, dist, idx, n_classes);
}

/* The neighbours used for a prefix of n_estimators (0: the model's k). */
static size_t prefix_k(const struct knn *m, size_t n_estimators)
{
	size_t k = m->k;
	if (n_estimators > 0 && n_estimators < k)
		k = n_estimators;
	return k > m->n_train ? m->n_train : k;
}

/* Predicts the variants vs; false when memory for the neighbour lists ran out
 * (those rows are then NaN). */
static bool predict_variants(const struct knn *m, const double *x, size_t n, uint32_t n_classes,
			     const struct variants *vs)
{
	size_t k = vs->k, qb;
	long nblk;
	int nt = ns__threads(0);
	double work = (double)n * (double)m->n_train * (double)m->n_features;
	bool failed = false;

	/* Queries per block: 64, fewer for large k so the lists stay near 64K entries. */
	qb = KNN_QB;
	if (k > KNN_LIST_BUDGET / KNN_QB) {
		qb = KNN_LIST_BUDGET / k / KNN_QM * KNN_QM;
		if (qb < KNN_QM)
			qb = KNN_QM;
	}
	nblk = (long)((n + qb - 1) / qb);
	if (nt > nblk)
		nt = (int)nblk;
	if (work < 1e6)
		nt = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
	{
		double sdist[KNN_STACK_ENTRIES];
		uint32_t sidx[KNN_STACK_ENTRIES];
		double *dist = sdist;
		uint32_t *idx = sidx;
		bool heap = qb * k > KNN_STACK_ENTRIES;
		if (heap) {
			dist = ns_malloc(qb * k * sizeof(double));
			idx = ns_malloc(qb * k * sizeof(uint32_t));
		}
#pragma omp for schedule(dynamic, 1)
		for (long bi = 0; bi < nblk; bi++) {
			size_t q0 = (size_t)bi * qb;
			size_t q1 = q0 + qb < n ? q0 + qb : n;
			if (!dist || !idx) {
				for (size_t v = 0; v < vs->n_var; v++)
					for (size_t t = q0 * n_classes; t < q1 * n_classes; t++)
						vs->out[v][t] = NAN;
#pragma omp atomic write
				failed = true;
				continue;
			}
			predict_block_multi(m, x, q0, q1, vs, dist, idx, n_classes);
		}
		if (heap) {
			ns_free(dist);
			ns_free(idx);
		}
	}
	if (failed)
		ns_log(NS_LOG_ERROR,
		       "knn: out of memory for %zu-neighbour lists; probabilities set to NaN", k);
	return !failed;
}

static void knn_predict_proba(const void *impl, const double *x, size_t n, size_t n_features,
			      uint32_t n_classes, size_t n_estimators, double *out)
{
	const struct knn *m = impl;
	size_t k = prefix_k(m, n_estimators);
	struct variants vs = {1, k, &k, &m->distance, &out};
	(void)n_features;
	predict_variants(m, x, n, n_classes, &vs);
}

/* Every variant from one neighbour search (the grid search's n_neighbors x weights). */
static enum ns_status knn_predict_proba_multi(const void *impl, const double *x, size_t n,
					      size_t n_features, uint32_t n_classes, size_t n_var,
					      const size_t *n_est, const double *pv,
					      double *const *out)
{
	const struct knn *m = impl;
	size_t *kv = ns_malloc(n_var * sizeof(*kv));
	bool *dv = ns_malloc(n_var * sizeof(*dv)), ok;
	struct variants vs = {n_var, 0, kv, dv, out};
	(void)n_features;
	if (!kv || !dv) {
		ns_free(kv);
		ns_free(dv);
		return NS_ERR_NOMEM;
	}
	for (size_t v = 0; v < n_var; v++) {
		kv[v] = prefix_k(m, n_est[v]);
		dv[v] = pv[v] == W_DISTANCE;
		if (kv[v] > vs.k)
			vs.k = kv[v];
	}
	ok = predict_variants(m, x, n, n_classes, &vs);
	ns_free(kv);
	ns_free(dv);
	return ok ? NS_OK : NS_ERR_NOMEM;
}

static size_t knn_n_estimators(const void *impl)
{
	const struct knn *m = impl;
	return m->k;
}

/* k-nearest neighbours has no feature importance: all zeros. */
static void knn_feature_importance(const void *impl, size_t n_features, double *out)
{
	(void)impl;
	memset(out, 0, n_features * sizeof(double));
}

/* ---- save / load / describe ----------------------------------------------------------------- */

/* Payload v1: u64 n_train, f64 rows[n_train * n_features] (row-major), u32 y[n_train]. */
static enum ns_status knn_save(const void *impl, struct ns__wbuf *w)
{
	const struct knn *m = impl;
	ns__w_u64(w, m->n_train);
	for (size_t i = 0; i < m->n_train && !w->failed; i++)
		for (size_t j = 0; j < m->n_features; j++)
			ns__w_f64(w, *xb_at(m, i, j));
	ns__w_u32s(w, m->y, m->n_train);
	return w->failed ? NS_ERR_NOMEM : NS_OK;
}

static enum ns_status knn_load(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
			       uint32_t n_classes, void **impl, struct ns_diag *diag)
{
	uint64_t n = ns__r_u64(r);
	size_t room;
	struct knn *m;
	double k, pp, wt;

	if (r->bad)
		return ns_diag_set(diag, NS_ERR_CORRUPT, "knn model: truncated header");
	if (!p || n_features == 0 || n_classes < 1)
		return ns_diag_set(diag, NS_ERR_CORRUPT, "knn model: no parameters or features");
	k = p->v[P_N_NEIGHBORS];
	pp = p->v[P_P];
	wt = p->v[P_WEIGHTS];
	if (!(k >= 1) || k != floor(k) || (pp != 1 && pp != 2) ||
	    (wt != W_UNIFORM && wt != W_DISTANCE))
		return ns_diag_set(diag, NS_ERR_CORRUPT, "knn model: bad parameters");
	room = r->len - r->off;
	if (n == 0 || n > UINT32_MAX || k > (double)n)
		return ns_diag_set(diag, NS_ERR_CORRUPT,
				   "knn model: %llu training rows for n_neighbors = %.0f",
				   (unsigned long long)n, k);
	/* Each row takes 8 * n_features + 4 bytes. */
	if (n_features > (SIZE_MAX - 4) / 8 || n > room / (8 * n_features + 4) ||
	    n * (8 * n_features + 4) != room)
		return ns_diag_set(diag, NS_ERR_CORRUPT,
				   "knn model: %llu rows of %zu features do not match the %zu "
				   "payload bytes",
				   (unsigned long long)n, n_features, room);
	m = knn_alloc((size_t)n, n_features);
	if (!m)
		return ns_diag_set(diag, NS_ERR_NOMEM, "knn model: out of memory");
	m->n_classes = n_classes;
	m->k = (uint32_t)k;
	m->p = (int)pp;
	m->distance = wt == W_DISTANCE;
	for (size_t i = 0; i < m->n_train; i++)
		for (size_t j = 0; j < n_features; j++) {
			double v = ns__r_f64(r);
			if (isnan(v)) {
				knn_free(m);
				return ns_diag_set(diag, NS_ERR_CORRUPT,
						   "knn model: row %zu feature %zu is NaN", i, j);
			}
			*xb_at(m, i, j) = v;
		}
	for (size_t i = 0; i < m->n_train; i++) {
		uint32_t c = ns__r_u32(r);
		if (c >= n_classes) {
			knn_free(m);
			return ns_diag_set(diag, NS_ERR_CORRUPT,
					   "knn model: class %u of row %zu is out of range", c, i);
		}
		m->y[i] = c;
	}
	if (r->bad) {
		knn_free(m);
		return ns_diag_set(diag, NS_ERR_CORRUPT, "knn model: truncated");
	}
	*impl = m;
	return NS_OK;
}

static enum ns_status knn_describe(const void *impl, struct ns__buf *b)
{
	const struct knn *m = impl;
	return ns__buf_printf(b,
			      "{\"algorithm\":\"brute\",\"n_neighbors\":%u,\"weights\":\"%s\","
			      "\"p\":%d,\"metric\":\"%s\",\"n_train\":%zu}",
			      m->k, m->distance ? "distance" : "uniform", m->p,
			      m->p == 2 ? "euclidean" : "manhattan", m->n_train);
}

/* ---- the family ------------------------------------------------------------------------------ */

static const char *const weights_choices[] = {"uniform", "distance", NULL};

static const struct ns_param_def knn_params[] = {
	{"n_neighbors", NS_PARAM_INT, 5, 1, 1e7, NULL, false,
	 "neighbours that vote (<= training rows); smaller values are prefixes of a fit"},
	{"weights", NS_PARAM_CHOICE, W_UNIFORM, 0, 0, weights_choices, false,
	 "uniform: one vote each; distance: votes weighted by 1/distance"},
	{"p", NS_PARAM_INT, 2, 1, 2, NULL, false,
	 "Minkowski power: 1 manhattan, 2 euclidean (algorithm is always brute force)"},
};

static const char *const knn_aliases[] = {"kneighbors", "k_neighbors", "nearest_neighbors", NULL};

static const struct ns__family_ops knn_ops = {
	.fit = knn_fit,
	.predict_proba = knn_predict_proba,
	.predict_proba_multi = knn_predict_proba_multi,
	.n_estimators = knn_n_estimators,
	.feature_importance = knn_feature_importance,
	.save = knn_save,
	.load = knn_load,
	.describe = knn_describe,
	.free = knn_free,
};

const struct ns_family ns__family_knn = {
	.name = "knn",
	.aliases = knn_aliases,
	.doc = "k-nearest neighbours by exact brute force, as scikit-learn's "
	       "KNeighborsClassifier(algorithm=\"brute\")",
	.version = 1,
	.flags = NS__FAMILY_NEEDS_COMPLETE,
	.params = knn_params,
	.n_params = sizeof(knn_params) / sizeof(knn_params[0]),
	.prefix_param = "n_neighbors",
	.predict_param = "weights",
	.ops = &knn_ops,
};
