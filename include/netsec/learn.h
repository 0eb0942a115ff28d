/*
 * include/netsec/learn.h - classifier families, their parameters, trained
 * models, metrics and the model file.
 *
 * A family (logreg, tree, forest, knn, adaboost, gbdt) is a descriptor with a
 * parameter table and a table of operations; ns_family_find() looks one up by
 * name or alias.  Parameters are validated against the table before any work.
 * A trained model is immutable: any number of threads may predict with it at
 * once.  Training is deterministic under a seed: the same seed and data give a
 * byte-identical model file, whatever the number of threads.
 *
 * Data for learning is a dense row-major matrix of doubles (NaN = missing)
 * and a class index per row (0 .. n_classes-1).  The mapping between class
 * indices and the dataset's own label values is kept in the model
 * (ns_model_class_label), so outputs always speak the dataset's labels.
 */
#ifndef NETSEC_LEARN_H
#define NETSEC_LEARN_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data ------------------------------------------------------------------ */

struct ns_dataset {
	size_t n_rows;
	size_t n_features;
	const double *x; /* n_rows * n_features, row-major; NaN = missing */
	const uint32_t *y; /* class index per row (< n_classes); NULL to predict */
	uint32_t n_classes; /* >= 2 for training */
	const double *weight; /* per-row sample weight, or NULL for 1 */
};

/* ---- parameters -------------------------------------------------------------- */

enum ns_param_type {
	NS_PARAM_INT = 0,
	NS_PARAM_FLOAT = 1,
	NS_PARAM_BOOL = 2,
	NS_PARAM_CHOICE = 3, /* one word of `choices`; the value is its index */
	NS_PARAM_FEATURES = 4, /* max_features: "sqrt" (-1), "log2" (-2), "all" (NaN),
				* a count >= 1, or a fraction in (0, 1] written with a '.' */
};

struct ns_param_def {
	const char *name;
	enum ns_param_type type;
	double def; /* default value (CHOICE: index) */
	double min, max; /* inclusive range of INT and FLOAT values */
	const char *const *choices; /* NULL-terminated words (CHOICE) */
	bool none_allowed; /* "none"/"None" accepted, stored as NaN (e.g. max_depth) */
	const char *doc; /* one line for help, the API schema and docs */
};

#define NS_PARAMS_MAX 24

struct ns_family;

/* Parameter values for one family, in the order of its table. */
struct ns_params {
	const struct ns_family *family;
	double v[NS_PARAMS_MAX];
};

/* ---- families ------------------------------------------------------------------ */

/** Number of families, and the i-th (in a stable order). */
NS_API size_t ns_family_count(void);
NS_API const struct ns_family *ns_family_at(size_t i);
/** Looks up a family by name or alias (case-insensitive); NULL if unknown. */
NS_API const struct ns_family *ns_family_find(const char *name);
NS_API const char *ns_family_name(const struct ns_family *f);
/** NULL-terminated list of aliases. */
NS_API const char *const *ns_family_aliases(const struct ns_family *f);
/** One line describing the family. */
NS_API const char *ns_family_doc(const struct ns_family *f);
NS_API const struct ns_param_def *ns_family_params(const struct ns_family *f, size_t *n);
/** True if the family cannot take NaN in its input (then impute first). */
NS_API bool ns_family_needs_complete(const struct ns_family *f);
/** Name of the parameter whose smaller values are prefixes of a fit (n_estimators), or NULL. */
NS_API const char *ns_family_prefix_param(const struct ns_family *f);

/** Sets every parameter of `f` to its default. */
NS_API void ns_params_init(struct ns_params *p, const struct ns_family *f);
/*
 * Sets one parameter from text.  NS_ERR_INVALID for an unknown name (the
 * message lists the valid names) or a bad value (the message gives the valid
 * range or choices).
 */
NS_API enum ns_status ns_params_set(struct ns_params *p, const char *name, const char *value,
				    struct ns_diag *diag);
/** Sets parameters from "k=v,k=v" (empty string: nothing). Same errors. */
NS_API enum ns_status ns_params_parse(struct ns_params *p, const char *list, struct ns_diag *diag);
/** Value of parameter `name` (NaN if unknown). */
NS_API double ns_params_get(const struct ns_params *p, const char *name);
/** Index of parameter `name` in the family's table, or -1. */
NS_API long ns_params_index(const struct ns_family *f, const char *name);
/*
 * Writes "k=v,k=v" with every parameter (choices as words) into buf; returns
 * the length needed (like snprintf).
 */
NS_API size_t ns_params_format(const struct ns_params *p, char *buf, size_t size);
/** Writes one value as text ("sqrt", "none", "0.1", "gini"). */
NS_API size_t ns_param_value_format(const struct ns_param_def *def, double v, char *buf,
				    size_t size);

/* ---- models ---------------------------------------------------------------------- */

struct ns_fit_options {
	uint64_t seed; /* default 0 */
	int n_threads; /* 0: one per core */
	const char *const *feature_names; /* n_features names, or NULL */
	const char *const *class_labels; /* n_classes labels, or NULL ("0", "1", ...) */
	const char *schema_hash; /* hex, or NULL */
	long threat_class; /* index of the threat class, or -1 */
};
NS_API struct ns_fit_options ns_fit_options_default(void);

struct ns_model;

/*
 * Trains a model.  Errors: NS_ERR_INVALID (bad parameters or shapes),
 * NS_ERR_SCHEMA (fewer than two classes present: "the training data has only
 * one class 'x'"; NaN in the input of a family that needs complete data: the message points
 * to imputation and names the feature), NS_ERR_NOMEM.  OUT *out owned by the
 * caller.  Thread-safe for distinct outputs.
 */
NS_API enum ns_status ns_model_fit(const struct ns_params *p, const struct ns_dataset *d,
				   const struct ns_fit_options *o, struct ns_model **out,
				   struct ns_diag *diag);
NS_API void ns_model_free(struct ns_model *m);

/*
 * Class probabilities for n rows of x (row-major, ns_model_n_features
 * columns): out has n * n_classes values.  Thread-safe.
 */
NS_API enum ns_status ns_model_predict_proba(const struct ns_model *m, const double *x, size_t n,
					     double *out);
/* The same, with only the first n_estimators members of an ensemble (prefix scoring). */
NS_API enum ns_status ns_model_predict_proba_prefix(const struct ns_model *m, const double *x,
						    size_t n, size_t n_estimators, double *out);
/** Most probable class index per row (ties: the lowest index). */
NS_API enum ns_status ns_model_predict(const struct ns_model *m, const double *x, size_t n,
				       uint32_t *out);

NS_API const struct ns_family *ns_model_family(const struct ns_model *m);
NS_API const struct ns_params *ns_model_params(const struct ns_model *m);
NS_API size_t ns_model_n_features(const struct ns_model *m);
NS_API uint32_t ns_model_n_classes(const struct ns_model *m);
/** Number of ensemble members (1 for single models). */
NS_API size_t ns_model_n_estimators(const struct ns_model *m);
/** Borrowed strings, valid while the model lives. */
NS_API const char *ns_model_class_label(const struct ns_model *m, uint32_t k);
NS_API const char *ns_model_feature_name(const struct ns_model *m, size_t j);
NS_API const char *ns_model_schema_hash(const struct ns_model *m);
NS_API long ns_model_threat_class(const struct ns_model *m);
/** Feature importances (n_features values summing to 1, or all 0). */
NS_API enum ns_status ns_model_feature_importance(const struct ns_model *m, double *out);
/** A JSON description (family, params, sizes, labels, family details); ns_free. */
NS_API enum ns_status ns_model_describe_json(const struct ns_model *m, char **out);

/* ---- the model file (docs/model-format.md) ------------------------------------------- */

#define NS_MODEL_MAX_ATTACHMENTS 8

/*
 * Attaches opaque bytes under a tag of four printable ASCII characters (not
 * META, PARM or BODY), saved as an extra section of the model file (the
 * fitted preprocessor travels this way as "PREP").  Replaces an attachment
 * with the same tag.  Call before sharing the model between threads.
 * NS_ERR_INVALID (bad tag), NS_ERR_LIMIT (too many), NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_model_attach(struct ns_model *m, const char *tag, const uint8_t *data,
				      size_t len);
/** Finds an attachment; borrowed bytes valid while the model lives. */
NS_API bool ns_model_attachment(const struct ns_model *m, const char *tag, const uint8_t **data,
				size_t *len);

NS_API enum ns_status ns_model_save(const struct ns_model *m, const char *path,
				    struct ns_diag *diag);
NS_API enum ns_status ns_model_to_buffer(const struct ns_model *m, uint8_t **out, size_t *len);
/*
 * Loads a model.  Every length and offset is checked: a truncated, corrupted
 * (checksum), foreign (magic) or newer-version file gets NS_ERR_CORRUPT or
 * NS_ERR_UNSUPPORTED with a message saying which, never a crash.
 */
NS_API enum ns_status ns_model_load(const char *path, struct ns_model **out, struct ns_diag *diag);
NS_API enum ns_status ns_model_from_buffer(const uint8_t *data, size_t len, struct ns_model **out,
					   struct ns_diag *diag);

/* ---- metrics ----------------------------------------------------------------------------- */

#define NS_METRICS_MAX_CLASSES 1024

struct ns_metrics {
	uint32_t n_classes;
	long positive; /* class the binary metrics are about, or -1 */
	uint64_t n;
	double accuracy;
	/* of the positive class (0 when positive < 0) */
	double precision, recall, f1;
	double macro_precision, macro_recall, macro_f1;
	double weighted_precision, weighted_recall, weighted_f1;
	double roc_auc; /* binary: of the positive class; multi-class: one-vs-rest macro;
				 * NaN when undefined (a class absent from y_true) */
	double log_loss;
	uint64_t *confusion; /* n_classes * n_classes, row = true, column = predicted; owned */
};

/*
 * Computes every metric as scikit-learn defines them (zero_division = 0,
 * log-loss with probabilities clipped to [eps, 1 - eps], eps = DBL_EPSILON, rows renormalised) from true class
 * indices and predicted probabilities (n * n_classes).  Predicted class =
 * argmax (lowest index on ties).  `positive` is the threat class or -1.
 */
NS_API enum ns_status ns_metrics_compute(const uint32_t *y_true, const double *proba, size_t n,
					 uint32_t n_classes, long positive, struct ns_metrics *out);
NS_API void ns_metrics_fini(struct ns_metrics *m);

#ifdef __cplusplus
}
#endif
#endif
