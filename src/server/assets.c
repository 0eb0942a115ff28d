/*
 * src/server/assets.c - the /docs asset table: Swagger UI's files embedded by
 * cmake/SwaggerAssets.cmake, plus the page and its init script written here.
 *
 * The page loads only /docs/... files and fetches /openapi.json; the init
 * code is a separate file rather than an inline script so that the page runs
 * under a CSP without 'unsafe-inline' for scripts (see SRV_DOCS_CSP).
 * ETags are SHA-256 digests, computed once under pthread_once.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "assets.h"
#include "netsec/core.h"

#if !defined(NETSEC_SWAGGER_UI_EMBEDDED) || !defined(NETSEC_SWAGGER_UI_VERSION)
#error "Swagger UI is not embedded: build through CMake (cmake/SwaggerAssets.cmake)"
#endif

/* Defined in the generated swagger_assets.S: the bytes, then a NUL. */
#define SRV_EMBEDDED(id) \
	extern const unsigned char srv__asset_##id[]; \
	extern const size_t srv__asset_##id##_len
SRV_EMBEDDED(css);
SRV_EMBEDDED(bundle_js);
SRV_EMBEDDED(bundle_license);
SRV_EMBEDDED(favicon_32);
SRV_EMBEDDED(favicon_16);
SRV_EMBEDDED(license);
SRV_EMBEDDED(notice);

static const char docs_page[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n"
	"<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>netsec API</title>\n"
	"<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
	"<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\" sizes=\"32x32\">\n"
	"<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-16x16.png\" sizes=\"16x16\">\n"
	"</head>\n"
	"<body>\n"
	"<noscript><p>The netsec API documentation needs JavaScript. The OpenAPI document\n"
	"is at <a href=\"/openapi.json\">/openapi.json</a>.</p></noscript>\n"
	"<div id=\"swagger-ui\"></div>\n"
	"<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
	"<script src=\"/docs/init.js\"></script>\n"
	"</body>\n"
	"</html>\n";

/* Runs after the bundle, at the end of <body>, so #swagger-ui exists. */
static const char docs_init_js[] = "\"use strict\";\n"
				   "window.ui = SwaggerUIBundle({\n"
				   "\turl: \"/openapi.json\",\n"
				   "\tdom_id: \"#swagger-ui\",\n"
				   "\tvalidatorUrl: null,\n"
				   "\tdeepLinking: true,\n"
				   "\tpresets: [SwaggerUIBundle.presets.apis],\n"
				   "\tlayout: \"BaseLayout\"\n"
				   "});\n";

#define TYPE_TEXT "text/plain; charset=utf-8"

/* The source of each asset: a string here, or an embedded file and its length. */
static const struct asset_src {
	const char *path;
	const char *content_type;
	const unsigned char *data;
	const size_t *embedded_len; /* NULL: data is a string literal here */
} asset_srcs[] = {
	{"/docs", "text/html; charset=utf-8", (const unsigned char *)docs_page, NULL},
	{"/docs/init.js", "text/javascript; charset=utf-8", (const unsigned char *)docs_init_js,
	 NULL},
	{"/docs/swagger-ui.css", "text/css; charset=utf-8", srv__asset_css, &srv__asset_css_len},
	{"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", srv__asset_bundle_js,
	 &srv__asset_bundle_js_len},
	/* The bundle's first line points here for its bundled components' licences. */
	{"/docs/swagger-ui-bundle.js.LICENSE.txt", TYPE_TEXT, srv__asset_bundle_license,
	 &srv__asset_bundle_license_len},
	{"/docs/favicon-32x32.png", "image/png", srv__asset_favicon_32, &srv__asset_favicon_32_len},
	{"/docs/favicon-16x16.png", "image/png", srv__asset_favicon_16, &srv__asset_favicon_16_len},
	{"/docs/LICENSE", TYPE_TEXT, srv__asset_license, &srv__asset_license_len},
	{"/docs/NOTICE", TYPE_TEXT, srv__asset_notice, &srv__asset_notice_len},
};

#define N_ASSETS (sizeof(asset_srcs) / sizeof(asset_srcs[0]))

/* Filled once by init_assets(); read-only afterwards. */
static struct srv_asset assets[N_ASSETS];
static char asset_etags[N_ASSETS][2 + 64 + 1];
static pthread_once_t assets_once = PTHREAD_ONCE_INIT;

static void init_assets(void)
{
	for (size_t i = 0; i < N_ASSETS; i++) {
		const struct asset_src *src = &asset_srcs[i];
		size_t len =
			src->embedded_len ? *src->embedded_len : strlen((const char *)src->data);
		struct ns_sha256 sha;
		uint8_t digest[32];
		char hex[65];

		ns_sha256_init(&sha);
		ns_sha256_update(&sha, src->data, len);
		ns_sha256_final(&sha, digest);
		ns_sha256_hex(digest, hex);
		asset_etags[i][0] = '"';
		memcpy(&asset_etags[i][1], hex, 64);
		asset_etags[i][65] = '"';
		asset_etags[i][66] = '\0';

		assets[i].path = src->path;
		assets[i].content_type = src->content_type;
		assets[i].data = src->data;
		assets[i].len = len;
		assets[i].etag = asset_etags[i];
	}
}

static void ensure_init(void)
{
	/* pthread_once fails only on misuse (an invalid once object). */
	(void)pthread_once(&assets_once, init_assets);
}

const struct srv_asset *srv_asset_find(const char *path)
{
	if (!path)
		return NULL;
	/* Nine entries: a linear scan is cheaper than anything cleverer. */
	for (size_t i = 0; i < N_ASSETS; i++) {
		if (strcmp(asset_srcs[i].path, path) == 0) {
			ensure_init();
			return &assets[i];
		}
	}
	return NULL;
}

size_t srv_asset_count(void)
{
	return N_ASSETS;
}

const struct srv_asset *srv_asset_at(size_t i)
{
	if (i >= N_ASSETS)
		return NULL;
	ensure_init();
	return &assets[i];
}

const char *srv_swagger_version(void)
{
	return NETSEC_SWAGGER_UI_VERSION;
}
