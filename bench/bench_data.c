/*
 * bench/bench_data.c - data layer speed: CSV parsing, CSV -> frame, ingest
 * into the embedded store.  Prints one line per measurement with the median
 * of the runs (the machine is shared: medians, not bests).
 *
 * Usage: bench_data parse FILE [RUNS]
 *        bench_data frame FILE SCHEMA [RUNS]
 *        bench_data ingest FILE SCHEMA STORE_PATH [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "netsec/netsec.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct count {
	uint64_t records, fields;
};

static enum ns_status on_record(void *user, const struct ns_csv_record *rec, struct ns_diag *d)
{
	struct count *c = user;
	(void)d;
	c->records++;
	c->fields += rec->n_fields;
	return NS_OK;
}

static int die(const char *what, const struct ns_diag *d)
{
	char buf[1024];
	fprintf(stderr, "bench_data: %s: %s\n", what, ns_diag_format(d, buf, sizeof(buf)));
	return 1;
}

int main(int argc, char **argv)
{
	struct ns_diag d;
	struct stat sb;
	double t[32];
	int runs = 5;
	const char *mode, *file;
	if (argc < 3) {
		fprintf(stderr,
			"usage: bench_data parse|frame|ingest FILE [SCHEMA [STORE]] [RUNS]\n");
		return 2;
	}
	mode = argv[1];
	file = argv[2];
	if (stat(file, &sb) != 0) {
		perror(file);
		return 1;
	}
	ns_diag_clear(&d);
	if (strcmp(mode, "parse") == 0) {
		struct count c = {0, 0};
		if (argc > 3)
			runs = atoi(argv[3]);
		for (int i = 0; i < runs && i < 32; i++) {
			double t0 = now();
			c.records = c.fields = 0;
			if (ns_csv_read_file(file, NULL, on_record, &c, &d) != NS_OK)
				return die("parse", &d);
			t[i] = now() - t0;
		}
		{
			double m = median(t, runs);
			printf("csv-parse  %.3f s  %.1f MB/s  %llu records\n", m,
			       (double)sb.st_size / m / 1e6, (unsigned long long)c.records);
		}
	} else if (strcmp(mode, "frame") == 0 && argc >= 4) {
		struct ns_schema *s = NULL;
		size_t rows = 0;
		if (argc > 4)
			runs = atoi(argv[4]);
		if (ns_schema_load(argv[3], &s, &d) != NS_OK)
			return die("schema", &d);
		for (int i = 0; i < runs && i < 32; i++) {
			struct ns_frame *f = NULL;
			double t0 = now();
			if (ns_frame_read_csv(file, s, &f, &d) != NS_OK)
				return die("frame", &d);
			t[i] = now() - t0;
			rows = ns_frame_n_rows(f);
			ns_frame_free(f);
		}
		{
			double m = median(t, runs);
			printf("csv-frame  %.3f s  %.1f MB/s  %zu rows\n", m,
			       (double)sb.st_size / m / 1e6, rows);
		}
		ns_schema_free(s);
	} else if (strcmp(mode, "ingest") == 0 && argc >= 5) {
		struct ns_schema *s = NULL;
		struct ns_ingest_result res;
		char uri[4096];
		if (argc > 5)
			runs = atoi(argv[5]);
		if (ns_schema_load(argv[3], &s, &d) != NS_OK)
			return die("schema", &d);
		snprintf(uri, sizeof(uri), "sqlite:%s", argv[4]);
		for (int i = 0; i < runs && i < 32; i++) {
			struct ns_store *st = NULL;
			struct ns_ingest_params p = ns_ingest_params_default();
			double t0;
			unlink(argv[4]);
			if (ns_store_open(uri, &st, &d) != NS_OK)
				return die("store", &d);
			p.collection = "bench";
			t0 = now();
			if (ns_store_ingest_csv(st, file, s, &p, NULL, NULL, &res, &d) != NS_OK)
				return die("ingest", &d);
			t[i] = now() - t0;
			ns_store_close(st);
		}
		{
			double m = median(t, runs);
			printf("ingest     %.3f s  %.0f rows/s  %llu rows\n", m,
			       (double)res.n_rows / m, (unsigned long long)res.n_rows);
		}
		ns_schema_free(s);
	} else {
		fprintf(stderr, "bench_data: unknown mode or missing arguments\n");
		return 2;
	}
	return 0;
}
