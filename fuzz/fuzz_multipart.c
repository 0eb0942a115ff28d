/*
 * fuzz/fuzz_multipart.c - libFuzzer target for the multipart/form-data parser.
 *
 * Input: byte 0 picks the boundary (low 3 bits) and small caps (bit 3: 96
 * header bytes, 3 parts); bytes 1-2 seed the chunk sizes; the rest is the
 * body.  Checked properties (abort() on a violation, so the fuzzer reports
 * it):
 *  - feeding whole, in random chunks (0 to 300 bytes, empty feeds too) and,
 *    for small inputs, byte by byte gives the same parts, the same bytes in
 *    each part, the same status and the same diagnostic (a differential
 *    check of the streaming logic);
 *  - part_data never gets 0 bytes, callbacks come in begin/data/end order,
 *    the part's strings are NUL-terminated, and no completed part's data
 *    holds the delimiter CRLF "--" BOUNDARY;
 *  - errors are sticky, with the same diagnostic.
 * The body's first line also goes through ns_multipart_boundary, and a
 * boundary it accepts must be accepted by ns_multipart_create.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const boundaries[8] = {
	"XYZ",
	"b",
	"----WebKitFormBoundary7MA4YWxkTrZu0gW",
	"------------------------d74496d66958873e",
	"a'()+_,-./:=? z",
	"--",
	"AaB03x",
	"0123456789012345678901234567890123456789012345678901234567890123456789",
};

struct run {
	const char *delim; /* CRLF "--" BOUNDARY */
	struct ns__buf log; /* parts and their data, then the status */
	struct ns__buf cur; /* the current part's data */
	bool in_part;
	bool oom;
};

static void add(struct run *run, struct ns__buf *b, const void *p, size_t n)
{
	if (ns__buf_append(b, p, n) != NS_OK)
		run->oom = true;
}

static void add_str(struct run *run, const char *s)
{
	char tmp[24];
	if (!s) {
		add(run, &run->log, "-;", 2);
		return;
	}
	snprintf(tmp, sizeof(tmp), "%zu:", strlen(s));
	add(run, &run->log, tmp, strlen(tmp));
	add(run, &run->log, s, strlen(s));
}

static void flush_data(struct run *run, const char *tag)
{
	char tmp[32];
	snprintf(tmp, sizeof(tmp), "%s%zu:", tag, run->cur.len);
	add(run, &run->log, tmp, strlen(tmp));
	add(run, &run->log, run->cur.data ? run->cur.data : "", run->cur.len);
	ns__buf_reset(&run->cur);
}

static enum ns_status on_begin(void *user, const struct ns_multipart_part *p)
{
	struct run *run = user;
	char tmp[32];
	if (run->in_part || !p->name)
		abort();
	snprintf(tmp, sizeof(tmp), "B%zu;", p->index);
	add(run, &run->log, tmp, strlen(tmp));
	add_str(run, p->name);
	add_str(run, p->filename);
	add_str(run, p->content_type);
	run->in_part = true;
	return NS_OK;
}

static enum ns_status on_data(void *user, const void *data, size_t len)
{
	struct run *run = user;
	if (!run->in_part || len == 0)
		abort();
	add(run, &run->cur, data, len);
	return NS_OK;
}

static enum ns_status on_end(void *user)
{
	struct run *run = user;
	if (!run->in_part)
		abort();
	if (!run->oom && run->cur.len &&
	    memmem(run->cur.data, run->cur.len, run->delim, strlen(run->delim)) != NULL)
		abort();
	flush_data(run, "E");
	run->in_part = false;
	return NS_OK;
}

static const struct ns_multipart_callbacks callbacks = {on_begin, on_data, on_end};

/* Feeds in chunks: 0 whole, 1 byte by byte, else random sizes seeded by `seed`. */
static void parse(const char *boundary, const struct ns_multipart_params *p, const uint8_t *data,
		  size_t size, int mode, uint32_t seed, struct run *run)
{
	struct ns_multipart *m = NULL;
	struct ns_diag d;
	enum ns_status st = NS_OK;
	size_t off = 0;
	char tmp[64];

	ns_diag_clear(&d);
	if (ns_multipart_create(boundary, p, &callbacks, run, &m) != NS_OK)
		abort();
	while (st == NS_OK && off < size) {
		size_t n = size - off;
		if (mode == 1) {
			n = 1;
		} else if (mode == 2) {
			seed = seed * 1103515245u + 12345u;
			n = (seed >> 16) % 64;
			if (n == 63)
				n = (seed >> 8) % 301;
			if (n > size - off)
				n = size - off;
		}
		st = ns_multipart_feed(m, data + off, n, &d);
		off += n;
	}
	if (st == NS_OK)
		st = ns_multipart_finish(m, &d);
	if (run->in_part)
		flush_data(run, "P");
	if (st != NS_OK) {
		struct ns_diag again;
		if (st != NS_ERR_PARSE && st != NS_ERR_LIMIT && st != NS_ERR_NOMEM)
			abort();
		if (ns_multipart_feed(m, "--", 2, &again) != st ||
		    strcmp(again.message, d.message) != 0 || ns_multipart_finish(m, NULL) != st)
			abort();
	} else if (ns_multipart_bytes(m) != size) {
		abort();
	}
	snprintf(tmp, sizeof(tmp), "S%d;", (int)st);
	add(run, &run->log, tmp, strlen(tmp));
	add(run, &run->log, d.message, strlen(d.message));
	ns_multipart_free(m);
}

static void run_init(struct run *run, const char *delim)
{
	memset(run, 0, sizeof(*run));
	run->delim = delim;
	ns__buf_init(&run->log, 0);
	ns__buf_init(&run->cur, 0);
}

static void run_fini(struct run *run)
{
	ns__buf_fini(&run->log);
	ns__buf_fini(&run->cur);
}

static void check_same(const struct run *a, const struct run *b)
{
	if (a->oom || b->oom)
		return;
	if (a->log.len != b->log.len ||
	    (a->log.len && memcmp(a->log.data, b->log.data, a->log.len) != 0))
		abort();
}

/* The body's first line as a Content-Type value. */
static void check_content_type(const uint8_t *data, size_t size)
{
	char ct[256], b[NS_MULTIPART_BOUNDARY_MAX + 1];
	struct ns_multipart *m = NULL;
	size_t n = 0;
	while (n < size && n < sizeof(ct) - 1 && data[n] != '\n' && data[n] != '\0') {
		ct[n] = (char)data[n];
		n++;
	}
	ct[n] = '\0';
	if (ns_multipart_boundary(ct, b, sizeof(b), NULL) != NS_OK)
		return;
	if (strlen(b) == 0 || strlen(b) > NS_MULTIPART_BOUNDARY_MAX ||
	    ns_multipart_create(b, NULL, NULL, NULL, &m) != NS_OK)
		abort();
	ns_multipart_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_multipart_params p = ns_multipart_params_default();
	struct run whole, chunked, bytes;
	char delim[4 + NS_MULTIPART_BOUNDARY_MAX + 1];
	const char *boundary;
	uint32_t seed;

	if (size < 3)
		return 0;
	boundary = boundaries[data[0] & 7];
	if (data[0] & 8) {
		p.max_header_bytes = 96;
		p.max_parts = 3;
	}
	seed = (uint32_t)data[1] | (uint32_t)data[2] << 8;
	data += 3;
	size -= 3;
	snprintf(delim, sizeof(delim), "\r\n--%s", boundary);
	check_content_type(data, size);

	run_init(&whole, delim);
	run_init(&chunked, delim);
	run_init(&bytes, delim);
	parse(boundary, &p, data, size, 0, seed, &whole);
	parse(boundary, &p, data, size, 2, seed, &chunked);
	check_same(&whole, &chunked);
	if (size <= 4096) {
		parse(boundary, &p, data, size, 1, seed, &bytes);
		check_same(&whole, &bytes);
	}
	run_fini(&whole);
	run_fini(&chunked);
	run_fini(&bytes);
	return 0;
}
