/*
 * src/server/home.c - GET /home: gathers the dashboard's data and renders it
 * (dashboard.c).  Predictions over time and per class come from the
 * prediction log in the store; the model card from the registry's meta.json
 * of the served model; recent runs from the artifacts folder (run.status and
 * model_trainer/report.json of the newest runs); the drift table from the
 * newest run's drift report.  `?hours=N` (1..720, default 24) sets the
 * window, shown in 48 buckets.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define MAX_RUNS 10
#define MAX_DRIFT 256
#define MAX_LABELS 64
#define MAX_FEATURES 10

/* Everything dash_data points to lives here until the page is rendered. */
struct home {
	struct dash_data d;
	struct dash_point *points;
	struct ns_prediction_class_total *totals;
	struct dash_class_count classes[MAX_LABELS];
	struct ns_json_doc *meta;
	const char *labels[MAX_LABELS];
	uint64_t *confusion;
	struct dash_feature features[MAX_FEATURES];
	char params[1024];
	char title[160];
	struct dash_run runs[MAX_RUNS];
	char run_ids[MAX_RUNS][64], run_status[MAX_RUNS][256], run_started[MAX_RUNS][32],
		run_family[MAX_RUNS][32];
	char drift_run[64];
	struct dash_drift_column drift[MAX_DRIFT];
	char drift_names[MAX_DRIFT][128];
	char drift_tests[MAX_DRIFT][8];
};

static int cmp_desc(const void *a, const void *b)
{
	return strcmp(*(const char *const *)b, *(const char *const *)a);
}

static double num(const struct ns_json *v)
{
	double x;
	return ns_json_number(v, &x) ? x : NAN;
}

static const char *str(const struct ns_json *v)
{
	return ns_json_string(v, NULL);
}

static void gather_log(struct srv *s, struct home *h, int64_t hours)
{
	struct ns_store *store = NULL;
	struct ns_prediction_bucket *b = NULL;
	size_t n = 0, nt = 0;
	struct ns_diag d;
	int64_t until = h->d.now_ms, bucket = hours * 3600 * 1000 / 48;
	int64_t since = until - bucket * 48;
	ns_diag_clear(&d);
	if (since < 0)
		since = 0;
	if (ns_store_open(s->cfg.store_uri, &store, &d) != NS_OK)
		return;
	if (ns_store_prediction_series(store, since, until, bucket, &b, &n, &d) == NS_OK && n) {
		h->points = calloc(n, sizeof(*h->points));
		for (size_t i = 0; h->points && i < n; i++) {
			h->points[i].start_ms = b[i].start_ms;
			h->points[i].requests = b[i].requests;
			h->points[i].threat = b[i].threat_rows;
			h->points[i].benign = b[i].rows - b[i].threat_rows;
			h->d.requests += b[i].requests;
			h->d.rows += b[i].rows;
			h->d.threat_rows += b[i].threat_rows;
		}
		if (h->points) {
			h->d.points = h->points;
			h->d.n_points = n;
			h->d.bucket_ms = bucket;
		}
	}
	ns_free(b);
	if (ns_store_prediction_totals(store, since, until, &h->totals, &nt, &d) == NS_OK) {
		for (size_t i = 0; i < nt && i < MAX_LABELS; i++) {
			h->classes[i].label = h->totals[i].label;
			h->classes[i].threat = h->totals[i].is_threat;
			h->classes[i].count = h->totals[i].count;
		}
		h->d.classes = h->classes;
		h->d.n_classes = nt < MAX_LABELS ? nt : MAX_LABELS;
	}
	ns_store_close(store);
}

static void gather_model(struct srv *s, struct home *h)
{
	struct srv_model *m = srv_model_acquire(s);
	struct dash_model *dm = &h->d.model;
	const struct ns_json *root, *test, *cm, *fi, *params;
	struct ns_diag d;
	if (!m)
		return;
	dm->present = true;
	dm->name = s->cfg.model_name;
	dm->version = m->version;
	dm->family = ns_family_name(ns_model_family(m->model));
	dm->accuracy = dm->precision = dm->recall = dm->f1 = dm->roc_auc = dm->cv_score = NAN;
	ns_diag_clear(&d);
	if (m->meta_json && ns_json_parse(m->meta_json, strlen(m->meta_json), "meta.json", NULL,
					  &h->meta, &d) == NS_OK) {
		root = ns_json_root(h->meta);
		dm->trained_at = str(ns_json_get(root, "trained_at"));
		dm->run_id = str(ns_json_get(root, "run_id"));
		dm->scoring = str(ns_json_get(root, "scoring"));
		dm->threat = str(ns_json_get(root, "threat"));
		dm->cv_score = num(ns_json_get(root, "cv_score"));
		test = ns_json_get(ns_json_get(root, "metrics"), "test");
		dm->accuracy = num(ns_json_get(test, "accuracy"));
		dm->precision = num(ns_json_get(test, "precision"));
		dm->recall = num(ns_json_get(test, "recall"));
		dm->f1 = num(ns_json_get(test, "f1"));
		dm->roc_auc = num(ns_json_get(test, "roc_auc"));
		params = ns_json_get(root, "params");
		for (size_t i = 0, off = 0; i < ns_json_length(params); i++) {
			size_t kl = 0;
			const char *k = ns_json_member_key(params, i, &kl);
			const char *v = str(ns_json_member_value(params, i));
			int w = snprintf(h->params + off, sizeof(h->params) - off, "%s%.*s=%s",
					 off ? ", " : "", (int)kl, k, v ? v : "?");
			if (w < 0 || (size_t)w >= sizeof(h->params) - off)
				break;
			off += (size_t)w;
		}
		dm->params = h->params;
		cm = ns_json_get(root, "confusion_matrix");
		{
			const struct ns_json *labels = ns_json_get(cm, "labels"),
					     *matrix = ns_json_get(cm, "matrix");
			size_t k = ns_json_length(labels);
			if (k && k <= MAX_LABELS && ns_json_length(matrix) == k) {
				h->confusion = calloc(k * k, sizeof(uint64_t));
				for (size_t i = 0; h->confusion && i < k; i++) {
					h->labels[i] = str(ns_json_at(labels, i));
					for (size_t j = 0; j < k; j++) {
						double v =
							num(ns_json_at(ns_json_at(matrix, i), j));
						h->confusion[i * k + j] =
							isfinite(v) ? (uint64_t)v : 0;
					}
				}
				if (h->confusion) {
					dm->n_labels = k;
					dm->labels = h->labels;
					dm->confusion = h->confusion;
				}
			}
		}
		fi = ns_json_get(root, "feature_importance");
		for (size_t i = 0; i < ns_json_length(fi) && i < MAX_FEATURES; i++) {
			h->features[i].name = str(ns_json_get(ns_json_at(fi, i), "name"));
			h->features[i].importance =
				num(ns_json_get(ns_json_at(fi, i), "importance"));
			if (!h->features[i].name)
				h->features[i].name = "?";
			dm->n_features = i + 1;
		}
		dm->features = h->features;
	}
	srv_model_release(m);
}

/* The drift report of one run: the YAML lib/pipeline writes, read line by line. */
static void gather_drift(struct srv *s, struct home *h, const char *run)
{
	char path[4096], line[512];
	FILE *fp;
	struct dash_drift_column *cur = NULL;
	snprintf(path, sizeof(path), "%s/%s/data_validation/drift_report/report.yaml",
		 s->cfg.artifacts_dir, run);
	fp = fopen(path, "r");
	if (!fp)
		return;
	snprintf(h->drift_run, sizeof(h->drift_run), "%s", run);
	h->d.drift_run = h->drift_run;
	h->d.drift_threshold = 0.05;
	while (fgets(line, sizeof(line), fp)) {
		double v;
		char word[16];
		if (sscanf(line, "threshold: %lf", &v) == 1) {
			h->d.drift_threshold = v;
		} else if (strncmp(line, "  \"", 3) == 0 && h->d.n_drift < MAX_DRIFT) {
			/* a column: "  \"name\":" (a JSON string) */
			size_t i = h->d.n_drift++, o = 0;
			for (const char *p = line + 3; *p && *p != '"' && o + 1 < 128; p++) {
				if (*p == '\\' && p[1])
					p++;
				h->drift_names[i][o++] = *p;
			}
			h->drift_names[i][o] = '\0';
			cur = &h->drift[i];
			cur->name = h->drift_names[i];
			cur->test = h->drift_tests[i];
			cur->statistic = cur->p_value = NAN;
		} else if (cur && sscanf(line, "    test: %7s", word) == 1) {
			memcpy(h->drift_tests[cur - h->drift], word, 8);
			h->drift_tests[cur - h->drift][7] = '\0';
		} else if (cur && sscanf(line, "    statistic: %lf", &v) == 1) {
			cur->statistic = v;
		} else if (cur && sscanf(line, "    p_value: %lf", &v) == 1) {
			cur->p_value = v;
		} else if (cur && sscanf(line, "    drift_status: %15s", word) == 1) {
			cur->drift = strcmp(word, "true") == 0;
		}
	}
	fclose(fp);
	h->d.drift = h->drift;
}

static void gather_runs(struct srv *s, struct home *h)
{
	DIR *dir = opendir(s->cfg.artifacts_dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	bool drift_done = false;
	if (!dir)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **p = realloc(names, nc * sizeof(*p));
			if (!p)
				break;
			names = p;
			cap = nc;
		}
		names[n] = strdup(e->d_name);
		if (names[n])
			n++;
	}
	closedir(dir);
	if (n)
		qsort(names, n, sizeof(*names), cmp_desc);
	for (size_t i = 0; i < n; i++) {
		char path[4096], *text = NULL;
		size_t len = 0, k = h->d.n_runs;
		struct dash_run *run;
		struct ns_json_doc *doc = NULL;
		if (k < MAX_RUNS) {
			run = &h->runs[k];
			snprintf(h->run_ids[k], sizeof(h->run_ids[k]), "%s", names[i]);
			run->run_id = h->run_ids[k];
			run->test_score = NAN;
			snprintf(path, sizeof(path), "%s/%s/run.status", s->cfg.artifacts_dir,
				 names[i]);
			if (ns_read_file(path, 4096, &text, &len, NULL) == NS_OK) {
				text[strcspn(text, "\n")] = '\0';
				snprintf(h->run_status[k], sizeof(h->run_status[k]), "%s",
					 strncmp(text, "running", 7) == 0 ? "running" : text);
				run->status = h->run_status[k];
			}
			ns_free(text);
			text = NULL;
			snprintf(path, sizeof(path), "%s/%s/model_trainer/report.json",
				 s->cfg.artifacts_dir, names[i]);
			if (ns_read_file(path, 1 << 24, &text, &len, NULL) == NS_OK &&
			    ns_json_parse(text, len, path, NULL, &doc, NULL) == NS_OK) {
				const struct ns_json *root = ns_json_root(doc);
				const struct ns_json *reg = ns_json_get(root, "registry");
				const char *fam =
					str(ns_json_get(ns_json_get(root, "chosen"), "family"));
				const char *started = str(ns_json_get(root, "started_at"));
				bool promoted = false;
				if (fam) {
					snprintf(h->run_family[k], sizeof(h->run_family[k]), "%s",
						 fam);
					run->family = h->run_family[k];
				}
				if (started) {
					snprintf(h->run_started[k], sizeof(h->run_started[k]), "%s",
						 started);
					run->started_at = h->run_started[k];
				}
				run->test_score =
					num(ns_json_get(ns_json_get(root, "gates"), "test_score"));
				run->version =
					(unsigned)fmax(0, num(ns_json_get(reg, "version")) > 0
								  ? num(ns_json_get(reg, "version"))
								  : 0);
				if (ns_json_bool(ns_json_get(reg, "promoted"), &promoted))
					run->promoted = promoted;
			}
			ns_json_doc_free(doc);
			ns_free(text);
			h->d.n_runs = k + 1;
		}
		if (!drift_done) {
			char path2[4096];
			FILE *fp;
			snprintf(path2, sizeof(path2),
				 "%s/%s/data_validation/drift_report/report.yaml",
				 s->cfg.artifacts_dir, names[i]);
			fp = fopen(path2, "r");
			if (fp) {
				fclose(fp);
				gather_drift(s, h, names[i]);
				drift_done = true;
			}
		}
		if (h->d.n_runs == MAX_RUNS && drift_done)
			break;
	}
	h->d.runs = h->runs;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

enum MHD_Result srv_home_get(struct req *r)
{
	struct home *h = calloc(1, sizeof(*h));
	const char *hq = srv_query(r, "hours");
	long hours = 24;
	char *html = NULL;
	size_t len = 0;
	enum ns_status st;
	if (!h)
		return MHD_NO;
	if (hq) {
		char *end;
		hours = strtol(hq, &end, 10);
		if (*end || hours < 1 || hours > 720) {
			free(h);
			return srv_error(r, 400, "bad request", "hours must be in [1, 720]", NULL);
		}
	}
	h->d.now_ms = srv_now_ms();
	snprintf(h->title, sizeof(h->title), "netsec threat dashboard - model %s",
		 r->s->cfg.model_name);
	h->d.title = h->title;
	gather_log(r->s, h, hours);
	gather_model(r->s, h);
	gather_runs(r->s, h);
	st = dash_render(&h->d, &html, &len);
	free(h->points);
	ns_free(h->totals);
	free(h->confusion);
	ns_json_doc_free(h->meta);
	free(h);
	if (st != NS_OK)
		return srv_error(r, 503, "out of memory", "cannot render the dashboard", NULL);
	return srv_send_owned(r, 200, "text/html; charset=utf-8", html, len);
}
