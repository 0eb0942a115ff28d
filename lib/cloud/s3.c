/*
 * lib/cloud/s3.c - the S3 client: PUT (single or multipart), GET to a file,
 * HEAD, DELETE and ListObjectsV2, on one libcurl easy handle.
 *
 * libcurl signs (CURLOPT_AWS_SIGV4); we set x-amz-content-sha256 ourselves
 * (curl 7.88 does not) to the body's SHA-256, computed before sending, and
 * store the same digest as x-amz-meta-sha256 so that sync can compare
 * content without trusting ETags.  Answers are bounded (XML bodies at most
 * S3_BODY_MAX bytes); 5xx, 429 and connection errors are retried with
 * exponential back-off.  Diagnostics name the method, bucket and key, and
 * S3's error Code and Message, and never contain the secret key or the
 * session token (curl only ever sees them through CURLOPT_PASSWORD and a
 * header, neither of which is copied into a message).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "cloud/cloud_internal.h"

#define S3_BODY_MAX ((size_t)64 << 20)
#define S3_MAX_PARTS 10000u

struct ns_s3 {
	CURL *curl;
	struct ns_s3_params p;
	char *bucket, *region, *endpoint; /* endpoint: "" for AWS */
	char *access_key_id, *secret_access_key, *session_token;
	char sigv4[128]; /* "aws:amz:REGION:s3" */
	struct ns__buf *trace; /* tests: the request headers curl sent */
};

struct ns_s3_params ns_s3_params_default(void)
{
	struct ns_s3_params p;
	memset(&p, 0, sizeof(p));
	p.multipart_threshold = (uint64_t)64 << 20;
	p.part_size = (uint64_t)16 << 20;
	p.max_retries = 4;
	p.retry_base_ms = 200;
	p.connect_timeout_s = 10;
	p.list_page_size = 1000;
	return p;
}

static const char *env_or(const char *given, const char *name)
{
	const char *v;
	if (given)
		return given;
	v = getenv(name);
	return v && *v ? v : NULL;
}

static bool valid_bucket(const char *b)
{
	size_t n = strlen(b);
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return false;
	}
	return b[0] != '.' && b[0] != '-' && b[n - 1] != '.' && b[n - 1] != '-';
}

static void wipe_free(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	ns_free(s);
}

enum ns_status ns_s3_create(const struct ns_s3_params *params, const char *bucket,
			    struct ns_s3 **out, struct ns_diag *diag)
{
	struct ns_s3_params p = params ? *params : ns_s3_params_default();
	const char *ak = env_or(p.access_key_id, "AWS_ACCESS_KEY_ID");
	const char *sk = env_or(p.secret_access_key, "AWS_SECRET_ACCESS_KEY");
	const char *tok = env_or(p.session_token, "AWS_SESSION_TOKEN");
	const char *region = p.region;
	const char *ep = p.endpoint ? p.endpoint : getenv("AWS_ENDPOINT_URL");
	struct ns_s3 *s3;
	size_t el;

	if (!region)
		region = env_or(NULL, "AWS_REGION");
	if (!region)
		region = env_or(NULL, "AWS_DEFAULT_REGION");
	if (!region)
		region = NS_S3_DEFAULT_REGION;
	if (!bucket || !valid_bucket(bucket))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "s3: bad bucket name '%s' (3-63 characters of a-z 0-9 . -)",
				   bucket ? bucket : "");
	if (!ak)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "s3: no access key: set AWS_ACCESS_KEY_ID");
	if (!sk)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "s3: no secret key: set AWS_SECRET_ACCESS_KEY");
	for (const char *c = region; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '-') || c - region > 40)
			return ns_diag_set(diag, NS_ERR_INVALID, "s3: bad region '%.48s'", region);
	if (ep && *ep && strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "s3: the endpoint '%.200s' (AWS_ENDPOINT_URL) must start with "
				   "http:// or https://",
				   ep);
	if (p.part_size < NS_S3_MIN_PART_SIZE)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "s3: part size %llu is below S3's minimum of 5 MiB",
				   (unsigned long long)p.part_size);
	if (p.multipart_threshold < p.part_size)
		p.multipart_threshold = p.part_size;
	if (p.list_page_size == 0 || p.list_page_size > 1000)
		p.list_page_size = 1000;
	if (p.retry_base_ms == 0)
		p.retry_base_ms = 1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "s3: libcurl did not initialise");
	s3 = ns_calloc(1, sizeof(*s3));
	if (!s3)
		return ns_diag_set(diag, NS_ERR_NOMEM, "s3: out of memory");
	s3->p = p;
	s3->p.access_key_id = s3->p.secret_access_key = s3->p.session_token = NULL;
	s3->p.region = s3->p.endpoint = NULL;
	s3->bucket = ns_strdup(bucket);
	s3->region = ns_strdup(region);
	s3->endpoint = ns_strdup(ep ? ep : "");
	s3->access_key_id = ns_strdup(ak);
	s3->secret_access_key = ns_strdup(sk);
	s3->session_token = tok ? ns_strdup(tok) : NULL;
	s3->curl = curl_easy_init();
	if (!s3->bucket || !s3->region || !s3->endpoint || !s3->access_key_id ||
	    !s3->secret_access_key || (tok && !s3->session_token) || !s3->curl) {
		ns_s3_free(s3);
		return ns_diag_set(diag, NS_ERR_NOMEM, "s3: out of memory");
	}
	el = strlen(s3->endpoint);
	while (el > 0 && s3->endpoint[el - 1] == '/')
		s3->endpoint[--el] = '\0';
	snprintf(s3->sigv4, sizeof(s3->sigv4), "aws:amz:%s:s3", s3->region);
	*out = s3;
	return NS_OK;
}

void ns_s3_free(struct ns_s3 *s3)
{
	if (!s3)
		return;
	if (s3->curl)
		curl_easy_cleanup(s3->curl);
	ns_free(s3->bucket);
	ns_free(s3->region);
	ns_free(s3->endpoint);
	ns_free(s3->access_key_id);
	wipe_free(s3->secret_access_key);
	wipe_free(s3->session_token);
	ns_free(s3);
}

const char *ns_s3_bucket(const struct ns_s3 *s3)
{
	return s3->bucket;
}

void ns__s3_set_trace(struct ns_s3 *s3, struct ns__buf *headers_out)
{
	s3->trace = headers_out;
}

/* ---- one request --------------------------------------------------------------- */

struct req {
	const char *method;
	const char *key; /* NULL: the bucket */
	const char *shown; /* bucket requests: what the diagnostics name (a prefix) */
	const char *query; /* encoded, sorted; NULL: none */
	const char *payload_sha256;
	struct curl_slist *extra; /* borrowed */
	/* Upload body: a file range, or memory. */
	FILE *in;
	uint64_t in_off, in_len, in_sent;
	const char *mem;
	size_t mem_len;
	bool has_body;
	/* Answer. */
	long status;
	struct ns__buf body;
	struct ns_atomic_file *af; /* GET into a file when 2xx */
	struct ns_sha256 sha;
	uint64_t got;
	bool write_failed;
	struct ns_s3_object_info info;
	bool have_length;
};

static size_t on_read(char *buf, size_t size, size_t n, void *user)
{
	struct req *r = user;
	size_t want = size * n, got;
	uint64_t left = r->in_len - r->in_sent;
	if (want > left)
		want = (size_t)left;
	if (want == 0)
		return 0;
	got = fread(buf, 1, want, r->in);
	if (got == 0)
		return CURL_READFUNC_ABORT; /* the file shrank under us */
	r->in_sent += got;
	return got;
}

static size_t on_write(char *data, size_t size, size_t n, void *user)
{
	struct req *r = user;
	size_t len = size * n;
	if (r->af && r->status / 100 == 2) {
		if (fwrite(data, 1, len, r->af->fp) != len) {
			r->write_failed = true;
			return 0;
		}
		ns_sha256_update(&r->sha, data, len);
		r->got += len;
		return len;
	}
	if (ns__buf_append(&r->body, data, len) != NS_OK)
		return 0;
	return len;
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
		      size_t *vlen)
{
	size_t nl = strlen(name);
	const char *v, *e;
	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	v = line + nl + 1;
	e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	*value = v;
	*vlen = (size_t)(e - v);
	return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
	struct req *r = user;
	size_t len = size * n, vl;
	const char *v;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* A new status line (after 100 Continue): start over. */
		const char *sp = memchr(data, ' ', len);
		r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
		memset(&r->info, 0, sizeof(r->info));
		r->have_length = false;
	} else if (header_is(data, len, "etag", &v, &vl)) {
		char tmp[sizeof(r->info.etag)];
		size_t o = 0;
		for (size_t i = 0; i < vl && o + 1 < sizeof(tmp); i++)
			if (v[i] != '"')
				tmp[o++] = v[i];
		tmp[o] = '\0';
		memcpy(r->info.etag, tmp, o + 1);
	} else if (header_is(data, len, "content-length", &v, &vl)) {
		uint64_t x = 0;
		size_t i;
		for (i = 0; i < vl && i < 19 && v[i] >= '0' && v[i] <= '9'; i++)
			x = x * 10 + (uint64_t)(v[i] - '0');
		if (i == vl && vl > 0) {
			r->info.size = x;
			r->have_length = true;
		}
	} else if (header_is(data, len, "x-amz-meta-sha256", &v, &vl)) {
		if (vl == 64) {
			for (size_t i = 0; i < 64; i++)
				r->info.sha256[i] = (char)tolower((unsigned char)v[i]);
			r->info.sha256[64] = '\0';
		}
	}
	return len;
}

static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *user)
{
	(void)c;
	if (type == CURLINFO_HEADER_OUT)
		ns__buf_append(user, data, size);
	return 0;
}

static enum ns_status build_url(struct ns_s3 *s3, const char *key, const char *query,
				struct ns__buf *url)
{
	enum ns_status st;
	if (s3->endpoint[0])
		st = ns__buf_printf(url, "%s/%s/", s3->endpoint, s3->bucket);
	else
		st = ns__buf_printf(url, "https://%s.s3.%s.amazonaws.com/", s3->bucket, s3->region);
	if (st == NS_OK && key)
		st = ns__sigv4_encode(url, key, strlen(key), true);
	if (st == NS_OK && query && *query)
		st = ns__buf_printf(url, "?%s", query);
	return st;
}

static bool retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static const char *where(const struct ns_s3 *s3, const struct req *r, char *buf, size_t size)
{
	if (r->key)
		snprintf(buf, size, "%s s3://%s/%s", r->method, s3->bucket, r->key);
	else
		snprintf(buf, size, "list s3://%s/%s", s3->bucket, r->shown ? r->shown : "");
	return buf;
}

/* The diagnostic for a non-2xx answer: S3's Code and Message when it sent them. */
static enum ns_status http_error(struct ns_s3 *s3, struct req *r, struct ns_diag *diag)
{
	char code[128], msg[256], w[NS_S3_KEY_MAX + 128];
	enum ns_status st = r->status == 404 ? NS_ERR_NOTFOUND : NS_ERR_IO;
	where(s3, r, w, sizeof(w));
	if (r->body.len &&
	    ns__s3_error_parse(r->body.data, r->body.len, code, sizeof(code), msg, sizeof(msg)) &&
	    code[0])
		return ns_diag_set(diag, st, "s3: %s: HTTP %ld %s: %s", w, r->status, code, msg);
	if (r->status == 404)
		return ns_diag_set(diag, st, "s3: %s: HTTP 404: no such key or bucket", w);
	if (r->status == 403)
		return ns_diag_set(diag, st,
				   "s3: %s: HTTP 403: access denied (check the credentials)", w);
	return ns_diag_set(diag, st, "s3: %s: HTTP %ld", w, r->status);
}

static enum ns_status perform(struct ns_s3 *s3, struct req *r, struct ns_diag *diag)
{
	struct ns__buf url;
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE], line[512], w[NS_S3_KEY_MAX + 128];
	enum ns_status st;
	CURLcode rc = CURLE_OK;
	unsigned attempt;

	ns__buf_init(&url, 0);
	st = build_url(s3, r->key, r->query, &url);
	if (st != NS_OK) {
		ns__buf_fini(&url);
		return ns_diag_set(diag, st, "s3: out of memory");
	}
	/* Our headers, signed by curl with the rest. */
	snprintf(line, sizeof(line), "x-amz-content-sha256: %s", r->payload_sha256);
	hdrs = curl_slist_append(hdrs, line);
	for (struct curl_slist *e = r->extra; e && hdrs; e = e->next)
		hdrs = curl_slist_append(hdrs, e->data);
	if (hdrs && s3->session_token) {
		struct ns__buf t;
		ns__buf_init(&t, 0);
		if (ns__buf_printf(&t, "x-amz-security-token: %s", s3->session_token) == NS_OK)
			hdrs = curl_slist_append(hdrs, t.data);
		else
			hdrs = NULL;
		if (t.data)
			memset(t.data, 0, t.len);
		ns__buf_fini(&t);
	}
	if (!hdrs) {
		ns__buf_fini(&url);
		return ns_diag_set(diag, NS_ERR_NOMEM, "s3: out of memory");
	}

	for (attempt = 0;; attempt++) {
		CURL *c = s3->curl;
		bool retry = false;
		curl_easy_reset(c);
		ns__buf_reset(&r->body);
		r->status = 0;
		r->got = 0;
		r->in_sent = 0;
		r->write_failed = false;
		memset(&r->info, 0, sizeof(r->info));
		ns_sha256_init(&r->sha);
		if (r->af) {
			if (fflush(r->af->fp) != 0 || ftruncate(fileno(r->af->fp), 0) != 0 ||
			    fseeko(r->af->fp, 0, SEEK_SET) != 0) {
				st = ns_diag_set(diag, NS_ERR_IO, "s3: %s: cannot reset %s: %s",
						 where(s3, r, w, sizeof(w)), r->af->tmp_path,
						 strerror(errno));
				break;
			}
		}
		if (r->in && fseeko(r->in, (off_t)r->in_off, SEEK_SET) != 0) {
			st = ns_diag_set(diag, NS_ERR_IO, "s3: %s: cannot seek the file: %s",
					 where(s3, r, w, sizeof(w)), strerror(errno));
			break;
		}
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, url.data);
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s3->sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key_id);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_access_key);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s3->p.connect_timeout_s);
		/* A stalled transfer (under 1 byte/s for 60 s) is a connection error. */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_USERAGENT, "netsec/" NETSEC_VERSION_STRING);
		if (s3->trace) {
			ns__buf_reset(s3->trace);
			curl_easy_setopt(c, CURLOPT_DEBUGFUNCTION, on_debug);
			curl_easy_setopt(c, CURLOPT_DEBUGDATA, s3->trace);
			curl_easy_setopt(c, CURLOPT_VERBOSE, 1L);
		}
		if (strcmp(r->method, "HEAD") == 0) {
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		} else if (strcmp(r->method, "PUT") == 0) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, r);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->in_len);
		} else if (strcmp(r->method, "POST") == 0) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->mem ? r->mem : "");
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->mem_len);
		} else if (strcmp(r->method, "DELETE") == 0) {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
		}
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK) {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
			if (r->status / 100 == 2) {
				st = NS_OK;
				break;
			}
			retry = r->status >= 500 || r->status == 429;
		} else if (r->write_failed) {
			st = ns_diag_set(diag, NS_ERR_IO, "s3: %s: cannot write %s: %s",
					 where(s3, r, w, sizeof(w)), r->af->tmp_path,
					 strerror(errno));
			break;
		} else {
			retry = retryable_curl(rc);
		}
		if (!retry || attempt >= s3->p.max_retries) {
			if (rc != CURLE_OK)
				st = ns_diag_set(diag, NS_ERR_IO, "s3: %s: %s (%s) after %u tries",
						 where(s3, r, w, sizeof(w)), curl_easy_strerror(rc),
						 errbuf[0] ? errbuf : "-", attempt + 1);
			else
				st = http_error(s3, r, diag);
			break;
		}
		{
			unsigned ms = s3->p.retry_base_ms << (attempt < 6 ? attempt : 6);
			ns_log(NS_LOG_WARN, "s3: %s: %s; retrying in %u ms",
			       where(s3, r, w, sizeof(w)),
			       rc != CURLE_OK ? curl_easy_strerror(rc) : "server error", ms);
			sleep_ms(ms);
		}
	}
	curl_easy_reset(s3->curl);
	curl_slist_free_all(hdrs);
	ns__buf_fini(&url);
	return st;
}

static void req_init(struct req *r, const char *method, const char *key)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->key = key;
	/* The SHA-256 of an empty body. */
	r->payload_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	ns__buf_init(&r->body, S3_BODY_MAX);
}

static void req_fini(struct req *r)
{
	ns__buf_fini(&r->body);
}

static enum ns_status check_key(const char *key, struct ns_diag *diag)
{
	size_t n = key ? strlen(key) : 0;
	if (n == 0 || n > NS_S3_KEY_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID, "s3: bad key '%.200s' (1..%d bytes)",
				   key ? key : "", NS_S3_KEY_MAX);
	return NS_OK;
}

/* ---- operations ----------------------------------------------------------------- */

enum ns_status ns_s3_head(struct ns_s3 *s3, const char *key, struct ns_s3_object_info *info,
			  struct ns_diag *diag)
{
	struct req r;
	enum ns_status st = check_key(key, diag);
	if (st != NS_OK)
		return st;
	req_init(&r, "HEAD", key);
	st = perform(s3, &r, diag);
	if (st == NS_OK && info)
		*info = r.info;
	req_fini(&r);
	return st;
}

enum ns_status ns_s3_delete(struct ns_s3 *s3, const char *key, struct ns_diag *diag)
{
	struct req r;
	enum ns_status st = check_key(key, diag);
	if (st != NS_OK)
		return st;
	req_init(&r, "DELETE", key);
	st = perform(s3, &r, diag);
	req_fini(&r);
	return st;
}

/* SHA-256 of `len` bytes of fp from `off`. */
static enum ns_status hash_range(FILE *fp, uint64_t off, uint64_t len, char hex[65])
{
	static const size_t chunk = 1 << 16;
	char *buf = ns_malloc(chunk);
	struct ns_sha256 s;
	uint8_t d[32];
	if (!buf)
		return NS_ERR_NOMEM;
	if (fseeko(fp, (off_t)off, SEEK_SET) != 0) {
		ns_free(buf);
		return NS_ERR_IO;
	}
	ns_sha256_init(&s);
	while (len > 0) {
		size_t want = len < chunk ? (size_t)len : chunk;
		size_t got = fread(buf, 1, want, fp);
		if (got == 0) {
			ns_free(buf);
			return NS_ERR_IO;
		}
		ns_sha256_update(&s, buf, got);
		len -= got;
	}
	ns_free(buf);
	ns_sha256_final(&s, d);
	ns_sha256_hex(d, hex);
	return NS_OK;
}

static enum ns_status put_multipart(struct ns_s3 *s3, const char *key, FILE *fp, uint64_t size,
				    const char *sha_hex, struct ns_s3_object_info *info,
				    struct ns_diag *diag)
{
	struct req r;
	struct curl_slist *meta = NULL;
	struct ns__buf q, done;
	char *upload_id = NULL, line[128], part_sha[65], w[NS_S3_KEY_MAX + 128];
	char(*etags)[80] = NULL;
	uint64_t part = s3->p.part_size, n_parts;
	enum ns_status st;

	if ((size + part - 1) / part > S3_MAX_PARTS)
		part = (size + S3_MAX_PARTS - 1) / S3_MAX_PARTS;
	n_parts = (size + part - 1) / part;
	ns_log(NS_LOG_INFO, "s3: s3://%s/%s: multipart upload of %llu bytes in %llu parts",
	       s3->bucket, key, (unsigned long long)size, (unsigned long long)n_parts);
	ns__buf_init(&q, 0);
	ns__buf_init(&done, 0);
	snprintf(line, sizeof(line), "x-amz-meta-sha256: %s", sha_hex);
	meta = curl_slist_append(meta, line);
	if (meta)
		meta = curl_slist_append(meta, "Content-Type: application/octet-stream");
	etags = ns_calloc((size_t)n_parts, sizeof(*etags));
	if (!meta || !etags) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "s3: out of memory");
		goto out;
	}
	/* CreateMultipartUpload: the object's metadata is given here. */
	req_init(&r, "POST", key);
	r.query = "uploads=";
	r.extra = meta;
	st = perform(s3, &r, diag);
	if (st == NS_OK)
		st = ns__s3_upload_id_parse(r.body.data, r.body.len, &upload_id, diag);
	req_fini(&r);
	if (st != NS_OK)
		goto out;

	for (uint64_t i = 0; i < n_parts && st == NS_OK; i++) {
		uint64_t off = i * part, len = size - off < part ? size - off : part;
		st = hash_range(fp, off, len, part_sha);
		if (st != NS_OK) {
			st = ns_diag_set(diag, st, "s3: %s: cannot read part %llu of the file", key,
					 (unsigned long long)(i + 1));
			break;
		}
		ns__buf_reset(&q);
		st = ns__buf_printf(&q, "partNumber=%llu&uploadId=", (unsigned long long)(i + 1));
		if (st == NS_OK)
			st = ns__sigv4_encode(&q, upload_id, strlen(upload_id), false);
		if (st != NS_OK)
			break;
		req_init(&r, "PUT", key);
		r.query = q.data;
		r.payload_sha256 = part_sha;
		r.in = fp;
		r.in_off = off;
		r.in_len = len;
		st = perform(s3, &r, diag);
		if (st == NS_OK && !r.info.etag[0])
			st = ns_diag_set(diag, NS_ERR_IO,
					 "s3: %s: part %llu answered without an ETag",
					 where(s3, &r, w, sizeof(w)), (unsigned long long)(i + 1));
		if (st == NS_OK)
			memcpy(etags[i], r.info.etag, sizeof(etags[i]));
		req_fini(&r);
	}

	/* CompleteMultipartUpload, whose 200 may still carry an <Error>. */
	if (st == NS_OK)
		st = ns__buf_printf(&done, "<CompleteMultipartUpload>");
	for (uint64_t i = 0; i < n_parts && st == NS_OK; i++)
		st = ns__buf_printf(&done,
				    "<Part><PartNumber>%llu</PartNumber><ETag>\"%s\"</ETag></Part>",
				    (unsigned long long)(i + 1), etags[i]);
	if (st == NS_OK)
		st = ns__buf_printf(&done, "</CompleteMultipartUpload>");
	if (st == NS_OK) {
		struct ns_sha256 s;
		uint8_t d[32];
		char body_sha[65], code[128], msg[256];
		ns_sha256_init(&s);
		ns_sha256_update(&s, done.data, done.len);
		ns_sha256_final(&s, d);
		ns_sha256_hex(d, body_sha);
		ns__buf_reset(&q);
		st = ns__buf_printf(&q, "uploadId=");
		if (st == NS_OK)
			st = ns__sigv4_encode(&q, upload_id, strlen(upload_id), false);
		req_init(&r, "POST", key);
		r.query = q.data;
		r.payload_sha256 = body_sha;
		r.mem = done.data;
		r.mem_len = done.len;
		r.extra = NULL;
		if (st == NS_OK)
			st = perform(s3, &r, diag);
		if (st == NS_OK && ns__s3_error_parse(r.body.data ? r.body.data : "", r.body.len,
						      code, sizeof(code), msg, sizeof(msg)))
			st = ns_diag_set(diag, NS_ERR_IO, "s3: %s: completing the upload: %s: %s",
					 where(s3, &r, w, sizeof(w)), code, msg);
		req_fini(&r);
	}
	if (st == NS_OK && info) {
		memset(info, 0, sizeof(*info));
		info->size = size;
		memcpy(info->sha256, sha_hex, 65);
	}
out:
	if (st != NS_OK && upload_id) {
		/* Abort, so that S3 does not keep (and bill) the parts. */
		struct ns_diag ignored;
		ns__buf_reset(&q);
		if (ns__buf_printf(&q, "uploadId=") == NS_OK &&
		    ns__sigv4_encode(&q, upload_id, strlen(upload_id), false) == NS_OK) {
			unsigned saved = s3->p.max_retries;
			req_init(&r, "DELETE", key);
			r.query = q.data;
			s3->p.max_retries = 1;
			perform(s3, &r, &ignored);
			s3->p.max_retries = saved;
			req_fini(&r);
		}
	}
	ns_free(upload_id);
	ns_free(etags);
	curl_slist_free_all(meta);
	ns__buf_fini(&q);
	ns__buf_fini(&done);
	return st;
}

enum ns_status ns_s3_put_file(struct ns_s3 *s3, const char *key, const char *path,
			      struct ns_s3_object_info *info, struct ns_diag *diag)
{
	struct stat sb;
	FILE *fp;
	char sha[65], line[128];
	struct req r;
	struct curl_slist *meta = NULL;
	enum ns_status st = check_key(key, diag);

	if (st != NS_OK)
		return st;
	fp = fopen(path, "rb");
	if (!fp || fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		st = ns_diag_set(diag, NS_ERR_IO, "s3: cannot read %s: %s", path,
				 fp ? "not a regular file" : strerror(errno));
		if (fp)
			fclose(fp);
		return st;
	}
	st = hash_range(fp, 0, (uint64_t)sb.st_size, sha);
	if (st != NS_OK) {
		fclose(fp);
		return ns_diag_set(diag, st, "s3: cannot read %s", path);
	}
	if ((uint64_t)sb.st_size >= s3->p.multipart_threshold) {
		st = put_multipart(s3, key, fp, (uint64_t)sb.st_size, sha, info, diag);
		fclose(fp);
		return st;
	}
	snprintf(line, sizeof(line), "x-amz-meta-sha256: %s", sha);
	meta = curl_slist_append(meta, line);
	if (meta)
		meta = curl_slist_append(meta, "Content-Type: application/octet-stream");
	if (!meta) {
		fclose(fp);
		return ns_diag_set(diag, NS_ERR_NOMEM, "s3: out of memory");
	}
	req_init(&r, "PUT", key);
	r.payload_sha256 = sha;
	r.extra = meta;
	r.in = fp;
	r.in_len = (uint64_t)sb.st_size;
	st = perform(s3, &r, diag);
	if (st == NS_OK && info) {
		memset(info, 0, sizeof(*info));
		info->size = (uint64_t)sb.st_size;
		memcpy(info->etag, r.info.etag, sizeof(info->etag));
		memcpy(info->sha256, sha, 65);
	}
	req_fini(&r);
	curl_slist_free_all(meta);
	fclose(fp);
	return st;
}

static enum ns_status mkdir_parent(const char *path, struct ns_diag *diag)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	enum ns_status st;
	if (!slash || slash == path)
		return NS_OK;
	dir = ns_strndup(path, (size_t)(slash - path));
	if (!dir)
		return NS_ERR_NOMEM;
	st = ns_mkdir_p(dir, diag);
	ns_free(dir);
	return st;
}

enum ns_status ns_s3_get_file(struct ns_s3 *s3, const char *key, const char *path,
			      struct ns_s3_object_info *info, struct ns_diag *diag)
{
	struct ns_atomic_file af;
	struct req r;
	uint8_t d[32];
	char hex[65], w[NS_S3_KEY_MAX + 128];
	enum ns_status st = check_key(key, diag);

	if (st != NS_OK)
		return st;
	st = mkdir_parent(path, diag);
	if (st != NS_OK)
		return st;
	st = ns_atomic_file_open(&af, path, diag);
	if (st != NS_OK)
		return st;
	req_init(&r, "GET", key);
	r.af = &af;
	st = perform(s3, &r, diag);
	if (st == NS_OK) {
		ns_sha256_final(&r.sha, d);
		ns_sha256_hex(d, hex);
		if (r.have_length && r.info.size != r.got)
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "s3: %s: got %llu bytes, Content-Length said %llu",
					 where(s3, &r, w, sizeof(w)), (unsigned long long)r.got,
					 (unsigned long long)r.info.size);
		else if (r.info.sha256[0] && strcmp(r.info.sha256, hex) != 0)
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "s3: %s: the content's SHA-256 %s differs from the stored "
					 "x-amz-meta-sha256 %s",
					 where(s3, &r, w, sizeof(w)), hex, r.info.sha256);
	}
	if (st == NS_OK)
		st = ns_atomic_file_commit(&af, diag);
	else
		ns_atomic_file_abort(&af);
	if (st == NS_OK && info) {
		*info = r.info;
		info->size = r.got;
	}
	req_fini(&r);
	return st;
}

enum ns_status ns_s3_list(struct ns_s3 *s3, const char *prefix, struct ns_s3_list *out,
			  struct ns_diag *diag)
{
	struct ns_s3_list l = {NULL, 0};
	size_t cap = 0;
	char *token = NULL;
	struct ns__buf q;
	enum ns_status st = NS_OK;

	ns__buf_init(&q, 0);
	for (unsigned page_no = 0;; page_no++) {
		struct ns__s3_list_page pg;
		struct req r;
		/* Sorted by name, as the canonical query wants them. */
		ns__buf_reset(&q);
		if (token) {
			st = ns__buf_printf(&q, "continuation-token=");
			if (st == NS_OK)
				st = ns__sigv4_encode(&q, token, strlen(token), false);
			if (st == NS_OK)
				st = ns__buf_printf(&q, "&");
		}
		if (st == NS_OK)
			st = ns__buf_printf(&q, "list-type=2&max-keys=%u", s3->p.list_page_size);
		if (st == NS_OK && prefix && *prefix) {
			st = ns__buf_printf(&q, "&prefix=");
			if (st == NS_OK)
				st = ns__sigv4_encode(&q, prefix, strlen(prefix), false);
		}
		if (st != NS_OK) {
			st = ns_diag_set(diag, st, "s3: out of memory");
			break;
		}
		req_init(&r, "GET", NULL);
		r.query = q.data;
		r.shown = prefix;
		st = perform(s3, &r, diag);
		if (st == NS_OK)
			st = ns__s3_list_parse(r.body.data ? r.body.data : "", r.body.len, &pg,
					       diag);
		req_fini(&r);
		if (st != NS_OK)
			break;
		for (size_t i = 0; i < pg.n && st == NS_OK; i++) {
			if (l.n == cap) {
				size_t nc = cap ? cap * 2 : 256;
				struct ns_s3_entry *ne =
					ns_reallocarray(l.entries, nc, sizeof(*ne));
				if (!ne) {
					st = ns_diag_set(diag, NS_ERR_NOMEM, "s3: out of memory");
					break;
				}
				l.entries = ne;
				cap = nc;
			}
			l.entries[l.n++] = pg.entries[i];
			pg.entries[i].key = NULL;
		}
		ns_free(token);
		token = pg.next_token;
		pg.next_token = NULL;
		{
			bool more = pg.is_truncated;
			ns__s3_list_page_fini(&pg);
			if (st != NS_OK || !more)
				break;
		}
		if (page_no > 1000000) {
			st = ns_diag_set(diag, NS_ERR_LIMIT, "s3: listing of s3://%s/%s never ends",
					 s3->bucket, prefix ? prefix : "");
			break;
		}
	}
	ns_free(token);
	ns__buf_fini(&q);
	if (st != NS_OK) {
		ns_s3_list_fini(&l);
		return st;
	}
	*out = l;
	return NS_OK;
}

void ns_s3_list_fini(struct ns_s3_list *l)
{
	for (size_t i = 0; l && i < l->n; i++)
		ns_free(l->entries[i].key);
	if (l) {
		ns_free(l->entries);
		l->entries = NULL;
		l->n = 0;
	}
}

enum ns_status ns_s3_uri_parse(const char *uri, char *bucket, size_t bucket_size, char *prefix,
			       size_t prefix_size, struct ns_diag *diag)
{
	const char *b, *slash;
	size_t bl, pl;
	if (!uri || strncmp(uri, "s3://", 5) != 0)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "'%.200s' is not an s3://bucket/prefix URI", uri ? uri : "");
	b = uri + 5;
	slash = strchr(b, '/');
	bl = slash ? (size_t)(slash - b) : strlen(b);
	if (bl == 0 || bl >= bucket_size)
		return ns_diag_set(diag, NS_ERR_INVALID, "'%.200s': no bucket name", uri);
	memcpy(bucket, b, bl);
	bucket[bl] = '\0';
	if (!valid_bucket(bucket))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "'%.200s': bad bucket name (3-63 characters of a-z 0-9 . -)",
				   uri);
	b = slash ? slash + 1 : b + bl;
	pl = strlen(b);
	while (pl > 0 && b[pl - 1] == '/')
		pl--;
	if (pl >= prefix_size || pl > 512)
		return ns_diag_set(diag, NS_ERR_INVALID, "'%.200s': prefix too long", uri);
	for (size_t i = 0; i < pl; i++)
		if ((unsigned char)b[i] < 0x20 || (b[i] == '/' && i + 1 < pl && b[i + 1] == '/'))
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "'%.200s': control characters or '//' in the prefix",
					   uri);
	memcpy(prefix, b, pl);
	prefix[pl] = '\0';
	return NS_OK;
}
