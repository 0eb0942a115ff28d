/*
 * include/netsec/store.h - the data store: collections of validated records.
 *
 * A store is opened from a URI whose scheme picks the backend:
 *   sqlite:PATH      the embedded default (a single SQLite file; created, with
 *                    its missing parent folders, if absent)
 *   PATH             same as sqlite:PATH
 * Text before the first ':' is a scheme when it is two or more of letters,
 * digits, '+', '-', '.' starting with a letter; otherwise the whole URI is a
 * path ("./a:b.db").  Other backends (MongoDB) join by adding a table entry;
 * callers do not change.  docs/store.md describes the SQLite file's tables.
 *
 * A collection holds the records of one dataset together with the schema they
 * were validated against.  Ingestion is one transaction: either every record
 * of a file lands, or none does (also when the process is killed mid-way).
 * Each ingested file is remembered by the SHA-256 of its bytes, so the same
 * file is not ingested twice into a collection unless asked.
 *
 * The store also keeps the HTTP service's prediction log (one entry per
 * prediction request) and aggregates it for the /home dashboard; see "the
 * prediction log" below.
 *
 * Threading: a store handle is used by one thread at a time; open one handle
 * per thread (or process: SQLite writers wait up to 5 s for each other, and
 * readers are not blocked by an ingest).  ns_store_ingest_csv runs one
 * worker thread of its own for the duration of the call, which stores rows
 * while the calling thread reads and validates the next ones.
 */
#ifndef NETSEC_STORE_H
#define NETSEC_STORE_H

#include <stdio.h>

#include "netsec/core.h"
#include "netsec/frame.h"
#include "netsec/schema.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default store URI, relative to the working directory. */
#define NS_STORE_DEFAULT_URI "sqlite:var/netsec.db"

struct ns_store;

/*
 * Opens (creating if needed) the store at `uri`.  Errors: NS_ERR_INVALID for
 * an unknown scheme (diag lists the known ones), NS_ERR_IO / NS_ERR_STORE when
 * the backend cannot open it.  OUT *out owned by the caller.
 */
NS_API enum ns_status ns_store_open(const char *uri, struct ns_store **out, struct ns_diag *diag);
NS_API void ns_store_close(struct ns_store *st);
/** The backend's scheme name ("sqlite"). Borrowed, static. */
NS_API const char *ns_store_scheme(const struct ns_store *st);

struct ns_ingest_params {
	/* Required: [A-Za-z0-9_.-]{1,64}.  Two names that differ only in case
	 * cannot coexist in one store (NS_ERR_EXISTS). */
	const char *collection;
	/* Drop the collection's records, ingest history and rejects first (in the
	 * same transaction), and take this schema if it differs. */
	bool replace;
	bool skip_bad; /* put invalid records aside instead of failing */
	bool allow_duplicate; /* ingest a file whose hash was seen before */
	const struct ns_csv_params *csv; /* NULL: defaults with the schema's delimiter */
};
NS_API struct ns_ingest_params ns_ingest_params_default(void);

struct ns_ingest_result {
	uint64_t n_records; /* data records read */
	uint64_t n_rows; /* rows stored */
	uint64_t n_bad; /* rows put aside (skip_bad) */
	bool duplicate; /* the file had been ingested before: nothing stored */
	char sha256[65]; /* hash of the file's bytes */
	int64_t ingest_id; /* id of this ingest in the store (0 if none) */
};

/*
 * Ingests the CSV file `path` ("-" for stdin) into a collection, validating
 * every record against `schema` (which is stored with the collection).
 * Without skip_bad, the first bad record rejects the whole file
 * (NS_ERR_SCHEMA, diag names file, line, column and field) and nothing is
 * stored.  With skip_bad, bad records are stored aside with their line and
 * reasons (ns_store_export_rejects) and counted.  Whatever skip_bad says,
 * these abort the ingest with nothing stored: a CSV syntax error or a cap
 * exceeded (NS_ERR_PARSE / NS_ERR_LIMIT with the reader's diag; `fn` gets it
 * as NS_PROBLEM_SYNTAX), a header that does not match, a whole-file problem
 * (a column's missing share), and a file without data records (NS_ERR_SCHEMA
 * "no data records").  If the collection exists with a different schema,
 * NS_ERR_SCHEMA unless replace.  A file whose hash was ingested into the
 * collection before is not stored again: NS_OK with result->duplicate set
 * (unless allow_duplicate).  `fn` (may be NULL) receives every problem found,
 * on the calling thread.  OUT *result (may be NULL) is written on NS_OK only.
 * Other errors: NS_ERR_INVALID (arguments, collection name), NS_ERR_IO (the
 * file), NS_ERR_EXISTS (a name differing only in case), NS_ERR_NOMEM, and the
 * backend's NS_ERR_STORE / NS_ERR_IO / NS_ERR_CORRUPT.
 */
NS_API enum ns_status ns_store_ingest_csv(struct ns_store *st, const char *path,
					  const struct ns_schema *schema,
					  const struct ns_ingest_params *p, ns_problem_fn fn,
					  void *user, struct ns_ingest_result *result,
					  struct ns_diag *diag);

struct ns_collection_info {
	const char *name; /* borrowed for the callback */
	uint64_t n_rows;
	uint64_t n_rejects;
	uint64_t n_ingests;
	const char *schema_hash; /* hex */
	int64_t updated_ms; /* last ingest, Unix time in ms */
};
typedef enum ns_status (*ns_collection_fn)(void *user, const struct ns_collection_info *c);

/*
 * Calls `fn` for each collection in name order (byte order); a status other
 * than NS_OK from `fn` stops the walk and is returned.  `fn` may use the
 * store, even drop the collection it is told about.
 */
NS_API enum ns_status ns_store_list(struct ns_store *st, ns_collection_fn fn, void *user,
				    struct ns_diag *diag);
/** Number of rows of a collection; NS_ERR_NOTFOUND if there is no such collection. */
NS_API enum ns_status ns_store_count(struct ns_store *st, const char *collection, uint64_t *n_rows,
				     struct ns_diag *diag);
/*
 * The schema stored with a collection (NS_ERR_NOTFOUND if none).  OUT *out
 * owned by the caller (ns_schema_free).
 */
NS_API enum ns_status ns_store_schema(struct ns_store *st, const char *collection,
				      struct ns_schema **out, struct ns_diag *diag);
/*
 * Reads a collection into a new frame: its schema's columns in order, int and
 * float as numeric (NaN for missing), category as categorical; rows in ingest
 * order.  NS_ERR_NOTFOUND if there is no such collection.  OUT *out owned by
 * the caller (ns_frame_free).
 */
NS_API enum ns_status ns_store_read_frame(struct ns_store *st, const char *collection,
					  struct ns_frame **out, struct ns_diag *diag);
/*
 * Writes a collection as CSV to `fp` with the schema's delimiter: a header of
 * the schema's names (when the schema says files have a header, so that the
 * output ingests again with the same schema), then the rows in ingest order,
 * numbers in shortest round-trip form, categories as text, missing as empty.
 * NS_ERR_NOTFOUND, NS_ERR_IO (a write error; the output is then partial).
 */
NS_API enum ns_status ns_store_export_csv(struct ns_store *st, const char *collection, FILE *fp,
					  struct ns_diag *diag);
/*
 * Writes the records set aside by skip_bad as CSV with the header
 * "ingest_id,line,reason,raw": the ingest's id, the record's physical line,
 * its problems joined by "; " (each "FIELD: message"), the record as it was.
 */
NS_API enum ns_status ns_store_export_rejects(struct ns_store *st, const char *collection, FILE *fp,
					      struct ns_diag *diag);
/** Deletes a collection and its history; NS_ERR_NOTFOUND if absent. */
NS_API enum ns_status ns_store_drop(struct ns_store *st, const char *collection,
				    struct ns_diag *diag);

/* ---- the prediction log ---------------------------------------------------------
 *
 * The HTTP service logs every prediction request: one entry per request with
 * its per-class counts (and, only when the server is configured to keep
 * them, the predicted rows as CSV).  The /home dashboard reads aggregates
 * back: requests and rows per time bucket, and totals per class.  The SQLite
 * tables are described in docs/store.md.
 *
 * Threading: as for every store call, one handle per thread.  Any number of
 * threads or processes, each with its own handle, may log into one store at
 * once; each entry is one short transaction (writers queue for up to 5 s).
 */

/* Caps checked by ns_store_log_prediction (bytes, not characters). */
#define NS_PREDICTION_MAX_CLASSES 1024
#define NS_PREDICTION_LABEL_MAX 127 /* fits ns_prediction_class_total.label */
#define NS_PREDICTION_TEXT_MAX 256 /* request_id, source, model_name */
#define NS_PREDICTION_RAW_MAX ((size_t)256 << 20) /* raw_csv */
/* Most buckets ns_store_prediction_series returns. */
#define NS_PREDICTION_MAX_BUCKETS 10000

/*
 * One logged prediction request.  Every string is UTF-8 and borrowed for the
 * duration of the call.
 */
struct ns_prediction_log {
	/* Unix time in ms when the request finished; 0: now.  Not negative. */
	int64_t time_ms;
	/* The server's request id; the source: its route or a client label
	 * ("/predict"); the model that predicted.  Each at most
	 * NS_PREDICTION_TEXT_MAX bytes; NULL is stored as "". */
	const char *request_id;
	const char *source;
	const char *model_name;
	unsigned model_version;
	/* Rows predicted in the request: the sum of counts[]. */
	uint64_t n_rows;
	/* The model's classes (at most NS_PREDICTION_MAX_CLASSES; 0 with NULL
	 * arrays for a request without rows).  labels[i] is the dataset's own
	 * value of class i (non-empty, at most NS_PREDICTION_LABEL_MAX bytes, no
	 * two alike), counts[i] how many rows were predicted as it, is_threat[i]
	 * whether it is a threat class. */
	size_t n_classes;
	const char *const *labels;
	const uint64_t *counts;
	const bool *is_threat;
	double seconds; /* the request's duration (finite, >= 0) */
	/* Requests this entry stands for (0 counts as 1): a server may merge the
	 * entries of many small requests of one second into one, summing rows,
	 * counts and seconds, to keep the log's write rate bounded. */
	uint64_t n_requests;
	/* Optional raw rows, only when the server is configured to keep them:
	 * raw_len bytes of CSV (header + rows with the predicted column), stored
	 * as they are (at most NS_PREDICTION_RAW_MAX); NULL for none. */
	const char *raw_csv;
	size_t raw_len;
};

/*
 * Appends entry `e` to the prediction log, atomically (the entry, its
 * classes and its raw rows, or nothing).  Errors: NS_ERR_INVALID for a bad
 * entry (diag says which field and why: a NULL array, too many classes, a
 * label empty, too long, not UTF-8 or repeated, counts that do not add up to
 * n_rows, a negative time or duration...), NS_ERR_LIMIT for raw rows over
 * NS_PREDICTION_RAW_MAX, and the backend's NS_ERR_STORE (also when the store
 * stays busy for 5 s) / NS_ERR_IO / NS_ERR_NOMEM.  Takes well under 1 ms on
 * the SQLite store (docs/store.md).
 */
NS_API enum ns_status ns_store_log_prediction(struct ns_store *st,
					      const struct ns_prediction_log *e,
					      struct ns_diag *diag);

/* Aggregates of the log entries in one time bucket. */
struct ns_prediction_bucket {
	int64_t start_ms; /* the bucket is [start_ms, start_ms + bucket_ms) */
	uint64_t requests; /* requests (the entries' n_requests) */
	uint64_t rows; /* sum of their n_rows */
	uint64_t threat_rows; /* rows predicted as a class marked is_threat */
};

/*
 * Aggregates the entries with since_ms <= time_ms < until_ms in buckets of
 * bucket_ms, the first starting at since_ms; every bucket is present, empty
 * ones as zeros, oldest first (the last one may be cut short by until_ms).
 * OUT *out: ceil((until_ms - since_ms) / bucket_ms) buckets, owned by the
 * caller (ns_free); NULL with *n = 0 when since_ms == until_ms.  Errors:
 * NS_ERR_INVALID when since_ms < 0, until_ms < since_ms, bucket_ms <= 0 or
 * more than NS_PREDICTION_MAX_BUCKETS buckets; NS_ERR_NOMEM; the backend's.
 */
NS_API enum ns_status ns_store_prediction_series(struct ns_store *st, int64_t since_ms,
						 int64_t until_ms, int64_t bucket_ms,
						 struct ns_prediction_bucket **out, size_t *n,
						 struct ns_diag *diag);

/* Predictions of one class label over a time range. */
struct ns_prediction_class_total {
	char label[NS_PREDICTION_LABEL_MAX + 1]; /* NUL-terminated */
	/* Whether a request in the range counted it as a threat class (if the
	 * threat class changed between models, any request decides). */
	bool is_threat;
	uint64_t count; /* rows predicted as it */
};

/*
 * Totals per class label of the entries with since_ms <= time_ms <
 * until_ms, most frequent first (ties in label byte order).  Every label
 * logged in the range is listed, also with a count of 0.  OUT *out owned by
 * the caller (ns_free); NULL with *n = 0 when the range holds no entry.
 * Errors: NS_ERR_INVALID (until_ms < since_ms), NS_ERR_NOMEM, NS_ERR_CORRUPT
 * (a label in the store longer than NS_PREDICTION_LABEL_MAX), the backend's.
 */
NS_API enum ns_status ns_store_prediction_totals(struct ns_store *st, int64_t since_ms,
						 int64_t until_ms,
						 struct ns_prediction_class_total **out, size_t *n,
						 struct ns_diag *diag);

/*
 * Retention: deletes the entries with time_ms < before_ms, with their
 * classes and raw rows.  Deletes in batches of a few thousand entries, each
 * its own transaction, so that loggers are not held up; an error may thus
 * leave part of the old entries deleted.  OUT *deleted (may be NULL): the
 * entries deleted, written on NS_OK.  Errors: the backend's.
 */
NS_API enum ns_status ns_store_prediction_prune(struct ns_store *st, int64_t before_ms,
						uint64_t *deleted, struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
