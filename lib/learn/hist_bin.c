/*
 * lib/learn/hist_bin.c - cut points and uint8 bin codes for histogram tree
 * learners (see hist_bin.h for the binning rules).
 *
 * Cost: one pass per feature to find whether it has few distinct values
 * (it stops at the (max_bins + 1)-th), one pass over a strided sample of at
 * most 200,000 rows that gathers the other features' values (a group of
 * features at a time, at most 64 MiB), a sort of each of those, then one pass
 * over the rows in fixed blocks that writes the codes (branch-free bin
 * search) and notes NaN.  Features are independent and rows are independent,
 * so OpenMP scheduling cannot change the result.
 */
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "learn/hist_bin.h"

enum { BLOCK_ROWS = 4096 };

static void insertion_sort(double *v, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		double x = v[i];
		size_t j = i;
		while (j > 0 && v[j - 1] > x) {
			v[j] = v[j - 1];
			j--;
		}
		v[j] = x;
	}
}

static void heap_sift(double *v, size_t n, size_t i)
{
	for (;;) {
		size_t c = 2 * i + 1, m = i;
		if (c < n && v[c] > v[m])
			m = c;
		if (c + 1 < n && v[c + 1] > v[m])
			m = c + 1;
		if (m == i)
			return;
		double t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

static void heap_sort(double *v, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		heap_sift(v, n, i);
	for (size_t i = n; i-- > 1;) {
		double t = v[0];
		v[0] = v[i];
		v[i] = t;
		heap_sift(v, i, 0);
	}
}

/* Introsort: quicksort with a median-of-three pivot, heap sort past a depth limit. */
static void intro_sort(double *v, size_t n, int depth)
{
	while (n > 24) {
		if (depth-- == 0) {
			heap_sort(v, n);
			return;
		}
		double a = v[0], b = v[n / 2], c = v[n - 1], pivot;
		if (a < b)
			pivot = b < c ? b : (a < c ? c : a);
		else
			pivot = a < c ? a : (b < c ? c : b);
		size_t i = 0, j = n - 1;
		for (;;) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i >= j)
				break;
			double t = v[i];
			v[i] = v[j];
			v[j] = t;
			i++;
			j--;
		}
		/* [0, j] <= pivot <= [j + 1, n); recurse into the smaller part. */
		size_t nl = j + 1;
		if (nl < n - nl) {
			intro_sort(v, nl, depth);
			v += nl;
			n -= nl;
		} else {
			intro_sort(v + nl, n - nl, depth);
			n = nl;
		}
	}
	insertion_sort(v, n);
}

void ns__sort_doubles(double *v, size_t n)
{
	int depth = 0;
	for (size_t m = n; m > 1; m >>= 1)
		depth += 2;
	intro_sort(v, n, depth);
}

/* The threshold between consecutive distinct values a < b, as CART writes it. */
static double midpoint(double a, double b)
{
	double t = a / 2.0 + b / 2.0;
	if (t == b || isinf(t) || !(t >= a))
		t = a;
	return t;
}

/* Index of the first element of sorted v[0..n) that is >= x (n if none). */
static size_t lower_bound(const double *v, size_t n, double x)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The same without branches on the data (conditional moves): for binning rows. */
static inline size_t lower_bound_flat(const double *v, size_t n, double x)
{
	const double *base = v;
	if (n == 0)
		return 0;
	while (n > 1) {
		size_t half = n / 2;
		base = base[half] < x ? base + half : base;
		n -= half;
	}
	return (size_t)(base - v) + (*base < x);
}

/*
 * Cuts of feature f when it has at most max_bins distinct values (one bin
 * each, cuts at the midpoints): returns true and sets *n_cuts and *any (a
 * non-NaN value exists).  Returns false as soon as a (max_bins + 1)-th value
 * shows up.  `distinct` holds max_bins doubles.
 */
static bool few_values_cuts(const struct ns_dataset *d, size_t f, int max_bins, double *distinct,
			    double *cuts, size_t *n_cuts, bool *any)
{
	const size_t n = d->n_rows, nf = d->n_features;
	size_t n_distinct = 0;
	for (size_t i = 0; i < n; i++) {
		double v = d->x[i * nf + f];
		if (isnan(v))
			continue;
		size_t at = lower_bound(distinct, n_distinct, v);
		if (at < n_distinct && distinct[at] == v)
			continue;
		if (n_distinct == (size_t)max_bins)
			return false;
		memmove(distinct + at + 1, distinct + at, (n_distinct - at) * sizeof(double));
		distinct[at] = v;
		n_distinct++;
	}
	*any = n_distinct > 0;
	*n_cuts = 0;
	for (size_t i = 1; i < n_distinct; i++)
		cuts[(*n_cuts)++] = midpoint(distinct[i - 1], distinct[i]);
	return true;
}

/* Quantile cuts from the m sampled values s (NaN removed here; s is sorted). */
static size_t quantile_cuts(double *s, size_t m, int max_bins, double *cuts)
{
	size_t k = 0, n_cuts = 0;
	for (size_t j = 0; j < m; j++)
		if (!isnan(s[j]))
			s[k++] = s[j];
	m = k;
	ns__sort_doubles(s, m);
	for (int q = 1; q < max_bins; q++) {
		size_t pos = (size_t)((double)q * (double)m / (double)max_bins);
		if (pos == 0 || pos >= m)
			continue;
		if (s[pos - 1] == s[pos]) /* inside a run of ties: cut after the run */
			pos = lower_bound(s + pos, m - pos, nextafter(s[pos], INFINITY)) + pos;
		if (pos >= m)
			continue;
		double c = midpoint(s[pos - 1], s[pos]);
		if (n_cuts == 0 || c > cuts[n_cuts - 1])
			cuts[n_cuts++] = c;
	}
	return n_cuts;
}

uint8_t ns__hist_bin_of(const struct ns__hist_bins *b, size_t f, double v)
{
	size_t nc = b->cut_off[f + 1] - b->cut_off[f];
	if (isnan(v))
		return (uint8_t)b->n_bins[f];
	return (uint8_t)lower_bound_flat(b->cuts + b->cut_off[f], nc, v);
}

void ns__hist_bins_fini(struct ns__hist_bins *b)
{
	ns_free(b->codes);
	ns_free(b->n_bins);
	ns_free(b->cuts);
	ns_free(b->cut_off);
	ns_free(b->hist_off);
	ns_free(b->has_missing);
	memset(b, 0, sizeof(*b));
}

enum ns_status ns__hist_bins_build(const struct ns_dataset *d, int max_bins, int n_threads,
				   struct ns__hist_bins *b)
{
	const size_t n = d->n_rows, nf = d->n_features;
	const int nt = ns__threads(n_threads);
	const size_t n_sample = n < NS__HIST_SAMPLE ? n : NS__HIST_SAMPLE;
	const size_t n_blocks = (n + BLOCK_ROWS - 1) / BLOCK_ROWS;
	double *distinct = NULL, *cuts_all = NULL, *sample = NULL;
	size_t *n_cuts = NULL, *many = NULL, n_many = 0;
	bool *few = NULL, *any = NULL;
	uint8_t *blk_missing = NULL;
	enum ns_status st = NS_ERR_NOMEM;

	memset(b, 0, sizeof(*b));
	if (max_bins < 2 || max_bins > NS__HIST_MAX_BINS)
		return NS_ERR_INVALID;
	b->n_rows = n;
	b->n_features = nf;
	if (n && nf > SIZE_MAX / n / 8)
		return NS_ERR_NOMEM;
	b->codes = ns_malloc(nf * n > 0 ? nf * n : 1);
	b->n_bins = ns_calloc(nf ? nf : 1, sizeof(uint16_t));
	b->cut_off = ns_calloc(nf + 1, sizeof(size_t));
	b->hist_off = ns_calloc(nf + 1, sizeof(size_t));
	b->has_missing = ns_calloc(nf ? nf : 1, sizeof(bool));
	n_cuts = ns_calloc(nf ? nf : 1, sizeof(size_t));
	many = ns_calloc(nf ? nf : 1, sizeof(size_t));
	few = ns_calloc(nf ? nf : 1, sizeof(bool));
	any = ns_calloc(nf ? nf : 1, sizeof(bool));
	cuts_all = ns_calloc(nf * (size_t)max_bins + 1, sizeof(double));
	distinct = ns_reallocarray(NULL, (size_t)nt * (size_t)max_bins, sizeof(double));
	blk_missing = ns_calloc(n_blocks * nf + 1, 1);
	if (!b->codes || !b->n_bins || !b->cut_off || !b->hist_off || !b->has_missing || !n_cuts ||
	    !many || !few || !any || !cuts_all || !distinct || !blk_missing)
		goto out;

		/* Features with few values: exact cuts (stops early on the others). */
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
	for (size_t f = 0; f < nf; f++) {
		int t = 0;
#ifdef _OPENMP
		t = omp_get_thread_num();
#endif
		few[f] = few_values_cuts(d, f, max_bins, distinct + (size_t)t * (size_t)max_bins,
					 cuts_all + f * (size_t)max_bins, &n_cuts[f], &any[f]);
	}
	for (size_t f = 0; f < nf; f++)
		if (!few[f]) {
			many[n_many++] = f;
			any[f] = true;
		}

	/*
	 * The others: quantiles of a strided sample of the rows, gathered row by
	 * row for a group of features at a time (one pass over the sampled rows
	 * instead of one strided pass per feature), at most 64 MiB at once.
	 */
	if (n_many) {
		size_t group = ((size_t)64 << 20) / sizeof(double) / (n_sample ? n_sample : 1);
		group = group < 1 ? 1 : (group > n_many ? n_many : group);
		sample = ns_reallocarray(NULL, group * (n_sample ? n_sample : 1), sizeof(double));
		if (!sample)
			goto out;
		for (size_t g0 = 0; g0 < n_many; g0 += group) {
			size_t ng = n_many - g0 < group ? n_many - g0 : group;
#pragma omp parallel num_threads(nt)
			{
#pragma omp for schedule(static)
				for (size_t j = 0; j < n_sample; j++) {
					size_t i = n_sample == n
							   ? j
							   : (size_t)((uint64_t)j * n / n_sample);
					const double *row = d->x + i * nf;
					for (size_t g = 0; g < ng; g++)
						sample[g * n_sample + j] = row[many[g0 + g]];
				}
#pragma omp for schedule(dynamic, 1)
				for (size_t g = 0; g < ng; g++) {
					size_t f = many[g0 + g];
					n_cuts[f] = quantile_cuts(sample + g * n_sample, n_sample,
								  max_bins,
								  cuts_all + f * (size_t)max_bins);
				}
			}
		}
	}

	size_t total = 0;
	for (size_t f = 0; f < nf; f++) {
		b->cut_off[f] = total;
		total += n_cuts[f];
	}
	b->cut_off[nf] = total;
	b->cuts = ns_malloc(total ? total * sizeof(double) : 1);
	if (!b->cuts)
		goto out;
	size_t slots = 0;
	for (size_t f = 0; f < nf; f++) {
		memcpy(b->cuts + b->cut_off[f], cuts_all + f * (size_t)max_bins,
		       n_cuts[f] * sizeof(double));
		/* A column of only NaN has no value bin. */
		b->n_bins[f] = (uint16_t)(any[f] ? n_cuts[f] + 1 : 0);
		b->hist_off[f] = slots;
		slots += b->n_bins[f] + 1u;
	}
	b->hist_off[nf] = slots;

	/* The codes, block by block of rows; NaN seen per block and feature. */
#pragma omp parallel for num_threads(nt) schedule(static)
	for (size_t blk = 0; blk < n_blocks; blk++) {
		size_t i0 = blk * BLOCK_ROWS, i1 = i0 + BLOCK_ROWS < n ? i0 + BLOCK_ROWS : n;
		uint8_t *miss = blk_missing + blk * nf;
		for (size_t i = i0; i < i1; i++) {
			const double *row = d->x + i * nf;
			for (size_t f = 0; f < nf; f++) {
				uint8_t c = ns__hist_bin_of(b, f, row[f]);
				b->codes[f * n + i] = c;
				miss[f] |= isnan(row[f]);
			}
		}
	}
	for (size_t blk = 0; blk < n_blocks; blk++)
		for (size_t f = 0; f < nf; f++)
			b->has_missing[f] |= blk_missing[blk * nf + f];
	st = NS_OK;
out:
	ns_free(distinct);
	ns_free(cuts_all);
	ns_free(sample);
	ns_free(n_cuts);
	ns_free(many);
	ns_free(few);
	ns_free(any);
	ns_free(blk_missing);
	if (st != NS_OK)
		ns__hist_bins_fini(b);
	return st;
}
