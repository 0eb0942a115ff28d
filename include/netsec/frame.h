/*
 * include/netsec/frame.h - a columnar table of numeric and categorical columns.
 *
 * Numeric columns hold doubles (NaN = missing), 8 bytes a cell plus amortised
 * growth.  Categorical columns hold 32-bit codes into a per-column dictionary
 * of strings (NS_FRAME_NA_CODE = missing).  Columns have unique names.
 *
 * Threading: a frame has no locks.  Any number of threads may read a frame
 * that no thread is changing.
 */
#ifndef NETSEC_FRAME_H
#define NETSEC_FRAME_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_FRAME_NA_CODE UINT32_MAX

enum ns_col_kind {
	NS_COL_NUMERIC = 0,
	NS_COL_CATEGORY = 1,
};

struct ns_frame;

/** Creates an empty frame (no columns, no rows). OUT *out owned by the caller. */
NS_API enum ns_status ns_frame_create(struct ns_frame **out);
NS_API void ns_frame_free(struct ns_frame *f);

/*
 * Adds a column at the end; existing rows get missing values.  Returns
 * NS_ERR_EXISTS if the name is taken (diag names it), NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_frame_add_column(struct ns_frame *f, const char *name,
					  enum ns_col_kind kind, struct ns_diag *diag);

NS_API size_t ns_frame_n_rows(const struct ns_frame *f);
NS_API size_t ns_frame_n_cols(const struct ns_frame *f);
/** Column name; borrowed, valid until the frame is freed. */
NS_API const char *ns_frame_col_name(const struct ns_frame *f, size_t col);
NS_API enum ns_col_kind ns_frame_col_kind(const struct ns_frame *f, size_t col);
/** Index of the column named `name`, or -1. */
NS_API long ns_frame_col_index(const struct ns_frame *f, const char *name);

/*
 * Row building: ns_frame_add_rows() appends `n` rows of missing values and
 * returns the index of the first; then fill cells with the setters.
 */
NS_API enum ns_status ns_frame_add_rows(struct ns_frame *f, size_t n, size_t *first_row);
/** Reserves capacity for `n_rows` rows in total (an optimisation only). */
NS_API enum ns_status ns_frame_reserve(struct ns_frame *f, size_t n_rows);
/** Releases spare row capacity so that numeric data costs 8 bytes a cell. */
NS_API enum ns_status ns_frame_shrink(struct ns_frame *f);
NS_API void ns_frame_set_number(struct ns_frame *f, size_t row, size_t col, double v);
/* Sets a categorical cell to the level `s` (len bytes), adding it to the
 * dictionary if new.  NS_ERR_NOMEM or NS_ERR_LIMIT (more than 2^32-2 levels). */
NS_API enum ns_status ns_frame_set_category(struct ns_frame *f, size_t row, size_t col,
					    const char *s, size_t len);
NS_API void ns_frame_set_code(struct ns_frame *f, size_t row, size_t col, uint32_t code);

/*
 * Converts a numeric column into a categorical one: each distinct value
 * becomes a level written in shortest round-trip form; NaN stays missing.
 */
NS_API enum ns_status ns_frame_numeric_to_category(struct ns_frame *f, size_t col);

/* Column data: borrowed pointers, valid until the frame is next changed. */
NS_API const double *ns_frame_numbers(const struct ns_frame *f, size_t col);
NS_API double *ns_frame_numbers_mut(struct ns_frame *f, size_t col);
NS_API const uint32_t *ns_frame_codes(const struct ns_frame *f, size_t col);
NS_API size_t ns_frame_n_levels(const struct ns_frame *f, size_t col);
/** Level `code`'s string (NUL-terminated, borrowed) or NULL for NA/out of range. */
NS_API const char *ns_frame_level(const struct ns_frame *f, size_t col, uint32_t code);
/** Code of level `s`, or NS_FRAME_NA_CODE when absent. */
NS_API uint32_t ns_frame_level_code(const struct ns_frame *f, size_t col, const char *s,
				    size_t len);

/*
 * New frames holding a subset: rows in the given order (indices may repeat),
 * or columns in the given order.  Dictionaries are kept whole.
 * NS_ERR_INVALID for an index out of range.
 */
NS_API enum ns_status ns_frame_select_rows(const struct ns_frame *f, const size_t *rows, size_t n,
					   struct ns_frame **out);
NS_API enum ns_status ns_frame_select_cols(const struct ns_frame *f, const size_t *cols, size_t n,
					   struct ns_frame **out);
/*
 * Appends all rows of `src` to `dst`; columns are matched by name and must
 * have the same kinds (NS_ERR_SCHEMA naming the column otherwise).  Category
 * codes are remapped to dst's dictionaries.
 */
NS_API enum ns_status ns_frame_append(struct ns_frame *dst, const struct ns_frame *src,
				      struct ns_diag *diag);

/*
 * Writes rows [0, n) of the frame - all rows when `rows` is NULL, else the
 * listed rows in order - as CSV to `fp`: a header of the column names (when
 * `header`), numbers in shortest round-trip form, categories as text, missing
 * cells empty.  NS_ERR_IO on a write error (the output is then partial: write
 * into an ns_atomic_file), NS_ERR_INVALID for a row index out of range.
 */
NS_API enum ns_status ns_frame_write_csv(const struct ns_frame *f, const size_t *rows, size_t n,
					 bool header, char delimiter, FILE *fp,
					 struct ns_diag *diag);

/** Bytes of heap memory held by the frame (data, dictionaries, names). */
NS_API size_t ns_frame_memory(const struct ns_frame *f);

#ifdef __cplusplus
}
#endif
#endif
