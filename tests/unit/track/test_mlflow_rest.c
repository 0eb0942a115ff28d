/*
 * tests/unit/track/test_mlflow_rest.c - the MLflow REST backend's private
 * parts: the runs/log-batch buffer against MLflow's limits (1000 metrics,
 * 100 params, 100 tags, 1000 entries, 1 MB), JSON escaping of keys and
 * values, non-finite metrics as proto3 JSON strings, the redaction of
 * userinfo in URIs, and URI checks in ns_tracker_open (no network: the
 * request paths are covered by tests/integration/test_mlflow_rest.sh).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h"
#include "netsec/json.h"
#include "netsec/track.h"
#include "track/mlflow_rest.h"

/* Parses the batch body and checks its three lists' lengths. */
static const struct ns_json *body_of(const struct ns__rest_batch *b, struct ns_json_doc **doc,
				     size_t n_metrics, size_t n_params, size_t n_tags)
{
	struct ns__buf out;
	const struct ns_json *root;
	ns__buf_init(&out, 0);
	assert_int_equal(ns__rest_batch_body(b, "0123abcd", &out), NS_OK);
	assert_true(out.len <= NS__REST_BATCH_BYTES);
	assert_int_equal(ns_json_parse(out.data, out.len, "body", NULL, doc, NULL), NS_OK);
	ns__buf_fini(&out);
	root = ns_json_root(*doc);
	assert_string_equal(ns_json_string(ns_json_get(root, "run_id"), NULL), "0123abcd");
	assert_int_equal(ns_json_length(ns_json_get(root, "metrics")), n_metrics);
	assert_int_equal(ns_json_length(ns_json_get(root, "params")), n_params);
	assert_int_equal(ns_json_length(ns_json_get(root, "tags")), n_tags);
	assert_int_equal(ns_json_length(root), 4);
	return root;
}

static void test_metric_limit(void **state)
{
	struct ns__rest_batch b;
	struct ns_json_doc *doc = NULL;
	size_t i;
	(void)state;
	ns__rest_batch_init(&b);
	assert_true(ns__rest_batch_empty(&b));
	for (i = 0; i < NS__REST_BATCH_METRICS; i++)
		assert_int_equal(
			ns__rest_batch_add_metric(&b, "loss", (double)i, 1700000000000, (int64_t)i),
			NS_OK);
	assert_int_equal(ns__rest_batch_add_metric(&b, "loss", 1.0, 1, 1), NS_ERR_LIMIT);
	/* 1000 entries in all: no room for a param either. */
	assert_int_equal(ns__rest_batch_add_param(&b, "p", "v"), NS_ERR_LIMIT);
	body_of(&b, &doc, 1000, 0, 0);
	ns_json_doc_free(doc);
	ns__rest_batch_reset(&b);
	assert_true(ns__rest_batch_empty(&b));
	assert_int_equal(ns__rest_batch_add_metric(&b, "loss", 1.0, 1, 1), NS_OK);
	ns__rest_batch_fini(&b);
}

static void test_param_tag_limits(void **state)
{
	struct ns__rest_batch b;
	struct ns_json_doc *doc = NULL;
	char key[32];
	(void)state;
	ns__rest_batch_init(&b);
	for (int i = 0; i < NS__REST_BATCH_PARAMS; i++) {
		snprintf(key, sizeof(key), "p%d", i);
		assert_int_equal(ns__rest_batch_add_param(&b, key, "1"), NS_OK);
	}
	assert_int_equal(ns__rest_batch_add_param(&b, "p100", "1"), NS_ERR_LIMIT);
	for (int i = 0; i < NS__REST_BATCH_TAGS; i++) {
		snprintf(key, sizeof(key), "t%d", i);
		assert_int_equal(ns__rest_batch_add_tag(&b, key, "x"), NS_OK);
	}
	assert_int_equal(ns__rest_batch_add_tag(&b, "t100", "x"), NS_ERR_LIMIT);
	/* Metrics still fit: 200 + 800 = 1000 entries. */
	for (int i = 0; i < 800; i++)
		assert_int_equal(ns__rest_batch_add_metric(&b, "m", 0.5, 1, i), NS_OK);
	assert_int_equal(ns__rest_batch_add_metric(&b, "m", 0.5, 1, 801), NS_ERR_LIMIT);
	body_of(&b, &doc, 800, 100, 100);
	ns_json_doc_free(doc);
	ns__rest_batch_fini(&b);
}

static void test_size_limit(void **state)
{
	struct ns__rest_batch b;
	struct ns_json_doc *doc = NULL;
	char *big = malloc(NS_TRACK_PARAM_VALUE_MAX + 1);
	char key[32];
	size_t n = 0;
	(void)state;
	assert_non_null(big);
	/* Each character escapes to six bytes: 36 kB a value. */
	memset(big, '\x01', NS_TRACK_PARAM_VALUE_MAX);
	big[NS_TRACK_PARAM_VALUE_MAX] = '\0';
	ns__rest_batch_init(&b);
	for (;; n++) {
		snprintf(key, sizeof(key), "p%zu", n);
		if (ns__rest_batch_add_param(&b, key, big) == NS_ERR_LIMIT)
			break;
	}
	assert_true(n > 10 && n < NS__REST_BATCH_PARAMS);
	body_of(&b, &doc, 0, n, 0);
	ns_json_doc_free(doc);
	ns__rest_batch_fini(&b);
	free(big);
}

static void test_escaping(void **state)
{
	struct ns__rest_batch b;
	struct ns_json_doc *doc = NULL;
	const struct ns_json *root, *m;
	const char *odd = "a\"b\\c\nd\te\x01 \xc3\xa9 </script>";
	double v;
	(void)state;
	ns__rest_batch_init(&b);
	assert_int_equal(ns__rest_batch_add_param(&b, "grid/max depth", odd), NS_OK);
	assert_int_equal(ns__rest_batch_add_tag(&b, "note", odd), NS_OK);
	assert_int_equal(ns__rest_batch_add_metric(&b, "nan", NAN, 5, 0), NS_OK);
	assert_int_equal(ns__rest_batch_add_metric(&b, "inf", INFINITY, 5, 1), NS_OK);
	assert_int_equal(ns__rest_batch_add_metric(&b, "ninf", -INFINITY, 5, 2), NS_OK);
	assert_int_equal(ns__rest_batch_add_metric(&b, "tiny", 1e-300, -1, -3), NS_OK);
	root = body_of(&b, &doc, 4, 1, 1);
	assert_string_equal(
		ns_json_string(ns_json_get(ns_json_at(ns_json_get(root, "params"), 0), "value"),
			       NULL),
		odd);
	assert_string_equal(
		ns_json_string(ns_json_get(ns_json_at(ns_json_get(root, "params"), 0), "key"),
			       NULL),
		"grid/max depth");
	assert_string_equal(
		ns_json_string(ns_json_get(ns_json_at(ns_json_get(root, "tags"), 0), "value"),
			       NULL),
		odd);
	m = ns_json_get(root, "metrics");
	assert_string_equal(ns_json_string(ns_json_get(ns_json_at(m, 0), "value"), NULL), "NaN");
	assert_string_equal(ns_json_string(ns_json_get(ns_json_at(m, 1), "value"), NULL),
			    "Infinity");
	assert_string_equal(ns_json_string(ns_json_get(ns_json_at(m, 2), "value"), NULL),
			    "-Infinity");
	assert_true(ns_json_number(ns_json_get(ns_json_at(m, 3), "value"), &v));
	assert_true(v == 1e-300);
	assert_true(ns_json_number(ns_json_get(ns_json_at(m, 3), "step"), &v));
	assert_true(v == -3);
	assert_true(ns_json_number(ns_json_get(ns_json_at(m, 3), "timestamp"), &v));
	assert_true(v == -1);
	ns_json_doc_free(doc);
	ns__rest_batch_fini(&b);
}

static void test_redact(void **state)
{
	char buf[256];
	(void)state;
	ns__rest_redact("https://alice:s3cret@host:5000/mlflow", buf, sizeof(buf));
	assert_string_equal(buf, "https://***@host:5000/mlflow");
	ns__rest_redact("http://tok#en:p?w@host/", buf, sizeof(buf));
	assert_string_equal(buf, "http://***@host/");
	ns__rest_redact("http://host:5000/a@b", buf, sizeof(buf));
	assert_string_equal(buf, "http://host:5000/a@b");
	ns__rest_redact("http://a@b@host", buf, sizeof(buf));
	assert_string_equal(buf, "http://***@host");
}

static void test_open_uris(void **state)
{
	struct ns_tracker *t = NULL;
	struct ns_diag d;
	(void)state;
	assert_int_equal(ns_tracker_open("http://127.0.0.1:9/", &t, &d), NS_OK);
	assert_string_equal(ns_tracker_scheme(t), "http");
	ns_tracker_close(t);
	assert_int_equal(ns_tracker_open("HTTPS://example.org/prefix", &t, &d), NS_OK);
	assert_string_equal(ns_tracker_scheme(t), "https");
	ns_tracker_close(t);
	assert_int_equal(ns_tracker_open("http://", &t, &d), NS_ERR_INVALID);
	assert_int_equal(ns_tracker_open("http://u:hunter2@host/x?y=1", &t, &d), NS_ERR_INVALID);
	assert_null(strstr(d.message, "hunter2"));
	assert_non_null(strstr(d.message, "***@host"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_limit), cmocka_unit_test(test_param_tag_limits),
		cmocka_unit_test(test_size_limit),   cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_redact),       cmocka_unit_test(test_open_uris),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
