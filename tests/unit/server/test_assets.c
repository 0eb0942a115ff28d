/*
 * tests/unit/server/test_assets.c - the /docs assets: Swagger UI embedded from
 * swagger-ui-dist, the page and its init script, content types and ETags.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "assets.h"
#include "netsec/core.h"

static const struct {
	const char *path;
	const char *type;
} expected[] = {
	{"/docs", "text/html; charset=utf-8"},
	{"/docs/init.js", "text/javascript; charset=utf-8"},
	{"/docs/swagger-ui.css", "text/css; charset=utf-8"},
	{"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
	{"/docs/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"},
	{"/docs/favicon-32x32.png", "image/png"},
	{"/docs/favicon-16x16.png", "image/png"},
	{"/docs/LICENSE", "text/plain; charset=utf-8"},
	{"/docs/NOTICE", "text/plain; charset=utf-8"},
};
#define N_EXPECTED (sizeof(expected) / sizeof(expected[0]))

static const struct srv_asset *must_find(const char *path)
{
	const struct srv_asset *a = srv_asset_find(path);
	if (!a)
		fail_msg("no asset %s", path);
	return a;
}

static const char *text_of(const char *path)
{
	const struct srv_asset *a = must_find(path);
	/* Every asset is NUL-terminated after len bytes. */
	assert_int_equal(a->data[a->len], 0);
	assert_int_equal(strlen((const char *)a->data), a->len);
	return (const char *)a->data;
}

static void *find_from_thread(void *arg)
{
	(void)arg;
	return (void *)srv_asset_find("/docs/swagger-ui-bundle.js")->etag;
}

/* Runs first, so the threads race on the one-time ETag computation. */
static void test_concurrent_first_use(void **state)
{
	pthread_t th[4];
	void *etag[4];
	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, find_from_thread, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], &etag[i]), 0);
	for (int i = 1; i < 4; i++)
		assert_ptr_equal(etag[i], etag[0]);
	assert_int_equal(strlen((const char *)etag[0]), 66);
}

static void test_all_present(void **state)
{
	(void)state;
	assert_int_equal(srv_asset_count(), N_EXPECTED);
	for (size_t i = 0; i < N_EXPECTED; i++) {
		const struct srv_asset *a = must_find(expected[i].path);
		assert_string_equal(a->path, expected[i].path);
		assert_string_equal(a->content_type, expected[i].type);
		assert_non_null(a->data);
		assert_true(a->len > 0);
		assert_int_equal(a->data[a->len], 0);
	}
	for (size_t i = 0; i < srv_asset_count(); i++) {
		const struct srv_asset *a = srv_asset_at(i);
		assert_non_null(a);
		assert_ptr_equal(srv_asset_find(a->path), a);
	}
	assert_null(srv_asset_at(srv_asset_count()));
	assert_null(srv_asset_at((size_t)-1));
}

static void test_not_found(void **state)
{
	static const char *misses[] = {"",
				       "/",
				       "/docs/",
				       "/DOCS",
				       "/docs/index.html",
				       "/docs/../docs/LICENSE",
				       "/docs/LICENSE/",
				       "/docs/swagger-ui.css?v=1",
				       "/docs/swagger-ui.css.map",
				       "/openapi.json"};
	(void)state;
	assert_null(srv_asset_find(NULL));
	for (size_t i = 0; i < sizeof(misses) / sizeof(misses[0]); i++)
		assert_null(srv_asset_find(misses[i]));
}

static void test_embedded_files(void **state)
{
	static const unsigned char png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	const char *license = text_of("/docs/LICENSE");
	(void)state;
	assert_non_null(strstr(license, "Apache License"));
	assert_non_null(strstr(license, "Version 2.0"));
	assert_non_null(strstr(text_of("/docs/NOTICE"), "swagger-ui"));
	assert_non_null(strstr(text_of("/docs/swagger-ui-bundle.js.LICENSE.txt"), "MIT"));
	/* Whole files, not truncated: the bundle is over a megabyte. */
	assert_true(must_find("/docs/swagger-ui-bundle.js")->len > 1000000);
	assert_non_null(strstr(text_of("/docs/swagger-ui-bundle.js"), "SwaggerUIBundle"));
	assert_true(must_find("/docs/swagger-ui.css")->len > 50000);
	assert_non_null(strstr(text_of("/docs/swagger-ui.css"), ".swagger-ui"));
	assert_memory_equal(must_find("/docs/favicon-32x32.png")->data, png_magic, 8);
	assert_memory_equal(must_find("/docs/favicon-16x16.png")->data, png_magic, 8);
}

/* Checks every value of attr="..." in html; returns how many there were. */
static int check_refs(const char *html, const char *attr)
{
	char needle[16];
	int n = 0;
	snprintf(needle, sizeof(needle), " %s=\"", attr);
	for (const char *p = strstr(html, needle); p; p = strstr(p, needle)) {
		const char *v = p + strlen(needle);
		const char *end = strchr(v, '"');
		char ref[128];
		assert_non_null(end);
		assert_true((size_t)(end - v) < sizeof(ref));
		memcpy(ref, v, (size_t)(end - v));
		ref[end - v] = '\0';
		/* Own files by absolute path (right from /docs and /docs/), or the
		 * OpenAPI document in the <noscript> note. */
		if (strcmp(ref, "/openapi.json") != 0) {
			if (strncmp(ref, "/docs/", 6) != 0)
				fail_msg("%s=\"%s\" is not under /docs/", attr, ref);
			if (!srv_asset_find(ref))
				fail_msg("%s=\"%s\" is not an asset", attr, ref);
		}
		n++;
		p = end;
	}
	return n;
}

static void test_page(void **state)
{
	const char *html = text_of("/docs");
	const char *js = text_of("/docs/init.js");
	(void)state;
	assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
	assert_non_null(strstr(html, "<title>netsec API</title>"));
	assert_non_null(strstr(html, "<div id=\"swagger-ui\"></div>"));
	assert_int_equal(check_refs(html, "src"), 2);
	assert_int_equal(check_refs(html, "href"), 4);
	assert_non_null(strstr(html, "src=\"/docs/swagger-ui-bundle.js\""));
	assert_non_null(strstr(html, "src=\"/docs/init.js\""));
	assert_non_null(strstr(html, "href=\"/docs/swagger-ui.css\""));
	/* Nothing from elsewhere, no inline script or style, no handlers. */
	assert_null(strstr(html, "//"));
	assert_null(strstr(html, "<script>"));
	assert_null(strstr(html, "<style"));
	assert_null(strstr(html, "style="));
	assert_null(strstr(html, "onload"));
	/* The bundle comes before the init script that calls it. */
	assert_true(strstr(html, "swagger-ui-bundle.js") < strstr(html, "init.js"));

	assert_non_null(strstr(js, "SwaggerUIBundle({"));
	assert_non_null(strstr(js, "url: \"/openapi.json\""));
	assert_non_null(strstr(js, "dom_id: \"#swagger-ui\""));
	assert_non_null(strstr(js, "validatorUrl: null"));
	assert_non_null(strstr(js, "deepLinking: true"));
	assert_non_null(strstr(js, "presets: [SwaggerUIBundle.presets.apis]"));
	assert_non_null(strstr(js, "layout: \"BaseLayout\""));
	assert_null(strstr(js, "//"));
}

static void test_etags(void **state)
{
	size_t n = srv_asset_count();
	(void)state;
	for (size_t i = 0; i < n; i++) {
		const struct srv_asset *a = srv_asset_at(i);
		struct ns_sha256 sha;
		uint8_t digest[32];
		char hex[65];

		/* Quoted, strong (no W/), the SHA-256 of the bytes served. */
		assert_int_equal(strlen(a->etag), 66);
		assert_int_equal(a->etag[0], '"');
		assert_int_equal(a->etag[65], '"');
		ns_sha256_init(&sha);
		ns_sha256_update(&sha, a->data, a->len);
		ns_sha256_final(&sha, digest);
		ns_sha256_hex(digest, hex);
		assert_memory_equal(a->etag + 1, hex, 64);

		/* Stable: the same string on every call. */
		assert_ptr_equal(srv_asset_at(i)->etag, a->etag);
		assert_string_equal(srv_asset_find(a->path)->etag, a->etag);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(srv_asset_at(j)->etag, a->etag);
	}
}

static void test_version(void **state)
{
	const char *v = srv_swagger_version();
	char pin[64];
	FILE *f;
	char *buf;
	long size;
	(void)state;
	assert_non_null(v);
	assert_int_equal(v[0], '5');
	assert_int_equal(v[1], '.');
	/* The version pinned in third_party/swagger-ui/package.json. */
	f = fopen(NETSEC_SOURCE_DIR "/third_party/swagger-ui/package.json", "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size > 0);
	rewind(f);
	buf = calloc(1, (size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	snprintf(pin, sizeof(pin), "\"swagger-ui-dist\": \"%s\"", v);
	assert_non_null(strstr(buf, pin));
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_concurrent_first_use),
		cmocka_unit_test(test_all_present),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_embedded_files),
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_etags),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
