/*
 * tests/unit/core/test_json.c - the strict JSON reader: values and
 * accessors, numbers, strings and escapes, UTF-8, error positions, limits,
 * duplicate keys, allocation failures.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "netsec/json.h"

static struct ns_json_doc *parse_ok(const char *text)
{
	struct ns_json_doc *doc = NULL;
	struct ns_diag d;
	ns_diag_clear(&d);
	if (ns_json_parse(text, strlen(text), "t", NULL, &doc, &d) != NS_OK)
		fail_msg("'%s': %s", text, d.message);
	return doc;
}

/* Parses `text` expecting failure; returns the diagnostic. */
static struct ns_diag parse_bad(const char *text, size_t len, enum ns_status want)
{
	struct ns_json_doc *doc = NULL;
	struct ns_diag d;
	enum ns_status st;
	ns_diag_clear(&d);
	st = ns_json_parse(text, len, "doc.json", NULL, &doc, &d);
	if (st != want)
		fail_msg("'%.*s': status %s, wanted %s (%s)", (int)len, text, ns_status_name(st),
			 ns_status_name(want), d.message);
	assert_null(doc);
	assert_int_equal(d.status, want);
	assert_true(d.message[0] != '\0');
	return d;
}

static void test_values_and_accessors(void **state)
{
	struct ns_json_doc *doc = parse_ok(" {\"a\": [1, true, false, null, \"s\", {}, []],"
					   " \"b\": {\"c\": -2.5}, \"e\": \"\"} ");
	const struct ns_json *root = ns_json_root(doc), *a, *v;
	double d;
	bool b;
	size_t len;
	(void)state;
	assert_int_equal(ns_json_type(root), NS_JSON_OBJECT);
	assert_int_equal(ns_json_length(root), 3);
	assert_string_equal(ns_json_member_key(root, 1, &len), "b");
	assert_int_equal(len, 1);
	assert_null(ns_json_member_key(root, 3, NULL));
	a = ns_json_get(root, "a");
	assert_int_equal(ns_json_type(a), NS_JSON_ARRAY);
	assert_int_equal(ns_json_length(a), 7);
	assert_true(ns_json_number(ns_json_at(a, 0), &d));
	assert_true(d == 1.0);
	assert_true(ns_json_bool(ns_json_at(a, 1), &b) && b);
	assert_true(ns_json_bool(ns_json_at(a, 2), &b) && !b);
	assert_true(ns_json_is_null(ns_json_at(a, 3)));
	assert_string_equal(ns_json_string(ns_json_at(a, 4), &len), "s");
	assert_int_equal(ns_json_type(ns_json_at(a, 5)), NS_JSON_OBJECT);
	assert_int_equal(ns_json_length(ns_json_at(a, 5)), 0);
	assert_int_equal(ns_json_type(ns_json_at(a, 6)), NS_JSON_ARRAY);
	assert_null(ns_json_at(a, 7));
	assert_true(ns_json_number(ns_json_get(ns_json_get(root, "b"), "c"), &d));
	assert_true(d == -2.5);
	assert_string_equal(ns_json_string(ns_json_get(root, "e"), &len), "");
	assert_int_equal(len, 0);

	/* Wrong types and absent values answer "absent", so lookups chain. */
	v = ns_json_get(ns_json_get(ns_json_get(root, "nope"), "x"), "y");
	assert_null(v);
	assert_int_equal(ns_json_type(v), NS_JSON_NONE);
	assert_false(ns_json_number(v, &d));
	assert_false(ns_json_number(ns_json_get(root, "e"), &d));
	assert_null(ns_json_string(a, NULL));
	assert_false(ns_json_bool(ns_json_at(a, 0), &b));
	assert_false(ns_json_is_null(NULL));
	assert_null(ns_json_at(root, 0));
	assert_null(ns_json_get(a, "a"));
	assert_int_equal(ns_json_length(ns_json_at(a, 0)), 0);
	assert_string_equal(ns_json_type_name(NS_JSON_OBJECT), "object");
	assert_string_equal(ns_json_type_name(NS_JSON_NONE), "none");
	ns_json_doc_free(doc);
	ns_json_doc_free(NULL);

	/* Scalars at the top level (RFC 8259). */
	doc = parse_ok("\t42\n");
	assert_true(ns_json_number(ns_json_root(doc), &d) && d == 42);
	ns_json_doc_free(doc);
	doc = parse_ok("null");
	assert_true(ns_json_is_null(ns_json_root(doc)));
	ns_json_doc_free(doc);
}

static void test_numbers(void **state)
{
	static const struct {
		const char *text;
		double want;
	} cases[] = {
		{"0", 0.0},
		{"-0", -0.0},
		{"1", 1.0},
		{"-17", -17.0},
		{"0.1", 0.1},
		{"1e3", 1000.0},
		{"1E+3", 1000.0},
		{"25e-1", 2.5},
		{"-1.5e-3", -1.5e-3},
		{"9007199254740993", 9007199254740992.0},
		{"1.7976931348623157e308", DBL_MAX},
		{"4.9406564584124654e-324", 4.9406564584124654e-324},
		{"1e-400", 0.0},
		{"0.30000000000000004", 0.30000000000000004},
		{"123456789012345678901234567890", 1.2345678901234568e29},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ns_json_doc *doc = parse_ok(cases[i].text);
		double d = NAN;
		assert_true(ns_json_number(ns_json_root(doc), &d));
		if (memcmp(&d, &cases[i].want, sizeof(d)) != 0)
			fail_msg("%s: got %.17g, wanted %.17g", cases[i].text, d, cases[i].want);
		ns_json_doc_free(doc);
	}
	{
		static const char *bad[] = {"01",   "-01",   "1.",     ".5",   "+1",
					    "-",    "1e",    "1e+",    "0x10", "NaN",
					    "-inf", "1e400", "-1e999", "1.e5", "Infinity"};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			parse_bad(bad[i], strlen(bad[i]), NS_ERR_PARSE);
	}
}

static void test_strings(void **state)
{
	struct ns_json_doc *doc;
	const char *s;
	size_t len;
	(void)state;
	doc = parse_ok("\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"");
	s = ns_json_string(ns_json_root(doc), &len);
	assert_string_equal(s, "a\"b\\c/d\be\ff\ng\rh\ti");
	assert_int_equal(len, strlen(s));
	ns_json_doc_free(doc);

	/* \u escapes: 1, 2, 3 bytes of UTF-8, a surrogate pair to 4; raw UTF-8 passes. */
	doc = parse_ok(
		"\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	s = ns_json_string(ns_json_root(doc), &len);
	assert_string_equal(
		s, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ns_json_doc_free(doc);

	/* U+0000 is allowed: the length tells. */
	doc = parse_ok("{\"k\\u0000x\": \"a\\u0000b\"}");
	s = ns_json_string(ns_json_getn(ns_json_root(doc), "k\0x", 3), &len);
	assert_non_null(s);
	assert_int_equal(len, 3);
	assert_memory_equal(s, "a\0b", 4);
	assert_null(ns_json_get(ns_json_root(doc), "k"));
	ns_json_doc_free(doc);

	{
		static const char *bad[] = {
			"\"abc",
			"\"abc\\\"",
			"\"\\x\"",
			"\"\\u12\"",
			"\"\\u12g4\"",
			"\"\\ud800\"",
			"\"\\ud800x\"",
			"\"\\ud800\\u0041\"",
			"\"\\udc00\"",
			"\"a\tb\"",
			"\"a\nb\"",
			"\"\x01\"",
			"\"\xc0\xaf\"",
			"\"\xc1\xbf\"",
			"\"\xe0\x80\xaf\"",
			"\"\xed\xa0\x80\"",
			"\"\xf4\x90\x80\x80\"",
			"\"\xf5\x80\x80\x80\"",
			"\"\xe2\x82\"",
			"\"\x80\"",
			"\"\xff\"",
			"'a'",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			parse_bad(bad[i], strlen(bad[i]), NS_ERR_PARSE);
	}
}

static void test_error_positions(void **state)
{
	struct ns_diag d;
	char buf[600];
	(void)state;
	d = parse_bad("{\n  \"a\": 1,\n  \"b\" 2\n}", 21, NS_ERR_PARSE);
	assert_int_equal(d.line, 3);
	assert_int_equal(d.column, 7);
	assert_string_equal(d.file, "doc.json");
	assert_non_null(strstr(d.message, "expected ':' after the key, found '2'"));
	assert_non_null(strstr(d.message, "(byte 18)"));
	ns_diag_format(&d, buf, sizeof(buf));
	assert_string_equal(buf, "doc.json:3:7: expected ':' after the key, found '2' (byte 18)");

	/* Columns count characters, not bytes. */
	d = parse_bad("[\"\xc3\xa9\xc3\xa9\", x]", 11, NS_ERR_PARSE);
	assert_int_equal(d.line, 1);
	assert_int_equal(d.column, 8);
	assert_non_null(strstr(d.message, "(byte 9)"));

	/* The offending byte inside a string. */
	d = parse_bad("\"ab\\qc\"", 7, NS_ERR_PARSE);
	assert_int_equal(d.column, 4);
	assert_non_null(strstr(d.message, "invalid escape"));
	d = parse_bad("\n\n  \"ok \xff\"", 10, NS_ERR_PARSE);
	assert_int_equal(d.line, 3);
	assert_int_equal(d.column, 7);
	assert_non_null(strstr(d.message, "UTF-8"));

	d = parse_bad("", 0, NS_ERR_PARSE);
	assert_int_equal(d.line, 1);
	assert_int_equal(d.column, 1);
	assert_non_null(strstr(d.message, "the end of the input"));
	d = parse_bad("  ", 2, NS_ERR_PARSE);
	d = parse_bad("[1,]", 4, NS_ERR_PARSE);
	assert_int_equal(d.column, 4);
	d = parse_bad("{\"a\":1,}", 8, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "a string key"));
	d = parse_bad("{\"a\":1} {", 9, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "end of the input after the value"));
	assert_int_equal(d.column, 9);
	d = parse_bad("\xef\xbb\xbf{}", 5, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "byte order mark"));
	d = parse_bad("[tru]", 5, NS_ERR_PARSE);
	d = parse_bad("[1 2]", 5, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "',' or ']'"));
	d = parse_bad("{\"a\":1 \"b\":2}", 13, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "',' or '}'"));
	d = parse_bad("[1]\0", 4, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "byte 0x00"));
	d = parse_bad("/* no */ 1", 10, NS_ERR_PARSE);
}

static void test_limits(void **state)
{
	struct ns_json_params p = ns_json_params_default();
	struct ns_json_doc *doc = NULL;
	struct ns_diag d;
	char deep[2 * 300 + 1];
	(void)state;
	assert_int_equal(p.max_depth, 256);
	assert_false(p.allow_duplicates);

	for (int i = 0; i < 300; i++) {
		deep[i] = '[';
		deep[300 + i] = ']';
	}
	deep[600] = '\0';
	d = parse_bad(deep, 600, NS_ERR_LIMIT);
	assert_non_null(strstr(d.message, "nesting deeper than 256"));
	assert_int_equal(d.column, 257);

	p.max_depth = 300;
	ns_diag_clear(&d);
	assert_int_equal(ns_json_parse(deep, 600, NULL, &p, &doc, &d), NS_OK);
	ns_json_doc_free(doc);
	doc = NULL;
	p.max_depth = 2;
	assert_int_equal(ns_json_parse("[[1]]", 5, NULL, &p, &doc, &d), NS_OK);
	ns_json_doc_free(doc);
	doc = NULL;
	assert_int_equal(ns_json_parse("[[[1]]]", 7, NULL, &p, &doc, &d), NS_ERR_LIMIT);
	assert_null(doc);
	assert_int_equal(ns_json_parse("{\"a\":{\"b\":{}}}", 14, NULL, &p, &doc, &d), NS_ERR_LIMIT);

	p.max_size = 10;
	assert_int_equal(ns_json_parse("[1,2,3,4,5]", 11, "body", &p, &doc, &d), NS_ERR_LIMIT);
	assert_non_null(strstr(d.message, "10-byte limit"));
	assert_string_equal(d.file, "body");
	assert_int_equal(ns_json_parse("[1,2,3,45]", 10, "body", &p, &doc, &d), NS_OK);
	ns_json_doc_free(doc);

	/* Arguments. */
	assert_int_equal(ns_json_parse(NULL, 3, NULL, NULL, &doc, &d), NS_ERR_INVALID);
	assert_int_equal(ns_json_parse("1", 1, NULL, NULL, NULL, &d), NS_ERR_INVALID);
}

static void test_duplicate_keys(void **state)
{
	struct ns_json_params p = ns_json_params_default();
	struct ns_json_doc *doc = NULL;
	struct ns_diag d;
	char big[2000];
	size_t n = 0;
	double v = 0;
	(void)state;
	d = parse_bad("{\"a\":1,\"b\":2,\"a\":3}", 19, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "duplicate key \"a\""));
	assert_int_equal(d.column, 14);
	/* Same prefix, different length, or an embedded NUL: not duplicates. */
	doc = parse_ok("{\"a\":1,\"ab\":2,\"a\\u0000\":3}");
	ns_json_doc_free(doc);
	/* Nested objects have their own keys. */
	doc = parse_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}");
	ns_json_doc_free(doc);

	/* A large object (the sorted check): the second occurrence is reported. */
	n += (size_t)snprintf(big + n, sizeof(big) - n, "{");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"k%d\":%d", i ? "," : "",
				      i == 33 ? 7 : i, i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "}");
	d = parse_bad(big, n, NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "duplicate key \"k7\""));
	assert_non_null(strstr(big, ",\"k7\":33"));
	{
		char want[32];
		snprintf(want, sizeof(want), "(byte %zu)",
			 (size_t)(strstr(big, ",\"k7\":33") - big) + 1);
		assert_non_null(strstr(d.message, want));
	}

	/* Allowed: the last one wins. */
	p.allow_duplicates = true;
	ns_diag_clear(&d);
	assert_int_equal(ns_json_parse(big, n, NULL, &p, &doc, &d), NS_OK);
	assert_int_equal(ns_json_length(ns_json_root(doc)), 40);
	assert_true(ns_json_number(ns_json_get(ns_json_root(doc), "k7"), &v));
	assert_true(v == 33);
	ns_json_doc_free(doc);
	assert_int_equal(ns_json_parse("{\"a\":1,\"a\":2}", 13, NULL, &p, &doc, &d), NS_OK);
	assert_true(ns_json_number(ns_json_get(ns_json_root(doc), "a"), &v) && v == 2);
	ns_json_doc_free(doc);
}

static void test_big_document(void **state)
{
	/* Many values (several arena blocks, a big scratch stack) and a long string. */
	size_t n_items = 50000, cap = n_items * 12 + 300000, len = 0;
	char *text = malloc(cap);
	struct ns_json_doc *doc = NULL;
	struct ns_diag d;
	const struct ns_json *arr;
	double v;
	size_t slen;
	(void)state;
	assert_non_null(text);
	len += (size_t)snprintf(text + len, cap - len, "{\"s\":\"");
	for (int i = 0; i < 200000; i++)
		text[len++] = (char)('a' + i % 26);
	len += (size_t)snprintf(text + len, cap - len, "\",\"v\":[");
	for (size_t i = 0; i < n_items; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s%zu", i ? "," : "", i);
	len += (size_t)snprintf(text + len, cap - len, "]}");
	ns_diag_clear(&d);
	assert_int_equal(ns_json_parse(text, len, NULL, NULL, &doc, &d), NS_OK);
	arr = ns_json_get(ns_json_root(doc), "v");
	assert_int_equal(ns_json_length(arr), n_items);
	assert_true(ns_json_number(ns_json_at(arr, n_items - 1), &v));
	assert_true(v == (double)(n_items - 1));
	assert_non_null(ns_json_string(ns_json_get(ns_json_root(doc), "s"), &slen));
	assert_int_equal(slen, 200000);
	ns_json_doc_free(doc);
	free(text);
}

static void test_alloc_failures(void **state)
{
	const char *text = "{\"a\":[1,2,{\"b\":\"x\\u00e9\"}],\"c\":\"long string here\"}";
	(void)state;
	for (long k = 0;; k++) {
		struct ns_json_doc *doc = NULL;
		struct ns_diag d;
		enum ns_status st;
		ns_diag_clear(&d);
		ns_alloc_fail_after(k);
		st = ns_json_parse(text, strlen(text), NULL, NULL, &doc, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			assert_true(k >= 1);
			ns_json_doc_free(doc);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(doc);
		assert_true(k < 100);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_and_accessors),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_error_positions),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_big_document),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
