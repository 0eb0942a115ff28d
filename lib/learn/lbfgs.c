/*
 * lib/learn/lbfgs.c - L-BFGS with a Moré–Thuente line search, shaped after
 * SciPy's L-BFGS-B without bounds (see lbfgs.h for the rules it keeps).
 *
 * Without bounds, L-BFGS-B's generalised Cauchy point and subspace
 * minimisation reduce to the quasi-Newton step d = -H g, where H is the
 * inverse of the compact L-BFGS matrix built from theta * I and the last m
 * pairs, theta = y'y / s'y.  The two-loop recursion below computes the same
 * H g (H0 = I / theta) in O(m n); results differ from SciPy only by rounding.
 *
 * The line search is MINPACK-2's dcsrch/dcstep (Moré and Thuente, 1994),
 * written here as a small state machine: dcsrch() is called with f and g'd at
 * the current trial step and returns whether to evaluate another step.
 *
 * Numerics: all arithmetic is sequential double precision in a fixed order,
 * so a run is deterministic for a deterministic objective.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "learn/lbfgs.h"

void ns__lbfgs_options_default(struct ns__lbfgs_options *o)
{
	o->m = 10;
	o->max_iter = 15000;
	o->max_fun = 15000;
	o->max_ls = 20;
	o->pgtol = 1e-5;
	o->ftol = 2.2204460492503131e-09;
}

const char *ns__lbfgs_stop_name(enum ns__lbfgs_stop stop)
{
	switch (stop) {
	case NS__LBFGS_PGTOL:
		return "gradient";
	case NS__LBFGS_FTOL:
		return "reduction";
	case NS__LBFGS_MAX_ITER:
		return "max_iter";
	case NS__LBFGS_MAX_FUN:
		return "max_fun";
	case NS__LBFGS_ABNORMAL:
		return "line_search";
	}
	return "?";
}

/* ---- Moré–Thuente line search (MINPACK-2 dcsrch / dcstep) ------------------ */

enum ls_task { LS_FG, LS_CONVERGED, LS_WARNING, LS_ERROR };

struct ls_state {
	bool brackt;
	int stage;
	double ftol, gtol, xtol, stpmin, stpmax;
	double finit, ginit, gtest, width, width1;
	double stx, fx, gx, sty, fy, gy, stmin, stmax;
};

/*
 * One safeguarded step: updates the interval [stx, sty] that contains a step
 * satisfying the sufficient decrease and curvature conditions, and proposes
 * the next trial step in *stp (cubic or quadratic interpolation, depending on
 * which of the four cases of Moré–Thuente applies).
 */
static void dcstep(double *stx, double *fx, double *dx, double *sty, double *fy, double *dy,
		   double *stp, double fp, double dp, bool *brackt, double stpmin, double stpmax)
{
	double sgnd = dp * (*dx / fabs(*dx));
	double theta, s, gamma, p, q, r, stpc, stpq, stpf;

	if (fp > *fx) {
		/* Case 1: higher function value; the minimum is bracketed. */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
		gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
		if (*stp < *stx)
			gamma = -gamma;
		p = (gamma - *dx) + theta;
		q = ((gamma - *dx) + gamma) + dp;
		r = p / q;
		stpc = *stx + r * (*stp - *stx);
		stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
		if (fabs(stpc - *stx) < fabs(stpq - *stx))
			stpf = stpc;
		else
			stpf = stpc + (stpq - stpc) / 2.0;
		*brackt = true;
	} else if (sgnd < 0.0) {
		/* Case 2: lower value, derivatives of opposite sign; bracketed. */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
		gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
		if (*stp > *stx)
			gamma = -gamma;
		p = (gamma - dp) + theta;
		q = ((gamma - dp) + gamma) + *dx;
		r = p / q;
		stpc = *stp + r * (*stx - *stp);
		stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
		if (fabs(stpc - *stp) > fabs(stpq - *stp))
			stpf = stpc;
		else
			stpf = stpq;
		*brackt = true;
	} else if (fabs(dp) < fabs(*dx)) {
		/* Case 3: lower value, same sign, the derivative decreases in size. */
		theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
		s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
		gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
		if (*stp > *stx)
			gamma = -gamma;
		p = (gamma - dp) + theta;
		q = (gamma + (*dx - dp)) + gamma;
		r = p / q;
		if (r < 0.0 && gamma != 0.0)
			stpc = *stp + r * (*stx - *stp);
		else if (*stp > *stx)
			stpc = stpmax;
		else
			stpc = stpmin;
		stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
		if (*brackt) {
			stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
			if (*stp > *stx)
				stpf = fmin(*stp + 0.66 * (*sty - *stp), stpf);
			else
				stpf = fmax(*stp + 0.66 * (*sty - *stp), stpf);
		} else {
			stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
			stpf = fmin(stpmax, stpf);
			stpf = fmax(stpmin, stpf);
		}
	} else {
		/* Case 4: lower value, same sign, the derivative does not decrease. */
		if (*brackt) {
			theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
			s = fmax(fabs(theta), fmax(fabs(*dy), fabs(dp)));
			gamma = s * sqrt((theta / s) * (theta / s) - (*dy / s) * (dp / s));
			if (*stp > *sty)
				gamma = -gamma;
			p = (gamma - dp) + theta;
			q = ((gamma - dp) + gamma) + *dy;
			r = p / q;
			stpc = *stp + r * (*sty - *stp);
			stpf = stpc;
		} else if (*stp > *stx) {
			stpf = stpmax;
		} else {
			stpf = stpmin;
		}
	}

	if (fp > *fx) {
		*sty = *stp;
		*fy = fp;
		*dy = dp;
	} else {
		if (sgnd < 0.0) {
			*sty = *stx;
			*fy = *fx;
			*dy = *dx;
		}
		*stx = *stp;
		*fx = fp;
		*dx = dp;
	}
	*stp = stpf;
}

/* Starts a search at step *stp with f and g = f'(0) along the direction. */
static enum ls_task dcsrch_start(struct ls_state *s, double f, double g, double stp)
{
	if (stp < s->stpmin || stp > s->stpmax || g >= 0.0)
		return LS_ERROR;
	s->brackt = false;
	s->stage = 1;
	s->finit = f;
	s->ginit = g;
	s->gtest = s->ftol * g;
	s->width = s->stpmax - s->stpmin;
	s->width1 = s->width / 0.5;
	s->stx = 0.0;
	s->fx = f;
	s->gx = g;
	s->sty = 0.0;
	s->fy = f;
	s->gy = g;
	s->stmin = 0.0;
	s->stmax = stp + 4.0 * stp;
	return LS_FG;
}

/* Takes f and g at *stp; returns LS_FG with a new *stp to evaluate, or the end. */
static enum ls_task dcsrch(struct ls_state *s, double f, double g, double *stp)
{
	double ftest = s->finit + *stp * s->gtest;
	enum ls_task task = LS_FG;

	if (s->stage == 1 && f <= ftest && g >= 0.0)
		s->stage = 2;
	if (s->brackt && (*stp <= s->stmin || *stp >= s->stmax))
		task = LS_WARNING; /* rounding errors prevent progress */
	if (s->brackt && s->stmax - s->stmin <= s->xtol * s->stmax)
		task = LS_WARNING; /* xtol test satisfied */
	if (*stp == s->stpmax && f <= ftest && g <= s->gtest)
		task = LS_WARNING; /* stp = stpmax */
	if (*stp == s->stpmin && (f > ftest || g >= s->gtest))
		task = LS_WARNING; /* stp = stpmin */
	if (f <= ftest && fabs(g) <= s->gtol * (-s->ginit))
		task = LS_CONVERGED;
	if (task != LS_FG)
		return task;

	if (s->stage == 1 && f <= s->fx && f > ftest) {
		/* Modified function psi(stp) = f(stp) - f(0) - ftol stp f'(0). */
		double fm = f - *stp * s->gtest;
		double fxm = s->fx - s->stx * s->gtest;
		double fym = s->fy - s->sty * s->gtest;
		double gm = g - s->gtest;
		double gxm = s->gx - s->gtest;
		double gym = s->gy - s->gtest;
		dcstep(&s->stx, &fxm, &gxm, &s->sty, &fym, &gym, stp, fm, gm, &s->brackt, s->stmin,
		       s->stmax);
		s->fx = fxm + s->stx * s->gtest;
		s->fy = fym + s->sty * s->gtest;
		s->gx = gxm + s->gtest;
		s->gy = gym + s->gtest;
	} else {
		dcstep(&s->stx, &s->fx, &s->gx, &s->sty, &s->fy, &s->gy, stp, f, g, &s->brackt,
		       s->stmin, s->stmax);
	}

	if (s->brackt) {
		if (fabs(s->sty - s->stx) >= 0.66 * s->width1)
			*stp = s->stx + 0.5 * (s->sty - s->stx);
		s->width1 = s->width;
		s->width = fabs(s->sty - s->stx);
		s->stmin = fmin(s->stx, s->sty);
		s->stmax = fmax(s->stx, s->sty);
	} else {
		s->stmin = *stp + 1.1 * (*stp - s->stx);
		s->stmax = *stp + 4.0 * (*stp - s->stx);
	}
	*stp = fmax(*stp, s->stpmin);
	*stp = fmin(*stp, s->stpmax);
	if ((s->brackt && (*stp <= s->stmin || *stp >= s->stmax)) ||
	    (s->brackt && s->stmax - s->stmin <= s->xtol * s->stmax))
		*stp = s->stx;
	return LS_FG;
}

/* ---- the iteration ------------------------------------------------------------ */

static double dot(size_t n, const double *a, const double *b)
{
	double s = 0.0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double max_abs(size_t n, const double *a)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++) {
		double v = fabs(a[i]);
		if (v > m || isnan(v))
			m = v;
	}
	return m;
}

static bool all_finite(size_t n, const double *a)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(a[i]))
			return false;
	return true;
}

enum ns_status ns__lbfgs_minimize(size_t n, double *x, ns__lbfgs_fn fn, void *ctx,
				  const struct ns__lbfgs_options *o, struct ns__lbfgs_result *res)
{
	const double big = 1e10; /* L-BFGS-B's maximum step without bounds */
	size_t m;
	double *work = NULL, *g, *d, *xold, *gold, *sv, *yv, *rho, *alpha;
	double f, fold, theta = 1.0, pg;
	long iter = 0, nfun = 0;
	size_t col = 0, head = 0; /* pairs stored; index of the oldest */
	enum ns__lbfgs_stop stop;

	if (n == 0 || !x || !fn || !o || !res || o->m < 1 || o->max_ls < 1 || o->max_iter < 1 ||
	    o->max_fun < 1 || !(o->pgtol >= 0) || !(o->ftol >= 0))
		return NS_ERR_INVALID;
	m = (size_t)o->m;
	/* g, d, xold, gold: 4n; s, y: 2mn; rho, alpha: 2m. */
	if (n > (SIZE_MAX / sizeof(double) - 2 * m) / (4 + 2 * m))
		return NS_ERR_NOMEM;
	work = ns_malloc(((4 + 2 * m) * n + 2 * m) * sizeof(double));
	if (!work)
		return NS_ERR_NOMEM;
	g = work;
	d = g + n;
	xold = d + n;
	gold = xold + n;
	sv = gold + n;
	yv = sv + m * n;
	rho = yv + m * n;
	alpha = rho + m;

	f = fn(ctx, x, g);
	nfun = 1;
	pg = max_abs(n, g);
	if (pg <= o->pgtol) {
		stop = NS__LBFGS_PGTOL;
		goto done;
	}

	for (;;) {
		struct ls_state ls;
		enum ls_task task;
		double stp, gd, gdold, dnorm;
		long ifun = 0;
		bool failed = false;

		/* Direction: -g on a fresh memory, else the two-loop recursion. */
		if (col == 0) {
			for (size_t i = 0; i < n; i++)
				d[i] = -g[i];
		} else {
			for (size_t i = 0; i < n; i++)
				d[i] = g[i];
			for (size_t c = col; c-- > 0;) {
				size_t k = (head + c) % m;
				double a = rho[k] * dot(n, sv + k * n, d);
				alpha[k] = a;
				for (size_t i = 0; i < n; i++)
					d[i] -= a * yv[k * n + i];
			}
			for (size_t i = 0; i < n; i++)
				d[i] /= theta;
			for (size_t c = 0; c < col; c++) {
				size_t k = (head + c) % m;
				double b = rho[k] * dot(n, yv + k * n, d);
				for (size_t i = 0; i < n; i++)
					d[i] += sv[k * n + i] * (alpha[k] - b);
			}
			for (size_t i = 0; i < n; i++)
				d[i] = -d[i];
		}

		/* Line search from x along d. */
		dnorm = sqrt(dot(n, d, d));
		stp = iter == 0 ? fmin(1.0 / dnorm, big) : 1.0;
		memcpy(xold, x, n * sizeof(double));
		memcpy(gold, g, n * sizeof(double));
		fold = f;
		gdold = gd = dot(n, g, d);
		ls.ftol = 1e-3;
		ls.gtol = 0.9;
		ls.xtol = 0.1;
		ls.stpmin = 0.0;
		ls.stpmax = big;
		if (!(gd < 0.0) || !isfinite(stp)) {
			failed = true; /* not a descent direction */
		} else {
			task = dcsrch_start(&ls, f, gd, stp);
			for (;;) {
				if (task == LS_ERROR) {
					failed = true;
					break;
				}
				if (task != LS_FG)
					break;
				/* L-BFGS-B gives up once maxls evaluations are spent. */
				if (ifun >= o->max_ls) {
					failed = true;
					break;
				}
				for (size_t i = 0; i < n; i++)
					x[i] = stp * d[i] + xold[i];
				f = fn(ctx, x, g);
				nfun++;
				ifun++;
				gd = dot(n, g, d);
				if (!isfinite(f) || !isfinite(gd) || !all_finite(n, g)) {
					failed = true;
					break;
				}
				task = dcsrch(&ls, f, gd, &stp);
			}
		}
		if (failed) {
			memcpy(x, xold, n * sizeof(double));
			memcpy(g, gold, n * sizeof(double));
			f = fold;
			if (col == 0) {
				/* Already along -g with no memory: nothing left to try. */
				iter++;
				stop = NS__LBFGS_ABNORMAL;
				goto done;
			}
			col = 0;
			head = 0;
			theta = 1.0;
			continue;
		}

		/* An accepted step ("NEW_X"). */
		iter++;
		pg = max_abs(n, g);
		if (iter >= o->max_iter) {
			stop = NS__LBFGS_MAX_ITER;
			goto done;
		}
		if (nfun > o->max_fun) {
			stop = NS__LBFGS_MAX_FUN;
			goto done;
		}
		if (pg <= o->pgtol) {
			stop = NS__LBFGS_PGTOL;
			goto done;
		}
		if (fold - f <= o->ftol * fmax(fmax(fabs(fold), fabs(f)), 1.0)) {
			stop = NS__LBFGS_FTOL;
			goto done;
		}

		/* Store s = stp d and y = g - gold unless the curvature is too small. */
		{
			double dr = (gd - gdold) * stp, ddum = -gdold * stp, rr;
			size_t k;
			if (dr <= DBL_EPSILON * ddum)
				continue;
			if (col < m) {
				k = (head + col) % m;
				col++;
			} else {
				k = head;
				head = (head + 1) % m;
			}
			for (size_t i = 0; i < n; i++) {
				sv[k * n + i] = stp * d[i];
				yv[k * n + i] = g[i] - gold[i];
			}
			rr = dot(n, yv + k * n, yv + k * n);
			rho[k] = 1.0 / dr;
			theta = rr / dr;
		}
	}

done:
	res->n_iter = iter;
	res->n_fun = nfun;
	res->f = f;
	res->pg_norm = max_abs(n, g);
	res->stop = stop;
	ns_free(work);
	return NS_OK;
}
