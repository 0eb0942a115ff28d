/*
 * bench/bench_learn.c - learning speed, for bench/learn.sh.
 *
 *   bench_learn fit FAMILY PARAMS X.f64 Y.u32 N D THREADS
 *       fits on raw little-endian arrays (X row-major doubles, Y uint32
 *       class indices) and prints "fit SECONDS";
 *   bench_learn predict FAMILY PARAMS X.f64 Y.u32 N D THREADS REPEAT
 *       fits, then predicts the training rows REPEAT times (one thread per
 *       call) and prints "predict ROWS_PER_SECOND".
 *   bench_learn search X.f64 Y.u32 N D THREADS [POSITIVE]
 *       runs the default grid search (all six families, cv=3, F1 of class
 *       POSITIVE, default 0) and prints every candidate's fold scores with
 *       %.17g, then "search SECONDS": a diff of two outputs (minus the last
 *       line) shows whether a change altered any score.
 * fit and predict print the median of 3 runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "netsec/learn.h"
#include "netsec/search.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *slurp(const char *path, size_t bytes)
{
	FILE *fp = fopen(path, "rb");
	void *p = malloc(bytes);
	if (!fp || !p || fread(p, 1, bytes, fp) != bytes) {
		fprintf(stderr, "bench_learn: cannot read %zu bytes from %s\n", bytes, path);
		exit(1);
	}
	fclose(fp);
	return p;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int search(int argc, char **argv)
{
	size_t n = strtoull(argv[4], NULL, 10), dim = strtoull(argv[5], NULL, 10);
	double *x = slurp(argv[2], n * dim * sizeof(double));
	uint32_t *y = slurp(argv[3], n * sizeof(uint32_t)), k = 0;
	struct ns_grid grids[16];
	size_t n_grids = ns_family_count();
	struct ns_search_params sp = ns_search_params_default();
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_search_results r;
	struct ns_dataset d;
	struct ns_diag diag;
	double t0;
	for (size_t i = 0; i < n; i++)
		if (y[i] + 1 > k)
			k = y[i] + 1;
	d = (struct ns_dataset){n, dim, x, y, k, NULL};
	for (size_t g = 0; g < n_grids && g < 16; g++)
		ns_grid_default(&grids[g], ns_family_at(g));
	sp.n_threads = atoi(argv[6]);
	sp.positive = argc > 7 ? atoi(argv[7]) : 0;
	t0 = now();
	if (ns_search_run(grids, n_grids, &d, &o, &sp, &r, &diag) != NS_OK) {
		fprintf(stderr, "bench_learn: search: %s\n", diag.message);
		return 1;
	}
	t0 = now() - t0;
	for (size_t g = 0; g < r.n_families; g++)
		for (size_t c = 0; c < r.families[g].n_candidates; c++) {
			const struct ns_candidate_result *cr = &r.families[g].candidates[c];
			char buf[512];
			ns_params_format(&cr->params, buf, sizeof(buf));
			printf("%s %s", ns_family_name(r.families[g].family), buf);
			for (uint32_t f = 0; f < sp.cv; f++)
				printf(" %.17g", cr->fold_scores[f]);
			printf(" rank %zu\n", cr->rank);
		}
	printf("search %.4f\n", t0);
	ns_search_results_fini(&r);
	free(x);
	free(y);
	return 0;
}

int main(int argc, char **argv)
{
	const struct ns_family *f;
	struct ns_params p;
	struct ns_dataset d;
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_diag diag;
	size_t n, dim;
	double *x, t[3];
	uint32_t *y, k = 0;
	int predict;
	if (argc >= 7 && strcmp(argv[1], "search") == 0)
		return search(argc, argv);
	if (argc < 8) {
		fprintf(stderr,
			"usage: bench_learn fit|predict FAMILY PARAMS X Y N D THREADS [REPEAT]\n");
		return 2;
	}
	predict = strcmp(argv[1], "predict") == 0;
	f = ns_family_find(argv[2]);
	if (!f) {
		fprintf(stderr, "bench_learn: unknown family %s\n", argv[2]);
		return 2;
	}
	n = strtoull(argv[6], NULL, 10);
	dim = strtoull(argv[7], NULL, 10);
	o.n_threads = argc > 8 ? atoi(argv[8]) : 0;
	x = slurp(argv[4], n * dim * sizeof(double));
	y = slurp(argv[5], n * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++)
		if (y[i] + 1 > k)
			k = y[i] + 1;
	d = (struct ns_dataset){n, dim, x, y, k, NULL};
	ns_params_init(&p, f);
	if (ns_params_parse(&p, argv[3], &diag) != NS_OK) {
		fprintf(stderr, "bench_learn: %s\n", diag.message);
		return 2;
	}
	for (int r = 0; r < 3; r++) {
		struct ns_model *m = NULL;
		double t0 = now();
		if (ns_model_fit(&p, &d, &o, &m, &diag) != NS_OK) {
			fprintf(stderr, "bench_learn: fit: %s\n", diag.message);
			return 1;
		}
		t[r] = now() - t0;
		if (predict) {
			int repeat = argc > 9 ? atoi(argv[9]) : 10;
			double *proba = malloc(n * k * sizeof(double));
			t0 = now();
			for (int i = 0; i < repeat; i++)
				ns_model_predict_proba(m, x, n, proba);
			t[r] = (double)n * repeat / (now() - t0);
			free(proba);
		}
		ns_model_free(m);
	}
	qsort(t, 3, sizeof(double), cmp);
	printf(predict ? "predict %.0f\n" : "fit %.4f\n", t[1]);
	free(x);
	free(y);
	return 0;
}
