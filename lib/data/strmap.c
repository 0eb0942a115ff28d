/*
 * lib/data/strmap.c - a set of byte strings with stable indices (internal).
 *
 * FNV-1a hashing, open addressing, load factor at most 1/2.  Entries live in
 * an array in insertion order so that an index never changes; the slot table
 * only maps hashes to indices and is rebuilt when it grows.
 */
#include <string.h>

#include "data/strmap.h"

uint64_t ns__hash_bytes(const char *s, size_t len)
{
	uint64_t h = UINT64_C(14695981039346656037);
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

void ns__strmap_init(struct ns__strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void ns__strmap_fini(struct ns__strmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		ns_free(m->entries[i].s);
	ns_free(m->entries);
	ns_free(m->slots);
	memset(m, 0, sizeof(*m));
}

static long find_hashed(const struct ns__strmap *m, const char *s, size_t len, uint64_t h,
			size_t *slot)
{
	size_t mask = m->n_slots - 1;
	size_t i = (size_t)h & mask;
	for (;;) {
		uint32_t v = m->slots[i];
		if (v == 0) {
			*slot = i;
			return -1;
		}
		const struct ns__strmap_entry *e = &m->entries[v - 1];
		if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0) {
			*slot = i;
			return (long)(v - 1);
		}
		i = (i + 1) & mask;
	}
}

long ns__strmap_find(const struct ns__strmap *m, const char *s, size_t len)
{
	size_t slot;
	if (m->n_slots == 0)
		return -1;
	return find_hashed(m, s, len, ns__hash_bytes(s, len), &slot);
}

static enum ns_status rehash(struct ns__strmap *m, size_t n_slots)
{
	uint32_t *slots = ns_calloc(n_slots, sizeof(*slots));
	if (!slots)
		return NS_ERR_NOMEM;
	for (size_t k = 0; k < m->n; k++) {
		size_t i = (size_t)m->entries[k].hash & (n_slots - 1);
		while (slots[i])
			i = (i + 1) & (n_slots - 1);
		slots[i] = (uint32_t)(k + 1);
	}
	ns_free(m->slots);
	m->slots = slots;
	m->n_slots = n_slots;
	return NS_OK;
}

enum ns_status ns__strmap_add(struct ns__strmap *m, const char *s, size_t len, size_t *idx,
			      bool *added)
{
	uint64_t h = ns__hash_bytes(s, len);
	size_t slot;
	long found;
	enum ns_status st;

	if (m->n_slots == 0 || (m->n + 1) * 2 > m->n_slots) {
		if (m->n_slots > SIZE_MAX / 4)
			return NS_ERR_LIMIT;
		st = rehash(m, m->n_slots ? m->n_slots * 2 : 16);
		if (st != NS_OK)
			return st;
	}
	found = find_hashed(m, s, len, h, &slot);
	if (found >= 0) {
		if (idx)
			*idx = (size_t)found;
		if (added)
			*added = false;
		return NS_OK;
	}
	if (m->n >= UINT32_MAX - 1)
		return NS_ERR_LIMIT;
	if (m->n == m->entries_cap) {
		size_t cap = m->entries_cap ? m->entries_cap * 2 : 16;
		struct ns__strmap_entry *e = ns_reallocarray(m->entries, cap, sizeof(*e));
		if (!e)
			return NS_ERR_NOMEM;
		m->entries = e;
		m->entries_cap = cap;
	}
	{
		char *copy = ns_strndup(s, len);
		if (!copy)
			return NS_ERR_NOMEM;
		m->entries[m->n].s = copy;
		m->entries[m->n].len = len;
		m->entries[m->n].hash = h;
	}
	m->slots[slot] = (uint32_t)(m->n + 1);
	if (idx)
		*idx = m->n;
	if (added)
		*added = true;
	m->n++;
	return NS_OK;
}
