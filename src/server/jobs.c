/*
 * src/server/jobs.c - POST /train (and GET /train) runs the training
 * pipeline in a background thread; GET /jobs/{id} reports its stage,
 * progress and outcome.  One training at a time: a second request while one
 * runs gets 409 with the running job's id.
 *
 * The optional JSON body sets options of the run: {"families": "tree,forest",
 * "dedup": true, "force": false, "seed": 42, "test_fraction": 0.2,
 * "expected_score": 0.6, "cv": 3}.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "server.h"

#define PUTS(b, s) dash_buf_append((b), (s), strlen(s))

struct train_req {
	char *body;
	size_t len, cap;
};

struct job_run {
	struct srv *s;
	size_t index;
	struct ns_train_config cfg;
	struct ns_grid grids[16];
	char families[256];
};

static void train_req_free(void *p)
{
	struct train_req *t = p;
	ns_free(t->body);
	free(t);
}

enum MHD_Result srv_train_begin(struct req *r)
{
	struct train_req *t = calloc(1, sizeof(*t));
	if (!t)
		return MHD_NO;
	r->state = t;
	r->state_free = train_req_free;
	return MHD_YES;
}

enum MHD_Result srv_train_body(struct req *r, const char *data, size_t len)
{
	struct train_req *t = r->state;
	if (t->len + len > 65536) {
		r->body_error = true;
		return srv_error(r, 413, "payload too large", "training options are at most 64 KiB",
				 NULL);
	}
	if (t->len + len + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		char *p;
		while (cap < t->len + len + 1)
			cap *= 2;
		p = ns_realloc(t->body, cap);
		if (!p)
			return MHD_NO;
		t->body = p;
		t->cap = cap;
	}
	memcpy(t->body + t->len, data, len);
	t->len += len;
	return MHD_YES;
}

static void on_progress(void *user, const struct ns_train_progress *p)
{
	struct job_run *jr = user;
	struct srv_job *j = &jr->s->jobs[jr->index];
	pthread_mutex_lock(&jr->s->jobs_lock);
	j->progress = *p;
	if (p->detail)
		snprintf(j->detail, sizeof(j->detail), "%s", p->detail);
	if (p->family)
		snprintf(j->family, sizeof(j->family), "%s", p->family);
	j->progress.detail = NULL;
	j->progress.family = NULL;
	pthread_mutex_unlock(&jr->s->jobs_lock);
}

/* The embedded default: the collection, ingested from the bundled data
 * when the store does not have it yet. */
static enum ns_status ensure_data(struct job_run *jr, struct ns_diag *d)
{
	struct srv *s = jr->s;
	struct ns_store *store = NULL;
	struct ns_schema *schema = NULL;
	uint64_t rows = 0;
	enum ns_status st = ns_store_open(s->cfg.store_uri, &store, d);
	if (st == NS_OK)
		st = ns_schema_load(s->cfg.schema_path, &schema, d);
	if (st == NS_OK) {
		if (!jr->cfg.collection)
			jr->cfg.collection = schema->name && *schema->name ? strdup(schema->name)
									   : strdup("dataset");
		if (!jr->cfg.collection)
			st = ns_diag_set(d, NS_ERR_NOMEM, "out of memory");
	}
	if (st == NS_OK) {
		st = ns_store_count(store, jr->cfg.collection, &rows, d);
		if (st == NS_ERR_NOTFOUND || (st == NS_OK && rows == 0)) {
			struct ns_ingest_params ip = ns_ingest_params_default();
			struct ns_ingest_result res;
			ns_diag_clear(d);
			ip.collection = jr->cfg.collection;
			st = ns_store_ingest_csv(store, s->cfg.data_path, schema, &ip, NULL, NULL,
						 &res, d);
		}
	}
	ns_schema_free(schema);
	ns_store_close(store);
	return st;
}

static void *job_main(void *arg)
{
	struct job_run *jr = arg;
	struct srv *s = jr->s;
	struct ns_train_result *res = calloc(1, sizeof(*res));
	struct ns_diag d;
	enum ns_status st;
	bool own_collection = !jr->cfg.collection;
	ns_diag_clear(&d);
	st = res ? ensure_data(jr, &d) : NS_ERR_NOMEM;
	if (st == NS_OK)
		st = ns_train_run(&jr->cfg, res, &d);
	if (own_collection)
		free((void *)jr->cfg.collection);
	pthread_mutex_lock(&s->jobs_lock);
	{
		struct srv_job *j = &s->jobs[jr->index];
		j->state = st == NS_OK ? JOB_FINISHED : JOB_FAILED;
		j->exit_status = (int)st;
		j->finished_ms = srv_now_ms();
		j->result = res;
		if (st != NS_OK)
			snprintf(j->error, sizeof(j->error), "%s",
				 d.message[0] ? d.message : ns_status_str(st));
		s->running_job = -1;
	}
	pthread_mutex_unlock(&s->jobs_lock);
	atomic_fetch_add(&s->train_runs[st == NS_OK ? 0 : 1], 1);
	if (st == NS_OK && res->promoted) {
		ns_diag_clear(&d);
		srv_holder_reload(s, NULL, &d); /* hot reload now, not at the next poll */
	}
	free(jr);
	return NULL;
}

static bool json_num(const struct ns_json *o, const char *key, double *v)
{
	return ns_json_number(ns_json_get(o, key), v);
}

/* Applies the JSON options; a message in err on a bad one. */
static bool apply_options(struct job_run *jr, const char *body, size_t len, char *err,
			  size_t err_size)
{
	struct ns_json_doc *doc = NULL;
	const struct ns_json *o;
	struct ns_diag d;
	double v;
	bool b;
	size_t slen;
	const char *str;
	if (!body || len == 0)
		return true;
	ns_diag_clear(&d);
	if (ns_json_parse(body, len, "body", NULL, &doc, &d) != NS_OK) {
		snprintf(err, err_size, "%s", d.message);
		return false;
	}
	o = ns_json_root(doc);
	if (ns_json_type(o) != NS_JSON_OBJECT) {
		snprintf(err, err_size, "the body must be a JSON object of options");
		ns_json_doc_free(doc);
		return false;
	}
	if (ns_json_bool(ns_json_get(o, "dedup"), &b))
		jr->cfg.dedup = b;
	if (ns_json_bool(ns_json_get(o, "force"), &b))
		jr->cfg.force = b;
	if (json_num(o, "seed", &v) && v >= 0 && v < 1e18)
		jr->cfg.seed = (uint64_t)v;
	if (json_num(o, "test_fraction", &v)) {
		if (!(v > 0 && v < 1)) {
			snprintf(err, err_size, "test_fraction must be in (0, 1)");
			ns_json_doc_free(doc);
			return false;
		}
		jr->cfg.test_fraction = v;
	}
	if (json_num(o, "expected_score", &v))
		jr->cfg.expected_score = v;
	if (json_num(o, "cv", &v)) {
		if (!(v >= 2 && v <= 20)) {
			snprintf(err, err_size, "cv must be in [2, 20]");
			ns_json_doc_free(doc);
			return false;
		}
		jr->cfg.cv = (uint32_t)v;
	}
	str = ns_json_string(ns_json_get(o, "families"), &slen);
	if (str) {
		size_t n = 0;
		const char *p = str;
		snprintf(jr->families, sizeof(jr->families), "%.*s", (int)slen, str);
		p = jr->families;
		while (*p && n < 16) {
			char name[64];
			size_t l = strcspn(p, ",");
			const struct ns_family *f;
			snprintf(name, sizeof(name), "%.*s", (int)(l < 63 ? l : 63), p);
			f = ns_family_find(name);
			if (!f) {
				snprintf(err, err_size, "unknown family '%s'", name);
				ns_json_doc_free(doc);
				return false;
			}
			ns_grid_default(&jr->grids[n++], f);
			p += l;
			if (*p == ',')
				p++;
		}
		jr->cfg.grids = jr->grids;
		jr->cfg.n_grids = n;
	}
	ns_json_doc_free(doc);
	return true;
}

static void job_json(struct dash_buf *b, const struct srv_job *j)
{
	static const char *const states[] = {"running", "finished", "failed"};
	dash_buf_printf(b,
			"{\"id\":\"%s\",\"url\":\"/jobs/%s\",\"state\":\"%s\",\"created_ms\":%lld",
			j->id, j->id, states[j->state], (long long)j->created_ms);
	dash_buf_printf(b, ",\"stage\":\"%s\",\"detail\":", ns_train_stage_name(j->progress.stage));
	srv_json_string(b, j->detail);
	dash_buf_printf(b, ",\"progress\":{\"done\":%zu,\"total\":%zu,\"elapsed\":%.1f}",
			j->progress.done, j->progress.total, j->progress.elapsed);
	if (j->state != JOB_RUNNING)
		dash_buf_printf(b, ",\"finished_ms\":%lld", (long long)j->finished_ms);
	if (j->state == JOB_FAILED) {
		PUTS(b, ",\"error\":");
		srv_json_string(b, j->error);
	}
	if (j->result && j->result->run_id[0]) {
		const struct ns_train_result *res = j->result;
		PUTS(b, ",\"result\":{\"run_id\":");
		srv_json_string(b, res->run_id);
		PUTS(b, ",\"run_dir\":");
		srv_json_string(b, res->run_dir);
		if (res->n_families) {
			dash_buf_printf(b, ",\"chosen\":\"%s\",\"test_score\":",
					ns_family_name(res->families[res->winner].family));
			srv_json_number(b, res->test_score);
		}
		dash_buf_printf(b, ",\"version\":%u,\"promoted\":%s,\"reason\":", res->version,
				res->promoted ? "true" : "false");
		srv_json_string(b, res->promotion_reason);
		PUTS(b, "}");
	}
	PUTS(b, "}");
}

enum MHD_Result srv_train_end(struct req *r)
{
	struct srv *s = r->s;
	struct train_req *t = r->state;
	struct job_run *jr = calloc(1, sizeof(*jr));
	struct dash_buf b = {0};
	char err[512];
	struct srv_job *j;
	uint32_t rnd = 0;

	if (!jr)
		return MHD_NO;
	jr->s = s;
	jr->cfg = ns_train_config_default();
	jr->cfg.store_uri = s->cfg.store_uri;
	jr->cfg.registry_dir = s->cfg.registry_dir;
	jr->cfg.model_name = s->cfg.model_name;
	jr->cfg.artifacts_dir = s->cfg.artifacts_dir;
	jr->cfg.tracking_uri = s->cfg.tracking_uri;
	jr->cfg.collection = s->cfg.collection;
	if (!apply_options(jr, t->body, t->len, err, sizeof(err))) {
		free(jr);
		return srv_error(r, 400, "bad request", err, NULL);
	}
	pthread_mutex_lock(&s->jobs_lock);
	if (s->running_job >= 0) {
		const struct srv_job *run = &s->jobs[s->running_job];
		char detail[200];
		snprintf(detail, sizeof(detail),
			 "a training run is already going: job %s (/jobs/%s)", run->id, run->id);
		dash_buf_printf(
			&b,
			"{\"error\":\"conflict\",\"detail\":\"%s\",\"where\":null,\"running_job\":"
			"\"%s\",\"request_id\":\"%s\"}\n",
			detail, run->id, r->id_str);
		pthread_mutex_unlock(&s->jobs_lock);
		free(jr);
		atomic_fetch_add(&s->train_runs[2], 1);
		if (b.failed)
			return MHD_NO;
		return srv_send_owned(r, 409, "application/json", b.data, b.len);
	}
	/* A slot: the oldest finished job makes room when all are used. */
	if (s->n_jobs == SRV_MAX_JOBS) {
		free(s->jobs[0].result);
		memmove(&s->jobs[0], &s->jobs[1], (SRV_MAX_JOBS - 1) * sizeof(s->jobs[0]));
		s->n_jobs--;
	}
	jr->index = s->n_jobs;
	j = &s->jobs[s->n_jobs++];
	memset(j, 0, sizeof(*j));
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)r->id;
	snprintf(j->id, sizeof(j->id), "job-%lld-%08x", (long long)srv_now_ms(), rnd);
	j->state = JOB_RUNNING;
	j->created_ms = srv_now_ms();
	snprintf(j->detail, sizeof(j->detail), "starting");
	jr->cfg.progress = on_progress;
	jr->cfg.progress_user = jr;
	s->running_job = (long)jr->index;
	if (s->job_thread_live) {
		pthread_join(s->job_thread, NULL); /* the previous one has finished */
		s->job_thread_live = false;
	}
	if (pthread_create(&s->job_thread, NULL, job_main, jr) != 0) {
		s->running_job = -1;
		s->n_jobs--;
		pthread_mutex_unlock(&s->jobs_lock);
		free(jr);
		return srv_error(r, 503, "unavailable", "cannot start the training thread", NULL);
	}
	s->job_thread_live = true;
	job_json(&b, j);
	pthread_mutex_unlock(&s->jobs_lock);
	PUTS(&b, "\n");
	if (b.failed)
		return MHD_NO;
	{
		struct MHD_Response *resp =
			MHD_create_response_from_buffer_with_free_callback(b.len, b.data, srv_free);
		char loc[80];
		if (!resp) {
			ns_free(b.data);
			return MHD_NO;
		}
		snprintf(loc, sizeof(loc), "/jobs/%s", j->id);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		MHD_add_response_header(resp, "Location", loc);
		r->bytes_out = b.len;
		return srv_send_response(r, 202, resp);
	}
}

enum MHD_Result srv_job_get(struct req *r)
{
	struct srv *s = r->s;
	struct dash_buf b = {0};
	bool found = false;
	pthread_mutex_lock(&s->jobs_lock);
	for (size_t i = 0; i < s->n_jobs; i++)
		if (strcmp(s->jobs[i].id, r->arg) == 0) {
			job_json(&b, &s->jobs[i]);
			found = true;
			break;
		}
	pthread_mutex_unlock(&s->jobs_lock);
	if (!found) {
		char detail[200];
		ns_free(b.data);
		snprintf(detail, sizeof(detail), "no job '%s' (jobs are kept in memory)", r->arg);
		return srv_error(r, 404, "not found", detail, NULL);
	}
	PUTS(&b, "\n");
	if (b.failed)
		return MHD_NO;
	return srv_send_owned(r, 200, "application/json", b.data, b.len);
}

void srv_jobs_fini(struct srv *s)
{
	if (s->job_thread_live)
		pthread_join(s->job_thread, NULL);
	for (size_t i = 0; i < s->n_jobs; i++)
		free(s->jobs[i].result);
}
