/*
 * src/server/model.c - the current model, shared by reference count.
 *
 * The watcher thread (server.c) calls srv_holder_reload() every
 * reload_interval_ms, and the promote/rollback endpoints and finished
 * training jobs call it at once.  It reads the registry's `current` file
 * (docs/registry.md) and, only when that changed, loads the new version
 * completely - model, encoder, schema, imputer, column map - before swapping
 * the pointer under the lock.  A request holds its own reference for its whole
 * life, so a swap never pulls a model from under it; the old model is freed
 * by whichever holder drops the last reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

void srv_holder_init(struct srv_holder *h)
{
	pthread_mutex_init(&h->lock, NULL);
	h->current = NULL;
	h->current_text[0] = '\0';
}

static void model_free(struct srv_model *m)
{
	if (!m)
		return;
	ns_model_free(m->model);
	ns_encoder_free(m->enc);
	ns_schema_free(m->schema);
	ns_imputer_free(m->imp);
	ns_free(m->map);
	ns_free(m->meta_json);
	ns_free(m->is_threat);
	free(m);
}

void srv_model_release(struct srv_model *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1)
		model_free(m);
}

void srv_holder_fini(struct srv_holder *h)
{
	srv_model_release(h->current);
	h->current = NULL;
	pthread_mutex_destroy(&h->lock);
}

struct srv_model *srv_model_acquire(struct srv *s)
{
	struct srv_model *m;
	pthread_mutex_lock(&s->holder.lock);
	m = s->holder.current;
	if (m)
		atomic_fetch_add(&m->refs, 1);
	pthread_mutex_unlock(&s->holder.lock);
	return m;
}

static enum ns_status load_version(struct srv *s, unsigned version, struct srv_model **out,
				   struct ns_diag *diag)
{
	struct ns_registry *reg = NULL;
	struct srv_model *m = calloc(1, sizeof(*m));
	char path[4096];
	const uint8_t *data;
	size_t len;
	enum ns_status st;

	if (!m)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	atomic_init(&m->refs, 1);
	m->version = version;
	snprintf(m->name, sizeof(m->name), "%s", s->cfg.model_name);
	st = ns_registry_open(s->cfg.registry_dir, s->cfg.model_name, &reg, diag);
	if (st == NS_OK)
		st = ns_registry_path(reg, version, path, sizeof(path));
	if (st == NS_OK)
		ns_registry_meta(reg, version, &m->meta_json, NULL);
	ns_registry_close(reg);
	if (st == NS_OK)
		st = ns_model_load(path, &m->model, diag);
	if (st == NS_OK)
		st = ns_model_encoder(m->model, &m->enc, diag);
	if (st == NS_OK)
		st = ns_model_schema(m->model, &m->schema, diag);
	if (st == NS_OK && ns_model_attachment(m->model, NS_ATTACH_IMPUTER, &data, &len))
		st = ns_imputer_from_buffer(data, len, &m->imp, diag);
	if (st == NS_OK) {
		m->map = ns_malloc((ns_encoder_n_inputs(m->enc) + 1) * sizeof(size_t));
		m->is_threat = ns_calloc(ns_model_n_classes(m->model) + 1, sizeof(bool));
		if (!m->map || !m->is_threat)
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
	if (st == NS_OK)
		st = ns_encoder_map_schema(m->enc, m->schema, m->map, diag);
	if (st == NS_OK) {
		uint32_t k = ns_model_n_classes(m->model);
		m->threat = ns_model_threat_class(m->model);
		snprintf(m->family, sizeof(m->family), "%s",
			 ns_family_name(ns_model_family(m->model)));
		for (uint32_t c = 0; c < k; c++) {
			const char *label = ns_model_class_label(m->model, c);
			long idx = ns_schema_class_index(m->schema, label, strlen(label));
			m->is_threat[c] = m->threat >= 0
						  ? (long)c == m->threat
						  : ns_schema_class_is_threat(m->schema, idx);
		}
	}
	if (st != NS_OK) {
		model_free(m);
		return st;
	}
	*out = m;
	return NS_OK;
}

enum ns_status srv_holder_reload(struct srv *s, bool *changed, struct ns_diag *diag)
{
	char path[4096], *text = NULL, now[32];
	size_t len = 0;
	unsigned version = 0;
	struct srv_model *m = NULL, *old;
	enum ns_status st;

	if (changed)
		*changed = false;
	snprintf(path, sizeof(path), "%s/%s/current", s->cfg.registry_dir, s->cfg.model_name);
	st = ns_read_file(path, 64, &text, &len, NULL);
	snprintf(now, sizeof(now), "%s", st == NS_OK ? text : "");
	ns_free(text);
	pthread_mutex_lock(&s->holder.lock);
	if (strcmp(now, s->holder.current_text) == 0 && (s->holder.current || !now[0])) {
		pthread_mutex_unlock(&s->holder.lock);
		return NS_OK;
	}
	pthread_mutex_unlock(&s->holder.lock);
	if (!now[0] || sscanf(now, "%u", &version) != 1 || version == 0)
		return NS_OK; /* no model promoted yet */
	st = load_version(s, version, &m, diag);
	if (st != NS_OK)
		return st;
	pthread_mutex_lock(&s->holder.lock);
	old = s->holder.current;
	s->holder.current = m;
	snprintf(s->holder.current_text, sizeof(s->holder.current_text), "%s", now);
	pthread_mutex_unlock(&s->holder.lock);
	srv_model_release(old);
	if (changed)
		*changed = true;
	return NS_OK;
}
