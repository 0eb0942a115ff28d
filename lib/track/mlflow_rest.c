/*
 * lib/track/mlflow_rest.c - the MLflow REST backend ("http:" and "https:"
 * tracking URIs), over libcurl.
 *
 * Each tracker operation is one or a few calls of MLflow's REST API
 * (https://mlflow.org/docs/latest/rest-api.html, protos/service.proto):
 *
 *   experiment    GET  /api/2.0/mlflow/experiments/get-by-name, and when
 *                      that says RESOURCE_DOES_NOT_EXIST, POST
 *                      experiments/create; RESOURCE_ALREADY_EXISTS there
 *                      means another client won the race: get it again
 *   run_exists    GET  runs/get
 *   run_create    POST runs/create (experiment_id, user_id, run_name,
 *                      start_time, tags)
 *   log_param, log_metric, set_tag
 *                      buffered, sent as POST runs/log-batch when a batch
 *                      is full (MLflow's limits: 1000 metrics, 100 params,
 *                      100 tags, 1000 entries, 1 MB) and before runs/update
 *   run_update    POST runs/update (status as its enum name, end_time)
 *   log_artifact  PUT  {server}/api/2.0/mlflow-artifacts/artifacts/<path>
 *                      for a run whose artifact_uri is "mlflow-artifacts:"
 *                      (the server proxies uploads), or PUT to an http(s)
 *                      artifact_uri; the file is streamed, never held in
 *                      memory.  Other artifact stores: NS_ERR_UNSUPPORTED
 *   reap          nothing (the server's runs are not ours to judge by pid)
 *
 * Credentials as MLflow's client takes them: MLFLOW_TRACKING_USERNAME and
 * MLFLOW_TRACKING_PASSWORD (HTTP basic), else MLFLOW_TRACKING_TOKEN
 * ("Authorization: Bearer"), else a userinfo part in the URI.  TLS:
 * MLFLOW_TRACKING_INSECURE_TLS=true skips verification,
 * MLFLOW_TRACKING_SERVER_CERT_PATH names a CA bundle,
 * MLFLOW_TRACKING_CLIENT_CERT_PATH a client certificate.  Secrets never
 * appear in messages: URIs are kept without their userinfo.
 *
 * Retries: connection errors, timeouts, 429 and 5xx are retried with
 * exponential back-off (200 ms, doubling) up to NETSEC_TRACKING_RETRIES
 * more times (default 4) within NETSEC_TRACKING_TIMEOUT_MS per request
 * (default 30000).  Other 4xx are not retried; their error carries MLflow's
 * error_code and message.  When a request still fails for want of the
 * server, the tracker remembers it and later calls fail at once (one outage
 * costs one back-off, not one per metric).
 *
 * Threading: a tracker (one curl handle) is used by one thread at a time.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "netsec/json.h"
#include "track/mlflow_rest.h"

#define API "/api/2.0/mlflow/"
#define ARTIFACTS_API "/api/2.0/mlflow-artifacts/artifacts"
#define RESPONSE_MAX (16u << 20)
#define DEFAULT_RETRIES 4
#define DEFAULT_TIMEOUT_MS 30000L
#define FIRST_BACKOFF_MS 200L
#define ARTIFACT_DEPTH_MAX 64

struct rest {
	char *base; /* scheme://host[:port][/prefix], no userinfo, no trailing '/' */
	char *user, *password, *token;
	char *ca_path, *client_cert;
	bool insecure;
	long retries;
	long timeout_ms;
	CURL *curl;
	bool down; /* a request gave up for want of the server */
	char down_msg[NS_DIAG_MESSAGE_MAX];
};

struct kv {
	char *key, *value;
};

struct rest_run {
	char run_id[NS_TRACK_RUN_ID_MAX];
	char experiment_id[NS_TRACK_EXPERIMENT_ID_MAX];
	char *artifact_uri;
	struct ns__rest_batch batch;
	struct kv *params; /* every param logged, for MLflow's "params never change" */
	size_t n_params;
};

static enum ns_status nomem(struct ns_diag *diag)
{
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}

/* ---- the log-batch buffer ----------------------------------------------------- */

void ns__rest_batch_init(struct ns__rest_batch *b)
{
	memset(b, 0, sizeof(*b));
	ns__buf_init(&b->metrics, 0);
	ns__buf_init(&b->params, 0);
	ns__buf_init(&b->tags, 0);
}

void ns__rest_batch_fini(struct ns__rest_batch *b)
{
	ns__buf_fini(&b->metrics);
	ns__buf_fini(&b->params);
	ns__buf_fini(&b->tags);
	memset(b, 0, sizeof(*b));
}

void ns__rest_batch_reset(struct ns__rest_batch *b)
{
	ns__buf_reset(&b->metrics);
	ns__buf_reset(&b->params);
	ns__buf_reset(&b->tags);
	b->n_metrics = b->n_params = b->n_tags = 0;
}

bool ns__rest_batch_empty(const struct ns__rest_batch *b)
{
	return b->n_metrics + b->n_params + b->n_tags == 0;
}

/* Room for one more entry of `len` bytes in list `which` of `n` entries
 * with limit `max`?  The fixed part of the body is at most ~400 bytes
 * (run id up to 256 characters plus the keys). */
static bool batch_room(const struct ns__rest_batch *b, size_t n, size_t max, size_t len)
{
	size_t total = b->n_metrics + b->n_params + b->n_tags;
	size_t bytes = b->metrics.len + b->params.len + b->tags.len + len + 3 + 400;
	return n < max && total < NS__REST_BATCH_TOTAL && bytes <= NS__REST_BATCH_BYTES;
}

static enum ns_status batch_put(struct ns__rest_batch *b, struct ns__buf *list, size_t *n,
				size_t max, const struct ns__buf *entry)
{
	enum ns_status st;
	if (!batch_room(b, *n, max, entry->len))
		return NS_ERR_LIMIT;
	st = ns__buf_append(list, ",", list->len ? 1 : 0);
	if (st == NS_OK)
		st = ns__buf_append(list, entry->data, entry->len);
	if (st == NS_OK)
		(*n)++;
	return st;
}

static enum ns_status kv_entry(struct ns__buf *e, const char *key, const char *value)
{
	enum ns_status st = ns__buf_append(e, "{\"key\":", 7);
	if (st == NS_OK)
		st = ns__json_string(e, key);
	if (st == NS_OK)
		st = ns__buf_append(e, ",\"value\":", 9);
	if (st == NS_OK)
		st = ns__json_string(e, value);
	if (st == NS_OK)
		st = ns__buf_append(e, "}", 1);
	return st;
}

enum ns_status ns__rest_batch_add_metric(struct ns__rest_batch *b, const char *key, double value,
					 int64_t timestamp, int64_t step)
{
	struct ns__buf e;
	char num[48];
	enum ns_status st;
	ns__buf_init(&e, 0);
	if (isnan(value))
		snprintf(num, sizeof(num), "\"NaN\"");
	else if (isinf(value))
		snprintf(num, sizeof(num), value < 0 ? "\"-Infinity\"" : "\"Infinity\"");
	else if (ns_format_double(value, num, sizeof(num)) == 0)
		return NS_ERR_INTERNAL;
	st = ns__buf_append(&e, "{\"key\":", 7);
	if (st == NS_OK)
		st = ns__json_string(&e, key);
	if (st == NS_OK)
		st = ns__buf_printf(&e,
				    ",\"value\":%s,\"timestamp\":%" PRId64 ",\"step\":%" PRId64 "}",
				    num, timestamp, step);
	if (st == NS_OK)
		st = batch_put(b, &b->metrics, &b->n_metrics, NS__REST_BATCH_METRICS, &e);
	ns__buf_fini(&e);
	return st;
}

enum ns_status ns__rest_batch_add_param(struct ns__rest_batch *b, const char *key,
					const char *value)
{
	struct ns__buf e;
	enum ns_status st;
	ns__buf_init(&e, 0);
	st = kv_entry(&e, key, value);
	if (st == NS_OK)
		st = batch_put(b, &b->params, &b->n_params, NS__REST_BATCH_PARAMS, &e);
	ns__buf_fini(&e);
	return st;
}

enum ns_status ns__rest_batch_add_tag(struct ns__rest_batch *b, const char *key, const char *value)
{
	struct ns__buf e;
	enum ns_status st;
	ns__buf_init(&e, 0);
	st = kv_entry(&e, key, value);
	if (st == NS_OK)
		st = batch_put(b, &b->tags, &b->n_tags, NS__REST_BATCH_TAGS, &e);
	ns__buf_fini(&e);
	return st;
}

enum ns_status ns__rest_batch_body(const struct ns__rest_batch *b, const char *run_id,
				   struct ns__buf *out)
{
	enum ns_status st = ns__buf_append(out, "{\"run_id\":", 10);
	if (st == NS_OK)
		st = ns__json_string(out, run_id);
	if (st == NS_OK)
		st = ns__buf_printf(out, ",\"metrics\":[%s],\"params\":[%s],\"tags\":[%s]}",
				    b->metrics.data ? b->metrics.data : "",
				    b->params.data ? b->params.data : "",
				    b->tags.data ? b->tags.data : "");
	return st;
}

/* ---- URIs ------------------------------------------------------------------------- */

/* Where the authority of "scheme://authority/..." starts and ends, and
 * the '@' ending a userinfo part (NULL when there is none).  Only '/' ends
 * the authority here, so that a password holding '#' or '?' (which should
 * have been percent-encoded) is still taken, and redacted, whole. */
static const char *find_userinfo(const char *uri, const char **auth, const char **auth_end)
{
	const char *p = strstr(uri, "://"), *at = NULL;
	if (!p) {
		*auth = *auth_end = NULL;
		return NULL;
	}
	*auth = p + 3;
	*auth_end = *auth + strcspn(*auth, "/");
	for (const char *q = *auth; q < *auth_end; q++)
		if (*q == '@')
			at = q;
	return at;
}

void ns__rest_redact(const char *uri, char *buf, size_t size)
{
	const char *auth, *end;
	const char *at = find_userinfo(uri, &auth, &end);
	if (size == 0)
		return;
	if (!at)
		snprintf(buf, size, "%s", uri);
	else
		snprintf(buf, size, "%.*s***%s", (int)(auth - uri), uri, at);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char *unescape(const char *s, size_t n)
{
	char *out = ns_malloc(n + 1);
	size_t j = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
		    (lo = hexval(s[i + 2])) >= 0) {
			out[j++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return out;
}

/* Appends `s` percent-encoded except RFC 3986's unreserved characters and,
 * when `keep_slash`, '/'. */
static enum ns_status url_escape(struct ns__buf *b, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	enum ns_status st = NS_OK;
	for (const unsigned char *p = (const unsigned char *)s; st == NS_OK && *p; p++) {
		unsigned char c = *p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			st = ns__buf_append(b, p, 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			st = ns__buf_append(b, e, 3);
		}
	}
	return st;
}

/* ---- open / close ------------------------------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static long env_long(const char *name, long def, long lo, long hi)
{
	const char *v = env(name);
	char *end;
	long n;
	if (!v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi) {
		ns_log(NS_LOG_WARN, "tracking: ignoring %s='%s' (want %ld..%ld)", name, v, lo, hi);
		return def;
	}
	return n;
}

static void rest_close(void *impl)
{
	struct rest *r = impl;
	if (!r)
		return;
	if (r->curl)
		curl_easy_cleanup(r->curl);
	ns_free(r->base);
	ns_free(r->user);
	if (r->password) {
		memset(r->password, 0, strlen(r->password));
		ns_free(r->password);
	}
	if (r->token) {
		memset(r->token, 0, strlen(r->token));
		ns_free(r->token);
	}
	ns_free(r->ca_path);
	ns_free(r->client_cert);
	ns_free(r);
}

static enum ns_status rest_open(const char *uri, const char *location, void **impl,
				struct ns_diag *diag)
{
	struct rest *r = ns_calloc(1, sizeof(*r));
	const char *auth, *auth_end, *at, *v;
	char shown[512];
	struct ns__buf b;
	size_t n;

	(void)location;
	if (!r)
		return nomem(diag);
	ns__rest_redact(uri, shown, sizeof(shown));
	at = find_userinfo(uri, &auth, &auth_end);
	if (!auth || auth == auth_end || (at && at + 1 == auth_end) ||
	    strpbrk(at ? at : auth, "?#")) {
		rest_close(r);
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "'%s': an MLflow server URI is http(s)://host[:port][/path]",
				   shown);
	}
	/* The base without userinfo and trailing '/'. */
	ns__buf_init(&b, 0);
	n = strlen(uri);
	while (n > (size_t)(auth_end - uri) && uri[n - 1] == '/')
		n--;
	if (ns__buf_append(&b, uri, (size_t)(auth - uri)) != NS_OK ||
	    ns__buf_append(&b, at ? at + 1 : auth, (size_t)(uri + n - (at ? at + 1 : auth))) !=
		    NS_OK) {
		ns__buf_fini(&b);
		rest_close(r);
		return nomem(diag);
	}
	r->base = b.data;
	if ((v = env("MLFLOW_TRACKING_USERNAME")) && env("MLFLOW_TRACKING_PASSWORD")) {
		r->user = ns_strdup(v);
		r->password = ns_strdup(env("MLFLOW_TRACKING_PASSWORD"));
		if (!r->user || !r->password)
			goto oom;
	} else if ((v = env("MLFLOW_TRACKING_TOKEN"))) {
		r->token = ns_strdup(v);
		if (!r->token)
			goto oom;
	} else if (at) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		r->user = unescape(auth, (size_t)((colon ? colon : at) - auth));
		r->password = colon ? unescape(colon + 1, (size_t)(at - colon - 1)) : ns_strdup("");
		if (!r->user || !r->password)
			goto oom;
	}
	v = env("MLFLOW_TRACKING_INSECURE_TLS");
	r->insecure = v && strcasecmp(v, "true") == 0;
	if ((v = env("MLFLOW_TRACKING_SERVER_CERT_PATH"))) {
		if (r->insecure) {
			rest_close(r);
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "MLFLOW_TRACKING_INSECURE_TLS and "
					   "MLFLOW_TRACKING_SERVER_CERT_PATH cannot both be set");
		}
		if (!(r->ca_path = ns_strdup(v)))
			goto oom;
	}
	if ((v = env("MLFLOW_TRACKING_CLIENT_CERT_PATH")) && !(r->client_cert = ns_strdup(v)))
		goto oom;
	r->retries = env_long("NETSEC_TRACKING_RETRIES", DEFAULT_RETRIES, 0, 20);
	r->timeout_ms = env_long("NETSEC_TRACKING_TIMEOUT_MS", DEFAULT_TIMEOUT_MS, 100, 3600000L);
	r->curl = curl_easy_init();
	if (!r->curl) {
		rest_close(r);
		return ns_diag_set(diag, NS_ERR_INTERNAL, "cannot create a libcurl handle");
	}
	*impl = r;
	return NS_OK;
oom:
	rest_close(r);
	return nomem(diag);
}

/* ---- HTTP with retries ---------------------------------------------------------------- */

struct sink {
	struct ns__buf *body;
};

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct sink *s = user;
	size_t len = size * n;
	if (s->body->len + len > RESPONSE_MAX || ns__buf_append(s->body, p, len) != NS_OK)
		return 0; /* CURLE_WRITE_ERROR */
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *user)
{
	FILE *fp = user;
	size_t k = fread(p, 1, size * n, fp);
	if (k == 0 && ferror(fp))
		return CURL_READFUNC_ABORT;
	return k;
}

static bool retryable_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

struct request {
	const char *method; /* GET, POST, PUT */
	const char *url;
	const char *what; /* "POST runs/create", for messages */
	const char *json; /* POST body, or NULL */
	FILE *upload; /* PUT body, or NULL */
	curl_off_t upload_size;
};

/*
 * Performs `q`, retrying what may pass.  OUT *code: the final HTTP status
 * (0 when no response); `resp` gets the final body.  NS_OK when a response
 * came (any status); NS_ERR_IO (server unreachable, marks the tracker
 * down) or NS_ERR_INVALID (a URL or TLS set-up curl refuses) otherwise.
 */
static enum ns_status perform(struct rest *r, const struct request *q, long *code,
			      struct ns__buf *resp, struct ns_diag *diag)
{
	double t0 = ns__mono_seconds();
	long delay = FIRST_BACKOFF_MS;
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *headers = NULL;
	struct sink sink = {resp};
	CURLcode cc = CURLE_OK;
	long tries = 0;

	if (r->down)
		return ns_diag_set(diag, NS_ERR_IO, "%s", r->down_msg);
	headers = curl_slist_append(headers, "Accept: application/json");
	if (q->json)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	if (q->upload) {
		headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
		headers = curl_slist_append(headers, "Expect:");
	}
	if (!headers)
		return nomem(diag);
	if (r->token) {
		struct curl_slist *h;
		struct ns__buf hb;
		ns__buf_init(&hb, 0);
		if (ns__buf_printf(&hb, "Authorization: Bearer %s", r->token) != NS_OK) {
			curl_slist_free_all(headers);
			return nomem(diag);
		}
		h = curl_slist_append(headers, hb.data);
		memset(hb.data, 0, hb.len);
		ns__buf_fini(&hb);
		if (!h) {
			curl_slist_free_all(headers);
			return nomem(diag);
		}
		headers = h;
	}
	for (;;) {
		long left = r->timeout_ms - (long)((ns__mono_seconds() - t0) * 1000.0);
		CURL *c = r->curl;
		tries++;
		*code = 0;
		ns__buf_reset(resp);
		if (left < 50)
			left = 50;
		curl_easy_reset(c);
		errbuf[0] = '\0';
		curl_easy_setopt(c, CURLOPT_URL, q->url);
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, left);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, left < 10000 ? left : 10000L);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "netsec-mlflow-rest/1");
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
		if (r->user) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERNAME, r->user);
			curl_easy_setopt(c, CURLOPT_PASSWORD, r->password);
		}
		if (r->insecure) {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		if (r->ca_path)
			curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_path);
		if (r->client_cert)
			curl_easy_setopt(c, CURLOPT_SSLCERT, r->client_cert);
		if (q->upload) {
			if (fseeko(q->upload, 0, SEEK_SET) != 0) {
				curl_slist_free_all(headers);
				return ns_diag_set(diag, NS_ERR_IO, "%s: cannot rewind the file",
						   q->what);
			}
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, q->upload);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, q->upload_size);
		} else if (q->json) {
			curl_easy_setopt(c, CURLOPT_POST, 1L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->json);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
					 (curl_off_t)strlen(q->json));
		} else {
			curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		}
		cc = curl_easy_perform(c);
		if (cc == CURLE_OK) {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
			if (*code != 429 && *code < 500)
				break;
		} else if (!retryable_curl(cc)) {
			break;
		}
		left = r->timeout_ms - (long)((ns__mono_seconds() - t0) * 1000.0);
		if (tries > r->retries || left <= delay)
			break;
		ns_log(NS_LOG_DEBUG, "tracking: %s: %s; retrying in %ld ms", q->what,
		       cc == CURLE_OK ? "server busy or failing" : curl_easy_strerror(cc), delay);
		sleep_ms(delay);
		delay *= 2;
	}
	curl_slist_free_all(headers);
	curl_easy_reset(r->curl); /* drop pointers to our buffers and secrets */
	if (cc == CURLE_OK && *code != 429 && *code < 500)
		return NS_OK;
	if (cc == CURLE_OK) {
		/* 429 or 5xx after every try: a response, but the server is failing. */
		snprintf(r->down_msg, sizeof(r->down_msg),
			 "the MLflow server at %s kept failing (%s: HTTP %ld, %ld tries in %.1f s)",
			 r->base, q->what, *code, tries, ns__mono_seconds() - t0);
	} else if (retryable_curl(cc)) {
		snprintf(r->down_msg, sizeof(r->down_msg),
			 "cannot reach the MLflow server at %s (%s: %s; %ld tries in %.1f s)",
			 r->base, q->what, errbuf[0] ? errbuf : curl_easy_strerror(cc), tries,
			 ns__mono_seconds() - t0);
	} else {
		return ns_diag_set(diag, NS_ERR_IO, "MLflow server at %s: %s: %s", r->base, q->what,
				   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	r->down = true;
	return ns_diag_set(diag, NS_ERR_IO, "%s", r->down_msg);
}

/*
 * One MLflow API call: `endpoint` after /api/2.0/mlflow/ (with its query
 * for GET), `json` the POST body (NULL for GET).  OUT *out (may be NULL):
 * the parsed 200 response.  OUT err_code (64 bytes, may be NULL): MLflow's
 * error_code of a failed call.  NS_ERR_NOTFOUND (RESOURCE_DOES_NOT_EXIST or
 * 404), NS_ERR_EXISTS (RESOURCE_ALREADY_EXISTS), NS_ERR_IO (other
 * 400s, auth, other statuses, unreachable), NS_ERR_CORRUPT (a
 * 200 that is not JSON), NS_ERR_NOMEM.
 */
static enum ns_status api(struct rest *r, const char *endpoint, const char *json,
			  struct ns_json_doc **out, char *err_code, struct ns_diag *diag)
{
	struct ns__buf url, resp, what;
	struct request q;
	enum ns_status st;
	long code = 0;

	if (err_code)
		err_code[0] = '\0';
	ns__buf_init(&url, 0);
	ns__buf_init(&resp, RESPONSE_MAX + 1);
	ns__buf_init(&what, 0);
	if (ns__buf_printf(&url, "%s" API "%s", r->base, endpoint) != NS_OK ||
	    ns__buf_printf(&what, "%s %.*s", json ? "POST" : "GET", (int)strcspn(endpoint, "?"),
			   endpoint) != NS_OK) {
		st = nomem(diag);
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.method = json ? "POST" : "GET";
	q.url = url.data;
	q.what = what.data;
	q.json = json;
	st = perform(r, &q, &code, &resp, diag);
	if (st != NS_OK)
		goto out;
	if (code == 200) {
		struct ns_json_doc *doc = NULL;
		if (!out)
			goto out;
		st = ns_json_parse(resp.len ? resp.data : "{}", resp.len ? resp.len : 2,
				   "MLflow response", NULL, &doc, diag);
		if (st == NS_OK && ns_json_type(ns_json_root(doc)) != NS_JSON_OBJECT) {
			ns_json_doc_free(doc);
			doc = NULL;
			st = NS_ERR_PARSE;
		}
		if (st == NS_ERR_NOMEM)
			goto out;
		if (st != NS_OK) {
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "%s: the response is not a JSON object", what.data);
			goto out;
		}
		*out = doc;
		goto out;
	}
	{
		/* MLflow's error shape: {"error_code": "...", "message": "..."}. */
		struct ns_json_doc *doc = NULL;
		const char *ec = NULL, *msg = NULL;
		if (resp.len &&
		    ns_json_parse(resp.data, resp.len, "MLflow error", NULL, &doc, NULL) == NS_OK) {
			ec = ns_json_string(ns_json_get(ns_json_root(doc), "error_code"), NULL);
			msg = ns_json_string(ns_json_get(ns_json_root(doc), "message"), NULL);
		}
		if (err_code)
			snprintf(err_code, 64, "%s", ec ? ec : "");
		if (ec && strcmp(ec, "RESOURCE_DOES_NOT_EXIST") == 0)
			st = NS_ERR_NOTFOUND;
		else if (ec && strcmp(ec, "RESOURCE_ALREADY_EXISTS") == 0)
			st = NS_ERR_EXISTS;
		else if (code == 404)
			st = NS_ERR_NOTFOUND;
		else
			st = NS_ERR_IO; /* a 400 too: the server refused, the input was ours */
		ns_diag_set(diag, st, "MLflow server at %s: %s: HTTP %ld%s%s%s%.300s%s", r->base,
			    what.data, code, ec ? " " : "", ec ? ec : "", msg ? ": " : "",
			    msg ? msg : "",
			    code == 401   ? " (check MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN)"
			    : code == 403 ? " (permission denied)"
					  : "");
		ns_json_doc_free(doc);
	}
out:
	ns__buf_fini(&url);
	ns__buf_fini(&resp);
	ns__buf_fini(&what);
	return st;
}

/* A string field of an object, bounded; NULL when missing or too long. */
static const char *json_str(const struct ns_json *o, const char *key, size_t max)
{
	size_t len = 0;
	const char *s = ns_json_string(ns_json_get(o, key), &len);
	return s && len <= max && strlen(s) == len ? s : NULL;
}

/* ---- experiments ------------------------------------------------------------------------ */

static enum ns_status get_by_name(struct rest *r, const char *name, char *id, size_t id_size,
				  struct ns_diag *diag)
{
	struct ns__buf ep;
	struct ns_json_doc *doc = NULL;
	const struct ns_json *exp;
	const char *eid, *stage;
	enum ns_status st;

	ns__buf_init(&ep, 0);
	st = ns__buf_append(&ep, "experiments/get-by-name?experiment_name=", 40);
	if (st == NS_OK)
		st = url_escape(&ep, name, false);
	if (st != NS_OK) {
		ns__buf_fini(&ep);
		return nomem(diag);
	}
	st = api(r, ep.data, NULL, &doc, NULL, diag);
	ns__buf_fini(&ep);
	if (st != NS_OK)
		return st;
	exp = ns_json_get(ns_json_root(doc), "experiment");
	eid = json_str(exp, "experiment_id", NS_TRACK_EXPERIMENT_ID_MAX - 1);
	stage = json_str(exp, "lifecycle_stage", 64);
	if (!eid || !ns__track_valid_experiment_id(eid)) {
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "MLflow server at %s: experiments/get-by-name: no valid "
				 "experiment.experiment_id in the response",
				 r->base);
	} else if (stage && strcmp(stage, "active") != 0) {
		st = ns_diag_set(diag, NS_ERR_INVALID,
				 "experiment '%s' (id %s) is deleted on the MLflow server at %s; "
				 "restore it or use another name",
				 name, eid, r->base);
	} else if (strlen(eid) >= id_size) {
		st = ns_diag_set(diag, NS_ERR_LIMIT, "experiment id buffer too small");
	} else {
		memcpy(id, eid, strlen(eid) + 1);
	}
	ns_json_doc_free(doc);
	return st;
}

static enum ns_status rest_experiment(void *impl, const char *name, char *id, size_t id_size,
				      struct ns_diag *diag)
{
	struct rest *r = impl;
	struct ns_json_doc *doc = NULL;
	struct ns__buf body;
	const char *eid;
	enum ns_status st = get_by_name(r, name, id, id_size, diag);
	if (st != NS_ERR_NOTFOUND)
		return st;
	ns_diag_clear(diag);
	ns__buf_init(&body, 0);
	st = ns__buf_append(&body, "{\"name\":", 8);
	if (st == NS_OK)
		st = ns__json_string(&body, name);
	if (st == NS_OK)
		st = ns__buf_append(&body, "}", 1);
	if (st != NS_OK) {
		ns__buf_fini(&body);
		return nomem(diag);
	}
	st = api(r, "experiments/create", body.data, &doc, NULL, diag);
	ns__buf_fini(&body);
	if (st == NS_ERR_EXISTS) {
		/* Another client created it between our two calls. */
		ns_diag_clear(diag);
		return get_by_name(r, name, id, id_size, diag);
	}
	if (st != NS_OK)
		return st;
	eid = json_str(ns_json_root(doc), "experiment_id", NS_TRACK_EXPERIMENT_ID_MAX - 1);
	if (!eid || !ns__track_valid_experiment_id(eid))
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "MLflow server at %s: experiments/create: no valid experiment_id "
				 "in the response",
				 r->base);
	else if (strlen(eid) >= id_size)
		st = ns_diag_set(diag, NS_ERR_LIMIT, "experiment id buffer too small");
	else
		memcpy(id, eid, strlen(eid) + 1);
	ns_json_doc_free(doc);
	return st;
}

/* ---- runs ----------------------------------------------------------------------------------- */

static enum ns_status rest_run_exists(void *impl, const char *run_id, bool *exists,
				      struct ns_diag *diag)
{
	struct rest *r = impl;
	struct ns__buf ep;
	enum ns_status st;
	ns__buf_init(&ep, 0);
	st = ns__buf_append(&ep, "runs/get?run_id=", 16);
	if (st == NS_OK)
		st = url_escape(&ep, run_id, false);
	if (st != NS_OK) {
		ns__buf_fini(&ep);
		return nomem(diag);
	}
	st = api(r, ep.data, NULL, NULL, NULL, diag);
	ns__buf_fini(&ep);
	*exists = st == NS_OK;
	if (st == NS_ERR_NOTFOUND) {
		ns_diag_clear(diag);
		st = NS_OK;
	}
	return st;
}

static void rest_run_free(void *p)
{
	struct rest_run *run = p;
	if (!run)
		return;
	ns_free(run->artifact_uri);
	ns__rest_batch_fini(&run->batch);
	for (size_t i = 0; i < run->n_params; i++) {
		ns_free(run->params[i].key);
		ns_free(run->params[i].value);
	}
	ns_free(run->params);
	ns_free(run);
}

static enum ns_status rest_run_create(void *impl, const struct ns__track_run_spec *spec,
				      char *run_id, void **out, struct ns_diag *diag)
{
	struct rest *r = impl;
	struct rest_run *run = NULL;
	struct ns_json_doc *doc = NULL;
	const struct ns_json *info;
	const char *rid, *art;
	struct ns__buf b;
	enum ns_status st;

	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "{\"experiment_id\":", 17);
	if (st == NS_OK)
		st = ns__json_string(&b, spec->experiment_id);
	if (st == NS_OK)
		st = ns__buf_append(&b, ",\"user_id\":", 11);
	if (st == NS_OK)
		st = ns__json_string(&b, spec->user_id);
	if (st == NS_OK && spec->run_name) {
		st = ns__buf_append(&b, ",\"run_name\":", 12);
		if (st == NS_OK)
			st = ns__json_string(&b, spec->run_name);
	}
	if (st == NS_OK)
		st = ns__buf_printf(&b, ",\"start_time\":%" PRId64 ",\"tags\":[", spec->start_time);
	for (size_t i = 0; st == NS_OK && i < spec->n_tags; i++) {
		if (i)
			st = ns__buf_append(&b, ",", 1);
		if (st == NS_OK)
			st = kv_entry(&b, spec->tags[i].key, spec->tags[i].value);
	}
	if (st == NS_OK)
		st = ns__buf_append(&b, "]}", 2);
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return nomem(diag);
	}
	st = api(r, "runs/create", b.data, &doc, NULL, diag);
	ns__buf_fini(&b);
	if (st != NS_OK)
		return st;
	info = ns_json_get(ns_json_get(ns_json_root(doc), "run"), "info");
	rid = json_str(info, "run_id", NS_TRACK_RUN_ID_MAX - 1);
	if (!rid)
		rid = json_str(info, "run_uuid", NS_TRACK_RUN_ID_MAX - 1);
	art = json_str(info, "artifact_uri", 8192);
	if (!rid || !ns__track_valid_run_id(rid)) {
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "MLflow server at %s: runs/create: no valid run.info.run_id in "
				 "the response",
				 r->base);
		goto out;
	}
	run = ns_calloc(1, sizeof(*run));
	if (!run || !(run->artifact_uri = ns_strdup(art ? art : ""))) {
		st = nomem(diag);
		goto out;
	}
	ns__rest_batch_init(&run->batch);
	snprintf(run->run_id, sizeof(run->run_id), "%s", rid);
	snprintf(run->experiment_id, sizeof(run->experiment_id), "%s", spec->experiment_id);
	memcpy(run_id, run->run_id, strlen(run->run_id) + 1);
	*out = run;
	run = NULL;
out:
	if (run) {
		ns_free(run->artifact_uri);
		ns_free(run);
	}
	ns_json_doc_free(doc);
	return st;
}

/* Sends the buffered entries (one runs/log-batch) and empties the buffer,
 * whatever the outcome: what failed is kept by the caller's local copy. */
static enum ns_status flush(struct rest *r, struct rest_run *run, struct ns_diag *diag)
{
	struct ns__buf body;
	enum ns_status st;
	if (ns__rest_batch_empty(&run->batch))
		return NS_OK;
	ns__buf_init(&body, 0);
	st = ns__rest_batch_body(&run->batch, run->run_id, &body);
	if (st == NS_OK)
		st = api(r, "runs/log-batch", body.data, NULL, NULL, diag);
	else
		nomem(diag);
	ns__buf_fini(&body);
	ns__rest_batch_reset(&run->batch);
	return st;
}

typedef enum ns_status (*add_fn)(struct rest_run *run, const void *entry);

struct entry {
	const char *key, *value;
	double number;
	int64_t timestamp, step;
};

static enum ns_status add_metric(struct rest_run *run, const void *p)
{
	const struct entry *e = p;
	return ns__rest_batch_add_metric(&run->batch, e->key, e->number, e->timestamp, e->step);
}

static enum ns_status add_param(struct rest_run *run, const void *p)
{
	const struct entry *e = p;
	return ns__rest_batch_add_param(&run->batch, e->key, e->value);
}

static enum ns_status add_tag(struct rest_run *run, const void *p)
{
	const struct entry *e = p;
	return ns__rest_batch_add_tag(&run->batch, e->key, e->value);
}

/* Buffers one entry, sending the batch first when it is full. */
static enum ns_status buffer(struct rest *r, struct rest_run *run, add_fn add,
			     const struct entry *e, struct ns_diag *diag)
{
	enum ns_status st = add(run, e);
	if (st == NS_ERR_LIMIT) {
		st = flush(r, run, diag);
		if (st != NS_OK)
			return st;
		st = add(run, e);
		if (st == NS_ERR_LIMIT)
			return ns_diag_set(diag, NS_ERR_LIMIT, "'%s' is too large for one request",
					   e->key);
	}
	if (st == NS_ERR_NOMEM)
		return nomem(diag);
	if (st != NS_OK)
		return ns_diag_set(diag, st, "cannot buffer '%s'", e->key);
	return NS_OK;
}

static enum ns_status rest_log_param(void *impl, void *p, const char *key, const char *value,
				     struct ns_diag *diag)
{
	struct rest_run *run = p;
	struct entry e = {key, value, 0, 0, 0};
	struct kv *grown;
	enum ns_status st;
	/* MLflow refuses a changed param, and a batch holding one key twice. */
	for (size_t i = 0; i < run->n_params; i++) {
		if (strcmp(run->params[i].key, key) != 0)
			continue;
		if (strcmp(run->params[i].value, value) == 0)
			return NS_OK;
		return ns_diag_set(diag, NS_ERR_EXISTS,
				   "changing param values is not allowed: param '%s' was already "
				   "logged with value '%.100s', not '%.100s'",
				   key, run->params[i].value, value);
	}
	grown = ns_reallocarray(run->params, run->n_params + 1, sizeof(*grown));
	if (!grown)
		return nomem(diag);
	run->params = grown;
	grown[run->n_params].key = ns_strdup(key);
	grown[run->n_params].value = ns_strdup(value);
	if (!grown[run->n_params].key || !grown[run->n_params].value) {
		ns_free(grown[run->n_params].key);
		ns_free(grown[run->n_params].value);
		return nomem(diag);
	}
	run->n_params++;
	st = buffer(impl, run, add_param, &e, diag);
	return st;
}

static enum ns_status rest_log_metric(void *impl, void *p, const char *key, double value,
				      int64_t timestamp, int64_t step, struct ns_diag *diag)
{
	struct entry e = {key, NULL, value, timestamp, step};
	return buffer(impl, p, add_metric, &e, diag);
}

static enum ns_status rest_set_tag(void *impl, void *p, const char *key, const char *value,
				   struct ns_diag *diag)
{
	struct entry e = {key, value, 0, 0, 0};
	return buffer(impl, p, add_tag, &e, diag);
}

static const char *status_name(int status)
{
	switch (status) {
	case NS__MLFLOW_RUNNING:
		return "RUNNING";
	case NS__MLFLOW_SCHEDULED:
		return "SCHEDULED";
	case NS__MLFLOW_FINISHED:
		return "FINISHED";
	case NS__MLFLOW_FAILED:
		return "FAILED";
	default:
		return "KILLED";
	}
}

static enum ns_status rest_run_update(void *impl, void *p, int status, int64_t end_time,
				      struct ns_diag *diag)
{
	struct rest *r = impl;
	struct rest_run *run = p;
	struct ns__buf b;
	enum ns_status st = flush(r, run, diag);
	if (st != NS_OK)
		return st;
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "{\"run_id\":", 10);
	if (st == NS_OK)
		st = ns__json_string(&b, run->run_id);
	if (st == NS_OK)
		st = ns__buf_printf(&b, ",\"status\":\"%s\",\"end_time\":%" PRId64 "}",
				    status_name(status), end_time);
	if (st == NS_OK)
		st = api(r, "runs/update", b.data, NULL, NULL, diag);
	else
		nomem(diag);
	ns__buf_fini(&b);
	return st;
}

/* ---- artifacts --------------------------------------------------------------------------------- */

/* The URL artifacts of this run go under (no trailing '/'), or NULL with
 * NS_ERR_UNSUPPORTED for a store netsec cannot write through the server. */
static enum ns_status artifact_base(struct rest *r, const struct rest_run *run, struct ns__buf *out,
				    struct ns_diag *diag)
{
	const char *a = run->artifact_uri;
	enum ns_status st;
	size_t n;
	if (strncmp(a, "mlflow-artifacts:", 17) == 0) {
		const char *rest = a + 17;
		if (strncmp(rest, "//", 2) == 0 && rest[2] != '/') {
			/* mlflow-artifacts://host:port/path: that host, our scheme. */
			const char *host = rest + 2;
			const char *path = host + strcspn(host, "/");
			size_t scheme = (size_t)(strstr(r->base, "://") - r->base);
			st = ns__buf_printf(out, "%.*s://%.*s" ARTIFACTS_API "%s", (int)scheme,
					    r->base, (int)(path - host), host, path);
		} else {
			while (*rest == '/')
				rest++;
			st = ns__buf_printf(out, "%s" ARTIFACTS_API "/%s", r->base, rest);
		}
	} else if (strncmp(a, "http://", 7) == 0 || strncmp(a, "https://", 8) == 0) {
		st = ns__buf_append(out, a, strlen(a));
	} else {
		return ns_diag_set(
			diag, NS_ERR_UNSUPPORTED,
			"the MLflow server keeps this run's artifacts at '%.200s', which "
			"netsec cannot write to; start the server with artifact "
			"proxying (mlflow server --serve-artifacts, the default since "
			"MLflow 2.0) so that runs get mlflow-artifacts: URIs",
			a[0] ? a : "(no artifact_uri)");
	}
	if (st != NS_OK)
		return nomem(diag);
	n = out->len;
	while (n > 0 && out->data[n - 1] == '/')
		n--;
	out->len = n;
	out->data[n] = '\0';
	return NS_OK;
}

static enum ns_status put_file(struct rest *r, const char *base, const char *rel_dir,
			       const char *name, const char *local, struct ns_diag *diag)
{
	struct ns__buf url, what, resp;
	struct request q;
	struct stat sb;
	enum ns_status st;
	long code = 0;
	FILE *fp = fopen(local, "rb");
	if (!fp) {
		ns_diag_where(diag, local, 0, 0, NULL);
		return ns_diag_set(diag, errno == ENOENT ? NS_ERR_NOTFOUND : NS_ERR_IO,
				   "cannot open the artifact: %s", strerror(errno));
	}
	if (fstat(fileno(fp), &sb) != 0) {
		fclose(fp);
		return ns_diag_set(diag, NS_ERR_IO, "cannot stat %s", local);
	}
	ns__buf_init(&url, 0);
	ns__buf_init(&what, 0);
	ns__buf_init(&resp, RESPONSE_MAX + 1);
	st = ns__buf_printf(&url, "%s/", base);
	if (st == NS_OK && *rel_dir) {
		st = url_escape(&url, rel_dir, true);
		if (st == NS_OK && url.data[url.len - 1] != '/')
			st = ns__buf_append(&url, "/", 1);
	}
	if (st == NS_OK)
		st = url_escape(&url, name, false);
	if (st == NS_OK)
		st = ns__buf_printf(&what, "PUT artifact %s%s%s", rel_dir, *rel_dir ? "/" : "",
				    name);
	if (st != NS_OK) {
		st = nomem(diag);
		goto out;
	}
	memset(&q, 0, sizeof(q));
	q.method = "PUT";
	q.url = url.data;
	q.what = what.data;
	q.upload = fp;
	q.upload_size = (curl_off_t)sb.st_size;
	st = perform(r, &q, &code, &resp, diag);
	if (st == NS_OK && code != 200 && code != 201 && code != 204) {
		struct ns_json_doc *doc = NULL;
		const char *msg = NULL;
		if (resp.len &&
		    ns_json_parse(resp.data, resp.len, "MLflow error", NULL, &doc, NULL) == NS_OK)
			msg = ns_json_string(ns_json_get(ns_json_root(doc), "message"), NULL);
		st = ns_diag_set(diag, code == 404 ? NS_ERR_UNSUPPORTED : NS_ERR_IO,
				 "MLflow server at %s: %s: HTTP %ld%s%.300s%s", r->base, what.data,
				 code, msg ? ": " : "", msg ? msg : "",
				 code == 404 ? " (is artifact proxying on? mlflow server "
					       "--serve-artifacts)"
					     : "");
		ns_json_doc_free(doc);
	}
out:
	fclose(fp);
	ns__buf_fini(&url);
	ns__buf_fini(&what);
	ns__buf_fini(&resp);
	return st;
}

static enum ns_status put_tree(struct rest *r, const char *base, const char *dir,
			       const char *rel_dir, int depth, struct ns_diag *diag)
{
	enum ns_status st = NS_OK;
	DIR *d;
	if (depth > ARTIFACT_DEPTH_MAX)
		return ns_diag_set(diag, NS_ERR_LIMIT, "%s: folders nested more than %d deep", dir,
				   ARTIFACT_DEPTH_MAX);
	d = opendir(dir);
	if (!d)
		return ns_diag_set(diag, NS_ERR_IO, "cannot list %s: %s", dir, strerror(errno));
	for (;;) {
		struct dirent *e = readdir(d);
		struct ns__buf path, rel;
		struct stat sb;
		if (!e)
			break;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		ns__buf_init(&path, 0);
		ns__buf_init(&rel, 0);
		if (ns__buf_printf(&path, "%s/%s", dir, e->d_name) != NS_OK ||
		    ns__buf_printf(&rel, "%s%s%s", rel_dir, *rel_dir ? "/" : "", e->d_name) !=
			    NS_OK) {
			st = nomem(diag);
		} else if (lstat(path.data, &sb) != 0) {
			st = ns_diag_set(diag, NS_ERR_IO, "cannot stat %s", path.data);
		} else if (S_ISDIR(sb.st_mode)) {
			st = put_tree(r, base, path.data, rel.data, depth + 1, diag);
		} else if (S_ISREG(sb.st_mode) ||
			   (S_ISLNK(sb.st_mode) && stat(path.data, &sb) == 0 &&
			    S_ISREG(sb.st_mode))) {
			st = put_file(r, base, rel_dir, e->d_name, path.data, diag);
		} else {
			ns_log(NS_LOG_WARN, "artifact: skipping %s (not a regular file or folder)",
			       path.data);
		}
		ns__buf_fini(&path);
		ns__buf_fini(&rel);
		if (st != NS_OK)
			break;
	}
	closedir(d);
	return st;
}

static enum ns_status rest_log_artifact(void *impl, void *p, const char *local_path,
					const char *artifact_dir, struct ns_diag *diag)
{
	struct rest *r = impl;
	struct rest_run *run = p;
	struct ns__buf base, dir;
	struct stat sb;
	enum ns_status st;

	if (stat(local_path, &sb) != 0) {
		ns_diag_where(diag, local_path, 0, 0, NULL);
		return ns_diag_set(diag, errno == ENOENT ? NS_ERR_NOTFOUND : NS_ERR_IO,
				   "cannot read the artifact: %s", strerror(errno));
	}
	ns__buf_init(&base, 0);
	ns__buf_init(&dir, 0);
	st = artifact_base(r, run, &base, diag);
	if (st != NS_OK)
		goto out;
	/* artifact_dir was validated; drop a trailing '/'. */
	if (ns__buf_append(&dir, artifact_dir, strlen(artifact_dir)) != NS_OK) {
		st = nomem(diag);
		goto out;
	}
	if (dir.len && dir.data[dir.len - 1] == '/')
		dir.data[--dir.len] = '\0';
	if (S_ISDIR(sb.st_mode)) {
		st = put_tree(r, base.data, local_path, dir.data, 0, diag);
	} else if (S_ISREG(sb.st_mode)) {
		const char *name = strrchr(local_path, '/');
		name = name ? name + 1 : local_path;
		st = put_file(r, base.data, dir.data, name, local_path, diag);
	} else {
		ns_diag_where(diag, local_path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_UNSUPPORTED, "not a regular file or folder");
	}
out:
	ns__buf_fini(&base);
	ns__buf_fini(&dir);
	return st;
}

static enum ns_status rest_reap(void *impl, ns__track_orphan_fn orphan, void *user,
				int64_t end_time, size_t *n_marked, struct ns_diag *diag)
{
	(void)impl;
	(void)orphan;
	(void)user;
	(void)end_time;
	(void)diag;
	*n_marked = 0;
	return NS_OK;
}

const struct ns__track_backend ns__track_mlflow_http = {
	.scheme = "http",
	.open = rest_open,
	.close = rest_close,
	.experiment = rest_experiment,
	.run_exists = rest_run_exists,
	.run_create = rest_run_create,
	.run_free = rest_run_free,
	.log_param = rest_log_param,
	.log_metric = rest_log_metric,
	.set_tag = rest_set_tag,
	.log_artifact = rest_log_artifact,
	.run_update = rest_run_update,
	.reap = rest_reap,
};

const struct ns__track_backend ns__track_mlflow_https = {
	.scheme = "https",
	.open = rest_open,
	.close = rest_close,
	.experiment = rest_experiment,
	.run_exists = rest_run_exists,
	.run_create = rest_run_create,
	.run_free = rest_run_free,
	.log_param = rest_log_param,
	.log_metric = rest_log_metric,
	.set_tag = rest_set_tag,
	.log_artifact = rest_log_artifact,
	.run_update = rest_run_update,
	.reap = rest_reap,
};
