/*
 * lib/track/mlflow_rest.h - private parts of the MLflow REST backend that
 * the unit tests reach: the runs/log-batch buffer (MLflow's request limits)
 * and the redaction of credentials in URIs.
 *
 * Threading: a batch is used by one thread at a time.
 */
#ifndef NETSEC_TRACK_MLFLOW_REST_H
#define NETSEC_TRACK_MLFLOW_REST_H

#include <stdbool.h>
#include <stdint.h>

#include "track/track_impl.h"

/* MLflow's LogBatch limits (MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH,
 * MAX_ENTITIES_PER_BATCH) and a body size kept under its 1 MB request cap. */
#define NS__REST_BATCH_METRICS 1000
#define NS__REST_BATCH_PARAMS 100
#define NS__REST_BATCH_TAGS 100
#define NS__REST_BATCH_TOTAL 1000
#define NS__REST_BATCH_BYTES (1000u * 1000u)

/* Entries waiting for one runs/log-batch request, as comma-separated JSON
 * objects per kind. */
struct ns__rest_batch {
	struct ns__buf metrics, params, tags;
	size_t n_metrics, n_params, n_tags;
};

void ns__rest_batch_init(struct ns__rest_batch *b);
void ns__rest_batch_fini(struct ns__rest_batch *b);
void ns__rest_batch_reset(struct ns__rest_batch *b);
bool ns__rest_batch_empty(const struct ns__rest_batch *b);

/*
 * Add one entry.  NS_ERR_LIMIT (the batch is left as it was) when it would
 * break a count limit or the size cap: send the batch, reset it and add
 * again.  A metric that is NaN or infinite is written as proto3 JSON writes
 * doubles: "NaN", "Infinity", "-Infinity".  NS_ERR_NOMEM.
 */
enum ns_status ns__rest_batch_add_metric(struct ns__rest_batch *b, const char *key, double value,
					 int64_t timestamp, int64_t step);
enum ns_status ns__rest_batch_add_param(struct ns__rest_batch *b, const char *key,
					const char *value);
enum ns_status ns__rest_batch_add_tag(struct ns__rest_batch *b, const char *key, const char *value);

/* Appends the runs/log-batch body {"run_id":..,"metrics":[..],"params":[..],
 * "tags":[..]} to `out`. */
enum ns_status ns__rest_batch_body(const struct ns__rest_batch *b, const char *run_id,
				   struct ns__buf *out);

/* Copies `uri` into `buf` (always NUL-terminated) with any userinfo
 * ("user:password@") replaced by "***@", for messages. */
void ns__rest_redact(const char *uri, char *buf, size_t size);

extern const struct ns__track_backend ns__track_mlflow_http;
extern const struct ns__track_backend ns__track_mlflow_https;

#endif
