/*
 * lib/data/frame_csv.c - a frame (or some of its rows) written as CSV.
 */
#include <string.h>

#include "netsec/csv.h"
#include "netsec/frame.h"

enum ns_status ns_frame_write_csv(const struct ns_frame *f, const size_t *rows, size_t n,
				  bool header, char delimiter, FILE *fp, struct ns_diag *diag)
{
	struct ns_csv_writer *w = NULL;
	size_t n_cols = ns_frame_n_cols(f), n_rows = ns_frame_n_rows(f);
	enum ns_status st;
	if (!rows)
		n = n_rows;
	st = ns_csv_writer_create(fp, delimiter ? delimiter : ',', &w, diag);
	if (st != NS_OK)
		return st;
	for (size_t j = 0; header && st == NS_OK && j < n_cols; j++) {
		const char *name = ns_frame_col_name(f, j);
		st = ns_csv_writer_field(w, name, strlen(name));
	}
	if (header && st == NS_OK)
		st = ns_csv_writer_end_row(w);
	for (size_t i = 0; st == NS_OK && i < n; i++) {
		size_t r = rows ? rows[i] : i;
		if (r >= n_rows) {
			st = ns_diag_set(diag, NS_ERR_INVALID, "row %zu is out of range", r);
			break;
		}
		for (size_t j = 0; st == NS_OK && j < n_cols; j++) {
			if (ns_frame_col_kind(f, j) == NS_COL_NUMERIC) {
				st = ns_csv_writer_number(w, ns_frame_numbers(f, j)[r]);
			} else {
				uint32_t code = ns_frame_codes(f, j)[r];
				const char *s =
					code == NS_FRAME_NA_CODE ? "" : ns_frame_level(f, j, code);
				st = ns_csv_writer_field(w, s, strlen(s));
			}
		}
		if (st == NS_OK)
			st = ns_csv_writer_end_row(w);
	}
	if (st == NS_OK)
		st = ns_csv_writer_flush(w, diag);
	else if (st == NS_ERR_IO)
		ns_diag_set(diag, st, "cannot write the CSV output");
	ns_csv_writer_free(w);
	return st;
}
