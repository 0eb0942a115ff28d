/*
 * lib/data/csv_writer.c - CSV writer on a stdio stream.
 *
 * A field is quoted only when it must be: it holds the delimiter, a quote,
 * CR or LF, or starts or ends with a space (which some readers trim).  Two
 * more cases keep a write/read round trip exact with our reader: a row made
 * of one empty field is written as "" (an empty line would be skipped as
 * blank), and a very first field starting with the UTF-8 byte-order mark is
 * quoted (a reader would drop a leading BOM).  NUL bytes cannot be written
 * (readers reject them): NS_ERR_INVALID.
 *
 * Write errors are sticky: the first one is kept (with errno) and reported
 * by end_row and flush.  Threading: one writer, one thread at a time.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/csv.h"

struct ns_csv_writer {
	FILE *fp;
	char delimiter;
	size_t n_row_fields; /* fields written in the current row */
	bool first_empty; /* the current row's first field is empty */
	bool wrote_any; /* anything written yet (for the BOM rule) */
	bool failed;
	int saved_errno;
};

enum ns_status ns_csv_writer_create(FILE *fp, char delimiter, struct ns_csv_writer **out,
				    struct ns_diag *diag)
{
	struct ns_csv_writer *w;
	if (!fp || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "CSV writer needs a stream and an output");
	if (delimiter == '"' || delimiter == '\r' || delimiter == '\n' || delimiter == '\0')
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "CSV delimiter must not be a quote, CR, LF or NUL");
	w = ns_calloc(1, sizeof(*w));
	if (!w)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory creating a CSV writer");
	w->fp = fp;
	w->delimiter = delimiter;
	*out = w;
	return NS_OK;
}

void ns_csv_writer_free(struct ns_csv_writer *w)
{
	ns_free(w);
}

static enum ns_status put(struct ns_csv_writer *w, const char *s, size_t len)
{
	if (w->failed)
		return NS_ERR_IO;
	if (len && fwrite(s, 1, len, w->fp) != len) {
		w->failed = true;
		w->saved_errno = errno ? errno : EIO;
		return NS_ERR_IO;
	}
	w->wrote_any = true;
	return NS_OK;
}

enum ns_status ns_csv_writer_field(struct ns_csv_writer *w, const char *s, size_t len)
{
	bool must_quote = false;
	enum ns_status st;
	if (!w || (!s && len))
		return NS_ERR_INVALID;
	if (w->failed)
		return NS_ERR_IO;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == w->delimiter || c == '"' || c == '\r' || c == '\n')
			must_quote = true;
		else if (c == '\0')
			return NS_ERR_INVALID;
	}
	if (len && (s[0] == ' ' || s[len - 1] == ' '))
		must_quote = true;
	if (!w->wrote_any && w->n_row_fields == 0 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		must_quote = true;
	if (w->n_row_fields > 0 && (st = put(w, &w->delimiter, 1)) != NS_OK)
		return st;
	if (w->n_row_fields == 0)
		w->first_empty = len == 0;
	w->n_row_fields++;
	if (!must_quote)
		return put(w, s, len);
	if ((st = put(w, "\"", 1)) != NS_OK)
		return st;
	for (;;) {
		const char *q = memchr(s, '"', len);
		size_t n = q ? (size_t)(q - s) + 1 : len;
		/* Write up to and including the quote, then the quote again. */
		if ((st = put(w, s, n)) != NS_OK)
			return st;
		if (!q)
			break;
		if ((st = put(w, "\"", 1)) != NS_OK)
			return st;
		s += n;
		len -= n;
	}
	return put(w, "\"", 1);
}

enum ns_status ns_csv_writer_number(struct ns_csv_writer *w, double v)
{
	char buf[40];
	size_t n;
	if (!w)
		return NS_ERR_INVALID;
	if (isnan(v))
		return ns_csv_writer_field(w, "", 0);
	n = ns_format_double(v, buf, sizeof(buf));
	if (n == 0)
		return NS_ERR_INTERNAL;
	return ns_csv_writer_field(w, buf, n);
}

enum ns_status ns_csv_writer_end_row(struct ns_csv_writer *w)
{
	enum ns_status st;
	if (!w)
		return NS_ERR_INVALID;
	if (w->n_row_fields == 1 && w->first_empty && (st = put(w, "\"\"", 2)) != NS_OK)
		return st;
	w->n_row_fields = 0;
	w->first_empty = false;
	if ((st = put(w, "\n", 1)) != NS_OK)
		return st;
	if (ferror(w->fp)) {
		w->failed = true;
		w->saved_errno = errno ? errno : EIO;
		return NS_ERR_IO;
	}
	return NS_OK;
}

enum ns_status ns_csv_writer_flush(struct ns_csv_writer *w, struct ns_diag *diag)
{
	if (!w)
		return ns_diag_set(diag, NS_ERR_INVALID, "ns_csv_writer_flush: NULL writer");
	if (!w->failed && (fflush(w->fp) != 0 || ferror(w->fp))) {
		w->failed = true;
		w->saved_errno = errno ? errno : EIO;
	}
	if (w->failed)
		return ns_diag_set(diag, NS_ERR_IO, "cannot write CSV: %s",
				   strerror(w->saved_errno));
	return NS_OK;
}
