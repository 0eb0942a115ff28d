/*
 * lib/learn/search.c - grid search with stratified k-fold cross-validation.
 *
 * Plan: candidates of a family that differ only in its prefix parameter (and
 * its predict-time parameter, knn's weights) form a group; each (group, fold)
 * is one task that fits once with the group's largest prefix value and scores
 * every member on its prefix, in one pass when the family can
 * (predict_proba_multi).  Tasks run in
 * parallel (OpenMP, dynamic schedule, costliest first), each fit single-
 * threaded; every task writes only its own result slots, so the outcome does
 * not depend on the number of threads or the order tasks finish.
 *
 * Memory: the fold matrices are built once (k copies of the training rows,
 * split into fit and validation parts) and shared read-only by all tasks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "learn/family.h"
#include "netsec/search.h"

void ns_grid_default(struct ns_grid *g, const struct ns_family *f)
{
	memset(g, 0, sizeof(*g));
	g->family = f;
	ns_params_init(&g->base, f);
	if (strcmp(f->name, "forest") == 0) {
		ns_grid_set_axis(g, "n_estimators", "8,16,32,128,256", NULL);
	} else if (strcmp(f->name, "tree") == 0) {
		ns_grid_set_axis(g, "criterion", "gini,entropy,log_loss", NULL);
	} else if (strcmp(f->name, "gbdt") == 0) {
		ns_grid_set_axis(g, "learning_rate", "0.1,0.01,0.05,0.001", NULL);
		ns_grid_set_axis(g, "subsample", "0.6,0.7,0.75,0.85,0.9", NULL);
		ns_grid_set_axis(g, "n_estimators", "8,16,32,64,128,256", NULL);
	} else if (strcmp(f->name, "adaboost") == 0) {
		ns_grid_set_axis(g, "learning_rate", "0.1,0.01,0.001", NULL);
		ns_grid_set_axis(g, "n_estimators", "8,16,32,64,128,256", NULL);
	} else if (strcmp(f->name, "knn") == 0) {
		ns_grid_set_axis(g, "n_neighbors", "3,5,7,9,11", NULL);
		ns_grid_set_axis(g, "weights", "uniform,distance", NULL);
	}
}

enum ns_status ns_grid_set_axis(struct ns_grid *g, const char *name, const char *values,
				struct ns_diag *diag)
{
	struct ns_grid_axis axis;
	struct ns_params scratch;
	long idx = ns_params_index(g->family, name);
	const char *s = values;
	size_t slot;

	if (idx < 0) {
		ns_params_init(&scratch, g->family);
		return ns_params_set(&scratch, name, "0", diag); /* the unknown-name message */
	}
	memset(&axis, 0, sizeof(axis));
	snprintf(axis.name, sizeof(axis.name), "%s", name);
	while (s && *s) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char item[128];
		enum ns_status st;
		while (len && (*s == ' ' || *s == '\t'))
			s++, len--;
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		if (len == 0 || len >= sizeof(item))
			return ns_diag_set(diag, NS_ERR_INVALID, "bad value list for %s: '%s'",
					   name, values);
		if (axis.n_values == NS_GRID_MAX_VALUES)
			return ns_diag_set(diag, NS_ERR_LIMIT, "more than %d values for %s",
					   NS_GRID_MAX_VALUES, name);
		memcpy(item, s, len);
		item[len] = '\0';
		ns_params_init(&scratch, g->family);
		st = ns_params_set(&scratch, name, item, diag);
		if (st != NS_OK)
			return st;
		axis.values[axis.n_values++] = scratch.v[idx];
		s = comma ? comma + 1 : NULL;
	}
	if (axis.n_values == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "no values for %s", name);
	for (slot = 0; slot < g->n_axes; slot++)
		if (strcmp(g->axes[slot].name, name) == 0)
			break;
	if (slot == g->n_axes) {
		if (g->n_axes == NS_GRID_MAX_AXES)
			return ns_diag_set(diag, NS_ERR_LIMIT, "more than %d grid axes",
					   NS_GRID_MAX_AXES);
		g->n_axes++;
	}
	g->axes[slot] = axis;
	return NS_OK;
}

size_t ns_grid_size(const struct ns_grid *g)
{
	size_t n = 1;
	for (size_t a = 0; a < g->n_axes; a++)
		n *= g->axes[a].n_values;
	return n;
}

void ns_grid_candidate(const struct ns_grid *g, size_t i, struct ns_params *out)
{
	*out = g->base;
	for (size_t a = g->n_axes; a-- > 0;) {
		const struct ns_grid_axis *ax = &g->axes[a];
		long idx = ns_params_index(g->family, ax->name);
		out->v[idx] = ax->values[i % ax->n_values];
		i /= ax->n_values;
	}
}

const char *ns_scoring_name(enum ns_scoring s)
{
	switch (s) {
	case NS_SCORE_F1:
		return "f1";
	case NS_SCORE_ACCURACY:
		return "accuracy";
	case NS_SCORE_MACRO_F1:
		return "macro_f1";
	case NS_SCORE_ROC_AUC:
		return "roc_auc";
	case NS_SCORE_LOG_LOSS:
		return "neg_log_loss";
	}
	return "?";
}

int ns_scoring_from_name(const char *name)
{
	for (int s = NS_SCORE_F1; s <= NS_SCORE_LOG_LOSS; s++)
		if (strcasecmp(name, ns_scoring_name((enum ns_scoring)s)) == 0)
			return s;
	return -1;
}

struct ns_search_params ns_search_params_default(void)
{
	struct ns_search_params p;
	memset(&p, 0, sizeof(p));
	p.cv = 3;
	p.seed = 42;
	p.scoring = NS_SCORE_F1;
	p.positive = -1;
	return p;
}

enum ns_status ns_stratified_folds(const uint32_t *y, size_t n, uint32_t n_classes, uint32_t k,
				   uint64_t seed, uint32_t *fold)
{
	size_t *idx;
	struct ns__rng rng;
	uint32_t next = 0;
	if (k < 2 || n_classes == 0)
		return NS_ERR_INVALID;
	idx = ns_malloc((n ? n : 1) * sizeof(*idx));
	if (!idx)
		return NS_ERR_NOMEM;
	ns__rng_seed(&rng, seed, 0x5eed);
	for (uint32_t c = 0; c < n_classes; c++) {
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			if (y[i] == c)
				idx[m++] = i;
		for (size_t i = m; i > 1; i--) { /* Fisher-Yates */
			size_t j = (size_t)ns__rng_below(&rng, i);
			size_t t = idx[i - 1];
			idx[i - 1] = idx[j];
			idx[j] = t;
		}
		/* Deal the class round-robin, continuing where the last class stopped,
		 * so fold sizes differ by at most one overall. */
		for (size_t i = 0; i < m; i++) {
			fold[idx[i]] = next;
			next = (next + 1) % k;
		}
	}
	ns_free(idx);
	return NS_OK;
}

/* ---- the search ----------------------------------------------------------------- */

struct fold_data {
	struct ns_dataset fit; /* rows outside the fold */
	double *x_fit;
	uint32_t *y_fit;
	double *w_fit;
	double *x_val; /* rows of the fold */
	uint32_t *y_val;
	size_t n_val;
};

struct group {
	size_t grid;
	struct ns_params fit_params; /* with the largest prefix value */
	size_t *members; /* candidate indices within the grid */
	double *prefix; /* the members' prefix values (0: none) */
	double *pv; /* the members' predict_param values (0: none) */
	size_t n_members;
	double cost;
};

struct task {
	size_t group, fold;
	double cost;
};

static int cmp_task(const void *a, const void *b)
{
	const struct task *x = a, *y = b;
	if (x->cost != y->cost)
		return x->cost < y->cost ? 1 : -1;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->fold < y->fold ? -1 : x->fold > y->fold;
}

double ns_metrics_score(const struct ns_metrics *m, enum ns_scoring s)
{
	switch (s) {
	case NS_SCORE_F1:
		return m->positive >= 0 ? m->f1 : m->macro_f1;
	case NS_SCORE_ACCURACY:
		return m->accuracy;
	case NS_SCORE_MACRO_F1:
		return m->macro_f1;
	case NS_SCORE_ROC_AUC:
		return m->roc_auc;
	case NS_SCORE_LOG_LOSS:
		return -m->log_loss;
	}
	return NAN;
}

/* Relative cost of a family's fit, for scheduling the longest tasks first. */
static double family_cost(const struct ns_family *f, const struct ns_params *p)
{
	double c = 1;
	if (f->prefix_param) {
		double v = ns_params_get(p, f->prefix_param);
		if (!isnan(v))
			c = v;
	}
	if (strcmp(f->name, "forest") == 0)
		c *= 4;
	else if (strcmp(f->name, "knn") == 0)
		c = 50;
	else if (strcmp(f->name, "logreg") == 0)
		c = 20;
	return c;
}

void ns_search_results_fini(struct ns_search_results *r)
{
	if (!r || !r->families)
		return;
	for (size_t f = 0; f < r->n_families; f++) {
		for (size_t c = 0; c < r->families[f].n_candidates; c++)
			ns_free(r->families[f].candidates[c].fold_scores);
		ns_free(r->families[f].candidates);
	}
	ns_free(r->families);
	memset(r, 0, sizeof(*r));
}

static void free_folds(struct fold_data *folds, uint32_t k)
{
	if (!folds)
		return;
	for (uint32_t f = 0; f < k; f++) {
		ns_free(folds[f].x_fit);
		ns_free(folds[f].y_fit);
		ns_free(folds[f].w_fit);
		ns_free(folds[f].x_val);
		ns_free(folds[f].y_val);
	}
	ns_free(folds);
}

static enum ns_status build_folds(const struct ns_dataset *d, const uint32_t *fold, uint32_t k,
				  struct fold_data **out)
{
	struct fold_data *folds = ns_calloc(k, sizeof(*folds));
	size_t dd = d->n_features;
	if (!folds)
		return NS_ERR_NOMEM;
	for (uint32_t f = 0; f < k; f++) {
		size_t n_val = 0, iv = 0, it = 0;
		struct fold_data *fd = &folds[f];
		for (size_t i = 0; i < d->n_rows; i++)
			n_val += fold[i] == f;
		fd->n_val = n_val;
		fd->x_val = ns_malloc((n_val ? n_val : 1) * dd * sizeof(double));
		fd->y_val = ns_malloc((n_val ? n_val : 1) * sizeof(uint32_t));
		fd->x_fit = ns_malloc((d->n_rows - n_val + 1) * dd * sizeof(double));
		fd->y_fit = ns_malloc((d->n_rows - n_val + 1) * sizeof(uint32_t));
		if (d->weight)
			fd->w_fit = ns_malloc((d->n_rows - n_val + 1) * sizeof(double));
		if (!fd->x_val || !fd->y_val || !fd->x_fit || !fd->y_fit ||
		    (d->weight && !fd->w_fit)) {
			free_folds(folds, k);
			return NS_ERR_NOMEM;
		}
		for (size_t i = 0; i < d->n_rows; i++) {
			if (fold[i] == f) {
				memcpy(fd->x_val + iv * dd, d->x + i * dd, dd * sizeof(double));
				fd->y_val[iv++] = d->y[i];
			} else {
				memcpy(fd->x_fit + it * dd, d->x + i * dd, dd * sizeof(double));
				fd->y_fit[it] = d->y[i];
				if (d->weight)
					fd->w_fit[it] = d->weight[i];
				it++;
			}
		}
		fd->fit.n_rows = it;
		fd->fit.n_features = dd;
		fd->fit.x = fd->x_fit;
		fd->fit.y = fd->y_fit;
		fd->fit.n_classes = d->n_classes;
		fd->fit.weight = fd->w_fit;
	}
	*out = folds;
	return NS_OK;
}

/*
 * Groups the candidates of grid g: those differing only in the prefix
 * parameter and the family's predict-time parameter share one fit.
 */
static enum ns_status plan_groups(const struct ns_grid *g, size_t gi, struct group **groups,
				  size_t *n_groups, size_t *cap)
{
	size_t n = ns_grid_size(g);
	const char *pp = g->family->prefix_param, *qp = g->family->predict_param;
	long paxis = -1, pidx = -1, qidx = -1;
	for (size_t a = 0; pp && a < g->n_axes; a++)
		if (strcmp(g->axes[a].name, pp) == 0)
			paxis = (long)a;
	for (size_t a = 0; qp && a < g->n_axes; a++)
		if (strcmp(g->axes[a].name, qp) == 0)
			qidx = ns_params_index(g->family, qp);
	if (paxis >= 0)
		pidx = ns_params_index(g->family, pp);
	for (size_t c = 0; c < n; c++) {
		struct ns_params p;
		size_t gidx;
		double pv = 0, qv = 0;
		bool shares = paxis >= 0 || qidx >= 0;
		ns_grid_candidate(g, c, &p);
		if (pidx >= 0) {
			pv = p.v[pidx];
			p.v[pidx] = 0; /* compare the other parameters */
		}
		if (qidx >= 0) {
			qv = p.v[qidx];
			p.v[qidx] = 0;
		}
		for (gidx = 0; gidx < *n_groups; gidx++) {
			struct group *gr = &(*groups)[gidx];
			struct ns_params q;
			if (!shares || gr->grid != gi)
				continue;
			q = gr->fit_params;
			if (pidx >= 0)
				q.v[pidx] = 0;
			if (qidx >= 0)
				q.v[qidx] = 0;
			if (memcmp(q.v, p.v, sizeof(p.v)) == 0)
				break;
		}
		if (!shares || gidx == *n_groups) {
			struct group *gr;
			if (*n_groups == *cap) {
				size_t nc = *cap ? *cap * 2 : 16;
				struct group *ng = ns_reallocarray(*groups, nc, sizeof(*ng));
				if (!ng)
					return NS_ERR_NOMEM;
				*groups = ng;
				*cap = nc;
			}
			gr = &(*groups)[(*n_groups)++];
			memset(gr, 0, sizeof(*gr));
			gr->grid = gi;
			ns_grid_candidate(g, c, &gr->fit_params);
			gr->members = ns_malloc(n * sizeof(size_t));
			gr->prefix = ns_malloc(n * sizeof(double));
			gr->pv = ns_malloc(n * sizeof(double));
			if (!gr->members || !gr->prefix || !gr->pv)
				return NS_ERR_NOMEM;
			gidx = *n_groups - 1;
		}
		{
			struct group *gr = &(*groups)[gidx];
			gr->members[gr->n_members] = c;
			gr->prefix[gr->n_members] = pv;
			gr->pv[gr->n_members] = qv;
			gr->n_members++;
			if (pidx >= 0 && pv > gr->fit_params.v[pidx])
				gr->fit_params.v[pidx] = pv;
		}
	}
	return NS_OK;
}

struct shared {
	const struct ns_grid *grids;
	const struct fold_data *folds;
	const struct group *groups;
	const struct ns_fit_options *fit;
	const struct ns_search_params *p;
	struct ns_search_results *r;
	size_t *cand_base; /* first result slot of grid g: families[g].candidates */
	double *group_seconds; /* per (group, fold) */
	/* error */
	enum ns_status st;
	struct ns_diag diag;
	/* progress */
	size_t done, total, cand_done, cand_total;
	double t0;
};

static enum ns_status run_task(struct shared *sh, const struct task *t)
{
	const struct group *gr = &sh->groups[t->group];
	const struct ns_grid *g = &sh->grids[gr->grid];
	const struct fold_data *fd = &sh->folds[t->fold];
	struct ns_family_result *fr = &sh->r->families[gr->grid];
	struct ns_fit_options o = *sh->fit;
	struct ns_model *m = NULL;
	struct ns_diag diag;
	double *proba = NULL, **outs = NULL, t0 = ns__mono_seconds();
	size_t *n_est = NULL, nv;
	enum ns_status st;
	uint32_t k = fd->fit.n_classes;

	o.n_threads = 1;
	ns_diag_clear(&diag);
	st = ns_model_fit(&gr->fit_params, &fd->fit, &o, &m, &diag);
	if (st != NS_OK)
		goto out;
	/* Every member's probabilities in one pass (each the same as its own predict). */
	nv = fd->n_val ? fd->n_val : 1;
	proba = ns_malloc(gr->n_members * nv * k * sizeof(double));
	outs = ns_malloc(gr->n_members * sizeof(*outs));
	n_est = ns_malloc(gr->n_members * sizeof(*n_est));
	if (!proba || !outs || !n_est) {
		st = ns_diag_set(&diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t mi = 0; mi < gr->n_members; mi++) {
		outs[mi] = proba + mi * nv * k;
		n_est[mi] = (size_t)gr->prefix[mi];
	}
	st = ns__model_predict_proba_multi(m, fd->x_val, fd->n_val, gr->n_members, n_est, gr->pv,
					   outs);
	for (size_t mi = 0; mi < gr->n_members && st == NS_OK; mi++) {
		struct ns_metrics met;
		struct ns_candidate_result *cr = &fr->candidates[gr->members[mi]];
		st = ns_metrics_compute(fd->y_val, outs[mi], fd->n_val, k, sh->p->positive, &met);
		if (st != NS_OK)
			break;
		cr->fold_scores[t->fold] = ns_metrics_score(&met, sh->p->scoring);
		ns_metrics_fini(&met);
	}
	if (st != NS_OK)
		ns_diag_set(&diag, st, "%s: scoring failed", g->family->name);
out:
	sh->group_seconds[t->group * sh->p->cv + t->fold] = ns__mono_seconds() - t0;
	ns_free(proba);
	ns_free(outs);
	ns_free(n_est);
	ns_model_free(m);
	if (st != NS_OK) {
#pragma omp critical(ns_search_error)
		{
			if (sh->st == NS_OK) {
				sh->st = st;
				sh->diag = diag;
			}
		}
	}
	return st;
}

enum ns_status ns_search_run(const struct ns_grid *grids, size_t n_grids,
			     const struct ns_dataset *train, const struct ns_fit_options *fit,
			     const struct ns_search_params *sp, struct ns_search_results *r,
			     struct ns_diag *diag)
{
	struct ns_search_params p = sp ? *sp : ns_search_params_default();
	struct ns_fit_options fo = fit ? *fit : ns_fit_options_default();
	uint32_t *fold = NULL;
	uint64_t *counts = NULL;
	struct fold_data *folds = NULL;
	struct group *groups = NULL;
	size_t n_groups = 0, cap = 0, n_tasks;
	struct task *tasks = NULL;
	struct shared sh;
	enum ns_status st = NS_OK;
	double t0 = ns__mono_seconds();

	memset(r, 0, sizeof(*r));
	memset(&sh, 0, sizeof(sh));
	if (p.cv < 2)
		return ns_diag_set(diag, NS_ERR_INVALID, "cv must be at least 2, got %u", p.cv);
	if (!train || train->n_rows == 0 || !train->y || train->n_classes < 2)
		return ns_diag_set(diag, NS_ERR_INVALID, "the search needs labelled training data");
	if (n_grids == 0)
		return ns_diag_set(diag, NS_ERR_INVALID, "no families to search");
	counts = ns_calloc(train->n_classes, sizeof(*counts));
	fold = ns_malloc(train->n_rows * sizeof(*fold));
	if (!counts || !fold) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < train->n_rows; i++) {
		if (train->y[i] >= train->n_classes) {
			st = ns_diag_set(diag, NS_ERR_INVALID, "row %zu: class index out of range",
					 i);
			goto out;
		}
		counts[train->y[i]]++;
	}
	{
		uint64_t most = 0;
		for (uint32_t c = 0; c < train->n_classes; c++) {
			if (counts[c] > most)
				most = counts[c];
			if (counts[c] && counts[c] < p.cv)
				ns_log(NS_LOG_WARN,
				       "class %u has only %llu rows, fewer than cv = %u: some "
				       "folds "
				       "will not contain it",
				       c, (unsigned long long)counts[c], p.cv);
		}
		if (most < p.cv) {
			st = ns_diag_set(diag, NS_ERR_INVALID,
					 "cv = %u is larger than the number of rows of every class",
					 p.cv);
			goto out;
		}
	}
	for (size_t g = 0; g < n_grids; g++) {
		const struct ns_family *f = grids[g].family;
		if (!(f->flags & NS__FAMILY_NEEDS_COMPLETE))
			continue;
		for (size_t i = 0; i < train->n_rows * train->n_features; i++)
			if (isnan(train->x[i])) {
				st = ns_diag_set(
					diag, NS_ERR_SCHEMA,
					"%s cannot take missing values and the training data "
					"has some: impute them first",
					f->name);
				goto out;
			}
	}
	st = ns_stratified_folds(train->y, train->n_rows, train->n_classes, p.cv, p.seed, fold);
	if (st == NS_OK)
		st = build_folds(train, fold, p.cv, &folds);
	if (st != NS_OK) {
		ns_diag_set(diag, st, "out of memory");
		goto out;
	}
	/* Result slots. */
	r->n_families = n_grids;
	r->families = ns_calloc(n_grids, sizeof(*r->families));
	if (!r->families) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t g = 0; g < n_grids; g++) {
		struct ns_family_result *fr = &r->families[g];
		fr->family = grids[g].family;
		fr->n_candidates = ns_grid_size(&grids[g]);
		fr->candidates = ns_calloc(fr->n_candidates, sizeof(*fr->candidates));
		if (!fr->candidates) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
		for (size_t c = 0; c < fr->n_candidates; c++) {
			ns_grid_candidate(&grids[g], c, &fr->candidates[c].params);
			fr->candidates[c].fold_scores = ns_calloc(p.cv, sizeof(double));
			if (!fr->candidates[c].fold_scores) {
				st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
				goto out;
			}
		}
		st = plan_groups(&grids[g], g, &groups, &n_groups, &cap);
		if (st != NS_OK) {
			ns_diag_set(diag, st, "out of memory");
			goto out;
		}
		sh.cand_total += fr->n_candidates;
	}
	n_tasks = n_groups * p.cv;
	tasks = ns_malloc(n_tasks * sizeof(*tasks));
	sh.group_seconds = ns_calloc(n_tasks, sizeof(double));
	if (!tasks || !sh.group_seconds) {
		st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t gi = 0; gi < n_groups; gi++) {
		groups[gi].cost =
			family_cost(grids[groups[gi].grid].family, &groups[gi].fit_params);
		for (uint32_t f = 0; f < p.cv; f++) {
			tasks[gi * p.cv + f].group = gi;
			tasks[gi * p.cv + f].fold = f;
			tasks[gi * p.cv + f].cost = groups[gi].cost;
		}
	}
	qsort(tasks, n_tasks, sizeof(*tasks), cmp_task);

	sh.grids = grids;
	sh.folds = folds;
	sh.groups = groups;
	sh.fit = &fo;
	sh.p = &p;
	sh.r = r;
	sh.total = n_tasks;
	sh.t0 = t0;
	{
		int nt = ns__threads(p.n_threads);
		long nt_tasks = (long)n_tasks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
		for (long ti = 0; ti < nt_tasks; ti++) {
			if (sh.st != NS_OK)
				continue;
			if (run_task(&sh, &tasks[ti]) == NS_OK && p.progress) {
#pragma omp critical(ns_search_progress)
				{
					struct ns_search_progress pr;
					sh.done++;
					pr.tasks_done = sh.done;
					pr.tasks_total = sh.total;
					pr.candidates_done = sh.done * sh.cand_total / sh.total;
					pr.candidates_total = sh.cand_total;
					pr.family =
						grids[groups[tasks[ti].group].grid].family->name;
					pr.elapsed = ns__mono_seconds() - t0;
					p.progress(p.progress_user, &pr);
				}
			}
		}
	}
	if (sh.st != NS_OK) {
		st = sh.st;
		if (diag)
			*diag = sh.diag;
		goto out;
	}
	/* Aggregate: means, stds, fit times, ranks, bests. */
	for (size_t gi = 0; gi < n_groups; gi++) {
		struct ns_family_result *fr = &r->families[groups[gi].grid];
		for (uint32_t f = 0; f < p.cv; f++) {
			double secs =
				sh.group_seconds[gi * p.cv + f] / (double)groups[gi].n_members;
			for (size_t mi = 0; mi < groups[gi].n_members; mi++)
				fr->candidates[groups[gi].members[mi]].fit_seconds += secs;
		}
	}
	r->n_fits = n_tasks;
	for (size_t g = 0; g < n_grids; g++) {
		struct ns_family_result *fr = &r->families[g];
		for (size_t c = 0; c < fr->n_candidates; c++) {
			struct ns_candidate_result *cr = &fr->candidates[c];
			double mean = 0, var = 0;
			for (uint32_t f = 0; f < p.cv; f++)
				mean += cr->fold_scores[f];
			mean /= p.cv;
			for (uint32_t f = 0; f < p.cv; f++)
				var += (cr->fold_scores[f] - mean) * (cr->fold_scores[f] - mean);
			cr->mean_score = mean;
			cr->std_score = sqrt(var / p.cv);
		}
		fr->best = 0;
		for (size_t c = 0; c < fr->n_candidates; c++) {
			size_t rank = 1;
			double s = fr->candidates[c].mean_score;
			for (size_t o = 0; o < fr->n_candidates; o++) {
				double so = fr->candidates[o].mean_score;
				if (so > s || (isnan(s) && !isnan(so)))
					rank++;
			}
			fr->candidates[c].rank = rank;
			if (fr->candidates[c].mean_score > fr->candidates[fr->best].mean_score ||
			    (isnan(fr->candidates[fr->best].mean_score) && !isnan(s)))
				fr->best = c;
		}
		if (fr->candidates[fr->best].mean_score >
			    r->families[r->best_family]
				    .candidates[r->families[r->best_family].best]
				    .mean_score ||
		    (g > 0 && isnan(r->families[r->best_family]
					    .candidates[r->families[r->best_family].best]
					    .mean_score)))
			r->best_family = g;
	}
	r->seconds = ns__mono_seconds() - t0;
out:
	for (size_t gi = 0; gi < n_groups; gi++) {
		ns_free(groups[gi].members);
		ns_free(groups[gi].prefix);
		ns_free(groups[gi].pv);
	}
	ns_free(groups);
	ns_free(tasks);
	ns_free(sh.group_seconds);
	free_folds(folds, p.cv);
	ns_free(fold);
	ns_free(counts);
	if (st != NS_OK)
		ns_search_results_fini(r);
	return st;
}

void ns_grid_axes_text(const struct ns_grid *g, const struct ns_params *p, char *buf, size_t size)
{
	size_t off = 0;
	if (size == 0)
		return;
	buf[0] = '\0';
	if (g->n_axes == 0) {
		snprintf(buf, size, "(defaults)");
		return;
	}
	for (size_t a = 0; a < g->n_axes; a++) {
		long i = ns_params_index(g->family, g->axes[a].name);
		char val[64];
		int n;
		if (i < 0)
			continue;
		ns_param_value_format(&ns_family_params(g->family, NULL)[i], p->v[i], val,
				      sizeof(val));
		n = snprintf(buf + off, size - off, "%s%s=%s", off ? " " : "", g->axes[a].name,
			     val);
		if (n < 0 || (size_t)n >= size - off)
			break;
		off += (size_t)n;
	}
}
