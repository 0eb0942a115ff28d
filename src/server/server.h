/*
 * src/server/server.h - `netsec serve`: the HTTP service on libmicrohttpd.
 *
 * One route table (routes.c) drives dispatch, authentication, body limits
 * and the OpenAPI document (openapi.c), so the documentation cannot drift
 * from the code.  A request goes through begin (headers known), body (zero
 * or more chunks, streamed) and end (the response is queued); handlers never
 * hold an upload whole.  The current model lives in a holder (model.c) that
 * requests borrow by reference count: a promote or rollback swaps it without
 * dropping a request, and requests in flight finish on the model they
 * started with.
 */
#ifndef NETSEC_SERVER_H
#define NETSEC_SERVER_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dashboard.h"
#include "netsec/netsec.h"

/* ---- configuration (flags over environment over defaults; README) ---------------- */

struct srv_config {
	const char *host; /* NETSEC_HOST, default 0.0.0.0 */
	unsigned port; /* NETSEC_PORT, default 8080; 0: any free port */
	const char *store_uri; /* NETSEC_STORE */
	const char *registry_dir; /* NETSEC_REGISTRY, default models */
	const char *model_name; /* NETSEC_MODEL_NAME, default netsec */
	const char *artifacts_dir; /* NETSEC_ARTIFACTS, default artifacts */
	const char *tracking_uri; /* MLFLOW_TRACKING_URI */
	/* What POST /train trains on: a store collection (NETSEC_COLLECTION, default
	 * the bundled schema's name) with the bundled schema; the bundled data is
	 * ingested first when the store lacks the collection (as `netsec train`). */
	const char *collection;
	const char *data_path; /* the bundled CSV */
	const char *schema_path; /* the bundled schema */
	const char *token; /* NETSEC_API_TOKEN (or read from NETSEC_API_TOKEN_FILE) */
	const char *cors_origins; /* NETSEC_CORS_ORIGINS: comma list; default none */
	const char *keep_dir; /* NETSEC_KEEP_PREDICTIONS: folder for ?keep=true results */
	const char *port_file; /* write the bound port here once listening (tests) */
	bool log_raw_rows; /* NETSEC_LOG_RAW_ROWS: keep predicted rows in the log */
	uint64_t max_upload; /* NETSEC_MAX_UPLOAD bytes, default 256 MiB */
	uint64_t max_rows; /* NETSEC_MAX_ROWS per request, default 10,000,000 */
	uint64_t max_json; /* NETSEC_MAX_JSON bytes for JSON bodies, default 8 MiB */
	uint64_t max_fields; /* NETSEC_MAX_FIELDS per CSV record, default 65536 */
	unsigned workers; /* NETSEC_WORKERS: worker threads, default cores */
	unsigned max_connections; /* NETSEC_MAX_CONNECTIONS, default 512 */
	unsigned timeout; /* NETSEC_TIMEOUT: idle seconds before a connection is
			   * closed, default 30 */
	unsigned reload_interval_ms; /* registry polling, default 1000 */
	int verbosity;
};

/* ---- the model holder (model.c) ---------------------------------------------------- */

/* A loaded model with everything requests need, shared by reference count. */
struct srv_model {
	atomic_uint refs;
	struct ns_model *model;
	struct ns_encoder *enc;
	struct ns_schema *schema;
	struct ns_imputer *imp; /* NULL when the model has none */
	size_t *map; /* encoder input -> schema column (ns_encoder_map_schema) */
	unsigned version;
	char name[128];
	char family[64];
	char *meta_json; /* the registry's model card, or NULL */
	long threat; /* threat class index, or -1 */
	bool *is_threat; /* per class */
};

struct srv_holder {
	pthread_mutex_t lock;
	struct srv_model *current;
	char current_text[32]; /* content of the registry's current file when loaded */
};

/* ---- jobs (jobs.c) ----------------------------------------------------------------------- */

enum srv_job_state { JOB_RUNNING, JOB_FINISHED, JOB_FAILED };

struct srv_job {
	char id[40];
	enum srv_job_state state;
	int64_t created_ms, finished_ms;
	struct ns_train_progress progress; /* last reported (detail/family copied) */
	char detail[128], family[32];
	struct ns_train_result *result; /* when done */
	char error[NS_DIAG_MESSAGE_MAX];
	int exit_status; /* ns_status of the run */
};

#define SRV_MAX_JOBS 64

/* ---- metrics (metrics.c) -------------------------------------------------------------------- */

#define SRV_LATENCY_BUCKETS 12
struct srv_route_metrics {
	atomic_uint_fast64_t by_status[6]; /* 1xx..5xx by first digit (index 1..5) */
	atomic_uint_fast64_t latency[SRV_LATENCY_BUCKETS + 1]; /* cumulative at render */
	atomic_uint_fast64_t latency_sum_us;
	atomic_uint_fast64_t count;
};

/* ---- the server -------------------------------------------------------------------------------- */

struct srv {
	struct srv_config cfg;
	struct MHD_Daemon *daemon;
	unsigned port; /* bound */
	struct srv_holder holder;
	atomic_uint_fast64_t next_request;
	int64_t started_ms;
	/* jobs */
	pthread_mutex_t jobs_lock;
	struct srv_job jobs[SRV_MAX_JOBS];
	size_t n_jobs;
	long running_job; /* index, or -1 */
	pthread_t job_thread;
	bool job_thread_live;
	/* metrics */
	struct srv_route_metrics *route_metrics; /* one per route + 1 (unmatched) */
	atomic_uint_fast64_t predictions_by_class[64];
	char class_labels[64][64]; /* labels seen, for the metric's label values */
	atomic_uint n_class_labels;
	pthread_mutex_t class_lock;
	atomic_uint_fast64_t train_runs[3]; /* finished, failed, rejected (409) */
	/* background: registry polling and prediction log writing */
	pthread_t watcher;
	bool watcher_live;
	atomic_bool stopping;
	/* prediction log queue (log.c) */
	pthread_mutex_t log_lock;
	pthread_cond_t log_cond;
	struct srv_log_entry *log_head, *log_tail;
	struct srv_log_entry *log_open; /* the entry requests of this second add into */
	size_t log_len;
	pthread_t log_thread;
	bool log_thread_live;
};

/* ---- requests ------------------------------------------------------------------------------------ */

struct route;

struct req {
	struct srv *s;
	struct MHD_Connection *conn;
	const struct route *route;
	size_t route_index;
	uint64_t id;
	char id_str[24];
	double t0;
	char method[16];
	char path[512];
	char arg[128]; /* the {param} of the route's pattern, if any */
	uint64_t body_bytes;
	bool done; /* a response has been queued (or is pending) */
	bool in_upload; /* inside a body callback: responses wait in `pending` */
	struct MHD_Response *pending; /* an answer given mid-upload, sent at the end */
	bool body_error; /* an error happened mid-body: ignore the rest */
	unsigned status;
	uint64_t bytes_out;
	void *state; /* the handler's */
	void (*state_free)(void *state);
};

/* A handler step returns MHD_YES, or MHD_NO to drop the connection. */
typedef enum MHD_Result (*route_begin_fn)(struct req *r);
typedef enum MHD_Result (*route_body_fn)(struct req *r, const char *data, size_t len);
typedef enum MHD_Result (*route_end_fn)(struct req *r);

enum route_flags {
	ROUTE_AUTH = 1, /* needs the bearer token */
	ROUTE_BODY = 2, /* takes a request body (streamed to body()) */
	ROUTE_HIDDEN = 4, /* not in the OpenAPI document (asset files) */
	ROUTE_PREFIX = 8, /* pattern matches any path starting with it */
};

struct route_doc_param {
	const char *name;
	const char *in; /* "path", "query", "header" */
	const char *type; /* "string", "integer", "boolean" */
	const char *description;
	const char *enum_values; /* "html,csv,json" or NULL */
	bool required;
};

struct route_doc_response {
	unsigned status;
	const char *description;
	const char *content_type; /* or NULL */
	const char *schema_ref; /* "#/components/schemas/Error" or NULL */
};

struct route {
	const char *method;
	const char *pattern; /* "/jobs/{id}" */
	unsigned flags;
	route_begin_fn begin;
	route_body_fn body;
	route_end_fn end;
	/* the OpenAPI document */
	const char *tag;
	const char *summary;
	const char *description;
	const struct route_doc_param *params; /* NULL-name terminated, or NULL */
	const char *request_types; /* "multipart/form-data,text/csv" or NULL */
	const char *request_schema_ref; /* for JSON bodies */
	const struct route_doc_response *responses; /* status 0 terminated */
};

extern const struct route srv_routes[];
extern const size_t srv_n_routes;

/* Responses (server.c).  Each queues the response, records status and size. */
enum MHD_Result srv_send(struct req *r, unsigned status, const char *content_type, const void *body,
			 size_t len);
/* Takes ownership of `body` (ns_malloc'ed). */
enum MHD_Result srv_send_owned(struct req *r, unsigned status, const char *content_type, char *body,
			       size_t len);
/* ns_free as an MHD free callback. */
void srv_free(void *p);
/* {"error": ..., "detail": ..., "where": {...} | null} */
enum MHD_Result srv_error(struct req *r, unsigned status, const char *error, const char *detail,
			  const struct ns_diag *where);
enum MHD_Result srv_send_response(struct req *r, unsigned status, struct MHD_Response *resp);
/* Query argument or header (NULL if absent). */
const char *srv_query(struct req *r, const char *name);
const char *srv_header(struct req *r, const char *name);

/* JSON string literal into a dash_buf. */
void srv_json_string(struct dash_buf *b, const char *s);
void srv_json_number(struct dash_buf *b, double v);

/* model.c */
void srv_holder_init(struct srv_holder *h);
void srv_holder_fini(struct srv_holder *h);
/* Loads the registry's current model if it changed; *changed may be NULL. */
enum ns_status srv_holder_reload(struct srv *s, bool *changed, struct ns_diag *diag);
/* A reference to the current model (NULL if none); release with srv_model_release. */
struct srv_model *srv_model_acquire(struct srv *s);
void srv_model_release(struct srv_model *m);

/* jobs.c */
enum MHD_Result srv_train_begin(struct req *r);
enum MHD_Result srv_train_body(struct req *r, const char *data, size_t len);
enum MHD_Result srv_train_end(struct req *r);
enum MHD_Result srv_job_get(struct req *r);
void srv_jobs_fini(struct srv *s);

/* predict.c */
enum MHD_Result srv_predict_begin(struct req *r);
enum MHD_Result srv_predict_body(struct req *r, const char *data, size_t len);
enum MHD_Result srv_predict_end(struct req *r);
enum MHD_Result srv_predict_json_begin(struct req *r);
enum MHD_Result srv_predict_json_body(struct req *r, const char *data, size_t len);
enum MHD_Result srv_predict_json_end(struct req *r);

/* metrics.c */
void srv_metrics_init(struct srv *s);
void srv_metrics_fini(struct srv *s);
void srv_metrics_request(struct srv *s, size_t route_index, unsigned status, double seconds);
void srv_metrics_predictions(struct srv *s, const struct srv_model *m, const uint64_t *counts);
enum MHD_Result srv_metrics_get(struct req *r);

/* log.c: the prediction log, written to the store by a background thread */
void srv_log_start(struct srv *s);
void srv_log_stop(struct srv *s);
void srv_log_prediction(struct srv *s, const struct srv_model *m, const char *source,
			const char *request_id, uint64_t n_rows, const uint64_t *counts,
			double seconds, const char *raw_csv, size_t raw_len);

/* openapi.c */
enum MHD_Result srv_openapi_get(struct req *r);
/* home.c */
enum MHD_Result srv_home_get(struct req *r);

/* server.c */
int srv_run(const struct srv_config *cfg);
int64_t srv_now_ms(void);
double srv_mono(void);
bool srv_token_ok(const struct srv *s, const char *authorization);

#endif
