/*
 * lib/data/strmap.h - a set of byte strings with stable indices (internal).
 *
 * Open addressing with linear probing over 32-bit slots; each distinct string
 * is copied once and gets the next index (0, 1, 2, ...), so callers can keep
 * per-string data in parallel arrays.  At most UINT32_MAX - 1 strings.
 * Used for column-name lookups (schema, validator) and distinct-value counts
 * (inference).  One thread at a time; allocation through ns_malloc.
 */
#ifndef NETSEC_DATA_STRMAP_H
#define NETSEC_DATA_STRMAP_H

#include <stddef.h>
#include <stdint.h>

#include "netsec/core.h"

struct ns__strmap_entry {
	char *s; /* NUL-terminated copy */
	size_t len;
	uint64_t hash;
};

struct ns__strmap {
	struct ns__strmap_entry *entries;
	size_t n, entries_cap;
	uint32_t *slots; /* 0: empty, else entry index + 1 */
	size_t n_slots; /* 0 or a power of two */
};

void ns__strmap_init(struct ns__strmap *m);
void ns__strmap_fini(struct ns__strmap *m);
/* Index of `s` (len bytes), or -1. */
long ns__strmap_find(const struct ns__strmap *m, const char *s, size_t len);
/* Adds `s` unless present; OUT *idx its index, *added whether it is new (either
 * may be NULL).  NS_OK, NS_ERR_NOMEM, NS_ERR_LIMIT. */
enum ns_status ns__strmap_add(struct ns__strmap *m, const char *s, size_t len, size_t *idx,
			      bool *added);
uint64_t ns__hash_bytes(const char *s, size_t len);

#endif
