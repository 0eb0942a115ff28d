/*
 * src/server/routes.c - the route table (dispatch, authentication, body
 * handling and the OpenAPI document all read it) and the small handlers:
 * redirects, Swagger UI's files, health, readiness, the model registry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "assets.h"
#include "server.h"

#define PUTS(b, s) dash_buf_append((b), (s), strlen(s))

static enum MHD_Result redirect_docs(struct req *r)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Location", "/docs");
	return srv_send_response(r, 302, resp);
}

static enum MHD_Result asset_get(struct req *r)
{
	const struct srv_asset *a = srv_asset_find(r->path);
	const char *inm = srv_header(r, "If-None-Match");
	struct MHD_Response *resp;
	if (!a)
		return srv_error(r, 404, "not found", "no such file", NULL);
	if (inm && a->etag && strcmp(inm, a->etag) == 0) {
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, "ETag", a->etag);
		return srv_send_response(r, 304, resp);
	}
	resp = MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", a->content_type);
	if (a->etag)
		MHD_add_response_header(resp, "ETag", a->etag);
	MHD_add_response_header(resp, "Cache-Control", "public, max-age=3600");
	MHD_add_response_header(resp, "Content-Security-Policy", SRV_DOCS_CSP);
	r->bytes_out = a->len;
	return srv_send_response(r, 200, resp);
}

static enum MHD_Result healthz(struct req *r)
{
	static const char body[] = "{\"status\":\"ok\"}\n";
	return srv_send(r, 200, "application/json", body, sizeof(body) - 1);
}

static enum MHD_Result readyz(struct req *r)
{
	struct srv_model *m = srv_model_acquire(r->s);
	struct dash_buf b = {0};
	if (!m)
		return srv_error(r, 503, "not ready",
				 "no model is loaded: train one (netsec train, or POST /train)",
				 NULL);
	dash_buf_printf(&b, "{\"status\":\"ready\",\"model\":{\"name\":");
	srv_json_string(&b, m->name);
	dash_buf_printf(&b, ",\"version\":%u,\"family\":\"%s\"}}\n", m->version, m->family);
	srv_model_release(m);
	if (b.failed)
		return MHD_NO;
	return srv_send_owned(r, 200, "application/json", b.data, b.len);
}

/* ---- the model registry ------------------------------------------------------------------- */

static enum MHD_Result registry_error(struct req *r, enum ns_status st, const struct ns_diag *d)
{
	unsigned status = st == NS_ERR_NOTFOUND  ? 404
			  : st == NS_ERR_INVALID ? 400
			  : st == NS_ERR_CORRUPT ? 409
						 : 500;
	return srv_error(r, status, status == 404 ? "not found" : "registry error", d->message,
			 NULL);
}

static enum MHD_Result models_list(struct req *r)
{
	struct ns_registry *reg = NULL;
	struct ns_diag d;
	unsigned *versions = NULL, current = 0;
	size_t n = 0;
	struct dash_buf b = {0};
	enum ns_status st;
	ns_diag_clear(&d);
	st = ns_registry_open(r->s->cfg.registry_dir, r->s->cfg.model_name, &reg, &d);
	if (st == NS_OK)
		st = ns_registry_current(reg, &current, &d);
	if (st == NS_OK)
		st = ns_registry_list(reg, &versions, &n, &d);
	if (st != NS_OK) {
		ns_registry_close(reg);
		return registry_error(r, st, &d);
	}
	PUTS(&b, "{\"name\":");
	srv_json_string(&b, r->s->cfg.model_name);
	dash_buf_printf(&b, ",\"current\":%u,\"versions\":[", current);
	for (size_t i = 0; i < n; i++) {
		char *meta = NULL;
		if (i)
			PUTS(&b, ",");
		dash_buf_printf(&b, "{\"version\":%u,\"current\":%s,\"meta\":", versions[i],
				versions[i] == current ? "true" : "false");
		if (ns_registry_meta(reg, versions[i], &meta, NULL) == NS_OK && meta)
			dash_buf_append(&b, meta, strlen(meta));
		else
			PUTS(&b, "null");
		ns_free(meta);
		PUTS(&b, "}");
	}
	PUTS(&b, "]}\n");
	ns_free(versions);
	ns_registry_close(reg);
	if (b.failed) {
		ns_free(b.data);
		return srv_error(r, 503, "out of memory", "cannot list the models", NULL);
	}
	return srv_send_owned(r, 200, "application/json", b.data, b.len);
}

static enum MHD_Result models_current(struct req *r)
{
	struct srv_model *m = srv_model_acquire(r->s);
	struct dash_buf b = {0};
	if (!m)
		return srv_error(r, 404, "not found", "no model is promoted yet", NULL);
	PUTS(&b, "{\"name\":");
	srv_json_string(&b, m->name);
	dash_buf_printf(&b, ",\"version\":%u,\"family\":\"%s\",\"meta\":", m->version, m->family);
	if (m->meta_json)
		dash_buf_append(&b, m->meta_json, strlen(m->meta_json));
	else
		PUTS(&b, "null");
	PUTS(&b, "}\n");
	srv_model_release(m);
	if (b.failed) {
		ns_free(b.data);
		return MHD_NO;
	}
	return srv_send_owned(r, 200, "application/json", b.data, b.len);
}

static enum MHD_Result model_changed(struct req *r, const char *what, unsigned version)
{
	struct ns_diag d;
	struct dash_buf b = {0};
	struct srv_model *m;
	ns_diag_clear(&d);
	if (srv_holder_reload(r->s, NULL, &d) != NS_OK)
		return srv_error(r, 500, "reload failed", d.message, NULL);
	m = srv_model_acquire(r->s);
	dash_buf_printf(&b, "{\"action\":\"%s\",\"current\":%u,\"serving\":%u}\n", what, version,
			m ? m->version : 0);
	srv_model_release(m);
	if (b.failed)
		return MHD_NO;
	return srv_send_owned(r, 200, "application/json", b.data, b.len);
}

static enum MHD_Result model_promote(struct req *r)
{
	struct ns_registry *reg = NULL;
	struct ns_diag d;
	char *end;
	unsigned long v = strtoul(r->arg, &end, 10);
	enum ns_status st;
	char reason[128];
	if (*end || v == 0 || v > 0xffffffffUL)
		return srv_error(r, 400, "bad request", "the version must be a positive integer",
				 NULL);
	ns_diag_clear(&d);
	snprintf(reason, sizeof(reason), "POST /models/%lu/promote (request %s)", v, r->id_str);
	st = ns_registry_open(r->s->cfg.registry_dir, r->s->cfg.model_name, &reg, &d);
	if (st == NS_OK)
		st = ns_registry_promote(reg, (unsigned)v, reason, &d);
	ns_registry_close(reg);
	if (st != NS_OK)
		return registry_error(r, st, &d);
	return model_changed(r, "promote", (unsigned)v);
}

static enum MHD_Result model_rollback(struct req *r)
{
	struct ns_registry *reg = NULL;
	struct ns_diag d;
	unsigned now = 0;
	enum ns_status st;
	ns_diag_clear(&d);
	st = ns_registry_open(r->s->cfg.registry_dir, r->s->cfg.model_name, &reg, &d);
	if (st == NS_OK)
		st = ns_registry_rollback(reg, &now, &d);
	ns_registry_close(reg);
	if (st != NS_OK)
		return st == NS_ERR_NOTFOUND || st == NS_ERR_INVALID
			       ? srv_error(r, 409, "conflict", d.message, NULL)
			       : registry_error(r, st, &d);
	return model_changed(r, "rollback", now);
}

/* ---- the table ------------------------------------------------------------------------------ */

static const struct route_doc_response R_JSON[] = {{200, "OK", "application/json", NULL},
						   {0, NULL, NULL, NULL}};
static const struct route_doc_response R_HTML[] = {{200, "OK", "text/html", NULL},
						   {0, NULL, NULL, NULL}};
static const struct route_doc_response R_READY[] = {
	{200, "a model is loaded", "application/json", NULL},
	{503, "no model yet", "application/json", "#/components/schemas/Error"},
	{0, NULL, NULL, NULL}};
static const struct route_doc_response R_PREDICT[] = {
	{200, "the input rows with predicted_column and threat_probability", "text/html", NULL},
	{400, "malformed CSV or multipart body (where: line, column)", "application/json",
	 "#/components/schemas/Error"},
	{413, "upload, rows or fields over the limits", "application/json",
	 "#/components/schemas/Error"},
	{415, "neither multipart/form-data nor text/csv", "application/json",
	 "#/components/schemas/Error"},
	{422, "missing columns (named) or values that do not fit the model's schema",
	 "application/json", "#/components/schemas/Error"},
	{503, "no model promoted yet", "application/json", "#/components/schemas/Error"},
	{0, NULL, NULL, NULL}};
static const struct route_doc_response R_PREDICT_JSON[] = {
	{200, "one prediction per record", "application/json", "#/components/schemas/Predictions"},
	{400, "malformed JSON", "application/json", "#/components/schemas/Error"},
	{413, "body over the limit", "application/json", "#/components/schemas/Error"},
	{422, "a record lacks a column or has a value of the wrong type", "application/json",
	 "#/components/schemas/Error"},
	{503, "no model promoted yet", "application/json", "#/components/schemas/Error"},
	{0, NULL, NULL, NULL}};
static const struct route_doc_response R_TRAIN[] = {
	{202, "started: the job's id and URL", "application/json", "#/components/schemas/Job"},
	{400, "bad options", "application/json", "#/components/schemas/Error"},
	{401, "missing or wrong bearer token", "application/json", "#/components/schemas/Error"},
	{403, "no API token configured on the server", "application/json",
	 "#/components/schemas/Error"},
	{409, "a training run is already going (running_job names it)", "application/json",
	 "#/components/schemas/Error"},
	{0, NULL, NULL, NULL}};
static const struct route_doc_response R_JOB[] = {
	{200, "stage, progress and outcome", "application/json", "#/components/schemas/Job"},
	{404, "no such job", "application/json", "#/components/schemas/Error"},
	{0, NULL, NULL, NULL}};
static const struct route_doc_response R_CHANGE[] = {
	{200, "done; the server now serves the new current model", "application/json", NULL},
	{401, "missing or wrong bearer token", "application/json", "#/components/schemas/Error"},
	{403, "no API token configured on the server", "application/json",
	 "#/components/schemas/Error"},
	{404, "no such version", "application/json", "#/components/schemas/Error"},
	{409, "nothing to roll back to", "application/json", "#/components/schemas/Error"},
	{0, NULL, NULL, NULL}};

static const struct route_doc_param P_PREDICT[] = {
	{"format", "query", "string", "output format (default: by Accept, else html)",
	 "html,csv,json", false},
	{"keep", "query", "boolean",
	 "also write this request's result to its own file (NETSEC_KEEP_PREDICTIONS)", NULL, false},
	{NULL, NULL, NULL, NULL, NULL, false}};
static const struct route_doc_param P_JOB[] = {
	{"id", "path", "string", "the job id /train returned", NULL, true},
	{NULL, NULL, NULL, NULL, NULL, false}};
static const struct route_doc_param P_VERSION[] = {
	{"version", "path", "integer", "a registered version", NULL, true},
	{NULL, NULL, NULL, NULL, NULL, false}};

const struct route srv_routes[] = {
	{"GET", "/", 0, redirect_docs, NULL, NULL, "service", "redirect to /docs", NULL, NULL, NULL,
	 NULL, NULL},
	{"GET", "/docs", ROUTE_HIDDEN, asset_get, NULL, NULL, "service", "Swagger UI", NULL, NULL,
	 NULL, NULL, NULL},
	{"GET", "/docs/", ROUTE_HIDDEN | ROUTE_PREFIX, asset_get, NULL, NULL, "service",
	 "Swagger UI files", NULL, NULL, NULL, NULL, NULL},
	{"GET", "/openapi.json", 0, srv_openapi_get, NULL, NULL, "service",
	 "this API as an OpenAPI 3 document", NULL, NULL, NULL, NULL, R_JSON},
	{"POST", "/predict", ROUTE_BODY, srv_predict_begin, srv_predict_body, srv_predict_end,
	 "predict", "predict a CSV upload",
	 "multipart/form-data with a field `file` (as the reference project), or a raw text/csv "
	 "body, streamed: the upload is never held whole. Columns are matched by name in any "
	 "order; extra columns (the label, ids) pass through. The output adds predicted_column "
	 "in the dataset's own label values and the threat probability.",
	 P_PREDICT, "multipart/form-data,text/csv", NULL, R_PREDICT},
	{"POST", "/predict/json", ROUTE_BODY, srv_predict_json_begin, srv_predict_json_body,
	 srv_predict_json_end, "predict", "predict one record or an array of records",
	 "A JSON object (one record), an array of objects, or {\"records\": [...]}; keys are the "
	 "schema's column names, null means unknown (imputed).",
	 NULL, "application/json", "#/components/schemas/Records", R_PREDICT_JSON},
	{"POST", "/train", ROUTE_AUTH | ROUTE_BODY, srv_train_begin, srv_train_body, srv_train_end,
	 "training", "start the training pipeline in the background",
	 "Needs `Authorization: Bearer <token>`. An optional JSON body sets options (families, "
	 "dedup, force, seed, test_fraction, expected_score, cv). Answers 202 at once; follow the "
	 "job at /jobs/{id}.",
	 NULL, "application/json", "#/components/schemas/TrainOptions", R_TRAIN},
	{"GET", "/train", ROUTE_AUTH, srv_train_begin, NULL, srv_train_end, "training",
	 "start training (GET, for the reference project's users)", "As POST /train, no options.",
	 NULL, NULL, NULL, R_TRAIN},
	{"GET", "/jobs/{id}", 0, NULL, NULL, srv_job_get, "training", "a training job's state",
	 NULL, P_JOB, NULL, NULL, R_JOB},
	{"GET", "/models", 0, NULL, NULL, models_list, "models",
	 "registered versions with their model cards", NULL, NULL, NULL, NULL, R_JSON},
	{"GET", "/models/current", 0, NULL, NULL, models_current, "models",
	 "the served model and its card", NULL, NULL, NULL, NULL, R_JSON},
	{"POST", "/models/{version}/promote", ROUTE_AUTH, NULL, NULL, model_promote, "models",
	 "make a version current (hot reload)", "Needs the bearer token.", P_VERSION, NULL, NULL,
	 R_CHANGE},
	{"POST", "/models/rollback", ROUTE_AUTH, NULL, NULL, model_rollback, "models",
	 "go back to the previously promoted version (hot reload)", "Needs the bearer token.", NULL,
	 NULL, NULL, R_CHANGE},
	{"GET", "/home", 0, NULL, NULL, srv_home_get, "service", "the threat dashboard (HTML)",
	 NULL, NULL, NULL, NULL, R_HTML},
	{"GET", "/healthz", 0, NULL, NULL, healthz, "service", "liveness", NULL, NULL, NULL, NULL,
	 R_JSON},
	{"GET", "/readyz", 0, NULL, NULL, readyz, "service", "readiness: a model is loaded", NULL,
	 NULL, NULL, NULL, R_READY},
	{"GET", "/metrics", 0, NULL, NULL, srv_metrics_get, "service",
	 "Prometheus metrics (text format 0.0.4)", NULL, NULL, NULL, NULL, NULL},
};
const size_t srv_n_routes = sizeof(srv_routes) / sizeof(srv_routes[0]);
