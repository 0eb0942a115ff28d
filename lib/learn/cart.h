/*
 * lib/learn/cart.h - the CART core shared by the tree and forest families:
 * training data prepared once per fit, growing one classification tree from
 * weighted rows, compact pre-order node arrays, batch prediction and the
 * tree payload format.
 *
 * The algorithm follows scikit-learn 1.2's DecisionTreeClassifier (dense
 * BestSplitter/RandomSplitter, DepthFirstTreeBuilder): features are seen as
 * float32 (as scikit-learn converts X), a split goes left when
 * x <= threshold, and thresholds are midpoints between neighbouring distinct
 * values.  A node is stored in 12 bytes; nodes are in pre-order, so the left
 * child of internal node i is i + 1 and only the right child is stored.
 *
 * Threading: ns__cart_data is read-only once built and may be shared by any
 * number of threads; a ns__cart_work belongs to one thread at a time.  A
 * grown ns__cart_tree is immutable and may be read by any number of threads.
 *
 * Errors: functions return NS_OK, NS_ERR_NOMEM, NS_ERR_INVALID (bad input
 * data), NS_ERR_LIMIT (more than 2^31 rows) or NS_ERR_CORRUPT (load).
 */
#ifndef NETSEC_LEARN_CART_H
#define NETSEC_LEARN_CART_H

#include "learn/family.h"

/*
 * A node as kept in memory, laid out for prediction (12 bytes):
 *  - internal: go to the left child (the next node, byte offset + 12) when
 *    key(x[feature]) <= key, else to the right child at byte offset `next`;
 *  - leaf: feature 0, key INT32_MIN (no input is <= it) and `next` its own
 *    offset, so a walk that reaches a leaf stays there without a branch.
 * key() maps a float32 to an int32 with the same order (ns__cart_key), so
 * the comparison is an integer one (cheap, and branch-free with cmov).
 * The model file keeps the plain form (ns__cart_tree_save).
 */
struct ns__cart_node {
	uint32_t feature;
	int32_t key;
	uint32_t next; /* byte offset of the right child, or of itself in a leaf */
};

struct ns__cart_tree {
	uint32_t n_nodes, n_leaves;
	uint32_t depth; /* longest root-to-leaf path in edges */
	struct ns__cart_node *nodes; /* n_nodes, pre-order; owned */
	uint32_t *leaf_of; /* n_nodes: leaf index of each leaf node; owned */
	double *leaf; /* n_leaves * n_classes probabilities; owned */
};

/* The feature of a leaf in the file form of a node (ns__cart_tree_save). */
#define NS__CART_LEAF UINT32_MAX

/* Most nodes a tree may have (byte offsets are 32-bit). */
#define NS__CART_MAX_NODES (UINT32_MAX / 12)

enum ns__cart_criterion { NS__CART_GINI = 0, NS__CART_ENTROPY = 1 };
enum ns__cart_splitter { NS__CART_BEST = 0, NS__CART_RANDOM = 1 };

struct ns__cart_config {
	enum ns__cart_criterion criterion;
	enum ns__cart_splitter splitter;
	uint32_t max_depth; /* UINT32_MAX: none */
	uint32_t min_samples_split; /* >= 2 */
	uint32_t min_samples_leaf; /* >= 1 */
	uint32_t max_features; /* 1 .. n_features */
	double min_impurity_decrease;
};

/*
 * Training data prepared once per fit: float32 columns, and per feature its
 * sorted distinct values and each row's rank among them (one byte when the
 * feature has at most 256 distinct values, else four).
 */
struct ns__cart_data {
	size_t n_rows, n_features;
	uint32_t n_classes;
	const uint32_t *y; /* borrowed from the dataset */
	float *xcol; /* n_features * n_rows, column-major */
	size_t *value_off; /* n_features + 1 offsets into `values` */
	float *values; /* sorted distinct values of every feature */
	uint8_t **code8; /* per feature: n_rows ranks, or NULL */
	uint32_t **code32; /* per feature: n_rows ranks (owned), or NULL */
	uint8_t *code_mem; /* storage behind code8 */
};

/*
 * Prepares `d` (n_rows < 2^31, no NaN, y < n_classes) for growing trees.
 * NS_ERR_INVALID names the first NaN or bad class; NS_ERR_NOMEM.
 */
enum ns_status ns__cart_data_init(struct ns__cart_data *cd, const struct ns_dataset *d,
				  struct ns_diag *diag);
void ns__cart_data_fini(struct ns__cart_data *cd);

/* Scratch space for growing trees, one per thread, reused across trees. */
struct ns__cart_work;
enum ns_status ns__cart_work_create(const struct ns__cart_data *cd, struct ns__cart_work **out);
void ns__cart_work_free(struct ns__cart_work *wk);

/*
 * Grows one tree on the rows whose weight w[row] is > 0 (rows with weight 0
 * do not exist for the tree, as in scikit-learn; counts such as
 * min_samples_leaf count rows, not weights).  `rng` draws the features and
 * random thresholds.  On success fills *out (ns__cart_tree_fini) and, when
 * `importance` is not NULL, writes the tree's normalised impurity-decrease
 * importances (n_features values summing to 1, or all 0 for a single leaf).
 * NS_ERR_INVALID when no row has a positive weight; NS_ERR_NOMEM.
 */
enum ns_status ns__cart_grow(struct ns__cart_work *wk, const struct ns__cart_data *cd,
			     const struct ns__cart_config *cfg, const double *w,
			     struct ns__rng *rng, struct ns__cart_tree *out, double *importance);
void ns__cart_tree_fini(struct ns__cart_tree *t);

/*
 * Uniform in [0, n) for n >= 1 (Lemire's multiply-shift with rejection: no
 * division in the common case, unlike ns__rng_below).
 */
static inline uint32_t ns__cart_rng_below(struct ns__rng *r, uint32_t n)
{
	uint64_t m = (ns__rng_next(r) >> 32) * (uint64_t)n;
	uint32_t low = (uint32_t)m;
	if (low < n) {
		uint32_t t = (uint32_t)(0u - n) % n;
		while (low < t) {
			m = (ns__rng_next(r) >> 32) * (uint64_t)n;
			low = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

/* Rounds a double to float32 as numpy does (overflow gives +-inf, no UB). */
float ns__cart_f32(double v);

/*
 * The int32 key of a float32 with the same order: -0 and +0 share a key and
 * every NaN becomes the largest key, so NaN inputs go right at every node
 * (as `NaN <= t` is false).
 */
static inline int32_t ns__cart_key(float f)
{
	uint32_t u;
	int32_t k;
	if (f == 0)
		f = 0.0f;
	memcpy(&u, &f, 4);
	if (f != f)
		u = 0x7fc00000u;
	u ^= (u >> 31) * 0x7fffffffu;
	memcpy(&k, &u, 4);
	return k;
}

/*
 * Mean class probabilities of `n_trees` trees for n rows of x (row-major
 * doubles, n_features columns) into out (n * n_classes).  Works tree by tree
 * over blocks of rows; large batches are split over threads (results do not
 * depend on the thread count).  Reads the trees only.
 */
void ns__cart_predict(const struct ns__cart_tree *trees, size_t n_trees, const double *x, size_t n,
		      size_t n_features, uint32_t n_classes, double *out);

/*
 * Out-of-bag sums: out[i * n_classes + c] = sum over the trees t with
 * inbag[t * n + i] == 0 of tree t's probability of class c for row i.
 * Uses n_threads threads.
 */
void ns__cart_oob_sum(const struct ns__cart_tree *trees, size_t n_trees, const double *x, size_t n,
		      size_t n_features, uint32_t n_classes, const uint8_t *inbag, int n_threads,
		      double *out);

/*
 * Tree payload: u32 n_nodes, u32 n_leaves, n_nodes * (u32 feature, u32
 * threshold bits, u32 next), n_leaves * n_classes f64 probabilities.  In a
 * pre-order layout, internal node i's left child is i + 1 and `next` is the
 * index of its right child; a leaf has feature 0xffffffff, threshold 0.0f
 * and `next` = its leaf index (leaves numbered in pre-order).  An input x
 * goes left when (float)x <= threshold.
 */
void ns__cart_tree_save(const struct ns__cart_tree *t, uint32_t n_classes, struct ns__wbuf *w);
/*
 * Reads and validates one tree: counts against the bytes left, the pre-order
 * shape (every child index in range, each node reached exactly once, no
 * cycles), feature indices < n_features, thresholds not NaN, leaf rows of
 * finite probabilities in [0, 1] summing to 1.  NS_ERR_CORRUPT with a
 * message naming `what` (e.g. "tree 3"); NS_ERR_NOMEM.
 */
enum ns_status ns__cart_tree_load(struct ns__rbuf *r, size_t n_features, uint32_t n_classes,
				  const char *what, struct ns__cart_tree *out,
				  struct ns_diag *diag);

/* Checks n importances: finite, >= 0, summing to 1 or all 0. */
bool ns__cart_importance_valid(const double *imp, size_t n);

/*
 * scikit-learn's max_features: NaN = all, -1 = sqrt, -2 = log2, a fraction
 * in (0, 1) of the features, or a count (capped at n_features).
 */
uint32_t ns__cart_max_features(double v, size_t n_features);

/*
 * scikit-learn's "balanced" class weights n / (n_present * count_k) from the
 * class of each row counted `count[row]` times (count NULL: once);
 * classes that do not occur get 0.  cw has n_classes values.
 */
void ns__cart_balanced_weights(const uint32_t *y, const uint32_t *count, size_t n_rows,
			       uint32_t n_classes, double *cw);

#endif
