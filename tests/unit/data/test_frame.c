/*
 * tests/unit/data/test_frame.c - the columnar table: building, categories,
 * selection, append, memory per cell, allocation failures.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "netsec/frame.h"

static struct ns_frame *make_small(void)
{
	struct ns_frame *f;
	size_t first;
	const char *proto[] = {"tcp", "udp", "tcp", "icmp"};
	assert_int_equal(ns_frame_create(&f), NS_OK);
	assert_int_equal(ns_frame_add_column(f, "x", NS_COL_NUMERIC, NULL), NS_OK);
	assert_int_equal(ns_frame_add_column(f, "proto", NS_COL_CATEGORY, NULL), NS_OK);
	assert_int_equal(ns_frame_add_rows(f, 4, &first), NS_OK);
	assert_int_equal(first, 0);
	for (size_t r = 0; r < 4; r++) {
		ns_frame_set_number(f, r, 0, (double)r * 1.5);
		assert_int_equal(ns_frame_set_category(f, r, 1, proto[r], strlen(proto[r])), NS_OK);
	}
	return f;
}

static void test_build_and_read(void **state)
{
	struct ns_frame *f = make_small();
	struct ns_diag d;
	(void)state;
	assert_int_equal(ns_frame_n_rows(f), 4);
	assert_int_equal(ns_frame_n_cols(f), 2);
	assert_string_equal(ns_frame_col_name(f, 1), "proto");
	assert_int_equal(ns_frame_col_index(f, "proto"), 1);
	assert_int_equal(ns_frame_col_index(f, "nope"), -1);
	assert_int_equal(ns_frame_n_levels(f, 1), 3);
	assert_int_equal(ns_frame_codes(f, 1)[2], ns_frame_codes(f, 1)[0]);
	assert_string_equal(ns_frame_level(f, 1, ns_frame_codes(f, 1)[3]), "icmp");
	assert_int_equal(ns_frame_level_code(f, 1, "udp", 3), 1);
	assert_int_equal(ns_frame_level_code(f, 1, "ftp", 3), NS_FRAME_NA_CODE);
	assert_null(ns_frame_level(f, 1, NS_FRAME_NA_CODE));
	assert_true(ns_frame_numbers(f, 0)[3] == 4.5);
	assert_null(ns_frame_numbers(f, 1));
	/* Duplicate names are refused with the name in the diagnostic. */
	ns_diag_clear(&d);
	assert_int_equal(ns_frame_add_column(f, "x", NS_COL_NUMERIC, &d), NS_ERR_EXISTS);
	assert_string_equal(d.field, "x");
	/* A column added later reads as missing for existing rows. */
	assert_int_equal(ns_frame_add_column(f, "y", NS_COL_NUMERIC, NULL), NS_OK);
	assert_true(isnan(ns_frame_numbers(f, 2)[0]));
	assert_int_equal(ns_frame_add_column(f, "c", NS_COL_CATEGORY, NULL), NS_OK);
	assert_int_equal(ns_frame_codes(f, 3)[3], NS_FRAME_NA_CODE);
	ns_frame_free(f);
	ns_frame_free(NULL);
}

static void test_select_and_append(void **state)
{
	struct ns_frame *f = make_small(), *g, *h, *x;
	size_t rows[] = {3, 0, 0};
	size_t cols[] = {1};
	size_t bad[] = {9};
	struct ns_diag d;
	(void)state;
	assert_int_equal(ns_frame_select_rows(f, rows, 3, &g), NS_OK);
	assert_int_equal(ns_frame_n_rows(g), 3);
	assert_true(ns_frame_numbers(g, 0)[0] == 4.5);
	assert_string_equal(ns_frame_level(g, 1, ns_frame_codes(g, 1)[0]), "icmp");
	assert_int_equal(ns_frame_select_rows(f, bad, 1, &x), NS_ERR_INVALID);
	assert_int_equal(ns_frame_select_cols(f, cols, 1, &h), NS_OK);
	assert_int_equal(ns_frame_n_cols(h), 1);
	assert_string_equal(ns_frame_col_name(h, 0), "proto");
	assert_int_equal(ns_frame_n_rows(h), 4);
	ns_frame_free(h);

	/* Append remaps codes into the destination's dictionary. */
	{
		struct ns_frame *k;
		assert_int_equal(ns_frame_create(&k), NS_OK);
		assert_int_equal(ns_frame_add_column(k, "proto", NS_COL_CATEGORY, NULL), NS_OK);
		assert_int_equal(ns_frame_add_column(k, "x", NS_COL_NUMERIC, NULL), NS_OK);
		assert_int_equal(ns_frame_add_rows(k, 1, NULL), NS_OK);
		assert_int_equal(ns_frame_set_category(k, 0, 0, "gre", 3), NS_OK);
		ns_frame_set_number(k, 0, 1, -2);
		assert_int_equal(ns_frame_append(g, k, NULL), NS_OK);
		assert_int_equal(ns_frame_n_rows(g), 4);
		assert_string_equal(ns_frame_level(g, 1, ns_frame_codes(g, 1)[3]), "gre");
		assert_true(ns_frame_numbers(g, 0)[3] == -2);
		/* Kind mismatch is refused with the column's name. */
		ns_frame_free(k);
		assert_int_equal(ns_frame_create(&k), NS_OK);
		assert_int_equal(ns_frame_add_column(k, "proto", NS_COL_NUMERIC, NULL), NS_OK);
		assert_int_equal(ns_frame_add_column(k, "x", NS_COL_NUMERIC, NULL), NS_OK);
		ns_diag_clear(&d);
		assert_int_equal(ns_frame_append(g, k, &d), NS_ERR_SCHEMA);
		assert_string_equal(d.field, "proto");
		assert_int_equal(ns_frame_n_rows(g), 4);
		ns_frame_free(k);
	}
	ns_frame_free(g);
	ns_frame_free(f);
}

static void test_numeric_to_category(void **state)
{
	struct ns_frame *f;
	(void)state;
	assert_int_equal(ns_frame_create(&f), NS_OK);
	assert_int_equal(ns_frame_add_column(f, "v", NS_COL_NUMERIC, NULL), NS_OK);
	assert_int_equal(ns_frame_add_rows(f, 3, NULL), NS_OK);
	ns_frame_set_number(f, 0, 0, 1);
	ns_frame_set_number(f, 1, 0, 0.5);
	assert_int_equal(ns_frame_numeric_to_category(f, 0), NS_OK);
	assert_int_equal(ns_frame_col_kind(f, 0), NS_COL_CATEGORY);
	assert_string_equal(ns_frame_level(f, 0, ns_frame_codes(f, 0)[0]), "1");
	assert_string_equal(ns_frame_level(f, 0, ns_frame_codes(f, 0)[1]), "0.5");
	assert_int_equal(ns_frame_codes(f, 0)[2], NS_FRAME_NA_CODE);
	/* Rows added after the conversion are categorical too. */
	assert_int_equal(ns_frame_add_rows(f, 100, NULL), NS_OK);
	assert_int_equal(ns_frame_codes(f, 0)[102], NS_FRAME_NA_CODE);
	ns_frame_free(f);
}

static void test_memory_per_cell(void **state)
{
	struct ns_frame *f;
	const size_t n_rows = 100000, n_cols = 31;
	size_t bytes;
	(void)state;
	assert_int_equal(ns_frame_create(&f), NS_OK);
	for (size_t j = 0; j < n_cols; j++) {
		char name[16];
		snprintf(name, sizeof(name), "c%zu", j);
		assert_int_equal(ns_frame_add_column(f, name, NS_COL_NUMERIC, NULL), NS_OK);
	}
	for (size_t r = 0; r < n_rows; r++) {
		size_t row;
		assert_int_equal(ns_frame_add_rows(f, 1, &row), NS_OK);
		for (size_t j = 0; j < n_cols; j++)
			ns_frame_set_number(f, row, j, (double)(r + j));
	}
	assert_int_equal(ns_frame_shrink(f), NS_OK);
	bytes = ns_frame_memory(f);
	/* 8 bytes a cell plus a little for names and the column table. */
	assert_true(bytes < n_rows * n_cols * 8 + 4096);
	assert_true(ns_frame_numbers(f, 30)[n_rows - 1] == (double)(n_rows - 1 + 30));
	ns_frame_free(f);
}

static void test_alloc_failures(void **state)
{
	(void)state;
	for (long n = 0;; n++) {
		struct ns_frame *f = NULL, *g = NULL;
		enum ns_status st;
		size_t rows[] = {0, 1};
		ns_alloc_fail_after(n);
		st = ns_frame_create(&f);
		if (st == NS_OK)
			st = ns_frame_add_column(f, "a", NS_COL_CATEGORY, NULL);
		if (st == NS_OK)
			st = ns_frame_add_rows(f, 2, NULL);
		if (st == NS_OK)
			st = ns_frame_set_category(f, 0, 0, "p", 1);
		if (st == NS_OK)
			st = ns_frame_set_category(f, 1, 0, "q", 1);
		if (st == NS_OK)
			st = ns_frame_select_rows(f, rows, 2, &g);
		if (st == NS_OK)
			st = ns_frame_append(g, f, NULL);
		ns_alloc_fail_reset();
		ns_frame_free(g);
		ns_frame_free(f);
		if (st == NS_OK)
			break;
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_true(n < 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_and_read),
		cmocka_unit_test(test_select_and_append),
		cmocka_unit_test(test_numeric_to_category),
		cmocka_unit_test(test_memory_per_cell),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
