/*
 * fuzz/fuzz_s3_list.c - libFuzzer target for the S3 XML reader
 * (lib/cloud/s3_xml.c): ListObjectsV2 pages, <Error> documents and
 * CreateMultipartUpload answers.
 *
 * Whatever the bytes, the reader must not crash or leak; an error must come
 * with a message holding the byte offset or a named field; a page that
 * parses must hold keys of 1..NS_S3_KEY_MAX bytes without NUL, sizes below
 * 2^63, and a continuation token whenever it says it is truncated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/cloud_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what)
{
	fprintf(stderr, "fuzz_s3_list: %s\n", what);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *xml = (const char *)data;
	struct ns__s3_list_page pg;
	struct ns_diag d;
	char code[64], msg[128], *id = NULL;
	enum ns_status st;

	ns_diag_clear(&d);
	st = ns__s3_list_parse(xml, size, &pg, &d);
	if (st != NS_OK) {
		if (d.status != st || d.message[0] == '\0')
			die("an error without a diagnostic");
		if (pg.entries || pg.n || pg.next_token)
			die("output left behind on error");
	} else {
		for (size_t i = 0; i < pg.n; i++) {
			size_t n = strlen(pg.entries[i].key);
			if (n == 0 || n > NS_S3_KEY_MAX)
				die("a key of a bad length");
			if (pg.entries[i].size > (uint64_t)INT64_MAX)
				die("a size past 2^63");
		}
		if (pg.is_truncated && !pg.next_token)
			die("truncated without a token");
		ns__s3_list_page_fini(&pg);
	}
	if (ns__s3_error_parse(xml, size, code, sizeof(code), msg, sizeof(msg))) {
		if (strlen(code) >= sizeof(code) || strlen(msg) >= sizeof(msg))
			die("error fields overflow");
	}
	if (ns__s3_upload_id_parse(xml, size, &id, &d) == NS_OK) {
		if (!id || !*id)
			die("an empty upload id");
		ns_free(id);
	}
	return 0;
}
