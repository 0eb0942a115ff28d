/*
 * src/server/assets.h - the static files served under /docs: Swagger UI (npm
 * swagger-ui-dist, Apache-2.0) embedded in the binary, and our own page that
 * starts it on /openapi.json.
 *
 * The table is fixed at build time (cmake/SwaggerAssets.cmake embeds the
 * package's files; the page and its init script are strings in assets.c), so
 * nothing is read from disk or the network at run time.  Every asset's data is
 * followed by a NUL byte that `len` does not count.
 *
 * Threading: all functions may be called from any thread at any time.  The
 * ETags are computed once, by the first call that returns an asset (a SHA-256
 * of every asset, about 2 MB, a few milliseconds), under pthread_once; every
 * result is immutable and lives as long as the process.
 *
 * Serving: the page needs no inline script, no inline style and nothing from
 * another origin.  It runs under the Content-Security-Policy SRV_DOCS_CSP;
 * the one exception to default-src 'self' is img-src data:, which Swagger UI's
 * CSS uses for its icons.  (Checked in headless Chromium with a report-uri:
 * no violation while loading, rendering operations and highlighted examples.
 * Should "Try it out" ever report one, add style-src 'self' 'unsafe-inline'.)
 * The assets change only with the binary, so the ETag is enough to revalidate.
 */
#ifndef NETSEC_SERVER_ASSETS_H
#define NETSEC_SERVER_ASSETS_H

#include <stddef.h>

/* The Content-Security-Policy that /docs and its assets work under. */
#define SRV_DOCS_CSP \
	"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; " \
	"frame-ancestors 'none'"

struct srv_asset {
	const char *path; /* the exact request path, e.g. "/docs/swagger-ui.css" */
	const char *content_type; /* full header value, with charset for text */
	const unsigned char *data;
	size_t len; /* bytes of data, without the trailing NUL */
	const char *etag; /* quoted strong ETag: "<SHA-256 of data, 64 hex digits>" */
};

/*
 * The asset whose path is exactly `path` ("/docs" is the page; no query string,
 * no trailing slash, case-sensitive), or NULL.  `path` may be NULL.
 */
const struct srv_asset *srv_asset_find(const char *path);

/* The number of assets, and the i-th (NULL if i >= srv_asset_count()). */
size_t srv_asset_count(void);
const struct srv_asset *srv_asset_at(size_t i);

/* The embedded swagger-ui-dist version, e.g. "5.35.0"; a static string. */
const char *srv_swagger_version(void);

#endif
