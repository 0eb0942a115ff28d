/*
 * lib/store/store.c - the data store's generic part: URI dispatch over the
 * backend table, and the ingest protocol (read, hash, validate, store).
 *
 * A backend only moves validated rows in and out (store_impl.h); everything
 * that must behave the same whatever the backend lives here: the CSV reader,
 * the SHA-256 of the file's bytes as they stream past, the validator, the
 * rules for bad records, empty files and duplicates, and CSV export.
 *
 * Rows reach the backend through the ingest pipeline (store_pipe.c): a
 * worker thread stores one batch while this thread reads and validates the
 * next; commit and rollback happen here, after the worker has stopped.
 *
 * Memory: an ingest holds one 1 MiB read buffer, the current record (the
 * reader's), the reasons of the current record and the pipeline's two
 * batches, whatever the file's size.
 *
 * The prediction log's rules live here too: entries are validated before a
 * backend sees them, series buckets are laid out and totals sorted here, so
 * that every backend answers alike.
 *
 * Threading: a store handle is used by one thread at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "data/schema_internal.h"
#include "netsec/config.h"
#include "store/store_impl.h"
#include "store/store_mongo.h"

#define STORE_READ_CHUNK (1u << 20)
/* Cap on the reasons stored with one rejected record. */
#define STORE_REASON_MAX 4096

struct ns_store {
	const struct ns__store_backend *be;
	void *impl;
};

/* Every backend, in the order they are listed in errors.  The first one
 * also takes bare paths. */
static const struct ns__store_backend *const backends[] = {
	&ns__store_sqlite,
	&ns__store_mongo,
	&ns__store_mongo_srv,
};
#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

struct ns_ingest_params ns_ingest_params_default(void)
{
	struct ns_ingest_params p;
	memset(&p, 0, sizeof(p));
	return p;
}

/*
 * "scheme:rest" when the text before the first ':' looks like a URI scheme
 * (a letter, then letters, digits, '+', '-', '.'; at least two characters
 * so that a drive letter is not one); otherwise the whole string is a path.
 * Returns the scheme's length, or 0 for a bare path.
 */
static size_t scheme_len(const char *uri)
{
	size_t i = 0;
	if (!((uri[0] >= 'a' && uri[0] <= 'z') || (uri[0] >= 'A' && uri[0] <= 'Z')))
		return 0;
	for (i = 1; uri[i] && uri[i] != ':'; i++) {
		char c = uri[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			return 0;
	}
	return uri[i] == ':' && i >= 2 ? i : 0;
}

enum ns_status ns_store_open(const char *uri, struct ns_store **out, struct ns_diag *diag)
{
	const struct ns__store_backend *be = NULL;
	const char *location = uri;
	struct ns_store *st = NULL;
	enum ns_status s;
	size_t n;

	ns_diag_clear(diag);
	if (!uri || !*uri || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "no store URI");
	n = scheme_len(uri);
	if (n == 0) {
		be = backends[0];
	} else {
		for (size_t i = 0; i < N_BACKENDS; i++) {
			if (strlen(backends[i]->scheme) == n &&
			    strncasecmp(backends[i]->scheme, uri, n) == 0)
				be = backends[i];
		}
		location = uri + n + 1;
	}
	if (!be) {
		char known[256], shown[NS_DIAG_MESSAGE_MAX];
		size_t off = 0;
		known[0] = '\0';
		for (size_t i = 0; i < N_BACKENDS; i++) {
			int w = snprintf(known + off, sizeof(known) - off, "%s%s:", i ? ", " : "",
					 backends[i]->scheme);
			if (w < 0 || (size_t)w >= sizeof(known) - off)
				break;
			off += (size_t)w;
		}
		return ns_diag_set(
			diag, NS_ERR_INVALID,
			"unknown store scheme '%.*s:' in '%s' (known: %s, or a bare path "
			"for %s:)",
			(int)n, uri, ns_redact(uri, shown, sizeof(shown)), known,
			backends[0]->scheme);
	}
	st = ns_calloc(1, sizeof(*st));
	if (!st)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	st->be = be;
	s = be->open(location, &st->impl, diag);
	if (s != NS_OK) {
		ns_free(st);
		return s;
	}
	*out = st;
	return NS_OK;
}

void ns_store_close(struct ns_store *st)
{
	if (!st)
		return;
	st->be->close(st->impl);
	ns_free(st);
}

const char *ns_store_scheme(const struct ns_store *st)
{
	return st ? st->be->scheme : NULL;
}

static enum ns_status check_collection(const char *collection, struct ns_diag *diag)
{
	if (!ns__valid_name(collection))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "bad collection name '%s': use 1 to 64 of A-Z a-z 0-9 _ . -",
				   collection ? collection : "(null)");
	return NS_OK;
}

/* ---- ingest ---------------------------------------------------------------- */

struct ingest {
	struct ns_store *st;
	const struct ns_schema *schema;
	const struct ns_ingest_params *p;
	const char *source;
	ns_problem_fn fn;
	void *user;
	struct ns_validator *v;
	struct ns_value *values;
	struct ns__store_pipe *pipe;
	/* Reasons of the current record, joined by "; ". */
	struct ns__buf reasons;
	bool reasons_nomem;
	/* First problem of the current record (or of the finish phase). */
	bool have_problem;
	struct ns_diag problem;
	/* The record callback stopped the reader (diag already filled). */
	bool stopped;
	uint64_t n_records, n_rows, n_bad;
};

static void on_problem(void *user, const struct ns_problem *pr)
{
	struct ingest *in = user;
	if (in->fn)
		in->fn(in->user, pr);
	if (!in->have_problem) {
		in->have_problem = true;
		ns_diag_clear(&in->problem);
		ns_diag_where(&in->problem, in->source, pr->line, pr->column, pr->field);
		ns_diag_set(&in->problem, NS_ERR_SCHEMA, "%s", pr->message ? pr->message : "");
	}
	if (in->reasons.len < STORE_REASON_MAX) {
		enum ns_status s = NS_OK;
		if (in->reasons.len)
			s = ns__buf_append(&in->reasons, "; ", 2);
		if (s == NS_OK && pr->field)
			s = ns__buf_printf(&in->reasons, "%s: ", pr->field);
		if (s == NS_OK && pr->message)
			s = ns__buf_append(&in->reasons, pr->message, strlen(pr->message));
		if (s != NS_OK)
			in->reasons_nomem = true;
	}
}

/* Copies the first problem into diag (or a generic message). */
static enum ns_status fail_with_problem(struct ingest *in, const struct ns_csv_record *rec,
					const char *fallback, struct ns_diag *diag)
{
	if (diag) {
		if (in->have_problem) {
			*diag = in->problem;
		} else {
			ns_diag_clear(diag);
			ns_diag_where(diag, in->source, rec ? rec->line : 0, 0, NULL);
			ns_diag_set(diag, NS_ERR_SCHEMA, "%s", fallback);
		}
	}
	return NS_ERR_SCHEMA;
}

static enum ns_status on_record(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	struct ingest *in = user;
	bool is_header = in->schema->header && rec->index == 0;
	bool ok = false;
	enum ns_status s;

	in->have_problem = false;
	ns__buf_reset(&in->reasons);
	s = ns_validator_record(in->v, rec, in->values, &ok);
	in->stopped = true;
	if (s == NS_ERR_SCHEMA)
		return fail_with_problem(in, rec, "the header does not match the schema", diag);
	if (s != NS_OK)
		return ns_diag_set(diag, s, "cannot validate a record");
	if (in->reasons_nomem)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	if (is_header) {
		/* A header with problems (unknown or missing columns) cannot be
		 * put aside: every record depends on it. */
		if (in->have_problem)
			return fail_with_problem(in, rec, "bad header", diag);
		in->stopped = false;
		return NS_OK;
	}
	in->n_records++;
	if (ok) {
		if ((s = ns__store_pipe_row(in->pipe, in->values, diag)) != NS_OK)
			return s;
		in->n_rows++;
	} else if (in->p->skip_bad) {
		const char *reason = in->reasons.len ? in->reasons.data : "invalid record";
		if ((s = ns__store_pipe_reject(in->pipe, rec->line, reason, rec->raw, rec->raw_len,
					       diag)) != NS_OK)
			return s;
		in->n_bad++;
	} else {
		return fail_with_problem(in, rec, "invalid record", diag);
	}
	in->stopped = false;
	return NS_OK;
}

/* Tells the caller's problem callback about a CSV syntax error. */
static void report_syntax(struct ingest *in, const struct ns_diag *d)
{
	struct ns_problem pr;
	if (!in->fn || (d->status != NS_ERR_PARSE && d->status != NS_ERR_LIMIT))
		return;
	memset(&pr, 0, sizeof(pr));
	pr.kind = NS_PROBLEM_SYNTAX;
	pr.line = d->line;
	pr.column = d->column;
	pr.field = d->field[0] ? d->field : NULL;
	pr.message = d->message;
	in->fn(in->user, &pr);
}

enum ns_status ns_store_ingest_csv(struct ns_store *st, const char *path,
				   const struct ns_schema *schema, const struct ns_ingest_params *p,
				   ns_problem_fn fn, void *user, struct ns_ingest_result *result,
				   struct ns_diag *diag)
{
	struct ingest in;
	struct ns_csv_params cp;
	struct ns_validator_params vp = ns_validator_params_default();
	struct ns_csv_reader *r = NULL;
	struct ns_sha256 sha;
	struct ns_diag d; /* the reader's: it may be NULL for the caller */
	char *yaml = NULL, *buf = NULL;
	char hash[65], digest_hex[65];
	uint8_t digest[32];
	size_t yaml_len = 0;
	FILE *fp = NULL;
	bool is_stdin, in_tx = false, duplicate = false;
	int64_t ingest_id = 0;
	enum ns_status s;

	ns_diag_clear(diag);
	ns_diag_clear(&d);
	memset(&in, 0, sizeof(in));
	ns__buf_init(&in.reasons, 0);
	if (!st || !path || !schema || !p)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store, path, schema or params");
	if ((s = check_collection(p->collection, diag)) != NS_OK)
		return s;
	is_stdin = strcmp(path, "-") == 0;
	in.st = st;
	in.schema = schema;
	in.p = p;
	in.source = is_stdin ? "stdin" : path;
	in.fn = fn;
	in.user = user;

	if (p->csv) {
		cp = *p->csv;
	} else {
		cp = ns_csv_params_default();
		if (schema->delimiter)
			cp.delimiter = schema->delimiter;
	}
	cp.source_name = in.source;

	if ((s = ns_schema_to_yaml(schema, &yaml, &yaml_len)) != NS_OK ||
	    (s = ns_schema_hash(schema, hash)) != NS_OK) {
		ns_diag_set(diag, s, "cannot serialise the schema");
		goto out;
	}
	if (is_stdin) {
		fp = stdin;
	} else if (!(fp = fopen(path, "rb"))) {
		int e = errno;
		ns_diag_where(diag, path, 0, 0, NULL);
		s = ns_diag_set(diag, NS_ERR_IO, "cannot open: %s", strerror(e));
		goto out;
	}
	buf = ns_malloc(STORE_READ_CHUNK);
	in.values = ns_calloc(schema->n_columns ? schema->n_columns : 1, sizeof(*in.values));
	if (!buf || !in.values) {
		s = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((s = ns_validator_create(schema, &vp, on_problem, &in, &in.v)) != NS_OK) {
		ns_diag_set(diag, s, "cannot create the validator");
		goto out;
	}
	if ((s = ns_csv_reader_create(&cp, on_record, &in, &r, diag)) != NS_OK)
		goto out;
	if ((s = st->be->begin(st->impl, p->collection, schema, yaml, hash, p->replace, diag)) !=
	    NS_OK)
		goto out;
	in_tx = true;
	if ((s = ns__store_pipe_create(st->be, st->impl, schema, &in.pipe)) != NS_OK) {
		ns_diag_set(diag, s, "out of memory");
		goto out;
	}

	ns_sha256_init(&sha);
	for (;;) {
		size_t n = fread(buf, 1, STORE_READ_CHUNK, fp);
		if (n > 0) {
			ns_sha256_update(&sha, buf, n);
			if ((s = ns_csv_reader_feed(r, buf, n, &d)) != NS_OK)
				break;
		}
		if (n < STORE_READ_CHUNK) {
			if (ferror(fp)) {
				int e = errno;
				ns_diag_where(diag, in.source, 0, 0, NULL);
				s = ns_diag_set(diag, NS_ERR_IO, "cannot read: %s", strerror(e));
				goto out;
			}
			break;
		}
	}
	if (s == NS_OK)
		s = ns_csv_reader_finish(r, &d);
	if (s == NS_OK && (s = ns__store_pipe_finish(in.pipe, &d)) != NS_OK)
		in.stopped = true; /* a backend error, not the CSV's */
	if (s != NS_OK) {
		if (d.status == NS_OK)
			ns_diag_set(&d, s, NULL);
		if (!in.stopped)
			report_syntax(&in, &d);
		if (diag)
			*diag = d;
		goto out;
	}

	/* Whole-file problems (a column's missing share) fail the file even with
	 * skip_bad: no single record can be put aside for them. */
	in.have_problem = false;
	ns__buf_reset(&in.reasons);
	if ((s = ns_validator_finish(in.v)) != NS_OK) {
		ns_diag_set(diag, s, "cannot validate the file");
		goto out;
	}
	if (in.n_records == 0) {
		ns_diag_where(diag, in.source, 0, 0, NULL);
		s = ns_diag_set(diag, NS_ERR_SCHEMA, "no data records");
		goto out;
	}
	if (in.have_problem) {
		s = fail_with_problem(&in, NULL, "the file does not match the schema", diag);
		goto out;
	}

	ns_sha256_final(&sha, digest);
	ns_sha256_hex(digest, digest_hex);
	/* The worker has stopped: the backend handle is ours again. */
	ns__store_pipe_free(in.pipe);
	in.pipe = NULL;
	s = st->be->commit(st->impl, digest_hex, in.source, in.n_rows, in.n_bad, p->allow_duplicate,
			   &duplicate, &ingest_id, diag);
	in_tx = false;
	if (s != NS_OK)
		goto out;
	if (result) {
		memset(result, 0, sizeof(*result));
		result->n_records = in.n_records;
		result->n_rows = duplicate ? 0 : in.n_rows;
		result->n_bad = duplicate ? 0 : in.n_bad;
		result->duplicate = duplicate;
		memcpy(result->sha256, digest_hex, sizeof(digest_hex));
		result->ingest_id = duplicate ? 0 : ingest_id;
	}
out:
	ns__store_pipe_free(in.pipe);
	if (in_tx)
		st->be->rollback(st->impl);
	ns_csv_reader_free(r);
	ns_validator_free(in.v);
	ns__buf_fini(&in.reasons);
	ns_free(in.values);
	ns_free(buf);
	ns_free(yaml);
	if (fp && !is_stdin)
		fclose(fp);
	return s;
}

/* ---- queries ---------------------------------------------------------------- */

enum ns_status ns_store_list(struct ns_store *st, ns_collection_fn fn, void *user,
			     struct ns_diag *diag)
{
	ns_diag_clear(diag);
	if (!st || !fn)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or callback");
	return st->be->list(st->impl, fn, user, diag);
}

enum ns_status ns_store_count(struct ns_store *st, const char *collection, uint64_t *n_rows,
			      struct ns_diag *diag)
{
	enum ns_status s;
	uint64_t n = 0;
	ns_diag_clear(diag);
	if (!st || !n_rows)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or output");
	if ((s = check_collection(collection, diag)) != NS_OK)
		return s;
	if ((s = st->be->count(st->impl, collection, &n, diag)) == NS_OK)
		*n_rows = n;
	return s;
}

enum ns_status ns_store_schema(struct ns_store *st, const char *collection, struct ns_schema **out,
			       struct ns_diag *diag)
{
	char *yaml = NULL;
	char source[96];
	enum ns_status s;
	ns_diag_clear(diag);
	if (!st || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or output");
	if ((s = check_collection(collection, diag)) != NS_OK)
		return s;
	if ((s = st->be->schema_yaml(st->impl, collection, &yaml, diag)) != NS_OK)
		return s;
	snprintf(source, sizeof(source), "schema of collection %s", collection);
	s = ns_schema_parse(yaml, strlen(yaml), source, out, diag);
	ns_free(yaml);
	return s;
}

struct frame_fill {
	struct ns_frame *f;
	const struct ns_schema *schema;
};

static enum ns_status fill_row(void *user, const struct ns_value *values)
{
	struct frame_fill *ff = user;
	size_t row;
	enum ns_status s = ns_frame_add_rows(ff->f, 1, &row);
	if (s != NS_OK)
		return s;
	for (size_t i = 0; i < ff->schema->n_columns; i++) {
		const struct ns_value *v = &values[i];
		if (v->missing)
			continue; /* new rows are missing already */
		if (ff->schema->columns[i].type == NS_TYPE_CATEGORY) {
			if ((s = ns_frame_set_category(ff->f, row, i, v->str, v->len)) != NS_OK)
				return s;
		} else {
			ns_frame_set_number(ff->f, row, i, v->num);
		}
	}
	return NS_OK;
}

enum ns_status ns_store_read_frame(struct ns_store *st, const char *collection,
				   struct ns_frame **out, struct ns_diag *diag)
{
	struct ns_schema *schema = NULL;
	struct frame_fill ff = {NULL, NULL};
	uint64_t n = 0;
	enum ns_status s;

	ns_diag_clear(diag);
	if (!out)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing output");
	if ((s = ns_store_schema(st, collection, &schema, diag)) != NS_OK)
		return s;
	if ((s = ns_frame_create(&ff.f)) != NS_OK) {
		ns_diag_set(diag, s, "cannot create a frame");
		goto out;
	}
	ff.schema = schema;
	for (size_t i = 0; i < schema->n_columns; i++) {
		enum ns_col_kind k = schema->columns[i].type == NS_TYPE_CATEGORY ? NS_COL_CATEGORY
										 : NS_COL_NUMERIC;
		if ((s = ns_frame_add_column(ff.f, schema->columns[i].name, k, diag)) != NS_OK)
			goto out;
	}
	/* The count is only a capacity hint: the scan decides the rows. */
	if ((s = st->be->count(st->impl, collection, &n, diag)) != NS_OK)
		goto out;
	if (n > 0 && (uint64_t)(size_t)n == n && (s = ns_frame_reserve(ff.f, (size_t)n)) != NS_OK) {
		ns_diag_set(diag, s, "cannot hold %" PRIu64 " rows", n);
		goto out;
	}
	if ((s = st->be->scan(st->impl, collection, schema, fill_row, &ff, diag)) != NS_OK) {
		if (diag && diag->status == NS_OK)
			ns_diag_set(diag, s, "cannot fill the frame");
		goto out;
	}
	*out = ff.f;
	ff.f = NULL;
out:
	ns_frame_free(ff.f);
	ns_schema_free(schema);
	return s;
}

struct csv_out {
	struct ns_csv_writer *w;
	const struct ns_schema *schema;
};

static enum ns_status write_row(void *user, const struct ns_value *values)
{
	struct csv_out *co = user;
	enum ns_status s = NS_OK;
	for (size_t i = 0; s == NS_OK && i < co->schema->n_columns; i++) {
		const struct ns_value *v = &values[i];
		if (v->missing)
			s = ns_csv_writer_field(co->w, "", 0);
		else if (co->schema->columns[i].type == NS_TYPE_CATEGORY)
			s = ns_csv_writer_field(co->w, v->str, v->len);
		else
			s = ns_csv_writer_number(co->w, v->num);
	}
	if (s == NS_OK)
		s = ns_csv_writer_end_row(co->w);
	return s;
}

static enum ns_status write_failed(enum ns_status s, struct ns_diag *diag)
{
	if (diag && diag->status == NS_OK)
		ns_diag_set(diag, s, s == NS_ERR_IO ? "cannot write the CSV output" : NULL);
	return s;
}

enum ns_status ns_store_export_csv(struct ns_store *st, const char *collection, FILE *fp,
				   struct ns_diag *diag)
{
	struct ns_schema *schema = NULL;
	struct csv_out co = {NULL, NULL};
	enum ns_status s;

	ns_diag_clear(diag);
	if (!fp)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing output stream");
	if ((s = ns_store_schema(st, collection, &schema, diag)) != NS_OK)
		return s;
	co.schema = schema;
	if ((s = ns_csv_writer_create(fp, schema->delimiter ? schema->delimiter : ',', &co.w,
				      diag)) != NS_OK)
		goto out;
	if (schema->header) {
		for (size_t i = 0; s == NS_OK && i < schema->n_columns; i++)
			s = ns_csv_writer_field(co.w, schema->columns[i].name,
						strlen(schema->columns[i].name));
		if (s == NS_OK)
			s = ns_csv_writer_end_row(co.w);
		if (s != NS_OK) {
			write_failed(s, diag);
			goto out;
		}
	}
	if ((s = st->be->scan(st->impl, collection, schema, write_row, &co, diag)) != NS_OK) {
		write_failed(s, diag);
		goto out;
	}
	s = ns_csv_writer_flush(co.w, diag);
out:
	ns_csv_writer_free(co.w);
	ns_schema_free(schema);
	return s;
}

static enum ns_status write_reject(void *user, int64_t ingest_id, uint64_t line, const char *reason,
				   const char *raw, size_t raw_len)
{
	struct ns_csv_writer *w = user;
	char num[32];
	int n = snprintf(num, sizeof(num), "%" PRId64, ingest_id);
	enum ns_status s = ns_csv_writer_field(w, num, (size_t)n);
	if (s == NS_OK) {
		n = snprintf(num, sizeof(num), "%" PRIu64, line);
		s = ns_csv_writer_field(w, num, (size_t)n);
	}
	if (s == NS_OK)
		s = ns_csv_writer_field(w, reason, strlen(reason));
	if (s == NS_OK)
		s = ns_csv_writer_field(w, raw, raw_len);
	if (s == NS_OK)
		s = ns_csv_writer_end_row(w);
	return s;
}

enum ns_status ns_store_export_rejects(struct ns_store *st, const char *collection, FILE *fp,
				       struct ns_diag *diag)
{
	static const char *const head[] = {"ingest_id", "line", "reason", "raw"};
	struct ns_csv_writer *w = NULL;
	char *yaml = NULL;
	enum ns_status s;

	ns_diag_clear(diag);
	if (!st || !fp)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or output stream");
	if ((s = check_collection(collection, diag)) != NS_OK)
		return s;
	/* NS_ERR_NOTFOUND before anything is written. */
	if ((s = st->be->schema_yaml(st->impl, collection, &yaml, diag)) != NS_OK)
		return s;
	ns_free(yaml);
	if ((s = ns_csv_writer_create(fp, ',', &w, diag)) != NS_OK)
		return s;
	for (size_t i = 0; s == NS_OK && i < 4; i++)
		s = ns_csv_writer_field(w, head[i], strlen(head[i]));
	if (s == NS_OK)
		s = ns_csv_writer_end_row(w);
	if (s != NS_OK) {
		write_failed(s, diag);
		goto out;
	}
	if ((s = st->be->scan_rejects(st->impl, collection, write_reject, w, diag)) != NS_OK) {
		write_failed(s, diag);
		goto out;
	}
	s = ns_csv_writer_flush(w, diag);
out:
	ns_csv_writer_free(w);
	return s;
}

enum ns_status ns_store_drop(struct ns_store *st, const char *collection, struct ns_diag *diag)
{
	enum ns_status s;
	ns_diag_clear(diag);
	if (!st)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store");
	if ((s = check_collection(collection, diag)) != NS_OK)
		return s;
	return st->be->drop(st->impl, collection, diag);
}

/* ---- the prediction log ------------------------------------------------------ */

/* Checks an optional text field of a log entry. */
static enum ns_status check_log_text(const char *what, const char *text, struct ns_diag *diag)
{
	size_t len;
	if (!text)
		return NS_OK;
	len = strlen(text);
	if (len > NS_PREDICTION_TEXT_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: %s is %zu bytes long; at most %d allowed", what,
				   len, NS_PREDICTION_TEXT_MAX);
	if (!ns__utf8_valid(text, len))
		return ns_diag_set(diag, NS_ERR_INVALID, "prediction log: %s is not valid UTF-8",
				   what);
	return NS_OK;
}

/*
 * Validates entry `e`; on NS_OK, *threat_rows is the sum of the counts of
 * its threat classes.  No allocation.  The check for repeated labels is
 * pairwise: a handful of comparisons for the usual 2 to 10 classes, and
 * bounded by the 1024-class cap.
 */
static enum ns_status check_log_entry(const struct ns_prediction_log *e, uint64_t *threat_rows,
				      struct ns_diag *diag)
{
	uint64_t sum = 0, threat = 0;
	enum ns_status s;

	if (e->time_ms < 0)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: time_ms %lld is negative (0 means now)",
				   (long long)e->time_ms);
	if (!(e->seconds >= 0 && isfinite(e->seconds)))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: seconds %g is not a finite duration >= 0",
				   e->seconds);
	if ((s = check_log_text("request_id", e->request_id, diag)) != NS_OK ||
	    (s = check_log_text("source", e->source, diag)) != NS_OK ||
	    (s = check_log_text("model_name", e->model_name, diag)) != NS_OK)
		return s;
	if (e->n_rows > (uint64_t)INT64_MAX)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: n_rows %" PRIu64 " is over 2^63 - 1",
				   e->n_rows);
	if (e->n_classes > NS_PREDICTION_MAX_CLASSES)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: %zu classes; at most %d allowed", e->n_classes,
				   NS_PREDICTION_MAX_CLASSES);
	if (e->n_classes > 0 && (!e->labels || !e->counts || !e->is_threat))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: %zu classes but labels, counts or is_threat is "
				   "NULL",
				   e->n_classes);
	for (size_t i = 0; i < e->n_classes; i++) {
		const char *l = e->labels[i];
		size_t len;
		if (!l)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "prediction log: label %zu is NULL", i);
		len = strlen(l);
		if (len == 0)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "prediction log: label %zu is empty", i);
		if (len > NS_PREDICTION_LABEL_MAX)
			return ns_diag_set(
				diag, NS_ERR_INVALID,
				"prediction log: label %zu is %zu bytes long; at most %d "
				"allowed",
				i, len, NS_PREDICTION_LABEL_MAX);
		if (!ns__utf8_valid(l, len))
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "prediction log: label %zu is not valid UTF-8", i);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(e->labels[j], l) == 0)
				return ns_diag_set(diag, NS_ERR_INVALID,
						   "prediction log: label '%s' appears twice "
						   "(classes %zu and %zu)",
						   l, j, i);
		}
		if (e->counts[i] > (uint64_t)INT64_MAX - sum)
			return ns_diag_set(
				diag, NS_ERR_INVALID,
				"prediction log: the counts add up to more than 2^63 - 1");
		sum += e->counts[i];
		if (e->is_threat[i])
			threat += e->counts[i];
	}
	if (sum != e->n_rows)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: the class counts add up to %" PRIu64
				   ", not to n_rows %" PRIu64,
				   sum, e->n_rows);
	if (!e->raw_csv && e->raw_len > 0)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "prediction log: raw_len is %zu but raw_csv is NULL",
				   e->raw_len);
	if (e->raw_csv && e->raw_len > NS_PREDICTION_RAW_MAX)
		return ns_diag_set(diag, NS_ERR_LIMIT,
				   "prediction log: raw rows of %zu bytes; at most %zu kept",
				   e->raw_len, NS_PREDICTION_RAW_MAX);
	*threat_rows = threat;
	return NS_OK;
}

enum ns_status ns_store_log_prediction(struct ns_store *st, const struct ns_prediction_log *e,
				       struct ns_diag *diag)
{
	struct ns_prediction_log entry;
	uint64_t threat_rows = 0;
	enum ns_status s;

	ns_diag_clear(diag);
	if (!st || !e)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or log entry");
	if ((s = check_log_entry(e, &threat_rows, diag)) != NS_OK)
		return s;
	entry = *e;
	if (entry.time_ms == 0)
		entry.time_ms = ns__now_ms();
	if (!entry.request_id)
		entry.request_id = "";
	if (!entry.source)
		entry.source = "";
	if (!entry.model_name)
		entry.model_name = "";
	return st->be->log_prediction(st->impl, &entry, threat_rows, diag);
}

enum ns_status ns_store_prediction_series(struct ns_store *st, int64_t since_ms, int64_t until_ms,
					  int64_t bucket_ms, struct ns_prediction_bucket **out,
					  size_t *n, struct ns_diag *diag)
{
	struct ns_prediction_bucket *b;
	uint64_t span, n_buckets;
	enum ns_status s;

	ns_diag_clear(diag);
	if (!st || !out || !n)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or output");
	if (since_ms < 0 || until_ms < since_ms)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "bad time range [%lld, %lld): need 0 <= since <= until",
				   (long long)since_ms, (long long)until_ms);
	if (bucket_ms <= 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "bucket of %lld ms: must be positive",
				   (long long)bucket_ms);
	/* until - since cannot overflow: both are >= 0. */
	span = (uint64_t)(until_ms - since_ms);
	n_buckets = span / (uint64_t)bucket_ms + (span % (uint64_t)bucket_ms != 0);
	if (n_buckets > NS_PREDICTION_MAX_BUCKETS)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "%lld ms in buckets of %lld ms make %" PRIu64
				   " buckets; at most %d allowed",
				   (long long)span, (long long)bucket_ms, n_buckets,
				   NS_PREDICTION_MAX_BUCKETS);
	if (n_buckets == 0) {
		*out = NULL;
		*n = 0;
		return NS_OK;
	}
	if (!(b = ns_calloc((size_t)n_buckets, sizeof(*b))))
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < n_buckets; i++)
		b[i].start_ms = since_ms + (int64_t)i * bucket_ms;
	s = st->be->prediction_series(st->impl, since_ms, until_ms, bucket_ms, b, (size_t)n_buckets,
				      diag);
	if (s != NS_OK) {
		ns_free(b);
		return s;
	}
	*out = b;
	*n = (size_t)n_buckets;
	return NS_OK;
}

struct totals {
	struct ns_prediction_class_total *v;
	size_t n, cap;
	struct ns_diag *diag;
};

static enum ns_status add_total(void *user, const char *label, size_t label_len, bool is_threat,
				uint64_t count)
{
	struct totals *t = user;
	if (label_len > NS_PREDICTION_LABEL_MAX)
		return ns_diag_set(t->diag, NS_ERR_CORRUPT,
				   "prediction log: a stored label is %zu bytes long; at most %d "
				   "expected",
				   label_len, NS_PREDICTION_LABEL_MAX);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		struct ns_prediction_class_total *v = ns_reallocarray(t->v, cap, sizeof(*v));
		if (!v)
			return ns_diag_set(t->diag, NS_ERR_NOMEM, "out of memory");
		t->v = v;
		t->cap = cap;
	}
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	memcpy(t->v[t->n].label, label, label_len);
	t->v[t->n].is_threat = is_threat;
	t->v[t->n].count = count;
	t->n++;
	return NS_OK;
}

static int cmp_total(const void *a, const void *b)
{
	const struct ns_prediction_class_total *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->label, y->label);
}

enum ns_status ns_store_prediction_totals(struct ns_store *st, int64_t since_ms, int64_t until_ms,
					  struct ns_prediction_class_total **out, size_t *n,
					  struct ns_diag *diag)
{
	struct totals t = {NULL, 0, 0, diag};
	enum ns_status s;

	ns_diag_clear(diag);
	if (!st || !out || !n)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store or output");
	if (until_ms < since_ms)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "bad time range [%lld, %lld): need since <= until",
				   (long long)since_ms, (long long)until_ms);
	s = st->be->prediction_totals(st->impl, since_ms, until_ms, add_total, &t, diag);
	if (s != NS_OK) {
		if (diag && diag->status == NS_OK)
			ns_diag_set(diag, s, "cannot read the prediction totals");
		ns_free(t.v);
		return s;
	}
	if (t.n > 1)
		qsort(t.v, t.n, sizeof(*t.v), cmp_total);
	*out = t.v;
	*n = t.n;
	return NS_OK;
}

enum ns_status ns_store_prediction_prune(struct ns_store *st, int64_t before_ms, uint64_t *deleted,
					 struct ns_diag *diag)
{
	uint64_t n = 0;
	enum ns_status s;
	ns_diag_clear(diag);
	if (!st)
		return ns_diag_set(diag, NS_ERR_INVALID, "missing store");
	if ((s = st->be->prediction_prune(st->impl, before_ms, &n, diag)) == NS_OK && deleted)
		*deleted = n;
	return s;
}
