/*
 * lib/learn/model.c - trained models: checks before fitting, prediction, the
 * JSON description and the versioned model file (docs/model-format.md).
 *
 * File layout (little-endian):
 *   0   magic "NETSECM\x1a"          8 bytes
 *   8   format version (u32)          NS__MODEL_FORMAT_VERSION
 *   12  header size (u32)             64
 *   16  family name                   16 bytes, NUL-padded
 *   32  family payload version (u32)
 *   36  number of sections (u32)
 *   40  file size (u64)               including the checksum
 *   48  flags (u32), reserved (u32), reserved (u64)
 *   64  section table: per section {tag u32, reserved u32, offset u64, length u64}
 *   ... sections, each starting at a multiple of 64 bytes (zero padding)
 *   end SHA-256 of every byte before it (32 bytes)
 * Sections: META (shape, labels, names, schema hash, seed), PARM (the
 * parameters as "k=v,..." text, re-validated on load), BODY (the family's
 * payload).  The loader checks magic, version, size, checksum, then every
 * offset and length, then hands BODY to the family's bounds-checked loader.
 *
 * Threading: a model is immutable after fit/load; prediction is thread-safe.
 */
#include <math.h>
#include <stdio.h>

#include "learn/family.h"

#define NS__MODEL_MAGIC "NETSECM\x1a"
#define NS__MODEL_FORMAT_VERSION 1u
#define NS__MODEL_HEADER 64u
#define NS__MODEL_ALIGN 64u
#define NS__MODEL_MAX_FILE ((uint64_t)4 << 30) /* 4 GiB */
#define NS__MODEL_MAX_FEATURES (1u << 20)
#define NS__MODEL_MAX_LABEL 4096u

#define TAG(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define TAG_META TAG('M', 'E', 'T', 'A')
#define TAG_PARM TAG('P', 'A', 'R', 'M')
#define TAG_BODY TAG('B', 'O', 'D', 'Y')

struct ns_model {
	const struct ns_family *family;
	struct ns_params params;
	size_t n_features;
	uint32_t n_classes;
	char **class_labels;
	char **feature_names;
	char schema_hash[65];
	long threat;
	uint64_t seed;
	void *impl;
	size_t n_attach;
	struct {
		uint32_t tag;
		uint8_t *data;
		size_t len;
	} attach[NS_MODEL_MAX_ATTACHMENTS];
};

struct ns_fit_options ns_fit_options_default(void)
{
	struct ns_fit_options o;
	memset(&o, 0, sizeof(o));
	o.threat_class = -1;
	return o;
}

void ns_model_free(struct ns_model *m)
{
	if (!m)
		return;
	if (m->impl)
		m->family->ops->free(m->impl);
	ns__free_strings(m->class_labels, m->n_classes);
	ns__free_strings(m->feature_names, m->n_features);
	for (size_t i = 0; i < m->n_attach; i++)
		ns_free(m->attach[i].data);
	ns_free(m);
}

static bool tag_from_text(const char *tag, uint32_t *out)
{
	if (!tag || strlen(tag) != 4)
		return false;
	for (int i = 0; i < 4; i++)
		if (tag[i] < 0x21 || tag[i] > 0x7e)
			return false;
	*out = TAG(tag[0], tag[1], tag[2], tag[3]);
	return *out != TAG_META && *out != TAG_PARM && *out != TAG_BODY;
}

static enum ns_status attach_tag(struct ns_model *m, uint32_t tag, const uint8_t *data, size_t len)
{
	uint8_t *copy;
	size_t i;
	for (i = 0; i < m->n_attach; i++)
		if (m->attach[i].tag == tag)
			break;
	if (i == NS_MODEL_MAX_ATTACHMENTS)
		return NS_ERR_LIMIT;
	copy = ns_malloc(len ? len : 1);
	if (!copy)
		return NS_ERR_NOMEM;
	if (len)
		memcpy(copy, data, len);
	if (i < m->n_attach)
		ns_free(m->attach[i].data);
	else
		m->n_attach++;
	m->attach[i].tag = tag;
	m->attach[i].data = copy;
	m->attach[i].len = len;
	return NS_OK;
}

enum ns_status ns_model_attach(struct ns_model *m, const char *tag, const uint8_t *data, size_t len)
{
	uint32_t t;
	if (!tag_from_text(tag, &t))
		return NS_ERR_INVALID;
	return attach_tag(m, t, data, len);
}

bool ns_model_attachment(const struct ns_model *m, const char *tag, const uint8_t **data,
			 size_t *len)
{
	uint32_t t;
	if (!tag_from_text(tag, &t))
		return false;
	for (size_t i = 0; i < m->n_attach; i++)
		if (m->attach[i].tag == t) {
			*data = m->attach[i].data;
			*len = m->attach[i].len;
			return true;
		}
	return false;
}

/* A new model shell with labels and names (given, or "0".. / "f0"..). */
static enum ns_status model_shell(const struct ns_params *p, size_t n_features, uint32_t n_classes,
				  const char *const *labels, const char *const *names,
				  struct ns_model **out)
{
	struct ns_model *m = ns_calloc(1, sizeof(*m));
	if (!m)
		return NS_ERR_NOMEM;
	m->family = p->family;
	m->params = *p;
	m->n_features = n_features;
	m->n_classes = n_classes;
	m->threat = -1;
	m->class_labels = ns_calloc(n_classes, sizeof(char *));
	m->feature_names = ns_calloc(n_features, sizeof(char *));
	if (!m->class_labels || !m->feature_names)
		goto fail;
	for (uint32_t k = 0; k < n_classes; k++) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%u", k);
		m->class_labels[k] = ns_strdup(labels ? labels[k] : buf);
		if (!m->class_labels[k])
			goto fail;
	}
	for (size_t j = 0; j < n_features; j++) {
		char buf[32];
		snprintf(buf, sizeof(buf), "f%zu", j);
		m->feature_names[j] = ns_strdup(names ? names[j] : buf);
		if (!m->feature_names[j])
			goto fail;
	}
	*out = m;
	return NS_OK;
fail:
	ns_model_free(m);
	return NS_ERR_NOMEM;
}

/* A schema hash field: 64 lowercase hex digits, or all NUL (none). */
static bool valid_hash(const char *h)
{
	bool zero = true, hex = true;
	for (int i = 0; i < 64; i++) {
		zero = zero && h[i] == '\0';
		hex = hex && ((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'));
	}
	return zero || hex;
}

enum ns_status ns_model_fit(const struct ns_params *p, const struct ns_dataset *d,
			    const struct ns_fit_options *o, struct ns_model **out,
			    struct ns_diag *diag)
{
	struct ns_fit_options opts = o ? *o : ns_fit_options_default();
	const struct ns_family *f = p ? p->family : NULL;
	struct ns_model *m = NULL;
	uint64_t *counts = NULL;
	uint32_t n_present = 0, only = 0;
	enum ns_status st;

	if (!f || !d || !d->x || !d->y || !out)
		return ns_diag_set(diag, NS_ERR_INVALID, "fit needs a family, data and labels");
	if (d->n_rows == 0 || d->n_features == 0)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "the training data is empty (%zu rows, %zu features)", d->n_rows,
				   d->n_features);
	if (d->n_features > NS__MODEL_MAX_FEATURES || d->n_rows > SIZE_MAX / 8 / d->n_features)
		return ns_diag_set(diag, NS_ERR_LIMIT, "the training data is too large");
	if (opts.schema_hash && *opts.schema_hash && !valid_hash(opts.schema_hash))
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "schema hash must be 64 lowercase hex digits");
	if (d->n_classes < 2 || d->n_classes > NS_METRICS_MAX_CLASSES)
		return ns_diag_set(diag, NS_ERR_INVALID, "n_classes must be in [2, %d], got %u",
				   NS_METRICS_MAX_CLASSES, d->n_classes);
	counts = ns_calloc(d->n_classes, sizeof(*counts));
	if (!counts)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < d->n_rows; i++) {
		if (d->y[i] >= d->n_classes) {
			st = ns_diag_set(diag, NS_ERR_INVALID, "row %zu: class index %u >= %u", i,
					 d->y[i], d->n_classes);
			goto out;
		}
		if (d->weight && (!(d->weight[i] >= 0) || isinf(d->weight[i]))) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "row %zu: sample weight must be finite and >= 0", i);
			goto out;
		}
		counts[d->y[i]]++;
	}
	for (uint32_t k = 0; k < d->n_classes; k++)
		if (counts[k]) {
			n_present++;
			only = k;
		}
	if (n_present < 2) {
		st = ns_diag_set(diag, NS_ERR_SCHEMA,
				 "the training data has only one class ('%s'): a classifier needs "
				 "at least two",
				 opts.class_labels ? opts.class_labels[only] : "0");
		goto out;
	}
	for (size_t i = 0; i < d->n_rows; i++) {
		const double *row = d->x + i * d->n_features;
		for (size_t j = 0; j < d->n_features; j++) {
			if (isinf(row[j]) ||
			    (isnan(row[j]) && (f->flags & NS__FAMILY_NEEDS_COMPLETE))) {
				const char *name =
					opts.feature_names ? opts.feature_names[j] : NULL;
				char fallback[32];
				snprintf(fallback, sizeof(fallback), "f%zu", j);
				ns_diag_where(diag, NULL, 0, 0, name ? name : fallback);
				st = ns_diag_set(
					diag, NS_ERR_SCHEMA,
					isinf(row[j])
						? "feature '%s' is infinite at row %zu: "
						  "clip or drop such values before training"
						: "feature '%s' has a missing value at row %zu; %s "
						  "cannot take missing values: impute them first "
						  "(netsec's preprocessor does KNN imputation) or "
						  "use gbdt",
					name ? name : fallback, i, f->name);
				goto out;
			}
		}
	}
	st = model_shell(p, d->n_features, d->n_classes, opts.class_labels, opts.feature_names, &m);
	if (st != NS_OK) {
		ns_diag_set(diag, st, "out of memory");
		goto out;
	}
	m->threat = opts.threat_class >= 0 && opts.threat_class < (long)d->n_classes
			    ? opts.threat_class
			    : -1;
	m->seed = opts.seed;
	if (opts.schema_hash)
		snprintf(m->schema_hash, sizeof(m->schema_hash), "%s", opts.schema_hash);
	st = f->ops->fit(p, d, &opts, &m->impl, diag);
	if (st != NS_OK) {
		if (diag && diag->status == NS_OK)
			ns_diag_set(diag, st, "%s: fit failed", f->name);
		goto out;
	}
	*out = m;
	m = NULL;
out:
	ns_free(counts);
	ns_model_free(m);
	return st;
}

enum ns_status ns_model_predict_proba_prefix(const struct ns_model *m, const double *x, size_t n,
					     size_t n_estimators, double *out)
{
	if (!m || (!x && n) || (!out && n))
		return NS_ERR_INVALID;
	if (n)
		m->family->ops->predict_proba(m->impl, x, n, m->n_features, m->n_classes,
					      n_estimators, out);
	return NS_OK;
}

enum ns_status ns__model_predict_proba_multi(const struct ns_model *m, const double *x, size_t n,
					     size_t n_var, const size_t *n_est, const double *pv,
					     double *const *out)
{
	const struct ns__family_ops *ops;
	if (!m || (!x && n) || (n_var && (!n_est || !pv || !out)))
		return NS_ERR_INVALID;
	if (!n || !n_var)
		return NS_OK;
	ops = m->family->ops;
	if (ops->predict_proba_multi)
		return ops->predict_proba_multi(m->impl, x, n, m->n_features, m->n_classes, n_var,
						n_est, pv, out);
	for (size_t v = 0; v < n_var; v++)
		ops->predict_proba(m->impl, x, n, m->n_features, m->n_classes, n_est[v], out[v]);
	return NS_OK;
}

enum ns_status ns_model_predict_proba(const struct ns_model *m, const double *x, size_t n,
				      double *out)
{
	return ns_model_predict_proba_prefix(m, x, n, 0, out);
}

enum ns_status ns_model_predict(const struct ns_model *m, const double *x, size_t n, uint32_t *out)
{
	enum { BLOCK = 8192 }; /* big enough for the families' batched, threaded scoring */
	double *proba;
	if (!m)
		return NS_ERR_INVALID;
	proba = ns_malloc((size_t)BLOCK * m->n_classes * sizeof(double));
	if (!proba)
		return NS_ERR_NOMEM;
	for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
		size_t nb = n - i0 < BLOCK ? n - i0 : BLOCK;
		m->family->ops->predict_proba(m->impl, x + i0 * m->n_features, nb, m->n_features,
					      m->n_classes, 0, proba);
		for (size_t i = 0; i < nb; i++) {
			const double *p = proba + i * m->n_classes;
			uint32_t best = 0;
			for (uint32_t k = 1; k < m->n_classes; k++)
				if (p[k] > p[best])
					best = k;
			out[i0 + i] = best;
		}
	}
	ns_free(proba);
	return NS_OK;
}

const struct ns_family *ns_model_family(const struct ns_model *m)
{
	return m->family;
}

const struct ns_params *ns_model_params(const struct ns_model *m)
{
	return &m->params;
}

size_t ns_model_n_features(const struct ns_model *m)
{
	return m->n_features;
}

uint32_t ns_model_n_classes(const struct ns_model *m)
{
	return m->n_classes;
}

size_t ns_model_n_estimators(const struct ns_model *m)
{
	return m->family->ops->n_estimators ? m->family->ops->n_estimators(m->impl) : 1;
}

const char *ns_model_class_label(const struct ns_model *m, uint32_t k)
{
	return k < m->n_classes ? m->class_labels[k] : NULL;
}

const char *ns_model_feature_name(const struct ns_model *m, size_t j)
{
	return j < m->n_features ? m->feature_names[j] : NULL;
}

const char *ns_model_schema_hash(const struct ns_model *m)
{
	return m->schema_hash;
}

long ns_model_threat_class(const struct ns_model *m)
{
	return m->threat;
}

enum ns_status ns_model_feature_importance(const struct ns_model *m, double *out)
{
	if (m->family->ops->feature_importance)
		m->family->ops->feature_importance(m->impl, m->n_features, out);
	else
		memset(out, 0, m->n_features * sizeof(double));
	return NS_OK;
}

/* ---- JSON -------------------------------------------------------------------- */

enum ns_status ns__json_string(struct ns__buf *b, const char *s);

enum ns_status ns__json_string(struct ns__buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	enum ns_status st = ns__buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; st == NS_OK && *p; p++) {
		char esc[7];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			st = ns__buf_append(b, esc, 2);
		} else if (*p < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			st = ns__buf_append(b, esc, 6);
		} else {
			st = ns__buf_append(b, p, 1);
		}
	}
	if (st == NS_OK)
		st = ns__buf_append(b, "\"", 1);
	return st;
}

enum ns_status ns_model_describe_json(const struct ns_model *m, char **out)
{
	struct ns__buf b;
	enum ns_status st;
	ns__buf_init(&b, 0);
	st = ns__buf_printf(&b, "{\"family\":\"%s\",\"family_version\":%u,\"params\":{",
			    m->family->name, m->family->version);
	for (size_t i = 0; st == NS_OK && i < m->family->n_params; i++) {
		const struct ns_param_def *def = &m->family->params[i];
		char val[64];
		ns_param_value_format(def, m->params.v[i], val, sizeof(val));
		st = ns__buf_printf(&b, "%s\"%s\":", i ? "," : "", def->name);
		if (st == NS_OK)
			st = (def->type == NS_PARAM_INT || def->type == NS_PARAM_FLOAT) &&
					     !isnan(m->params.v[i])
				     ? ns__buf_append(&b, val, strlen(val))
			     : def->type == NS_PARAM_BOOL ? ns__buf_append(&b, val, strlen(val))
							  : ns__json_string(&b, val);
	}
	if (st == NS_OK)
		st = ns__buf_printf(&b, "},\"n_features\":%zu,\"n_classes\":%u,\"classes\":[",
				    m->n_features, m->n_classes);
	for (uint32_t k = 0; st == NS_OK && k < m->n_classes; k++) {
		if (k)
			st = ns__buf_append(&b, ",", 1);
		if (st == NS_OK)
			st = ns__json_string(&b, m->class_labels[k]);
	}
	if (st == NS_OK)
		st = ns__buf_append(&b, "],\"threat\":", 11);
	if (st == NS_OK)
		st = m->threat >= 0 ? ns__json_string(&b, m->class_labels[m->threat])
				    : ns__buf_append(&b, "null", 4);
	if (st == NS_OK)
		st = ns__buf_printf(&b, ",\"schema_hash\":\"%s\",\"seed\":%llu,\"details\":",
				    m->schema_hash, (unsigned long long)m->seed);
	if (st == NS_OK)
		st = m->family->ops->describe ? m->family->ops->describe(m->impl, &b)
					      : ns__buf_append(&b, "{}", 2);
	if (st == NS_OK)
		st = ns__buf_append(&b, "}", 1);
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return st;
	}
	*out = b.data;
	return NS_OK;
}

/* ---- the model file -------------------------------------------------------------- */

enum ns_status ns_model_to_buffer(const struct ns_model *m, uint8_t **out, size_t *len)
{
	struct ns__wbuf meta, parm, body, file;
	char params_text[4096];
	uint32_t tags[3 + NS_MODEL_MAX_ATTACHMENTS] = {TAG_META, TAG_PARM, TAG_BODY};
	const uint8_t *sdata[3 + NS_MODEL_MAX_ATTACHMENTS];
	size_t slen[3 + NS_MODEL_MAX_ATTACHMENTS];
	uint64_t offsets[3 + NS_MODEL_MAX_ATTACHMENTS];
	uint32_t n_sec = 3 + (uint32_t)m->n_attach;
	enum ns_status st = NS_OK;
	size_t pos, plen;
	char family[16];
	uint8_t digest[32];
	struct ns_sha256 sha;

	ns__w_init(&meta);
	ns__w_init(&parm);
	ns__w_init(&body);
	ns__w_init(&file);
	ns__w_u32(&meta, (uint32_t)m->n_features);
	ns__w_u32(&meta, m->n_classes);
	ns__w_u64(&meta, (uint64_t)(int64_t)m->threat);
	ns__w_u64(&meta, m->seed);
	ns__w_bytes(&meta, m->schema_hash, 64);
	for (uint32_t k = 0; k < m->n_classes; k++)
		ns__w_string(&meta, m->class_labels[k]);
	for (size_t j = 0; j < m->n_features; j++)
		ns__w_string(&meta, m->feature_names[j]);
	plen = ns_params_format(&m->params, params_text, sizeof(params_text));
	if (plen >= sizeof(params_text)) {
		st = NS_ERR_LIMIT;
		goto out;
	}
	ns__w_string(&parm, params_text);
	st = m->family->ops->save(m->impl, &body);
	if (st != NS_OK)
		goto out;
	if (meta.failed || parm.failed || body.failed) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	sdata[0] = meta.data, slen[0] = meta.len;
	sdata[1] = parm.data, slen[1] = parm.len;
	sdata[2] = body.data, slen[2] = body.len;
	for (size_t i = 0; i < m->n_attach; i++) {
		tags[3 + i] = m->attach[i].tag;
		sdata[3 + i] = m->attach[i].data;
		slen[3 + i] = m->attach[i].len;
	}
	pos = NS__MODEL_HEADER + n_sec * 24;
	for (uint32_t i = 0; i < n_sec; i++) {
		pos = (pos + NS__MODEL_ALIGN - 1) / NS__MODEL_ALIGN * NS__MODEL_ALIGN;
		offsets[i] = pos;
		pos += slen[i];
	}
	memset(family, 0, sizeof(family));
	memcpy(family, m->family->name,
	       strlen(m->family->name) < 15 ? strlen(m->family->name) : 15);
	ns__w_bytes(&file, NS__MODEL_MAGIC, 8);
	ns__w_u32(&file, NS__MODEL_FORMAT_VERSION);
	ns__w_u32(&file, NS__MODEL_HEADER);
	ns__w_bytes(&file, family, 16);
	ns__w_u32(&file, m->family->version);
	ns__w_u32(&file, n_sec);
	ns__w_u64(&file, (uint64_t)pos + 32);
	ns__w_u32(&file, 0);
	ns__w_u32(&file, 0);
	ns__w_u64(&file, 0);
	for (uint32_t i = 0; i < n_sec; i++) {
		ns__w_u32(&file, tags[i]);
		ns__w_u32(&file, 0);
		ns__w_u64(&file, offsets[i]);
		ns__w_u64(&file, slen[i]);
	}
	for (uint32_t i = 0; i < n_sec; i++) {
		ns__w_align(&file, NS__MODEL_ALIGN);
		ns__w_bytes(&file, sdata[i], slen[i]);
	}
	if (file.failed) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	ns_sha256_init(&sha);
	ns_sha256_update(&sha, file.data, file.len);
	ns_sha256_final(&sha, digest);
	ns__w_bytes(&file, digest, 32);
	if (file.failed) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	*out = file.data;
	*len = file.len;
	file.data = NULL;
out:
	ns__w_fini(&meta);
	ns__w_fini(&parm);
	ns__w_fini(&body);
	ns__w_fini(&file);
	return st;
}

enum ns_status ns_model_save(const struct ns_model *m, const char *path, struct ns_diag *diag)
{
	uint8_t *data = NULL;
	size_t len = 0;
	enum ns_status st = ns_model_to_buffer(m, &data, &len);
	if (st != NS_OK)
		return ns_diag_set(diag, st, "cannot serialise the model: %s", ns_status_str(st));
	st = ns_write_file_atomic(path, data, len, diag);
	ns_free(data);
	return st;
}

static enum ns_status corrupt(struct ns_diag *diag, const char *what)
{
	return ns_diag_set(diag, NS_ERR_CORRUPT, "not a valid netsec model: %s", what);
}

enum ns_status ns_model_from_buffer(const uint8_t *data, size_t len, struct ns_model **out,
				    struct ns_diag *diag)
{
	struct ns__rbuf r;
	uint32_t version, header, family_version, n_sections;
	uint64_t file_size;
	char family_name[17];
	const struct ns_family *f;
	struct ns_sha256 sha;
	uint8_t digest[32];
	struct {
		uint64_t off, len;
		bool seen;
	} sec[3];
	struct ns_model *m = NULL;
	struct ns_params params;
	char *params_text = NULL;
	uint32_t att_tag[NS_MODEL_MAX_ATTACHMENTS];
	uint64_t att_off[NS_MODEL_MAX_ATTACHMENTS], att_len[NS_MODEL_MAX_ATTACHMENTS];
	size_t n_att = 0;
	uint64_t prev_end;
	enum ns_status st;

	memset(sec, 0, sizeof(sec));
	if (len < 8 || memcmp(data, NS__MODEL_MAGIC, 8) != 0)
		return corrupt(diag, "wrong magic (foreign or empty file)");
	if (len < NS__MODEL_HEADER + 32)
		return corrupt(diag, "truncated header");
	ns__r_init(&r, data, len);
	r.off = 8;
	version = ns__r_u32(&r);
	if (version > NS__MODEL_FORMAT_VERSION)
		return ns_diag_set(diag, NS_ERR_UNSUPPORTED,
				   "model file format version %u is newer than this netsec "
				   "supports (%u): upgrade netsec",
				   version, NS__MODEL_FORMAT_VERSION);
	if (version == 0)
		return corrupt(diag, "format version 0");
	header = ns__r_u32(&r);
	ns__r_bytes(&r, family_name, 16);
	family_name[16] = '\0';
	family_version = ns__r_u32(&r);
	n_sections = ns__r_u32(&r);
	file_size = ns__r_u64(&r);
	if (header != NS__MODEL_HEADER)
		return corrupt(diag, "bad header size");
	/* Flags and reserved fields are zero in this version: anything else is damage. */
	if (ns__r_u32(&r) != 0 || ns__r_u32(&r) != 0 || ns__r_u64(&r) != 0)
		return corrupt(diag, "non-zero reserved header fields");
	if (file_size != len)
		return ns_diag_set(
			diag, NS_ERR_CORRUPT,
			"not a valid netsec model: truncated or padded (header says %llu "
			"bytes, file has %zu)",
			(unsigned long long)file_size, len);
	ns_sha256_init(&sha);
	ns_sha256_update(&sha, data, len - 32);
	ns_sha256_final(&sha, digest);
	if (memcmp(digest, data + len - 32, 32) != 0)
		return corrupt(diag, "checksum mismatch (the file is corrupted)");
	if (n_sections == 0 || n_sections > 64)
		return corrupt(diag, "bad section count");
	r.off = NS__MODEL_HEADER;
	if ((uint64_t)n_sections * 24 > len - 32 - NS__MODEL_HEADER)
		return corrupt(diag, "section table out of bounds");
	prev_end = NS__MODEL_HEADER + (uint64_t)n_sections * 24;
	for (uint32_t i = 0; i < n_sections; i++) {
		uint32_t tag = ns__r_u32(&r);
		uint64_t off, slen;
		int k;
		if (ns__r_u32(&r) != 0)
			return corrupt(diag, "non-zero reserved field in the section table");
		off = ns__r_u64(&r);
		slen = ns__r_u64(&r);
		if (off % NS__MODEL_ALIGN || off < NS__MODEL_HEADER + (uint64_t)n_sections * 24 ||
		    off > len - 32 || slen > len - 32 - off)
			return corrupt(diag, "section out of bounds or misaligned");
		/* Sections follow each other in table order with only zero padding between
		 * them, exactly as written: no overlap, no hidden bytes. */
		if (off != (prev_end + NS__MODEL_ALIGN - 1) / NS__MODEL_ALIGN * NS__MODEL_ALIGN)
			return corrupt(diag, "sections out of order or overlapping");
		for (uint64_t b = prev_end; b < off; b++)
			if (data[b] != 0)
				return corrupt(diag, "non-zero padding between sections");
		prev_end = off + slen;
		k = tag == TAG_META ? 0 : tag == TAG_PARM ? 1 : tag == TAG_BODY ? 2 : -1;
		if (k < 0) {
			uint32_t t;
			char text[5];
			memcpy(text, &tag, 4);
			text[4] = '\0';
			if (!tag_from_text(text, &t) || n_att == NS_MODEL_MAX_ATTACHMENTS)
				return corrupt(diag, "bad or too many attachment sections");
			for (size_t a = 0; a < n_att; a++)
				if (att_tag[a] == tag)
					return corrupt(diag, "duplicate section");
			att_tag[n_att] = tag;
			att_off[n_att] = off;
			att_len[n_att++] = slen;
			continue;
		}
		if (sec[k].seen)
			return corrupt(diag, "duplicate section");
		sec[k].off = off;
		sec[k].len = slen;
		sec[k].seen = true;
	}
	if (!sec[0].seen || !sec[1].seen || !sec[2].seen)
		return corrupt(diag, "missing section");
	if (prev_end != len - 32)
		return corrupt(diag, "bytes after the last section");
	if (!memchr(family_name, '\0', 17) || !(f = ns_family_find(family_name)) ||
	    strcmp(f->name, family_name) != 0)
		return ns_diag_set(diag, NS_ERR_UNSUPPORTED,
				   "model family '%.16s' is unknown to this netsec", family_name);
	if (family_version > f->version || family_version == 0)
		return ns_diag_set(
			diag, NS_ERR_UNSUPPORTED,
			"%s model payload version %u is not supported (this netsec reads "
			"up to %u)",
			f->name, family_version, f->version);

	/* PARM: re-validated through the parameter table. */
	ns__r_init(&r, data + sec[1].off, sec[1].len);
	params_text = ns__r_string(&r, 4096);
	if (!params_text || !ns__r_done(&r)) {
		st = corrupt(diag, "bad parameter section");
		goto out;
	}
	ns_params_init(&params, f);
	st = ns_params_parse(&params, params_text, diag);
	if (st == NS_OK) {
		/* Only the canonical form is accepted, so that load -> save gives the same file. */
		char canon[4096];
		size_t clen = ns_params_format(&params, canon, sizeof(canon));
		if (clen >= sizeof(canon) || strcmp(canon, params_text) != 0) {
			st = corrupt(diag, "parameters not in canonical form");
			goto out;
		}
	}
	if (st != NS_OK) {
		st = ns_diag_set(diag, NS_ERR_CORRUPT,
				 "not a valid netsec model: bad parameters (%s)",
				 diag ? diag->message : "");
		goto out;
	}

	/* META */
	ns__r_init(&r, data + sec[0].off, sec[0].len);
	{
		uint32_t n_features = ns__r_u32(&r), n_classes = ns__r_u32(&r);
		int64_t threat = (int64_t)ns__r_u64(&r);
		uint64_t seed = ns__r_u64(&r);
		char hash[65];
		ns__r_bytes(&r, hash, 64);
		hash[64] = '\0';
		if (r.bad || n_features == 0 || n_features > NS__MODEL_MAX_FEATURES ||
		    n_classes < 2 || n_classes > NS_METRICS_MAX_CLASSES || threat < -1 ||
		    threat >= n_classes || !valid_hash(hash)) {
			st = corrupt(diag, "bad shape in the meta section");
			goto out;
		}
		/* Each label and name takes at least 4 bytes: bound the counts first. */
		if ((uint64_t)(n_classes + n_features) * 4 > sec[0].len) {
			st = corrupt(diag, "meta section too short");
			goto out;
		}
		st = model_shell(&params, n_features, n_classes, NULL, NULL, &m);
		if (st != NS_OK) {
			ns_diag_set(diag, st, "out of memory");
			goto out;
		}
		m->threat = (long)threat;
		m->seed = seed;
		memcpy(m->schema_hash, hash, 65);
		for (uint32_t k = 0; k < n_classes; k++) {
			char *s = ns__r_string(&r, NS__MODEL_MAX_LABEL);
			if (!s)
				break;
			ns_free(m->class_labels[k]);
			m->class_labels[k] = s;
		}
		for (uint32_t j = 0; j < n_features && !r.bad; j++) {
			char *s = ns__r_string(&r, NS__MODEL_MAX_LABEL);
			if (!s)
				break;
			ns_free(m->feature_names[j]);
			m->feature_names[j] = s;
		}
		if (!ns__r_done(&r)) {
			st = corrupt(diag, "bad labels or feature names");
			goto out;
		}
	}
	/* BODY */
	ns__r_init(&r, data + sec[2].off, sec[2].len);
	st = f->ops->load(&r, &m->params, m->n_features, m->n_classes, &m->impl, diag);
	if (st != NS_OK) {
		if (st != NS_ERR_NOMEM && st != NS_ERR_CORRUPT)
			st = NS_ERR_CORRUPT;
		if (diag && diag->status == NS_OK)
			corrupt(diag, "bad model body");
		goto out;
	}
	if (!ns__r_done(&r)) {
		st = corrupt(diag, "trailing bytes in the model body");
		goto out;
	}
	for (size_t a = 0; a < n_att; a++) {
		st = attach_tag(m, att_tag[a], data + att_off[a], (size_t)att_len[a]);
		if (st != NS_OK) {
			ns_diag_set(diag, st, "out of memory");
			goto out;
		}
	}
	*out = m;
	m = NULL;
	st = NS_OK;
out:
	ns_free(params_text);
	ns_model_free(m);
	return st;
}

enum ns_status ns_model_load(const char *path, struct ns_model **out, struct ns_diag *diag)
{
	char *data = NULL;
	size_t len = 0;
	enum ns_status st = ns_read_file(path, (size_t)NS__MODEL_MAX_FILE, &data, &len, diag);
	if (st != NS_OK)
		return st;
	st = ns_model_from_buffer((const uint8_t *)data, len, out, diag);
	if (st != NS_OK)
		ns_diag_where(diag, path, 0, 0, NULL);
	ns_free(data);
	return st;
}
