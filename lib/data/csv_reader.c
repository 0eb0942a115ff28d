/*
 * lib/data/csv_reader.c - streaming RFC 4180 CSV reader (push parser).
 *
 * The parser is a byte-level state machine whose whole state lives in the
 * reader, so a record may be split across feeds at any byte and the records
 * and errors are exactly those of one whole-buffer feed.  Only the current
 * record is held: its decoded fields (each NUL-terminated, one after the
 * other in `buf`) and, when it spans feeds, its raw bytes.  A record that
 * lies wholly inside one feed is handed over with `raw` pointing into the
 * caller's bytes, without a copy.
 *
 * Speed: the hot loop scans runs of ordinary bytes through a 256-entry class
 * table and copies each run with one memcpy; the state switch runs once per
 * special byte (delimiter, quote, CR, LF, NUL), not once per byte.
 *
 * Limits: every growing buffer is capped by the params (field bytes, fields,
 * decoded record bytes; raw bytes are truncated at max_row_bytes), so a
 * hostile 100 MB line fails at the cap, never buffers past it.
 *
 * Errors go into the reader's own diagnostic and are replayed by every later
 * call.  Threading: one reader, one thread at a time; no globals.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "netsec/csv.h"

enum state {
	ST_REC_START, /* before the first byte of a record (or of a blank line) */
	ST_AFTER_CR, /* a line ended with CR: one LF right after belongs to it */
	ST_FIELD_START, /* after a delimiter: the next field has not begun */
	ST_UNQUOTED, /* inside an unquoted field */
	ST_QUOTED, /* inside a quoted field */
	ST_QUOTED_CR, /* CR inside a quoted field: a following LF is the same line end */
	ST_QUOTE_END, /* a quote inside a quoted field: "" escape or the closing quote */
};

/* Byte classes: which bytes end a run of ordinary bytes. */
#define CLS_UNQUOTED 1 /* delimiter, quote, CR, LF, NUL */
#define CLS_QUOTED 2 /* quote, CR, LF, NUL */

/* Marks the intended fall-throughs of the state switch. */
#if defined(__has_attribute)
#if __has_attribute(fallthrough)
#define FALLTHROUGH __attribute__((fallthrough))
#endif
#endif
#ifndef FALLTHROUGH
#define FALLTHROUGH ((void)0)
#endif

#define INITIAL_BUF 4096
#define INITIAL_FIELDS 64

struct ns_csv_reader {
	struct ns_csv_params params;
	char source[NS_DIAG_FILE_MAX];
	ns_csv_record_fn fn;
	void *user;
	uint8_t cls[256];

	/* The current record: decoded fields, each followed by a NUL, in buf. */
	char *buf;
	size_t buf_len, buf_cap; /* after an append there is room for a NUL */
	size_t field_start; /* offset in buf of the field being read */
	size_t row_bytes; /* decoded bytes of the record, NULs not counted */
	size_t *lens;
	bool *quoted;
	const char **ptrs;
	size_t n_fields, fields_cap;

	/* Raw bytes of a record that spans feeds, truncated at max_row_bytes. */
	char *raw;
	size_t raw_len, raw_cap;
	bool raw_carry; /* the current record began in an earlier feed */

	enum state state;
	uint64_t line; /* current physical line, 1-based */
	uint64_t rec_line; /* line where the current record began */
	uint64_t rec_offset; /* stream offset of the current record */
	uint64_t quote_line; /* line where the current quoted field opened */
	uint64_t pos; /* stream offset of the next byte handed to parse() */
	uint64_t n_bytes; /* bytes fed, BOM included */
	uint64_t n_records;
	unsigned bom_n; /* bytes of a UTF-8 BOM matched so far */
	bool bom_done;
	bool finished;
	bool last_line_open; /* finish() saw a last line without a line end */

	enum ns_status err; /* first error; replayed by every later call */
	struct ns_diag diag;
};

static const unsigned char utf8_bom[3] = {0xEF, 0xBB, 0xBF};

struct ns_csv_params ns_csv_params_default(void)
{
	struct ns_csv_params p;
	memset(&p, 0, sizeof(p));
	p.delimiter = ',';
	p.quote = '"';
	p.max_field_bytes = (size_t)1 << 20;
	p.max_fields = 65536;
	p.max_row_bytes = (size_t)16 << 20;
	p.skip_blank_lines = true;
	p.source_name = NULL;
	return p;
}

/* ---- errors ------------------------------------------------------------- */

static enum ns_status fail(struct ns_csv_reader *r, enum ns_status st, uint64_t line,
			   uint64_t column, const char *fmt, ...) NS_PRINTF(5, 6);

static enum ns_status fail(struct ns_csv_reader *r, enum ns_status st, uint64_t line,
			   uint64_t column, const char *fmt, ...)
{
	va_list ap;
	ns_diag_clear(&r->diag);
	va_start(ap, fmt);
	ns_diag_vset(&r->diag, st, fmt, ap);
	va_end(ap);
	ns_diag_where(&r->diag, r->params.source_name, line, column, NULL);
	r->err = st;
	return st;
}

/* Copies the stored error into the caller's diagnostic and returns it. */
static enum ns_status replay(const struct ns_csv_reader *r, struct ns_diag *diag)
{
	if (diag)
		*diag = r->diag;
	return r->err;
}

/*
 * Appending n bytes to the current field broke a cap.  Report the cap that
 * the run crosses first, so that the error does not depend on where the
 * input was split into feeds (a run never holds a line end, so line and
 * column are the same for both).
 */
static enum ns_status cap_error(struct ns_csv_reader *r, size_t field_len, size_t n)
{
	const struct ns_csv_params *p = &r->params;
	bool field_over = n > p->max_field_bytes - field_len;
	bool row_over = n > p->max_row_bytes - r->row_bytes;
	if (field_over &&
	    (!row_over || p->max_field_bytes - field_len <= p->max_row_bytes - r->row_bytes))
		return fail(r, NS_ERR_LIMIT, r->line, r->n_fields,
			    "field is longer than max_field_bytes (%zu bytes)", p->max_field_bytes);
	return fail(r, NS_ERR_LIMIT, r->line, r->n_fields,
		    "record is longer than max_row_bytes (%zu bytes)", p->max_row_bytes);
}

/* ---- the current record ------------------------------------------------- */

/*
 * Grows *p (capacity *cap) to hold at least `need` bytes, doubling but never
 * past `limit` (what the caps allow), so memory stays within the caps.
 */
static bool grow_to(char **p, size_t *cap, size_t need, size_t limit)
{
	size_t c = *cap ? *cap : 64;
	char *d;
	while (c < need)
		c = c > SIZE_MAX / 2 ? SIZE_MAX : c * 2;
	if (c > limit)
		c = limit > need ? limit : need;
	d = ns_realloc(*p, c);
	if (!d)
		return false;
	*p = d;
	*cap = c;
	return true;
}

static size_t add_sat(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static enum ns_status grow_buf(struct ns_csv_reader *r, size_t n)
{
	/* Decoded bytes plus one NUL per field, plus one. */
	size_t limit = add_sat(add_sat(r->params.max_row_bytes, r->params.max_fields), 1);
	if (n >= SIZE_MAX - 1 - r->buf_len)
		return fail(r, NS_ERR_NOMEM, r->line, r->n_fields, "record too large");
	if (!grow_to(&r->buf, &r->buf_cap, r->buf_len + n + 1, limit))
		return fail(r, NS_ERR_NOMEM, r->line, r->n_fields, "out of memory reading CSV");
	return NS_OK;
}

static inline enum ns_status field_append(struct ns_csv_reader *r, const unsigned char *s, size_t n)
{
	size_t field_len = r->buf_len - r->field_start;
	if (n > r->params.max_field_bytes - field_len || n > r->params.max_row_bytes - r->row_bytes)
		return cap_error(r, field_len, n);
	if (n >= r->buf_cap - r->buf_len && grow_buf(r, n) != NS_OK)
		return r->err;
	if (n <= 8) {
		char *d = r->buf + r->buf_len;
		for (size_t i = 0; i < n; i++)
			d[i] = (char)s[i];
	} else {
		memcpy(r->buf + r->buf_len, s, n);
	}
	r->buf_len += n;
	r->row_bytes += n;
	return NS_OK;
}

static enum ns_status grow_fields(struct ns_csv_reader *r)
{
	size_t cap = r->fields_cap * 2;
	size_t *lens;
	bool *quoted;
	const char **ptrs;
	if (cap > r->params.max_fields)
		cap = r->params.max_fields;
	/* Each array is swapped in as soon as it is grown, so a failure part
	 * way leaves arrays at least fields_cap long and nothing leaks. */
	lens = ns_reallocarray(r->lens, cap, sizeof(*lens));
	if (!lens)
		goto nomem;
	r->lens = lens;
	quoted = ns_reallocarray(r->quoted, cap, sizeof(*quoted));
	if (!quoted)
		goto nomem;
	r->quoted = quoted;
	ptrs = ns_reallocarray(r->ptrs, cap, sizeof(*ptrs));
	if (!ptrs)
		goto nomem;
	r->ptrs = ptrs;
	r->fields_cap = cap;
	return NS_OK;
nomem:
	return fail(r, NS_ERR_NOMEM, r->line, r->n_fields + 1, "out of memory reading CSV");
}

static inline enum ns_status field_begin(struct ns_csv_reader *r, bool quoted)
{
	if (r->n_fields == r->fields_cap) {
		if (r->n_fields >= r->params.max_fields)
			return fail(r, NS_ERR_LIMIT, r->line, r->n_fields + 1,
				    "record has more than max_fields (%zu) fields",
				    r->params.max_fields);
		if (grow_fields(r) != NS_OK)
			return r->err;
	}
	r->quoted[r->n_fields++] = quoted;
	r->field_start = r->buf_len;
	return NS_OK;
}

static inline enum ns_status field_end(struct ns_csv_reader *r)
{
	if (r->buf_len == r->buf_cap && grow_buf(r, 0) != NS_OK)
		return r->err;
	r->lens[r->n_fields - 1] = r->buf_len - r->field_start;
	r->buf[r->buf_len++] = '\0';
	return NS_OK;
}

static void record_begin(struct ns_csv_reader *r, uint64_t offset)
{
	r->rec_line = r->line;
	r->rec_offset = offset;
	r->n_fields = 0;
	r->buf_len = 0;
	r->row_bytes = 0;
}

/* Keeps raw bytes of a record that continues in the next feed. */
static enum ns_status raw_keep(struct ns_csv_reader *r, const unsigned char *s, size_t n)
{
	size_t room = r->params.max_row_bytes - r->raw_len;
	if (n > room)
		n = room;
	if (n == 0)
		return NS_OK;
	if (n > r->raw_cap - r->raw_len &&
	    !grow_to(&r->raw, &r->raw_cap, r->raw_len + n, r->params.max_row_bytes))
		return fail(r, NS_ERR_NOMEM, r->line, r->n_fields, "out of memory reading CSV");
	memcpy(r->raw + r->raw_len, s, n);
	r->raw_len += n;
	return NS_OK;
}

static enum ns_status deliver(struct ns_csv_reader *r, const char *raw, size_t raw_len)
{
	struct ns_csv_record rec;
	struct ns_diag *d = &r->diag;
	const char *f = r->buf;
	enum ns_status st;

	for (size_t i = 0; i < r->n_fields; i++) {
		r->ptrs[i] = f;
		f += r->lens[i] + 1;
	}
	rec.n_fields = r->n_fields;
	rec.fields = r->ptrs;
	rec.lens = r->lens;
	rec.quoted = r->quoted;
	rec.line = r->rec_line;
	rec.index = r->n_records;
	rec.offset = r->rec_offset;
	rec.raw = raw ? raw : "";
	rec.raw_len = raw_len;
	/* Cheap reset: the callback sees a clear diagnostic. */
	d->status = NS_OK;
	d->line = d->column = 0;
	d->file[0] = d->field[0] = d->message[0] = '\0';
	st = r->fn(r->user, &rec, d);
	r->n_records++;
	if (st != NS_OK) {
		d->status = st;
		if (!d->message[0])
			ns_diag_set(d, st, "record rejected: %s", ns_status_str(st));
		ns_diag_where(d, d->file[0] ? NULL : r->params.source_name,
			      d->line ? 0 : r->rec_line, 0, NULL);
		r->err = st;
	}
	return st;
}

/*
 * Ends the current record whose bytes in this feed are [from, to) and hands
 * it to the callback.
 */
static enum ns_status record_end(struct ns_csv_reader *r, const unsigned char *from,
				 const unsigned char *to)
{
	const char *raw;
	size_t raw_len;
	enum ns_status st;
	if (r->raw_carry) {
		if (from && raw_keep(r, from, (size_t)(to - from)) != NS_OK)
			return r->err;
		raw = r->raw;
		raw_len = r->raw_len;
	} else {
		raw = (const char *)from;
		raw_len = from ? (size_t)(to - from) : 0;
		if (raw_len > r->params.max_row_bytes)
			raw_len = r->params.max_row_bytes;
	}
	st = deliver(r, raw, raw_len);
	r->raw_carry = false;
	r->raw_len = 0;
	r->n_fields = 0;
	r->buf_len = 0;
	r->row_bytes = 0;
	return st;
}

/* A blank line (no bytes between line ends) as a record of one empty field. */
static enum ns_status blank_record(struct ns_csv_reader *r, uint64_t offset)
{
	enum ns_status st;
	record_begin(r, offset);
	if ((st = field_begin(r, false)) != NS_OK || (st = field_end(r)) != NS_OK)
		return st;
	return record_end(r, NULL, NULL);
}

/* ---- the state machine ------------------------------------------------- */

static enum ns_status parse(struct ns_csv_reader *r, const unsigned char *data, size_t len)
{
	const unsigned char *p = data, *end = data + len;
	const unsigned char *rec_from = data; /* this feed's first byte of the current record */
	const uint8_t *cls = r->cls;
	const unsigned char delim = (unsigned char)r->params.delimiter;
	const unsigned char quote = (unsigned char)r->params.quote;
	enum ns_status st = NS_OK;
	unsigned char c;

	while (p < end) {
		switch (r->state) {
		case ST_AFTER_CR:
			r->state = ST_REC_START;
			if (*p == '\n') {
				p++;
				continue;
			}
			FALLTHROUGH;
		case ST_REC_START:
			c = *p;
			if (c == '\r' || c == '\n') {
				uint64_t offset = r->pos + (uint64_t)(p - data);
				r->state = c == '\r' ? ST_AFTER_CR : ST_REC_START;
				p++;
				if (!r->params.skip_blank_lines &&
				    (st = blank_record(r, offset)) != NS_OK)
					goto out;
				r->line++;
				continue;
			}
			record_begin(r, r->pos + (uint64_t)(p - data));
			rec_from = p;
			FALLTHROUGH;
		case ST_FIELD_START:
			if (*p == quote) {
				if ((st = field_begin(r, true)) != NS_OK)
					goto out;
				r->quote_line = r->line;
				r->state = ST_QUOTED;
				p++;
				continue;
			}
			if ((st = field_begin(r, false)) != NS_OK)
				goto out;
			r->state = ST_UNQUOTED;
			FALLTHROUGH;
		case ST_UNQUOTED: {
			const unsigned char *q;
		unquoted_run:
			q = p;
			while (q < end && !(cls[*q] & CLS_UNQUOTED))
				q++;
			if (q > p && (st = field_append(r, p, (size_t)(q - p))) != NS_OK)
				goto out;
			p = q;
			if (p == end)
				goto out;
			c = *p;
			if (c == delim) {
				if ((st = field_end(r)) != NS_OK)
					goto out;
				p++;
				/* Fast path: another unquoted field follows at once. */
				if (p < end && *p != quote) {
					if ((st = field_begin(r, false)) != NS_OK)
						goto out;
					goto unquoted_run;
				}
				r->state = ST_FIELD_START;
				continue;
			}
			if (c == '\r' || c == '\n') {
				if ((st = field_end(r)) != NS_OK)
					goto out;
				r->state = c == '\r' ? ST_AFTER_CR : ST_REC_START;
				st = record_end(r, rec_from, p);
				r->line++;
				p++;
				if (st != NS_OK)
					goto out;
				continue;
			}
			if (c == quote) {
				st = fail(r, NS_ERR_PARSE, r->line, r->n_fields,
					  "unexpected quote in unquoted field");
				goto out;
			}
			st = fail(r, NS_ERR_PARSE, r->line, r->n_fields, "binary data (NUL byte)");
			goto out;
		}
		case ST_QUOTED: {
			const unsigned char *q = p;
			while (q < end && !(cls[*q] & CLS_QUOTED))
				q++;
			if (q > p && (st = field_append(r, p, (size_t)(q - p))) != NS_OK)
				goto out;
			p = q;
			if (p == end)
				goto out;
			c = *p;
			if (c == quote) {
				r->state = ST_QUOTE_END;
				p++;
				continue;
			}
			if (c == '\r' || c == '\n') {
				if ((st = field_append(r, p, 1)) != NS_OK)
					goto out;
				r->line++;
				if (c == '\r')
					r->state = ST_QUOTED_CR;
				p++;
				continue;
			}
			st = fail(r, NS_ERR_PARSE, r->line, r->n_fields, "binary data (NUL byte)");
			goto out;
		}
		case ST_QUOTED_CR:
			r->state = ST_QUOTED;
			if (*p == '\n') {
				if ((st = field_append(r, p, 1)) != NS_OK)
					goto out;
				p++;
			}
			continue;
		case ST_QUOTE_END:
			c = *p;
			if (c == quote) {
				if ((st = field_append(r, p, 1)) != NS_OK)
					goto out;
				r->state = ST_QUOTED;
				p++;
				continue;
			}
			if (c == delim) {
				if ((st = field_end(r)) != NS_OK)
					goto out;
				r->state = ST_FIELD_START;
				p++;
				continue;
			}
			if (c == '\r' || c == '\n') {
				if ((st = field_end(r)) != NS_OK)
					goto out;
				r->state = c == '\r' ? ST_AFTER_CR : ST_REC_START;
				st = record_end(r, rec_from, p);
				r->line++;
				p++;
				if (st != NS_OK)
					goto out;
				continue;
			}
			if (c == '\0')
				st = fail(r, NS_ERR_PARSE, r->line, r->n_fields,
					  "binary data (NUL byte)");
			else
				st = fail(r, NS_ERR_PARSE, r->line, r->n_fields,
					  "unexpected text after closing quote");
			goto out;
		}
	}
out:
	if (st == NS_OK && r->state != ST_REC_START && r->state != ST_AFTER_CR) {
		/* The record goes on in the next feed: keep its raw bytes. */
		st = raw_keep(r, rec_from, (size_t)(end - rec_from));
		r->raw_carry = true;
	}
	r->pos += len;
	return st;
}

/* ---- public API ---------------------------------------------------------- */

enum ns_status ns_csv_reader_create(const struct ns_csv_params *params, ns_csv_record_fn fn,
				    void *user, struct ns_csv_reader **out, struct ns_diag *diag)
{
	struct ns_csv_params p = params ? *params : ns_csv_params_default();
	struct ns_csv_reader *r = NULL;
	unsigned char d = (unsigned char)p.delimiter, q = (unsigned char)p.quote;

	if (!fn || !out)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "CSV reader needs a callback and an output");
	if (d == '\r' || d == '\n' || d == '\0' || q == '\r' || q == '\n' || q == '\0' || d == q)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "CSV delimiter and quote must differ and not be CR, LF or NUL");
	if (p.max_field_bytes == 0 || p.max_fields == 0 || p.max_row_bytes == 0)
		return ns_diag_set(
			diag, NS_ERR_INVALID,
			"CSV caps (max_field_bytes, max_fields, max_row_bytes) must be > 0");

	r = ns_calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	r->params = p;
	if (p.source_name) {
		size_t n = strlen(p.source_name);
		if (n >= sizeof(r->source))
			n = sizeof(r->source) - 1;
		memcpy(r->source, p.source_name, n);
		r->source[n] = '\0';
		r->params.source_name = r->source;
	}
	r->fn = fn;
	r->user = user;
	r->cls[d] |= CLS_UNQUOTED;
	r->cls[q] |= CLS_UNQUOTED | CLS_QUOTED;
	r->cls['\r'] |= CLS_UNQUOTED | CLS_QUOTED;
	r->cls['\n'] |= CLS_UNQUOTED | CLS_QUOTED;
	r->cls['\0'] |= CLS_UNQUOTED | CLS_QUOTED;
	r->buf_cap = add_sat(add_sat(p.max_row_bytes, p.max_fields), 1);
	if (r->buf_cap > INITIAL_BUF)
		r->buf_cap = INITIAL_BUF;
	r->buf = ns_malloc(r->buf_cap);
	r->fields_cap = p.max_fields < INITIAL_FIELDS ? p.max_fields : INITIAL_FIELDS;
	r->lens = ns_calloc(r->fields_cap, sizeof(*r->lens));
	r->quoted = ns_calloc(r->fields_cap, sizeof(*r->quoted));
	r->ptrs = ns_calloc(r->fields_cap, sizeof(*r->ptrs));
	if (!r->buf || !r->lens || !r->quoted || !r->ptrs)
		goto nomem;
	r->state = ST_REC_START;
	r->line = 1;
	*out = r;
	return NS_OK;
nomem:
	ns_csv_reader_free(r);
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory creating a CSV reader");
}

void ns_csv_reader_free(struct ns_csv_reader *r)
{
	if (!r)
		return;
	ns_free(r->buf);
	ns_free(r->lens);
	ns_free(r->quoted);
	ns_free(r->ptrs);
	ns_free(r->raw);
	ns_free(r);
}

enum ns_status ns_csv_reader_feed(struct ns_csv_reader *r, const void *data, size_t len,
				  struct ns_diag *diag)
{
	const unsigned char *p = data;
	if (!r || (!data && len))
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_csv_reader_feed: NULL argument");
	if (r->err)
		return replay(r, diag);
	if (r->finished)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_csv_reader_feed after finish");
	r->n_bytes += len;
	/* A UTF-8 byte-order mark at the very start is skipped; if the first
	 * bytes only look like one, they are parsed as data after all. */
	while (!r->bom_done && len > 0) {
		if (*p == utf8_bom[r->bom_n]) {
			p++;
			len--;
			if (++r->bom_n == 3) {
				r->bom_done = true;
				r->pos = 3;
			}
			continue;
		}
		r->bom_done = true;
		if (r->bom_n && parse(r, utf8_bom, r->bom_n) != NS_OK)
			return replay(r, diag);
	}
	if (len && parse(r, p, len) != NS_OK)
		return replay(r, diag);
	return NS_OK;
}

enum ns_status ns_csv_reader_finish(struct ns_csv_reader *r, struct ns_diag *diag)
{
	if (!r)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_csv_reader_finish: NULL reader");
	if (r->err)
		return replay(r, diag);
	if (r->finished)
		return NS_OK;
	r->finished = true;
	if (!r->bom_done) {
		r->bom_done = true;
		if (r->bom_n && parse(r, utf8_bom, r->bom_n) != NS_OK)
			return replay(r, diag);
	}
	switch (r->state) {
	case ST_REC_START:
	case ST_AFTER_CR:
		return NS_OK;
	case ST_QUOTED:
	case ST_QUOTED_CR:
		fail(r, NS_ERR_PARSE, r->quote_line, r->n_fields,
		     "unterminated quoted field (opened on line %llu)",
		     (unsigned long long)r->quote_line);
		return replay(r, diag);
	case ST_FIELD_START:
		/* "a,b," at the end: the last field is empty. */
		if (field_begin(r, false) != NS_OK)
			return replay(r, diag);
		FALLTHROUGH;
	case ST_UNQUOTED:
	case ST_QUOTE_END:
		r->last_line_open = true;
		if (field_end(r) != NS_OK || record_end(r, NULL, NULL) != NS_OK)
			return replay(r, diag);
		return NS_OK;
	}
	return NS_OK;
}

uint64_t ns_csv_reader_records(const struct ns_csv_reader *r)
{
	return r ? r->n_records : 0;
}

uint64_t ns_csv_reader_lines(const struct ns_csv_reader *r)
{
	return r ? r->line - 1 + (r->last_line_open ? 1 : 0) : 0;
}

uint64_t ns_csv_reader_bytes(const struct ns_csv_reader *r)
{
	return r ? r->n_bytes : 0;
}

/* ---- whole files ------------------------------------------------------------ */

#define READ_CHUNK ((size_t)1 << 20)

enum ns_status ns_csv_read_file(const char *path, const struct ns_csv_params *params,
				ns_csv_record_fn fn, void *user, struct ns_diag *diag)
{
	struct ns_csv_params p = params ? *params : ns_csv_params_default();
	struct ns_csv_reader *r = NULL;
	bool is_stdin;
	FILE *fp = NULL;
	char *chunk = NULL;
	struct stat sb;
	enum ns_status st;

	if (!path || !fn)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_csv_read_file: NULL argument");
	is_stdin = strcmp(path, "-") == 0;
	if (!p.source_name)
		p.source_name = is_stdin ? "stdin" : path;
	fp = is_stdin ? stdin : fopen(path, "rb");
	if (!fp) {
		int e = errno;
		ns_diag_clear(diag);
		ns_diag_where(diag, path, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_IO, "cannot open '%s': %s", path, strerror(e));
	}
	if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		ns_diag_clear(diag);
		ns_diag_where(diag, path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_IO, "cannot read '%s': %s", path, strerror(EISDIR));
		goto out;
	}
	chunk = ns_malloc(READ_CHUNK);
	if (!chunk) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	if ((st = ns_csv_reader_create(&p, fn, user, &r, diag)) != NS_OK)
		goto out;
	for (;;) {
		size_t n = fread(chunk, 1, READ_CHUNK, fp);
		if (n && (st = ns_csv_reader_feed(r, chunk, n, diag)) != NS_OK)
			goto out;
		if (n < READ_CHUNK) {
			if (ferror(fp)) {
				int e = errno;
				ns_diag_clear(diag);
				ns_diag_where(diag, p.source_name, 0, 0, NULL);
				st = ns_diag_set(diag, NS_ERR_IO, "cannot read '%s': %s", path,
						 strerror(e));
				goto out;
			}
			if (feof(fp))
				break;
		}
	}
	st = ns_csv_reader_finish(r, diag);
out:
	ns_csv_reader_free(r);
	ns_free(chunk);
	if (fp && !is_stdin)
		fclose(fp);
	return st;
}
