/*
 * include/netsec/impute.h - k-nearest-neighbour imputation of missing values.
 *
 * Reproduces scikit-learn 1.2's KNNImputer(missing_values=nan,
 * weights="uniform", metric="nan_euclidean") to within rounding (see
 * docs/impute.md for the exact rules, including how ties between equal
 * distances are broken):
 *
 *  - distance between rows a and b: sqrt(d / p * S) where S is the sum of
 *    squared differences over the p coordinates present in both and d the
 *    number of features; NaN when p = 0;
 *  - the donors for column c are the training rows where c is present (a
 *    row is never its own donor for a column it lacks);
 *  - a receiver whose distances to all donors of c are NaN gets the mean
 *    of the training column c;
 *  - otherwise the min(k, number of donors) nearest donors, chosen as
 *    numpy's argpartition chooses them, are averaged with equal weights.
 *    As in scikit-learn, when fewer than k donors have a defined distance
 *    the remaining places are taken by donors at NaN distance, whose values
 *    count in the mean.
 *
 * The fitted imputer keeps a copy of the training rows (scikit-learn does
 * the same), so its size is n x d doubles plus indexes.
 *
 * Threading: an imputer is immutable after fit/load; any number of threads
 * may call ns_imputer_transform() on it at once (each on its own matrix).
 * Transform itself uses OpenMP threads for large inputs.
 */
#ifndef NETSEC_IMPUTE_H
#define NETSEC_IMPUTE_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns_imputer;

/* Largest number of features and training rows an imputer accepts. */
#define NS_IMPUTER_MAX_FEATURES 65536u
#define NS_IMPUTER_MAX_ROWS 0xfffffffeu

/*
 * Fits an imputer on `x`, a row-major n x d matrix where NaN marks a
 * missing cell; `k` (>= 1) is the number of neighbours.  The rows are
 * copied.  Errors: NS_ERR_INVALID (n or d is 0, k is 0, an infinite value
 * - named by row and column -, or a column missing in every row: the diag
 * message names its 0-based index and diag->column is that index + 1;
 * scikit-learn would silently drop such a column), NS_ERR_LIMIT (n or d
 * above the limits), NS_ERR_NOMEM.  OUT *out owned by the caller
 * (ns_imputer_free).  Thread-safe (touches nothing shared).
 */
NS_API enum ns_status ns_imputer_fit(const double *x, size_t n, size_t d, unsigned k,
				     struct ns_imputer **out, struct ns_diag *diag);

/*
 * Fills the NaN cells of `x` (n x ns_imputer_n_features(im), row-major) in
 * place, exactly as scikit-learn's transform does; distances use the
 * values as given (a filled cell never feeds another row's distances).
 * OUT *filled (may be NULL): the number of cells filled, which is every
 * NaN cell.  Errors: NS_ERR_INVALID (an infinite value, named by row and
 * column; x is left untouched), NS_ERR_NOMEM (x is left untouched).
 * Thread-safe on a fitted imputer.
 */
NS_API enum ns_status ns_imputer_transform(const struct ns_imputer *im, double *x, size_t n,
					   size_t *filled, struct ns_diag *diag);

/** Number of features (columns) the imputer was fitted on. */
NS_API size_t ns_imputer_n_features(const struct ns_imputer *im);
/** Number of training rows kept (the donors). */
NS_API size_t ns_imputer_n_rows(const struct ns_imputer *im);
/** The number of neighbours k. */
NS_API unsigned ns_imputer_k(const struct ns_imputer *im);

/** Frees `im`; NULL is a no-op. */
NS_API void ns_imputer_free(struct ns_imputer *im);

/*
 * Serialisation (little-endian; the training rows bit for bit).  OUT *out
 * owned by the caller (ns_free).  NS_ERR_NOMEM.  Thread-safe.
 */
NS_API enum ns_status ns_imputer_to_buffer(const struct ns_imputer *im, uint8_t **out, size_t *len);
/*
 * Loads what ns_imputer_to_buffer wrote.  Every length is bounds-checked;
 * any inconsistency (bad magic, counts, length, an infinite value, a
 * column with no value) gives NS_ERR_CORRUPT; also NS_ERR_NOMEM.  OUT
 * *out owned by the caller.
 */
NS_API enum ns_status ns_imputer_from_buffer(const uint8_t *buf, size_t len,
					     struct ns_imputer **out, struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
