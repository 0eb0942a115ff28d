/*
 * tests/unit/server/test_dashboard.c - the /home dashboard page: escaping,
 * charts for realistic and edge-case data, determinism, size, allocation
 * failures.  Pages are written to NETSEC_TEST_TMP and, when /usr/bin/python3
 * exists, checked by tests/tools/check_dashboard.py (HTML structure, each
 * <svg> as XML, no external resources, the chart ids present).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dashboard.h"
#include "netsec/core.h"

#define NOW_MS INT64_C(1795579800000) /* 2026-11-25 04:10 UTC */
#define HALF_HOUR_MS INT64_C(1800000)
#define ALL_CHARTS "chart-timeline,chart-share,chart-classes,chart-features"

/* ---- helpers ------------------------------------------------------------------ */

static char *render(const struct dash_data *d, size_t *len_out)
{
	char *html = NULL;
	size_t len = 0;

	assert_int_equal(dash_render(d, &html, &len), NS_OK);
	assert_non_null(html);
	assert_int_equal(strlen(html), len);
	if (len_out)
		*len_out = len;
	return html;
}

static void write_page(const char *name, const char *html, char *path, size_t path_size)
{
	FILE *f;

	snprintf(path, path_size, "%s/%s", NETSEC_TEST_TMP, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(html, 1, strlen(html), f), strlen(html));
	assert_int_equal(fclose(f), 0);
}

/* Writes the page and runs the checker on it, expecting exactly `charts`. */
static void check_page(const char *name, const char *html, const char *charts)
{
	char path[512], cmd[1400];
	int rc;

	write_page(name, html, path, sizeof(path));
	if (access("/usr/bin/python3", X_OK) != 0)
		return;
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 '%s/tests/tools/check_dashboard.py' '%s' --expect '%s'",
		 NETSEC_SOURCE_DIR, path, charts);
	fflush(stdout);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "check_dashboard.py failed on %s\n", path);
	assert_int_equal(rc, 0);
}

/* The text of the <svg> with id `id`, or NULL; free() it. */
static char *svg_of(const char *html, const char *id)
{
	char key[64];
	const char *start, *end;

	snprintf(key, sizeof(key), "<svg id=\"%s\"", id);
	start = strstr(html, key);
	if (!start)
		return NULL;
	end = strstr(start, "</svg>");
	assert_non_null(end);
	return strndup(start, (size_t)(end - start) + 6);
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- fixtures ------------------------------------------------------------------- */

static struct dash_point phish_points[48];
static const struct dash_class_count phish_classes[] = {
	{"legitimate", false, 12093},
	{"phishing", true, 3914},
};
static const char *const phish_labels[] = {"legitimate", "phishing"};
static const uint64_t phish_confusion[] = {1204, 41, 27, 939};
static const struct dash_feature phish_features[] = {
	{"SSLfinal_State", 0.3121},
	{"URL_of_Anchor", 0.2543},
	{"web_traffic", 0.0812},
	{"having_Sub_Domain", 0.0631},
	{"Links_in_tags", 0.0457},
	{"Prefix_Suffix", 0.0398},
	{"SFH", 0.0287},
	{"Request_URL", 0.0241},
	{"Domain_registeration_length", 0.0202},
	{"age_of_domain", 0.0187},
};
static const struct dash_run phish_runs[] = {
	{"4f1c2a9e8b7d4c3fa1e2b3c4d5e6f708", "2026-11-24T22:41:07Z", "finished", "random_forest",
	 0.9718, 3, true},
	{"9a8b7c6d5e4f40312a1b2c3d4e5f6071", "2026-11-24T18:02:55Z", "finished", "gbdt", 0.9655, 2,
	 false},
	{"0b1c2d3e4f5a46b7c8d9e0f1a2b3c4d5", "2026-11-23T09:15:40Z",
	 "failed: schema check: column 'URL_Length' has 12 values out of range", NULL, NAN, 0,
	 false},
	{"5e6f7a8b9c0d4e1f2a3b4c5d6e7f8091", "2026-11-22T07:00:00Z", "finished", "logreg", 0.9268,
	 1, true},
	{"c0ffee00112233445566778899aabbcc", NULL, "running", NULL, NAN, 0, false},
};
static const struct dash_drift_column phish_drift[] = {
	{"having_IP_Address", "chi2", 0.412, 0.5211, false},
	{"URL_Length", "chi2", 9.871, 0.00718, true},
	{"Shortining_Service", "chi2", 0.051, 0.8213, false},
	{"SSLfinal_State", "chi2", 14.2, 0.000825, true},
	{"web_traffic", "chi2", 2.03, 0.3624, false},
	{"Page_Rank", "chi2", 0.88, 0.3482, false},
	{"Google_Index", "chi2", 0.004, 0.9496, false},
	{"Statistical_report", "chi2", 1.2e-4, 0.99126, false},
};

static struct dash_data phishing_fixture(void)
{
	struct dash_data d = {0};
	uint64_t rows = 0, threat = 0, requests = 0;

	for (size_t i = 0; i < 48; i++) {
		/* a daily rhythm and a burst of phishing URLs in the small hours */
		uint64_t base = 180 + (uint64_t)(120.0 * sin((double)i / 48.0 * 6.283185));
		uint64_t t = base / 5 + (i >= 40 && i <= 43 ? 260 : 0) + (i * 7) % 13;
		phish_points[i].start_ms = NOW_MS - 10 * 60000 - (int64_t)(47 - i) * HALF_HOUR_MS;
		phish_points[i].requests = 3 + i % 5;
		phish_points[i].threat = t;
		phish_points[i].benign = base * 2 + (i * 11) % 17;
		rows += t + phish_points[i].benign;
		threat += t;
		requests += phish_points[i].requests;
	}
	d.title = "netsec - phishing";
	d.now_ms = NOW_MS;
	d.bucket_ms = HALF_HOUR_MS;
	d.n_points = 48;
	d.points = phish_points;
	d.requests = requests;
	d.rows = rows;
	d.threat_rows = threat;
	d.n_classes = 2;
	d.classes = phish_classes;
	d.model = (struct dash_model){
		.present = true,
		.name = "netsec",
		.version = 3,
		.family = "random_forest",
		.params = "n_estimators=200, max_depth=None, criterion=gini, max_features=sqrt",
		.trained_at = "2026-11-24T22:41:07Z",
		.run_id = "4f1c2a9e8b7d4c3fa1e2b3c4d5e6f708",
		.scoring = "f1",
		.threat = "phishing",
		.cv_score = 0.96874,
		.accuracy = 0.9712,
		.precision = 0.9582,
		.recall = 0.9721,
		.f1 = 0.9651,
		.roc_auc = 0.99517,
		.n_labels = 2,
		.labels = phish_labels,
		.confusion = phish_confusion,
		.n_features = 10,
		.features = phish_features,
	};
	d.n_runs = 5;
	d.runs = phish_runs;
	d.drift_run = "4f1c2a9e8b7d4c3fa1e2b3c4d5e6f708";
	d.drift_threshold = 0.05;
	d.n_drift = 8;
	d.drift = phish_drift;
	return d;
}

static const char *const kdd_names[22] = {
	"normal",
	"neptune",
	"satan",
	"ipsweep",
	"portsweep",
	"smurf",
	"nmap",
	"back",
	"teardrop",
	"warezclient",
	"pod",
	"guess_passwd",
	"buffer_overflow",
	"warezmaster",
	"land",
	"imap",
	"rootkit",
	"loadmodule",
	"ftp_write",
	"multihop",
	"phf",
	"perl",
};
static const uint64_t kdd_counts[22] = {67343, 41214, 3633, 3599, 2931, 2646, 1493, 956,
					892,   890,   201,  53,   30,   20,   18,   11,
					10,    9,     8,    7,    4,    3};
static struct dash_class_count kdd_classes[22];
static uint64_t kdd_confusion[22 * 22];
static struct dash_feature kdd_features[25];
static char kdd_feature_names[25][32];
static struct dash_point kdd_points[96];

static struct dash_data nslkdd_fixture(void)
{
	static const char *const fnames[] = {"src_bytes",
					     "dst_bytes",
					     "flag",
					     "dst_host_srv_serror_rate",
					     "same_srv_rate",
					     "diff_srv_rate",
					     "dst_host_same_srv_rate",
					     "count",
					     "protocol_type",
					     "service"};
	struct dash_data d = {0};
	uint64_t rows = 0, threat = 0;

	for (size_t i = 0; i < 22; i++) {
		kdd_classes[i] = (struct dash_class_count){kdd_names[i], i != 0, kdd_counts[i]};
		rows += kdd_counts[i];
		threat += i ? kdd_counts[i] : 0;
		for (size_t j = 0; j < 22; j++)
			kdd_confusion[i * 22 + j] = i == j ? kdd_counts[i] / 5
						    : (i * 31 + j * 17) % 23 == 0 ? i + j
										  : 0;
	}
	for (size_t i = 0; i < 25; i++) {
		if (i < 10)
			snprintf(kdd_feature_names[i], 32, "%s", fnames[i]);
		else
			snprintf(kdd_feature_names[i], 32, "feature_%02zu", i);
		kdd_features[i] =
			(struct dash_feature){kdd_feature_names[i], 0.21 / (double)(i + 1)};
	}
	for (size_t i = 0; i < 96; i++) {
		kdd_points[i] = (struct dash_point){NOW_MS - (int64_t)(96 - i) * 15 * 60000, 40,
						    500 + (i * 37) % 400, 700 + (i * 53) % 300};
	}
	d.title = "netsec - NSL-KDD intrusion";
	d.now_ms = NOW_MS;
	d.bucket_ms = 15 * 60000;
	d.n_points = 96;
	d.points = kdd_points;
	d.requests = 3840;
	d.rows = rows;
	d.threat_rows = threat;
	d.n_classes = 22;
	d.classes = kdd_classes;
	d.model = (struct dash_model){
		.present = true,
		.name = "nslkdd",
		.version = 12,
		.family = "gbdt",
		.params = "learning_rate=0.1, n_estimators=256, max_depth=6",
		.trained_at = "2026-11-20T10:00:00.250+00:00",
		.run_id = "77aa",
		.scoring = "macro_f1",
		.threat = NULL,
		.cv_score = 0.8123,
		.accuracy = 0.9934,
		.precision = NAN,
		.recall = NAN,
		.f1 = 0.8123,
		.roc_auc = NAN,
		.n_labels = 22,
		.labels = kdd_names,
		.confusion = kdd_confusion,
		.n_features = 25,
		.features = kdd_features,
	};
	d.drift_run = "77aa";
	d.drift_threshold = 0.05;
	return d;
}

/* ---- dash_buf ------------------------------------------------------------------- */

static void test_buf_escape(void **state)
{
	struct dash_buf b = {0};
	(void)state;

	dash_buf_escape(&b, "<a href=\"x\">Tom & Jerry's</a>");
	assert_false(b.failed);
	assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
	b.len = 0;
	/* bytes that are not UTF-8, or not allowed in XML, become U+FFFD */
	dash_buf_escape(&b, "a\xff"
			    "b\x01"
			    "c\xc3\xa9\tz\xc0\xaf\xed\xa0\x80\xef\xbf\xbe\xe2\x82");
	assert_string_equal(b.data, "a\xef\xbf\xbd"
				    "b\xef\xbf\xbd"
				    "c\xc3\xa9\tz"
				    "\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
				    "\xef\xbf\xbd\xef\xbf\xbd");
	b.len = 0;
	dash_buf_escape(&b, "\xf0\x9f\x94\x92 ok \xe2\x80\xa6");
	assert_string_equal(b.data, "\xf0\x9f\x94\x92 ok \xe2\x80\xa6");
	b.len = 0;
	dash_buf_escape(&b, NULL);
	dash_buf_escape(&b, "");
	assert_int_equal(b.len, 0);
	ns_free(b.data);
}

static void test_buf_printf(void **state)
{
	struct dash_buf b = {0};
	char big[10000];
	(void)state;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dash_buf_printf(&b, "%d-%s", 42, "a");
	dash_buf_printf(&b, "[%s]", big);
	dash_buf_append(&b, "!", 1);
	assert_false(b.failed);
	assert_int_equal(b.len, 4 + 2 + 9999 + 1);
	assert_int_equal(strlen(b.data), b.len);
	assert_memory_equal(b.data, "42-a[xxx", 8);
	assert_string_equal(b.data + b.len - 2, "]!");
	ns_free(b.data);

	/* a failed allocation sticks: later appends do nothing */
	memset(&b, 0, sizeof(b));
	dash_buf_append(&b, "abc", 3);
	ns_alloc_fail_after(0);
	dash_buf_printf(&b, "[%s]", big);
	ns_alloc_fail_reset();
	assert_true(b.failed);
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	dash_buf_append(&b, "def", 3);
	dash_buf_escape(&b, "<");
	assert_int_equal(b.len, 3);
	ns_free(b.data);

	memset(&b, 0, sizeof(b));
	ns_alloc_fail_after(0);
	dash_buf_append(&b, "abc", 3);
	ns_alloc_fail_reset();
	assert_true(b.failed);
	assert_null(b.data);
}

/* ---- pages ---------------------------------------------------------------------- */

static void test_phishing(void **state)
{
	struct dash_data d = phishing_fixture();
	size_t len, len2;
	char *html, *again, *svg;
	(void)state;

	html = render(&d, &len);
	again = render(&d, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(html, again, len);
	ns_free(again);

	assert_true(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 31) == 0);
	assert_non_null(strstr(html, "<meta name=\"viewport\""));
	assert_non_null(strstr(html, "<meta http-equiv=\"refresh\" content=\"30\">"));
	assert_non_null(strstr(html, "<title>netsec - phishing</title>"));
	assert_non_null(strstr(html, "Updated <time>2026-11-25 04:10 UTC</time>"));
	assert_non_null(strstr(html, "Model <b>netsec v3</b> (random_forest)"));
	/* no external resources, no script */
	assert_null(strstr(html, "src="));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "https:"));
	/* the only http: text is the SVG namespace */
	assert_int_equal(count_of(html, "http:"),
			 count_of(html, "xmlns=\"http://www.w3.org/2000/svg\""));

	/* timeline: 48 hover targets, HH:MM labels, a legend */
	svg = svg_of(html, "chart-timeline");
	assert_non_null(svg);
	assert_int_equal(count_of(svg, "<rect x="), 48 + 2);
	/* ticks every 4 h, at the bars that start on the hour */
	assert_non_null(strstr(svg, ">08:00</text>"));
	assert_non_null(strstr(svg, ">00:00</text>"));
	assert_non_null(strstr(svg, ">04:00</text>"));
	assert_null(strstr(svg, ">04:30</text>"));
	assert_int_equal(count_of(svg, "y2=\"251\""), 6);
	assert_non_null(strstr(svg, ">Threat</text>"));
	assert_non_null(strstr(svg, "<title>2026-11-24 04:30 UTC: "));
	assert_non_null(strstr(svg, "role=\"img\""));
	assert_non_null(strstr(svg, "fill=\"#d64545\" d=\"M"));
	assert_non_null(strstr(svg, "fill=\"#2f855a\" d=\"M"));
	free(svg);
	assert_non_null(strstr(html, "48 buckets of 30 min, 2026-11-24 04:30 UTC to 2026-11-25 "
				     "04:00 UTC."));

	/* donut: less than half is threat, one arc over a benign ring */
	svg = svg_of(html, "chart-share");
	assert_non_null(svg);
	assert_int_equal(count_of(svg, "<path"), 1);
	assert_non_null(strstr(svg, "<circle cx=\"80\" cy=\"80\" r=\"60\" fill=\"none\" "
				    "stroke=\"#2f855a\""));
	assert_non_null(strstr(svg, "stroke=\"#d64545\""));
	free(svg);

	svg = svg_of(html, "chart-classes");
	assert_non_null(svg);
	assert_non_null(strstr(svg, ">12,093 \xc2\xb7 75.5%</text>"));
	assert_non_null(
		strstr(svg, "<title>phishing: 3,914 \xc2\xb7 24.5% (threat class)</title>"));
	free(svg);

	svg = svg_of(html, "chart-features");
	assert_non_null(svg);
	assert_non_null(strstr(svg, ">SSLfinal_State</text>"));
	assert_non_null(strstr(svg, ">0.312</text>"));
	/* cut to 24 characters, the whole name in the tooltip */
	assert_non_null(strstr(svg, ">Domain_registeration_len\xe2\x80\xa6</text>"));
	assert_non_null(strstr(svg, "<title>Domain_registeration_length: 0.020</title>"));
	free(svg);

	/* model card */
	assert_non_null(strstr(html, "<dt>Trained at</dt><dd>2026-11-24 22:41 UTC</dd>"));
	assert_non_null(strstr(html, "<dt>CV score</dt><dd>0.9687 (f1)</dd>"));
	assert_non_null(strstr(html, "<span class=\"v\">0.995</span><span class=\"k\">ROC-AUC"));
	assert_non_null(strstr(html, "<th scope=\"row\" title=\"phishing\">phishing</th>"));
	assert_non_null(strstr(html, ">1,204</td>"));
	assert_non_null(strstr(html, "rgba(47,133,90,0.85)"));
	/* runs: a failed run is marked, its reason escaped */
	assert_non_null(strstr(html, "<tr class=\"bad\"><td><code>0b1c2d3e"));
	assert_non_null(strstr(html, "<span class=\"badge bad\">failed</span> <span class=\"why\">"
				     "schema check: column &#39;URL_Length&#39; has 12 values"));
	assert_non_null(strstr(html, "<td class=\"n\">0.9718</td><td class=\"n\">v3</td><td>"
				     "<span class=\"badge ok\">yes</span>"));
	assert_non_null(strstr(html, "<span class=\"badge info\">running</span>"));
	/* drift */
	assert_non_null(strstr(html, "2 of 8 columns drifted"));
	assert_non_null(strstr(html, "<td class=\"n\">0.000825</td><td><span class=\"badge bad\">"
				     "drift</span>"));
	assert_non_null(strstr(html, "<td class=\"n\">0.521</td><td>no</td>"));

	assert_true(len < 100 * 1024);
	check_page("dashboard_sample.html", html, ALL_CHARTS);
	ns_free(html);
}

static void test_nslkdd(void **state)
{
	struct dash_data d = nslkdd_fixture();
	char *html, *svg;
	(void)state;

	html = render(&d, NULL);
	svg = svg_of(html, "chart-classes");
	assert_non_null(svg);
	assert_int_equal(count_of(svg, "<rect"), 20);
	assert_int_equal(count_of(svg, "fill=\"#d64545\""), 19);
	assert_non_null(strstr(svg, ">67,343 \xc2\xb7 53.5%</text>"));
	assert_non_null(strstr(svg, ">multihop<"));
	assert_null(strstr(svg, ">phf<"));
	free(svg);
	assert_non_null(strstr(html, "2 more classes not shown (7 rows)."));
	svg = svg_of(html, "chart-features");
	assert_int_equal(count_of(svg, "<rect"), 20);
	free(svg);
	assert_non_null(strstr(html, "5 more features not shown."));
	/* multi-class: no threat class, unknown metrics as "-" */
	assert_non_null(strstr(html, "<span class=\"v\">-</span><span class=\"k\">ROC-AUC"));
	assert_non_null(strstr(html, "<dt>Threat class</dt><dd>-</dd>"));
	assert_non_null(strstr(html, "<dd>2026-11-20 10:00 UTC</dd>"));
	assert_non_null(strstr(html, "<th scope=\"col\" title=\"perl\">perl</th>"));
	assert_non_null(strstr(html, "No training runs yet."));
	assert_non_null(strstr(html, "no drift in 0 columns"));
	check_page("dashboard_nslkdd.html", html, ALL_CHARTS);
	ns_free(html);
}

static void test_empty(void **state)
{
	struct dash_data d = {0};
	char *html;
	(void)state;

	d.now_ms = NOW_MS;
	html = render(&d, NULL);
	assert_non_null(strstr(html, "<title>netsec</title>"));
	assert_non_null(strstr(html, "<b>No model loaded</b>"));
	assert_non_null(strstr(html, "No predictions yet."));
	assert_non_null(strstr(html, "No model is loaded yet. Train one with <code>netsec "
				     "train</code>"));
	assert_non_null(strstr(html, "<code>POST /train</code>"));
	assert_non_null(strstr(html, "No drift report yet."));
	assert_non_null(strstr(html, "<span class=\"v\">-</span><span class=\"s\">of predicted"));
	assert_null(strstr(html, "<svg"));
	check_page("dashboard_empty.html", html, "");
	ns_free(html);
}

static void test_all_zeros_and_one_point(void **state)
{
	struct dash_point pts[24];
	struct dash_data d = {0};
	char *html, *svg;
	(void)state;

	for (size_t i = 0; i < 24; i++)
		pts[i] = (struct dash_point){NOW_MS - (int64_t)(24 - i) * 3600000, 0, 0, 0};
	d.now_ms = NOW_MS;
	d.bucket_ms = 3600000;
	d.n_points = 24;
	d.points = pts;
	html = render(&d, NULL);
	svg = svg_of(html, "chart-timeline");
	assert_non_null(svg);
	assert_non_null(strstr(svg, "No predictions in this window"));
	assert_null(strstr(svg, "<path"));
	assert_non_null(strstr(svg, ">0</text>"));
	assert_non_null(strstr(svg, ">1</text>"));
	free(svg);
	check_page("dashboard_zeros.html", html, "chart-timeline");
	ns_free(html);

	/* one bucket: one bar of bounded width, labels 0..1,500 */
	pts[0] = (struct dash_point){NOW_MS - 3600000, 9, 234, 1000};
	d.n_points = 1;
	d.rows = 1234;
	d.threat_rows = 234;
	html = render(&d, NULL);
	svg = svg_of(html, "chart-timeline");
	assert_non_null(svg);
	assert_int_equal(count_of(svg, "h48.0v"), 2);
	assert_non_null(strstr(svg, ">1,500</text>"));
	assert_non_null(strstr(svg, ">500</text>"));
	assert_null(strstr(svg, ">2,000</text>"));
	free(svg);
	assert_non_null(strstr(html, "1 bucket of 1 h,"));
	check_page("dashboard_one.html", html, "chart-timeline,chart-share");
	ns_free(html);
}

static void test_ticks(void **state)
{
	static const struct {
		uint64_t max;
		const char *top, *beyond;
	} cases[] = {
		{1, ">1</text>", ">2</text>"},
		{3, ">3</text>", ">4</text>"},
		{9, ">10</text>", ">12</text>"},
		{100, ">100</text>", ">120</text>"},
		{101, ">150</text>", ">200</text>"},
		{4000, ">4,000</text>", ">5,000</text>"},
		{4001, ">6,000</text>", ">8,000</text>"},
		{2500000, ">3M</text>", ">4M</text>"},
		{13500000, ">15M</text>", ">20M</text>"},
	};
	struct dash_point pt = {NOW_MS, 1, 0, 0};
	struct dash_data d = {0};
	(void)state;

	d.now_ms = NOW_MS;
	d.bucket_ms = 60000;
	d.n_points = 1;
	d.points = &pt;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *html, *svg;
		size_t ticks;

		pt.benign = cases[i].max;
		html = render(&d, NULL);
		svg = svg_of(html, "chart-timeline");
		ticks = count_of(svg, "<line x1=\"64\" x2=\"944\"");
		if (!strstr(svg, cases[i].top) || strstr(svg, cases[i].beyond))
			fail_msg("max %llu: wrong top tick", (unsigned long long)cases[i].max);
		if (cases[i].max >= 3 && (ticks < 4 || ticks > 6))
			fail_msg("max %llu: %zu ticks", (unsigned long long)cases[i].max, ticks);
		free(svg);
		ns_free(html);
	}
}

static void test_many_points(void **state)
{
	struct dash_point *pts = calloc(2000, sizeof(*pts));
	struct dash_data d = phishing_fixture();
	size_t len;
	char *html, *svg;
	(void)state;

	assert_non_null(pts);
	for (size_t i = 0; i < 2000; i++)
		pts[i] = (struct dash_point){NOW_MS - (int64_t)(2000 - i) * 60000, 2,
					     (i * 7919) % 41, 80 + (i * 104729) % 97};
	d.bucket_ms = 60000;
	d.points = pts;
	d.n_points = 500;
	html = render(&d, &len);
	svg = svg_of(html, "chart-timeline");
	assert_int_equal(count_of(svg, "<title>"), 1 + 500);
	free(svg);
	assert_true(len < 200 * 1024);
	check_page("dashboard_500.html", html, ALL_CHARTS);
	ns_free(html);

	/* past MAX_BARS adjacent buckets are merged: 2000 -> 500 bars of 4 min */
	d.n_points = 2000;
	html = render(&d, &len);
	svg = svg_of(html, "chart-timeline");
	assert_int_equal(count_of(svg, "<title>"), 1 + 500);
	free(svg);
	assert_non_null(strstr(html, "2,000 buckets of 1 min (shown as 500 bars of 4 min)"));
	assert_true(len < 200 * 1024);
	ns_free(html);
	free(pts);
}

static void test_share_edges(void **state)
{
	static const struct {
		uint64_t threat, rows;
		const char *pct;
		int paths;
		const char *ring;
	} cases[] = {
		{0, 500, ">0.0%</text>", 0, "#2f855a"},
		{500, 500, ">100.0%</text>", 0, "#d64545"},
		{999, 1000, ">99.9%</text>", 1, "#d64545"},
		{99999, 100000, ">&gt;99.9%</text>", 1, "#d64545"},
		{1, 100000, ">&lt;0.1%</text>", 1, "#2f855a"},
		{1, 2, ">50.0%</text>", 1, "#2f855a"},
		{3, 4, ">75.0%</text>", 1, "#d64545"},
	};
	struct dash_data d = {0};
	(void)state;

	d.now_ms = NOW_MS;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *html, *svg, ring[64];

		d.threat_rows = cases[i].threat;
		d.rows = cases[i].rows;
		html = render(&d, NULL);
		svg = svg_of(html, "chart-share");
		assert_non_null(svg);
		snprintf(ring, sizeof(ring), "stroke=\"%s\" stroke-width=\"22\"/><", cases[i].ring);
		if (!strstr(svg, cases[i].pct))
			fail_msg("share %llu/%llu: no %s", (unsigned long long)cases[i].threat,
				 (unsigned long long)cases[i].rows, cases[i].pct);
		assert_int_equal(count_of(svg, "<path"), cases[i].paths);
		assert_int_equal(count_of(svg, "<circle"), 1);
		assert_non_null(strstr(strstr(svg, "<circle"), ring));
		free(svg);
		ns_free(html);
	}
	/* more threat rows than rows is clamped, not a negative benign count */
	d.threat_rows = 7;
	d.rows = 5;
	{
		char *html = render(&d, NULL);
		assert_non_null(strstr(html, ">100.0%</text>"));
		ns_free(html);
	}
}

#define HOSTILE "<script>alert(1)</script> \"quotes\" AT&T it's \xff\x01"

static void test_hostile(void **state)
{
	struct dash_data d = phishing_fixture();
	struct dash_class_count classes[25];
	struct dash_feature features[3] = {{HOSTILE, 0.5}, {HOSTILE, NAN}, {"x", -1.0}};
	const char *labels[2] = {HOSTILE, "</table><script>"};
	struct dash_run runs[2] = {{HOSTILE, HOSTILE, HOSTILE, HOSTILE, 1.0, 1, true},
				   {HOSTILE, NULL, "failed: " HOSTILE, NULL, NAN, 0, false}};
	struct dash_drift_column drift[2] = {{HOSTILE, HOSTILE, NAN, NAN, true},
					     {HOSTILE, "ks", 0.5, 1e-300, false}};
	char *html;
	(void)state;

	for (size_t i = 0; i < 25; i++)
		classes[i] = (struct dash_class_count){HOSTILE, i % 2 == 0, 100 - i};
	d.title = HOSTILE;
	d.n_classes = 25;
	d.classes = classes;
	d.model.name = HOSTILE;
	d.model.family = HOSTILE;
	d.model.params = HOSTILE;
	d.model.trained_at = HOSTILE;
	d.model.run_id = HOSTILE;
	d.model.scoring = HOSTILE;
	d.model.threat = HOSTILE;
	d.model.labels = labels;
	d.model.features = features;
	d.model.n_features = 3;
	d.runs = runs;
	d.n_runs = 2;
	d.drift_run = HOSTILE;
	d.drift = drift;
	d.n_drift = 2;
	html = render(&d, NULL);

	assert_null(strstr(html, "<script"));
	assert_non_null(strstr(html, "&lt;/table&gt;&lt;script&gt;"));
	assert_null(strstr(html, "\"quotes\""));
	assert_null(strstr(html, "AT&T"));
	assert_null(strstr(html, "it's"));
	assert_null(strchr(html, '\x01'));
	assert_null(strchr(html, '\xff'));
	assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt; &quot;quotes&quot; "
				     "AT&amp;T it&#39;s \xef\xbf\xbd\xef\xbf\xbd"));
	assert_non_null(strstr(html, "<title>&lt;script&gt;alert(1)&lt;/script&gt;"));
	/* labels in the SVG are cut after 22 characters, never inside an entity */
	assert_non_null(strstr(html, ">&lt;script&gt;alert(1)&lt;/scri\xe2\x80\xa6</text>"));
	assert_non_null(strstr(html, "5 more classes not shown"));
	check_page("dashboard_hostile.html", html, ALL_CHARTS);
	ns_free(html);
}

/* Extreme numbers render without overflow (UBSan watches) and stay well-formed. */
static void test_extremes(void **state)
{
	struct dash_point pts[3] = {{INT64_MIN, UINT64_MAX, UINT64_MAX, UINT64_MAX},
				    {0, 0, UINT64_MAX, 0},
				    {INT64_MAX, 1, 0, UINT64_MAX}};
	struct dash_class_count classes[2] = {{"a", true, UINT64_MAX}, {"b", false, UINT64_MAX}};
	struct dash_feature features[2] = {{"inf", INFINITY}, {"big", 1e308}};
	static const char *const labels[1] = {"only"};
	static const uint64_t confusion[1] = {UINT64_MAX};
	struct dash_data d = {0};
	char *html;
	(void)state;

	d.now_ms = INT64_MAX;
	d.bucket_ms = INT64_MAX;
	d.n_points = 3;
	d.points = pts;
	d.requests = d.rows = d.threat_rows = UINT64_MAX;
	d.n_classes = 2;
	d.classes = classes;
	d.model.present = true;
	d.model.version = UINT32_MAX;
	d.model.cv_score = -0.0;
	d.model.accuracy = INFINITY;
	d.model.precision = -INFINITY;
	d.model.recall = NAN;
	d.model.f1 = -1e-9;
	d.model.roc_auc = 1e300;
	d.model.n_labels = 1;
	d.model.labels = labels;
	d.model.confusion = confusion;
	d.model.n_features = 2;
	d.model.features = features;
	html = render(&d, NULL);
	assert_non_null(strstr(html, "18,446,744,073,709,551,615"));
	assert_non_null(strstr(html, "<dt>CV score</dt><dd>0.0000</dd>"));
	assert_non_null(strstr(html, "<span class=\"v\">0.000</span><span class=\"k\">F1"));
	check_page("dashboard_extremes.html", html, ALL_CHARTS);
	ns_free(html);

	d.now_ms = INT64_MIN;
	d.bucket_ms = -5;
	pts[0].start_ms = -1;
	html = render(&d, NULL);
	assert_non_null(strstr(html, "1969-12-31 23:59 UTC"));
	ns_free(html);
}

static void test_nomem(void **state)
{
	struct dash_data d = phishing_fixture();
	char *html;
	size_t len, n_ok = 0;
	(void)state;

	for (long n = 0;; n++) {
		enum ns_status st;

		html = (char *)&n;
		len = 7;
		ns_alloc_fail_after(n);
		st = dash_render(&d, &html, &len);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			n_ok = (size_t)n;
			break;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		/* outputs are written only on success */
		assert_ptr_equal(html, (char *)&n);
		assert_int_equal(len, 7);
		assert_true(n < 1000);
	}
	assert_true(n_ok > 0);
	ns_free(html);
	assert_int_equal(dash_render(NULL, &html, &len), NS_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_escape),  cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_phishing),    cmocka_unit_test(test_nslkdd),
		cmocka_unit_test(test_empty),       cmocka_unit_test(test_all_zeros_and_one_point),
		cmocka_unit_test(test_ticks),       cmocka_unit_test(test_many_points),
		cmocka_unit_test(test_share_edges), cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_extremes),    cmocka_unit_test(test_nomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
