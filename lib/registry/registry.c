/*
 * lib/registry/registry.c - versioned model registry on a plain folder.
 *
 * Invariants (docs/registry.md):
 *  - a version folder <N>/ appears only by rename of a complete, fsynced temp
 *    folder, so it is whole or absent;
 *  - numbers come from max(version folders, history, last_version) + 1 under
 *    the lock, and last_version is raised before the rename, so a number is
 *    never handed out twice even if the newest folder is deleted;
 *  - the history is the write-ahead log of promotions: a line is appended
 *    (fsync) before `current` is replaced (temp + fsync + rename + fsync of
 *    the folder); recover() re-applies a logged promotion that a crash cut
 *    short and drops a torn last line (one with no newline);
 *  - every change holds an exclusive flock on .lock; readers take none.
 * Thread-safety: one thread per handle.  Errors name the registry folder and
 * the version.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/internal.h"
#include "netsec/json.h"
#include "netsec/learn.h"
#include "netsec/registry.h"

#define PATH_CAP 4096
#define HISTORY_MAX ((size_t)64 << 20)
#define TMP_PREFIX ".tmp."

struct ns_registry {
	char *dir; /* <root>/<name> */
	int lock_fd;
	bool locked;
};

/* ---- small helpers ----------------------------------------------------------- */

/* Test-only: dies like kill -9 at a named point (docs/registry.md lists them). */
static void crash_point(const char *point)
{
	const char *want = getenv("NETSEC_TEST_CRASH_AT");
	if (want && strcmp(want, point) == 0)
		raise(SIGKILL);
}

NS_PRINTF(3, 4)
static enum ns_status make_path(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? NS_ERR_LIMIT : NS_OK;
}

static enum ns_status io_fail(struct ns_diag *diag, const char *path, const char *what)
{
	int e = errno;
	ns_diag_where(diag, path, 0, 0, NULL);
	return ns_diag_set(diag, NS_ERR_IO, "cannot %s: %s", what, strerror(e));
}

/* Puts "version N: " before the message already in diag (keeps its location). */
static enum ns_status prefix_version(struct ns_diag *diag, enum ns_status st, unsigned v)
{
	char msg[NS_DIAG_MESSAGE_MAX];
	if (!diag)
		return st;
	snprintf(msg, sizeof(msg), "%s", diag->message);
	return ns_diag_set(diag, st, "version %u: %s", v, msg);
}

/* Strict decimal: 1..4294967295, no sign, no leading zero. */
static bool parse_version(const char *s, size_t len, unsigned *out)
{
	unsigned long long v = 0;
	if (len == 0 || len > 10 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > UINT_MAX)
		return false;
	*out = (unsigned)v;
	return true;
}

static void fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

static bool is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static enum ns_status lock(struct ns_registry *r, struct ns_diag *diag)
{
	while (flock(r->lock_fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			char p[PATH_CAP];
			make_path(p, sizeof(p), "%s/.lock", r->dir);
			return io_fail(diag, p, "lock");
		}
	}
	r->locked = true;
	return NS_OK;
}

static void unlock(struct ns_registry *r)
{
	if (r->locked)
		(void)flock(r->lock_fd, LOCK_UN);
	r->locked = false;
}

/* Writes all of buf to fd; false on error (errno set). */
static bool write_all(int fd, const void *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, (const char *)buf + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		off += (size_t)w;
	}
	return true;
}

static void iso_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* SHA-256 of a file as hex. */
static enum ns_status file_sha256(const char *path, char hex[65], struct ns_diag *diag)
{
	struct ns_sha256 h;
	uint8_t digest[32];
	char buf[65536];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_fail(diag, path, "open");
	ns_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			enum ns_status st = io_fail(diag, path, "read");
			close(fd);
			return st;
		}
		if (n == 0)
			break;
		ns_sha256_update(&h, buf, (size_t)n);
	}
	close(fd);
	ns_sha256_final(&h, digest);
	ns_sha256_hex(digest, hex);
	return NS_OK;
}

/* ---- current, last_version, history ------------------------------------------ */

/* Reads a file holding "N\n"; *v = 0 when it does not exist. */
static enum ns_status read_number_file(const char *path, unsigned *v, struct ns_diag *diag)
{
	char *text = NULL;
	size_t len = 0;
	enum ns_status st;
	if (access(path, F_OK) != 0 && errno == ENOENT) {
		*v = 0;
		return NS_OK;
	}
	st = ns_read_file(path, 64, &text, &len, diag);
	if (st == NS_ERR_LIMIT)
		st = NS_ERR_CORRUPT;
	if (st != NS_OK)
		return st;
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (!parse_version(text, len, v)) {
		ns_free(text);
		ns_diag_where(diag, path, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_CORRUPT, "does not hold a version number");
	}
	ns_free(text);
	return NS_OK;
}

static enum ns_status read_current(struct ns_registry *r, unsigned *v, struct ns_diag *diag)
{
	char path[PATH_CAP];
	if (make_path(path, sizeof(path), "%s/current", r->dir) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	return read_number_file(path, v, diag);
}

static enum ns_status write_current(struct ns_registry *r, unsigned v, struct ns_diag *diag)
{
	char path[PATH_CAP];
	struct ns_atomic_file af;
	enum ns_status st;
	if (make_path(path, sizeof(path), "%s/current", r->dir) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	st = ns_atomic_file_open(&af, path, diag);
	if (st != NS_OK)
		return st;
	if (fprintf(af.fp, "%u\n", v) < 0 || fflush(af.fp) != 0) {
		ns_atomic_file_abort(&af);
		return io_fail(diag, path, "write");
	}
	crash_point("promote:before-current-rename");
	return ns_atomic_file_commit(&af, diag);
}

struct history {
	struct ns_registry_event *ev;
	size_t n;
	size_t n_bad; /* malformed lines */
	uint64_t first_bad_line;
	bool torn; /* the last line has no newline */
	size_t good_len; /* bytes up to and including the last newline */
};

static bool parse_event(char *line, struct ns_registry_event *e)
{
	char *f[4];
	size_t n = 0;
	char *p = line;
	for (;;) {
		char *tab = n < 3 ? strchr(p, '\t') : NULL;
		f[n++] = p;
		if (!tab)
			break;
		*tab = '\0';
		p = tab + 1;
	}
	if (n != 4 || strlen(f[0]) >= sizeof(e->time) || strlen(f[2]) >= sizeof(e->action) ||
	    strlen(f[3]) > NS_REGISTRY_REASON_MAX)
		return false;
	if (!parse_version(f[1], strlen(f[1]), &e->version))
		return false;
	if (strcmp(f[2], "promote") != 0 && strcmp(f[2], "rollback") != 0)
		return false;
	memcpy(e->time, f[0], strlen(f[0]) + 1);
	memcpy(e->action, f[2], strlen(f[2]) + 1);
	memcpy(e->reason, f[3], strlen(f[3]) + 1);
	return true;
}

static void history_fini(struct history *h)
{
	ns_free(h->ev);
	memset(h, 0, sizeof(*h));
}

static enum ns_status history_read(struct ns_registry *r, struct history *h, struct ns_diag *diag)
{
	char path[PATH_CAP];
	char *text = NULL;
	size_t len = 0, cap = 0;
	uint64_t line_no = 0;
	enum ns_status st;

	memset(h, 0, sizeof(*h));
	if (make_path(path, sizeof(path), "%s/history", r->dir) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	if (access(path, F_OK) != 0 && errno == ENOENT)
		return NS_OK;
	st = ns_read_file(path, HISTORY_MAX, &text, &len, diag);
	if (st != NS_OK)
		return st;
	for (size_t off = 0; off < len;) {
		char *nl = memchr(text + off, '\n', len - off);
		struct ns_registry_event e;
		line_no++;
		if (!nl) {
			h->torn = true;
			break;
		}
		*nl = '\0';
		h->good_len = (size_t)(nl - text) + 1;
		if (memchr(text + off, '\0', (size_t)(nl - text) - off) == NULL &&
		    parse_event(text + off, &e)) {
			if (h->n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct ns_registry_event *ne =
					ns_reallocarray(h->ev, nc, sizeof(*ne));
				if (!ne) {
					ns_free(text);
					history_fini(h);
					return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
				}
				h->ev = ne;
				cap = nc;
			}
			h->ev[h->n++] = e;
		} else {
			if (h->n_bad++ == 0)
				h->first_bad_line = line_no;
		}
		off = (size_t)(nl - text) + 1;
	}
	ns_free(text);
	return NS_OK;
}

/*
 * Replays the history as a stack of promotions still in effect.  OUT *stack
 * (ns_free) and *n.
 */
static enum ns_status replay(const struct history *h, unsigned **stack, size_t *n)
{
	unsigned *s = ns_reallocarray(NULL, h->n ? h->n : 1, sizeof(*s));
	size_t top = 0;
	if (!s)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < h->n; i++) {
		const struct ns_registry_event *e = &h->ev[i];
		if (strcmp(e->action, "promote") == 0) {
			s[top++] = e->version;
		} else {
			if (top > 0)
				top--;
			if (top == 0 || s[top - 1] != e->version) {
				/* An inconsistent log: take the rollback's word for it. */
				if (top == 0)
					top = 1;
				s[top - 1] = e->version;
			}
		}
	}
	*stack = s;
	*n = top;
	return NS_OK;
}

static void clean_reason(const char *reason, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = reason ? reason : ""; *p && n + 1 < size; p++) {
		unsigned char c = (unsigned char)*p;
		out[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	/* Do not cut a UTF-8 sequence in half. */
	if (reason && n + 1 == size && reason[n] != '\0') {
		while (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0x80)
			n--;
		if (n > 0 && ((unsigned char)out[n - 1] & 0xc0) == 0xc0)
			n--;
	}
	out[n] = '\0';
}

static enum ns_status history_append(struct ns_registry *r, unsigned v, const char *action,
				     const char *reason, struct ns_diag *diag)
{
	char path[PATH_CAP], line[NS_REGISTRY_REASON_MAX + 128], when[32],
		why[NS_REGISTRY_REASON_MAX + 1];
	struct stat sb;
	bool created;
	int fd, n;
	enum ns_status st = NS_OK;

	if (make_path(path, sizeof(path), "%s/history", r->dir) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	created = stat(path, &sb) != 0;
	iso_now(when);
	clean_reason(reason, why, sizeof(why));
	n = snprintf(line, sizeof(line), "%s\t%u\t%s\t%s\n", when, v, action, why);
	if (n < 0 || (size_t)n >= sizeof(line))
		return ns_diag_set(diag, NS_ERR_INTERNAL, "history line too long");
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return io_fail(diag, path, "open");
	if (getenv("NETSEC_TEST_CRASH_AT") &&
	    strcmp(getenv("NETSEC_TEST_CRASH_AT"), "promote:torn-history") == 0) {
		(void)write_all(fd, line, (size_t)n / 2);
		crash_point("promote:torn-history");
	}
	if (!write_all(fd, line, (size_t)n) || fsync(fd) != 0)
		st = io_fail(diag, path, "append to");
	if (close(fd) != 0 && st == NS_OK)
		st = io_fail(diag, path, "close");
	if (st == NS_OK && created)
		fsync_dir(r->dir);
	return st;
}

/* ---- versions -------------------------------------------------------------------- */

static enum ns_status scan_versions(struct ns_registry *r, unsigned **out, size_t *n_out,
				    struct ns_diag *diag);

static int cmp_unsigned(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	return x < y ? -1 : x > y;
}

static enum ns_status version_dir(struct ns_registry *r, unsigned v, char *buf, size_t size)
{
	return make_path(buf, size, "%s/%u", r->dir, v);
}

static enum ns_status read_meta(struct ns_registry *r, unsigned v, char **text, size_t *len,
				struct ns_diag *diag)
{
	char path[PATH_CAP];
	if (make_path(path, sizeof(path), "%s/%u/meta.json", r->dir, v) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	return ns_read_file(path, NS_REGISTRY_META_MAX, text, len, diag);
}

static enum ns_status no_such_version(struct ns_registry *r, unsigned v, struct ns_diag *diag)
{
	ns_diag_where(diag, r->dir, 0, 0, NULL);
	return ns_diag_set(diag, NS_ERR_NOTFOUND, "version %u does not exist", v);
}

/*
 * The full check of one version: model loads (all its checksums), meta.json
 * is an object, its model_sha256 (if any) matches the file.
 */
static enum ns_status verify_version(struct ns_registry *r, unsigned v, struct ns_diag *diag)
{
	char dir[PATH_CAP], model[PATH_CAP], meta_path[PATH_CAP], hex[65];
	struct ns_model *m = NULL;
	struct ns_json_doc *doc = NULL;
	const char *want;
	char *text = NULL;
	size_t len = 0;
	enum ns_status st;

	if (version_dir(r, v, dir, sizeof(dir)) != NS_OK ||
	    make_path(model, sizeof(model), "%s/model.nsm", dir) != NS_OK ||
	    make_path(meta_path, sizeof(meta_path), "%s/meta.json", dir) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	if (!is_dir(dir))
		return no_such_version(r, v, diag);
	st = ns_model_load(model, &m, diag);
	if (st != NS_OK) {
		if (st == NS_ERR_IO)
			st = NS_ERR_CORRUPT; /* a version without its model is broken */
		return prefix_version(diag, st, v);
	}
	ns_model_free(m);
	st = read_meta(r, v, &text, &len, diag);
	if (st != NS_OK)
		return prefix_version(diag, st == NS_ERR_IO ? NS_ERR_CORRUPT : st, v);
	st = ns_json_parse(text, len, meta_path, NULL, &doc, diag);
	if (st != NS_OK) {
		ns_free(text);
		return prefix_version(diag, st == NS_ERR_NOMEM ? st : NS_ERR_CORRUPT, v);
	}
	if (ns_json_type(ns_json_root(doc)) != NS_JSON_OBJECT) {
		ns_diag_where(diag, meta_path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_CORRUPT, "version %u: meta.json is not a JSON object",
				 v);
		goto out;
	}
	want = ns_json_string(ns_json_get(ns_json_root(doc), "model_sha256"), NULL);
	if (want) {
		st = file_sha256(model, hex, diag);
		if (st != NS_OK)
			goto out;
		if (strcmp(want, hex) != 0) {
			ns_diag_where(diag, model, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "version %u: model file SHA-256 %s does not match "
					 "meta.json's %.64s",
					 v, hex, want);
			goto out;
		}
	}
out:
	ns_json_doc_free(doc);
	ns_free(text);
	return st;
}

static enum ns_status remove_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char p[PATH_CAP];
	if (!d)
		return NS_ERR_IO;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (make_path(p, sizeof(p), "%s/%s", path, e->d_name) == NS_OK)
			(void)unlink(p);
	}
	closedir(d);
	return rmdir(path) == 0 ? NS_OK : NS_ERR_IO;
}

static bool is_leftover_file(const char *name)
{
	static const char *const stems[] = {"current.tmp.", "last_version.tmp."};
	for (size_t i = 0; i < sizeof(stems) / sizeof(stems[0]); i++) {
		if (strncmp(name, stems[i], strlen(stems[i])) == 0)
			return true;
	}
	return false;
}

/* Under the lock: removes what a crash left behind; returns how many. */
static size_t clean_leftovers(struct ns_registry *r)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	size_t n = 0;
	char p[PATH_CAP];
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		bool tmp_dir = strncmp(e->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
		if (!tmp_dir && !is_leftover_file(e->d_name))
			continue;
		if (make_path(p, sizeof(p), "%s/%s", r->dir, e->d_name) != NS_OK)
			continue;
		if (tmp_dir ? remove_tree(p) == NS_OK : unlink(p) == 0) {
			ns_log(NS_LOG_INFO, "%s: removed %s left by an interrupted change", r->dir,
			       e->d_name);
			n++;
		} else {
			ns_log(NS_LOG_WARN, "%s: cannot remove leftover %s", r->dir, e->d_name);
		}
	}
	closedir(d);
	if (n)
		fsync_dir(r->dir);
	return n;
}

/*
 * Under the lock: drops a torn last history line and re-applies the last
 * logged promotion if `current` does not show it yet (a crash between the
 * two writes).  A logged version that no longer loads is left alone (check
 * reports it).
 */
static enum ns_status recover(struct ns_registry *r, struct ns_diag *diag)
{
	struct history h;
	unsigned *stack = NULL, cur = 0;
	size_t n = 0;
	enum ns_status st = history_read(r, &h, diag);
	if (st != NS_OK)
		return st;
	if (h.torn) {
		char path[PATH_CAP];
		if (make_path(path, sizeof(path), "%s/history", r->dir) == NS_OK &&
		    truncate(path, (off_t)h.good_len) == 0) {
			int fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd >= 0) {
				(void)fsync(fd);
				close(fd);
			}
			ns_log(NS_LOG_INFO, "%s: dropped a torn last history line", r->dir);
		}
	}
	st = replay(&h, &stack, &n);
	if (st != NS_OK) {
		history_fini(&h);
		return ns_diag_set(diag, st, "out of memory");
	}
	if (n > 0 && read_current(r, &cur, NULL) == NS_OK && cur != stack[n - 1]) {
		struct ns_diag d2;
		ns_diag_clear(&d2);
		if (verify_version(r, stack[n - 1], &d2) == NS_OK) {
			st = write_current(r, stack[n - 1], diag);
			if (st == NS_OK)
				ns_log(NS_LOG_INFO,
				       "%s: finished the interrupted switch to version %u", r->dir,
				       stack[n - 1]);
		}
	}
	ns_free(stack);
	history_fini(&h);
	return st;
}

/* ---- public API --------------------------------------------------------------- */

enum ns_status ns_registry_open(const char *root, const char *name, struct ns_registry **out,
				struct ns_diag *diag)
{
	struct ns_registry *r;
	char path[PATH_CAP];
	enum ns_status st;

	if (!root || !*root || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_open: missing argument");
	if (!ns__valid_name(name) || name[0] == '.')
		return ns_diag_set(
			diag, NS_ERR_INVALID,
			"bad registry name '%s': use 1-64 characters of A-Z a-z 0-9 _ . - "
			"not starting with '.'",
			name ? name : "");
	if (make_path(path, sizeof(path), "%s/%s", root, name) != NS_OK ||
	    strlen(path) > PATH_CAP - 64)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	st = ns_mkdir_p(path, diag);
	if (st != NS_OK)
		return st;
	r = ns_calloc(1, sizeof(*r));
	if (!r || !(r->dir = ns_strdup(path))) {
		ns_free(r);
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
	make_path(path, sizeof(path), "%s/.lock", r->dir);
	r->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (r->lock_fd < 0) {
		st = io_fail(diag, path, "open the lock file");
		ns_free(r->dir);
		ns_free(r);
		return st;
	}
	st = lock(r, diag);
	if (st == NS_OK) {
		clean_leftovers(r);
		st = recover(r, diag);
		unlock(r);
	}
	if (st != NS_OK) {
		ns_registry_close(r);
		return st;
	}
	*out = r;
	return NS_OK;
}

void ns_registry_close(struct ns_registry *r)
{
	if (!r)
		return;
	unlock(r);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	ns_free(r->dir);
	ns_free(r);
}

const char *ns_registry_dir(const struct ns_registry *r)
{
	return r ? r->dir : NULL;
}

static enum ns_status scan_versions(struct ns_registry *r, unsigned **out, size_t *n_out,
				    struct ns_diag *diag)
{
	DIR *d = opendir(r->dir);
	struct dirent *e;
	unsigned *v = NULL;
	size_t n = 0, cap = 0;
	if (!d)
		return io_fail(diag, r->dir, "list");
	while ((e = readdir(d)) != NULL) {
		unsigned x;
		char p[PATH_CAP];
		if (!parse_version(e->d_name, strlen(e->d_name), &x))
			continue;
		if (make_path(p, sizeof(p), "%s/%s", r->dir, e->d_name) != NS_OK || !is_dir(p))
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			unsigned *nv = ns_reallocarray(v, nc, sizeof(*nv));
			if (!nv) {
				closedir(d);
				ns_free(v);
				return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			}
			v = nv;
			cap = nc;
		}
		v[n++] = x;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_unsigned);
	*out = v;
	*n_out = n;
	return NS_OK;
}

enum ns_status ns_registry_list(struct ns_registry *r, unsigned **versions, size_t *n,
				struct ns_diag *diag)
{
	if (!r || !versions || !n)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_list: missing argument");
	return scan_versions(r, versions, n, diag);
}

/* Under the lock: the next number never handed out before. */
static enum ns_status next_version(struct ns_registry *r, unsigned *next, struct ns_diag *diag)
{
	unsigned *v = NULL, top = 0, last = 0;
	size_t n = 0;
	struct history h;
	char path[PATH_CAP];
	enum ns_status st = scan_versions(r, &v, &n, diag);
	if (st != NS_OK)
		return st;
	if (n)
		top = v[n - 1];
	ns_free(v);
	st = history_read(r, &h, diag);
	if (st != NS_OK)
		return st;
	for (size_t i = 0; i < h.n; i++) {
		if (h.ev[i].version > top)
			top = h.ev[i].version;
	}
	history_fini(&h);
	make_path(path, sizeof(path), "%s/last_version", r->dir);
	if (read_number_file(path, &last, NULL) == NS_OK && last > top)
		top = last;
	if (top == UINT_MAX) {
		ns_diag_where(diag, r->dir, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_LIMIT, "no version numbers left");
	}
	*next = top + 1;
	return NS_OK;
}

/*
 * Copies src to the new file dst (O_EXCL), fsynced, hashing the bytes.
 */
static enum ns_status copy_file(const char *src, const char *dst, char hex[65],
				struct ns_diag *diag)
{
	char buf[65536];
	struct ns_sha256 h;
	uint8_t digest[32];
	enum ns_status st = NS_OK;
	bool first = true;
	int in = open(src, O_RDONLY | O_CLOEXEC), out;
	if (in < 0)
		return io_fail(diag, src, "open");
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (out < 0) {
		st = io_fail(diag, dst, "create");
		close(in);
		return st;
	}
	ns_sha256_init(&h);
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			st = io_fail(diag, src, "read");
			break;
		}
		if (n == 0)
			break;
		ns_sha256_update(&h, buf, (size_t)n);
		if (!write_all(out, buf, first ? (size_t)n / 2 + 1 : (size_t)n)) {
			st = io_fail(diag, dst, "write");
			break;
		}
		if (first) {
			crash_point("add:mid-model");
			if (n > 1 &&
			    !write_all(out, buf + n / 2 + 1, (size_t)n - ((size_t)n / 2 + 1))) {
				st = io_fail(diag, dst, "write");
				break;
			}
			first = false;
		}
	}
	if (st == NS_OK && fsync(out) != 0)
		st = io_fail(diag, dst, "sync");
	if (close(out) != 0 && st == NS_OK)
		st = io_fail(diag, dst, "close");
	close(in);
	ns_sha256_final(&h, digest);
	ns_sha256_hex(digest, hex);
	return st;
}

/*
 * Builds the stored meta.json: the caller's object with "version" and
 * "model_sha256" put first when absent.  OUT *out (ns_free).
 */
static enum ns_status build_meta(const char *text, const struct ns_json *root, unsigned v,
				 const char *hex, char **out)
{
	struct ns__buf b;
	const char *brace = strchr(text, '{');
	bool has_version = ns_json_get(root, "version") != NULL;
	bool has_hash = ns_json_get(root, "model_sha256") != NULL;
	bool more = ns_json_length(root) > 0;
	enum ns_status st = NS_OK;
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, text, (size_t)(brace - text) + 1);
	if (st == NS_OK && !has_version)
		st = ns__buf_printf(&b, "\"version\":%u%s", v, has_hash && !more ? "" : ",");
	if (st == NS_OK && !has_hash)
		st = ns__buf_printf(&b, "\"model_sha256\":\"%s\"%s", hex, more ? "," : "");
	if (st == NS_OK)
		st = ns__buf_append(&b, brace + 1, strlen(brace + 1));
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return st;
	}
	*out = b.data;
	return NS_OK;
}

enum ns_status ns_registry_add(struct ns_registry *r, const char *model_path, const char *meta_json,
			       unsigned *version, struct ns_diag *diag)
{
	char tmp[PATH_CAP], model[PATH_CAP], meta[PATH_CAP], final[PATH_CAP], path[PATH_CAP],
		hex[65], num[32];
	struct ns_json_doc *doc = NULL;
	struct ns_model *m = NULL;
	const char *want;
	char *text = NULL;
	bool have_tmp = false;
	unsigned v = 0;
	int fd;
	enum ns_status st;

	if (!r || !model_path || !version)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_add: missing argument");
	if (!meta_json)
		meta_json = "{}";
	st = ns_json_parse(meta_json, strlen(meta_json), "meta.json", NULL, &doc, diag);
	if (st != NS_OK)
		return st;
	if (ns_json_type(ns_json_root(doc)) != NS_JSON_OBJECT) {
		enum ns_json_type t = ns_json_type(ns_json_root(doc));
		ns_json_doc_free(doc);
		ns_diag_where(diag, "meta.json", 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_PARSE, "meta.json must be a JSON object, not %s",
				   ns_json_type_name(t));
	}
	st = lock(r, diag);
	if (st != NS_OK)
		goto out;
	if (make_path(tmp, sizeof(tmp), "%s/" TMP_PREFIX "XXXXXX", r->dir) != NS_OK) {
		st = ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
		goto out;
	}
	if (!mkdtemp(tmp)) {
		st = io_fail(diag, r->dir, "create a temporary folder in");
		goto out;
	}
	have_tmp = true;
	crash_point("add:after-tmpdir");
	make_path(model, sizeof(model), "%s/model.nsm", tmp);
	make_path(meta, sizeof(meta), "%s/meta.json", tmp);
	st = copy_file(model_path, model, hex, diag);
	if (st != NS_OK)
		goto out;
	/* Load the copy, not the source: what is stored is what was checked. */
	st = ns_model_load(model, &m, diag);
	if (st != NS_OK) {
		ns_diag_where(diag, model_path, diag ? diag->line : 0, 0, NULL);
		if (st == NS_ERR_IO)
			st = NS_ERR_CORRUPT;
		goto out;
	}
	ns_model_free(m);
	want = ns_json_string(ns_json_get(ns_json_root(doc), "model_sha256"), NULL);
	if (want && strcmp(want, hex) != 0) {
		ns_diag_where(diag, model_path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "SHA-256 %s does not match meta.json's model_sha256 %.64s", hex,
				 want);
		goto out;
	}
	st = next_version(r, &v, diag);
	if (st != NS_OK)
		goto out;
	st = build_meta(meta_json, ns_json_root(doc), v, hex, &text);
	if (st != NS_OK) {
		ns_diag_set(diag, st, "out of memory");
		goto out;
	}
	fd = open(meta, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		st = io_fail(diag, meta, "create");
		goto out;
	}
	if (!write_all(fd, text, strlen(text)) || fsync(fd) != 0) {
		st = io_fail(diag, meta, "write");
		close(fd);
		goto out;
	}
	if (close(fd) != 0) {
		st = io_fail(diag, meta, "close");
		goto out;
	}
	crash_point("add:after-meta");
	fsync_dir(tmp);
	/* Raise last_version first: a crash after it only skips a number. */
	make_path(path, sizeof(path), "%s/last_version", r->dir);
	snprintf(num, sizeof(num), "%u\n", v);
	st = ns_write_file_atomic(path, num, strlen(num), diag);
	if (st != NS_OK)
		goto out;
	crash_point("add:before-rename");
	if (version_dir(r, v, final, sizeof(final)) != NS_OK) {
		st = ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
		goto out;
	}
	if (rename(tmp, final) != 0) {
		st = io_fail(diag, final, "rename the new version folder to");
		goto out;
	}
	have_tmp = false;
	crash_point("add:after-rename");
	fsync_dir(r->dir);
	*version = v;
out:
	if (have_tmp)
		(void)remove_tree(tmp);
	unlock(r);
	ns_free(text);
	ns_json_doc_free(doc);
	return st;
}

enum ns_status ns_registry_current(struct ns_registry *r, unsigned *version, struct ns_diag *diag)
{
	unsigned v = 0;
	enum ns_status st;
	if (!r || !version)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_current: missing argument");
	st = read_current(r, &v, diag);
	if (st == NS_OK)
		*version = v;
	return st;
}

enum ns_status ns_registry_promote(struct ns_registry *r, unsigned version, const char *reason,
				   struct ns_diag *diag)
{
	unsigned cur = 0;
	enum ns_status st;
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_promote: missing argument");
	st = lock(r, diag);
	if (st != NS_OK)
		return st;
	st = recover(r, diag);
	if (st != NS_OK)
		goto out;
	st = verify_version(r, version, diag);
	if (st != NS_OK)
		goto out;
	if (read_current(r, &cur, NULL) == NS_OK && cur == version)
		goto out; /* already current: nothing to log */
	crash_point("promote:before-history");
	st = history_append(r, version, "promote", reason, diag);
	if (st != NS_OK)
		goto out;
	crash_point("promote:after-history");
	st = write_current(r, version, diag);
	if (st != NS_OK)
		goto out;
	crash_point("promote:after-current");
out:
	unlock(r);
	return st;
}

enum ns_status ns_registry_rollback(struct ns_registry *r, unsigned *now_current,
				    struct ns_diag *diag)
{
	struct history h;
	unsigned *stack = NULL, target, from;
	size_t n = 0;
	char why[64];
	enum ns_status st;
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_rollback: missing argument");
	st = lock(r, diag);
	if (st != NS_OK)
		return st;
	memset(&h, 0, sizeof(h));
	st = recover(r, diag);
	if (st == NS_OK)
		st = history_read(r, &h, diag);
	if (st != NS_OK)
		goto out;
	if (replay(&h, &stack, &n) != NS_OK) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (n < 2) {
		ns_diag_where(diag, r->dir, 0, 0, NULL);
		if (n == 0)
			st = ns_diag_set(diag, NS_ERR_NOTFOUND,
					 "nothing to roll back: no version was ever promoted");
		else
			st = ns_diag_set(diag, NS_ERR_NOTFOUND,
					 "nothing to roll back to: version %u is the first "
					 "promotion still in effect",
					 stack[0]);
		goto out;
	}
	from = stack[n - 1];
	target = stack[n - 2];
	st = verify_version(r, target, diag);
	if (st != NS_OK) {
		char msg[NS_DIAG_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "%s", diag ? diag->message : "");
		st = ns_diag_set(diag, st, "cannot roll back to %s", msg);
		goto out;
	}
	snprintf(why, sizeof(why), "back from version %u", from);
	st = history_append(r, target, "rollback", why, diag);
	if (st != NS_OK)
		goto out;
	crash_point("rollback:after-history");
	st = write_current(r, target, diag);
	if (st == NS_OK && now_current)
		*now_current = target;
out:
	ns_free(stack);
	history_fini(&h);
	unlock(r);
	return st;
}

enum ns_status ns_registry_path(struct ns_registry *r, unsigned version, char *model_path,
				size_t size)
{
	char dir[PATH_CAP];
	if (!r || !model_path)
		return NS_ERR_INVALID;
	if (version_dir(r, version, dir, sizeof(dir)) != NS_OK)
		return NS_ERR_LIMIT;
	if (!is_dir(dir))
		return NS_ERR_NOTFOUND;
	return make_path(model_path, size, "%s/model.nsm", dir);
}

enum ns_status ns_registry_meta(struct ns_registry *r, unsigned version, char **json_text,
				struct ns_diag *diag)
{
	char dir[PATH_CAP];
	char *text = NULL;
	enum ns_status st;
	if (!r || !json_text)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_meta: missing argument");
	if (version_dir(r, version, dir, sizeof(dir)) != NS_OK)
		return ns_diag_set(diag, NS_ERR_LIMIT, "registry path too long");
	if (!is_dir(dir))
		return no_such_version(r, version, diag);
	st = read_meta(r, version, &text, NULL, diag);
	if (st != NS_OK)
		return prefix_version(diag, st, version);
	*json_text = text;
	return NS_OK;
}

enum ns_status ns_registry_check_version(struct ns_registry *r, unsigned version,
					 struct ns_diag *diag)
{
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "ns_registry_check_version: missing argument");
	return verify_version(r, version, diag);
}

enum ns_status ns_registry_history(struct ns_registry *r, struct ns_registry_event **events,
				   size_t *n, struct ns_diag *diag)
{
	struct history h;
	enum ns_status st;
	if (!r || !events || !n)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_history: missing argument");
	st = history_read(r, &h, diag);
	if (st != NS_OK)
		return st;
	*events = h.ev;
	*n = h.n;
	return NS_OK;
}

/* Logs one problem; the first also goes into diag. */
NS_PRINTF(5, 6)
static void problem(size_t *count, struct ns_diag *diag, enum ns_status st, const char *where,
		    const char *fmt, ...)
{
	char msg[NS_DIAG_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ns_log(NS_LOG_WARN, "%s: %s", where, msg);
	if (*count == 0 && diag) {
		ns_diag_clear(diag);
		ns_diag_where(diag, where, 0, 0, NULL);
		ns_diag_set(diag, st, "%s", msg);
	}
	(*count)++;
}

enum ns_status ns_registry_check(struct ns_registry *r, size_t *problems, struct ns_diag *diag)
{
	unsigned *v = NULL, *stack = NULL, cur = 0;
	size_t n = 0, n_stack = 0, count = 0;
	struct history h;
	struct ns_diag d;
	char path[PATH_CAP];
	enum ns_status st;

	if (!r || !problems)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_registry_check: missing argument");
	memset(&h, 0, sizeof(h));
	st = lock(r, diag);
	if (st != NS_OK)
		return st;
	clean_leftovers(r);
	st = recover(r, diag);
	if (st == NS_OK)
		st = scan_versions(r, &v, &n, diag);
	if (st != NS_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		ns_diag_clear(&d);
		if (verify_version(r, v[i], &d) != NS_OK)
			problem(&count, diag, d.status, d.file[0] ? d.file : r->dir, "%s",
				d.message);
	}

	make_path(path, sizeof(path), "%s/current", r->dir);
	ns_diag_clear(&d);
	if (read_current(r, &cur, &d) != NS_OK) {
		problem(&count, diag, NS_ERR_CORRUPT, path, "%s", d.message);
	} else if (cur != 0 && !bsearch(&cur, v, n, sizeof(*v), cmp_unsigned)) {
		problem(&count, diag, NS_ERR_CORRUPT, path,
			"names version %u, which does not exist", cur);
	}

	make_path(path, sizeof(path), "%s/history", r->dir);
	ns_diag_clear(&d);
	if (history_read(r, &h, &d) != NS_OK) {
		problem(&count, diag, d.status, path, "%s", d.message);
		goto out;
	}
	if (h.n_bad)
		problem(&count, diag, NS_ERR_CORRUPT, path,
			"%zu malformed line%s (the first: line %llu)", h.n_bad,
			h.n_bad == 1 ? "" : "s", (unsigned long long)h.first_bad_line);
	for (size_t i = 0; i < h.n; i++) {
		if (!bsearch(&h.ev[i].version, v, n, sizeof(*v), cmp_unsigned))
			problem(&count, diag, NS_ERR_CORRUPT, path,
				"%s of version %u, which does not exist", h.ev[i].action,
				h.ev[i].version);
	}
	if (replay(&h, &stack, &n_stack) != NS_OK) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (n_stack > 0 && stack[n_stack - 1] != cur)
		problem(&count, diag, NS_ERR_CORRUPT, path,
			"the last promotion in effect is version %u but current is %u",
			stack[n_stack - 1], cur);
	if (n_stack == 0 && cur != 0)
		problem(&count, diag, NS_ERR_CORRUPT, path,
			"current is version %u but no promotion is recorded", cur);
	*problems = count;
out:
	ns_free(stack);
	ns_free(v);
	history_fini(&h);
	unlock(r);
	return st;
}
