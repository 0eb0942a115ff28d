/*
 * src/server/dashboard.c - renders the /home threat dashboard: one HTML page
 * with inline CSS and inline SVG charts, no scripts and no external
 * resources.
 *
 * Rendering is a pure function of struct dash_data: no clock, no addresses,
 * no locale (the process runs in the C locale, so "%.*f" prints a '.'), so
 * the same data gives the same bytes.  Every text from data goes through
 * dash_buf_escape, which also replaces bytes that are not valid UTF-8 or not
 * allowed in XML, so that each <svg> stays well-formed XML.  The output is
 * bounded whatever the input: at most MAX_BARS timeline bars (adjacent
 * buckets are merged beyond that), MAX_CLASSES classes, MAX_FEATURES
 * features, MAX_LABELS confusion-matrix labels, MAX_RUNS runs and MAX_DRIFT
 * drift columns; SVG labels are cut to a few dozen characters.
 *
 * Errors: allocation failures are remembered in dash_buf.failed and reported
 * once at the end as NS_ERR_NOMEM.  Thread-safe (no shared state).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dashboard.h"

#define C_THREAT "#d64545"
#define C_BENIGN "#2f855a"
#define C_INFO "#3b6fb6"
#define C_GRID "#e4e7eb"
#define C_AXIS "#9aa5b1"
#define C_INK "#323f4b"
#define C_MUTED "#616e7c"

enum {
	MAX_BARS = 600,
	MAX_CLASSES = 20,
	MAX_FEATURES = 20,
	MAX_LABELS = 30,
	MAX_RUNS = 50,
	MAX_DRIFT = 500,
	CLASS_LABEL_CHARS = 22,
	FEATURE_LABEL_CHARS = 24,
	TIP_CHARS = 200,
};

static const char REPLACEMENT[] = "\xef\xbf\xbd"; /* U+FFFD */
static const char ELLIPSIS[] = "\xe2\x80\xa6"; /* U+2026 */

/* ---- the buffer ------------------------------------------------------------ */

/* Makes room for `extra` more bytes and the NUL; false (and failed) if not. */
static bool buf_reserve(struct dash_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return false;
	if (extra > SIZE_MAX - b->len - 1) {
		b->failed = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = ns_realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void dash_buf_append(struct dash_buf *b, const char *s, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	if (n)
		memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void dash_buf_printf(struct dash_buf *b, const char *fmt, ...)
{
	va_list ap, ap2;
	size_t avail;
	int n;

	if (b->failed)
		return;
	avail = b->cap > b->len ? b->cap - b->len : 0;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(avail ? b->data + b->len : NULL, avail, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= avail && buf_reserve(b, (size_t)n))
		n = vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		b->failed = true;
	if (b->failed) {
		if (b->data)
			b->data[b->len] = '\0';
		return;
	}
	b->len += (size_t)n;
}

/*
 * Length of the valid UTF-8 sequence at `s` that XML allows, or 0.  Reads a
 * continuation byte only after the previous one checked out, so a NUL stops
 * it.  Overlong forms, surrogates, U+FFFE/U+FFFF and code points past
 * U+10FFFF are refused.
 */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if (c == 0xe0)
			lo = 0xa0;
		if (c == 0xed)
			hi = 0x9f;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80)
			return 0;
		if (c == 0xef && s[1] == 0xbf && s[2] >= 0xbe)
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if (c == 0xf0)
			lo = 0x90;
		if (c == 0xf4)
			hi = 0x8f;
		if (s[1] < lo || s[1] > hi || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		return 4;
	}
	return 0;
}

/*
 * Appends at most `max_chars` characters of `s` escaped; returns true when
 * `s` was cut.  Control characters other than tab, CR and LF, and bytes that
 * are not valid UTF-8, become U+FFFD.
 */
static bool escape_max(struct dash_buf *b, const char *s, size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s, *run = p;
	size_t chars = 0;

	if (!s)
		return false;
	while (*p) {
		const char *rep = NULL;
		size_t n = 1;

		if (chars == max_chars) {
			dash_buf_append(b, (const char *)run, (size_t)(p - run));
			return true;
		}
		switch (*p) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		case '\t':
		case '\n':
		case '\r':
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				rep = REPLACEMENT;
			else if ((n = utf8_len(p)) == 0)
				rep = REPLACEMENT, n = 1;
		}
		if (rep) {
			dash_buf_append(b, (const char *)run, (size_t)(p - run));
			dash_buf_append(b, rep, strlen(rep));
			run = p + n;
		}
		p += n;
		chars++;
	}
	dash_buf_append(b, (const char *)run, (size_t)(p - run));
	return false;
}

void dash_buf_escape(struct dash_buf *b, const char *s)
{
	escape_max(b, s, SIZE_MAX);
}

/* Escaped and cut to `max_chars`, with an ellipsis when cut. */
static void esc_cut(struct dash_buf *b, const char *s, size_t max_chars)
{
	if (escape_max(b, s, max_chars))
		dash_buf_append(b, ELLIPSIS, sizeof(ELLIPSIS) - 1);
}

static void put(struct dash_buf *b, const char *s)
{
	dash_buf_append(b, s, strlen(s));
}

/* Escaped `s`, or `dflt` (not escaped) when `s` is NULL or empty. */
static void esc_or(struct dash_buf *b, const char *s, const char *dflt)
{
	if (s && *s)
		dash_buf_escape(b, s);
	else
		put(b, dflt);
}

/* ---- numbers and times ------------------------------------------------------ */

/* "1,234,567" */
static void fmt_count(uint64_t v, char out[32])
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%" PRIu64, v);
	int lead = n % 3 ? n % 3 : 3;
	size_t o = 0;

	for (int i = 0; i < n; i++) {
		if (i >= lead && (i - lead) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
}

/* Fixed decimals; "-" for NaN and infinities, never "-0.000". */
static void fmt_fixed(double v, int prec, char *out, size_t size)
{
	if (!isfinite(v)) {
		snprintf(out, size, "-");
		return;
	}
	snprintf(out, size, "%.*f", prec, v);
	if (out[0] == '-' && strspn(out + 1, "0.") == strlen(out + 1))
		memmove(out, out + 1, strlen(out));
}

/* "%.3g" or "%.4g" (digits 3 or 4), or "-" when not finite. */
static void fmt_g(double v, int digits, char *out, size_t size)
{
	if (!isfinite(v))
		snprintf(out, size, "-");
	else
		snprintf(out, size, "%.*g", digits, v);
}

/*
 * num/den as a percentage with one decimal, as HTML text.  A share that is
 * neither none nor all never reads "0.0%" or "100.0%" but "<0.1%" or ">99.9%".
 */
static void fmt_pct(uint64_t num, uint64_t den, char *out, size_t size)
{
	double p;

	if (den == 0) {
		snprintf(out, size, "-");
		return;
	}
	if (num > den)
		num = den;
	p = (double)num / (double)den * 100.0;
	if (num > 0 && p < 0.05)
		snprintf(out, size, "&lt;0.1%%");
	else if (num < den && p >= 99.95)
		snprintf(out, size, "&gt;99.9%%");
	else
		snprintf(out, size, "%.1f%%", p);
}

/* Broken-down UTC time of Unix ms, flooring toward the past. */
static bool utc_tm(int64_t ms, struct tm *tm)
{
	int64_t s = ms / 1000 - (ms % 1000 < 0);
	time_t t = (time_t)s;

	if ((int64_t)t != s)
		return false;
	return gmtime_r(&t, tm) != NULL;
}

/* "2026-11-25 04:10 UTC" */
static void fmt_time(int64_t ms, char *out, size_t size)
{
	struct tm tm;

	if (!utc_tm(ms, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		snprintf(out, size, "-");
		return;
	}
	snprintf(out, size, "%04d-%02d-%02d %02d:%02d UTC", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min);
}

/* An axis label: "04:10" for buckets under a day, else "11-25". */
static void fmt_axis_time(int64_t ms, bool daily, char *out, size_t size)
{
	struct tm tm;

	if (!utc_tm(ms, &tm))
		snprintf(out, size, "-");
	else if (daily)
		snprintf(out, size, "%02d-%02d", tm.tm_mon + 1, tm.tm_mday);
	else
		snprintf(out, size, "%02d:%02d", tm.tm_hour, tm.tm_min);
}

/* "30 min", "1 h", "24 h", "7 d" */
static void fmt_duration(int64_t ms, char *out, size_t size)
{
	if (ms <= 0)
		snprintf(out, size, "-");
	else if (ms % 86400000 == 0 && ms > 2 * 86400000)
		snprintf(out, size, "%" PRId64 " d", ms / 86400000);
	else if (ms % 3600000 == 0)
		snprintf(out, size, "%" PRId64 " h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(out, size, "%" PRId64 " min", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(out, size, "%" PRId64 " s", ms / 1000);
	else
		snprintf(out, size, "%" PRId64 " ms", ms);
}

/* A y-axis tick value: "1,500" up to 999,999, then "1.5M", "2G", ... */
static void fmt_tick(double v, char *out, size_t size)
{
	static const char units[] = "MGTPE";
	double unit = 1e6;
	int u = -1;

	if (v < 1e6) {
		char tmp[32];
		fmt_count((uint64_t)(v + 0.5), tmp);
		snprintf(out, size, "%s", tmp);
		return;
	}
	while (u < 4 && v >= unit) {
		u++;
		unit *= 1000.0;
	}
	unit /= 1000.0;
	v /= unit;
	if (fabs(v - floor(v + 0.5)) < 1e-9)
		snprintf(out, size, "%.0f%c", v, units[u]);
	else
		snprintf(out, size, "%.1f%c", v, units[u]);
}

/*
 * An ISO 8601 UTC text ("2026-11-25T04:10:00Z", "...T04:10:00.123+00:00")
 * shown as "2026-11-25 04:10 UTC"; anything else is shown as given.
 */
static void put_iso_time(struct dash_buf *b, const char *s)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd";
	const char *p;
	size_t i;

	if (!s || !*s) {
		put(b, "-");
		return;
	}
	for (i = 0; pattern[i]; i++) {
		char c = s[i];
		bool ok = pattern[i] == 'd' ? (c >= '0' && c <= '9')
					    : (c == pattern[i] || (pattern[i] == 'T' && c == ' '));
		if (!ok)
			break;
	}
	if (pattern[i] == '\0') {
		p = s + i;
		if (p[0] == ':' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9') {
			p += 3;
			if (*p == '.')
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
		}
		if (!strcmp(p, "Z") || !strcmp(p, "+00:00") || !strcmp(p, " UTC") || !*p) {
			dash_buf_append(b, s, 10);
			dash_buf_append(b, " ", 1);
			dash_buf_append(b, s + 11, 5);
			put(b, " UTC");
			return;
		}
	}
	dash_buf_escape(b, s);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/*
 * A "nice" y scale for counts up to `max_v`: a step of 1, 2 or 5 x 10^k and
 * the number of intervals, preferring 3 or 4 intervals (4 or 5 ticks), else
 * the smallest step that needs at most 5.
 */
static void nice_scale(uint64_t max_v, uint64_t *step, unsigned *n_int)
{
	static const uint64_t mult[3] = {1, 2, 5};
	uint64_t fallback = 0;
	unsigned fallback_n = 0;

	*step = max_v ? max_v : 1;
	*n_int = 1;
	if (max_v == 0)
		return;
	for (uint64_t p = 1;; p *= 10) {
		for (int i = 0; i < 3; i++) {
			uint64_t s = mult[i] * p;
			uint64_t n = max_v / s + (max_v % s != 0);
			if (n >= 3 && n <= 4) {
				*step = s;
				*n_int = (unsigned)n;
				return;
			}
			if (n <= 5 && !fallback) {
				fallback = s;
				fallback_n = (unsigned)n;
			}
		}
		if (p > UINT64_MAX / 100)
			break;
	}
	if (fallback) {
		*step = fallback;
		*n_int = fallback_n;
	}
}

/* ---- page frame ------------------------------------------------------------- */

static const char CSS[] =
	":root{--threat:" C_THREAT ";--benign:" C_BENIGN ";--ink:#1f2933;--muted:" C_MUTED
	";--line:" C_GRID ";--bg:#f5f7fa}\n"
	"*{box-sizing:border-box}\n"
	"body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.45 "
	"system-ui,-apple-system,"
	"\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,\"Noto Sans\",\"Liberation "
	"Sans\",sans-serif}\n"
	".top{background:#1a202c;color:#f5f7fa;border-bottom:3px solid var(--threat)}\n"
	".wrap{max-width:1240px;margin:0 auto;padding:0 20px}\n"
	".top .wrap{display:flex;flex-wrap:wrap;align-items:baseline;justify-content:space-between;"
	"gap:4px 24px;padding-top:14px;padding-bottom:14px}\n"
	"h1{font-size:20px;margin:0;font-weight:600;overflow-wrap:anywhere}\n"
	".hmeta{color:#cbd2d9;font-size:13px}\n"
	".hmeta b{color:#fff;font-weight:600}\n"
	"main{padding-top:20px;padding-bottom:28px}\n"
	".grid{display:grid;grid-template-columns:minmax(0,1fr);gap:16px}\n"
	".tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:16px;"
	"grid-column:1/-1}\n"
	".cols{display:grid;grid-template-columns:minmax(0,1fr);gap:8px 32px}\n"
	"@media (min-width:900px){.grid{grid-template-columns:repeat(3,minmax(0,1fr))}"
	".w2{grid-column:span 2}.w3{grid-column:1/-1}"
	".cols{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}}\n"
	".tile,.card{background:#fff;border:1px solid var(--line);border-radius:8px;"
	"box-shadow:0 1px 2px rgba(16,24,40,.05)}\n"
	".tile{padding:14px 16px}\n"
	".tile .v{display:block;font-size:26px;font-weight:600;font-variant-numeric:tabular-nums}\n"
	".tile .k,.metric .k{color:var(--muted);font-size:12px;text-transform:uppercase;"
	"letter-spacing:.04em}\n"
	".tile .s{color:var(--muted);font-size:12px}\n"
	".tile.threat .v{color:var(--threat)}\n"
	".card{padding:16px 18px;min-width:0}\n"
	".card h2{font-size:15px;margin:0 0 12px;font-weight:600}\n"
	".card h3{font-size:12px;margin:18px 0 8px;color:var(--muted);font-weight:600;"
	"text-transform:uppercase;letter-spacing:.04em}\n"
	".note{color:var(--muted);font-size:13px;margin:8px 0 0}\n"
	".empty{color:var(--muted);font-size:14px;margin:0;padding:28px 8px;text-align:center}\n"
	".chart{overflow-x:auto}\n"
	".chart svg{display:block;width:100%;height:auto}\n"
	".chart svg.tl{min-width:640px}\n"
	".chart svg.bars{min-width:360px}\n"
	".chart svg.donut{max-width:200px;margin:0 auto}\n"
	"svg text{font-family:inherit}\n"
	".hov rect:hover{fill-opacity:.08}\n"
	"table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-"
	"nums}\n"
	".scroll>table{min-width:600px}\n"
	".scroll>table.cm{min-width:0}\n"
	"td.nw,.scroll td code{white-space:nowrap;word-break:normal}\n"
	"th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:left;"
	"vertical-align:top}\n"
	"thead th{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase;"
	"letter-spacing:.03em}\n"
	".n{text-align:right}\n"
	"code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,\"Liberation Mono\",monospace;"
	"word-break:break-all}\n"
	".badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;"
	"font-weight:600;background:" C_GRID ";color:#3e4c59;white-space:nowrap}\n"
	".badge.ok{background:#def7ec;color:#03543f}\n"
	".badge.bad{background:#fde8e8;color:#9b1c1c}\n"
	".badge.info{background:#e1effe;color:#1e429f}\n"
	"tr.bad td{background:#fff5f5}\n"
	".why{color:var(--muted);font-size:12px;overflow-wrap:anywhere}\n"
	".kv{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:6px 16px;margin:0}\n"
	".kv dt{color:var(--muted)}\n"
	".kv dd{margin:0;min-width:0;overflow-wrap:anywhere}\n"
	".metrics{display:grid;grid-template-columns:repeat(auto-fit,minmax(92px,1fr));gap:8px;"
	"margin-top:16px}\n"
	".metric{border:1px solid var(--line);border-radius:6px;padding:8px 10px}\n"
	".metric "
	".v{display:block;font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}\n"
	".scroll{overflow-x:auto}\n"
	"table.cm{width:auto}\n"
	"table.cm th,table.cm td{border:1px solid "
	"var(--line);text-align:right;white-space:nowrap}\n"
	"table.cm th{max-width:12em;overflow:hidden;text-overflow:ellipsis;font-weight:600;"
	"text-transform:none;letter-spacing:0;font-size:13px;color:var(--ink)}\n"
	"table.cm th.corner{max-width:none;color:var(--muted);font-weight:400}\n"
	"table.cm td.dk{color:#fff}\n"
	"table.cm td.z{color:" C_AXIS "}\n"
	".legend{display:flex;flex-wrap:wrap;gap:4px 16px;justify-content:center;font-size:13px;"
	"color:var(--muted);margin:8px 0 0;padding:0;list-style:none}\n"
	".sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px;"
	"vertical-align:-1px}\n"
	".sw.t{background:var(--threat)}.sw.b{background:var(--benign)}\n"
	"footer{color:var(--muted);font-size:12px;text-align:center;padding:0 20px 24px}\n";

static void render_head(struct dash_buf *b, const struct dash_data *d)
{
	const char *title = d->title && *d->title ? d->title : "netsec";
	char now[40];

	fmt_time(d->now_ms, now, sizeof(now));
	put(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	       "<meta http-equiv=\"refresh\" content=\"30\">\n<title>");
	dash_buf_escape(b, title);
	put(b, "</title>\n<style>\n");
	put(b, CSS);
	put(b, "</style>\n</head>\n<body>\n<header class=\"top\"><div class=\"wrap\"><h1>");
	dash_buf_escape(b, title);
	put(b, "</h1><div class=\"hmeta\">");
	if (d->model.present) {
		put(b, "Model <b>");
		esc_or(b, d->model.name, "model");
		dash_buf_printf(b, " v%u</b>", d->model.version);
		if (d->model.family && *d->model.family) {
			put(b, " (");
			dash_buf_escape(b, d->model.family);
			put(b, ")");
		}
	} else {
		put(b, "<b>No model loaded</b>");
	}
	dash_buf_printf(b, " \xc2\xb7 Updated <time>%s</time></div></div></header>\n", now);
	put(b, "<main class=\"wrap\">\n<div class=\"grid\">\n");
}

static void tile(struct dash_buf *b, const char *cls, const char *key, const char *value,
		 const char *sub)
{
	dash_buf_printf(b,
			"<div class=\"tile%s\"><span class=\"k\">%s</span><span class=\"v\">%s"
			"</span><span class=\"s\">%s</span></div>\n",
			cls, key, value, sub);
}

static void render_tiles(struct dash_buf *b, const struct dash_data *d)
{
	char v[32], win[32], sub[64], pct[16];
	int64_t span = 0;
	uint64_t threat = d->threat_rows > d->rows ? d->rows : d->threat_rows;

	if (d->points && d->n_points && d->bucket_ms > 0 &&
	    d->n_points <= (uint64_t)INT64_MAX / (uint64_t)d->bucket_ms)
		span = (int64_t)d->n_points * d->bucket_ms;
	fmt_duration(span, win, sizeof(win));
	if (span > 0)
		snprintf(sub, sizeof(sub), "last %s", win);
	else
		snprintf(sub, sizeof(sub), "in this window");

	put(b, "<section class=\"tiles\" aria-label=\"Summary\">\n");
	fmt_count(d->requests, v);
	tile(b, "", "Requests", v, sub);
	fmt_count(d->rows, v);
	tile(b, "", "Rows predicted", v, sub);
	fmt_count(threat, v);
	tile(b, threat ? " threat" : "", "Threat rows", v, sub);
	fmt_pct(threat, d->rows, pct, sizeof(pct));
	tile(b, threat ? " threat" : "", "Threat share", pct, "of predicted rows");
	put(b, "</section>\n");
}

/* ---- predictions over time ---------------------------------------------------- */

/* Sums of bar `i` when each bar merges `group` buckets. */
static void bar_sums(const struct dash_data *d, size_t i, size_t group, uint64_t *t, uint64_t *bn)
{
	size_t end = (i + 1) * group < d->n_points ? (i + 1) * group : d->n_points;

	*t = *bn = 0;
	for (size_t k = i * group; k < end; k++) {
		*t = add_sat(*t, d->points[k].threat);
		*bn = add_sat(*bn, d->points[k].benign);
	}
}

/* Timeline geometry (SVG user units). */
#define TL_W 960.0
#define TL_H 280.0
#define TL_X0 64.0
#define TL_X1 944.0
#define TL_Y0 34.0
#define TL_Y1 246.0

static void xlabel(struct dash_buf *b, double x, int64_t ms, bool daily)
{
	char lab[32];

	fmt_axis_time(ms, daily, lab, sizeof(lab));
	dash_buf_printf(b,
			"<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\"/>"
			"<text x=\"%.1f\" y=\"%.0f\">%s</text>",
			x, x, TL_Y1, TL_Y1 + 5, C_AXIS, x, TL_Y1 + 19, lab);
}

/*
 * Time labels under the bars.  Where the buckets line up with round times
 * (every 4 h, every day, ...), ticks go at the starts of the bars that begin
 * on such a time, at most 6 of them; otherwise up to 6 bars spread evenly
 * are labelled at their centres.
 */
static void timeline_xlabels(struct dash_buf *b, const struct dash_data *d, size_t n_bars,
			     size_t group, double slot, bool daily)
{
	static const int64_t nice_ms[] = {60000,    120000,   300000,   600000,    900000,
					  1800000,  3600000,  7200000,  10800000,  14400000,
					  21600000, 43200000, 86400000, 172800000, 604800000};
	int64_t first = d->points[0].start_ms;
	int64_t last = d->points[(n_bars - 1) * group].start_ms;
	int64_t width = d->bucket_ms > 0 ? d->bucket_ms : 1, interval = 0;
	size_t aligned = 0, k;

	if (group > 1 && width <= INT64_MAX / (int64_t)group)
		width *= (int64_t)group;
	/* (the span check keeps last - first from overflowing) */
	if (last > first && (first >= 0 || last <= INT64_MAX + first))
		for (size_t j = 0; j < sizeof(nice_ms) / sizeof(nice_ms[0]); j++)
			if (nice_ms[j] >= width && (last - first) / nice_ms[j] <= 5) {
				interval = nice_ms[j];
				break;
			}
	if (interval)
		for (size_t i = 0; i < n_bars; i++)
			aligned += d->points[i * group].start_ms % interval == 0;

	dash_buf_printf(b, "<g fill=\"%s\" text-anchor=\"middle\">", C_MUTED);
	if (aligned >= 2 && aligned <= 6) {
		for (size_t i = 0; i < n_bars; i++)
			if (d->points[i * group].start_ms % interval == 0)
				xlabel(b, TL_X0 + (double)i * slot, d->points[i * group].start_ms,
				       daily);
	} else {
		k = n_bars < 6 ? n_bars : 6;
		for (size_t j = 0; j < k; j++) {
			size_t i = k > 1 ? j * (n_bars - 1) / (k - 1) : 0;
			xlabel(b, TL_X0 + ((double)i + 0.5) * slot, d->points[i * group].start_ms,
			       daily);
		}
	}
	put(b, "</g>\n");
}

/* One path of stacked bars: the threat part (lower) or the benign part. */
static void timeline_path(struct dash_buf *b, const struct dash_data *d, size_t n_bars,
			  size_t group, double top, bool threat_part, const char *fill)
{
	double slot = (TL_X1 - TL_X0) / (double)n_bars;
	double bw = slot >= 4.0 ? slot * 0.78 : slot;
	double ph = TL_Y1 - TL_Y0;

	if (bw > 48.0)
		bw = 48.0;
	dash_buf_printf(b, "<path fill=\"%s\" d=\"", fill);
	for (size_t i = 0; i < n_bars; i++) {
		uint64_t t, bn;
		double ht, hb, base, h, x;

		bar_sums(d, i, group, &t, &bn);
		ht = t ? fmax((double)t / top * ph, 1.0) : 0.0;
		hb = bn ? fmax((double)bn / top * ph, 1.0) : 0.0;
		base = threat_part ? TL_Y1 : TL_Y1 - ht;
		h = threat_part ? ht : hb;
		if (h <= 0.0)
			continue;
		x = TL_X0 + (double)i * slot + (slot - bw) / 2.0;
		dash_buf_printf(b, "M%.1f %.1fh%.1fv%.1fh%.1fz", x, base, bw, -h, -bw);
	}
	put(b, "\"/>\n");
}

static void render_timeline(struct dash_buf *b, const struct dash_data *d)
{
	size_t n = d->points ? d->n_points : 0;
	size_t group, n_bars;
	uint64_t max_v = 0, sum_t = 0, sum_b = 0, step;
	unsigned n_int;
	double top, slot;
	char first[40], last[40], width[32], ts[32], tb[32], lab[32];
	bool daily;

	put(b, "<section class=\"card w3\" id=\"timeline\"><h2>Predictions over time</h2>\n");
	if (n == 0) {
		put(b, "<p class=\"empty\">No predictions yet. Rows sent to <code>POST "
		       "/predict</code> "
		       "appear here.</p>\n</section>\n");
		return;
	}
	group = n > MAX_BARS ? (n + MAX_BARS - 1) / MAX_BARS : 1;
	n_bars = (n + group - 1) / group;
	for (size_t i = 0; i < n_bars; i++) {
		uint64_t t, bn;
		bar_sums(d, i, group, &t, &bn);
		sum_t = add_sat(sum_t, t);
		sum_b = add_sat(sum_b, bn);
		if (add_sat(t, bn) > max_v)
			max_v = add_sat(t, bn);
	}
	nice_scale(max_v, &step, &n_int);
	top = (double)step * (double)n_int;
	slot = (TL_X1 - TL_X0) / (double)n_bars;
	daily = d->bucket_ms >= 86400000;
	fmt_time(d->points[0].start_ms, first, sizeof(first));
	fmt_time(d->points[n - 1].start_ms, last, sizeof(last));
	if (d->bucket_ms > 0 && (uint64_t)d->bucket_ms <= (uint64_t)INT64_MAX / group)
		fmt_duration(d->bucket_ms * (int64_t)group, width, sizeof(width));
	else
		snprintf(width, sizeof(width), "bucket");
	fmt_count(sum_t, ts);
	fmt_count(sum_b, tb);

	dash_buf_printf(b,
			"<div class=\"chart\"><svg id=\"chart-timeline\" class=\"tl\" "
			"xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" "
			"role=\"img\" font-size=\"12\" aria-label=\"Threat and benign rows per "
			"%s from %s to %s: %s threat, %s benign\">"
			"<title>Predictions over time</title>\n",
			TL_W, TL_H, width, first, last, ts, tb);

	/* grid and y ticks */
	dash_buf_printf(b, "<g stroke=\"%s\">", C_GRID);
	for (unsigned i = 1; i <= n_int; i++) {
		double y = TL_Y1 - (double)i / (double)n_int * (TL_Y1 - TL_Y0);
		dash_buf_printf(b, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\"/>", TL_X0,
				TL_X1, y, y);
	}
	put(b, "</g>\n");
	dash_buf_printf(b, "<g fill=\"%s\" text-anchor=\"end\">", C_MUTED);
	for (unsigned i = 0; i <= n_int; i++) {
		double y = TL_Y1 - (double)i / (double)n_int * (TL_Y1 - TL_Y0);
		fmt_tick((double)step * i, lab, sizeof(lab));
		dash_buf_printf(b, "<text x=\"%.0f\" y=\"%.1f\">%s</text>", TL_X0 - 8, y + 4, lab);
	}
	put(b, "</g>\n");

	/* bars: threat at the bottom so its height reads from the axis */
	if (sum_t)
		timeline_path(b, d, n_bars, group, top, true, C_THREAT);
	if (sum_b)
		timeline_path(b, d, n_bars, group, top, false, C_BENIGN);
	dash_buf_printf(b,
			"<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.0f\" y2=\"%.0f\" stroke=\"%s\"/>\n",
			TL_X0, TL_X1, TL_Y1, TL_Y1, C_AXIS);
	if (max_v == 0)
		dash_buf_printf(
			b,
			"<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\" font-size=\"13\" "
			"fill=\"%s\">No predictions in this window</text>\n",
			(TL_X0 + TL_X1) / 2, (TL_Y0 + TL_Y1) / 2, C_MUTED);

	timeline_xlabels(b, d, n_bars, group, slot, daily);

	/* legend */
	dash_buf_printf(
		b,
		"<g font-size=\"12\" fill=\"%s\"><rect x=\"%.0f\" y=\"9\" width=\"10\" "
		"height=\"10\" rx=\"2\" fill=\"%s\"/><text x=\"%.0f\" y=\"18\">Threat</text>"
		"<rect x=\"%.0f\" y=\"9\" width=\"10\" height=\"10\" rx=\"2\" fill=\"%s\"/>"
		"<text x=\"%.0f\" y=\"18\">Benign</text></g>\n",
		C_INK, TL_X0, C_THREAT, TL_X0 + 15, TL_X0 + 80, C_BENIGN, TL_X0 + 95);

	/* hover targets with a tooltip per bar */
	put(b, "<g class=\"hov\" fill=\"#1f2933\" fill-opacity=\"0\">");
	for (size_t i = 0; i < n_bars; i++) {
		uint64_t t, bn;
		char when[40];
		bar_sums(d, i, group, &t, &bn);
		fmt_time(d->points[i * group].start_ms, when, sizeof(when));
		fmt_count(t, ts);
		fmt_count(bn, tb);
		dash_buf_printf(
			b,
			"<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\"><title>%s: "
			"%s threat, %s benign</title></rect>",
			TL_X0 + (double)i * slot, TL_Y0, slot, TL_Y1 - TL_Y0, when, ts, tb);
	}
	put(b, "</g>\n</svg></div>\n");

	fmt_count(n, ts);
	dash_buf_printf(b, "<p class=\"note\">%s bucket%s", ts, n == 1 ? "" : "s");
	if (d->bucket_ms > 0) {
		fmt_duration(d->bucket_ms, tb, sizeof(tb));
		dash_buf_printf(b, " of %s", tb);
	}
	if (group > 1) {
		fmt_count(n_bars, ts);
		dash_buf_printf(b, " (shown as %s bars of %s)", ts, width);
	}
	dash_buf_printf(b, ", %s to %s.</p>\n</section>\n", first, last);
}

/* ---- threat share ------------------------------------------------------------- */

#define DN_C 80.0
#define DN_R 60.0

/* An arc of the ring from fraction f0 to f1 (clockwise from 12 o'clock), f1 - f0 <= 0.5. */
static void donut_arc(struct dash_buf *b, double f0, double f1, const char *stroke)
{
	const double two_pi = 6.283185307179586;
	double x0 = DN_C + DN_R * sin(two_pi * f0), y0 = DN_C - DN_R * cos(two_pi * f0);
	double x1 = DN_C + DN_R * sin(two_pi * f1), y1 = DN_C - DN_R * cos(two_pi * f1);

	dash_buf_printf(
		b,
		"<path d=\"M%.2f %.2fA%.0f %.0f 0 0 1 %.2f %.2f\" fill=\"none\" stroke=\"%s\" "
		"stroke-width=\"22\"/>",
		x0, y0, DN_R, DN_R, x1, y1, stroke);
}

static void donut_ring(struct dash_buf *b, const char *stroke)
{
	dash_buf_printf(b,
			"<circle cx=\"%.0f\" cy=\"%.0f\" r=\"%.0f\" fill=\"none\" stroke=\"%s\" "
			"stroke-width=\"22\"/>",
			DN_C, DN_C, DN_R, stroke);
}

static void render_share(struct dash_buf *b, const struct dash_data *d)
{
	uint64_t threat = d->threat_rows > d->rows ? d->rows : d->threat_rows;
	char pct[16], ts[32], tb[32];
	double f;

	put(b, "<section class=\"card\" id=\"share\"><h2>Threat share</h2>\n");
	if (d->rows == 0) {
		put(b, "<p class=\"empty\">No predictions yet.</p>\n</section>\n");
		return;
	}
	fmt_pct(threat, d->rows, pct, sizeof(pct));
	fmt_count(threat, ts);
	fmt_count(d->rows - threat, tb);
	f = (double)threat / (double)d->rows;
	dash_buf_printf(b,
			"<div class=\"chart\"><svg id=\"chart-share\" class=\"donut\" "
			"xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 160 160\" role=\"img\" "
			"aria-label=\"%s of predicted rows are threats: %s threat, %s benign\">"
			"<title>Threat share</title>",
			pct, ts, tb);
	/*
	 * A full circle is not an arc (its end points coincide), so the larger
	 * part is drawn as a whole ring and the smaller one, at most half the
	 * ring, as an arc on top: 0% and 100% are plain rings.
	 */
	if (threat == 0) {
		donut_ring(b, C_BENIGN);
	} else if (threat == d->rows) {
		donut_ring(b, C_THREAT);
	} else if (f <= 0.5) {
		donut_ring(b, C_BENIGN);
		donut_arc(b, 0.0, f, C_THREAT);
	} else {
		donut_ring(b, C_THREAT);
		donut_arc(b, f, 1.0, C_BENIGN);
	}
	dash_buf_printf(b,
			"<text x=\"80\" y=\"84\" text-anchor=\"middle\" font-size=\"24\" "
			"font-weight=\"600\" fill=\"%s\">%s</text>"
			"<text x=\"80\" y=\"104\" text-anchor=\"middle\" font-size=\"12\" "
			"fill=\"%s\">threat</text></svg></div>\n",
			threat ? C_THREAT : C_INK, pct, C_MUTED);
	dash_buf_printf(b,
			"<ul class=\"legend\"><li><span class=\"sw t\"></span>Threat %s</li>"
			"<li><span class=\"sw b\"></span>Benign %s</li></ul>\n</section>\n",
			ts, tb);
}

/* ---- horizontal bars ------------------------------------------------------------ */

#define HB_ROW 24.0
#define HB_TOP 6.0

/* A horizontal bar chart: its width, the label column and the value column. */
struct hbars {
	double width, label_w, value_w;
	size_t label_chars;
};

/* Opens a horizontal bar chart of `rows` rows. */
static void hbars_open(struct dash_buf *b, const struct hbars *h, const char *id, size_t rows,
		       const char *aria, const char *title)
{
	dash_buf_printf(
		b,
		"<div class=\"chart\"><svg id=\"%s\" class=\"bars\" "
		"xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %.0f %.0f\" role=\"img\" "
		"font-size=\"12\" aria-label=\"%s\"><title>%s</title>\n",
		id, h->width, HB_TOP * 2 + HB_ROW * (double)rows, aria, title);
}

/* One row: label (cut), a bar of `frac` of the bar area, the value at its end. */
static void hbar_row(struct dash_buf *b, const struct hbars *h, size_t i, const char *label,
		     double frac, const char *fill, const char *value, const char *tip_extra)
{
	double y = HB_TOP + HB_ROW * (double)i;
	double x0 = h->label_w + 8.0;
	double w;

	if (!(frac > 0.0))
		frac = 0.0;
	else if (frac > 1.0)
		frac = 1.0;
	w = (h->width - h->value_w - x0) * frac;

	if (frac > 0.0 && w < 2.0)
		w = 2.0;
	put(b, "<g><title>");
	esc_cut(b, label, TIP_CHARS);
	dash_buf_printf(b,
			": %s%s</title><text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\" "
			"fill=\"%s\">",
			value, tip_extra, h->label_w, y + 16.0, C_INK);
	esc_cut(b, label, h->label_chars);
	dash_buf_printf(b,
			"</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"16\" rx=\"2\" "
			"fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text></g>\n",
			x0, y + 4.0, w, fill, x0 + w + 6.0, y + 16.0, C_MUTED, value);
}

static void render_classes(struct dash_buf *b, const struct dash_data *d)
{
	size_t n = d->classes ? d->n_classes : 0;
	size_t shown = n < MAX_CLASSES ? n : MAX_CLASSES;
	uint64_t total = 0, max_c = 0, rest = 0;
	const struct hbars geom = {640.0, 156.0, 128.0, CLASS_LABEL_CHARS};
	char aria[96], cnt[32], pct[16], value[64];

	put(b, "<section class=\"card w2\" id=\"classes\"><h2>Counts per class</h2>\n");
	for (size_t i = 0; i < n; i++) {
		total = add_sat(total, d->classes[i].count);
		if (d->classes[i].count > max_c)
			max_c = d->classes[i].count;
		if (i >= shown)
			rest = add_sat(rest, d->classes[i].count);
	}
	if (n == 0 || total == 0) {
		put(b, "<p class=\"empty\">No predictions yet.</p>\n</section>\n");
		return;
	}
	fmt_count(n, cnt);
	snprintf(aria, sizeof(aria), "Predicted rows per class, %s class%s, largest first", cnt,
		 n == 1 ? "" : "es");
	hbars_open(b, &geom, "chart-classes", shown, aria, "Counts per class");
	for (size_t i = 0; i < shown; i++) {
		const struct dash_class_count *c = &d->classes[i];
		fmt_count(c->count, cnt);
		fmt_pct(c->count, total, pct, sizeof(pct));
		snprintf(value, sizeof(value), "%s \xc2\xb7 %s", cnt, pct);
		hbar_row(b, &geom, i, c->label ? c->label : "", (double)c->count / (double)max_c,
			 c->threat ? C_THREAT : C_BENIGN, value,
			 c->threat ? " (threat class)" : "");
	}
	put(b, "</svg></div>\n");
	if (n > shown) {
		fmt_count(n - shown, cnt);
		fmt_count(rest, value);
		dash_buf_printf(b, "<p class=\"note\">%s more class%s not shown (%s rows).</p>\n",
				cnt, n - shown == 1 ? "" : "es", value);
	}
	put(b, "<ul class=\"legend\"><li><span class=\"sw t\"></span>Threat class</li>"
	       "<li><span class=\"sw b\"></span>Other class</li></ul>\n</section>\n");
}

/* ---- current model ------------------------------------------------------------- */

static void kv_text(struct dash_buf *b, const char *key, const char *value)
{
	dash_buf_printf(b, "<dt>%s</dt><dd>", key);
	esc_or(b, value, "-");
	put(b, "</dd>");
}

static void metric(struct dash_buf *b, const char *key, double v)
{
	char s[32];
	fmt_fixed(v, 3, s, sizeof(s));
	dash_buf_printf(b,
			"<div class=\"metric\"><span class=\"v\">%s</span><span class=\"k\">%s"
			"</span></div>",
			s, key);
}

static void render_confusion(struct dash_buf *b, const struct dash_model *m)
{
	size_t n = m->n_labels < MAX_LABELS ? m->n_labels : MAX_LABELS;

	put(b, "<h3>Confusion matrix (test split)</h3>\n");
	if (!m->labels || !m->confusion || m->n_labels == 0) {
		put(b, "<p class=\"note\">No confusion matrix recorded.</p>\n");
		return;
	}
	put(b, "<div class=\"scroll\"><table class=\"cm\"><thead><tr>"
	       "<th scope=\"col\" class=\"corner\">true \\ predicted</th>");
	for (size_t j = 0; j < n; j++) {
		put(b, "<th scope=\"col\" title=\"");
		esc_cut(b, m->labels[j], TIP_CHARS);
		put(b, "\">");
		esc_or(b, m->labels[j], "-");
		put(b, "</th>");
	}
	put(b, "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const uint64_t *row = m->confusion + i * m->n_labels;
		uint64_t sum = 0;

		for (size_t j = 0; j < m->n_labels; j++)
			sum = add_sat(sum, row[j]);
		put(b, "<tr><th scope=\"row\" title=\"");
		esc_cut(b, m->labels[i], TIP_CHARS);
		put(b, "\">");
		esc_or(b, m->labels[i], "-");
		put(b, "</th>");
		for (size_t j = 0; j < n; j++) {
			char cnt[32], pct[16];
			double share = sum ? (double)row[j] / (double)sum : 0.0;

			fmt_count(row[j], cnt);
			fmt_pct(row[j], sum, pct, sizeof(pct));
			if (row[j] == 0) {
				dash_buf_printf(b, "<td class=\"z\" title=\"%s of the row\">0</td>",
						pct);
				continue;
			}
			/* correct predictions in green, errors in red, deeper with the share */
			dash_buf_printf(b,
					"<td%s style=\"background:rgba(%s,%.2f)\" title=\"%s of "
					"the row\">%s</td>",
					share > 0.55 ? " class=\"dk\"" : "",
					i == j ? "47,133,90" : "214,69,69", 0.08 + 0.8 * share, pct,
					cnt);
		}
		put(b, "</tr>\n");
	}
	put(b, "</tbody></table></div>\n");
	if (m->n_labels > n)
		dash_buf_printf(b, "<p class=\"note\">First %zu of %zu labels shown.</p>\n", n,
				m->n_labels);
}

static void render_features(struct dash_buf *b, const struct dash_model *m)
{
	size_t n = m->features ? m->n_features : 0;
	size_t shown = n < MAX_FEATURES ? n : MAX_FEATURES;
	const struct hbars geom = {480.0, 180.0, 52.0, FEATURE_LABEL_CHARS};
	double max_i = 0.0;
	char aria[96];

	put(b, "<h3>Top feature importances</h3>\n");
	if (shown == 0) {
		put(b, "<p class=\"note\">This model reports no feature importances.</p>\n");
		return;
	}
	for (size_t i = 0; i < shown; i++)
		if (isfinite(m->features[i].importance) && m->features[i].importance > max_i)
			max_i = m->features[i].importance;
	snprintf(aria, sizeof(aria), "Top %zu feature importances, highest first", shown);
	hbars_open(b, &geom, "chart-features", shown, aria, "Top feature importances");
	for (size_t i = 0; i < shown; i++) {
		double v = m->features[i].importance;
		char value[32];

		fmt_fixed(v, 3, value, sizeof(value));
		hbar_row(b, &geom, i, m->features[i].name ? m->features[i].name : "",
			 isfinite(v) && max_i > 0.0 ? v / max_i : 0.0, C_INFO, value, "");
	}
	put(b, "</svg></div>\n");
	if (n > shown)
		dash_buf_printf(b, "<p class=\"note\">%zu more features not shown.</p>\n",
				n - shown);
}

static void render_model(struct dash_buf *b, const struct dash_data *d)
{
	const struct dash_model *m = &d->model;
	char s[48];

	put(b, "<section class=\"card w3\" id=\"model\"><h2>Current model</h2>\n");
	if (!m->present) {
		put(b, "<p class=\"empty\">No model is loaded yet. Train one with <code>netsec "
		       "train</code> on the command line, or send <code>POST /train</code> with "
		       "the service's bearer token; the dashboard shows it on the next "
		       "refresh.</p>\n</section>\n");
		return;
	}
	put(b, "<div class=\"cols\"><div>\n<dl class=\"kv\">");
	put(b, "<dt>Model</dt><dd>");
	esc_or(b, m->name, "-");
	dash_buf_printf(b, " <span class=\"badge info\">v%u</span></dd>", m->version);
	kv_text(b, "Family", m->family);
	put(b, "<dt>Trained at</dt><dd>");
	put_iso_time(b, m->trained_at);
	put(b, "</dd><dt>Run id</dt><dd><code>");
	esc_or(b, m->run_id, "-");
	put(b, "</code></dd><dt>Parameters</dt><dd><code>");
	esc_or(b, m->params, "defaults");
	put(b, "</code></dd><dt>CV score</dt><dd>");
	fmt_fixed(m->cv_score, 4, s, sizeof(s));
	put(b, s);
	if (m->scoring && *m->scoring) {
		put(b, " (");
		dash_buf_escape(b, m->scoring);
		put(b, ")");
	}
	put(b, "</dd>");
	kv_text(b, "Threat class", m->threat);
	put(b, "</dl>\n<div class=\"metrics\">");
	metric(b, "Accuracy", m->accuracy);
	metric(b, "Precision", m->precision);
	metric(b, "Recall", m->recall);
	metric(b, "F1", m->f1);
	metric(b, "ROC-AUC", m->roc_auc);
	put(b, "</div>\n<p class=\"note\">Test-split metrics");
	if (m->threat && *m->threat) {
		put(b, " for the threat class \xe2\x80\x9c");
		dash_buf_escape(b, m->threat);
		put(b, "\xe2\x80\x9d");
	}
	put(b, ".</p>\n</div><div>\n");
	render_features(b, m);
	put(b, "</div></div>\n");
	render_confusion(b, m);
	put(b, "</section>\n");
}

/* ---- runs and drift ----------------------------------------------------------- */

static void render_runs(struct dash_buf *b, const struct dash_data *d)
{
	size_t n = d->runs ? d->n_runs : 0;
	size_t shown = n < MAX_RUNS ? n : MAX_RUNS;

	put(b, "<section class=\"card w3\" id=\"runs\"><h2>Recent training runs</h2>\n");
	if (n == 0) {
		put(b, "<p class=\"empty\">No training runs yet.</p>\n</section>\n");
		return;
	}
	put(b, "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Run</th>"
	       "<th scope=\"col\">Started</th><th scope=\"col\">Status</th>"
	       "<th scope=\"col\">Family</th><th scope=\"col\" class=\"n\">Test score</th>"
	       "<th scope=\"col\" class=\"n\">Version</th><th scope=\"col\">Promoted</th>"
	       "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < shown; i++) {
		const struct dash_run *r = &d->runs[i];
		const char *st = r->status ? r->status : "";
		bool failed = !strncmp(st, "failed", 6);
		char score[32];

		put(b, failed ? "<tr class=\"bad\"><td><code>" : "<tr><td><code>");
		esc_or(b, r->run_id, "-");
		put(b, "</code></td><td class=\"nw\">");
		put_iso_time(b, r->started_at);
		put(b, "</td><td>");
		if (failed) {
			const char *why = st + 6;
			put(b, "<span class=\"badge bad\">failed</span>");
			while (*why == ':' || *why == ' ')
				why++;
			if (*why) {
				put(b, " <span class=\"why\">");
				dash_buf_escape(b, why);
				put(b, "</span>");
			}
		} else {
			put(b, !strcmp(st, "finished")  ? "<span class=\"badge ok\">"
			       : !strcmp(st, "running") ? "<span class=\"badge info\">"
							: "<span class=\"badge\">");
			esc_or(b, st, "unknown");
			put(b, "</span>");
		}
		put(b, "</td><td>");
		esc_or(b, r->family, "-");
		fmt_fixed(r->test_score, 4, score, sizeof(score));
		dash_buf_printf(b, "</td><td class=\"n\">%s</td><td class=\"n\">", score);
		if (r->version)
			dash_buf_printf(b, "v%u", r->version);
		else
			put(b, "-");
		put(b, r->promoted ? "</td><td><span class=\"badge ok\">yes</span></td></tr>\n"
				   : "</td><td>no</td></tr>\n");
	}
	put(b, "</tbody></table></div>\n");
	if (n > shown)
		dash_buf_printf(b, "<p class=\"note\">%zu older runs not shown.</p>\n", n - shown);
	put(b, "</section>\n");
}

static void render_drift(struct dash_buf *b, const struct dash_data *d)
{
	size_t n = d->drift ? d->n_drift : 0;
	size_t shown = n < MAX_DRIFT ? n : MAX_DRIFT;
	size_t n_drifted = 0;
	char thr[32];

	put(b, "<section class=\"card w3\" id=\"drift\"><h2>Last drift report</h2>\n");
	if (!d->drift_run) {
		put(b,
		    "<p class=\"empty\">No drift report yet. <code>netsec train</code> writes one "
		    "per run.</p>\n</section>\n");
		return;
	}
	for (size_t i = 0; i < n; i++)
		n_drifted += d->drift[i].drift;
	fmt_g(d->drift_threshold, 3, thr, sizeof(thr));
	put(b, "<p class=\"note\" style=\"margin:0 0 10px\">Run <code>");
	esc_or(b, d->drift_run, "-");
	dash_buf_printf(b, "</code> \xc2\xb7 drift when p &lt; %s \xc2\xb7 ", thr);
	if (n_drifted)
		dash_buf_printf(b,
				"<span class=\"badge bad\">%zu of %zu columns drifted</span></p>\n",
				n_drifted, n);
	else
		dash_buf_printf(b, "<span class=\"badge ok\">no drift in %zu columns</span></p>\n",
				n);
	if (n == 0) {
		put(b, "</section>\n");
		return;
	}
	put(b, "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">Column</th>"
	       "<th scope=\"col\">Test</th><th scope=\"col\" class=\"n\">Statistic</th>"
	       "<th scope=\"col\" class=\"n\">p-value</th><th scope=\"col\">Drift</th>"
	       "</tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < shown; i++) {
		const struct dash_drift_column *c = &d->drift[i];
		char stat[32], p[32];

		fmt_g(c->statistic, 4, stat, sizeof(stat));
		fmt_g(c->p_value, 3, p, sizeof(p));
		put(b, c->drift ? "<tr class=\"bad\"><td>" : "<tr><td>");
		esc_or(b, c->name, "-");
		put(b, "</td><td class=\"nw\">");
		if (c->test && !strcmp(c->test, "ks"))
			put(b, "KS");
		else if (c->test && !strcmp(c->test, "chi2"))
			put(b, "chi-square");
		else
			esc_or(b, c->test, "-");
		dash_buf_printf(
			b, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td>%s</td></tr>\n",
			stat, p, c->drift ? "<span class=\"badge bad\">drift</span>" : "no");
	}
	put(b, "</tbody></table></div>\n");
	if (n > shown)
		dash_buf_printf(b, "<p class=\"note\">%zu more columns not shown.</p>\n",
				n - shown);
	put(b, "</section>\n");
}

/* ---- the page ----------------------------------------------------------------- */

enum ns_status dash_render(const struct dash_data *d, char **html, size_t *len)
{
	struct dash_buf b = {0};

	if (!d || !html || !len)
		return NS_ERR_INVALID;
	render_head(&b, d);
	render_tiles(&b, d);
	render_timeline(&b, d);
	render_share(&b, d);
	render_classes(&b, d);
	render_model(&b, d);
	render_runs(&b, d);
	render_drift(&b, d);
	put(&b, "</div>\n</main>\n<footer>netsec " NETSEC_VERSION_STRING
		" \xc2\xb7 all times UTC \xc2\xb7 this page refreshes every 30 s</footer>\n"
		"</body>\n</html>\n");
	if (b.failed) {
		ns_free(b.data);
		return NS_ERR_NOMEM;
	}
	*html = b.data;
	*len = b.len;
	return NS_OK;
}
