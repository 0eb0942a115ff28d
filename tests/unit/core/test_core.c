/*
 * tests/unit/core/test_core.c - status, diagnostics, allocation faults,
 * numbers, SHA-256, atomic writes.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "netsec/core.h"

static void test_status_strings(void **state)
{
	(void)state;
	assert_int_equal(NS_OK, 0);
	assert_string_equal(ns_status_str(NS_OK), "ok");
	assert_string_equal(ns_status_name(NS_ERR_PARSE), "ERR_PARSE");
	for (int s = 0; s < NS_STATUS_COUNT_; s++)
		assert_string_not_equal(ns_status_str((enum ns_status)s), "unknown status");
	assert_string_equal(ns_status_str((enum ns_status)999), "unknown status");
}

static void test_diag_format(void **state)
{
	struct ns_diag d;
	char buf[256];
	(void)state;
	ns_diag_clear(&d);
	assert_int_equal(ns_diag_set(&d, NS_ERR_PARSE, "bad %s", "thing"), NS_ERR_PARSE);
	ns_diag_where(&d, "x.csv", 12, 3, "URL_Length");
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "x.csv:12:3: field 'URL_Length': bad thing");
	ns_diag_clear(&d);
	ns_diag_set(&d, NS_ERR_IO, NULL);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)), "input/output error");
	/* A tiny buffer is truncated, never overflowed. */
	ns_diag_where(&d, "a-very-long-file-name.csv", 1, 1, NULL);
	ns_diag_format(&d, buf, 8);
	assert_int_equal(strlen(buf), 7);
	/* NULL diag is accepted everywhere. */
	assert_int_equal(ns_diag_set(NULL, NS_ERR_IO, "x"), NS_ERR_IO);
	ns_diag_where(NULL, "f", 1, 1, "g");
}

static void test_alloc_fail_after(void **state)
{
	void *a, *b;
	(void)state;
	ns_alloc_fail_after(1);
	a = ns_malloc(16);
	b = ns_malloc(16);
	assert_non_null(a);
	assert_null(b);
	assert_null(ns_strdup("x"));
	ns_alloc_fail_reset();
	b = ns_malloc(16);
	assert_non_null(b);
	ns_free(a);
	ns_free(b);
	ns_free(NULL);
	/* Overflowing sizes fail cleanly. */
	assert_null(ns_calloc(SIZE_MAX / 2, 4));
	assert_null(ns_reallocarray(NULL, SIZE_MAX / 2, 4));
}

static void check_parse(const char *s, double want)
{
	double got = 0;
	assert_true(ns_parse_double(s, strlen(s), &got));
	if (isnan(want))
		assert_true(isnan(got));
	else
		assert_memory_equal(&got, &want, sizeof(double));
}

static void test_parse_double(void **state)
{
	double v;
	(void)state;
	check_parse("0", 0.0);
	check_parse("-1", -1.0);
	check_parse("+7", 7.0);
	check_parse("3.25", 3.25);
	check_parse(".5", 0.5);
	check_parse("5.", 5.0);
	check_parse("1e3", 1000.0);
	check_parse("1E-3", 1e-3);
	check_parse("0.1", 0.1);
	check_parse("0.30000000000000004", 0.30000000000000004);
	check_parse("123456789012345678901234567890", 123456789012345678901234567890.0);
	check_parse("2.2250738585072014e-308", 2.2250738585072014e-308);
	check_parse("4.9e-324", 4.9e-324);
	check_parse("1.7976931348623157e308", 1.7976931348623157e308);
	check_parse("inf", INFINITY);
	check_parse("-inf", -INFINITY);
	check_parse("Infinity", INFINITY);
	check_parse("NaN", NAN);
	check_parse("9007199254740993", 9007199254740993.0);
	const char *bad[] = {"",   "-",  "+",    ".",   "e5",  "1e",  "1e+", "1.2.3",
			     " 1", "1 ", "0x10", "abc", "1,5", "--1", "in",  "nana"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(ns_parse_double(bad[i], strlen(bad[i]), &v));
}

static void test_format_double_round_trip(void **state)
{
	char buf[40];
	double vals[] = {0.0,
			 1.0,
			 -1.0,
			 0.1,
			 1.0 / 3.0,
			 2.5e-300,
			 1e300,
			 123.456,
			 -0.0,
			 1e16,
			 1e22,
			 6.02214076e23,
			 5e-324,
			 9007199254740993.0,
			 0.30000000000000004};
	(void)state;
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		double back;
		size_t n = ns_format_double(vals[i], buf, sizeof(buf));
		assert_true(n > 0);
		assert_true(ns_parse_double(buf, n, &back));
		assert_memory_equal(&back, &vals[i], sizeof(double));
	}
	ns_format_double(0.1, buf, sizeof(buf));
	assert_string_equal(buf, "0.1");
	ns_format_double(-3.0, buf, sizeof(buf));
	assert_string_equal(buf, "-3");
	ns_format_double(INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "inf");
	ns_format_double(-INFINITY, buf, sizeof(buf));
	assert_string_equal(buf, "-inf");
	assert_int_equal(ns_format_double(1.0 / 3.0, buf, 4), 0);
}

static void test_sha256_vectors(void **state)
{
	struct ns_sha256 s;
	uint8_t d[32];
	char hex[65];
	const char *abc = "abc";
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	(void)state;
	ns_sha256_init(&s);
	ns_sha256_final(&s, d);
	ns_sha256_hex(d, hex);
	assert_string_equal(hex,
			    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ns_sha256_init(&s);
	ns_sha256_update(&s, abc, 3);
	ns_sha256_final(&s, d);
	ns_sha256_hex(d, hex);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* Fed one byte at a time gives the same digest as fed whole. */
	ns_sha256_init(&s);
	for (size_t i = 0; i < strlen(two); i++)
		ns_sha256_update(&s, two + i, 1);
	ns_sha256_final(&s, d);
	ns_sha256_hex(d, hex);
	assert_string_equal(hex,
			    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* One million 'a' (FIPS 180-2 vector). */
	{
		char block[1000];
		memset(block, 'a', sizeof(block));
		ns_sha256_init(&s);
		for (int i = 0; i < 1000; i++)
			ns_sha256_update(&s, block, sizeof(block));
		ns_sha256_final(&s, d);
		ns_sha256_hex(d, hex);
		assert_string_equal(
			hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	}
}

static void test_atomic_write_and_read(void **state)
{
	char path[512];
	char *data = NULL;
	size_t len = 0;
	struct ns_diag d;
	(void)state;
	snprintf(path, sizeof(path), "%s/core_atomic.txt", NETSEC_TEST_TMP);
	assert_int_equal(ns_write_file_atomic(path, "hello", 5, &d), NS_OK);
	assert_int_equal(ns_read_file(path, 1 << 20, &data, &len, &d), NS_OK);
	assert_int_equal(len, 5);
	assert_string_equal(data, "hello");
	ns_free(data);
	/* Over the cap: a clear limit error. */
	assert_int_equal(ns_read_file(path, 3, &data, &len, &d), NS_ERR_LIMIT);
	/* Missing folder: I/O error naming the path, and no temp file left. */
	ns_diag_clear(&d);
	assert_int_equal(ns_write_file_atomic("/nonexistent-dir/x", "a", 1, &d), NS_ERR_IO);
	assert_string_equal(d.file, "/nonexistent-dir/x");
	assert_int_equal(ns_read_file("/nonexistent-dir/x", 10, &data, &len, &d), NS_ERR_IO);
	unlink(path);
}

static void test_atomic_stream_and_mkdir(void **state)
{
	char dir[512], path[600];
	struct ns_atomic_file af;
	struct ns_diag d;
	char *data = NULL;
	size_t len;
	(void)state;
	snprintf(dir, sizeof(dir), "%s/core_mk/a/b", NETSEC_TEST_TMP);
	assert_int_equal(ns_mkdir_p(dir, &d), NS_OK);
	assert_int_equal(ns_mkdir_p(dir, &d), NS_OK); /* idempotent */
	snprintf(path, sizeof(path), "%s/out.txt", dir);
	assert_int_equal(ns_write_file_atomic(path, "old", 3, &d), NS_OK);
	/* Until commit, readers see the old content; abort leaves it in place. */
	assert_int_equal(ns_atomic_file_open(&af, path, &d), NS_OK);
	fputs("new content", af.fp);
	fflush(af.fp);
	assert_int_equal(ns_read_file(path, 100, &data, &len, &d), NS_OK);
	assert_string_equal(data, "old");
	ns_free(data);
	ns_atomic_file_abort(&af);
	assert_int_equal(ns_read_file(path, 100, &data, &len, &d), NS_OK);
	assert_string_equal(data, "old");
	ns_free(data);
	assert_int_equal(ns_atomic_file_open(&af, path, &d), NS_OK);
	fputs("new content", af.fp);
	assert_int_equal(ns_atomic_file_commit(&af, &d), NS_OK);
	assert_int_equal(ns_read_file(path, 100, &data, &len, &d), NS_OK);
	assert_string_equal(data, "new content");
	ns_free(data);
	unlink(path);
	/* A file in the way of a folder is an I/O error naming it. */
	snprintf(path, sizeof(path), "%s/core_mk/file", NETSEC_TEST_TMP);
	assert_int_equal(ns_write_file_atomic(path, "x", 1, &d), NS_OK);
	snprintf(dir, sizeof(dir), "%s/core_mk/file/sub", NETSEC_TEST_TMP);
	assert_int_equal(ns_mkdir_p(dir, &d), NS_ERR_IO);
	unlink(path);
}

static void test_buf_cap(void **state)
{
	struct ns__buf b;
	(void)state;
	ns__buf_init(&b, 8);
	assert_int_equal(ns__buf_append(&b, "12345678", 8), NS_OK);
	assert_int_equal(ns__buf_append(&b, "9", 1), NS_ERR_LIMIT);
	assert_string_equal(b.data, "12345678");
	ns__buf_reset(&b);
	assert_int_equal(ns__buf_printf(&b, "%d-%s", 42, "x"), NS_OK);
	assert_string_equal(b.data, "42-x");
	ns__buf_fini(&b);
	assert_true(ns__valid_name("phishing_v1.2-x"));
	assert_false(ns__valid_name("a b"));
	assert_false(ns__valid_name(""));
	assert_false(ns__valid_name("x;drop"));
}

static int log_count;
static void count_log(void *user, enum ns_log_level level, const char *msg)
{
	(void)user;
	(void)level;
	(void)msg;
	log_count++;
}

static void test_log_callback(void **state)
{
	(void)state;
	ns_log_set(count_log, NULL, NS_LOG_INFO);
	ns_log(NS_LOG_INFO, "hello %d", 1);
	ns_log(NS_LOG_DEBUG, "not shown");
	assert_int_equal(log_count, 1);
	assert_true(ns_log_enabled(NS_LOG_WARN));
	assert_false(ns_log_enabled(NS_LOG_DEBUG));
	ns_log_set(NULL, NULL, NS_LOG_DEBUG);
	ns_log(NS_LOG_ERROR, "dropped");
	assert_int_equal(log_count, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_strings),
		cmocka_unit_test(test_diag_format),
		cmocka_unit_test(test_alloc_fail_after),
		cmocka_unit_test(test_parse_double),
		cmocka_unit_test(test_format_double_round_trip),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_atomic_write_and_read),
		cmocka_unit_test(test_atomic_stream_and_mkdir),
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_log_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
