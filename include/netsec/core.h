/*
 * include/netsec/core.h - status codes, diagnostics, logging and allocation.
 *
 * Every fallible function in libnetsec returns an `enum ns_status` (NS_OK is 0)
 * and, when the caller passes one, fills a caller-owned `struct ns_diag` with
 * what went wrong and where (file, line, column, field).  The library never
 * prints and never exits; it reports through the diagnostic and through the
 * logging callback installed with ns_log_set().
 *
 * Threading: ns_status_str() and the ns_diag_* helpers are thread-safe.  The
 * logging callback and the allocation fault injector are process-wide settings
 * meant to be changed once at start-up (or by tests); they use atomics so that
 * reading them from worker threads is safe.
 */
#ifndef NETSEC_CORE_H
#define NETSEC_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(NETSEC_BUILD) && defined(__GNUC__)
#define NS_API __attribute__((visibility("default")))
#else
#define NS_API
#endif

#if defined(__GNUC__)
#define NS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define NS_PRINTF(f, a)
#endif

#define NETSEC_VERSION_MAJOR 0
#define NETSEC_VERSION_MINOR 1
#define NETSEC_VERSION_PATCH 0
#define NETSEC_VERSION_STRING "0.1.0"

/** Returns the library's version string ("MAJOR.MINOR.PATCH"); static storage. */
NS_API const char *ns_version(void);

/*
 * One X-macro list makes the enum and ns_status_str().  Values are stable
 * once released: new codes go at the end.
 */
#define NS_STATUS_MAP(X) \
	X(OK, "ok") \
	X(ERR_NOMEM, "out of memory") \
	X(ERR_INVALID, "invalid argument") \
	X(ERR_PARSE, "malformed input") \
	X(ERR_IO, "input/output error") \
	X(ERR_NOTFOUND, "not found") \
	X(ERR_LIMIT, "limit exceeded") \
	X(ERR_SCHEMA, "does not match the schema") \
	X(ERR_EXISTS, "already exists") \
	X(ERR_UNSUPPORTED, "unsupported") \
	X(ERR_CORRUPT, "corrupt data") \
	X(ERR_STORE, "data store error") \
	X(ERR_ABORTED, "aborted by the caller") \
	X(ERR_INTERNAL, "internal error")

enum ns_status {
#define NS__STATUS_ENUM(name, text) NS_##name,
	NS_STATUS_MAP(NS__STATUS_ENUM)
#undef NS__STATUS_ENUM
		NS_STATUS_COUNT_
};

/** Returns a short English description of `st`; static storage, never NULL. */
NS_API const char *ns_status_str(enum ns_status st);
/** Returns the enum name of `st` without the NS_ prefix ("ERR_PARSE"). */
NS_API const char *ns_status_name(enum ns_status st);

#define NS_DIAG_FILE_MAX 256
#define NS_DIAG_FIELD_MAX 128
#define NS_DIAG_MESSAGE_MAX 512

/*
 * A caller-owned diagnostic.  Parsers fill the location they know: `file`
 * (a path or a source name such as "upload"), `line` (1-based physical line,
 * 0 if unknown), `column` (1-based field number within the record, 0 if
 * unknown) and `field` (the column's name, empty if unknown).
 */
struct ns_diag {
	enum ns_status status;
	uint64_t line;
	uint64_t column;
	char file[NS_DIAG_FILE_MAX];
	char field[NS_DIAG_FIELD_MAX];
	char message[NS_DIAG_MESSAGE_MAX];
};

/** Clears `d` (may be NULL). */
NS_API void ns_diag_clear(struct ns_diag *d);

/*
 * Sets status and message (printf-style) on `d` and returns `st`, so that
 * `return ns_diag_set(d, NS_ERR_PARSE, "...")` reads naturally.  `d` may be
 * NULL.  Location fields are left as they are.
 */
NS_API enum ns_status ns_diag_set(struct ns_diag *d, enum ns_status st, const char *fmt, ...)
	NS_PRINTF(3, 4);
NS_API enum ns_status ns_diag_vset(struct ns_diag *d, enum ns_status st, const char *fmt,
				   va_list ap);
/** Sets the location parts of `d` (any string may be NULL to leave it). */
NS_API void ns_diag_where(struct ns_diag *d, const char *file, uint64_t line, uint64_t column,
			  const char *field);

/*
 * Formats `d` as "FILE:LINE:COLUMN: field 'F': MESSAGE" (parts that are
 * unknown are left out) into `buf` of `size` bytes; returns `buf`.
 */
NS_API char *ns_diag_format(const struct ns_diag *d, char *buf, size_t size);

/* ---- logging ---------------------------------------------------------- */

enum ns_log_level {
	NS_LOG_ERROR = 0,
	NS_LOG_WARN = 1,
	NS_LOG_INFO = 2,
	NS_LOG_DEBUG = 3,
};

typedef void (*ns_log_fn)(void *user, enum ns_log_level level, const char *msg);

/*
 * Installs the process-wide log callback (NULL: discard all messages) and the
 * most verbose level passed to it.  Set once at start-up; the callback may be
 * called from any thread and must be thread-safe itself.
 */
NS_API void ns_log_set(ns_log_fn fn, void *user, enum ns_log_level max_level);
/** Logs through the installed callback (internal use, and for clients). */
NS_API void ns_log(enum ns_log_level level, const char *fmt, ...) NS_PRINTF(2, 3);
/** Returns true when messages at `level` would reach the callback. */
NS_API bool ns_log_enabled(enum ns_log_level level);

/* ---- allocation -------------------------------------------------------- */

/*
 * Allocation wrappers used by the whole library.  They return NULL on failure
 * (and on size overflow in ns_calloc/ns_reallocarray).  ns_free(NULL) is a
 * no-op.
 */
NS_API void *ns_malloc(size_t size);
NS_API void *ns_calloc(size_t n, size_t size);
NS_API void *ns_realloc(void *p, size_t size);
NS_API void *ns_reallocarray(void *p, size_t n, size_t size);
NS_API char *ns_strdup(const char *s);
NS_API char *ns_strndup(const char *s, size_t n);
NS_API void ns_free(void *p);

/*
 * Fault injection for tests: after `n` more successful allocations, every
 * further allocation fails (n = 0: the very next one fails) until
 * ns_alloc_fail_reset() is called.  Returns nothing; thread-safe.
 */
NS_API void ns_alloc_fail_after(long n);
NS_API void ns_alloc_fail_reset(void);
/** Number of allocations made since the last ns_alloc_fail_after/reset. */
NS_API long ns_alloc_count(void);

/* ---- small helpers shared by clients ------------------------------------ */

/*
 * Writes `len` bytes to `path` atomically: a temp file in the same folder,
 * fsync, rename, fsync of the folder.  Either the old content or the new
 * content is visible, never a half-written file.
 */
NS_API enum ns_status ns_write_file_atomic(const char *path, const void *data, size_t len,
					   struct ns_diag *diag);

/*
 * A stream written to a temp file beside `path` and put in place by
 * ns_atomic_file_commit (fflush, fsync, rename, fsync of the folder), so
 * readers see the old file or the whole new one.  ns_atomic_file_abort
 * removes the temp file.  Exactly one of commit/abort must be called.
 */
struct ns_atomic_file {
	FILE *fp; /* write here */
	char *path; /* owned */
	char *tmp_path; /* owned; NULL when the target is a device or FIFO, written in place */
};
NS_API enum ns_status ns_atomic_file_open(struct ns_atomic_file *af, const char *path,
					  struct ns_diag *diag);
NS_API enum ns_status ns_atomic_file_commit(struct ns_atomic_file *af, struct ns_diag *diag);
NS_API void ns_atomic_file_abort(struct ns_atomic_file *af);

/* Creates `path` and its missing parents (mode 0755), like mkdir -p. */
NS_API enum ns_status ns_mkdir_p(const char *path, struct ns_diag *diag);

/*
 * Reads a whole file (at most `max_len` bytes, else NS_ERR_LIMIT) into a new
 * NUL-terminated buffer; OUT *data owned by the caller (ns_free).
 */
NS_API enum ns_status ns_read_file(const char *path, size_t max_len, char **data, size_t *len,
				   struct ns_diag *diag);

/* SHA-256, streaming. */
struct ns_sha256 {
	uint32_t h[8];
	uint64_t n_bytes;
	uint8_t buf[64];
	size_t buf_len;
};
NS_API void ns_sha256_init(struct ns_sha256 *s);
NS_API void ns_sha256_update(struct ns_sha256 *s, const void *data, size_t len);
/** Writes the 32-byte digest to `out`. */
NS_API void ns_sha256_final(struct ns_sha256 *s, uint8_t out[32]);
/** Writes the 64 lowercase hex digits and a NUL to `hex`. */
NS_API void ns_sha256_hex(const uint8_t digest[32], char hex[65]);

/*
 * Locale-independent number parsing and printing.
 *
 * ns_parse_double() accepts an optional sign, decimal digits with an optional
 * fraction and exponent, "inf"/"infinity"/"nan" in any case; leading and
 * trailing blanks are not accepted.  Returns true and sets *out on success.
 * ns_format_double() writes the shortest form that reads back to exactly the
 * same double ("inf", "-inf", "nan" for non-finite); returns the length
 * (excluding the NUL) or 0 if `size` (>= 32 suffices) is too small.
 */
NS_API bool ns_parse_double(const char *s, size_t len, double *out);
NS_API size_t ns_format_double(double v, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
