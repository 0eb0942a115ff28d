/*
 * src/cli/cmd_predict.c - `netsec predict --model MODEL FILE -o OUT`: the
 * input's columns plus `predicted_column` (in the dataset's own labels) and a
 * probability column per class, streamed (memory bounded by one block).
 */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "learn_common.h"

struct out_ctx {
	struct ns_csv_writer *w;
	const struct ns_model *m;
	enum ns_status st;
};

static enum ns_status on_header(void *user, size_t n, const char *const *names)
{
	struct out_ctx *o = user;
	char col[512];
	for (size_t i = 0; i < n; i++)
		ns_csv_writer_field(o->w, names[i], strlen(names[i]));
	ns_csv_writer_field(o->w, "predicted_column", 16);
	for (uint32_t k = 0; k < ns_model_n_classes(o->m); k++) {
		int len = snprintf(col, sizeof(col), "proba_%s", ns_model_class_label(o->m, k));
		ns_csv_writer_field(o->w, col,
				    len > 0 && (size_t)len < sizeof(col) ? (size_t)len : 0);
	}
	return ns_csv_writer_end_row(o->w);
}

static enum ns_status on_row(void *user, const struct ns_prediction_row *row)
{
	struct out_ctx *o = user;
	const char *label = ns_model_class_label(o->m, row->label);
	for (size_t i = 0; i < row->n_fields; i++)
		ns_csv_writer_field(o->w, row->fields[i], row->lens[i]);
	ns_csv_writer_field(o->w, label, strlen(label));
	for (uint32_t k = 0; k < ns_model_n_classes(o->m); k++)
		ns_csv_writer_number(o->w, row->proba[k]);
	return ns_csv_writer_end_row(o->w);
}

int cmd_predict(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"model", required_argument, NULL, 'm'},
					     {"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *model_path = NULL, *output = NULL, *input;
	struct ns_model *model = NULL;
	struct ns_predictor *pred = NULL;
	struct ns_predictor_params pp = ns_predictor_params_default();
	struct ns_atomic_file af = {0};
	struct out_ctx o = {0};
	struct ns_diag diag;
	enum ns_status st;
	FILE *in = NULL, *fp = stdout;
	char buf[1 << 16];
	int c;

	while ((c = getopt_long(argc, argv, "m:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			model_path = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			printf("Usage: netsec predict --model MODEL FILE [-o OUT]\n\n"
			       "Writes FILE's columns plus predicted_column (the dataset's own "
			       "label\n"
			       "values) and proba_<label> for each class, as CSV, to OUT (written\n"
			       "atomically) or stdout.  Columns are matched by name in any order;\n"
			       "extra columns pass through; a missing one is an error naming "
			       "it.\n");
			return CLI_OK;
		default:
			return cli_usage_error(cli, "predict", "bad option");
		}
	}
	if (!model_path || optind != argc - 1)
		return cli_usage_error(cli, "predict", "expected --model MODEL and one FILE");
	input = argv[optind];
	ns_diag_clear(&diag);
	st = ns_model_load(model_path, &model, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	in = strcmp(input, "-") == 0 ? stdin : fopen(input, "rb");
	if (!in) {
		ns_diag_where(&diag, input, 0, 0, NULL);
		st = ns_diag_set(&diag, NS_ERR_IO, "cannot open: %s", strerror(errno));
		goto out;
	}
	if (output && strcmp(output, "-") != 0) {
		st = ns_atomic_file_open(&af, output, &diag);
		if (st != NS_OK)
			goto out;
		fp = af.fp;
	}
	st = ns_csv_writer_create(fp, ',', &o.w, &diag);
	if (st != NS_OK)
		goto out;
	o.m = model;
	pp.source_name = input;
	st = ns_predictor_create(model, &pp, on_header, on_row, &o, &pred, &diag);
	while (st == NS_OK) {
		size_t n = fread(buf, 1, sizeof(buf), in);
		if (n)
			st = ns_predictor_feed(pred, buf, n, &diag);
		if (n < sizeof(buf)) {
			if (ferror(in)) {
				ns_diag_where(&diag, input, 0, 0, NULL);
				st = ns_diag_set(&diag, NS_ERR_IO, "read error");
			}
			break;
		}
	}
	if (st == NS_OK)
		st = ns_predictor_finish(pred, &diag);
	if (st == NS_OK)
		st = ns_csv_writer_flush(o.w, &diag);
	if (st == NS_OK && cli->verbosity >= 2) {
		const uint64_t *counts = ns_predictor_class_counts(pred);
		fprintf(stderr,
			"predicted %llu rows:", (unsigned long long)ns_predictor_n_rows(pred));
		for (uint32_t k = 0; k < ns_model_n_classes(model); k++)
			fprintf(stderr, " %s=%llu", ns_model_class_label(model, k),
				(unsigned long long)counts[k]);
		fprintf(stderr, "\n");
	}
out:
	ns_predictor_free(pred);
	ns_csv_writer_free(o.w);
	if (af.fp) {
		if (st == NS_OK)
			st = ns_atomic_file_commit(&af, &diag);
		else
			ns_atomic_file_abort(&af);
	}
	if (in && in != stdin)
		fclose(in);
	ns_model_free(model);
	return st == NS_OK ? CLI_OK : cli_fail(cli, st, &diag);
}
