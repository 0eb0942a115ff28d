/*
 * src/server/log.c - the prediction log: every prediction request leaves one
 * entry (time, model, rows, predictions per class) in the store, where the
 * /home dashboard reads its aggregates.  Request threads only append to an
 * in-memory queue; one background thread owns a store handle and writes the
 * queue out, so a slow disk never slows a request.  The queue is bounded:
 * past 100,000 waiting entries new ones are counted as dropped (and said so
 * on stderr) rather than letting memory grow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netsec/config.h"
#include "server.h"

#define LOG_QUEUE_MAX 100000

struct srv_log_entry {
	struct srv_log_entry *next;
	int64_t time_ms;
	char request_source[32];
	char request_id[32];
	char model_name[128];
	unsigned model_version;
	uint64_t n_rows;
	double seconds;
	uint64_t n_requests;
	size_t n_classes;
	char **labels;
	uint64_t *counts;
	bool *is_threat;
	char *raw;
	size_t raw_len;
};

static void entry_free(struct srv_log_entry *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->labels && i < e->n_classes; i++)
		free(e->labels[i]);
	free(e->labels);
	free(e->counts);
	free(e->is_threat);
	free(e->raw);
	free(e);
}

static uint64_t dropped;

/* Whether entry e can take a request of model m from `source` at `now`. */
static bool acc_matches(const struct srv_log_entry *e, const struct srv_model *m,
			const char *source, int64_t now)
{
	uint32_t k = ns_model_n_classes(m->model);
	if (e->time_ms / 1000 != now / 1000 || e->model_version != m->version ||
	    e->n_classes != k || strcmp(e->request_source, source) != 0 ||
	    strcmp(e->model_name, m->name) != 0)
		return false;
	for (uint32_t c = 0; c < k; c++)
		if (e->is_threat[c] != m->is_threat[c] ||
		    strcmp(e->labels[c], ns_model_class_label(m->model, c)) != 0)
			return false;
	return true;
}

static struct srv_log_entry *entry_new(const struct srv_model *m, const char *source,
				       const char *request_id, int64_t now)
{
	struct srv_log_entry *e = calloc(1, sizeof(*e));
	uint32_t k = ns_model_n_classes(m->model);
	if (!e)
		return NULL;
	e->time_ms = now;
	snprintf(e->request_source, sizeof(e->request_source), "%s", source);
	snprintf(e->request_id, sizeof(e->request_id), "%s", request_id);
	snprintf(e->model_name, sizeof(e->model_name), "%s", m->name);
	e->model_version = m->version;
	e->n_classes = k;
	e->labels = calloc(k, sizeof(char *));
	e->counts = calloc(k, sizeof(uint64_t));
	e->is_threat = calloc(k, sizeof(bool));
	if (!e->labels || !e->counts || !e->is_threat) {
		entry_free(e);
		return NULL;
	}
	for (uint32_t c = 0; c < k; c++) {
		e->labels[c] = strdup(ns_model_class_label(m->model, c));
		if (!e->labels[c]) {
			entry_free(e);
			return NULL;
		}
		e->is_threat[c] = m->is_threat[c];
	}
	return e;
}

/* Queues e for the writer thread (lock held). */
static void enqueue(struct srv *s, struct srv_log_entry *e)
{
	if (!s->log_thread_live || s->log_len >= LOG_QUEUE_MAX) {
		dropped++;
		entry_free(e);
		return;
	}
	if (s->log_tail)
		s->log_tail->next = e;
	else
		s->log_head = e;
	s->log_tail = e;
	s->log_len++;
	pthread_cond_signal(&s->log_cond);
}

/*
 * Requests of the same second, source and model add into one open entry
 * (n_requests counts them): the common case allocates nothing and the store
 * sees one write per second per kind, whatever the request rate.  A request
 * with raw rows to keep gets an entry of its own.
 */
void srv_log_prediction(struct srv *s, const struct srv_model *m, const char *source,
			const char *request_id, uint64_t n_rows, const uint64_t *counts,
			double seconds, const char *raw_csv, size_t raw_len)
{
	int64_t now = srv_now_ms();
	uint32_t k = ns_model_n_classes(m->model);
	bool raw = raw_csv && s->cfg.log_raw_rows;
	struct srv_log_entry *e;
	pthread_mutex_lock(&s->log_lock);
	e = s->log_open;
	if (raw || !e || !acc_matches(e, m, source, now)) {
		if (e && !raw) {
			s->log_open = NULL;
			enqueue(s, e);
		}
		pthread_mutex_unlock(&s->log_lock);
		e = entry_new(m, source, request_id, now);
		if (!e)
			return;
		if (raw) {
			e->raw = malloc(raw_len ? raw_len : 1);
			if (e->raw) {
				memcpy(e->raw, raw_csv, raw_len);
				e->raw_len = raw_len;
			}
		}
		pthread_mutex_lock(&s->log_lock);
		if (raw) {
			e->n_rows = n_rows;
			e->seconds = seconds;
			e->n_requests = 1;
			for (uint32_t c = 0; c < k; c++)
				e->counts[c] = counts[c];
			enqueue(s, e);
			pthread_mutex_unlock(&s->log_lock);
			return;
		}
		if (s->log_open) /* another thread opened one meanwhile */
			enqueue(s, s->log_open);
		s->log_open = e;
	}
	e->n_rows += n_rows;
	e->seconds += seconds;
	e->n_requests++;
	for (uint32_t c = 0; c < k; c++)
		e->counts[c] += counts[c];
	pthread_mutex_unlock(&s->log_lock);
}

static void write_entry(struct srv *s, struct ns_store *store, const struct srv_log_entry *e)
{
	struct ns_prediction_log pl;
	struct ns_diag d;
	memset(&pl, 0, sizeof(pl));
	pl.time_ms = e->time_ms;
	pl.source = e->request_source;
	pl.request_id = e->request_id;
	pl.model_name = e->model_name;
	pl.model_version = e->model_version;
	pl.n_rows = e->n_rows;
	pl.n_classes = e->n_classes;
	pl.labels = (const char *const *)e->labels;
	pl.counts = e->counts;
	pl.is_threat = e->is_threat;
	pl.seconds = e->seconds;
	pl.n_requests = e->n_requests;
	pl.raw_csv = e->raw;
	pl.raw_len = e->raw_len;
	ns_diag_clear(&d);
	if (ns_store_log_prediction(store, &pl, &d) != NS_OK && s->cfg.verbosity >= 1)
		fprintf(stderr, "netsec serve: warning: prediction log: %s\n", d.message);
}

/* Whether b can be merged into a: same second, source, model and classes. */
static bool same_kind(const struct srv_log_entry *a, const struct srv_log_entry *b)
{
	if (a->time_ms / 1000 != b->time_ms / 1000 || a->model_version != b->model_version ||
	    a->n_classes != b->n_classes || a->raw || b->raw ||
	    strcmp(a->request_source, b->request_source) != 0 ||
	    strcmp(a->model_name, b->model_name) != 0)
		return false;
	for (size_t c = 0; c < a->n_classes; c++)
		if (a->is_threat[c] != b->is_threat[c] || strcmp(a->labels[c], b->labels[c]) != 0)
			return false;
	return true;
}

/*
 * Merges the entries of a batch that fall in the same second and share
 * source, model and classes into one (n_requests counts them), so that a
 * burst of small requests costs the store one write per second, not one per
 * request.  Returns the new list; merged entries are freed.
 */
static struct srv_log_entry *coalesce(struct srv_log_entry *list)
{
	struct srv_log_entry *open[16], *out = NULL, **tail = &out;
	size_t n_open = 0;
	while (list) {
		struct srv_log_entry *e = list, *into = NULL;
		list = e->next;
		e->next = NULL;
		for (size_t i = 0; i < n_open && !into; i++)
			if (same_kind(open[i], e))
				into = open[i];
		if (into) {
			into->n_rows += e->n_rows;
			into->seconds += e->seconds;
			into->n_requests += e->n_requests;
			for (size_t c = 0; c < e->n_classes; c++)
				into->counts[c] += e->counts[c];
			entry_free(e);
			continue;
		}
		if (n_open == 16)
			memmove(open, open + 1, 15 * sizeof(open[0])), n_open--;
		open[n_open++] = e;
		*tail = e;
		tail = &e->next;
	}
	return out;
}

static void *log_main(void *arg)
{
	struct srv *s = arg;
	struct ns_store *store = NULL;
	struct ns_diag d;
	ns_diag_clear(&d);
	if (ns_store_open(s->cfg.store_uri, &store, &d) != NS_OK) {
		char shown[4096];
		fprintf(stderr, "netsec serve: warning: no prediction log (store %s: %s)\n",
			ns_redact(s->cfg.store_uri, shown, sizeof(shown)), d.message);
	}
	pthread_mutex_lock(&s->log_lock);
	for (;;) {
		struct srv_log_entry *batch;
		while (!s->log_head && !atomic_load(&s->stopping)) {
			/* An open entry goes out once its second is over. */
			struct timespec until;
			if (s->log_open && s->log_open->time_ms / 1000 < srv_now_ms() / 1000) {
				enqueue(s, s->log_open);
				s->log_open = NULL;
				continue;
			}
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += 250 * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&s->log_cond, &s->log_lock, &until);
		}
		if (atomic_load(&s->stopping) && s->log_open) {
			enqueue(s, s->log_open);
			s->log_open = NULL;
		}
		batch = s->log_head;
		s->log_head = s->log_tail = NULL;
		s->log_len = 0;
		pthread_mutex_unlock(&s->log_lock);
		batch = coalesce(batch);
		while (batch) {
			struct srv_log_entry *next = batch->next;
			if (store)
				write_entry(s, store, batch);
			entry_free(batch);
			batch = next;
		}
		pthread_mutex_lock(&s->log_lock);
		if (atomic_load(&s->stopping) && !s->log_head)
			break;
	}
	pthread_mutex_unlock(&s->log_lock);
	ns_store_close(store);
	return NULL;
}

void srv_log_start(struct srv *s)
{
	pthread_mutex_init(&s->log_lock, NULL);
	pthread_cond_init(&s->log_cond, NULL);
	pthread_mutex_lock(&s->log_lock);
	s->log_thread_live = pthread_create(&s->log_thread, NULL, log_main, s) == 0;
	pthread_mutex_unlock(&s->log_lock);
}

void srv_log_stop(struct srv *s)
{
	bool live;
	pthread_mutex_lock(&s->log_lock);
	live = s->log_thread_live;
	pthread_cond_broadcast(&s->log_cond);
	pthread_mutex_unlock(&s->log_lock);
	if (live)
		pthread_join(s->log_thread, NULL);
	pthread_mutex_lock(&s->log_lock);
	s->log_thread_live = false;
	pthread_mutex_unlock(&s->log_lock);
	if (dropped && s->cfg.verbosity >= 1)
		fprintf(stderr,
			"netsec serve: %llu prediction log entries were dropped (queue full)\n",
			(unsigned long long)dropped);
	pthread_cond_destroy(&s->log_cond);
	pthread_mutex_destroy(&s->log_lock);
}
