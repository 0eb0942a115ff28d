/*
 * include/netsec/prep.h - turning a frame into a learning matrix.
 *
 * The encoder is fitted on training data only and saved with the model: the
 * schema's feature columns (all but the target and ignored ones) become
 * numeric columns - numbers as they are, each category as one-hot columns
 * named "column=level" (levels seen in training, sorted; an unseen level at
 * prediction time gives all zeros, as scikit-learn's
 * OneHotEncoder(handle_unknown="ignore")).  The target becomes class indices
 * in the order of the schema's classes (or the sorted distinct training
 * labels), and the labels themselves are kept so outputs use the dataset's
 * own values.
 *
 * Threading: an encoder is immutable after fit/load; transform is
 * thread-safe.
 */
#ifndef NETSEC_PREP_H
#define NETSEC_PREP_H

#include "netsec/core.h"
#include "netsec/frame.h"
#include "netsec/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns_encoder;

/*
 * Fits an encoder on `train` (a frame with the schema's columns).  Errors:
 * NS_ERR_SCHEMA (a feature column or the target missing from the frame, no
 * target in the schema, a label not among the schema's classes: named with
 * its row), NS_ERR_NOMEM.  OUT *out owned by the caller.
 */
NS_API enum ns_status ns_encoder_fit(const struct ns_schema *s, const struct ns_frame *train,
				     struct ns_encoder **out, struct ns_diag *diag);
NS_API void ns_encoder_free(struct ns_encoder *e);

NS_API size_t ns_encoder_n_features(const struct ns_encoder *e);
NS_API const char *ns_encoder_feature_name(const struct ns_encoder *e, size_t j);
/** Borrowed array of n_features names, valid while the encoder lives. */
NS_API const char *const *ns_encoder_feature_names(const struct ns_encoder *e);
NS_API uint32_t ns_encoder_n_classes(const struct ns_encoder *e);
NS_API const char *ns_encoder_class_label(const struct ns_encoder *e, uint32_t k);
NS_API const char *const *ns_encoder_class_labels(const struct ns_encoder *e);
/** Index of the threat class, or -1. */
NS_API long ns_encoder_threat(const struct ns_encoder *e);
/** Name of the target column. */
NS_API const char *ns_encoder_target(const struct ns_encoder *e);
/** Number of source columns the encoder reads, and their names. */
NS_API size_t ns_encoder_n_inputs(const struct ns_encoder *e);
NS_API const char *ns_encoder_input_name(const struct ns_encoder *e, size_t i);

/*
 * Encodes a frame: OUT *x (n_rows * n_features, row-major, ns_free) and, when
 * `y` is not NULL, OUT *y (class indices, ns_free).  Columns are found by
 * name in any order; a missing feature column gives NS_ERR_SCHEMA naming all
 * missing columns; with `y` requested, a missing target column or an unknown
 * or missing label gives NS_ERR_SCHEMA naming the row.
 */
NS_API enum ns_status ns_encoder_transform(const struct ns_encoder *e, const struct ns_frame *f,
					   double **x, uint32_t **y, struct ns_diag *diag);

/*
 * Streaming use: maps each encoder input to its column in `s` (OUT map[i] =
 * schema column index; n_inputs entries).  NS_ERR_SCHEMA naming the inputs
 * the schema lacks or whose kind differs.
 */
NS_API enum ns_status ns_encoder_map_schema(const struct ns_encoder *e, const struct ns_schema *s,
					    size_t *map, struct ns_diag *diag);
/*
 * Encodes one validated record (values in schema column order, as the
 * validator gives them) into `row` (n_features doubles).  Thread-safe.
 */
NS_API void ns_encoder_encode_values(const struct ns_encoder *e, const size_t *map,
				     const struct ns_value *values, double *row);

/* Serialisation (little-endian, bounds-checked on load: NS_ERR_CORRUPT). */
NS_API enum ns_status ns_encoder_to_buffer(const struct ns_encoder *e, uint8_t **out, size_t *len);
NS_API enum ns_status ns_encoder_from_buffer(const uint8_t *data, size_t len,
					     struct ns_encoder **out, struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
