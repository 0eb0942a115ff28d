/*
 * lib/learn/forest.c - the random forest family (scikit-learn 1.2's
 * RandomForestClassifier), on the shared CART core in cart.c.
 *
 * Each tree is grown on a bootstrap sample drawn as scikit-learn does
 * (max_samples row indices with replacement; the draw counts become row
 * weights, undrawn rows do not exist for the tree) with max_features
 * features tried per node.  The forest's probability is the mean of the
 * trees' leaf probabilities (soft voting).  Tree t draws from the random
 * stream (seed, t) only, so a forest of n trees is exactly the first n
 * trees of a bigger forest with the same seed (prefix scoring), and the
 * model does not depend on the number of threads.
 *
 * Payload (version 1): u32 n_trees, u8 has_oob, f64 oob_score (0 when not
 * computed), n_features f64 importances, then the trees (ns__cart_tree_save).
 *
 * Threading: fit grows trees in parallel (OpenMP over trees, one workspace
 * per thread); predict_proba only reads the model and splits big batches
 * over threads.
 */
#include <math.h>

#include "learn/cart.h"

struct forest_model {
	size_t n_trees;
	struct ns__cart_tree *trees;
	double *importance; /* n_features */
	size_t n_features;
	uint32_t n_classes;
	bool has_oob;
	double oob_score;
};

enum {
	P_N_ESTIMATORS,
	P_CRITERION,
	P_MAX_DEPTH,
	P_MIN_SPLIT,
	P_MIN_LEAF,
	P_MAX_FEATURES,
	P_BOOTSTRAP,
	P_OOB_SCORE,
	P_MAX_SAMPLES,
	P_CLASS_WEIGHT
};
enum { CW_NONE, CW_BALANCED, CW_BALANCED_SUBSAMPLE };

#define MAX_TREES 10000

static const char *const criterion_choices[] = {"gini", "entropy", "log_loss", NULL};
static const char *const class_weight_choices[] = {"none", "balanced", "balanced_subsample", NULL};

static const struct ns_param_def forest_params[] = {
	{"n_estimators", NS_PARAM_INT, 100, 1, MAX_TREES, NULL, false, "number of trees"},
	{"criterion", NS_PARAM_CHOICE, 0, 0, 0, criterion_choices, false,
	 "split quality: gini impurity, or entropy (log_loss is the same)"},
	{"max_depth", NS_PARAM_INT, NAN, 1, 2147483647.0, NULL, true,
	 "maximum depth of each tree; none: grow until leaves are pure or too small"},
	{"min_samples_split", NS_PARAM_INT, 2, 2, 2147483647.0, NULL, false,
	 "minimum rows in a node to split it"},
	{"min_samples_leaf", NS_PARAM_INT, 1, 1, 2147483647.0, NULL, false,
	 "minimum rows in each child of a split"},
	{"max_features", NS_PARAM_FEATURES, -1, 0, 0, NULL, false,
	 "features drawn per node: sqrt, log2, all, a count, or a fraction"},
	{"bootstrap", NS_PARAM_BOOL, 1, 0, 1, NULL, false,
	 "grow each tree on a bootstrap sample (else on all rows)"},
	{"oob_score", NS_PARAM_BOOL, 0, 0, 1, NULL, false,
	 "compute the out-of-bag accuracy at fit (needs bootstrap)"},
	{"max_samples", NS_PARAM_FLOAT, NAN, 0, 1, NULL, true,
	 "bootstrap sample size as a fraction of the rows in (0, 1]; none: all rows"},
	{"class_weight", NS_PARAM_CHOICE, 0, 0, 0, class_weight_choices, false,
	 "none, balanced (n / (n_classes * count)), or balanced_subsample (per bootstrap)"},
};

static void forest_free(void *impl)
{
	struct forest_model *m = impl;
	if (!m)
		return;
	if (m->trees)
		for (size_t t = 0; t < m->n_trees; t++)
			ns__cart_tree_fini(&m->trees[t]);
	ns_free(m->trees);
	ns_free(m->importance);
	ns_free(m);
}

/*
 * scikit-learn's oob_score_: accuracy of the argmax (first on ties) of the
 * summed probabilities of the trees that did not draw the row; a row drawn
 * by every tree predicts class 0.  sum is n_rows * n_classes scratch.
 */
static double oob_accuracy(const struct forest_model *m, const struct ns_dataset *d,
			   const uint8_t *inbag, double *sum, int n_threads)
{
	size_t n = d->n_rows, correct = 0;
	uint32_t k = d->n_classes;

	ns__cart_oob_sum(m->trees, m->n_trees, d->x, n, d->n_features, k, inbag, n_threads, sum);
	for (size_t i = 0; i < n; i++) {
		const double *s = sum + i * k;
		double best = -1;
		uint32_t arg = 0;
		for (uint32_t c = 0; c < k; c++)
			if (s[c] > best) {
				best = s[c];
				arg = c;
			}
		correct += arg == d->y[i];
	}
	return n ? (double)correct / (double)n : 0;
}

static enum ns_status forest_fit(const struct ns_params *p, const struct ns_dataset *d,
				 const struct ns_fit_options *o, void **impl, struct ns_diag *diag)
{
	struct ns__cart_config cfg;
	struct ns__cart_data cd = {0};
	struct forest_model *m = NULL;
	size_t n = d->n_rows, nf = d->n_features, n_trees = (size_t)p->v[P_N_ESTIMATORS];
	uint32_t k = d->n_classes;
	int cw_mode = (int)p->v[P_CLASS_WEIGHT], nt;
	bool bootstrap = p->v[P_BOOTSTRAP] != 0, oob = p->v[P_OOB_SCORE] != 0, any = false;
	double ms = p->v[P_MAX_SAMPLES], *base_w = NULL, *cw = NULL, *imps = NULL;
	size_t n_boot = n;
	enum ns_status st, *tree_st = NULL;
	uint8_t *inbag = NULL;

	if (!bootstrap && oob)
		return ns_diag_set(
			diag, NS_ERR_INVALID,
			"oob_score=true needs bootstrap=true (out-of-bag rows exist only "
			"with bootstrap samples)");
	if (!bootstrap && !isnan(ms))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "max_samples needs bootstrap=true; set max_samples=none");
	if (!isnan(ms) && !(ms > 0))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "max_samples must be a fraction in (0, 1] or none");
	if (bootstrap && !isnan(ms)) {
		double b = nearbyint((double)n * ms); /* Python's round: half to even */
		n_boot = b < 1 ? 1 : (size_t)b;
	}
	/* balanced_subsample without bootstrap is balanced, as in scikit-learn. */
	if (cw_mode == CW_BALANCED_SUBSAMPLE && !bootstrap)
		cw_mode = CW_BALANCED;

	cfg.criterion = p->v[P_CRITERION] == 0 ? NS__CART_GINI : NS__CART_ENTROPY;
	cfg.splitter = NS__CART_BEST;
	cfg.max_depth = isnan(p->v[P_MAX_DEPTH]) ? UINT32_MAX : (uint32_t)p->v[P_MAX_DEPTH];
	cfg.min_samples_split = (uint32_t)p->v[P_MIN_SPLIT];
	cfg.min_samples_leaf = (uint32_t)p->v[P_MIN_LEAF];
	cfg.max_features = ns__cart_max_features(p->v[P_MAX_FEATURES], nf);
	cfg.min_impurity_decrease = 0;

	st = ns__cart_data_init(&cd, d, diag);
	if (st != NS_OK)
		goto out;
	st = NS_ERR_NOMEM;
	m = ns_calloc(1, sizeof(*m));
	base_w = ns_malloc((n ? n : 1) * sizeof(double));
	cw = ns_malloc((k ? k : 1) * sizeof(double));
	imps = ns_calloc(n_trees * (nf ? nf : 1), sizeof(double));
	tree_st = ns_malloc(n_trees * sizeof(*tree_st));
	if (oob && n_trees > SIZE_MAX / (n ? n : 1))
		goto out;
	inbag = oob ? ns_malloc(n_trees * (n ? n : 1)) : NULL;
	if (!m || !base_w || !cw || !imps || !tree_st || (oob && !inbag))
		goto out;
	m->n_features = nf;
	m->n_classes = k;
	m->trees = ns_calloc(n_trees, sizeof(*m->trees));
	m->importance = ns_calloc(nf ? nf : 1, sizeof(double));
	if (!m->trees || !m->importance)
		goto out;
	m->n_trees = n_trees;

	if (cw_mode == CW_BALANCED)
		ns__cart_balanced_weights(d->y, NULL, n, k, cw);
	for (size_t i = 0; i < n; i++) {
		double sw = d->weight ? d->weight[i] : 1.0;
		if (!(sw >= 0) || isinf(sw)) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "row %zu has sample weight %g; weights must be finite "
					 "and >= 0",
					 i, sw);
			goto out;
		}
		base_w[i] = cw_mode == CW_BALANCED ? sw * cw[d->y[i]] : sw;
		any |= base_w[i] > 0;
	}
	if (!any) {
		st = ns_diag_set(diag, NS_ERR_INVALID, "no training row has a positive weight");
		goto out;
	}

	nt = ns__threads(o->n_threads);
	if ((size_t)nt > n_trees)
		nt = (int)n_trees;
#pragma omp parallel num_threads(nt)
	{
		struct ns__cart_work *wk = NULL;
		double *w = ns_malloc((n ? n : 1) * sizeof(double));
		uint32_t *count = ns_malloc((n ? n : 1) * sizeof(uint32_t));
		double *cw_sub = ns_malloc((k ? k : 1) * sizeof(double));
		bool ready = w && count && cw_sub && ns__cart_work_create(&cd, &wk) == NS_OK;
		long n_trees_l = (long)n_trees;

#pragma omp for schedule(dynamic, 1)
		for (long tl = 0; tl < n_trees_l; tl++) {
			size_t t = (size_t)tl;
			struct ns__rng rng;
			if (!ready) {
				tree_st[t] = NS_ERR_NOMEM;
				continue;
			}
			ns__rng_seed(&rng, o->seed, t);
			if (bootstrap) {
				memset(count, 0, n * sizeof(uint32_t));
				for (size_t i = 0; i < n_boot; i++)
					count[ns__cart_rng_below(&rng, (uint32_t)n)]++;
				if (cw_mode == CW_BALANCED_SUBSAMPLE)
					ns__cart_balanced_weights(d->y, count, n, k, cw_sub);
				for (size_t i = 0; i < n; i++) {
					w[i] = base_w[i] * (double)count[i];
					if (cw_mode == CW_BALANCED_SUBSAMPLE)
						w[i] *= cw_sub[d->y[i]];
				}
				if (inbag)
					for (size_t i = 0; i < n; i++)
						inbag[t * n + i] = count[i] > 0;
			} else {
				memcpy(w, base_w, n * sizeof(double));
			}
			tree_st[t] =
				ns__cart_grow(wk, &cd, &cfg, w, &rng, &m->trees[t], imps + t * nf);
		}
		ns__cart_work_free(wk);
		ns_free(w);
		ns_free(count);
		ns_free(cw_sub);
	}
	for (size_t t = 0; t < n_trees; t++)
		if (tree_st[t] != NS_OK) {
			st = tree_st[t];
			if (st == NS_ERR_INVALID)
				/* Every drawn row had weight 0 (e.g. zero sample weights). */
				ns_diag_set(diag, st,
					    "tree %zu: its bootstrap sample has no row with a "
					    "positive weight",
					    t);
			goto out;
		}

	/* scikit-learn: the mean of the trees' normalised importances over trees
	 * that split at least once, normalised again. */
	{
		size_t used = 0;
		double sum = 0;
		for (size_t t = 0; t < n_trees; t++) {
			if (m->trees[t].n_nodes <= 1)
				continue;
			used++;
			for (size_t j = 0; j < nf; j++)
				m->importance[j] += imps[t * nf + j];
		}
		for (size_t j = 0; j < nf; j++) {
			m->importance[j] = used ? m->importance[j] / (double)used : 0;
			sum += m->importance[j];
		}
		if (sum > 0)
			for (size_t j = 0; j < nf; j++)
				m->importance[j] /= sum;
	}
	if (oob) {
		double *sum = ns_malloc((n ? n : 1) * k * sizeof(double));
		if (!sum)
			goto out;
		m->has_oob = true;
		m->oob_score = oob_accuracy(m, d, inbag, sum, nt);
		ns_free(sum);
	}
	st = NS_OK;
out:
	if (st == NS_ERR_NOMEM)
		ns_diag_set(diag, st, "out of memory while growing the forest");
	ns__cart_data_fini(&cd);
	ns_free(base_w);
	ns_free(cw);
	ns_free(imps);
	ns_free(tree_st);
	ns_free(inbag);
	if (st != NS_OK) {
		forest_free(m);
		return st;
	}
	*impl = m;
	return NS_OK;
}

static void forest_predict_proba(const void *impl, const double *x, size_t n, size_t n_features,
				 uint32_t n_classes, size_t n_estimators, double *out)
{
	const struct forest_model *m = impl;
	size_t use = n_estimators == 0 || n_estimators > m->n_trees ? m->n_trees : n_estimators;
	ns__cart_predict(m->trees, use, x, n, n_features, n_classes, out);
}

static size_t forest_n_estimators(const void *impl)
{
	const struct forest_model *m = impl;
	return m->n_trees;
}

static void forest_feature_importance(const void *impl, size_t n_features, double *out)
{
	const struct forest_model *m = impl;
	for (size_t j = 0; j < n_features; j++)
		out[j] = j < m->n_features ? m->importance[j] : 0;
}

static enum ns_status forest_save(const void *impl, struct ns__wbuf *w)
{
	const struct forest_model *m = impl;
	ns__w_u32(w, (uint32_t)m->n_trees);
	ns__w_u8(w, m->has_oob ? 1 : 0);
	ns__w_f64(w, m->has_oob ? m->oob_score : 0.0);
	ns__w_f64s(w, m->importance, m->n_features);
	for (size_t t = 0; t < m->n_trees; t++)
		ns__cart_tree_save(&m->trees[t], m->n_classes, w);
	return w->failed ? NS_ERR_NOMEM : NS_OK;
}

static enum ns_status forest_load(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
				  uint32_t n_classes, void **impl, struct ns_diag *diag)
{
	struct forest_model *m = ns_calloc(1, sizeof(*m));
	uint32_t n_trees;
	uint8_t has_oob;
	enum ns_status st = NS_ERR_CORRUPT;

	if (!m)
		return NS_ERR_NOMEM;
	m->n_features = n_features;
	m->n_classes = n_classes;
	n_trees = ns__r_u32(r);
	has_oob = ns__r_u8(r);
	m->oob_score = ns__r_f64(r);
	if (r->bad) {
		ns_diag_set(diag, st, "forest: the payload is truncated");
		goto out;
	}
	if (n_trees < 1 || n_trees > MAX_TREES || n_trees != p->v[P_N_ESTIMATORS]) {
		ns_diag_set(diag, st, "forest: %u trees, expected n_estimators = %.0f", n_trees,
			    p->v[P_N_ESTIMATORS]);
		goto out;
	}
	if (has_oob > 1 || (has_oob != 0) != (p->v[P_OOB_SCORE] != 0) ||
	    !(m->oob_score >= 0 && m->oob_score <= 1) ||
	    (!has_oob && (m->oob_score != 0 || signbit(m->oob_score)))) {
		ns_diag_set(diag, st, "forest: bad out-of-bag score record");
		goto out;
	}
	m->has_oob = has_oob;
	m->importance = ns__r_f64s(r, n_features);
	if (!m->importance) {
		ns_diag_set(diag, st, "forest: the feature importances are truncated");
		goto out;
	}
	if (!ns__cart_importance_valid(m->importance, n_features)) {
		ns_diag_set(diag, st, "forest: feature importances are not in [0, 1] summing to 1");
		goto out;
	}
	/* Each tree takes at least 8 + 12 + 8 * n_classes bytes. */
	if (n_classes == 0 || n_trees > (r->len - r->off) / (20 + 8 * (size_t)n_classes)) {
		ns_diag_set(diag, st, "forest: %u trees do not fit the payload", n_trees);
		goto out;
	}
	m->trees = ns_calloc(n_trees, sizeof(*m->trees));
	if (!m->trees) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	m->n_trees = n_trees;
	for (uint32_t t = 0; t < n_trees; t++) {
		char what[32];
		snprintf(what, sizeof(what), "forest tree %u", t);
		st = ns__cart_tree_load(r, n_features, n_classes, what, &m->trees[t], diag);
		if (st != NS_OK)
			goto out;
		if (!isnan(p->v[P_MAX_DEPTH]) && m->trees[t].depth > p->v[P_MAX_DEPTH]) {
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "forest tree %u: depth %u exceeds max_depth %.0f", t,
					 m->trees[t].depth, p->v[P_MAX_DEPTH]);
			goto out;
		}
	}
	st = NS_OK;
out:
	if (st != NS_OK) {
		forest_free(m);
		return st;
	}
	*impl = m;
	return NS_OK;
}

static enum ns_status forest_describe(const void *impl, struct ns__buf *b)
{
	const struct forest_model *m = impl;
	uint64_t nodes = 0, leaves = 0, depth_sum = 0;
	uint32_t depth_max = 0;
	char num[40];
	for (size_t t = 0; t < m->n_trees; t++) {
		nodes += m->trees[t].n_nodes;
		leaves += m->trees[t].n_leaves;
		depth_sum += m->trees[t].depth;
		depth_max = m->trees[t].depth > depth_max ? m->trees[t].depth : depth_max;
	}
	ns_format_double(m->n_trees ? (double)depth_sum / (double)m->n_trees : 0, num, sizeof(num));
	if (m->has_oob) {
		char oob[40];
		ns_format_double(m->oob_score, oob, sizeof(oob));
		return ns__buf_printf(b,
				      "{\"trees\":%zu,\"nodes\":%llu,\"leaves\":%llu,"
				      "\"max_depth\":%u,\"mean_depth\":%s,\"oob_score\":%s}",
				      m->n_trees, (unsigned long long)nodes,
				      (unsigned long long)leaves, depth_max, num, oob);
	}
	return ns__buf_printf(b,
			      "{\"trees\":%zu,\"nodes\":%llu,\"leaves\":%llu,\"max_depth\":%u,"
			      "\"mean_depth\":%s,\"oob_score\":null}",
			      m->n_trees, (unsigned long long)nodes, (unsigned long long)leaves,
			      depth_max, num);
}

static const struct ns__family_ops forest_ops = {
	.fit = forest_fit,
	.predict_proba = forest_predict_proba,
	.n_estimators = forest_n_estimators,
	.feature_importance = forest_feature_importance,
	.save = forest_save,
	.load = forest_load,
	.describe = forest_describe,
	.free = forest_free,
};

static const char *const forest_aliases[] = {"random_forest", "rf", "randomforest", NULL};

const struct ns_family ns__family_forest = {
	.name = "forest",
	.aliases = forest_aliases,
	.doc = "random forest (as scikit-learn's RandomForestClassifier): bootstrap trees, "
	       "mean probability",
	.version = 1,
	.flags = NS__FAMILY_NEEDS_COMPLETE,
	.params = forest_params,
	.n_params = sizeof(forest_params) / sizeof(forest_params[0]),
	.prefix_param = "n_estimators",
	.ops = &forest_ops,
};
