/*
 * lib/core/alloc.c - allocation wrappers with fault injection.
 *
 * Every allocation in the library goes through these so that tests can make
 * the Nth one fail (SQLite's faultsim idea) and check that each error path
 * frees what it holds and reports NS_ERR_NOMEM.  Thread-safe (atomics).
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "netsec/core.h"

static atomic_long fail_after = -1; /* -1: never fail */
static atomic_long n_allocs = 0;

void ns_alloc_fail_after(long n)
{
	atomic_store(&n_allocs, 0);
	atomic_store(&fail_after, n < 0 ? 0 : n);
}

void ns_alloc_fail_reset(void)
{
	atomic_store(&fail_after, -1);
	atomic_store(&n_allocs, 0);
}

long ns_alloc_count(void)
{
	return atomic_load(&n_allocs);
}

/* Returns true when this allocation must fail. */
static bool fault(void)
{
	long limit = atomic_load(&fail_after);
	long n = atomic_fetch_add(&n_allocs, 1);
	return limit >= 0 && n >= limit;
}

void *ns_malloc(size_t size)
{
	if (fault())
		return NULL;
	return malloc(size ? size : 1);
}

void *ns_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	if (fault())
		return NULL;
	return calloc(n ? n : 1, size ? size : 1);
}

void *ns_realloc(void *p, size_t size)
{
	if (fault())
		return NULL;
	return realloc(p, size ? size : 1);
}

void *ns_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return ns_realloc(p, n * size);
}

char *ns_strndup(const char *s, size_t n)
{
	char *d = ns_malloc(n + 1);
	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *ns_strdup(const char *s)
{
	return ns_strndup(s, strlen(s));
}

void ns_free(void *p)
{
	free(p);
}
