/*
 * lib/learn/predictor.c - streaming CSV prediction (include/netsec/predict.h).
 *
 * CSV reader -> validator (target optional, extra columns allowed) ->
 * encoder -> a block of up to block_rows encoded rows whose input fields are
 * copied into one growing byte buffer -> ns_model_predict_proba on the block
 * -> one callback per row.  Memory: one block of rows plus one record.
 */
#include <math.h>
#include <stdio.h>

#include "learn/family.h"
#include "netsec/impute.h"
#include "netsec/predict.h"

struct ns_predictor {
	const struct ns_model *model;
	struct ns_encoder *enc;
	struct ns_imputer *imp; /* from the "IMPT" attachment, or NULL */
	struct ns_schema *schema;
	size_t *map;
	struct ns_predictor_params params;
	ns_prediction_header_fn header_fn;
	ns_prediction_row_fn row_fn;
	void *user;
	struct ns_csv_reader *reader;
	struct ns_validator *validator;
	struct ns_value *values;
	bool header_done;

	/* the block */
	size_t n_block, d, k;
	double *x, *proba;
	struct ns__buf bytes; /* fields of the block's rows, NUL-terminated */
	size_t *row_first_field; /* per row: index of its first field in field_off */
	uint64_t *row_line;
	size_t *field_off, *field_len;
	size_t n_fields_used, fields_cap;
	const char **ptrs; /* scratch for callbacks */
	size_t ptrs_cap;

	uint64_t n_rows;
	uint64_t *class_counts;
	/* first problem of the current record */
	bool have_problem;
	struct ns_diag problem;
};

struct ns_predictor_params ns_predictor_params_default(void)
{
	struct ns_predictor_params p;
	memset(&p, 0, sizeof(p));
	p.source_name = "input";
	p.block_rows = 512;
	p.csv = ns_csv_params_default();
	return p;
}

enum ns_status ns_model_encoder(const struct ns_model *m, struct ns_encoder **out,
				struct ns_diag *diag)
{
	const uint8_t *data;
	size_t len;
	if (!ns_model_attachment(m, NS_ATTACH_ENCODER, &data, &len))
		return ns_diag_set(diag, NS_ERR_SCHEMA,
				   "the model carries no encoder (it was not written by netsec fit "
				   "or netsec train)");
	return ns_encoder_from_buffer(data, len, out, diag);
}

enum ns_status ns_model_schema(const struct ns_model *m, struct ns_schema **out,
			       struct ns_diag *diag)
{
	const uint8_t *data;
	size_t len;
	if (!ns_model_attachment(m, NS_ATTACH_SCHEMA, &data, &len))
		return ns_diag_set(diag, NS_ERR_SCHEMA, "the model carries no schema");
	return ns_schema_parse((const char *)data, len, "model schema", out, diag);
}

static void on_problem(void *user, const struct ns_problem *pr)
{
	struct ns_predictor *p = user;
	if (p->have_problem)
		return;
	p->have_problem = true;
	ns_diag_clear(&p->problem);
	ns_diag_where(&p->problem, p->params.source_name, pr->line, pr->column, pr->field);
	ns_diag_set(&p->problem, NS_ERR_SCHEMA, "%s", pr->message);
}

static enum ns_status flush_block(struct ns_predictor *p)
{
	enum ns_status st;
	if (p->n_block == 0)
		return NS_OK;
	if (p->imp) {
		/* Gaps are filled as in training (the imputer fitted there). */
		st = ns_imputer_transform(p->imp, p->x, p->n_block, NULL, NULL);
		if (st != NS_OK)
			return st;
	}
	st = ns_model_predict_proba(p->model, p->x, p->n_block, p->proba);
	if (st != NS_OK)
		return st;
	for (size_t i = 0; i < p->n_block; i++) {
		struct ns_prediction_row row;
		size_t f0 = p->row_first_field[i];
		size_t f1 = i + 1 < p->n_block ? p->row_first_field[i + 1] : p->n_fields_used;
		const double *pr = p->proba + i * p->k;
		uint32_t best = 0;
		for (uint32_t c = 1; c < p->k; c++)
			if (pr[c] > pr[best])
				best = c;
		for (size_t f = f0; f < f1; f++)
			p->ptrs[f - f0] = p->bytes.data + p->field_off[f];
		row.n_fields = f1 - f0;
		row.fields = p->ptrs;
		row.lens = p->field_len + f0;
		row.line = p->row_line[i];
		row.label = best;
		row.proba = pr;
		p->class_counts[best]++;
		st = p->row_fn(p->user, &row);
		if (st != NS_OK)
			return st;
	}
	p->n_block = 0;
	p->n_fields_used = 0;
	ns__buf_reset(&p->bytes);
	return NS_OK;
}

static enum ns_status emit_header(struct ns_predictor *p, const struct ns_csv_record *rec)
{
	enum ns_status st;
	if (p->header_done)
		return NS_OK;
	p->header_done = true;
	if (!p->header_fn)
		return NS_OK;
	if (rec) {
		st = p->header_fn(p->user, rec->n_fields, rec->fields);
	} else {
		const char **names = ns_malloc((p->schema->n_columns + 1) * sizeof(char *));
		if (!names)
			return NS_ERR_NOMEM;
		for (size_t c = 0; c < p->schema->n_columns; c++)
			names[c] = p->schema->columns[c].name;
		st = p->header_fn(p->user, p->schema->n_columns, names);
		ns_free(names);
	}
	return st;
}

static enum ns_status on_record(void *user, const struct ns_csv_record *rec, struct ns_diag *diag)
{
	struct ns_predictor *p = user;
	bool ok = false;
	enum ns_status st;

	p->have_problem = false;
	st = ns_validator_record(p->validator, rec, p->values, &ok);
	if (p->have_problem) {
		if (diag)
			*diag = p->problem;
		return NS_ERR_SCHEMA;
	}
	if (st != NS_OK)
		return ns_diag_set(diag, st, "%s", ns_status_str(st));
	if (p->schema->header && rec->index == 0)
		return emit_header(p, rec);
	if (!ok)
		return ns_diag_set(diag, NS_ERR_SCHEMA, "invalid record");
	st = emit_header(p, NULL);
	if (st != NS_OK)
		return st;
	if (p->params.max_rows && p->n_rows >= p->params.max_rows) {
		ns_diag_where(diag, p->params.source_name, rec->line, 0, NULL);
		return ns_diag_set(diag, NS_ERR_LIMIT, "more than %llu rows",
				   (unsigned long long)p->params.max_rows);
	}
	/* Keep the record's fields for the output, encode its features. */
	if (p->n_fields_used + rec->n_fields > p->fields_cap) {
		size_t cap = (p->n_fields_used + rec->n_fields) * 2;
		size_t *fo = ns_reallocarray(p->field_off, cap, sizeof(size_t));
		size_t *fl;
		if (!fo)
			return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		p->field_off = fo;
		fl = ns_reallocarray(p->field_len, cap, sizeof(size_t));
		if (!fl)
			return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		p->field_len = fl;
		p->fields_cap = cap;
	}
	if (rec->n_fields > p->ptrs_cap) {
		const char **np = ns_reallocarray(p->ptrs, rec->n_fields, sizeof(char *));
		if (!np)
			return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		p->ptrs = np;
		p->ptrs_cap = rec->n_fields;
	}
	p->row_first_field[p->n_block] = p->n_fields_used;
	p->row_line[p->n_block] = rec->line;
	for (size_t f = 0; f < rec->n_fields; f++) {
		p->field_off[p->n_fields_used] = p->bytes.len;
		p->field_len[p->n_fields_used++] = rec->lens[f];
		st = ns__buf_append(&p->bytes, rec->fields[f], rec->lens[f] + 1);
		if (st != NS_OK)
			return ns_diag_set(diag, st, "out of memory");
	}
	ns_encoder_encode_values(p->enc, p->map, p->values, p->x + p->n_block * p->d);
	p->n_block++;
	p->n_rows++;
	if (p->n_block == p->params.block_rows) {
		st = flush_block(p);
		if (st != NS_OK && diag && diag->status == NS_OK)
			ns_diag_set(diag, st, "prediction failed: %s", ns_status_str(st));
		return st;
	}
	return NS_OK;
}

void ns_predictor_free(struct ns_predictor *p)
{
	if (!p)
		return;
	ns_csv_reader_free(p->reader);
	ns_validator_free(p->validator);
	ns_encoder_free(p->enc);
	ns_imputer_free(p->imp);
	ns_schema_free(p->schema);
	ns_free(p->map);
	ns_free(p->values);
	ns_free(p->x);
	ns_free(p->proba);
	ns__buf_fini(&p->bytes);
	ns_free(p->row_first_field);
	ns_free(p->row_line);
	ns_free(p->field_off);
	ns_free(p->field_len);
	ns_free(p->ptrs);
	ns_free(p->class_counts);
	ns_free(p);
}

enum ns_status ns_predictor_create(const struct ns_model *m, const struct ns_predictor_params *pp,
				   ns_prediction_header_fn header_fn, ns_prediction_row_fn row_fn,
				   void *user, struct ns_predictor **out, struct ns_diag *diag)
{
	struct ns_predictor *p;
	struct ns_validator_params vp = ns_validator_params_default();
	struct ns_csv_params cp;
	enum ns_status st;

	if (!m || !row_fn)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "a predictor needs a model and a callback");
	p = ns_calloc(1, sizeof(*p));
	if (!p)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	p->model = m;
	p->params = pp ? *pp : ns_predictor_params_default();
	if (p->params.block_rows == 0)
		p->params.block_rows = 512;
	if (!p->params.source_name)
		p->params.source_name = "input";
	p->header_fn = header_fn;
	p->row_fn = row_fn;
	p->user = user;
	ns__buf_init(&p->bytes, 0);
	st = ns_model_encoder(m, &p->enc, diag);
	if (st == NS_OK)
		st = ns_model_schema(m, &p->schema, diag);
	if (st == NS_OK) {
		const uint8_t *data;
		size_t len;
		if (ns_model_attachment(m, NS_ATTACH_IMPUTER, &data, &len)) {
			st = ns_imputer_from_buffer(data, len, &p->imp, diag);
			if (st == NS_OK && ns_imputer_n_features(p->imp) != ns_model_n_features(m))
				st = ns_diag_set(diag, NS_ERR_SCHEMA,
						 "the model's imputer does not match the model");
		}
	}
	if (st != NS_OK)
		goto fail;
	if (ns_encoder_n_features(p->enc) != ns_model_n_features(m) ||
	    ns_encoder_n_classes(p->enc) != ns_model_n_classes(m)) {
		st = ns_diag_set(diag, NS_ERR_SCHEMA,
				 "the model's encoder does not match the model");
		goto fail;
	}
	p->d = ns_model_n_features(m);
	p->k = ns_model_n_classes(m);
	p->map = ns_malloc((ns_encoder_n_inputs(p->enc) + 1) * sizeof(size_t));
	p->values = ns_calloc(p->schema->n_columns + 1, sizeof(struct ns_value));
	p->x = ns_malloc(p->params.block_rows * p->d * sizeof(double));
	p->proba = ns_malloc(p->params.block_rows * p->k * sizeof(double));
	p->row_first_field = ns_malloc(p->params.block_rows * sizeof(size_t));
	p->row_line = ns_malloc(p->params.block_rows * sizeof(uint64_t));
	p->class_counts = ns_calloc(p->k, sizeof(uint64_t));
	if (!p->map || !p->values || !p->x || !p->proba || !p->row_first_field || !p->row_line ||
	    !p->class_counts) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto fail;
	}
	st = ns_encoder_map_schema(p->enc, p->schema, p->map, diag);
	if (st != NS_OK)
		goto fail;
	vp.target_optional = true;
	vp.allow_extra = true;
	vp.max_problems = 1;
	st = ns_validator_create(p->schema, &vp, on_problem, p, &p->validator);
	if (st != NS_OK) {
		ns_diag_set(diag, st, "cannot create the validator");
		goto fail;
	}
	cp = p->params.csv;
	cp.delimiter = p->schema->delimiter ? p->schema->delimiter : ',';
	cp.source_name = p->params.source_name;
	st = ns_csv_reader_create(&cp, on_record, p, &p->reader, diag);
	if (st != NS_OK)
		goto fail;
	*out = p;
	return NS_OK;
fail:
	ns_predictor_free(p);
	return st;
}

enum ns_status ns_predictor_feed(struct ns_predictor *p, const void *data, size_t len,
				 struct ns_diag *diag)
{
	return ns_csv_reader_feed(p->reader, data, len, diag);
}

enum ns_status ns_predictor_finish(struct ns_predictor *p, struct ns_diag *diag)
{
	enum ns_status st = ns_csv_reader_finish(p->reader, diag);
	if (st != NS_OK)
		return st;
	if (p->n_rows == 0) {
		ns_diag_where(diag, p->params.source_name, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_SCHEMA, "no data records");
	}
	st = flush_block(p);
	if (st != NS_OK && diag && diag->status == NS_OK)
		ns_diag_set(diag, st, "prediction failed: %s", ns_status_str(st));
	return st;
}

uint64_t ns_predictor_n_rows(const struct ns_predictor *p)
{
	return p->n_rows;
}

const uint64_t *ns_predictor_class_counts(const struct ns_predictor *p)
{
	return p->class_counts;
}
