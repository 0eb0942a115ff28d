/*
 * fuzz/fuzz_schema.c - libFuzzer target for the schema YAML loader.
 *
 * Feeds arbitrary bytes to ns_schema_parse.  Whatever parses must survive the
 * canonical round trip: to_yaml, parse again, the same YAML and the same
 * hash; every class must be found at its own index; a validator must be
 * creatable for it.  Any difference aborts (a finding).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsec/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *yaml)
{
	fprintf(stderr, "fuzz_schema: %s\n---\n%s\n---\n", what, yaml ? yaml : "");
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_schema *s = NULL, *back = NULL;
	struct ns_validator *v = NULL;
	struct ns_diag d;
	char *y1 = NULL, *y2 = NULL;
	size_t n1 = 0, n2 = 0;
	char h1[65], h2[65];

	ns_diag_clear(&d);
	if (ns_schema_parse((const char *)data, size, "fuzz", &s, &d) != NS_OK) {
		if (d.status == NS_OK || d.message[0] == '\0')
			die("an error without a diagnostic", NULL);
		return 0;
	}
	if (ns_schema_to_yaml(s, &y1, &n1) != NS_OK)
		die("to_yaml failed on a parsed schema", NULL);
	if (strlen(y1) != n1)
		die("to_yaml length", y1);
	if (ns_schema_parse(y1, n1, "round-trip", &back, &d) != NS_OK) {
		char msg[1024];
		die(ns_diag_format(&d, msg, sizeof(msg)), y1);
	}
	if (ns_schema_to_yaml(back, &y2, &n2) != NS_OK || n1 != n2 || memcmp(y1, y2, n1) != 0)
		die("the canonical form is not a fixed point", y1);
	if (ns_schema_hash(s, h1) != NS_OK || ns_schema_hash(back, h2) != NS_OK ||
	    strcmp(h1, h2) != 0)
		die("hash differs after a round trip", y1);
	for (size_t k = 0; k < s->n_classes; k++) {
		if (ns_schema_class_index(s, s->classes[k], strlen(s->classes[k])) != (long)k)
			die("a class is not found at its index", y1);
	}
	if (ns_validator_create(s, NULL, NULL, NULL, &v) != NS_OK)
		die("no validator for a parsed schema", y1);
	ns_validator_free(v);
	ns_free(y1);
	ns_free(y2);
	ns_schema_free(back);
	ns_schema_free(s);
	return 0;
}
