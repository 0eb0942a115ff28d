/*
 * tests/unit/data/test_validator.c - the record validator on small crafted
 * files (every problem kind with its exact line, column and field), the
 * bundled data sets against their schemas, and reading CSV into a frame with
 * and without a schema.
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

#include "netsec/frame.h"
#include "netsec/schema.h"
#include "unit/data/schema_check.h"

#define PHISHING_CSV NETSEC_SOURCE_DIR "/data/phisingData.csv"
#define PHISHING_SCHEMA NETSEC_SOURCE_DIR "/data/schema.yaml"
#define NSL_KDD_SCHEMA NETSEC_SOURCE_DIR "/data/nsl_kdd.schema.yaml"

#define MAX_SEEN 64

struct seen {
	size_t n;
	enum ns_problem_kind kind[MAX_SEEN];
	uint64_t line[MAX_SEEN], column[MAX_SEEN];
	char field[MAX_SEEN][64];
	char message[MAX_SEEN][256];
};

static void collect(void *user, const struct ns_problem *p)
{
	struct seen *s = user;
	if (s->n == MAX_SEEN)
		return;
	s->kind[s->n] = p->kind;
	s->line[s->n] = p->line;
	s->column[s->n] = p->column;
	snprintf(s->field[s->n], sizeof(s->field[0]), "%s", p->field ? p->field : "");
	snprintf(s->message[s->n], sizeof(s->message[0]), "%s", p->message);
	s->n++;
}

static void dump(const struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		fprintf(stderr, "  %s %llu:%llu field '%s': %s\n", ns_problem_kind_name(s->kind[i]),
			(unsigned long long)s->line[i], (unsigned long long)s->column[i],
			s->field[i], s->message[i]);
}

/* Checks problem i: kind, line, column, field and a part of the message. */
static void expect(const struct seen *s, size_t i, enum ns_problem_kind kind, uint64_t line,
		   uint64_t column, const char *field, const char *message)
{
	if (i >= s->n || s->kind[i] != kind || s->line[i] != line || s->column[i] != column ||
	    strcmp(s->field[i], field) != 0 || !strstr(s->message[i], message)) {
		fprintf(stderr, "problem %zu: want %s %llu:%llu field '%s': ...%s...; got:\n", i,
			ns_problem_kind_name(kind), (unsigned long long)line,
			(unsigned long long)column, field, message);
		dump(s);
		fail();
	}
}

/* Validates CSV `text` against schema `yaml`; problems in *seen. */
static enum ns_status run(const char *yaml, const char *text, const struct ns_validator_params *p,
			  struct seen *seen, struct ns_validate_summary *sum)
{
	struct ns_schema *s = must_parse(yaml);
	char path[512];
	struct ns_diag d;
	enum ns_status st;
	memset(seen, 0, sizeof(*seen));
	memset(sum, 0, sizeof(*sum));
	write_temp(path, sizeof(path), "validator.csv", text);
	ns_diag_clear(&d);
	st = ns_validate_file(path, s, p, collect, seen, sum, &d);
	if (st == NS_ERR_SCHEMA) {
		assert_string_equal(d.file, path);
		assert_true(sum->n_problems > 0);
	}
	unlink(path);
	ns_schema_free(s);
	return st;
}

static const char *const abc_schema = "target: c\n"
				      "classes: [\"0\", \"1\"]\n"
				      "columns:\n"
				      "  - name: a\n"
				      "    type: int\n"
				      "    values: [-1, 0, 1]\n"
				      "  - name: b\n"
				      "    type: float\n"
				      "    range: [0, 10]\n"
				      "  - name: c\n"
				      "    type: int\n"
				      "  - name: d\n"
				      "    type: category\n"
				      "    values: [x, y]\n";

static void test_valid_any_order(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	(void)state;
	/* Columns by name in any order; NA markers; inf in a float column is a number. */
	assert_int_equal(run(abc_schema,
			     "d,c,b,a\n"
			     "x,1,2.5,-1\n"
			     "y,0,,0\n"
			     "NA,1.0,1e1,1\n"
			     "\"x\",0,0,?\n",
			     NULL, &seen, &sum),
			 NS_OK);
	assert_int_equal(seen.n, 0);
	assert_int_equal(sum.n_records, 4);
	assert_int_equal(sum.n_valid, 4);
	assert_int_equal(sum.n_problems, 0);
	assert_int_equal(run("columns:\n  - a: float\n  - b: int\n", "a,b\ninf,1\n-inf,2\nNaN,3\n",
			     NULL, &seen, &sum),
			 NS_OK);
}

static void test_header_problems(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	struct ns_validator_params p = ns_validator_params_default();
	(void)state;
	/* A missing column, an unknown one, a duplicate name. */
	assert_int_equal(run(abc_schema, "a,b,e,c,b\n1,2,3,1,4\n", NULL, &seen, &sum),
			 NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 3);
	expect(&seen, 0, NS_PROBLEM_HEADER, 1, 3, "e", "column 'e' is not in the schema");
	expect(&seen, 1, NS_PROBLEM_HEADER, 1, 5, "b",
	       "column 'b' appears twice in the header (also field 2)");
	expect(&seen, 2, NS_PROBLEM_HEADER, 1, 0, "d", "column 'd' is missing from the header");
	/* The records are read, but none is valid while the header is wrong. */
	assert_int_equal(sum.n_records, 1);
	assert_int_equal(sum.n_valid, 0);

	/* allow_extra: extra columns pass; target_optional: the label may be absent. */
	p.allow_extra = true;
	p.target_optional = true;
	assert_int_equal(run(abc_schema, "id,a,b,d,note\n7,1,2,x,hello\n", &p, &seen, &sum), NS_OK);
	assert_int_equal(sum.n_valid, 1);
	/* Without target_optional the label column is missing. */
	p.target_optional = false;
	assert_int_equal(run(abc_schema, "a,b,d\n1,2,x\n", &p, &seen, &sum), NS_ERR_SCHEMA);
	expect(&seen, 0, NS_PROBLEM_HEADER, 1, 0, "c", "column 'c' is missing");

	/* A header with no column of the schema: one problem, nothing else read. */
	assert_int_equal(run(abc_schema, "1,2,3,4\n1,2,3,4\n", NULL, &seen, &sum), NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 1);
	expect(&seen, 0, NS_PROBLEM_HEADER, 1, 0, "", "no column of the schema is in the header");
	assert_int_equal(sum.n_records, 0);
}

static void test_field_count(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	(void)state;
	assert_int_equal(
		run(abc_schema, "a,b,c,d\n1,2,1\n1,2,1,x,extra\n\n0,0,0,y\n", NULL, &seen, &sum),
		NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 2);
	expect(&seen, 0, NS_PROBLEM_FIELD_COUNT, 2, 4, "d", "expected 4 fields, got 3");
	expect(&seen, 1, NS_PROBLEM_FIELD_COUNT, 3, 5, "", "expected 4 fields, got 5");
	assert_int_equal(sum.n_records, 3);
	assert_int_equal(sum.n_valid, 1);
}

static void test_cell_problems(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	(void)state;
	assert_int_equal(run(abc_schema,
			     "a,b,c,d\n"
			     "abc,1,0,x\n" /* 2: text in an int column */
			     "2.5,1,0,x\n" /* 3: a fraction in an int column */
			     "inf,1,0,x\n" /* 4: inf in an int column */
			     "1,-0.5,0,x\n" /* 5: below the minimum */
			     "1,11,0,x\n" /* 6: above the maximum */
			     "2,1,0,x\n" /* 7: not an allowed value */
			     "1,1,0,z\n" /* 8: not an allowed category */
			     "1,1,2,x\n" /* 9: not a class */
			     "1,1,,x\n" /* 10: missing label */
			     "1,1,x\x01y,x\n" /* 11: text in the label, quoted with \x01 */
			     "1e0,1,1.0,y\n", /* 12: fine */
			     NULL, &seen, &sum),
			 NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 10);
	expect(&seen, 0, NS_PROBLEM_TYPE, 2, 1, "a", "expected a number, got 'abc'");
	expect(&seen, 1, NS_PROBLEM_TYPE, 3, 1, "a", "2.5 is not an integer");
	expect(&seen, 2, NS_PROBLEM_TYPE, 4, 1, "a", "inf is not an integer");
	expect(&seen, 3, NS_PROBLEM_RANGE, 5, 2, "b", "-0.5 is below the minimum 0");
	expect(&seen, 4, NS_PROBLEM_RANGE, 6, 2, "b", "11 is above the maximum 10");
	expect(&seen, 5, NS_PROBLEM_VALUE, 7, 1, "a",
	       "2 is not an allowed value (allowed: -1, 0, 1)");
	expect(&seen, 6, NS_PROBLEM_VALUE, 8, 4, "d",
	       "'z' is not an allowed value (allowed: x, y)");
	expect(&seen, 7, NS_PROBLEM_LABEL, 9, 3, "c", "2 is not a class (classes: 0, 1)");
	expect(&seen, 8, NS_PROBLEM_LABEL, 10, 3, "c", "the label is missing");
	expect(&seen, 9, NS_PROBLEM_TYPE, 11, 3, "c", "expected a number, got 'x\\x01y'");
	assert_int_equal(sum.n_records, 11);
	assert_int_equal(sum.n_valid, 1);

	/* Several problems in one record are all reported. */
	assert_int_equal(run(abc_schema, "a,b,c,d\n5,50,7,q\n", NULL, &seen, &sum), NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 4);
	expect(&seen, 0, NS_PROBLEM_VALUE, 2, 1, "a", "5 is not an allowed value");
	expect(&seen, 3, NS_PROBLEM_VALUE, 2, 4, "d", "'q' is not an allowed value");

	/* Category labels; a long value is cut in the message. */
	assert_int_equal(run("target: y\nclasses: [normal, neptune]\ncolumns:\n"
			     "  - x: float\n  - y: category\n",
			     "x,y\n1,normal\n2,smurf\n3,"
			     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
			     NULL, &seen, &sum),
			 NS_ERR_SCHEMA);
	expect(&seen, 0, NS_PROBLEM_LABEL, 3, 2, "y",
	       "'smurf' is not a class (classes: normal, neptune)");
	expect(&seen, 1, NS_PROBLEM_LABEL, 4, 2, "y", "aaaa...' is not a class");
}

static void test_missing_share_and_empty(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	(void)state;
	assert_int_equal(run("max_missing: 0.25\ntarget: null\ncolumns:\n"
			     "  - a: int\n"
			     "  - name: b\n    type: float\n    max_missing: 0.5\n"
			     "  - c: category\n",
			     "a,b,c\n1,,x\n,,\n3,4,\n4,5,z\n", NULL, &seen, &sum),
			 NS_ERR_SCHEMA);
	/* a: 1 of 4 is allowed (25%), b: 2 of 4 is allowed (its own 50%), c: 2 of 4 is not. */
	assert_int_equal(seen.n, 1);
	expect(&seen, 0, NS_PROBLEM_MISSING, 0, 3, "c",
	       "50.0% of the values are missing (2 of 4); at most 25% are allowed");
	assert_int_equal(sum.n_valid, 4);
	assert_int_equal(run("max_missing: 0.2\ntarget: null\ncolumns:\n  - a: int\n  - b: int\n",
			     "a,b\n1,\n,2\n3,4\n", NULL, &seen, &sum),
			 NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 2);
	expect(&seen, 0, NS_PROBLEM_MISSING, 0, 1, "a", "33.3% of the values are missing (1 of 3)");
	expect(&seen, 1, NS_PROBLEM_MISSING, 0, 2, "b", "at most 20% are allowed");

	/* Empty files and header-only files have no data records. */
	assert_int_equal(run(abc_schema, "", NULL, &seen, &sum), NS_ERR_SCHEMA);
	expect(&seen, 0, NS_PROBLEM_EMPTY, 0, 0, "", "no data records");
	assert_int_equal(run(abc_schema, "a,b,c,d\n", NULL, &seen, &sum), NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 1);
	expect(&seen, 0, NS_PROBLEM_EMPTY, 0, 0, "", "no data records");
	assert_int_equal(run("header: false\ncolumns:\n  - a: int\n", "\n\n", NULL, &seen, &sum),
			 NS_ERR_SCHEMA);
	expect(&seen, 0, NS_PROBLEM_EMPTY, 0, 0, "", "no data records");
}

static void test_max_problems(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	struct ns_validator_params p = ns_validator_params_default();
	(void)state;
	p.max_problems = 2;
	assert_int_equal(run(abc_schema, "a,b,c,d\n9,1,0,x\n9,1,0,x\n9,1,0,x\n9,1,0,x\n9,1,0,x\n",
			     &p, &seen, &sum),
			 NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 2);
	assert_int_equal(sum.n_problems, 5);
	expect(&seen, 1, NS_PROBLEM_VALUE, 3, 1, "a", "9 is not an allowed value");
}

static void test_syntax(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	(void)state;
	/* A syntax error is a problem with its place, and ends the reading. */
	assert_int_equal(
		run(abc_schema, "a,b,c,d\n1,1,0,x\n1,\"1\"x,0,x\n5,1,0,x\n", NULL, &seen, &sum),
		NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.kind[0], NS_PROBLEM_SYNTAX);
	assert_int_equal(seen.line[0], 3);
	assert_int_equal(seen.column[0], 2);
	assert_int_equal(sum.n_records, 1);
	/* An unterminated quote at the end. */
	assert_int_equal(run(abc_schema, "a,b,c,d\n1,1,0,\"x\n", NULL, &seen, &sum), NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 1);
	assert_int_equal(seen.kind[0], NS_PROBLEM_SYNTAX);
	assert_int_equal(seen.line[0], 2);
	/* A missing file is an I/O error, not a problem. */
	{
		struct ns_schema *s = must_parse(abc_schema);
		struct ns_diag d;
		ns_diag_clear(&d);
		assert_int_equal(
			ns_validate_file("/nonexistent-dir/x.csv", s, NULL, NULL, NULL, NULL, &d),
			NS_ERR_IO);
		assert_string_equal(d.file, "/nonexistent-dir/x.csv");
		ns_schema_free(s);
	}
}

static void test_positional(void **state)
{
	struct seen seen;
	struct ns_validate_summary sum;
	struct ns_validator_params p = ns_validator_params_default();
	const char *yaml = "header: false\ndelimiter: \";\"\ntarget: y\nclasses: [a, b]\n"
			   "columns:\n  - x: int\n  - y: category\n  - z: float\n";
	(void)state;
	assert_int_equal(run(yaml, "1;a;0.5\n2;b;1\n", NULL, &seen, &sum), NS_OK);
	assert_int_equal(sum.n_records, 2);
	assert_int_equal(run(yaml, "1;a;0.5\n2;b\n3;c;1\n", NULL, &seen, &sum), NS_ERR_SCHEMA);
	expect(&seen, 0, NS_PROBLEM_FIELD_COUNT, 2, 3, "z", "expected 3 fields, got 2");
	expect(&seen, 1, NS_PROBLEM_LABEL, 3, 2, "y", "'c' is not a class");
	/* Without the label, when it is optional: the other columns in order. */
	p.target_optional = true;
	assert_int_equal(run(yaml, "1;0.5\n2;x\n", &p, &seen, &sum), NS_ERR_SCHEMA);
	assert_int_equal(seen.n, 1);
	expect(&seen, 0, NS_PROBLEM_TYPE, 2, 2, "z", "expected a number, got 'x'");
	/* ...or with it, possibly missing. */
	assert_int_equal(run(yaml, "1;;0.5\n2;a;1\n", &p, &seen, &sum), NS_OK);
}

/* The validator API directly: values, column map, extra columns. */
struct direct {
	struct ns_validator *v;
	struct ns_value values[4];
	size_t n_ok;
	double sum_b;
	char last_d[16];
};

static enum ns_status direct_record(void *user, const struct ns_csv_record *rec,
				    struct ns_diag *diag)
{
	struct direct *ctx = user;
	bool ok;
	enum ns_status st = ns_validator_record(ctx->v, rec, ctx->values, &ok);
	(void)diag;
	if (st != NS_OK || !ok)
		return st;
	ctx->n_ok++;
	if (!ctx->values[1].missing)
		ctx->sum_b += ctx->values[1].num;
	if (!ctx->values[3].missing)
		snprintf(ctx->last_d, sizeof(ctx->last_d), "%.*s", (int)ctx->values[3].len,
			 ctx->values[3].str);
	return NS_OK;
}

static void test_validator_api(void **state)
{
	struct ns_schema *s = must_parse(abc_schema);
	struct ns_validator_params p = ns_validator_params_default();
	struct direct ctx;
	struct seen seen;
	char path[512];
	const size_t *map;
	struct ns_diag d;
	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	memset(&seen, 0, sizeof(seen));
	p.allow_extra = true;
	assert_int_equal(ns_validator_create(s, &p, collect, &seen, &ctx.v), NS_OK);
	write_temp(path, sizeof(path), "direct.csv", "id,d,b,c,a\n1,x,1.5,0,1\n2,y,,1,0\n");
	ns_diag_clear(&d);
	assert_int_equal(ns_csv_read_file(path, NULL, direct_record, &ctx, &d), NS_OK);
	assert_int_equal(ns_validator_finish(ctx.v), NS_OK);
	assert_int_equal(seen.n, 0);
	assert_int_equal(ctx.n_ok, 2);
	assert_true(ctx.sum_b == 1.5);
	assert_string_equal(ctx.last_d, "y");
	assert_true(ctx.values[1].missing && isnan(ctx.values[1].num));
	assert_true(ctx.values[0].num == 0 && !ctx.values[0].missing);
	map = ns_validator_column_map(ctx.v);
	assert_int_equal(map[0], 5);
	assert_int_equal(map[1], 3);
	assert_int_equal(map[2], 4);
	assert_int_equal(map[3], 2);
	assert_int_equal(ns_validator_n_extra(ctx.v), 1);
	assert_string_equal(ns_validator_extra_name(ctx.v, 0), "id");
	assert_int_equal(ns_validator_extra_field(ctx.v, 0), 1);
	assert_null(ns_validator_extra_name(ctx.v, 1));
	assert_int_equal(ns_validator_n_records(ctx.v), 2);
	assert_int_equal(ns_validator_n_valid(ctx.v), 2);
	assert_int_equal(ns_validator_n_problems(ctx.v), 0);
	ns_validator_free(ctx.v);
	ns_validator_free(NULL);
	unlink(path);
	assert_int_equal(ns_validator_create(NULL, NULL, NULL, NULL, &ctx.v), NS_ERR_INVALID);
	assert_string_equal(ns_problem_kind_name(NS_PROBLEM_FIELD_COUNT), "field-count");
	ns_schema_free(s);
}

static void test_bundled_data(void **state)
{
	struct ns_schema *s;
	struct ns_diag d;
	struct ns_validate_summary sum;
	struct seen seen;
	char buf[1024];
	(void)state;
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_load(PHISHING_SCHEMA, &s, &d), NS_OK);
	memset(&seen, 0, sizeof(seen));
	assert_int_equal(ns_validate_file(PHISHING_CSV, s, NULL, collect, &seen, &sum, &d), NS_OK);
	assert_int_equal(seen.n, 0);
	assert_int_equal(sum.n_records, 11055);
	assert_int_equal(sum.n_valid, 11055);
	/* The phishing file against the NSL-KDD schema: positional field counts. */
	{
		struct ns_schema *kdd;
		struct ns_validator_params p = ns_validator_params_default();
		assert_int_equal(ns_schema_load(NSL_KDD_SCHEMA, &kdd, &d), NS_OK);
		memset(&seen, 0, sizeof(seen));
		p.max_problems = 3;
		assert_int_equal(ns_validate_file(PHISHING_CSV, kdd, &p, collect, &seen, &sum, &d),
				 NS_ERR_SCHEMA);
		assert_int_equal(seen.n, 3);
		assert_int_equal(sum.n_problems, 11056);
		expect(&seen, 0, NS_PROBLEM_FIELD_COUNT, 1, 32, "dst_host_count",
		       "expected 43 fields, got 31");
		ns_schema_free(kdd);
	}
	ns_schema_free(s);

	if (!file_exists(NSL_KDD_PATH)) {
		print_message("skipped: %s is absent\n", NSL_KDD_PATH);
		return;
	}
	assert_int_equal(ns_schema_load(NSL_KDD_SCHEMA, &s, &d), NS_OK);
	memset(&seen, 0, sizeof(seen));
	ns_diag_clear(&d);
	if (ns_validate_file(NSL_KDD_PATH, s, NULL, collect, &seen, &sum, &d) != NS_OK) {
		dump(&seen);
		fprintf(stderr, "%s\n", ns_diag_format(&d, buf, sizeof(buf)));
		fail();
	}
	assert_int_equal(sum.n_records, 25192);
	assert_int_equal(sum.n_valid, 25192);
	/* The same file against the phishing schema: a header that is data. */
	{
		struct ns_schema *ph;
		assert_int_equal(ns_schema_load(PHISHING_SCHEMA, &ph, &d), NS_OK);
		memset(&seen, 0, sizeof(seen));
		assert_int_equal(ns_validate_file(NSL_KDD_PATH, ph, NULL, collect, &seen, &sum, &d),
				 NS_ERR_SCHEMA);
		assert_int_equal(seen.n, 1);
		expect(&seen, 0, NS_PROBLEM_HEADER, 1, 0, "", "is the first line data?");
		ns_schema_free(ph);
	}
	ns_schema_free(s);
}

static void test_frame_with_schema(void **state)
{
	struct ns_schema *s;
	struct ns_frame *f = NULL;
	struct ns_diag d;
	char path[512], buf[1024];
	(void)state;
	ns_diag_clear(&d);
	assert_int_equal(ns_schema_load(PHISHING_SCHEMA, &s, &d), NS_OK);
	assert_int_equal(ns_frame_read_csv(PHISHING_CSV, s, &f, &d), NS_OK);
	assert_int_equal(ns_frame_n_rows(f), 11055);
	assert_int_equal(ns_frame_n_cols(f), 31);
	assert_string_equal(ns_frame_col_name(f, 30), "Result");
	assert_int_equal(ns_frame_col_kind(f, 0), NS_COL_NUMERIC);
	/* Row 1: -1,1,1,1,-1,-1,-1,-1,-1,1,...,-1 ; row 2 starts 1,1,1,1,1,-1,0 */
	assert_true(ns_frame_numbers(f, 0)[0] == -1);
	assert_true(ns_frame_numbers(f, 1)[0] == 1);
	assert_true(ns_frame_numbers(f, 30)[0] == -1);
	assert_true(ns_frame_numbers(f, 0)[1] == 1);
	assert_true(ns_frame_numbers(f, 6)[1] == 0);
	ns_frame_free(f);
	f = NULL;

	/* The first bad record stops the read, with its place. */
	write_temp(path, sizeof(path), "frame_bad.csv",
		   "having_IP_Address,Result\n1,1\n1,-1\n0,1\n1,7\n");
	{
		struct ns_schema *small =
			must_parse("target: Result\nclasses: [\"-1\", \"1\"]\ncolumns:\n"
				   "  - {name: having_IP_Address, type: int, values: [-1, 1]}\n"
				   "  - Result: int\n");
		ns_diag_clear(&d);
		assert_int_equal(ns_frame_read_csv(path, small, &f, &d), NS_ERR_SCHEMA);
		assert_null(f);
		ns_diag_format(&d, buf, sizeof(buf));
		assert_string_equal(d.file, path);
		assert_int_equal(d.line, 4);
		assert_int_equal(d.column, 1);
		assert_string_equal(d.field, "having_IP_Address");
		assert_non_null(strstr(d.message, "0 is not an allowed value"));
		/* A header problem stops it too. */
		write_temp(path, sizeof(path), "frame_bad.csv", "having_IP_Address,x\n1,1\n");
		ns_diag_clear(&d);
		assert_int_equal(ns_frame_read_csv(path, small, &f, &d), NS_ERR_SCHEMA);
		assert_int_equal(d.line, 1);
		assert_int_equal(d.column, 2);
		/* Prediction input: no label column, an extra id column. */
		{
			struct ns_validator_params p = ns_validator_params_default();
			p.target_optional = true;
			p.allow_extra = true;
			write_temp(path, sizeof(path), "frame_bad.csv",
				   "id,having_IP_Address\n9,1\n8,-1\n");
			assert_int_equal(ns_frame_read_csv_ex(path, small, &p, &f, &d), NS_OK);
			assert_int_equal(ns_frame_n_rows(f), 2);
			assert_int_equal(ns_frame_n_cols(f), 2);
			assert_true(ns_frame_numbers(f, 0)[1] == -1);
			assert_true(isnan(ns_frame_numbers(f, 1)[0]));
			ns_frame_free(f);
			f = NULL;
		}
		/* An empty file. */
		write_temp(path, sizeof(path), "frame_bad.csv", "having_IP_Address,Result\n");
		assert_int_equal(ns_frame_read_csv(path, small, &f, &d), NS_ERR_SCHEMA);
		assert_non_null(strstr(d.message, "no data records"));
		ns_schema_free(small);
	}
	unlink(path);
	ns_schema_free(s);

	if (!file_exists(NSL_KDD_PATH)) {
		print_message("skipped: %s is absent\n", NSL_KDD_PATH);
		return;
	}
	assert_int_equal(ns_schema_load(NSL_KDD_SCHEMA, &s, &d), NS_OK);
	assert_int_equal(ns_frame_read_csv(NSL_KDD_PATH, s, &f, &d), NS_OK);
	assert_int_equal(ns_frame_n_rows(f), 25192);
	assert_int_equal(ns_frame_n_cols(f), 43);
	assert_int_equal(ns_frame_col_kind(f, 1), NS_COL_CATEGORY);
	assert_int_equal(ns_frame_col_kind(f, 41), NS_COL_CATEGORY);
	assert_int_equal(ns_frame_col_kind(f, 42), NS_COL_NUMERIC); /* ignored, but kept */
	/* 0,tcp,ftp_data,SF,491,... normal,20 / 0,udp,other,... / ...,neptune,19 */
	assert_string_equal(ns_frame_level(f, 1, ns_frame_codes(f, 1)[0]), "tcp");
	assert_string_equal(ns_frame_level(f, 1, ns_frame_codes(f, 1)[1]), "udp");
	assert_string_equal(ns_frame_level(f, 2, ns_frame_codes(f, 2)[0]), "ftp_data");
	assert_true(ns_frame_numbers(f, 4)[0] == 491);
	assert_true(ns_frame_numbers(f, 33)[0] == 0.17);
	assert_string_equal(ns_frame_level(f, 41, ns_frame_codes(f, 41)[0]), "normal");
	assert_string_equal(ns_frame_level(f, 41, ns_frame_codes(f, 41)[2]), "neptune");
	assert_int_equal(ns_frame_n_levels(f, 41), 22);
	assert_int_equal(ns_frame_n_levels(f, 1), 3);
	assert_true(ns_frame_numbers(f, 42)[2] == 19);
	ns_frame_free(f);
	ns_schema_free(s);
}

static void test_frame_without_schema(void **state)
{
	struct ns_frame *f = NULL;
	struct ns_diag d;
	char path[512];
	(void)state;
	ns_diag_clear(&d);
	assert_int_equal(ns_frame_read_csv(PHISHING_CSV, NULL, &f, &d), NS_OK);
	assert_int_equal(ns_frame_n_rows(f), 11055);
	assert_int_equal(ns_frame_n_cols(f), 31);
	for (size_t j = 0; j < 31; j++)
		assert_int_equal(ns_frame_col_kind(f, j), NS_COL_NUMERIC);
	assert_true(ns_frame_numbers(f, 30)[0] == -1);
	ns_frame_free(f);
	f = NULL;

	/* A column turns into a category at its first text value; NA stays missing. */
	write_temp(path, sizeof(path), "frame_plain.csv",
		   "n,mixed,t\n1,1.5,a\n2,,b\nNA,x,a\n4,2,c\n");
	assert_int_equal(ns_frame_read_csv(path, NULL, &f, &d), NS_OK);
	assert_int_equal(ns_frame_n_rows(f), 4);
	assert_int_equal(ns_frame_col_kind(f, 0), NS_COL_NUMERIC);
	assert_int_equal(ns_frame_col_kind(f, 1), NS_COL_CATEGORY);
	assert_int_equal(ns_frame_col_kind(f, 2), NS_COL_CATEGORY);
	assert_true(isnan(ns_frame_numbers(f, 0)[2]));
	assert_string_equal(ns_frame_level(f, 1, ns_frame_codes(f, 1)[0]), "1.5");
	assert_int_equal(ns_frame_codes(f, 1)[1], NS_FRAME_NA_CODE);
	assert_string_equal(ns_frame_level(f, 1, ns_frame_codes(f, 1)[2]), "x");
	assert_string_equal(ns_frame_level(f, 1, ns_frame_codes(f, 1)[3]), "2");
	assert_string_equal(ns_frame_level(f, 2, ns_frame_codes(f, 2)[3]), "c");
	ns_frame_free(f);
	f = NULL;

	/* Errors: a ragged record, a repeated header name, an empty file. */
	write_temp(path, sizeof(path), "frame_plain.csv", "a,b\n1,2\n3\n");
	ns_diag_clear(&d);
	assert_int_equal(ns_frame_read_csv(path, NULL, &f, &d), NS_ERR_SCHEMA);
	assert_int_equal(d.line, 3);
	assert_int_equal(d.column, 2);
	assert_non_null(strstr(d.message, "expected 2 fields, got 1"));
	write_temp(path, sizeof(path), "frame_plain.csv", "a,b,a\n1,2,3\n");
	ns_diag_clear(&d);
	assert_int_equal(ns_frame_read_csv(path, NULL, &f, &d), NS_ERR_SCHEMA);
	assert_int_equal(d.line, 1);
	assert_int_equal(d.column, 3);
	write_temp(path, sizeof(path), "frame_plain.csv", "");
	assert_int_equal(ns_frame_read_csv(path, NULL, &f, &d), NS_ERR_SCHEMA);
	assert_null(f);
	unlink(path);
}

/* Allocation failures anywhere in validation or frame reading: NS_ERR_NOMEM, no leak. */
static void test_alloc_failures(void **state)
{
	struct ns_schema *s = must_parse(abc_schema);
	char path[512];
	long n;
	(void)state;
	write_temp(path, sizeof(path), "nomem.csv", "d,c,b,a\nx,1,2.5,-1\ny,0,,7\n");
	for (n = 0;; n++) {
		struct ns_diag d;
		struct ns_validate_summary sum;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = ns_validate_file(path, s, NULL, NULL, NULL, &sum, &d);
		ns_alloc_fail_reset();
		if (st == NS_ERR_SCHEMA)
			break;
		assert_int_equal(st, NS_ERR_NOMEM);
	}
	assert_true(n > 3);
	write_temp(path, sizeof(path), "nomem.csv", "d,c,b,a\nx,1,2.5,-1\ny,0,,1\n");
	for (n = 0;; n++) {
		struct ns_diag d;
		struct ns_frame *f = NULL;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = ns_frame_read_csv(path, s, &f, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			assert_int_equal(ns_frame_n_rows(f), 2);
			ns_frame_free(f);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(f);
	}
	for (n = 0;; n++) {
		struct ns_diag d;
		struct ns_frame *f = NULL;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = ns_frame_read_csv(path, NULL, &f, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			ns_frame_free(f);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
	}
	unlink(path);
	ns_schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_any_order),
		cmocka_unit_test(test_header_problems),
		cmocka_unit_test(test_field_count),
		cmocka_unit_test(test_cell_problems),
		cmocka_unit_test(test_missing_share_and_empty),
		cmocka_unit_test(test_max_problems),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_positional),
		cmocka_unit_test(test_validator_api),
		cmocka_unit_test(test_bundled_data),
		cmocka_unit_test(test_frame_with_schema),
		cmocka_unit_test(test_frame_without_schema),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
