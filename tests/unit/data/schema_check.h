/*
 * tests/unit/data/schema_check.h - helpers shared by the schema, validator
 * and inference tests: parse from a string, compare two schemas field by
 * field, temp files.  Included by each test file (static functions).
 */
#ifndef NETSEC_TEST_SCHEMA_CHECK_H
#define NETSEC_TEST_SCHEMA_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "netsec/schema.h"

static inline enum ns_status parse_str(const char *yaml, struct ns_schema **s, struct ns_diag *d)
{
	ns_diag_clear(d);
	return ns_schema_parse(yaml, strlen(yaml), "t.yaml", s, d);
}

/* Parses `yaml`, which must be a valid schema. */
static inline struct ns_schema *must_parse(const char *yaml)
{
	struct ns_schema *s = NULL;
	struct ns_diag d;
	char buf[1024];
	enum ns_status st = parse_str(yaml, &s, &d);
	if (st != NS_OK) {
		fprintf(stderr, "parse failed: %s\n%s\n", ns_diag_format(&d, buf, sizeof(buf)),
			yaml);
		fail();
	}
	return s;
}

static inline void check_strings_equal(char *const *a, char *const *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_string_equal(a[i], b[i]);
}

/* Same schema: every field (the note aside), and the same hash. */
static inline void check_schemas_equal(const struct ns_schema *a, const struct ns_schema *b)
{
	char ha[65], hb[65];
	if (a->name || b->name) {
		assert_non_null(a->name);
		assert_non_null(b->name);
		assert_string_equal(a->name, b->name);
	}
	assert_int_equal(a->header, b->header);
	assert_int_equal(a->delimiter, b->delimiter);
	assert_int_equal(a->n_na, b->n_na);
	check_strings_equal(a->na_values, b->na_values, a->n_na);
	assert_int_equal(a->n_columns, b->n_columns);
	assert_int_equal(a->target, b->target);
	assert_int_equal(a->n_classes, b->n_classes);
	check_strings_equal(a->classes, b->classes, a->n_classes);
	assert_int_equal(a->threat, b->threat);
	assert_int_equal(a->benign, b->benign);
	assert_true(a->max_missing == b->max_missing);
	for (size_t i = 0; i < a->n_columns; i++) {
		const struct ns_schema_column *x = &a->columns[i], *y = &b->columns[i];
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->type, y->type);
		assert_int_equal(x->has_min, y->has_min);
		assert_int_equal(x->has_max, y->has_max);
		if (x->has_min)
			assert_memory_equal(&x->min, &y->min, sizeof(double));
		if (x->has_max)
			assert_memory_equal(&x->max, &y->max, sizeof(double));
		assert_int_equal(x->n_allowed, y->n_allowed);
		check_strings_equal(x->allowed, y->allowed, x->n_allowed);
		if (x->type != NS_TYPE_CATEGORY && x->n_allowed)
			assert_memory_equal(x->allowed_num, y->allowed_num,
					    x->n_allowed * sizeof(double));
		assert_true(x->max_missing == y->max_missing);
		assert_int_equal(x->ignore, y->ignore);
	}
	assert_int_equal(ns_schema_hash(a, ha), NS_OK);
	assert_int_equal(ns_schema_hash(b, hb), NS_OK);
	assert_string_equal(ha, hb);
}

/* parse(to_yaml(s)) is the same schema, and to_yaml is a fixed point. */
static inline void check_round_trip(const struct ns_schema *s)
{
	char *y1 = NULL, *y2 = NULL;
	size_t n1 = 0, n2 = 0;
	struct ns_schema *back = NULL;
	struct ns_diag d;
	char buf[1024];
	enum ns_status st;
	assert_int_equal(ns_schema_to_yaml(s, &y1, &n1), NS_OK);
	assert_int_equal(strlen(y1), n1);
	ns_diag_clear(&d);
	st = ns_schema_parse(y1, n1, "round-trip", &back, &d);
	if (st != NS_OK) {
		fprintf(stderr, "%s\n---\n%s---\n", ns_diag_format(&d, buf, sizeof(buf)), y1);
		fail();
	}
	check_schemas_equal(s, back);
	assert_int_equal(ns_schema_to_yaml(back, &y2, &n2), NS_OK);
	/* The note (comment lines) is not read back; the rest is identical. */
	if (!s->note)
		assert_string_equal(y1, y2);
	else
		assert_non_null(strstr(y1, y2));
	ns_free(y1);
	ns_free(y2);
	ns_schema_free(back);
}

/* Writes `text` to a file under the test temp folder; returns its path in buf. */
static inline const char *write_temp(char *buf, size_t size, const char *name, const char *text)
{
	FILE *fp;
	snprintf(buf, size, "%s/%s", NETSEC_TEST_TMP, name);
	fp = fopen(buf, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
	return buf;
}

#define NSL_KDD_PATH NETSEC_SOURCE_DIR "/../shared/data/nsl_kdd/KDDTrain+_20Percent.txt"

static const char *const nsl_kdd_names[43] = {"duration",
					      "protocol_type",
					      "service",
					      "flag",
					      "src_bytes",
					      "dst_bytes",
					      "land",
					      "wrong_fragment",
					      "urgent",
					      "hot",
					      "num_failed_logins",
					      "logged_in",
					      "num_compromised",
					      "root_shell",
					      "su_attempted",
					      "num_root",
					      "num_file_creations",
					      "num_shells",
					      "num_access_files",
					      "num_outbound_cmds",
					      "is_host_login",
					      "is_guest_login",
					      "count",
					      "srv_count",
					      "serror_rate",
					      "srv_serror_rate",
					      "rerror_rate",
					      "srv_rerror_rate",
					      "same_srv_rate",
					      "diff_srv_rate",
					      "srv_diff_host_rate",
					      "dst_host_count",
					      "dst_host_srv_count",
					      "dst_host_same_srv_rate",
					      "dst_host_diff_srv_rate",
					      "dst_host_same_src_port_rate",
					      "dst_host_srv_diff_host_rate",
					      "dst_host_serror_rate",
					      "dst_host_srv_serror_rate",
					      "dst_host_rerror_rate",
					      "dst_host_srv_rerror_rate",
					      "label",
					      "difficulty"};

static inline bool file_exists(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return false;
	fclose(fp);
	return true;
}

#endif
