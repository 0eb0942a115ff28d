/*
 * include/netsec/pipeline.h - the training pipeline: ingestion -> validation
 * and drift -> preparation -> model selection -> registry and tracking.
 *
 * ns_train_run() is the whole of `netsec train` (and, later, the server's
 * /train); the CLI only parses options and shows progress.  Each run gets a
 * unique id (UTC timestamp and a random suffix) and a folder
 * ARTIFACTS/<run>/ holding every stage's output (docs/pipeline.md):
 *
 *   run.status                           running <pid> | finished | failed: why
 *   data_ingestion/feature_store/<name>.csv
 *   data_ingestion/ingested/{train,test}.csv
 *   data_validation/{validated,invalid}/  valid rows / rejected rows with reasons
 *   data_validation/drift_report/report.yaml
 *   data_transformation/transformed/{train,test}.npy, {train,test}_labels.npy
 *   data_transformation/preprocessor.bin
 *   model_trainer/model.nsm, model_trainer/report.json
 *
 * Smaller pieces are public too: the stratified split with its leakage
 * count, and the drift report (also `netsec drift`).
 *
 * Threading: ns_train_run may run in any thread; two runs may run at once
 * (in one process or several) and never share a folder or a version.
 */
#ifndef NETSEC_PIPELINE_H
#define NETSEC_PIPELINE_H

#include "netsec/frame.h"
#include "netsec/schema.h"
#include "netsec/search.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- split and leakage -------------------------------------------------------- */

/*
 * Exact-duplicate detection: OUT *keep (ns_free) lists the rows that do not
 * repeat an earlier row in every column (label included), in order; *n_keep
 * their count.
 */
NS_API enum ns_status ns_frame_unique_rows(const struct ns_frame *f, size_t **keep, size_t *n_keep);

/*
 * Seeded stratified split of `n` rows with class index y[i] (`rows` NULL: rows
 * 0..n-1, else the listed frame rows): each class contributes round(share *
 * test_fraction) rows to the test set, at least one when it has two or more
 * members.  OUT *train and *test (ns_free) hold frame row indices in
 * increasing order.  NS_ERR_INVALID for a fraction outside (0, 1) or a split
 * leaving either side empty.
 */
NS_API enum ns_status ns_split_stratified(const uint32_t *y, const size_t *rows, size_t n,
					  uint32_t n_classes, double test_fraction, uint64_t seed,
					  size_t **train, size_t *n_train, size_t **test,
					  size_t *n_test, struct ns_diag *diag);

/*
 * Leakage: how many `test` rows equal (in every column but `ignore_col`, -1
 * for none) some `train` row of the same frame.
 */
NS_API enum ns_status ns_split_leakage(const struct ns_frame *f, const size_t *train,
				       size_t n_train, const size_t *test, size_t n_test,
				       long ignore_col, size_t *leaked);

/* ---- drift ------------------------------------------------------------------------- */

struct ns_drift_column {
	const char *name; /* borrowed from the schema */
	const char *test; /* "ks" (numeric) or "chi2" (categorical) */
	const char *method; /* "exact", "asymp" (ks) or "pearson"/"yates" (chi2) */
	double statistic, p_value;
	size_t n_reference, n_current; /* values compared (missing ones left out) */
	bool drift; /* p_value < threshold */
	bool skipped; /* nothing to compare (a side all missing) */
};

struct ns_drift_report {
	double threshold;
	size_t n_columns;
	struct ns_drift_column *columns;
	size_t n_drifted;
};

/*
 * Compares every feature column of the schema (not the target, not ignored
 * ones) between `reference` and `current`: two-sample Kolmogorov-Smirnov for
 * numeric columns (p-values as scipy.stats.ks_2samp, method 'auto'),
 * chi-square test of independence on the level counts for categorical ones.
 * NS_ERR_SCHEMA naming a column missing from either frame.
 */
NS_API enum ns_status ns_drift_compare(const struct ns_schema *s, const struct ns_frame *reference,
				       const struct ns_frame *current, double threshold,
				       struct ns_drift_report *out, struct ns_diag *diag);
NS_API void ns_drift_report_fini(struct ns_drift_report *r);
/* The report as YAML (drift_status, threshold, one entry per column). ns_free. */
NS_API enum ns_status ns_drift_report_yaml(const struct ns_drift_report *r, char **out,
					   size_t *len);

/* ---- the training run --------------------------------------------------------------- */

enum ns_train_stage {
	NS_STAGE_INGESTION = 0,
	NS_STAGE_VALIDATION,
	NS_STAGE_TRANSFORMATION,
	NS_STAGE_SEARCH,
	NS_STAGE_EVALUATION,
	NS_STAGE_REGISTRY,
	NS_STAGE_COUNT_
};
NS_API const char *ns_train_stage_name(enum ns_train_stage s);

struct ns_train_progress {
	enum ns_train_stage stage;
	const char *detail; /* what the stage is doing now, or NULL */
	const char *family; /* search: the family of the task just finished */
	size_t done, total; /* search: fits done of total; else 0, 0 */
	double elapsed; /* seconds since the run started */
};
typedef void (*ns_train_progress_fn)(void *user, const struct ns_train_progress *p);

struct ns_train_config {
	/* Data: a CSV file (with `schema_path`), or a store collection. */
	const char *csv_path; /* NULL: read `collection` from the store */
	const char *store_uri; /* NULL: NS_STORE_DEFAULT_URI */
	const char *collection; /* NULL: the schema's name */
	const char *schema_path; /* NULL: the collection's stored schema */
	/* Outputs. */
	const char *artifacts_dir; /* default "artifacts" */
	const char *registry_dir; /* default "models" */
	const char *model_name; /* default "netsec" */
	const char *tracking_uri; /* NULL: $MLFLOW_TRACKING_URI or ./mlruns; "" off */
	const char *experiment; /* default "netsec" */
	/* Split. */
	double test_fraction; /* default 0.2 */
	bool dedup; /* drop exact duplicate rows before the split */
	uint64_t seed; /* split, folds and fits; default 42 */
	/* Validation. */
	double drift_threshold; /* p-value below which a column drifted; 0.05 */
	bool fail_on_drift; /* a drifted column fails the run (default: reported) */
	/* Preparation. */
	unsigned impute_neighbors; /* KNNImputer k; default 3 */
	/* Selection. */
	const struct ns_grid *grids; /* NULL: every family's default grid */
	size_t n_grids;
	uint32_t cv; /* default 3 */
	enum ns_scoring scoring; /* default F1 of the threat class */
	double expected_score; /* winner's test score must reach it; 0.6 */
	double overfit_threshold; /* train - test score above it is flagged; 0.05 */
	bool force; /* promote even if not better than the current model */
	int n_threads; /* 0: one per core */
	ns_train_progress_fn progress;
	void *progress_user;
};
NS_API struct ns_train_config ns_train_config_default(void);

struct ns_train_family {
	const struct ns_family *family;
	char params[512]; /* best candidate, "k=v,k=v" (every parameter) */
	char axes[256]; /* the best values of the grid's axes, "k=v k=v" */
	double cv_mean, cv_std;
	size_t n_candidates;
	double test_score; /* the selection score on the test split */
	double test_accuracy, test_precision, test_recall, test_f1, test_roc_auc;
	double fit_seconds;
};

struct ns_train_result {
	char run_id[64];
	char run_dir[4096];
	char model_path[4096]; /* model_trainer/model.nsm */
	char report_path[4096];
	char tracking_run_id[64]; /* the parent MLflow run, or "" */
	size_t n_rows, n_train, n_test, n_duplicates, n_leaked;
	size_t n_drifted;
	size_t n_families;
	struct ns_train_family families[16];
	size_t winner; /* index into families */
	double train_score, test_score;
	bool overfit; /* train - test > overfit_threshold */
	bool gate_passed; /* test_score >= expected_score */
	unsigned version; /* registry version added, 0 if none */
	bool promoted;
	unsigned previous_version; /* current before the run, 0 if none */
	double previous_score; /* its score on this run's test split, NaN if unknown */
	char promotion_reason[256];
	double seconds;
};

/*
 * Runs the pipeline.  On failure the run folder stays with run.status saying
 * why, the tracking run is marked FAILED, nothing is promoted, and `diag`
 * names the stage.  Errors: NS_ERR_NOTFOUND (empty store / no such
 * collection), NS_ERR_SCHEMA (schema check failed; one class; a column
 * entirely missing), NS_ERR_ABORTED (the expected-score gate or
 * fail_on_drift stopped the run: the model is kept in the run folder but not
 * registered), NS_ERR_IO (a write failed, e.g. a full disk), NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_train_run(const struct ns_train_config *c, struct ns_train_result *out,
				   struct ns_diag *diag);

/*
 * Marks runs of ARTIFACTS whose run.status still says "running" but whose
 * process is gone as "failed: interrupted" (called by ns_train_run first).
 * *reaped may be NULL.
 */
NS_API enum ns_status ns_train_reap(const char *artifacts_dir, size_t *reaped,
				    struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
