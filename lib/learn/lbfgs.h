/*
 * lib/learn/lbfgs.h - limited-memory BFGS minimiser for smooth unconstrained
 * problems (internal, not API).
 *
 * The iteration follows SciPy's L-BFGS-B (v3.0, Zhu, Byrd, Lu, Nocedal) run
 * without bounds, which is what scikit-learn's "lbfgs" solver calls: m
 * correction pairs, the first step scaled to 1/||g||, a Moré–Thuente line
 * search (MINPACK-2 dcsrch: ftol 1e-3, gtol 0.9, xtol 0.1) that satisfies the
 * strong Wolfe conditions, updates skipped when s'y <= eps * (-g's), a
 * memory reset when a line search fails, and the same stopping rules in the
 * same order: max |g_i| <= pgtol, (f_old - f) / max(|f_old|, |f|, 1) <= ftol,
 * and the iteration / evaluation limits.
 *
 * Threading: one call uses one thread (the objective may use more); it holds
 * no global state.  Errors: NS_ERR_NOMEM, NS_ERR_INVALID (bad options).
 */
#ifndef NETSEC_LEARN_LBFGS_H
#define NETSEC_LEARN_LBFGS_H

#include <stddef.h>

#include "netsec/core.h"

/*
 * The objective: returns f(x) and writes the gradient at x to g (n values).
 * It must be deterministic; a non-finite value makes the current line search
 * fail (the iterate is kept and the memory reset, as on any other failure).
 */
typedef double (*ns__lbfgs_fn)(void *ctx, const double *x, double *g);

struct ns__lbfgs_options {
	int m; /* correction pairs kept (SciPy maxcor, 10) */
	long max_iter; /* accepted steps (SciPy maxiter) */
	long max_fun; /* objective evaluations (SciPy maxfun, 15000) */
	int max_ls; /* evaluations per line search (SciPy maxls, 20) */
	double pgtol; /* stop when max |g_i| <= pgtol (SciPy gtol) */
	double ftol; /* relative reduction test (SciPy ftol = factr * eps) */
};

enum ns__lbfgs_stop {
	NS__LBFGS_PGTOL = 0, /* converged: gradient small */
	NS__LBFGS_FTOL = 1, /* converged: relative reduction of f small */
	NS__LBFGS_MAX_ITER = 2, /* iteration limit */
	NS__LBFGS_MAX_FUN = 3, /* evaluation limit */
	NS__LBFGS_ABNORMAL = 4, /* the line search failed along -g: no progress possible */
};

struct ns__lbfgs_result {
	long n_iter; /* accepted steps */
	long n_fun; /* objective evaluations */
	double f; /* f at the returned x */
	double pg_norm; /* max |g_i| at the returned x */
	enum ns__lbfgs_stop stop;
};

/* SciPy 1.10's defaults: m 10, max_iter 15000, max_fun 15000, max_ls 20,
 * pgtol 1e-5, ftol 2.220446049250313e-09. */
void ns__lbfgs_options_default(struct ns__lbfgs_options *o);

/* "gradient", "reduction", "max_iter", "max_fun", "line_search". */
const char *ns__lbfgs_stop_name(enum ns__lbfgs_stop stop);

/*
 * Minimises fn from x (n values, updated in place: the last accepted
 * iterate).  OUT *res describes the run.  Returns NS_OK whatever the stopping
 * reason (see res->stop), NS_ERR_NOMEM if the work arrays cannot be
 * allocated (x untouched), NS_ERR_INVALID for n = 0 or bad options.
 */
enum ns_status ns__lbfgs_minimize(size_t n, double *x, ns__lbfgs_fn fn, void *ctx,
				  const struct ns__lbfgs_options *o, struct ns__lbfgs_result *res);

#endif
