/*
 * lib/data/csv_na.c - the set of strings that mean "missing value".
 *
 * The default set is static constant data; lookups are exact byte
 * comparisons (case-sensitive).  Thread-safe: no state.
 */
#include <string.h>

#include "netsec/csv.h"

static const char *const na_default[] = {"",    "na",  "NA",   "N/A",  "n/a", "?",
					 "NaN", "nan", "null", "NULL", "None"};

struct ns_na_set ns_na_set_default(void)
{
	struct ns_na_set s;
	s.n = sizeof(na_default) / sizeof(na_default[0]);
	s.values = na_default;
	return s;
}

bool ns_na_set_has(const struct ns_na_set *set, const char *s, size_t len)
{
	if (!set || (!s && len))
		return false;
	for (size_t i = 0; i < set->n; i++) {
		const char *v = set->values[i];
		if (v && strlen(v) == len && (len == 0 || memcmp(v, s, len) == 0))
			return true;
	}
	return false;
}
