/*
 * tests/unit/data/test_fastpath.c - the fused CSV-to-frame fast path against
 * the generic reader + validator path, and the validator's per-cell verdicts
 * against a reference written from the rules in docs/schema.md.
 *
 * Random files (fixed seeds) mix valid cells with tricky ones: NA markers,
 * quotes, "-0", "+1", "01", "1e3", ".5", huge numbers, text, CRLF and lone CR
 * line ends, blank lines, a BOM, ragged records, NUL bytes, unterminated
 * quotes.  Each file is read both ways, the fast one with several chunk sizes
 * (down to one byte, so that every record crosses chunks), and the results
 * must be identical: the same status; for a success the same frame, cell for
 * cell and bit for bit; for a failure the same diagnostic (file, line,
 * column, field, message).
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

#include "data/fastpath.h"
#include "netsec/frame.h"
#include "netsec/schema.h"
#include "unit/data/schema_check.h"

#define PHISHING_CSV NETSEC_SOURCE_DIR "/data/phisingData.csv"
#define PHISHING_SCHEMA NETSEC_SOURCE_DIR "/data/schema.yaml"
#define NSL_KDD_SCHEMA NETSEC_SOURCE_DIR "/data/nsl_kdd.schema.yaml"

/* ---- helpers ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic under the fixed seeds below. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static size_t pick(size_t n)
{
	return (size_t)(rnd() % n);
}

static bool chance(double p)
{
	return (double)(rnd() >> 11) * 0x1.0p-53 < p;
}

/* A growable byte string (files may hold NUL bytes). */
struct text {
	char *data;
	size_t len, cap;
};

static void put(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->data = realloc(t->data, t->cap);
		assert_non_null(t->data);
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void puts_(struct text *t, const char *s)
{
	put(t, s, strlen(s));
}

static const char *write_bytes(char *path, size_t size, const char *name, const struct text *t)
{
	FILE *fp;
	snprintf(path, size, "%s/%s", NETSEC_TEST_TMP, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(t->data, 1, t->len, fp), t->len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static void frames_equal(const struct ns_frame *a, const struct ns_frame *b)
{
	size_t n = ns_frame_n_rows(a);
	assert_int_equal(ns_frame_n_rows(b), n);
	assert_int_equal(ns_frame_n_cols(a), ns_frame_n_cols(b));
	for (size_t j = 0; j < ns_frame_n_cols(a); j++) {
		assert_string_equal(ns_frame_col_name(a, j), ns_frame_col_name(b, j));
		assert_int_equal(ns_frame_col_kind(a, j), ns_frame_col_kind(b, j));
		if (ns_frame_col_kind(a, j) == NS_COL_NUMERIC) {
			const double *x = ns_frame_numbers(a, j), *y = ns_frame_numbers(b, j);
			for (size_t r = 0; r < n; r++) {
				if (memcmp(&x[r], &y[r], sizeof(double)) != 0) {
					fprintf(stderr, "column %zu row %zu: %.17g vs %.17g\n", j,
						r, x[r], y[r]);
					fail();
				}
			}
		} else {
			const uint32_t *x = ns_frame_codes(a, j), *y = ns_frame_codes(b, j);
			assert_int_equal(ns_frame_n_levels(a, j), ns_frame_n_levels(b, j));
			for (size_t k = 0; k < ns_frame_n_levels(a, j); k++)
				assert_string_equal(ns_frame_level(a, j, (uint32_t)k),
						    ns_frame_level(b, j, (uint32_t)k));
			for (size_t r = 0; r < n; r++)
				assert_int_equal(x[r], y[r]);
		}
	}
	assert_int_equal(ns_frame_memory(a), ns_frame_memory(b));
}

static void diags_equal(const struct ns_diag *a, const struct ns_diag *b)
{
	if (a->status != b->status || a->line != b->line || a->column != b->column ||
	    strcmp(a->file, b->file) != 0 || strcmp(a->field, b->field) != 0 ||
	    strcmp(a->message, b->message) != 0) {
		char x[1024], y[1024];
		fprintf(stderr, "generic: %s (%d)\nfast:    %s (%d)\n",
			ns_diag_format(a, x, sizeof(x)), (int)a->status,
			ns_diag_format(b, y, sizeof(y)), (int)b->status);
		fail();
	}
}

static const size_t chunks[] = {0, 1, 2, 3, 7, 64, 1000};
/* Stretches handed to the reader when records keep being declined (0: the default). */
static const uint64_t backoffs[] = {0, 1, 0, 50, 0, 200, 1};

/*
 * Reads `path` the generic way and the fast way with every chunk size; the
 * outcomes must be identical.  Adds the fast path's counts to *stats.
 * Returns the status.
 */
static enum ns_status compare_paths(const char *path, const struct ns_schema *s,
				    const struct ns_validator_params *p,
				    struct ns__fast_stats *stats)
{
	struct ns__fast_opts go = {true, 0, 0, NULL};
	struct ns_frame *ref = NULL;
	struct ns_diag dref;
	enum ns_status st;

	ns_diag_clear(&dref);
	st = ns__frame_read_csv_opts(path, s, p, &go, &ref, &dref);
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		struct ns__fast_stats fs = {0, 0, 0};
		struct ns__fast_opts fo = {false, chunks[k], backoffs[k], &fs};
		struct ns_frame *f = NULL;
		struct ns_diag d;
		enum ns_status st2;
		ns_diag_clear(&d);
		st2 = ns__frame_read_csv_opts(path, s, p, &fo, &f, &d);
		if (st2 != st) {
			char x[1024], y[1024];
			fprintf(stderr, "chunk %zu: status %s vs %s\n  %s\n  %s\n", chunks[k],
				ns_status_name(st), ns_status_name(st2),
				ns_diag_format(&dref, x, sizeof(x)),
				ns_diag_format(&d, y, sizeof(y)));
			fail();
		}
		if (st == NS_OK)
			frames_equal(ref, f);
		else
			diags_equal(&dref, &d);
		if (st == NS_OK || st == NS_ERR_SCHEMA || st == NS_ERR_PARSE) {
			stats->n_fast += fs.n_fast;
			stats->n_declined += fs.n_declined;
			stats->n_stretches += fs.n_stretches;
		}
		ns_frame_free(f);
	}
	ns_frame_free(ref);
	return st;
}

/* ---- random files ------------------------------------------------------------------- */

/* Cells that are unusual in some way, for any column. */
static const char *const tricky[] = {
	"",
	"NA",
	"?",
	"nan",
	"NaN",
	"-0",
	"+1",
	"01",
	"007",
	"1e3",
	".5",
	"1.",
	"1.5",
	"-1.0",
	"2e-1",
	"1E2",
	"-0.0",
	"+0",
	"123456789012345",
	"-123456789012345",
	"1234567890123456",
	"999999999999999999999",
	"1e400",
	"-1e400",
	"inf",
	"-inf",
	"Infinity",
	"abc",
	" 1",
	"1 ",
	"--1",
	"+",
	"-",
	"0x10",
	"1e",
	"-999",
	"x",
	"y",
	"normal",
	"attack",
	"\"1\"",
	"\"\"",
	"\"a,b\"",
	"\"a\"\"b\"",
	"\"x\"",
	"1\"2",
	"\"1\"x",
	"\"multi\nline\"",
	"\"cr\r\nlf\"",
	"1\001",
	"\001",
	"\"\001\"",
	"-1",
	"1",
	"0",
	"5",
	"100",
	"101",
	"-6",
	"0000000000000000000001",
	"1e-400",
	"null",
	"None",
};

struct col_gen {
	const char *name;
	const char *const *valid; /* NULL-terminated */
};

struct file_gen {
	const char *schema;
	const struct col_gen *cols;
	size_t n_cols;
	bool header;
	const char *delim;
};

static const char *const v_tri[] = {"-1", "0", "1", NULL};
static const char *const v_bin[] = {"-1", "1", NULL};
static const char *const v_anyint[] = {"5", "-12", "100000", "0", "42", "-0", "+7", NULL};
static const char *const v_i100[] = {"0", "7", "100", "-5", "63", "99", NULL};
static const char *const v_float[] = {"1.5", "-2.25", "3", "1e2", "-0", "0.1", "999.5", NULL};
static const char *const v_anyfloat[] = {"1e300", "-0.0001", "7", "12345678901234567", NULL};
static const char *const v_big[] = {"123456789012", "-5", "1000000000000000", NULL};
static const char *const v_cat[] = {"x", "y", "1", NULL};
static const char *const v_free[] = {"hello", "w0rld", "a b", "1", "-1", "NAN", NULL};
static const char *const v_label[] = {"normal", "attack", NULL};
static const char *const v_spread[] = {"0", "100", "1000", NULL};
static const char *const v_half[] = {"0.5", "1", "2", "1.0", NULL};

static const struct col_gen phishing_cols[] = {
	{"a", v_tri}, {"b", v_bin}, {"c", v_anyint}, {"Result", v_bin}};
static const char phishing_yaml[] = "target: Result\n"
				    "classes: [\"-1\", \"1\"]\n"
				    "columns:\n"
				    "  - {name: a, type: int, values: [-1, 0, 1]}\n"
				    "  - {name: b, type: int, values: [-1, 1]}\n"
				    "  - {name: c, type: int}\n"
				    "  - {name: Result, type: int}\n";

static const struct col_gen mixed_cols[] = {{"i", v_i100},     {"f", v_float}, {"g", v_anyfloat},
					    {"big", v_big},    {"cat", v_cat}, {"free", v_free},
					    {"label", v_label}};
static const char mixed_yaml[] = "na_values: [\"\", \"NA\", \"-999\", \"?\"]\n"
				 "target: label\n"
				 "classes: [normal, attack]\n"
				 "max_missing: 0.3\n"
				 "columns:\n"
				 "  - {name: i, type: int, range: [-5, 100]}\n"
				 "  - {name: f, type: float, range: [-1000, 1000]}\n"
				 "  - {name: g, type: float}\n"
				 "  - {name: big, type: int}\n"
				 "  - {name: cat, type: category, values: [x, y, \"1\"]}\n"
				 "  - {name: free, type: category}\n"
				 "  - {name: label, type: category}\n";

/* Markers that look like numbers; sets too wide for a bitmap; fractions in a set. */
static const struct col_gen odd_cols[] = {
	{"s", v_spread}, {"h", v_half}, {"t", v_tri}, {"z", v_bin}};
static const char odd_yaml[] = "na_values: [\"0\", \"-1x\", \"\"]\n"
			       "delimiter: \";\"\n"
			       "target: z\n"
			       "classes: [\"-1\", \"1\", \"3\"]\n"
			       "columns:\n"
			       "  - {name: s, type: int, values: [0, 100, 1000]}\n"
			       "  - {name: h, type: float, values: [0.5, 1, 2]}\n"
			       "  - {name: t, type: float, values: [-1, 0, 1], max_missing: 0.5}\n"
			       "  - {name: z, type: int, values: [-1, 1, 2]}\n";

static const struct col_gen plain_cols[] = {{"x1", v_tri}, {"x2", v_float}, {"y", v_bin}};
static const char plain_yaml[] = "header: false\n"
				 "delimiter: \"\\t\"\n"
				 "target: y\n"
				 "columns:\n"
				 "  - {name: x1, type: int, values: [-1, 0, 1]}\n"
				 "  - {name: x2, type: float}\n"
				 "  - {name: y, type: int, values: [-1, 1]}\n";

static const struct file_gen gens[] = {
	{phishing_yaml, phishing_cols, 4, true, ","},
	{mixed_yaml, mixed_cols, 7, true, ","},
	{odd_yaml, odd_cols, 4, true, ";"},
	{plain_yaml, plain_cols, 3, false, "\t"},
};

static void put_cell(struct text *t, const char *cell)
{
	/* \001 stands for a NUL byte. */
	for (const char *c = cell; *c; c++)
		put(t, *c == '\001' ? "\0" : c, 1);
}

static void put_line_end(struct text *t)
{
	size_t k = pick(20);
	puts_(t, k < 16 ? "\n" : k < 19 ? "\r\n" : "\r");
}

/*
 * A random file for generator g: a header (with the columns in a random
 * order, and an extra column when `extra`), then records whose cells are
 * valid with probability 1 - p_bad.  `order` OUT: file field -> column.
 */
static void make_file(struct text *t, const struct file_gen *g, size_t n_records, double p_bad,
		      double p_quote, bool extra, bool drop_target)
{
	size_t order[16], n = 0;
	for (size_t i = 0; i < g->n_cols; i++)
		if (!(drop_target && i == g->n_cols - 1))
			order[n++] = i;
	if (g->header)
		for (size_t i = n; i > 1; i--) {
			size_t k = pick(i), tmp = order[i - 1];
			order[i - 1] = order[k];
			order[k] = tmp;
		}
	if (extra)
		order[n++] = SIZE_MAX;
	t->len = 0;
	put(t, "", 0);
	if (chance(0.1))
		puts_(t, "\xEF\xBB\xBF");
	if (chance(0.05))
		put_line_end(t);
	if (g->header) {
		for (size_t j = 0; j < n; j++) {
			if (j)
				puts_(t, g->delim);
			if (order[j] == SIZE_MAX)
				puts_(t, "\"extra\"");
			else if (chance(0.5))
				puts_(t, g->cols[order[j]].name);
			else {
				puts_(t, "\"");
				puts_(t, g->cols[order[j]].name);
				puts_(t, "\"");
			}
		}
		put_line_end(t);
	}
	for (size_t r = 0; r < n_records; r++) {
		size_t n_fields = n;
		if (chance(p_bad / 10))
			n_fields += chance(0.5) ? 1 : (size_t)-1;
		if (chance(0.03))
			put_line_end(t); /* a blank line */
		for (size_t j = 0; j < n_fields; j++) {
			size_t c = j < n ? order[j] : SIZE_MAX;
			if (j)
				puts_(t, g->delim);
			if (c == SIZE_MAX) {
				/* Extra columns are not validated: only CSV syntax matters. */
				if (chance(p_bad))
					put_cell(t, tricky[pick(sizeof(tricky) / sizeof(char *))]);
				else
					put_cell(t, chance(0.05) ? "\"an, id\"" : "id7");
			} else if (chance(p_bad)) {
				put_cell(t, tricky[pick(sizeof(tricky) / sizeof(char *))]);
			} else {
				/* A valid cell, sometimes quoted: valid CSV the fast
				 * path leaves to the reader. */
				const char *const *v = g->cols[c].valid;
				size_t m = 0;
				bool q = chance(p_quote);
				while (v[m])
					m++;
				if (q)
					puts_(t, "\"");
				put_cell(t, v[pick(m)]);
				if (q) /* free text may span lines */
					puts_(t, v == v_free && chance(0.3) ? "\r\n\"" : "\"");
			}
		}
		if (r + 1 < n_records || chance(0.7))
			put_line_end(t);
	}
}

static void random_files(size_t gi, bool extra, bool drop_target, struct ns__fast_stats *stats,
			 size_t *n_ok, size_t *n_err)
{
	const struct file_gen *g = &gens[gi];
	static const double p_bad[] = {0, 0.002, 0.02, 0.1, 0.5, 0, 0.002};
	static const double p_quote[] = {0, 0, 0.01, 0, 0, 0.1, 0.15};
	struct ns_schema *s = must_parse(g->schema);
	struct ns_validator_params p = ns_validator_params_default();
	struct text t = {NULL, 0, 0};
	char path[512];
	p.allow_extra = extra;
	p.target_optional = drop_target;
	for (size_t k = 0; k < sizeof(p_bad) / sizeof(p_bad[0]); k++) {
		for (int seed = 0; seed < 12; seed++) {
			enum ns_status st;
			rng_state = UINT64_C(0x9E3779B97F4A7C15) *
				    (uint64_t)(gi * 1000 + k * 50 + (size_t)seed + 1);
			make_file(&t, g, 1 + pick(k >= 5 ? 400 : 120), p_bad[k], p_quote[k], extra,
				  drop_target);
			write_bytes(path, sizeof(path), "fastpath.csv", &t);
			st = compare_paths(path, s, &p, stats);
			if (st == NS_OK)
				(*n_ok)++;
			else
				(*n_err)++;
		}
	}
	unlink(path);
	free(t.data);
	ns_schema_free(s);
}

static void test_random_files(void **state)
{
	struct ns__fast_stats stats = {0, 0, 0};
	size_t n_ok = 0, n_err = 0;
	(void)state;
	for (size_t gi = 0; gi < sizeof(gens) / sizeof(gens[0]); gi++) {
		random_files(gi, false, false, &stats, &n_ok, &n_err);
		if (gens[gi].header)
			random_files(gi, true, gi == 0, &stats, &n_ok, &n_err);
		else
			random_files(gi, false, true, &stats, &n_ok, &n_err);
	}
	/* Both outcomes, and both routes, were well exercised. */
	print_message("random files: %zu read, %zu failed; fast records %llu, declined %llu, "
		      "stretches %llu\n",
		      n_ok, n_err, (unsigned long long)stats.n_fast,
		      (unsigned long long)stats.n_declined, (unsigned long long)stats.n_stretches);
	assert_true(n_ok > 50);
	assert_true(n_err > 50);
	assert_true(stats.n_fast > 10000);
	assert_true(stats.n_declined > 500);
	assert_true(stats.n_stretches > 100);
}

/* ---- crafted files ------------------------------------------------------------------- */

static enum ns_status compare_text(const char *yaml, const char *csv, size_t len,
				   const struct ns_validator_params *p,
				   struct ns__fast_stats *stats)
{
	struct ns_schema *s = must_parse(yaml);
	struct text t = {NULL, 0, 0};
	char path[512];
	enum ns_status st;
	put(&t, csv, len);
	write_bytes(path, sizeof(path), "fastpath_crafted.csv", &t);
	st = compare_paths(path, s, p, stats);
	unlink(path);
	free(t.data);
	ns_schema_free(s);
	return st;
}

#define CRAFTED(yaml, lit, st) \
	assert_int_equal(compare_text(yaml, lit, sizeof(lit) - 1, NULL, &stats), st)

static void test_crafted(void **state)
{
	struct ns__fast_stats stats = {0, 0, 0};
	(void)state;
	/* Plain, CRLF, lone CR, blank lines, no final line end. */
	CRAFTED(phishing_yaml, "a,b,c,Result\n1,1,5,1\n-1,-1,-0,-1\n0,1,+3,1\n", NS_OK);
	CRAFTED(phishing_yaml, "a,b,c,Result\r\n1,1,5,1\r\n\r\n-1,-1,01,-1\r\n", NS_OK);
	CRAFTED(phishing_yaml, "a,b,c,Result\r1,1,5,1\r-1,-1,7,-1\r\r0,1,1e3,1", NS_OK);
	CRAFTED(phishing_yaml,
		"\n\n\xEF\xBB\xBF"
		"a,b,c,Result\n1,1,5,1\n",
		NS_ERR_SCHEMA); /* a BOM after blank lines is data */
	CRAFTED(phishing_yaml, "\xEF\xBB\xBF\"a\",b,c,Result\n1,1,5,1\n", NS_OK);
	CRAFTED(phishing_yaml,
		"\xEF\xBB"
		"a,b,c,Result\n1,1,5,1\n",
		NS_ERR_SCHEMA);
	/* Problems deep in the file, after many fast records. */
	{
		struct text t = {NULL, 0, 0};
		static const char *const bad[] = {
			"1,1,5,7\n",     "1,1,1.5,1\n",       "2,1,5,1\n",
			"1,1,,1\n",      "1,1,5,\n",          "1,1,5\n",
			"1,1,5,1,1\n",   "1,1,\"5\"\"\",1\n", "1,1,5\"\n",
			"1,1,5,1\"\n",   "1,1,x,1\n",         "\"1,1,5,1\n",
			"1,1,1e400,1\n", "1,1,-1e400,1\n",    "1,1,nan,1\n",
			"1,1,NA,NA\n",   "1,1,5,\"1\"\n",     "1,1,5,+1\n",
			"1,1,5,1.0\n",   "1,1,5,-0\n",        "1,+1,5,1\n",
			"01,1,5,1\n",    "1,1,9e15,1\n",      "1,1,99999999999999999999,1\n",
			"1,1,.5,1\n",    "1,1,5,1\r",         "1,1,5,1\r\r\n"};
		struct ns_schema *s = must_parse(phishing_yaml);
		char path[512];
		for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
			t.len = 0;
			puts_(&t, "a,b,c,Result\n");
			for (int r = 0; r < 3000; r++)
				puts_(&t, r % 3 ? "1,-1,12,1\n" : "-1,1,0,-1\r\n");
			puts_(&t, bad[b]);
			puts_(&t, "0,1,3,1\n");
			write_bytes(path, sizeof(path), "fastpath_deep.csv", &t);
			compare_paths(path, s, NULL, &stats);
		}
		unlink(path);
		ns_schema_free(s);
		free(t.data);
	}
	/* An unterminated quote names the line where it opened, after fast records. */
	CRAFTED(phishing_yaml, "a,b,c,Result\n1,1,5,1\n1,1,5,1\n1,1,\"5,1\n1,1\n", NS_ERR_PARSE);
	/* A NUL byte. */
	CRAFTED(phishing_yaml, "a,b,c,Result\n1,1,5,1\n1,1,5\0,1\n", NS_ERR_PARSE);
	/* Missing shares are counted over fast and generic records alike. */
	CRAFTED(odd_yaml, "s;h;t;z\n0;1;;1\n100;2;;1\n1000;0.5;0;-1\n0;1;1;1\n", NS_ERR_SCHEMA);
	CRAFTED(odd_yaml, "s;h;t;z\n0;1;1;1\n100;2;;1\n1000;0.5;1;-1\n0;1;1;1\n", NS_OK);
	/* Header-less, tab-separated, the label left out. */
	{
		struct ns_validator_params p = ns_validator_params_default();
		static const char csv[] = "1\t1.5\n-1\t2\n0\t-0\n";
		p.target_optional = true;
		assert_int_equal(compare_text(plain_yaml, csv, sizeof(csv) - 1, &p, &stats), NS_OK);
	}
	/* No data, an empty file, only blank lines. */
	CRAFTED(phishing_yaml, "a,b,c,Result\n", NS_ERR_SCHEMA);
	CRAFTED(phishing_yaml, "", NS_ERR_SCHEMA);
	CRAFTED(phishing_yaml, "\n\r\n\r", NS_ERR_SCHEMA);
	assert_true(stats.n_fast > 50000);
}

/*
 * Stretches of records left to the reader, ending everywhere: every other
 * record is declined (a quoted cell, often spanning lines, some with ""
 * escapes), with tiny first stretches so that they end often, and at every
 * place of a window; the fast path must pick up exactly at a record start.
 */
static void test_stretches(void **state)
{
	static const size_t st_chunks[] = {5, 13, 64, 100, 1000, 0};
	static const uint64_t st_backoffs[] = {1, 3, 50, 200, 4096};
	struct ns_schema *s = must_parse(mixed_yaml);
	struct text t = {NULL, 0, 0};
	char path[512];
	uint64_t n_stretches = 0, n_fast = 0;
	(void)state;
	rng_state = 77;
	puts_(&t, "i,f,g,big,cat,free,label\n");
	for (int r = 0; r < 1500; r++) {
		static const char *const free_text[] = {"plain",           "\"one\nline\"",
							"\"a\r\nb\"\"c\"", "\"\"\"\"",
							"\"x,\n\n\"",      "\"\n\""};
		puts_(&t, "7,1.5,2,3,x,");
		puts_(&t, free_text[r % 2 ? 0 : pick(sizeof(free_text) / sizeof(free_text[0]))]);
		puts_(&t, r % 5 ? ",normal\n" : ",attack\r\n");
	}
	write_bytes(path, sizeof(path), "fastpath_stretches.csv", &t);
	for (size_t c = 0; c < sizeof(st_chunks) / sizeof(st_chunks[0]); c++) {
		for (size_t b = 0; b < sizeof(st_backoffs) / sizeof(st_backoffs[0]); b++) {
			struct ns__fast_opts go = {true, 0, 0, NULL};
			struct ns__fast_stats fs = {0, 0, 0};
			struct ns__fast_opts fo = {false, st_chunks[c], st_backoffs[b], &fs};
			struct ns_frame *ref = NULL, *f = NULL;
			struct ns_diag d1, d2;
			assert_int_equal(ns__frame_read_csv_opts(path, s, NULL, &go, &ref, &d1),
					 NS_OK);
			assert_int_equal(ns__frame_read_csv_opts(path, s, NULL, &fo, &f, &d2),
					 NS_OK);
			frames_equal(ref, f);
			n_stretches += fs.n_stretches;
			n_fast += fs.n_fast;
			ns_frame_free(ref);
			ns_frame_free(f);
		}
	}
	assert_true(n_stretches > 100);
	assert_true(n_fast > 1000);
	unlink(path);
	free(t.data);
	ns_schema_free(s);
}

/*
 * Records near the 1 MiB field cap: a number and a text just over it (the
 * reader's cap error, either way), and a text just under it in a record that
 * is over it (taken by the reader, valid).
 */
static void test_caps(void **state)
{
	struct ns__fast_stats stats = {0, 0, 0};
	struct ns_schema *s = must_parse(mixed_yaml);
	struct text t = {NULL, 0, 0};
	char path[512];
	static const char *const fill[] = {"7", "w", "w"};
	static const char *const before[] = {"1,1,", "1,1,1,1,x,", "1,1,1,1,x,"};
	static const char *const after[] = {",1,x,a,normal\n", ",normal\n", ",normal\n"};
	static const enum ns_status want[] = {NS_ERR_LIMIT, NS_ERR_LIMIT, NS_OK};
	(void)state;
	for (int k = 0; k < 3; k++) {
		size_t n = ((size_t)1 << 20) + (k == 2 ? 0 : 1);
		t.len = 0;
		puts_(&t, "i,f,g,big,cat,free,label\n1,1,1,1,x,a,normal\n");
		puts_(&t, before[k]);
		for (size_t i = 0; i < n; i++)
			puts_(&t, fill[k]);
		puts_(&t, after[k]);
		puts_(&t, "2,2,2,2,y,b,attack\n");
		write_bytes(path, sizeof(path), "fastpath_caps.csv", &t);
		assert_int_equal(compare_paths(path, s, NULL, &stats), want[k]);
	}
	unlink(path);
	free(t.data);
	ns_schema_free(s);
}

/* The bundled data sets: identical frames, and (nearly) every record taken fast. */
static void test_bundled(void **state)
{
	struct ns__fast_stats stats = {0, 0, 0};
	struct ns_schema *s;
	struct ns_diag d;
	(void)state;
	assert_int_equal(ns_schema_load(PHISHING_SCHEMA, &s, &d), NS_OK);
	assert_int_equal(compare_paths(PHISHING_CSV, s, NULL, &stats), NS_OK);
	/* Chunks shorter than a record send it to the reader piecewise. */
	assert_int_equal(stats.n_declined, 0);
	assert_true(stats.n_fast >= 2 * 11055);
	ns_schema_free(s);
	if (!file_exists(NSL_KDD_PATH)) {
		print_message("skipped: %s is absent\n", NSL_KDD_PATH);
		return;
	}
	memset(&stats, 0, sizeof(stats));
	assert_int_equal(ns_schema_load(NSL_KDD_SCHEMA, &s, &d), NS_OK);
	assert_int_equal(compare_paths(NSL_KDD_PATH, s, NULL, &stats), NS_OK);
	assert_int_equal(stats.n_declined, 0);
	ns_schema_free(s);
}

/* Allocation failures in the fast path: NS_ERR_NOMEM, no leak, no half frame. */
static void test_alloc_failures(void **state)
{
	struct ns_schema *s = must_parse(mixed_yaml);
	struct text t = {NULL, 0, 0};
	char path[512];
	long n;
	(void)state;
	puts_(&t, "i,f,g,big,cat,free,label\n");
	for (int r = 0; r < 3000; r++)
		puts_(&t, r % 7 ? "1,2.5,3,4,x,hello,normal\n" : "NA,,1,2,y,w0rld,attack\n");
	write_bytes(path, sizeof(path), "fastpath_nomem.csv", &t);
	for (n = 0;; n++) {
		struct ns__fast_opts fo = {false, 4096, 0, NULL};
		struct ns_diag d;
		struct ns_frame *f = NULL;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = ns__frame_read_csv_opts(path, s, NULL, &fo, &f, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			assert_int_equal(ns_frame_n_rows(f), 3000);
			ns_frame_free(f);
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_null(f);
	}
	assert_true(n > 10);
	unlink(path);
	free(t.data);
	ns_schema_free(s);
}

/* ---- the validator's verdicts against a reference ------------------------------------ */

struct ref_col {
	const char *name;
	enum ns_col_type type;
	double min, max; /* NaN: none */
	const double *values;
	size_t n_values;
	bool target;
};

static const double r_tri[] = {-1, 0, 1};
static const double r_spread[] = {0, 100, 1000};
static const double r_half[] = {0.5, 1, 2};
static const double r_classes[] = {-1, 1, 7};
static const double r_tgt[] = {-1, 1, 5};

static const struct ref_col ref_cols[] = {
	{"a", NS_TYPE_INT, NAN, NAN, r_tri, 3, false},
	{"b", NS_TYPE_INT, 0, 100, NULL, 0, false},
	{"c", NS_TYPE_INT, NAN, NAN, r_spread, 3, false},
	{"d", NS_TYPE_FLOAT, NAN, NAN, r_half, 3, false},
	{"e", NS_TYPE_FLOAT, NAN, NAN, NULL, 0, false},
	{"f", NS_TYPE_INT, -3, NAN, r_tri, 3, false},
	{"t", NS_TYPE_INT, NAN, NAN, r_tgt, 3, true},
};
#define N_REF (sizeof(ref_cols) / sizeof(ref_cols[0]))

static const char ref_yaml_fmt[] = "na_values: [%s]\n"
				   "target: t\n"
				   "classes: [\"-1\", \"1\", \"7\"]\n"
				   "columns:\n"
				   "  - {name: a, type: int, values: [-1, 0, 1]}\n"
				   "  - {name: b, type: int, range: [0, 100]}\n"
				   "  - {name: c, type: int, values: [0, 100, 1000]}\n"
				   "  - {name: d, type: float, values: [0.5, 1, 2]}\n"
				   "  - {name: e, type: float}\n"
				   "  - {name: f, type: int, min: -3, values: [-1, 0, 1]}\n"
				   "  - {name: t, type: int, values: [-1, 1, 5]}\n";

static bool in_list(const double *v, size_t n, double x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* What docs/schema.md says cell `s` of column `c` is: -1 valid, else the problem kind. */
static int reference(const struct ref_col *c, const char *const *na, size_t n_na, const char *s,
		     size_t len, double *value, bool *missing)
{
	double x;
	*missing = false;
	*value = NAN;
	for (size_t i = 0; i < n_na; i++)
		if (strlen(na[i]) == len && memcmp(na[i], s, len) == 0)
			goto missing;
	if (!ns_parse_double(s, len, &x))
		return NS_PROBLEM_TYPE;
	if (isnan(x))
		goto missing;
	if (c->type == NS_TYPE_INT && !(isfinite(x) && x == floor(x)))
		return NS_PROBLEM_TYPE;
	if ((!isnan(c->min) && x < c->min) || (!isnan(c->max) && x > c->max))
		return NS_PROBLEM_RANGE;
	if (c->n_values && !in_list(c->values, c->n_values, x))
		return NS_PROBLEM_VALUE;
	if (c->target && !in_list(r_classes, 3, x))
		return NS_PROBLEM_LABEL;
	*value = x;
	return -1;
missing:
	*missing = true;
	return c->target ? NS_PROBLEM_LABEL : -1;
}

struct one_problem {
	size_t n;
	enum ns_problem_kind kind;
	uint64_t column;
};

static void note_problem(void *user, const struct ns_problem *p)
{
	struct one_problem *o = user;
	o->n++;
	o->kind = p->kind;
	o->column = p->column;
}

static void random_cell(char *buf, size_t size, size_t *len)
{
	static const char alphabet[] = "0123456789-+.eE";
	static const char *const special[] = {"-0",
					      "+0",
					      "-",
					      "+",
					      "",
					      "NA",
					      "nan",
					      "-nan",
					      "inf",
					      "-1x",
					      "0",
					      "1",
					      "-1",
					      "5",
					      "01",
					      "+1",
					      "1e2",
					      "100",
					      "1000",
					      "0.5",
					      "2.0",
					      "-3",
					      "-4",
					      "999999999999999",
					      "-999999999999999",
					      "1000000000000000",
					      "64",
					      "-65",
					      "7",
					      "+7"};
	if (chance(0.4)) {
		const char *sp = special[pick(sizeof(special) / sizeof(special[0]))];
		*len = strlen(sp);
		memcpy(buf, sp, *len + 1);
		return;
	}
	*len = 1 + pick(size - 2 < 18 ? size - 2 : 18);
	for (size_t i = 0; i < *len; i++)
		buf[i] =
			chance(0.8) ? (char)('0' + pick(10)) : alphabet[pick(sizeof(alphabet) - 1)];
	buf[*len] = '\0';
}

static void judge_against_reference(const char *na_list, const char *const *na, size_t n_na)
{
	char yaml[2048];
	struct ns_schema *s;
	struct ns_validator *v;
	struct one_problem prob;
	struct ns_value values[N_REF];
	static const char *const header[N_REF] = {"a", "b", "c", "d", "e", "f", "t"};
	static const char *const good[N_REF] = {"1", "50", "100", "2", "3.25", "0", "1"};
	size_t lens[N_REF];
	bool quoted[N_REF] = {false};
	struct ns_csv_record rec;
	bool ok;

	snprintf(yaml, sizeof(yaml), ref_yaml_fmt, na_list);
	s = must_parse(yaml);
	assert_int_equal(ns_validator_create(s, NULL, note_problem, &prob, &v), NS_OK);
	memset(&rec, 0, sizeof(rec));
	rec.n_fields = N_REF;
	rec.lens = lens;
	rec.quoted = quoted;
	for (size_t i = 0; i < N_REF; i++)
		lens[i] = strlen(header[i]);
	rec.fields = header;
	rec.line = 1;
	assert_int_equal(ns_validator_record(v, &rec, values, &ok), NS_OK);
	rng_state = UINT64_C(0x2545F4914F6CDD1D);
	for (int iter = 0; iter < 20000; iter++) {
		const char *fields[N_REF];
		char cell[32];
		size_t col = pick(N_REF), len;
		double want;
		bool want_missing;
		int kind;
		random_cell(cell, sizeof(cell), &len);
		for (size_t i = 0; i < N_REF; i++) {
			fields[i] = i == col ? cell : good[i];
			lens[i] = i == col ? len : strlen(good[i]);
		}
		rec.fields = fields;
		rec.line = (uint64_t)iter + 2;
		memset(&prob, 0, sizeof(prob));
		assert_int_equal(ns_validator_record(v, &rec, values, &ok), NS_OK);
		kind = reference(&ref_cols[col], na, n_na, cell, len, &want, &want_missing);
		if (kind < 0) {
			if (!ok || prob.n != 0 || values[col].missing != want_missing ||
			    memcmp(&values[col].num, &want, sizeof(double)) != 0) {
				fprintf(stderr, "column %s, cell '%s': want valid %.17g%s\n",
					ref_cols[col].name, cell, want,
					want_missing ? " (missing)" : "");
				fail();
			}
		} else {
			if (ok || prob.n != 1 || (int)prob.kind != kind || prob.column != col + 1) {
				fprintf(stderr,
					"column %s, cell '%s': want problem %s, got ok=%d n=%zu "
					"kind=%s\n",
					ref_cols[col].name, cell,
					ns_problem_kind_name((enum ns_problem_kind)kind), ok,
					prob.n, ns_problem_kind_name(prob.kind));
				fail();
			}
		}
	}
	ns_validator_free(v);
	ns_schema_free(s);
}

static void test_judge_reference(void **state)
{
	static const char *const dflt[] = {"",    "na",  "NA",   "N/A",  "n/a", "?",
					   "NaN", "nan", "null", "NULL", "None"};
	static const char *const odd[] = {"", "0", "-1x", "+5"};
	(void)state;
	judge_against_reference("\"\", na, NA, N/A, n/a, \"?\", NaN, nan, \"null\", NULL, None",
				dflt, sizeof(dflt) / sizeof(dflt[0]));
	judge_against_reference("\"\", \"0\", \"-1x\", \"+5\"", odd, sizeof(odd) / sizeof(odd[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge_reference),
		cmocka_unit_test(test_crafted),
		cmocka_unit_test(test_random_files),
		cmocka_unit_test(test_stretches),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_bundled),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
