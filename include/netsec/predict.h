/*
 * include/netsec/predict.h - streaming prediction over CSV input.
 *
 * A predictor is fed CSV bytes in chunks of any size (a file, an HTTP
 * upload), validates each record against the model's schema (columns matched
 * by name in any order, extra columns passed through, the target optional),
 * encodes it with the model's fitted encoder and predicts in blocks, calling
 * back once per input row with the row's own fields, the predicted class and
 * the class probabilities.  Memory is bounded by the block size, whatever the
 * input's length.
 *
 * Threading: a predictor is used by one thread at a time; any number of
 * predictors may share one model.
 */
#ifndef NETSEC_PREDICT_H
#define NETSEC_PREDICT_H

#include "netsec/csv.h"
#include "netsec/learn.h"
#include "netsec/prep.h"
#include "netsec/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Attachment tags under which a trained model carries its encoder and schema. */
#define NS_ATTACH_ENCODER "PREP"
#define NS_ATTACH_SCHEMA "SCHM"
/* The fitted KNN imputer (netsec train); its gaps-filling runs before predicting. */
#define NS_ATTACH_IMPUTER "IMPT"

struct ns_prediction_row {
	size_t n_fields;
	const char *const *fields; /* the input record's fields, NUL-terminated */
	const size_t *lens;
	uint64_t line; /* where the record starts in the input */
	uint32_t label; /* predicted class index */
	const double *proba; /* n_classes probabilities */
};

/* Called once, before any row, with the input's column names (the header,
 * or the schema's names for header-less input). */
typedef enum ns_status (*ns_prediction_header_fn)(void *user, size_t n, const char *const *names);
typedef enum ns_status (*ns_prediction_row_fn)(void *user, const struct ns_prediction_row *row);

struct ns_predictor_params {
	const char *source_name; /* for diagnostics ("upload", a path) */
	size_t block_rows; /* rows predicted at once (default 512) */
	uint64_t max_rows; /* 0: no limit; more rows: NS_ERR_LIMIT */
	struct ns_csv_params csv; /* caps; the delimiter comes from the schema */
};
NS_API struct ns_predictor_params ns_predictor_params_default(void);

struct ns_predictor;

/*
 * Creates a predictor for a model that carries its encoder and schema (as
 * `netsec fit` writes them).  NS_ERR_SCHEMA if the model lacks them or they
 * do not fit together.  The model is borrowed and must outlive the predictor.
 */
NS_API enum ns_status ns_predictor_create(const struct ns_model *m,
					  const struct ns_predictor_params *p,
					  ns_prediction_header_fn header_fn,
					  ns_prediction_row_fn row_fn, void *user,
					  struct ns_predictor **out, struct ns_diag *diag);
NS_API void ns_predictor_free(struct ns_predictor *p);
/*
 * Feeds bytes.  The first invalid record stops the run: NS_ERR_SCHEMA with
 * the line, column and field in diag (a missing column: the header line and
 * every missing name).  CSV syntax errors and caps as the CSV reader reports
 * them.  Callback statuses are passed through.
 */
NS_API enum ns_status ns_predictor_feed(struct ns_predictor *p, const void *data, size_t len,
					struct ns_diag *diag);
/** Ends the input, predicts the last block; NS_ERR_SCHEMA if there were no rows. */
NS_API enum ns_status ns_predictor_finish(struct ns_predictor *p, struct ns_diag *diag);
NS_API uint64_t ns_predictor_n_rows(const struct ns_predictor *p);
/** Per-class counts of predictions so far (n_classes values; borrowed). */
NS_API const uint64_t *ns_predictor_class_counts(const struct ns_predictor *p);

/* The model's encoder and schema, from its attachments; owned by the caller. */
NS_API enum ns_status ns_model_encoder(const struct ns_model *m, struct ns_encoder **out,
				       struct ns_diag *diag);
NS_API enum ns_status ns_model_schema(const struct ns_model *m, struct ns_schema **out,
				      struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
