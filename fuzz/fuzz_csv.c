/*
 * fuzz/fuzz_csv.c - libFuzzer target for the CSV reader and writer.
 *
 * The first input byte picks the delimiter, the quote, skip_blank_lines and
 * where the rest is split into two feeds.  Checked properties (abort() on a
 * violation, so the fuzzer reports it):
 *  - feeding whole, in two chunks, and (for small inputs) byte by byte gives
 *    the same records, the same status and the same diagnostic;
 *  - every record that parsed, written with the writer and read back, gives
 *    the same fields.
 * Small caps (256-byte fields, 64 fields, 4 KiB records) keep runs fast and
 * reach the cap paths.  ASan/LSan catch crashes and leaks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct ns__buf canon; /* records, then the final status */
	struct ns__buf fields; /* fields only, for the round trip */
	struct ns_csv_writer *w; /* NULL: do not write */
	enum ns_status status; /* how the parse ended */
	bool oom;
};

static void add(struct run *run, struct ns__buf *b, const void *p, size_t n)
{
	if (ns__buf_append(b, p, n) != NS_OK)
		run->oom = true;
}

static void add_u64(struct run *run, struct ns__buf *b, uint64_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu;", (unsigned long long)v);
	add(run, b, tmp, (size_t)n);
}

static void add_fields(struct run *run, struct ns__buf *b, const struct ns_csv_record *rec)
{
	add_u64(run, b, rec->n_fields);
	for (size_t i = 0; i < rec->n_fields; i++) {
		add_u64(run, b, rec->lens[i]);
		add(run, b, rec->fields[i], rec->lens[i]);
	}
}

static enum ns_status on_record(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	struct run *run = user;
	(void)diag;
	for (size_t i = 0; i < rec->n_fields; i++) {
		if (rec->fields[i][rec->lens[i]] != '\0' || strlen(rec->fields[i]) != rec->lens[i])
			abort();
		add_u64(run, &run->canon, rec->quoted[i]);
	}
	add_u64(run, &run->canon, rec->line);
	add_u64(run, &run->canon, rec->offset);
	add_u64(run, &run->canon, rec->index);
	add_u64(run, &run->canon, rec->raw_len);
	add(run, &run->canon, rec->raw, rec->raw_len);
	add_fields(run, &run->canon, rec);
	if (run->w) {
		add_fields(run, &run->fields, rec);
		for (size_t i = 0; i < rec->n_fields; i++)
			if (ns_csv_writer_field(run->w, rec->fields[i], rec->lens[i]) != NS_OK)
				abort();
		if (ns_csv_writer_end_row(run->w) != NS_OK)
			abort();
	}
	return NS_OK;
}

/* Parses data in chunks of `chunk` bytes (cuts at `split` when chunk is 0). */
static void parse(const struct ns_csv_params *p, const uint8_t *data, size_t size, size_t split,
		  size_t chunk, struct run *run)
{
	struct ns_csv_reader *r = NULL;
	struct ns_diag d;
	enum ns_status st;
	char msg[1024];

	ns_diag_clear(&d);
	st = ns_csv_reader_create(p, on_record, run, &r, &d);
	if (st != NS_OK)
		abort();
	if (chunk == 0) {
		st = ns_csv_reader_feed(r, data, split, &d);
		if (st == NS_OK)
			st = ns_csv_reader_feed(r, data + split, size - split, &d);
	} else {
		st = NS_OK;
		for (size_t off = 0; off < size && st == NS_OK; off += chunk)
			st = ns_csv_reader_feed(r, data + off,
						size - off < chunk ? size - off : chunk, &d);
	}
	if (st == NS_OK)
		st = ns_csv_reader_finish(r, &d);
	if (st != NS_OK) {
		struct ns_diag again;
		if (st != NS_ERR_PARSE && st != NS_ERR_LIMIT)
			abort();
		if (ns_csv_reader_feed(r, "a\n", 2, &again) != st || again.line != d.line ||
		    strcmp(again.message, d.message) != 0)
			abort();
	}
	run->status = st;
	add_u64(run, &run->canon, (uint64_t)st);
	ns_diag_format(&d, msg, sizeof(msg));
	add(run, &run->canon, msg, strlen(msg));
	add_u64(run, &run->canon, ns_csv_reader_records(r));
	if (st == NS_OK)
		add_u64(run, &run->canon, ns_csv_reader_lines(r));
	ns_csv_reader_free(r);
}

static bool same(const struct ns__buf *a, const struct ns__buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void run_init(struct run *run)
{
	memset(run, 0, sizeof(*run));
	ns__buf_init(&run->canon, 0);
	ns__buf_init(&run->fields, 0);
}

static void run_fini(struct run *run)
{
	ns__buf_fini(&run->canon);
	ns__buf_fini(&run->fields);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[4] = {',', ';', '\t', '|'};
	struct ns_csv_params p = ns_csv_params_default();
	struct run whole, split, bytes, back;
	char *text = NULL;
	size_t text_len = 0, cut;
	FILE *fp;
	uint8_t ctl;

	if (size == 0)
		return 0;
	ctl = data[0];
	data++;
	size--;
	p.delimiter = delims[ctl & 3];
	p.quote = ctl & 4 ? '\'' : '"';
	p.skip_blank_lines = !(ctl & 8);
	p.max_field_bytes = 256;
	p.max_fields = 64;
	p.max_row_bytes = 4096;
	p.source_name = "fuzz.csv";
	cut = size * (size_t)(ctl >> 4) / 15;

	run_init(&whole);
	run_init(&split);
	run_init(&bytes);
	run_init(&back);

	/* Whole, also writing every record out. */
	fp = open_memstream(&text, &text_len);
	if (!fp)
		goto out;
	if (ns_csv_writer_create(fp, p.delimiter, &whole.w, NULL) != NS_OK)
		abort();
	parse(&p, data, size, size, 0, &whole);
	if (ns_csv_writer_flush(whole.w, NULL) != NS_OK)
		abort();
	ns_csv_writer_free(whole.w);
	whole.w = NULL;
	fclose(fp);

	/* Two chunks, and byte by byte for small inputs: identical results. */
	parse(&p, data, size, cut, 0, &split);
	if (!whole.oom && !split.oom && !same(&whole.canon, &split.canon))
		abort();
	if (size <= 1024) {
		parse(&p, data, size, 0, 1, &bytes);
		if (!whole.oom && !bytes.oom && !same(&whole.canon, &bytes.canon))
			abort();
	}

	/* Round trip: the written text parses cleanly to the same fields, and
	 * writing those again gives the same text. */
	{
		struct ns_csv_params q = ns_csv_params_default();
		char *text2 = NULL;
		size_t text2_len = 0;
		FILE *fp2 = open_memstream(&text2, &text2_len);
		if (!fp2)
			goto out;
		q.delimiter = p.delimiter;
		if (ns_csv_writer_create(fp2, q.delimiter, &back.w, NULL) != NS_OK)
			abort();
		parse(&q, (const uint8_t *)text, text_len, text_len, 0, &back);
		if (ns_csv_writer_flush(back.w, NULL) != NS_OK)
			abort();
		ns_csv_writer_free(back.w);
		back.w = NULL;
		fclose(fp2);
		if (back.status != NS_OK ||
		    (!whole.oom && !back.oom &&
		     (!same(&whole.fields, &back.fields) || text2_len != text_len ||
		      (text_len && memcmp(text, text2, text_len) != 0))))
			abort();
		free(text2);
	}
out:
	free(text);
	run_fini(&whole);
	run_fini(&split);
	run_fini(&bytes);
	run_fini(&back);
	return 0;
}
