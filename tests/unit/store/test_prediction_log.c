/*
 * tests/unit/store/test_prediction_log.c - the prediction log on real SQLite
 * files: logging, series bucketing (entries exactly at bucket edges, empty
 * ranges, the bucket cap), totals and their order, prune, raw rows, many
 * threads and processes logging at once, bad entries, allocation faults,
 * the cost of one log call, and a store file made before the log existed.
 *
 * Every test uses its own files under NETSEC_TEST_TMP (named after the test
 * and the process id) and deletes them.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "netsec/core.h"
#include "netsec/store.h"

#define OLD_STORE_SQL NETSEC_SOURCE_DIR "/tests/unit/store/store_v1_before_log.sql"

/* A fixed base time (2026-01-01T00:00:00Z), so that buckets are exact. */
#define T0 INT64_C(1767225600000)

/* ---- helpers --------------------------------------------------------------- */

static void tmp_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/predlog_%s_%ld.db", NETSEC_TEST_TMP, name, (long)getpid());
	assert_true(n > 0 && (size_t)n < size);
}

static void remove_db(const char *path)
{
	char p[512];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}

static void check_ok(enum ns_status st, const struct ns_diag *d)
{
	if (st != NS_OK) {
		char buf[1024];
		print_error("unexpected %s: %s\n", ns_status_name(st),
			    d ? ns_diag_format(d, buf, sizeof(buf)) : "");
	}
	assert_int_equal(st, NS_OK);
}

static struct ns_store *open_store(const char *path)
{
	struct ns_store *st = NULL;
	struct ns_diag d;
	check_ok(ns_store_open(path, &st, &d), &d);
	assert_non_null(st);
	return st;
}

static struct ns_store *fresh_store(char *path, size_t size, const char *name)
{
	tmp_path(path, size, name);
	remove_db(path);
	return open_store(path);
}

static const char *const bin_labels[] = {"-1", "1"};
static const bool bin_threat[] = {false, true};

/* Logs a binary entry at `t` with `benign` and `threat` rows. */
static void log_bin(struct ns_store *st, int64_t t, uint64_t benign, uint64_t threat)
{
	struct ns_prediction_log e;
	uint64_t counts[2] = {benign, threat};
	struct ns_diag d;
	memset(&e, 0, sizeof(e));
	e.time_ms = t;
	e.request_id = "req";
	e.source = "/predict";
	e.model_name = "netsec";
	e.model_version = 3;
	e.n_rows = benign + threat;
	e.n_classes = 2;
	e.labels = bin_labels;
	e.counts = counts;
	e.is_threat = bin_threat;
	e.seconds = 0.002;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
}

static int64_t query_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int64_t v;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

/* ---- logging and reading back ------------------------------------------------------ */

static void test_log_and_layout(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "layout");
	const char *const labels[] = {"benign", "phish", "malware"};
	const uint64_t counts[] = {7, 2, 1};
	const bool threat[] = {false, true, true};
	struct ns_prediction_log e;
	struct ns_prediction_class_total *tot = NULL;
	struct ns_diag d;
	sqlite3 *db;
	sqlite3_stmt *q;
	size_t n = 0;
	int64_t before = (int64_t)time(NULL) * 1000;
	(void)state;

	memset(&e, 0, sizeof(e));
	e.time_ms = T0 + 5;
	e.request_id = "r-1";
	e.source = "/predict";
	e.model_name = "netsec";
	e.model_version = 4;
	e.n_rows = 10;
	e.n_classes = 3;
	e.labels = labels;
	e.counts = counts;
	e.is_threat = threat;
	e.seconds = 0.25;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
	/* time 0 means now; NULL strings are stored as "". */
	e.time_ms = 0;
	e.request_id = e.source = e.model_name = NULL;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
	ns_store_close(st);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT at_ms, request_id, source, model_name,"
					    " model_version, n_rows, threat_rows, seconds"
					    " FROM netsec_predictions ORDER BY id",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int64(q, 0), T0 + 5);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "r-1");
	assert_string_equal((const char *)sqlite3_column_text(q, 2), "/predict");
	assert_string_equal((const char *)sqlite3_column_text(q, 3), "netsec");
	assert_int_equal(sqlite3_column_int(q, 4), 4);
	assert_int_equal(sqlite3_column_int(q, 5), 10);
	assert_int_equal(sqlite3_column_int(q, 6), 3);
	assert_true(sqlite3_column_double(q, 7) == 0.25);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_true(sqlite3_column_int64(q, 0) >= before);
	assert_true(sqlite3_column_int64(q, 0) <= (int64_t)time(NULL) * 1000 + 1000);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "");
	assert_int_equal(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT class, label, is_threat, n FROM"
					    " netsec_prediction_classes WHERE prediction_id = 1"
					    " ORDER BY class",
					    -1, &q, NULL),
			 SQLITE_OK);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sqlite3_step(q), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(q, 0), i);
		assert_string_equal((const char *)sqlite3_column_text(q, 1), labels[i]);
		assert_int_equal(sqlite3_column_int(q, 2), threat[i]);
		assert_int_equal(sqlite3_column_int64(q, 3), (int64_t)counts[i]);
	}
	assert_int_equal(sqlite3_step(q), SQLITE_DONE);
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_raw"), 0);

	/* Totals over everything: most frequent first. */
	st = open_store(path);
	check_ok(ns_store_prediction_totals(st, 0, INT64_MAX, &tot, &n, &d), &d);
	assert_int_equal(n, 3);
	assert_string_equal(tot[0].label, "benign");
	assert_int_equal(tot[0].count, 14);
	assert_false(tot[0].is_threat);
	assert_string_equal(tot[1].label, "phish");
	assert_int_equal(tot[1].count, 4);
	assert_true(tot[1].is_threat);
	assert_string_equal(tot[2].label, "malware");
	assert_int_equal(tot[2].count, 2);
	ns_free(tot);
	ns_store_close(st);
	remove_db(path);
}

/* ---- series -------------------------------------------------------------------------- */

static void test_series_edges(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "series");
	struct ns_prediction_bucket *b = NULL;
	struct ns_diag d;
	size_t n = 99;
	(void)state;

	/* Buckets of 1000 ms from T0: entries at T0 (first bucket), T0 + 999
	 * (still the first), T0 + 1000 (exactly the second's start), T0 + 3999
	 * (the last ms of the fourth), T0 + 4000 (== until: left out) and
	 * T0 - 1 (before since: left out). */
	log_bin(st, T0, 3, 1);
	log_bin(st, T0 + 999, 1, 0);
	log_bin(st, T0 + 1000, 0, 5);
	log_bin(st, T0 + 3999, 2, 2);
	log_bin(st, T0 + 4000, 100, 100);
	log_bin(st, T0 - 1, 100, 100);
	check_ok(ns_store_prediction_series(st, T0, T0 + 4000, 1000, &b, &n, &d), &d);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(b[i].start_ms, T0 + (int64_t)i * 1000);
	assert_int_equal(b[0].requests, 2);
	assert_int_equal(b[0].rows, 5);
	assert_int_equal(b[0].threat_rows, 1);
	assert_int_equal(b[1].requests, 1);
	assert_int_equal(b[1].rows, 5);
	assert_int_equal(b[1].threat_rows, 5);
	/* An empty bucket is present, as zeros. */
	assert_int_equal(b[2].requests, 0);
	assert_int_equal(b[2].rows, 0);
	assert_int_equal(b[2].threat_rows, 0);
	assert_int_equal(b[3].requests, 1);
	assert_int_equal(b[3].rows, 4);
	assert_int_equal(b[3].threat_rows, 2);
	ns_free(b);

	/* A range that is not a whole number of buckets: the last is cut short,
	 * and T0 + 4000 now falls into it. */
	check_ok(ns_store_prediction_series(st, T0, T0 + 4001, 1000, &b, &n, &d), &d);
	assert_int_equal(n, 5);
	assert_int_equal(b[4].start_ms, T0 + 4000);
	assert_int_equal(b[4].requests, 1);
	assert_int_equal(b[4].rows, 200);
	ns_free(b);

	/* Buckets start at since, not at a multiple of bucket_ms. */
	check_ok(ns_store_prediction_series(st, T0 - 1, T0 + 1, 1, &b, &n, &d), &d);
	assert_int_equal(n, 2);
	assert_int_equal(b[0].start_ms, T0 - 1);
	assert_int_equal(b[0].requests, 1);
	assert_int_equal(b[1].requests, 1);
	assert_int_equal(b[1].rows, 4);
	ns_free(b);

	/* One bucket for everything. */
	check_ok(ns_store_prediction_series(st, 0, T0 + 5000, T0 + 5000, &b, &n, &d), &d);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].requests, 6);
	assert_int_equal(b[0].rows, 414);
	assert_int_equal(b[0].threat_rows, 208);
	ns_free(b);

	/* An empty range: no buckets, NULL. */
	b = (void *)1;
	check_ok(ns_store_prediction_series(st, T0, T0, 1000, &b, &n, &d), &d);
	assert_null(b);
	assert_int_equal(n, 0);
	/* A range with no entries: all buckets, all zero. */
	check_ok(ns_store_prediction_series(st, T0 + 10000, T0 + 20000, 2500, &b, &n, &d), &d);
	assert_int_equal(n, 4);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(b[i].start_ms, T0 + 10000 + (int64_t)i * 2500);
		assert_int_equal(b[i].requests, 0);
	}
	ns_free(b);

	/* Exactly the cap, and one more. */
	check_ok(ns_store_prediction_series(st, T0, T0 + NS_PREDICTION_MAX_BUCKETS, 1, &b, &n, &d),
		 &d);
	assert_int_equal(n, NS_PREDICTION_MAX_BUCKETS);
	assert_int_equal(b[0].requests, 1);
	assert_int_equal(b[999].requests, 1);
	assert_int_equal(b[1000].requests, 1);
	assert_int_equal(b[3999].requests, 1);
	assert_int_equal(b[4000].requests, 1);
	ns_free(b);
	b = NULL;
	n = 7;
	assert_int_equal(ns_store_prediction_series(st, T0, T0 + NS_PREDICTION_MAX_BUCKETS + 1, 1,
						    &b, &n, &d),
			 NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "10001 buckets"));
	assert_null(b);
	assert_int_equal(n, 7);
	/* Bad ranges and buckets. */
	assert_int_equal(ns_store_prediction_series(st, T0, T0 - 1, 1000, &b, &n, &d),
			 NS_ERR_INVALID);
	assert_int_equal(ns_store_prediction_series(st, -1, T0, T0, &b, &n, &d), NS_ERR_INVALID);
	assert_int_equal(ns_store_prediction_series(st, T0, T0 + 1, 0, &b, &n, &d), NS_ERR_INVALID);
	assert_int_equal(ns_store_prediction_series(st, T0, T0 + 1, -5, &b, &n, &d),
			 NS_ERR_INVALID);
	assert_int_equal(ns_store_prediction_series(st, T0, T0 + 1, 1, NULL, &n, &d),
			 NS_ERR_INVALID);
	/* The whole int64 range in huge buckets does not overflow. */
	check_ok(ns_store_prediction_series(st, 0, INT64_MAX, INT64_MAX / 2, &b, &n, &d), &d);
	assert_int_equal(n, 3);
	assert_int_equal(b[0].requests, 6);
	ns_free(b);
	ns_store_close(st);
	remove_db(path);
}

/* ---- totals ------------------------------------------------------------------ */

static void test_totals_order(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "totals");
	const char *const l1[] = {"b", "a", "c", "zero"};
	const uint64_t c1[] = {5, 5, 9, 0};
	const bool t1[] = {false, false, true, false};
	const char *const l2[] = {"a", "c"};
	const uint64_t c2[] = {1, 0};
	const bool t2[] = {true, false}; /* a is a threat for this model */
	struct ns_prediction_log e;
	struct ns_prediction_class_total *tot = NULL;
	struct ns_diag d;
	size_t n = 0;
	(void)state;

	memset(&e, 0, sizeof(e));
	e.time_ms = T0;
	e.n_rows = 19;
	e.n_classes = 4;
	e.labels = l1;
	e.counts = c1;
	e.is_threat = t1;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
	e.time_ms = T0 + 10;
	e.n_rows = 1;
	e.n_classes = 2;
	e.labels = l2;
	e.counts = c2;
	e.is_threat = t2;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);

	check_ok(ns_store_prediction_totals(st, T0, T0 + 11, &tot, &n, &d), &d);
	assert_int_equal(n, 4);
	/* c 9, then a and b tied at 6 and 5... a has 6: a, then b, then zero. */
	assert_string_equal(tot[0].label, "c");
	assert_int_equal(tot[0].count, 9);
	assert_true(tot[0].is_threat);
	assert_string_equal(tot[1].label, "a");
	assert_int_equal(tot[1].count, 6);
	assert_true(tot[1].is_threat); /* one request said so */
	assert_string_equal(tot[2].label, "b");
	assert_int_equal(tot[2].count, 5);
	assert_false(tot[2].is_threat);
	/* Classes with no rows are still listed. */
	assert_string_equal(tot[3].label, "zero");
	assert_int_equal(tot[3].count, 0);
	ns_free(tot);

	/* Only the first entry: a and b tie at 5 and come in label order. */
	check_ok(ns_store_prediction_totals(st, T0, T0 + 10, &tot, &n, &d), &d);
	assert_int_equal(n, 4);
	assert_string_equal(tot[0].label, "c");
	assert_string_equal(tot[1].label, "a");
	assert_int_equal(tot[1].count, 5);
	assert_false(tot[1].is_threat);
	assert_string_equal(tot[2].label, "b");
	assert_int_equal(tot[2].count, 5);
	ns_free(tot);

	/* No entries in range: NULL, 0.  An empty range too. */
	tot = (void *)1;
	check_ok(ns_store_prediction_totals(st, T0 + 11, T0 + 1000, &tot, &n, &d), &d);
	assert_null(tot);
	assert_int_equal(n, 0);
	check_ok(ns_store_prediction_totals(st, T0, T0, &tot, &n, &d), &d);
	assert_null(tot);
	assert_int_equal(ns_store_prediction_totals(st, T0, T0 - 1, &tot, &n, &d), NS_ERR_INVALID);
	assert_int_equal(ns_store_prediction_totals(st, T0, T0 + 1, NULL, &n, &d), NS_ERR_INVALID);

	/* A label at the length cap comes back whole. */
	{
		char big[NS_PREDICTION_LABEL_MAX + 1];
		const char *lb[] = {big};
		const uint64_t cb[] = {1000};
		const bool tb[] = {true};
		memset(big, 'x', NS_PREDICTION_LABEL_MAX);
		big[NS_PREDICTION_LABEL_MAX] = '\0';
		e.time_ms = T0 + 20;
		e.n_rows = 1000;
		e.n_classes = 1;
		e.labels = lb;
		e.counts = cb;
		e.is_threat = tb;
		check_ok(ns_store_log_prediction(st, &e, &d), &d);
		check_ok(ns_store_prediction_totals(st, T0 + 20, T0 + 21, &tot, &n, &d), &d);
		assert_int_equal(n, 1);
		assert_string_equal(tot[0].label, big);
		ns_free(tot);
	}
	ns_store_close(st);
	remove_db(path);
}

/* ---- prune and raw rows -------------------------------------------------------------- */

static void test_prune_and_raw(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "prune");
	static const char raw[] = "a,b,prediction\n1,2,-1\n3,4,1\n";
	const uint64_t counts[] = {1, 1};
	struct ns_prediction_log e;
	struct ns_prediction_bucket *b = NULL;
	struct ns_diag d;
	uint64_t deleted = 99;
	size_t n = 0;
	sqlite3 *db;
	sqlite3_stmt *q;
	(void)state;

	/* 5000 entries, one per ms from T0 (more than one prune batch). */
	for (int i = 0; i < 5000; i++)
		log_bin(st, T0 + i, 1, 1);
	/* Two with raw rows: one before the prune line, one after; one empty. */
	memset(&e, 0, sizeof(e));
	e.request_id = "raw-old";
	e.time_ms = T0 + 10;
	e.n_rows = 2;
	e.n_classes = 2;
	e.labels = bin_labels;
	e.counts = counts;
	e.is_threat = bin_threat;
	e.raw_csv = raw;
	e.raw_len = sizeof(raw) - 1;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
	e.request_id = "raw-new";
	e.time_ms = T0 + 4500;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
	e.request_id = "raw-empty";
	e.raw_len = 0;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);

	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_raw"), 3);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db,
				   "SELECT r.csv, typeof(r.csv) FROM netsec_prediction_raw r"
				   " JOIN netsec_predictions p ON p.id = r.prediction_id"
				   " ORDER BY p.id",
				   -1, &q, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(q, 0), (int)sizeof(raw) - 1);
	assert_memory_equal(sqlite3_column_blob(q, 0), raw, sizeof(raw) - 1);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "blob");
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_bytes(q, 0), 0);
	assert_string_equal((const char *)sqlite3_column_text(q, 1), "blob");
	sqlite3_finalize(q);
	sqlite3_close(db);

	/* Nothing older than T0. */
	check_ok(ns_store_prediction_prune(st, T0, &deleted, &d), &d);
	assert_int_equal(deleted, 0);
	/* Entries exactly at before_ms stay. */
	check_ok(ns_store_prediction_prune(st, T0 + 4500, &deleted, &d), &d);
	assert_int_equal(deleted, 4501); /* T0 .. T0 + 4499, and raw-old */
	check_ok(ns_store_prediction_series(st, T0, T0 + 5000, 500, &b, &n, &d), &d);
	assert_int_equal(n, 10);
	for (size_t i = 0; i < 9; i++)
		assert_int_equal(b[i].requests, 0);
	assert_int_equal(b[9].requests, 502);
	ns_free(b);
	/* The cascade took the classes and raw rows along. */
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_raw"), 2);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_classes"),
			 2 * 502);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_classes c"
					 " LEFT JOIN netsec_predictions p ON p.id = c.prediction_id"
					 " WHERE p.id IS NULL"),
			 0);
	/* deleted may be NULL; everything goes. */
	check_ok(ns_store_prediction_prune(st, INT64_MAX, NULL, &d), &d);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_predictions"), 0);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_classes"), 0);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_raw"), 0);
	/* Logging goes on after a full prune. */
	log_bin(st, T0, 1, 0);
	check_ok(ns_store_prediction_series(st, T0, T0 + 1, 1, &b, &n, &d), &d);
	assert_int_equal(b[0].requests, 1);
	ns_free(b);
	ns_store_close(st);
	remove_db(path);
}

/* ---- bad input ----------------------------------------------------------------- */

static void expect_invalid(struct ns_store *st, const struct ns_prediction_log *e,
			   enum ns_status want, const char *needle)
{
	struct ns_diag d;
	enum ns_status s = ns_store_log_prediction(st, e, &d);
	if (s != want || !strstr(d.message, needle))
		fail_msg("want %s with '%s', got %s: '%s'", ns_status_name(want), needle,
			 ns_status_name(s), d.message);
}

static void test_bad_input(void **state)
{
	char path[256], big[NS_PREDICTION_TEXT_MAX + 2];
	struct ns_store *st = fresh_store(path, sizeof(path), "bad");
	const char *labels[] = {"ok", "1"};
	uint64_t counts[] = {1, 2};
	const bool threat[] = {false, true};
	struct ns_prediction_log good, e;
	struct ns_diag d;
	(void)state;

	memset(&good, 0, sizeof(good));
	good.time_ms = T0;
	good.n_rows = 3;
	good.n_classes = 2;
	good.labels = labels;
	good.counts = counts;
	good.is_threat = threat;
	check_ok(ns_store_log_prediction(st, &good, &d), &d);

	assert_int_equal(ns_store_log_prediction(st, NULL, &d), NS_ERR_INVALID);
	assert_int_equal(ns_store_log_prediction(NULL, &good, &d), NS_ERR_INVALID);
	e = good;
	e.labels = NULL;
	expect_invalid(st, &e, NS_ERR_INVALID, "labels, counts or is_threat is NULL");
	e = good;
	e.counts = NULL;
	expect_invalid(st, &e, NS_ERR_INVALID, "is NULL");
	e = good;
	e.is_threat = NULL;
	expect_invalid(st, &e, NS_ERR_INVALID, "is NULL");
	e = good;
	labels[1] = NULL;
	expect_invalid(st, &e, NS_ERR_INVALID, "label 1 is NULL");
	labels[1] = "";
	expect_invalid(st, &e, NS_ERR_INVALID, "label 1 is empty");
	labels[1] = "bad \xff utf-8";
	expect_invalid(st, &e, NS_ERR_INVALID, "label 1 is not valid UTF-8");
	labels[1] = "\xc0\xaf"; /* an overlong '/' */
	expect_invalid(st, &e, NS_ERR_INVALID, "not valid UTF-8");
	labels[1] = "ok";
	expect_invalid(st, &e, NS_ERR_INVALID, "label 'ok' appears twice (classes 0 and 1)");
	memset(big, 'y', NS_PREDICTION_LABEL_MAX + 1);
	big[NS_PREDICTION_LABEL_MAX + 1] = '\0';
	labels[1] = big;
	expect_invalid(st, &e, NS_ERR_INVALID, "label 1 is 128 bytes long; at most 127");
	labels[1] = "1";
	e.n_classes = NS_PREDICTION_MAX_CLASSES + 1;
	expect_invalid(st, &e, NS_ERR_INVALID, "1025 classes; at most 1024");
	e = good;
	e.n_rows = 4;
	expect_invalid(st, &e, NS_ERR_INVALID, "add up to 3, not to n_rows 4");
	e = good;
	e.n_rows = UINT64_MAX;
	expect_invalid(st, &e, NS_ERR_INVALID, "n_rows");
	counts[0] = UINT64_MAX / 2;
	counts[1] = UINT64_MAX / 2;
	e.n_rows = INT64_MAX;
	expect_invalid(st, &e, NS_ERR_INVALID, "more than 2^63 - 1");
	counts[0] = 1;
	counts[1] = 2;
	e = good;
	e.time_ms = -1;
	expect_invalid(st, &e, NS_ERR_INVALID, "time_ms -1 is negative");
	e = good;
	e.seconds = -0.5;
	expect_invalid(st, &e, NS_ERR_INVALID, "seconds");
	e.seconds = NAN;
	expect_invalid(st, &e, NS_ERR_INVALID, "seconds");
	e.seconds = INFINITY;
	expect_invalid(st, &e, NS_ERR_INVALID, "seconds");
	e = good;
	memset(big, 'r', NS_PREDICTION_TEXT_MAX + 1);
	big[NS_PREDICTION_TEXT_MAX + 1] = '\0';
	e.request_id = big;
	expect_invalid(st, &e, NS_ERR_INVALID, "request_id is 257 bytes long; at most 256");
	e = good;
	e.source = big;
	expect_invalid(st, &e, NS_ERR_INVALID, "source is 257 bytes");
	e = good;
	e.model_name = "m\xe2\x82";
	expect_invalid(st, &e, NS_ERR_INVALID, "model_name is not valid UTF-8");
	big[NS_PREDICTION_TEXT_MAX] = '\0'; /* exactly the cap is fine */
	e = good;
	e.request_id = big;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
	e = good;
	e.raw_len = 5;
	expect_invalid(st, &e, NS_ERR_INVALID, "raw_len is 5 but raw_csv is NULL");
	e.raw_csv = "x";
	e.raw_len = NS_PREDICTION_RAW_MAX + 1;
	expect_invalid(st, &e, NS_ERR_LIMIT, "at most 268435456 kept");
	/* A request without rows or classes is fine. */
	e = good;
	e.n_rows = 0;
	e.n_classes = 0;
	e.labels = NULL;
	e.counts = NULL;
	e.is_threat = NULL;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);

	/* Only the good ones were stored, each whole. */
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_predictions"), 3);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_classes"), 4);
	ns_store_close(st);
	remove_db(path);
}

/* A failure inside the transaction leaves nothing of the entry behind. */
static void test_failed_entry_rolls_back(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "rollback");
	struct ns_diag d;
	sqlite3 *db;
	(void)state;
	log_bin(st, T0, 1, 1);
	/* Make the raw-rows insert fail: the entry and its classes must go too. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TRIGGER no_raw BEFORE INSERT ON netsec_prediction_raw"
				      " BEGIN SELECT RAISE(ABORT, 'raw rows refused'); END",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	{
		struct ns_prediction_log e;
		const uint64_t counts[] = {1, 0};
		memset(&e, 0, sizeof(e));
		e.time_ms = T0 + 1;
		e.n_rows = 1;
		e.n_classes = 2;
		e.labels = bin_labels;
		e.counts = counts;
		e.is_threat = bin_threat;
		e.raw_csv = "a\n";
		e.raw_len = 2;
		assert_int_equal(ns_store_log_prediction(st, &e, &d), NS_ERR_STORE);
		assert_non_null(strstr(d.message, "raw rows refused"));
		/* The handle still works, and without raw rows the entry goes in. */
		e.raw_csv = NULL;
		e.raw_len = 0;
		check_ok(ns_store_log_prediction(st, &e, &d), &d);
	}
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_predictions"), 2);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_prediction_classes"), 4);
	ns_store_close(st);
	remove_db(path);
}

/* ---- concurrency ---------------------------------------------------------------- */

#define N_THREADS 8
#define PER_THREAD 250

struct worker {
	const char *path;
	int id;
	enum ns_status status;
	struct ns_diag diag;
};

/* Worker `id` logs PER_THREAD entries: entry j at T0 + j ms with id + 1
 * benign rows and (j % 3) threat rows, under label "-1" / "1" plus a label
 * of its own (0 rows) so that totals also count labels seen by one writer. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct ns_store *st = NULL;
	char own[16], rid[32];
	const char *labels[3] = {"-1", "1", own};
	const bool threat[3] = {false, true, false};
	snprintf(own, sizeof(own), "w%d", w->id);
	if ((w->status = ns_store_open(w->path, &st, &w->diag)) != NS_OK)
		return NULL;
	for (int j = 0; j < PER_THREAD && w->status == NS_OK; j++) {
		struct ns_prediction_log e;
		uint64_t counts[3] = {(uint64_t)w->id + 1, (uint64_t)(j % 3), 0};
		memset(&e, 0, sizeof(e));
		snprintf(rid, sizeof(rid), "w%d-%d", w->id, j);
		e.time_ms = T0 + j;
		e.request_id = rid;
		e.n_rows = counts[0] + counts[1];
		e.n_classes = 3;
		e.labels = labels;
		e.counts = counts;
		e.is_threat = threat;
		w->status = ns_store_log_prediction(st, &e, &w->diag);
	}
	ns_store_close(st);
	return NULL;
}

/* What N writers of worker_main add up to. */
static void check_concurrent_totals(const char *path, int n_writers)
{
	struct ns_store *st = open_store(path);
	struct ns_prediction_bucket *b = NULL;
	struct ns_prediction_class_total *tot = NULL;
	struct ns_diag d;
	uint64_t benign = 0, threat = 0, per_writer_threat = 0;
	size_t n = 0;
	for (int j = 0; j < PER_THREAD; j++)
		per_writer_threat += (uint64_t)(j % 3);
	for (int w = 0; w < n_writers; w++)
		benign += (uint64_t)(w + 1) * PER_THREAD;
	threat = per_writer_threat * (uint64_t)n_writers;
	check_ok(ns_store_prediction_series(st, T0, T0 + PER_THREAD, 50, &b, &n, &d), &d);
	assert_int_equal(n, PER_THREAD / 50);
	{
		uint64_t req = 0, rows = 0, thr = 0;
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(b[i].requests, 50 * (uint64_t)n_writers);
			req += b[i].requests;
			rows += b[i].rows;
			thr += b[i].threat_rows;
		}
		assert_int_equal(req, (uint64_t)n_writers * PER_THREAD);
		assert_int_equal(rows, benign + threat);
		assert_int_equal(thr, threat);
	}
	ns_free(b);
	check_ok(ns_store_prediction_totals(st, 0, INT64_MAX, &tot, &n, &d), &d);
	assert_int_equal(n, 2 + (size_t)n_writers);
	assert_string_equal(tot[0].label, "-1");
	assert_int_equal(tot[0].count, benign);
	assert_string_equal(tot[1].label, "1");
	assert_int_equal(tot[1].count, threat);
	for (size_t i = 2; i < n; i++)
		assert_int_equal(tot[i].count, 0);
	ns_free(tot);
	ns_store_close(st);
	assert_int_equal(
		query_int(path, "SELECT count(DISTINCT request_id) FROM netsec_predictions"),
		n_writers * PER_THREAD);
}

static void test_concurrent_threads(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "threads");
	pthread_t th[N_THREADS];
	struct worker w[N_THREADS];
	double t;
	struct timespec a, z;
	(void)state;
	ns_store_close(st); /* the file exists with its tables */
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < N_THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].path = path;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		check_ok(w[i].status, &w[i].diag);
	}
	clock_gettime(CLOCK_MONOTONIC, &z);
	t = (double)(z.tv_sec - a.tv_sec) + (double)(z.tv_nsec - a.tv_nsec) * 1e-9;
	print_message("    %d threads logged %d entries in %.3f s (%.1f us an entry)\n", N_THREADS,
		      N_THREADS * PER_THREAD, t, t * 1e6 / (N_THREADS * PER_THREAD));
	check_concurrent_totals(path, N_THREADS);
	remove_db(path);
}

#define N_PROCS 4

static void test_concurrent_processes(void **state)
{
	char path[256];
	pid_t pid[N_PROCS];
	(void)state;
	/* The children create the store themselves, racing to make the tables. */
	tmp_path(path, sizeof(path), "procs");
	remove_db(path);
	fflush(NULL);
	for (int i = 0; i < N_PROCS; i++) {
		pid[i] = fork();
		assert_true(pid[i] >= 0);
		if (pid[i] == 0) {
			struct worker w;
			memset(&w, 0, sizeof(w));
			w.path = path;
			w.id = i;
			worker_main(&w);
			if (w.status != NS_OK) {
				char buf[1024];
				fprintf(stderr, "child %d: %s\n", i,
					ns_diag_format(&w.diag, buf, sizeof(buf)));
			}
			_exit(w.status == NS_OK ? 0 : 1);
		}
	}
	for (int i = 0; i < N_PROCS; i++) {
		int status;
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	check_concurrent_totals(path, N_PROCS);
	remove_db(path);
}

/* ---- cost of one call -------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Mean, 99th percentile and worst of n log calls (written to the output). */
static void test_log_cost(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "cost");
	enum { N = 5000 };
	double *dt = calloc(N, sizeof(*dt)), sum = 0;
	char raw[4096];
	(void)state;
	assert_non_null(dt);
	log_bin(st, T0, 1, 1); /* statements prepared */
	for (int i = 0; i < N; i++) {
		double t = now_s();
		log_bin(st, T0 + 1 + i, 90, 10);
		dt[i] = now_s() - t;
		sum += dt[i];
	}
	qsort(dt, N, sizeof(*dt), cmp_double);
	print_message("    one log call (2 classes): mean %.1f us, p50 %.1f us, p99 %.1f us, "
		      "max %.1f us over %d\n",
		      sum * 1e6 / N, dt[N / 2] * 1e6, dt[N * 99 / 100] * 1e6, dt[N - 1] * 1e6, N);
	/* Well under 1 ms in a normal build; the bound leaves room for
	 * sanitizers and a loaded machine while catching an fsync per call. */
	assert_true(sum / N < 0.005);

	/* With 4 KiB of raw rows. */
	memset(raw, 'x', sizeof(raw));
	sum = 0;
	for (int i = 0; i < 1000; i++) {
		struct ns_prediction_log e;
		const uint64_t counts[] = {90, 10};
		struct ns_diag d;
		double t;
		memset(&e, 0, sizeof(e));
		e.time_ms = T0 + 10000 + i;
		e.n_rows = 100;
		e.n_classes = 2;
		e.labels = bin_labels;
		e.counts = counts;
		e.is_threat = bin_threat;
		e.raw_csv = raw;
		e.raw_len = sizeof(raw);
		t = now_s();
		check_ok(ns_store_log_prediction(st, &e, &d), &d);
		sum += now_s() - t;
	}
	print_message("    one log call with 4 KiB of raw rows: mean %.1f us over 1000\n",
		      sum * 1e6 / 1000);
	free(dt);
	ns_store_close(st);
	remove_db(path);
}

/* ---- allocation failures --------------------------------------------------------------- */

static void test_alloc_faults(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "faults");
	const char *const labels[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
	const uint64_t counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	const bool threat[10] = {false, true};
	struct ns_prediction_log e;
	struct ns_prediction_bucket *b = NULL;
	struct ns_prediction_class_total *tot = NULL;
	struct ns_diag d;
	enum ns_status s = NS_ERR_NOMEM;
	size_t n = 0;
	long k;
	(void)state;
	memset(&e, 0, sizeof(e));
	e.time_ms = T0;
	e.n_rows = 55;
	e.n_classes = 10;
	e.labels = labels;
	e.counts = counts;
	e.is_threat = threat;
	for (k = 0; k < 1000; k++) {
		ns_alloc_fail_after(k);
		s = ns_store_log_prediction(st, &e, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK)
			break;
		assert_int_equal(s, NS_ERR_NOMEM);
		assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_predictions"), 0);
	}
	check_ok(s, &d);
	assert_int_equal(query_int(path, "SELECT count(*) FROM netsec_predictions"), 1);

	for (k = 0; k < 1000; k++) {
		b = NULL;
		ns_alloc_fail_after(k);
		s = ns_store_prediction_series(st, T0, T0 + 10, 1, &b, &n, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK)
			break;
		assert_int_equal(s, NS_ERR_NOMEM);
		assert_null(b);
	}
	check_ok(s, &d);
	assert_true(k > 0);
	assert_int_equal(n, 10);
	assert_int_equal(b[0].rows, 55);
	ns_free(b);

	for (k = 0; k < 1000; k++) {
		tot = NULL;
		ns_alloc_fail_after(k);
		s = ns_store_prediction_totals(st, T0, T0 + 10, &tot, &n, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK)
			break;
		assert_int_equal(s, NS_ERR_NOMEM);
		assert_null(tot);
	}
	check_ok(s, &d);
	assert_true(k > 0);
	assert_int_equal(n, 10);
	assert_string_equal(tot[0].label, "j");
	assert_string_equal(tot[9].label, "a");
	ns_free(tot);

	for (k = 0; k < 1000; k++) {
		uint64_t del = 0;
		ns_alloc_fail_after(k);
		s = ns_store_prediction_prune(st, T0 + 1, &del, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK) {
			assert_int_equal(del, 1);
			break;
		}
	}
	check_ok(s, &d);
	ns_store_close(st);
	remove_db(path);
}

/* ---- a store file made before the prediction log ------------------------------------ */

static void test_old_store_gains_tables(void **state)
{
	char path[256], *sql = NULL;
	size_t len = 0;
	struct ns_store *st;
	struct ns_prediction_bucket *b = NULL;
	struct ns_diag d;
	uint64_t rows = 0;
	size_t n = 0;
	sqlite3 *db;
	(void)state;
	tmp_path(path, sizeof(path), "old");
	remove_db(path);
	/* The file as netsec 0.1.0 wrote it (WAL mode, as it leaves files). */
	check_ok(ns_read_file(OLD_STORE_SQL, 1 << 20, &sql, &len, &d), &d);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	ns_free(sql);
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master"
					 " WHERE name LIKE 'netsec_prediction%'"),
			 0);

	st = open_store(path);
	/* Its data is still there and readable. */
	check_ok(ns_store_count(st, "legacy", &rows, &d), &d);
	assert_int_equal(rows, 3);
	/* And the log works on it. */
	log_bin(st, T0, 2, 1);
	check_ok(ns_store_prediction_series(st, T0, T0 + 1, 1, &b, &n, &d), &d);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].threat_rows, 1);
	ns_free(b);
	ns_store_close(st);
	/* The tables and the time index exist; the format version is unchanged. */
	assert_int_equal(query_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN"
					 " ('netsec_predictions', 'netsec_prediction_classes',"
					 " 'netsec_prediction_raw', 'netsec_predictions_by_time')"),
			 4);
	assert_int_equal(
		query_int(path, "SELECT value FROM netsec_meta WHERE key = 'format_version'"), 1);
	/* Opening again changes nothing. */
	st = open_store(path);
	check_ok(ns_store_prediction_series(st, T0, T0 + 1, 1, &b, &n, &d), &d);
	assert_int_equal(b[0].requests, 1);
	ns_free(b);
	ns_store_close(st);
	remove_db(path);
}

/* The series and totals queries read the time index, not the whole table. */
static void test_query_plans(void **state)
{
	char path[256];
	struct ns_store *st = fresh_store(path, sizeof(path), "plans");
	sqlite3 *db;
	sqlite3_stmt *q;
	bool covering = false;
	(void)state;
	ns_store_close(st);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "EXPLAIN QUERY PLAN SELECT (at_ms - ?1) / ?3, count(*),"
					    " sum(n_rows), sum(threat_rows) FROM netsec_predictions"
					    " WHERE at_ms >= ?1 AND at_ms < ?2 GROUP BY 1",
					    -1, &q, NULL),
			 SQLITE_OK);
	while (sqlite3_step(q) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(q, 3);
		if (strstr(detail, "COVERING INDEX netsec_predictions_by_time"))
			covering = true;
	}
	sqlite3_finalize(q);
	sqlite3_close(db);
	assert_true(covering);
	remove_db(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_and_layout),
		cmocka_unit_test(test_series_edges),
		cmocka_unit_test(test_totals_order),
		cmocka_unit_test(test_prune_and_raw),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_failed_entry_rolls_back),
		cmocka_unit_test(test_concurrent_threads),
		cmocka_unit_test(test_concurrent_processes),
		cmocka_unit_test(test_log_cost),
		cmocka_unit_test(test_alloc_faults),
		cmocka_unit_test(test_old_store_gains_tables),
		cmocka_unit_test(test_query_plans),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
