/*
 * tests/unit/cloud/test_s3_xml.c - the XML reader behind ListObjectsV2, S3
 * errors and multipart answers: well-formed pages, entities, CDATA,
 * pagination fields, and the refusals (bad nesting, limits, DTDs, bad sizes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cloud/cloud_internal.h"

static enum ns_status parse(const char *xml, struct ns__s3_list_page *pg, struct ns_diag *d)
{
	ns_diag_clear(d);
	return ns__s3_list_parse(xml, strlen(xml), pg, d);
}

static void test_page(void **state)
{
	struct ns__s3_list_page pg;
	struct ns_diag d;
	(void)state;
	assert_int_equal(
		parse("\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		      "<!-- s3rver -->\n"
		      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		      "<Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount>"
		      "<IsTruncated>true</IsTruncated>"
		      "<NextContinuationToken>dG9rZW4+Lz0=</NextContinuationToken>"
		      "<Contents><Key>p/a &amp; b &lt;c&gt; &#x1234;&#65;</Key>"
		      "<LastModified>2024-01-01T00:00:00.000Z</LastModified>"
		      "<ETag>&quot;9a0364b9e99bb480dd25e1f0284c8555&quot;</ETag>"
		      "<Size>123456789012</Size><StorageClass>STANDARD</StorageClass></Contents>"
		      "<Contents><Key><![CDATA[p/<raw>]]></Key><Size>0</Size>"
		      "<ETag>\"abc-3\"</ETag><Owner><ID>1</ID></Owner></Contents>"
		      "</ListBucketResult>\n",
		      &pg, &d),
		NS_OK);
	assert_int_equal(pg.n, 2);
	assert_string_equal(pg.entries[0].key, "p/a & b <c> \xe1\x88\xb4"
					       "A");
	assert_int_equal(pg.entries[0].size, 123456789012ULL);
	assert_string_equal(pg.entries[0].etag, "9a0364b9e99bb480dd25e1f0284c8555");
	assert_string_equal(pg.entries[1].key, "p/<raw>");
	assert_int_equal(pg.entries[1].size, 0);
	assert_string_equal(pg.entries[1].etag, "abc-3");
	assert_true(pg.is_truncated);
	assert_string_equal(pg.next_token, "dG9rZW4+Lz0=");
	ns__s3_list_page_fini(&pg);

	/* An empty last page. */
	assert_int_equal(parse("<ListBucketResult><IsTruncated>false</IsTruncated>"
			       "<KeyCount>0</KeyCount></ListBucketResult>",
			       &pg, &d),
			 NS_OK);
	assert_int_equal(pg.n, 0);
	assert_false(pg.is_truncated);
	assert_null(pg.next_token);
	ns__s3_list_page_fini(&pg);
	/* Self-closing elements are fine. */
	assert_int_equal(parse("<ListBucketResult><Prefix/></ListBucketResult>", &pg, &d), NS_OK);
	ns__s3_list_page_fini(&pg);
}

static void test_refusals(void **state)
{
	static const struct {
		const char *xml;
		enum ns_status st;
		const char *msg;
	} bad[] = {
		{"", NS_ERR_PARSE, "no root"},
		{"<ListBucketResult>", NS_ERR_PARSE, "unclosed"},
		{"<ListBucketResult></ListBucket>", NS_ERR_PARSE, "does not match"},
		{"<ListBucketResult></ListBucketResult><X/>", NS_ERR_PARSE, "second root"},
		{"<Other/>", NS_ERR_PARSE, "not ListBucketResult"},
		{"<!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>", NS_ERR_PARSE, "DTD"},
		{"<ListBucketResult>&bogus;</ListBucketResult>", NS_ERR_PARSE, "unknown entity"},
		{"<ListBucketResult>&#0;</ListBucketResult>", NS_ERR_PARSE, "out of range"},
		{"<ListBucketResult>&#xD800;</ListBucketResult>", NS_ERR_PARSE, "out of range"},
		{"<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
		 NS_ERR_PARSE, "without Key or Size"},
		{"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
		 "</ListBucketResult>",
		 NS_ERR_PARSE, "bad Size"},
		{"<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size>"
		 "</Contents></ListBucketResult>",
		 NS_ERR_PARSE, "bad Size"},
		{"<ListBucketResult><Contents><Key></Key><Size>1</Size></Contents>"
		 "</ListBucketResult>",
		 NS_ERR_PARSE, "empty"},
		{"<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>",
		 NS_ERR_PARSE, "IsTruncated"},
		{"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		 NS_ERR_PARSE, "without a NextContinuationToken"},
		{"<ListBucketResult a=\"x></ListBucketResult>", NS_ERR_PARSE, "attribute"},
		{"<ListBucketResult><!-- x </ListBucketResult>", NS_ERR_PARSE, "comment"},
		{"text<ListBucketResult/>", NS_ERR_PARSE, "outside"},
	};
	struct ns__s3_list_page pg;
	struct ns_diag d;
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum ns_status st = parse(bad[i].xml, &pg, &d);
		if (st != bad[i].st || !strstr(d.message, bad[i].msg)) {
			print_error("case %zu '%s': status %d, message '%s'; wanted '%s'\n", i,
				    bad[i].xml, st, d.message, bad[i].msg);
			fail();
		}
		assert_null(pg.entries);
	}
}

static void test_limits(void **state)
{
	struct ns__s3_list_page pg;
	struct ns_diag d;
	char *deep = malloc(64 * 3 + 64 * 4 + 64);
	char *big;
	size_t o = 0;
	(void)state;
	o += (size_t)sprintf(deep + o, "<ListBucketResult>");
	for (int i = 0; i < 40; i++)
		o += (size_t)sprintf(deep + o, "<a>");
	assert_int_equal(parse(deep, &pg, &d), NS_ERR_LIMIT);
	free(deep);
	big = malloc(NS__XML_MAX_TEXT + 100);
	strcpy(big, "<ListBucketResult>");
	memset(big + 18, 'x', NS__XML_MAX_TEXT + 1);
	strcpy(big + 18 + NS__XML_MAX_TEXT + 1, "</ListBucketResult>");
	assert_int_equal(parse(big, &pg, &d), NS_ERR_LIMIT);
	free(big);
}

static void test_error_and_upload(void **state)
{
	char code[64], msg[128], *id = NULL;
	struct ns_diag d;
	const char *e = "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code>"
			"<Message>The specified bucket does not exist</Message>"
			"<BucketName>x</BucketName></Error>";
	const char *u = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
			"<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
	(void)state;
	assert_true(ns__s3_error_parse(e, strlen(e), code, sizeof(code), msg, sizeof(msg)));
	assert_string_equal(code, "NoSuchBucket");
	assert_string_equal(msg, "The specified bucket does not exist");
	assert_false(ns__s3_error_parse(u, strlen(u), code, sizeof(code), msg, sizeof(msg)));
	assert_false(ns__s3_error_parse("<Error>", 7, code, sizeof(code), msg, sizeof(msg)));
	assert_int_equal(ns__s3_upload_id_parse(u, strlen(u), &id, &d), NS_OK);
	assert_string_equal(id, "VXBsb2FkIElE");
	ns_free(id);
	assert_int_equal(ns__s3_upload_id_parse(e, strlen(e), &id, &d), NS_ERR_PARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_error_and_upload),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
