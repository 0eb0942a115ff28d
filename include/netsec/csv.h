/*
 * include/netsec/csv.h - streaming CSV reader (RFC 4180) and writer.
 *
 * The reader is a push parser: feed it bytes in chunks of any size (a file
 * read in 1 MiB blocks, an HTTP upload as it arrives) and it calls back once
 * per complete record with that record's fields.  Only the current record is
 * held in memory.  It understands RFC 4180 quoting with "" escapes, LF, CRLF
 * (and a lone CR at end of line), a leading UTF-8 byte-order mark, a chosen
 * delimiter, and enforces hard caps on field bytes, fields per record and
 * record bytes.  Every error names the physical line and the 1-based field.
 *
 * Threading: a reader or writer is used by one thread at a time.
 */
#ifndef NETSEC_CSV_H
#define NETSEC_CSV_H

#include <stdio.h>

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns_csv_params {
	char delimiter; /* default ',' */
	char quote; /* default '"' */
	size_t max_field_bytes; /* default 1 MiB */
	size_t max_fields; /* default 65536 */
	size_t max_row_bytes; /* default 16 MiB (decoded bytes of one record) */
	/* Blank lines (zero bytes between line ends) are skipped when true
	 * (default); when false each one is a record of one empty field. */
	bool skip_blank_lines;
	/* Name of the source for diagnostics ("data.csv", "upload"); borrowed. */
	const char *source_name;
};

/*
 * Returns the defaults described above.  ns_csv_reader_create() rejects
 * (NS_ERR_INVALID) a delimiter or quote that is CR, LF or NUL, a delimiter
 * equal to the quote, and caps of 0.
 */
NS_API struct ns_csv_params ns_csv_params_default(void);

/*
 * One record, valid only during the callback.  fields[i] points to field i's
 * decoded bytes (quotes removed, "" turned into "), NUL-terminated; lens[i]
 * is its length; quoted[i] tells whether it was quoted (so an empty quoted
 * field "" can be told apart from an empty unquoted one).
 */
struct ns_csv_record {
	size_t n_fields;
	const char *const *fields;
	const size_t *lens;
	const bool *quoted;
	uint64_t line; /* physical line where the record starts (1-based) */
	uint64_t index; /* record number, 0-based, counting a header if any */
	/* Byte offset of the record's first byte in the whole stream (BOM counted). */
	uint64_t offset;
	/* Raw bytes of the record as they appeared (without the line end), for
	 * error reports that quote the input; length raw_len, at most
	 * max_row_bytes (longer records are truncated here, not rejected).  Not
	 * NUL-terminated.  Valid during the callback only. */
	const char *raw;
	size_t raw_len;
};

/*
 * Called once per record.  Return NS_OK to go on; any other status stops the
 * parse and is returned from ns_csv_reader_feed/finish (fill `diag` to say
 * why; the reader adds the source name and the line if they are unset).
 */
typedef enum ns_status (*ns_csv_record_fn)(void *user, const struct ns_csv_record *rec,
					   struct ns_diag *diag);

struct ns_csv_reader;

/*
 * Creates a reader.  `params` may be NULL for the defaults.  OUT *out owned by
 * the caller (ns_csv_reader_free).  Returns NS_OK, NS_ERR_INVALID (bad params)
 * or NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_csv_reader_create(const struct ns_csv_params *params, ns_csv_record_fn fn,
					   void *user, struct ns_csv_reader **out,
					   struct ns_diag *diag);
NS_API void ns_csv_reader_free(struct ns_csv_reader *r);

/*
 * Feeds `len` bytes.  Calls back for each record completed by these bytes.
 * After an error the reader is finished: further calls return the same error.
 * Errors: NS_ERR_PARSE (e.g. a quote inside an unquoted field, text after a
 * closing quote, a NUL byte), NS_ERR_LIMIT (a cap exceeded; the message names
 * the cap and its value), NS_ERR_NOMEM, or whatever the callback returned;
 * NS_ERR_INVALID for a feed after finish (not sticky).  `diag` may be NULL.
 */
NS_API enum ns_status ns_csv_reader_feed(struct ns_csv_reader *r, const void *data, size_t len,
					 struct ns_diag *diag);
/*
 * Ends the input: delivers a last record not followed by a line end.
 * Errors: NS_ERR_PARSE for an unterminated quoted field (naming the line
 * where it opened), or the callback's status.
 */
NS_API enum ns_status ns_csv_reader_finish(struct ns_csv_reader *r, struct ns_diag *diag);

/*
 * Records delivered so far; lines consumed so far (line ends seen, plus one
 * for a last line without a line end once finish() has delivered it).
 */
NS_API uint64_t ns_csv_reader_records(const struct ns_csv_reader *r);
NS_API uint64_t ns_csv_reader_lines(const struct ns_csv_reader *r);
/** Total bytes fed so far (including a BOM). */
NS_API uint64_t ns_csv_reader_bytes(const struct ns_csv_reader *r);

/*
 * Convenience: reads a whole file (or stdin when path is "-") through a new
 * reader in 1 MiB chunks.  A missing or unreadable file (or a directory)
 * gives NS_ERR_IO with the path and errno's text.  When params->source_name
 * is NULL the diagnostics name `path` ("stdin" for "-").
 */
NS_API enum ns_status ns_csv_read_file(const char *path, const struct ns_csv_params *params,
				       ns_csv_record_fn fn, void *user, struct ns_diag *diag);

/* ---- missing-value markers ---------------------------------------------- */

/*
 * A set of strings that mean "missing".  The default set is: the empty
 * string, "na", "NA", "N/A", "n/a", "?", "NaN", "nan", "null", "NULL",
 * "None".  Lookups are exact (case-sensitive) byte comparisons.
 */
struct ns_na_set {
	size_t n;
	const char *const *values;
};
NS_API struct ns_na_set ns_na_set_default(void);
/** True when `s` (len bytes) is one of the set's values; false for a NULL set. */
NS_API bool ns_na_set_has(const struct ns_na_set *set, const char *s, size_t len);

/* ---- writer -------------------------------------------------------------- */

struct ns_csv_writer;

/*
 * Creates a writer on a stdio stream (borrowed; not closed by free).  Fields
 * are quoted only when they contain the delimiter, a quote, CR or LF, or
 * leading/trailing spaces.  Line ends are LF.  So that what is written reads
 * back the same, a row of one empty field is written as "" (not as a blank
 * line) and a first field of the stream that starts with a UTF-8 BOM is
 * quoted.  OUT *out owned by the caller (ns_csv_writer_free).  Returns
 * NS_OK, NS_ERR_INVALID (delimiter is a quote, CR, LF or NUL) or NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_csv_writer_create(FILE *fp, char delimiter, struct ns_csv_writer **out,
					   struct ns_diag *diag);
NS_API void ns_csv_writer_free(struct ns_csv_writer *w);
/*
 * Appends one text field to the current row.  NS_ERR_INVALID for a field
 * holding a NUL byte (no reader would take it back), NS_ERR_IO after a
 * write error.
 */
NS_API enum ns_status ns_csv_writer_field(struct ns_csv_writer *w, const char *s, size_t len);
/*
 * Appends one number, written so that it reads back exactly (shortest
 * round-trip form); NaN is written as the empty field (missing).
 */
NS_API enum ns_status ns_csv_writer_number(struct ns_csv_writer *w, double v);
/*
 * Ends the current row (a row without fields is an empty line).  Returns
 * NS_ERR_IO if the stream reported an error; write errors are sticky.
 */
NS_API enum ns_status ns_csv_writer_end_row(struct ns_csv_writer *w);
/** Flushes; NS_ERR_IO on a write error (e.g. disk full). */
NS_API enum ns_status ns_csv_writer_flush(struct ns_csv_writer *w, struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
