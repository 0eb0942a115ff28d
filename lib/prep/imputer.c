/*
 * lib/prep/imputer.c - k-nearest-neighbour imputation as scikit-learn 1.2's
 * KNNImputer (uniform weights, nan_euclidean); see include/netsec/impute.h
 * and docs/impute.md.
 *
 * Transform works one receiver row (a row with a gap) at a time: its
 * distances to every training row are computed once - a SIMD kernel
 * takes four receivers against a feature-major block of 16 training rows,
 * so each loaded value serves four rows - then each of its gaps is filled
 * from the donors of that column.  Groups are shared among OpenMP threads; every row is
 * independent, so the result does not depend on the thread count.
 *
 * Numerics: the squared distance is summed directly over the shared
 * coordinates in column order (scikit-learn expands |a|^2 + |b|^2 - 2ab
 * through BLAS; both are exact on integer-valued data such as the phishing
 * set, and ours is the more accurate on real-valued data).  It is then
 * divided by the shared count, multiplied by d and square-rooted in that
 * order, as scikit-learn does, so equal distances are equal bit for bit.
 *
 * Ties: the neighbours are chosen by a faithful re-implementation of
 * numpy's introselect as np.argpartition(dist, k - 1) runs it (a partial
 * selection sort for k <= 3, median-of-3 quickselect with a
 * median-of-medians fallback otherwise), over the donors in increasing
 * training-row order.  It is not a stable order; reproducing it is what
 * makes ties at equal distance come out as in scikit-learn.
 *
 * Serialised form (little-endian): "NSIMP1\0\0", n (u64), d (u64), k
 * (u32), then the n x d training values (f64 bit patterns, NaN = missing).
 * Everything else is rebuilt on load.
 */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "learn/family.h"
#include "netsec/impute.h"

#define IMP_MAGIC "NSIMP1\0\0"
#define IMP_RB 16 /* training rows per feature-major block */
#define IMP_QM 4 /* receivers per kernel call */
#define IMP_GROUP 16 /* receivers sharing one pass over the training blocks */

struct ns_imputer {
	size_t n, d;
	unsigned k;
	double *x; /* n x d row-major, as fitted (NaN = missing); what is saved */
	/*
	 * The training rows in blocks of IMP_RB, feature-major inside a block
	 * (xb[(b * d + c) * IMP_RB + r]), 0 where missing or past the last
	 * row; pb is 1 where present, else 0.
	 */
	double *xb, *pb;
	size_t *donor_off; /* d + 1: donors of column c are donor_idx[off[c]..off[c+1]) */
	uint32_t *donor_idx; /* training rows, increasing */
	double *mean; /* per column: mean of the present training values */
};

void ns_imputer_free(struct ns_imputer *im)
{
	if (!im)
		return;
	ns_free(im->x);
	ns_free(im->xb);
	ns_free(im->pb);
	ns_free(im->donor_off);
	ns_free(im->donor_idx);
	ns_free(im->mean);
	ns_free(im);
}

size_t ns_imputer_n_features(const struct ns_imputer *im)
{
	return im->d;
}

size_t ns_imputer_n_rows(const struct ns_imputer *im)
{
	return im->n;
}

unsigned ns_imputer_k(const struct ns_imputer *im)
{
	return im->k;
}

/*
 * numpy's pairwise summation (eight accumulators, halves above 128
 * values), so the column means match np.ma.mean to the last bit or so.
 */
static double pairwise_sum(const double *a, size_t n)
{
	if (n < 8) {
		double s = -0.0;
		for (size_t i = 0; i < n; i++)
			s += a[i];
		return s;
	}
	if (n <= 128) {
		double r[8], s;
		size_t i;
		for (int j = 0; j < 8; j++)
			r[j] = a[j];
		for (i = 8; i < n - n % 8; i += 8)
			for (int j = 0; j < 8; j++)
				r[j] += a[i + (size_t)j];
		s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
		for (; i < n; i++)
			s += a[i];
		return s;
	}
	{
		size_t h = n / 2;
		h -= h % 8;
		return pairwise_sum(a, h) + pairwise_sum(a + h, n - h);
	}
}

/*
 * Builds the blocked copies, donor lists and means from im->x.
 * Returns NS_ERR_INVALID with *bad_col set when a column has no value.
 */
static enum ns_status derive(struct ns_imputer *im, size_t *bad_col)
{
	size_t n = im->n, d = im->d, total = 0;
	size_t n_blocks = (n + IMP_RB - 1) / IMP_RB;
	double *col;

	im->xb = ns_calloc(n_blocks * d * IMP_RB, sizeof(double));
	im->pb = ns_calloc(n_blocks * d * IMP_RB, sizeof(double));
	im->donor_off = ns_calloc(d + 1, sizeof(size_t));
	im->mean = ns_calloc(d, sizeof(double));
	col = ns_malloc(n * sizeof(double));
	if (!im->xb || !im->pb || !im->donor_off || !im->mean || !col) {
		ns_free(col);
		return NS_ERR_NOMEM;
	}
	for (size_t c = 0; c < d; c++) {
		size_t count = 0;
		for (size_t r = 0; r < n; r++) {
			double v = im->x[r * d + c];
			bool here = !isnan(v);
			size_t at = ((r / IMP_RB) * d + c) * IMP_RB + r % IMP_RB;
			col[r] = here ? v : 0.0;
			im->xb[at] = col[r];
			im->pb[at] = here ? 1.0 : 0.0;
			count += here;
		}
		if (count == 0) {
			ns_free(col);
			*bad_col = c;
			return NS_ERR_INVALID;
		}
		/* np.ma mean: the sum of the column with gaps as 0, over the count. */
		im->mean[c] = pairwise_sum(col, n) * 1.0 / (double)count;
		im->donor_off[c] = total;
		total += count;
	}
	ns_free(col);
	im->donor_off[d] = total;
	im->donor_idx = ns_malloc(total * sizeof(uint32_t));
	if (!im->donor_idx)
		return NS_ERR_NOMEM;
	for (size_t c = 0; c < d; c++) {
		size_t o = im->donor_off[c];
		for (size_t r = 0; r < n; r++)
			if (!isnan(im->x[r * d + c]))
				im->donor_idx[o++] = (uint32_t)r;
	}
	return NS_OK;
}

/* ---- numpy's argpartition ----------------------------------------------------
 *
 * The functions below order t[0..num) by the values v[0..num) exactly as
 * numpy 1.24's introselect orders np.argpartition's output: the values
 * travel with their indices (numpy swaps only the indices and looks the
 * values up; the comparisons, hence the order, are the same, and a
 * contiguous array is faster to scan).  After select_nth(v, t, num, kth),
 * t[kth] holds the kth smallest, t[0..kth) ones not larger, and among equal
 * values the places follow numpy's swaps.  NaN sorts after every number.
 * Signed indices, as in numpy, keep the unguarded scans simple.
 */

static inline bool np_less(double a, double b)
{
	return a < b || (b != b && a == a);
}

static inline void swap_at(double *v, uint32_t *t, ptrdiff_t i, ptrdiff_t j)
{
	double w = v[i];
	uint32_t s = t[i];
	v[i] = v[j];
	v[j] = w;
	t[i] = t[j];
	t[j] = s;
}

/*
 * Place of the first smallest of v[from..num) under np_less: NaN loses to
 * any number, so once a number is held a plain < decides; distances are
 * never below +0, so a 0 ends the scan (nothing later can be smaller).
 */
static ptrdiff_t first_min(const double *v, ptrdiff_t from, ptrdiff_t num, bool nonneg)
{
	ptrdiff_t best = from, j = from + 1;
	double bv = v[from];
	if (isnan(bv))
		for (; j < num; j++)
			if (!isnan(v[j])) {
				best = j;
				bv = v[j++];
				break;
			}
	if (nonneg && bv == 0.0)
		return best;
	for (; j < num; j++)
		if (v[j] < bv) {
			best = j;
			bv = v[j];
			if (nonneg && bv == 0.0)
				break;
		}
	return best;
}

/*
 * Partial selection sort of the first kth + 1 places (numpy for kth < 3).
 * `nonneg`: the values are known to be NaN or >= +0.
 */
static void select_small(double *v, uint32_t *t, ptrdiff_t num, ptrdiff_t kth, bool nonneg)
{
	for (ptrdiff_t i = 0; i <= kth; i++)
		swap_at(v, t, i, first_min(v, i, num, nonneg));
}

/* Index (0..4) of the median of places 0..4, after numpy's compare-swap network. */
static ptrdiff_t median5(double *v, uint32_t *t)
{
	if (np_less(v[1], v[0]))
		swap_at(v, t, 1, 0);
	if (np_less(v[4], v[3]))
		swap_at(v, t, 4, 3);
	if (np_less(v[3], v[0]))
		swap_at(v, t, 3, 0);
	if (np_less(v[4], v[1]))
		swap_at(v, t, 4, 1);
	if (np_less(v[2], v[1]))
		swap_at(v, t, 2, 1);
	if (np_less(v[3], v[2]))
		return np_less(v[3], v[1]) ? 1 : 3;
	return 2;
}

static void select_nth(double *v, uint32_t *t, ptrdiff_t num, ptrdiff_t kth, bool nonneg);

/* Median of the medians of groups of five: its place in 0..num. */
static ptrdiff_t median_of_medians(double *v, uint32_t *t, ptrdiff_t num)
{
	ptrdiff_t n_med = num / 5;
	for (ptrdiff_t i = 0; i < n_med; i++) {
		ptrdiff_t m = median5(v + 5 * i, t + 5 * i);
		swap_at(v, t, 5 * i + m, i);
	}
	if (n_med > 2)
		select_nth(v, t, n_med, n_med / 2, false);
	return n_med / 2;
}

static int msb(ptrdiff_t n)
{
	int b = 0;
	size_t u = (size_t)n;
	while (u >>= 1)
		b++;
	return b;
}

static void select_nth(double *v, uint32_t *t, ptrdiff_t num, ptrdiff_t kth, bool nonneg)
{
	ptrdiff_t lo = 0, hi = num - 1;
	int depth;

	if (kth < 3) {
		select_small(v, t, num, kth, nonneg);
		return;
	}
	if (kth == num - 1) {
		/* numpy's shortcut: the last maximum (NaN counts as largest) to the end. */
		ptrdiff_t best = 0;
		double bv = v[0];
		for (ptrdiff_t j = 1; j < num; j++)
			if (!np_less(v[j], bv)) {
				best = j;
				bv = v[j];
			}
		swap_at(v, t, kth, best);
		return;
	}
	depth = 2 * msb(num);
	while (lo + 1 < hi) {
		ptrdiff_t ll = lo + 1, hh = hi;
		double pivot;
		if (depth > 0 || hh - ll < 5) {
			/* Median of three to lo, the smallest of them to lo + 1. */
			ptrdiff_t mid = lo + (hi - lo) / 2;
			if (np_less(v[hi], v[mid]))
				swap_at(v, t, hi, mid);
			if (np_less(v[hi], v[lo]))
				swap_at(v, t, hi, lo);
			if (np_less(v[lo], v[mid]))
				swap_at(v, t, lo, mid);
			swap_at(v, t, mid, lo + 1);
		} else {
			ptrdiff_t mid = ll + median_of_medians(v + ll, t + ll, hh - ll);
			swap_at(v, t, mid, lo);
			ll--;
			hh++;
		}
		depth--;
		pivot = v[lo];
		for (;;) {
			do
				ll++;
			while (np_less(v[ll], pivot));
			do
				hh--;
			while (np_less(pivot, v[hh]));
			if (hh < ll)
				break;
			swap_at(v, t, ll, hh);
		}
		swap_at(v, t, lo, hh);
		if (hh >= kth)
			hi = hh - 1;
		if (hh <= kth)
			lo = ll;
	}
	if (hi == lo + 1 && np_less(v[hi], v[lo]))
		swap_at(v, t, hi, lo);
}

/* ---- fit ------------------------------------------------------------------ */

enum ns_status ns_imputer_fit(const double *x, size_t n, size_t d, unsigned k,
			      struct ns_imputer **out, struct ns_diag *diag)
{
	struct ns_imputer *im;
	size_t bad_col = 0;
	enum ns_status st;

	if (n == 0 || d == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "imputer: no training data (%zu x %zu)", n,
				   d);
	if (k == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "imputer: k must be at least 1");
	if (n > NS_IMPUTER_MAX_ROWS || d > NS_IMPUTER_MAX_FEATURES ||
	    n > SIZE_MAX / sizeof(double) / d)
		return ns_diag_set(diag, NS_ERR_LIMIT,
				   "imputer: %zu x %zu training values is too large", n, d);
	for (size_t i = 0; i < n * d; i++)
		if (isinf(x[i])) {
			ns_diag_where(diag, NULL, i / d + 1, i % d + 1, NULL);
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "imputer: row %zu, column %zu is infinite", i / d,
					   i % d);
		}
	im = ns_calloc(1, sizeof(*im));
	if (!im)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	im->n = n;
	im->d = d;
	im->k = k;
	im->x = ns_malloc(n * d * sizeof(double));
	if (!im->x) {
		ns_imputer_free(im);
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
	memcpy(im->x, x, n * d * sizeof(double));
	st = derive(im, &bad_col);
	if (st != NS_OK) {
		ns_imputer_free(im);
		if (st == NS_ERR_INVALID) {
			ns_diag_where(diag, NULL, 0, bad_col + 1, NULL);
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "imputer: column %zu (0-based) is missing in every "
					   "training row, so nothing can fill it",
					   bad_col);
		}
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
	*out = im;
	return NS_OK;
}

/* ---- transform -------------------------------------------------------------- */

/* Per-thread scratch, carved from one allocation. */
struct scratch {
	double *dist; /* IMP_GROUP x n: each receiver's distances */
	double *a; /* IMP_GROUP x d: receiver values, 0 where missing */
	double *w; /* IMP_GROUP x d: 1 where the receiver has a value, else 0 */
	double *val; /* n: distances to one column's donors, for argpartition */
	uint32_t *idx; /* n: donor places, for argpartition */
};

static size_t scratch_bytes(size_t n, size_t d)
{
	return (IMP_GROUP * n + 2 * IMP_GROUP * d + n) * sizeof(double) + n * sizeof(uint32_t);
}

static void scratch_carve(struct scratch *s, void *mem, size_t n, size_t d)
{
	double *p = mem;
	s->dist = p;
	p += IMP_GROUP * n;
	s->a = p;
	p += IMP_GROUP * d;
	s->w = p;
	p += IMP_GROUP * d;
	s->val = p;
	p += n;
	s->idx = (uint32_t *)(void *)p;
}

/*
 * Built for AVX2 and AVX-512 too, chosen at run time.  The sums stay in
 * column order and ISO C mode keeps the compiler from contracting them
 * into FMAs, so every clone gives the same bits.
 */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define IMP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define IMP_CLONES
#endif

/*
 * Squared distances over the shared coordinates, and the number of shared
 * coordinates, from IMP_QM receivers to the IMP_RB rows of one block: for
 * each row the squared differences are added in column order, one per
 * coordinate (the sum a naive loop over the features gives).  A coordinate
 * missing on either side is weighted by 0 before squaring - (a - 0) * 0 is
 * an exact 0 for any finite a, where 0 * a^2 could be 0 * inf - and adding
 * +0 changes no sum.  The counts are small integers, exact in doubles.
 */
IMP_CLONES static void kernel_sq(const double *const a[IMP_QM], const double *const w[IMP_QM],
				 const double *tb, const double *pb, size_t d,
				 double sq[IMP_QM][IMP_RB], double cnt[IMP_QM][IMP_RB])
{
	double s0[IMP_RB] = {0}, s1[IMP_RB] = {0}, s2[IMP_RB] = {0}, s3[IMP_RB] = {0};
	double c0[IMP_RB] = {0}, c1[IMP_RB] = {0}, c2[IMP_RB] = {0}, c3[IMP_RB] = {0};
	for (size_t c = 0; c < d; c++) {
		const double *t = tb + c * IMP_RB, *p = pb + c * IMP_RB;
		const double v0 = a[0][c], v1 = a[1][c], v2 = a[2][c], v3 = a[3][c];
		const double w0 = w[0][c], w1 = w[1][c], w2 = w[2][c], w3 = w[3][c];
		for (int r = 0; r < IMP_RB; r++) {
			double q0 = p[r] * w0, q1 = p[r] * w1, q2 = p[r] * w2, q3 = p[r] * w3;
			double e0 = (v0 - t[r]) * q0, e1 = (v1 - t[r]) * q1;
			double e2 = (v2 - t[r]) * q2, e3 = (v3 - t[r]) * q3;
			s0[r] += e0 * e0;
			s1[r] += e1 * e1;
			s2[r] += e2 * e2;
			s3[r] += e3 * e3;
			c0[r] += q0;
			c1[r] += q1;
			c2[r] += q2;
			c3[r] += q3;
		}
	}
	memcpy(sq[0], s0, sizeof(s0));
	memcpy(sq[1], s1, sizeof(s1));
	memcpy(sq[2], s2, sizeof(s2));
	memcpy(sq[3], s3, sizeof(s3));
	memcpy(cnt[0], c0, sizeof(c0));
	memcpy(cnt[1], c1, sizeof(c1));
	memcpy(cnt[2], c2, sizeof(c2));
	memcpy(cnt[3], c3, sizeof(c3));
}

/* Distances from receivers [0, g) of the group to every training row. */
static void distances(const struct ns_imputer *im, struct scratch *s, size_t g)
{
	size_t n = im->n, d = im->d;
	double dd = (double)d;
	for (size_t b = 0; b * IMP_RB < n; b++) {
		const double *tb = im->xb + b * d * IMP_RB, *pb = im->pb + b * d * IMP_RB;
		size_t j0 = b * IMP_RB, m = n - j0 < IMP_RB ? n - j0 : IMP_RB;
		for (size_t q = 0; q < g; q += IMP_QM) {
			const double *a[IMP_QM], *w[IMP_QM];
			double sq[IMP_QM][IMP_RB], cnt[IMP_QM][IMP_RB];
			for (size_t i = 0; i < IMP_QM; i++) {
				/* Past the group's end: a copy of a real receiver, ignored. */
				size_t qi = q + i < g ? q + i : q;
				a[i] = s->a + qi * d;
				w[i] = s->w + qi * d;
			}
			kernel_sq(a, w, tb, pb, d, sq, cnt);
			for (size_t i = 0; i < IMP_QM && q + i < g; i++) {
				double *out = s->dist + (q + i) * n + j0;
				/* As scikit-learn: over the shared count, times d, root. */
				for (size_t r = 0; r < m; r++)
					out[r] = cnt[i][r] > 0 ? sqrt(sq[i][r] / cnt[i][r] * dd)
							       : NAN;
			}
		}
	}
}

/* The value scikit-learn imputes for column c of a receiver with distances dist. */
static double impute_cell(const struct ns_imputer *im, const double *dist, struct scratch *s,
			  size_t c)
{
	const uint32_t *donors = im->donor_idx + im->donor_off[c];
	size_t m = im->donor_off[c + 1] - im->donor_off[c], nn;
	size_t n_defined = 0;
	double sum = 0.0;

	/* The distances to this column's donors, in training-row order. */
	for (size_t t = 0; t < m; t++) {
		double v = dist[donors[t]];
		s->val[t] = v;
		s->idx[t] = (uint32_t)t;
		n_defined += !isnan(v);
	}
	if (n_defined == 0)
		return im->mean[c];
	nn = im->k < m ? im->k : m;
	select_nth(s->val, s->idx, (ptrdiff_t)m, (ptrdiff_t)nn - 1, true);
	/* Uniform weights: every chosen donor counts, NaN distance or not. */
	for (size_t t = 0; t < nn; t++)
		sum += im->x[(size_t)donors[s->idx[t]] * im->d + c];
	return sum * 1.0 / (double)nn;
}

/* Fills receivers rows[0..g) of x. */
static void impute_group(const struct ns_imputer *im, struct scratch *s, double *x,
			 const size_t *rows, size_t g)
{
	size_t d = im->d;
	for (size_t i = 0; i < g; i++) {
		const double *row = x + rows[i] * d;
		double *a = s->a + i * d, *w = s->w + i * d;
		for (size_t c = 0; c < d; c++) {
			bool here = !isnan(row[c]);
			a[c] = here ? row[c] : 0.0;
			w[c] = here ? 1.0 : 0.0;
		}
	}
	distances(im, s, g);
	/* Distances are all known before this group's rows change. */
	for (size_t i = 0; i < g; i++) {
		double *row = x + rows[i] * d;
		for (size_t c = 0; c < d; c++)
			if (isnan(row[c]))
				row[c] = impute_cell(im, s->dist + i * im->n, s, c);
	}
}

enum ns_status ns_imputer_transform(const struct ns_imputer *im, double *x, size_t n,
				    size_t *filled, struct ns_diag *diag)
{
	size_t d = im->d, n_recv = 0, n_nan = 0, n_groups, sb;
	size_t *rows = NULL;
	unsigned char *mem = NULL;
	int nt;

	if (n && n > SIZE_MAX / sizeof(double) / d)
		return ns_diag_set(diag, NS_ERR_LIMIT, "imputer: the data is too large");
	for (size_t r = 0; r < n; r++) {
		size_t gaps = 0;
		for (size_t c = 0; c < d; c++) {
			double v = x[r * d + c];
			if (isinf(v)) {
				ns_diag_where(diag, NULL, r + 1, c + 1, NULL);
				return ns_diag_set(diag, NS_ERR_INVALID,
						   "imputer: row %zu, column %zu is infinite", r,
						   c);
			}
			gaps += isnan(v) != 0;
		}
		n_nan += gaps;
		n_recv += gaps > 0;
	}
	if (n_recv == 0)
		goto done;
	rows = ns_malloc(n_recv * sizeof(size_t));
	if (!rows)
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	n_recv = 0;
	for (size_t r = 0; r < n; r++)
		for (size_t c = 0; c < d; c++)
			if (isnan(x[r * d + c])) {
				rows[n_recv++] = r;
				break;
			}
	n_groups = (n_recv + IMP_GROUP - 1) / IMP_GROUP;
	nt = ns__threads(0);
	if (nt > omp_get_max_threads()) /* OMP_NUM_THREADS caps it */
		nt = omp_get_max_threads();
	if ((size_t)nt > n_groups)
		nt = (int)n_groups;
	if ((double)n_recv * (double)im->n * (double)d < 2e6)
		nt = 1;
	sb = scratch_bytes(im->n, d);
	sb = (sb + 63) / 64 * 64; /* threads' scratch areas 64-byte multiples apart */
	mem = ns_malloc(sb * (size_t)nt);
	if (!mem) {
		ns_free(rows);
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
#pragma omp parallel num_threads(nt) if (nt > 1)
	{
		struct scratch s;
		scratch_carve(&s, mem + sb * (size_t)omp_get_thread_num(), im->n, d);
#pragma omp for schedule(dynamic, 1)
		for (long gi = 0; gi < (long)n_groups; gi++) {
			size_t r0 = (size_t)gi * IMP_GROUP;
			size_t g = n_recv - r0 < IMP_GROUP ? n_recv - r0 : IMP_GROUP;
			impute_group(im, &s, x, rows + r0, g);
		}
	}
	ns_free(mem);
	ns_free(rows);
done:
	if (filled)
		*filled = n_nan;
	return NS_OK;
}

/* ---- serialisation ------------------------------------------------------------- */

enum ns_status ns_imputer_to_buffer(const struct ns_imputer *im, uint8_t **out, size_t *len)
{
	struct ns__wbuf w;
	ns__w_init(&w);
	ns__w_bytes(&w, IMP_MAGIC, 8);
	ns__w_u64(&w, im->n);
	ns__w_u64(&w, im->d);
	ns__w_u32(&w, im->k);
	ns__w_f64s(&w, im->x, im->n * im->d);
	if (w.failed) {
		ns__w_fini(&w);
		return NS_ERR_NOMEM;
	}
	*out = w.data;
	*len = w.len;
	return NS_OK;
}

enum ns_status ns_imputer_from_buffer(const uint8_t *buf, size_t len, struct ns_imputer **out,
				      struct ns_diag *diag)
{
	struct ns__rbuf r;
	struct ns_imputer *im = NULL;
	char magic[8];
	uint64_t n, d;
	uint32_t k;
	size_t bad_col = 0;
	enum ns_status st;

	ns__r_init(&r, buf, len);
	if (!ns__r_bytes(&r, magic, 8) || memcmp(magic, IMP_MAGIC, 8) != 0)
		return ns_diag_set(diag, NS_ERR_CORRUPT, "not a netsec imputer");
	n = ns__r_u64(&r);
	d = ns__r_u64(&r);
	k = ns__r_u32(&r);
	/* The values must fill exactly the rest of the buffer. */
	if (r.bad || n == 0 || d == 0 || k == 0 || n > NS_IMPUTER_MAX_ROWS ||
	    d > NS_IMPUTER_MAX_FEATURES || n > (len - r.off) / 8 / d || n * d * 8 != len - r.off)
		goto corrupt;
	im = ns_calloc(1, sizeof(*im));
	if (!im)
		goto nomem;
	im->n = (size_t)n;
	im->d = (size_t)d;
	im->k = k;
	im->x = ns__r_f64s(&r, im->n * im->d);
	if (!im->x)
		goto nomem; /* the length was checked above */
	if (!ns__r_done(&r))
		goto corrupt;
	for (size_t i = 0; i < im->n * im->d; i++)
		if (isinf(im->x[i]))
			goto corrupt;
	st = derive(im, &bad_col);
	if (st == NS_ERR_INVALID)
		goto corrupt;
	if (st != NS_OK)
		goto nomem;
	*out = im;
	return NS_OK;
corrupt:
	ns_imputer_free(im);
	return ns_diag_set(diag, NS_ERR_CORRUPT, "corrupt imputer data");
nomem:
	ns_imputer_free(im);
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}
