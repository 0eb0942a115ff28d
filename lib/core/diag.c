/*
 * lib/core/diag.c - the caller-owned diagnostic.
 *
 * No allocation: every string is truncated to its fixed buffer.  Thread-safe
 * as long as each diagnostic is used by one thread.
 */
#include <stdio.h>
#include <string.h>

#include "netsec/core.h"

static void copy_bounded(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void ns_diag_clear(struct ns_diag *d)
{
	if (d)
		memset(d, 0, sizeof(*d));
}

enum ns_status ns_diag_vset(struct ns_diag *d, enum ns_status st, const char *fmt, va_list ap)
{
	if (d) {
		d->status = st;
		if (fmt)
			vsnprintf(d->message, sizeof(d->message), fmt, ap);
		else
			copy_bounded(d->message, sizeof(d->message), ns_status_str(st));
	}
	return st;
}

enum ns_status ns_diag_set(struct ns_diag *d, enum ns_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ns_diag_vset(d, st, fmt, ap);
	va_end(ap);
	return st;
}

void ns_diag_where(struct ns_diag *d, const char *file, uint64_t line, uint64_t column,
		   const char *field)
{
	if (!d)
		return;
	if (file)
		copy_bounded(d->file, sizeof(d->file), file);
	if (line)
		d->line = line;
	if (column)
		d->column = column;
	if (field)
		copy_bounded(d->field, sizeof(d->field), field);
}

char *ns_diag_format(const struct ns_diag *d, char *buf, size_t size)
{
	size_t off = 0;
	int n;
	if (!buf || size == 0)
		return buf;
	buf[0] = '\0';
	if (!d)
		return buf;
#define NS__APPEND(...) \
	do { \
		if (off < size) { \
			n = snprintf(buf + off, size - off, __VA_ARGS__); \
			if (n > 0) \
				off += (size_t)n; \
		} \
	} while (0)
	if (d->file[0]) {
		NS__APPEND("%s:", d->file);
		if (d->line) {
			NS__APPEND("%llu:", (unsigned long long)d->line);
			if (d->column)
				NS__APPEND("%llu:", (unsigned long long)d->column);
		}
		NS__APPEND(" ");
	} else if (d->line) {
		NS__APPEND("line %llu", (unsigned long long)d->line);
		if (d->column)
			NS__APPEND(", column %llu", (unsigned long long)d->column);
		NS__APPEND(": ");
	}
	if (d->field[0])
		NS__APPEND("field '%s': ", d->field);
	NS__APPEND("%s", d->message[0] ? d->message : ns_status_str(d->status));
#undef NS__APPEND
	return buf;
}
