/*
 * include/netsec/stats.h - two-sample tests for the drift report.
 *
 * Two tests compare a feature's distribution in two samples (training data
 * against new data):
 *
 *  - ns_ks_2samp: the two-sided two-sample Kolmogorov-Smirnov test, as
 *    scipy.stats.ks_2samp(a, b) computes it in scipy 1.10 (alternative
 *    "two-sided", method "auto"), for numeric features;
 *  - ns_chi2_contingency: Pearson's chi-square test of independence on a
 *    table of counts, as scipy.stats.chi2_contingency(table) (Yates'
 *    correction when the table has one degree of freedom), for categorical
 *    features (rows: the samples, columns: the levels).
 *
 * docs/drift.md describes the methods, which scipy behaviour they match and
 * to what precision.
 *
 * Threading: every function is a pure function of its arguments and is
 * thread-safe.  Errors are reported through the returned status only; the
 * outputs are written on success only.
 */
#ifndef NETSEC_STATS_H
#define NETSEC_STATS_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How ns_ks_2samp computed its p-value. */
enum ns_ks_method {
	NS_KS_EXACT, /* exact null distribution of the two-sample statistic */
	NS_KS_ASYMP, /* one-sample Kolmogorov distribution for n = round(na*nb/(na+nb)) */
};

struct ns_ks_result {
	double statistic; /* D = max |F_a(x) - F_b(x)| over the pooled values */
	double pvalue; /* Pr(D' >= D) under the null hypothesis, in [0, 1] */
	enum ns_ks_method method;
};

/*
 * Two-sided two-sample Kolmogorov-Smirnov test of `a` (na values) against
 * `b` (nb values), as scipy.stats.ks_2samp(a, b) in scipy 1.10 with
 * alternative="two-sided" and method="auto":
 *
 *  - statistic: the largest distance between the two empirical distribution
 *    functions (ties are handled as scipy does: both functions are
 *    evaluated at every pooled value, counting values <= it);
 *  - when max(na, nb) <= 10000 the p-value is exact: the fraction of the
 *    C(na+nb, na) lattice paths whose statistic is >= D (D is first rounded
 *    to the lattice, h/lcm(na, nb), and that rounded value is reported);
 *    should that computation fail in floating point where scipy's does
 *    (possible only for na == nb) the asymptotic method is used instead,
 *    as scipy does;
 *  - otherwise the p-value is the survival function of the exact
 *    one-sample Kolmogorov distribution (scipy.stats.kstwo) at D for
 *    n = round(na*nb/(na+nb)).
 *
 * The inputs need not be sorted; they are not modified (the function sorts
 * copies).  Infinite values are allowed.  Missing values must be removed by
 * the caller.
 *
 * Returns NS_OK and fills OUT *out; NS_ERR_INVALID when a sample is empty,
 * holds a NaN, or a pointer is NULL (with a non-zero count); NS_ERR_NOMEM.
 * Time: O((na+nb) log(na+nb)) for the statistic plus, in the exact case,
 * O(max(na,nb) * D * min(na,nb)) for the p-value.
 */
NS_API enum ns_status ns_ks_2samp(const double *a, size_t na, const double *b, size_t nb,
				  struct ns_ks_result *out);

struct ns_chi2_result {
	double statistic; /* Pearson's X^2 (after Yates' correction when dof == 1) */
	double pvalue; /* ns_chi2_sf(statistic, dof) */
	unsigned dof; /* (rows - 1) * (cols - 1) */
};

/*
 * Chi-square test of independence on the `rows` x `cols` table of counts
 * `table` (row-major), as scipy.stats.chi2_contingency(table) with its
 * default correction=True: expected counts are row total * column total /
 * grand total; when dof == 1 every observed count is moved towards its
 * expected count by min(0.5, |observed - expected|) (Yates); the statistic
 * is the sum of (observed - expected)^2 / expected.  When dof == 0 (one row
 * or one column) the statistic is 0 and the p-value 1, as in scipy.
 *
 * Counts need not be integers but must be finite and >= 0.  A row or a
 * column whose total is zero makes an expected count zero, which scipy
 * rejects; so do we (NS_ERR_INVALID): the caller drops levels seen in
 * neither sample before building the table.
 *
 * Returns NS_OK and fills OUT *out; NS_ERR_INVALID for an empty table (rows
 * or cols 0), a negative, NaN or infinite count, a zero row or column total,
 * a NULL pointer, or a table whose dof does not fit an unsigned.
 * Allocates nothing.
 */
NS_API enum ns_status ns_chi2_contingency(const double *table, size_t rows, size_t cols,
					  struct ns_chi2_result *out);

/*
 * Survival function of the chi-square distribution with `dof` degrees of
 * freedom at `x`: Pr(X >= x) = Q(dof/2, x/2), the regularized upper
 * incomplete gamma function (scipy.stats.chi2.sf(x, dof)).  Returns 1 for
 * x <= 0, 0 for x = +inf, NaN for a NaN argument or dof <= 0.  Accurate to
 * about 1e-13 relative for dof up to a few thousand.
 */
NS_API double ns_chi2_sf(double x, double dof);

#ifdef __cplusplus
}
#endif
#endif
