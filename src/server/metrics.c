/*
 * src/server/metrics.c - GET /metrics in Prometheus' text format (0.0.4):
 * requests by route and status class, latency histograms per route,
 * predictions by class, the served model's version, training runs by
 * outcome.  Counters are atomics: recording costs no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define PUTS(b, s) dash_buf_append((b), (s), strlen(s))

/* Upper bounds in seconds (le); the last bucket is +Inf. */
static const double bounds[SRV_LATENCY_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
						   0.05,   0.1,   0.25,   0.5,   1,    5};

void srv_metrics_init(struct srv *s)
{
	s->route_metrics = calloc(srv_n_routes + 1, sizeof(*s->route_metrics));
}

void srv_metrics_fini(struct srv *s)
{
	free(s->route_metrics);
	s->route_metrics = NULL;
}

void srv_metrics_request(struct srv *s, size_t route_index, unsigned status, double seconds)
{
	struct srv_route_metrics *m;
	size_t b = 0;
	unsigned cls = status / 100;
	if (!s->route_metrics || route_index > srv_n_routes)
		return;
	m = &s->route_metrics[route_index];
	atomic_fetch_add(&m->by_status[cls >= 1 && cls <= 5 ? cls : 5], 1);
	while (b < SRV_LATENCY_BUCKETS && seconds > bounds[b])
		b++;
	atomic_fetch_add(&m->latency[b], 1);
	atomic_fetch_add(&m->latency_sum_us, (uint_fast64_t)(seconds * 1e6));
	atomic_fetch_add(&m->count, 1);
}

/* Index of `label` in the metric's label table, adding it (up to 64). */
static long class_slot(struct srv *s, const char *label)
{
	unsigned n = atomic_load(&s->n_class_labels);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(s->class_labels[i], label) == 0)
			return (long)i;
	pthread_mutex_lock(&s->class_lock);
	n = atomic_load(&s->n_class_labels);
	for (unsigned i = 0; i < n; i++)
		if (strcmp(s->class_labels[i], label) == 0) {
			pthread_mutex_unlock(&s->class_lock);
			return (long)i;
		}
	if (n == 64) {
		pthread_mutex_unlock(&s->class_lock);
		return -1;
	}
	snprintf(s->class_labels[n], sizeof(s->class_labels[n]), "%s", label);
	atomic_store(&s->n_class_labels, n + 1);
	pthread_mutex_unlock(&s->class_lock);
	return (long)n;
}

void srv_metrics_predictions(struct srv *s, const struct srv_model *m, const uint64_t *counts)
{
	uint32_t k = ns_model_n_classes(m->model);
	for (uint32_t c = 0; c < k; c++) {
		long slot;
		if (!counts[c])
			continue;
		slot = class_slot(s, ns_model_class_label(m->model, c));
		if (slot >= 0)
			atomic_fetch_add(&s->predictions_by_class[slot], counts[c]);
	}
}

/* Prometheus label values escape \, " and newlines. */
static void label_value(struct dash_buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			dash_buf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			PUTS(b, "\\n");
		else
			dash_buf_append(b, v, 1);
	}
}

enum MHD_Result srv_metrics_get(struct req *r)
{
	struct srv *s = r->s;
	struct dash_buf b = {0};
	struct srv_model *m;

	dash_buf_printf(&b, "# HELP netsec_http_requests_total HTTP requests by route and "
			    "status class.\n# TYPE netsec_http_requests_total counter\n");
	for (size_t i = 0; i <= srv_n_routes; i++) {
		const struct srv_route_metrics *rm = &s->route_metrics[i];
		const char *route = i < srv_n_routes ? srv_routes[i].pattern : "unmatched";
		const char *method = i < srv_n_routes ? srv_routes[i].method : "";
		for (unsigned c = 1; c <= 5; c++) {
			uint64_t v = atomic_load(&rm->by_status[c]);
			if (!v)
				continue;
			dash_buf_printf(&b, "netsec_http_requests_total{method=\"%s\",route=\"",
					method);
			label_value(&b, route);
			dash_buf_printf(&b, "\",status=\"%uxx\"} %llu\n", c, (unsigned long long)v);
		}
	}
	dash_buf_printf(&b, "# HELP netsec_http_request_duration_seconds Request latency by "
			    "route.\n# TYPE netsec_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= srv_n_routes; i++) {
		const struct srv_route_metrics *rm = &s->route_metrics[i];
		const char *route = i < srv_n_routes ? srv_routes[i].pattern : "unmatched";
		uint64_t cum = 0, count = atomic_load(&rm->count);
		if (!count)
			continue;
		for (size_t k = 0; k <= SRV_LATENCY_BUCKETS; k++) {
			cum += atomic_load(&rm->latency[k]);
			dash_buf_printf(&b, "netsec_http_request_duration_seconds_bucket{route=\"");
			label_value(&b, route);
			if (k < SRV_LATENCY_BUCKETS)
				dash_buf_printf(&b, "\",le=\"%g\"} %llu\n", bounds[k],
						(unsigned long long)cum);
			else
				dash_buf_printf(&b, "\",le=\"+Inf\"} %llu\n",
						(unsigned long long)cum);
		}
		dash_buf_printf(&b, "netsec_http_request_duration_seconds_sum{route=\"");
		label_value(&b, route);
		dash_buf_printf(&b, "\"} %.6f\n", (double)atomic_load(&rm->latency_sum_us) / 1e6);
		dash_buf_printf(&b, "netsec_http_request_duration_seconds_count{route=\"");
		label_value(&b, route);
		dash_buf_printf(&b, "\"} %llu\n", (unsigned long long)count);
	}
	dash_buf_printf(&b, "# HELP netsec_predictions_total Predicted rows by class.\n"
			    "# TYPE netsec_predictions_total counter\n");
	for (unsigned i = 0; i < atomic_load(&s->n_class_labels); i++) {
		dash_buf_printf(&b, "netsec_predictions_total{class=\"");
		label_value(&b, s->class_labels[i]);
		dash_buf_printf(&b, "\"} %llu\n",
				(unsigned long long)atomic_load(&s->predictions_by_class[i]));
	}
	m = srv_model_acquire(s);
	dash_buf_printf(&b, "# HELP netsec_model_version Version of the served model (0: none).\n"
			    "# TYPE netsec_model_version gauge\n");
	if (m) {
		dash_buf_printf(&b, "netsec_model_version{name=\"");
		label_value(&b, m->name);
		dash_buf_printf(&b, "\",family=\"%s\"} %u\n", m->family, m->version);
	} else {
		dash_buf_printf(&b, "netsec_model_version{name=\"\",family=\"\"} 0\n");
	}
	srv_model_release(m);
	dash_buf_printf(&b,
			"# HELP netsec_training_runs_total Training requests by outcome.\n"
			"# TYPE netsec_training_runs_total counter\n"
			"netsec_training_runs_total{outcome=\"finished\"} %llu\n"
			"netsec_training_runs_total{outcome=\"failed\"} %llu\n"
			"netsec_training_runs_total{outcome=\"rejected\"} %llu\n",
			(unsigned long long)atomic_load(&s->train_runs[0]),
			(unsigned long long)atomic_load(&s->train_runs[1]),
			(unsigned long long)atomic_load(&s->train_runs[2]));
	dash_buf_printf(&b,
			"# HELP netsec_uptime_seconds Seconds since the server started.\n"
			"# TYPE netsec_uptime_seconds gauge\nnetsec_uptime_seconds %.3f\n",
			(double)(srv_now_ms() - s->started_ms) / 1000.0);
	if (b.failed) {
		ns_free(b.data);
		return srv_error(r, 503, "out of memory", "cannot render the metrics", NULL);
	}
	return srv_send_owned(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}
