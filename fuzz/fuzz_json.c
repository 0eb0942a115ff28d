/*
 * fuzz/fuzz_json.c - libFuzzer target for the JSON reader.
 *
 * Feeds arbitrary bytes to ns_json_parse.  An error must come with a
 * diagnostic and a location inside the input.  Whatever parses is written
 * back in a canonical form (numbers with ns_format_double, strings escaped
 * with \u for controls), which must parse again and print the same: a fixed
 * point.  Duplicate keys: the strict reader may only refuse what the lenient
 * one accepts, never the other way round, and the lenient tree must answer
 * every key lookup with the last member of that name.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *text, size_t len)
{
	fprintf(stderr, "fuzz_json: %s\n---\n%.*s\n---\n", what, (int)(len > 2000 ? 2000 : len),
		text ? text : "");
	abort();
}

static void put_string(struct ns__buf *b, const char *s, size_t n)
{
	ns__buf_append(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			ns__buf_append(b, e, 2);
		} else if (c < 0x20) {
			ns__buf_printf(b, "\\u%04x", c);
		} else {
			ns__buf_append(b, &s[i], 1);
		}
	}
	ns__buf_append(b, "\"", 1);
}

static void write_value(struct ns__buf *b, const struct ns_json *v)
{
	char num[40];
	double d;
	bool t;
	size_t n;
	const char *s;
	switch (ns_json_type(v)) {
	case NS_JSON_NULL:
		ns__buf_append(b, "null", 4);
		break;
	case NS_JSON_BOOL:
		if (!ns_json_bool(v, &t))
			die("bool accessor", NULL, 0);
		ns__buf_append(b, t ? "true" : "false", t ? 4 : 5);
		break;
	case NS_JSON_NUMBER:
		if (!ns_json_number(v, &d) || !isfinite(d))
			die("number accessor", NULL, 0);
		n = ns_format_double(d, num, sizeof(num));
		ns__buf_append(b, num, n);
		break;
	case NS_JSON_STRING:
		s = ns_json_string(v, &n);
		if (!s || s[n] != '\0')
			die("string accessor", NULL, 0);
		put_string(b, s, n);
		break;
	case NS_JSON_ARRAY:
		ns__buf_append(b, "[", 1);
		for (size_t i = 0; i < ns_json_length(v); i++) {
			if (i)
				ns__buf_append(b, ",", 1);
			write_value(b, ns_json_at(v, i));
		}
		if (ns_json_at(v, ns_json_length(v)) != NULL)
			die("index past the end", NULL, 0);
		ns__buf_append(b, "]", 1);
		break;
	case NS_JSON_OBJECT:
		ns__buf_append(b, "{", 1);
		for (size_t i = 0; i < ns_json_length(v); i++) {
			const char *k = ns_json_member_key(v, i, &n);
			if (!k)
				die("member key", NULL, 0);
			if (i)
				ns__buf_append(b, ",", 1);
			put_string(b, k, n);
			ns__buf_append(b, ":", 1);
			write_value(b, ns_json_member_value(v, i));
		}
		ns__buf_append(b, "}", 1);
		break;
	default:
		die("a value of no type", NULL, 0);
	}
}

/* Every lookup by key finds the last member with that key. */
static void check_lookups(const struct ns_json *v)
{
	size_t n = ns_json_length(v);
	if (ns_json_type(v) == NS_JSON_ARRAY) {
		for (size_t i = 0; i < n; i++)
			check_lookups(ns_json_at(v, i));
	}
	if (ns_json_type(v) != NS_JSON_OBJECT)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t kl;
		const char *k = ns_json_member_key(v, i, &kl);
		const struct ns_json *found = ns_json_getn(v, k, kl);
		size_t last = i;
		for (size_t j = i + 1; j < n; j++) {
			size_t kl2;
			const char *k2 = ns_json_member_key(v, j, &kl2);
			if (kl2 == kl && memcmp(k, k2, kl) == 0)
				last = j;
		}
		if (found != ns_json_member_value(v, last))
			die("lookup does not find the last member", k, kl);
		check_lookups(ns_json_member_value(v, i));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_json_params strict = ns_json_params_default(), lenient = strict;
	struct ns_json_doc *doc = NULL, *doc2 = NULL, *back = NULL;
	struct ns_diag d, d2;
	struct ns__buf b1, b2;
	enum ns_status st, st2;
	const char *text = (const char *)data;

	lenient.allow_duplicates = true;
	ns_diag_clear(&d);
	ns_diag_clear(&d2);
	st = ns_json_parse(text, size, "fuzz", &strict, &doc, &d);
	st2 = ns_json_parse(text, size, "fuzz", &lenient, &doc2, &d2);
	if (st != NS_OK) {
		if (doc || d.status != st || d.message[0] == '\0' || d.line == 0 || d.column == 0)
			die("an error without a diagnostic", text, size);
		if (!strstr(d.message, "(byte "))
			die("an error without a byte offset", text, size);
	}
	if (st == NS_OK && st2 != NS_OK)
		die("the lenient reader refused what the strict one took", text, size);
	if (st2 != NS_OK) {
		ns_json_doc_free(doc);
		return 0;
	}
	check_lookups(ns_json_root(doc2));

	ns__buf_init(&b1, 0);
	ns__buf_init(&b2, 0);
	write_value(&b1, ns_json_root(doc2));
	if (ns_json_parse(b1.data, b1.len, "canonical", &lenient, &back, &d) != NS_OK) {
		char msg[1024];
		die(ns_diag_format(&d, msg, sizeof(msg)), b1.data, b1.len);
	}
	write_value(&b2, ns_json_root(back));
	if (b1.len != b2.len || memcmp(b1.data, b2.data, b1.len) != 0)
		die("the canonical form is not a fixed point", b1.data, b1.len);
	if (doc) {
		/* Without duplicates both readers build the same tree. */
		struct ns__buf b3;
		ns__buf_init(&b3, 0);
		write_value(&b3, ns_json_root(doc));
		if (b3.len != b1.len || memcmp(b3.data, b1.data, b1.len) != 0)
			die("strict and lenient trees differ", text, size);
		ns__buf_fini(&b3);
	}
	ns__buf_fini(&b1);
	ns__buf_fini(&b2);
	ns_json_doc_free(back);
	ns_json_doc_free(doc2);
	ns_json_doc_free(doc);
	return 0;
}
