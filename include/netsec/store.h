/*
 * include/netsec/store.h - the data store: collections of validated records.
 *
 * A store is opened from a URI whose scheme picks the backend:
 *   sqlite:PATH      the embedded default (a single SQLite file; created if absent)
 *   PATH             same as sqlite:PATH
 * Other backends (MongoDB) join by adding a table entry; callers do not change.
 *
 * A collection holds the records of one dataset together with the schema they
 * were validated against.  Ingestion is one transaction: either every record
 * of a file lands, or none does.  Each ingested file is remembered by the
 * SHA-256 of its bytes, so the same file is not ingested twice unless asked.
 *
 * Threading: a store handle is used by one thread at a time; open one handle
 * per thread.
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
NS_API enum ns_status ns_store_open(const char *uri, struct ns_store **out,
				    struct ns_diag *diag);
NS_API void ns_store_close(struct ns_store *st);
/** The backend's scheme name ("sqlite"). Borrowed, static. */
NS_API const char *ns_store_scheme(const struct ns_store *st);

struct ns_ingest_params {
	const char *collection;   /* required: [A-Za-z0-9_.-]{1,64} */
	bool replace;             /* drop the collection's records first */
	bool skip_bad;            /* put invalid records aside instead of failing */
	bool allow_duplicate;     /* ingest a file whose hash was seen before */
	const struct ns_csv_params *csv; /* NULL: defaults with the schema's delimiter */
};
NS_API struct ns_ingest_params ns_ingest_params_default(void);

struct ns_ingest_result {
	uint64_t n_records;       /* data records read */
	uint64_t n_rows;          /* rows stored */
	uint64_t n_bad;           /* rows put aside (skip_bad) */
	bool duplicate;           /* the file had been ingested before: nothing stored */
	char sha256[65];          /* hash of the file's bytes */
	int64_t ingest_id;        /* id of this ingest in the store (0 if none) */
};

/*
 * Ingests the CSV file `path` ("-" for stdin) into a collection, validating
 * every record against `schema`.  Without skip_bad, the first bad record
 * rejects the whole file (NS_ERR_SCHEMA, diag names file, line, column and
 * field) and nothing is stored.  With skip_bad, bad records are stored aside
 * with their line and reasons (ns_store_export_rejects) and counted.  If the
 * collection exists with a different schema, NS_ERR_SCHEMA unless replace.
 * `fn` (may be NULL) receives every problem found.  OUT *result may be NULL.
 */
NS_API enum ns_status ns_store_ingest_csv(struct ns_store *st, const char *path,
					  const struct ns_schema *schema,
					  const struct ns_ingest_params *p, ns_problem_fn fn,
					  void *user, struct ns_ingest_result *result,
					  struct ns_diag *diag);

struct ns_collection_info {
	const char *name;         /* borrowed for the callback */
	uint64_t n_rows;
	uint64_t n_rejects;
	uint64_t n_ingests;
	const char *schema_hash;  /* hex */
	int64_t updated_ms;       /* last ingest, Unix time in ms */
};
typedef enum ns_status (*ns_collection_fn)(void *user, const struct ns_collection_info *c);

/** Calls `fn` for each collection in name order. */
NS_API enum ns_status ns_store_list(struct ns_store *st, ns_collection_fn fn, void *user,
				    struct ns_diag *diag);
/** Number of rows of a collection; NS_ERR_NOTFOUND if there is no such collection. */
NS_API enum ns_status ns_store_count(struct ns_store *st, const char *collection,
				     uint64_t *n_rows, struct ns_diag *diag);
/** The schema stored with a collection. OUT *out owned by the caller. */
NS_API enum ns_status ns_store_schema(struct ns_store *st, const char *collection,
				      struct ns_schema **out, struct ns_diag *diag);
/** Reads a collection into a new frame (columns as in its schema). */
NS_API enum ns_status ns_store_read_frame(struct ns_store *st, const char *collection,
					  struct ns_frame **out, struct ns_diag *diag);
/*
 * Writes a collection as CSV (a header of the schema's names, then the rows in
 * ingest order, numbers in shortest round-trip form, missing as empty) to `fp`.
 */
NS_API enum ns_status ns_store_export_csv(struct ns_store *st, const char *collection,
					  FILE *fp, struct ns_diag *diag);
/* Writes the records set aside by skip_bad as CSV: ingest id, line, reason, raw record. */
NS_API enum ns_status ns_store_export_rejects(struct ns_store *st, const char *collection,
					      FILE *fp, struct ns_diag *diag);
/** Deletes a collection and its history; NS_ERR_NOTFOUND if absent. */
NS_API enum ns_status ns_store_drop(struct ns_store *st, const char *collection,
				    struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
