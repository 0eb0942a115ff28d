/*
 * lib/core/fileio.c - whole-file reads and atomic whole-file writes.
 *
 * Atomic write: a unique temp file beside the target (mkstemp), write all,
 * fsync, rename over the target, fsync the folder.  On any failure the temp
 * file is removed and the target is untouched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"

static enum ns_status io_error(struct ns_diag *diag, const char *path, const char *what)
{
	int e = errno;
	ns_diag_where(diag, path, 0, 0, NULL);
	return ns_diag_set(diag, NS_ERR_IO, "cannot %s: %s", what, strerror(e));
}

/* True when `path` exists and is not a regular file (a device such as
 * /dev/null or /dev/stdout, a FIFO): such a target is written in place, never
 * replaced by a renamed temp file. */
static bool special_target(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode);
}

static enum ns_status write_in_place(const char *path, const void *data, size_t len,
				     struct ns_diag *diag)
{
	FILE *fp = fopen(path, "wb");
	if (!fp)
		return io_error(diag, path, "open");
	if ((len && fwrite(data, 1, len, fp) != len) || fflush(fp) != 0) {
		enum ns_status st = io_error(diag, path, "write");
		fclose(fp);
		return st;
	}
	return fclose(fp) == 0 ? NS_OK : io_error(diag, path, "close");
}

enum ns_status ns_write_file_atomic(const char *path, const void *data, size_t len,
				    struct ns_diag *diag)
{
	size_t plen = strlen(path);
	char *tmp = ns_malloc(plen + 16);
	const char *slash;
	enum ns_status st = NS_OK;
	int fd = -1;
	size_t off = 0;

	if (!tmp)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	if (special_target(path)) {
		ns_free(tmp);
		return write_in_place(path, data, len, diag);
	}
	memcpy(tmp, path, plen);
	memcpy(tmp + plen, ".tmp.XXXXXX", 12);
	fd = mkstemp(tmp);
	if (fd < 0) {
		st = io_error(diag, path, "create a temporary file beside it");
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, (const char *)data + off, len - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			st = io_error(diag, path, "write");
			goto out;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) != 0 || fsync(fd) != 0) {
		st = io_error(diag, path, "sync");
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		st = io_error(diag, path, "close");
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		st = io_error(diag, path, "rename the temporary file onto");
		goto out;
	}
	slash = strrchr(path, '/');
	{
		char dir[4096];
		size_t dlen = slash ? (size_t)(slash - path) : 1;
		if (dlen == 0)
			dlen = 1;
		if (dlen < sizeof(dir)) {
			int dfd;
			memcpy(dir, slash ? path : ".", dlen);
			dir[dlen] = '\0';
			dfd = open(dir, O_RDONLY | O_DIRECTORY);
			if (dfd >= 0) {
				(void)fsync(dfd);
				close(dfd);
			}
		}
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

enum ns_status ns_read_file(const char *path, size_t max_len, char **data, size_t *len,
			    struct ns_diag *diag)
{
	FILE *fp = fopen(path, "rb");
	struct ns__buf b;
	char chunk[65536];
	enum ns_status st = NS_OK;

	if (!fp)
		return io_error(diag, path, "open");
	ns__buf_init(&b, max_len);
	for (;;) {
		size_t n = fread(chunk, 1, sizeof(chunk), fp);
		if (n > 0) {
			st = ns__buf_append(&b, chunk, n);
			if (st == NS_ERR_LIMIT) {
				ns_diag_where(diag, path, 0, 0, NULL);
				ns_diag_set(diag, st, "file is larger than %zu bytes", max_len);
				goto out;
			}
			if (st != NS_OK) {
				ns_diag_set(diag, st, "out of memory reading %s", path);
				goto out;
			}
		}
		if (n < sizeof(chunk)) {
			if (ferror(fp)) {
				st = io_error(diag, path, "read");
				goto out;
			}
			break;
		}
	}
	if (!b.data) {
		st = ns__buf_append(&b, "", 0);
		if (st != NS_OK)
			goto out;
	}
	*data = b.data;
	if (len)
		*len = b.len;
	fclose(fp);
	return NS_OK;
out:
	fclose(fp);
	ns__buf_fini(&b);
	return st;
}

static void fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	size_t dlen = slash ? (size_t)(slash - path) : 1;
	int dfd;
	if (dlen == 0)
		dlen = 1;
	if (dlen >= sizeof(dir))
		return;
	memcpy(dir, slash ? path : ".", dlen);
	dir[dlen] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

enum ns_status ns_atomic_file_open(struct ns_atomic_file *af, const char *path,
				   struct ns_diag *diag)
{
	size_t plen = strlen(path);
	int fd;
	memset(af, 0, sizeof(*af));
	af->path = ns_strdup(path);
	af->tmp_path = ns_malloc(plen + 16);
	if (!af->path || !af->tmp_path) {
		ns_free(af->path);
		ns_free(af->tmp_path);
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
	if (special_target(path)) {
		/* A device or FIFO: written in place (tmp_path NULL). */
		ns_free(af->tmp_path);
		af->tmp_path = NULL;
		af->fp = fopen(path, "wb");
		if (!af->fp) {
			enum ns_status st = io_error(diag, path, "open");
			ns_free(af->path);
			memset(af, 0, sizeof(*af));
			return st;
		}
		return NS_OK;
	}
	memcpy(af->tmp_path, path, plen);
	memcpy(af->tmp_path + plen, ".tmp.XXXXXX", 12);
	fd = mkstemp(af->tmp_path);
	if (fd < 0 || fchmod(fd, 0644) != 0 || !(af->fp = fdopen(fd, "wb"))) {
		enum ns_status st = io_error(diag, path, "create a temporary file beside it");
		if (fd >= 0) {
			close(fd);
			unlink(af->tmp_path);
		}
		ns_free(af->path);
		ns_free(af->tmp_path);
		memset(af, 0, sizeof(*af));
		return st;
	}
	return NS_OK;
}

enum ns_status ns_atomic_file_commit(struct ns_atomic_file *af, struct ns_diag *diag)
{
	enum ns_status st = NS_OK;
	if (!af->tmp_path) {
		if (fflush(af->fp) != 0 || ferror(af->fp)) {
			st = io_error(diag, af->path, "write");
			fclose(af->fp);
		} else if (fclose(af->fp) != 0) {
			st = io_error(diag, af->path, "close");
		}
		ns_free(af->path);
		memset(af, 0, sizeof(*af));
		return st;
	}
	if (fflush(af->fp) != 0 || ferror(af->fp) || fsync(fileno(af->fp)) != 0) {
		st = io_error(diag, af->path, "write");
		fclose(af->fp);
		unlink(af->tmp_path);
	} else if (fclose(af->fp) != 0) {
		st = io_error(diag, af->path, "close");
		unlink(af->tmp_path);
	} else if (rename(af->tmp_path, af->path) != 0) {
		st = io_error(diag, af->path, "rename the temporary file onto");
		unlink(af->tmp_path);
	} else {
		fsync_parent(af->path);
	}
	ns_free(af->path);
	ns_free(af->tmp_path);
	memset(af, 0, sizeof(*af));
	return st;
}

void ns_atomic_file_abort(struct ns_atomic_file *af)
{
	if (!af->fp)
		return;
	fclose(af->fp);
	if (af->tmp_path)
		unlink(af->tmp_path);
	ns_free(af->path);
	ns_free(af->tmp_path);
	memset(af, 0, sizeof(*af));
}

enum ns_status ns_mkdir_p(const char *path, struct ns_diag *diag)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(buf))
		return ns_diag_set(diag, NS_ERR_INVALID, "bad folder path");
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return io_error(diag, buf, "create folder");
			buf[i] = c;
		}
	}
	return NS_OK;
}
