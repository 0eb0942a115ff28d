/*
 * lib/track/track.c - experiment tracking's generic part: URI dispatch over
 * the backend table, MLflow's validation rules, run names and the standard
 * run tags, and the liveness test behind ns_tracker_reap.
 *
 * Validation follows mlflow/utils/validation.py (MLflow 2.x): keys match
 * ^[/\w.\- ]*$ and must equal their posixpath.normpath (so no empty, "."
 * or ".." parts, no leading or trailing '/', nothing starting with ".."),
 * at most 250 characters.  Python's \w also takes non-ASCII letters; we
 * accept ASCII only, a strict subset, so that every key is a safe file name
 * on any file system.
 *
 * Threading: see include/netsec/track.h; nothing here is shared.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsec/config.h"

#include "track/mlflow_rest.h"
#include "track/track_impl.h"

struct ns_tracker {
	const struct ns__track_backend *be;
	void *impl;
};

struct ns_run {
	struct ns_tracker *t;
	void *impl;
	char id[NS_TRACK_RUN_ID_MAX];
	char experiment_id[NS_TRACK_EXPERIMENT_ID_MAX];
};

/* Every backend; the first one also takes bare paths. */
static const struct ns__track_backend *const backends[] = {
	&ns__track_mlflow_file,
	&ns__track_mlflow_http,
	&ns__track_mlflow_https,
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

#define TAG_USER "mlflow.user"
#define TAG_SOURCE_NAME "mlflow.source.name"
#define TAG_SOURCE_TYPE "mlflow.source.type"
#define TAG_PARENT "mlflow.parentRunId"
#define TAG_PID "netsec.pid"
#define TAG_PID_START "netsec.pid_start"
#define TAG_HOST "netsec.host"

/* ---- validation ------------------------------------------------------------ */

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ' ' || c == '/';
}

enum ns_status ns__track_check_key(const char *what, const char *key, struct ns_diag *diag)
{
	size_t n;
	if (!key)
		return ns_diag_set(diag, NS_ERR_INVALID, "%s name missing", what);
	n = strlen(key);
	for (size_t i = 0; i < n; i++) {
		if (!key_char(key[i]))
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "invalid %s name '%.250s': names may only contain "
					   "alphanumerics, underscores (_), dashes (-), periods "
					   "(.), spaces ( ), and slashes (/)",
					   what, key);
	}
	if (n == 0 || key[0] == '/' || strncmp(key, "..", 2) == 0)
		goto bad_path;
	/* Every '/'-separated part is non-empty and neither "." nor "..". */
	for (size_t i = 0; i <= n;) {
		size_t j = i;
		while (j < n && key[j] != '/')
			j++;
		if (j == i || (j - i == 1 && key[i] == '.') ||
		    (j - i == 2 && key[i] == '.' && key[i + 1] == '.'))
			goto bad_path;
		i = j + 1;
	}
	if (n > NS_TRACK_KEY_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "%s name '%.100s...' is %zu characters long, more than %d", what,
				   key, n, NS_TRACK_KEY_MAX);
	return NS_OK;
bad_path:
	return ns_diag_set(diag, NS_ERR_INVALID,
			   "invalid %s name '%.250s': names are used as file paths and must not "
			   "be empty, start with '/' or '..', or have empty, '.' or '..' parts",
			   what, key);
}

static bool id_matches(const char *id, size_t max_tail)
{
	size_t n = id ? strlen(id) : 0;
	if (n == 0 || n > max_tail + 1)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '-')))
			return false;
	}
	return true;
}

bool ns__track_valid_experiment_id(const char *id)
{
	return id_matches(id, 63);
}

bool ns__track_valid_run_id(const char *id)
{
	return id_matches(id, 255);
}

static enum ns_status check_value(const char *what, const char *key, const char *value, size_t max,
				  struct ns_diag *diag)
{
	size_t n;
	if (!value)
		return ns_diag_set(diag, NS_ERR_INVALID, "%s '%s': no value", what, key);
	n = ns__track_utf8_len(value);
	if (n == SIZE_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID, "%s '%s': value is not valid UTF-8", what,
				   key);
	if (n > max)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "%s '%s': value is %zu characters long, more than %zu", what,
				   key, n, max);
	return NS_OK;
}

/* ---- open / close --------------------------------------------------------------- */

/* Length of "scheme" in "scheme:rest" (letters, digits, "+-."; at least two
 * characters so that a drive letter is not one), or 0 for a bare path. */
static size_t scheme_len(const char *uri)
{
	size_t i;
	if (!((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z')))
		return 0;
	for (i = 1; uri[i] && uri[i] != ':'; i++) {
		char c = uri[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return 0;
	}
	return uri[i] == ':' && i >= 2 ? i : 0;
}

enum ns_status ns_tracker_open(const char *uri, struct ns_tracker **out, struct ns_diag *diag)
{
	const struct ns__track_backend *be = NULL;
	const char *location;
	struct ns_tracker *t;
	enum ns_status st;
	size_t n;

	ns_diag_clear(diag);
	if (!out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no output handle");
	if (!uri || !*uri) {
		uri = getenv("MLFLOW_TRACKING_URI");
		if (!uri || !*uri)
			uri = "./mlruns";
	}
	location = uri;
	n = scheme_len(uri);
	if (n == 0) {
		be = backends[0];
	} else {
		for (size_t i = 0; i < N_BACKENDS; i++)
			if (strlen(backends[i]->scheme) == n &&
			    strncasecmp(backends[i]->scheme, uri, n) == 0)
				be = backends[i];
		location = uri + n + 1;
	}
	if (!be) {
		char known[128];
		size_t off = 0;
		known[0] = '\0';
		for (size_t i = 0; i < N_BACKENDS; i++) {
			int w = snprintf(known + off, sizeof(known) - off, "%s%s:", i ? ", " : "",
					 backends[i]->scheme);
			if (w < 0 || (size_t)w >= sizeof(known) - off)
				break;
			off += (size_t)w;
		}
		{
			char shown[512];
			ns_redact(uri, shown, sizeof(shown));
			return ns_diag_set(
				diag, NS_ERR_INVALID,
				"unknown tracking URI scheme '%.*s:' in '%s' (known: %s, "
				"or a plain path for an MLflow file store)",
				(int)n, uri, shown, known);
		}
	}
	t = ns_calloc(1, sizeof(*t));
	if (!t)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	t->be = be;
	st = be->open(uri, location, &t->impl, diag);
	if (st != NS_OK) {
		ns_free(t);
		return st;
	}
	*out = t;
	return NS_OK;
}

void ns_tracker_close(struct ns_tracker *t)
{
	if (!t)
		return;
	t->be->close(t->impl);
	ns_free(t);
}

const char *ns_tracker_scheme(const struct ns_tracker *t)
{
	return t ? t->be->scheme : NULL;
}

enum ns_status ns_tracker_experiment(struct ns_tracker *t, const char *name, char *id,
				     size_t id_size, struct ns_diag *diag)
{
	size_t n;
	ns_diag_clear(diag);
	if (!t || !id || id_size == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "no tracker or id buffer");
	if (!name || !*name)
		return ns_diag_set(diag, NS_ERR_INVALID, "invalid experiment name: empty");
	n = ns__track_utf8_len(name);
	if (n == SIZE_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID, "experiment name is not valid UTF-8");
	if (n > NS_TRACK_EXPERIMENT_NAME_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "experiment name is %zu characters long, more than %d", n,
				   NS_TRACK_EXPERIMENT_NAME_MAX);
	return t->be->experiment(t->impl, name, id, id_size, diag);
}

/* ---- runs ------------------------------------------------------------------------- */

/* The login name, as Python's getpass.getuser() finds it (MLflow's
 * mlflow.user): $LOGNAME, $USER, $LNAME, $USERNAME, then the password
 * database. */
static const char *user_name(char *buf, size_t size)
{
	static const char *const vars[] = {"LOGNAME", "USER", "LNAME", "USERNAME"};
	struct passwd pw, *res = NULL;
	char pwbuf[1024];
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v && ns__track_utf8_len(v) <= NS_TRACK_TAG_VALUE_MAX) {
			snprintf(buf, size, "%s", v);
			return buf;
		}
	}
	if (getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res &&
	    ns__track_utf8_len(res->pw_name) != SIZE_MAX) {
		snprintf(buf, size, "%s", res->pw_name);
		return buf;
	}
	snprintf(buf, size, "unknown");
	return buf;
}

/* The running program's path (MLflow's mlflow.source.name is sys.argv[0]). */
static const char *source_name(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	if (n <= 0) {
		snprintf(buf, size, "netsec");
		return buf;
	}
	buf[n] = '\0';
	if (ns__track_utf8_len(buf) == SIZE_MAX)
		snprintf(buf, size, "netsec");
	return buf;
}

/*
 * Field 22 of /proc/PID/stat (start time in clock ticks since boot), as
 * text; false when unreadable.  The comm field may hold spaces and
 * parentheses, so fields are counted after the last ')'.
 */
static bool proc_start_time(long pid, char *out, size_t size)
{
	char path[64], buf[1024];
	FILE *fp;
	size_t n;
	const char *p;
	int field = 2;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p)
		return false;
	p++;
	while (*p && field < 22) {
		while (*p == ' ')
			p++;
		field++;
		if (field == 22)
			break;
		while (*p && *p != ' ')
			p++;
	}
	if (field != 22 || !*p)
		return false;
	n = strcspn(p, " \n");
	if (n == 0 || n >= size)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static void host_name(char *buf, size_t size)
{
	if (gethostname(buf, size) != 0 || ns__track_utf8_len(buf) == SIZE_MAX) {
		snprintf(buf, size, "localhost");
		return;
	}
	buf[size - 1] = '\0';
}

enum ns_status ns_run_start(struct ns_tracker *t, const char *experiment_id, const char *run_name,
			    const char *parent_run_id, struct ns_run **out, struct ns_diag *diag)
{
	char user[256], source[1024], pid[32], pid_start[32], host[256];
	struct ns__track_tag tags[8];
	struct ns__track_run_spec spec;
	struct ns_run *r = NULL;
	enum ns_status st;
	size_t n_tags = 0;

	ns_diag_clear(diag);
	if (!t || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no tracker or output handle");
	if (!experiment_id)
		experiment_id = "0";
	if (!ns__track_valid_experiment_id(experiment_id))
		return ns_diag_set(diag, NS_ERR_INVALID, "invalid experiment id '%.100s'",
				   experiment_id);
	if (run_name) {
		st = check_value("run name", "", run_name, NS_TRACK_TAG_VALUE_MAX, diag);
		if (st != NS_OK)
			return st;
	}
	if (parent_run_id) {
		bool exists = false;
		if (!ns__track_valid_run_id(parent_run_id))
			return ns_diag_set(diag, NS_ERR_INVALID, "invalid parent run id '%.100s'",
					   parent_run_id);
		st = t->be->run_exists(t->impl, parent_run_id, &exists, diag);
		if (st != NS_OK)
			return st;
		if (!exists)
			return ns_diag_set(diag, NS_ERR_NOTFOUND, "parent run '%s' not found",
					   parent_run_id);
	}
	r = ns_calloc(1, sizeof(*r));
	if (!r)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	r->t = t;
	snprintf(r->experiment_id, sizeof(r->experiment_id), "%s", experiment_id);

	user_name(user, sizeof(user));
	source_name(source, sizeof(source));
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	host_name(host, sizeof(host));
	tags[n_tags++] = (struct ns__track_tag){TAG_USER, user};
	tags[n_tags++] = (struct ns__track_tag){TAG_SOURCE_NAME, source};
	tags[n_tags++] = (struct ns__track_tag){TAG_SOURCE_TYPE, "LOCAL"};
	if (parent_run_id)
		tags[n_tags++] = (struct ns__track_tag){TAG_PARENT, parent_run_id};
	tags[n_tags++] = (struct ns__track_tag){TAG_HOST, host};
	tags[n_tags++] = (struct ns__track_tag){TAG_PID, pid};
	if (proc_start_time((long)getpid(), pid_start, sizeof(pid_start)))
		tags[n_tags++] = (struct ns__track_tag){TAG_PID_START, pid_start};

	memset(&spec, 0, sizeof(spec));
	spec.experiment_id = experiment_id;
	spec.run_name = run_name;
	spec.user_id = user;
	spec.start_time = ns__now_ms();
	spec.tags = tags;
	spec.n_tags = n_tags;
	st = t->be->run_create(t->impl, &spec, r->id, &r->impl, diag);
	if (st != NS_OK) {
		ns_free(r);
		return st;
	}
	*out = r;
	return NS_OK;
}

const char *ns_run_id(const struct ns_run *r)
{
	return r ? r->id : NULL;
}

const char *ns_run_experiment_id(const struct ns_run *r)
{
	return r ? r->experiment_id : NULL;
}

enum ns_status ns_run_log_param(struct ns_run *r, const char *key, const char *value,
				struct ns_diag *diag)
{
	enum ns_status st;
	ns_diag_clear(diag);
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID, "no run");
	st = ns__track_check_key("parameter", key, diag);
	if (st == NS_OK)
		st = check_value("parameter", key, value, NS_TRACK_PARAM_VALUE_MAX, diag);
	if (st == NS_OK)
		st = r->t->be->log_param(r->t->impl, r->impl, key, value, diag);
	return st;
}

enum ns_status ns_run_log_metric(struct ns_run *r, const char *key, double value, int64_t step,
				 struct ns_diag *diag)
{
	enum ns_status st;
	ns_diag_clear(diag);
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID, "no run");
	st = ns__track_check_key("metric", key, diag);
	if (st == NS_OK)
		st = r->t->be->log_metric(r->t->impl, r->impl, key, value, ns__now_ms(), step,
					  diag);
	return st;
}

enum ns_status ns_run_set_tag(struct ns_run *r, const char *key, const char *value,
			      struct ns_diag *diag)
{
	enum ns_status st;
	ns_diag_clear(diag);
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID, "no run");
	st = ns__track_check_key("tag", key, diag);
	if (st == NS_OK)
		st = check_value("tag", key, value, NS_TRACK_TAG_VALUE_MAX, diag);
	if (st == NS_OK)
		st = r->t->be->set_tag(r->t->impl, r->impl, key, value, diag);
	return st;
}

/* A relative artifact folder: non-empty parts, none "." or "..", no NUL
 * tricks (C strings), no leading '/'; a trailing '/' is tolerated. */
static enum ns_status check_artifact_dir(const char *dir, struct ns_diag *diag)
{
	size_t n = strlen(dir);
	if (n == 0)
		return NS_OK;
	if (dir[0] == '/')
		return ns_diag_set(diag, NS_ERR_INVALID, "artifact folder '%s' must be relative",
				   dir);
	if (ns__track_utf8_len(dir) == SIZE_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID, "artifact folder is not valid UTF-8");
	if (dir[n - 1] == '/')
		n--;
	for (size_t i = 0; i <= n;) {
		size_t j = i;
		while (j < n && dir[j] != '/')
			j++;
		if (j == i || (j - i == 1 && dir[i] == '.') ||
		    (j - i == 2 && dir[i] == '.' && dir[i + 1] == '.'))
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "artifact folder '%s' has an empty, '.' or '..' part",
					   dir);
		i = j + 1;
	}
	return NS_OK;
}

enum ns_status ns_run_log_artifact(struct ns_run *r, const char *local_path,
				   const char *artifact_dir, struct ns_diag *diag)
{
	enum ns_status st;
	ns_diag_clear(diag);
	if (!r || !local_path || !*local_path)
		return ns_diag_set(diag, NS_ERR_INVALID, "no run or local path");
	if (!artifact_dir)
		artifact_dir = "";
	st = check_artifact_dir(artifact_dir, diag);
	if (st == NS_OK)
		st = r->t->be->log_artifact(r->t->impl, r->impl, local_path, artifact_dir, diag);
	return st;
}

enum ns_status ns_run_end(struct ns_run *r, enum ns_run_status status, struct ns_diag *diag)
{
	enum ns_status st;
	int code;
	ns_diag_clear(diag);
	if (!r)
		return NS_OK;
	switch (status) {
	case NS_RUN_FINISHED:
		code = NS__MLFLOW_FINISHED;
		break;
	case NS_RUN_FAILED:
		code = NS__MLFLOW_FAILED;
		break;
	case NS_RUN_KILLED:
		code = NS__MLFLOW_KILLED;
		break;
	default:
		code = 0;
		break;
	}
	if (code == 0)
		st = ns_diag_set(diag, NS_ERR_INVALID, "a run must end FINISHED, FAILED or KILLED");
	else
		st = r->t->be->run_update(r->t->impl, r->impl, code, ns__now_ms(), diag);
	r->t->be->run_free(r->impl);
	ns_free(r);
	return st;
}

/* ---- reaping ------------------------------------------------------------------------ */

struct reap_ctx {
	char host[256];
};

static bool owner_gone(void *user, const char *host, const char *pid, const char *pid_start)
{
	struct reap_ctx *c = user;
	char now_start[32];
	char *end;
	long p;

	if (!host || !pid || strcmp(host, c->host) != 0)
		return false; /* not ours to judge */
	errno = 0;
	p = strtol(pid, &end, 10);
	if (errno != 0 || *end != '\0' || p <= 0)
		return false;
	if (kill((pid_t)p, 0) != 0)
		return errno == ESRCH;
	/* A process has that pid: gone only if it is provably another one. */
	if (pid_start && proc_start_time(p, now_start, sizeof(now_start)))
		return strcmp(now_start, pid_start) != 0;
	return false;
}

enum ns_status ns_tracker_reap(struct ns_tracker *t, size_t *reaped, struct ns_diag *diag)
{
	struct reap_ctx c;
	size_t n = 0;
	enum ns_status st;

	ns_diag_clear(diag);
	if (!t)
		return ns_diag_set(diag, NS_ERR_INVALID, "no tracker");
	host_name(c.host, sizeof(c.host));
	st = t->be->reap(t->impl, owner_gone, &c, ns__now_ms(), &n, diag);
	if (st == NS_OK && reaped)
		*reaped = n;
	return st;
}

/* ---- replaying a local run (ns_track_push) -------------------------------------------- */

#define TAG_REMOTE_ID "netsec.remote_run_id"
#define TAG_PENDING "netsec.pending_push"
#define PUSH_DEPTH_MAX 8

static int mlflow_status(enum ns_run_status s)
{
	return s == NS_RUN_FINISHED ? NS__MLFLOW_FINISHED
	       : s == NS_RUN_FAILED ? NS__MLFLOW_FAILED
				    : NS__MLFLOW_KILLED;
}

/* The run's tags as runs/create takes them: ours and the parent link
 * rewritten, mlflow.runName left to the backend (it sends run_name). */
static bool replayed_tag(const char *key)
{
	return strcmp(key, "mlflow.runName") != 0 && strcmp(key, TAG_PARENT) != 0 &&
	       strcmp(key, TAG_REMOTE_ID) != 0 && strcmp(key, TAG_PENDING) != 0;
}

static enum ns_status push_run(struct ns_tracker *to, const char *store,
			       const struct ns_track_record *rec, const char *remote_parent,
			       char *remote_id, struct ns_diag *diag)
{
	char exp_id[NS_TRACK_EXPERIMENT_ID_MAX];
	struct ns__track_tag *tags = NULL;
	struct ns__track_run_spec spec;
	void *run = NULL;
	enum ns_status st;
	size_t n_tags = 0;

	if (rec->status == NS_RUN_RUNNING)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "run %s is still running (a crashed run is marked FAILED by the "
				   "next training, or end it first)",
				   rec->run_id);
	st = ns_tracker_experiment(to, rec->experiment_name, exp_id, sizeof(exp_id), diag);
	if (st != NS_OK)
		return st;
	tags = ns_calloc(rec->n_tags + 1, sizeof(*tags));
	if (!tags)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < rec->n_tags; i++)
		if (replayed_tag(rec->tags[i].key))
			tags[n_tags++] =
				(struct ns__track_tag){rec->tags[i].key, rec->tags[i].value};
	if (remote_parent)
		tags[n_tags++] = (struct ns__track_tag){TAG_PARENT, remote_parent};
	memset(&spec, 0, sizeof(spec));
	spec.experiment_id = exp_id;
	spec.run_name = rec->run_name[0] ? rec->run_name : NULL;
	spec.user_id = rec->user_id;
	spec.start_time = rec->start_time;
	spec.tags = tags;
	spec.n_tags = n_tags;
	st = to->be->run_create(to->impl, &spec, remote_id, &run, diag);
	ns_free(tags);
	if (st != NS_OK)
		return st;
	for (size_t i = 0; st == NS_OK && i < rec->n_params; i++)
		st = to->be->log_param(to->impl, run, rec->params[i].key, rec->params[i].value,
				       diag);
	for (size_t i = 0; st == NS_OK && i < rec->n_metrics; i++)
		st = to->be->log_metric(to->impl, run, rec->metrics[i].key, rec->metrics[i].value,
					rec->metrics[i].timestamp, rec->metrics[i].step, diag);
	if (st == NS_OK && rec->artifact_dir) {
		struct stat sb;
		if (stat(rec->artifact_dir, &sb) == 0 && S_ISDIR(sb.st_mode))
			st = to->be->log_artifact(to->impl, run, rec->artifact_dir, "", diag);
	}
	if (st == NS_OK)
		st = to->be->run_update(to->impl, run, mlflow_status(rec->status),
					rec->end_time >= 0 ? rec->end_time : ns__now_ms(), diag);
	else
		(void)to->be->run_update(to->impl, run, NS__MLFLOW_FAILED, ns__now_ms(), NULL);
	to->be->run_free(run);
	if (st != NS_OK)
		return st;
	/* Marked only once the whole run is there. */
	st = ns_track_store_set_tag(store, rec->run_id, TAG_REMOTE_ID, remote_id, diag);
	if (st == NS_OK && ns_track_record_tag(rec, TAG_PENDING))
		st = ns_track_store_set_tag(store, rec->run_id, TAG_PENDING, "false", diag);
	return st;
}

static enum ns_status push_tree(struct ns_tracker *to, const char *store,
				const struct ns_track_record *rec, const char *remote_parent,
				bool force, int depth, size_t *n_pushed, size_t *n_skipped,
				struct ns_diag *diag)
{
	char remote_id[NS_TRACK_RUN_ID_MAX];
	const char *done = ns_track_record_tag(rec, TAG_REMOTE_ID);
	struct ns_track_record *all = NULL;
	size_t n_all = 0;
	enum ns_status st;

	if (depth > PUSH_DEPTH_MAX)
		return ns_diag_set(diag, NS_ERR_LIMIT, "runs nested more than %d deep",
				   PUSH_DEPTH_MAX);
	if (done && !force) {
		snprintf(remote_id, sizeof(remote_id), "%s", done);
		(*n_skipped)++;
	} else {
		st = push_run(to, store, rec, remote_parent, remote_id, diag);
		if (st != NS_OK)
			return st;
		(*n_pushed)++;
		/* Nested runs sent before (under an earlier, partial copy of
		 * this run) are sent again under the new one. */
		force = true;
	}
	st = ns_track_read_runs(store, false, &all, &n_all, diag);
	for (size_t i = 0; st == NS_OK && i < n_all; i++) {
		const char *parent = ns_track_record_tag(&all[i], TAG_PARENT);
		struct ns_track_record *child = NULL;
		if (!parent || strcmp(parent, rec->run_id) != 0)
			continue;
		st = ns_track_read_run(store, all[i].run_id, &child, diag);
		if (st == NS_OK)
			st = push_tree(to, store, child, remote_id, force, depth + 1, n_pushed,
				       n_skipped, diag);
		ns_track_records_free(child, child ? 1 : 0);
	}
	ns_track_records_free(all, n_all);
	return st;
}

enum ns_status ns_track_push(struct ns_tracker *to, const char *store, const char *run_id,
			     bool force, size_t *n_pushed, size_t *n_skipped, struct ns_diag *diag)
{
	struct ns_track_record *rec = NULL, *parent = NULL;
	const char *parent_id, *remote_parent = NULL;
	size_t pushed = 0, skipped = 0;
	enum ns_status st;

	ns_diag_clear(diag);
	if (!to || !store || !run_id)
		return ns_diag_set(diag, NS_ERR_INVALID, "no tracker, store or run id");
	st = ns_track_read_run(store, run_id, &rec, diag);
	if (st != NS_OK)
		return st;
	parent_id = ns_track_record_tag(rec, TAG_PARENT);
	if (parent_id) {
		/* A nested run goes under its parent's copy. */
		st = ns_track_read_run(store, parent_id, &parent, diag);
		if (st == NS_OK) {
			remote_parent = ns_track_record_tag(parent, TAG_REMOTE_ID);
			if (!remote_parent)
				st = ns_diag_set(diag, NS_ERR_INVALID,
						 "run %s is nested in run %s, which was never "
						 "pushed: push %s first",
						 run_id, parent_id, parent_id);
		}
	}
	if (st == NS_OK)
		st = push_tree(to, store, rec, remote_parent, force, 0, &pushed, &skipped, diag);
	ns_track_records_free(rec, 1);
	ns_track_records_free(parent, parent ? 1 : 0);
	if (n_pushed)
		*n_pushed = pushed;
	if (n_skipped)
		*n_skipped = skipped;
	return st;
}
