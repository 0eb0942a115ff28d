/*
 * include/netsec/schema.h - dataset schemas: load, save, infer, and the
 * streaming record validator every reader of outside data goes through.
 *
 * A schema is a YAML file (see docs/schema.md) naming the columns, their types
 * (int, float, category), optional allowed values or ranges, the target column
 * with its classes and which class is the threat, and columns to ignore.  The
 * loader also accepts the reference project's shape: `columns:` as a list of
 * one-key maps `- name: int64`.
 *
 * A loaded schema is a plain read-only struct owned by the library (create with
 * ns_schema_load/parse/infer, release with ns_schema_free).  It is a value
 * description, not an object with behaviour, so its fields are public; callers
 * must not change them.
 *
 * Threading: a schema is immutable once loaded; any number of threads may use
 * it.  A validator is used by one thread at a time.
 */
#ifndef NETSEC_SCHEMA_H
#define NETSEC_SCHEMA_H

#include "netsec/core.h"
#include "netsec/csv.h"
#include "netsec/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

enum ns_col_type {
	NS_TYPE_INT = 0,
	NS_TYPE_FLOAT = 1,
	NS_TYPE_CATEGORY = 2,
};

/** "int", "float", "category". */
NS_API const char *ns_col_type_name(enum ns_col_type t);

struct ns_schema_column {
	char *name;
	enum ns_col_type type;
	bool has_min, has_max;
	double min, max; /* inclusive bounds for numeric columns */
	size_t n_allowed; /* 0: any value of the type */
	char **allowed; /* allowed values: category levels as written; for
				   * numeric columns the canonical number text
				   * (ns_format_double: "1.0" is kept as "1") */
	double *allowed_num; /* the same, parsed, for numeric columns (else NULL) */
	double max_missing; /* largest allowed share of missing values, 0..1 */
	bool ignore; /* validated, but not a feature */
};

struct ns_schema {
	char *name; /* dataset name (may be NULL) */
	bool header; /* files carry a header row */
	char delimiter;
	size_t n_na; /* missing-value markers */
	char **na_values;
	size_t n_columns;
	struct ns_schema_column *columns;
	long target; /* index into columns, or -1 */
	size_t n_classes; /* 0: any label value */
	char **classes; /* the target's label values, as written */
	long threat; /* index into classes of the threat class, or -1 */
	double max_missing; /* default for columns that do not set their own */
	/* Index into classes of the one benign class, or -1: when set, every other
	 * class is a threat (NSL-KDD: `benign: normal`).  At most one of threat and
	 * benign is set; use ns_schema_class_is_threat() rather than either. */
	long benign;
	/* Free text that ns_schema_to_yaml writes as `#` comment lines before the
	 * schema (inference explains itself there); may be NULL.  Not read back by
	 * the parser and not part of the hash. */
	char *note;
};

/*
 * Loads a schema from a YAML file / from memory.  `source` names the buffer in
 * diagnostics.  Errors: NS_ERR_IO (file), NS_ERR_PARSE (YAML syntax, with line
 * and column), NS_ERR_SCHEMA (a valid YAML that is not a valid schema: unknown
 * key, unknown type, duplicate column, target not a column, threat not a
 * class, ...), NS_ERR_NOMEM.  OUT *out owned by the caller.
 */
NS_API enum ns_status ns_schema_load(const char *path, struct ns_schema **out,
				     struct ns_diag *diag);
NS_API enum ns_status ns_schema_parse(const char *text, size_t len, const char *source,
				      struct ns_schema **out, struct ns_diag *diag);
NS_API void ns_schema_free(struct ns_schema *s);

/*
 * Writes the schema as YAML in netsec's canonical form (docs/schema.md: fixed
 * key order, defaults written out, strings double-quoted and escaped, numbers
 * in shortest round-trip form), preceded by `note` as comment lines, to a new
 * NUL-terminated string: OUT *out owned by the caller (ns_free), *len its
 * length (`len` may be NULL).  ns_schema_parse() of it gives the same schema.
 * NS_ERR_INVALID for an inconsistent struct or text that is not UTF-8 (YAML
 * cannot carry it), NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_schema_to_yaml(const struct ns_schema *s, char **out, size_t *len);
/** Writes the YAML atomically to `path` (temp file, fsync, rename); NS_ERR_IO with the path. */
NS_API enum ns_status ns_schema_save(const struct ns_schema *s, const char *path,
				     struct ns_diag *diag);
/*
 * SHA-256 (64 hex digits and a NUL) of the canonical YAML form without the
 * note: schemas that say the same thing hash alike whatever their wording.
 */
NS_API enum ns_status ns_schema_hash(const struct ns_schema *s, char hex[65]);
/** Index of the column named `name`, or -1. */
NS_API long ns_schema_col_index(const struct ns_schema *s, const char *name);
/** Index of label `value` in classes (numeric targets compare by value), or -1. */
NS_API long ns_schema_class_index(const struct ns_schema *s, const char *value, size_t len);
/*
 * True when class `k` (an index into classes) is a threat: k == threat when
 * `threat` is set, k != benign when `benign` is set, false for every class
 * when neither is set (the schema does not say) or k is out of range.
 */
NS_API bool ns_schema_class_is_threat(const struct ns_schema *s, long k);

/* ---- inference ----------------------------------------------------------- */

enum ns_header_mode { NS_HEADER_AUTO = 0, NS_HEADER_YES = 1, NS_HEADER_NO = 2 };

struct ns_infer_params {
	const char *target; /* target column name; NULL: see docs/schema.md */
	const char *threat; /* threat class value; NULL: none (never guessed) */
	const char *benign; /* or: the benign class, every other one a threat */
	enum ns_header_mode header;
	char delimiter; /* 0: guess among , ; tab | */
	const char *const *names; /* column names for header-less files (or NULL) */
	size_t n_names;
	size_t max_levels; /* most distinct values listed for an int column
				    * (default 16); categories list all levels */
	size_t max_category_levels; /* more distinct strings than this: error (default 10000) */
	const char *name; /* dataset name to record (or NULL) */
	const char *const *ignore; /* columns to mark `ignore: true` (or NULL) */
	size_t n_ignore;
};
NS_API struct ns_infer_params ns_infer_params_default(void);

/*
 * Reads a CSV file and writes a schema describing it: header detection, column
 * types, allowed values of small integer columns, category levels, lower bound
 * 0 for non-negative columns, the target's classes (the rules are in
 * docs/schema.md).  The file is read once, or twice when a column mixes
 * numbers and text (so `path` must be a file, not "-", in that case).  OUT
 * *out owned by the caller; its `note` says how it was inferred.  Errors:
 * NS_ERR_IO, NS_ERR_PARSE (CSV syntax, ragged records, text that is not
 * UTF-8), NS_ERR_LIMIT (too many levels), NS_ERR_INVALID (bad params: an
 * unknown target or ignore name, a threat that is not a class, names that do
 * not fit), NS_ERR_NOMEM.  Thread-safe (no shared state).
 */
NS_API enum ns_status ns_schema_infer_file(const char *path, const struct ns_infer_params *p,
					   struct ns_schema **out, struct ns_diag *diag);

/* ---- validation ------------------------------------------------------------ */

enum ns_problem_kind {
	NS_PROBLEM_SYNTAX = 0, /* CSV syntax or a cap (from the reader) */
	NS_PROBLEM_HEADER, /* missing, unknown or duplicate column names */
	NS_PROBLEM_FIELD_COUNT, /* a record with the wrong number of fields */
	NS_PROBLEM_TYPE, /* text in a numeric column, a fraction in an int one */
	NS_PROBLEM_RANGE, /* a number outside [min, max] */
	NS_PROBLEM_VALUE, /* a value not among the allowed ones */
	NS_PROBLEM_LABEL, /* a target value that is not a class, or missing */
	NS_PROBLEM_MISSING, /* a column's missing share above its maximum */
	NS_PROBLEM_EMPTY, /* no data records */
};
NS_API const char *ns_problem_kind_name(enum ns_problem_kind k);

struct ns_problem {
	enum ns_problem_kind kind;
	uint64_t line; /* 0 when it concerns the whole file */
	uint64_t column; /* 1-based field number in the file, 0 if none */
	const char *field; /* column name or NULL; borrowed for the callback */
	const char *message;
};

typedef void (*ns_problem_fn)(void *user, const struct ns_problem *p);

/*
 * One typed cell after validation, in schema column order.  For numeric
 * columns `num` holds the value (NaN when missing); for categories `str`/`len`
 * point into the current record (valid during the record's processing).
 */
struct ns_value {
	double num;
	const char *str;
	size_t len;
	bool missing;
};

struct ns_validator_params {
	/* The target column may be absent from the file (prediction input). */
	bool target_optional;
	/* Columns not in the schema are allowed and passed through. */
	bool allow_extra;
	/* Stop collecting problems after this many (they are still counted). 0: no cap. */
	size_t max_problems;
};
NS_API struct ns_validator_params ns_validator_params_default(void);

struct ns_validator;

/*
 * Creates a validator.  `fn` receives each problem (may be NULL to only count).
 * Feed it the CSV records in order: if the schema says `header`, the first
 * record is taken as the header and columns are matched by name in any order;
 * otherwise by position.
 */
NS_API enum ns_status ns_validator_create(const struct ns_schema *s,
					  const struct ns_validator_params *p, ns_problem_fn fn,
					  void *user, struct ns_validator **out);
NS_API void ns_validator_free(struct ns_validator *v);

/*
 * Processes one record.  For a data record, fills values[0..n_columns) when
 * the record is valid and sets *ok; problems go to the callback.  For the
 * header record, *ok is false and values are untouched.  While the header has
 * problems, no record is valid.  `values` may be NULL (counting only).
 * Returns NS_OK, or NS_ERR_SCHEMA when the header is so wrong that no record
 * can be read (none of the schema's columns is in it; the callback has the
 * detail; every later call returns it too), or NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_validator_record(struct ns_validator *v, const struct ns_csv_record *rec,
					  struct ns_value *values, bool *ok);
/** Reports whole-file problems (missing shares, no records). Call once at the end. */
NS_API enum ns_status ns_validator_finish(struct ns_validator *v);
/** Data records seen (not the header) / records valid / problems found (including
 * those past the cap). */
NS_API uint64_t ns_validator_n_records(const struct ns_validator *v);
NS_API uint64_t ns_validator_n_valid(const struct ns_validator *v);
NS_API uint64_t ns_validator_n_problems(const struct ns_validator *v);
/** For each schema column, the 1-based field number in the file, or 0 if absent. */
NS_API const size_t *ns_validator_column_map(const struct ns_validator *v);
/** Extra file columns (allow_extra): count, and their names/positions. */
NS_API size_t ns_validator_n_extra(const struct ns_validator *v);
NS_API const char *ns_validator_extra_name(const struct ns_validator *v, size_t i);
NS_API size_t ns_validator_extra_field(const struct ns_validator *v, size_t i);

/*
 * Validates a whole file against the schema: every problem with its line and
 * column goes to `fn`.  Returns NS_OK when there is none, NS_ERR_SCHEMA when
 * there are problems, NS_ERR_IO when the file cannot be read.  OUT counters
 * may be NULL.
 */
struct ns_validate_summary {
	uint64_t n_records;
	uint64_t n_valid;
	uint64_t n_problems;
};
NS_API enum ns_status ns_validate_file(const char *path, const struct ns_schema *s,
				       const struct ns_validator_params *p, ns_problem_fn fn,
				       void *user, struct ns_validate_summary *summary,
				       struct ns_diag *diag);

/*
 * Reads a CSV file into a new frame with the schema's columns (int and float
 * as numeric, category as categorical; ignored columns are kept).  The first
 * invalid record stops the read with NS_ERR_SCHEMA and its line and column in
 * `diag`.  With `schema` NULL, the file must have a header; types are taken
 * from the data (a column is numeric while every value parses as a number;
 * at its first other value it becomes categorical, earlier numbers becoming
 * levels in shortest form).  A file with no data records is NS_ERR_SCHEMA.
 * OUT *out owned by the caller (ns_frame_free).
 */
NS_API enum ns_status ns_frame_read_csv(const char *path, const struct ns_schema *schema,
					struct ns_frame **out, struct ns_diag *diag);
/*
 * The same with validator params (`p` NULL: defaults): target_optional lets
 * prediction input leave out the label (its column is then all missing);
 * allow_extra skips columns the schema does not name.  Ignored when `schema`
 * is NULL.
 */
NS_API enum ns_status ns_frame_read_csv_ex(const char *path, const struct ns_schema *schema,
					   const struct ns_validator_params *p,
					   struct ns_frame **out, struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
