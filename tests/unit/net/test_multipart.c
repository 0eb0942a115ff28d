/*
 * tests/unit/net/test_multipart.c - the streaming multipart/form-data parser.
 *
 * Golden cases (the table below: a body and the expected rendering of its
 * callbacks and final status) are fed whole and then in chunks of every size
 * from 1 byte to the whole body, and in random chunkings; every way must give
 * the expected text.  Run with NETSEC_GOLDEN_PRINT=1 to print each case's
 * rendering (to review before pasting a new expectation).  Other tests cover
 * the Content-Type boundary extraction, callback aborts, the hold-back bound,
 * no allocation while a body streams, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/internal.h"
#include "netsec/core.h"
#include "netsec/multipart.h"

/* ---- rendering ------------------------------------------------------------- */

struct render {
	struct ns__buf out; /* the rendering */
	struct ns__buf cur; /* the current part's data */
	bool in_part;
	long abort_begin; /* part index whose part_begin fails, or -1 */
	const char *expect_name; /* checked at part_end: the name is still valid */
	char name_copy[256];
};

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

static void buf_opt(struct ns__buf *b, const char *label, const char *s)
{
	buf_str(b, label);
	if (!s) {
		buf_str(b, "none");
		return;
	}
	buf_str(b, "[");
	buf_escaped(b, s, strlen(s));
	buf_str(b, "]");
}

static enum ns_status on_begin(void *user, const struct ns_multipart_part *p)
{
	struct render *r = user;
	char head[64];
	assert_false(r->in_part);
	assert_non_null(p->name);
	snprintf(head, sizeof(head), "begin #%zu", p->index);
	buf_str(&r->out, head);
	buf_opt(&r->out, " name=", p->name);
	buf_opt(&r->out, " filename=", p->filename);
	buf_opt(&r->out, " type=", p->content_type);
	buf_str(&r->out, "\n");
	if ((long)p->index == r->abort_begin)
		return NS_ERR_ABORTED;
	r->in_part = true;
	r->expect_name = p->name;
	snprintf(r->name_copy, sizeof(r->name_copy), "%s", p->name);
	ns__buf_reset(&r->cur);
	return NS_OK;
}

static enum ns_status on_data(void *user, const void *data, size_t len)
{
	struct render *r = user;
	assert_true(r->in_part);
	assert_true(len > 0);
	buf_add(&r->cur, data, len);
	return NS_OK;
}

static enum ns_status on_end(void *user)
{
	struct render *r = user;
	assert_true(r->in_part);
	/* The part's strings stay valid until part_end returns. */
	assert_string_equal(r->expect_name, r->name_copy);
	buf_str(&r->out, "data [");
	buf_escaped(&r->out, r->cur.data ? r->cur.data : "", r->cur.len);
	buf_str(&r->out, "]\nend\n");
	r->in_part = false;
	return NS_OK;
}

static const struct ns_multipart_callbacks render_cb = {on_begin, on_data, on_end};

/* Chunk sizes: a fixed size, or a random sequence from a seed. */
struct chunking {
	size_t size; /* 0: random */
	uint64_t seed;
};

static size_t next_chunk(struct chunking *c, size_t left)
{
	size_t n;
	if (c->size) {
		n = c->size;
	} else {
		c->seed = c->seed * 6364136223846793005ULL + 1442695040888963407ULL;
		n = (size_t)(c->seed >> 33) % 17;
		if (n == 16)
			n = (size_t)(c->seed >> 20) % 300;
	}
	return n < left ? n : left;
}

/* Parses `body` with the given chunking and renders callbacks and status. */
static void render(const char *boundary, const struct ns_multipart_params *p, long abort_begin,
		   const char *body, size_t len, struct chunking ch, struct ns__buf *out)
{
	struct render r;
	struct ns_multipart *m = NULL;
	struct ns_diag d;
	enum ns_status st = NS_OK;
	size_t off = 0;
	char line[800];

	memset(&r, 0, sizeof(r));
	ns__buf_init(&r.cur, 0);
	r.out = *out;
	r.abort_begin = abort_begin;
	ns_diag_clear(&d);
	assert_int_equal(ns_multipart_create(boundary, p, &render_cb, &r, &m), NS_OK);
	while (off < len && st == NS_OK) {
		size_t n = next_chunk(&ch, len - off);
		st = ns_multipart_feed(m, body + off, n, &d);
		off += n;
	}
	if (st == NS_OK)
		st = ns_multipart_finish(m, &d);
	if (r.in_part) {
		buf_str(&r.out, "partial [");
		buf_escaped(&r.out, r.cur.data ? r.cur.data : "", r.cur.len);
		buf_str(&r.out, "]\n");
	}
	if (st == NS_OK) {
		snprintf(line, sizeof(line), "ok parts=%zu\n", ns_multipart_parts(m));
		assert_int_equal(ns_multipart_bytes(m), len);
	} else {
		struct ns_diag again;
		snprintf(line, sizeof(line), "error %s %s\n", ns_status_name(st), d.message);
		/* Errors are sticky, with the same diagnostic. */
		assert_int_equal(ns_multipart_feed(m, "x", 1, &again), st);
		assert_string_equal(again.message, d.message);
		assert_int_equal(ns_multipart_finish(m, &again), st);
		assert_string_equal(again.message, d.message);
	}
	buf_str(&r.out, line);
	*out = r.out;
	ns__buf_fini(&r.cur);
	ns_multipart_free(m);
}

/* ---- golden cases ------------------------------------------------------------ */

#define BODY(s) s, sizeof(s) - 1

struct golden {
	const char *name;
	const char *boundary;
	const char *body;
	size_t len;
	size_t max_header_bytes; /* 0: default */
	size_t max_parts; /* 0: default */
	long abort_begin; /* -1: none */
	const char *expected;
};

#define CD "Content-Disposition: form-data; "

static const struct golden goldens[] = {
	{"simple", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"file\"; filename=\"a.csv\"\r\n"
	      "Content-Type: text/csv\r\n\r\n"
	      "x,y\r\n1,2\r\n\r\n--XYZ--\r\n"),
	 0, 0, -1,
	 "begin #0 name=[file] filename=[a.csv] type=[text/csv]\n"
	 "data [x,y\\r\\n1,2\\r\\n]\nend\nok parts=1\n"},
	{"two_fields", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"comment\"\r\n\r\nhello\r\n"
	      "--XYZ\r\n" CD "name=\"file\"; filename=\"b.csv\"\r\n\r\n"
	      "a\nb\n\r\n--XYZ--"),
	 0, 0, -1,
	 "begin #0 name=[comment] filename=none type=none\ndata [hello]\nend\n"
	 "begin #1 name=[file] filename=[b.csv] type=none\ndata [a\\nb\\n]\nend\nok parts=2\n"},
	{"empty_file", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"file\"; filename=\"\"\r\n"
	      "Content-Type: application/octet-stream\r\n\r\n\r\n--XYZ--\r\n"),
	 0, 0, -1,
	 "begin #0 name=[file] filename=[] type=[application/octet-stream]\n"
	 "data []\nend\nok parts=1\n"},
	{"binary", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"file\"; filename=\"b.bin\"\r\n\r\n"
	      "\0\r\0\n\r\r\n\n\r\xff\xfe\0--\r\n\r\n-\r\n--XYZ--"),
	 0, 0, -1,
	 "begin #0 name=[file] filename=[b.bin] type=none\n"
	 "data [\\x00\\r\\x00\\n\\r\\r\\n\\n\\r\\xff\\xfe\\x00--\\r\\n\\r\\n-]\nend\nok parts=1\n"},
	{"near_boundary", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"f\"\r\n\r\n"
	      "--XYZ a--XYZb\r\n--XY\r\n-\r\r\n--XYz\n--XYZ\r--XYZ\r\n--\r\n--X"
	      "\r\n--XY\r\n--XYZ--"),
	 0, 0, -1,
	 "begin #0 name=[f] filename=none type=none\n"
	 "data [--XYZ "
	 "a--XYZb\\r\\n--XY\\r\\n-\\r\\r\\n--XYz\\n--XYZ\\r--XYZ\\r\\n--\\r\\n--X\\r\\n--XY]"
	 "\nend\nok parts=1\n"},
	{"boundary_specials", "a'()+_,-./:=? b",
	 BODY("--a'()+_,-./:=? b\r\n" CD "name=\"f\"\r\n\r\n1\r\n--a'()+_,-./:=? \r\n"
	      "--a'()+_,-./:=? b--"),
	 0, 0, -1,
	 "begin #0 name=[f] filename=none type=none\n"
	 "data [1\\r\\n--a'()+_,-./:=? ]\nend\nok parts=1\n"},
	{"dash_boundary", "--", BODY("----\r\n" CD "name=\"f\"\r\n\r\n--\r\n---\r\n------"), 0, 0,
	 -1, "begin #0 name=[f] filename=none type=none\ndata [--\\r\\n---]\nend\nok parts=1\n"},
	{"webkit", "----WebKitFormBoundary7MA4YWxkTrZu0gW",
	 BODY("------WebKitFormBoundary7MA4YWxkTrZu0gW\r\n"
	      "Content-Disposition: form-data; name=\"file\"; filename=\"phish.csv\"\r\n"
	      "Content-Type: text/csv\r\n\r\n"
	      "having_IP,Result\n1,-1\n-1,1\n\r\n"
	      "------WebKitFormBoundary7MA4YWxkTrZu0gW--\r\n"),
	 0, 0, -1,
	 "begin #0 name=[file] filename=[phish.csv] type=[text/csv]\n"
	 "data [having_IP,Result\\n1,-1\\n-1,1\\n]\nend\nok parts=1\n"},
	{"preamble_full_delimiter", "XYZ",
	 BODY("This is the preamble.\r\n--XY\r\n--XYZZ is not it either? no: it is.\r\n"), 0, 0, -1,
	 "error ERR_PARSE unexpected byte 0x5a after the boundary --XYZ (expected CRLF or --) "
	 "(at byte 34)\n"},
	{"preamble_epilogue_ok", "XYZ",
	 BODY("preamble --XYZ\r\nmore\r\n-\r\n--XYZ\r\n" CD "name=a\r\n\r\nv\r\n--XYZ--"
	      " epilogue\r\n--XYZ\r\nContent-Disposition: junk\r\n\r\n"),
	 0, 0, -1, "begin #0 name=[a] filename=none type=none\ndata [v]\nend\nok parts=1\n"},
	{"padding", "XYZ",
	 BODY("--XYZ \t \r\n" CD "name=\"a\"\r\n\r\n1\r\n--XYZ\t\r\n" CD "name=\"b\"\r\n\r\n"
	      "2\r\n--XYZ--  \r\n"),
	 0, 0, -1,
	 "begin #0 name=[a] filename=none type=none\ndata [1]\nend\n"
	 "begin #1 name=[b] filename=none type=none\ndata [2]\nend\nok parts=2\n"},
	{"header_forms", "XYZ",
	 BODY("--XYZ\r\nX-Other: ignored; \"x\r\n"
	      "content-disposition:FORM-DATA ; NAME = f ;FileName=\"a\\\"b\\\\c \xc3\xa9.csv\";"
	      " filename*=UTF-8''x.csv; size=3;\r\n"
	      "CONTENT-TYPE:   text/csv; charset=utf-8  \r\n\r\nz\r\n--XYZ--"),
	 0, 0, -1,
	 "begin #0 name=[f] filename=[a\"b\\\\c \\xc3\\xa9.csv] type=[text/csv; charset=utf-8]\n"
	 "data [z]\nend\nok parts=1\n"},
	{"empty_name", "XYZ", BODY("--XYZ\r\n" CD "name=\"\"\r\n\r\n\r\n--XYZ--"), 0, 0, -1,
	 "begin #0 name=[] filename=none type=none\ndata []\nend\nok parts=1\n"},
	{"no_parts", "XYZ", BODY("--XYZ--\r\n"), 0, 0, -1, "ok parts=0\n"},
	{"lf_only", "XYZ", BODY("--XYZ\n" CD "name=\"file\"; filename=\"a.csv\"\n\nx,y\n--XYZ--\n"),
	 0, 0, -1,
	 "error ERR_PARSE the boundary line ends with a bare LF (line ends must be CRLF) "
	 "(at byte 5)\n"},
	{"lf_in_headers", "XYZ", BODY("--XYZ\r\n" CD "name=\"file\"\n\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: bare LF in the part headers (line ends must be CRLF) "
	 "(at byte 50)\n"},
	{"cr_in_headers", "XYZ", BODY("--XYZ\r\n" CD "name=\"file\"\rX\r\n\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: bare CR in the part headers (line ends must be CRLF) "
	 "(at byte 50)\n"},
	{"truncated_body", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"file\"; filename=\"a.csv\"\r\n\r\nx,y\r\n1,2\r\n--XY"), 0, 0,
	 -1,
	 "begin #0 name=[file] filename=[a.csv] type=none\npartial [x,y\\r\\n1,2]\n"
	 "error ERR_PARSE truncated upload: the closing boundary --XYZ-- was not found "
	 "(part 1 'file' was cut off) (at byte 86)\n"},
	{"truncated_headers", "XYZ", BODY("--XYZ\r\n" CD "name=\"fi"), 0, 0, -1,
	 "error ERR_PARSE truncated upload: part 1 ends inside its headers; the closing "
	 "boundary --XYZ-- was not found (at byte 47)\n"},
	{"truncated_boundary_line", "XYZ", BODY("--XYZ\r\n" CD "name=a\r\n\r\nv\r\n--XYZ-"), 0, 0,
	 -1,
	 "begin #0 name=[a] filename=none type=none\ndata [v]\nend\n"
	 "error ERR_PARSE truncated upload: the closing boundary --XYZ-- was not found "
	 "(the body ends inside a boundary line) (at byte 58)\n"},
	{"truncated_after_part", "XYZ", BODY("--XYZ\r\n" CD "name=a\r\n\r\nv\r\n--XYZ\r\n"), 0, 0,
	 -1,
	 "begin #0 name=[a] filename=none type=none\ndata [v]\nend\n"
	 "error ERR_PARSE truncated upload: part 2 ends inside its headers; the closing "
	 "boundary --XYZ-- was not found (at byte 59)\n"},
	{"garbage", "XYZ", BODY("hello world\r\n\0\xff-- XYZ\r\n"), 0, 0, -1,
	 "error ERR_PARSE truncated upload: the boundary --XYZ was not found (at byte 23)\n"},
	{"empty_body", "XYZ", BODY(""), 0, 0, -1,
	 "error ERR_PARSE truncated upload: the boundary --XYZ was not found (at byte 0)\n"},
	{"too_many_parts", "XYZ",
	 BODY("--XYZ\r\n" CD "name=a\r\n\r\n1\r\n--XYZ\r\n" CD "name=b\r\n\r\n2\r\n"
	      "--XYZ\r\n" CD "name=c\r\n\r\n3\r\n--XYZ--"),
	 0, 2, -1,
	 "begin #0 name=[a] filename=none type=none\ndata [1]\nend\n"
	 "begin #1 name=[b] filename=none type=none\ndata [2]\nend\n"
	 "error ERR_LIMIT more than 2 parts (at byte 111)\n"},
	{"oversized_headers", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"file\"; filename=\"a-rather-long-file-name.csv\"\r\n\r\n"
	      "x\r\n--XYZ--"),
	 64, 0, -1, "error ERR_LIMIT part 1: part headers longer than 64 bytes (at byte 71)\n"},
	{"headers_at_cap", "XYZ", BODY("--XYZ\r\n" CD "name=\"file\"\r\n\r\nx\r\n--XYZ--"), 47, 0,
	 -1, "begin #0 name=[file] filename=none type=none\ndata [x]\nend\nok parts=1\n"},
	{"headers_over_cap", "XYZ", BODY("--XYZ\r\n" CD "name=\"file\"\r\n\r\nx\r\n--XYZ--"), 46, 0,
	 -1, "error ERR_LIMIT part 1: part headers longer than 46 bytes (at byte 53)\n"},
	{"abort_begin", "XYZ",
	 BODY("--XYZ\r\n" CD "name=a\r\n\r\n1\r\n--XYZ\r\n" CD "name=b\r\n\r\n2\r\n--XYZ--"), 0, 0,
	 1,
	 "begin #0 name=[a] filename=none type=none\ndata [1]\nend\n"
	 "begin #1 name=[b] filename=none type=none\n"
	 "error ERR_ABORTED part 2 ('b'): stopped by the part_begin callback (aborted by the "
	 "caller)\n"},
	{"folding", "XYZ",
	 BODY("--XYZ\r\n" CD "name=\"file\";\r\n filename=\"a.csv\"\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: folded header line (continuation lines are not supported) "
	 "(at byte 53)\n"},
	{"leading_space", "XYZ", BODY("--XYZ\r\n " CD "name=a\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: a header line starts with a space or tab (at byte 7)\n"},
	{"missing_disposition", "XYZ",
	 BODY("--XYZ\r\n" CD "name=a\r\n\r\n1\r\n--XYZ\r\nContent-Type: text/plain\r\n\r\n"
	      "2\r\n--XYZ--"),
	 0, 0, -1,
	 "begin #0 name=[a] filename=none type=none\ndata [1]\nend\n"
	 "error ERR_PARSE part 2: missing Content-Disposition header (at byte 59)\n"},
	{"no_headers", "XYZ", BODY("--XYZ\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: missing Content-Disposition header (at byte 7)\n"},
	{"not_form_data", "XYZ",
	 BODY("--XYZ\r\nContent-Disposition: attachment; filename=a.csv\r\n\r\nx\r\n--XYZ--"), 0, 0,
	 -1,
	 "error ERR_PARSE part 1: Content-Disposition is 'attachment; filename=a.csv', not "
	 "form-data (at byte 28)\n"},
	{"no_name", "XYZ", BODY("--XYZ\r\n" CD "filename=\"a.csv\"\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: Content-Disposition has no name (at byte 28)\n"},
	{"duplicate_name", "XYZ", BODY("--XYZ\r\n" CD "name=a; name=b\r\n\r\nx\r\n--XYZ--"), 0, 0,
	 -1, "error ERR_PARSE part 1: Content-Disposition gives name twice (at byte 47)\n"},
	{"duplicate_disposition", "XYZ",
	 BODY("--XYZ\r\n" CD "name=a\r\n" CD "name=b\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: Content-Disposition given twice (at byte 47)\n"},
	{"duplicate_type", "XYZ",
	 BODY("--XYZ\r\n" CD "name=a\r\nContent-Type: a/b\r\nContent-Type: a/c\r\n\r\nx\r\n"
	      "--XYZ--"),
	 0, 0, -1, "error ERR_PARSE part 1: Content-Type given twice (at byte 66)\n"},
	{"unterminated_quote", "XYZ", BODY("--XYZ\r\n" CD "name=\"a\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: unterminated quoted string in Content-Disposition "
	 "(at byte 44)\n"},
	{"stray_quote", "XYZ", BODY("--XYZ\r\n" CD "name=a\"b\"\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: stray '\"' in a Content-Disposition parameter (at byte 45)\n"},
	{"no_colon", "XYZ", BODY("--XYZ\r\nContent-Disposition form-data\r\n\r\nx\r\n--XYZ--"), 0,
	 0, -1,
	 "error ERR_PARSE part 1: header 'Content-Disposition' is not followed by ':' "
	 "(at byte 26)\n"},
	{"control_byte", "XYZ", BODY("--XYZ\r\n" CD "name=\"a\0\"\r\n\r\nx\r\n--XYZ--"), 0, 0, -1,
	 "error ERR_PARSE part 1: control byte 0x00 in the part headers (at byte 46)\n"},
	{"junk_after_boundary", "XYZ", BODY("--XYZ\r\n" CD "name=a\r\n\r\n1\r\n--XYZabc"), 0, 0, -1,
	 "begin #0 name=[a] filename=none type=none\ndata [1]\nend\n"
	 "error ERR_PARSE unexpected byte 0x61 after the boundary --XYZ (expected CRLF or --) "
	 "(at byte 57)\n"},
	{"single_dash", "XYZ", BODY("--XYZ\r\n" CD "name=a\r\n\r\n1\r\n--XYZ-x"), 0, 0, -1,
	 "begin #0 name=[a] filename=none type=none\ndata [1]\nend\n"
	 "error ERR_PARSE the boundary --XYZ is followed by a single '-' (at byte 58)\n"},
	{"boundary_bare_cr", "XYZ", BODY("--XYZ\rx"), 0, 0, -1,
	 "error ERR_PARSE the boundary line ends with a bare CR (at byte 6)\n"},
};

static void test_golden(void **state)
{
	const bool print = getenv("NETSEC_GOLDEN_PRINT") != NULL;
	int n_bad = 0;
	(void)state;
	for (size_t g = 0; g < sizeof(goldens) / sizeof(goldens[0]); g++) {
		const struct golden *c = &goldens[g];
		struct ns_multipart_params p = ns_multipart_params_default();
		size_t top = c->len ? c->len : 1;
		if (c->max_header_bytes)
			p.max_header_bytes = c->max_header_bytes;
		if (c->max_parts)
			p.max_parts = c->max_parts;
		/* Sizes 1..len, then 40 random chunkings. */
		for (size_t k = 1; k <= top + 40; k++) {
			struct chunking ch = {k <= top ? k : 0, k};
			struct ns__buf got;
			ns__buf_init(&got, 0);
			render(c->boundary, &p, c->abort_begin, c->body, c->len, ch, &got);
			if (print && k == top)
				printf("---- %s\n%s", c->name, got.data);
			if (strcmp(got.data, c->expected) != 0) {
				print_error("golden %s, chunking %zu:\n--- expected\n%s--- got\n%s",
					    c->name, k, c->expected, got.data);
				n_bad++;
				ns__buf_fini(&got);
				break;
			}
			ns__buf_fini(&got);
		}
	}
	assert_int_equal(n_bad, 0);
}

/* ---- the Content-Type header ----------------------------------------------------- */

static void test_boundary_header(void **state)
{
	static const struct {
		const char *ct;
		enum ns_status st;
		const char *boundary;
	} cases[] = {
		{"multipart/form-data; boundary=XYZ", NS_OK, "XYZ"},
		{"multipart/form-data;boundary=XYZ", NS_OK, "XYZ"},
		{"  Multipart/Form-Data ;  BOUNDARY = XYZ  ", NS_OK, "XYZ"},
		{"multipart/form-data; charset=utf-8; boundary=\"a b:c\"; x=y", NS_OK, "a b:c"},
		{"multipart/form-data; boundary=\"q\\\"\"", NS_ERR_INVALID, NULL}, /* '"' */
		{"multipart/form-data; boundary=\"a\\b\"", NS_OK, "ab"},
		{"multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", NS_OK,
		 "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
		{"multipart/form-data; boundary="
		 "1234567890123456789012345678901234567890123456789012345678901234567890",
		 NS_OK, "1234567890123456789012345678901234567890123456789012345678901234567890"},
		{"multipart/form-data; boundary="
		 "12345678901234567890123456789012345678901234567890123456789012345678901",
		 NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=\"\"", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=\"ab \"", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=a@b", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=\"abc", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=\"abc\\", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary=a; boundary=b", NS_ERR_INVALID, NULL},
		{"multipart/form-data", NS_ERR_INVALID, NULL},
		{"multipart/form-data; charset=utf-8", NS_ERR_INVALID, NULL},
		{"multipart/form-datax; boundary=a", NS_ERR_INVALID, NULL},
		{"multipart/mixed; boundary=a", NS_ERR_INVALID, NULL},
		{"application/x-www-form-urlencoded", NS_ERR_INVALID, NULL},
		{"text/csv", NS_ERR_INVALID, NULL},
		{"", NS_ERR_INVALID, NULL},
		{"multipart/form-data boundary=a", NS_ERR_INVALID, NULL},
		{"multipart/form-data; =a", NS_ERR_INVALID, NULL},
		{"multipart/form-data; boundary", NS_ERR_INVALID, NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char b[NS_MULTIPART_BOUNDARY_MAX + 1] = "unchanged";
		struct ns_diag d;
		enum ns_status st;
		ns_diag_clear(&d);
		st = ns_multipart_boundary(cases[i].ct, b, sizeof(b), &d);
		if (st != cases[i].st)
			fail_msg("'%s': got %s (%s)", cases[i].ct, ns_status_name(st), d.message);
		if (st == NS_OK) {
			assert_string_equal(b, cases[i].boundary);
		} else {
			assert_string_equal(b, "unchanged");
			assert_true(d.message[0] != '\0');
		}
	}
	{
		char small[4];
		struct ns_diag d;
		assert_int_equal(ns_multipart_boundary("multipart/form-data; boundary=abcd", small,
						       sizeof(small), &d),
				 NS_ERR_INVALID);
		assert_int_equal(ns_multipart_boundary("multipart/form-data; boundary=abc", small,
						       sizeof(small), NULL),
				 NS_OK);
		assert_string_equal(small, "abc");
		assert_int_equal(ns_multipart_boundary(NULL, small, sizeof(small), &d),
				 NS_ERR_INVALID);
	}
}

static void test_create_invalid(void **state)
{
	struct ns_multipart *m = NULL;
	struct ns_multipart_params p = ns_multipart_params_default();
	struct ns_diag d;
	(void)state;
	assert_int_equal(p.max_header_bytes, 8192);
	assert_int_equal(p.max_parts, 64);
	assert_int_equal(ns_multipart_create(NULL, NULL, NULL, NULL, &m), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_create("", NULL, NULL, NULL, &m), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_create("a\r\nb", NULL, NULL, NULL, &m), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_create("ab ", NULL, NULL, NULL, &m), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_create("1234567890123456789012345678901234567890123456789012"
					     "3456789012345678901",
					     NULL, NULL, NULL, &m),
			 NS_ERR_INVALID);
	p.max_parts = 0;
	assert_int_equal(ns_multipart_create("ab", &p, NULL, NULL, &m), NS_ERR_INVALID);
	p = ns_multipart_params_default();
	p.max_header_bytes = 0;
	assert_int_equal(ns_multipart_create("ab", &p, NULL, NULL, &m), NS_ERR_INVALID);
	assert_null(m);
	assert_int_equal(ns_multipart_create("ab", NULL, NULL, NULL, NULL), NS_ERR_INVALID);
	ns_multipart_free(NULL);
	assert_int_equal(ns_multipart_feed(NULL, "a", 1, &d), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_finish(NULL, &d), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_bytes(NULL), 0);

	/* No callbacks: the body is only checked.  Feed after finish is refused. */
	assert_int_equal(ns_multipart_create("ab", NULL, NULL, NULL, &m), NS_OK);
	assert_int_equal(ns_multipart_feed(m, NULL, 0, &d), NS_OK);
	assert_int_equal(ns_multipart_feed(m, NULL, 1, &d), NS_ERR_INVALID);
	assert_int_equal(ns_multipart_feed(m, BODY("--ab\r\n" CD "name=x\r\n\r\n1\r\n--ab--"), &d),
			 NS_OK);
	assert_int_equal(ns_multipart_finish(m, &d), NS_OK);
	assert_int_equal(ns_multipart_finish(m, &d), NS_OK);
	assert_int_equal(ns_multipart_feed(m, "x", 1, &d), NS_ERR_INVALID);
	assert_string_equal(d.message, "ns_multipart_feed after finish");
	assert_int_equal(ns_multipart_parts(m), 1);
	ns_multipart_free(m);
}

/* ---- callback aborts ---------------------------------------------------------- */

struct abort_ctl {
	int data_calls;
	enum ns_status on_data;
	enum ns_status on_end;
};

static enum ns_status abort_data(void *user, const void *data, size_t len)
{
	struct abort_ctl *a = user;
	(void)data;
	(void)len;
	a->data_calls++;
	return a->on_data;
}

static enum ns_status abort_end(void *user)
{
	struct abort_ctl *a = user;
	return a->on_end;
}

static void test_callback_abort(void **state)
{
	static const char body[] = "--XYZ\r\n" CD "name=\"file\"\r\n\r\n0123456789\r\n--XYZ--";
	const struct ns_multipart_callbacks cb = {NULL, abort_data, abort_end};
	struct ns_multipart *m = NULL;
	struct abort_ctl a;
	struct ns_diag d;
	(void)state;

	/* part_data fails: the status is returned unchanged, and is sticky. */
	memset(&a, 0, sizeof(a));
	a.on_data = NS_ERR_SCHEMA;
	assert_int_equal(ns_multipart_create("XYZ", NULL, &cb, &a, &m), NS_OK);
	assert_int_equal(ns_multipart_feed(m, body, 60, &d), NS_ERR_SCHEMA);
	assert_string_equal(d.message, "part 1 ('file'): stopped by the part_data callback "
				       "(does not match the schema)");
	assert_int_equal(a.data_calls, 1);
	assert_int_equal(ns_multipart_feed(m, body + 60, sizeof(body) - 61, &d), NS_ERR_SCHEMA);
	assert_int_equal(ns_multipart_finish(m, &d), NS_ERR_SCHEMA);
	assert_int_equal(a.data_calls, 1);
	ns_multipart_free(m);

	memset(&a, 0, sizeof(a));
	a.on_data = NS_ERR_ABORTED;
	assert_int_equal(ns_multipart_create("XYZ", NULL, &cb, &a, &m), NS_OK);
	assert_int_equal(ns_multipart_feed(m, body, sizeof(body) - 1, &d), NS_ERR_ABORTED);
	assert_string_equal(d.message,
			    "part 1 ('file'): stopped by the part_data callback (aborted by the "
			    "caller)");
	ns_multipart_free(m);

	/* part_end fails. */
	memset(&a, 0, sizeof(a));
	a.on_end = NS_ERR_LIMIT;
	assert_int_equal(ns_multipart_create("XYZ", NULL, &cb, &a, &m), NS_OK);
	assert_int_equal(ns_multipart_feed(m, body, sizeof(body) - 1, &d), NS_ERR_LIMIT);
	assert_string_equal(d.message,
			    "part 1 ('file'): stopped by the part_end callback (limit exceeded)");
	assert_int_equal(ns_multipart_finish(m, NULL), NS_ERR_LIMIT);
	ns_multipart_free(m);
}

/* ---- streaming bounds ------------------------------------------------------------ */

struct count {
	uint64_t n;
	struct ns_sha256 sha;
};

static enum ns_status count_data(void *user, const void *data, size_t len)
{
	struct count *c = user;
	c->n += len;
	ns_sha256_update(&c->sha, data, len);
	return NS_OK;
}

/*
 * Fed one byte at a time, the body lags the input by at most the delimiter's
 * length - 1 (boundary + 3) bytes, even when the data is full of partial
 * delimiters.
 */
static void test_holdback_bound(void **state)
{
	static const char head[] = "--0123456789\r\n" CD "name=\"file\"\r\n\r\n";
	static const char tail[] = "\r\n--0123456789--\r\n";
	const struct ns_multipart_callbacks cb = {NULL, count_data, NULL};
	const size_t delim_len = 4 + 10;
	struct ns_multipart *m = NULL;
	struct count c;
	uint64_t fed = 0;
	char body[4096];
	(void)state;

	/* Data: runs of partial delimiters of every length, and binary bytes. */
	for (size_t i = 0; i < sizeof(body); i++) {
		static const char partial[] = "\r\n--012345678";
		size_t k = (i / 16) % (sizeof(partial) - 1);
		body[i] = i % 16 <= k ? partial[i % 16] : (char)(i * 7);
		if (body[i] == '9')
			body[i] = 'x';
	}
	memset(&c, 0, sizeof(c));
	assert_int_equal(ns_multipart_create("0123456789", NULL, &cb, &c, &m), NS_OK);
	assert_int_equal(ns_multipart_feed(m, head, sizeof(head) - 1, NULL), NS_OK);
	for (size_t i = 0; i < sizeof(body); i++) {
		assert_int_equal(ns_multipart_feed(m, body + i, 1, NULL), NS_OK);
		fed++;
		assert_true(fed - c.n <= delim_len - 1);
	}
	assert_int_equal(ns_multipart_feed(m, tail, sizeof(tail) - 1, NULL), NS_OK);
	assert_int_equal(ns_multipart_finish(m, NULL), NS_OK);
	assert_int_equal(c.n, sizeof(body));
	ns_multipart_free(m);
}

/* A 64 MiB body streams through without one allocation and arrives intact. */
static void test_large_no_alloc(void **state)
{
	static const char head[] = "--XYZ\r\n" CD "name=\"file\"; filename=\"big.bin\"\r\n\r\n";
	static const char tail[] = "\r\n--XYZ--\r\n";
	const struct ns_multipart_callbacks cb = {NULL, count_data, NULL};
	const size_t chunk = 65536 + 3, total = (size_t)64 << 20;
	struct ns_multipart *m = NULL;
	struct ns_sha256 ref;
	struct count c;
	uint8_t d1[32], d2[32];
	char *buf = malloc(chunk);
	uint64_t x = 88172645463325252ULL;
	(void)state;

	assert_non_null(buf);
	memset(&c, 0, sizeof(c));
	ns_sha256_init(&c.sha);
	ns_sha256_init(&ref);
	assert_int_equal(ns_multipart_create("XYZ", NULL, &cb, &c, &m), NS_OK);
	assert_int_equal(ns_multipart_feed(m, head, sizeof(head) - 1, NULL), NS_OK);
	ns_alloc_fail_after(0);
	for (size_t off = 0; off < total; off += chunk) {
		size_t n = total - off < chunk ? total - off : chunk;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* Plenty of CR, LF and '-' among random bytes. */
			buf[i] = (x & 7) == 0 ? "\r\n--XY"[(x >> 3) % 6] : (char)(x >> 24);
		}
		ns_sha256_update(&ref, buf, n);
		assert_int_equal(ns_multipart_feed(m, buf, n, NULL), NS_OK);
	}
	assert_int_equal(ns_multipart_feed(m, tail, sizeof(tail) - 1, NULL), NS_OK);
	assert_int_equal(ns_multipart_finish(m, NULL), NS_OK);
	ns_alloc_fail_reset();
	assert_int_equal(c.n, total);
	ns_sha256_final(&c.sha, d1);
	ns_sha256_final(&ref, d2);
	assert_memory_equal(d1, d2, 32);
	ns_multipart_free(m);
	free(buf);
}

static enum ns_status count_begin(void *user, const struct ns_multipart_part *p)
{
	struct count *c = user;
	c->n += strlen(p->name) + (p->filename ? strlen(p->filename) : 0) +
		(p->content_type ? strlen(p->content_type) : 0);
	return NS_OK;
}

/* Every allocation failing in turn gives NS_ERR_NOMEM (or success), never a leak. */
static void test_alloc_failures(void **state)
{
	static const char body[] =
		"--XYZ\r\n" CD "name=\"a\"; filename=\"f.csv\"\r\n"
		"Content-Type: text/csv\r\n\r\n1\r\n--XYZ\r\n" CD "name=b\r\n\r\n"
		"2\r\n--XYZ--";
	const struct ns_multipart_callbacks cb = {count_begin, count_data, NULL};
	bool ok = false;
	(void)state;
	for (long n = 0; n < 100 && !ok; n++) {
		struct ns_multipart *m = NULL;
		struct ns_diag d;
		struct count c;
		enum ns_status st;
		memset(&c, 0, sizeof(c));
		ns_alloc_fail_after(n);
		st = ns_multipart_create("XYZ", NULL, &cb, &c, &m);
		for (size_t i = 0; st == NS_OK && i < sizeof(body) - 1; i += 5)
			st = ns_multipart_feed(m, body + i,
					       sizeof(body) - 1 - i < 5 ? sizeof(body) - 1 - i : 5,
					       &d);
		if (st == NS_OK)
			st = ns_multipart_finish(m, &d);
		ns_alloc_fail_reset();
		assert_true(st == NS_OK || st == NS_ERR_NOMEM);
		if (st == NS_OK) {
			ok = true;
			/* a, f.csv, text/csv, b, then the data 1 and 2 */
			assert_int_equal(c.n, 1 + 5 + 8 + 1 + 2);
		}
		ns_multipart_free(m);
	}
	assert_true(ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),         cmocka_unit_test(test_boundary_header),
		cmocka_unit_test(test_create_invalid), cmocka_unit_test(test_callback_abort),
		cmocka_unit_test(test_holdback_bound), cmocka_unit_test(test_large_no_alloc),
		cmocka_unit_test(test_alloc_failures),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
