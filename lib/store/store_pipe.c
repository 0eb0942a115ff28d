/*
 * lib/store/store_pipe.c - the ingest pipeline: rows validated on the
 * caller's thread reach the backend on a worker thread, in order.
 *
 * Reading, hashing, parsing and validating a record costs about as much as
 * storing it (SQLite: building and appending the b-tree record), so the two
 * halves run on two threads: the caller fills one batch while the worker
 * stores the other.  A batch holds copies of the rows (the record's bytes
 * are only valid during the CSV callback), so category strings and rejected
 * records are copied into the batch's text buffer and pointed to when the
 * batch is handed over.
 *
 * The backend handle is used by one thread at a time: by the worker between
 * a hand-over and the moment it reports the batch done, never concurrently
 * with the caller (which only touches it again after ns__store_pipe_finish).
 * If the worker thread cannot be started, batches are stored on the caller's
 * thread at hand-over instead: same order, same errors.
 *
 * Memory: two batches of about 32768 cells each plus their text, whatever
 * the file's size.
 */
#include <pthread.h>
#include <string.h>

#include "core/internal.h"
#include "store/store_impl.h"

#define PIPE_BATCH_CELLS 32768
#define PIPE_BATCH_MAX_ROWS 4096

struct pipe_entry {
	bool reject;
	uint64_t line;
	size_t reason_off;
	size_t raw_off;
	size_t raw_len;
};

struct pipe_batch {
	size_t n;
	struct ns_value *vals; /* cap * n_cols */
	struct pipe_entry *ent; /* cap */
	size_t *cat_off; /* cap * n_cat: text offsets of category cells */
	struct ns__buf text;
};

struct ns__store_pipe {
	const struct ns__store_backend *be;
	void *impl;
	size_t n_cols, n_cat, cap;
	size_t *cat_cols; /* schema indices of the category columns */
	struct pipe_batch batch[2];
	struct pipe_batch *fill; /* the one the caller fills */

	bool threaded;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Guarded by mu: */
	struct pipe_batch *pending; /* handed to the worker; NULL when it is idle */
	bool quit;
	enum ns_status status; /* the first error; then nothing more is stored */
	struct ns_diag diag;
};

static enum ns_status batch_init(struct pipe_batch *b, size_t cap, size_t n_cols, size_t n_cat)
{
	memset(b, 0, sizeof(*b));
	ns__buf_init(&b->text, 0);
	b->vals = ns_calloc(cap * (n_cols ? n_cols : 1), sizeof(*b->vals));
	b->ent = ns_calloc(cap, sizeof(*b->ent));
	b->cat_off = ns_calloc(cap * (n_cat ? n_cat : 1), sizeof(*b->cat_off));
	return b->vals && b->ent && b->cat_off ? NS_OK : NS_ERR_NOMEM;
}

static void batch_fini(struct pipe_batch *b)
{
	ns_free(b->vals);
	ns_free(b->ent);
	ns_free(b->cat_off);
	ns__buf_fini(&b->text);
}

/* Stores a batch through the backend (worker thread, or caller when inline). */
static enum ns_status batch_store(struct ns__store_pipe *p, struct pipe_batch *b,
				  struct ns_diag *diag)
{
	enum ns_status s = NS_OK;
	size_t e = 0;
	while (s == NS_OK && e < b->n) {
		const struct pipe_entry *en = &b->ent[e];
		size_t run = 0;
		if (en->reject) {
			s = p->be->reject(p->impl, en->line, b->text.data + en->reason_off,
					  b->text.data + en->raw_off, en->raw_len, diag);
			e++;
			continue;
		}
		/* Consecutive rows go to the backend in one call. */
		while (e + run < b->n && !b->ent[e + run].reject)
			run++;
		s = p->be->insert(p->impl, &b->vals[e * p->n_cols], run, diag);
		e += run;
	}
	return s;
}

static void *worker(void *arg)
{
	struct ns__store_pipe *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct pipe_batch *b;
		struct ns_diag d;
		enum ns_status s = NS_OK;
		while (!p->pending && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!p->pending)
			break;
		b = p->pending;
		pthread_mutex_unlock(&p->mu);
		ns_diag_clear(&d);
		s = batch_store(p, b, &d);
		pthread_mutex_lock(&p->mu);
		if (s != NS_OK && p->status == NS_OK) {
			p->status = s;
			p->diag = d;
		}
		p->pending = NULL;
		pthread_cond_broadcast(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static enum ns_status report(struct ns__store_pipe *p, enum ns_status s, struct ns_diag *diag)
{
	if (s != NS_OK && diag)
		*diag = p->diag;
	return s;
}

/* Waits until the worker is idle; returns the first error so far. */
static enum ns_status wait_idle(struct ns__store_pipe *p)
{
	enum ns_status s;
	if (!p->threaded)
		return p->status;
	pthread_mutex_lock(&p->mu);
	while (p->pending)
		pthread_cond_wait(&p->cv, &p->mu);
	s = p->status;
	pthread_mutex_unlock(&p->mu);
	return s;
}

/* Hands the filled batch over and switches the caller to the other one. */
static enum ns_status hand_over(struct ns__store_pipe *p, struct ns_diag *diag)
{
	struct pipe_batch *b = p->fill;
	enum ns_status s;

	if (b->n == 0)
		return report(p, wait_idle(p), diag);
	/* The text no longer moves: point the category cells into it. */
	for (size_t e = 0; e < b->n; e++) {
		struct ns_value *row = &b->vals[e * p->n_cols];
		if (b->ent[e].reject)
			continue;
		for (size_t j = 0; j < p->n_cat; j++) {
			struct ns_value *v = &row[p->cat_cols[j]];
			if (!v->missing)
				v->str = b->text.data + b->cat_off[e * p->n_cat + j];
		}
	}
	if (!p->threaded) {
		if (p->status == NS_OK) {
			ns_diag_clear(&p->diag);
			p->status = batch_store(p, b, &p->diag);
		}
		s = p->status;
	} else {
		pthread_mutex_lock(&p->mu);
		while (p->pending)
			pthread_cond_wait(&p->cv, &p->mu);
		s = p->status;
		if (s == NS_OK) {
			p->pending = b;
			pthread_cond_broadcast(&p->cv);
		}
		pthread_mutex_unlock(&p->mu);
	}
	p->fill = b == &p->batch[0] ? &p->batch[1] : &p->batch[0];
	/* The worker is done with the other batch (it is idle or on this one). */
	p->fill->n = 0;
	ns__buf_reset(&p->fill->text);
	return report(p, s, diag);
}

enum ns_status ns__store_pipe_create(const struct ns__store_backend *be, void *impl,
				     const struct ns_schema *schema, struct ns__store_pipe **out)
{
	struct ns__store_pipe *p = ns_calloc(1, sizeof(*p));
	size_t n_cols = schema->n_columns;
	enum ns_status s = NS_ERR_NOMEM;

	if (!p)
		return NS_ERR_NOMEM;
	p->be = be;
	p->impl = impl;
	p->n_cols = n_cols;
	p->cap = PIPE_BATCH_CELLS / (n_cols ? n_cols : 1);
	if (p->cap < 1)
		p->cap = 1;
	if (p->cap > PIPE_BATCH_MAX_ROWS)
		p->cap = PIPE_BATCH_MAX_ROWS;
	for (size_t i = 0; i < n_cols; i++)
		p->n_cat += schema->columns[i].type == NS_TYPE_CATEGORY;
	p->cat_cols = ns_calloc(p->n_cat ? p->n_cat : 1, sizeof(*p->cat_cols));
	if (!p->cat_cols)
		goto fail;
	for (size_t i = 0, j = 0; i < n_cols; i++) {
		if (schema->columns[i].type == NS_TYPE_CATEGORY)
			p->cat_cols[j++] = i;
	}
	/* batch_init before any failure path so that batch_fini is safe. */
	if (batch_init(&p->batch[0], p->cap, n_cols, p->n_cat) != NS_OK ||
	    batch_init(&p->batch[1], p->cap, n_cols, p->n_cat) != NS_OK)
		goto fail;
	p->fill = &p->batch[0];
	if (pthread_mutex_init(&p->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&p->cv, NULL) != 0) {
		pthread_mutex_destroy(&p->mu);
		goto fail;
	}
	/* Without a thread, batches are stored at hand-over. */
	p->threaded = pthread_create(&p->thread, NULL, worker, p) == 0;
	*out = p;
	return NS_OK;
fail:
	batch_fini(&p->batch[0]);
	batch_fini(&p->batch[1]);
	ns_free(p->cat_cols);
	ns_free(p);
	return s;
}

enum ns_status ns__store_pipe_row(struct ns__store_pipe *p, const struct ns_value *values,
				  struct ns_diag *diag)
{
	struct pipe_batch *b = p->fill;
	struct ns_value *row = &b->vals[b->n * p->n_cols];

	memcpy(row, values, p->n_cols * sizeof(*row));
	for (size_t j = 0; j < p->n_cat; j++) {
		struct ns_value *v = &row[p->cat_cols[j]];
		if (v->missing)
			continue;
		b->cat_off[b->n * p->n_cat + j] = b->text.len;
		/* Appended with a NUL so that a backend may read it as a C string. */
		if (ns__buf_append(&b->text, v->str, v->len) != NS_OK ||
		    ns__buf_append(&b->text, "", 1) != NS_OK)
			return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		v->str = NULL; /* set at hand-over, when the text stops moving */
	}
	memset(&b->ent[b->n], 0, sizeof(b->ent[b->n]));
	if (++b->n == p->cap)
		return hand_over(p, diag);
	return NS_OK;
}

enum ns_status ns__store_pipe_reject(struct ns__store_pipe *p, uint64_t line, const char *reason,
				     const char *raw, size_t raw_len, struct ns_diag *diag)
{
	struct pipe_batch *b = p->fill;
	struct pipe_entry *en = &b->ent[b->n];
	size_t reason_off = b->text.len, raw_off;

	if (ns__buf_append(&b->text, reason, strlen(reason) + 1) != NS_OK)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	raw_off = b->text.len;
	if (ns__buf_append(&b->text, raw ? raw : "", raw ? raw_len : 0) != NS_OK ||
	    ns__buf_append(&b->text, "", 1) != NS_OK)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	en->reject = true;
	en->line = line;
	en->reason_off = reason_off;
	en->raw_off = raw_off;
	en->raw_len = raw ? raw_len : 0;
	if (++b->n == p->cap)
		return hand_over(p, diag);
	return NS_OK;
}

enum ns_status ns__store_pipe_finish(struct ns__store_pipe *p, struct ns_diag *diag)
{
	enum ns_status s = hand_over(p, diag);
	if (s != NS_OK)
		return s;
	return report(p, wait_idle(p), diag);
}

void ns__store_pipe_free(struct ns__store_pipe *p)
{
	if (!p)
		return;
	if (p->threaded) {
		pthread_mutex_lock(&p->mu);
		p->quit = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		/* The worker finishes the batch it holds, then exits. */
		pthread_join(p->thread, NULL);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	batch_fini(&p->batch[0]);
	batch_fini(&p->batch[1]);
	ns_free(p->cat_cols);
	ns_free(p);
}
