/*
 * lib/cloud/cloud_internal.h - pieces of the S3 client shared inside
 * lib/cloud/ and with its tests and fuzz target; not API.
 *
 * sigv4.c: HMAC-SHA256 on the project's SHA-256 and AWS Signature Version 4
 * (canonical request, string to sign, signing key, Authorization header).
 * s3_xml.c: a small, bounded XML reader for S3's responses (ListObjectsV2,
 * errors, multipart uploads).  Pure functions, thread-safe.
 */
#ifndef NETSEC_CLOUD_INTERNAL_H
#define NETSEC_CLOUD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "netsec/s3.h"

/* ---- HMAC-SHA256 (RFC 2104) --------------------------------------------- */

void ns__hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		     uint8_t out[32]);

/* ---- SigV4 ------------------------------------------------------------------- */

struct ns__sigv4_header {
	const char *name; /* any case; canonicalised to lower case */
	const char *value; /* trimmed, inner runs of blanks collapsed */
};

struct ns__sigv4_request {
	const char *method; /* "GET", "PUT", ... */
	const char *path; /* as sent ("/bucket/a%20b") or raw ("/a b"); re-encoded */
	const char *query; /* as sent, without '?': "b=2&a=1" (NULL or "": none) */
	const struct ns__sigv4_header *headers; /* every header to sign (host included) */
	size_t n_headers;
	const char *payload_sha256; /* hex, or "UNSIGNED-PAYLOAD" */
	const char *amz_date; /* "20150830T123600Z" */
	const char *region, *service;
	const char *access_key_id, *secret_access_key;
};

struct ns__sigv4_result {
	struct ns__buf canonical_request;
	struct ns__buf string_to_sign;
	struct ns__buf authorization; /* the Authorization header's value */
	char signature[65];
};

/*
 * Signs `req`.  Path segments and query names and values are percent-decoded,
 * then encoded as SigV4 wants (unreserved characters kept, everything else
 * %XX in upper case, '/' kept in the path; S3 style: no dot-segment
 * normalisation, one encoding).  Query pairs are sorted by name then value;
 * headers by lower-case name, repeated names joined with ','.  OUT *res
 * (ns__sigv4_result_fini).  NS_ERR_INVALID (a missing field, a bad date),
 * NS_ERR_NOMEM.
 */
enum ns_status ns__sigv4_sign(const struct ns__sigv4_request *req, struct ns__sigv4_result *res);
void ns__sigv4_result_fini(struct ns__sigv4_result *res);

/* Appends `s` (n bytes) percent-encoded as SigV4 wants; '/' kept when keep_slash. */
enum ns_status ns__sigv4_encode(struct ns__buf *b, const char *s, size_t n, bool keep_slash);

/* ---- XML --------------------------------------------------------------------- */

#define NS__XML_MAX_DEPTH 32
#define NS__XML_MAX_PATH 512
#define NS__XML_MAX_TEXT ((size_t)1 << 16)

/*
 * Called when an element closes, with its slash-joined path from the root
 * ("ListBucketResult/Contents/Key") and its text content (entities decoded,
 * CDATA included, text of child elements not included).  Return NS_OK to go
 * on, anything else to stop with that status.
 */
typedef enum ns_status (*ns__xml_fn)(void *user, const char *path, const char *text, size_t len);

/*
 * Reads an XML document: prolog, comments, processing instructions and
 * attributes are skipped; elements must nest and close properly; one root.
 * Bounded: depth NS__XML_MAX_DEPTH, path NS__XML_MAX_PATH bytes, text
 * NS__XML_MAX_TEXT bytes per element.  NS_ERR_PARSE with the byte offset in
 * the diagnostic, NS_ERR_LIMIT, NS_ERR_NOMEM, or the callback's status.
 */
enum ns_status ns__xml_parse(const char *xml, size_t len, ns__xml_fn fn, void *user,
			     struct ns_diag *diag);

/* One page of a ListObjectsV2 answer. */
struct ns__s3_list_page {
	struct ns_s3_entry *entries; /* ns_free each key, then the array */
	size_t n;
	bool is_truncated;
	char *next_token; /* NextContinuationToken, or NULL */
};

/*
 * Parses a ListObjectsV2 XML body (root ListBucketResult; Contents with Key,
 * Size and ETag; IsTruncated; NextContinuationToken).  Keys are 1..1024
 * bytes without NUL; sizes are decimal integers below 2^63.  OUT *page
 * (ns__s3_list_page_fini).  NS_ERR_PARSE, NS_ERR_LIMIT, NS_ERR_NOMEM.
 */
enum ns_status ns__s3_list_parse(const char *xml, size_t len, struct ns__s3_list_page *page,
				 struct ns_diag *diag);
void ns__s3_list_page_fini(struct ns__s3_list_page *page);

/*
 * Extracts Code and Message from an S3 <Error> document into the buffers
 * (cut to size, NUL-terminated).  Returns true when the root was Error.
 */
bool ns__s3_error_parse(const char *xml, size_t len, char *code, size_t code_size, char *message,
			size_t message_size);

/* Extracts InitiateMultipartUploadResult/UploadId; ns_free.  NS_ERR_PARSE if absent. */
enum ns_status ns__s3_upload_id_parse(const char *xml, size_t len, char **upload_id,
				      struct ns_diag *diag);

/* Tests: capture the request headers curl sends (NULL: stop). */
void ns__s3_set_trace(struct ns_s3 *s3, struct ns__buf *headers_out);

#endif
