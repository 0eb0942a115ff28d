/*
 * include/netsec/track.h - experiment tracking: experiments, runs, params,
 * metrics, tags and artifacts, written in MLflow's formats.
 *
 * A tracker is opened from a URI: MLflow's on-disk file store (the `mlruns`
 * folder that MLflow 2.x's FileStore reads, so `mlflow ui
 * --backend-store-uri ./mlruns` shows what netsec logged; the layout is
 * described field by field in docs/tracking.md), or an MLflow tracking
 * server over its REST API (`http:`/`https:`; credentials from
 * MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN, retries with
 * back-off; params, metrics and tags are batched, so an error may surface
 * on a later call or at ns_run_end).  The functions at the end read a file
 * store back and replay its runs to a server (`netsec track push`).
 *
 * Keys (param, metric and tag names) follow MLflow's rules: 1..250
 * characters out of ASCII letters, digits, '_', '-', '.', ' ' and '/';
 * '/' separates path parts, which must not be empty, "." or "..", and a key
 * must not start with ".." or '/'.  A bad key is NS_ERR_INVALID; nothing is
 * written.  Values must be valid UTF-8: params at most 6000 characters, tags
 * at most 5000 (MLflow's limits; longer values are refused, not truncated).
 *
 * Threading: a tracker and the runs started from it are used by one thread
 * at a time (no hidden locks).  Any number of processes (or threads with
 * their own trackers) may log to the same store at once: experiment
 * get-or-create holds an exclusive lock on the store, runs get random ids,
 * metric lines are appended with one write, and meta.yaml, param and tag
 * files are replaced atomically (temp file + rename).
 *
 * Errors: every function returns an enum ns_status and fills the optional
 * caller-owned diagnostic; outputs are written only on success.
 */
#ifndef NETSEC_TRACK_H
#define NETSEC_TRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns_tracker;
struct ns_run;

/* Sizes of the caller buffers for ids (with the NUL); MLflow allows run
 * ids up to 256 characters and experiment ids up to 64. */
#define NS_TRACK_EXPERIMENT_ID_MAX 65
#define NS_TRACK_RUN_ID_MAX 257

/* Limits, as MLflow's mlflow/utils/validation.py sets them. */
#define NS_TRACK_KEY_MAX 250
#define NS_TRACK_PARAM_VALUE_MAX 6000
#define NS_TRACK_TAG_VALUE_MAX 5000
#define NS_TRACK_EXPERIMENT_NAME_MAX 500

/*
 * Opens a tracker.  `uri` is "file:./mlruns", "file:///abs/path",
 * "file://localhost/abs/path" or a plain path (relative to the current
 * folder), or "http(s)://host[:port][/path]" for an MLflow server (opening
 * one makes no request); NULL means $MLFLOW_TRACKING_URI, or "./mlruns" when that is unset
 * or empty.  Like MLflow's FileStore, opening creates the root folder with
 * the "Default" experiment (id "0") and the ".trash" folder when they are
 * missing.  OUT *out is owned by the caller (ns_tracker_close).
 *
 * Returns NS_OK; NS_ERR_INVALID for an unknown scheme or a malformed URI;
 * NS_ERR_IO when the folder cannot be created or read; NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_tracker_open(const char *uri, struct ns_tracker **out,
				      struct ns_diag *diag);

/* Closes `t` (NULL is a no-op).  Runs started from `t` must be ended first. */
NS_API void ns_tracker_close(struct ns_tracker *t);

/* The backend's scheme ("file", "http" or "https"); static storage. */
NS_API const char *ns_tracker_scheme(const struct ns_tracker *t);

/*
 * Finds the active experiment called `name` or creates it, and writes its
 * id (NUL-terminated) to OUT `id` of `id_size` bytes
 * (NS_TRACK_EXPERIMENT_ID_MAX always suffices).  Two processes asking for
 * the same new name at once get the same experiment.  `name`: 1..500
 * characters of valid UTF-8.
 *
 * Returns NS_OK; NS_ERR_INVALID (bad name); NS_ERR_LIMIT (`id_size` too
 * small); NS_ERR_IO; NS_ERR_CORRUPT (an unreadable meta.yaml on the way is
 * skipped, as MLflow skips it, so this only comes from the store root
 * itself); NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_tracker_experiment(struct ns_tracker *t, const char *name, char *id,
					    size_t id_size, struct ns_diag *diag);

/*
 * Starts a run in experiment `experiment_id` (NULL: "0", the Default
 * experiment), status RUNNING, start time now.  `run_name` NULL gives a
 * generated name ("run-" and the first 8 hex digits of the id).
 * `parent_run_id`, when not NULL, must name an existing run; it makes this
 * run a nested run (tag mlflow.parentRunId).  The run is tagged as MLflow's
 * Python client tags a run (mlflow.runName, mlflow.user, mlflow.source.name,
 * mlflow.source.type = LOCAL) plus netsec.pid, netsec.pid_start and
 * netsec.host, which ns_tracker_reap uses.  OUT *out is owned by the caller
 * and released by ns_run_end; it borrows `t`, which must outlive it.
 *
 * Returns NS_OK; NS_ERR_INVALID (bad id or name); NS_ERR_NOTFOUND (no such
 * active experiment or parent run); NS_ERR_IO; NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_run_start(struct ns_tracker *t, const char *experiment_id,
				   const char *run_name, const char *parent_run_id,
				   struct ns_run **out, struct ns_diag *diag);

/* The run's id (32 lowercase hex digits for the file store); valid until
 * ns_run_end. */
NS_API const char *ns_run_id(const struct ns_run *r);
/* The id of the run's experiment; valid until ns_run_end. */
NS_API const char *ns_run_experiment_id(const struct ns_run *r);

/*
 * Logs parameter `key` = `value`.  As in MLflow a parameter is written once:
 * logging the same value again is NS_OK, a different value is
 * NS_ERR_EXISTS.  Returns NS_OK, NS_ERR_INVALID, NS_ERR_EXISTS, NS_ERR_IO,
 * NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_run_log_param(struct ns_run *r, const char *key, const char *value,
				       struct ns_diag *diag);

/*
 * Appends one value of metric `key` at `step`, timestamped now (ms since the
 * Unix epoch).  Any double is accepted, NaN and infinities included; the
 * file holds the shortest text that reads back to the same double.
 * Returns NS_OK, NS_ERR_INVALID, NS_ERR_IO, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_run_log_metric(struct ns_run *r, const char *key, double value,
					int64_t step, struct ns_diag *diag);

/*
 * Sets tag `key` to `value` (tags may change; the last value wins).  Setting
 * mlflow.runName also renames the run, as MLflow does.  Returns NS_OK,
 * NS_ERR_INVALID, NS_ERR_IO, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_run_set_tag(struct ns_run *r, const char *key, const char *value,
				     struct ns_diag *diag);

/*
 * Copies `local_path` into the run's artifacts, under `artifact_dir`
 * ("a/b"; NULL or "" for the artifacts root).  As MLflow's log_artifact and
 * log_artifacts do: a file lands at artifact_dir/<its base name>; a folder's
 * contents (recursively, not the folder itself) land under artifact_dir.
 * Symbolic links to files are followed; symbolic links to folders and
 * special files (sockets, FIFOs, devices) are skipped.  Each file appears
 * whole or not at all.  `artifact_dir` must be relative, without empty, "."
 * or ".." parts.
 *
 * Returns NS_OK; NS_ERR_INVALID (bad artifact_dir); NS_ERR_NOTFOUND
 * (`local_path` missing); NS_ERR_UNSUPPORTED (the experiment keeps its
 * artifacts somewhere other than a local folder); NS_ERR_IO; NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_run_log_artifact(struct ns_run *r, const char *local_path,
					  const char *artifact_dir, struct ns_diag *diag);

/* How a run ended.  NS_RUN_RUNNING exists for completeness: ending a run
 * with it is NS_ERR_INVALID. */
enum ns_run_status {
	NS_RUN_RUNNING,
	NS_RUN_FINISHED,
	NS_RUN_FAILED,
	NS_RUN_KILLED,
};

/*
 * Ends the run: sets its status and end time (now) and frees `r` - always,
 * whatever the result, so `r` must not be used afterwards (NULL is a no-op
 * returning NS_OK).  Returns NS_OK; NS_ERR_INVALID (status RUNNING, or the
 * run was deleted meanwhile); NS_ERR_IO; NS_ERR_CORRUPT (its meta.yaml
 * became unreadable); NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_run_end(struct ns_run *r, enum ns_run_status status, struct ns_diag *diag);

/*
 * Crash recovery: marks FAILED (end time now) every active run left RUNNING
 * whose owning process is gone.  Only runs started by netsec on this host
 * are considered (tags netsec.host and netsec.pid); a run's owner is gone
 * when no process has its pid, or the process with that pid started at
 * another time than netsec.pid_start records (the pid was reused).  Runs
 * without these tags, such as runs logged by MLflow's Python client, are
 * never touched.  OUT *reaped (may be NULL): how many runs were marked.
 *
 * Returns NS_OK, NS_ERR_IO, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_tracker_reap(struct ns_tracker *t, size_t *reaped, struct ns_diag *diag);

/* ---- reading a local file store back, and replaying it ---------------------- */

/* A key and its value, both owned by the record holding them. */
struct ns_track_kv {
	char *key;
	char *value;
};

/* One value of a metric as the file store keeps it. */
struct ns_track_point {
	char *key;
	double value;
	int64_t timestamp; /* ms since the epoch */
	int64_t step;
};

/* A run read back from an MLflow file store; every pointer is owned by the
 * record (ns_track_records_free). */
struct ns_track_record {
	char run_id[NS_TRACK_RUN_ID_MAX];
	char experiment_id[NS_TRACK_EXPERIMENT_ID_MAX];
	char *experiment_name;
	char *run_name;
	char *user_id;
	char *artifact_dir; /* the run's local artifact folder; NULL when not local */
	int64_t start_time; /* ms since the epoch */
	int64_t end_time; /* -1 while the run has not ended */
	enum ns_run_status status; /* SCHEDULED reads as RUNNING */
	struct ns_track_kv *params;
	size_t n_params;
	struct ns_track_kv *tags;
	size_t n_tags;
	struct ns_track_point *metrics; /* empty unless read with metrics */
	size_t n_metrics;
};

/*
 * Reads every active run of every active experiment of the file store
 * `store` (a path or a file: URI; nothing is created) with its params and
 * tags, and its metrics when `with_metrics`.  Unreadable runs and
 * experiments are skipped, as MLflow skips them.  OUT *out (an array of
 * *n_out records, owned by the caller: ns_track_records_free).
 * Returns NS_OK; NS_ERR_NOTFOUND (no store there); NS_ERR_IO; NS_ERR_NOMEM.
 * Thread-safe (reads only).
 */
NS_API enum ns_status ns_track_read_runs(const char *store, bool with_metrics,
					 struct ns_track_record **out, size_t *n_out,
					 struct ns_diag *diag);
/* Reads one run (with metrics) by id; NS_ERR_NOTFOUND when no active run
 * of an active experiment has that id.  OUT *out: free with
 * ns_track_records_free(*out, 1). */
NS_API enum ns_status ns_track_read_run(const char *store, const char *run_id,
					struct ns_track_record **out, struct ns_diag *diag);
NS_API void ns_track_records_free(struct ns_track_record *records, size_t n);
/* The value of tag `key` of `r` (borrowed from `r`), or NULL. */
NS_API const char *ns_track_record_tag(const struct ns_track_record *r, const char *key);

/*
 * Sets tag `key` of run `run_id` in the file store `store` (MLflow's key and
 * value rules; the file is replaced atomically).  Used to mark runs after a
 * replay.  Returns NS_OK, NS_ERR_INVALID, NS_ERR_NOTFOUND, NS_ERR_IO,
 * NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_track_store_set_tag(const char *store, const char *run_id, const char *key,
					     const char *value, struct ns_diag *diag);

/*
 * Replays run `run_id` of the file store `store`, and then its nested runs
 * (tag mlflow.parentRunId, any depth), to the tracker `to` (typically an
 * MLflow server): experiment by name, the run with its original name, user,
 * start time and tags, its params, its metrics with their timestamps and
 * steps, its artifacts, and its final status and end time.  Each run
 * replayed is tagged netsec.remote_run_id (its id at `to`) in the local
 * store, and netsec.pending_push becomes "false"; a run that already has
 * netsec.remote_run_id is skipped (its nested runs are still visited)
 * unless `force`.  A nested run is pushed under its parent's remote id, so
 * the parent must have been pushed.  OUT *n_pushed and *n_skipped (may be
 * NULL) count runs.  A run still RUNNING is NS_ERR_INVALID.
 *
 * Returns NS_OK; NS_ERR_NOTFOUND; NS_ERR_INVALID; NS_ERR_IO (the server
 * failed: what was not pushed stays unmarked and can be pushed again);
 * NS_ERR_NOMEM.  Not thread-safe for `to` (see above).
 */
NS_API enum ns_status ns_track_push(struct ns_tracker *to, const char *store, const char *run_id,
				    bool force, size_t *n_pushed, size_t *n_skipped,
				    struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
