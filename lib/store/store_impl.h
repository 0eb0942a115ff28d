/*
 * lib/store/store_impl.h - the table of functions a store backend provides.
 *
 * lib/store/store.c owns the generic parts (URI dispatch, CSV reading,
 * validation, hashing, the ingest protocol); a backend only moves validated
 * rows in and out.  A backend is one `struct ns__store_backend` listed in
 * store.c's table; nothing else refers to it by name.
 *
 * The ingest protocol, driven by store.c:
 *   begin(collection, schema, schema_yaml, schema_hash, replace)
 *   insert(rows) ... and reject(line, reason, raw) ...
 *   commit(sha256, source, n_rows, n_bad, allow_duplicate, &duplicate, &id)
 *     - must check, inside the transaction, whether `sha256` was already
 *       ingested into the collection; if so and !allow_duplicate, roll back
 *       and set *duplicate = true (returning NS_OK).
 *   or rollback() on any error.
 */
#ifndef NETSEC_STORE_IMPL_H
#define NETSEC_STORE_IMPL_H

#include "netsec/store.h"

struct ns__store_backend {
	const char *scheme;
	/* `location` is the URI after "scheme:" (for sqlite: a path). */
	enum ns_status (*open)(const char *location, void **impl, struct ns_diag *diag);
	void (*close)(void *impl);

	enum ns_status (*begin)(void *impl, const char *collection, const struct ns_schema *schema,
				const char *schema_yaml, const char *schema_hash, bool replace,
				struct ns_diag *diag);
	/*
	 * Appends `n_rows` rows in order: values holds n_rows * schema->n_columns
	 * cells, row after row, each in schema column order.  Category strings
	 * stay valid until the call returns.
	 */
	enum ns_status (*insert)(void *impl, const struct ns_value *values, size_t n_rows,
				 struct ns_diag *diag);
	enum ns_status (*reject)(void *impl, uint64_t line, const char *reason, const char *raw,
				 size_t raw_len, struct ns_diag *diag);
	enum ns_status (*commit)(void *impl, const char *sha256, const char *source,
				 uint64_t n_rows, uint64_t n_bad, bool allow_duplicate,
				 bool *duplicate, int64_t *ingest_id, struct ns_diag *diag);
	void (*rollback)(void *impl);

	enum ns_status (*list)(void *impl, ns_collection_fn fn, void *user, struct ns_diag *diag);
	enum ns_status (*count)(void *impl, const char *collection, uint64_t *n,
				struct ns_diag *diag);
	/* OUT *yaml: the stored schema text, owned by the caller (ns_free). */
	enum ns_status (*schema_yaml)(void *impl, const char *collection, char **yaml,
				      struct ns_diag *diag);
	/*
	 * Calls `fn` for each row in ingest order with schema->n_columns values
	 * (category strings valid during the call).
	 */
	enum ns_status (*scan)(void *impl, const char *collection, const struct ns_schema *schema,
			       enum ns_status (*fn)(void *user, const struct ns_value *values),
			       void *user, struct ns_diag *diag);
	enum ns_status (*scan_rejects)(void *impl, const char *collection,
				       enum ns_status (*fn)(void *user, int64_t ingest_id,
							    uint64_t line, const char *reason,
							    const char *raw, size_t raw_len),
				       void *user, struct ns_diag *diag);
	enum ns_status (*drop)(void *impl, const char *collection, struct ns_diag *diag);

	/*
	 * The prediction log.  store.c validates every argument first: the
	 * backend gets an entry whose strings are non-NULL, valid and within
	 * their caps, whose time is resolved (> 0 unless given so), whose
	 * labels are distinct, and `threat_rows` (the sum of the counts of
	 * threat classes).  log_prediction stores the entry, its classes and
	 * its raw rows atomically.
	 */
	enum ns_status (*log_prediction)(void *impl, const struct ns_prediction_log *e,
					 uint64_t threat_rows, struct ns_diag *diag);
	/*
	 * Adds the entries with since_ms <= time < until_ms into `buckets`
	 * (n_buckets of bucket_ms each from since_ms, zeroed and with start_ms
	 * set by store.c; since_ms >= 0).
	 */
	enum ns_status (*prediction_series)(void *impl, int64_t since_ms, int64_t until_ms,
					    int64_t bucket_ms, struct ns_prediction_bucket *buckets,
					    size_t n_buckets, struct ns_diag *diag);
	/*
	 * Calls `fn` once per class label logged with since_ms <= time <
	 * until_ms, in any order, with the label (valid during the call),
	 * whether any of those entries marked it a threat, and its row count.
	 */
	enum ns_status (*prediction_totals)(void *impl, int64_t since_ms, int64_t until_ms,
					    enum ns_status (*fn)(void *user, const char *label,
								 size_t label_len, bool is_threat,
								 uint64_t count),
					    void *user, struct ns_diag *diag);
	/* Deletes the entries with time < before_ms (with their classes and raw
	 * rows); *deleted: how many entries. */
	enum ns_status (*prediction_prune)(void *impl, int64_t before_ms, uint64_t *deleted,
					   struct ns_diag *diag);
};

extern const struct ns__store_backend ns__store_sqlite;

/*
 * The ingest pipeline (store_pipe.c): store.c queues validated rows and
 * rejects; a worker thread passes them to the backend's insert/reject in
 * order, so that storing overlaps reading and validating.  Between create
 * and finish the backend handle belongs to the pipeline; finish waits until
 * everything queued has been passed on and returns the first backend error
 * (with its diag), after which the caller may commit or roll back.  Errors
 * found by the worker also come back from the next row/reject call.
 * Free stops the worker (after the batch it holds) and may follow any call.
 */
struct ns__store_pipe;
enum ns_status ns__store_pipe_create(const struct ns__store_backend *be, void *impl,
				     const struct ns_schema *schema, struct ns__store_pipe **out);
/* values: schema->n_columns cells; category strings are copied. */
enum ns_status ns__store_pipe_row(struct ns__store_pipe *p, const struct ns_value *values,
				  struct ns_diag *diag);
enum ns_status ns__store_pipe_reject(struct ns__store_pipe *p, uint64_t line, const char *reason,
				     const char *raw, size_t raw_len, struct ns_diag *diag);
enum ns_status ns__store_pipe_finish(struct ns__store_pipe *p, struct ns_diag *diag);
void ns__store_pipe_free(struct ns__store_pipe *p);

#endif
