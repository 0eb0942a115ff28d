/*
 * lib/learn/params.c - parameter values checked against a family's table.
 *
 * Values are parsed locale-independently; every error message names the
 * parameter and gives its valid range or choices, so a user can fix the call
 * without reading the source.
 */
#include <math.h>
#include <stdio.h>
#include <strings.h>

#include "learn/family.h"

void ns_params_init(struct ns_params *p, const struct ns_family *f)
{
	memset(p, 0, sizeof(*p));
	p->family = f;
	for (size_t i = 0; i < f->n_params && i < NS_PARAMS_MAX; i++)
		p->v[i] = f->params[i].def;
}

long ns_params_index(const struct ns_family *f, const char *name)
{
	for (size_t i = 0; i < f->n_params; i++)
		if (strcmp(f->params[i].name, name) == 0)
			return (long)i;
	return -1;
}

double ns_params_get(const struct ns_params *p, const char *name)
{
	long i = ns_params_index(p->family, name);
	return i < 0 ? NAN : p->v[i];
}

static bool is_none(const char *s)
{
	return strcasecmp(s, "none") == 0 || strcasecmp(s, "null") == 0;
}

/* Describes the valid values of `def` into buf. */
static void valid_values(const struct ns_param_def *def, char *buf, size_t size)
{
	size_t off = 0;
	int n;
	char lo[40], hi[40];
	switch (def->type) {
	case NS_PARAM_INT:
	case NS_PARAM_FLOAT:
		ns_format_double(def->min, lo, sizeof(lo));
		ns_format_double(def->max, hi, sizeof(hi));
		n = snprintf(buf, size, "%s in [%s, %s]%s",
			     def->type == NS_PARAM_INT ? "an integer" : "a number", lo, hi,
			     def->none_allowed ? " or none" : "");
		(void)n;
		return;
	case NS_PARAM_BOOL:
		snprintf(buf, size, "true or false");
		return;
	case NS_PARAM_FEATURES:
		snprintf(buf, size,
			 "sqrt, log2, all, a count >= 1, or a fraction in (0, 1] such as 0.5");
		return;
	case NS_PARAM_CHOICE:
		buf[0] = '\0';
		for (const char *const *c = def->choices; c && *c; c++) {
			n = snprintf(buf + off, size - off, "%s%s", off ? ", " : "one of ", *c);
			if (n < 0 || (size_t)n >= size - off)
				break;
			off += (size_t)n;
		}
		return;
	}
}

enum ns_status ns_params_set(struct ns_params *p, const char *name, const char *value,
			     struct ns_diag *diag)
{
	const struct ns_family *f = p->family;
	long i = ns_params_index(f, name);
	const struct ns_param_def *def;
	char valid[512];
	double v;
	size_t len = strlen(value);

	if (i < 0) {
		size_t off = 0;
		valid[0] = '\0';
		for (size_t k = 0; k < f->n_params; k++) {
			int n = snprintf(valid + off, sizeof(valid) - off, "%s%s", k ? ", " : "",
					 f->params[k].name);
			if (n < 0 || (size_t)n >= sizeof(valid) - off)
				break;
			off += (size_t)n;
		}
		ns_diag_where(diag, NULL, 0, 0, name);
		return ns_diag_set(diag, NS_ERR_INVALID, "unknown parameter '%s' for %s; valid: %s",
				   name, f->name, f->n_params ? valid : "(none)");
	}
	def = &f->params[i];
	switch (def->type) {
	case NS_PARAM_BOOL:
		if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0)
			v = 1;
		else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0)
			v = 0;
		else
			goto bad;
		break;
	case NS_PARAM_CHOICE: {
		long k = 0;
		const char *const *c;
		for (c = def->choices; c && *c; c++, k++)
			if (strcasecmp(*c, value) == 0)
				break;
		if (!c || !*c)
			goto bad;
		v = (double)k;
		break;
	}
	case NS_PARAM_FEATURES:
		if (strcasecmp(value, "sqrt") == 0 || strcasecmp(value, "auto") == 0)
			v = -1;
		else if (strcasecmp(value, "log2") == 0)
			v = -2;
		else if (strcasecmp(value, "all") == 0 || is_none(value))
			v = NAN;
		else if (!ns_parse_double(value, len, &v) || !(v > 0) || isinf(v))
			goto bad;
		else if (memchr(value, '.', len)) {
			if (v > 1)
				goto bad;
			if (v == 1)
				v = NAN; /* a fraction of 1.0: all features */
		} else if (v != floor(v)) {
			goto bad;
		}
		break;
	default:
		if (def->none_allowed && is_none(value)) {
			v = NAN;
			break;
		}
		if (!ns_parse_double(value, len, &v) || isnan(v))
			goto bad;
		if (def->type == NS_PARAM_INT && v != floor(v))
			goto bad;
		if (v < def->min || v > def->max)
			goto bad;
		break;
	}
	p->v[i] = v;
	return NS_OK;
bad:
	valid_values(def, valid, sizeof(valid));
	ns_diag_where(diag, NULL, 0, 0, name);
	return ns_diag_set(diag, NS_ERR_INVALID, "bad value '%s' for %s %s: expected %s", value,
			   f->name, name, valid);
}

enum ns_status ns_params_parse(struct ns_params *p, const char *list, struct ns_diag *diag)
{
	const char *s = list;
	while (s && *s) {
		const char *comma = strchr(s, ','), *eq;
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char item[256], *value;
		enum ns_status st;
		if (len == 0) {
			s = comma ? comma + 1 : NULL;
			continue;
		}
		if (len >= sizeof(item))
			return ns_diag_set(diag, NS_ERR_INVALID, "parameter '%.40s...' is too long",
					   s);
		memcpy(item, s, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		if (!eq || eq == item)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "expected NAME=VALUE in the parameter list, got '%s'",
					   item);
		value = item + (eq - item);
		*value++ = '\0';
		st = ns_params_set(p, item, value, diag);
		if (st != NS_OK)
			return st;
		s = comma ? comma + 1 : NULL;
	}
	return NS_OK;
}

size_t ns_param_value_format(const struct ns_param_def *def, double v, char *buf, size_t size)
{
	int n;
	if (size == 0)
		return 0;
	switch (def->type) {
	case NS_PARAM_BOOL:
		n = snprintf(buf, size, "%s", v != 0 ? "true" : "false");
		break;
	case NS_PARAM_CHOICE: {
		long k = 0;
		const char *word = "?";
		for (const char *const *c = def->choices; c && *c; c++, k++)
			if ((double)k == v)
				word = *c;
		n = snprintf(buf, size, "%s", word);
		break;
	}
	case NS_PARAM_FEATURES:
		if (isnan(v))
			n = snprintf(buf, size, "all");
		else if (v == -1)
			n = snprintf(buf, size, "sqrt");
		else if (v == -2)
			n = snprintf(buf, size, "log2");
		else if (v < 1) {
			char num[40];
			ns_format_double(v, num, sizeof(num));
			n = snprintf(buf, size, "%s", num);
		} else
			n = snprintf(buf, size, "%.0f", v);
		break;
	default:
		if (isnan(v))
			n = snprintf(buf, size, "none");
		else {
			char num[40];
			ns_format_double(v, num, sizeof(num));
			/* Keep a '.' in floats so the text reads back as the same type. */
			n = snprintf(buf, size, "%s", num);
		}
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

size_t ns_params_format(const struct ns_params *p, char *buf, size_t size)
{
	size_t off = 0;
	for (size_t i = 0; i < p->family->n_params; i++) {
		char val[64];
		int n;
		ns_param_value_format(&p->family->params[i], p->v[i], val, sizeof(val));
		n = snprintf(off < size ? buf + off : NULL, off < size ? size - off : 0, "%s%s=%s",
			     i ? "," : "", p->family->params[i].name, val);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (size && off >= size)
		buf[size - 1] = '\0';
	else if (size == 0)
		return off;
	return off;
}
