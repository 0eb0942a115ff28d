/*
 * include/netsec/npy.h - NumPy .npy files (format version 1.0), written so
 * that numpy.load() reads them without allow_pickle.
 *
 * Two array kinds: a C-order little-endian float64 matrix ('<f8') and a
 * vector of Unicode strings ('<U<n>', UTF-32LE code points, n the longest
 * string), which carries label values that are not numbers.  Files are
 * written atomically (temp file, fsync, rename): a reader sees the old file
 * or the whole new one.
 */
#ifndef NETSEC_NPY_H
#define NETSEC_NPY_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes a rows x cols matrix (row-major doubles; cols 0 writes a vector of
 * `rows` values, shape (rows,)).  NS_ERR_IO naming the path, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_npy_write_f64(const char *path, const double *data, size_t rows,
				       size_t cols, struct ns_diag *diag);
/*
 * Writes n UTF-8 strings as a '<U' vector.  NS_ERR_INVALID if a string is not
 * valid UTF-8 (naming its index), NS_ERR_IO, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_npy_write_str(const char *path, const char *const *strings, size_t n,
				       struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
