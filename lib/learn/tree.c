/*
 * lib/learn/tree.c - the decision tree family (CART, as scikit-learn 1.2's
 * DecisionTreeClassifier), on the shared core in cart.c.
 *
 * Payload (version 1): the tree (see ns__cart_tree_save), then n_features
 * f64 feature importances.  Needs complete data (no NaN).
 *
 * Threading: fit is single-threaded (one tree); predict_proba only reads the
 * model and splits big batches over threads (see ns__cart_predict).
 */
#include <math.h>

#include "learn/cart.h"

struct tree_model {
	struct ns__cart_tree t;
	double *importance; /* n_features */
	size_t n_features;
	uint32_t n_classes;
};

enum {
	P_CRITERION,
	P_SPLITTER,
	P_MAX_DEPTH,
	P_MIN_SPLIT,
	P_MIN_LEAF,
	P_MAX_FEATURES,
	P_MIN_DECREASE,
	P_CLASS_WEIGHT
};

static const char *const criterion_choices[] = {"gini", "entropy", "log_loss", NULL};
static const char *const splitter_choices[] = {"best", "random", NULL};
static const char *const class_weight_choices[] = {"none", "balanced", NULL};

static const struct ns_param_def tree_params[] = {
	{"criterion", NS_PARAM_CHOICE, 0, 0, 0, criterion_choices, false,
	 "split quality: gini impurity, or entropy (log_loss is the same)"},
	{"splitter", NS_PARAM_CHOICE, 0, 0, 0, splitter_choices, false,
	 "best: the best threshold of each drawn feature; random: one random threshold each"},
	{"max_depth", NS_PARAM_INT, NAN, 1, 2147483647.0, NULL, true,
	 "maximum depth of the tree; none: grow until leaves are pure or too small"},
	{"min_samples_split", NS_PARAM_INT, 2, 2, 2147483647.0, NULL, false,
	 "minimum rows in a node to split it"},
	{"min_samples_leaf", NS_PARAM_INT, 1, 1, 2147483647.0, NULL, false,
	 "minimum rows in each child of a split"},
	{"max_features", NS_PARAM_FEATURES, NAN, 0, 0, NULL, false,
	 "features drawn per node: all, sqrt, log2, a count, or a fraction"},
	{"min_impurity_decrease", NS_PARAM_FLOAT, 0, 0, INFINITY, NULL, false,
	 "split only if the weighted impurity decrease is at least this"},
	{"class_weight", NS_PARAM_CHOICE, 0, 0, 0, class_weight_choices, false,
	 "none, or balanced: weight classes by n / (n_classes * count)"},
};

/* Fills the CART configuration shared with the forest from tree-style params. */
static void tree_config(const struct ns_params *p, size_t n_features, struct ns__cart_config *cfg)
{
	cfg->criterion = p->v[P_CRITERION] == 0 ? NS__CART_GINI : NS__CART_ENTROPY;
	cfg->splitter = p->v[P_SPLITTER] == 0 ? NS__CART_BEST : NS__CART_RANDOM;
	cfg->max_depth = isnan(p->v[P_MAX_DEPTH]) ? UINT32_MAX : (uint32_t)p->v[P_MAX_DEPTH];
	cfg->min_samples_split = (uint32_t)p->v[P_MIN_SPLIT];
	cfg->min_samples_leaf = (uint32_t)p->v[P_MIN_LEAF];
	cfg->max_features = ns__cart_max_features(p->v[P_MAX_FEATURES], n_features);
	cfg->min_impurity_decrease = p->v[P_MIN_DECREASE];
}

static void tree_free(void *impl)
{
	struct tree_model *m = impl;
	if (!m)
		return;
	ns__cart_tree_fini(&m->t);
	ns_free(m->importance);
	ns_free(m);
}

static enum ns_status tree_fit(const struct ns_params *p, const struct ns_dataset *d,
			       const struct ns_fit_options *o, void **impl, struct ns_diag *diag)
{
	struct ns__cart_config cfg;
	struct ns__cart_data cd = {0};
	struct ns__cart_work *wk = NULL;
	struct tree_model *m = NULL;
	struct ns__rng rng;
	double *w = NULL, *cw = NULL;
	bool any = false;
	enum ns_status st;

	tree_config(p, d->n_features, &cfg);
	st = ns__cart_data_init(&cd, d, diag);
	if (st != NS_OK)
		goto out;
	st = NS_ERR_NOMEM;
	w = ns_malloc((d->n_rows ? d->n_rows : 1) * sizeof(double));
	cw = ns_malloc((d->n_classes ? d->n_classes : 1) * sizeof(double));
	m = ns_calloc(1, sizeof(*m));
	if (!w || !cw || !m)
		goto out;
	m->n_features = d->n_features;
	m->n_classes = d->n_classes;
	m->importance = ns_calloc(d->n_features ? d->n_features : 1, sizeof(double));
	if (!m->importance)
		goto out;
	if (p->v[P_CLASS_WEIGHT] == 1)
		ns__cart_balanced_weights(d->y, NULL, d->n_rows, d->n_classes, cw);
	for (size_t i = 0; i < d->n_rows; i++) {
		double sw = d->weight ? d->weight[i] : 1.0;
		if (!(sw >= 0) || isinf(sw)) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "row %zu has sample weight %g; weights must be finite "
					 "and >= 0",
					 i, sw);
			goto out;
		}
		w[i] = p->v[P_CLASS_WEIGHT] == 1 ? sw * cw[d->y[i]] : sw;
		any |= w[i] > 0;
	}
	if (!any) {
		st = ns_diag_set(diag, NS_ERR_INVALID, "no training row has a positive weight");
		goto out;
	}
	st = ns__cart_work_create(&cd, &wk);
	if (st != NS_OK)
		goto out;
	ns__rng_seed(&rng, o->seed, 0);
	st = ns__cart_grow(wk, &cd, &cfg, w, &rng, &m->t, m->importance);
	if (st == NS_ERR_INVALID)
		ns_diag_set(diag, st, "the training weights sum to infinity");
out:
	if (st == NS_ERR_NOMEM)
		ns_diag_set(diag, st, "out of memory while growing a tree");
	ns__cart_work_free(wk);
	ns__cart_data_fini(&cd);
	ns_free(w);
	ns_free(cw);
	if (st != NS_OK) {
		tree_free(m);
		return st;
	}
	*impl = m;
	return NS_OK;
}

static void tree_predict_proba(const void *impl, const double *x, size_t n, size_t n_features,
			       uint32_t n_classes, size_t n_estimators, double *out)
{
	const struct tree_model *m = impl;
	(void)n_estimators;
	ns__cart_predict(&m->t, 1, x, n, n_features, n_classes, out);
}

static size_t tree_n_estimators(const void *impl)
{
	(void)impl;
	return 1;
}

static void tree_feature_importance(const void *impl, size_t n_features, double *out)
{
	const struct tree_model *m = impl;
	for (size_t j = 0; j < n_features; j++)
		out[j] = j < m->n_features ? m->importance[j] : 0;
}

static enum ns_status tree_save(const void *impl, struct ns__wbuf *w)
{
	const struct tree_model *m = impl;
	ns__cart_tree_save(&m->t, m->n_classes, w);
	ns__w_f64s(w, m->importance, m->n_features);
	return w->failed ? NS_ERR_NOMEM : NS_OK;
}

static enum ns_status tree_load(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
				uint32_t n_classes, void **impl, struct ns_diag *diag)
{
	struct tree_model *m = ns_calloc(1, sizeof(*m));
	enum ns_status st;
	if (!m)
		return NS_ERR_NOMEM;
	m->n_features = n_features;
	m->n_classes = n_classes;
	st = ns__cart_tree_load(r, n_features, n_classes, "tree", &m->t, diag);
	if (st != NS_OK)
		goto out;
	if (!isnan(p->v[P_MAX_DEPTH]) && m->t.depth > p->v[P_MAX_DEPTH]) {
		st = ns_diag_set(diag, NS_ERR_CORRUPT, "tree: depth %u exceeds max_depth %.0f",
				 m->t.depth, p->v[P_MAX_DEPTH]);
		goto out;
	}
	m->importance = ns__r_f64s(r, n_features);
	if (!m->importance) {
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "tree: the feature importances are truncated");
		goto out;
	}
	if (!ns__cart_importance_valid(m->importance, n_features)) {
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "tree: feature importances are not in [0, 1] summing to 1");
		goto out;
	}
	st = NS_OK;
out:
	if (st != NS_OK) {
		tree_free(m);
		return st;
	}
	*impl = m;
	return NS_OK;
}

static enum ns_status tree_describe(const void *impl, struct ns__buf *b)
{
	const struct tree_model *m = impl;
	return ns__buf_printf(b, "{\"nodes\":%u,\"leaves\":%u,\"depth\":%u}", m->t.n_nodes,
			      m->t.n_leaves, m->t.depth);
}

static const struct ns__family_ops tree_ops = {
	.fit = tree_fit,
	.predict_proba = tree_predict_proba,
	.n_estimators = tree_n_estimators,
	.feature_importance = tree_feature_importance,
	.save = tree_save,
	.load = tree_load,
	.describe = tree_describe,
	.free = tree_free,
};

static const char *const tree_aliases[] = {"decision_tree", "dt", "cart", NULL};

const struct ns_family ns__family_tree = {
	.name = "tree",
	.aliases = tree_aliases,
	.doc = "decision tree (CART, as scikit-learn's DecisionTreeClassifier)",
	.version = 1,
	.flags = NS__FAMILY_NEEDS_COMPLETE,
	.params = tree_params,
	.n_params = sizeof(tree_params) / sizeof(tree_params[0]),
	.prefix_param = NULL,
	.ops = &tree_ops,
};
