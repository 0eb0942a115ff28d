/*
 * src/server/dashboard.h - the /home threat dashboard, rendered on the
 * server as one HTML page with inline SVG charts (no JavaScript needed).
 *
 * The server gathers a struct dash_data (prediction log aggregates from the
 * store, the current model's card from the registry, recent training runs,
 * the last drift report) and dash_render() turns it into HTML.  Rendering is
 * a pure function of its input: the same data gives the same bytes, so tests
 * compare pages exactly.  Every text that comes from data (labels, feature
 * names, run ids, error texts) is HTML-escaped.
 */
#ifndef NETSEC_SERVER_DASHBOARD_H
#define NETSEC_SERVER_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsec/core.h"

/* Predictions in one time bucket. */
struct dash_point {
	int64_t start_ms; /* bucket start, Unix ms */
	uint64_t requests;
	uint64_t threat; /* rows predicted as a threat class */
	uint64_t benign; /* the other rows */
};

struct dash_class_count {
	const char *label;
	bool threat;
	uint64_t count;
};

struct dash_feature {
	const char *name;
	double importance; /* 0..1 */
};

struct dash_model {
	bool present; /* false: no model yet (the card says how to train one) */
	const char *name;
	unsigned version;
	const char *family;
	const char *params; /* "k=v, k=v" */
	const char *trained_at; /* ISO 8601 UTC */
	const char *run_id;
	const char *scoring; /* "f1", ... */
	const char *threat; /* threat label, or NULL */
	double cv_score;
	/* test metrics of the threat class (NaN when unknown) */
	double accuracy, precision, recall, f1, roc_auc;
	/* confusion matrix, n_labels x n_labels, row = true, column = predicted */
	size_t n_labels;
	const char *const *labels;
	const uint64_t *confusion;
	size_t n_features; /* top importances, highest first */
	const struct dash_feature *features;
};

struct dash_run {
	const char *run_id;
	const char *started_at; /* ISO 8601 UTC, or NULL */
	const char *status; /* "finished", "failed: ...", "running" */
	const char *family; /* chosen family, or NULL */
	double test_score; /* NaN when none */
	unsigned version; /* registry version added, 0 if none */
	bool promoted;
};

struct dash_drift_column {
	const char *name;
	const char *test; /* "ks" or "chi2" */
	double statistic, p_value;
	bool drift;
};

struct dash_data {
	const char *title; /* e.g. "netsec - phishing" */
	int64_t now_ms; /* when the page was made (shown as UTC) */
	/* predictions over time: n_points buckets of bucket_ms, oldest first */
	int64_t bucket_ms;
	size_t n_points;
	const struct dash_point *points;
	/* totals over the same window */
	uint64_t requests, rows, threat_rows;
	size_t n_classes; /* counts per predicted class, largest first */
	const struct dash_class_count *classes;
	struct dash_model model;
	size_t n_runs; /* newest first */
	const struct dash_run *runs;
	const char *drift_run; /* run id of the drift report, or NULL: none yet */
	double drift_threshold;
	size_t n_drift;
	const struct dash_drift_column *drift;
};

/*
 * Renders the page: a complete HTML5 document (UTF-8, inline CSS, no
 * external resources) with, in order: a header (title, time, model version),
 * the summary tiles (requests, rows, threat share), "Predictions over time"
 * (an SVG line or stacked-bar chart of threat vs benign rows per bucket, with
 * axes, ticks and a legend), "Threat share" (an SVG donut or bar), "Counts per
 * class" (SVG horizontal bars, threat classes marked), "Current model" (the
 * card: family, version, trained at, parameters, test metrics, the confusion
 * matrix as a table, top feature importances as SVG bars), "Recent training
 * runs" (a table) and "Last drift report" (a table, drifted columns marked).
 * Each chart is an <svg> with role="img", an aria-label and a <title>, and
 * an id (chart-timeline, chart-share, chart-classes, chart-features) so
 * tests and browsers can find it; empty data gives a clear "no predictions
 * yet" state rather than an empty chart.  OUT *html (NUL-terminated, ns_free)
 * and *len.  NS_ERR_NOMEM.
 */
enum ns_status dash_render(const struct dash_data *d, char **html, size_t *len);

/* Appends `s` HTML-escaped (& < > " ') to a growing buffer: shared with the
 * other HTML the server writes (the /predict table). */
struct dash_buf {
	char *data;
	size_t len, cap;
	bool failed; /* an allocation failed; data is then incomplete */
};
void dash_buf_append(struct dash_buf *b, const char *s, size_t n);
void dash_buf_printf(struct dash_buf *b, const char *fmt, ...) NS_PRINTF(2, 3);
void dash_buf_escape(struct dash_buf *b, const char *s);

#endif
