/*
 * lib/net/multipart.c - streaming multipart/form-data parser (RFC 7578).
 *
 * A byte-level state machine whose whole state lives in the parser, so the
 * body may be split across feeds at any byte.  The delimiter search needs no
 * look-behind buffer: the bytes held back at the end of a feed are, by
 * construction, the first `matched` bytes of the delimiter, so when the
 * candidate fails they are handed on from the delimiter string itself.  And
 * because the delimiter starts with CR and a boundary holds no CR or LF, a
 * failed candidate can only restart at the failing byte (no KMP table).
 * Body runs between CRs are found with memchr and passed on without a copy:
 * one part_data call per feed and per rejected carried candidate at most.
 *
 * Limits: the only growing buffers are one part's raw header block (capped
 * by max_header_bytes) and its decoded strings (no longer than the block).
 *
 * Errors go into the parser's own diagnostic and are replayed by every
 * later call.  Threading: one parser, one thread at a time; no globals.
 */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/multipart.h"

enum state {
	ST_PREAMBLE, /* before the first delimiter */
	ST_AFTER_DELIM, /* right after CRLF "--" BOUNDARY */
	ST_PADDING, /* transport padding (spaces, tabs) after a boundary */
	ST_DELIM_CR, /* CR ending a boundary line: LF must follow */
	ST_DASH, /* one '-' after the boundary: the close delimiter's second '-' */
	ST_HEADERS, /* inside a part's header block */
	ST_BODY, /* inside a part's body */
	ST_EPILOGUE, /* after the close delimiter: everything is ignored */
};

#define DELIM_MAX (4 + NS_MULTIPART_BOUNDARY_MAX)

struct ns_multipart {
	struct ns_multipart_params params;
	struct ns_multipart_callbacks cb;
	void *user;
	char boundary[NS_MULTIPART_BOUNDARY_MAX + 1];
	char delim[DELIM_MAX + 1]; /* CRLF "--" BOUNDARY */
	size_t delim_len;
	enum state state;
	size_t matched; /* delimiter bytes matched so far (held back) */
	uint64_t n_bytes; /* bytes fed */
	size_t n_parts; /* parts begun */
	uint64_t hdr_offset; /* body offset of the current header block */
	size_t line_start; /* offset in hdr of the current header line */
	struct ns__buf hdr; /* the current part's raw header block */
	struct ns__buf strs; /* its decoded strings, NUL-terminated */
	struct ns_multipart_part part;
	bool in_part; /* part_begin was called, part_end not yet */
	bool finished;
	enum ns_status err;
	struct ns_diag diag;
};

/* ---- small helpers ----------------------------------------------------------- */

static bool is_ows(int c)
{
	return c == ' ' || c == '\t';
}

/* RFC 7230 tchar. */
static bool is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* RFC 2046 bchars (bcharsnospace plus space). */
static bool is_bchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* True when s[0..n) equals the lowercase literal `lit`, ignoring ASCII case. */
static bool ci_eq(const char *s, size_t n, const char *lit)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower((unsigned char)s[i]) != lit[i])
			return false;
	return lit[i] == '\0';
}

/* NULL when `b` is a valid boundary, else why not. */
static const char *boundary_problem(const char *b, size_t n)
{
	if (n == 0)
		return "the boundary is empty";
	if (n > NS_MULTIPART_BOUNDARY_MAX)
		return "the boundary is longer than 70 characters";
	for (size_t i = 0; i < n; i++)
		if (!is_bchar((unsigned char)b[i]))
			return "the boundary holds a character RFC 2046 does not allow";
	if (b[n - 1] == ' ')
		return "the boundary ends with a space";
	return NULL;
}

/* ---- ns_multipart_boundary ---------------------------------------------------- */

enum ns_status ns_multipart_boundary(const char *content_type, char *boundary, size_t size,
				     struct ns_diag *diag)
{
	static const char type[] = "multipart/form-data";
	const size_t type_len = sizeof(type) - 1;
	char val[NS_MULTIPART_BOUNDARY_MAX + 2];
	size_t val_len = 0, i = 0, n;
	bool found = false;
	const char *s = content_type, *why;

	if (!s || !boundary)
		return ns_diag_set(diag, NS_ERR_INVALID, "no Content-Type header");
	n = strlen(s);
	while (i < n && is_ows(s[i]))
		i++;
	if (n - i < type_len || !ci_eq(s + i, type_len, type) ||
	    (i + type_len < n && !is_ows(s[i + type_len]) && s[i + type_len] != ';'))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "Content-Type is '%.64s', not multipart/form-data", s + i);
	i += type_len;
	for (;;) {
		size_t name, name_len, len = 0;
		bool is_boundary, too_long = false;
		while (i < n && is_ows(s[i]))
			i++;
		if (i == n)
			break;
		if (s[i] != ';')
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "Content-Type: expected ';' before '%.32s'", s + i);
		i++;
		while (i < n && is_ows(s[i]))
			i++;
		if (i == n)
			break;
		name = i;
		while (i < n && is_tchar((unsigned char)s[i]))
			i++;
		name_len = i - name;
		while (i < n && is_ows(s[i]))
			i++;
		if (name_len == 0 || i == n || s[i] != '=')
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "Content-Type: malformed parameter at '%.32s'",
					   s + name);
		i++;
		while (i < n && is_ows(s[i]))
			i++;
		is_boundary = ci_eq(s + name, name_len, "boundary");
		if (is_boundary && found)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "Content-Type: the boundary parameter is given twice");
		if (i < n && s[i] == '"') {
			for (i++;; i++) {
				char c;
				if (i == n)
					return ns_diag_set(
						diag, NS_ERR_INVALID,
						"Content-Type: unterminated quoted string");
				c = s[i];
				if (c == '"') {
					i++;
					break;
				}
				if (c == '\\') {
					if (++i == n)
						return ns_diag_set(
							diag, NS_ERR_INVALID,
							"Content-Type: unterminated quoted string");
					c = s[i];
				}
				if (!is_boundary)
					continue;
				if (len < sizeof(val) - 1)
					val[len++] = c;
				else
					too_long = true;
			}
		} else {
			size_t start = i;
			while (i < n && s[i] != ';' && !is_ows(s[i])) {
				if (is_boundary && len < sizeof(val) - 1)
					val[len++] = s[i];
				else if (is_boundary)
					too_long = true;
				i++;
			}
			if (i == start)
				return ns_diag_set(diag, NS_ERR_INVALID,
						   "Content-Type: parameter '%.*s' has no value",
						   (int)(name_len > 32 ? 32 : name_len), s + name);
		}
		if (is_boundary) {
			found = true;
			val_len = too_long ? sizeof(val) : len;
		}
	}
	if (!found)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "Content-Type multipart/form-data has no boundary parameter");
	if ((why = boundary_problem(val, val_len)) != NULL)
		return ns_diag_set(diag, NS_ERR_INVALID, "Content-Type: %s", why);
	if (size <= val_len)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "the boundary (%zu characters) does not fit in %zu bytes",
				   val_len, size);
	memcpy(boundary, val, val_len);
	boundary[val_len] = '\0';
	return NS_OK;
}

/* ---- errors ------------------------------------------------------------------ */

/* Records a sticky error found at body offset `at`; returns `st`. */
NS_PRINTF(4, 5)
static enum ns_status fail(struct ns_multipart *m, enum ns_status st, uint64_t at, const char *fmt,
			   ...)
{
	va_list ap;
	size_t n;
	ns_diag_clear(&m->diag);
	va_start(ap, fmt);
	ns_diag_vset(&m->diag, st, fmt, ap);
	va_end(ap);
	n = strlen(m->diag.message);
	snprintf(m->diag.message + n, sizeof(m->diag.message) - n, " (at byte %llu)",
		 (unsigned long long)at);
	m->err = st;
	return st;
}

static enum ns_status replay(const struct ns_multipart *m, struct ns_diag *diag)
{
	if (diag)
		*diag = m->diag;
	return m->err;
}

static enum ns_status cb_failed(struct ns_multipart *m, enum ns_status st, const char *which)
{
	ns_diag_clear(&m->diag);
	ns_diag_set(&m->diag, st, "part %zu ('%.64s'): stopped by the %s callback (%s)", m->n_parts,
		    m->part.name ? m->part.name : "", which, ns_status_str(st));
	m->err = st;
	return st;
}

static enum ns_status emit(struct ns_multipart *m, const void *p, size_t n)
{
	enum ns_status st;
	if (n == 0 || !m->cb.part_data)
		return NS_OK;
	st = m->cb.part_data(m->user, p, n);
	return st == NS_OK ? NS_OK : cb_failed(m, st, "part_data");
}

static enum ns_status end_part(struct ns_multipart *m)
{
	enum ns_status st = NS_OK;
	if (!m->in_part)
		return NS_OK;
	m->in_part = false;
	if (m->cb.part_end)
		st = m->cb.part_end(m->user);
	return st == NS_OK ? NS_OK : cb_failed(m, st, "part_end");
}

/* ---- part headers ------------------------------------------------------------ */

/*
 * Reads one parameter value (quoted string or bare run) at s[*i..n) and
 * appends it, NUL-terminated, to m->strs; OUT *off is where it starts.
 * `at` is the body offset of s[0].
 */
static enum ns_status read_value(struct ns_multipart *m, const char *s, size_t n, size_t *i,
				 uint64_t at, size_t *off)
{
	size_t j = *i;
	*off = m->strs.len;
	if (j < n && s[j] == '"') {
		size_t run = ++j;
		for (;;) {
			if (j == n)
				return fail(m, NS_ERR_PARSE, at + (uint64_t)(run - 1),
					    "part %zu: unterminated quoted string in "
					    "Content-Disposition",
					    m->n_parts);
			if (s[j] == '"' || s[j] == '\\') {
				if (ns__buf_append(&m->strs, s + run, j - run) != NS_OK)
					goto nomem;
				if (s[j] == '"') {
					j++;
					break;
				}
				if (j + 1 < n)
					j++; /* the escaped byte starts the next run */
				run = j++;
				continue;
			}
			j++;
		}
	} else {
		size_t start = j;
		while (j < n && s[j] != ';' && !is_ows(s[j])) {
			if (s[j] == '"')
				return fail(m, NS_ERR_PARSE, at + j,
					    "part %zu: stray '\"' in a Content-Disposition "
					    "parameter",
					    m->n_parts);
			j++;
		}
		if (j == start)
			return fail(m, NS_ERR_PARSE, at + j,
				    "part %zu: a Content-Disposition parameter has no value",
				    m->n_parts);
		if (ns__buf_append(&m->strs, s + start, j - start) != NS_OK)
			goto nomem;
	}
	if (ns__buf_append(&m->strs, "", 1) != NS_OK)
		goto nomem;
	*i = j;
	return NS_OK;
nomem:
	return fail(m, NS_ERR_NOMEM, at + j, "out of memory parsing part %zu's headers",
		    m->n_parts);
}

#define NO_OFF ((size_t)-1)

static enum ns_status parse_disposition(struct ns_multipart *m, const char *s, size_t n,
					uint64_t at, size_t *name_off, size_t *file_off)
{
	size_t i = 0;
	enum ns_status st;
	while (i < n && is_tchar((unsigned char)s[i]))
		i++;
	if (!ci_eq(s, i, "form-data"))
		return fail(m, NS_ERR_PARSE, at,
			    "part %zu: Content-Disposition is '%.*s', not form-data", m->n_parts,
			    (int)(n > 40 ? 40 : n), s);
	for (;;) {
		size_t pn, pn_len, off;
		while (i < n && is_ows(s[i]))
			i++;
		if (i == n)
			break;
		if (s[i] != ';')
			return fail(m, NS_ERR_PARSE, at + i,
				    "part %zu: Content-Disposition: expected ';'", m->n_parts);
		i++;
		while (i < n && is_ows(s[i]))
			i++;
		if (i == n)
			break; /* a trailing ';' is tolerated */
		pn = i;
		while (i < n && is_tchar((unsigned char)s[i]))
			i++;
		pn_len = i - pn;
		while (i < n && is_ows(s[i]))
			i++;
		if (pn_len == 0 || i == n || s[i] != '=')
			return fail(m, NS_ERR_PARSE, at + pn,
				    "part %zu: malformed Content-Disposition parameter",
				    m->n_parts);
		i++;
		while (i < n && is_ows(s[i]))
			i++;
		if ((st = read_value(m, s, n, &i, at, &off)) != NS_OK)
			return st;
		if (ci_eq(s + pn, pn_len, "name") || ci_eq(s + pn, pn_len, "filename")) {
			size_t *dst = pn_len == 4 ? name_off : file_off;
			if (*dst != NO_OFF)
				return fail(m, NS_ERR_PARSE, at + pn,
					    "part %zu: Content-Disposition gives %s twice",
					    m->n_parts, pn_len == 4 ? "name" : "filename");
			*dst = off;
		} else {
			/* filename* (RFC 7578 4.2 forbids it) and unknown parameters. */
			m->strs.len = off;
		}
	}
	if (*name_off == NO_OFF)
		return fail(m, NS_ERR_PARSE, at, "part %zu: Content-Disposition has no name",
			    m->n_parts);
	return NS_OK;
}

/* Parses the complete header block in m->hdr and calls part_begin. */
static enum ns_status headers_done(struct ns_multipart *m)
{
	const char *h = m->hdr.data;
	size_t pos = 0, name_off = NO_OFF, file_off = NO_OFF, type_off = NO_OFF;
	bool have_cd = false;
	enum ns_status st;

	ns__buf_reset(&m->strs);
	/* Each line ends with CRLF (checked as it came in); the last is empty. */
	while (m->hdr.len - pos > 2) {
		const char *line = h + pos, *eol = memchr(line, '\r', m->hdr.len - pos);
		size_t len = (size_t)(eol - line), nl = 0, v, ve;
		uint64_t at = m->hdr_offset + pos;
		while (nl < len && is_tchar((unsigned char)line[nl]))
			nl++;
		if (nl == 0)
			return fail(m, NS_ERR_PARSE, at,
				    "part %zu: malformed header line (no header name)", m->n_parts);
		if (nl == len || line[nl] != ':')
			return fail(m, NS_ERR_PARSE, at + nl,
				    "part %zu: header '%.*s' is not followed by ':'", m->n_parts,
				    (int)(nl > 40 ? 40 : nl), line);
		v = nl + 1;
		while (v < len && is_ows(line[v]))
			v++;
		ve = len;
		while (ve > v && is_ows(line[ve - 1]))
			ve--;
		if (ci_eq(line, nl, "content-disposition")) {
			if (have_cd)
				return fail(m, NS_ERR_PARSE, at,
					    "part %zu: Content-Disposition given twice",
					    m->n_parts);
			have_cd = true;
			st = parse_disposition(m, line + v, ve - v, at + v, &name_off, &file_off);
			if (st != NS_OK)
				return st;
		} else if (ci_eq(line, nl, "content-type")) {
			if (type_off != NO_OFF)
				return fail(m, NS_ERR_PARSE, at,
					    "part %zu: Content-Type given twice", m->n_parts);
			type_off = m->strs.len;
			if (ns__buf_append(&m->strs, line + v, ve - v) != NS_OK ||
			    ns__buf_append(&m->strs, "", 1) != NS_OK)
				return fail(m, NS_ERR_NOMEM, at,
					    "out of memory parsing part %zu's headers", m->n_parts);
		}
		pos += len + 2;
	}
	if (!have_cd)
		return fail(m, NS_ERR_PARSE, m->hdr_offset,
			    "part %zu: missing Content-Disposition header", m->n_parts);
	m->part.index = m->n_parts - 1;
	m->part.name = m->strs.data + name_off;
	m->part.filename = file_off == NO_OFF ? NULL : m->strs.data + file_off;
	m->part.content_type = type_off == NO_OFF ? NULL : m->strs.data + type_off;
	m->in_part = true;
	if (m->cb.part_begin) {
		st = m->cb.part_begin(m->user, &m->part);
		if (st != NS_OK)
			return cb_failed(m, st, "part_begin");
	}
	return NS_OK;
}

/* Takes one header byte `c` found at body offset `at`. */
static enum ns_status header_byte(struct ns_multipart *m, unsigned char c, uint64_t at)
{
	size_t len = m->hdr.len;
	bool after_cr = len > m->line_start && m->hdr.data[len - 1] == '\r';
	enum ns_status st;

	if (after_cr && c != '\n')
		return fail(m, NS_ERR_PARSE, at - 1,
			    "part %zu: bare CR in the part headers (line ends must be CRLF)",
			    m->n_parts);
	if (!after_cr) {
		if (c == '\n')
			return fail(m, NS_ERR_PARSE, at,
				    "part %zu: bare LF in the part headers (line ends must be "
				    "CRLF)",
				    m->n_parts);
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f)
			return fail(m, NS_ERR_PARSE, at,
				    "part %zu: control byte 0x%02x in the part headers", m->n_parts,
				    c);
		if (is_ows(c) && len == m->line_start)
			return fail(m, NS_ERR_PARSE, at,
				    len == 0 ? "part %zu: a header line starts with a space or tab"
					     : "part %zu: folded header line (continuation lines "
					       "are not supported)",
				    m->n_parts);
	}
	st = ns__buf_append(&m->hdr, &c, 1);
	if (st == NS_ERR_LIMIT)
		return fail(m, NS_ERR_LIMIT, at, "part %zu: part headers longer than %zu bytes",
			    m->n_parts, m->params.max_header_bytes);
	if (st != NS_OK)
		return fail(m, NS_ERR_NOMEM, at, "out of memory reading part %zu's headers",
			    m->n_parts);
	if (c != '\n')
		return NS_OK;
	if (m->hdr.len - m->line_start == 2) {
		if ((st = headers_done(m)) != NS_OK)
			return st;
		m->state = ST_BODY;
		m->matched = 0;
		return NS_OK;
	}
	m->line_start = m->hdr.len;
	return NS_OK;
}

/* ---- the delimiter scan -------------------------------------------------------- */

/*
 * Scans p[*ip..len) for the delimiter, passing body bytes on in ST_BODY
 * (dropping them in ST_PREAMBLE).  On return either the delimiter was found
 * (state ST_AFTER_DELIM, *ip just after it) or the feed is used up, with the
 * last `matched` bytes held back.
 *
 * `carry` counts the held bytes that came in earlier feeds: they are not in
 * `p`, so if the candidate fails they are emitted from m->delim.  The
 * candidate's bytes inside this feed stay in the pending run [run, i) and
 * become ordinary body bytes when it fails.
 */
static enum ns_status scan(struct ns_multipart *m, const unsigned char *p, size_t len, size_t *ip)
{
	const bool body = m->state == ST_BODY;
	const unsigned char *delim = (const unsigned char *)m->delim;
	size_t i = *ip, run = i, carry = m->matched;
	enum ns_status st;

	while (i < len) {
		if (m->matched == 0) {
			const unsigned char *cr = memchr(p + i, '\r', len - i);
			if (!cr) {
				i = len;
				break;
			}
			i = (size_t)(cr - p) + 1;
			m->matched = 1;
			continue;
		}
		if (p[i] == delim[m->matched]) {
			i++;
			if (++m->matched < m->delim_len)
				continue;
			/* Found: the candidate's bytes in this feed end the run. */
			if (body) {
				size_t cand = i - (m->matched - carry);
				if ((st = emit(m, p + run, cand - run)) != NS_OK)
					return st;
				if ((st = end_part(m)) != NS_OK)
					return st;
			}
			m->matched = 0;
			m->state = ST_AFTER_DELIM;
			*ip = i;
			return NS_OK;
		}
		if (carry) {
			if (body && (st = emit(m, delim, carry)) != NS_OK)
				return st;
			carry = 0;
		}
		m->matched = 0; /* p[i] is looked at again: it may be a CR */
	}
	*ip = len;
	if (body)
		return emit(m, p + run, len - (m->matched - carry) - run);
	return NS_OK;
}

/* ---- feeding ------------------------------------------------------------------ */

static enum ns_status begin_headers(struct ns_multipart *m, uint64_t at)
{
	if (m->n_parts >= m->params.max_parts)
		return fail(m, NS_ERR_LIMIT, at, "more than %zu parts", m->params.max_parts);
	m->n_parts++;
	m->part.name = NULL;
	ns__buf_reset(&m->hdr);
	m->line_start = 0;
	m->hdr_offset = at;
	m->state = ST_HEADERS;
	return NS_OK;
}

static enum ns_status after_boundary_error(struct ns_multipart *m, unsigned char c, uint64_t at)
{
	if (c == '\n')
		return fail(m, NS_ERR_PARSE, at,
			    "the boundary line ends with a bare LF (line ends must be CRLF)");
	return fail(m, NS_ERR_PARSE, at,
		    "unexpected byte 0x%02x after the boundary --%s (expected CRLF or --)", c,
		    m->boundary);
}

static enum ns_status parse(struct ns_multipart *m, const unsigned char *p, size_t len)
{
	const uint64_t base = m->n_bytes;
	size_t i = 0;
	enum ns_status st;

	while (i < len) {
		unsigned char c;
		if (m->state == ST_PREAMBLE || m->state == ST_BODY) {
			if ((st = scan(m, p, len, &i)) != NS_OK)
				return st;
			continue;
		}
		if (m->state == ST_EPILOGUE)
			return NS_OK;
		c = p[i];
		switch (m->state) {
		case ST_AFTER_DELIM:
			if (c == '-')
				m->state = ST_DASH;
			else if (is_ows(c))
				m->state = ST_PADDING;
			else if (c == '\r')
				m->state = ST_DELIM_CR;
			else
				return after_boundary_error(m, c, base + i);
			break;
		case ST_PADDING:
			if (c == '\r')
				m->state = ST_DELIM_CR;
			else if (!is_ows(c))
				return after_boundary_error(m, c, base + i);
			break;
		case ST_DASH:
			if (c != '-')
				return fail(m, NS_ERR_PARSE, base + i,
					    "the boundary --%s is followed by a single '-'",
					    m->boundary);
			m->state = ST_EPILOGUE;
			break;
		case ST_DELIM_CR:
			if (c != '\n')
				return fail(m, NS_ERR_PARSE, base + i,
					    "the boundary line ends with a bare CR");
			if ((st = begin_headers(m, base + i + 1)) != NS_OK)
				return st;
			break;
		case ST_HEADERS:
			if ((st = header_byte(m, c, base + i)) != NS_OK)
				return st;
			break;
		default:
			return fail(m, NS_ERR_INTERNAL, base + i, "multipart: bad state");
		}
		i++;
	}
	return NS_OK;
}

/* ---- API ---------------------------------------------------------------------- */

struct ns_multipart_params ns_multipart_params_default(void)
{
	struct ns_multipart_params p;
	p.max_header_bytes = 8192;
	p.max_parts = 64;
	return p;
}

enum ns_status ns_multipart_create(const char *boundary, const struct ns_multipart_params *params,
				   const struct ns_multipart_callbacks *cb, void *user,
				   struct ns_multipart **out)
{
	struct ns_multipart_params p = params ? *params : ns_multipart_params_default();
	struct ns_multipart *m;
	size_t n;

	if (!boundary || !out)
		return NS_ERR_INVALID;
	n = strnlen(boundary, NS_MULTIPART_BOUNDARY_MAX + 1);
	if (boundary_problem(boundary, n) != NULL)
		return NS_ERR_INVALID;
	if (p.max_header_bytes == 0 || p.max_parts == 0)
		return NS_ERR_INVALID;
	m = ns_calloc(1, sizeof(*m));
	if (!m)
		return NS_ERR_NOMEM;
	m->params = p;
	if (cb)
		m->cb = *cb;
	m->user = user;
	memcpy(m->boundary, boundary, n + 1);
	memcpy(m->delim, "\r\n--", 4);
	memcpy(m->delim + 4, boundary, n + 1);
	m->delim_len = n + 4;
	m->state = ST_PREAMBLE;
	m->matched = 2; /* the first delimiter may open the body without its CRLF */
	ns__buf_init(&m->hdr, p.max_header_bytes);
	ns__buf_init(&m->strs, 0);
	*out = m;
	return NS_OK;
}

void ns_multipart_free(struct ns_multipart *m)
{
	if (!m)
		return;
	ns__buf_fini(&m->hdr);
	ns__buf_fini(&m->strs);
	ns_free(m);
}

enum ns_status ns_multipart_feed(struct ns_multipart *m, const void *data, size_t len,
				 struct ns_diag *diag)
{
	enum ns_status st;
	if (!m || (!data && len))
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_multipart_feed: NULL argument");
	if (m->err)
		return replay(m, diag);
	if (m->finished)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_multipart_feed after finish");
	st = parse(m, data, len);
	m->n_bytes += len;
	return st == NS_OK ? NS_OK : replay(m, diag);
}

enum ns_status ns_multipart_finish(struct ns_multipart *m, struct ns_diag *diag)
{
	if (!m)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_multipart_finish: NULL parser");
	if (m->err)
		return replay(m, diag);
	m->finished = true;
	switch (m->state) {
	case ST_EPILOGUE:
		return NS_OK;
	case ST_PREAMBLE:
		fail(m, NS_ERR_PARSE, m->n_bytes,
		     "truncated upload: the boundary --%s was not found", m->boundary);
		break;
	case ST_HEADERS:
		fail(m, NS_ERR_PARSE, m->n_bytes,
		     "truncated upload: part %zu ends inside its headers; the closing boundary "
		     "--%s-- was not found",
		     m->n_parts, m->boundary);
		break;
	case ST_BODY:
		fail(m, NS_ERR_PARSE, m->n_bytes,
		     "truncated upload: the closing boundary --%s-- was not found (part %zu "
		     "'%.64s' was cut off)",
		     m->boundary, m->n_parts, m->part.name);
		break;
	default:
		fail(m, NS_ERR_PARSE, m->n_bytes,
		     "truncated upload: the closing boundary --%s-- was not found (the body "
		     "ends inside a boundary line)",
		     m->boundary);
		break;
	}
	return replay(m, diag);
}

uint64_t ns_multipart_bytes(const struct ns_multipart *m)
{
	return m ? m->n_bytes : 0;
}

size_t ns_multipart_parts(const struct ns_multipart *m)
{
	return m ? m->n_parts : 0;
}
