/*
 * lib/track/mlflow_file.c - the MLflow file store backend ("file:" URIs and
 * plain paths): the `mlruns` layout that MLflow 2.x's FileStore
 * (mlflow/store/tracking/file_store.py) reads and writes.
 *
 *   ROOT/.trash/                       deleted experiments (created, never used)
 *   ROOT/.netsec-track.lock            our flock(2) target (a file: MLflow lists
 *                                      only folders as experiments)
 *   ROOT/<exp id>/meta.yaml            experiment (ids: 18 random digits; "0"
 *                                      is "Default", made when missing)
 *   ROOT/<exp id>/<run id>/meta.yaml   run (id: uuid4 hex)
 *                  .../metrics/<key>   "timestamp value step" lines, appended
 *                  .../params/<key>    the value, no newline
 *                  .../tags/<key>      the value, no newline
 *                  .../artifacts/      logged files
 *
 * docs/tracking.md lists which FileStore behaviour each field follows.
 *
 * Concurrency: experiment get-or-create, store initialisation and reaping
 * hold an exclusive flock on ROOT/.netsec-track.lock (one open file per
 * call, so threads and forked processes exclude each other too).  Run
 * folders have random names and need no lock.  meta.yaml goes through
 * ns_write_file_atomic; param, tag and artifact files are written to a temp
 * file in the run folder (outside the folders MLflow walks) and renamed into
 * place; a metric line is one O_APPEND write.
 *
 * Not checked on every call (MLflow re-reads meta.yaml each time): whether
 * the run was deleted meanwhile; ns_run_end does check.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "netsec/config.h"
#include "track/track_impl.h"

#define META "meta.yaml"
#define TRASH ".trash"
#define LOCK_NAME ".netsec-track.lock"
#define META_MAX (1u << 20)
#define TAG_FILE_MAX (1u << 16)
#define DEFAULT_ID "0"
#define DEFAULT_NAME "Default"
#define EXPERIMENT_ID_DIGITS 18
#define ARTIFACT_DEPTH_MAX 64

struct fs {
	char *root; /* absolute, normalised like os.path.abspath */
	char *root_uri; /* file:///... (pathlib's as_uri) */
	char *lock_path;
};

struct fs_run {
	char *dir; /* ROOT/<exp>/<run> */
	char *artifacts; /* local artifact folder, NULL when not a local URI */
	char *artifacts_parent; /* where artifact temp files go (same file system) */
};

/* A run's meta.yaml, as file_store.py's _make_persisted_run_info_dict has it. */
struct run_meta {
	char *artifact_uri;
	char *experiment_id;
	char *lifecycle_stage;
	char *run_id;
	char *run_name;
	char *user_id;
	int64_t start_time;
	int64_t end_time; /* valid when has_end */
	bool has_end;
	int status;
};

/* ---- small helpers ----------------------------------------------------------- */

static enum ns_status io_err(struct ns_diag *diag, const char *path, const char *what)
{
	int e = errno;
	ns_diag_where(diag, path, 0, 0, NULL);
	return ns_diag_set(diag, e == ENOENT ? NS_ERR_NOTFOUND : NS_ERR_IO, "cannot %s: %s", what,
			   strerror(e));
}

static enum ns_status nomem(struct ns_diag *diag)
{
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}

/* "a/b/c" from parts; NULL on allocation failure. */
static char *join3(const char *a, const char *b, const char *c)
{
	struct ns__buf buf;
	ns__buf_init(&buf, 0);
	if (ns__buf_printf(&buf, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "") != NS_OK) {
		ns__buf_fini(&buf);
		return NULL;
	}
	return buf.data;
}

static bool is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static bool exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static enum ns_status random_bytes(void *buf, size_t n, struct ns_diag *diag)
{
	size_t off = 0;
	while (off < n) {
		ssize_t k = getrandom((char *)buf + off, n - off, 0);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return ns_diag_set(diag, NS_ERR_IO, "getrandom failed: %s",
					   strerror(errno));
		}
		off += (size_t)k;
	}
	return NS_OK;
}

/* A uuid4 as 32 lowercase hex digits (Python's uuid.uuid4().hex). */
static enum ns_status new_run_id(char out[33], struct ns_diag *diag)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	enum ns_status st = random_bytes(b, sizeof(b), diag);
	if (st != NS_OK)
		return st;
	b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
	return NS_OK;
}

/*
 * An experiment id as MLflow's _generate_unique_integer_id makes one: a
 * random 18-digit integer without leading zero.  Digits are drawn
 * uniformly by rejecting bytes >= 250.
 */
static enum ns_status new_experiment_id(char out[EXPERIMENT_ID_DIGITS + 1], struct ns_diag *diag)
{
	size_t i = 0;
	while (i < EXPERIMENT_ID_DIGITS) {
		uint8_t b[32];
		enum ns_status st = random_bytes(b, sizeof(b), diag);
		if (st != NS_OK)
			return st;
		for (size_t k = 0; k < sizeof(b) && i < EXPERIMENT_ID_DIGITS; k++) {
			int d;
			if (b[k] >= 250)
				continue;
			d = b[k] % 10;
			if (i == 0 && d == 0)
				continue;
			out[i++] = (char)('0' + d);
		}
	}
	out[i] = '\0';
	return NS_OK;
}

/* os.path.abspath: absolute, with "", "." and ".." parts resolved lexically. */
static char *abspath(const char *path)
{
	struct ns__buf in, out;
	char cwd[4096];
	const char *p;

	ns__buf_init(&in, 0);
	ns__buf_init(&out, 0);
	if (path[0] != '/') {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		if (ns__buf_printf(&in, "%s/", cwd) != NS_OK)
			goto fail;
	}
	if (ns__buf_append(&in, path, strlen(path)) != NS_OK)
		goto fail;
	for (p = in.data; *p;) {
		size_t n;
		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (out.len > 0 && out.data[out.len - 1] != '/')
				out.len--;
			if (out.len > 0)
				out.len--;
			out.data[out.len] = '\0';
		} else if (ns__buf_append(&out, "/", 1) != NS_OK ||
			   ns__buf_append(&out, p, n) != NS_OK) {
			goto fail;
		}
		p += n;
	}
	if (out.len == 0 && ns__buf_append(&out, "/", 1) != NS_OK)
		goto fail;
	ns__buf_fini(&in);
	return out.data;
fail:
	ns__buf_fini(&in);
	ns__buf_fini(&out);
	return NULL;
}

/* pathlib.Path(p).as_uri(): "file://" + urllib.parse.quote(p) (safe "/"). */
static char *path_to_uri(const char *path)
{
	static const char hex[] = "0123456789ABCDEF";
	struct ns__buf b;
	enum ns_status st;
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "file://", 7);
	for (const unsigned char *p = (const unsigned char *)path; st == NS_OK && *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-' || c == '~' || c == '/') {
			st = ns__buf_append(&b, p, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			st = ns__buf_append(&b, e, 3);
		}
	}
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return NULL;
	}
	return b.data;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* urllib.parse.unquote for the path; invalid escapes stay as they are.
 * NULL on allocation failure or an escaped NUL. */
static char *unquote(const char *s, size_t n)
{
	char *out = ns_malloc(n + 1);
	size_t j = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			char c = (char)(hi * 16 + lo);
			if (c == '\0') {
				ns_free(out);
				return NULL;
			}
			out[j++] = c;
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/*
 * The local path of a "file:" URI (MLflow's local_file_uri_to_path):
 * "file:///p", "file://localhost/p", "file:/p" or "file:rel".  `rest` is
 * what follows "file:".  NULL (with *bad set) for another host.
 */
static char *file_uri_path(const char *rest, bool *bad)
{
	*bad = false;
	if (strncmp(rest, "//", 2) == 0) {
		const char *host = rest + 2;
		const char *slash = strchr(host, '/');
		size_t hlen = slash ? (size_t)(slash - host) : strlen(host);
		if (!(hlen == 0 || (hlen == 9 && strncmp(host, "localhost", 9) == 0)) || !slash) {
			*bad = true;
			return NULL;
		}
		rest = slash;
	}
	return unquote(rest, strcspn(rest, "?#"));
}

/* The local folder an artifact URI names, or NULL (not local, or no memory). */
static char *artifact_uri_path(const char *uri)
{
	bool bad;
	if (strncmp(uri, "file:", 5) == 0)
		return file_uri_path(uri + 5, &bad);
	if (uri[0] == '/')
		return ns_strdup(uri);
	return NULL;
}

/* ---- locking ------------------------------------------------------------------ */

static enum ns_status lock_store(const struct fs *f, int *fd_out, struct ns_diag *diag)
{
	int fd = open(f->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return io_err(diag, f->lock_path, "open the store's lock file");
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			enum ns_status st = io_err(diag, f->lock_path, "lock the store");
			close(fd);
			return st;
		}
	}
	*fd_out = fd;
	return NS_OK;
}

static void unlock_store(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- meta.yaml ------------------------------------------------------------------- */

static enum ns_status read_meta(const char *dir, struct ns__yaml_map *m, struct ns_diag *diag)
{
	char *path = join3(dir, META, NULL);
	char *text = NULL;
	size_t len = 0;
	enum ns_status st;
	if (!path)
		return nomem(diag);
	st = ns_read_file(path, META_MAX, &text, &len, diag);
	if (st == NS_OK) {
		st = ns__yaml_map_parse(text, len, m, diag);
		if (st != NS_OK)
			ns_diag_where(diag, path, 0, 0, NULL);
	}
	ns_free(text);
	ns_free(path);
	return st;
}

static enum ns_status write_meta(const char *dir, const struct ns__buf *b, struct ns_diag *diag)
{
	char *path = join3(dir, META, NULL);
	enum ns_status st;
	if (!path)
		return nomem(diag);
	st = ns_write_file_atomic(path, b->data, b->len, diag);
	ns_free(path);
	return st;
}

/* Experiment meta.yaml: dict(Experiment) without "tags", keys sorted (PyYAML
 * sort_keys=True), as _create_experiment_with_id writes it. */
static enum ns_status write_experiment_meta(const char *dir, const char *id, const char *name,
					    const char *artifact_location, int64_t now,
					    struct ns_diag *diag)
{
	struct ns__buf b;
	enum ns_status st;
	ns__buf_init(&b, 0);
	st = ns__yaml_put_str(&b, "artifact_location", artifact_location);
	if (st == NS_OK)
		st = ns__yaml_put_int(&b, "creation_time", now);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "experiment_id", id);
	if (st == NS_OK)
		st = ns__yaml_put_int(&b, "last_update_time", now);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "lifecycle_stage", "active");
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "name", name);
	if (st == NS_OK)
		st = write_meta(dir, &b, diag);
	else
		ns_diag_set(diag, st, st == NS_ERR_NOMEM ? "out of memory" : "bad experiment name");
	ns__buf_fini(&b);
	return st;
}

/*
 * Run meta.yaml: dict(RunInfo) plus what _make_persisted_run_info_dict
 * adds (tags: [], source_type: 4 = LOCAL, empty source_name,
 * entry_point_name and source_version), keys sorted.  create_run also
 * writes `deleted_time: null`; _overwrite_run_info (updates) does not.
 */
static enum ns_status write_run_meta(const char *dir, const struct run_meta *r,
				     bool with_deleted_time, struct ns_diag *diag)
{
	struct ns__buf b;
	enum ns_status st;
	ns__buf_init(&b, 0);
	st = ns__yaml_put_str(&b, "artifact_uri", r->artifact_uri);
	if (st == NS_OK && with_deleted_time)
		st = ns__yaml_put_null(&b, "deleted_time");
	if (st == NS_OK)
		st = r->has_end ? ns__yaml_put_int(&b, "end_time", r->end_time)
				: ns__yaml_put_null(&b, "end_time");
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "entry_point_name", "");
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "experiment_id", r->experiment_id);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "lifecycle_stage", r->lifecycle_stage);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "run_id", r->run_id);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "run_name", r->run_name);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "run_uuid", r->run_id);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "source_name", "");
	if (st == NS_OK)
		st = ns__yaml_put_int(&b, "source_type", 4);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "source_version", "");
	if (st == NS_OK)
		st = ns__yaml_put_int(&b, "start_time", r->start_time);
	if (st == NS_OK)
		st = ns__yaml_put_int(&b, "status", r->status);
	if (st == NS_OK)
		st = ns__buf_append(&b, "tags: []\n", 9);
	if (st == NS_OK)
		st = ns__yaml_put_str(&b, "user_id", r->user_id);
	if (st == NS_OK)
		st = write_meta(dir, &b, diag);
	else
		ns_diag_set(diag, st, st == NS_ERR_NOMEM ? "out of memory" : "bad run field");
	ns__buf_fini(&b);
	return st;
}

static void run_meta_fini(struct run_meta *r)
{
	ns_free(r->artifact_uri);
	ns_free(r->experiment_id);
	ns_free(r->lifecycle_stage);
	ns_free(r->run_id);
	ns_free(r->run_name);
	ns_free(r->user_id);
	memset(r, 0, sizeof(*r));
}

static char *dup_or_empty(const char *s)
{
	return ns_strdup(s ? s : "");
}

/* Reads a run's meta.yaml as _read_persisted_run_info_dict does (missing
 * lifecycle_stage = active, missing status = RUNNING). */
static enum ns_status read_run_meta(const char *dir, struct run_meta *r, struct ns_diag *diag)
{
	struct ns__yaml_map m;
	enum ns_status st = read_meta(dir, &m, diag);
	int64_t v;
	const char *stage;
	if (st != NS_OK)
		return st;
	memset(r, 0, sizeof(*r));
	stage = ns__yaml_map_str(&m, "lifecycle_stage");
	r->artifact_uri = dup_or_empty(ns__yaml_map_str(&m, "artifact_uri"));
	r->experiment_id = dup_or_empty(ns__yaml_map_str(&m, "experiment_id"));
	r->lifecycle_stage = dup_or_empty(stage ? stage : "active");
	r->run_id = dup_or_empty(ns__yaml_map_str(&m, "run_id"));
	r->run_name = dup_or_empty(ns__yaml_map_str(&m, "run_name"));
	r->user_id = dup_or_empty(ns__yaml_map_str(&m, "user_id"));
	if (!r->artifact_uri || !r->experiment_id || !r->lifecycle_stage || !r->run_id ||
	    !r->run_name || !r->user_id) {
		st = nomem(diag);
		goto out;
	}
	if (!r->run_id[0]) {
		ns_free(r->run_id);
		r->run_id = dup_or_empty(ns__yaml_map_str(&m, "run_uuid"));
		if (!r->run_id) {
			st = nomem(diag);
			goto out;
		}
	}
	if (!ns__yaml_map_int(&m, "start_time", &r->start_time)) {
		ns_diag_where(diag, dir, 0, 0, "start_time");
		st = ns_diag_set(diag, NS_ERR_CORRUPT, "run meta.yaml has no start_time");
		goto out;
	}
	r->has_end = ns__yaml_map_int(&m, "end_time", &r->end_time);
	r->status = NS__MLFLOW_RUNNING;
	if (ns__yaml_map_int(&m, "status", &v)) {
		if (v < NS__MLFLOW_RUNNING || v > NS__MLFLOW_KILLED) {
			ns_diag_where(diag, dir, 0, 0, "status");
			st = ns_diag_set(diag, NS_ERR_CORRUPT, "run status %" PRId64 " is unknown",
					 v);
			goto out;
		}
		r->status = (int)v;
	}
out:
	ns__yaml_map_fini(&m);
	if (st != NS_OK)
		run_meta_fini(r);
	return st;
}

/* ---- files inside a run ----------------------------------------------------------- */

static enum ns_status mkdir_parents(const char *path, struct ns_diag *diag)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	enum ns_status st;
	if (!slash || slash == path)
		return NS_OK;
	dir = ns_strndup(path, (size_t)(slash - path));
	if (!dir)
		return nomem(diag);
	st = is_dir(dir) ? NS_OK : ns_mkdir_p(dir, diag);
	ns_free(dir);
	return st;
}

/*
 * Writes `len` bytes (or, when `src_fd` >= 0, the rest of that file) to a
 * temp file in `tmp_dir`, then renames it to `dest` (same file system), so
 * a reader sees the old file or the whole new one and a crash leaves at most
 * a ".tmp-" file outside the folders MLflow reads.
 */
static enum ns_status put_file(const char *tmp_dir, const char *dest, const void *data, size_t len,
			       int src_fd, struct ns_diag *diag)
{
	char *tmp = join3(tmp_dir, ".tmp-XXXXXX", NULL);
	enum ns_status st = NS_OK;
	int fd = -1;
	char buf[65536];

	if (!tmp)
		return nomem(diag);
	st = mkdir_parents(dest, diag);
	if (st != NS_OK)
		goto out;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		st = io_err(diag, tmp_dir, "create a temporary file in");
		goto out;
	}
	for (;;) {
		const char *p = data;
		size_t n = len, off = 0;
		if (src_fd >= 0) {
			ssize_t k = read(src_fd, buf, sizeof(buf));
			if (k < 0) {
				if (errno == EINTR)
					continue;
				st = io_err(diag, dest, "read the source of");
				goto out;
			}
			if (k == 0)
				break;
			p = buf;
			n = (size_t)k;
		}
		while (off < n) {
			ssize_t w = write(fd, p + off, n - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				st = io_err(diag, dest, "write");
				goto out;
			}
			off += (size_t)w;
		}
		if (src_fd < 0)
			break;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		st = io_err(diag, dest, "sync");
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		st = io_err(diag, dest, "close");
		goto out;
	}
	fd = -1;
	if (rename(tmp, dest) != 0) {
		st = io_err(diag, dest, "rename a temporary file onto");
		goto out;
	}
	ns_free(tmp);
	return NS_OK;
out:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	ns_free(tmp);
	return st;
}

static enum ns_status write_key_file(const struct fs_run *run, const char *folder, const char *key,
				     const char *value, struct ns_diag *diag)
{
	char *path = join3(run->dir, folder, key);
	enum ns_status st;
	if (!path)
		return nomem(diag);
	st = put_file(run->dir, path, value, strlen(value), -1, diag);
	ns_free(path);
	return st;
}

/* ---- open / close ----------------------------------------------------------------- */

static void fs_close(void *impl)
{
	struct fs *f = impl;
	if (!f)
		return;
	ns_free(f->root);
	ns_free(f->root_uri);
	ns_free(f->lock_path);
	ns_free(f);
}

static enum ns_status create_experiment_dir(const struct fs *f, const char *id, const char *name,
					    struct ns_diag *diag)
{
	char *dir = join3(f->root, id, NULL);
	char *loc = join3(f->root_uri, id, NULL);
	enum ns_status st;
	if (!dir || !loc) {
		st = nomem(diag);
	} else if (mkdir(dir, 0755) != 0) {
		st = errno == EEXIST ? NS_ERR_EXISTS : io_err(diag, dir, "create folder");
	} else {
		st = write_experiment_meta(dir, id, name, loc, ns__now_ms(), diag);
		if (st != NS_OK)
			rmdir(dir);
	}
	ns_free(dir);
	ns_free(loc);
	return st;
}

static enum ns_status fs_open(const char *uri, const char *location, void **impl,
			      struct ns_diag *diag)
{
	struct fs *f = ns_calloc(1, sizeof(*f));
	char *path = NULL, *trash = NULL, *zero = NULL, *zero_trash = NULL;
	char shown[NS_DIAG_MESSAGE_MAX];
	enum ns_status st = NS_OK;
	int lock = -1;

	if (!f)
		return nomem(diag);
	if (location == uri) {
		path = ns_strdup(location);
	} else {
		bool bad;
		path = file_uri_path(location, &bad);
		if (!path && bad) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "'%s': a file: URI must name a local path (file:///path)",
					 ns_redact(uri, shown, sizeof(shown)));
			goto out;
		}
	}
	if (!path) {
		st = nomem(diag);
		goto out;
	}
	if (!*path) {
		st = ns_diag_set(diag, NS_ERR_INVALID, "'%s': no path",
				 ns_redact(uri, shown, sizeof(shown)));
		goto out;
	}
	f->root = abspath(path);
	if (!f->root) {
		st = ns_diag_set(diag, NS_ERR_IO, "cannot resolve '%s'", path);
		goto out;
	}
	f->root_uri = path_to_uri(f->root);
	f->lock_path = join3(f->root, LOCK_NAME, NULL);
	trash = join3(f->root, TRASH, NULL);
	zero = join3(f->root, DEFAULT_ID, NULL);
	zero_trash = join3(f->root, TRASH, DEFAULT_ID);
	if (!f->root_uri || !f->lock_path || !trash || !zero || !zero_trash) {
		st = nomem(diag);
		goto out;
	}
	if (!is_dir(f->root)) {
		if (exists(f->root)) {
			ns_diag_where(diag, f->root, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_IO, "the tracking store is not a folder");
			goto out;
		}
		st = ns_mkdir_p(f->root, diag);
		if (st != NS_OK)
			goto out;
	}
	/*
	 * FileStore.__init__ creates the Default experiment when it creates
	 * the root folder.  We also create it when a root folder exists
	 * without it (made by hand, or by another tool): MLflow never lets
	 * experiment 0 be deleted and its UI opens on it.
	 */
	st = lock_store(f, &lock, diag);
	if (st != NS_OK)
		goto out;
	if (!exists(zero) && !exists(zero_trash)) {
		st = create_experiment_dir(f, DEFAULT_ID, DEFAULT_NAME, diag);
		if (st == NS_ERR_EXISTS)
			st = NS_OK;
		if (st != NS_OK)
			goto out;
	}
	if (!is_dir(trash) && mkdir(trash, 0755) != 0 && errno != EEXIST) {
		st = io_err(diag, trash, "create folder");
		goto out;
	}
out:
	unlock_store(lock);
	ns_free(path);
	ns_free(trash);
	ns_free(zero);
	ns_free(zero_trash);
	if (st != NS_OK) {
		fs_close(f);
		return st;
	}
	*impl = f;
	return NS_OK;
}

/* ---- experiments --------------------------------------------------------------------- */

/* Folders under the root that MLflow does not take for experiments
 * (_get_active_experiments), plus ids MLflow would refuse. */
static bool experiment_dir_name(const char *name)
{
	size_t n = strlen(name);
	if (n >= strlen(TRASH) && strcmp(name + n - strlen(TRASH), TRASH) == 0)
		return false;
	if (strcmp(name, "models") == 0)
		return false;
	return ns__track_valid_experiment_id(name);
}

static enum ns_status fs_experiment(void *impl, const char *name, char *id, size_t id_size,
				    struct ns_diag *diag)
{
	struct fs *f = impl;
	char found[NS_TRACK_EXPERIMENT_ID_MAX] = "";
	enum ns_status st;
	DIR *d = NULL;
	int lock = -1;

	st = lock_store(f, &lock, diag);
	if (st != NS_OK)
		return st;
	d = opendir(f->root);
	if (!d) {
		st = io_err(diag, f->root, "list");
		goto out;
	}
	for (;;) {
		struct dirent *e;
		struct ns__yaml_map m;
		char *dir;
		const char *ename, *eid, *stage;
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno != 0)
				st = io_err(diag, f->root, "list");
			break;
		}
		if (!experiment_dir_name(e->d_name))
			continue;
		dir = join3(f->root, e->d_name, NULL);
		if (!dir) {
			st = nomem(diag);
			break;
		}
		if (!is_dir(dir)) {
			ns_free(dir);
			continue;
		}
		st = read_meta(dir, &m, NULL);
		ns_free(dir);
		if (st == NS_ERR_NOMEM) {
			nomem(diag);
			break;
		}
		if (st != NS_OK) {
			/* MLflow logs "Malformed experiment" and goes on. */
			st = NS_OK;
			continue;
		}
		ename = ns__yaml_map_str(&m, "name");
		eid = ns__yaml_map_str(&m, "experiment_id");
		stage = ns__yaml_map_str(&m, "lifecycle_stage");
		/* _get_experiment ignores an experiment whose recorded id is
		 * not its folder's name. */
		if (ename && eid && strcmp(ename, name) == 0 && strcmp(eid, e->d_name) == 0 &&
		    (!stage || strcmp(stage, "active") == 0)) {
			/* experiment_dir_name() allowed at most 64 characters. */
			memcpy(found, e->d_name, strlen(e->d_name) + 1);
			ns__yaml_map_fini(&m);
			break;
		}
		ns__yaml_map_fini(&m);
	}
	if (st != NS_OK)
		goto out;
	if (!found[0]) {
		/* create_experiment: a fresh random id not used in the root or
		 * the trash; mkdir decides between racing creators that do
		 * not take our lock. */
		for (int tries = 0; tries < 100; tries++) {
			char nid[EXPERIMENT_ID_DIGITS + 1];
			char *in_trash;
			bool taken;
			st = new_experiment_id(nid, diag);
			if (st != NS_OK)
				goto out;
			in_trash = join3(f->root, TRASH, nid);
			if (!in_trash) {
				st = nomem(diag);
				goto out;
			}
			taken = exists(in_trash);
			ns_free(in_trash);
			if (taken)
				continue;
			st = create_experiment_dir(f, nid, name, diag);
			if (st == NS_ERR_EXISTS)
				continue;
			if (st != NS_OK)
				goto out;
			snprintf(found, sizeof(found), "%s", nid);
			break;
		}
		if (!found[0]) {
			st = ns_diag_set(diag, NS_ERR_INTERNAL,
					 "could not find a free experiment id");
			goto out;
		}
	}
	if (strlen(found) >= id_size) {
		st = ns_diag_set(diag, NS_ERR_LIMIT, "experiment id buffer too small (%zu bytes)",
				 id_size);
		goto out;
	}
	memcpy(id, found, strlen(found) + 1);
out:
	if (d)
		closedir(d);
	unlock_store(lock);
	return st;
}

/* Calls fn(user, experiment_folder) for each experiment folder in the root
 * (and in .trash when `trash`); stops at the first non-NS_OK. */
static enum ns_status each_experiment(const struct fs *f, bool trash,
				      enum ns_status (*fn)(void *user, const char *dir), void *user,
				      struct ns_diag *diag)
{
	enum ns_status st = NS_OK;
	for (int pass = 0; pass < (trash ? 2 : 1) && st == NS_OK; pass++) {
		char *parent = pass == 0 ? ns_strdup(f->root) : join3(f->root, TRASH, NULL);
		DIR *d;
		if (!parent)
			return nomem(diag);
		d = opendir(parent);
		if (!d) {
			st = pass == 0 ? io_err(diag, parent, "list") : NS_OK;
			ns_free(parent);
			break;
		}
		for (;;) {
			struct dirent *e;
			char *dir;
			errno = 0;
			e = readdir(d);
			if (!e)
				break;
			if (!experiment_dir_name(e->d_name))
				continue;
			dir = join3(parent, e->d_name, NULL);
			if (!dir) {
				st = nomem(diag);
				break;
			}
			if (is_dir(dir))
				st = fn(user, dir);
			ns_free(dir);
			if (st != NS_OK)
				break;
		}
		closedir(d);
		ns_free(parent);
	}
	return st;
}

struct find_run {
	const char *run_id;
	bool found;
};

static enum ns_status find_run_in(void *user, const char *dir)
{
	struct find_run *c = user;
	char *p = join3(dir, c->run_id, NULL);
	if (!p)
		return NS_ERR_NOMEM;
	if (is_dir(p))
		c->found = true;
	ns_free(p);
	return c->found ? NS_ERR_ABORTED : NS_OK; /* stop early */
}

static enum ns_status fs_run_exists(void *impl, const char *run_id, bool *found,
				    struct ns_diag *diag)
{
	struct find_run c = {run_id, false};
	enum ns_status st = each_experiment(impl, true, find_run_in, &c, diag);
	if (st == NS_ERR_ABORTED)
		st = NS_OK;
	if (st == NS_ERR_NOMEM)
		return nomem(diag);
	*found = c.found;
	return st;
}

/* ---- runs --------------------------------------------------------------------------------- */

static void fs_run_free(void *p)
{
	struct fs_run *r = p;
	if (!r)
		return;
	ns_free(r->dir);
	ns_free(r->artifacts);
	ns_free(r->artifacts_parent);
	ns_free(r);
}

static enum ns_status fs_run_create(void *impl, const struct ns__track_run_spec *spec, char *run_id,
				    void **out, struct ns_diag *diag)
{
	struct fs *f = impl;
	struct fs_run *r = NULL;
	struct ns__yaml_map m = {0};
	struct run_meta meta;
	char *exp_dir = join3(f->root, spec->experiment_id, NULL);
	char id[33], name[64];
	const char *loc, *stage, *eid;
	enum ns_status st;

	memset(&meta, 0, sizeof(meta));
	if (!exp_dir)
		return nomem(diag);
	/* create_run: the experiment must exist and be active. */
	st = is_dir(exp_dir) ? read_meta(exp_dir, &m, NULL) : NS_ERR_NOTFOUND;
	if (st == NS_ERR_NOMEM) {
		nomem(diag);
		goto out;
	}
	if (st != NS_OK) {
		st = ns_diag_set(diag, NS_ERR_NOTFOUND, "no experiment with id '%s' in %s",
				 spec->experiment_id, f->root);
		goto out;
	}
	stage = ns__yaml_map_str(&m, "lifecycle_stage");
	eid = ns__yaml_map_str(&m, "experiment_id");
	loc = ns__yaml_map_str(&m, "artifact_location");
	if ((stage && strcmp(stage, "active") != 0) || !eid ||
	    strcmp(eid, spec->experiment_id) != 0) {
		st = ns_diag_set(diag, NS_ERR_NOTFOUND, "experiment '%s' is not active",
				 spec->experiment_id);
		goto out;
	}
	r = ns_calloc(1, sizeof(*r));
	if (!r) {
		st = nomem(diag);
		goto out;
	}
	for (int tries = 0;; tries++) {
		st = new_run_id(id, diag);
		if (st != NS_OK)
			goto out;
		r->dir = join3(exp_dir, id, NULL);
		if (!r->dir) {
			st = nomem(diag);
			goto out;
		}
		if (mkdir(r->dir, 0755) == 0)
			break;
		if (errno != EEXIST || tries > 10) {
			st = io_err(diag, r->dir, "create folder");
			goto out;
		}
		ns_free(r->dir);
		r->dir = NULL;
	}
	snprintf(name, sizeof(name), "run-%.8s", id);
	meta.experiment_id = ns_strdup(spec->experiment_id);
	meta.lifecycle_stage = ns_strdup("active");
	meta.run_id = ns_strdup(id);
	meta.run_name = ns_strdup(spec->run_name ? spec->run_name : name);
	meta.user_id = ns_strdup(spec->user_id);
	/* _get_artifact_dir: append_to_uri_path(artifact_location, run, "artifacts") */
	{
		struct ns__buf b;
		const char *base = loc ? loc : "";
		size_t blen = strlen(base);
		while (blen > 0 && base[blen - 1] == '/')
			blen--;
		ns__buf_init(&b, 0);
		if (ns__buf_printf(&b, "%.*s/%s/artifacts", (int)blen, base, id) == NS_OK)
			meta.artifact_uri = b.data;
		else
			ns__buf_fini(&b);
	}
	if (!meta.experiment_id || !meta.lifecycle_stage || !meta.run_id || !meta.run_name ||
	    !meta.user_id || !meta.artifact_uri) {
		st = nomem(diag);
		goto fail_dir;
	}
	meta.start_time = spec->start_time;
	meta.status = NS__MLFLOW_RUNNING;
	st = write_run_meta(r->dir, &meta, true, diag);
	if (st != NS_OK)
		goto fail_dir;
	{
		static const char *const sub[] = {"metrics", "params", "artifacts"};
		for (size_t i = 0; i < 3; i++) {
			char *p = join3(r->dir, sub[i], NULL);
			if (!p) {
				st = nomem(diag);
				goto fail_dir;
			}
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				st = io_err(diag, p, "create folder");
				ns_free(p);
				goto fail_dir;
			}
			ns_free(p);
		}
	}
	for (size_t i = 0; i < spec->n_tags; i++) {
		st = write_key_file(r, "tags", spec->tags[i].key, spec->tags[i].value, diag);
		if (st != NS_OK)
			goto fail_dir;
	}
	st = write_key_file(r, "tags", "mlflow.runName", meta.run_name, diag);
	if (st != NS_OK)
		goto fail_dir;
	r->artifacts = artifact_uri_path(meta.artifact_uri);
	if (r->artifacts) {
		const char *slash = strrchr(r->artifacts, '/');
		r->artifacts_parent = ns_strndup(
			r->artifacts,
			slash && slash != r->artifacts ? (size_t)(slash - r->artifacts) : 1);
		if (!r->artifacts_parent) {
			st = nomem(diag);
			goto fail_dir;
		}
	}
	memcpy(run_id, id, sizeof(id));
	*out = r;
	r = NULL;
	st = NS_OK;
	goto out;
fail_dir:
	/* A run that could not be set up is marked FAILED if it has a meta. */
	if (meta.run_id && meta.artifact_uri) {
		meta.status = NS__MLFLOW_FAILED;
		meta.has_end = true;
		meta.end_time = ns__now_ms();
		(void)write_run_meta(r->dir, &meta, true, NULL);
	}
out:
	run_meta_fini(&meta);
	ns__yaml_map_fini(&m);
	fs_run_free(r);
	ns_free(exp_dir);
	return st;
}

static enum ns_status fs_log_param(void *impl, void *run, const char *key, const char *value,
				   struct ns_diag *diag)
{
	struct fs_run *r = run;
	char *path = join3(r->dir, "params", key);
	enum ns_status st = NS_OK;
	struct stat sb;
	if (!path)
		return nomem(diag);
	if (stat(path, &sb) == 0) {
		/* _validate_new_param_value: params are immutable. */
		char *old = NULL;
		st = ns_read_file(path, NS_TRACK_PARAM_VALUE_MAX * 4 + 1, &old, NULL, diag);
		if (st == NS_OK && strcmp(old, value) != 0)
			st = ns_diag_set(diag, NS_ERR_EXISTS,
					 "changing param values is not allowed: param '%s' was "
					 "already logged with value '%.100s', not '%.100s'",
					 key, old, value);
		ns_free(old);
		ns_free(path);
		return st;
	}
	ns_free(path);
	return write_key_file(r, "params", key, value, diag);
}

/* Python's float repr shape: integral values get ".0" ("3.0", not "3"). */
static size_t format_metric(double v, char *buf, size_t size)
{
	size_t n = ns_format_double(v, buf, size);
	bool plain_int = n > 0;
	for (size_t i = 0; i < n; i++)
		if (!((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '-'))
			plain_int = false;
	if (plain_int && n + 2 < size) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	return n;
}

static enum ns_status fs_log_metric(void *impl, void *run, const char *key, double value,
				    int64_t timestamp, int64_t step, struct ns_diag *diag)
{
	struct fs_run *r = run;
	char *path = join3(r->dir, "metrics", key);
	char num[48], line[128];
	enum ns_status st;
	int fd, n;

	if (!path)
		return nomem(diag);
	if (format_metric(value, num, sizeof(num)) == 0) {
		ns_free(path);
		return ns_diag_set(diag, NS_ERR_INTERNAL, "cannot format a metric value");
	}
	/* _log_run_metric: f"{timestamp} {value} {step}\n", appended. */
	n = snprintf(line, sizeof(line), "%" PRId64 " %s %" PRId64 "\n", timestamp, num, step);
	st = mkdir_parents(path, diag);
	if (st != NS_OK) {
		ns_free(path);
		return st;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		st = io_err(diag, path, "open");
		ns_free(path);
		return st;
	}
	/* One write: concurrent appenders never interleave within a line. */
	for (;;) {
		ssize_t w = write(fd, line, (size_t)n);
		if (w == n)
			break;
		if (w < 0 && errno == EINTR)
			continue;
		if (w >= 0)
			errno = EIO;
		st = io_err(diag, path, "append to");
		break;
	}
	close(fd);
	ns_free(path);
	return st;
}

static enum ns_status fs_set_tag(void *impl, void *run, const char *key, const char *value,
				 struct ns_diag *diag)
{
	struct fs_run *r = run;
	struct run_meta meta;
	enum ns_status st = write_key_file(r, "tags", key, value, diag);
	if (st != NS_OK || strcmp(key, "mlflow.runName") != 0)
		return st;
	/* set_tag(mlflow.runName) -> update_run_info(run_name=...). */
	st = read_run_meta(r->dir, &meta, diag);
	if (st != NS_OK)
		return st;
	ns_free(meta.run_name);
	meta.run_name = ns_strdup(value);
	st = meta.run_name ? write_run_meta(r->dir, &meta, false, diag) : nomem(diag);
	run_meta_fini(&meta);
	return st;
}

static enum ns_status update_run_dir(const char *dir, int status, int64_t end_time,
				     struct ns_diag *diag)
{
	struct run_meta meta;
	enum ns_status st = read_run_meta(dir, &meta, diag);
	if (st != NS_OK)
		return st;
	if (strcmp(meta.lifecycle_stage, "active") != 0) {
		st = ns_diag_set(diag, NS_ERR_INVALID,
				 "the run %s must be in 'active' lifecycle_stage", meta.run_id);
	} else {
		meta.status = status;
		meta.end_time = end_time;
		meta.has_end = true;
		st = write_run_meta(dir, &meta, false, diag);
	}
	run_meta_fini(&meta);
	return st;
}

static enum ns_status fs_run_update(void *impl, void *run, int status, int64_t end_time,
				    struct ns_diag *diag)
{
	struct fs_run *r = run;
	return update_run_dir(r->dir, status, end_time, diag);
}

/* ---- artifacts ------------------------------------------------------------------------------ */

static enum ns_status copy_file(const struct fs_run *r, const char *src, const char *dest,
				struct ns_diag *diag)
{
	enum ns_status st;
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_err(diag, src, "open");
	st = put_file(r->artifacts_parent, dest, NULL, 0, fd, diag);
	close(fd);
	return st;
}

static enum ns_status copy_tree(const struct fs_run *r, const char *src, const char *dest,
				int depth, struct ns_diag *diag)
{
	enum ns_status st = NS_OK;
	DIR *d;
	if (depth > ARTIFACT_DEPTH_MAX) {
		ns_diag_where(diag, src, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_LIMIT, "folders nested more than %d deep",
				   ARTIFACT_DEPTH_MAX);
	}
	if (!is_dir(dest)) {
		st = ns_mkdir_p(dest, diag);
		if (st != NS_OK)
			return st;
	}
	d = opendir(src);
	if (!d)
		return io_err(diag, src, "list");
	for (;;) {
		struct dirent *e;
		struct stat sb;
		char *s, *t;
		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno != 0)
				st = io_err(diag, src, "list");
			break;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		s = join3(src, e->d_name, NULL);
		t = join3(dest, e->d_name, NULL);
		if (!s || !t) {
			ns_free(s);
			ns_free(t);
			st = nomem(diag);
			break;
		}
		if (lstat(s, &sb) != 0) {
			st = io_err(diag, s, "stat");
		} else if (S_ISDIR(sb.st_mode)) {
			st = copy_tree(r, s, t, depth + 1, diag);
		} else if (S_ISREG(sb.st_mode) ||
			   (S_ISLNK(sb.st_mode) && stat(s, &sb) == 0 && S_ISREG(sb.st_mode))) {
			st = copy_file(r, s, t, diag);
		} else {
			ns_log(NS_LOG_WARN, "artifact: skipping %s (not a regular file or folder)",
			       s);
		}
		ns_free(s);
		ns_free(t);
		if (st != NS_OK)
			break;
	}
	closedir(d);
	return st;
}

static enum ns_status fs_log_artifact(void *impl, void *run, const char *local_path,
				      const char *artifact_dir, struct ns_diag *diag)
{
	struct fs_run *r = run;
	struct stat sb;
	char *dest_dir = NULL, *dest = NULL;
	enum ns_status st;

	if (!r->artifacts)
		return ns_diag_set(diag, NS_ERR_UNSUPPORTED,
				   "this run's artifact location is not a local folder");
	if (stat(local_path, &sb) != 0)
		return io_err(diag, local_path, "read the artifact");
	dest_dir =
		*artifact_dir ? join3(r->artifacts, artifact_dir, NULL) : ns_strdup(r->artifacts);
	if (!dest_dir)
		return nomem(diag);
	/* A trailing '/' in artifact_dir is harmless to open(2) and mkdir. */
	if (S_ISDIR(sb.st_mode)) {
		/* log_artifacts: the folder's contents go under artifact_dir. */
		st = copy_tree(r, local_path, dest_dir, 0, diag);
	} else if (S_ISREG(sb.st_mode)) {
		/* log_artifact: artifact_dir/<base name>. */
		const char *base = strrchr(local_path, '/');
		base = base ? base + 1 : local_path;
		dest = join3(dest_dir, base, NULL);
		st = dest ? copy_file(r, local_path, dest, diag) : nomem(diag);
	} else {
		ns_diag_where(diag, local_path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_UNSUPPORTED, "not a regular file or folder");
	}
	ns_free(dest);
	ns_free(dest_dir);
	return st;
}

/* ---- reaping ------------------------------------------------------------------------------------- */

struct reap {
	ns__track_orphan_fn orphan;
	void *user;
	int64_t end_time;
	size_t n;
	struct ns_diag *diag;
};

static char *read_tag(const char *run_dir, const char *key)
{
	char *path = join3(run_dir, "tags", key);
	char *text = NULL;
	if (!path)
		return NULL;
	if (ns_read_file(path, TAG_FILE_MAX, &text, NULL, NULL) != NS_OK)
		text = NULL;
	ns_free(path);
	return text;
}

static enum ns_status reap_experiment(void *user, const char *exp_dir)
{
	struct reap *c = user;
	enum ns_status st = NS_OK;
	DIR *d = opendir(exp_dir);
	if (!d)
		return NS_OK; /* vanished or unreadable: nothing of ours to reap */
	for (;;) {
		struct dirent *e = readdir(d);
		struct run_meta meta;
		char *dir, *host, *pid, *pid_start;
		bool gone;
		if (!e)
			break;
		/* _list_run_infos skips the experiment's own folders. */
		if (!ns__track_valid_run_id(e->d_name) || strcmp(e->d_name, "tags") == 0 ||
		    strcmp(e->d_name, "datasets") == 0 || strcmp(e->d_name, "traces") == 0)
			continue;
		dir = join3(exp_dir, e->d_name, NULL);
		if (!dir) {
			st = nomem(c->diag);
			break;
		}
		st = is_dir(dir) ? read_run_meta(dir, &meta, NULL) : NS_ERR_NOTFOUND;
		if (st != NS_OK) {
			ns_free(dir);
			if (st == NS_ERR_NOMEM) {
				nomem(c->diag);
				break;
			}
			st = NS_OK; /* not a run, or malformed: MLflow skips it too */
			continue;
		}
		if (meta.status != NS__MLFLOW_RUNNING ||
		    strcmp(meta.lifecycle_stage, "active") != 0) {
			run_meta_fini(&meta);
			ns_free(dir);
			continue;
		}
		run_meta_fini(&meta);
		host = read_tag(dir, "netsec.host");
		pid = read_tag(dir, "netsec.pid");
		pid_start = read_tag(dir, "netsec.pid_start");
		gone = host && pid && c->orphan(c->user, host, pid, pid_start);
		ns_free(host);
		ns_free(pid);
		ns_free(pid_start);
		if (gone) {
			st = update_run_dir(dir, NS__MLFLOW_FAILED, c->end_time, c->diag);
			if (st == NS_OK)
				c->n++;
		}
		ns_free(dir);
		if (st != NS_OK)
			break;
	}
	closedir(d);
	return st;
}

static enum ns_status fs_reap(void *impl, ns__track_orphan_fn orphan, void *user, int64_t end_time,
			      size_t *n_marked, struct ns_diag *diag)
{
	struct fs *f = impl;
	struct reap c = {orphan, user, end_time, 0, diag};
	int lock = -1;
	enum ns_status st = lock_store(f, &lock, diag);
	if (st != NS_OK)
		return st;
	/* Runs of deleted experiments are deleted too: only the root. */
	st = each_experiment(f, false, reap_experiment, &c, diag);
	unlock_store(lock);
	*n_marked = c.n;
	return st;
}

const struct ns__track_backend ns__track_mlflow_file = {
	.scheme = "file",
	.open = fs_open,
	.close = fs_close,
	.experiment = fs_experiment,
	.run_exists = fs_run_exists,
	.run_create = fs_run_create,
	.run_free = fs_run_free,
	.log_param = fs_log_param,
	.log_metric = fs_log_metric,
	.set_tag = fs_set_tag,
	.log_artifact = fs_log_artifact,
	.run_update = fs_run_update,
	.reap = fs_reap,
};

/* ---- reading a store back (ns_track_read_runs and friends) ------------------------------ */

/* The absolute root of a store named by a path or a file: URI, when it is
 * a folder; nothing is created. */
static enum ns_status store_root(const char *store, char **out, struct ns_diag *diag)
{
	char *path = NULL, *root;
	bool bad = false;
	if (!store || !*store)
		return ns_diag_set(diag, NS_ERR_INVALID, "no store given");
	if (strncmp(store, "file:", 5) == 0)
		path = file_uri_path(store + 5, &bad);
	else
		path = ns_strdup(store);
	if (!path)
		return bad ? ns_diag_set(diag, NS_ERR_INVALID, "'%s' is not a local file store",
					 store)
			   : nomem(diag);
	root = abspath(path);
	ns_free(path);
	if (!root)
		return ns_diag_set(diag, NS_ERR_IO, "cannot resolve '%s'", store);
	if (!is_dir(root)) {
		ns_diag_where(diag, root, 0, 0, NULL);
		ns_free(root);
		return ns_diag_set(diag, NS_ERR_NOTFOUND, "no MLflow file store here");
	}
	*out = root;
	return NS_OK;
}

static void kvs_free(struct ns_track_kv *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ns_free(v[i].key);
		ns_free(v[i].value);
	}
	ns_free(v);
}

static void record_fini(struct ns_track_record *r)
{
	ns_free(r->experiment_name);
	ns_free(r->run_name);
	ns_free(r->user_id);
	ns_free(r->artifact_dir);
	kvs_free(r->params, r->n_params);
	kvs_free(r->tags, r->n_tags);
	for (size_t k = 0; k < r->n_metrics; k++)
		ns_free(r->metrics[k].key);
	ns_free(r->metrics);
	memset(r, 0, sizeof(*r));
}

void ns_track_records_free(struct ns_track_record *records, size_t n)
{
	if (!records)
		return;
	for (size_t i = 0; i < n; i++)
		record_fini(&records[i]);
	ns_free(records);
}

const char *ns_track_record_tag(const struct ns_track_record *r, const char *key)
{
	for (size_t i = 0; r && key && i < r->n_tags; i++)
		if (strcmp(r->tags[i].key, key) == 0)
			return r->tags[i].value;
	return NULL;
}

/* Parsed metric lines of one metric file appended to rec->metrics
 * ("timestamp value step", or the old "timestamp value"); malformed lines
 * are skipped, as _get_metric_from_line would fail on them. */
static enum ns_status read_metric_file(struct ns_track_record *rec, const char *path,
				       const char *key)
{
	char *text = NULL;
	size_t len = 0;
	enum ns_status st = ns_read_file(path, 256u << 20, &text, &len, NULL);
	if (st != NS_OK)
		return st == NS_ERR_NOMEM ? st : NS_OK;
	for (char *line = text; st == NS_OK && line < text + len;) {
		char *nl = memchr(line, '\n', (size_t)(text + len - line));
		char *end = nl ? nl : text + len;
		char *f[3];
		size_t nf = 0;
		char *p = line;
		*end = '\0';
		while (nf < 3 && *p) {
			f[nf++] = p;
			p += strcspn(p, " ");
			if (*p)
				*p++ = '\0';
		}
		if (nf >= 2 && !*p) {
			char *e1, *e3 = NULL;
			long long ts, step = 0;
			double v;
			errno = 0;
			ts = strtoll(f[0], &e1, 10);
			if (nf == 3)
				step = strtoll(f[2], &e3, 10);
			if (errno == 0 && *e1 == '\0' && (nf == 2 || *e3 == '\0') &&
			    ns_parse_double(f[1], strlen(f[1]), &v)) {
				struct ns_track_point *grown = ns_reallocarray(
					rec->metrics, rec->n_metrics + 1, sizeof(*grown));
				if (!grown) {
					st = NS_ERR_NOMEM;
					break;
				}
				rec->metrics = grown;
				grown[rec->n_metrics].key = ns_strdup(key);
				if (!grown[rec->n_metrics].key) {
					st = NS_ERR_NOMEM;
					break;
				}
				grown[rec->n_metrics].value = v;
				grown[rec->n_metrics].timestamp = ts;
				grown[rec->n_metrics].step = step;
				rec->n_metrics++;
			}
		}
		line = end + 1;
	}
	ns_free(text);
	return st;
}

/* Walks `dir` (params/, tags/ or metrics/ of a run): keys with '/' are
 * nested folders, as _get_resource_files reads them. */
static enum ns_status read_key_dir(struct ns_track_record *rec, const char *dir, const char *prefix,
				   int kind, int depth)
{
	enum ns_status st = NS_OK;
	DIR *d;
	if (depth > 16)
		return NS_OK;
	d = opendir(dir);
	if (!d)
		return NS_OK;
	for (;;) {
		struct dirent *e = readdir(d);
		char *path, *key;
		struct ns__buf kb;
		if (!e)
			break;
		if (e->d_name[0] == '.')
			continue;
		path = join3(dir, e->d_name, NULL);
		ns__buf_init(&kb, 0);
		if (!path ||
		    ns__buf_printf(&kb, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name) != NS_OK) {
			ns_free(path);
			ns__buf_fini(&kb);
			st = NS_ERR_NOMEM;
			break;
		}
		key = kb.data;
		if (is_dir(path)) {
			st = read_key_dir(rec, path, key, kind, depth + 1);
		} else if (kind == 2) {
			st = read_metric_file(rec, path, key);
		} else if (ns__track_check_key("key", key, NULL) == NS_OK) {
			struct ns_track_kv **v = kind == 0 ? &rec->params : &rec->tags;
			size_t *n = kind == 0 ? &rec->n_params : &rec->n_tags;
			char *text = NULL;
			if (ns_read_file(path, TAG_FILE_MAX, &text, NULL, NULL) == NS_OK &&
			    ns__track_utf8_len(text) != SIZE_MAX) {
				struct ns_track_kv *grown =
					ns_reallocarray(*v, *n + 1, sizeof(**v));
				if (!grown) {
					ns_free(text);
					st = NS_ERR_NOMEM;
				} else {
					*v = grown;
					grown[*n].key = key;
					grown[*n].value = text;
					(*n)++;
					key = NULL;
				}
			} else {
				ns_free(text);
			}
		}
		ns_free(key);
		ns_free(path);
		if (st != NS_OK)
			break;
	}
	closedir(d);
	return st;
}

/* Fills `rec` from run folder `dir`; NS_ERR_NOTFOUND when it is not an
 * active run. */
static enum ns_status read_record(struct ns_track_record *rec, const char *dir,
				  const char *exp_name, bool with_metrics)
{
	static const char *const sub[] = {"params", "tags", "metrics"};
	struct run_meta meta;
	enum ns_status st = read_run_meta(dir, &meta, NULL);
	if (st != NS_OK)
		return st == NS_ERR_NOMEM ? st : NS_ERR_NOTFOUND;
	memset(rec, 0, sizeof(*rec));
	if (strcmp(meta.lifecycle_stage, "active") != 0 || !ns__track_valid_run_id(meta.run_id) ||
	    strlen(meta.run_id) >= sizeof(rec->run_id) ||
	    strlen(meta.experiment_id) >= sizeof(rec->experiment_id)) {
		run_meta_fini(&meta);
		return NS_ERR_NOTFOUND;
	}
	memcpy(rec->run_id, meta.run_id, strlen(meta.run_id) + 1);
	memcpy(rec->experiment_id, meta.experiment_id, strlen(meta.experiment_id) + 1);
	rec->experiment_name = ns_strdup(exp_name);
	rec->run_name = ns_strdup(meta.run_name);
	rec->user_id = ns_strdup(meta.user_id);
	rec->artifact_dir = artifact_uri_path(meta.artifact_uri);
	rec->start_time = meta.start_time;
	rec->end_time = meta.has_end ? meta.end_time : -1;
	rec->status = meta.status == NS__MLFLOW_FINISHED ? NS_RUN_FINISHED
		      : meta.status == NS__MLFLOW_FAILED ? NS_RUN_FAILED
		      : meta.status == NS__MLFLOW_KILLED ? NS_RUN_KILLED
							 : NS_RUN_RUNNING;
	run_meta_fini(&meta);
	if (!rec->experiment_name || !rec->run_name || !rec->user_id)
		st = NS_ERR_NOMEM;
	for (int k = 0; st == NS_OK && k < (with_metrics ? 3 : 2); k++) {
		char *p = join3(dir, sub[k], NULL);
		st = p ? read_key_dir(rec, p, "", k, 0) : NS_ERR_NOMEM;
		ns_free(p);
	}
	if (st != NS_OK)
		record_fini(rec);
	return st;
}

/* Reads every active run (or only `only_id`) of every active experiment in
 * `root` into a new array. */
static enum ns_status each_run(const char *root, const char *only_id, bool with_metrics,
			       struct ns_track_record **out, size_t *n_out, struct ns_diag *diag)
{
	struct ns_track_record *recs = NULL;
	size_t n = 0;
	enum ns_status st = NS_OK;
	DIR *d = opendir(root);
	if (!d) {
		ns_diag_where(diag, root, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_IO, "cannot list the store: %s", strerror(errno));
	}
	for (;;) {
		struct dirent *e = readdir(d);
		struct ns__yaml_map m;
		const char *ename, *eid, *stage;
		char *exp_dir;
		DIR *rd;
		if (!e)
			break;
		if (!experiment_dir_name(e->d_name))
			continue;
		exp_dir = join3(root, e->d_name, NULL);
		if (!exp_dir) {
			st = NS_ERR_NOMEM;
			break;
		}
		if (!is_dir(exp_dir) || read_meta(exp_dir, &m, NULL) != NS_OK) {
			ns_free(exp_dir);
			continue;
		}
		ename = ns__yaml_map_str(&m, "name");
		eid = ns__yaml_map_str(&m, "experiment_id");
		stage = ns__yaml_map_str(&m, "lifecycle_stage");
		if (!ename || !eid || strcmp(eid, e->d_name) != 0 ||
		    (stage && strcmp(stage, "active") != 0) || !(rd = opendir(exp_dir))) {
			ns__yaml_map_fini(&m);
			ns_free(exp_dir);
			continue;
		}
		for (;;) {
			struct dirent *re = readdir(rd);
			struct ns_track_record rec, *grown;
			char *run_dir;
			enum ns_status rs;
			if (!re)
				break;
			if (!ns__track_valid_run_id(re->d_name) ||
			    (only_id && strcmp(re->d_name, only_id) != 0) ||
			    strcmp(re->d_name, "tags") == 0 ||
			    strcmp(re->d_name, "datasets") == 0 ||
			    strcmp(re->d_name, "traces") == 0)
				continue;
			run_dir = join3(exp_dir, re->d_name, NULL);
			if (!run_dir) {
				st = NS_ERR_NOMEM;
				break;
			}
			rs = is_dir(run_dir) ? read_record(&rec, run_dir, ename, with_metrics)
					     : NS_ERR_NOTFOUND;
			ns_free(run_dir);
			if (rs == NS_ERR_NOTFOUND)
				continue;
			if (rs != NS_OK) {
				st = rs;
				break;
			}
			grown = ns_reallocarray(recs, n + 1, sizeof(*recs));
			if (!grown) {
				record_fini(&rec);
				st = NS_ERR_NOMEM;
				break;
			}
			recs = grown;
			recs[n++] = rec;
		}
		closedir(rd);
		ns__yaml_map_fini(&m);
		ns_free(exp_dir);
		if (st != NS_OK)
			break;
	}
	closedir(d);
	if (st != NS_OK) {
		ns_track_records_free(recs, n);
		return st == NS_ERR_NOMEM ? nomem(diag) : ns_diag_set(diag, st, "cannot read runs");
	}
	*out = recs;
	*n_out = n;
	return NS_OK;
}

enum ns_status ns_track_read_runs(const char *store, bool with_metrics,
				  struct ns_track_record **out, size_t *n_out, struct ns_diag *diag)
{
	char *root = NULL;
	enum ns_status st;
	ns_diag_clear(diag);
	if (!out || !n_out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no output");
	st = store_root(store, &root, diag);
	if (st == NS_OK)
		st = each_run(root, NULL, with_metrics, out, n_out, diag);
	ns_free(root);
	return st;
}

enum ns_status ns_track_read_run(const char *store, const char *run_id,
				 struct ns_track_record **out, struct ns_diag *diag)
{
	struct ns_track_record *recs = NULL;
	size_t n = 0;
	char *root = NULL;
	enum ns_status st;
	ns_diag_clear(diag);
	if (!out || !run_id || !ns__track_valid_run_id(run_id))
		return ns_diag_set(diag, NS_ERR_INVALID, "invalid run id '%.100s'",
				   run_id ? run_id : "");
	st = store_root(store, &root, diag);
	if (st == NS_OK)
		st = each_run(root, run_id, true, &recs, &n, diag);
	if (st == NS_OK && n == 0)
		st = ns_diag_set(diag, NS_ERR_NOTFOUND, "no active run '%s' in %s", run_id, root);
	ns_free(root);
	if (st != NS_OK) {
		ns_track_records_free(recs, n);
		return st;
	}
	for (size_t i = 1; i < n; i++) /* one id in two experiments: keep the first */
		record_fini(&recs[i]);
	*out = recs;
	return NS_OK;
}

struct find_dir {
	const char *run_id;
	char *dir;
};

static enum ns_status find_run_dir(void *user, const char *exp_dir)
{
	struct find_dir *c = user;
	char *p = join3(exp_dir, c->run_id, NULL);
	if (!p)
		return NS_ERR_NOMEM;
	if (is_dir(p)) {
		c->dir = p;
		return NS_ERR_ABORTED;
	}
	ns_free(p);
	return NS_OK;
}

enum ns_status ns_track_store_set_tag(const char *store, const char *run_id, const char *key,
				      const char *value, struct ns_diag *diag)
{
	struct fs f;
	struct fs_run run;
	struct find_dir c = {run_id, NULL};
	enum ns_status st;

	ns_diag_clear(diag);
	memset(&f, 0, sizeof(f));
	memset(&run, 0, sizeof(run));
	if (!run_id || !ns__track_valid_run_id(run_id))
		return ns_diag_set(diag, NS_ERR_INVALID, "invalid run id");
	st = ns__track_check_key("tag", key, diag);
	if (st != NS_OK)
		return st;
	if (!value || ns__track_utf8_len(value) > NS_TRACK_TAG_VALUE_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID, "tag '%s': bad value", key);
	st = store_root(store, &f.root, diag);
	if (st != NS_OK)
		return st;
	st = each_experiment(&f, false, find_run_dir, &c, diag);
	if (st == NS_ERR_ABORTED)
		st = NS_OK;
	if (st == NS_OK && !c.dir)
		st = ns_diag_set(diag, NS_ERR_NOTFOUND, "no run '%s' in %s", run_id, f.root);
	if (st == NS_ERR_NOMEM)
		nomem(diag);
	if (st == NS_OK) {
		run.dir = c.dir;
		st = write_key_file(&run, "tags", key, value, diag);
	}
	ns_free(c.dir);
	ns_free(f.root);
	return st;
}
