/*
 * include/netsec/multipart.h - streaming multipart/form-data parser (RFC 7578).
 *
 * A push parser for HTTP upload bodies: feed the body in chunks of any size
 * (down to one byte) as it arrives and it calls back when a part's headers
 * are parsed, with the part's body bytes, and when the part ends.  The
 * upload is never held whole: body bytes go to the callback without a copy,
 * and only the bytes that might begin a delimiter are held back (at most the
 * boundary's length + 3, and those are not even copied: they are known to
 * equal the delimiter's prefix).  Memory is O(boundary + header cap),
 * whatever the upload's size.
 *
 * What is accepted (RFC 7578, RFC 2046; docs/multipart.md has the details):
 *  - a preamble before the first boundary and an epilogue after the close
 *    delimiter "--BOUNDARY--" are ignored;
 *  - the delimiter is CRLF "--" BOUNDARY (the first one may open the body
 *    without the CRLF), then optional spaces and tabs, then CRLF;
 *  - line endings must be CRLF: a bare LF or CR in a boundary line or in the
 *    part headers is an error (browsers and curl send CRLF; a body rewritten
 *    to LF is not parsed by guessing);
 *  - part headers: Content-Disposition: form-data; name="..."; filename="..."
 *    (quoted strings with backslash escapes, or bare tokens; `filename*` and
 *    unknown parameters are ignored), Content-Type (passed on verbatim);
 *    other headers are checked for syntax and ignored; header names are
 *    case-insensitive; folded (continuation) lines are rejected;
 *  - body bytes are binary-safe: NUL, lone CR or LF, and text that merely
 *    looks like a boundary pass through unchanged.  A full delimiter
 *    (CRLF "--" BOUNDARY) inside a body is, as RFC 2046 says, a delimiter.
 *
 * Errors: NS_ERR_PARSE (malformed body) and NS_ERR_LIMIT (a cap exceeded)
 * name the part (1-based) where it applies and end with "(at byte N)", N
 * being the 0-based offset in the body of the byte where the error was found
 * (for a truncated upload, the body's length).  `diag->line` and `column`
 * are left 0.  After an error the parser is finished: later feed/finish
 * calls return the same status and diagnostic.
 *
 * Threading: a parser is used by one thread at a time; no globals.
 */
#ifndef NETSEC_MULTIPART_H
#define NETSEC_MULTIPART_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* RFC 2046: a boundary has 1 to 70 characters. */
#define NS_MULTIPART_BOUNDARY_MAX 70

/*
 * Extracts the boundary from a Content-Type header value such as
 * `multipart/form-data; boundary=XYZ` or `Multipart/Form-Data;
 * charset=utf-8; BOUNDARY="a b"`: the media type and parameter names are
 * case-insensitive, the value may be a token or a quoted string (with
 * backslash escapes), and other parameters are allowed.  Writes the
 * NUL-terminated boundary to OUT `boundary` (`size` >= 71 always suffices).
 * Returns NS_OK or NS_ERR_INVALID (with a message in `diag`, which may be
 * NULL) when `content_type` is NULL or not multipart/form-data, when the
 * boundary is missing, given twice, empty, longer than 70 characters, holds a
 * character RFC 2046 does not allow (bchars: letters, digits, space and
 * '()+_,-./:=?) or ends with a space, or when `size` is too small.  Nothing is
 * written on failure.  Thread-safe.
 */
NS_API enum ns_status ns_multipart_boundary(const char *content_type, char *boundary, size_t size,
					    struct ns_diag *diag);

/*
 * One part's headers, passed to part_begin.  The strings are NUL-terminated
 * and decoded (quotes and backslash escapes removed; no percent-decoding);
 * they are borrowed and stay valid until part_end returns for this part (or
 * until the parse stops with an error).
 */
struct ns_multipart_part {
	const char *name; /* the form field's name, never NULL (may be "") */
	const char *filename; /* NULL when the part has no filename parameter */
	const char *content_type; /* trimmed Content-Type value; NULL if none */
	size_t index; /* 0-based part number */
};

/*
 * Callbacks (any may be NULL).  Returning anything but NS_OK stops the parse:
 * that status is returned unchanged from ns_multipart_feed/finish and becomes
 * the parser's sticky error, with the message "part N ('NAME'): stopped by
 * the part_data callback (STATUS TEXT)" (or part_begin, part_end); a
 * callback that has more to say keeps its own diagnostic in `user`.
 *  - part_begin: a part's headers were parsed.
 *  - part_data: `len` > 0 bytes of the current part's body, in order; a part
 *    may come in any number of calls, whatever the feed sizes.  `data` is
 *    valid during the call only.
 *  - part_end: the current part's body is complete (its delimiter was seen).
 *    A part cut short by an error or a truncated upload gets no part_end.
 */
struct ns_multipart_callbacks {
	enum ns_status (*part_begin)(void *user, const struct ns_multipart_part *part);
	enum ns_status (*part_data)(void *user, const void *data, size_t len);
	enum ns_status (*part_end)(void *user);
};

struct ns_multipart_params {
	/* Cap on one part's header block, line ends included (the blank line
	 * that ends it too).  Default 8 KiB.  Exceeding it: NS_ERR_LIMIT. */
	size_t max_header_bytes;
	/* Cap on the number of parts.  Default 64.  Exceeding it: NS_ERR_LIMIT. */
	size_t max_parts;
};

/** Returns the defaults described above. */
NS_API struct ns_multipart_params ns_multipart_params_default(void);

struct ns_multipart;

/*
 * Creates a parser for bodies delimited by `boundary` (as returned by
 * ns_multipart_boundary; it is copied).  `params` may be NULL for the
 * defaults; `cb` may be NULL (the body is then only checked).  OUT *out is
 * owned by the caller (ns_multipart_free).  Returns NS_OK, NS_ERR_INVALID
 * (NULL argument, a boundary ns_multipart_boundary would reject, or a cap of
 * 0) or NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_multipart_create(const char *boundary,
					  const struct ns_multipart_params *params,
					  const struct ns_multipart_callbacks *cb, void *user,
					  struct ns_multipart **out);

/** Frees the parser; NULL is a no-op.  Calls no callback. */
NS_API void ns_multipart_free(struct ns_multipart *m);

/*
 * Feeds the next `len` bytes of the body (any chunking gives the same
 * callbacks, byte for byte, and the same errors).  Returns NS_OK,
 * NS_ERR_PARSE, NS_ERR_LIMIT, NS_ERR_NOMEM or a callback's status (all
 * sticky); NS_ERR_INVALID for a NULL argument or a feed after finish (not
 * sticky).  Bytes after the close delimiter are counted and ignored.
 */
NS_API enum ns_status ns_multipart_feed(struct ns_multipart *m, const void *data, size_t len,
					struct ns_diag *diag);

/*
 * Ends the body.  Returns NS_OK when the close delimiter was seen, else
 * NS_ERR_PARSE "truncated upload: ..." (naming the part that was cut off);
 * or the sticky error of an earlier call.  Calling it again returns the same.
 */
NS_API enum ns_status ns_multipart_finish(struct ns_multipart *m, struct ns_diag *diag);

/** Bytes fed so far (0 for NULL). */
NS_API uint64_t ns_multipart_bytes(const struct ns_multipart *m);
/** Parts begun so far (their headers were complete or being read). */
NS_API size_t ns_multipart_parts(const struct ns_multipart *m);

#ifdef __cplusplus
}
#endif
#endif
