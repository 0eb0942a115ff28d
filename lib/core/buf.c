/*
 * lib/core/buf.c - a growable byte buffer with a hard cap, clocks, names.
 *
 * Size arithmetic is overflow-checked; the buffer always keeps a NUL after
 * its data so that it can be read as a C string.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"

void ns__buf_init(struct ns__buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max ? max : SIZE_MAX / 2;
}

void ns__buf_fini(struct ns__buf *b)
{
	ns_free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

enum ns_status ns__buf_append(struct ns__buf *b, const void *p, size_t n)
{
	if (n > b->max - b->len)
		return NS_ERR_LIMIT;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *d;
		while (cap < b->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		d = ns_realloc(b->data, cap);
		if (!d)
			return NS_ERR_NOMEM;
		b->data = d;
		b->cap = cap;
	}
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return NS_OK;
}

enum ns_status ns__buf_printf(struct ns__buf *b, const char *fmt, ...)
{
	char stack[512];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(stack, sizeof(stack), fmt, ap);
	va_end(ap);
	if (n < 0)
		return NS_ERR_INTERNAL;
	if ((size_t)n < sizeof(stack))
		return ns__buf_append(b, stack, (size_t)n);
	{
		char *big = ns_malloc((size_t)n + 1);
		enum ns_status st;
		if (!big)
			return NS_ERR_NOMEM;
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		st = ns__buf_append(b, big, (size_t)n);
		ns_free(big);
		return st;
	}
}

int64_t ns__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double ns__mono_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

bool ns__valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

void ns__free_strings(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		ns_free(v[i]);
	ns_free(v);
}
