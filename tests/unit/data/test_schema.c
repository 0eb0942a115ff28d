/*
 * tests/unit/data/test_schema.c - schema YAML: the bundled schemas, the
 * reference project's shape, every error with its line and column, the
 * canonical form (round trips of the bundled and of random schemas, hash
 * stability), save/load, lookups, and allocation failures while parsing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "netsec/schema.h"
#include "unit/data/schema_check.h"

#define PHISHING_SCHEMA NETSEC_SOURCE_DIR "/data/schema.yaml"
#define NSL_KDD_SCHEMA NETSEC_SOURCE_DIR "/data/nsl_kdd.schema.yaml"

static struct ns_schema *load(const char *path)
{
	struct ns_schema *s = NULL;
	struct ns_diag d;
	char buf[1024];
	ns_diag_clear(&d);
	if (ns_schema_load(path, &s, &d) != NS_OK) {
		fprintf(stderr, "%s\n", ns_diag_format(&d, buf, sizeof(buf)));
		fail();
	}
	return s;
}

static void test_load_phishing(void **state)
{
	struct ns_schema *s = load(PHISHING_SCHEMA);
	(void)state;
	assert_string_equal(s->name, "phishing");
	assert_true(s->header);
	assert_int_equal(s->delimiter, ',');
	assert_int_equal(s->n_columns, 31);
	assert_int_equal(s->target, 30);
	assert_string_equal(s->columns[30].name, "Result");
	assert_int_equal(s->n_classes, 2);
	assert_string_equal(s->classes[0], "-1");
	assert_string_equal(s->classes[1], "1");
	assert_int_equal(s->threat, 0);
	assert_int_equal(s->benign, -1);
	assert_true(ns_schema_class_is_threat(s, 0));
	assert_false(ns_schema_class_is_threat(s, 1));
	assert_false(ns_schema_class_is_threat(s, 2));
	assert_true(s->max_missing == 1.0);
	/* The default missing markers. */
	assert_int_equal(s->n_na, ns_na_set_default().n);
	for (size_t i = 0; i < s->n_columns; i++) {
		assert_int_equal(s->columns[i].type, NS_TYPE_INT);
		assert_false(s->columns[i].ignore);
		if ((long)i != s->target)
			assert_true(s->columns[i].n_allowed == 2 || s->columns[i].n_allowed == 3);
	}
	assert_string_equal(s->columns[0].name, "having_IP_Address");
	assert_int_equal(s->columns[0].n_allowed, 2);
	assert_string_equal(s->columns[0].allowed[0], "-1");
	assert_true(s->columns[0].allowed_num[0] == -1 && s->columns[0].allowed_num[1] == 1);
	assert_int_equal(ns_schema_col_index(s, "URL_Length"), 1);
	assert_int_equal(ns_schema_col_index(s, "url_length"), -1);
	assert_int_equal(ns_schema_col_index(s, NULL), -1);
	/* Numeric classes compare by value. */
	assert_int_equal(ns_schema_class_index(s, "-1", 2), 0);
	assert_int_equal(ns_schema_class_index(s, "-1.0", 4), 0);
	assert_int_equal(ns_schema_class_index(s, "1e0", 3), 1);
	assert_int_equal(ns_schema_class_index(s, "0", 1), -1);
	assert_int_equal(ns_schema_class_index(s, "abc", 3), -1);
	assert_int_equal(ns_schema_class_index(s, "1x", 1), 1); /* len bounds the text */
	ns_schema_free(s);
}

static void test_load_nsl_kdd(void **state)
{
	struct ns_schema *s = load(NSL_KDD_SCHEMA);
	long normal, neptune;
	(void)state;
	assert_string_equal(s->name, "nsl_kdd");
	assert_false(s->header);
	assert_int_equal(s->n_columns, 43);
	for (size_t i = 0; i < 43; i++)
		assert_string_equal(s->columns[i].name, nsl_kdd_names[i]);
	assert_int_equal(s->target, 41);
	assert_int_equal(s->n_classes, 22);
	assert_int_equal(s->threat, -1);
	normal = ns_schema_class_index(s, "normal", 6);
	neptune = ns_schema_class_index(s, "neptune", 7);
	assert_true(normal >= 0 && neptune >= 0);
	assert_int_equal(s->benign, normal);
	assert_false(ns_schema_class_is_threat(s, normal));
	assert_true(ns_schema_class_is_threat(s, neptune));
	for (long k = 0; k < (long)s->n_classes; k++)
		assert_int_equal(ns_schema_class_is_threat(s, k), k != normal);
	/* Category columns compare labels exactly. */
	assert_int_equal(ns_schema_class_index(s, "Normal", 6), -1);
	assert_int_equal(s->columns[1].type, NS_TYPE_CATEGORY);
	assert_int_equal(s->columns[1].n_allowed, 3);
	assert_null(s->columns[1].allowed_num);
	assert_int_equal(s->columns[2].type, NS_TYPE_CATEGORY);
	assert_int_equal(s->columns[2].n_allowed, 0);
	assert_int_equal(s->columns[24].type, NS_TYPE_FLOAT);
	assert_true(s->columns[24].has_min && s->columns[24].has_max);
	assert_true(s->columns[24].min == 0 && s->columns[24].max == 1);
	assert_true(s->columns[42].ignore);
	assert_false(s->columns[41].ignore);
	ns_schema_free(s);
}

/* The reference project's shape: one-key maps and the numerical/categorical lists. */
static void test_reference_shape(void **state)
{
	struct ns_schema *s;
	(void)state;
	s = must_parse("columns:\n"
		       "  - having_IP_Address: int64\n"
		       "  - URL_Length: int64\n"
		       "  - Result: int64\n"
		       "\n"
		       "numerical_columns:\n"
		       "  - having_IP_Address\n"
		       "  - URL_Length\n"
		       "  - Result\n");
	assert_int_equal(s->n_columns, 3);
	assert_int_equal(s->columns[1].type, NS_TYPE_INT);
	assert_int_equal(s->target, 2);
	assert_true(s->header);
	assert_int_equal(s->n_classes, 0);
	check_round_trip(s);
	ns_schema_free(s);

	/* The default target: by name (case-insensitive), not by position. */
	s = must_parse("columns:\n  - Label: object\n  - x: float64\n  - proto: str\n"
		       "categorical_columns: [Label, proto]\n"
		       "numerical_columns: [x]\n");
	assert_int_equal(s->target, 0);
	assert_int_equal(s->columns[0].type, NS_TYPE_CATEGORY);
	assert_int_equal(s->columns[1].type, NS_TYPE_FLOAT);
	assert_int_equal(s->columns[2].type, NS_TYPE_CATEGORY);
	ns_schema_free(s);

	/* ... else the last column; an ignored column is never the default target. */
	s = must_parse("columns:\n  - a: int\n  - b: integer\n  - c: double\nignore: [c]\n");
	assert_int_equal(s->target, 1);
	assert_true(s->columns[2].ignore);
	ns_schema_free(s);

	/* `target: null` says there is none. */
	s = must_parse("target: null\ncolumns:\n  - a: int\n  - Result: int\n");
	assert_int_equal(s->target, -1);
	check_round_trip(s);
	ns_schema_free(s);

	/* The columns as one mapping, and type names in any case. */
	s = must_parse("columns: {a: INT64, b: Float32, c: Categorical}\n");
	assert_int_equal(s->n_columns, 3);
	assert_int_equal(s->columns[0].type, NS_TYPE_INT);
	assert_int_equal(s->columns[1].type, NS_TYPE_FLOAT);
	assert_int_equal(s->columns[2].type, NS_TYPE_CATEGORY);
	ns_schema_free(s);

	/* Both forms mixed in one list; a column named like a keyword needs `name:`. */
	s = must_parse("columns:\n  - a: int\n  - name: type\n    type: float\n"
		       "  - {name: c, type: category, values: [x, \"y z\"]}\n");
	assert_string_equal(s->columns[1].name, "type");
	assert_int_equal(s->columns[2].n_allowed, 2);
	assert_string_equal(s->columns[2].allowed[1], "y z");
	ns_schema_free(s);
}

static void test_full_shape(void **state)
{
	struct ns_schema *s;
	(void)state;
	s = must_parse("name: flows.v2\n"
		       "header: no\n"
		       "delimiter: \"\\t\"\n"
		       "na_values: [\"-\", \"\"]\n"
		       "max_missing: 0.25\n"
		       "target: class\n"
		       "classes: [\"0\", \"1\", \"2\"]\n"
		       "threat: 2.0\n"
		       "columns:\n"
		       "  - name: bytes\n"
		       "    type: float\n"
		       "    range: [0, 1e12]\n"
		       "    max_missing: 0\n"
		       "  - name: port\n"
		       "    type: int\n"
		       "    min: -0\n"
		       "    max: 65535\n"
		       "    values: [80, 443, 8080.0]\n"
		       "  - name: class\n"
		       "    type: int\n"
		       "  - name: id\n"
		       "    type: category\n"
		       "    ignore: true\n");
	assert_string_equal(s->name, "flows.v2");
	assert_false(s->header);
	assert_int_equal(s->delimiter, '\t');
	assert_int_equal(s->n_na, 2);
	assert_string_equal(s->na_values[0], "-");
	assert_string_equal(s->na_values[1], "");
	assert_true(s->max_missing == 0.25);
	assert_true(s->columns[0].max_missing == 0);
	assert_true(s->columns[1].max_missing == 0.25);
	assert_true(s->columns[0].has_min && s->columns[0].has_max && s->columns[0].max == 1e12);
	assert_true(s->columns[1].min == 0 && !signbit(s->columns[1].min));
	/* Numeric allowed values are kept in canonical form. */
	assert_string_equal(s->columns[1].allowed[2], "8080");
	assert_true(s->columns[1].allowed_num[2] == 8080);
	assert_int_equal(s->target, 2);
	/* The threat is matched by value, the classes kept as written. */
	assert_int_equal(s->threat, 2);
	assert_string_equal(s->classes[2], "2");
	assert_true(s->columns[3].ignore);
	check_round_trip(s);
	ns_schema_free(s);

	/* An explicit empty na_values list: no missing markers at all. */
	s = must_parse("na_values: []\ncolumns:\n  - a: int\n");
	assert_int_equal(s->n_na, 0);
	check_round_trip(s);
	ns_schema_free(s);
}

struct bad_case {
	const char *yaml;
	enum ns_status status;
	uint64_t line, column;
	const char *message; /* a part of it */
	const char *field; /* NULL: not checked */
};

static const struct bad_case bad_cases[] = {
	/* YAML syntax */
	{"name: [a\n", NS_ERR_PARSE, 2, 1, "YAML syntax", NULL},
	{"columns:\n  - name: a\n   type: int\n", NS_ERR_PARSE, 3, 4, "expected '-'", NULL},
	{"a: b: c\n", NS_ERR_PARSE, 1, 5, "mapping values are not allowed", NULL},
	{"columns: \"abc\n", NS_ERR_PARSE, 2, 1, "YAML syntax", NULL},
	{"columns:\n\t- a: int\n", NS_ERR_PARSE, 2, 1, "YAML syntax", NULL},
	{"name: \"\\q\"\n", NS_ERR_PARSE, 1, 8, "unknown escape", NULL},
	{"name: a\x01\n", NS_ERR_PARSE, 1, 8, "control characters", NULL},
	{"name: \xff\n", NS_ERR_PARSE, 1, 7, "UTF-8", NULL},
	/* shape */
	{"", NS_ERR_SCHEMA, 0, 0, "the schema is empty", NULL},
	{"# only a comment\n", NS_ERR_SCHEMA, 0, 0, "the schema is empty", NULL},
	{"- a\n- b\n", NS_ERR_SCHEMA, 1, 1, "a schema is a YAML mapping", NULL},
	{"columns:\n  - a: int\n---\ncolumns:\n  - b: int\n", NS_ERR_SCHEMA, 3, 1,
	 "one YAML document", NULL},
	{"columns:\n  - &c {name: a, type: int}\n  - *c\n", NS_ERR_SCHEMA, 3, 5, "aliases", NULL},
	{"name: x\n", NS_ERR_SCHEMA, 1, 1, "no 'columns'", NULL},
	{"colums:\n  - a: int\n", NS_ERR_SCHEMA, 1, 1, "unknown key 'colums'", NULL},
	{"columns:\n  - a: int\nname: a\nname: b\n", NS_ERR_SCHEMA, 4, 1, "appears twice", NULL},
	{"[a]: 1\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 1, "plain words", NULL},
	/* columns */
	{"columns: []\n", NS_ERR_SCHEMA, 1, 10, "'columns' is empty", NULL},
	{"columns: x\n", NS_ERR_SCHEMA, 1, 10, "must be a list of columns", NULL},
	{"columns:\n  - a\n", NS_ERR_SCHEMA, 2, 5, "a column is a mapping", NULL},
	{"columns:\n  - a: integer64\n", NS_ERR_SCHEMA, 2, 8, "unknown type 'integer64'", "a"},
	{"columns:\n  - a: [int]\n", NS_ERR_SCHEMA, 2, 8, "unknown type", "a"},
	{"columns:\n  - a: int\n  - a: float\n", NS_ERR_SCHEMA, 3, 5,
	 "column 'a' is defined twice (first at line 2)", "a"},
	{"columns:\n  - name: a\n    type: int\n    minimum: 0\n", NS_ERR_SCHEMA, 4, 5,
	 "unknown key 'minimum' in a column", NULL},
	{"columns:\n  - name: a\n", NS_ERR_SCHEMA, 2, 5, "has no 'type'", "a"},
	{"columns:\n  - type: int\n    min: 0\n", NS_ERR_SCHEMA, 2, 5, "has no 'name'", NULL},
	{"columns:\n  - name: \"\"\n    type: int\n", NS_ERR_SCHEMA, 2, 11, "empty", NULL},
	{"columns:\n  - name: \"a\\x01\"\n    type: int\n", NS_ERR_SCHEMA, 2, 11,
	 "control character", NULL},
	{"columns:\n  - name: \"a\\0b\"\n    type: int\n", NS_ERR_SCHEMA, 2, 11, "NUL", NULL},
	{"columns:\n  - name: a\n    type: float\n    min: 5\n    max: 3\n", NS_ERR_SCHEMA, 5, 10,
	 "min 5 is greater than max 3", "a"},
	{"columns:\n  - name: a\n    type: float\n    range: [2, 1.5]\n", NS_ERR_SCHEMA, 4, 12,
	 "min 2 is greater than max 1.5", "a"},
	{"columns:\n  - name: a\n    type: float\n    range: [1]\n", NS_ERR_SCHEMA, 4, 12,
	 "two numbers", "a"},
	{"columns:\n  - name: a\n    type: float\n    range: [0, 1]\n    min: 0\n", NS_ERR_SCHEMA,
	 4, 5, "either 'range' or 'min'", "a"},
	{"columns:\n  - name: a\n    type: float\n    min: abc\n", NS_ERR_SCHEMA, 4, 10,
	 "'min' must be a finite number, got 'abc'", "a"},
	{"columns:\n  - name: a\n    type: float\n    max: inf\n", NS_ERR_SCHEMA, 4, 10,
	 "finite number", "a"},
	{"columns:\n  - name: a\n    type: category\n    min: 0\n", NS_ERR_SCHEMA, 4, 5,
	 "'min' applies to int and float columns", "a"},
	{"columns:\n  - name: a\n    type: int\n    values: [1, 2.5]\n", NS_ERR_SCHEMA, 4, 17,
	 "2.5 is not an integer", "a"},
	{"columns:\n  - name: a\n    type: int\n    values: [1, x]\n", NS_ERR_SCHEMA, 4, 17,
	 "'x' is not a number", "a"},
	{"columns:\n  - name: a\n    type: float\n    values: [1, nan]\n", NS_ERR_SCHEMA, 4, 17,
	 "'nan' is not a number", "a"},
	{"columns:\n  - name: a\n    type: int\n    values: [1, 2, 1.0]\n", NS_ERR_SCHEMA, 4, 20,
	 "'1.0' is listed twice", "a"},
	{"columns:\n  - name: a\n    type: category\n    values: [x, y, x]\n", NS_ERR_SCHEMA, 4, 20,
	 "'x' is listed twice", "a"},
	{"columns:\n  - name: a\n    type: category\n    values: []\n", NS_ERR_SCHEMA, 4, 13,
	 "empty list", "a"},
	{"columns:\n  - name: a\n    type: category\n    values: x\n", NS_ERR_SCHEMA, 4, 13,
	 "must be a list", "a"},
	{"columns:\n  - name: a\n    type: int\n    max_missing: 1.5\n", NS_ERR_SCHEMA, 4, 18,
	 "between 0 and 1", "a"},
	{"columns:\n  - name: a\n    type: int\n    ignore: 1\n", NS_ERR_SCHEMA, 4, 13,
	 "true or false", "a"},
	{"columns:\n  - name: a\n    type: int\n    ignore: \"true\"\n", NS_ERR_SCHEMA, 4, 13,
	 "true or false", "a"},
	/* top-level values */
	{"name: a b\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 7, "name 'a b' must be", NULL},
	{"header: maybe\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 9, "true or false", NULL},
	{"delimiter: \",,\"\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 12, "one ASCII character",
	 NULL},
	{"delimiter: '\"'\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 12, "one ASCII character",
	 NULL},
	{"max_missing: 2\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 14, "between 0 and 1", NULL},
	{"na_values: NA\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 12, "must be a list", NULL},
	{"na_values: [[x]]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 13, "single value", NULL},
	/* target, classes, threat */
	{"target: x\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 9, "'x' is not a column", NULL},
	{"target: a\nignore: [a]\ncolumns:\n  - a: int\n  - b: int\n", NS_ERR_SCHEMA, 1, 9,
	 "cannot be ignored", "a"},
	{"target: null\nclasses: [a]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 2, 1, "need a target",
	 NULL},
	{"target: a\nclasses: [1, 2]\nthreat: 3\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 3, 9,
	 "threat '3' is not one of the classes", NULL},
	{"target: a\nclasses: [x, y]\nbenign: z\ncolumns:\n  - a: category\n", NS_ERR_SCHEMA, 3, 9,
	 "benign 'z' is not one of the classes", NULL},
	{"target: a\nthreat: \"1\"\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 2, 9, "needs 'classes'",
	 NULL},
	{"target: a\nclasses: [x, y]\nthreat: x\nbenign: y\ncolumns:\n  - a: category\n",
	 NS_ERR_SCHEMA, 4, 1, "not both", NULL},
	{"target: a\nclasses: [x, \"1\"]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 2, 11,
	 "'x' is not a number", "a"},
	{"target: a\nclasses: [\"1\", \"1.0\"]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 2, 16,
	 "listed twice", "a"},
	{"target: a\nclasses: [\"0.5\"]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 2, 11,
	 "not an integer", "a"},
	/* ignore and the reference lists */
	{"ignore: [b]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 10, "'b' is not a column", NULL},
	{"ignore: b\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA, 1, 9, "must be a list", NULL},
	{"numerical_columns: [a, c]\ncolumns:\n  - a: int\n  - b: int\n", NS_ERR_SCHEMA, 1, 24,
	 "'c' is not a column", NULL},
	{"numerical_columns: [a, b]\ncolumns:\n  - a: int\n  - b: object\n", NS_ERR_SCHEMA, 1, 24,
	 "its type is category", "b"},
	{"numerical_columns: [a]\ncategorical_columns: [a]\ncolumns:\n  - a: int\n", NS_ERR_SCHEMA,
	 2, 23, "both in numerical_columns and in categorical_columns", "a"},
};

static void test_errors(void **state)
{
	int n_bad = 0;
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct ns_schema *s = NULL;
		struct ns_diag d;
		char buf[1024];
		enum ns_status st = parse_str(c->yaml, &s, &d);
		ns_diag_format(&d, buf, sizeof(buf));
		if (st != c->status || d.line != c->line || d.column != c->column ||
		    !strstr(d.message, c->message) || (c->field && strcmp(d.field, c->field))) {
			fprintf(stderr, "case %zu: %s\n%s\n-> %s: %s (field '%s')\n", i, c->yaml,
				ns_status_name(c->status), ns_status_name(st), buf, d.field);
			n_bad++;
			ns_schema_free(s);
			continue;
		}
		assert_null(s);
		assert_int_equal(d.status, c->status);
		if (c->line)
			assert_string_equal(d.file, "t.yaml");
	}
	assert_int_equal(n_bad, 0);
}

static void test_limits(void **state)
{
	struct ns__buf b;
	struct ns_schema *s = NULL;
	struct ns_diag d;
	(void)state;
	/* Size. */
	{
		size_t n = ((size_t)16 << 20) + 1;
		char *big = malloc(n);
		assert_non_null(big);
		memset(big, ' ', n);
		assert_int_equal(ns_schema_parse(big, n, "big", &s, &d), NS_ERR_LIMIT);
		assert_non_null(strstr(d.message, "larger than"));
		free(big);
	}
	/* 65536 columns are fine, 65537 are not. */
	for (int extra = 0; extra <= 1; extra++) {
		ns__buf_init(&b, 0);
		assert_int_equal(ns__buf_printf(&b, "columns: {"), NS_OK);
		for (int i = 0; i < 65536 + extra; i++)
			assert_int_equal(ns__buf_printf(&b, "%sc%d: int", i ? ", " : "", i), NS_OK);
		assert_int_equal(ns__buf_printf(&b, "}\n"), NS_OK);
		ns_diag_clear(&d);
		if (extra) {
			assert_int_equal(ns_schema_parse(b.data, b.len, "t", &s, &d), NS_ERR_LIMIT);
			assert_int_equal(d.line, 1);
			assert_int_equal(d.column, 10);
		} else {
			assert_int_equal(ns_schema_parse(b.data, b.len, "t", &s, &d), NS_OK);
			assert_int_equal(s->n_columns, 65536);
			ns_schema_free(s);
			s = NULL;
		}
		ns__buf_fini(&b);
	}
	/* 100000 allowed values are fine, 100001 are not. */
	for (int extra = 0; extra <= 1; extra++) {
		ns__buf_init(&b, 0);
		assert_int_equal(ns__buf_printf(&b, "columns:\n  - name: a\n    type: int\n"
						    "    values: ["),
				 NS_OK);
		for (int i = 0; i < 100000 + extra; i++)
			assert_int_equal(ns__buf_printf(&b, "%s%d", i ? "," : "", i), NS_OK);
		assert_int_equal(ns__buf_printf(&b, "]\n"), NS_OK);
		ns_diag_clear(&d);
		if (extra) {
			assert_int_equal(ns_schema_parse(b.data, b.len, "t", &s, &d), NS_ERR_LIMIT);
			assert_int_equal(d.line, 4);
			assert_int_equal(d.column, 13);
		} else {
			assert_int_equal(ns_schema_parse(b.data, b.len, "t", &s, &d), NS_OK);
			assert_int_equal(s->columns[0].n_allowed, 100000);
			ns_schema_free(s);
			s = NULL;
		}
		ns__buf_fini(&b);
	}
	/* Nesting depth. */
	ns__buf_init(&b, 0);
	assert_int_equal(ns__buf_printf(&b, "x: "), NS_OK);
	for (int i = 0; i < 100; i++)
		assert_int_equal(ns__buf_append(&b, "[", 1), NS_OK);
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_parse(b.data, b.len, "t", &s, &d), NS_ERR_LIMIT);
	assert_non_null(strstr(d.message, "nested"));
	ns__buf_fini(&b);
	/* A "billion laughs" document is refused at its first alias. */
	ns_diag_clear(&d);
	assert_int_equal(parse_str("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n", &s, &d),
			 NS_ERR_SCHEMA);
	assert_int_equal(d.line, 2);
	assert_null(s);
}

static void test_round_trip_bundled(void **state)
{
	struct ns_schema *s;
	char h1[65], h2[65];
	(void)state;
	s = load(PHISHING_SCHEMA);
	check_round_trip(s);
	assert_int_equal(ns_schema_hash(s, h1), NS_OK);
	assert_int_equal(strlen(h1), 64);
	ns_schema_free(s);
	/* Stable: loading again gives the same hash. */
	s = load(PHISHING_SCHEMA);
	assert_int_equal(ns_schema_hash(s, h2), NS_OK);
	assert_string_equal(h1, h2);
	ns_schema_free(s);
	s = load(NSL_KDD_SCHEMA);
	check_round_trip(s);
	assert_int_equal(ns_schema_hash(s, h2), NS_OK);
	assert_string_not_equal(h1, h2);
	ns_schema_free(s);
}

/* The same schema written differently hashes alike; a real change does not. */
static void test_hash_identity(void **state)
{
	struct ns_schema *a, *b;
	char ha[65], hb[65];
	(void)state;
	a = must_parse("columns:\n  - a: int\n  - b: float\n");
	b = must_parse(
		"# comment\nheader: yes\ndelimiter: ','\nmax_missing: 1.0\n"
		"na_values: [\"\", na, NA, N/A, n/a, \"?\", NaN, nan, \"null\", NULL, None]\n"
		"target: b\n"
		"columns:\n  - {name: a, type: int64, max_missing: 1}\n"
		"  - {name: b, type: double, ignore: false}\n");
	assert_int_equal(ns_schema_hash(a, ha), NS_OK);
	assert_int_equal(ns_schema_hash(b, hb), NS_OK);
	assert_string_equal(ha, hb);
	check_schemas_equal(a, b);
	ns_schema_free(b);
	b = must_parse("columns:\n  - a: int\n  - b: int\n");
	assert_int_equal(ns_schema_hash(b, hb), NS_OK);
	assert_string_not_equal(ha, hb);
	ns_schema_free(b);
	/* The note is a comment: written by to_yaml, not part of the hash. */
	a->note = ns_strdup("line one\nline\ttwo\r\n\nend");
	assert_non_null(a->note);
	assert_int_equal(ns_schema_hash(a, hb), NS_OK);
	assert_string_equal(ha, hb);
	{
		char *y;
		size_t n;
		assert_int_equal(ns_schema_to_yaml(a, &y, &n), NS_OK);
		assert_memory_equal(y, "# line one\n# line two\n#\n# end\nheader: true\n", 41);
		ns_free(y);
	}
	check_round_trip(a);
	ns_schema_free(a);
}

/* ---- random schemas ---------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static unsigned rndn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Appends a random string as a YAML double-quoted scalar written by the test's
 * own escaper (\u for everything outside ASCII, \x for controls). */
static void rand_string(struct ns__buf *b, bool controls, unsigned tag)
{
	static const uint32_t cps[] = {'a',    'Z',  '0',  ' ',    '"',    '\\',   '\'',   '#',
				       ':',    ',',  '[',  '{',    '-',    '&',    '*',    '!',
				       0xE9,   0x85, 0xA0, 0x2028, 0x2029, 0xFEFF, 0x4E2D, 0x1F600,
				       0xFFFD, '\t', '\n', '\r',   0x01,   0x7F};
	unsigned n = rndn(6);
	ns__buf_append(b, "\"", 1);
	for (unsigned i = 0; i < n; i++) {
		uint32_t cp = cps[rndn(sizeof(cps) / sizeof(cps[0]))];
		if (!controls && (cp < 0x20 || cp == 0x7F))
			cp = 'x';
		if (cp == '"' || cp == '\\')
			ns__buf_printf(b, "\\%c", (char)cp);
		else if (cp < 0x20 || cp == 0x7F)
			ns__buf_printf(b, "\\x%02x", (unsigned)cp);
		else if (cp < 0x80)
			ns__buf_printf(b, "%c", (char)cp);
		else if (cp <= 0xFFFF)
			ns__buf_printf(b, "\\u%04x", (unsigned)cp);
		else
			ns__buf_printf(b, "\\U%08x", (unsigned)cp);
	}
	ns__buf_printf(b, "%u\"", tag); /* a unique tail keeps lists free of duplicates */
}

static void rand_number(struct ns__buf *b, bool integral, unsigned i)
{
	if (integral)
		ns__buf_printf(b, "%d", (int)(i * 7) - 20);
	else
		ns__buf_printf(b, "%.17g", (double)i + (double)(rnd() % 1000000) / 1048576.0 - 3);
}

/* Copies what was appended to `b` since `from` into `lit` (a YAML literal). */
static void take_literal(const struct ns__buf *b, size_t from, char *lit, size_t size)
{
	size_t n = b->len - from;
	assert_true(n < size);
	memcpy(lit, b->data + from, n);
	lit[n] = '\0';
}

static void gen_schema(struct ns__buf *b)
{
	unsigned n_cols = 1 + rndn(8), target = rndn(n_cols + 1);
	enum ns_col_type types[8];
	char names[8][256];
	if (rndn(2))
		ns__buf_printf(b, "name: ds_%u\n", rndn(1000));
	ns__buf_printf(b, "header: %s\n", rndn(2) ? "true" : "false");
	ns__buf_printf(b, "delimiter: \"%s\"\n",
		       (const char *[]){",", ";", "\\t", "|", " "}[rndn(5)]);
	if (rndn(2)) {
		unsigned n = rndn(4);
		ns__buf_printf(b, "na_values: [");
		for (unsigned i = 0; i < n; i++) {
			ns__buf_printf(b, "%s", i ? ", " : "");
			rand_string(b, true, i);
		}
		ns__buf_printf(b, "]\n");
	}
	if (rndn(2))
		ns__buf_printf(b, "max_missing: %.17g\n", (double)rndn(1000) / 999.0);
	ns__buf_printf(b, "columns:\n");
	for (unsigned i = 0; i < n_cols; i++) {
		size_t from;
		types[i] = (enum ns_col_type)rndn(3);
		ns__buf_printf(b, "  - name: ");
		from = b->len;
		rand_string(b, false, i);
		take_literal(b, from, names[i], sizeof(names[i]));
		ns__buf_printf(b, "\n    type: %s\n", ns_col_type_name(types[i]));
		if (rndn(2)) {
			unsigned n = 1 + rndn(5);
			ns__buf_printf(b, "    values: [");
			for (unsigned k = 0; k < n; k++) {
				ns__buf_printf(b, "%s", k ? ", " : "");
				if (types[i] == NS_TYPE_CATEGORY)
					rand_string(b, true, k);
				else
					rand_number(b, types[i] == NS_TYPE_INT, k);
			}
			ns__buf_printf(b, "]\n");
		}
		if (types[i] != NS_TYPE_CATEGORY && rndn(2)) {
			double lo = (double)rndn(100) - 50.5, hi = lo + (double)rndn(100) / 3.0;
			if (rndn(2))
				ns__buf_printf(b, "    range: [%.17g, %.17g]\n", lo, hi);
			else if (rndn(2))
				ns__buf_printf(b, "    min: %.17g\n", lo);
			else
				ns__buf_printf(b, "    max: %.17g\n", hi);
		}
		if (rndn(3) == 0)
			ns__buf_printf(b, "    max_missing: %.17g\n", (double)rndn(1000) / 999.0);
		if (i != target && rndn(4) == 0)
			ns__buf_printf(b, "    ignore: true\n");
	}
	if (target == n_cols) {
		ns__buf_printf(b, "target: null\n");
		return;
	}
	ns__buf_printf(b, "target: %s\n", names[target]);
	if (rndn(3)) {
		unsigned n = 1 + rndn(5), pick = rndn(n);
		char lit[256] = "";
		ns__buf_printf(b, "classes: [");
		for (unsigned k = 0; k < n; k++) {
			size_t from;
			ns__buf_printf(b, "%s", k ? ", " : "");
			from = b->len;
			if (types[target] == NS_TYPE_CATEGORY)
				rand_string(b, true, k);
			else
				rand_number(b, types[target] == NS_TYPE_INT, k);
			if (k == pick)
				take_literal(b, from, lit, sizeof(lit));
		}
		ns__buf_printf(b, "]\n");
		switch (rndn(3)) {
		case 0:
			ns__buf_printf(b, "threat: %s\n", lit);
			break;
		case 1:
			ns__buf_printf(b, "benign: %s\n", lit);
			break;
		default:
			break;
		}
	}
}

static void test_round_trip_random(void **state)
{
	(void)state;
	for (int i = 0; i < 400; i++) {
		struct ns__buf b;
		struct ns_schema *s;
		ns__buf_init(&b, 0);
		gen_schema(&b);
		s = must_parse(b.data);
		check_round_trip(s);
		ns_schema_free(s);
		ns__buf_fini(&b);
	}
}

/* Text the emitter must escape, set directly in the struct. */
static void test_emit_escapes(void **state)
{
	struct ns_schema *s = must_parse("target: a\nclasses: [x, y]\ncolumns:\n  - a: category\n");
	char *y;
	size_t n;
	(void)state;
	ns_free(s->classes[0]);
	s->classes[0] = ns_strdup("q\"b\\s\x01\x1b\x7f\t\r\n"
				  "\xc2\x85\xe2\x80\xa8\xef\xbb\xbf\xc3\xa9");
	assert_int_equal(ns_schema_to_yaml(s, &y, &n), NS_OK);
	assert_non_null(strstr(y, "classes: [\"q\\\"b\\\\s\\x01\\x1B\\x7F\\t\\r\\n\\x85\\u2028"
				  "\\uFEFF\xc3\xa9\", \"y\"]"));
	ns_free(y);
	check_round_trip(s);
	/* Bytes that are not UTF-8 cannot be written as YAML. */
	ns_free(s->classes[0]);
	s->classes[0] = ns_strdup("bad\xff");
	assert_int_equal(ns_schema_to_yaml(s, &y, &n), NS_ERR_INVALID);
	assert_int_equal(ns_schema_hash(s, (char[65]){0}), NS_ERR_INVALID);
	/* An inconsistent struct is refused, not written. */
	ns_free(s->classes[0]);
	s->classes[0] = ns_strdup("x");
	s->threat = 5;
	assert_int_equal(ns_schema_to_yaml(s, &y, &n), NS_ERR_INVALID);
	s->threat = -1;
	ns_schema_free(s);
}

static void test_save_load(void **state)
{
	struct ns_schema *s = load(NSL_KDD_SCHEMA), *back;
	char path[512];
	struct ns_diag d;
	(void)state;
	snprintf(path, sizeof(path), "%s/schema_saved.yaml", NETSEC_TEST_TMP);
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_save(s, path, &d), NS_OK);
	back = load(path);
	check_schemas_equal(s, back);
	ns_schema_free(back);
	unlink(path);
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_save(s, "/nonexistent-dir/s.yaml", &d), NS_ERR_IO);
	assert_string_equal(d.file, "/nonexistent-dir/s.yaml");
	ns_diag_clear(&d);
	back = NULL;
	assert_int_equal(ns_schema_load("/nonexistent-dir/s.yaml", &back, &d), NS_ERR_IO);
	assert_null(back);
	assert_int_equal(ns_schema_load(NULL, &back, &d), NS_ERR_INVALID);
	assert_int_equal(ns_schema_parse(NULL, 3, "x", &back, &d), NS_ERR_INVALID);
	ns_schema_free(s);
	ns_schema_free(NULL);
	assert_string_equal(ns_col_type_name(NS_TYPE_FLOAT), "float");
}

/* Every allocation made while parsing may fail: NS_ERR_NOMEM, nothing leaked. */
static void test_parse_alloc_failures(void **state)
{
	char *text = NULL;
	size_t len = 0;
	struct ns_diag d;
	const char *paths[] = {PHISHING_SCHEMA, NSL_KDD_SCHEMA};
	(void)state;
	for (size_t k = 0; k < 2; k++) {
		long n;
		assert_int_equal(ns_read_file(paths[k], 1 << 20, &text, &len, &d), NS_OK);
		for (n = 0;; n++) {
			struct ns_schema *s = NULL;
			enum ns_status st;
			ns_alloc_fail_after(n);
			st = ns_schema_parse(text, len, "t", &s, &d);
			ns_alloc_fail_reset();
			if (st == NS_OK) {
				char *y = NULL;
				long m;
				/* And the writer, on the parsed schema. */
				for (m = 0;; m++) {
					size_t yl;
					ns_alloc_fail_after(m);
					st = ns_schema_to_yaml(s, &y, &yl);
					ns_alloc_fail_reset();
					if (st == NS_OK)
						break;
					assert_int_equal(st, NS_ERR_NOMEM);
				}
				assert_true(m > 0);
				ns_free(y);
				ns_schema_free(s);
				break;
			}
			assert_int_equal(st, NS_ERR_NOMEM);
			assert_null(s);
		}
		assert_true(n > 10);
		ns_free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_phishing),
		cmocka_unit_test(test_load_nsl_kdd),
		cmocka_unit_test(test_reference_shape),
		cmocka_unit_test(test_full_shape),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_round_trip_bundled),
		cmocka_unit_test(test_hash_identity),
		cmocka_unit_test(test_round_trip_random),
		cmocka_unit_test(test_emit_escapes),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_parse_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
