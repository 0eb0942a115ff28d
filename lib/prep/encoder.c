/*
 * lib/prep/encoder.c - frame -> learning matrix: numbers as they are,
 * categories one-hot, labels to class indices (see include/netsec/prep.h).
 *
 * Serialised form (little-endian): "NSENC1\0\0", target name, threat (i64),
 * class labels, then per input column: name, kind (0 numeric, 1 category),
 * level count and levels.  Every count is checked against the bytes left.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "learn/family.h"
#include "netsec/prep.h"

#define ENC_MAGIC "NSENC1\0\0"
#define ENC_MAX_NAME 4096u
#define ENC_MAX_LEVELS 100000u
#define ENC_MAX_COLUMNS 65536u

struct input {
	char *name;
	bool category;
	size_t n_levels;
	char **levels; /* sorted; one output column each */
	size_t first; /* first output column */
};

struct ns_encoder {
	char *target;
	long threat;
	uint32_t n_classes;
	char **classes;
	size_t n_inputs;
	struct input *inputs;
	size_t n_features;
	char **names; /* output column names */
};

void ns_encoder_free(struct ns_encoder *e)
{
	if (!e)
		return;
	ns_free(e->target);
	ns__free_strings(e->classes, e->n_classes);
	for (size_t i = 0; i < e->n_inputs; i++) {
		ns_free(e->inputs[i].name);
		ns__free_strings(e->inputs[i].levels, e->inputs[i].n_levels);
	}
	ns_free(e->inputs);
	ns__free_strings(e->names, e->n_features);
	ns_free(e);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Labels sort numerically when both parse as numbers, else by bytes. */
static int cmp_label(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	double dx, dy;
	if (ns_parse_double(x, strlen(x), &dx) && ns_parse_double(y, strlen(y), &dy) && dx != dy)
		return dx < dy ? -1 : 1;
	return strcmp(x, y);
}

/* Builds the output names once the inputs are known. */
static enum ns_status build_names(struct ns_encoder *e)
{
	size_t n = 0, j = 0;
	for (size_t i = 0; i < e->n_inputs; i++) {
		e->inputs[i].first = n;
		n += e->inputs[i].category ? e->inputs[i].n_levels : 1;
	}
	e->n_features = n;
	e->names = ns_calloc(n ? n : 1, sizeof(char *));
	if (!e->names)
		return NS_ERR_NOMEM;
	for (size_t i = 0; i < e->n_inputs; i++) {
		const struct input *in = &e->inputs[i];
		if (!in->category) {
			if (!(e->names[j++] = ns_strdup(in->name)))
				return NS_ERR_NOMEM;
			continue;
		}
		for (size_t l = 0; l < in->n_levels; l++) {
			size_t len = strlen(in->name) + strlen(in->levels[l]) + 2;
			char *s = ns_malloc(len);
			if (!s)
				return NS_ERR_NOMEM;
			snprintf(s, len, "%s=%s", in->name, in->levels[l]);
			e->names[j++] = s;
		}
	}
	return NS_OK;
}

/* The label of row r of frame column c as text (numbers in shortest form). */
static const char *label_text(const struct ns_frame *f, size_t c, size_t r, char *buf, size_t size)
{
	if (ns_frame_col_kind(f, c) == NS_COL_NUMERIC) {
		double v = ns_frame_numbers(f, c)[r];
		if (isnan(v))
			return NULL;
		ns_format_double(v, buf, size);
		return buf;
	}
	return ns_frame_level(f, c, ns_frame_codes(f, c)[r]);
}

enum ns_status ns_encoder_fit(const struct ns_schema *s, const struct ns_frame *train,
			      struct ns_encoder **out, struct ns_diag *diag)
{
	struct ns_encoder *e;
	enum ns_status st = NS_ERR_NOMEM;
	long tcol;

	if (s->target < 0)
		return ns_diag_set(diag, NS_ERR_SCHEMA, "the schema names no target column");
	tcol = ns_frame_col_index(train, s->columns[s->target].name);
	if (tcol < 0) {
		ns_diag_where(diag, NULL, 0, 0, s->columns[s->target].name);
		return ns_diag_set(diag, NS_ERR_SCHEMA, "the target column '%s' is not in the data",
				   s->columns[s->target].name);
	}
	e = ns_calloc(1, sizeof(*e));
	if (!e)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	e->threat = -1;
	if (!(e->target = ns_strdup(s->columns[s->target].name)))
		goto fail;
	/* Classes: the schema's, or the sorted distinct training labels. */
	if (s->n_classes) {
		e->classes = ns_calloc(s->n_classes, sizeof(char *));
		if (!e->classes)
			goto fail;
		e->n_classes = (uint32_t)s->n_classes;
		for (size_t k = 0; k < s->n_classes; k++)
			if (!(e->classes[k] = ns_strdup(s->classes[k])))
				goto fail;
		e->threat = s->threat;
	} else {
		size_t n = ns_frame_n_rows(train), m = 0;
		char **all = ns_calloc(n ? n : 1, sizeof(char *));
		if (!all)
			goto fail;
		for (size_t r = 0; r < n; r++) {
			char buf[40];
			const char *t = label_text(train, (size_t)tcol, r, buf, sizeof(buf));
			bool seen = false;
			if (!t)
				continue;
			for (size_t k = 0; k < m && !seen; k++)
				seen = strcmp(all[k], t) == 0;
			if (!seen && !(all[m++] = ns_strdup(t))) {
				ns__free_strings(all, m);
				goto fail;
			}
			if (m > NS_METRICS_MAX_CLASSES) {
				ns__free_strings(all, m);
				ns_encoder_free(e);
				return ns_diag_set(
					diag, NS_ERR_SCHEMA,
					"the target '%s' has more than %d distinct values",
					s->columns[s->target].name, NS_METRICS_MAX_CLASSES);
			}
		}
		qsort(all, m, sizeof(char *), cmp_label);
		e->classes = all;
		e->n_classes = (uint32_t)m;
	}
	/* Inputs: every schema column but the target and ignored ones. */
	e->inputs = ns_calloc(s->n_columns ? s->n_columns : 1, sizeof(*e->inputs));
	if (!e->inputs)
		goto fail;
	for (size_t c = 0; c < s->n_columns; c++) {
		const struct ns_schema_column *sc = &s->columns[c];
		struct input *in;
		long fc;
		if ((long)c == s->target || sc->ignore)
			continue;
		fc = ns_frame_col_index(train, sc->name);
		if (fc < 0) {
			ns_encoder_free(e);
			ns_diag_where(diag, NULL, 0, 0, sc->name);
			return ns_diag_set(diag, NS_ERR_SCHEMA,
					   "feature column '%s' is not in the data", sc->name);
		}
		in = &e->inputs[e->n_inputs++];
		if (!(in->name = ns_strdup(sc->name)))
			goto fail;
		in->category = ns_frame_col_kind(train, (size_t)fc) == NS_COL_CATEGORY;
		if (in->category) {
			size_t nl = ns_frame_n_levels(train, (size_t)fc), used = 0;
			const uint32_t *codes = ns_frame_codes(train, (size_t)fc);
			bool *present = ns_calloc(nl ? nl : 1, sizeof(bool));
			if (!present)
				goto fail;
			for (size_t r = 0; r < ns_frame_n_rows(train); r++)
				if (codes[r] != NS_FRAME_NA_CODE && !present[codes[r]]) {
					present[codes[r]] = true;
					used++;
				}
			in->levels = ns_calloc(used ? used : 1, sizeof(char *));
			if (!in->levels) {
				ns_free(present);
				goto fail;
			}
			for (size_t l = 0; l < nl; l++)
				if (present[l] &&
				    !(in->levels[in->n_levels++] = ns_strdup(
					      ns_frame_level(train, (size_t)fc, (uint32_t)l)))) {
					ns_free(present);
					goto fail;
				}
			ns_free(present);
			qsort(in->levels, in->n_levels, sizeof(char *), cmp_str);
		}
	}
	st = build_names(e);
	if (st != NS_OK)
		goto fail;
	*out = e;
	return NS_OK;
fail:
	ns_encoder_free(e);
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}

size_t ns_encoder_n_features(const struct ns_encoder *e)
{
	return e->n_features;
}

const char *ns_encoder_feature_name(const struct ns_encoder *e, size_t j)
{
	return j < e->n_features ? e->names[j] : NULL;
}

const char *const *ns_encoder_feature_names(const struct ns_encoder *e)
{
	return (const char *const *)e->names;
}

uint32_t ns_encoder_n_classes(const struct ns_encoder *e)
{
	return e->n_classes;
}

const char *ns_encoder_class_label(const struct ns_encoder *e, uint32_t k)
{
	return k < e->n_classes ? e->classes[k] : NULL;
}

const char *const *ns_encoder_class_labels(const struct ns_encoder *e)
{
	return (const char *const *)e->classes;
}

long ns_encoder_threat(const struct ns_encoder *e)
{
	return e->threat;
}

const char *ns_encoder_target(const struct ns_encoder *e)
{
	return e->target;
}

size_t ns_encoder_n_inputs(const struct ns_encoder *e)
{
	return e->n_inputs;
}

const char *ns_encoder_input_name(const struct ns_encoder *e, size_t i)
{
	return i < e->n_inputs ? e->inputs[i].name : NULL;
}

/* Index of label `t` among the classes (numeric labels compare by value), or -1. */
static long class_of(const struct ns_encoder *e, const char *t)
{
	double v, c;
	bool num = ns_parse_double(t, strlen(t), &v);
	for (uint32_t k = 0; k < e->n_classes; k++) {
		if (strcmp(e->classes[k], t) == 0)
			return k;
		if (num && ns_parse_double(e->classes[k], strlen(e->classes[k]), &c) && c == v)
			return k;
	}
	return -1;
}

enum ns_status ns_encoder_transform(const struct ns_encoder *e, const struct ns_frame *f,
				    double **x_out, uint32_t **y_out, struct ns_diag *diag)
{
	size_t n = ns_frame_n_rows(f), d = e->n_features;
	long *cols = NULL;
	double *x = NULL;
	uint32_t *y = NULL;
	enum ns_status st = NS_OK;
	char missing[512];
	size_t off = 0, n_missing = 0;

	cols = ns_malloc((e->n_inputs ? e->n_inputs : 1) * sizeof(long));
	if (!cols)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	missing[0] = '\0';
	for (size_t i = 0; i < e->n_inputs; i++) {
		cols[i] = ns_frame_col_index(f, e->inputs[i].name);
		if (cols[i] >= 0 && (ns_frame_col_kind(f, (size_t)cols[i]) == NS_COL_CATEGORY) !=
					    e->inputs[i].category) {
			ns_diag_where(diag, NULL, 0, 0, e->inputs[i].name);
			st = ns_diag_set(diag, NS_ERR_SCHEMA,
					 "column '%s' is %s here but was %s in training",
					 e->inputs[i].name,
					 e->inputs[i].category ? "numeric" : "categorical",
					 e->inputs[i].category ? "categorical" : "numeric");
			goto out;
		}
		if (cols[i] < 0) {
			int w = snprintf(missing + off, sizeof(missing) - off, "%s%s",
					 n_missing ? ", " : "", e->inputs[i].name);
			if (w > 0 && (size_t)w < sizeof(missing) - off)
				off += (size_t)w;
			n_missing++;
		}
	}
	if (n_missing) {
		st = ns_diag_set(diag, NS_ERR_SCHEMA, "%zu column%s the model needs %s missing: %s",
				 n_missing, n_missing == 1 ? "" : "s",
				 n_missing == 1 ? "is" : "are", missing);
		goto out;
	}
	if (n && d > SIZE_MAX / sizeof(double) / n) {
		st = ns_diag_set(diag, NS_ERR_LIMIT, "the data is too large");
		goto out;
	}
	x = ns_calloc((n && d) ? n * d : 1, sizeof(double));
	if (!x) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < e->n_inputs; i++) {
		const struct input *in = &e->inputs[i];
		size_t c = (size_t)cols[i];
		if (!in->category) {
			const double *v = ns_frame_numbers(f, c);
			for (size_t r = 0; r < n; r++)
				x[r * d + in->first] = v[r];
			continue;
		}
		{
			/* Map the frame's codes to level positions once. */
			size_t nl = ns_frame_n_levels(f, c);
			long *map = ns_malloc((nl ? nl : 1) * sizeof(long));
			const uint32_t *codes = ns_frame_codes(f, c);
			if (!map) {
				st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
				goto out;
			}
			for (size_t l = 0; l < nl; l++) {
				const char *lv = ns_frame_level(f, c, (uint32_t)l);
				char **hit = bsearch(&lv, in->levels, in->n_levels, sizeof(char *),
						     cmp_str);
				map[l] = hit ? (long)(hit - in->levels) : -1;
			}
			for (size_t r = 0; r < n; r++) {
				if (codes[r] == NS_FRAME_NA_CODE) {
					/* Missing category: NaN in every one-hot column. */
					for (size_t l = 0; l < in->n_levels; l++)
						x[r * d + in->first + l] = NAN;
				} else if (map[codes[r]] >= 0) {
					x[r * d + in->first + (size_t)map[codes[r]]] = 1;
				}
			}
			ns_free(map);
		}
	}
	if (y_out) {
		long tc = ns_frame_col_index(f, e->target);
		if (tc < 0) {
			ns_diag_where(diag, NULL, 0, 0, e->target);
			st = ns_diag_set(diag, NS_ERR_SCHEMA, "the target column '%s' is missing",
					 e->target);
			goto out;
		}
		y = ns_malloc((n ? n : 1) * sizeof(uint32_t));
		if (!y) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (size_t r = 0; r < n; r++) {
			char buf[40];
			const char *t = label_text(f, (size_t)tc, r, buf, sizeof(buf));
			long k = t ? class_of(e, t) : -1;
			if (k < 0) {
				ns_diag_where(diag, NULL, 0, 0, e->target);
				st = ns_diag_set(diag, NS_ERR_SCHEMA,
						 t ? "row %zu: label '%s' is not one of the classes"
						   : "row %zu: the label is missing%s",
						 r + 1, t ? t : "");
				goto out;
			}
			y[r] = (uint32_t)k;
		}
	}
	*x_out = x;
	x = NULL;
	if (y_out) {
		*y_out = y;
		y = NULL;
	}
out:
	ns_free(cols);
	ns_free(x);
	ns_free(y);
	return st;
}

/* ---- serialisation ------------------------------------------------------------- */

enum ns_status ns_encoder_to_buffer(const struct ns_encoder *e, uint8_t **out, size_t *len)
{
	struct ns__wbuf w;
	ns__w_init(&w);
	ns__w_bytes(&w, ENC_MAGIC, 8);
	ns__w_string(&w, e->target);
	ns__w_u64(&w, (uint64_t)(int64_t)e->threat);
	ns__w_u32(&w, e->n_classes);
	for (uint32_t k = 0; k < e->n_classes; k++)
		ns__w_string(&w, e->classes[k]);
	ns__w_u32(&w, (uint32_t)e->n_inputs);
	for (size_t i = 0; i < e->n_inputs; i++) {
		ns__w_string(&w, e->inputs[i].name);
		ns__w_u8(&w, e->inputs[i].category);
		ns__w_u32(&w, (uint32_t)e->inputs[i].n_levels);
		for (size_t l = 0; l < e->inputs[i].n_levels; l++)
			ns__w_string(&w, e->inputs[i].levels[l]);
	}
	if (w.failed) {
		ns__w_fini(&w);
		return NS_ERR_NOMEM;
	}
	*out = w.data;
	*len = w.len;
	return NS_OK;
}

enum ns_status ns_encoder_from_buffer(const uint8_t *data, size_t len, struct ns_encoder **out,
				      struct ns_diag *diag)
{
	struct ns__rbuf r;
	struct ns_encoder *e;
	char magic[8];
	int64_t threat;
	enum ns_status st;

	ns__r_init(&r, data, len);
	if (!ns__r_bytes(&r, magic, 8) || memcmp(magic, ENC_MAGIC, 8) != 0)
		return ns_diag_set(diag, NS_ERR_CORRUPT, "not a netsec encoder");
	e = ns_calloc(1, sizeof(*e));
	if (!e)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	e->target = ns__r_string(&r, ENC_MAX_NAME);
	threat = (int64_t)ns__r_u64(&r);
	e->n_classes = ns__r_u32(&r);
	if (r.bad || e->n_classes < 2 || e->n_classes > NS_METRICS_MAX_CLASSES ||
	    (uint64_t)e->n_classes * 4 > len - r.off || threat < -1 || threat >= e->n_classes)
		goto corrupt;
	e->threat = (long)threat;
	e->classes = ns_calloc(e->n_classes, sizeof(char *));
	if (!e->classes)
		goto nomem;
	for (uint32_t k = 0; k < e->n_classes && !r.bad; k++)
		e->classes[k] = ns__r_string(&r, ENC_MAX_NAME);
	{
		uint32_t n_in = ns__r_u32(&r);
		if (r.bad || n_in > ENC_MAX_COLUMNS || (uint64_t)n_in * 9 > len - r.off)
			goto corrupt;
		e->inputs = ns_calloc(n_in ? n_in : 1, sizeof(*e->inputs));
		if (!e->inputs)
			goto nomem;
		for (uint32_t i = 0; i < n_in && !r.bad; i++) {
			struct input *in = &e->inputs[i];
			uint8_t cat;
			uint32_t nl;
			e->n_inputs = i + 1;
			in->name = ns__r_string(&r, ENC_MAX_NAME);
			cat = ns__r_u8(&r);
			nl = ns__r_u32(&r);
			if (r.bad || cat > 1 || (!cat && nl) || nl > ENC_MAX_LEVELS ||
			    (uint64_t)nl * 4 > len - r.off)
				goto corrupt;
			in->category = cat;
			in->levels = ns_calloc(nl ? nl : 1, sizeof(char *));
			if (!in->levels)
				goto nomem;
			for (uint32_t l = 0; l < nl && !r.bad; l++) {
				in->levels[l] = ns__r_string(&r, ENC_MAX_NAME);
				in->n_levels = l + 1;
				if (l > 0 && !r.bad &&
				    strcmp(in->levels[l - 1], in->levels[l]) >= 0)
					goto corrupt; /* transform bsearches: must be sorted, unique */
			}
		}
	}
	if (!ns__r_done(&r))
		goto corrupt;
	st = build_names(e);
	if (st != NS_OK)
		goto nomem;
	*out = e;
	return NS_OK;
corrupt:
	ns_encoder_free(e);
	return ns_diag_set(diag, NS_ERR_CORRUPT, "corrupt encoder data");
nomem:
	ns_encoder_free(e);
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}

enum ns_status ns_encoder_map_schema(const struct ns_encoder *e, const struct ns_schema *s,
				     size_t *map, struct ns_diag *diag)
{
	for (size_t i = 0; i < e->n_inputs; i++) {
		long c = ns_schema_col_index(s, e->inputs[i].name);
		if (c < 0 || (s->columns[c].type == NS_TYPE_CATEGORY) != e->inputs[i].category) {
			ns_diag_where(diag, NULL, 0, 0, e->inputs[i].name);
			return ns_diag_set(
				diag, NS_ERR_SCHEMA,
				c < 0 ? "the schema has no column '%s' that the model needs"
				      : "column '%s' has a different type than in training",
				e->inputs[i].name);
		}
		map[i] = (size_t)c;
	}
	return NS_OK;
}

/* Position of level (s, len) in the sorted levels, or -1. */
static long find_level(const struct input *in, const char *s, size_t len)
{
	size_t lo = 0, hi = in->n_levels;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *lv = in->levels[mid];
		size_t ll = strlen(lv);
		int c = memcmp(lv, s, ll < len ? ll : len);
		if (c == 0)
			c = ll < len ? -1 : ll > len;
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void ns_encoder_encode_values(const struct ns_encoder *e, const size_t *map,
			      const struct ns_value *values, double *row)
{
	for (size_t i = 0; i < e->n_inputs; i++) {
		const struct input *in = &e->inputs[i];
		const struct ns_value *v = &values[map[i]];
		if (!in->category) {
			row[in->first] = v->missing ? NAN : v->num;
			continue;
		}
		for (size_t l = 0; l < in->n_levels; l++)
			row[in->first + l] = v->missing ? NAN : 0;
		if (!v->missing) {
			long l = find_level(in, v->str, v->len);
			if (l >= 0)
				row[in->first + (size_t)l] = 1;
		}
	}
}
