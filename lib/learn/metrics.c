/*
 * lib/learn/metrics.c - classification metrics as scikit-learn 1.2 defines
 * them.
 *
 *  - precision/recall/F1 with zero_division = 0; macro and weighted averages
 *    over the labels present in y_true or in the predictions (sklearn's
 *    unique_labels), weighted by true support;
 *  - ROC-AUC from the ranks of the scores with ties counted one half (equal
 *    to the trapezoidal area sklearn computes); binary: of the positive
 *    class; multi-class: one-vs-rest macro over the classes that have both
 *    positives and negatives in y_true (sklearn raises instead when a class
 *    is absent; we leave it out and say so in docs/metrics.md); NaN if none;
 *  - log-loss with probabilities clipped to [eps, 1 - eps] (eps = DBL_EPSILON, sklearn 1.2 "auto") and rows
 *    renormalised, as sklearn 1.2 does.
 * Threading: pure function of its inputs.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "learn/family.h"

struct scored {
	double score;
	uint32_t positive;
};

static int cmp_scored(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->score, y = ((const struct scored *)b)->score;
	return x < y ? -1 : x > y;
}

/* AUC of `score` for "is class k" over n rows; NaN if only one kind is present. */
static double auc_one(const uint32_t *y, const double *proba, size_t n, uint32_t n_classes,
		      uint32_t k, struct scored *tmp)
{
	uint64_t n_pos = 0, n_neg;
	double rank_sum = 0;
	for (size_t i = 0; i < n; i++) {
		tmp[i].score = proba[i * n_classes + k];
		tmp[i].positive = y[i] == k;
		n_pos += tmp[i].positive;
	}
	n_neg = n - n_pos;
	if (n_pos == 0 || n_neg == 0)
		return NAN;
	qsort(tmp, n, sizeof(*tmp), cmp_scored);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		uint64_t pos_in_tie = tmp[i].positive;
		while (j < n && tmp[j].score == tmp[i].score)
			pos_in_tie += tmp[j++].positive;
		/* Average rank (1-based) of the tie group [i, j). */
		rank_sum += (double)pos_in_tie * ((double)(i + 1) + (double)j) / 2.0;
		i = j;
	}
	return (rank_sum - (double)n_pos * ((double)n_pos + 1) / 2.0) /
	       ((double)n_pos * (double)n_neg);
}

void ns_metrics_fini(struct ns_metrics *m)
{
	if (!m)
		return;
	ns_free(m->confusion);
	m->confusion = NULL;
}

enum ns_status ns_metrics_compute(const uint32_t *y_true, const double *proba, size_t n,
				  uint32_t n_classes, long positive, struct ns_metrics *out)
{
	uint64_t *cm, correct = 0;
	struct scored *tmp = NULL;
	double ll = 0;
	size_t n_labels = 0;

	memset(out, 0, sizeof(*out));
	if (n_classes < 2 || n_classes > NS_METRICS_MAX_CLASSES || positive >= (long)n_classes)
		return NS_ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if (y_true[i] >= n_classes)
			return NS_ERR_INVALID;
	cm = ns_calloc((size_t)n_classes * n_classes, sizeof(*cm));
	if (!cm)
		return NS_ERR_NOMEM;
	out->n_classes = n_classes;
	out->positive = positive;
	out->n = n;
	out->confusion = cm;
	for (size_t i = 0; i < n; i++) {
		const double *p = proba + i * n_classes;
		uint32_t best = 0;
		double sum = 0, pt;
		for (uint32_t k = 1; k < n_classes; k++)
			if (p[k] > p[best])
				best = k;
		cm[(size_t)y_true[i] * n_classes + best]++;
		correct += best == y_true[i];
		for (uint32_t k = 0; k < n_classes; k++)
			sum += fmin(fmax(p[k], DBL_EPSILON), 1 - DBL_EPSILON);
		pt = fmin(fmax(p[y_true[i]], DBL_EPSILON), 1 - DBL_EPSILON) / sum;
		ll -= log(pt);
	}
	out->accuracy = n ? (double)correct / (double)n : 0;
	out->log_loss = n ? ll / (double)n : 0;

	for (uint32_t k = 0; k < n_classes; k++) {
		uint64_t tp = cm[(size_t)k * n_classes + k], fp = 0, fn = 0;
		double prec, rec, f1;
		for (uint32_t j = 0; j < n_classes; j++) {
			if (j == k)
				continue;
			fp += cm[(size_t)j * n_classes + k];
			fn += cm[(size_t)k * n_classes + j];
		}
		prec = tp + fp ? (double)tp / (double)(tp + fp) : 0;
		rec = tp + fn ? (double)tp / (double)(tp + fn) : 0;
		f1 = 2 * tp + fp + fn ? 2.0 * (double)tp / (double)(2 * tp + fp + fn) : 0;
		if ((long)k == positive) {
			out->precision = prec;
			out->recall = rec;
			out->f1 = f1;
		}
		if (tp + fp + fn == 0)
			continue; /* neither in y_true nor predicted: not a label here */
		n_labels++;
		out->macro_precision += prec;
		out->macro_recall += rec;
		out->macro_f1 += f1;
		out->weighted_precision += prec * (double)(tp + fn);
		out->weighted_recall += rec * (double)(tp + fn);
		out->weighted_f1 += f1 * (double)(tp + fn);
	}
	if (n_labels) {
		out->macro_precision /= (double)n_labels;
		out->macro_recall /= (double)n_labels;
		out->macro_f1 /= (double)n_labels;
	}
	if (n) {
		out->weighted_precision /= (double)n;
		out->weighted_recall /= (double)n;
		out->weighted_f1 /= (double)n;
	}

	out->roc_auc = NAN;
	if (n) {
		tmp = ns_malloc(n * sizeof(*tmp));
		if (!tmp) {
			ns_metrics_fini(out);
			return NS_ERR_NOMEM;
		}
		if (n_classes == 2) {
			out->roc_auc = auc_one(y_true, proba, n, 2,
					       positive >= 0 ? (uint32_t)positive : 1, tmp);
		} else {
			double sum = 0;
			uint32_t used = 0;
			for (uint32_t k = 0; k < n_classes; k++) {
				double a = auc_one(y_true, proba, n, n_classes, k, tmp);
				if (!isnan(a)) {
					sum += a;
					used++;
				}
			}
			if (used)
				out->roc_auc = sum / used;
		}
		ns_free(tmp);
	}
	return NS_OK;
}
