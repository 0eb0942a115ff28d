/*
 * lib/learn/gbdt.c - gradient boosting of regression trees on the log-loss,
 * after scikit-learn 1.2's GradientBoostingClassifier, with histogram-based
 * split finding.
 *
 * The model: raw scores start at the class prior (binary: the log-odds of
 * the second class; K > 2 classes: log priors, both clipped at float32's
 * epsilon as sklearn's DummyClassifier-based init); each iteration fits one
 * regression tree to the residuals y - p (binary) or K trees, one per class,
 * to y_k - softmax_k (K > 2), all from the scores at the start of the
 * iteration; a leaf's value is one Newton step, sum(w r) / sum(w p (1 - p)),
 * times (K - 1) / K for K > 2, and 0 when the denominator is below 1e-150;
 * scores grow by learning_rate * leaf value.  Only the classes present in
 * the training data take part (as in sklearn); the others get probability 0.
 *
 * Trees: split gain is sklearn's friedman_mse proxy on the weighted residuals,
 * (W_R S_L - W_L S_R)^2 / (W_L W_R), strict improvement, features in index
 * order (sklearn visits them in a random order, so exact ties may be broken
 * differently); a node is a leaf when it is at max_depth, has fewer than
 * min_samples_split rows or fewer than 2 min_samples_leaf, or its residuals'
 * weighted variance is <= DBL_EPSILON; a split needs min_samples_leaf rows on
 * each side and an improvement (S_L^2/W_L + S_R^2/W_R - S^2/W) of at least
 * min_impurity_decrease - DBL_EPSILON.  Candidate thresholds are the cuts of
 * lib/learn/hist_bin.c: exact CART thresholds for features with <= max_bins
 * distinct values, quantiles otherwise.  Rows of zero weight, and rows left
 * out by subsample (exactly max(1, floor(subsample n)) rows drawn without
 * replacement per iteration), do not shape the tree.
 *
 * Missing values (NaN) have their own bin: each split tries them on both
 * sides and keeps the better; when no training row reaching the node had a
 * NaN in the split feature, NaN goes to the child that had more rows (left on
 * ties).  Feature importance is sklearn's: per tree the decrease of weighted
 * squared error per feature over the root's weight, summed over trees,
 * normalised to sum 1.
 *
 * Growing: level by level (one batch of parallel passes per level, so few
 * synchronisations per tree), falling back to depth-first node by node when a
 * level would hold more than HIST_BUDGET of histograms.  Bin codes are uint8,
 * column-major (and row-major for the packed kernel's few-bin features, see
 * pk_pass()); a node histogram holds (sum w r, count) per bin (and sum w for
 * weighted fits); of two children the smaller is built from its rows and the
 * larger is the parent's minus the smaller's, and children that will be
 * leaves get none.  Rows sit contiguous per node in one index array, their
 * w r carried along through stable partitions.  All buffers are allocated
 * once per fit, sized for the largest tree when max_depth <= 12 (deeper trees
 * grow the pools the first times they need more): iterations allocate nothing.
 *
 * Threading: histograms split by (node, feature), row passes by fixed blocks
 * of rows whose partial sums are reduced in block order, so the model is
 * byte-identical for any thread count.  Small passes run on one thread.
 * Prediction is serial and read-only: callers parallelise across requests.
 * Layout: trees are stored breadth-first with siblings adjacent (16-byte
 * nodes); prediction walks tree-major over blocks of 64 rows.
 */
#include <float.h>
#include <math.h>

#include "learn/family.h"
#include "learn/hist_bin.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define PK_KERNEL 1
#define PK_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))
#endif

#define LEAF 0xFFFFFFFFu
#define MISSING_LEFT 0x80000000u
#define FEATURE_MASK 0x7FFFFFFFu
#define F32_EPS 1.1920928955078125e-07

enum { PRED_BLOCK = 64, SMALL_BINS = 32 };
/* The packed histogram kernel: features of at most PK_SLOTS histogram slots
 * (value bins and the missing bin), PK_LANES at a time; used when at least
 * PK_MIN features qualify. */
enum { PK_LANES = 32, PK_SLOTS = 4, PK_MIN = 8 };

/*
 * Rows per block of a batched pass (it fixes the summation order, so it is a
 * constant of the format's results, not a tuning knob), and the work below
 * which a pass runs on one thread.  Tests that include this file define
 * NS_GBDT_TEST_HOOKS to lower them, and to force the depth-first fallback.
 */
#ifdef NS_GBDT_TEST_HOOKS
static size_t BLK = 8192, PAR_ROWS = 100000, PAR_WORK = 1000000, MAX_OPEN = 0;
#else
#define BLK ((size_t)8192)
#define PAR_ROWS ((size_t)100000)
#define PAR_WORK ((size_t)1000000)
#define MAX_OPEN ((size_t)0)
#endif

enum {
	P_LOSS,
	P_LR,
	P_N_EST,
	P_SUBSAMPLE,
	P_MAX_DEPTH,
	P_MSS,
	P_MSL,
	P_MID,
	P_MAX_FEATURES,
	P_MAX_BINS,
	P_COUNT
};

static const char *const loss_choices[] = {"log_loss", "deviance", NULL};

static const struct ns_param_def gbdt_params[P_COUNT] = {
	{"loss", NS_PARAM_CHOICE, 0, 0, 0, loss_choices, false,
	 "loss to minimise: log_loss (binomial, or multinomial for > 2 classes); deviance is "
	 "its deprecated name"},
	{"learning_rate", NS_PARAM_FLOAT, 0.1, DBL_MIN, 1e6, NULL, false,
	 "shrinks the contribution of each tree (> 0)"},
	{"n_estimators", NS_PARAM_INT, 100, 1, 1000000, NULL, false,
	 "number of boosting iterations (one tree each, or one per class for > 2 classes)"},
	{"subsample", NS_PARAM_FLOAT, 1.0, DBL_MIN, 1.0, NULL, false,
	 "fraction of rows drawn without replacement for each iteration's trees (0, 1]"},
	{"max_depth", NS_PARAM_INT, 3, 1, 1000000, NULL, true,
	 "maximum depth of each tree; none: grow until leaves are pure or too small"},
	{"min_samples_split", NS_PARAM_INT, 2, 2, 4294967295.0, NULL, false,
	 "minimum rows in a node to split it"},
	{"min_samples_leaf", NS_PARAM_INT, 1, 1, 4294967295.0, NULL, false,
	 "minimum rows in each child of a split"},
	{"min_impurity_decrease", NS_PARAM_FLOAT, 0.0, 0.0, DBL_MAX, NULL, false,
	 "a split must decrease the weighted squared error of the residuals by at least this"},
	{"max_features", NS_PARAM_FEATURES, NAN, 0, 0, NULL, false,
	 "features drawn (in random order) for each split: sqrt, log2, all, a count or a "
	 "fraction"},
	{"max_bins", NS_PARAM_INT, 255, 2, 255, NULL, false,
	 "value bins per feature for split finding (one more holds missing values); features "
	 "with at most this many distinct values are split exactly"},
};

/* ---- the model ------------------------------------------------------------ */

/* A node: a split (feature | MISSING_LEFT, threshold, left child; right = left + 1) or a
 * leaf (LEAF, value).  Children come after their parent (breadth-first order). */
struct gnode {
	double v;
	uint32_t feat;
	uint32_t left;
};

struct gbdt {
	uint32_t n_present; /* K: classes seen in training */
	uint32_t *present; /* their class indices, ascending */
	uint32_t tpi; /* trees per iteration: 1 when K == 2, else K */
	uint32_t n_iter;
	double lr;
	double *init; /* tpi raw scores */
	double *importance; /* n_features, unnormalised */
	size_t n_features;
	uint32_t *tree_off; /* n_iter * tpi + 1 offsets into nodes */
	struct gnode *nodes;
	size_t n_nodes, cap_nodes;
};

static void gbdt_free(void *impl)
{
	struct gbdt *m = impl;
	if (!m)
		return;
	ns_free(m->present);
	ns_free(m->init);
	ns_free(m->importance);
	ns_free(m->tree_off);
	ns_free(m->nodes);
	ns_free(m);
}

static inline double tree_value(const struct gnode *t, const double *x)
{
	const struct gnode *nd = t;
	while (nd->feat != LEAF) {
		double v = x[nd->feat & FEATURE_MASK];
		bool left = isnan(v) ? (nd->feat & MISSING_LEFT) != 0 : v <= nd->v;
		nd = t + nd->left + (left ? 0 : 1);
	}
	return nd->v;
}

static inline double expit(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

/*
 * Probabilities in place: o holds the raw scores at the present classes' columns
 * (binary: the one score at the second class's column); sklearn's conversions.
 */
static void raw_to_proba(const struct gbdt *m, double *o, uint32_t n_classes)
{
	const uint32_t K = m->n_present, *pc = m->present;
	if (K == 2) {
		double p1 = expit(o[pc[1]]);
		o[pc[1]] = p1;
		o[pc[0]] = 1.0 - p1;
	} else {
		double mx = o[pc[0]], s = 0;
		for (uint32_t k = 1; k < K; k++)
			if (o[pc[k]] > mx)
				mx = o[pc[k]];
		for (uint32_t k = 0; k < K; k++)
			s += exp(o[pc[k]] - mx);
		double lse = log(s) + mx;
		for (uint32_t k = 0; k < K; k++) {
			double v = exp(o[pc[k]] - lse);
			o[pc[k]] = isnan(v) ? 0.0 : (isinf(v) ? DBL_MAX : v);
		}
	}
	if (K < n_classes) {
		/* Classes absent from the training data: probability 0. */
		uint32_t k = 0;
		for (uint32_t c = 0; c < n_classes; c++) {
			if (k < K && pc[k] == c)
				k++;
			else
				o[c] = 0;
		}
	}
}

/* Tree-major over blocks of rows; each row's scores accumulate in its output row. */
static void gbdt_predict_proba(const void *impl, const double *x, size_t n, size_t n_features,
			       uint32_t n_classes, size_t n_estimators, double *out)
{
	const struct gbdt *m = impl;
	const uint32_t T = m->tpi;
	size_t n_iter = n_estimators == 0 || n_estimators > m->n_iter ? m->n_iter : n_estimators;
	/* Column of tree k's score: the class itself, or the second class when binary. */
	const uint32_t *col = T == 1 ? m->present + 1 : m->present;

	for (size_t i0 = 0; i0 < n; i0 += PRED_BLOCK) {
		size_t nb = n - i0 < PRED_BLOCK ? n - i0 : PRED_BLOCK;
		double *ob = out + i0 * n_classes;
		for (size_t r = 0; r < nb; r++)
			for (uint32_t k = 0; k < T; k++)
				ob[r * n_classes + col[k]] = m->init[k];
		for (size_t it = 0; it < n_iter; it++)
			for (uint32_t k = 0; k < T; k++) {
				const struct gnode *t = m->nodes + m->tree_off[it * T + k];
				for (size_t r = 0; r < nb; r++)
					ob[r * n_classes + col[k]] +=
						m->lr * tree_value(t, x + (i0 + r) * n_features);
			}
		for (size_t r = 0; r < nb; r++)
			raw_to_proba(m, ob + r * n_classes, n_classes);
	}
}

/*
 * Several prefixes at once (the grid search's n_estimators): the trees are
 * walked once, and each variant's scores are taken when its last iteration
 * is added, then turned into probabilities: the same sums, in the same order,
 * as gbdt_predict_proba() with that prefix.
 */
static enum ns_status gbdt_predict_proba_multi(const void *impl, const double *x, size_t n,
					       size_t n_features, uint32_t n_classes, size_t n_var,
					       const size_t *n_est, const double *pv,
					       double *const *out)
{
	const struct gbdt *m = impl;
	const uint32_t T = m->tpi;
	const uint32_t *col = T == 1 ? m->present + 1 : m->present;
	size_t n_iter = 0, *iters = ns_malloc(n_var * sizeof(size_t));
	double *ob = ns_malloc((size_t)PRED_BLOCK * n_classes * sizeof(double));
	(void)pv;
	if (!iters || !ob) {
		ns_free(iters);
		ns_free(ob);
		return NS_ERR_NOMEM;
	}
	for (size_t v = 0; v < n_var; v++) {
		iters[v] = n_est[v] == 0 || n_est[v] > m->n_iter ? m->n_iter : n_est[v];
		if (iters[v] > n_iter)
			n_iter = iters[v];
	}
	for (size_t i0 = 0; i0 < n; i0 += PRED_BLOCK) {
		size_t nb = n - i0 < PRED_BLOCK ? n - i0 : PRED_BLOCK;
		for (size_t r = 0; r < nb; r++)
			for (uint32_t k = 0; k < T; k++)
				ob[r * n_classes + col[k]] = m->init[k];
		for (size_t it = 0; it < n_iter; it++) {
			for (uint32_t k = 0; k < T; k++) {
				const struct gnode *t = m->nodes + m->tree_off[it * T + k];
				for (size_t r = 0; r < nb; r++)
					ob[r * n_classes + col[k]] +=
						m->lr * tree_value(t, x + (i0 + r) * n_features);
			}
			for (size_t v = 0; v < n_var; v++) {
				if (iters[v] != it + 1)
					continue;
				double *o = out[v] + i0 * n_classes;
				memcpy(o, ob, nb * n_classes * sizeof(double));
				for (size_t r = 0; r < nb; r++)
					raw_to_proba(m, o + r * n_classes, n_classes);
			}
		}
	}
	ns_free(iters);
	ns_free(ob);
	return NS_OK;
}

static size_t gbdt_n_estimators(const void *impl)
{
	return ((const struct gbdt *)impl)->n_iter;
}

static void gbdt_feature_importance(const void *impl, size_t n_features, double *out)
{
	const struct gbdt *m = impl;
	double s = 0;
	for (size_t f = 0; f < n_features; f++)
		s += m->importance[f];
	for (size_t f = 0; f < n_features; f++)
		out[f] = s > 0 ? m->importance[f] / s : 0.0;
}

/* ---- fitting: workspace --------------------------------------------------------- */

struct sums {
	double g, w, n, g2; /* sum w r, sum w, rows, sum w r^2 */
};

/* A histogram bin: sum of w r and the row count, 16 bytes so that one update
 * is one load, add and store; bin weights (weighted fits) live apart. */
struct hbin {
	double g, n;
};

/* Sums of a range of bins, in the split search. */
struct acc {
	double g, w, n;
};

struct cand {
	double proxy; /* -inf: no valid split */
	double w_total; /* node weight seen by the histogram */
	uint16_t bin;
	uint8_t missing_left;
	uint8_t nonconst;
};

struct slot {
	struct hbin *h;
	double *hw; /* sum of w per bin; NULL for unweighted fits (= the count) */
	struct cand *c;
};

struct bnode {
	uint32_t begin, end; /* rows idx[begin, end) */
	uint32_t left; /* 0: leaf; right child = left + 1 */
	uint32_t feat;
	uint32_t slot; /* histogram slot, UINT32_MAX: none */
	uint16_t bin;
	uint8_t missing_left;
	uint32_t depth;
	struct sums s;
	double value;
};

/* A block of rows of one node (or leaf) in a batched pass. */
struct task {
	uint32_t item; /* index into the batch's node list */
	uint32_t j0, j1; /* positions in idx */
	uint32_t cnt; /* rows of this block that went left */
	uint32_t off; /* rows of the item's earlier blocks that went left */
	struct sums l, r;
};

/* The children of one split whose histograms are being built. */
struct pair {
	uint32_t sm, lg; /* smaller and larger child */
	uint32_t ss, ps; /* slot of the smaller's histogram, of the parent (larger's) */
	bool need_s, need_g;
};

struct work {
	const struct ns_dataset *d;
	struct ns__hist_bins bins;
	size_t n, nf, hist_len;
	/*
	 * Features of at most PK_SLOTS histogram slots, PK_LANES per chunk, with
	 * their codes also kept row-major (rm: chunk c of row i at i * rm_stride +
	 * c * PK_LANES, 0xFF in unused lanes) for the packed histogram kernel;
	 * the other features (all, without the kernel) go feature by feature.
	 * A histogram pass over a node is n_items work items: chunks, then
	 * unpacked features.
	 */
	uint8_t *rm;
	size_t rm_stride, n_chunks, n_unpacked, n_items;
	uint32_t *pk_feat; /* n_chunks * PK_LANES features, UINT32_MAX: unused lane */
	uint8_t *pk_live; /* per chunk: codes that occur are < pk_live */
	uint32_t *unpacked;
	uint32_t K, T;
	uint32_t *cls; /* per row: position of its class among the present ones */
	const double *wt;
	int nt;
	double lr, subsample, mid;
	size_t max_depth, mss, msl, max_features;
	uint64_t seed;

	double *raw; /* n * T, row-major */
	double *res; /* T * n, column-major: residuals y - p */
	double *gw; /* n: w r of the current class (weighted fits only) */
	uint32_t *all_rows, *bag, *oob; /* oob: the rows not in the bag, ascending */
	size_t n_all, n_bag, n_oob;
	uint8_t *in_bag;
	uint32_t *perm, *fperm;

	uint32_t *idx, *tmp; /* rows, contiguous per node; scratch for partitions */
	double *og, *ow; /* w r and w of the row at each idx position (ow: weighted fits) */
	double *tmpg, *tmpw; /* scratch for partitions */

	struct bnode *bn;
	uint32_t *queue;
	size_t n_bn, cap_bn;
	uint32_t *open_a, *open_b, *stack;
	size_t cap_open, cap_stack, n_stack;
	uint32_t *splits, *leaves;
	struct cand *split_c;
	size_t cap_splits, cap_split_c, cap_leaves;
	struct task *tasks;
	size_t cap_tasks;
	struct pair *pairs;
	size_t cap_pairs;
	struct slot *slots;
	uint32_t *free_slots;
	size_t n_slots, n_free;
	size_t max_open; /* widest level grown breadth-first (histogram memory bound) */

	/* the tree being grown */
	uint32_t k;
	const double *r, *g; /* residual and w r columns */
	double w_root;
	double *imp; /* the model's importance array */
	struct ns__rng rng;
};

/* Histogram memory kept by one tree's open nodes, at most (the level-wise bound). */
#define HIST_BUDGET ((size_t)128 << 20)

static void work_fini(struct work *w)
{
	ns__hist_bins_fini(&w->bins);
	ns_free(w->rm);
	ns_free(w->pk_feat);
	ns_free(w->pk_live);
	ns_free(w->unpacked);
	ns_free(w->cls);
	ns_free(w->raw);
	ns_free(w->res);
	ns_free(w->gw);
	ns_free(w->all_rows);
	ns_free(w->bag);
	ns_free(w->oob);
	ns_free(w->in_bag);
	ns_free(w->perm);
	ns_free(w->fperm);
	ns_free(w->idx);
	ns_free(w->tmp);
	ns_free(w->og);
	ns_free(w->ow);
	ns_free(w->tmpg);
	ns_free(w->tmpw);
	ns_free(w->bn);
	ns_free(w->queue);
	ns_free(w->open_a);
	ns_free(w->open_b);
	ns_free(w->stack);
	ns_free(w->splits);
	ns_free(w->split_c);
	ns_free(w->leaves);
	ns_free(w->tasks);
	ns_free(w->pairs);
	for (size_t i = 0; i < w->n_slots; i++) {
		ns_free(w->slots[i].h);
		ns_free(w->slots[i].hw);
		ns_free(w->slots[i].c);
	}
	ns_free(w->slots);
	ns_free(w->free_slots);
}

/*
 * Makes the array whose pointer is at `pp` (any T **) hold at least `need`
 * elements of `size` bytes, doubling.  The pointer is read and written with
 * memcpy, so no T ** is accessed as a void **.
 */
static enum ns_status reserve(void *pp, size_t *cap, size_t need, size_t size)
{
	void *p, *q;
	if (need <= *cap)
		return NS_OK;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	memcpy(&p, pp, sizeof(p));
	q = ns_reallocarray(p, c, size);
	if (!q)
		return NS_ERR_NOMEM;
	memcpy(pp, &q, sizeof(q));
	*cap = c;
	return NS_OK;
}

/* A histogram slot from the pool (allocating one when none is free). */
static enum ns_status slot_get(struct work *w, uint32_t *out)
{
	if (w->n_free) {
		*out = w->free_slots[--w->n_free];
		return NS_OK;
	}
	struct slot *s = ns_reallocarray(w->slots, w->n_slots + 1, sizeof(*s));
	if (!s)
		return NS_ERR_NOMEM;
	w->slots = s;
	uint32_t *fs = ns_reallocarray(w->free_slots, w->n_slots + 1, sizeof(*fs));
	if (!fs)
		return NS_ERR_NOMEM;
	w->free_slots = fs;
	s[w->n_slots].h = ns_malloc(w->hist_len * sizeof(struct hbin));
	s[w->n_slots].hw = w->wt ? ns_malloc(w->hist_len * sizeof(double)) : NULL;
	s[w->n_slots].c = ns_malloc(w->nf * sizeof(struct cand));
	if (!s[w->n_slots].h || (w->wt && !s[w->n_slots].hw) || !s[w->n_slots].c) {
		ns_free(s[w->n_slots].h);
		ns_free(s[w->n_slots].hw);
		ns_free(s[w->n_slots].c);
		return NS_ERR_NOMEM;
	}
	*out = (uint32_t)w->n_slots++;
	return NS_OK;
}

static void slot_put(struct work *w, uint32_t s)
{
	if (s != UINT32_MAX)
		w->free_slots[w->n_free++] = s;
}

/* Room for `more` build nodes (and the breadth-first queue). */
static enum ns_status bn_reserve(struct work *w, size_t more)
{
	size_t cap = w->cap_bn;
	enum ns_status st = reserve(&w->bn, &cap, w->n_bn + more, sizeof(*w->bn));
	if (st != NS_OK)
		return st;
	cap = w->cap_bn;
	st = reserve(&w->queue, &cap, w->n_bn + more, sizeof(*w->queue));
	if (st == NS_OK)
		w->cap_bn = cap;
	return st;
}

static enum ns_status nodes_reserve(struct gbdt *m, size_t more)
{
	return reserve(&m->nodes, &m->cap_nodes, m->n_nodes + more, sizeof(*m->nodes));
}

/* ---- fitting: batched passes over rows ----------------------------------------------- */

static inline double row_w(const struct work *w, uint32_t i)
{
	return w->wt ? w->wt[i] : 1.0;
}

static void sums_add(struct sums *a, const struct sums *b)
{
	a->g += b->g;
	a->w += b->w;
	a->n += b->n;
	a->g2 += b->g2;
}

/*
 * Cuts the row ranges of nodes ids[0..n) into blocks of BLK rows: w->tasks.
 * Blocks do not depend on the thread count, and per-block results are reduced
 * in block order, so every sum is the same for any number of threads.
 */
static enum ns_status make_tasks(struct work *w, const uint32_t *ids, size_t n, size_t *n_tasks,
				 size_t *rows)
{
	size_t nt = 0, total = 0;
	for (size_t i = 0; i < n; i++) {
		size_t m = w->bn[ids[i]].end - w->bn[ids[i]].begin;
		nt += m ? (m + BLK - 1) / BLK : 0;
		total += m;
	}
	enum ns_status st = reserve(&w->tasks, &w->cap_tasks, nt, sizeof(struct task));
	if (st != NS_OK)
		return st;
	nt = 0;
	for (size_t i = 0; i < n; i++) {
		const struct bnode *b = &w->bn[ids[i]];
		for (uint32_t j0 = b->begin; j0 < b->end; j0 += (uint32_t)BLK) {
			struct task *t = &w->tasks[nt++];
			memset(t, 0, sizeof(*t));
			t->item = (uint32_t)i;
			t->j0 = j0;
			t->j1 = b->end - j0 > BLK ? j0 + (uint32_t)BLK : b->end;
		}
	}
	*n_tasks = nt;
	*rows = total;
	return NS_OK;
}

/* w r^2 from the carried w r and w. */
static inline double wr2(double g, double ww)
{
	return ww == 1.0 ? g * g : g * (g / ww);
}

/* Sums over the rows of one node (the root). */
static enum ns_status node_sums(struct work *w, uint32_t id)
{
	size_t nt, rows;
	enum ns_status st = make_tasks(w, &id, 1, &nt, &rows);
	if (st != NS_OK)
		return st;
	struct task *tasks = w->tasks;
	const double *og = w->og, *ow = w->ow;
#pragma omp parallel for num_threads(w->nt) schedule(static) if (rows >= PAR_ROWS)
	for (size_t q = 0; q < nt; q++) {
		struct sums s = {0, 0, 0, 0};
		for (size_t j = tasks[q].j0; j < tasks[q].j1; j++) {
			double ww = ow ? ow[j] : 1.0;
			s.g += og[j];
			s.w += ww;
			s.n += 1;
			s.g2 += wr2(og[j], ww);
		}
		tasks[q].l = s;
	}
	struct sums *out = &w->bn[id].s;
	memset(out, 0, sizeof(*out));
	for (size_t q = 0; q < nt; q++)
		sums_add(out, &tasks[q].l);
	return NS_OK;
}

/*
 * Stable partition of the rows of every split node ids[0..n) by its split, in
 * one parallel region; sets the children's ranges and sums.  Each block is
 * split branch-free into its own range of tmp: left rows up from the start,
 * right rows down from the end (both slots are written for every row; the
 * one not kept is overwritten later or lies where the sides meet).  A second
 * pass puts the blocks' rows in place, right rows back in order.  The w r
 * (and w) of each row travel with it.
 */
static enum ns_status partition_batch(struct work *w, const uint32_t *ids, size_t n)
{
	size_t nt, rows;
	enum ns_status st = make_tasks(w, ids, n, &nt, &rows);
	if (st != NS_OK)
		return st;
	struct task *tasks = w->tasks;
	uint32_t *idx = w->idx, *tmp = w->tmp;
	double *og = w->og, *ow = w->ow, *tmpg = w->tmpg, *tmpw = w->tmpw;

#pragma omp parallel num_threads(w->nt) if (rows >= PAR_ROWS)
	{
#pragma omp for schedule(dynamic, 1)
		for (size_t q = 0; q < nt; q++) {
			struct task *t = &tasks[q];
			const struct bnode *p = &w->bn[ids[t->item]];
			const uint8_t *col = w->bins.codes + (size_t)p->feat * w->n;
			const unsigned miss = w->bins.n_bins[p->feat], bin = p->bin;
			const bool ml = p->missing_left;
			/* Register accumulators; multiplying by 0 or 1 and adding 0 are
			 * exact, so these equal the sums of each side's rows in order. */
			double lg = 0, lw = 0, ln = 0, lg2 = 0, rg = 0, rw = 0, rn = 0, rg2 = 0;
			size_t lo = t->j0, ro = t->j1;
			for (size_t j = t->j0; j < t->j1; j++) {
				uint32_t i = idx[j];
				unsigned c = col[i];
				bool go = c == miss ? ml : c <= bin;
				double g = og[j], ww = ow ? ow[j] : 1.0, g2 = wr2(g, ww);
				double a = go, z = 1.0 - a;
				tmp[lo] = i;
				tmp[ro - 1] = i;
				tmpg[lo] = g;
				tmpg[ro - 1] = g;
				if (ow) {
					tmpw[lo] = ww;
					tmpw[ro - 1] = ww;
				}
				lo += go;
				ro -= !go;
				lg += a * g;
				lw += a * ww;
				ln += a;
				lg2 += a * g2;
				rg += z * g;
				rw += z * ww;
				rn += z;
				rg2 += z * g2;
			}
			t->cnt = (uint32_t)(lo - t->j0);
			t->l = (struct sums){lg, lw, ln, lg2};
			t->r = (struct sums){rg, rw, rn, rg2};
		}
#pragma omp single
		{
			size_t q = 0;
			for (size_t i = 0; i < n; i++) {
				struct bnode *p = &w->bn[ids[i]];
				struct bnode *L = &w->bn[p->left], *R = &w->bn[p->left + 1];
				uint32_t nl = 0;
				memset(&L->s, 0, sizeof(L->s));
				memset(&R->s, 0, sizeof(R->s));
				for (; q < nt && tasks[q].item == i; q++) {
					tasks[q].off = nl;
					nl += tasks[q].cnt;
					sums_add(&L->s, &tasks[q].l);
					sums_add(&R->s, &tasks[q].r);
				}
				L->begin = p->begin;
				L->end = p->begin + nl;
				R->begin = L->end;
				R->end = p->end;
			}
		}
#pragma omp for schedule(dynamic, 1)
		for (size_t q = 0; q < nt; q++) {
			const struct task *t = &tasks[q];
			const struct bnode *p = &w->bn[ids[t->item]];
			const uint32_t nl = w->bn[p->left].end - p->begin;
			/* This block's left rows: tmp[j0, j0 + cnt); right rows: the rest, reversed. */
			const size_t lo = p->begin + t->off, n_left = t->cnt;
			const size_t ro = p->begin + nl + (t->j0 - p->begin - t->off);
			const size_t n_right = t->j1 - t->j0 - n_left;
			memcpy(idx + lo, tmp + t->j0, n_left * sizeof(uint32_t));
			memcpy(og + lo, tmpg + t->j0, n_left * sizeof(double));
			if (ow)
				memcpy(ow + lo, tmpw + t->j0, n_left * sizeof(double));
			for (size_t k = 0; k < n_right; k++) {
				idx[ro + k] = tmp[t->j1 - 1 - k];
				og[ro + k] = tmpg[t->j1 - 1 - k];
			}
			if (ow)
				for (size_t k = 0; k < n_right; k++)
					ow[ro + k] = tmpw[t->j1 - 1 - k];
		}
	}
	return NS_OK;
}

/*
 * Newton steps of the leaves ids[0..n) from their rows, and the raw-score
 * update of those rows (sklearn's update_terminal_regions).
 */
static enum ns_status leaf_batch(struct work *w, const uint32_t *ids, size_t n)
{
	size_t nt, rows;
	enum ns_status st = make_tasks(w, ids, n, &nt, &rows);
	if (st != NS_OK)
		return st;
	struct task *tasks = w->tasks;
	const uint32_t *idx = w->idx;
	const uint32_t k = w->k, T = w->T, target = w->K == 2 ? 1 : k;

#pragma omp parallel num_threads(w->nt) if (rows >= PAR_ROWS)
	{
#pragma omp for schedule(dynamic, 1)
		for (size_t q = 0; q < nt; q++) {
			double a = 0, c = 0;
			for (size_t j = tasks[q].j0; j < tasks[q].j1; j++) {
				uint32_t i = idx[j];
				double r = w->r[i], ww = row_w(w, i);
				double y = w->cls[i] == target ? 1.0 : 0.0;
				a += ww * r;
				c += ww * (y - r) * (1.0 - y + r);
			}
			tasks[q].l.g = a;
			tasks[q].l.w = c;
		}
#pragma omp single
		{
			size_t q = 0;
			for (size_t i = 0; i < n; i++) {
				struct bnode *nd = &w->bn[ids[i]];
				double num = 0, den = 0;
				for (; q < nt && tasks[q].item == i; q++) {
					num += tasks[q].l.g;
					den += tasks[q].l.w;
				}
				if (w->K > 2)
					num *= (double)(w->K - 1) / (double)w->K;
				nd->value = fabs(den) >= 1e-150 ? num / den : 0.0;
				nd->left = 0;
			}
		}
#pragma omp for schedule(dynamic, 1)
		for (size_t q = 0; q < nt; q++) {
			const double step = w->lr * w->bn[ids[tasks[q].item]].value;
			for (size_t j = tasks[q].j0; j < tasks[q].j1; j++)
				w->raw[(size_t)idx[j] * T + k] += step;
		}
	}
	return NS_OK;
}

/* ---- fitting: histograms and split search ------------------------------------------ */

/*
 * Histogram accumulation kernels.  With few bins, consecutive rows often hit
 * the same bin and each update waits for the previous one, so four copies
 * (the j-th row of the node goes to copy j % 4) keep four chains in flight;
 * they are merged in a fixed order.  `ow` is NULL for unweighted fits, whose
 * bin weight is the row count.
 */
static void hist_small(const uint8_t *col, const uint32_t *idx, const double *og, const double *ow,
		       size_t b, size_t e, struct hbin *h, double *hw, size_t nb)
{
	struct hbin c[4][SMALL_BINS];
	double cw[4][SMALL_BINS];
	size_t j = b;
	memset(c, 0, sizeof(c));
	for (; j + 4 <= e; j += 4)
		for (int u = 0; u < 4; u++) {
			struct hbin *x = &c[u][col[idx[j + u]]];
			x->g += og[j + u];
			x->n += 1;
		}
	for (; j < e; j++) {
		struct hbin *x = &c[(j - b) % 4][col[idx[j]]];
		x->g += og[j];
		x->n += 1;
	}
	for (size_t i = 0; i < nb; i++) {
		h[i].g = (c[0][i].g + c[1][i].g) + (c[2][i].g + c[3][i].g);
		h[i].n = (c[0][i].n + c[1][i].n) + (c[2][i].n + c[3][i].n);
	}
	if (!ow)
		return;
	memset(cw, 0, sizeof(cw));
	for (j = b; j + 4 <= e; j += 4)
		for (int u = 0; u < 4; u++)
			cw[u][col[idx[j + u]]] += ow[j + u];
	for (; j < e; j++)
		cw[(j - b) % 4][col[idx[j]]] += ow[j];
	for (size_t i = 0; i < nb; i++)
		hw[i] = (cw[0][i] + cw[1][i]) + (cw[2][i] + cw[3][i]);
}

static void hist_large(const uint8_t *col, const uint32_t *idx, const double *og, const double *ow,
		       size_t b, size_t e, struct hbin *h, double *hw, size_t nb)
{
	memset(h, 0, nb * sizeof(*h));
	for (size_t j = b; j < e; j++) {
		struct hbin *x = h + col[idx[j]];
		x->g += og[j];
		x->n += 1;
	}
	if (!ow)
		return;
	memset(hw, 0, nb * sizeof(*hw));
	for (size_t j = b; j < e; j++)
		hw[col[idx[j]]] += ow[j];
}

/* Histogram of feature f over the rows idx[b, e) of a node: h (and hw) at the
 * feature's offset. */
static void hist_feature(const struct work *w, size_t f, size_t b, size_t e, struct hbin *h,
			 double *hw)
{
	const uint8_t *col = w->bins.codes + f * w->n;
	const size_t nb = w->bins.hist_off[f + 1] - w->bins.hist_off[f];
	const double *og = w->og, *ow = w->wt ? w->ow : NULL;
	if (nb <= SMALL_BINS && e - b >= 4 * SMALL_BINS)
		hist_small(col, w->idx, og, ow, b, e, h, hw, nb);
	else
		hist_large(col, w->idx, og, ow, b, e, h, hw, nb);
}

/*
 * The packed kernel (x86-64 with AVX-512BW): for a chunk of up to 32
 * features with few bins, one pass over the node's rows reads each row's 32
 * codes at once and, per slot s, adds the row's w r to the sums of the lanes
 * whose code is s (masked vector adds; the other lanes add nothing) and 1 to
 * their byte counters.  The copies of hist_small() are kept exactly: copy u
 * is its own pass over the rows b + u, b + u + 4, .., so every (feature, bin)
 * sum adds the same values in the same order as the scalar kernels, and the
 * copies merge in the same order (counts are exact either way).  Byte
 * counters flush every 255 rows.
 */
#ifdef PK_KERNEL
static inline __attribute__((always_inline)) PK_TARGET void pk_pass(
	const uint8_t *rm, size_t stride, const uint32_t *idx, const double *og, size_t j, size_t e,
	size_t step, const unsigned S, double sum[PK_SLOTS][PK_LANES],
	uint32_t cnt[PK_SLOTS][PK_LANES])
{
	const __m256i one = _mm256_set1_epi8(1);
	__m512d a00 = _mm512_setzero_pd(), a01 = a00, a02 = a00, a03 = a00;
	__m512d a10 = a00, a11 = a00, a12 = a00, a13 = a00;
	__m512d a20 = a00, a21 = a00, a22 = a00, a23 = a00;
	__m512d a30 = a00, a31 = a00, a32 = a00, a33 = a00;
	__m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
	uint8_t t[PK_LANES];

	while (j < e) {
		const size_t stop = e - j > 255 * step ? j + 255 * step : e;
		for (; j < stop; j += step) {
			const __m256i codes =
				_mm256_loadu_si256((const __m256i *)(rm + (size_t)idx[j] * stride));
			const __m512d g = _mm512_set1_pd(og[j]);
			__mmask32 m;
#define PK_SLOT(s) \
	if (S > s) { \
		m = _mm256_cmpeq_epi8_mask(codes, _mm256_set1_epi8(s)); \
		c##s = _mm256_mask_add_epi8(c##s, m, c##s, one); \
		a##s##0 = _mm512_mask_add_pd(a##s##0, (__mmask8)m, a##s##0, g); \
		a##s##1 = _mm512_mask_add_pd(a##s##1, (__mmask8)(m >> 8), a##s##1, g); \
		a##s##2 = _mm512_mask_add_pd(a##s##2, (__mmask8)(m >> 16), a##s##2, g); \
		a##s##3 = _mm512_mask_add_pd(a##s##3, (__mmask8)(m >> 24), a##s##3, g); \
	}
			PK_SLOT(0)
			PK_SLOT(1)
			PK_SLOT(2)
			PK_SLOT(3)
#undef PK_SLOT
		}
#define PK_FLUSH(s) \
	if (S > s) { \
		_mm256_storeu_si256((__m256i *)t, c##s); \
		for (int l = 0; l < PK_LANES; l++) \
			cnt[s][l] += t[l]; \
		c##s = _mm256_setzero_si256(); \
	}
		PK_FLUSH(0)
		PK_FLUSH(1)
		PK_FLUSH(2)
		PK_FLUSH(3)
#undef PK_FLUSH
	}
#define PK_STORE(s) \
	if (S > s) { \
		_mm512_storeu_pd(sum[s], a##s##0); \
		_mm512_storeu_pd(sum[s] + 8, a##s##1); \
		_mm512_storeu_pd(sum[s] + 16, a##s##2); \
		_mm512_storeu_pd(sum[s] + 24, a##s##3); \
	}
	PK_STORE(0)
	PK_STORE(1)
	PK_STORE(2)
	PK_STORE(3)
#undef PK_STORE
}

#define PK_PASS_S(S_) \
	static PK_TARGET void pk_pass_##S_(const uint8_t *rm, size_t stride, const uint32_t *idx, \
					   const double *og, size_t j, size_t e, size_t step, \
					   double sum[PK_SLOTS][PK_LANES], \
					   uint32_t cnt[PK_SLOTS][PK_LANES]) \
	{ \
		pk_pass(rm, stride, idx, og, j, e, step, S_, sum, cnt); \
	}
PK_PASS_S(1)
PK_PASS_S(2)
PK_PASS_S(3)
PK_PASS_S(4)
#undef PK_PASS_S

static bool pk_supported(void)
{
	return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
}
#else
static bool pk_supported(void)
{
	return false;
}
#endif

/*
 * Histograms of the features of chunk c over the rows idx[b, e) into h (a
 * whole node histogram: each feature at its offset), equal bit for bit to
 * hist_feature()'s.  Slots no code reaches (>= pk_live) are 0.
 */
static void pk_chunk_hist(const struct work *w, size_t c, size_t b, size_t e, struct hbin *h)
{
	double sum[4][PK_SLOTS][PK_LANES];
	uint32_t cnt[PK_SLOTS][PK_LANES];
	const unsigned S = w->pk_live[c];
	const size_t C = e - b >= 4 * SMALL_BINS ? 4 : 1; /* hist_small() or hist_large() */

	memset(cnt, 0, sizeof(cnt));
#ifdef PK_KERNEL
	for (size_t u = 0; u < C; u++) {
		const uint8_t *rm = w->rm + c * PK_LANES;
		switch (S) {
		case 1:
			pk_pass_1(rm, w->rm_stride, w->idx, w->og, b + u, e, C, sum[u], cnt);
			break;
		case 2:
			pk_pass_2(rm, w->rm_stride, w->idx, w->og, b + u, e, C, sum[u], cnt);
			break;
		case 3:
			pk_pass_3(rm, w->rm_stride, w->idx, w->og, b + u, e, C, sum[u], cnt);
			break;
		default:
			pk_pass_4(rm, w->rm_stride, w->idx, w->og, b + u, e, C, sum[u], cnt);
			break;
		}
	}
#else
	(void)b;
	(void)e;
#endif
	for (size_t l = 0; l < PK_LANES; l++) {
		const uint32_t f = w->pk_feat[c * PK_LANES + l];
		if (f == UINT32_MAX)
			continue;
		const size_t off = w->bins.hist_off[f], ns = w->bins.hist_off[f + 1] - off;
		for (size_t s = 0; s < ns; s++) {
			struct hbin *x = h + off + s;
			if (s >= S) {
				x->g = 0;
				x->n = 0;
				continue;
			}
			x->g = C == 4 ? (sum[0][s][l] + sum[1][s][l]) +
						(sum[2][s][l] + sum[3][s][l])
				      : sum[0][s][l];
			x->n = (double)cnt[s][l];
		}
	}
}

static void hist_subtract(const struct work *w, size_t f, struct hbin *big, double *bigw,
			  const struct hbin *small, const double *smallw)
{
	size_t nb = w->bins.hist_off[f + 1] - w->bins.hist_off[f];
	for (size_t i = 0; i < nb; i++) {
		big[i].g -= small[i].g;
		big[i].n -= small[i].n;
	}
	if (bigw)
		for (size_t i = 0; i < nb; i++)
			bigw[i] -= smallw[i];
}

static inline void try_split(const struct work *w, const struct acc *L, const struct acc *R,
			     unsigned bin, bool missing_left, bool missing_seen, struct cand *best)
{
	if (L->n < (double)w->msl || R->n < (double)w->msl)
		return;
	double wl = L->w, wr = R->w;
	if (!(wl > 0) || !(wr > 0))
		return;
	double diff = wr * L->g - wl * R->g;
	double proxy = diff * diff / (wl * wr);
	if (proxy > best->proxy) {
		best->proxy = proxy;
		best->bin = (uint16_t)bin;
		best->missing_left = missing_seen ? missing_left : L->n >= R->n;
	}
}

/* The best split of feature f from its histogram h, hw (sklearn's scan order). */
static struct cand scan_feature(const struct work *w, size_t f, const struct hbin *h,
				const double *hw)
{
	struct cand best = {-INFINITY, 0, 0, 0, 0};
	const unsigned nvb = w->bins.n_bins[f];
	const struct acc M = {h[nvb].g, hw ? hw[nvb] : h[nvb].n, h[nvb].n};
	struct acc tot = {0, 0, 0}, L = {0, 0, 0};
	unsigned nonempty = 0;

	for (unsigned i = 0; i <= nvb; i++) {
		tot.g += h[i].g;
		tot.w += hw ? hw[i] : h[i].n;
		tot.n += h[i].n;
		nonempty += h[i].n > 0.5;
	}
	best.w_total = tot.w;
	best.nonconst = nonempty >= 2;
	if (!best.nonconst)
		return best;
	const bool has_m = M.n > 0.5;
	for (unsigned i = 0; i < nvb; i++) {
		L.g += h[i].g;
		L.w += hw ? hw[i] : h[i].n;
		L.n += h[i].n;
		if (i + 1 < nvb) {
			struct acc R = {tot.g - L.g, tot.w - L.w, tot.n - L.n};
			try_split(w, &L, &R, i, false, has_m, &best);
			if (has_m) {
				struct acc L2 = {L.g + M.g, L.w + M.w, L.n + M.n};
				struct acc R2 = {R.g - M.g, R.w - M.w, R.n - M.n};
				try_split(w, &L2, &R2, i, true, true, &best);
			}
		} else if (has_m && L.n > 0.5) {
			try_split(w, &L, &M, i, false, true, &best);
		}
	}
	return best;
}

/*
 * Work item `it` of a histogram pass over the rows idx[b, e): the histogram
 * of its features (a packed chunk, or one other feature) into slot S, scanned
 * when scan_s; when P (the parent's slot) is given, P becomes the larger
 * sibling's histogram, parent minus S, and is scanned too.
 */
static void hist_item(const struct work *w, size_t it, size_t b, size_t e, const struct slot *S,
		      bool scan_s, const struct slot *P)
{
	if (it < w->n_chunks) {
		pk_chunk_hist(w, it, b, e, S->h);
		for (size_t l = 0; l < PK_LANES; l++) {
			const uint32_t f = w->pk_feat[it * PK_LANES + l];
			if (f == UINT32_MAX)
				continue;
			const size_t off = w->bins.hist_off[f];
			if (scan_s)
				S->c[f] = scan_feature(w, f, S->h + off, NULL);
			if (P) {
				hist_subtract(w, f, P->h + off, NULL, S->h + off, NULL);
				P->c[f] = scan_feature(w, f, P->h + off, NULL);
			}
		}
		return;
	}
	const size_t f = w->unpacked[it - w->n_chunks], off = w->bins.hist_off[f];
	double *sw = S->hw ? S->hw + off : NULL;
	hist_feature(w, f, b, e, S->h + off, sw);
	if (scan_s)
		S->c[f] = scan_feature(w, f, S->h + off, sw);
	if (P) {
		double *pw = P->hw ? P->hw + off : NULL;
		hist_subtract(w, f, P->h + off, pw, S->h + off, sw);
		P->c[f] = scan_feature(w, f, P->h + off, pw);
	}
}

static bool splittable(const struct work *w, const struct bnode *nd)
{
	const struct sums *s = &nd->s;
	if (nd->depth >= w->max_depth || s->n < (double)w->mss || s->n < 2.0 * (double)w->msl ||
	    !(s->w > 0))
		return false;
	double mean = s->g / s->w;
	return s->g2 / s->w - mean * mean > DBL_EPSILON;
}

/* The best split of a node from its candidates; false if none. */
static bool choose_split(struct work *w, const struct bnode *nd, struct cand *out, uint32_t *feat)
{
	const struct cand *c = w->slots[nd->slot].c;
	struct cand best = {-INFINITY, 0, 0, 0, 0};
	uint32_t bf = 0;
	if (w->max_features >= w->nf) {
		for (uint32_t f = 0; f < w->nf; f++)
			if (c[f].proxy > best.proxy) {
				best = c[f];
				bf = f;
			}
	} else {
		/* sklearn's order: features drawn at random until max_features were
		 * visited and at least one of them was not constant in the node. */
		size_t visited = 0;
		bool found = false;
		for (uint32_t i = 0; i < w->nf; i++) {
			uint32_t j = i + (uint32_t)ns__rng_below(&w->rng, w->nf - i);
			uint32_t t = w->fperm[i];
			w->fperm[i] = w->fperm[j];
			w->fperm[j] = t;
			uint32_t f = w->fperm[i];
			visited++;
			if (c[f].nonconst) {
				found = true;
				if (c[f].proxy > best.proxy) {
					best = c[f];
					bf = f;
				}
			}
			if (visited >= w->max_features && found)
				break;
		}
	}
	if (!(best.proxy > -INFINITY))
		return false;
	/* sklearn's friedman_mse improvement is the weighted SSE decrease. */
	if (best.proxy / best.w_total + DBL_EPSILON < w->mid)
		return false;
	*out = best;
	*feat = bf;
	return true;
}

static enum ns_status root_histogram(struct work *w, struct bnode *root)
{
	uint32_t s;
	enum ns_status st = slot_get(w, &s);
	if (st != NS_OK)
		return st;
	const size_t b = root->begin, e = root->end, nf = w->nf, n_items = w->n_items;
	const struct slot S = w->slots[s];
#pragma omp parallel for num_threads(w->nt) schedule(dynamic, 1) if ((e - b) * nf >= PAR_WORK)
	for (size_t it = 0; it < n_items; it++)
		hist_item(w, it, b, e, &S, true, NULL);
	root->slot = s;
	return NS_OK;
}

/*
 * One growth step over open nodes ids[0..n) (each holding a histogram): picks
 * their splits, partitions their rows, builds the children's histograms (the
 * smaller child from its rows, the larger as parent minus smaller; none for
 * children that cannot split) and settles every new leaf.  Children that can
 * split go to out[0..*n_out).  A level of the tree is one step (few parallel
 * regions per level); the depth-first fallback steps one node at a time.
 */
static enum ns_status grow_step(struct work *w, const uint32_t *ids, size_t n, uint32_t *out,
				size_t *n_out)
{
	enum ns_status st;
	size_t n_split = 0, n_leaf = 0, n_pair = 0, rows = 0;
	const size_t nf = w->nf;

	*n_out = 0;
	if ((st = bn_reserve(w, 2 * n)) != NS_OK ||
	    (st = reserve(&w->splits, &w->cap_splits, n, sizeof(uint32_t))) != NS_OK ||
	    (st = reserve(&w->leaves, &w->cap_leaves, 2 * n, sizeof(uint32_t))) != NS_OK ||
	    (st = reserve(&w->pairs, &w->cap_pairs, n, sizeof(struct pair))) != NS_OK)
		goto fail;
	if ((st = reserve(&w->split_c, &w->cap_split_c, n, sizeof(struct cand))) != NS_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct bnode *p = &w->bn[ids[i]];
		struct cand c;
		uint32_t f;
		if (!choose_split(w, p, &c, &f)) {
			slot_put(w, p->slot);
			p->slot = UINT32_MAX;
			w->leaves[n_leaf++] = ids[i];
			continue;
		}
		uint32_t lid = (uint32_t)w->n_bn;
		w->n_bn += 2;
		p->feat = f;
		p->bin = c.bin;
		p->missing_left = c.missing_left;
		p->left = lid;
		for (int s = 0; s < 2; s++) {
			struct bnode *ch = &w->bn[lid + s];
			memset(ch, 0, sizeof(*ch));
			ch->depth = p->depth + 1;
			ch->slot = UINT32_MAX;
		}
		w->split_c[n_split] = c;
		w->splits[n_split++] = ids[i];
	}
	if (n_split) {
		st = partition_batch(w, w->splits, n_split);
		if (st != NS_OK)
			goto fail;
	}

	/* Importance, and which children get histograms. */
	for (size_t i = 0; i < n_split; i++) {
		struct bnode *p = &w->bn[w->splits[i]];
		uint32_t lid = p->left;
		struct bnode *l = &w->bn[lid], *r = &w->bn[lid + 1];
		if (w->w_root > 0)
			w->imp[p->feat] += w->split_c[i].proxy / w->split_c[i].w_total / w->w_root;
		bool l_small = l->s.n <= r->s.n;
		struct pair *q = &w->pairs[n_pair];
		q->sm = l_small ? lid : lid + 1;
		q->lg = l_small ? lid + 1 : lid;
		q->need_s = splittable(w, &w->bn[q->sm]);
		q->need_g = splittable(w, &w->bn[q->lg]);
		q->ps = p->slot;
		p->slot = UINT32_MAX;
		if (!q->need_s && !q->need_g) {
			slot_put(w, q->ps);
		} else if (q->need_g) {
			st = slot_get(w, &q->ss);
			if (st != NS_OK)
				goto fail;
		} else {
			q->ss = q->ps;
		}
		if (!q->need_s)
			w->leaves[n_leaf++] = q->sm;
		if (!q->need_g)
			w->leaves[n_leaf++] = q->lg;
		if (q->need_s || q->need_g) {
			rows += w->bn[q->sm].end - w->bn[q->sm].begin;
			n_pair++;
		}
	}

	if (n_pair) {
		const struct pair *pairs = w->pairs;
		const size_t n_items = w->n_items, n_work = n_pair * n_items;
#pragma omp parallel for num_threads(w->nt) schedule(dynamic, 1) if (rows * nf >= PAR_WORK)
		for (size_t t = 0; t < n_work; t++) {
			const struct pair *q = &pairs[t / n_items];
			const struct bnode *sm = &w->bn[q->sm];
			const struct slot S = w->slots[q->ss], P = w->slots[q->ps];
			hist_item(w, t % n_items, sm->begin, sm->end, &S, q->need_s,
				  q->need_g ? &P : NULL);
		}
		for (size_t i = 0; i < n_pair; i++) {
			const struct pair *q = &pairs[i];
			if (q->need_g)
				w->bn[q->lg].slot = q->ps;
			if (q->need_s)
				w->bn[q->sm].slot = q->ss;
			else if (q->need_g)
				slot_put(w, q->ss);
			/* Left child first, as breadth-first order reads. */
			uint32_t lid = q->sm < q->lg ? q->sm : q->lg;
			for (uint32_t c = lid; c < lid + 2; c++)
				if (w->bn[c].slot != UINT32_MAX)
					out[(*n_out)++] = c;
		}
	}
	if (n_leaf) {
		st = leaf_batch(w, w->leaves, n_leaf);
		if (st != NS_OK)
			goto fail;
	}
	return NS_OK;
fail:
	/* The fit stops: work_fini() frees every slot wherever it is. */
	return st;
}

/* Appends the grown tree to the model in breadth-first order. */
static enum ns_status emit_tree(struct work *w, struct gbdt *m)
{
	enum ns_status st = nodes_reserve(m, w->n_bn);
	if (st != NS_OK)
		return st;
	struct gnode *out = m->nodes + m->n_nodes;
	uint32_t *q = w->queue;
	size_t head = 0, tail = 1;
	q[0] = 0;
	while (head < tail) {
		const struct bnode *b = &w->bn[q[head]];
		struct gnode *o = &out[head];
		if (b->left) {
			size_t f = b->feat;
			size_t nc = w->bins.cut_off[f + 1] - w->bins.cut_off[f];
			o->v = b->bin < nc ? w->bins.cuts[w->bins.cut_off[f] + b->bin] : INFINITY;
			o->feat = b->feat | (b->missing_left ? MISSING_LEFT : 0);
			o->left = (uint32_t)tail;
			q[tail++] = b->left;
			q[tail++] = b->left + 1;
		} else {
			o->v = b->value;
			o->feat = LEAF;
			o->left = 0;
		}
		head++;
	}
	m->n_nodes += w->n_bn;
	return NS_OK;
}

/* Room for `need` open nodes in both level lists. */
static enum ns_status open_reserve(struct work *w, size_t need)
{
	if (need <= w->cap_open)
		return NS_OK;
	size_t c = w->cap_open ? w->cap_open : 16;
	while (c < need)
		c *= 2;
	uint32_t *a = ns_reallocarray(w->open_a, c, sizeof(uint32_t));
	if (!a)
		return NS_ERR_NOMEM;
	w->open_a = a;
	uint32_t *b = ns_reallocarray(w->open_b, c, sizeof(uint32_t));
	if (!b)
		return NS_ERR_NOMEM;
	w->open_b = b;
	w->cap_open = c;
	return NS_OK;
}

/*
 * Sizes every pool for the largest tree max_depth allows (for max_depth <= 12),
 * so that boosting iterations allocate nothing.  Deeper trees grow the pools
 * on demand (doubling), which stops once the widest tree has been seen.
 */
static enum ns_status presize(struct work *w)
{
	enum ns_status st;
	if (w->max_depth > 12)
		return NS_OK;
	const size_t d = w->max_depth, rows = w->n_all ? w->n_all : 1;
	size_t level = (size_t)1 << d; /* nodes at the deepest level */
	if (level > rows)
		level = rows;
	size_t nodes = ((size_t)2 << d) - 1;
	if (nodes > 2 * rows)
		nodes = 2 * rows;
	size_t n_slots = level < 2 * w->max_open ? level : 2 * w->max_open;
	if ((st = bn_reserve(w, nodes)) != NS_OK || (st = open_reserve(w, 2 * level)) != NS_OK ||
	    (st = reserve(&w->splits, &w->cap_splits, level, sizeof(uint32_t))) != NS_OK ||
	    (st = reserve(&w->split_c, &w->cap_split_c, level, sizeof(struct cand))) != NS_OK ||
	    (st = reserve(&w->leaves, &w->cap_leaves, 2 * level, sizeof(uint32_t))) != NS_OK ||
	    (st = reserve(&w->pairs, &w->cap_pairs, level, sizeof(struct pair))) != NS_OK ||
	    (st = reserve(&w->tasks, &w->cap_tasks, w->n / BLK + 2 * level + 1,
			  sizeof(struct task))) != NS_OK ||
	    (st = reserve(&w->stack, &w->cap_stack, 2 * level + d + 2, sizeof(uint32_t))) != NS_OK)
		return st;
	/* The pool is empty here: each slot_get() allocates one. */
	while (w->n_slots < n_slots + 1) {
		uint32_t s;
		if ((st = slot_get(w, &s)) != NS_OK)
			return st;
	}
	for (size_t i = 0; i < w->n_slots; i++)
		w->free_slots[i] = (uint32_t)i;
	w->n_free = w->n_slots;
	return NS_OK;
}

static enum ns_status grow_tree(struct work *w, struct gbdt *m, size_t it, uint32_t k)
{
	enum ns_status st;
	struct bnode *root;
	size_t n_open = 0;

	w->k = k;
	w->r = w->res + (size_t)k * w->n;
	if (w->wt) {
		/* The bag's rows only: the others' residuals are not computed. */
		for (size_t j = 0; j < w->n_bag; j++) {
			const uint32_t i = w->bag[j];
			w->gw[i] = w->wt[i] * w->r[i];
		}
		w->g = w->gw;
	} else {
		w->g = w->r;
	}
	ns__rng_seed(&w->rng, w->seed, ((uint64_t)1 << 40) + (uint64_t)it * w->T + k);
	for (uint32_t f = 0; f < w->nf; f++)
		w->fperm[f] = f;
	memcpy(w->idx, w->bag, w->n_bag * sizeof(uint32_t));
	/* Each row's w r (and w) travel with it through the partitions. */
	const uint32_t *bag = w->bag;
#pragma omp parallel for num_threads(w->nt) schedule(static) if (w->n_bag >= PAR_ROWS)
	for (size_t j = 0; j < w->n_bag; j++) {
		w->og[j] = w->g[bag[j]];
		if (w->wt)
			w->ow[j] = w->wt[bag[j]];
	}
	w->n_bn = 0;
	w->n_stack = 0;
	st = bn_reserve(w, 1);
	if (st != NS_OK)
		return st;
	root = &w->bn[w->n_bn++];
	memset(root, 0, sizeof(*root));
	root->end = (uint32_t)w->n_bag;
	root->slot = UINT32_MAX;
	uint32_t root_id = 0;
	if ((st = node_sums(w, root_id)) != NS_OK)
		return st;
	w->w_root = root->s.w;
	if (!splittable(w, root)) {
		if ((st = leaf_batch(w, &root_id, 1)) != NS_OK)
			return st;
		return emit_tree(w, m);
	}
	if ((st = open_reserve(w, 1)) != NS_OK)
		return st;
	if ((st = root_histogram(w, root)) != NS_OK)
		return st;
	w->open_a[n_open++] = root_id;

	/*
	 * Breadth-first while the open level is narrow enough; on any failure the
	 * fit stops and work_fini() frees every histogram slot, so slots held by
	 * open nodes need no return here.
	 */
	while (n_open && n_open <= w->max_open) {
		size_t n_next;
		if ((st = open_reserve(w, 2 * n_open)) != NS_OK)
			return st;
		if ((st = grow_step(w, w->open_a, n_open, w->open_b, &n_next)) != NS_OK)
			return st;
		uint32_t *t = w->open_a;
		w->open_a = w->open_b;
		w->open_b = t;
		n_open = n_next;
	}
	/* A level too wide to hold every histogram: depth-first from here. */
	if ((st = reserve(&w->stack, &w->cap_stack, n_open, sizeof(uint32_t))) != NS_OK)
		return st;
	for (size_t i = n_open; i-- > 0;)
		w->stack[w->n_stack++] = w->open_a[i];
	while (w->n_stack) {
		uint32_t id = w->stack[--w->n_stack], kids[2];
		size_t n_kids;
		if ((st = grow_step(w, &id, 1, kids, &n_kids)) != NS_OK)
			return st;
		st = reserve(&w->stack, &w->cap_stack, w->n_stack + 2, sizeof(uint32_t));
		if (st != NS_OK)
			return st;
		for (size_t i = n_kids; i-- > 0;)
			w->stack[w->n_stack++] = kids[i];
	}
	return emit_tree(w, m);
}

/* ---- fitting: the boosting loop ---------------------------------------------------------- */

/*
 * Residuals of this iteration's rows (the bag; every row when there is no bag
 * list): only they shape the trees and their leaves, so the other rows'
 * residuals are never read.
 */
static void compute_residuals(struct work *w)
{
	const uint32_t K = w->K, T = w->T, *bag = w->bag, *cls = w->cls;
	const size_t n = w->n, n_rows = bag ? w->n_bag : n;
	double *res = w->res;
#pragma omp parallel for num_threads(w->nt) schedule(static) if (n_rows >= PAR_ROWS)
	for (size_t j = 0; j < n_rows; j++) {
		const size_t i = bag ? bag[j] : j;
		const double *raw = w->raw + i * T;
		if (K == 2) {
			res[i] = (cls[i] == 1 ? 1.0 : 0.0) - expit(raw[0]);
			continue;
		}
		double mx = raw[0], s = 0;
		for (uint32_t k = 1; k < K; k++)
			if (raw[k] > mx)
				mx = raw[k];
		for (uint32_t k = 0; k < K; k++)
			s += exp(raw[k] - mx);
		double lse = log(s) + mx;
		for (uint32_t k = 0; k < K; k++) {
			double p = exp(raw[k] - lse);
			if (isnan(p))
				p = 0;
			else if (isinf(p))
				p = DBL_MAX;
			res[(size_t)k * n + i] = (cls[i] == k ? 1.0 : 0.0) - p;
		}
	}
}

/* This iteration's rows: all rows of positive weight, or a subsample of them. */
static void draw_bag(struct work *w, size_t it)
{
	const size_t n = w->n;
	if (w->subsample >= 1.0) {
		/* w->oob holds the rows of weight 0 (set up once). */
		memcpy(w->bag, w->all_rows, w->n_all * sizeof(uint32_t));
		w->n_bag = w->n_all;
		return;
	}
	size_t n_inbag = (size_t)(w->subsample * (double)n);
	if (n_inbag < 1)
		n_inbag = 1;
	struct ns__rng rng;
	uint32_t *perm = w->perm, *bag = w->bag, *oob = w->oob;
	uint8_t *in_bag = w->in_bag;
	size_t n_bag = 0, n_oob = 0;
	ns__rng_seed(&rng, w->seed, (uint64_t)it);
	for (size_t i = 0; i < n; i++)
		perm[i] = (uint32_t)i;
	memset(in_bag, 0, n);
	for (size_t i = 0; i < n_inbag; i++) {
		size_t j = i + (size_t)ns__rng_below(&rng, n - i);
		uint32_t t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
		in_bag[perm[i]] = 1;
	}
	/* Branch-free: the row is written to both lists and kept in one. */
	if (w->wt)
		for (size_t i = 0; i < n; i++)
			in_bag[i] = in_bag[i] && w->wt[i] > 0;
	for (size_t i = 0; i < n; i++) {
		const bool keep = in_bag[i];
		bag[n_bag] = (uint32_t)i;
		oob[n_oob] = (uint32_t)i;
		n_bag += keep;
		n_oob += !keep;
	}
	w->n_bag = n_bag;
	w->n_oob = n_oob;
}

/*
 * Raw-score update of the rows that did not reach the tree's leaves (out of
 * bag, zero weight), routed down the tree just grown by their bin codes:
 * for training rows "code <= bin" is "x <= threshold" (hist_bin.h) and the
 * missing bin is NaN, so each row gets the leaf the stored tree gives it.
 */
static void update_others(struct work *w, uint32_t k)
{
	const size_t n = w->n, n_oob = w->n_oob;
	const uint32_t *oob = w->oob, T = w->T;
	const struct bnode *bn = w->bn;
	const uint8_t *codes = w->bins.codes;
	const uint16_t *n_bins = w->bins.n_bins;
	const double lr = w->lr;
	double *raw = w->raw;
#pragma omp parallel for num_threads(w->nt) schedule(static) if (n_oob >= PAR_ROWS)
	for (size_t j = 0; j < n_oob; j++) {
		const size_t i = oob[j];
		uint32_t id = 0;
		while (bn[id].left) {
			const struct bnode *p = &bn[id];
			const unsigned c = codes[(size_t)p->feat * n + i];
			const bool go = c == n_bins[p->feat] ? p->missing_left : c <= p->bin;
			id = p->left + !go;
		}
		raw[i * T + k] += lr * bn[id].value;
	}
}

static size_t resolve_max_features(double v, size_t nf)
{
	size_t r;
	if (isnan(v))
		return nf;
	if (v == -1)
		r = (size_t)sqrt((double)nf);
	else if (v == -2)
		r = (size_t)log2((double)nf);
	else if (v < 1)
		r = (size_t)(v * (double)nf);
	else
		r = v >= (double)nf ? nf : (size_t)v;
	return r < 1 ? 1 : (r > nf ? nf : r);
}

/* Chooses the packed features and lays out their row-major codes (see struct work). */
static enum ns_status pack_setup(struct work *w)
{
	const size_t n = w->n, nf = w->nf;
	size_t n_pk = 0, lane = 0;
	w->unpacked = ns_malloc(nf * sizeof(uint32_t));
	if (!w->unpacked)
		return NS_ERR_NOMEM;
	if (!w->wt && pk_supported())
		for (size_t f = 0; f < nf; f++)
			n_pk += w->bins.hist_off[f + 1] - w->bins.hist_off[f] <= PK_SLOTS;
	if (n_pk < PK_MIN) {
		for (size_t f = 0; f < nf; f++)
			w->unpacked[f] = (uint32_t)f;
		w->n_unpacked = w->n_items = nf;
		return NS_OK;
	}
	w->n_chunks = (n_pk + PK_LANES - 1) / PK_LANES;
	w->rm_stride = w->n_chunks * PK_LANES;
	if (n > SIZE_MAX / w->rm_stride)
		return NS_ERR_NOMEM;
	w->rm = ns_malloc(n * w->rm_stride);
	w->pk_feat = ns_malloc(w->rm_stride * sizeof(uint32_t));
	w->pk_live = ns_calloc(w->n_chunks, 1);
	if (!w->rm || !w->pk_feat || !w->pk_live)
		return NS_ERR_NOMEM;
	memset(w->rm, 0xFF, n * w->rm_stride);
	for (size_t f = 0; f < nf; f++) {
		if (w->bins.hist_off[f + 1] - w->bins.hist_off[f] > PK_SLOTS) {
			w->unpacked[w->n_unpacked++] = (uint32_t)f;
			continue;
		}
		const uint8_t *col = w->bins.codes + f * n;
		const unsigned live = w->bins.n_bins[f] + (w->bins.has_missing[f] ? 1u : 0u);
		uint8_t *dst = w->rm + lane;
		if (live > w->pk_live[lane / PK_LANES])
			w->pk_live[lane / PK_LANES] = (uint8_t)live;
		w->pk_feat[lane++] = (uint32_t)f;
		for (size_t i = 0; i < n; i++)
			dst[i * w->rm_stride] = col[i];
	}
	for (; lane < w->rm_stride; lane++)
		w->pk_feat[lane] = UINT32_MAX;
	w->n_items = w->n_chunks + w->n_unpacked;
	return NS_OK;
}

static enum ns_status gbdt_fit(const struct ns_params *p, const struct ns_dataset *d,
			       const struct ns_fit_options *o, void **impl, struct ns_diag *diag)
{
	struct work w;
	struct gbdt *m = NULL;
	enum ns_status st = NS_ERR_NOMEM;
	const size_t n = d->n_rows, nf = d->n_features;
	uint32_t *map = NULL;
	double *prior = NULL;

	memset(&w, 0, sizeof(w));
	if (d->n_classes < 2)
		return ns_diag_set(diag, NS_ERR_INVALID, "gbdt needs at least two classes");
	if (n == 0 || nf == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "gbdt: no training data");
	if (n >= UINT32_MAX / 2 || nf >= FEATURE_MASK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "gbdt: at most 2^31 rows and features");
	w.d = d;
	w.n = n;
	w.nf = nf;
	w.wt = d->weight;
	w.nt = ns__threads(o ? o->n_threads : 0);
	w.seed = o ? o->seed : 0;
	w.lr = p->v[P_LR];
	w.subsample = p->v[P_SUBSAMPLE];
	w.mid = p->v[P_MID];
	w.max_depth = isnan(p->v[P_MAX_DEPTH]) ? SIZE_MAX : (size_t)p->v[P_MAX_DEPTH];
	w.mss = (size_t)p->v[P_MSS];
	w.msl = (size_t)p->v[P_MSL];
	w.max_features = resolve_max_features(p->v[P_MAX_FEATURES], nf);

	/* Classes present, and the prior (weighted, as DummyClassifier's). */
	map = ns_malloc(d->n_classes * sizeof(uint32_t));
	prior = ns_calloc(d->n_classes, sizeof(double));
	w.cls = ns_malloc(n * sizeof(uint32_t));
	if (!map || !prior || !w.cls)
		goto nomem;
	for (uint32_t c = 0; c < d->n_classes; c++)
		map[c] = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		if (d->y[i] >= d->n_classes) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "gbdt: row %zu: class index %u >= %u", i, d->y[i],
					 d->n_classes);
			goto out;
		}
		map[d->y[i]] = 0;
	}
	for (uint32_t c = 0; c < d->n_classes; c++)
		if (map[c] != UINT32_MAX)
			map[c] = w.K++;
	if (w.K < 2) {
		st = ns_diag_set(diag, NS_ERR_INVALID,
				 "gbdt: the training data has only one class");
		goto out;
	}
	w.T = w.K == 2 ? 1 : w.K;
	double wsum = 0;
	for (size_t i = 0; i < n; i++) {
		w.cls[i] = map[d->y[i]];
		prior[w.cls[i]] += row_w(&w, (uint32_t)i);
		wsum += row_w(&w, (uint32_t)i);
	}

	m = ns_calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	m->n_features = nf;
	m->n_present = w.K;
	m->tpi = w.T;
	m->n_iter = (uint32_t)p->v[P_N_EST];
	m->lr = w.lr;
	m->present = ns_malloc(w.K * sizeof(uint32_t));
	m->init = ns_malloc(w.T * sizeof(double));
	m->importance = ns_calloc(nf, sizeof(double));
	m->tree_off = ns_malloc(((size_t)m->n_iter * w.T + 1) * sizeof(uint32_t));
	if (!m->present || !m->init || !m->importance || !m->tree_off)
		goto nomem;
	for (uint32_t c = 0; c < d->n_classes; c++)
		if (map[c] != UINT32_MAX)
			m->present[map[c]] = c;
	for (uint32_t k = 0; k < w.K; k++) {
		double pk = wsum > 0 ? prior[k] / wsum : 0;
		pk = pk < F32_EPS ? F32_EPS : (pk > 1 - F32_EPS ? 1 - F32_EPS : pk);
		prior[k] = pk;
	}
	if (w.K == 2)
		m->init[0] = log(prior[1] / (1 - prior[1]));
	else
		for (uint32_t k = 0; k < w.K; k++)
			m->init[k] = log(prior[k]);
	w.imp = m->importance;

	st = ns__hist_bins_build(d, (int)p->v[P_MAX_BINS], w.nt, &w.bins);
	if (st != NS_OK)
		goto nomem;
	w.hist_len = w.bins.hist_off[nf];
	if (pack_setup(&w) != NS_OK)
		goto nomem;
	w.max_open = HIST_BUDGET / 2 /
		     (w.hist_len * (sizeof(struct hbin) + (w.wt ? sizeof(double) : 0)) +
		      nf * sizeof(struct cand));
	if (w.max_open < 1)
		w.max_open = 1;
	if (MAX_OPEN)
		w.max_open = MAX_OPEN;
	w.raw = ns_malloc(n * w.T * sizeof(double));
	w.res = ns_malloc(n * w.T * sizeof(double));
	w.gw = w.wt ? ns_malloc(n * sizeof(double)) : NULL;
	w.all_rows = ns_malloc(n * sizeof(uint32_t));
	w.bag = ns_malloc(n * sizeof(uint32_t));
	w.oob = ns_malloc(n * sizeof(uint32_t));
	w.in_bag = ns_calloc(n, 1);
	w.perm = w.subsample < 1.0 ? ns_malloc(n * sizeof(uint32_t)) : NULL;
	w.fperm = ns_malloc(nf * sizeof(uint32_t));
	w.idx = ns_malloc(n * sizeof(uint32_t));
	w.tmp = ns_malloc(n * sizeof(uint32_t));
	w.og = ns_malloc(n * sizeof(double));
	w.ow = w.wt ? ns_malloc(n * sizeof(double)) : NULL;
	w.tmpg = ns_malloc(n * sizeof(double));
	w.tmpw = w.wt ? ns_malloc(n * sizeof(double)) : NULL;
	if (!w.raw || !w.res || (w.wt && (!w.gw || !w.ow || !w.tmpw)) || !w.all_rows || !w.bag ||
	    !w.oob || !w.in_bag || (w.subsample < 1.0 && !w.perm) || !w.fperm || !w.idx || !w.tmp ||
	    !w.og || !w.tmpg)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		memcpy(w.raw + i * w.T, m->init, w.T * sizeof(double));
		if (row_w(&w, (uint32_t)i) > 0) {
			w.all_rows[w.n_all++] = (uint32_t)i;
			w.in_bag[i] = 1;
		} else {
			w.oob[w.n_oob++] = (uint32_t)i;
		}
	}
	/* Shallow trees: reserve every node now; deep ones grow the array. */
	if (w.max_depth < 20) {
		size_t per_tree = ((size_t)2 << w.max_depth) - 1;
		if (per_tree > 2 * n)
			per_tree = 2 * n;
		size_t total = per_tree * m->n_iter * w.T;
		if (total <= ((size_t)16 << 20)) {
			st = nodes_reserve(m, total);
			if (st != NS_OK)
				goto nomem;
		}
	}

	if (presize(&w) != NS_OK)
		goto nomem;
	for (size_t it = 0; it < m->n_iter; it++) {
		draw_bag(&w, it);
		compute_residuals(&w);
		for (uint32_t k = 0; k < w.T; k++) {
			size_t tree = it * w.T + k;
			m->tree_off[tree] = (uint32_t)m->n_nodes;
			st = grow_tree(&w, m, it, k);
			if (st != NS_OK)
				goto nomem;
			if (m->n_nodes >= UINT32_MAX) {
				st = ns_diag_set(diag, NS_ERR_LIMIT, "gbdt: too many tree nodes");
				goto out;
			}
			update_others(&w, k);
		}
	}
	m->tree_off[(size_t)m->n_iter * w.T] = (uint32_t)m->n_nodes;
	*impl = m;
	m = NULL;
	st = NS_OK;
	goto out;
nomem:
	st = ns_diag_set(diag, NS_ERR_NOMEM, "gbdt: out of memory");
out:
	work_fini(&w);
	gbdt_free(m);
	ns_free(map);
	ns_free(prior);
	return st;
}

/* ---- save, load, describe ------------------------------------------------------------ */

static enum ns_status gbdt_save(const void *impl, struct ns__wbuf *wb)
{
	const struct gbdt *m = impl;
	size_t n_trees = (size_t)m->n_iter * m->tpi;
	ns__w_u32(wb, m->n_present);
	ns__w_u32s(wb, m->present, m->n_present);
	ns__w_u32(wb, m->tpi);
	ns__w_u32(wb, m->n_iter);
	ns__w_f64(wb, m->lr);
	ns__w_f64s(wb, m->init, m->tpi);
	ns__w_f64s(wb, m->importance, m->n_features);
	for (size_t t = 0; t < n_trees; t++) {
		uint32_t a = m->tree_off[t], b = m->tree_off[t + 1];
		ns__w_u32(wb, b - a);
		for (uint32_t i = a; i < b; i++) {
			ns__w_f64(wb, m->nodes[i].v);
			ns__w_u32(wb, m->nodes[i].feat);
			ns__w_u32(wb, m->nodes[i].left);
		}
	}
	return wb->failed ? NS_ERR_NOMEM : NS_OK;
}

/*
 * Reads n values into a new array: NS_ERR_CORRUPT when the bytes are not
 * there (checked before allocating), NS_ERR_NOMEM when memory is not.
 */
static enum ns_status read_u32s(struct ns__rbuf *r, size_t n, uint32_t **out)
{
	if (r->bad || n > (r->len - r->off) / 4)
		return NS_ERR_CORRUPT;
	*out = ns_malloc(n ? n * sizeof(uint32_t) : 1);
	if (!*out)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = ns__r_u32(r);
	return NS_OK;
}

static enum ns_status read_f64s(struct ns__rbuf *r, size_t n, double **out)
{
	if (r->bad || n > (r->len - r->off) / 8)
		return NS_ERR_CORRUPT;
	*out = ns_malloc(n ? n * sizeof(double) : 1);
	if (!*out)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		(*out)[i] = ns__r_f64(r);
	return NS_OK;
}

static enum ns_status gbdt_load(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
				uint32_t n_classes, void **impl, struct ns_diag *diag)
{
	struct gbdt *m = ns_calloc(1, sizeof(*m));
	enum ns_status st;
	const char *why = "truncated";
	(void)p;
	if (!m)
		return ns_diag_set(diag, NS_ERR_NOMEM, "gbdt model: out of memory");
	m->n_features = n_features;
	m->n_present = ns__r_u32(r);
	if (r->bad)
		goto bad;
	if (m->n_present < 2 || m->n_present > n_classes) {
		why = "bad number of classes";
		goto bad;
	}
	if ((st = read_u32s(r, m->n_present, &m->present)) != NS_OK)
		goto fail;
	for (uint32_t k = 0; k < m->n_present; k++)
		if (m->present[k] >= n_classes || (k && m->present[k] <= m->present[k - 1])) {
			why = "bad class index";
			goto bad;
		}
	m->tpi = ns__r_u32(r);
	m->n_iter = ns__r_u32(r);
	m->lr = ns__r_f64(r);
	if (r->bad)
		goto bad;
	if (m->tpi != (m->n_present == 2 ? 1u : m->n_present) || m->n_iter == 0 || !(m->lr > 0) ||
	    isinf(m->lr)) {
		why = "bad shape or learning rate";
		goto bad;
	}
	size_t n_trees = (size_t)m->n_iter * m->tpi;
	/* Every tree takes at least 20 bytes: bound the count before allocating. */
	if (n_trees > (r->len - r->off) / 20) {
		why = "more trees than the payload holds";
		goto bad;
	}
	if ((st = read_f64s(r, m->tpi, &m->init)) != NS_OK ||
	    (st = read_f64s(r, n_features, &m->importance)) != NS_OK)
		goto fail;
	for (uint32_t k = 0; k < m->tpi; k++)
		if (!isfinite(m->init[k])) {
			why = "non-finite initial score";
			goto bad;
		}
	for (size_t f = 0; f < n_features; f++)
		if (!(m->importance[f] >= 0) || isinf(m->importance[f])) {
			why = "bad feature importance";
			goto bad;
		}
	m->tree_off = ns_malloc((n_trees + 1) * sizeof(uint32_t));
	if (!m->tree_off) {
		st = NS_ERR_NOMEM;
		goto fail;
	}
	for (size_t t = 0; t < n_trees; t++) {
		uint32_t cnt = ns__r_u32(r);
		if (r->bad)
			goto bad;
		if (cnt == 0 || cnt > (r->len - r->off) / 16 || m->n_nodes + cnt >= UINT32_MAX) {
			why = "bad node count";
			goto bad;
		}
		m->tree_off[t] = (uint32_t)m->n_nodes;
		if ((st = nodes_reserve(m, cnt)) != NS_OK)
			goto fail;
		struct gnode *nd = m->nodes + m->n_nodes;
		for (uint32_t i = 0; i < cnt; i++) {
			nd[i].v = ns__r_f64(r);
			nd[i].feat = ns__r_u32(r);
			nd[i].left = ns__r_u32(r);
			if (r->bad)
				goto bad;
			if (nd[i].feat == LEAF) {
				if (nd[i].left != 0 || !isfinite(nd[i].v)) {
					why = "bad leaf";
					goto bad;
				}
			} else if ((nd[i].feat & FEATURE_MASK) >= n_features || isnan(nd[i].v) ||
				   nd[i].left <= i || nd[i].left >= cnt - 1) {
				/* Children after the parent: no cycles, bounded walks. */
				why = "bad split node";
				goto bad;
			}
		}
		m->n_nodes += cnt;
	}
	m->tree_off[n_trees] = (uint32_t)m->n_nodes;
	*impl = m;
	return NS_OK;
fail:
	if (st == NS_ERR_NOMEM) {
		gbdt_free(m);
		return ns_diag_set(diag, NS_ERR_NOMEM, "gbdt model: out of memory");
	}
bad:
	gbdt_free(m);
	return ns_diag_set(diag, NS_ERR_CORRUPT, "gbdt model: %s", why);
}

static enum ns_status gbdt_describe(const void *impl, struct ns__buf *b)
{
	const struct gbdt *m = impl;
	size_t leaves = 0, max_depth = 0, n_trees = (size_t)m->n_iter * m->tpi;
	uint32_t *depth = ns_malloc((m->n_nodes ? m->n_nodes : 1) * sizeof(uint32_t));
	if (!depth)
		return NS_ERR_NOMEM;
	for (size_t t = 0; t < n_trees; t++) {
		const struct gnode *nd = m->nodes + m->tree_off[t];
		uint32_t cnt = m->tree_off[t + 1] - m->tree_off[t];
		uint32_t *dp = depth + m->tree_off[t];
		for (uint32_t i = 0; i < cnt; i++)
			dp[i] = 0;
		for (uint32_t i = 0; i < cnt; i++) {
			if (nd[i].feat == LEAF) {
				leaves++;
				if (dp[i] > max_depth)
					max_depth = dp[i];
				continue;
			}
			dp[nd[i].left] = dp[nd[i].left + 1] = dp[i] + 1;
		}
	}
	ns_free(depth);
	return ns__buf_printf(b,
			      "{\"iterations\":%u,\"trees\":%zu,\"trees_per_iteration\":%u,"
			      "\"nodes\":%zu,\"leaves\":%zu,\"max_depth\":%zu,"
			      "\"learning_rate\":%.17g}",
			      m->n_iter, n_trees, m->tpi, m->n_nodes, leaves, max_depth, m->lr);
}

static const struct ns__family_ops gbdt_ops = {
	.fit = gbdt_fit,
	.predict_proba = gbdt_predict_proba,
	.predict_proba_multi = gbdt_predict_proba_multi,
	.n_estimators = gbdt_n_estimators,
	.feature_importance = gbdt_feature_importance,
	.save = gbdt_save,
	.load = gbdt_load,
	.describe = gbdt_describe,
	.free = gbdt_free,
};

static const char *const gbdt_aliases[] = {"gradient_boosting", "gb", "gbm", "gradientboosting",
					   NULL};

const struct ns_family ns__family_gbdt = {
	.name = "gbdt",
	.aliases = gbdt_aliases,
	.doc = "gradient-boosted trees on the log-loss (scikit-learn's "
	       "GradientBoostingClassifier, histogram split finding, missing values allowed)",
	.version = 1,
	.flags = 0,
	.params = gbdt_params,
	.n_params = P_COUNT,
	.prefix_param = "n_estimators",
	.ops = &gbdt_ops,
};
