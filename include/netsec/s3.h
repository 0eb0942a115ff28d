/*
 * include/netsec/s3.h - a small S3 client (libcurl, AWS Signature Version 4)
 * and `netsec sync`: artifacts and the model registry mirrored to
 * s3://bucket/prefix (docs/sync.md).
 *
 * Addressing: with an endpoint (AWS_ENDPOINT_URL, for S3-compatible stores)
 * requests go path-style to ENDPOINT/bucket/key; without one,
 * virtual-hosted to https://bucket.s3.REGION.amazonaws.com/key.  Requests
 * are signed by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3") with
 * x-amz-content-sha256 set by us: the SHA-256 of the body, computed before
 * sending.  Objects carry their SHA-256 as metadata (x-amz-meta-sha256),
 * since the ETag of a multipart upload is not a digest of the content.
 *
 * Errors: S3's XML error (Code, Message) goes into the diagnostic with the
 * method, bucket and key; the secret key and the session token are never
 * written into a diagnostic or a log line.  5xx, 429 and connection errors
 * are retried with exponential back-off.
 *
 * Threading: a `struct ns_s3` is used by one thread at a time; separate
 * clients may run in parallel.  Call curl_global_init() once before any
 * thread creates a client if the program is multi-threaded (ns_s3_create
 * calls it otherwise).
 */
#ifndef NETSEC_S3_H
#define NETSEC_S3_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_S3_DEFAULT_REGION "us-east-1"
#define NS_S3_MIN_PART_SIZE ((uint64_t)5 << 20)
#define NS_S3_KEY_MAX 1024

struct ns_s3_params {
	/* Credentials; NULL: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN. */
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL and unset in the environment: none */
	const char *region; /* NULL: $AWS_REGION, $AWS_DEFAULT_REGION, us-east-1 */
	/* "http(s)://host[:port]" for S3-compatible stores (path-style); NULL:
	 * $AWS_ENDPOINT_URL; "" or unset: AWS itself (virtual-hosted). */
	const char *endpoint;
	uint64_t multipart_threshold; /* files of this size or more go in parts; 64 MiB */
	uint64_t part_size; /* >= NS_S3_MIN_PART_SIZE; 16 MiB */
	unsigned max_retries; /* after the first try; 4 */
	unsigned retry_base_ms; /* first back-off, doubled each time; 200 */
	long connect_timeout_s; /* 10 */
	unsigned list_page_size; /* max-keys of each ListObjectsV2 page (1..1000); 1000 */
};

/* The defaults above; reads nothing from the environment. */
NS_API struct ns_s3_params ns_s3_params_default(void);

struct ns_s3;

/*
 * Creates a client for `bucket` (3..63 characters of [a-z0-9.-]).  Missing
 * credentials: NS_ERR_INVALID naming the variable to set.  A malformed
 * endpoint, part size below NS_S3_MIN_PART_SIZE: NS_ERR_INVALID.  OUT *out
 * (ns_s3_free).  No request is sent.
 */
NS_API enum ns_status ns_s3_create(const struct ns_s3_params *p, const char *bucket,
				   struct ns_s3 **out, struct ns_diag *diag);
/* Frees a client (wiping its copy of the secrets); NULL is a no-op. */
NS_API void ns_s3_free(struct ns_s3 *s3);
/* The bucket; borrowed, valid until ns_s3_free. */
NS_API const char *ns_s3_bucket(const struct ns_s3 *s3);

/* What HEAD, GET and PUT learn about an object. */
struct ns_s3_object_info {
	uint64_t size;
	char etag[80]; /* without quotes; "" if none */
	char sha256[65]; /* x-amz-meta-sha256 in lower-case hex; "" if absent */
};

/*
 * Uploads the file at `path` as `key`: its SHA-256 is computed first and sent
 * both as x-amz-content-sha256 and as x-amz-meta-sha256; files of at least
 * multipart_threshold bytes go as a multipart upload (part_size parts,
 * aborted on failure).  OUT *info may be NULL.  NS_ERR_IO (the file, the
 * network, S3's refusal), NS_ERR_NOTFOUND (no such bucket), NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_s3_put_file(struct ns_s3 *s3, const char *key, const char *path,
				     struct ns_s3_object_info *info, struct ns_diag *diag);

/*
 * Downloads `key` to `path` atomically (a temp file beside it, fsync,
 * rename, fsync of the folder), after checking the size against
 * Content-Length and the content against x-amz-meta-sha256 when the object
 * has it (NS_ERR_CORRUPT on a mismatch; the old file is left).  Missing
 * parent folders are created.  OUT *info may be NULL.  NS_ERR_NOTFOUND,
 * NS_ERR_IO, NS_ERR_CORRUPT, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_s3_get_file(struct ns_s3 *s3, const char *key, const char *path,
				     struct ns_s3_object_info *info, struct ns_diag *diag);

/* HEAD: OUT *info.  NS_ERR_NOTFOUND when there is no such key (or bucket). */
NS_API enum ns_status ns_s3_head(struct ns_s3 *s3, const char *key, struct ns_s3_object_info *info,
				 struct ns_diag *diag);

/* DELETE (S3 answers 204 also for a missing key).  NS_ERR_IO, NS_ERR_NOTFOUND (bucket). */
NS_API enum ns_status ns_s3_delete(struct ns_s3 *s3, const char *key, struct ns_diag *diag);

/* One object of a listing. */
struct ns_s3_entry {
	char *key; /* owned by the list */
	uint64_t size;
	char etag[80]; /* without quotes */
};

struct ns_s3_list {
	struct ns_s3_entry *entries; /* in S3's order (UTF-8 binary order of keys) */
	size_t n;
};

/*
 * Lists every object whose key starts with `prefix` (NULL or "": all),
 * following ListObjectsV2 continuation tokens page by page.  OUT *out
 * (ns_s3_list_fini).  NS_ERR_NOTFOUND (no such bucket), NS_ERR_PARSE (a
 * malformed answer), NS_ERR_IO, NS_ERR_LIMIT, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_s3_list(struct ns_s3 *s3, const char *prefix, struct ns_s3_list *out,
				 struct ns_diag *diag);
NS_API void ns_s3_list_fini(struct ns_s3_list *l);

/*
 * Splits "s3://bucket[/prefix]" into bucket and prefix (trailing '/'
 * removed; "" for none) in caller buffers.  NS_ERR_INVALID with a message
 * for anything else.
 */
NS_API enum ns_status ns_s3_uri_parse(const char *uri, char *bucket, size_t bucket_size,
				      char *prefix, size_t prefix_size, struct ns_diag *diag);

/* ---- sync ----------------------------------------------------------------------- */

enum ns_sync_action {
	NS_SYNC_UPLOAD = 0, /* push: the file was (or, dry run, would be) uploaded */
	NS_SYNC_DOWNLOAD, /* pull: the object was (would be) downloaded */
	NS_SYNC_SKIP, /* the same size and SHA-256 on both sides */
};

/* Called for every file considered, after it moved (or would move). */
typedef void (*ns_sync_fn)(void *user, enum ns_sync_action action, const char *key, uint64_t size);

struct ns_sync_params {
	const char *artifacts_dir; /* default "artifacts" */
	const char *registry_dir; /* default "models" */
	bool artifacts; /* sync artifacts/ (default true) */
	bool models; /* sync the registry (default true) */
	bool dry_run; /* compare only: report what would move */
	ns_sync_fn on_file; /* may be NULL */
	void *user;
};
NS_API struct ns_sync_params ns_sync_params_default(void);

struct ns_sync_summary {
	uint64_t files_moved, bytes_moved;
	uint64_t files_skipped, bytes_skipped;
	unsigned models_verified; /* pull: registries whose current model was checked */
};

/*
 * Push: uploads the files of artifacts_dir to PREFIX/artifacts/... and of
 * registry_dir to PREFIX/models/... whose size or SHA-256 differs from the
 * object there (or that is missing).  Temp files (names containing ".tmp")
 * and lock files (".lock", "*.lock") are never sent.  In the registry,
 * version folders go first, then last_version and history, and each
 * registry's `current` last, so a reader never sees a `current` naming a
 * version that is not there yet.  Nothing is deleted remotely.  OUT *sum.
 */
NS_API enum ns_status ns_sync_push(struct ns_s3 *s3, const char *prefix,
				   const struct ns_sync_params *p, struct ns_sync_summary *sum,
				   struct ns_diag *diag);

/*
 * Pull: downloads what differs into the local folders, each file atomically;
 * a registry version missing locally is assembled in a temp folder and
 * renamed into place whole; `current` comes last.  Then every registry with
 * a `current` is opened and checked (ns_registry_check, and the current
 * model loads), so a fresh replica can serve it: NS_ERR_CORRUPT if not.
 * Keys that are not safe relative paths ("..", empty segments) are refused.
 */
NS_API enum ns_status ns_sync_pull(struct ns_s3 *s3, const char *prefix,
				   const struct ns_sync_params *p, struct ns_sync_summary *sum,
				   struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
