/*
 * lib/track/track_impl.h - the table of functions a tracking backend
 * provides, and helpers shared by the backends.
 *
 * lib/track/track.c owns the generic parts: URI dispatch, MLflow's
 * validation of names, keys and values, run names, the standard tags
 * (mlflow.user, mlflow.source.*, mlflow.parentRunId, netsec.pid/host) and
 * the liveness test behind reaping.  A backend only stores what it is given.
 * A backend is one `struct ns__track_backend` listed in track.c's table;
 * a later MLflow REST backend registers itself for "http" and "https" (one
 * entry each, sharing the functions) and receives the whole URI in open().
 *
 * Every string handed to a backend has been validated already; backends
 * still treat what they read back from storage as outside data.
 */
#ifndef NETSEC_TRACK_IMPL_H
#define NETSEC_TRACK_IMPL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/internal.h"
#include "netsec/track.h"

/* MLflow's RunStatus numbers (protos/service.proto), as meta.yaml stores them. */
enum ns__mlflow_status {
	NS__MLFLOW_RUNNING = 1,
	NS__MLFLOW_SCHEDULED = 2,
	NS__MLFLOW_FINISHED = 3,
	NS__MLFLOW_FAILED = 4,
	NS__MLFLOW_KILLED = 5,
};

struct ns__track_tag {
	const char *key;
	const char *value;
};

/* What track.c decides when a run starts; the backend stores it. */
struct ns__track_run_spec {
	const char *experiment_id; /* validated, never NULL */
	/* NULL: the backend names the run (MLflow's server and file store
	 * generate a name); either way it adds the mlflow.runName tag. */
	const char *run_name;
	const char *user_id; /* never NULL (may be "") */
	int64_t start_time; /* ms since the epoch */
	const struct ns__track_tag *tags; /* mlflow.user, mlflow.source.*, netsec.* */
	size_t n_tags;
};

/*
 * Asked by a backend's reap() for each active RUNNING run: true when the
 * process that owns it is gone.  The strings are the run's netsec.host,
 * netsec.pid and netsec.pid_start tags (NULL when absent).
 */
typedef bool (*ns__track_orphan_fn)(void *user, const char *host, const char *pid,
				    const char *pid_start);

struct ns__track_backend {
	const char *scheme;
	/*
	 * `uri` is the whole URI as given (REST needs it); `location` is what
	 * follows "scheme:" (or the whole string for a bare path, which goes
	 * to the first backend).  OUT *impl belongs to the backend.
	 */
	enum ns_status (*open)(const char *uri, const char *location, void **impl,
			       struct ns_diag *diag);
	void (*close)(void *impl);

	/* Get-or-create by name, race-free against other processes. */
	enum ns_status (*experiment)(void *impl, const char *name, char *id, size_t id_size,
				     struct ns_diag *diag);
	/* True (NS_OK) when run `run_id` exists in any experiment. */
	enum ns_status (*run_exists)(void *impl, const char *run_id, bool *exists,
				     struct ns_diag *diag);

	/*
	 * Creates the run; writes its id to OUT run_id (NS_TRACK_RUN_ID_MAX
	 * bytes) and its backend state to OUT *run (freed by run_free).
	 */
	enum ns_status (*run_create)(void *impl, const struct ns__track_run_spec *spec,
				     char *run_id, void **run, struct ns_diag *diag);
	void (*run_free)(void *run);
	enum ns_status (*log_param)(void *impl, void *run, const char *key, const char *value,
				    struct ns_diag *diag);
	enum ns_status (*log_metric)(void *impl, void *run, const char *key, double value,
				     int64_t timestamp, int64_t step, struct ns_diag *diag);
	enum ns_status (*set_tag)(void *impl, void *run, const char *key, const char *value,
				  struct ns_diag *diag);
	/* `artifact_dir` is "" for the root; validated relative path. */
	enum ns_status (*log_artifact)(void *impl, void *run, const char *local_path,
				       const char *artifact_dir, struct ns_diag *diag);
	/* Sets status (an ns__mlflow_status) and end_time. */
	enum ns_status (*run_update)(void *impl, void *run, int status, int64_t end_time,
				     struct ns_diag *diag);
	/*
	 * Marks FAILED with `end_time` each active RUNNING run for which
	 * `orphan` answers true; OUT *n_marked counts them.
	 */
	enum ns_status (*reap)(void *impl, ns__track_orphan_fn orphan, void *user, int64_t end_time,
			       size_t *n_marked, struct ns_diag *diag);
};

extern const struct ns__track_backend ns__track_mlflow_file;

/* ---- shared helpers (track.c) ------------------------------------------- */

/* MLflow's _validate_metric_name / _validate_param_name / _validate_tag_name
 * plus the 250-character limit; `what` names the key in the message. */
enum ns_status ns__track_check_key(const char *what, const char *key, struct ns_diag *diag);
/* MLflow's _EXPERIMENT_ID_REGEX: [A-Za-z0-9][A-Za-z0-9_-]{0,63}. */
bool ns__track_valid_experiment_id(const char *id);
/* MLflow's _RUN_ID_REGEX: [A-Za-z0-9][A-Za-z0-9_-]{0,255}. */
bool ns__track_valid_run_id(const char *id);
/* Number of code points when `s` is valid UTF-8 (no overlongs, no
 * surrogates); SIZE_MAX when it is not. */
size_t ns__track_utf8_len(const char *s);

/* ---- YAML for meta.yaml files (meta_yaml.c) ----------------------------- */

/*
 * Appends `key: value` and a newline, with `value` written as a YAML
 * scalar that PyYAML's safe loader reads back as exactly that string:
 * plain when that is unambiguous, else single- or double-quoted.
 */
enum ns_status ns__yaml_put_str(struct ns__buf *b, const char *key, const char *value);
enum ns_status ns__yaml_put_int(struct ns__buf *b, const char *key, int64_t value);
/* `key: null` */
enum ns_status ns__yaml_put_null(struct ns__buf *b, const char *key);

/* A flat top-level mapping read back from a meta.yaml: scalar values only
 * (sequences and mappings are skipped). */
struct ns__yaml_entry {
	char *key;
	char *value;
	bool plain; /* an unquoted scalar (so "null", "12" keep YAML meaning) */
};
struct ns__yaml_map {
	struct ns__yaml_entry *v;
	size_t n;
};
/* Parses `text`; NS_ERR_CORRUPT (with a message) when it is not a mapping. */
enum ns_status ns__yaml_map_parse(const char *text, size_t len, struct ns__yaml_map *m,
				  struct ns_diag *diag);
void ns__yaml_map_fini(struct ns__yaml_map *m);
/* The entry for `key`, or NULL. */
const struct ns__yaml_entry *ns__yaml_map_get(const struct ns__yaml_map *m, const char *key);
/* The value as a string (NULL when absent or a plain null/~). */
const char *ns__yaml_map_str(const struct ns__yaml_map *m, const char *key);
/* The value as an integer; false when absent, null or not an integer. */
bool ns__yaml_map_int(const struct ns__yaml_map *m, const char *key, int64_t *out);

#endif
