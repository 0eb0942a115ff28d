/*
 * tests/unit/data/test_infer.c - schema inference: the bundled data sets give
 * their bundled schemas, header and delimiter detection, types, levels,
 * bounds, the target and its classes, the threat never guessed, errors and
 * allocation failures.
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

#include "netsec/schema.h"
#include "unit/data/schema_check.h"

#define PHISHING_CSV NETSEC_SOURCE_DIR "/data/phisingData.csv"
#define PHISHING_SCHEMA NETSEC_SOURCE_DIR "/data/schema.yaml"
#define NSL_KDD_SCHEMA NETSEC_SOURCE_DIR "/data/nsl_kdd.schema.yaml"

static struct ns_schema *infer_text(const char *text, const struct ns_infer_params *p)
{
	struct ns_schema *s = NULL;
	struct ns_diag d;
	char path[512], buf[1024];
	write_temp(path, sizeof(path), "infer.csv", text);
	ns_diag_clear(&d);
	if (ns_schema_infer_file(path, p, &s, &d) != NS_OK) {
		fprintf(stderr, "%s\n", ns_diag_format(&d, buf, sizeof(buf)));
		fail();
	}
	unlink(path);
	check_round_trip(s);
	return s;
}

static enum ns_status infer_fails(const char *text, const struct ns_infer_params *p,
				  struct ns_diag *d)
{
	struct ns_schema *s = NULL;
	char path[512];
	enum ns_status st;
	write_temp(path, sizeof(path), "infer.csv", text);
	ns_diag_clear(d);
	st = ns_schema_infer_file(path, p, &s, d);
	assert_int_not_equal(st, NS_OK);
	assert_null(s);
	unlink(path);
	return st;
}

/* The phishing data with --target Result --threat=-1 gives data/schema.yaml exactly. */
static void test_phishing(void **state)
{
	struct ns_infer_params p = ns_infer_params_default();
	struct ns_schema *inferred = NULL, *bundled = NULL;
	struct ns_diag d;
	char *yaml;
	(void)state;
	p.target = "Result";
	p.threat = "-1";
	p.name = "phishing";
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_infer_file(PHISHING_CSV, &p, &inferred, &d), NS_OK);
	assert_int_equal(ns_schema_load(PHISHING_SCHEMA, &bundled, &d), NS_OK);
	check_schemas_equal(inferred, bundled);
	/* The note says how it was made; it is a comment in the YAML. */
	assert_non_null(inferred->note);
	assert_non_null(strstr(inferred->note, "11055 records"));
	assert_null(strstr(inferred->note, "never guesses"));
	assert_int_equal(ns_schema_to_yaml(inferred, &yaml, NULL), NS_OK);
	assert_memory_equal(yaml, "# Inferred by netsec from phisingData.csv", 41);
	ns_free(yaml);
	ns_schema_free(inferred);
	ns_schema_free(bundled);

	/* Without params: header detected, target Result by name, no threat (said so). */
	assert_int_equal(ns_schema_infer_file(PHISHING_CSV, NULL, &inferred, &d), NS_OK);
	assert_true(inferred->header);
	assert_int_equal(inferred->target, 30);
	assert_int_equal(inferred->n_classes, 2);
	assert_int_equal(inferred->threat, -1);
	assert_int_equal(inferred->benign, -1);
	assert_null(inferred->name);
	assert_non_null(
		strstr(inferred->note, "inference never guesses which class is the threat"));
	check_round_trip(inferred);
	ns_schema_free(inferred);
}

/* NSL-KDD with names, benign normal and difficulty ignored: equivalent to the bundled
 * schema (same columns, types, target, classes, benign class, ignored columns), and
 * the data is valid under both.  The bundled one is looser on purpose: it bounds
 * features by their definitions instead of listing the levels seen in this file. */
static void test_nsl_kdd(void **state)
{
	struct ns_infer_params p = ns_infer_params_default();
	const char *ignore[] = {"difficulty"};
	struct ns_schema *inferred = NULL, *bundled = NULL;
	struct ns_validate_summary sum;
	struct ns_diag d;
	(void)state;
	if (!file_exists(NSL_KDD_PATH)) {
		print_message("skipped: %s is absent\n", NSL_KDD_PATH);
		return;
	}
	p.names = nsl_kdd_names;
	p.n_names = 43;
	p.benign = "normal";
	p.ignore = ignore;
	p.n_ignore = 1;
	p.name = "nsl_kdd";
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_infer_file(NSL_KDD_PATH, &p, &inferred, &d), NS_OK);
	assert_int_equal(ns_schema_load(NSL_KDD_SCHEMA, &bundled, &d), NS_OK);
	assert_string_equal(inferred->name, bundled->name);
	assert_int_equal(inferred->header, bundled->header);
	assert_int_equal(inferred->delimiter, bundled->delimiter);
	assert_int_equal(inferred->n_columns, bundled->n_columns);
	for (size_t i = 0; i < bundled->n_columns; i++) {
		assert_string_equal(inferred->columns[i].name, bundled->columns[i].name);
		assert_int_equal(inferred->columns[i].type, bundled->columns[i].type);
		assert_int_equal(inferred->columns[i].ignore, bundled->columns[i].ignore);
	}
	assert_int_equal(inferred->target, bundled->target);
	assert_int_equal(inferred->n_classes, bundled->n_classes);
	for (size_t k = 0; k < bundled->n_classes; k++)
		assert_string_equal(inferred->classes[k], bundled->classes[k]);
	assert_int_equal(inferred->benign, bundled->benign);
	assert_int_equal(inferred->threat, -1);
	/* Details: levels listed, small int sets listed, min 0 elsewhere. */
	assert_int_equal(inferred->columns[2].n_allowed, 66);
	assert_string_equal(inferred->columns[2].allowed[0], "IRC");
	assert_int_equal(inferred->columns[7].n_allowed, 3); /* wrong_fragment: 0, 1, 3 */
	assert_string_equal(inferred->columns[7].allowed[2], "3");
	assert_true(inferred->columns[0].has_min && inferred->columns[0].min == 0);
	assert_false(inferred->columns[0].has_max);
	assert_int_equal(inferred->columns[24].type, NS_TYPE_FLOAT);
	assert_true(inferred->columns[24].has_min);
	ns_diag_clear(&d);
	assert_int_equal(ns_validate_file(NSL_KDD_PATH, inferred, NULL, NULL, NULL, &sum, &d),
			 NS_OK);
	assert_int_equal(sum.n_valid, 25192);
	ns_schema_free(inferred);
	ns_schema_free(bundled);
}

static void test_header_detection(void **state)
{
	struct ns_infer_params p = ns_infer_params_default();
	struct ns_schema *s;
	(void)state;
	/* Numbers everywhere: no header, generated names, last column the target. */
	s = infer_text("1,2,3\n4,5,6\n", NULL);
	assert_false(s->header);
	assert_string_equal(s->columns[0].name, "column_1");
	assert_string_equal(s->columns[2].name, "column_3");
	assert_int_equal(s->target, 2);
	ns_schema_free(s);
	/* Text over numbers: a header. */
	s = infer_text("x,y\n1,2\n", NULL);
	assert_true(s->header);
	assert_string_equal(s->columns[1].name, "y");
	ns_schema_free(s);
	/* A text column under a text header; one numeric column decides. */
	s = infer_text("proto,bytes\ntcp,1\nudp,2\n", NULL);
	assert_true(s->header);
	assert_int_equal(s->columns[0].type, NS_TYPE_CATEGORY);
	ns_schema_free(s);
	/* A first record with a missing marker or a number is data. */
	s = infer_text("a,NA\nb,c\n", NULL);
	assert_false(s->header);
	ns_schema_free(s);
	s = infer_text("a,1\nb,2\n", NULL);
	assert_false(s->header);
	ns_schema_free(s);
	/* Repeated names: not a header. */
	s = infer_text("a,a\n1,2\n", NULL);
	assert_false(s->header);
	assert_int_equal(s->columns[0].type, NS_TYPE_CATEGORY);
	ns_schema_free(s);
	/* Text only: a header when its values do not occur again below. */
	s = infer_text("proto,flag\ntcp,SF\nudp,S0\ntcp,SF\n", NULL);
	assert_true(s->header);
	ns_schema_free(s);
	s = infer_text("tcp,SF\nudp,S0\ntcp,SF\n", NULL);
	assert_false(s->header);
	ns_schema_free(s);
	/* Told. */
	p.header = NS_HEADER_NO;
	s = infer_text("x,y\n1,2\n", &p);
	assert_false(s->header);
	assert_int_equal(s->columns[0].type, NS_TYPE_CATEGORY);
	ns_schema_free(s);
	p.header = NS_HEADER_YES;
	s = infer_text("1,2\n3,4\n", &p);
	assert_true(s->header);
	assert_string_equal(s->columns[0].name, "1");
	ns_schema_free(s);
	/* Names with a header: they must be the header's. */
	{
		const char *names[] = {"x", "y"};
		struct ns_diag d;
		p.header = NS_HEADER_AUTO;
		p.names = names;
		p.n_names = 2;
		s = infer_text("x,y\n1,2\n", &p);
		assert_true(s->header);
		ns_schema_free(s);
		s = infer_text("1,2\n3,4\n", &p);
		assert_false(s->header);
		assert_string_equal(s->columns[1].name, "y");
		ns_schema_free(s);
		assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
		assert_non_null(strstr(d.message, "has a header"));
		p.n_names = 1;
		assert_int_equal(infer_fails("1,2\n3,4\n", &p, &d), NS_ERR_INVALID);
		assert_non_null(strstr(d.message, "1 names given, but the file has 2 fields"));
	}
}

static void test_delimiters(void **state)
{
	struct ns_infer_params p = ns_infer_params_default();
	struct ns_schema *s;
	(void)state;
	s = infer_text("a;b;c\n1;2,5;3\n4;5,5;6\n", NULL);
	assert_int_equal(s->delimiter, ';');
	assert_int_equal(s->n_columns, 3);
	assert_int_equal(s->columns[1].type, NS_TYPE_CATEGORY); /* "2,5" is not a number here */
	ns_schema_free(s);
	s = infer_text("a\tb\n1\t2\n", NULL);
	assert_int_equal(s->delimiter, '\t');
	ns_schema_free(s);
	s = infer_text("a|b|c|d\n1|2|3|4\n", NULL);
	assert_int_equal(s->delimiter, '|');
	ns_schema_free(s);
	/* Quoted delimiters do not count. */
	s = infer_text("\"a;b\",c\n\"1;2\",3\n", NULL);
	assert_int_equal(s->delimiter, ',');
	assert_string_equal(s->columns[0].name, "a;b");
	ns_schema_free(s);
	/* One column: ',' by default. */
	s = infer_text("a\n1\n", NULL);
	assert_int_equal(s->delimiter, ',');
	assert_int_equal(s->n_columns, 1);
	ns_schema_free(s);
	p.delimiter = ';';
	s = infer_text("a,b;c\n1,2;3\n", &p);
	assert_int_equal(s->n_columns, 2);
	assert_string_equal(s->columns[0].name, "a,b");
	ns_schema_free(s);
}

static void test_types_and_levels(void **state)
{
	struct ns_infer_params p = ns_infer_params_default();
	struct ns_schema *s;
	(void)state;
	p.max_levels = 3;
	s = infer_text("small,wide,neg,frac,cat,mixed,empty,inf,label\n"
		       "1,10,-1,0.5,b,1,,1,y\n"
		       "0,20,2,1,a,x,NA,inf,n\n"
		       "1,30,3,2,c,2.50,,2,y\n"
		       "NA,40,4,3,a,1.0,?,3,n\n",
		       &p);
	assert_true(s->header);
	assert_int_equal(s->n_columns, 9);
	/* small: int, values listed (at most max_levels), sorted. */
	assert_int_equal(s->columns[0].type, NS_TYPE_INT);
	assert_int_equal(s->columns[0].n_allowed, 2);
	assert_string_equal(s->columns[0].allowed[0], "0");
	assert_false(s->columns[0].has_min);
	/* wide: too many levels, all >= 0: min 0. */
	assert_int_equal(s->columns[1].type, NS_TYPE_INT);
	assert_int_equal(s->columns[1].n_allowed, 0);
	assert_true(s->columns[1].has_min && s->columns[1].min == 0);
	/* neg: no lower bound. */
	assert_int_equal(s->columns[2].n_allowed, 0);
	assert_false(s->columns[2].has_min);
	/* frac: float with min 0. */
	assert_int_equal(s->columns[3].type, NS_TYPE_FLOAT);
	assert_true(s->columns[3].has_min);
	/* cat: category, levels sorted. */
	assert_int_equal(s->columns[4].type, NS_TYPE_CATEGORY);
	assert_int_equal(s->columns[4].n_allowed, 3);
	assert_string_equal(s->columns[4].allowed[0], "a");
	assert_string_equal(s->columns[4].allowed[2], "c");
	/* mixed: numbers then text: a category with every spelling (a second pass). */
	assert_int_equal(s->columns[5].type, NS_TYPE_CATEGORY);
	assert_int_equal(s->columns[5].n_allowed, 4);
	assert_string_equal(s->columns[5].allowed[0], "1");
	assert_string_equal(s->columns[5].allowed[1], "1.0");
	assert_string_equal(s->columns[5].allowed[2], "2.50");
	assert_string_equal(s->columns[5].allowed[3], "x");
	/* empty: all missing: float, nothing else. */
	assert_int_equal(s->columns[6].type, NS_TYPE_FLOAT);
	assert_false(s->columns[6].has_min);
	/* inf: a float (inf is not an integer). */
	assert_int_equal(s->columns[7].type, NS_TYPE_FLOAT);
	/* label: the target by name; its classes sorted; no values listed for it. */
	assert_int_equal(s->target, 8);
	assert_int_equal(s->n_classes, 2);
	assert_string_equal(s->classes[0], "n");
	assert_string_equal(s->classes[1], "y");
	assert_int_equal(s->columns[8].n_allowed, 0);
	assert_non_null(strstr(s->note, "never guesses"));
	assert_true(s->max_missing == 1.0);
	ns_schema_free(s);

	/* Numeric classes: distinct by value, canonical, sorted by value. */
	p.threat = "1";
	s = infer_text("x,class\n1,1\n2,-1\n3,1.0\n4,10\n", &p);
	assert_int_equal(s->target, 1);
	assert_int_equal(s->n_classes, 3);
	assert_string_equal(s->classes[0], "-1");
	assert_string_equal(s->classes[1], "1");
	assert_string_equal(s->classes[2], "10");
	assert_int_equal(s->threat, 1);
	assert_null(strstr(s->note, "never guesses"));
	ns_schema_free(s);
	p.threat = NULL;
	p.benign = "0";
	p.target = "x";
	s = infer_text("x,y\n0,1\n1,2\n2,3\n", &p);
	assert_int_equal(s->target, 0);
	assert_int_equal(s->benign, 0);
	assert_int_equal(s->columns[1].n_allowed, 3);
	assert_true(ns_schema_class_is_threat(s, 2));
	ns_schema_free(s);
}

static void test_errors(void **state)
{
	struct ns_infer_params p = ns_infer_params_default();
	struct ns_diag d;
	struct ns_schema *s = NULL;
	(void)state;
	assert_int_equal(infer_fails("", NULL, &d), NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "no data records"));
	assert_int_equal(infer_fails("a,b\n", NULL, &d), NS_ERR_PARSE);
	assert_int_equal(infer_fails("a,b\n1,2\n3\n", NULL, &d), NS_ERR_PARSE);
	assert_int_equal(d.line, 3);
	assert_int_equal(d.column, 2);
	assert_non_null(strstr(d.message, "1 fields"));
	assert_int_equal(infer_fails("a,b\n1,\"2\n", NULL, &d), NS_ERR_PARSE);
	assert_int_equal(infer_fails("a,b\n1,caf\xe9\n", NULL, &d), NS_ERR_PARSE);
	assert_int_equal(d.line, 2);
	assert_int_equal(d.column, 2);
	assert_non_null(strstr(d.message, "UTF-8"));
	p.header = NS_HEADER_YES;
	assert_int_equal(infer_fails(",b\n1,2\n", &p, &d), NS_ERR_PARSE);
	assert_int_equal(d.column, 1);
	assert_int_equal(infer_fails("a,a\n1,2\n", &p, &d), NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "appears twice"));
	p.header = NS_HEADER_AUTO;
	p.target = "nope";
	assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
	p.target = NULL;
	p.threat = "7";
	assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "'7' is not among"));
	p.benign = "2";
	assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
	p.threat = p.benign = NULL;
	p.name = "bad name";
	assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
	p.name = NULL;
	{
		const char *ignore[] = {"b"};
		p.ignore = ignore;
		p.n_ignore = 1;
		p.target = "b";
		assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
		p.target = NULL;
		/* An ignored column is never the default target. */
		s = infer_text("a,b\n1,2\n", &p);
		assert_int_equal(s->target, 0);
		assert_true(s->columns[1].ignore);
		ns_schema_free(s);
		ignore[0] = "c";
		assert_int_equal(infer_fails("a,b\n1,2\n", &p, &d), NS_ERR_INVALID);
		p.ignore = NULL;
		p.n_ignore = 0;
	}
	p.max_category_levels = 3;
	assert_int_equal(infer_fails("a,b\n1,w\n2,x\n3,y\n4,z\n", &p, &d), NS_ERR_LIMIT);
	assert_int_equal(d.line, 5);
	assert_int_equal(d.column, 2);
	assert_string_equal(d.field, "b");
	p.target = "a";
	assert_int_equal(infer_fails("a,b\n1,w\n2,w\n3,w\n4,w\n", &p, &d), NS_ERR_LIMIT);
	assert_non_null(strstr(d.message, "not a class label"));
	/* CSV syntax in the first record. */
	assert_int_equal(infer_fails("a,\"b\n", NULL, &d), NS_ERR_PARSE);
	assert_int_equal(d.line, 1);
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_infer_file("/nonexistent-dir/x.csv", NULL, &s, &d), NS_ERR_IO);
	assert_string_equal(d.file, "/nonexistent-dir/x.csv");
}

/* A header longer than the first MiB that is sniffed. */
static void test_wide(void **state)
{
	char *text = malloc(3 << 20), *w = text;
	struct ns_schema *s;
	(void)state;
	assert_non_null(text);
	for (int i = 0; i < 50000; i++)
		w += snprintf(w, 32, "%sa_rather_long_name_%05d", i ? "," : "", i);
	*w++ = '\n';
	for (int i = 0; i < 50000; i++)
		w += snprintf(w, 8, "%s%d", i ? "," : "", i % 3);
	*w++ = '\n';
	*w = '\0';
	assert_true(strlen(text) > (1u << 20));
	s = infer_text(text, NULL);
	assert_true(s->header);
	assert_int_equal(s->n_columns, 50000);
	assert_string_equal(s->columns[49999].name, "a_rather_long_name_49999");
	assert_int_equal(s->columns[2].type, NS_TYPE_INT);
	ns_schema_free(s);
	free(text);
}

static void test_alloc_failures(void **state)
{
	char path[512];
	long n;
	(void)state;
	write_temp(path, sizeof(path), "infer_nomem.csv",
		   "a,b,c,d,label\n1,x,0.5,1,y\n2,y,1,q,n\n3,x,,2,y\n");
	for (n = 0;; n++) {
		struct ns_schema *s = NULL;
		struct ns_diag d;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = ns_schema_infer_file(path, NULL, &s, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			assert_int_equal(s->n_columns, 5);
			assert_int_equal(s->columns[3].type, NS_TYPE_CATEGORY);
			ns_schema_free(s);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(s);
	}
	assert_true(n > 20);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_phishing),
		cmocka_unit_test(test_nsl_kdd),
		cmocka_unit_test(test_header_detection),
		cmocka_unit_test(test_delimiters),
		cmocka_unit_test(test_types_and_levels),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_wide),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
