/*
 * lib/core/internal.h - helpers shared inside libnetsec, not API.
 */
#ifndef NETSEC_CORE_INTERNAL_H
#define NETSEC_CORE_INTERNAL_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#include "netsec/core.h"

/* The "C" locale, created once; for strtod_l/uselocale. */
locale_t ns__c_locale(void);

/* Growable byte buffer with a hard cap (curl's dynbuf idea). */
struct ns__buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max; /* hard cap on len; 0: SIZE_MAX/2 */
};
void ns__buf_init(struct ns__buf *b, size_t max);
void ns__buf_fini(struct ns__buf *b);
/* NS_OK, NS_ERR_LIMIT (cap), NS_ERR_NOMEM.  Keeps a NUL after data. */
enum ns_status ns__buf_append(struct ns__buf *b, const void *p, size_t n);
enum ns_status ns__buf_printf(struct ns__buf *b, const char *fmt, ...) NS_PRINTF(2, 3);
static inline void ns__buf_reset(struct ns__buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* Milliseconds since the Unix epoch (wall clock) and a monotonic clock in seconds. */
int64_t ns__now_ms(void);
double ns__mono_seconds(void);

/* Frees n strings and the array holding them (either may be NULL). */
void ns__free_strings(char **v, size_t n);

/* True when name is 1..64 chars of [A-Za-z0-9_.-]. */
bool ns__valid_name(const char *name);

/* Appends `s` as a JSON string literal (quoted, escaped; lib/learn/model.c). */
enum ns_status ns__json_string(struct ns__buf *b, const char *s);

#endif
