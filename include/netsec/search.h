/*
 * include/netsec/search.h - model search: parameter grids and stratified
 * k-fold cross-validation over them, in parallel.
 *
 * Work is reused where the mathematics allows it and the results stay
 * identical: for a family with a prefix parameter (n_estimators of ensembles,
 * n_neighbors of kNN), the candidates that differ only in that parameter share
 * one fit per fold with its largest value, and each candidate is scored on
 * the matching prefix.  Candidates x folds run in parallel; results do not
 * depend on the number of threads.  Selection is by mean cross-validation
 * score only (never a test set).
 *
 * Threading: ns_search_run is reentrant; a grid or results object belongs to
 * one thread at a time.
 */
#ifndef NETSEC_SEARCH_H
#define NETSEC_SEARCH_H

#include "netsec/learn.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_GRID_MAX_AXES 8
#define NS_GRID_MAX_VALUES 64

struct ns_grid_axis {
	char name[64]; /* a parameter of the family */
	size_t n_values;
	double values[NS_GRID_MAX_VALUES]; /* as stored in ns_params (choices: index) */
};

struct ns_grid {
	const struct ns_family *family;
	struct ns_params base; /* values of the parameters not on an axis */
	size_t n_axes;
	struct ns_grid_axis axes[NS_GRID_MAX_AXES];
};

/*
 * The default grid of a family (the reference project's, with kNN added):
 * forest n_estimators {8,16,32,128,256}; tree criterion {gini,entropy,log_loss};
 * gbdt learning_rate {0.1,0.01,0.05,0.001} x subsample {0.6,0.7,0.75,0.85,0.9}
 * x n_estimators {8,16,32,64,128,256}; logreg defaults; adaboost
 * learning_rate {0.1,0.01,0.001} x n_estimators {8,...,256}; knn n_neighbors
 * {3,5,7,9,11} x weights {uniform,distance}.
 */
NS_API void ns_grid_default(struct ns_grid *g, const struct ns_family *f);
/*
 * Adds an axis from text values ("8,16,32" or "gini,entropy"), each checked
 * against the parameter table (NS_ERR_INVALID naming the bad value).
 * Replaces an existing axis of the same name.
 */
NS_API enum ns_status ns_grid_set_axis(struct ns_grid *g, const char *name, const char *values,
				       struct ns_diag *diag);
/** Number of candidates (product of the axis sizes; 1 with no axes). */
NS_API size_t ns_grid_size(const struct ns_grid *g);
/** The i-th candidate's parameters (axes vary last-axis fastest). */
NS_API void ns_grid_candidate(const struct ns_grid *g, size_t i, struct ns_params *out);
/** "n_estimators=128 learning_rate=0.1": p's values of the grid's axes ("(defaults)" with none). */
NS_API void ns_grid_axes_text(const struct ns_grid *g, const struct ns_params *p, char *buf,
			      size_t size);

/*
 * Reads grids from YAML:
 *   forest:
 *     n_estimators: [8, 16, 32]
 *     max_depth: [none, 10]
 *   gbdt: {learning_rate: [0.1], subsample: [0.8]}
 *   knn: {}                      # the family with its default parameters only
 * Family names may be aliases.  A family listed replaces that family's
 * default grid; OUT *grids (ns_free) holds one grid per family listed, in
 * file order.  Errors name the YAML line and column.
 */
NS_API enum ns_status ns_grids_load(const char *path, struct ns_grid **grids, size_t *n,
				    struct ns_diag *diag);

enum ns_scoring {
	NS_SCORE_F1 = 0, /* F1 of the threat (positive) class; macro F1 if none */
	NS_SCORE_ACCURACY,
	NS_SCORE_MACRO_F1,
	NS_SCORE_ROC_AUC,
	NS_SCORE_LOG_LOSS, /* negated, so that higher is better */
};
/** The value of `s` in computed metrics (F1 of the positive class, or macro F1 when none). */
NS_API double ns_metrics_score(const struct ns_metrics *m, enum ns_scoring s);
/** "f1", "accuracy", "macro_f1", "roc_auc", "neg_log_loss"; and the reverse lookup (-1 if unknown). */
NS_API const char *ns_scoring_name(enum ns_scoring s);
NS_API int ns_scoring_from_name(const char *name);

struct ns_search_progress {
	size_t tasks_done, tasks_total; /* fits (fold x candidate group) */
	size_t candidates_done, candidates_total;
	const char *family; /* of the task just finished */
	double elapsed; /* seconds */
};
/* Called from the thread that runs ns_search_run, after each finished task. */
typedef void (*ns_search_progress_fn)(void *user, const struct ns_search_progress *p);

struct ns_search_params {
	uint32_t cv; /* folds, default 3 (>= 2) */
	uint64_t seed; /* folds and fits; default 42 */
	enum ns_scoring scoring; /* default NS_SCORE_F1 */
	long positive; /* the threat class index, or -1 */
	int n_threads; /* 0: one per core */
	ns_search_progress_fn progress;
	void *progress_user;
};
NS_API struct ns_search_params ns_search_params_default(void);

struct ns_candidate_result {
	struct ns_params params;
	double mean_score, std_score; /* over folds (population std, as sklearn) */
	double *fold_scores; /* cv values; owned by the results */
	double fit_seconds; /* summed over folds (shared fits split evenly) */
	size_t rank; /* 1 = best of its family */
};

struct ns_family_result {
	const struct ns_family *family;
	size_t n_candidates;
	struct ns_candidate_result *candidates;
	size_t best; /* index of the best candidate */
};

struct ns_search_results {
	size_t n_families;
	struct ns_family_result *families;
	size_t best_family; /* index of the family whose best scored highest */
	double seconds;
	size_t n_fits; /* model fits actually run */
};

/*
 * Runs the search.  Errors: NS_ERR_INVALID (cv < 2, or a class has fewer
 * members than cv: the message names it), NS_ERR_SCHEMA (a family cannot take
 * the data, e.g. missing values: names the family), NS_ERR_NOMEM.  OUT
 * *results owned by the caller (ns_search_results_fini).
 */
NS_API enum ns_status ns_search_run(const struct ns_grid *grids, size_t n_grids,
				    const struct ns_dataset *train,
				    const struct ns_fit_options *fit,
				    const struct ns_search_params *p,
				    struct ns_search_results *results, struct ns_diag *diag);
NS_API void ns_search_results_fini(struct ns_search_results *r);

/*
 * Seeded stratified k-fold assignment: fold[i] in [0, k) for each row, each
 * class spread evenly over the folds.  Deterministic for (y, k, seed).
 */
NS_API enum ns_status ns_stratified_folds(const uint32_t *y, size_t n, uint32_t n_classes,
					  uint32_t k, uint64_t seed, uint32_t *fold);

#ifdef __cplusplus
}
#endif
#endif
