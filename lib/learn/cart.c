/*
 * lib/learn/cart.c - the CART core: data preparation, growing one tree,
 * batch prediction, the tree payload.
 *
 * Growing follows scikit-learn 1.2 closely so that models behave alike:
 *  - features are float32; values closer than 1e-7 count as equal
 *    (FEATURE_THRESHOLD), a node whose values of a feature span <= 1e-7 finds
 *    that feature constant, and constants found in a node are passed to its
 *    children and skipped there without re-examination;
 *  - max_features features are drawn without replacement per node with
 *    scikit-learn's loop (it keeps drawing past constant features until one
 *    non-constant feature has been seen or none is left);
 *  - the best split maximises the proxy improvement (gini: sum L^2/wL +
 *    sum R^2/wR); ties keep the first found (feature draw order, then
 *    increasing threshold); threshold = a/2 + b/2 of the neighbouring values;
 *  - a node is a leaf when depth >= max_depth, rows < min_samples_split,
 *    rows < 2 * min_samples_leaf, impurity <= DBL_EPSILON, no valid split,
 *    or improvement + DBL_EPSILON < min_impurity_decrease.
 * The random number generator differs, so models are alike, not identical.
 *
 * Split search: every feature gets its rows' ranks among its sorted distinct
 * values once per fit.  A feature with at most 256 distinct values is
 * scanned by a class-weight histogram over its ranks (no sorting); other
 * features sort the node's ranks with a byte-wise radix sort.  Thresholds
 * are computed in double, as scikit-learn does, then stored as the largest
 * float32 not above them: for float32 inputs x <= t_double exactly when
 * x <= t_float, so 4 bytes lose nothing.
 *
 * Prediction walks trees in the in-memory node form of cart.h (integer keys,
 * byte offsets, self-looping leaves), tree by tree over blocks of rows; see
 * "prediction" below.
 *
 * Limits: fewer than 2^31 training rows, at most NS__CART_MAX_NODES nodes
 * per tree.  Threading: growing is single-threaded per tree (the forest runs
 * trees in parallel); prediction may split a big batch over threads by rows.
 * Numerics: weights and class sums are doubles; the order of every sum is
 * fixed by the data and the seed, never by threads.
 */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "learn/cart.h"

#define FEATURE_THRESHOLD 1e-7
#define NO_PARENT UINT32_MAX
#define HIST_BINS 256
/*
 * Big nodes fill HIST_COPIES histograms in turn: consecutive rows often hit
 * the same few cells, and each += would wait for the previous one.
 */
#define HIST_COPIES 4
#define HIST_COPIES_MIN_ROWS 64
/*
 * A histogram costs about rows + bins * classes (fill, then scan and clear);
 * sorting the node's ranks about 3 * rows.  Histograms are used while
 * bins * classes <= HIST_ROWS_PER_CELL * rows, interleaved copies while
 * their folding (bins * classes each) stays small next to the rows.
 */
#define HIST_ROWS_PER_CELL 4
#define HIST_COPIES_CELLS_PER_ROW 4

/* A node in the plain (file) form: see ns__cart_tree_save. */
struct cnode {
	uint32_t feature; /* NS__CART_LEAF for a leaf */
	float threshold;
	uint32_t next; /* right child index, or leaf index */
};

struct rec {
	uint32_t start, end, depth;
	uint32_t parent; /* node index or NO_PARENT */
	uint32_t parent_feature; /* split feature of the parent */
	uint32_t n_constant; /* known constant features */
	bool is_left;
};

struct ns__cart_work {
	size_t n_rows, n_features;
	uint32_t n_classes;
	uint32_t *samples; /* n_rows */
	struct rec *stack; /* n_rows + 2 */
	uint32_t *features; /* n_features, permuted as in scikit-learn */
	uint32_t *constant_features; /* n_features */
	/* HIST_COPIES * HIST_BINS * n_classes cells of (weight, row count),
	 * zero between uses. */
	double *hist;
	double *total, *left, *best_left; /* n_classes each */
	double *tsum; /* HIST_COPIES * n_classes */
	uint32_t *ny; /* per node row (by position): class */
	double *nw; /* per node row (by position): weight */
	uint32_t *key, *idx, *tmp_key, *tmp_idx; /* n_rows each, for sorting */
	double *imp; /* n_features */
	struct cnode *nodes;
	size_t node_cap;
	double *leaf;
	size_t leaf_cap; /* in leaves */
};

struct split {
	bool found;
	uint32_t feature;
	uint32_t n_left;
	double threshold;
	double proxy;
	double w_left;
	uint32_t rank; /* best: rank of the last value going left; random: unused */
};

/* ---- small helpers ----------------------------------------------------------- */

float ns__cart_f32(double v)
{
	/* Beyond FLT_MAX plus half an ulp the cast would be undefined in C;
	 * IEEE rounding (what numpy does) gives infinity there. */
	if (v >= 0x1.ffffffp127)
		return INFINITY;
	if (v <= -0x1.ffffffp127)
		return -INFINITY;
	return (float)v;
}

/* The largest float not above t; zero is always +0 (the file form has no -0). */
static float f32_down(double t)
{
	float f = ns__cart_f32(t);
	if ((double)f > t)
		f = nextafterf(f, -INFINITY);
	return f == 0 ? 0.0f : f;
}

/* Order-preserving map of a float's bits to an unsigned key. */
static inline uint32_t float_key(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/*
 * Sorts (key, idx) pairs by key: insertion sort for short runs, else an LSD
 * radix sort on bytes that skips bytes all keys share.  The result is in
 * key/idx; tk/ti are scratch of the same size.
 */
static void sort_pairs(uint32_t *key, uint32_t *idx, uint32_t *tk, uint32_t *ti, size_t m)
{
	if (m <= 32) {
		for (size_t i = 1; i < m; i++) {
			uint32_t k = key[i], v = idx[i];
			size_t j = i;
			while (j > 0 && key[j - 1] > k) {
				key[j] = key[j - 1];
				idx[j] = idx[j - 1];
				j--;
			}
			key[j] = k;
			idx[j] = v;
		}
		return;
	}
	uint32_t count[4][256];
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < m; i++) {
		uint32_t k = key[i];
		count[0][k & 0xff]++;
		count[1][(k >> 8) & 0xff]++;
		count[2][(k >> 16) & 0xff]++;
		count[3][k >> 24]++;
	}
	uint32_t *sk = key, *si = idx, *dk = tk, *di = ti;
	for (int pass = 0; pass < 4; pass++) {
		int shift = pass * 8;
		uint32_t *c = count[pass], sum = 0;
		if (c[(sk[0] >> shift) & 0xff] == m)
			continue; /* every key has this byte */
		for (int b = 0; b < 256; b++) {
			uint32_t t = c[b];
			c[b] = sum;
			sum += t;
		}
		for (size_t i = 0; i < m; i++) {
			uint32_t k = sk[i];
			uint32_t pos = c[(k >> shift) & 0xff]++;
			dk[pos] = k;
			di[pos] = si[i];
		}
		uint32_t *t1 = sk, *t2 = si;
		sk = dk;
		si = di;
		dk = t1;
		di = t2;
	}
	if (sk != key) {
		memcpy(key, sk, m * sizeof(uint32_t));
		memcpy(idx, si, m * sizeof(uint32_t));
	}
}

/* ---- data preparation -------------------------------------------------------- */

void ns__cart_data_fini(struct ns__cart_data *cd)
{
	if (!cd)
		return;
	if (cd->code32)
		for (size_t j = 0; j < cd->n_features; j++)
			ns_free(cd->code32[j]);
	ns_free(cd->code32);
	ns_free(cd->code8);
	ns_free(cd->code_mem);
	ns_free(cd->xcol);
	ns_free(cd->value_off);
	ns_free(cd->values);
	memset(cd, 0, sizeof(*cd));
}

enum ns_status ns__cart_data_init(struct ns__cart_data *cd, const struct ns_dataset *d,
				  struct ns_diag *diag)
{
	size_t n = d->n_rows, nf = d->n_features, cells;
	uint32_t *key = NULL, *idx = NULL, *tk = NULL, *ti = NULL;
	enum ns_status st = NS_ERR_NOMEM;

	memset(cd, 0, sizeof(*cd));
	if (n >= (size_t)INT32_MAX)
		return ns_diag_set(diag, NS_ERR_LIMIT, "a tree takes at most %d rows",
				   INT32_MAX - 1);
	if (nf && n > SIZE_MAX / sizeof(float) / nf)
		return ns_diag_set(diag, NS_ERR_LIMIT, "the training matrix is too large");
	cells = n * nf;
	cd->n_rows = n;
	cd->n_features = nf;
	cd->n_classes = d->n_classes;
	cd->y = d->y;
	for (size_t i = 0; i < n; i++)
		if (d->y[i] >= d->n_classes)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "row %zu has class index %u, expected < %u", i, d->y[i],
					   d->n_classes);

	cd->xcol = ns_malloc(cells ? cells * sizeof(float) : 1);
	cd->values = ns_malloc(cells ? cells * sizeof(float) : 1);
	cd->value_off = ns_calloc(nf + 1, sizeof(size_t));
	cd->code8 = ns_calloc(nf ? nf : 1, sizeof(uint8_t *));
	cd->code32 = ns_calloc(nf ? nf : 1, sizeof(uint32_t *));
	cd->code_mem = ns_malloc(cells ? cells : 1);
	key = ns_malloc((n ? n : 1) * sizeof(uint32_t));
	idx = ns_malloc((n ? n : 1) * sizeof(uint32_t));
	tk = ns_malloc((n ? n : 1) * sizeof(uint32_t));
	ti = ns_malloc((n ? n : 1) * sizeof(uint32_t));
	if (!cd->xcol || !cd->values || !cd->value_off || !cd->code8 || !cd->code32 ||
	    !cd->code_mem || !key || !idx || !tk || !ti)
		goto out;

	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < nf; j++) {
			double v = d->x[i * nf + j];
			float f;
			if (isnan(v)) {
				st = ns_diag_set(diag, NS_ERR_INVALID,
						 "row %zu feature %zu is missing (NaN); trees need "
						 "complete data: impute first",
						 i, j);
				goto out;
			}
			f = ns__cart_f32(v);
			cd->xcol[j * n + i] = f == 0 ? 0.0f : f; /* one zero, not two */
		}

	for (size_t j = 0; j < nf; j++) {
		const float *col = cd->xcol + j * n;
		float *vals = cd->values + cd->value_off[j];
		uint32_t n_vals = 0;
		for (size_t i = 0; i < n; i++) {
			key[i] = float_key(col[i]);
			idx[i] = (uint32_t)i;
		}
		sort_pairs(key, idx, tk, ti, n);
		for (size_t i = 0; i < n; i++) {
			if (i == 0 || key[i] != key[i - 1])
				vals[n_vals++] = col[idx[i]];
			tk[idx[i]] = n_vals - 1; /* rank of row idx[i] */
		}
		cd->value_off[j + 1] = cd->value_off[j] + n_vals;
		if (n_vals <= HIST_BINS) {
			cd->code8[j] = cd->code_mem + j * n;
			for (size_t i = 0; i < n; i++)
				cd->code8[j][i] = (uint8_t)tk[i];
		} else {
			/* The rank array becomes this feature's codes. */
			cd->code32[j] = tk;
			tk = ns_malloc((n ? n : 1) * sizeof(uint32_t));
			if (!tk)
				goto out;
		}
	}
	{
		/* Give back the room of repeated values. */
		size_t used = cd->value_off[nf] ? cd->value_off[nf] : 1;
		float *v = ns_realloc(cd->values, used * sizeof(float));
		if (v)
			cd->values = v;
	}
	st = NS_OK;
out:
	ns_free(key);
	ns_free(idx);
	ns_free(tk);
	ns_free(ti);
	if (st != NS_OK)
		ns__cart_data_fini(cd);
	return st;
}

/* ---- workspace ------------------------------------------------------------------ */

void ns__cart_work_free(struct ns__cart_work *wk)
{
	if (!wk)
		return;
	ns_free(wk->samples);
	ns_free(wk->stack);
	ns_free(wk->features);
	ns_free(wk->constant_features);
	ns_free(wk->hist);
	ns_free(wk->total);
	ns_free(wk->left);
	ns_free(wk->best_left);
	ns_free(wk->tsum);
	ns_free(wk->ny);
	ns_free(wk->nw);
	ns_free(wk->key);
	ns_free(wk->idx);
	ns_free(wk->tmp_key);
	ns_free(wk->tmp_idx);
	ns_free(wk->imp);
	ns_free(wk->nodes);
	ns_free(wk->leaf);
	ns_free(wk);
}

enum ns_status ns__cart_work_create(const struct ns__cart_data *cd, struct ns__cart_work **out)
{
	struct ns__cart_work *wk = ns_calloc(1, sizeof(*wk));
	size_t n = cd->n_rows ? cd->n_rows : 1, nf = cd->n_features ? cd->n_features : 1;
	uint32_t k = cd->n_classes ? cd->n_classes : 1;
	if (!wk)
		return NS_ERR_NOMEM;
	wk->n_rows = cd->n_rows;
	wk->n_features = cd->n_features;
	wk->n_classes = cd->n_classes;
	wk->samples = ns_malloc(n * sizeof(uint32_t));
	wk->stack = ns_malloc((n + 2) * sizeof(struct rec));
	wk->features = ns_malloc(nf * sizeof(uint32_t));
	wk->constant_features = ns_malloc(nf * sizeof(uint32_t));
	wk->hist = ns_calloc((size_t)HIST_COPIES * HIST_BINS * k * 2, sizeof(double));
	wk->total = ns_malloc(k * sizeof(double));
	wk->left = ns_malloc(k * sizeof(double));
	wk->best_left = ns_malloc(k * sizeof(double));
	wk->tsum = ns_malloc(HIST_COPIES * k * sizeof(double));
	wk->ny = ns_malloc(n * sizeof(uint32_t));
	wk->nw = ns_malloc(n * sizeof(double));
	wk->key = ns_malloc(n * sizeof(uint32_t));
	wk->idx = ns_malloc(n * sizeof(uint32_t));
	wk->tmp_key = ns_malloc(n * sizeof(uint32_t));
	wk->tmp_idx = ns_malloc(n * sizeof(uint32_t));
	wk->imp = ns_malloc(nf * sizeof(double));
	if (!wk->samples || !wk->stack || !wk->features || !wk->constant_features || !wk->hist ||
	    !wk->total || !wk->left || !wk->best_left || !wk->tsum || !wk->ny || !wk->nw ||
	    !wk->key || !wk->idx || !wk->tmp_key || !wk->tmp_idx || !wk->imp) {
		ns__cart_work_free(wk);
		return NS_ERR_NOMEM;
	}
	*out = wk;
	return NS_OK;
}

static bool grow_nodes(struct ns__cart_work *wk, size_t need)
{
	size_t cap;
	struct cnode *p;
	if (need <= wk->node_cap)
		return true;
	cap = wk->node_cap ? wk->node_cap * 2 : 256;
	while (cap < need)
		cap *= 2;
	p = ns_reallocarray(wk->nodes, cap, sizeof(*p));
	if (!p)
		return false;
	wk->nodes = p;
	wk->node_cap = cap;
	return true;
}

static bool grow_leaves(struct ns__cart_work *wk, size_t need)
{
	size_t cap;
	double *p;
	if (need <= wk->leaf_cap)
		return true;
	cap = wk->leaf_cap ? wk->leaf_cap * 2 : 128;
	while (cap < need)
		cap *= 2;
	if (cap > SIZE_MAX / sizeof(double) / wk->n_classes)
		return false;
	p = ns_reallocarray(wk->leaf, cap * wk->n_classes, sizeof(double));
	if (!p)
		return false;
	wk->leaf = p;
	wk->leaf_cap = cap;
	return true;
}

/* ---- impurity --------------------------------------------------------------------- */

/* Node impurity of class weights c (total w): gini or entropy (bits). */
static double impurity(enum ns__cart_criterion crit, const double *c, uint32_t k, double w)
{
	double s = 0;
	if (!(w > 0))
		return 0;
	if (crit == NS__CART_GINI) {
		for (uint32_t i = 0; i < k; i++)
			s += c[i] * c[i];
		return 1.0 - s / (w * w);
	}
	for (uint32_t i = 0; i < k; i++)
		if (c[i] > 0) {
			double p = c[i] / w;
			s -= p * log2(p);
		}
	return s;
}

/*
 * scikit-learn's proxy improvement, up to terms equal for every split of a
 * node: bigger is better.
 */
static inline double proxy(enum ns__cart_criterion crit, const double *L, const double *T,
			   uint32_t k, double wl, double wr)
{
	double sl = 0, sr = 0;
	if (crit == NS__CART_GINI) {
		for (uint32_t i = 0; i < k; i++) {
			double r = T[i] - L[i];
			sl += L[i] * L[i];
			sr += r * r;
		}
		return sl / wl + sr / wr;
	}
	for (uint32_t i = 0; i < k; i++) {
		double r = T[i] - L[i];
		if (L[i] > 0)
			sl += L[i] * log(L[i] / wl);
		if (r > 0)
			sr += r * log(r / wr);
	}
	return sl + sr;
}

/* ---- split search ------------------------------------------------------------------ */

struct node_ctx {
	const struct ns__cart_data *cd;
	const struct ns__cart_config *cfg;
	const double *w;
	struct ns__cart_work *wk;
	uint32_t start, end;
	double w_node;
};

/* Keeps the split before the value of rank `rank` + 1 if it beats `best`. */
static inline void consider(const struct node_ctx *c, struct split *best, uint32_t f, uint32_t nl,
			    double wl, const double *L, uint32_t rank, double a, double b)
{
	uint32_t k = c->cd->n_classes;
	double q = proxy(c->cfg->criterion, L, c->wk->total, k, wl, c->w_node - wl);
	if (q > best->proxy) {
		double t = a / 2.0 + b / 2.0;
		if (t == b || isinf(t))
			t = a;
		best->found = true;
		best->feature = f;
		best->n_left = nl;
		best->threshold = t;
		best->proxy = q;
		best->w_left = wl;
		best->rank = rank;
		memcpy(c->wk->best_left, L, k * sizeof(double));
	}
}

/* Adds weight w and one row to a histogram cell (one 128-bit add). */
static inline void cell_add(double *cell, double w)
{
#ifdef __SSE2__
	_mm_storeu_pd(cell, _mm_add_pd(_mm_loadu_pd(cell), _mm_set_pd(1.0, w)));
#else
	cell[0] += w;
	cell[1] += 1.0;
#endif
}

/*
 * Adds the node's rows to the histogram of feature codes `code`: `copies`
 * interleaved histograms (folded into the first afterwards), bins lo..hi
 * tracked when `track`.  Constant arguments (k = 2 in particular) make
 * specialised copies of this function.
 */
static inline void hist_fill(struct ns__cart_work *wk, const uint8_t *code, uint32_t start,
			     uint32_t m, uint32_t k, int copies, bool track, uint32_t *lo_out,
			     uint32_t *hi_out)
{
	const uint32_t *ns = wk->samples + start, *ny = wk->ny;
	const double *nw = wk->nw;
	double *h = wk->hist;
	uint32_t lo = *lo_out, hi = *hi_out, j = 0;
	size_t hs = (size_t)HIST_BINS * k * 2;

	for (; j + (uint32_t)copies <= m; j += (uint32_t)copies) {
#pragma GCC unroll 4
		for (int q = 0; q < copies; q++) {
			uint32_t b = code[ns[j + q]];
			cell_add(h + q * hs + ((size_t)b * k + ny[j + q]) * 2, nw[j + q]);
			if (track) {
				lo = b < lo ? b : lo;
				hi = b > hi ? b : hi;
			}
		}
	}
	for (; j < m; j++) {
		uint32_t b = code[ns[j]];
		cell_add(h + ((size_t)b * k + ny[j]) * 2, nw[j]);
		if (track) {
			lo = b < lo ? b : lo;
			hi = b > hi ? b : hi;
		}
	}
	for (int q = 1; q < copies; q++) {
		double *hq = h + q * hs;
		for (size_t i = (size_t)lo * k * 2; i < (size_t)(hi + 1) * k * 2; i++) {
			h[i] += hq[i];
			hq[i] = 0;
		}
	}
	*lo_out = lo;
	*hi_out = hi;
}

/* Rows in bin b of the (folded) histogram. */
static inline double bin_rows(const double *h, uint32_t b, uint32_t k)
{
	double n = 0;
	for (uint32_t i = 0; i < k; i++)
		n += h[((size_t)b * k + i) * 2 + 1];
	return n;
}

#define HIST_FILL(K, TRACK) \
	do { \
		if (big) \
			hist_fill(wk, code, c->start, m, K, HIST_COPIES, TRACK, &lo, &hi); \
		else \
			hist_fill(wk, code, c->start, m, K, 1, TRACK, &lo, &hi); \
	} while (0)

/* Best split on a feature with <= 256 values; returns true if it is constant here. */
static bool eval_hist(const struct node_ctx *c, uint32_t f, struct split *best)
{
	const struct ns__cart_data *cd = c->cd;
	struct ns__cart_work *wk = c->wk;
	const uint8_t *code = cd->code8[f];
	const float *val = cd->values + cd->value_off[f];
	uint32_t n_vals = (uint32_t)(cd->value_off[f + 1] - cd->value_off[f]);
	uint32_t k = cd->n_classes, lo, hi, prev;
	uint32_t m = c->end - c->start, msl = c->cfg->min_samples_leaf, nl = 0;
	double *h = wk->hist, *L = wk->left, wl = 0;
	bool constant, big = m >= HIST_COPIES_MIN_ROWS &&
			     m >= HIST_COPIES_CELLS_PER_ROW * (size_t)n_vals * k;

	if (n_vals <= 16) {
		/* Few bins: scan them all rather than track the range per row. */
		lo = 0;
		hi = n_vals - 1;
		if (k == 2)
			HIST_FILL(2, false);
		else
			HIST_FILL(k, false);
		while (bin_rows(h, lo, k) == 0)
			lo++;
		while (bin_rows(h, hi, k) == 0)
			hi--;
		/* Bins outside lo..hi are empty, hence still zero. */
	} else {
		lo = HIST_BINS - 1;
		hi = 0;
		if (k == 2)
			HIST_FILL(2, true);
		else
			HIST_FILL(k, true);
	}
	constant = (double)val[hi] <= (double)val[lo] + FEATURE_THRESHOLD;
	if (!constant) {
		memset(L, 0, k * sizeof(double));
		prev = lo;
		for (uint32_t b = lo;; b++) {
			double rows_b = bin_rows(h, b, k);
			if (b > lo) {
				if (rows_b == 0)
					continue;
				if ((double)val[b] > (double)val[prev] + FEATURE_THRESHOLD) {
					if (m - nl < msl)
						break;
					if (nl >= msl)
						consider(c, best, f, nl, wl, L, prev, val[prev],
							 val[b]);
				}
			}
			for (uint32_t i = 0; i < k; i++) {
				L[i] += h[((size_t)b * k + i) * 2];
				wl += h[((size_t)b * k + i) * 2];
			}
			nl += (uint32_t)rows_b;
			prev = b;
			if (b == hi)
				break;
		}
	}
	memset(h + (size_t)lo * k * 2, 0, (size_t)(hi - lo + 1) * k * 2 * sizeof(double));
	return constant;
}

/* Best split by sorting the node's ranks (features with many values, small nodes). */
static bool eval_sort(const struct node_ctx *c, uint32_t f, struct split *best)
{
	const struct ns__cart_data *cd = c->cd;
	struct ns__cart_work *wk = c->wk;
	const uint8_t *code8 = cd->code8[f];
	const uint32_t *code32 = cd->code32[f], *ns = wk->samples + c->start, *ny = wk->ny;
	const float *val = cd->values + cd->value_off[f];
	const double *nw = wk->nw;
	uint32_t k = cd->n_classes, m = c->end - c->start, msl = c->cfg->min_samples_leaf;
	uint32_t *key = wk->key, *idx = wk->idx;
	double *L = wk->left, wl = 0;

	for (uint32_t i = 0; i < m; i++) {
		key[i] = code8 ? code8[ns[i]] : code32[ns[i]];
		idx[i] = i; /* position in the node */
	}
	sort_pairs(key, idx, wk->tmp_key, wk->tmp_idx, m);
	if ((double)val[key[m - 1]] <= (double)val[key[0]] + FEATURE_THRESHOLD)
		return true;
	memset(L, 0, k * sizeof(double));
	for (uint32_t i = 0; i < m; i++) {
		if (i > 0 && key[i] != key[i - 1] &&
		    (double)val[key[i]] > (double)val[key[i - 1]] + FEATURE_THRESHOLD) {
			if (m - i < msl)
				break;
			if (i >= msl)
				consider(c, best, f, i, wl, L, key[i - 1], val[key[i - 1]],
					 val[key[i]]);
		}
		L[ny[idx[i]]] += nw[idx[i]];
		wl += nw[idx[i]];
	}
	return false;
}

/* scikit-learn's RandomSplitter for one feature. */
static bool eval_random(const struct node_ctx *c, uint32_t f, struct ns__rng *rng,
			struct split *best)
{
	const struct ns__cart_data *cd = c->cd;
	struct ns__cart_work *wk = c->wk;
	const float *col = cd->xcol + (size_t)f * cd->n_rows;
	const uint32_t *samples = wk->samples, *ny = wk->ny;
	const double *nw = wk->nw;
	uint32_t k = cd->n_classes, m = c->end - c->start, msl = c->cfg->min_samples_leaf, nl = 0;
	double *L = wk->left, wl = 0, t, q;
	float lo = col[samples[c->start]], hi = lo;

	for (uint32_t p = c->start + 1; p < c->end; p++) {
		float v = col[samples[p]];
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	if ((double)hi <= (double)lo + FEATURE_THRESHOLD)
		return true;
	t = ((double)hi - (double)lo) * ns__rng_uniform(rng) + (double)lo;
	if (t == (double)hi)
		t = lo;
	memset(L, 0, k * sizeof(double));
	for (uint32_t j = 0; j < m; j++) {
		if ((double)col[samples[c->start + j]] <= t) {
			L[ny[j]] += nw[j];
			wl += nw[j];
			nl++;
		}
	}
	if (nl < msl || m - nl < msl)
		return false;
	q = proxy(c->cfg->criterion, L, wk->total, k, wl, c->w_node - wl);
	if (q > best->proxy) {
		best->found = true;
		best->feature = f;
		best->n_left = nl;
		best->threshold = t;
		best->proxy = q;
		best->w_left = wl;
		memcpy(wk->best_left, L, k * sizeof(double));
	}
	return false;
}

/*
 * scikit-learn's feature loop (BestSplitter.node_split): draws features
 * without replacement, skipping known constants (which still count as
 * visited), until max_features were visited and at least one was not
 * constant.  Returns the number of constant features known to the children.
 */
static uint32_t find_split(const struct node_ctx *c, struct ns__rng *rng, uint32_t n_known,
			   struct split *best)
{
	struct ns__cart_work *wk = c->wk;
	uint32_t *features = wk->features, *constant_features = wk->constant_features;
	uint32_t f_i = (uint32_t)c->cd->n_features, n_found = 0, n_drawn = 0;
	uint32_t n_total = n_known, n_visited = 0, max_features = c->cfg->max_features;

	best->found = false;
	best->proxy = -INFINITY;
	while (f_i > n_total && (n_visited < max_features || n_visited <= n_found + n_drawn)) {
		uint32_t f_j, f, t;
		bool constant;
		n_visited++;
		f_j = n_drawn + ns__cart_rng_below(rng, f_i - n_found - n_drawn);
		if (f_j < n_known) {
			t = features[n_drawn];
			features[n_drawn] = features[f_j];
			features[f_j] = t;
			n_drawn++;
			continue;
		}
		f_j += n_found;
		f = features[f_j];
		if (c->cfg->splitter == NS__CART_RANDOM)
			constant = eval_random(c, f, rng, best);
		else if (c->cd->code8[f] &&
			 (size_t)(c->cd->value_off[f + 1] - c->cd->value_off[f]) *
					 c->cd->n_classes <=
				 HIST_ROWS_PER_CELL * (size_t)(c->end - c->start))
			constant = eval_hist(c, f, best);
		else
			constant = eval_sort(c, f, best);
		if (constant) {
			features[f_j] = features[n_total];
			features[n_total] = f;
			n_found++;
			n_total++;
			continue;
		}
		f_i--;
		features[f_j] = features[f_i];
		features[f_i] = f;
	}
	memcpy(features, constant_features, n_known * sizeof(uint32_t));
	memcpy(constant_features + n_known, features + n_known, n_found * sizeof(uint32_t));
	return n_total;
}

/* ---- the in-memory form --------------------------------------------------------------- */

/* Builds t->nodes and t->leaf_of from t->n_nodes plain nodes (already valid). */
static bool tree_from_plain(struct ns__cart_tree *t, const struct cnode *cn)
{
	t->nodes = ns_malloc((size_t)t->n_nodes * sizeof(struct ns__cart_node));
	t->leaf_of = ns_malloc((size_t)t->n_nodes * sizeof(uint32_t));
	if (!t->nodes || !t->leaf_of)
		return false;
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		if (cn[i].feature == NS__CART_LEAF) {
			t->nodes[i] = (struct ns__cart_node){0, INT32_MIN, i * 12u};
			t->leaf_of[i] = cn[i].next;
		} else {
			t->nodes[i] = (struct ns__cart_node){
				cn[i].feature, ns__cart_key(cn[i].threshold), cn[i].next * 12u};
			t->leaf_of[i] = UINT32_MAX;
		}
	}
	return true;
}

/* The float32 whose key is k (inverse of ns__cart_key). */
static float key_float(int32_t k)
{
	uint32_t u;
	float f;
	memcpy(&u, &k, 4);
	u ^= (u >> 31) * 0x7fffffffu;
	memcpy(&f, &u, 4);
	return f;
}

/* ---- growing ------------------------------------------------------------------------- */

void ns__cart_tree_fini(struct ns__cart_tree *t)
{
	if (!t)
		return;
	ns_free(t->nodes);
	ns_free(t->leaf_of);
	ns_free(t->leaf);
	memset(t, 0, sizeof(*t));
}

enum ns_status ns__cart_grow(struct ns__cart_work *wk, const struct ns__cart_data *cd,
			     const struct ns__cart_config *cfg, const double *w,
			     struct ns__rng *rng, struct ns__cart_tree *out, double *importance)
{
	const uint32_t *y = cd->y;
	const uint32_t k = cd->n_classes, nf = (uint32_t)cd->n_features;
	uint32_t *samples = wk->samples, m = 0, n_nodes = 0, n_leaves = 0, depth = 0, sp = 0;
	double w_root = 0, *T = wk->total, *imp = wk->imp;
	struct ns__cart_tree t = {0};

	for (size_t r = 0; r < cd->n_rows; r++)
		if (w[r] > 0) {
			samples[m++] = (uint32_t)r;
			w_root += w[r];
		}
	if (m == 0 || !isfinite(w_root))
		return NS_ERR_INVALID;
	for (uint32_t f = 0; f < nf; f++)
		wk->features[f] = f;
	memset(imp, 0, (nf ? nf : 1) * sizeof(double));

	wk->stack[sp++] = (struct rec){0, m, 0, NO_PARENT, 0, 0, false};
	while (sp > 0) {
		struct rec r = wk->stack[--sp];
		struct node_ctx c = {cd, cfg, w, wk, r.start, r.end, 0};
		uint32_t id = n_nodes, mn = r.end - r.start, n_const = r.n_constant;
		struct split best = {0};
		double node_imp;
		bool leaf;

		if (n_nodes >= NS__CART_MAX_NODES || !grow_nodes(wk, (size_t)n_nodes + 1))
			return NS_ERR_NOMEM;
		n_nodes++;
		if (r.parent != NO_PARENT && !r.is_left)
			wk->nodes[r.parent].next = id;
		/* Gather the node's classes and weights; sum them per class in
		 * interleaved accumulators (see HIST_COPIES). */
		memset(wk->tsum, 0, HIST_COPIES * k * sizeof(double));
		for (uint32_t j = 0; j < mn; j++) {
			uint32_t s = samples[r.start + j], yc = y[s];
			wk->ny[j] = yc;
			wk->nw[j] = w[s];
			wk->tsum[(j % HIST_COPIES) * k + yc] += w[s];
		}
		for (uint32_t i = 0; i < k; i++) {
			T[i] = 0;
			for (uint32_t q = 0; q < HIST_COPIES; q++)
				T[i] += wk->tsum[q * k + i];
			c.w_node += T[i];
		}
		node_imp = impurity(cfg->criterion, T, k, c.w_node);
		if (r.parent != NO_PARENT)
			imp[r.parent_feature] -= c.w_node * node_imp;

		leaf = r.depth >= cfg->max_depth || mn < cfg->min_samples_split ||
		       mn < 2 * (uint64_t)cfg->min_samples_leaf || node_imp <= DBL_EPSILON;
		if (!leaf) {
			n_const = find_split(&c, rng, r.n_constant, &best);
			leaf = !best.found;
		}
		if (!leaf) {
			double wl = best.w_left, wr = c.w_node - wl, il, ir, gain;
			double *R = wk->left;
			for (uint32_t i = 0; i < k; i++)
				R[i] = T[i] - wk->best_left[i];
			il = impurity(cfg->criterion, wk->best_left, k, wl);
			ir = impurity(cfg->criterion, R, k, wr);
			gain = c.w_node / w_root *
			       (node_imp - wr / c.w_node * ir - wl / c.w_node * il);
			leaf = gain + DBL_EPSILON < cfg->min_impurity_decrease;
		}
		if (leaf) {
			if (!grow_leaves(wk, (size_t)n_leaves + 1))
				return NS_ERR_NOMEM;
			wk->nodes[id] = (struct cnode){NS__CART_LEAF, 0.0f, n_leaves};
			for (uint32_t i = 0; i < k; i++)
				wk->leaf[(size_t)n_leaves * k + i] = T[i] / c.w_node;
			n_leaves++;
			depth = r.depth > depth ? r.depth : depth;
			continue;
		}
		/* Partition the node's rows: x <= threshold first. */
		{
			const float *col = cd->xcol + (size_t)best.feature * cd->n_rows;
			const uint8_t *code8 = cd->code8[best.feature];
			uint32_t *right = wk->tmp_idx, nl = 0, nr = 0, i;
			const double thr = best.threshold;
			/* Stable and branch-free: the side is data, not a jump.  The
			 * best splitter compares ranks (rank <= best.rank is exactly
			 * x <= threshold), one byte a row where the feature has them. */
			if (cfg->splitter == NS__CART_BEST && code8) {
				for (uint32_t p = r.start; p < r.end; p++) {
					uint32_t sm = samples[p], go_left = code8[sm] <= best.rank;
					samples[r.start + nl] = sm;
					right[nr] = sm;
					nl += go_left;
					nr += 1 - go_left;
				}
			} else {
				for (uint32_t p = r.start; p < r.end; p++) {
					uint32_t sm = samples[p], go_left = (double)col[sm] <= thr;
					samples[r.start + nl] = sm;
					right[nr] = sm;
					nl += go_left;
					nr += 1 - go_left;
				}
			}
			memcpy(samples + r.start + nl, right, nr * sizeof(uint32_t));
			i = r.start + nl;
			assert(nl == best.n_left);
			wk->nodes[id] = (struct cnode){best.feature, f32_down(best.threshold), 0};
			imp[best.feature] += c.w_node * node_imp;
			wk->stack[sp++] = (struct rec){
				i, r.end, r.depth + 1, id, best.feature, n_const, false};
			wk->stack[sp++] = (struct rec){r.start,      i,       r.depth + 1, id,
						       best.feature, n_const, true};
		}
	}

	t.n_nodes = n_nodes;
	t.n_leaves = n_leaves;
	t.depth = depth;
	if (!tree_from_plain(&t, wk->nodes)) {
		ns__cart_tree_fini(&t);
		return NS_ERR_NOMEM;
	}
	t.leaf = ns_malloc((size_t)n_leaves * k * sizeof(double));
	if (!t.leaf) {
		ns__cart_tree_fini(&t);
		return NS_ERR_NOMEM;
	}
	memcpy(t.leaf, wk->leaf, (size_t)n_leaves * k * sizeof(double));
	if (importance) {
		double sum = 0;
		for (uint32_t f = 0; f < nf; f++) {
			/* A split may gain nothing; rounding can then leave -1e-17. */
			importance[f] = imp[f] > 0 ? imp[f] / w_root : 0;
			sum += importance[f];
		}
		if (sum > 0)
			for (uint32_t f = 0; f < nf; f++)
				importance[f] /= sum;
	}
	*out = t;
	return NS_OK;
}

/* ---- prediction ------------------------------------------------------------------------- */

/*
 * Batch prediction, tree by tree over blocks of rows.  A block's inputs are
 * converted once to int32 keys (about PRED_BLOCK_BYTES, so they stay in L2
 * while every tree walks them).  A tree walks the block with PRED_LANES
 * rows in flight: each lane takes one branch-free step (cmov) per round,
 * and a lane whose row reached a leaf records it and takes the next row.
 * The lanes' loads are independent, so the processor overlaps them; a
 * row-by-row walk waits on every load and mispredicts the comparison at
 * most levels.  Measured on phishing (128 fully grown trees, one thread):
 * plain walk ~140k rows/s, level-synchronous branch-free walk ~500k,
 * these lanes ~570k (AVX2/AVX-512 gathers were not faster).
 */
#define PRED_BLOCK_BYTES (512 * 1024)
#define PRED_BLOCK_MAX 4096
#define PRED_BLOCK_MIN 512
#define PRED_BLOCKS_PER_THREAD 4

struct pred_buf {
	size_t cap, nf;
	int32_t *xk; /* cap * nf keys */
	uint32_t *fin; /* per block row: leaf reached */
};

static void pred_buf_fini(struct pred_buf *pb)
{
	ns_free(pb->xk);
	ns_free(pb->fin);
	memset(pb, 0, sizeof(*pb));
}

static bool pred_buf_init(struct pred_buf *pb, size_t cap, size_t nf)
{
	memset(pb, 0, sizeof(*pb));
	pb->cap = cap;
	pb->nf = nf;
	pb->xk = ns_malloc(cap * (nf ? nf : 1) * sizeof(int32_t));
	pb->fin = ns_malloc(cap * sizeof(uint32_t));
	if (!pb->xk || !pb->fin) {
		pred_buf_fini(pb);
		return false;
	}
	return true;
}

static inline const struct ns__cart_node *node_at(const char *base, uint32_t off)
{
	return (const struct ns__cart_node *)(const void *)(base + off);
}

/* One step from node `nd` at byte offset `off` for a row of keys x. */
static inline uint32_t step(const struct ns__cart_node *nd, uint32_t off, const int32_t *x)
{
	uint32_t res = off + 12u, right = nd->next;
	int32_t xv = x[nd->feature];
#if defined(__GNUC__) && defined(__x86_64__)
	/* Compilers turn the select below into a branch; a wrong guess costs
	 * more than the whole step, so ask for cmov. */
	__asm__("cmpl %2, %1\n\tcmovg %3, %0"
		: "+r"(res)
		: "r"(xv), "m"(nd->key), "r"(right)
		: "cc");
#else
	uint32_t go_left = -(uint32_t)(xv <= nd->key);
	res = right ^ ((right ^ res) & go_left);
#endif
	return res;
}

#define PRED_LANES 8

/*
 * One lane: a step, or at a leaf (a node that loops on itself) record the
 * row's leaf and start the next row at the root.  Rows past the block are
 * dummies (row `rows`, reading row 0's keys) whose results are dropped.
 */
#define LANE(o, r, x) \
	do { \
		const struct ns__cart_node *nd_ = node_at(base, o); \
		if (nd_->next != (o)) { \
			(o) = step(nd_, (o), (x)); \
		} else { \
			if ((r) < rows) { \
				fin[r] = (o); \
				done++; \
			} \
			(o) = 0; \
			(r) = next < rows ? next : rows; \
			(x) = xk + ((r) < rows ? (r) : 0) * nf; \
			next++; \
		} \
	} while (0)

/* Walks tree t for the block's `rows` rows; pb->fin gets each row's leaf index. */
static void walk_block(const struct ns__cart_tree *t, struct pred_buf *pb, size_t rows)
{
	const char *base = (const char *)t->nodes;
	const int32_t *xk = pb->xk;
	const size_t nf = pb->nf;
	uint32_t *fin = pb->fin;
	size_t next = PRED_LANES, done = 0;
	/* Lanes in separate variables so that they live in registers. */
	uint32_t o0 = 0, o1 = 0, o2 = 0, o3 = 0, o4 = 0, o5 = 0, o6 = 0, o7 = 0;
	size_t r0 = 0 < rows ? 0 : rows, r1 = 1 < rows ? 1 : rows, r2 = 2 < rows ? 2 : rows,
	       r3 = 3 < rows ? 3 : rows, r4 = 4 < rows ? 4 : rows, r5 = 5 < rows ? 5 : rows,
	       r6 = 6 < rows ? 6 : rows, r7 = 7 < rows ? 7 : rows;
	const int32_t *x0 = xk + (r0 < rows ? r0 : 0) * nf, *x1 = xk + (r1 < rows ? r1 : 0) * nf,
		      *x2 = xk + (r2 < rows ? r2 : 0) * nf, *x3 = xk + (r3 < rows ? r3 : 0) * nf,
		      *x4 = xk + (r4 < rows ? r4 : 0) * nf, *x5 = xk + (r5 < rows ? r5 : 0) * nf,
		      *x6 = xk + (r6 < rows ? r6 : 0) * nf, *x7 = xk + (r7 < rows ? r7 : 0) * nf;

	if (rows < PRED_LANES) {
		/* Too few rows to fill the lanes: walk them one by one. */
		for (size_t j = 0; j < rows; j++) {
			const int32_t *x = xk + j * nf;
			uint32_t o = 0;
			const struct ns__cart_node *nd;
			while ((nd = node_at(base, o))->next != o)
				o = step(nd, o, x);
			fin[j] = t->leaf_of[o / 12u];
		}
		return;
	}
	while (done < rows) {
		LANE(o0, r0, x0);
		LANE(o1, r1, x1);
		LANE(o2, r2, x2);
		LANE(o3, r3, x3);
		LANE(o4, r4, x4);
		LANE(o5, r5, x5);
		LANE(o6, r6, x6);
		LANE(o7, r7, x7);
	}
	for (size_t j = 0; j < rows; j++)
		fin[j] = t->leaf_of[fin[j] / 12u];
}

/* Leaf index for one row of doubles, without buffers (allocation failed). */
static uint32_t walk_one(const struct ns__cart_tree *t, const double *x)
{
	const char *base = (const char *)t->nodes;
	uint32_t off = 0;
	for (;;) {
		const struct ns__cart_node *nd =
			(const struct ns__cart_node *)(const void *)(base + off);
		if (nd->next == off)
			return t->leaf_of[off / 12u];
		off = ns__cart_key(ns__cart_f32(x[nd->feature])) <= nd->key ? off + 12u : nd->next;
	}
}

/*
 * Adds the probabilities of the trees (all, or for OOB those with
 * skip[t * n + i] == 0) for rows r0 .. r0+rn-1 into out.
 */
static void predict_rows(const struct ns__cart_tree *trees, size_t n_trees, const double *x,
			 size_t n, size_t r0, size_t rn, size_t nf, uint32_t k, const uint8_t *skip,
			 struct pred_buf *pb, double *out)
{
	if (!pb->xk) {
		for (size_t i = r0; i < r0 + rn; i++)
			for (size_t t = 0; t < n_trees; t++) {
				const double *p;
				if (skip && skip[t * n + i])
					continue;
				p = trees[t].leaf + (size_t)walk_one(&trees[t], x + i * nf) * k;
				for (uint32_t c = 0; c < k; c++)
					out[i * k + c] += p[c];
			}
		return;
	}
	for (size_t i = 0; i < rn * nf; i++)
		pb->xk[i] = ns__cart_key(ns__cart_f32(x[r0 * nf + i]));
	for (size_t t = 0; t < n_trees; t++) {
		const double *leaf = trees[t].leaf;
		walk_block(&trees[t], pb, rn);
		if (k == 2 && !skip) {
			for (size_t j = 0; j < rn; j++) {
				const double *p = leaf + (size_t)pb->fin[j] * 2;
				out[(r0 + j) * 2] += p[0];
				out[(r0 + j) * 2 + 1] += p[1];
			}
			continue;
		}
		for (size_t j = 0; j < rn; j++) {
			const double *p = leaf + (size_t)pb->fin[j] * k;
			double *o = out + (r0 + j) * k;
			if (skip && skip[t * n + r0 + j])
				continue;
			for (uint32_t c = 0; c < k; c++)
				o[c] += p[c];
		}
	}
}

static void predict_common(const struct ns__cart_tree *trees, size_t n_trees, const double *x,
			   size_t n, size_t nf, uint32_t k, const uint8_t *skip, int n_threads,
			   bool mean, double *out)
{
	size_t per_row = (nf ? nf : 1) * sizeof(int32_t) + sizeof(uint32_t);
	size_t rows = PRED_BLOCK_BYTES / per_row, n_blocks;
	int nt = n_threads;

	if (rows > PRED_BLOCK_MAX)
		rows = PRED_BLOCK_MAX;
	if (rows < 16)
		rows = 16;
	memset(out, 0, n * k * sizeof(double));
	if (n == 0)
		return;
	n_blocks = (n + rows - 1) / rows;
	if (nt <= 0) {
		/* Threads pay only for big batches; never nest inside a parallel caller. */
		nt = 1;
		if ((double)n * (double)n_trees >= 262144.0 && !omp_in_parallel()) {
			nt = ns__threads(0);
			if (nt > omp_get_max_threads()) /* OMP_NUM_THREADS caps it */
				nt = omp_get_max_threads();
		}
	}
	if ((size_t)nt > n)
		nt = (int)n;
	if (nt > 1) {
		/*
		 * Several blocks per thread, handed out dynamically: on a busy
		 * machine a thread may be descheduled, and the others should not
		 * wait for its half of the batch.
		 */
		size_t want = (size_t)nt * PRED_BLOCKS_PER_THREAD;
		size_t min_rows = rows < PRED_BLOCK_MIN ? rows : PRED_BLOCK_MIN;
		if (n_blocks < want)
			n_blocks = want;
		if (n / n_blocks < min_rows)
			n_blocks = n / min_rows > 1 ? n / min_rows : 1;
	}
	rows = (n + n_blocks - 1) / n_blocks;
	n_blocks = (n + rows - 1) / rows;
	if ((size_t)nt > n_blocks)
		nt = (int)n_blocks;

#pragma omp parallel num_threads(nt) if (nt > 1)
	{
		struct pred_buf pb;
		long nb = (long)n_blocks;
		if (!pred_buf_init(&pb, rows, nf))
			memset(&pb, 0, sizeof(pb)); /* slow path, no buffers */
#pragma omp for schedule(dynamic, 1)
		for (long b = 0; b < nb; b++) {
			size_t r0 = (size_t)b * rows, rn = n - r0 < rows ? n - r0 : rows;
			predict_rows(trees, n_trees, x, n, r0, rn, nf, k, skip, &pb, out);
			if (mean && n_trees > 1)
				for (size_t i = r0 * k; i < (r0 + rn) * k; i++)
					out[i] /= (double)n_trees;
		}
		pred_buf_fini(&pb);
	}
}

void ns__cart_predict(const struct ns__cart_tree *trees, size_t n_trees, const double *x, size_t n,
		      size_t n_features, uint32_t n_classes, double *out)
{
	predict_common(trees, n_trees, x, n, n_features, n_classes, NULL, 0, true, out);
}

void ns__cart_oob_sum(const struct ns__cart_tree *trees, size_t n_trees, const double *x, size_t n,
		      size_t n_features, uint32_t n_classes, const uint8_t *inbag, int n_threads,
		      double *out)
{
	predict_common(trees, n_trees, x, n, n_features, n_classes, inbag,
		       n_threads > 0 ? n_threads : 1, false, out);
}

/* ---- payload ---------------------------------------------------------------------------- */

void ns__cart_tree_save(const struct ns__cart_tree *t, uint32_t n_classes, struct ns__wbuf *w)
{
	ns__w_u32(w, t->n_nodes);
	ns__w_u32(w, t->n_leaves);
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		uint32_t bits;
		float thr;
		if (t->leaf_of[i] != UINT32_MAX) {
			ns__w_u32(w, NS__CART_LEAF);
			ns__w_u32(w, 0);
			ns__w_u32(w, t->leaf_of[i]);
			continue;
		}
		thr = key_float(t->nodes[i].key);
		memcpy(&bits, &thr, 4);
		ns__w_u32(w, t->nodes[i].feature);
		ns__w_u32(w, bits);
		ns__w_u32(w, t->nodes[i].next / 12u);
	}
	ns__w_f64s(w, t->leaf, (size_t)t->n_leaves * n_classes);
}

enum ns_status ns__cart_tree_load(struct ns__rbuf *r, size_t n_features, uint32_t n_classes,
				  const char *what, struct ns__cart_tree *out, struct ns_diag *diag)
{
	struct ns__cart_tree t = {0};
	struct cnode *cn = NULL;
	uint32_t *stack = NULL, sp = 0, pos = 0, n_leaf_seen = 0, depth = 0, max_depth = 0;
	size_t left;
	enum ns_status st = NS_ERR_CORRUPT;

	t.n_nodes = ns__r_u32(r);
	t.n_leaves = ns__r_u32(r);
	left = r->bad ? 0 : r->len - r->off;
	if (r->bad || t.n_nodes == 0 || t.n_nodes > NS__CART_MAX_NODES ||
	    (size_t)t.n_nodes > left / 12) {
		ns_diag_set(diag, NS_ERR_CORRUPT, "%s: node count %u does not fit the payload",
			    what, t.n_nodes);
		goto out;
	}
	if (t.n_leaves != t.n_nodes / 2 + 1 || t.n_nodes % 2 == 0) {
		ns_diag_set(diag, NS_ERR_CORRUPT,
			    "%s: %u leaves for %u nodes (a binary tree of n nodes has (n + 1) / 2)",
			    what, t.n_leaves, t.n_nodes);
		goto out;
	}
	if (n_classes == 0 ||
	    (size_t)t.n_leaves > (left - (size_t)t.n_nodes * 12) / 8 / n_classes) {
		ns_diag_set(diag, NS_ERR_CORRUPT, "%s: %u leaves do not fit the payload", what,
			    t.n_leaves);
		goto out;
	}
	cn = ns_malloc((size_t)t.n_nodes * sizeof(*cn));
	t.leaf = ns_malloc((size_t)t.n_leaves * n_classes * sizeof(double));
	/* Pairs (right child, its depth). */
	stack = ns_malloc(((size_t)t.n_nodes / 2 + 1) * 2 * sizeof(uint32_t));
	if (!cn || !t.leaf || !stack) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < t.n_nodes; i++) {
		uint32_t bits;
		cn[i].feature = ns__r_u32(r);
		bits = ns__r_u32(r);
		memcpy(&cn[i].threshold, &bits, 4);
		cn[i].next = ns__r_u32(r);
	}
	/*
	 * Walk the pre-order layout: an internal node's left child follows it
	 * and its right child must start exactly where the left subtree ends;
	 * leaves are numbered in order.  Indices only grow, so no cycle can
	 * pass, and every node is reached exactly once.
	 */
	for (;;) {
		const struct cnode *nd;
		if (pos >= t.n_nodes) {
			ns_diag_set(diag, NS_ERR_CORRUPT, "%s: the node layout runs past %u nodes",
				    what, t.n_nodes);
			goto out;
		}
		nd = &cn[pos];
		if (nd->feature != NS__CART_LEAF) {
			if (nd->feature >= n_features) {
				ns_diag_set(diag, NS_ERR_CORRUPT,
					    "%s: node %u splits on feature %u of %zu", what, pos,
					    nd->feature, n_features);
				goto out;
			}
			if (isnan(nd->threshold) ||
			    (nd->threshold == 0 && signbit(nd->threshold))) {
				ns_diag_set(
					diag, NS_ERR_CORRUPT,
					"%s: node %u has threshold %g (NaN and -0 are not written)",
					what, pos, (double)nd->threshold);
				goto out;
			}
			if (nd->next <= pos + 1 || nd->next >= t.n_nodes || sp > t.n_nodes / 2) {
				ns_diag_set(diag, NS_ERR_CORRUPT,
					    "%s: node %u has right child %u out of range", what,
					    pos, nd->next);
				goto out;
			}
			depth++;
			stack[2 * sp] = nd->next;
			stack[2 * sp + 1] = depth;
			sp++;
			pos++;
			continue;
		}
		if (nd->next != n_leaf_seen || nd->threshold != 0.0f || signbit(nd->threshold)) {
			ns_diag_set(diag, NS_ERR_CORRUPT, "%s: leaf node %u is malformed", what,
				    pos);
			goto out;
		}
		n_leaf_seen++;
		pos++;
		max_depth = depth > max_depth ? depth : max_depth;
		if (sp == 0)
			break;
		sp--;
		if (stack[2 * sp] != pos) {
			ns_diag_set(
				diag, NS_ERR_CORRUPT,
				"%s: right child %u does not follow its left subtree (ends at %u)",
				what, stack[2 * sp], pos);
			goto out;
		}
		depth = stack[2 * sp + 1];
	}
	if (pos != t.n_nodes || n_leaf_seen != t.n_leaves) {
		ns_diag_set(diag, NS_ERR_CORRUPT, "%s: %u of %u nodes are reachable", what, pos,
			    t.n_nodes);
		goto out;
	}
	t.depth = max_depth;
	for (uint32_t l = 0; l < t.n_leaves; l++) {
		double sum = 0;
		for (uint32_t c = 0; c < n_classes; c++) {
			double v = ns__r_f64(r);
			if (!(v >= 0 && v <= 1)) {
				ns_diag_set(diag, NS_ERR_CORRUPT,
					    "%s: leaf %u has probability %g for class %u", what, l,
					    v, c);
				goto out;
			}
			t.leaf[(size_t)l * n_classes + c] = v;
			sum += v;
		}
		if (fabs(sum - 1.0) > 1e-6) {
			ns_diag_set(diag, NS_ERR_CORRUPT,
				    "%s: leaf %u probabilities sum to %.17g, not 1", what, l, sum);
			goto out;
		}
	}
	if (r->bad) {
		ns_diag_set(diag, NS_ERR_CORRUPT, "%s: the payload is truncated", what);
		goto out;
	}
	if (!tree_from_plain(&t, cn)) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	st = NS_OK;
	*out = t;
out:
	ns_free(cn);
	ns_free(stack);
	if (st != NS_OK)
		ns__cart_tree_fini(&t);
	return st;
}

bool ns__cart_importance_valid(const double *imp, size_t n)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (!(imp[i] >= 0 && imp[i] <= 1))
			return false;
		sum += imp[i];
	}
	return sum == 0 || fabs(sum - 1.0) <= 1e-6;
}

/* ---- parameters ----------------------------------------------------------------------- */

uint32_t ns__cart_max_features(double v, size_t n_features)
{
	double m;
	if (n_features == 0)
		return 0;
	if (isnan(v))
		m = (double)n_features;
	else if (v == -1)
		m = floor(sqrt((double)n_features));
	else if (v == -2)
		m = floor(log2((double)n_features));
	else if (v < 1)
		m = floor(v * (double)n_features);
	else
		m = v;
	if (m < 1)
		m = 1;
	if (m > (double)n_features)
		m = (double)n_features;
	return (uint32_t)m;
}

void ns__cart_balanced_weights(const uint32_t *y, const uint32_t *count, size_t n_rows,
			       uint32_t n_classes, double *cw)
{
	double total = 0;
	uint32_t present = 0;
	for (uint32_t c = 0; c < n_classes; c++)
		cw[c] = 0;
	for (size_t i = 0; i < n_rows; i++) {
		double k = count ? (double)count[i] : 1.0;
		cw[y[i]] += k;
		total += k;
	}
	for (uint32_t c = 0; c < n_classes; c++)
		present += cw[c] > 0;
	for (uint32_t c = 0; c < n_classes; c++)
		cw[c] = cw[c] > 0 ? total / ((double)present * cw[c]) : 0;
}
