/*
 * tests/unit/learn/test_model.c - what every family shares: fitting checks,
 * the model file (round trips, determinism, corruption, versions),
 * attachments, the encoder and the streaming predictor.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "learn/family.h"
#include "netsec/predict.h"

/* A small two-class problem: class = x0 + x1 > 1, with a noise feature. */
static void make_data(size_t n, double *x, uint32_t *y, uint64_t seed)
{
	struct ns__rng r;
	ns__rng_seed(&r, seed, 1);
	for (size_t i = 0; i < n; i++) {
		x[3 * i] = ns__rng_uniform(&r);
		x[3 * i + 1] = ns__rng_uniform(&r);
		x[3 * i + 2] = (double)ns__rng_below(&r, 3);
		y[i] = x[3 * i] + x[3 * i + 1] > 1;
	}
}

/* Small ensembles keep the test fast. */
static void small_params(struct ns_params *p, const struct ns_family *f)
{
	ns_params_init(p, f);
	if (ns_params_index(f, "n_estimators") >= 0)
		assert_int_equal(ns_params_set(p, "n_estimators", "10", NULL), NS_OK);
}

static void test_every_family_round_trips(void **state)
{
	enum { N = 300 };
	double x[3 * N];
	uint32_t y[N];
	struct ns_dataset d = {N, 3, x, y, 2, NULL};
	(void)state;
	make_data(N, x, y, 7);
	assert_true(ns_family_count() >= 1);
	for (size_t fi = 0; fi < ns_family_count(); fi++) {
		const struct ns_family *f = ns_family_at(fi);
		struct ns_params p;
		struct ns_fit_options o = ns_fit_options_default();
		struct ns_model *m = NULL, *m2 = NULL, *back = NULL;
		struct ns_diag diag;
		uint8_t *buf = NULL, *buf2 = NULL, *buf3 = NULL;
		size_t len = 0, len2 = 0, len3 = 0;
		double p1[2 * N], p2[2 * N];
		uint32_t pred[N];
		size_t correct = 0;
		const char *labels[] = {"benign", "attack"};
		const char *names[] = {"a", "b", "noise"};

		small_params(&p, f);
		o.seed = 11;
		o.class_labels = labels;
		o.feature_names = names;
		o.threat_class = 1;
		o.n_threads = 1;
		ns_diag_clear(&diag);
		if (ns_model_fit(&p, &d, &o, &m, &diag) != NS_OK)
			fail_msg("%s: fit: %s", f->name, diag.message);
		assert_int_equal(ns_model_predict(m, x, N, pred), NS_OK);
		for (size_t i = 0; i < N; i++)
			correct += pred[i] == y[i];
		if (correct < N * 8 / 10)
			fail_msg("%s: training accuracy %zu/%d", f->name, correct, N);
		assert_string_equal(ns_model_class_label(m, 1), "attack");
		assert_string_equal(ns_model_feature_name(m, 2), "noise");
		assert_int_equal(ns_model_threat_class(m), 1);

		/* Save -> load -> same predictions, same bytes. */
		assert_int_equal(ns_model_attach(m, "PREP", (const uint8_t *)"xyz", 3), NS_OK);
		assert_int_equal(ns_model_to_buffer(m, &buf, &len), NS_OK);
		if (ns_model_from_buffer(buf, len, &back, &diag) != NS_OK)
			fail_msg("%s: load: %s", f->name, diag.message);
		assert_int_equal(ns_model_predict_proba(m, x, N, p1), NS_OK);
		assert_int_equal(ns_model_predict_proba(back, x, N, p2), NS_OK);
		assert_memory_equal(p1, p2, sizeof(p1));
		assert_int_equal(ns_model_to_buffer(back, &buf2, &len2), NS_OK);
		assert_int_equal(len, len2);
		assert_memory_equal(buf, buf2, len);
		{
			const uint8_t *att;
			size_t alen;
			assert_true(ns_model_attachment(back, "PREP", &att, &alen));
			assert_int_equal(alen, 3);
			assert_memory_equal(att, "xyz", 3);
			assert_false(ns_model_attachment(back, "NONE", &att, &alen));
		}
		/* Rows sum to one. */
		for (size_t i = 0; i < N; i++)
			assert_true(fabs(p1[2 * i] + p1[2 * i + 1] - 1) < 1e-9);

		/* Determinism: same seed, 2 threads -> the same bytes. */
		o.n_threads = 2;
		assert_int_equal(ns_model_fit(&p, &d, &o, &m2, &diag), NS_OK);
		assert_int_equal(ns_model_attach(m2, "PREP", (const uint8_t *)"xyz", 3), NS_OK);
		assert_int_equal(ns_model_to_buffer(m2, &buf3, &len3), NS_OK);
		if (len3 != len || memcmp(buf3, buf, len) != 0)
			fail_msg("%s: not deterministic across thread counts", f->name);

		/* Corruption anywhere is caught (the checksum), truncation too. */
		for (size_t i = 0; i < len; i += 1 + len / 200) {
			struct ns_model *bad = NULL;
			buf2[i] ^= 0x5a;
			assert_int_not_equal(ns_model_from_buffer(buf2, len, &bad, &diag), NS_OK);
			assert_null(bad);
			buf2[i] ^= 0x5a;
		}
		for (size_t cut = 0; cut < len; cut += 1 + len / 100) {
			struct ns_model *bad = NULL;
			assert_int_not_equal(ns_model_from_buffer(buf, cut, &bad, &diag), NS_OK);
		}
		ns_free(buf);
		ns_free(buf2);
		ns_free(buf3);
		ns_model_free(m);
		ns_model_free(m2);
		ns_model_free(back);
	}
}

static void test_file_errors(void **state)
{
	enum { N = 100 };
	double x[3 * N];
	uint32_t y[N];
	struct ns_dataset d = {N, 3, x, y, 2, NULL};
	struct ns_params p;
	struct ns_model *m = NULL, *bad = NULL;
	struct ns_diag diag;
	uint8_t *buf = NULL;
	size_t len = 0;
	char path[512];
	(void)state;
	make_data(N, x, y, 3);
	small_params(&p, ns_family_at(0));
	assert_int_equal(ns_model_fit(&p, &d, NULL, &m, &diag), NS_OK);
	assert_int_equal(ns_model_to_buffer(m, &buf, &len), NS_OK);
	/* Foreign file. */
	assert_int_equal(
		ns_model_from_buffer((const uint8_t *)"PK\3\4 not a model", 17, &bad, &diag),
		NS_ERR_CORRUPT);
	assert_non_null(strstr(diag.message, "magic"));
	/* Newer format version: refused as unsupported, before the checksum. */
	buf[8] = 99;
	assert_int_equal(ns_model_from_buffer(buf, len, &bad, &diag), NS_ERR_UNSUPPORTED);
	assert_non_null(strstr(diag.message, "newer"));
	buf[8] = 1;
	/* Truncated: says so. */
	assert_int_equal(ns_model_from_buffer(buf, len - 1, &bad, &diag), NS_ERR_CORRUPT);
	assert_non_null(strstr(diag.message, "truncated"));
	/* Corrupted payload: checksum. */
	buf[len / 2] ^= 1;
	assert_int_equal(ns_model_from_buffer(buf, len, &bad, &diag), NS_ERR_CORRUPT);
	assert_non_null(strstr(diag.message, "checksum"));
	buf[len / 2] ^= 1;
	/* Through a file, atomically written; a missing file is an I/O error. */
	snprintf(path, sizeof(path), "%s/test_model.bin", NETSEC_TEST_TMP);
	assert_int_equal(ns_model_save(m, path, &diag), NS_OK);
	assert_int_equal(ns_model_load(path, &bad, &diag), NS_OK);
	ns_model_free(bad);
	assert_int_equal(ns_model_load("/nonexistent/model", &bad, &diag), NS_ERR_IO);
	remove(path);
	ns_free(buf);
	ns_model_free(m);
}

static void test_fit_checks(void **state)
{
	enum { N = 50 };
	double x[3 * N];
	uint32_t y[N];
	struct ns_dataset d = {N, 3, x, y, 2, NULL};
	struct ns_params p;
	struct ns_model *m = NULL;
	struct ns_diag diag;
	const char *labels[] = {"-1", "1"};
	struct ns_fit_options o = ns_fit_options_default();
	(void)state;
	make_data(N, x, y, 5);
	for (size_t fi = 0; fi < ns_family_count(); fi++) {
		const struct ns_family *f = ns_family_at(fi);
		uint32_t same[N];
		struct ns_dataset one = d;
		small_params(&p, f);
		/* One class only: a clear error naming it. */
		for (size_t i = 0; i < N; i++)
			same[i] = 1;
		one.y = same;
		o.class_labels = labels;
		ns_diag_clear(&diag);
		assert_int_equal(ns_model_fit(&p, &one, &o, &m, &diag), NS_ERR_SCHEMA);
		assert_non_null(strstr(diag.message, "only one class ('1')"));
		assert_null(m);
		/* Missing values: families that need complete data point to imputation. */
		x[4] = NAN;
		ns_diag_clear(&diag);
		if (f->flags & NS__FAMILY_NEEDS_COMPLETE) {
			assert_int_equal(ns_model_fit(&p, &d, NULL, &m, &diag), NS_ERR_SCHEMA);
			assert_non_null(strstr(diag.message, "impute"));
			assert_string_equal(diag.field, "f1");
		} else {
			assert_int_equal(ns_model_fit(&p, &d, NULL, &m, &diag), NS_OK);
			ns_model_free(m);
			m = NULL;
		}
		x[4] = INFINITY;
		assert_int_equal(ns_model_fit(&p, &d, NULL, &m, &diag), NS_ERR_SCHEMA);
		x[4] = 0.5;
		/* Bad class index. */
		y[3] = 7;
		assert_int_equal(ns_model_fit(&p, &d, NULL, &m, &diag), NS_ERR_INVALID);
		y[3] = 0;
	}
}

/* ---- encoder and predictor ---------------------------------------------------------- */

static const char *SCHEMA_YAML = "name: toy\n"
				 "header: true\n"
				 "target: label\n"
				 "classes: [\"ok\", \"bad\"]\n"
				 "threat: \"bad\"\n"
				 "columns:\n"
				 "  - {name: size, type: float}\n"
				 "  - {name: proto, type: category}\n"
				 "  - {name: label, type: category}\n";

static void test_encoder(void **state)
{
	struct ns_schema *s = NULL;
	struct ns_frame *f = NULL, *g = NULL;
	struct ns_encoder *e = NULL, *e2 = NULL;
	struct ns_diag diag;
	double *x = NULL;
	uint32_t *y = NULL;
	uint8_t *buf = NULL;
	size_t len;
	(void)state;
	assert_int_equal(ns_schema_parse(SCHEMA_YAML, strlen(SCHEMA_YAML), "toy", &s, &diag),
			 NS_OK);
	assert_int_equal(ns_frame_create(&f), NS_OK);
	assert_int_equal(ns_frame_add_column(f, "label", NS_COL_CATEGORY, NULL), NS_OK);
	assert_int_equal(ns_frame_add_column(f, "proto", NS_COL_CATEGORY, NULL), NS_OK);
	assert_int_equal(ns_frame_add_column(f, "size", NS_COL_NUMERIC, NULL), NS_OK);
	assert_int_equal(ns_frame_add_rows(f, 3, NULL), NS_OK);
	ns_frame_set_category(f, 0, 0, "ok", 2);
	ns_frame_set_category(f, 1, 0, "bad", 3);
	ns_frame_set_category(f, 2, 0, "ok", 2);
	ns_frame_set_category(f, 0, 1, "udp", 3);
	ns_frame_set_category(f, 1, 1, "tcp", 3);
	ns_frame_set_category(f, 2, 1, "udp", 3);
	ns_frame_set_number(f, 0, 2, 1.5);
	ns_frame_set_number(f, 1, 2, 2.5);
	ns_frame_set_number(f, 2, 2, 3.5);
	assert_int_equal(ns_encoder_fit(s, f, &e, &diag), NS_OK);
	assert_int_equal(ns_encoder_n_features(e), 3);
	assert_string_equal(ns_encoder_feature_name(e, 0), "size");
	assert_string_equal(ns_encoder_feature_name(e, 1), "proto=tcp");
	assert_string_equal(ns_encoder_feature_name(e, 2), "proto=udp");
	assert_int_equal(ns_encoder_threat(e), 1);
	assert_int_equal(ns_encoder_transform(e, f, &x, &y, &diag), NS_OK);
	assert_true(x[0] == 1.5 && x[1] == 0 && x[2] == 1);
	assert_true(x[3] == 2.5 && x[4] == 1 && x[5] == 0);
	assert_int_equal(y[0], 0);
	assert_int_equal(y[1], 1);
	ns_free(x);
	ns_free(y);
	/* Round trip through bytes. */
	assert_int_equal(ns_encoder_to_buffer(e, &buf, &len), NS_OK);
	assert_int_equal(ns_encoder_from_buffer(buf, len, &e2, &diag), NS_OK);
	assert_string_equal(ns_encoder_feature_name(e2, 2), "proto=udp");
	for (size_t cut = 0; cut < len; cut++) {
		struct ns_encoder *bad = NULL;
		assert_int_not_equal(ns_encoder_from_buffer(buf, cut, &bad, &diag), NS_OK);
	}
	ns_free(buf);
	/* Unseen level -> zeros; missing column -> error naming it; unknown label -> row. */
	assert_int_equal(ns_frame_create(&g), NS_OK);
	assert_int_equal(ns_frame_add_column(g, "proto", NS_COL_CATEGORY, NULL), NS_OK);
	assert_int_equal(ns_frame_add_rows(g, 1, NULL), NS_OK);
	ns_frame_set_category(g, 0, 0, "icmp", 4);
	assert_int_equal(ns_encoder_transform(e2, g, &x, NULL, &diag), NS_ERR_SCHEMA);
	assert_non_null(strstr(diag.message, "size"));
	assert_int_equal(ns_frame_add_column(g, "size", NS_COL_NUMERIC, NULL), NS_OK);
	assert_int_equal(ns_encoder_transform(e2, g, &x, NULL, &diag), NS_OK);
	assert_true(x[1] == 0 && x[2] == 0 && isnan(x[0]));
	ns_free(x);
	assert_int_equal(ns_frame_add_column(g, "label", NS_COL_CATEGORY, NULL), NS_OK);
	ns_frame_set_category(g, 0, 2, "weird", 5);
	assert_int_equal(ns_encoder_transform(e2, g, &x, &y, &diag), NS_ERR_SCHEMA);
	assert_non_null(strstr(diag.message, "row 1: label 'weird'"));
	ns_frame_free(g);
	ns_frame_free(f);
	ns_encoder_free(e);
	ns_encoder_free(e2);
	ns_schema_free(s);
}

struct collected {
	size_t n_header, n_rows;
	char header[256];
	char labels[64];
	uint64_t last_line;
};

static enum ns_status col_header(void *user, size_t n, const char *const *names)
{
	struct collected *c = user;
	c->n_header = n;
	for (size_t i = 0; i < n; i++) {
		strncat(c->header, names[i], sizeof(c->header) - strlen(c->header) - 2);
		strncat(c->header, ";", sizeof(c->header) - strlen(c->header) - 1);
	}
	return NS_OK;
}

static enum ns_status col_row(void *user, const struct ns_prediction_row *row)
{
	struct collected *c = user;
	if (c->n_rows < sizeof(c->labels) - 1)
		c->labels[c->n_rows] = (char)('0' + row->label);
	c->n_rows++;
	c->last_line = row->line;
	assert_true(row->n_fields >= 2);
	return NS_OK;
}

/* Fits a model on the toy schema: size > 10 is "bad". */
static struct ns_model *toy_model(void)
{
	struct ns_schema *s = NULL;
	struct ns_frame *f = NULL;
	struct ns_encoder *e = NULL;
	struct ns_model *m = NULL;
	struct ns_params p;
	struct ns_diag diag;
	double *x = NULL;
	uint32_t *y = NULL;
	uint8_t *buf = NULL;
	char *yaml = NULL;
	size_t len = 0;
	const char *csv = "size,proto,label\n1,tcp,ok\n2,udp,ok\n3,tcp,ok\n4,udp,ok\n"
			  "20,tcp,bad\n30,udp,bad\n40,tcp,bad\n50,udp,bad\n";
	char path[512];
	snprintf(path, sizeof(path), "%s/toy_train.csv", NETSEC_TEST_TMP);
	assert_int_equal(ns_write_file_atomic(path, csv, strlen(csv), &diag), NS_OK);
	assert_int_equal(ns_schema_parse(SCHEMA_YAML, strlen(SCHEMA_YAML), "toy", &s, &diag),
			 NS_OK);
	assert_int_equal(ns_frame_read_csv(path, s, &f, &diag), NS_OK);
	assert_int_equal(ns_encoder_fit(s, f, &e, &diag), NS_OK);
	assert_int_equal(ns_encoder_transform(e, f, &x, &y, &diag), NS_OK);
	{
		struct ns_dataset d = {ns_frame_n_rows(f), ns_encoder_n_features(e), x, y, 2, NULL};
		struct ns_fit_options o = ns_fit_options_default();
		o.class_labels = ns_encoder_class_labels(e);
		o.feature_names = ns_encoder_feature_names(e);
		o.threat_class = 1;
		ns_params_init(&p,
			       ns_family_find("tree") ? ns_family_find("tree") : ns_family_at(0));
		assert_int_equal(ns_model_fit(&p, &d, &o, &m, &diag), NS_OK);
	}
	assert_int_equal(ns_encoder_to_buffer(e, &buf, &len), NS_OK);
	assert_int_equal(ns_model_attach(m, NS_ATTACH_ENCODER, buf, len), NS_OK);
	assert_int_equal(ns_schema_to_yaml(s, &yaml, &len), NS_OK);
	assert_int_equal(ns_model_attach(m, NS_ATTACH_SCHEMA, (const uint8_t *)yaml, len), NS_OK);
	remove(path);
	ns_free(buf);
	ns_free(yaml);
	ns_free(x);
	ns_free(y);
	ns_encoder_free(e);
	ns_frame_free(f);
	ns_schema_free(s);
	return m;
}

static void test_predictor_streams(void **state)
{
	struct ns_model *m = toy_model();
	/* Columns in another order, an extra id column, no label; fed in tiny chunks. */
	const char *in = "id,proto,size\r\nA,tcp,1.5\r\nB,udp,45\r\nC,icmp,2\r\nD,tcp,35\r\n";
	struct ns_predictor_params pp = ns_predictor_params_default();
	(void)state;
	pp.block_rows = 3;
	for (size_t chunk = 1; chunk <= strlen(in); chunk += 3) {
		struct ns_predictor *p = NULL;
		struct collected c;
		struct ns_diag diag;
		memset(&c, 0, sizeof(c));
		assert_int_equal(ns_predictor_create(m, &pp, col_header, col_row, &c, &p, &diag),
				 NS_OK);
		for (size_t off = 0; off < strlen(in); off += chunk) {
			size_t n = strlen(in) - off < chunk ? strlen(in) - off : chunk;
			assert_int_equal(ns_predictor_feed(p, in + off, n, &diag), NS_OK);
		}
		assert_int_equal(ns_predictor_finish(p, &diag), NS_OK);
		assert_string_equal(c.header, "id;proto;size;");
		assert_int_equal(c.n_rows, 4);
		assert_string_equal(c.labels, "0101");
		assert_int_equal(c.last_line, 5);
		assert_int_equal(ns_predictor_class_counts(p)[1], 2);
		ns_predictor_free(p);
	}
	/* A missing column: an error naming it, on the header line. */
	{
		struct ns_predictor *p = NULL;
		struct collected c;
		struct ns_diag diag;
		const char *bad = "id,proto\nA,tcp\n";
		memset(&c, 0, sizeof(c));
		assert_int_equal(ns_predictor_create(m, &pp, col_header, col_row, &c, &p, &diag),
				 NS_OK);
		ns_diag_clear(&diag);
		assert_int_equal(ns_predictor_feed(p, bad, strlen(bad), &diag), NS_ERR_SCHEMA);
		assert_int_equal(diag.line, 1);
		assert_non_null(strstr(diag.message, "size"));
		ns_predictor_free(p);
	}
	/* Text in a numeric column: line and column. */
	{
		struct ns_predictor *p = NULL;
		struct collected c;
		struct ns_diag diag;
		const char *bad = "size,proto\n1,tcp\nabc,udp\n";
		memset(&c, 0, sizeof(c));
		assert_int_equal(ns_predictor_create(m, &pp, col_header, col_row, &c, &p, &diag),
				 NS_OK);
		ns_diag_clear(&diag);
		assert_int_equal(ns_predictor_feed(p, bad, strlen(bad), &diag), NS_ERR_SCHEMA);
		assert_int_equal(diag.line, 3);
		assert_int_equal(diag.column, 1);
		assert_string_equal(diag.field, "size");
		ns_predictor_free(p);
	}
	ns_model_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_family_round_trips),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_fit_checks),
		cmocka_unit_test(test_encoder),
		cmocka_unit_test(test_predictor_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
