/*
 * src/server/predict.c - POST /predict (a CSV upload, streamed) and
 * POST /predict/json (records as JSON).
 *
 * /predict takes multipart/form-data with a field `file` (as the reference
 * project's FastAPI UploadFile) or a raw text/csv body.  Bytes go straight
 * from the connection through the multipart parser into the streaming
 * predictor (lib/learn/predictor.c): the upload is never held whole.  Rows
 * are written as they are predicted to an unlinked temporary file, which is
 * then sent with sendfile, so memory stays bounded by the predictor's block
 * whatever the size.  Output by `?format=` or the Accept header: an HTML
 * "Predicted Data" table (every cell escaped), CSV or JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "netsec/multipart.h"
#include "server.h"

#define PUTS(b, s) dash_buf_append((b), (s), strlen(s))

enum fmt { FMT_HTML, FMT_CSV, FMT_JSON };

struct pstate {
	struct srv_model *m;
	struct ns_predictor *pred;
	struct ns_multipart *mp; /* NULL: raw CSV body */
	bool in_file, seen_file;
	enum fmt fmt;
	FILE *out; /* the response body, unlinked temp file */
	FILE *keep; /* ?keep=true: this request's own result file (CSV); or,
		     * with keep_is_tmp, the CSV copy the log keeps (NETSEC_LOG_RAW_ROWS) */
	bool keep_is_tmp;
	bool logged; /* the log entry was written (with the raw rows) */
	char keep_path[4096], keep_tmp[4200];
	size_t n_cols;
	uint64_t rows;
	/* the first error */
	enum ns_status err;
	unsigned err_status;
	const char *err_title;
	struct ns_diag diag;
};

static void pstate_free(void *p)
{
	struct pstate *ps = p;
	ns_predictor_free(ps->pred);
	ns_multipart_free(ps->mp);
	if (ps->out)
		fclose(ps->out);
	if (ps->keep) {
		fclose(ps->keep);
		if (!ps->keep_is_tmp)
			unlink(ps->keep_tmp);
	}
	srv_model_release(ps->m);
	free(ps);
}

static void fput_html(FILE *fp, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '&':
			fputs("&amp;", fp);
			break;
		case '<':
			fputs("&lt;", fp);
			break;
		case '>':
			fputs("&gt;", fp);
			break;
		case '"':
			fputs("&quot;", fp);
			break;
		case '\'':
			fputs("&#39;", fp);
			break;
		default:
			fputc(s[i], fp);
		}
	}
}

static void fput_csv(FILE *fp, const char *s, size_t n)
{
	bool quote = n == 0 ? false : (s[0] == ' ' || s[n - 1] == ' ');
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	if (!quote) {
		fwrite(s, 1, n, fp);
		return;
	}
	fputc('"', fp);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			fputc('"', fp);
		fputc(s[i], fp);
	}
	fputc('"', fp);
}

static void fput_json(FILE *fp, const char *s, size_t n)
{
	fputc('"', fp);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void fput_num(FILE *fp, double v)
{
	char num[40];
	if (!isfinite(v)) {
		fputs("null", fp);
		return;
	}
	ns_format_double(v, num, sizeof(num));
	fputs(num, fp);
}

/* The probability that the row is a threat: of the threat class, or the sum
 * over the threat classes (a schema with a benign class). */
static double threat_probability(const struct srv_model *m, const double *proba, uint32_t k)
{
	double p = 0;
	bool any = false;
	for (uint32_t c = 0; c < k; c++)
		if (m->is_threat[c]) {
			p += proba[c];
			any = true;
		}
	return any ? p : NAN;
}

static enum ns_status on_header(void *user, size_t n, const char *const *names)
{
	struct pstate *ps = user;
	uint32_t k = ns_model_n_classes(ps->m->model);
	FILE *fp = ps->out;
	ps->n_cols = n;
	switch (ps->fmt) {
	case FMT_HTML:
		fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		      "<title>Predicted Data</title><style>body{font-family:system-ui,sans-serif;"
		      "margin:1.5rem}table{border-collapse:collapse;font-size:13px}"
		      "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}"
		      "th{background:#f2f2f2;position:sticky;top:0}"
		      "tr.threat td.pred{color:#b42318;font-weight:600}</style></head><body>\n"
		      "<h1>Predicted Data</h1>\n<p>Model ",
		      fp);
		fput_html(fp, ps->m->name, strlen(ps->m->name));
		fprintf(fp, " v%u (%s)</p>\n<table>\n<thead><tr>", ps->m->version, ps->m->family);
		for (size_t i = 0; i < n; i++) {
			fputs("<th>", fp);
			fput_html(fp, names[i], strlen(names[i]));
			fputs("</th>", fp);
		}
		fputs("<th>predicted_column</th><th>threat_probability</th></tr></"
		      "thead>\n<tbody>\n",
		      fp);
		break;
	case FMT_CSV:
		for (size_t i = 0; i < n; i++) {
			fput_csv(fp, names[i], strlen(names[i]));
			fputc(',', fp);
		}
		fputs("predicted_column,threat_probability", fp);
		for (uint32_t c = 0; c < k; c++) {
			char col[160];
			int len = snprintf(col, sizeof(col), "proba_%s",
					   ns_model_class_label(ps->m->model, c));
			fputc(',', fp);
			fput_csv(fp, col, len > 0 ? (size_t)len : 0);
		}
		fputc('\n', fp);
		break;
	case FMT_JSON:
		fputs("{\"model\":{\"name\":", fp);
		fput_json(fp, ps->m->name, strlen(ps->m->name));
		fprintf(fp, ",\"version\":%u,\"family\":\"%s\"},\"columns\":[", ps->m->version,
			ps->m->family);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputc(',', fp);
			fput_json(fp, names[i], strlen(names[i]));
		}
		fputs("],\"predictions\":[", fp);
		break;
	}
	if (ps->keep) {
		for (size_t i = 0; i < n; i++) {
			fput_csv(ps->keep, names[i], strlen(names[i]));
			fputc(',', ps->keep);
		}
		fputs("predicted_column,threat_probability\n", ps->keep);
	}
	return ferror(fp) ? NS_ERR_IO : NS_OK;
}

static enum ns_status on_row(void *user, const struct ns_prediction_row *row)
{
	struct pstate *ps = user;
	FILE *fp = ps->out;
	uint32_t k = ns_model_n_classes(ps->m->model);
	const char *label = ns_model_class_label(ps->m->model, row->label);
	double tp = threat_probability(ps->m, row->proba, k);
	ps->rows++;
	switch (ps->fmt) {
	case FMT_HTML:
		fputs(ps->m->is_threat[row->label] ? "<tr class=\"threat\">" : "<tr>", fp);
		for (size_t i = 0; i < row->n_fields; i++) {
			fputs("<td>", fp);
			fput_html(fp, row->fields[i], row->lens[i]);
			fputs("</td>", fp);
		}
		fputs("<td class=\"pred\">", fp);
		fput_html(fp, label, strlen(label));
		fputs("</td><td>", fp);
		if (isfinite(tp))
			fprintf(fp, "%.4f", tp);
		fputs("</td></tr>\n", fp);
		break;
	case FMT_CSV:
		for (size_t i = 0; i < row->n_fields; i++) {
			fput_csv(fp, row->fields[i], row->lens[i]);
			fputc(',', fp);
		}
		fput_csv(fp, label, strlen(label));
		fputc(',', fp);
		if (isfinite(tp))
			fput_num(fp, tp);
		for (uint32_t c = 0; c < k; c++) {
			fputc(',', fp);
			fput_num(fp, row->proba[c]);
		}
		fputc('\n', fp);
		break;
	case FMT_JSON:
		fputs(ps->rows > 1 ? ",{\"line\":" : "{\"line\":", fp);
		fprintf(fp, "%llu,\"record\":[", (unsigned long long)row->line);
		for (size_t i = 0; i < row->n_fields; i++) {
			if (i)
				fputc(',', fp);
			fput_json(fp, row->fields[i], row->lens[i]);
		}
		fputs("],\"predicted_column\":", fp);
		fput_json(fp, label, strlen(label));
		fputs(",\"threat_probability\":", fp);
		fput_num(fp, tp);
		fputs(",\"probabilities\":{", fp);
		for (uint32_t c = 0; c < k; c++) {
			const char *l = ns_model_class_label(ps->m->model, c);
			if (c)
				fputc(',', fp);
			fput_json(fp, l, strlen(l));
			fputc(':', fp);
			fput_num(fp, row->proba[c]);
		}
		fputs("}}", fp);
		break;
	}
	if (ps->keep) {
		for (size_t i = 0; i < row->n_fields; i++) {
			fput_csv(ps->keep, row->fields[i], row->lens[i]);
			fputc(',', ps->keep);
		}
		fput_csv(ps->keep, label, strlen(label));
		fputc(',', ps->keep);
		if (isfinite(tp))
			fput_num(ps->keep, tp);
		fputc('\n', ps->keep);
	}
	return ferror(fp) ? NS_ERR_IO : NS_OK;
}

/* Records the first error with the HTTP status it maps to. */
static void fail(struct pstate *ps, enum ns_status st, const struct ns_diag *d)
{
	if (ps->err != NS_OK)
		return;
	ps->err = st;
	if (d)
		ps->diag = *d;
	switch (st) {
	case NS_ERR_SCHEMA:
		ps->err_status = 422;
		ps->err_title = "unprocessable input";
		break;
	case NS_ERR_LIMIT:
		ps->err_status = 413;
		ps->err_title = "input too large";
		break;
	case NS_ERR_PARSE:
	case NS_ERR_INVALID:
		ps->err_status = 400;
		ps->err_title = "malformed input";
		break;
	case NS_ERR_NOMEM:
		ps->err_status = 503;
		ps->err_title = "out of memory";
		break;
	default:
		ps->err_status = 500;
		ps->err_title = "internal error";
	}
}

static enum ns_status start_predictor(struct pstate *ps, struct req *r)
{
	struct ns_predictor_params pp = ns_predictor_params_default();
	struct ns_diag d;
	enum ns_status st;
	ns_diag_clear(&d);
	pp.source_name = "upload";
	pp.max_rows = r->s->cfg.max_rows;
	pp.csv.max_fields = r->s->cfg.max_fields;
	st = ns_predictor_create(ps->m->model, &pp, on_header, on_row, ps, &ps->pred, &d);
	if (st != NS_OK)
		fail(ps, st, &d);
	return st;
}

static enum ns_status mp_begin(void *user, const struct ns_multipart_part *p)
{
	struct req *r = user;
	struct pstate *ps = r->state;
	ps->in_file = p->name && strcmp(p->name, "file") == 0;
	if (ps->in_file) {
		if (ps->seen_file) {
			struct ns_diag d;
			ns_diag_clear(&d);
			ns_diag_set(&d, NS_ERR_INVALID, "the form has more than one 'file' field");
			fail(ps, NS_ERR_INVALID, &d);
			return NS_ERR_INVALID;
		}
		ps->seen_file = true;
		return start_predictor(ps, r);
	}
	return NS_OK;
}

static enum ns_status mp_data(void *user, const void *data, size_t len)
{
	struct req *r = user;
	struct pstate *ps = r->state;
	struct ns_diag d;
	enum ns_status st;
	if (!ps->in_file)
		return NS_OK;
	ns_diag_clear(&d);
	st = ns_predictor_feed(ps->pred, data, len, &d);
	if (st != NS_OK)
		fail(ps, st, &d);
	return st;
}

static enum ns_status mp_end(void *user)
{
	struct req *r = user;
	struct pstate *ps = r->state;
	struct ns_diag d;
	enum ns_status st = NS_OK;
	if (ps->in_file) {
		ns_diag_clear(&d);
		st = ns_predictor_finish(ps->pred, &d);
		if (st != NS_OK)
			fail(ps, st, &d);
		ps->in_file = false;
	}
	return st;
}

static enum fmt choose_format(struct req *r, bool *ok)
{
	const char *q = srv_query(r, "format");
	const char *accept = srv_header(r, "Accept");
	*ok = true;
	if (q) {
		if (strcasecmp(q, "html") == 0)
			return FMT_HTML;
		if (strcasecmp(q, "csv") == 0)
			return FMT_CSV;
		if (strcasecmp(q, "json") == 0)
			return FMT_JSON;
		*ok = false;
		return FMT_HTML;
	}
	if (accept) {
		/* The first of the three named wins; HTML by default (the reference). */
		const char *h = strstr(accept, "text/html"), *c = strstr(accept, "text/csv"),
			   *j = strstr(accept, "application/json");
		const char *best = NULL;
		enum fmt f = FMT_HTML;
		if (h)
			best = h;
		if (c && (!best || c < best)) {
			best = c;
			f = FMT_CSV;
		}
		if (j && (!best || j < best)) {
			best = j;
			f = FMT_JSON;
		}
		if (best)
			return f;
	}
	return FMT_HTML;
}

enum MHD_Result srv_predict_begin(struct req *r)
{
	struct pstate *ps;
	const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	bool fmt_ok;
	enum fmt f = choose_format(r, &fmt_ok);
	const char *keep = srv_query(r, "keep");

	if (!fmt_ok)
		return srv_error(r, 400, "bad request", "format must be html, csv or json", NULL);
	if (!ct)
		return srv_error(r, 415, "unsupported media type",
				 "send multipart/form-data with a 'file' field, or a text/csv body",
				 NULL);
	ps = calloc(1, sizeof(*ps));
	if (!ps)
		return MHD_NO;
	r->state = ps;
	r->state_free = pstate_free;
	ps->fmt = f;
	ps->m = srv_model_acquire(r->s);
	if (!ps->m)
		return srv_error(
			r, 503, "no model",
			"no model is promoted yet: train one (netsec train, or POST /train)", NULL);
	ps->out = tmpfile();
	if (!ps->out)
		return srv_error(r, 500, "internal error", "cannot create a temporary file", NULL);
	if (r->s->cfg.log_raw_rows &&
	    !(keep && (strcmp(keep, "true") == 0 || strcmp(keep, "1") == 0))) {
		/* The predicted rows go to the log too: a CSV copy in a temp file. */
		ps->keep = tmpfile();
		ps->keep_is_tmp = true;
		if (!ps->keep)
			return srv_error(r, 500, "internal error", "cannot create a temporary file",
					 NULL);
	} else if (keep && (strcmp(keep, "true") == 0 || strcmp(keep, "1") == 0)) {
		struct ns_diag d;
		if (!r->s->cfg.keep_dir || !*r->s->cfg.keep_dir)
			return srv_error(r, 400, "bad request",
					 "keep=true needs NETSEC_KEEP_PREDICTIONS=<folder> on the "
					 "server",
					 NULL);
		ns_diag_clear(&d);
		if (ns_mkdir_p(r->s->cfg.keep_dir, &d) != NS_OK)
			return srv_error(r, 500, "internal error", d.message, NULL);
		snprintf(ps->keep_path, sizeof(ps->keep_path), "%s/%s.csv", r->s->cfg.keep_dir,
			 r->id_str);
		snprintf(ps->keep_tmp, sizeof(ps->keep_tmp), "%s.tmp", ps->keep_path);
		ps->keep = fopen(ps->keep_tmp, "w");
		if (!ps->keep)
			return srv_error(r, 500, "internal error", "cannot create the result file",
					 NULL);
	}
	if (strncasecmp(ct, "multipart/form-data", 19) == 0) {
		char boundary[128];
		struct ns_diag d;
		struct ns_multipart_callbacks cb = {mp_begin, mp_data, mp_end};
		struct ns_multipart_params mpp = ns_multipart_params_default();
		ns_diag_clear(&d);
		if (ns_multipart_boundary(ct, boundary, sizeof(boundary), &d) != NS_OK)
			return srv_error(r, 400, "malformed input", d.message, NULL);
		if (ns_multipart_create(boundary, &mpp, &cb, r, &ps->mp) != NS_OK)
			return MHD_NO;
		return MHD_YES;
	}
	if (strncasecmp(ct, "text/csv", 8) == 0 || strncasecmp(ct, "text/plain", 10) == 0 ||
	    strncasecmp(ct, "application/csv", 15) == 0) {
		return start_predictor(ps, r) == NS_OK
			       ? MHD_YES
			       : srv_error(r, 500, "internal error", ps->diag.message, NULL);
	}
	{
		char detail[256];
		snprintf(detail, sizeof(detail),
			 "Content-Type '%.100s' is not accepted: send multipart/form-data with a "
			 "'file' field, or text/csv",
			 ct);
		return srv_error(r, 415, "unsupported media type", detail, NULL);
	}
}

enum MHD_Result srv_predict_body(struct req *r, const char *data, size_t len)
{
	struct pstate *ps = r->state;
	struct ns_diag d;
	enum ns_status st;
	if (!ps || ps->err != NS_OK)
		return MHD_YES;
	ns_diag_clear(&d);
	if (ps->mp) {
		st = ns_multipart_feed(ps->mp, data, len, &d);
		if (st != NS_OK)
			fail(ps, st, &d); /* a callback's own error was recorded first */
	} else {
		st = ns_predictor_feed(ps->pred, data, len, &d);
		if (st != NS_OK)
			fail(ps, st, &d);
	}
	if (ps->err != NS_OK) {
		r->body_error = true;
		return srv_error(r, ps->err_status, ps->err_title, ps->diag.message, &ps->diag);
	}
	return MHD_YES;
}

enum MHD_Result srv_predict_end(struct req *r)
{
	struct pstate *ps = r->state;
	struct ns_diag d;
	enum ns_status st = NS_OK;
	const char *ctype;
	long size;
	int fd;
	struct MHD_Response *resp;

	ns_diag_clear(&d);
	if (ps->err == NS_OK && ps->mp) {
		st = ns_multipart_finish(ps->mp, &d);
		if (st != NS_OK)
			fail(ps, st, &d);
		else if (!ps->seen_file) {
			ns_diag_set(
				&d, NS_ERR_INVALID,
				"the form has no 'file' field (send the CSV as file=@data.csv)");
			fail(ps, NS_ERR_INVALID, &d);
		}
	} else if (ps->err == NS_OK) {
		st = ns_predictor_finish(ps->pred, &d);
		if (st != NS_OK)
			fail(ps, st, &d);
	}
	if (ps->err != NS_OK)
		return srv_error(r, ps->err_status, ps->err_title, ps->diag.message, &ps->diag);
	switch (ps->fmt) {
	case FMT_HTML:
		fputs("</tbody>\n</table>\n</body></html>\n", ps->out);
		ctype = "text/html; charset=utf-8";
		break;
	case FMT_CSV:
		ctype = "text/csv; charset=utf-8";
		break;
	default:
		fprintf(ps->out, "],\"rows\":%llu}\n", (unsigned long long)ps->rows);
		ctype = "application/json";
	}
	if (fflush(ps->out) != 0 || ferror(ps->out))
		return srv_error(r, 500, "internal error", "cannot write the result", NULL);
	if (ps->keep && ps->keep_is_tmp) {
		/* NETSEC_LOG_RAW_ROWS: the rows go to the log with the entry. */
		long len = ftell(ps->keep);
		char *raw = len > 0 ? malloc((size_t)len) : NULL;
		if (raw && fseek(ps->keep, 0, SEEK_SET) == 0 &&
		    fread(raw, 1, (size_t)len, ps->keep) == (size_t)len)
			srv_log_prediction(r->s, ps->m, "/predict", r->id_str, ps->rows,
					   ns_predictor_class_counts(ps->pred), srv_mono() - r->t0,
					   raw, (size_t)len);
		free(raw);
		fclose(ps->keep);
		ps->keep = NULL;
		ps->logged = true;
	} else if (ps->keep) {
		if (fflush(ps->keep) != 0 || fsync(fileno(ps->keep)) != 0 || ferror(ps->keep) ||
		    fclose(ps->keep) != 0 || rename(ps->keep_tmp, ps->keep_path) != 0) {
			ps->keep = NULL;
			unlink(ps->keep_tmp);
			return srv_error(r, 500, "internal error", "cannot keep the result", NULL);
		}
		ps->keep = NULL;
	}
	srv_metrics_predictions(r->s, ps->m, ns_predictor_class_counts(ps->pred));
	if (!ps->logged)
		srv_log_prediction(r->s, ps->m, "/predict", r->id_str, ps->rows,
				   ns_predictor_class_counts(ps->pred), srv_mono() - r->t0, NULL,
				   0);
	size = ftell(ps->out);
	fd = dup(fileno(ps->out));
	if (size < 0 || fd < 0)
		return srv_error(r, 500, "internal error", "cannot read the result back", NULL);
	resp = MHD_create_response_from_fd((uint64_t)size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	{
		char rows[32];
		snprintf(rows, sizeof(rows), "%llu", (unsigned long long)ps->rows);
		MHD_add_response_header(resp, "X-Netsec-Rows", rows);
	}
	if (ps->keep_path[0])
		MHD_add_response_header(resp, "X-Netsec-Result", ps->keep_path);
	r->bytes_out = (uint64_t)size;
	return srv_send_response(r, 200, resp);
}

/* ---- /predict/json ------------------------------------------------------------------ */

struct jstate {
	char *body;
	size_t len, cap;
};

static void jstate_free(void *p)
{
	struct jstate *js = p;
	ns_free(js->body);
	free(js);
}

enum MHD_Result srv_predict_json_begin(struct req *r)
{
	struct jstate *js = calloc(1, sizeof(*js));
	const char *ct = srv_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!js)
		return MHD_NO;
	r->state = js;
	r->state_free = jstate_free;
	if (ct && strncasecmp(ct, "application/json", 16) != 0)
		return srv_error(r, 415, "unsupported media type", "send application/json", NULL);
	return MHD_YES;
}

enum MHD_Result srv_predict_json_body(struct req *r, const char *data, size_t len)
{
	struct jstate *js = r->state;
	if (js->len + len > r->s->cfg.max_json) {
		char detail[128];
		r->body_error = true;
		snprintf(detail, sizeof(detail), "JSON bodies are limited to %llu bytes",
			 (unsigned long long)r->s->cfg.max_json);
		return srv_error(r, 413, "payload too large", detail, NULL);
	}
	if (js->len + len + 1 > js->cap) {
		size_t cap = js->cap ? js->cap : 4096;
		char *p;
		while (cap < js->len + len + 1)
			cap *= 2;
		p = ns_realloc(js->body, cap);
		if (!p)
			return srv_error(r, 503, "out of memory", "cannot hold the body", NULL);
		js->body = p;
		js->cap = cap;
	}
	memcpy(js->body + js->len, data, len);
	js->len += len;
	return MHD_YES;
}

/* Fills values (schema column order) from one JSON object. */
static enum ns_status record_values(const struct srv_model *m, const struct ns_json *rec,
				    size_t index, struct ns_value *values, char *numbufs,
				    struct ns_diag *d)
{
	const struct ns_schema *s = m->schema;
	char missing[512];
	size_t off = 0, n_missing = 0;
	if (ns_json_type(rec) != NS_JSON_OBJECT)
		return ns_diag_set(d, NS_ERR_SCHEMA, "record %zu is a JSON %s, not an object",
				   index, ns_json_type_name(ns_json_type(rec)));
	missing[0] = '\0';
	for (size_t i = 0; i < s->n_columns; i++) {
		const struct ns_json *v = ns_json_get(rec, s->columns[i].name);
		struct ns_value *out = &values[i];
		bool feature = (long)i != s->target && !s->columns[i].ignore;
		memset(out, 0, sizeof(*out));
		out->num = NAN;
		if (!v) {
			out->missing = true;
			if (feature) {
				int w = snprintf(missing + off, sizeof(missing) - off, "%s%s",
						 n_missing ? ", " : "", s->columns[i].name);
				if (w > 0 && (size_t)w < sizeof(missing) - off)
					off += (size_t)w;
				n_missing++;
			}
			continue;
		}
		if (ns_json_is_null(v)) {
			out->missing = true;
			continue;
		}
		if (s->columns[i].type == NS_TYPE_CATEGORY) {
			double x;
			size_t len = 0;
			const char *str = ns_json_string(v, &len);
			if (!str && ns_json_number(v, &x)) {
				char *buf = numbufs + i * 40;
				ns_format_double(x, buf, 40);
				str = buf;
				len = strlen(buf);
			}
			if (!str) {
				ns_diag_where(d, NULL, 0, i + 1, s->columns[i].name);
				return ns_diag_set(d, NS_ERR_SCHEMA,
						   "record %zu: '%s' must be a string (a category)",
						   index, s->columns[i].name);
			}
			out->str = str;
			out->len = len;
		} else {
			double x;
			size_t len = 0;
			const char *str;
			if (!ns_json_number(v, &x)) {
				str = ns_json_string(v, &len);
				if (!str || !ns_parse_double(str, len, &x)) {
					ns_diag_where(d, NULL, 0, i + 1, s->columns[i].name);
					return ns_diag_set(d, NS_ERR_SCHEMA,
							   "record %zu: '%s' must be a number",
							   index, s->columns[i].name);
				}
			}
			out->num = x;
		}
	}
	if (n_missing)
		return ns_diag_set(
			d, NS_ERR_SCHEMA,
			"record %zu lacks %zu column%s the model needs: %s (send null for "
			"an unknown value)",
			index, n_missing, n_missing == 1 ? "" : "s", missing);
	return NS_OK;
}

enum MHD_Result srv_predict_json_end(struct req *r)
{
	struct jstate *js = r->state;
	struct srv_model *m = srv_model_acquire(r->s);
	struct ns_json_params jp = ns_json_params_default();
	struct ns_json_doc *doc = NULL;
	const struct ns_json *root, *recs;
	struct ns_diag d;
	struct ns_value *values = NULL;
	char *numbufs = NULL;
	double *x = NULL, *proba = NULL;
	uint64_t *counts = NULL;
	size_t n, dims;
	uint32_t k;
	bool single;
	struct dash_buf b = {0};
	enum MHD_Result ret;
	enum ns_status st;

	if (!m)
		return srv_error(
			r, 503, "no model",
			"no model is promoted yet: train one (netsec train, or POST /train)", NULL);
	ns_diag_clear(&d);
	jp.max_size = r->s->cfg.max_json;
	jp.max_depth = 16;
	st = ns_json_parse(js->body ? js->body : "", js->len, "body", &jp, &doc, &d);
	if (st != NS_OK) {
		ret = srv_error(r, 400, "malformed JSON", d.message, &d);
		goto out;
	}
	root = ns_json_root(doc);
	/* One record, an array of records, or {"records": [...]} */
	recs = ns_json_type(root) == NS_JSON_OBJECT && ns_json_get(root, "records")
		       ? ns_json_get(root, "records")
		       : root;
	single = ns_json_type(recs) == NS_JSON_OBJECT;
	n = single ? 1 : ns_json_length(recs);
	if (!single && ns_json_type(recs) != NS_JSON_ARRAY) {
		ret = srv_error(r, 422, "unprocessable input",
				"send one record (an object) or an array of records", NULL);
		goto out;
	}
	if (n == 0) {
		ret = srv_error(r, 422, "unprocessable input", "no records", NULL);
		goto out;
	}
	if (n > r->s->cfg.max_rows) {
		ret = srv_error(r, 413, "input too large", "too many records (NETSEC_MAX_ROWS)",
				NULL);
		goto out;
	}
	dims = ns_model_n_features(m->model);
	k = ns_model_n_classes(m->model);
	values = ns_malloc((m->schema->n_columns + 1) * sizeof(*values));
	numbufs = ns_malloc((m->schema->n_columns + 1) * 40);
	x = ns_malloc(n * dims * sizeof(double));
	proba = ns_malloc(n * k * sizeof(double));
	counts = ns_calloc(k, sizeof(uint64_t));
	if (!values || !numbufs || !x || !proba || !counts) {
		ret = srv_error(r, 503, "out of memory", "cannot hold the records", NULL);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct ns_json *rec = single ? recs : ns_json_at(recs, i);
		st = record_values(m, rec, i, values, numbufs, &d);
		if (st != NS_OK) {
			ret = srv_error(r, 422, "unprocessable input", d.message, &d);
			goto out;
		}
		ns_encoder_encode_values(m->enc, m->map, values, x + i * dims);
	}
	if (m->imp) {
		bool gaps = false;
		for (size_t i = 0; i < n * dims && !gaps; i++)
			gaps = isnan(x[i]);
		if (gaps && ns_imputer_transform(m->imp, x, n, NULL, &d) != NS_OK) {
			ret = srv_error(r, 422, "unprocessable input", d.message, NULL);
			goto out;
		}
	}
	st = ns_model_predict_proba(m->model, x, n, proba);
	if (st != NS_OK) {
		ret = srv_error(r, 422, "unprocessable input",
				"cannot predict: a value is missing and the model has no imputer",
				NULL);
		goto out;
	}
	dash_buf_printf(&b, "{\"model\":{\"name\":");
	srv_json_string(&b, m->name);
	dash_buf_printf(&b, ",\"version\":%u,\"family\":\"%s\"},\"predictions\":[", m->version,
			m->family);
	for (size_t i = 0; i < n; i++) {
		const double *p = proba + i * k;
		uint32_t best = 0;
		for (uint32_t c = 1; c < k; c++)
			if (p[c] > p[best])
				best = c;
		counts[best]++;
		PUTS(&b, i ? ",{\"predicted_column\":" : "{\"predicted_column\":");
		srv_json_string(&b, ns_model_class_label(m->model, best));
		PUTS(&b, ",\"threat_probability\":");
		srv_json_number(&b, threat_probability(m, p, k));
		PUTS(&b, ",\"probabilities\":{");
		for (uint32_t c = 0; c < k; c++) {
			if (c)
				PUTS(&b, ",");
			srv_json_string(&b, ns_model_class_label(m->model, c));
			PUTS(&b, ":");
			srv_json_number(&b, p[c]);
		}
		PUTS(&b, "}}");
	}
	PUTS(&b, "]}\n");
	if (b.failed) {
		ns_free(b.data);
		ret = srv_error(r, 503, "out of memory", "cannot build the answer", NULL);
		goto out;
	}
	srv_metrics_predictions(r->s, m, counts);
	srv_log_prediction(r->s, m, "/predict/json", r->id_str, n, counts, srv_mono() - r->t0, NULL,
			   0);
	ret = srv_send_owned(r, 200, "application/json", b.data, b.len);
out:
	ns_json_doc_free(doc);
	ns_free(values);
	ns_free(numbufs);
	ns_free(x);
	ns_free(proba);
	ns_free(counts);
	srv_model_release(m);
	return ret;
}
