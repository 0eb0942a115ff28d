/*
 * lib/data/fastpath.h - the fused CSV-to-frame fast path, and the validator
 * internals it shares (internal, not API).
 *
 * The fast path (fastpath.c) reads a CSV file in chunks and turns simple
 * records (unquoted fields, the expected field count, cells the validator
 * accepts) straight into frame rows, parsing short integers from the input
 * bytes without copying them.  Every other record is handed, whole, to the
 * generic CSV reader and record callback, so that values, problems and
 * errors are exactly those of the generic path.  The validator (validator.c)
 * stays the one judge of what a cell means: the fast path asks it through the
 * functions below and only keeps its own shortcut for integers whose verdict
 * the validator has precomputed (struct ns__int_check).
 *
 * Threading: as for the validator and the frame, one thread at a time.
 */
#ifndef NETSEC_DATA_FASTPATH_H
#define NETSEC_DATA_FASTPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "netsec/csv.h"
#include "netsec/frame.h"
#include "netsec/schema.h"

/* What a cell is, as far as keeping a record goes. */
enum ns__verdict {
	NS__CELL_OK = 0, /* a valid value */
	NS__CELL_MISSING, /* an NA marker or "nan": missing (counted by the caller) */
	NS__CELL_BAD, /* a problem: the record is invalid */
};

/*
 * Verdict of an integer-valued cell of a numeric column, decided without the
 * column's value sets:
 *   NS__INT_RANGE: valid when min <= x <= max (min/max are -inf/+inf when the
 *                  schema sets no bound);
 *   NS__INT_BITS:  valid when lo <= x < lo + 64 and bit x - lo of `bits` is
 *                  set (the allowed values, classes and range, intersected);
 *   NS__INT_FULL:  ask ns__validator_number().
 * A cell that fails the RANGE or BITS test is not necessarily invalid only in
 * the sense that its problem is for the validator to name; for keeping a
 * record it is invalid.
 */
enum ns__int_mode {
	NS__INT_RANGE = 0,
	NS__INT_BITS,
	NS__INT_FULL,
};

struct ns__int_check {
	uint8_t mode; /* enum ns__int_mode */
	int64_t lo;
	uint64_t bits;
	double min, max;
};

/* True when the integer x (exactly the double d) passes `c` without a lookup. */
static inline bool ns__int_check_pass(const struct ns__int_check *c, int64_t x, double d)
{
	if (c->mode == NS__INT_BITS) {
		uint64_t k = (uint64_t)x - (uint64_t)c->lo;
		return k < 64 && ((c->bits >> k) & 1);
	}
	return c->mode == NS__INT_RANGE && !(d < c->min || d > c->max);
}

/*
 * The double ns_parse_double gives for a sign and 1..15 digits: ±mag exactly
 * (mag < 2^53), with -0.0 for "-0".  Branch-free: signs are random in real
 * data, and a mispredicted branch costs more than the rest of the cell.
 */
static inline double ns__signed_double(uint64_t mag, uint64_t neg)
{
	double x = (double)mag;
	uint64_t bits;
	memcpy(&bits, &x, sizeof(bits));
	bits |= neg << 63;
	memcpy(&x, &bits, sizeof(x));
	return x;
}

/* -mag when neg (0 or 1), else mag; mag < 2^53. */
static inline int64_t ns__signed_int(uint64_t mag, uint64_t neg)
{
	return (int64_t)((mag ^ (0 - neg)) + neg);
}

/*
 * Parses 1..15 decimal digits with an optional sign (s has len >= 1
 * bytes): every such text is an integer below 2^53, so ns__signed_double
 * gives exactly what ns_parse_double would.  False for anything else (the
 * caller takes the general route).
 */
static inline bool ns__small_int(const char *s, size_t len, uint64_t *neg, uint64_t *mag)
{
	const uint64_t minus = s[0] == '-';
	size_t i = minus | (s[0] == '+');
	uint64_t m = 0;
	if (len - i - 1 >= 15) /* also catches len == i */
		return false;
	for (; i < len; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d > 9)
			return false;
		m = m * 10 + d;
	}
	*neg = minus;
	*mag = m;
	return true;
}

/* How the fast path treats field j of a record. */
enum ns__field_kind {
	NS__FIELD_SKIP = 0, /* an extra column (allow_extra): not validated, not kept */
	NS__FIELD_NUM, /* an int or float schema column */
	NS__FIELD_CAT, /* a category schema column */
};

struct ns__fast_field {
	uint8_t kind; /* enum ns__field_kind */
	bool missing_ok; /* a missing value keeps the record (not a required label) */
	size_t col; /* schema column (and frame column) index */
	struct ns__int_check chk;
};

struct ns_validator;

/*
 * Validator side (validator.c).
 *
 * ns__validator_fast_fields: once the header (or first record) has been
 * seen without problems, fills fields[0..n) for the n fields a record must
 * have and returns n; returns 0 when records cannot take the fast path.
 * `fields` holds at least ns__validator_fast_fields(v, NULL) entries.
 */
size_t ns__validator_fast_fields(const struct ns_validator *v, struct ns__fast_field *fields);
/* Bytes that may start a short integer cell: digits and signs, unless an NA
 * marker starts with them.  256 entries, valid while v lives. */
const uint8_t *ns__validator_int_first(const struct ns_validator *v);
/* Verdict of cell `text` (len bytes) of schema column `col`; *num gets the
 * value of a valid numeric cell.  No counting, no problem reports. */
enum ns__verdict ns__validator_cell(const struct ns_validator *v, size_t col, const char *text,
				    size_t len, double *num);
/* Verdict of the number d (not NaN) in numeric column `col`. */
enum ns__verdict ns__validator_number(const struct ns_validator *v, size_t col, double d);
/*
 * Counts `n` valid data records that did not go through ns_validator_record,
 * with n_missing[col] missing cells per schema column (the counts are then
 * cleared).
 */
void ns__validator_add_valid(struct ns_validator *v, uint64_t n, uint64_t *n_missing);

/* How a fast read went (for tests and benchmarks). */
struct ns__fast_stats {
	uint64_t n_fast; /* records taken by the fast path */
	uint64_t n_declined; /* records it tried, then handed to the reader */
	uint64_t n_stretches; /* times it left a stretch of records to the reader */
};

/* Options of ns__frame_read_csv_opts; zeroed: the fast path, 1 MiB chunks. */
struct ns__fast_opts {
	bool generic; /* the generic reader and validator only (the reference) */
	size_t chunk; /* read size; 0: 1 MiB (tests use tiny ones) */
	uint64_t backoff; /* first stretch handed to the reader when records keep
			   * being declined; 0: 256 KiB (tests use tiny ones) */
	struct ns__fast_stats *stats; /* OUT, may be NULL */
};

/*
 * Driver (fastpath.c): reads `path` like ns_csv_read_file(path, cp, fn,
 * user, diag) and with the same result, records and errors, but takes
 * simple records past the reader straight into `f` (whose columns are the
 * schema's, in order) and `v`.  `fn` must be the generic per-record callback
 * that validates a record with `v` and appends it to `f`.  `o` may be NULL.
 */
enum ns_status ns__fast_read_file(const char *path, const struct ns_csv_params *cp,
				  struct ns_validator *v, struct ns_frame *f, ns_csv_record_fn fn,
				  void *user, const struct ns__fast_opts *o, struct ns_diag *diag);

/* ns_frame_read_csv_ex with options (`o` NULL: exactly ns_frame_read_csv_ex). */
enum ns_status ns__frame_read_csv_opts(const char *path, const struct ns_schema *schema,
				       const struct ns_validator_params *p,
				       const struct ns__fast_opts *o, struct ns_frame **out,
				       struct ns_diag *diag);

#endif
