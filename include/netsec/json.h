/*
 * include/netsec/json.h - a small, strict JSON reader (RFC 8259) into a
 * read-only tree.
 *
 * ns_json_parse() reads a whole document into a tree owned by one
 * `struct ns_json_doc`; every value, key and string is freed with it.  The
 * reader is strict: exactly one value (any type at the top level), only the
 * four JSON blanks around tokens, no byte order mark, no comments, no
 * trailing commas, no leading zeros, no NaN/Infinity, strings in valid UTF-8
 * (no overlong forms, no surrogate code points, nothing above U+10FFFF) with
 * no raw control characters, escapes as RFC 8259 lists them, with \uD83D\uDE00
 * surrogate pairs joined and lone surrogates rejected.  "\u0000" is allowed:
 * strings carry their byte length and are also NUL-terminated.
 *
 * Numbers are converted to double without the locale (ns_parse_double):
 * correctly rounded; a number whose magnitude exceeds DBL_MAX is rejected,
 * one that underflows becomes 0 or a subnormal.
 *
 * Duplicate keys in one object are rejected by default (an ambiguity that
 * different readers resolve differently is a classic smuggling trick);
 * with `allow_duplicates` the last one wins for ns_json_get.
 *
 * Limits: the document size (`max_size`, default 64 MiB) and the nesting
 * depth (`max_depth`, default 256, at most NS_JSON_DEPTH_MAX) are checked
 * before any work is done for them (NS_ERR_LIMIT).  The tree takes at most
 * about 40 bytes per input byte.
 *
 * Errors: NS_ERR_PARSE (malformed), NS_ERR_LIMIT, NS_ERR_NOMEM; the
 * diagnostic gets the source name, the 1-based line and column (column in
 * characters, i.e. UTF-8 code points, of that line) and a message that ends
 * with the 0-based byte offset: "expected ':' after the key (byte 17)".
 *
 * Threading: parsing is reentrant; a parsed document is immutable, so any
 * number of threads may read one at once.  Accessors take NULL and values of
 * the wrong type and answer "absent" (NULL, 0, false), so lookups chain:
 * ns_json_number(ns_json_get(ns_json_get(root, "metrics"), "f1"), &f1).
 */
#ifndef NETSEC_JSON_H
#define NETSEC_JSON_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_JSON_DEPTH_MAX 4096

enum ns_json_type {
	NS_JSON_NONE = 0, /* no value: a NULL pointer (a missing key, an index out of range) */
	NS_JSON_NULL = 1,
	NS_JSON_BOOL = 2,
	NS_JSON_NUMBER = 3,
	NS_JSON_STRING = 4,
	NS_JSON_ARRAY = 5,
	NS_JSON_OBJECT = 6,
};

struct ns_json_params {
	size_t max_size; /* bytes; 0: no limit.  Default 64 MiB */
	size_t max_depth; /* nesting of arrays/objects; default 256; 0 or more than
			  * NS_JSON_DEPTH_MAX: NS_JSON_DEPTH_MAX */
	bool allow_duplicates; /* false (default): a repeated key is an error */
};
NS_API struct ns_json_params ns_json_params_default(void);

struct ns_json_doc; /* a parsed document: owns every value */
struct ns_json; /* one value inside a document, borrowed */

/*
 * Parses `len` bytes of `text` (need not be NUL-terminated).  `source` names
 * the input in diagnostics (a path, "request body"; may be NULL); `params`
 * may be NULL for the defaults.  OUT *out is owned by the caller
 * (ns_json_doc_free), written only on success.
 */
NS_API enum ns_status ns_json_parse(const char *text, size_t len, const char *source,
				    const struct ns_json_params *params, struct ns_json_doc **out,
				    struct ns_diag *diag);
/** Frees a document and every value in it; NULL is a no-op. */
NS_API void ns_json_doc_free(struct ns_json_doc *doc);
/** The top-level value; valid while the document lives. */
NS_API const struct ns_json *ns_json_root(const struct ns_json_doc *doc);

/** Type of `v` (NS_JSON_NONE for NULL). */
NS_API enum ns_json_type ns_json_type(const struct ns_json *v);
/** "null", "bool", "number", "string", "array", "object" or "none". */
NS_API const char *ns_json_type_name(enum ns_json_type t);

/*
 * Number of elements of an array or members of an object; 0 for anything
 * else.
 */
NS_API size_t ns_json_length(const struct ns_json *v);
/** The i-th element of an array, or NULL (not an array, i out of range). */
NS_API const struct ns_json *ns_json_at(const struct ns_json *array, size_t i);
/*
 * The value of `key` in an object (the last one if duplicates were allowed),
 * or NULL.  A linear scan: fine for the small objects this is for.
 * ns_json_getn takes a key of `key_len` bytes (which may hold NULs).
 */
NS_API const struct ns_json *ns_json_get(const struct ns_json *object, const char *key);
NS_API const struct ns_json *ns_json_getn(const struct ns_json *object, const char *key,
					  size_t key_len);
/*
 * The i-th member of an object in document order: its key (NUL-terminated,
 * OUT *key_len its byte length, may be NULL) and value.  NULL if out of range.
 */
NS_API const char *ns_json_member_key(const struct ns_json *object, size_t i, size_t *key_len);
NS_API const struct ns_json *ns_json_member_value(const struct ns_json *object, size_t i);

/*
 * The decoded UTF-8 bytes of a string (NUL-terminated; OUT *len its byte
 * length, may be NULL), or NULL if `v` is not a string.
 */
NS_API const char *ns_json_string(const struct ns_json *v, size_t *len);
/** Sets OUT *out and returns true if `v` is a number. */
NS_API bool ns_json_number(const struct ns_json *v, double *out);
/** Sets OUT *out and returns true if `v` is true or false. */
NS_API bool ns_json_bool(const struct ns_json *v, bool *out);
/** True if `v` is JSON null (not a missing value). */
NS_API bool ns_json_is_null(const struct ns_json *v);

#ifdef __cplusplus
}
#endif
#endif
