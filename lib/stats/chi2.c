/*
 * lib/stats/chi2.c - Pearson's chi-square test of independence, as
 * scipy.stats.chi2_contingency(table) (correction=True), and the
 * chi-square survival function.
 *
 * The survival function is the regularized upper incomplete gamma function
 * Q(a, y) with a = dof/2, y = x/2: below y < a + 1 through the power series
 * of the lower function P (whose terms are all positive) and Q = 1 - P,
 * which is then no smaller than about 0.3, so nothing is lost; above it
 * through the continued fraction for Q itself (modified Lentz), so tiny
 * tail probabilities keep their relative precision.  The common factor
 * y^a e^-y / Gamma(a) is formed in log space.
 *
 * The contingency test makes two passes over the table per cell for the
 * column total (O(rows^2 * cols)), which keeps it allocation-free; drift
 * tables have two rows.
 *
 * Threading: pure functions, no allocation.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>

#include "netsec/stats.h"

#define GAMMA_MAX_ITER 100000
#define GAMMA_EPS (DBL_EPSILON / 2)

static double log_gamma(double x)
{
	int sign;
	return lgamma_r(x, &sign);
}

/* Q(a, y) for a > 0, y > 0. */
static double gamma_q(double a, double y)
{
	double log_front = a * log(y) - y - log_gamma(a);
	if (y < a + 1.0) {
		/* P = y^a e^-y / Gamma(a+1) * sum_k y^k / ((a+1)...(a+k)). */
		double term = 1.0, sum = 1.0;
		for (int k = 1; k < GAMMA_MAX_ITER; k++) {
			term *= y / (a + k);
			sum += term;
			if (term < sum * GAMMA_EPS)
				break;
		}
		return 1.0 - exp(log_front - log(a)) * sum;
	}
	/*
	 * Q = y^a e^-y / Gamma(a) * 1 / (y + 1 - a - 1(1-a) / (y + 3 - a - 2(2-a) / (y + 5 - a - ...))),
	 * evaluated front to back by the modified Lentz method.
	 */
	{
		const double tiny = DBL_MIN / DBL_EPSILON;
		double bk = y + 1.0 - a, c = 1.0 / tiny, dk = 1.0 / bk, frac = dk;
		for (int k = 1; k < GAMMA_MAX_ITER; k++) {
			double ak = -(double)k * ((double)k - a), delta;
			bk += 2.0;
			dk = ak * dk + bk;
			if (fabs(dk) < tiny)
				dk = tiny;
			c = bk + ak / c;
			if (fabs(c) < tiny)
				c = tiny;
			dk = 1.0 / dk;
			delta = dk * c;
			frac *= delta;
			if (fabs(delta - 1.0) < GAMMA_EPS)
				break;
		}
		return exp(log_front) * frac;
	}
}

NS_API double ns_chi2_sf(double x, double dof)
{
	double q;
	if (isnan(x) || isnan(dof) || !(dof > 0.0))
		return NAN;
	if (x <= 0.0)
		return 1.0;
	if (isinf(x))
		return 0.0;
	q = gamma_q(dof / 2.0, x / 2.0);
	return q < 0.0 ? 0.0 : q > 1.0 ? 1.0 : q;
}

NS_API enum ns_status ns_chi2_contingency(const double *table, size_t rows, size_t cols,
					  struct ns_chi2_result *out)
{
	double total = 0.0, stat = 0.0;
	uint64_t dof;

	if (!table || !out || rows == 0 || cols == 0 || rows > SIZE_MAX / cols)
		return NS_ERR_INVALID;
	if (rows - 1 > UINT_MAX || cols - 1 > UINT_MAX)
		return NS_ERR_INVALID;
	dof = (uint64_t)(rows - 1) * (uint64_t)(cols - 1); /* < 2^64: both factors < 2^32 */
	if (dof > UINT_MAX)
		return NS_ERR_INVALID;
	for (size_t i = 0; i < rows * cols; i++) {
		if (!isfinite(table[i]) || table[i] < 0.0)
			return NS_ERR_INVALID;
		total += table[i];
	}
	/* A zero row or column total makes an expected count zero. */
	for (size_t r = 0; r < rows; r++) {
		double s = 0.0;
		for (size_t c = 0; c < cols; c++)
			s += table[r * cols + c];
		if (!(s > 0.0))
			return NS_ERR_INVALID;
	}
	for (size_t c = 0; c < cols; c++) {
		double s = 0.0;
		for (size_t r = 0; r < rows; r++)
			s += table[r * cols + c];
		if (!(s > 0.0))
			return NS_ERR_INVALID;
	}
	if (dof == 0) {
		/* One row or one column: observed equals expected. */
		out->statistic = 0.0;
		out->pvalue = 1.0;
		out->dof = 0;
		return NS_OK;
	}
	for (size_t r = 0; r < rows; r++) {
		double row_sum = 0.0;
		for (size_t c = 0; c < cols; c++)
			row_sum += table[r * cols + c];
		for (size_t c = 0; c < cols; c++) {
			double col_sum = 0.0, obs = table[r * cols + c], expd, diff;
			for (size_t k = 0; k < rows; k++)
				col_sum += table[k * cols + c];
			expd = row_sum * col_sum / total;
			if (!(expd > 0.0))
				return NS_ERR_INVALID; /* underflow of tiny counts */
			if (dof == 1) {
				/* Yates: move towards the expectation by at most 0.5. */
				double gap = fabs(expd - obs), step = gap < 0.5 ? gap : 0.5;
				obs += expd > obs ? step : expd < obs ? -step : 0.0;
			}
			diff = obs - expd;
			stat += diff * diff / expd;
		}
	}
	out->statistic = stat;
	out->pvalue = ns_chi2_sf(stat, (double)dof);
	out->dof = (unsigned)dof;
	return NS_OK;
}
