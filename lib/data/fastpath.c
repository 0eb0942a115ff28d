/*
 * lib/data/fastpath.c - the fused CSV-to-frame fast path (see fastpath.h).
 *
 * The file is read in chunks into a window.  Up to the window's last line
 * end, each record is tried in one pass over its bytes: fields are split at
 * the delimiter in place (no copy), short integers are parsed as they are
 * scanned and judged by the validator's precomputed int_check, other cells
 * go to ns__validator_cell(), and the values are written straight into the
 * frame's column arrays at the next free row.  A record is kept only when
 * every cell is acceptable; kept rows are counted into the frame and the
 * validator in batches.
 *
 * Anything else - a quote, a NUL byte, a wrong field count, an invalid cell,
 * a missing label, a record longer than the caps, a record not ended within
 * a chunk, the end of the file - is "declined": the record is handed, whole
 * and unchanged, to one generic CSV reader whose callback is the generic
 * per-record code, so its values, problems and errors are exactly the
 * generic path's.  A small state machine that mirrors the reader's finds
 * where such a record ends.  The reader only sees the records it is given,
 * so before each one its line counter is brought level by feeding it CR
 * bytes (blank lines, which it skips and counts); everything the validator
 * and the errors report is then the same.  The first record (the header, or
 * the first data record of a header-less file) always takes the generic
 * route: it fixes the column mapping the fast path then follows.
 *
 * Limits: the window holds at most two chunks; a record that does not end
 * within one chunk goes to the reader piecewise, so memory stays bounded as
 * with ns_csv_read_file.  Threading: one read, one thread; no globals.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "data/fastpath.h"

#define READ_CHUNK ((size_t)1 << 20)
#define FIRST_ROWS 1024 /* rows reserved at the first fast record */
#define BACKOFF_PERIOD 256 /* tries between looks at the decline rate */
#define BACKOFF_MIN ((uint64_t)256 << 10)
#define BACKOFF_MAX ((uint64_t)64 << 20)

/* Marks the intended fall-throughs of the finder's switch. */
#if defined(__has_attribute)
#if __has_attribute(fallthrough)
#define FALLTHROUGH __attribute__((fallthrough))
#endif
#endif
#ifndef FALLTHROUGH
#define FALLTHROUGH ((void)0)
#endif

/* The record-end finder: the CSV reader's states, without the field bytes. */
enum finder {
	F_REC, /* before a record (blank lines are skipped) */
	F_FIELD, /* at the start of a field */
	F_UNQ, /* in an unquoted field */
	F_Q, /* in a quoted field */
	F_QEND, /* after a quote in a quoted field */
	F_CR, /* the record ended with CR: one LF right after belongs to it */
};

/* A category cell of the record being tried: stored once the record is kept. */
struct cat_cell {
	size_t col;
	const char *s;
	size_t len;
};

struct fast {
	struct ns_csv_reader *r;
	struct ns_validator *v;
	struct ns_frame *f;
	struct ns_diag *diag;
	unsigned char delim, quote;
	size_t max_record; /* longest record (line end excluded) taken without the reader */
	uint8_t stop[256]; /* ends an unquoted run: delimiter, quote, CR, LF, NUL */
	uint8_t term[256]; /* may follow a number: delimiter, CR, LF */
	uint8_t int_first[256]; /* may start a short integer (none: no integer shortcut) */

	/* Fields of a record, once the first record has fixed them. */
	bool planned, enabled;
	bool off; /* the finder met a syntax error: the rest is the reader's */
	size_t n_fields;
	struct ns__fast_field *fields;
	double **num; /* per field: its numeric column's data, or NULL */
	struct cat_cell *cats;
	size_t *miss; /* schema columns of the missing cells of the record being tried */
	uint64_t *n_missing; /* per schema column, for kept rows not yet counted */

	/* Rows: kept rows are written at n_rows + pending, counted in batches. */
	size_t n_rows, pending, cap_rows;
	/* For sizing the frame once: the file's size (0: unknown), the stream
	 * offset of the window's first byte, the bytes of the fast records. */
	uint64_t file_size, base, fast_bytes;
	bool stale; /* the reader has run: column pointers and n_rows may have changed */

	/* Backing off when records keep being declined: below gen_until (a
	 * stream offset) the reader takes every record. */
	uint32_t recent_tries, recent_declines;
	uint64_t gen_until, backoff, backoff_min;

	uint64_t line; /* physical line of the next byte the fast path looks at */
	bool gen; /* a record is being handed to the reader */
	enum finder fs;
	bool bom_seen; /* the start of the stream has been checked for a BOM */
	struct ns__fast_stats stats;
	char crs[256]; /* CR bytes, to move the reader's line counter */
};

static enum ns_status feed(struct fast *fa, const unsigned char *s, size_t n)
{
	if (n == 0)
		return NS_OK;
	fa->stale = true;
	return ns_csv_reader_feed(fa->r, s, n, fa->diag);
}

/* Counts the kept rows into the frame and the validator. */
static void flush(struct fast *fa)
{
	if (fa->pending == 0)
		return;
	/* Within the reserved capacity: cannot fail. */
	(void)ns_frame_add_rows(fa->f, fa->pending, NULL);
	ns__validator_add_valid(fa->v, fa->pending, fa->n_missing);
	fa->n_rows += fa->pending;
	fa->pending = 0;
}

/* Brings the reader's line counter to fa->line: each CR is a skipped blank line. */
static enum ns_status sync_lines(struct fast *fa)
{
	uint64_t at = ns_csv_reader_lines(fa->r) + 1;
	while (at < fa->line) {
		uint64_t n = fa->line - at;
		enum ns_status st;
		if (n > sizeof(fa->crs))
			n = sizeof(fa->crs);
		if ((st = feed(fa, (const unsigned char *)fa->crs, (size_t)n)) != NS_OK)
			return st;
		at += n;
	}
	return NS_OK;
}

/* Re-reads the column pointers (after the frame grew or the reader ran). */
static void refresh(struct fast *fa)
{
	for (size_t j = 0; j < fa->n_fields; j++)
		fa->num[j] = fa->fields[j].kind == NS__FIELD_NUM
				     ? ns_frame_numbers_mut(fa->f, fa->fields[j].col)
				     : NULL;
	fa->n_rows = ns_frame_n_rows(fa->f);
	fa->stale = false;
}

/*
 * Makes room for one more row at n_rows + pending; false when out of memory.
 * `at` is the stream offset of the record.  Growth is by half, except that
 * once some records have shown their average length, a file of known size
 * gets the rows it should hold (plus 5%) at once: growing a frame of
 * hundreds of megabytes step by step costs more than the whole parse.  The
 * estimate cannot run away: a record of n fields takes at least n bytes, so
 * it asks for no more than a column per field of file_size / n_fields rows.
 */
static bool make_room(struct fast *fa, uint64_t at)
{
	size_t want;
	if (fa->stale)
		refresh(fa);
	if (fa->n_rows + fa->pending < fa->cap_rows)
		return true;
	flush(fa);
	want = fa->n_rows < FIRST_ROWS ? FIRST_ROWS : fa->n_rows + fa->n_rows / 2;
	if (fa->file_size > at && fa->stats.n_fast >= FIRST_ROWS / 2) {
		double per_row = (double)fa->fast_bytes / (double)fa->stats.n_fast;
		double rows = (double)(fa->file_size - at) / per_row * 1.05;
		if (rows < (double)(SIZE_MAX / 16) && fa->n_rows + (size_t)rows + 16 > want)
			want = fa->n_rows + (size_t)rows + 16;
	}
	if (ns_frame_reserve(fa->f, want) != NS_OK)
		return false;
	fa->cap_rows = want;
	refresh(fa);
	return true;
}

/* Puts row `row` back to all missing, as rows past n_rows must be. */
static void clear_row(struct fast *fa, size_t row)
{
	for (size_t j = 0; j < fa->n_fields; j++) {
		if (fa->num[j])
			fa->num[j][row] = NAN;
		else if (fa->fields[j].kind == NS__FIELD_CAT)
			ns_frame_set_code(fa->f, row, fa->fields[j].col, NS_FRAME_NA_CODE);
	}
}

/*
 * Tries the record at p, which holds a line end before the window ends.
 * Returns the position after its line end with the row written, or NULL
 * (declined; the row is left missing).
 */
static const unsigned char *fast_record(struct fast *fa, const unsigned char *p, size_t row)
{
	const unsigned char *start = p, *line_end;
	const struct ns__fast_field *ff = fa->fields;
	const size_t last = fa->n_fields - 1;
	size_t n_cat = 0, n_miss = 0;

	for (size_t j = 0;; j++, ff++) {
		const unsigned char *s = p;
		unsigned c = *p;
		if (ff->kind == NS__FIELD_NUM && fa->int_first[c]) {
			/* Signs are random in real data: no branch on them. */
			const uint64_t neg = c == '-';
			const unsigned char *q = p + (neg | (c == '+'));
			const unsigned char *digits = q;
			uint64_t m = 0;
			unsigned d;
			while ((d = (unsigned)*q - '0') < 10) {
				m = m * 10 + d;
				q++;
			}
			/* 1..15 digits, then the field ends: exactly what ns_parse_double gives. */
			if ((size_t)(q - digits) - 1 < 15 && fa->term[*q]) {
				double x = ns__signed_double(m, neg);
				if (!ns__int_check_pass(&ff->chk, ns__signed_int(m, neg), x) &&
				    (ff->chk.mode != NS__INT_FULL ||
				     ns__validator_number(fa->v, ff->col, x) != NS__CELL_OK))
					goto decline;
				fa->num[j][row] = x;
				p = q;
				goto next;
			}
		}
		while (!fa->stop[*p])
			p++;
		if (*p == fa->quote || *p == '\0')
			goto decline; /* quoted field or a syntax error: the reader's call */
		if (ff->kind != NS__FIELD_SKIP) {
			double x;
			enum ns__verdict vd = ns__validator_cell(fa->v, ff->col, (const char *)s,
								 (size_t)(p - s), &x);
			if (vd == NS__CELL_OK) {
				if (ff->kind == NS__FIELD_NUM) {
					fa->num[j][row] = x;
				} else {
					fa->cats[n_cat].col = ff->col;
					fa->cats[n_cat].s = (const char *)s;
					fa->cats[n_cat].len = (size_t)(p - s);
					n_cat++;
				}
			} else if (vd == NS__CELL_MISSING && ff->missing_ok) {
				fa->miss[n_miss++] = ff->col;
			} else {
				goto decline;
			}
		}
	next:
		if (j == last)
			break;
		if (*p != fa->delim)
			goto decline; /* too few fields */
		p++;
	}
	line_end = p;
	if (*p == '\n')
		p++;
	else if (*p == '\r')
		p += p[1] == '\n' ? 2 : 1;
	else
		goto decline; /* too many fields */
	if ((size_t)(line_end - start) > fa->max_record)
		goto decline; /* a cap may be crossed: the reader says which */
	for (size_t k = 0; k < n_cat; k++)
		if (ns_frame_set_category(fa->f, row, fa->cats[k].col, fa->cats[k].s,
					  fa->cats[k].len) != NS_OK)
			goto decline;
	for (size_t k = 0; k < n_miss; k++)
		fa->n_missing[fa->miss[k]]++;
	return p;
decline:
	clear_row(fa, row);
	return NULL;
}

/*
 * Keeps files where most records need the reader from paying for the fast
 * path's tries: when a quarter of the recent tries were declined, the reader
 * takes the next `backoff` bytes whole, and the stretch doubles each time it
 * happens again (up to BACKOFF_MAX) until a clean stretch resets it.
 */
static void note_decline(struct fast *fa, uint64_t at)
{
	fa->recent_tries++;
	if (++fa->recent_declines < BACKOFF_PERIOD / 16 ||
	    fa->recent_declines * 4 <= fa->recent_tries)
		return;
	fa->gen_until = at + fa->backoff;
	fa->stats.n_stretches++;
	if (fa->backoff < BACKOFF_MAX)
		fa->backoff *= 2;
	fa->recent_tries = fa->recent_declines = 0;
}

/*
 * Takes records from [*pos, e), where e - 1 is a line end (CR or LF; a CR
 * at e - 1 has its next byte in the window).  Stops at the first declined
 * record; true when it got to e.
 */
static bool run_fast(struct fast *fa, const unsigned char *buf, size_t *pos, size_t e)
{
	const unsigned char *p = buf + *pos, *end = buf + e;
	bool done = true;
	while (p < end) {
		const unsigned char *q;
		if (*p == '\n' || *p == '\r') { /* a blank line */
			p += *p == '\r' && p[1] == '\n' ? 2 : 1;
			fa->line++;
			continue;
		}
		if (!make_room(fa, fa->base + (uint64_t)(p - buf))) {
			done = false;
			break;
		}
		q = fast_record(fa, p, fa->n_rows + fa->pending);
		if (!q) {
			fa->stats.n_declined++;
			note_decline(fa, fa->base + (uint64_t)(p - buf));
			done = false;
			break;
		}
		fa->stats.n_fast++;
		if (++fa->recent_tries == BACKOFF_PERIOD) {
			/* A mostly clean stretch: start over. */
			fa->recent_tries = fa->recent_declines = 0;
			fa->backoff = fa->backoff_min;
		}
		fa->fast_bytes += (uint64_t)(q - p);
		p = q;
		fa->pending++;
		fa->line++;
	}
	*pos = (size_t)(p - buf);
	return done;
}

/*
 * Finds the end of the record being handed to the reader in [p, len):
 * returns the position after its line end and clears fa->gen, or returns
 * len when it goes on.  A syntax error ends the record after the bad byte
 * (the reader fails there) and turns the fast path off, so that whatever
 * follows is the reader's too.
 */
static size_t find_end(struct fast *fa, const unsigned char *buf, size_t p, size_t len)
{
	enum finder fs = fa->fs;
	const uint8_t *stop = fa->stop;
	const unsigned char delim = fa->delim, quote = fa->quote;
	while (p < len) {
		unsigned c = buf[p];
		switch (fs) {
		case F_REC:
			if (c == '\r' || c == '\n') {
				p++;
				continue;
			}
			fs = F_FIELD;
			FALLTHROUGH;
		case F_FIELD:
			if (c == quote) {
				fs = F_Q;
				p++;
				continue;
			}
			fs = F_UNQ;
			FALLTHROUGH;
		case F_UNQ:
			while (!stop[c] && ++p < len)
				c = buf[p];
			if (p == len)
				continue;
			p++;
			if (c == delim)
				fs = F_FIELD;
			else if (c == '\r')
				fs = F_CR;
			else if (c == '\n')
				goto ended;
			else
				goto failed; /* a quote or a NUL */
			continue;
		case F_Q:
			while (c != quote && c != '\0' && ++p < len)
				c = buf[p];
			if (p == len)
				continue;
			p++;
			if (c != quote)
				goto failed;
			fs = F_QEND;
			continue;
		case F_QEND:
			p++;
			if (c == quote)
				fs = F_Q;
			else if (c == delim)
				fs = F_FIELD;
			else if (c == '\r')
				fs = F_CR;
			else if (c == '\n')
				goto ended;
			else
				goto failed;
			continue;
		case F_CR:
			if (c == '\n')
				p++;
			goto ended;
		}
		continue;
	ended:
		fa->gen = false;
		fa->fs = F_REC;
		return p;
	}
	fa->fs = fs;
	return len;
failed:
	fa->enabled = false;
	fa->off = true;
	fa->gen = false;
	return p;
}

/*
 * For a stretch handed to the reader from a record start p: the position
 * after the window's last LF when that LF ends a record, else p.  Without
 * following the fields: where the reader has met no error, it is inside a
 * quoted field exactly when an odd number of quote bytes lie between the
 * record start and here (a field opens and closes with one, and "" inside
 * one is two); after an error nothing it is fed matters any more.
 */
static size_t bulk_end(const struct fast *fa, const unsigned char *buf, size_t p, size_t len)
{
	const unsigned char *lf = memrchr(buf + p, '\n', len - p), *q = buf + p;
	size_t n_quotes = 0;
	if (!lf)
		return p;
	while ((q = memchr(q, fa->quote, (size_t)(lf - q))) != NULL) {
		n_quotes++;
		q++;
	}
	return n_quotes % 2 ? p : (size_t)(lf + 1 - buf);
}

/* Sets up the fast path once the first record has gone through the validator. */
static enum ns_status plan(struct fast *fa, const struct ns_csv_params *cp)
{
	size_t n = ns__validator_fast_fields(fa->v, NULL), n_cols = ns_frame_n_cols(fa->f);
	const uint8_t *int_first = ns__validator_int_first(fa->v);
	fa->planned = true;
	fa->enabled = false;
	if (n == 0 || !cp->skip_blank_lines || fa->off)
		return NS_OK;
	fa->fields = ns_calloc(n, sizeof(*fa->fields));
	fa->num = ns_calloc(n, sizeof(*fa->num));
	fa->cats = ns_calloc(n, sizeof(*fa->cats));
	fa->miss = ns_calloc(n, sizeof(*fa->miss));
	fa->n_missing = ns_calloc(n_cols ? n_cols : 1, sizeof(*fa->n_missing));
	if (!fa->fields || !fa->num || !fa->cats || !fa->miss || !fa->n_missing)
		return ns_diag_set(fa->diag, NS_ERR_NOMEM, "out of memory reading CSV");
	fa->n_fields = ns__validator_fast_fields(fa->v, fa->fields);
	/* The integer shortcut reads signs and digits as a number's: not when
	 * the delimiter or the quote is one of them. */
	if (!strchr("0123456789+-", fa->delim) && !strchr("0123456789+-", fa->quote))
		memcpy(fa->int_first, int_first, sizeof(fa->int_first));
	fa->enabled = true;
	fa->stale = true;
	return NS_OK;
}

/*
 * Handles the window [*pos, len): records up to its last line end, and the
 * rest too when `eof`.  Leaves less than a chunk unread (nothing at eof).
 */
static enum ns_status process(struct fast *fa, const struct ns_csv_params *cp,
			      const unsigned char *buf, size_t *pos, size_t len, size_t chunk,
			      bool eof)
{
	enum ns_status st;
	for (;;) {
		size_t p = *pos, e;
		if (fa->gen) {
			if (!fa->bom_seen) {
				/* A BOM at the very start is the reader's to drop: the
				 * finder must not take it for field bytes. */
				static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
				size_t k = len - p < 3 ? len - p : 3;
				if (memcmp(buf + p, bom, k) == 0 && k < 3 && !eof)
					return NS_OK; /* need more bytes to tell */
				fa->bom_seen = true;
				if (k == 3 && memcmp(buf + p, bom, 3) == 0) {
					if ((st = feed(fa, buf + p, 3)) != NS_OK)
						return st;
					*pos = p += 3;
				}
			}
			if (fa->fs == F_REC && fa->base + p < fa->gen_until && fa->enabled &&
			    (e = bulk_end(fa, buf, p, len)) > p) {
				/* A stretch for the reader: whole records at once. */
				if ((st = feed(fa, buf + p, e - p)) != NS_OK)
					return st;
				*pos = e;
				if (fa->base + e < fa->gen_until)
					continue;
				fa->gen = false;
				fa->line = ns_csv_reader_lines(fa->r) + 1;
				continue;
			}
			e = find_end(fa, buf, p, len);
			if ((st = feed(fa, buf + p, e - p)) != NS_OK)
				return st;
			*pos = e;
			if (fa->gen)
				return NS_OK; /* the record goes on in the next chunk */
			if (fa->base + e < fa->gen_until && fa->enabled) {
				fa->gen = true; /* still in a stretch for the reader */
				continue;
			}
			fa->line = ns_csv_reader_lines(fa->r) + 1;
			if (!fa->planned && (st = plan(fa, cp)) != NS_OK)
				return st;
			continue;
		}
		if (!fa->enabled) {
			*pos = len;
			return feed(fa, buf + p, len - p);
		}
		/* The region ends at the last line end whose meaning is known. */
		e = len;
		while (e > p && buf[e - 1] != '\n' && buf[e - 1] != '\r')
			e--;
		if (e == len && e > p && buf[e - 1] == '\r' && !eof) {
			e--; /* an LF may follow in the next chunk */
			while (e > p && buf[e - 1] != '\n' && buf[e - 1] != '\r')
				e--;
		}
		if (run_fast(fa, buf, pos, e) && (*pos >= len || (!eof && len - *pos < chunk)))
			return NS_OK; /* nothing left, or a tail the next chunk completes */
		/* A declined record, a tail longer than a chunk, or the file's
		 * last line: the reader takes the next record. */
		flush(fa);
		if ((st = sync_lines(fa)) != NS_OK)
			return st;
		fa->gen = true;
		fa->fs = F_REC;
	}
}

static void fast_fini(struct fast *fa)
{
	ns_csv_reader_free(fa->r);
	ns_free(fa->fields);
	ns_free(fa->num);
	ns_free(fa->cats);
	ns_free(fa->miss);
	ns_free(fa->n_missing);
}

/* Mirrors ns_csv_read_file: the same checks, messages and order of events. */
enum ns_status ns__fast_read_file(const char *path, const struct ns_csv_params *cp,
				  struct ns_validator *v, struct ns_frame *f, ns_csv_record_fn fn,
				  void *user, const struct ns__fast_opts *o, struct ns_diag *diag)
{
	struct ns_csv_params p = *cp;
	struct fast fa;
	bool is_stdin;
	FILE *fp = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, pos = 0;
	size_t chunk = o && o->chunk ? o->chunk : READ_CHUNK;
	struct stat sb;
	enum ns_status st;

	memset(&fa, 0, sizeof(fa));
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
	memset(&sb, 0, sizeof(sb));
	if (fstat(fileno(fp), &sb) == 0 && S_ISDIR(sb.st_mode)) {
		ns_diag_clear(diag);
		ns_diag_where(diag, path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_IO, "cannot read '%s': %s", path, strerror(EISDIR));
		goto out;
	}
	/* A tail shorter than a chunk (or a BOM's first bytes), the next chunk, a NUL. */
	buf = ns_malloc(chunk + (chunk > 3 ? chunk : 3) + 1);
	if (!buf) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory reading '%s'", path);
		goto out;
	}
	if ((st = ns_csv_reader_create(&p, fn, user, &fa.r, diag)) != NS_OK)
		goto out;
	fa.v = v;
	fa.f = f;
	fa.diag = diag;
	fa.delim = (unsigned char)p.delimiter;
	fa.quote = (unsigned char)p.quote;
	fa.max_record = p.max_field_bytes < p.max_row_bytes ? p.max_field_bytes : p.max_row_bytes;
	fa.stop[fa.delim] = fa.stop[fa.quote] = fa.stop['\r'] = fa.stop['\n'] = fa.stop[0] = 1;
	fa.term[fa.delim] = fa.term['\r'] = fa.term['\n'] = 1;
	memset(fa.crs, '\r', sizeof(fa.crs));
	if (S_ISREG(sb.st_mode) && sb.st_size > 0)
		fa.file_size = (uint64_t)sb.st_size;
	fa.line = 1;
	fa.backoff = fa.backoff_min = o && o->backoff ? o->backoff : BACKOFF_MIN;
	fa.gen = true; /* the first record goes through the reader */
	fa.fs = F_REC;
	for (;;) {
		size_t n;
		if (pos) {
			fa.base += pos;
			memmove(buf, buf + pos, len - pos);
			len -= pos;
			pos = 0;
		}
		n = fread(buf + len, 1, chunk, fp);
		len += n;
		buf[len] = '\0'; /* a CR at the end may peek at the next byte */
		if (n && (st = process(&fa, &p, buf, &pos, len, chunk, false)) != NS_OK)
			goto out;
		if (n < chunk) {
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
	if ((st = process(&fa, &p, buf, &pos, len, chunk, true)) != NS_OK)
		goto out;
	flush(&fa);
	if ((st = sync_lines(&fa)) != NS_OK)
		goto out;
	st = ns_csv_reader_finish(fa.r, diag);
out:
	if (o && o->stats)
		*o->stats = fa.stats;
	fast_fini(&fa);
	ns_free(buf);
	if (fp && !is_stdin)
		fclose(fp);
	return st;
}
