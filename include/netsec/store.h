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

#ifdef __cplusplus
}
#endif
#endif
