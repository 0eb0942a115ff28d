/*
 * tests/unit/data/test_csv.c - the streaming CSV reader and the writer.
 *
 * Golden cases live in tests/golden/csv/: NAME.csv is the input and NAME.out
 * the expected rendering of its records (one line per record, see render())
 * and its final status.  NAME.out may open with "@key=value" lines that set
 * reader params (delimiter, quote, skip_blank_lines, max_field_bytes,
 * max_fields, max_row_bytes).  Each case is fed whole and in chunks of 1, 2,
 * 3, 7 and 64 bytes, and every way must give the expected text.  Run with
 * NETSEC_GOLDEN_UPDATE=1 to rewrite the .out files from the whole-buffer run
 * (then review the diff).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "netsec/core.h"
#include "netsec/csv.h"

#define GOLDEN_DIR NETSEC_SOURCE_DIR "/tests/golden/csv"

/* ---- helpers ------------------------------------------------------------- */

static void buf_add(struct ns__buf *b, const void *p, size_t n)
{
	assert_int_equal(ns__buf_append(b, p, n), NS_OK);
}

static void buf_str(struct ns__buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Appends bytes with the unprintable ones, '\' and ']' escaped. */
static void buf_escaped(struct ns__buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		if (c == '\\' || c == ']') {
			tmp[0] = '\\';
			tmp[1] = (char)c;
			buf_add(b, tmp, 2);
		} else if (c == '\n') {
			buf_str(b, "\\n");
		} else if (c == '\r') {
			buf_str(b, "\\r");
		} else if (c == '\t') {
			buf_str(b, "\\t");
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			buf_str(b, tmp);
		} else {
			buf_add(b, &s[i], 1);
		}
	}
}

/*
 * One line per record: "L<line> @<offset> #<index>" then each field as
 * [text] (unquoted) or q[text] (quoted), then "raw[...]".
 */
static enum ns_status render_record(void *user, const struct ns_csv_record *rec,
				    struct ns_diag *diag)
{
	struct ns__buf *b = user;
	char head[96];
	(void)diag;
	snprintf(head, sizeof(head), "L%llu @%llu #%llu", (unsigned long long)rec->line,
		 (unsigned long long)rec->offset, (unsigned long long)rec->index);
	buf_str(b, head);
	for (size_t i = 0; i < rec->n_fields; i++) {
		/* Fields are NUL-terminated and hold no NUL. */
		assert_int_equal(rec->fields[i][rec->lens[i]], '\0');
		assert_int_equal(strlen(rec->fields[i]), rec->lens[i]);
		buf_str(b, rec->quoted[i] ? " q[" : " [");
		buf_escaped(b, rec->fields[i], rec->lens[i]);
		buf_str(b, "]");
	}
	buf_str(b, "  raw[");
	buf_escaped(b, rec->raw, rec->raw_len);
	buf_str(b, "]\n");
	return NS_OK;
}

/* Parses `data` fed in chunks of `chunk` bytes (0: whole) and renders it. */
static void render(const struct ns_csv_params *params, const char *data, size_t len, size_t chunk,
		   struct ns__buf *out)
{
	struct ns_csv_reader *r = NULL;
	struct ns_diag d;
	enum ns_status st;
	char line[1024];

	ns_diag_clear(&d);
	assert_int_equal(ns_csv_reader_create(params, render_record, out, &r, &d), NS_OK);
	if (chunk == 0)
		chunk = len ? len : 1;
	st = NS_OK;
	for (size_t off = 0; off < len && st == NS_OK; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		st = ns_csv_reader_feed(r, data + off, n, &d);
	}
	if (st == NS_OK)
		st = ns_csv_reader_finish(r, &d);
	if (st == NS_OK) {
		snprintf(line, sizeof(line), "ok records=%llu lines=%llu\n",
			 (unsigned long long)ns_csv_reader_records(r),
			 (unsigned long long)ns_csv_reader_lines(r));
	} else {
		char msg[800];
		struct ns_diag again;
		snprintf(line, sizeof(line), "error %s %s\n", ns_status_name(st),
			 ns_diag_format(&d, msg, sizeof(msg)));
		/* Errors are sticky, with the same diagnostic. */
		assert_int_equal(ns_csv_reader_feed(r, "x\n", 2, &again), st);
		assert_string_equal(again.message, d.message);
		assert_int_equal(again.line, d.line);
		assert_int_equal(ns_csv_reader_finish(r, &again), st);
		assert_int_equal(again.column, d.column);
	}
	buf_str(out, line);
	ns_csv_reader_free(r);
}

/* noinline: GCC 12 warns of a dangling pointer when this is inlined (a false positive). */
__attribute__((noinline)) static char *read_all(const char *path, size_t *len)
{
	char *data = NULL;
	struct ns_diag d;
	assert_int_equal(ns_read_file(path, 1 << 24, &data, len, &d), NS_OK);
	return data;
}

/* Applies one "@key=value" line to params; fails the test on an unknown key. */
static void apply_param(struct ns_csv_params *p, const char *line, size_t len)
{
	char key[64], val[64];
	const char *eq = memchr(line, '=', len);
	size_t kl, vl;
	assert_non_null(eq);
	kl = (size_t)(eq - line) - 1;
	vl = len - kl - 2;
	assert_true(kl < sizeof(key) && vl < sizeof(val));
	memcpy(key, line + 1, kl);
	key[kl] = '\0';
	memcpy(val, eq + 1, vl);
	val[vl] = '\0';
	if (strcmp(val, "\\t") == 0)
		snprintf(val, sizeof(val), "\t");
	if (strcmp(key, "delimiter") == 0)
		p->delimiter = val[0];
	else if (strcmp(key, "quote") == 0)
		p->quote = val[0];
	else if (strcmp(key, "skip_blank_lines") == 0)
		p->skip_blank_lines = strcmp(val, "1") == 0;
	else if (strcmp(key, "max_field_bytes") == 0)
		p->max_field_bytes = strtoul(val, NULL, 10);
	else if (strcmp(key, "max_fields") == 0)
		p->max_fields = strtoul(val, NULL, 10);
	else if (strcmp(key, "max_row_bytes") == 0)
		p->max_row_bytes = strtoul(val, NULL, 10);
	else
		fail_msg("unknown golden param '%s'", key);
}

/* Runs one golden case; returns the number of chunk sizes that failed. */
static int run_golden(const char *name)
{
	char path[1024], out_path[1024];
	size_t in_len = 0, exp_len = 0, head_len = 0, base_len = strlen(name) - 4;
	char *in, *exp;
	struct ns_csv_params p = ns_csv_params_default();
	static const size_t chunks[] = {0, 1, 2, 3, 7, 64};
	struct ns__buf updated = {NULL, 0, 0, 0};
	const char *body;
	size_t body_len;
	int n_bad = 0;
	char source[256];

	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
	snprintf(out_path, sizeof(out_path), "%s/%.*s.out", GOLDEN_DIR, (int)base_len, name);
	snprintf(source, sizeof(source), "%s", name);
	p.source_name = source;
	in = read_all(path, &in_len);
	exp = read_all(out_path, &exp_len);
	while (head_len < exp_len && exp[head_len] == '@') {
		const char *nl = memchr(exp + head_len, '\n', exp_len - head_len);
		size_t ll = nl ? (size_t)(nl - exp - head_len) : exp_len - head_len;
		apply_param(&p, exp + head_len, ll);
		head_len += ll + (nl ? 1 : 0);
	}
	body = exp + head_len;
	body_len = exp_len - head_len;
	if (getenv("NETSEC_GOLDEN_UPDATE")) {
		FILE *fp = fopen(out_path, "wb");
		ns__buf_init(&updated, 0);
		render(&p, in, in_len, 0, &updated);
		assert_non_null(fp);
		fwrite(exp, 1, head_len, fp);
		fwrite(updated.data, 1, updated.len, fp);
		fclose(fp);
		body = updated.data;
		body_len = updated.len;
	}
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct ns__buf got;
		bool same;
		ns__buf_init(&got, 0);
		render(&p, in, in_len, chunks[i], &got);
		same = got.len == body_len && memcmp(got.data, body, got.len) == 0;
		if (!same)
			print_error("golden %s, chunk size %zu:\n--- expected\n%.*s--- got\n%s",
				    name, chunks[i], (int)body_len, body, got.data);
		ns__buf_fini(&got);
		if (!same)
			n_bad++;
	}
	ns__buf_fini(&updated);
	ns_free(in);
	ns_free(exp);
	return n_bad;
}

static void test_golden(void **state)
{
	DIR *dir = opendir(GOLDEN_DIR);
	struct dirent *e;
	int n_cases = 0, n_bad = 0;
	(void)state;
	assert_non_null(dir);
	while ((e = readdir(dir))) {
		size_t n = strlen(e->d_name);
		if (n > 4 && strcmp(e->d_name + n - 4, ".csv") == 0) {
			n_bad += run_golden(e->d_name);
			n_cases++;
		}
	}
	closedir(dir);
	assert_int_equal(n_bad, 0);
	assert_true(n_cases >= 20);
}

/* ---- record contents and counters ---------------------------------------- */

struct collect {
	int n;
	uint64_t lines[8], offsets[8];
	size_t n_fields[8];
	char first[8][32];
	enum ns_status fail_at_status;
	int fail_at; /* 1-based record that the callback rejects; 0: none */
	bool set_line;
};

static enum ns_status collect_cb(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	struct collect *c = user;
	if (c->n < 8) {
		c->lines[c->n] = rec->line;
		c->offsets[c->n] = rec->offset;
		c->n_fields[c->n] = rec->n_fields;
		snprintf(c->first[c->n], sizeof(c->first[0]), "%s", rec->fields[0]);
	}
	assert_int_equal(rec->index, (uint64_t)c->n);
	c->n++;
	if (c->fail_at && c->n == c->fail_at) {
		if (c->set_line) {
			ns_diag_set(diag, c->fail_at_status, "column 'x' is not a number");
			ns_diag_where(diag, NULL, 99, 2, "x");
		}
		return c->fail_at_status;
	}
	return NS_OK;
}

static void test_record_offsets_and_counters(void **state)
{
	const char in[] = "\xEF\xBB\xBF"
			  "a,b\r\n\"x\ny\",z\n\nlast";
	struct collect c;
	struct ns_csv_reader *r;
	struct ns_diag d;
	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(ns_csv_reader_create(NULL, collect_cb, &c, &r, &d), NS_OK);
	assert_int_equal(ns_csv_reader_feed(r, in, sizeof(in) - 1, &d), NS_OK);
	assert_int_equal(ns_csv_reader_records(r), 2);
	assert_int_equal(ns_csv_reader_lines(r), 4);
	assert_int_equal(ns_csv_reader_finish(r, &d), NS_OK);
	assert_int_equal(ns_csv_reader_finish(r, &d), NS_OK); /* idempotent */
	assert_int_equal(ns_csv_reader_feed(r, "a", 1, &d), NS_ERR_INVALID);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.offsets[0], 3); /* the BOM counts in offsets */
	assert_int_equal(c.lines[1], 2);
	assert_int_equal(c.offsets[1], 3 + 5);
	assert_string_equal(c.first[1], "x\ny");
	assert_int_equal(c.lines[2], 5);
	assert_string_equal(c.first[2], "last");
	assert_int_equal(ns_csv_reader_records(r), 3);
	assert_int_equal(ns_csv_reader_lines(r), 5);
	assert_int_equal(ns_csv_reader_bytes(r), sizeof(in) - 1);
	ns_csv_reader_free(r);
	ns_csv_reader_free(NULL);
}

static void test_params_invalid(void **state)
{
	struct ns_csv_params p;
	struct ns_csv_reader *r = NULL;
	struct ns_diag d;
	const char bad_delims[] = {'"', '\r', '\n', '\0'};
	(void)state;
	for (size_t i = 0; i < sizeof(bad_delims); i++) {
		p = ns_csv_params_default();
		p.delimiter = bad_delims[i];
		assert_int_equal(ns_csv_reader_create(&p, collect_cb, NULL, &r, &d),
				 NS_ERR_INVALID);
		p = ns_csv_params_default();
		p.quote = bad_delims[i] == '"' ? ',' : bad_delims[i];
		assert_int_equal(ns_csv_reader_create(&p, collect_cb, NULL, &r, &d),
				 NS_ERR_INVALID);
	}
	p = ns_csv_params_default();
	p.max_fields = 0;
	assert_int_equal(ns_csv_reader_create(&p, collect_cb, NULL, &r, &d), NS_ERR_INVALID);
	assert_int_equal(ns_csv_reader_create(NULL, NULL, NULL, &r, &d), NS_ERR_INVALID);
	assert_null(r);
	p = ns_csv_params_default();
	assert_int_equal(p.delimiter, ',');
	assert_int_equal(p.quote, '"');
	assert_int_equal(p.max_field_bytes, 1 << 20);
	assert_int_equal(p.max_fields, 65536);
	assert_int_equal(p.max_row_bytes, 16 << 20);
	assert_true(p.skip_blank_lines);
}

/* Feeds `in` whole and returns the status; the diagnostic in *d. */
static enum ns_status parse_str(const struct ns_csv_params *p, const char *in, struct ns_diag *d)
{
	struct ns_csv_reader *r;
	struct collect c;
	enum ns_status st;
	memset(&c, 0, sizeof(c));
	ns_diag_clear(d);
	assert_int_equal(ns_csv_reader_create(p, collect_cb, &c, &r, d), NS_OK);
	st = ns_csv_reader_feed(r, in, strlen(in), d);
	if (st == NS_OK)
		st = ns_csv_reader_finish(r, d);
	ns_csv_reader_free(r);
	return st;
}

static void test_cap_messages(void **state)
{
	struct ns_csv_params p = ns_csv_params_default();
	struct ns_diag d;
	char buf[700];
	(void)state;
	p.source_name = "caps.csv";
	p.max_field_bytes = 4;
	p.max_fields = 3;
	p.max_row_bytes = 10;
	assert_int_equal(parse_str(&p, "a,b\nab,abcde\n", &d), NS_ERR_LIMIT);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "caps.csv:2:2: field is longer than max_field_bytes (4 bytes)");
	assert_int_equal(parse_str(&p, "a,b,c,d\n", &d), NS_ERR_LIMIT);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "caps.csv:1:4: record has more than max_fields (3) fields");
	/* A trailing delimiter at EOF opens a field too. */
	assert_int_equal(parse_str(&p, "a,b,c,", &d), NS_ERR_LIMIT);
	assert_int_equal(d.column, 4);
	assert_int_equal(parse_str(&p, "\n\nabcd,abcd,abcd\n", &d), NS_ERR_LIMIT);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "caps.csv:3:3: record is longer than max_row_bytes (10 bytes)");
	/* Quoted bytes count decoded: "" is one byte. */
	assert_int_equal(parse_str(&p, "\"\"\"\"\"\"\"\"\"\"\n", &d), NS_OK);
	assert_int_equal(parse_str(&p, "\"\"\"\"\"\"\"\"\"\"\"\"\n", &d), NS_ERR_LIMIT);
	/* Exactly at the caps is fine. */
	assert_int_equal(parse_str(&p, "abcd,abcd,ab\n", &d), NS_OK);
}

static void test_parse_error_messages(void **state)
{
	struct ns_csv_params p = ns_csv_params_default();
	struct ns_diag d;
	char buf[700];
	(void)state;
	p.source_name = "e.csv";
	assert_int_equal(parse_str(&p, "a,b\nc,d\"e\n", &d), NS_ERR_PARSE);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "e.csv:2:2: unexpected quote in unquoted field");
	assert_int_equal(parse_str(&p, "\"a\"b\n", &d), NS_ERR_PARSE);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "e.csv:1:1: unexpected text after closing quote");
	assert_int_equal(parse_str(&p, "ok\n\"a\nb\nc", &d), NS_ERR_PARSE);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "e.csv:2:1: unterminated quoted field (opened on line 2)");
	{
		const char nul[] = "a,b\nx,y\0z\n";
		struct ns_csv_reader *r;
		struct collect c;
		memset(&c, 0, sizeof(c));
		assert_int_equal(ns_csv_reader_create(&p, collect_cb, &c, &r, &d), NS_OK);
		assert_int_equal(ns_csv_reader_feed(r, nul, sizeof(nul) - 1, &d), NS_ERR_PARSE);
		assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
				    "e.csv:2:2: binary data (NUL byte)");
		assert_int_equal(c.n, 1);
		/* Sticky: no more records, same error, also with a NULL diag. */
		assert_int_equal(ns_csv_reader_feed(r, "q\n", 2, NULL), NS_ERR_PARSE);
		assert_int_equal(ns_csv_reader_finish(r, NULL), NS_ERR_PARSE);
		assert_int_equal(c.n, 1);
		ns_csv_reader_free(r);
	}
}

static void test_callback_error(void **state)
{
	struct ns_csv_params p = ns_csv_params_default();
	struct ns_csv_reader *r;
	struct collect c;
	struct ns_diag d;
	char buf[700];
	(void)state;
	p.source_name = "cb.csv";
	memset(&c, 0, sizeof(c));
	c.fail_at = 2;
	c.fail_at_status = NS_ERR_ABORTED;
	assert_int_equal(ns_csv_reader_create(&p, collect_cb, &c, &r, &d), NS_OK);
	assert_int_equal(ns_csv_reader_feed(r, "a\n\nb\nc\n", 7, &d), NS_ERR_ABORTED);
	/* The reader adds the source name and the record's line. */
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "cb.csv:3: record rejected: aborted by the caller");
	assert_int_equal(ns_csv_reader_finish(r, &d), NS_ERR_ABORTED);
	assert_int_equal(c.n, 2);
	ns_csv_reader_free(r);

	/* What the callback sets is kept. */
	memset(&c, 0, sizeof(c));
	c.fail_at = 1;
	c.fail_at_status = NS_ERR_SCHEMA;
	c.set_line = true;
	assert_int_equal(ns_csv_reader_create(&p, collect_cb, &c, &r, &d), NS_OK);
	assert_int_equal(ns_csv_reader_feed(r, "a", 1, &d), NS_OK);
	assert_int_equal(ns_csv_reader_finish(r, &d), NS_ERR_SCHEMA);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "cb.csv:99:2: field 'x': column 'x' is not a number");
	ns_csv_reader_free(r);
}

/* ---- big inputs ------------------------------------------------------------- */

static enum ns_status count_cb(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	(void)rec;
	(void)diag;
	(*(uint64_t *)user)++;
	return NS_OK;
}

/*
 * Feeds a 100 MB single line made of `unit` repeated, in 64 KiB chunks,
 * and returns the bytes fed when the reader gave up (it must give up).
 */
static uint64_t feed_huge_line(const char *prefix, const char *unit, enum ns_status want,
			       const char *want_msg)
{
	enum { CHUNK = 1 << 16 };
	static char block[CHUNK];
	size_t ul = strlen(unit), pl = strlen(prefix);
	struct ns_csv_reader *r;
	struct ns_diag d;
	uint64_t n_records = 0, fed = 0;
	enum ns_status st = NS_OK;

	for (size_t i = 0; i < CHUNK; i++)
		block[i] = unit[i % ul];
	assert_int_equal(CHUNK % ul, 0);
	assert_int_equal(ns_csv_reader_create(NULL, count_cb, &n_records, &r, &d), NS_OK);
	st = ns_csv_reader_feed(r, prefix, pl, &d);
	while (st == NS_OK && fed < 100u * 1000 * 1000) {
		st = ns_csv_reader_feed(r, block, CHUNK, &d);
		fed += CHUNK;
	}
	assert_int_equal(st, want);
	assert_non_null(strstr(d.message, want_msg));
	assert_int_equal(d.line, 1);
	assert_int_equal(n_records, 0);
	ns_csv_reader_free(r);
	return fed;
}

static void test_huge_line_fails_fast(void **state)
{
	(void)state;
	/* One unquoted field: stops right after the 1 MiB field cap. */
	assert_true(feed_huge_line("", "abcd", NS_ERR_LIMIT, "max_field_bytes (1048576 bytes)") <=
		    (1u << 20) + (1u << 16));
	/* One quoted field of "" escapes: 2 raw bytes per decoded byte. */
	assert_true(feed_huge_line("\"", "\"\"", NS_ERR_LIMIT, "max_field_bytes") <=
		    (2u << 20) + (1u << 16));
	/* Many small fields: the field count cap (65536) comes first. */
	assert_true(feed_huge_line("", "ab,c", NS_ERR_LIMIT, "max_fields (65536)") <=
		    (1u << 18) + (1u << 16));
	/* Fields of 1 MiB each: the 16 MiB record cap. */
	{
		enum { CHUNK = 1 << 16 };
		static char block[CHUNK];
		struct ns_csv_reader *r;
		struct ns_diag d;
		uint64_t n = 0, fed = 0;
		enum ns_status st = NS_OK;
		assert_int_equal(ns_csv_reader_create(NULL, count_cb, &n, &r, &d), NS_OK);
		memset(block, 'x', sizeof(block));
		/* 100 fields of 1 MiB - 1 bytes: each under the field cap. */
		for (int f = 0; st == NS_OK && f < 100; f++) {
			for (size_t left = (1u << 20) - 1; st == NS_OK && left > 0;) {
				size_t m = left < CHUNK ? left : CHUNK;
				st = ns_csv_reader_feed(r, block, m, &d);
				fed += m;
				left -= m;
			}
			if (st == NS_OK)
				st = ns_csv_reader_feed(r, ",", 1, &d);
			fed++;
		}
		assert_int_equal(st, NS_ERR_LIMIT);
		assert_non_null(strstr(d.message, "max_row_bytes (16777216 bytes)"));
		assert_true(fed <= (17u << 20));
		ns_csv_reader_free(r);
	}
}

/* ---- allocation failures ----------------------------------------------------- */

struct fault_stats {
	uint64_t n_records;
	size_t sum_len;
};

static enum ns_status fault_cb(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	struct fault_stats *s = user;
	(void)diag;
	s->n_records++;
	for (size_t i = 0; i < rec->n_fields; i++)
		s->sum_len += rec->lens[i];
	s->sum_len += rec->raw_len;
	return NS_OK;
}

static void test_alloc_failures(void **state)
{
	struct ns__buf in;
	struct fault_stats want = {0, 0};
	int n_fail = 0;
	(void)state;
	/* Input that makes every buffer grow: a 10 000-byte field, a 200-field
	 * record, and records that span feeds (raw bytes kept). */
	ns__buf_init(&in, 0);
	buf_str(&in, "\xEF\xBB\xBF"
		     "h1,h2\n\"");
	for (int i = 0; i < 10000; i++)
		buf_str(&in, i % 100 == 0 ? "\"\"" : "x");
	buf_str(&in, "\",y\n");
	for (int i = 0; i < 200; i++)
		buf_str(&in, i ? ",f" : "f");
	buf_str(&in, "\nlast,\"q\"");

	for (long n = 0;; n++) {
		struct fault_stats got = {0, 0};
		struct ns_csv_reader *r = NULL;
		struct ns_diag d;
		enum ns_status st;
		ns_diag_clear(&d);
		ns_alloc_fail_after(n);
		st = ns_csv_reader_create(NULL, fault_cb, &got, &r, &d);
		for (size_t off = 0; st == NS_OK && off < in.len; off += 1000) {
			size_t m = in.len - off < 1000 ? in.len - off : 1000;
			st = ns_csv_reader_feed(r, in.data + off, m, &d);
		}
		if (st == NS_OK)
			st = ns_csv_reader_finish(r, &d);
		ns_csv_reader_free(r);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			want = got;
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_int_equal(d.status, NS_ERR_NOMEM);
		assert_true(d.message[0] != '\0');
		n_fail++;
		assert_true(n < 1000);
	}
	assert_true(n_fail >= 5);
	assert_int_equal(want.n_records, 4);
	ns__buf_fini(&in);

	/* ns_csv_read_file cleans up too. */
	for (long n = 0;; n++) {
		uint64_t n_records = 0;
		struct ns_diag d;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = ns_csv_read_file(NETSEC_SOURCE_DIR "/tests/golden/csv/quoted.csv", NULL,
				      count_cb, &n_records, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK)
			break;
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_true(n < 100);
	}
}

/* ---- files ----------------------------------------------------------------------- */

static void test_read_file(void **state)
{
	uint64_t n = 0;
	struct ns_diag d;
	char buf[700];
	(void)state;
	ns_diag_clear(&d);
	assert_int_equal(
		ns_csv_read_file(NETSEC_SOURCE_DIR "/data/phisingData.csv", NULL, count_cb, &n, &d),
		NS_OK);
	assert_int_equal(n, 11056); /* a header and 11055 rows */

	ns_diag_clear(&d);
	assert_int_equal(ns_csv_read_file("/nonexistent/x.csv", NULL, count_cb, &n, &d), NS_ERR_IO);
	assert_string_equal(ns_diag_format(&d, buf, sizeof(buf)),
			    "/nonexistent/x.csv: cannot open '/nonexistent/x.csv': "
			    "No such file or directory");
	ns_diag_clear(&d);
	assert_int_equal(ns_csv_read_file(NETSEC_TEST_TMP, NULL, count_cb, &n, &d), NS_ERR_IO);
	assert_non_null(strstr(d.message, NETSEC_TEST_TMP));
	assert_non_null(strstr(d.message, strerror(EISDIR)));

	/* Errors name the path when params have no source name. */
	{
		char path[512];
		FILE *fp;
		snprintf(path, sizeof(path), "%s/csv_bad.csv", NETSEC_TEST_TMP);
		fp = fopen(path, "wb");
		assert_non_null(fp);
		fputs("a,b\n1,\"2\n", fp);
		fclose(fp);
		ns_diag_clear(&d);
		assert_int_equal(ns_csv_read_file(path, NULL, count_cb, &n, &d), NS_ERR_PARSE);
		assert_string_equal(d.file, path);
		assert_int_equal(d.line, 2);
		assert_int_equal(d.column, 2);

		/* "-" reads stdin. */
		n = 0;
		assert_non_null(freopen(path, "rb", stdin));
		ns_diag_clear(&d);
		assert_int_equal(ns_csv_read_file("-", NULL, count_cb, &n, &d), NS_ERR_PARSE);
		assert_string_equal(d.file, "stdin");
		assert_int_equal(n, 1);
		unlink(path);
	}
}

/* ---- random inputs: chunking never changes anything --------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 11);
}

static void test_random_chunking(void **state)
{
	static const char alphabet[] = {'a', 'b',  ',',        '"',        '\r',       '\n',
					' ', '\0', (char)0xEF, (char)0xBB, (char)0xBF, ';'};
	struct ns_csv_params p = ns_csv_params_default();
	(void)state;
	p.max_field_bytes = 6;
	p.max_fields = 5;
	p.max_row_bytes = 16;
	for (int iter = 0; iter < 3000; iter++) {
		char in[64];
		size_t len = rng() % sizeof(in);
		struct ns__buf whole, part;
		for (size_t i = 0; i < len; i++) {
			/* Mostly plain bytes; NUL rarely. */
			uint32_t k = rng() % 40;
			in[i] = k < 12 ? alphabet[k == 7 && rng() % 4 ? 0 : k]
				       : (char)('c' + k % 3);
		}
		p.skip_blank_lines = iter % 2;
		p.delimiter = iter % 3 ? ',' : ';';
		ns__buf_init(&whole, 0);
		ns__buf_init(&part, 0);
		render(&p, in, len, 0, &whole);
		render(&p, in, len, 1 + rng() % 5, &part);
		if (whole.len != part.len || memcmp(whole.data, part.data, whole.len) != 0)
			fail_msg("chunking changed the result:\n%s\nvs\n%s", whole.data, part.data);
		ns__buf_fini(&whole);
		ns__buf_fini(&part);
	}
}

/* ---- missing values ------------------------------------------------------------ */

static void test_na_set(void **state)
{
	struct ns_na_set s = ns_na_set_default();
	static const char *const custom_values[] = {"-", "missing"};
	struct ns_na_set custom = {2, custom_values};
	const char *yes[] = {"",    "na",  "NA",   "N/A",  "n/a", "?",
			     "NaN", "nan", "null", "NULL", "None"};
	const char *no[] = {"0", "Na", "none", "n/A", " ", "NA ", "nul", "-", "nulll"};
	(void)state;
	assert_int_equal(s.n, 11);
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		assert_true(ns_na_set_has(&s, yes[i], strlen(yes[i])));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_false(ns_na_set_has(&s, no[i], strlen(no[i])));
	/* Length counts: "NA" followed by other bytes is not "NA". */
	assert_true(ns_na_set_has(&s, "NAx", 2));
	assert_false(ns_na_set_has(&s, "NAx", 3));
	assert_true(ns_na_set_has(&custom, "missing", 7));
	assert_false(ns_na_set_has(&custom, "", 0));
	assert_false(ns_na_set_has(NULL, "", 0));
}

/* ---- writer ------------------------------------------------------------------------ */

static void test_writer_quoting(void **state)
{
	char *text = NULL;
	size_t text_len = 0;
	FILE *fp = open_memstream(&text, &text_len);
	struct ns_csv_writer *w;
	struct ns_diag d;
	const char *fields[] = {"plain", "a,b",    "say \"hi\"", "two\nlines", "cr\r",
				" lead", "trail ", "",           "in side",    "x;y"};
	(void)state;
	assert_non_null(fp);
	assert_int_equal(ns_csv_writer_create(fp, ',', &w, &d), NS_OK);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_int_equal(ns_csv_writer_field(w, fields[i], strlen(fields[i])), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	assert_int_equal(ns_csv_writer_number(w, 0.1), NS_OK);
	assert_int_equal(ns_csv_writer_number(w, NAN), NS_OK);
	assert_int_equal(ns_csv_writer_number(w, -3), NS_OK);
	assert_int_equal(ns_csv_writer_number(w, 1e300), NS_OK);
	assert_int_equal(ns_csv_writer_number(w, 1.0 / 3.0), NS_OK);
	assert_int_equal(ns_csv_writer_number(w, INFINITY), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	/* One empty field: "" so that it is not a blank line. */
	assert_int_equal(ns_csv_writer_field(w, "", 0), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	/* No fields: an empty line. */
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	/* One NaN: the empty field again. */
	assert_int_equal(ns_csv_writer_number(w, NAN), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	assert_int_equal(ns_csv_writer_field(w, "", 0), NS_OK);
	assert_int_equal(ns_csv_writer_field(w, NULL, 0), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	/* NUL bytes cannot be written. */
	assert_int_equal(ns_csv_writer_field(w, "a\0b", 3), NS_ERR_INVALID);
	assert_int_equal(ns_csv_writer_flush(w, &d), NS_OK);
	ns_csv_writer_free(w);
	fclose(fp);
	assert_string_equal(text, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\","
				  "\" lead\",\"trail \",,in side,x;y\n"
				  "0.1,,-3,1e+300,0.3333333333333333,inf\n"
				  "\"\"\n"
				  "\n"
				  "\"\"\n"
				  ",\n");
	free(text);

	/* Another delimiter changes what needs quotes; a leading BOM is quoted. */
	text = NULL;
	fp = open_memstream(&text, &text_len);
	assert_int_equal(ns_csv_writer_create(fp, ';', &w, &d), NS_OK);
	assert_int_equal(ns_csv_writer_field(w, "\xEF\xBB\xBFx", 4), NS_OK);
	assert_int_equal(ns_csv_writer_field(w, "a,b", 3), NS_OK);
	assert_int_equal(ns_csv_writer_field(w, "x;y", 3), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	assert_int_equal(ns_csv_writer_field(w, "\xEF\xBB\xBFx", 4), NS_OK);
	assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
	assert_int_equal(ns_csv_writer_flush(w, &d), NS_OK);
	ns_csv_writer_free(w);
	fclose(fp);
	assert_string_equal(text, "\"\xEF\xBB\xBFx\";a,b;\"x;y\"\n\xEF\xBB\xBFx\n");
	free(text);

	assert_int_equal(ns_csv_writer_create(stdout, '"', &w, &d), NS_ERR_INVALID);
	assert_int_equal(ns_csv_writer_create(stdout, '\n', &w, &d), NS_ERR_INVALID);
	assert_int_equal(ns_csv_writer_create(NULL, ',', &w, &d), NS_ERR_INVALID);
	ns_alloc_fail_after(0);
	assert_int_equal(ns_csv_writer_create(stdout, ',', &w, &d), NS_ERR_NOMEM);
	ns_alloc_fail_reset();
	ns_csv_writer_free(NULL);
}

static void test_writer_dev_full(void **state)
{
	FILE *fp = fopen("/dev/full", "w");
	struct ns_csv_writer *w;
	struct ns_diag d;
	enum ns_status st = NS_OK;
	(void)state;
	if (!fp)
		skip();
	assert_int_equal(ns_csv_writer_create(fp, ',', &w, &d), NS_OK);
	for (int i = 0; i < 3 && st == NS_OK; i++) {
		st = ns_csv_writer_field(w, "abc", 3);
		if (st == NS_OK)
			st = ns_csv_writer_number(w, i);
		if (st == NS_OK)
			st = ns_csv_writer_end_row(w);
	}
	assert_int_equal(st, NS_OK); /* still in the stdio buffer */
	ns_diag_clear(&d);
	assert_int_equal(ns_csv_writer_flush(w, &d), NS_ERR_IO);
	assert_non_null(strstr(d.message, strerror(ENOSPC)));
	/* Sticky. */
	assert_int_equal(ns_csv_writer_field(w, "x", 1), NS_ERR_IO);
	assert_int_equal(ns_csv_writer_end_row(w), NS_ERR_IO);
	assert_int_equal(ns_csv_writer_flush(w, &d), NS_ERR_IO);
	ns_csv_writer_free(w);
	fclose(fp);

	/* Writing more than the stdio buffer fails in end_row already. */
	fp = fopen("/dev/full", "w");
	assert_non_null(fp);
	assert_int_equal(ns_csv_writer_create(fp, ',', &w, &d), NS_OK);
	st = NS_OK;
	for (int i = 0; i < 100000 && st == NS_OK; i++) {
		st = ns_csv_writer_field(w, "0123456789", 10);
		if (st == NS_OK)
			st = ns_csv_writer_end_row(w);
	}
	assert_int_equal(st, NS_ERR_IO);
	assert_int_equal(ns_csv_writer_flush(w, &d), NS_ERR_IO);
	ns_csv_writer_free(w);
	fclose(fp);
}

/* Records written by the writer read back identically. */
static void canon_add(struct ns__buf *b, size_t n_fields, const char *const *fields,
		      const size_t *lens)
{
	char head[32];
	snprintf(head, sizeof(head), "%zu:", n_fields);
	buf_str(b, head);
	for (size_t i = 0; i < n_fields; i++) {
		snprintf(head, sizeof(head), "%zu=", lens[i]);
		buf_str(b, head);
		buf_add(b, fields[i], lens[i]);
	}
	buf_str(b, "\n");
}

static enum ns_status canon_cb(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	(void)diag;
	canon_add(user, rec->n_fields, rec->fields, rec->lens);
	return NS_OK;
}

static void test_writer_round_trip(void **state)
{
	static const char pieces[] = {'a',  'b', ' ', ',',        '"',        '\r',
				      '\n', ';', 'z', (char)0xEF, (char)0xBB, (char)0xBF};
	struct ns__buf want, got;
	char *text = NULL;
	size_t text_len = 0;
	FILE *fp = open_memstream(&text, &text_len);
	struct ns_csv_writer *w;
	struct ns_csv_reader *r;
	struct ns_diag d;
	(void)state;
	assert_non_null(fp);
	ns__buf_init(&want, 0);
	ns__buf_init(&got, 0);
	assert_int_equal(ns_csv_writer_create(fp, ',', &w, &d), NS_OK);
	for (int row = 0; row < 500; row++) {
		size_t n_fields = 1 + rng() % 5;
		char store[6][40];
		const char *fields[6];
		size_t lens[6];
		for (size_t i = 0; i < n_fields; i++) {
			lens[i] = rng() % 8;
			for (size_t j = 0; j < lens[i]; j++)
				store[i][j] = pieces[rng() % sizeof(pieces)];
			fields[i] = store[i];
			assert_int_equal(ns_csv_writer_field(w, store[i], lens[i]), NS_OK);
		}
		if (row % 7 == 0) {
			/* A number reads back as its shortest round-trip text. */
			double v = ((double)rng() - 2e9) / 7.0, back;
			lens[n_fields] = ns_format_double(v, store[n_fields], sizeof(store[0]));
			assert_true(ns_parse_double(store[n_fields], lens[n_fields], &back));
			assert_memory_equal(&back, &v, sizeof(v));
			fields[n_fields] = store[n_fields];
			n_fields++;
			assert_int_equal(ns_csv_writer_number(w, v), NS_OK);
		}
		assert_int_equal(ns_csv_writer_end_row(w), NS_OK);
		canon_add(&want, n_fields, fields, lens);
	}
	assert_int_equal(ns_csv_writer_flush(w, &d), NS_OK);
	ns_csv_writer_free(w);
	fclose(fp);
	assert_int_equal(ns_csv_reader_create(NULL, canon_cb, &got, &r, &d), NS_OK);
	assert_int_equal(ns_csv_reader_feed(r, text, text_len, &d), NS_OK);
	assert_int_equal(ns_csv_reader_finish(r, &d), NS_OK);
	assert_int_equal(ns_csv_reader_records(r), 500);
	ns_csv_reader_free(r);
	assert_int_equal(got.len, want.len);
	assert_memory_equal(got.data, want.data, want.len);
	free(text);
	ns__buf_fini(&want);
	ns__buf_fini(&got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_record_offsets_and_counters),
		cmocka_unit_test(test_params_invalid),
		cmocka_unit_test(test_cap_messages),
		cmocka_unit_test(test_parse_error_messages),
		cmocka_unit_test(test_callback_error),
		cmocka_unit_test(test_huge_line_fails_fast),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_random_chunking),
		cmocka_unit_test(test_na_set),
		cmocka_unit_test(test_writer_quoting),
		cmocka_unit_test(test_writer_dev_full),
		cmocka_unit_test(test_writer_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
