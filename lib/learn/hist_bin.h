/*
 * lib/learn/hist_bin.h - feature binning for histogram-based tree learners
 * (gbdt): every feature is cut once into at most 255 value bins plus one
 * missing-value bin, and the data is kept as uint8 bin codes, column-major.
 *
 * Cut points: a feature with at most `max_bins` distinct values gets one bin
 * per distinct value and cuts at the midpoints between consecutive values (as
 * exact CART thresholds, so a split search over these bins finds exactly the
 * thresholds an exact search would); otherwise cuts come from quantiles of
 * the feature (of a strided sample of 200,000 rows when there are more).  A
 * value x goes to the first bin b with x <= cut[b] (the last bin if none), so
 * "bin <= b" and "x <= cut[b]" select the same training rows.  NaN goes to
 * the missing bin, whose code is the feature's number of value bins.
 *
 * Threading: ns__hist_bins_build() uses OpenMP with `n_threads`; the result
 * does not depend on the thread count.  Errors: NS_ERR_NOMEM only.
 */
#ifndef NETSEC_LEARN_HIST_BIN_H
#define NETSEC_LEARN_HIST_BIN_H

#include "learn/family.h"

#define NS__HIST_MAX_BINS 255
#define NS__HIST_SAMPLE 200000u

struct ns__hist_bins {
	size_t n_rows, n_features;
	uint8_t *codes; /* n_features * n_rows, column-major */
	uint16_t *n_bins; /* value bins per feature (0 if the column is all NaN) */
	double *cuts; /* per feature n_bins - 1 cut points, at cut_off[f] */
	size_t *cut_off; /* n_features + 1 */
	size_t *hist_off; /* n_features + 1: feature f owns slots [hist_off[f], hist_off[f+1])
			     * of a node histogram: its value bins, then its missing bin */
	bool *has_missing; /* per feature: NaN seen in training */
};

/* Bins the rows of `d` (all of them).  OUT b (ns__hist_bins_fini). */
enum ns_status ns__hist_bins_build(const struct ns_dataset *d, int max_bins, int n_threads,
				   struct ns__hist_bins *b);
void ns__hist_bins_fini(struct ns__hist_bins *b);

/* The bin of value v for feature f (NaN: the missing bin). */
uint8_t ns__hist_bin_of(const struct ns__hist_bins *b, size_t f, double v);

/* Sorts n doubles ascending (no NaN). */
void ns__sort_doubles(double *v, size_t n);

#endif
