/*
 * lib/pipeline/drift.c - the drift report: every feature column compared
 * between a reference sample (training data) and a current one (test data,
 * or new production data).
 *
 * Numeric columns: two-sample Kolmogorov-Smirnov (lib/stats/ks.c, p-values
 * as scipy.stats.ks_2samp with method 'auto').  Categorical columns: the
 * chi-square test of independence on the 2 x levels table of counts
 * (scipy.stats.chi2_contingency), levels seen on neither side left out.
 * Missing values are left out of both tests.
 */
#include <math.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/pipeline.h"
#include "netsec/stats.h"

void ns_drift_report_fini(struct ns_drift_report *r)
{
	if (!r)
		return;
	ns_free(r->columns);
	memset(r, 0, sizeof(*r));
}

static enum ns_status numeric_values(const struct ns_frame *f, size_t col, double **out, size_t *n)
{
	size_t rows = ns_frame_n_rows(f), k = 0;
	const double *v = ns_frame_numbers(f, col);
	double *x = ns_malloc((rows ? rows : 1) * sizeof(*x));
	if (!x)
		return NS_ERR_NOMEM;
	for (size_t r = 0; r < rows; r++)
		if (!isnan(v[r]))
			x[k++] = v[r];
	*out = x;
	*n = k;
	return NS_OK;
}

static enum ns_status compare_numeric(const struct ns_frame *ref, size_t rc,
				      const struct ns_frame *cur, size_t cc,
				      struct ns_drift_column *out)
{
	double *a = NULL, *b = NULL;
	size_t na = 0, nb = 0;
	struct ns_ks_result ks;
	enum ns_status st = numeric_values(ref, rc, &a, &na);
	if (st == NS_OK)
		st = numeric_values(cur, cc, &b, &nb);
	out->test = "ks";
	out->n_reference = na;
	out->n_current = nb;
	if (st == NS_OK && (na == 0 || nb == 0)) {
		out->skipped = true;
		out->p_value = 1;
	} else if (st == NS_OK) {
		st = ns_ks_2samp(a, na, b, nb, &ks);
		if (st == NS_OK) {
			out->statistic = ks.statistic;
			out->p_value = ks.pvalue;
			out->method = ks.method == NS_KS_EXACT ? "exact" : "asymp";
		}
	}
	ns_free(a);
	ns_free(b);
	return st;
}

/* Level counts of a categorical column, by level text, into slots of the
 * reference's dictionary extended with the current frame's new levels. */
static enum ns_status compare_category(const struct ns_frame *ref, size_t rc,
				       const struct ns_frame *cur, size_t cc,
				       struct ns_drift_column *out)
{
	size_t nl_ref = ns_frame_n_levels(ref, rc), nl_cur = ns_frame_n_levels(cur, cc);
	size_t slots = nl_ref + nl_cur, used = 0;
	double *counts = ns_calloc(2 * (slots ? slots : 1), sizeof(double));
	size_t *map = ns_malloc((nl_cur ? nl_cur : 1) * sizeof(size_t));
	double *table = NULL;
	struct ns_chi2_result chi;
	enum ns_status st = NS_OK;

	out->test = "chi2";
	if (!counts || !map) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	for (size_t l = 0; l < nl_cur; l++) {
		const char *s = ns_frame_level(cur, cc, (uint32_t)l);
		uint32_t code = ns_frame_level_code(ref, rc, s, strlen(s));
		map[l] = code == NS_FRAME_NA_CODE ? nl_ref + l : code;
	}
	for (size_t r = 0; r < ns_frame_n_rows(ref); r++) {
		uint32_t c = ns_frame_codes(ref, rc)[r];
		if (c != NS_FRAME_NA_CODE) {
			counts[c] += 1;
			out->n_reference++;
		}
	}
	for (size_t r = 0; r < ns_frame_n_rows(cur); r++) {
		uint32_t c = ns_frame_codes(cur, cc)[r];
		if (c != NS_FRAME_NA_CODE) {
			counts[slots + map[c]] += 1;
			out->n_current++;
		}
	}
	if (out->n_reference == 0 || out->n_current == 0) {
		out->skipped = true;
		out->p_value = 1;
		goto out;
	}
	/* Keep the levels seen on either side. */
	table = ns_malloc(2 * (slots ? slots : 1) * sizeof(double));
	if (!table) {
		st = NS_ERR_NOMEM;
		goto out;
	}
	for (size_t l = 0; l < slots; l++)
		if (counts[l] + counts[slots + l] > 0)
			used++;
	for (size_t l = 0, u = 0; l < slots; l++)
		if (counts[l] + counts[slots + l] > 0) {
			table[u] = counts[l];
			table[used + u] = counts[slots + l];
			u++;
		}
	st = ns_chi2_contingency(table, 2, used, &chi);
	if (st == NS_OK) {
		out->statistic = chi.statistic;
		out->p_value = chi.pvalue;
		out->method = chi.dof == 1 ? "yates" : "pearson";
	}
out:
	ns_free(counts);
	ns_free(map);
	ns_free(table);
	return st;
}

enum ns_status ns_drift_compare(const struct ns_schema *s, const struct ns_frame *reference,
				const struct ns_frame *current, double threshold,
				struct ns_drift_report *out, struct ns_diag *diag)
{
	enum ns_status st = NS_OK;
	memset(out, 0, sizeof(*out));
	out->threshold = threshold;
	out->columns = ns_calloc(s->n_columns ? s->n_columns : 1, sizeof(*out->columns));
	if (!out->columns)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	for (size_t i = 0; st == NS_OK && i < s->n_columns; i++) {
		const char *name = s->columns[i].name;
		struct ns_drift_column *c;
		long rc, cc;
		if ((long)i == s->target || s->columns[i].ignore)
			continue;
		rc = ns_frame_col_index(reference, name);
		cc = ns_frame_col_index(current, name);
		if (rc < 0 || cc < 0) {
			ns_diag_where(diag, NULL, 0, 0, name);
			st = ns_diag_set(diag, NS_ERR_SCHEMA,
					 "column '%s' is missing from the %s data", name,
					 rc < 0 ? "reference" : "current");
			break;
		}
		c = &out->columns[out->n_columns++];
		c->name = name;
		if (ns_frame_col_kind(reference, (size_t)rc) !=
		    ns_frame_col_kind(current, (size_t)cc)) {
			ns_diag_where(diag, NULL, 0, 0, name);
			st = ns_diag_set(
				diag, NS_ERR_SCHEMA,
				"column '%s' is numeric on one side and categorical on the "
				"other",
				name);
			break;
		}
		st = ns_frame_col_kind(reference, (size_t)rc) == NS_COL_NUMERIC
			     ? compare_numeric(reference, (size_t)rc, current, (size_t)cc, c)
			     : compare_category(reference, (size_t)rc, current, (size_t)cc, c);
		if (st != NS_OK) {
			ns_diag_where(diag, NULL, 0, 0, name);
			ns_diag_set(diag, st, "cannot test column '%s' for drift", name);
			break;
		}
		c->drift = !c->skipped && c->p_value < threshold;
		out->n_drifted += c->drift;
	}
	if (st != NS_OK)
		ns_drift_report_fini(out);
	return st;
}

enum ns_status ns_drift_report_yaml(const struct ns_drift_report *r, char **out, size_t *len)
{
	struct ns__buf b;
	enum ns_status st;
	char num[40];
	ns__buf_init(&b, 0);
	ns_format_double(r->threshold, num, sizeof(num));
	st = ns__buf_printf(&b,
			    "# Drift report: each feature, reference (train) vs current (test).\n"
			    "drift_status: %s\nthreshold: %s\ncolumns_tested: %zu\n"
			    "columns_drifted: %zu\ncolumns:\n",
			    r->n_drifted ? "true" : "false", num, r->n_columns, r->n_drifted);
	for (size_t i = 0; st == NS_OK && i < r->n_columns; i++) {
		const struct ns_drift_column *c = &r->columns[i];
		char stat[40], p[40];
		ns_format_double(c->statistic, stat, sizeof(stat));
		ns_format_double(c->p_value, p, sizeof(p));
		st = ns__buf_append(&b, "  ", 2);
		if (st == NS_OK)
			st = ns__json_string(&b, c->name); /* JSON strings are YAML */
		if (st == NS_OK)
			st = ns__buf_printf(&b,
					    ":\n    test: %s\n    method: %s\n    statistic: %s\n"
					    "    p_value: %s\n    drift_status: %s\n"
					    "    n_reference: %zu\n    n_current: %zu\n",
					    c->test, c->skipped ? "skipped" : c->method, stat, p,
					    c->drift ? "true" : "false", c->n_reference,
					    c->n_current);
	}
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return st;
	}
	*out = b.data ? b.data : ns_strdup("");
	if (len)
		*len = b.len;
	return *out ? NS_OK : NS_ERR_NOMEM;
}
