/*
 * lib/data/schema_internal.h - helpers shared by schema.c, schema_infer.c and
 * validator.c (internal, not API).
 */
#ifndef NETSEC_DATA_SCHEMA_INTERNAL_H
#define NETSEC_DATA_SCHEMA_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "netsec/schema.h"

/* Hard caps (docs/schema.md). */
#define NS__SCHEMA_MAX_BYTES ((size_t)16 << 20)
#define NS__SCHEMA_MAX_COLUMNS 65536
#define NS__SCHEMA_MAX_VALUES 100000 /* allowed values of a column; classes */
#define NS__SCHEMA_MAX_NA 1024

/* A new empty schema with the defaults (header, ',', default NA set, no
 * target, max_missing 1). NULL when out of memory. */
struct ns_schema *ns__schema_new(void);

/* True when `s` (len bytes) is valid UTF-8 (no overlongs, no surrogates). */
bool ns__utf8_valid(const char *s, size_t len);

/* Parses a type name or alias (case-insensitive): int/int64/int32/integer,
 * float/float64/float32/double/number, category/categorical/object/str/string. */
bool ns__col_type_parse(const char *s, enum ns_col_type *out);

/* The default target: the first column named Result, label, class or target
 * (case-insensitive), else the last column; -1 when there is none. */
long ns__schema_guess_target(const struct ns_schema_column *cols, size_t n);

/* True for a finite double with no fraction. */
/* True for finite values without a fraction.  Inline: the validator calls it per cell. */
static inline bool ns__is_integral(double v)
{
	if (!(v > -9007199254740992.0 && v < 9007199254740992.0))
		return isfinite(v) && v == floor(v); /* beyond 2^53 every double is integral */
	return v == (double)(int64_t)v;
}

/* Canonical text of a number (ns_format_double, -0 written as 0); returns the
 * length.  `buf` holds at least 40 bytes. */
size_t ns__number_text(double v, char *buf, size_t size);

#endif
