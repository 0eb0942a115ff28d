/*
 * lib/cloud/sigv4.c - HMAC-SHA256 and AWS Signature Version 4.
 *
 * The S3 client lets libcurl sign its requests (CURLOPT_AWS_SIGV4); this is
 * our own implementation of the same algorithm, checked against AWS's
 * published test-suite vectors (tests/unit/cloud/test_sigv4.c) and used by
 * the tests to cross-check the Authorization header curl sends.  Pure
 * functions on caller-owned memory: thread-safe.
 */
#include <string.h>

#include "cloud/cloud_internal.h"

void ns__hmac_sha256(const void *key, size_t key_len, const void *msg, size_t msg_len,
		     uint8_t out[32])
{
	uint8_t k[64], pad[64], inner[32];
	struct ns_sha256 s;

	memset(k, 0, sizeof(k));
	if (key_len > sizeof(k)) {
		ns_sha256_init(&s);
		ns_sha256_update(&s, key, key_len);
		ns_sha256_final(&s, k);
	} else if (key_len) {
		memcpy(k, key, key_len);
	}
	for (size_t i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	ns_sha256_init(&s);
	ns_sha256_update(&s, pad, 64);
	ns_sha256_update(&s, msg, msg_len);
	ns_sha256_final(&s, inner);
	for (size_t i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	ns_sha256_init(&s);
	ns_sha256_update(&s, pad, 64);
	ns_sha256_update(&s, inner, 32);
	ns_sha256_final(&s, out);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum ns_status ns__sigv4_encode(struct ns__buf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		enum ns_status st;
		if (unreserved(c) || (keep_slash && c == '/')) {
			st = ns__buf_append(b, &s[i], 1);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			st = ns__buf_append(b, e, 3);
		}
		if (st != NS_OK)
			return st;
	}
	return NS_OK;
}

/* Decodes %XX (a '%' not followed by two hex digits stays as it is), then encodes. */
static enum ns_status reencode(struct ns__buf *b, const char *s, size_t n, bool keep_slash)
{
	struct ns__buf raw;
	enum ns_status st = NS_OK;
	ns__buf_init(&raw, 0);
	for (size_t i = 0; i < n && st == NS_OK; i++) {
		char c = s[i];
		if (c == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
		    hexval((unsigned char)s[i + 2]) >= 0) {
			c = (char)(hexval((unsigned char)s[i + 1]) * 16 +
				   hexval((unsigned char)s[i + 2]));
			i += 2;
		}
		st = ns__buf_append(&raw, &c, 1);
	}
	if (st == NS_OK)
		st = ns__sigv4_encode(b, raw.data ? raw.data : "", raw.len, keep_slash);
	ns__buf_fini(&raw);
	return st;
}

struct pair {
	char *name, *value; /* canonical (encoded or lower-cased) forms */
	size_t order;
};

static int pair_cmp(const struct pair *a, const struct pair *b)
{
	int c = strcmp(a->name, b->name);
	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

/* Insertion sort: few pairs, and stable with `order` as the tie-break. */
static void pairs_sort(struct pair *p, size_t n, bool by_value)
{
	for (size_t i = 1; i < n; i++) {
		struct pair x = p[i];
		size_t j = i;
		while (j > 0) {
			int c = strcmp(p[j - 1].name, x.name);
			if (c == 0 && by_value)
				c = strcmp(p[j - 1].value, x.value);
			if (c == 0 && !by_value)
				c = pair_cmp(&p[j - 1], &x);
			if (c <= 0)
				break;
			p[j] = p[j - 1];
			j--;
		}
		p[j] = x;
	}
}

static void pairs_free(struct pair *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		ns_free(p[i].name);
		ns_free(p[i].value);
	}
	ns_free(p);
}

static char *buf_take(struct ns__buf *b)
{
	char *s = b->data ? b->data : ns_strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return s;
}

static enum ns_status canonical_query(struct ns__buf *out, const char *q)
{
	struct pair *p = NULL;
	size_t n = 0, cap = 0;
	enum ns_status st = NS_OK;
	const char *s = q ? q : "";

	while (*s && st == NS_OK) {
		const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s);
		const char *eq = memchr(s, '=', (size_t)(end - s));
		struct ns__buf nb, vb;
		if (end == s) {
			s = amp ? amp + 1 : end;
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct pair *np = ns_reallocarray(p, nc, sizeof(*p));
			if (!np) {
				st = NS_ERR_NOMEM;
				break;
			}
			p = np;
			cap = nc;
		}
		ns__buf_init(&nb, 0);
		ns__buf_init(&vb, 0);
		st = reencode(&nb, s, (size_t)((eq ? eq : end) - s), false);
		if (st == NS_OK && eq)
			st = reencode(&vb, eq + 1, (size_t)(end - eq - 1), false);
		if (st == NS_OK) {
			p[n].name = buf_take(&nb);
			p[n].value = buf_take(&vb);
			p[n].order = n;
			if (!p[n].name || !p[n].value) {
				ns_free(p[n].name);
				ns_free(p[n].value);
				st = NS_ERR_NOMEM;
			} else {
				n++;
			}
		}
		ns__buf_fini(&nb);
		ns__buf_fini(&vb);
		s = amp ? amp + 1 : end;
	}
	if (st == NS_OK) {
		pairs_sort(p, n, true);
		for (size_t i = 0; i < n && st == NS_OK; i++)
			st = ns__buf_printf(out, "%s%s=%s", i ? "&" : "", p[i].name, p[i].value);
	}
	pairs_free(p, n);
	return st;
}

/* Lower-cases the name; trims the value and collapses inner runs of blanks. */
static enum ns_status canonical_header(const struct ns__sigv4_header *h, size_t order,
				       struct pair *out)
{
	size_t nl = strlen(h->name);
	const char *v = h->value ? h->value : "";
	struct ns__buf vb;
	enum ns_status st = NS_OK;
	bool blank = false;

	out->name = ns_malloc(nl + 1);
	if (!out->name)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < nl; i++) {
		char c = h->name[i];
		out->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	out->name[nl] = '\0';
	ns__buf_init(&vb, 0);
	while (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r')
		v++;
	for (; *v && st == NS_OK; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
			blank = true;
			continue;
		}
		if (blank)
			st = ns__buf_append(&vb, " ", 1);
		blank = false;
		if (st == NS_OK)
			st = ns__buf_append(&vb, v, 1);
	}
	out->value = st == NS_OK ? buf_take(&vb) : NULL;
	ns__buf_fini(&vb);
	out->order = order;
	if (!out->value) {
		ns_free(out->name);
		out->name = NULL;
		return st == NS_OK ? NS_ERR_NOMEM : st;
	}
	return NS_OK;
}

static void hex32(const uint8_t d[32], char out[65])
{
	ns_sha256_hex(d, out);
}

enum ns_status ns__sigv4_sign(const struct ns__sigv4_request *req, struct ns__sigv4_result *res)
{
	struct pair *h = NULL;
	struct ns__buf signed_names;
	enum ns_status st = NS_OK;
	uint8_t digest[32], k1[32], k2[32];
	char hex[65], date[9];
	struct ns_sha256 s;
	size_t n_h = req->n_headers;

	memset(res, 0, sizeof(*res));
	ns__buf_init(&res->canonical_request, 0);
	ns__buf_init(&res->string_to_sign, 0);
	ns__buf_init(&res->authorization, 0);
	ns__buf_init(&signed_names, 0);
	if (!req->method || !req->path || !req->payload_sha256 || !req->amz_date ||
	    strlen(req->amz_date) != 16 || req->amz_date[8] != 'T' || !req->region ||
	    !req->service || !req->access_key_id || !req->secret_access_key || n_h == 0)
		return NS_ERR_INVALID;
	memcpy(date, req->amz_date, 8);
	date[8] = '\0';

	/* Method, path (before any '?'), query. */
	st = ns__buf_printf(&res->canonical_request, "%s\n", req->method);
	if (st == NS_OK) {
		const char *q = strchr(req->path, '?');
		size_t pl = q ? (size_t)(q - req->path) : strlen(req->path);
		st = pl ? reencode(&res->canonical_request, req->path, pl, true)
			: ns__buf_append(&res->canonical_request, "/", 1);
	}
	if (st == NS_OK)
		st = ns__buf_append(&res->canonical_request, "\n", 1);
	if (st == NS_OK)
		st = canonical_query(&res->canonical_request, req->query);
	if (st == NS_OK)
		st = ns__buf_append(&res->canonical_request, "\n", 1);

	/* Headers: sorted by name, repeated names joined with ',' in order. */
	h = ns_calloc(n_h, sizeof(*h));
	if (!h && st == NS_OK)
		st = NS_ERR_NOMEM;
	for (size_t i = 0; i < n_h && st == NS_OK; i++) {
		st = canonical_header(&req->headers[i], i, &h[i]);
		if (st != NS_OK)
			n_h = i;
	}
	if (st == NS_OK) {
		pairs_sort(h, n_h, false);
		for (size_t i = 0; i < n_h && st == NS_OK; i++) {
			bool first = i == 0 || strcmp(h[i - 1].name, h[i].name) != 0;
			bool last = i + 1 == n_h || strcmp(h[i + 1].name, h[i].name) != 0;
			if (first) {
				st = ns__buf_printf(&res->canonical_request, "%s:", h[i].name);
				if (st == NS_OK)
					st = ns__buf_printf(&signed_names, "%s%s",
							    signed_names.len ? ";" : "", h[i].name);
			} else {
				st = ns__buf_append(&res->canonical_request, ",", 1);
			}
			if (st == NS_OK)
				st = ns__buf_printf(&res->canonical_request, "%s%s", h[i].value,
						    last ? "\n" : "");
		}
	}
	if (st == NS_OK)
		st = ns__buf_printf(&res->canonical_request, "\n%s\n%s", signed_names.data,
				    req->payload_sha256);

	/* String to sign. */
	if (st == NS_OK) {
		ns_sha256_init(&s);
		ns_sha256_update(&s, res->canonical_request.data, res->canonical_request.len);
		ns_sha256_final(&s, digest);
		hex32(digest, hex);
		st = ns__buf_printf(&res->string_to_sign,
				    "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s",
				    req->amz_date, date, req->region, req->service, hex);
	}

	/* Signing key: HMAC chain from "AWS4" + secret. */
	if (st == NS_OK) {
		struct ns__buf key;
		ns__buf_init(&key, 0);
		st = ns__buf_printf(&key, "AWS4%s", req->secret_access_key);
		if (st == NS_OK) {
			ns__hmac_sha256(key.data, key.len, date, 8, k1);
			ns__hmac_sha256(k1, 32, req->region, strlen(req->region), k2);
			ns__hmac_sha256(k2, 32, req->service, strlen(req->service), k1);
			ns__hmac_sha256(k1, 32, "aws4_request", 12, k2);
			ns__hmac_sha256(k2, 32, res->string_to_sign.data, res->string_to_sign.len,
					digest);
			hex32(digest, res->signature);
		}
		/* The key material is secret: wipe it. */
		if (key.data)
			memset(key.data, 0, key.len);
		ns__buf_fini(&key);
		memset(k1, 0, sizeof(k1));
		memset(k2, 0, sizeof(k2));
	}
	if (st == NS_OK)
		st = ns__buf_printf(&res->authorization,
				    "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request, "
				    "SignedHeaders=%s, Signature=%s",
				    req->access_key_id, date, req->region, req->service,
				    signed_names.data, res->signature);
	pairs_free(h, req->n_headers);
	ns__buf_fini(&signed_names);
	if (st != NS_OK)
		ns__sigv4_result_fini(res);
	return st;
}

void ns__sigv4_result_fini(struct ns__sigv4_result *res)
{
	ns__buf_fini(&res->canonical_request);
	ns__buf_fini(&res->string_to_sign);
	ns__buf_fini(&res->authorization);
}
