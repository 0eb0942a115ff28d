/*
 * src/cli/cmd_run.c - `netsec run`: the main job on the embedded default.
 *
 * Ingest the bundled dataset (data/phisingData.csv with data/schema.yaml)
 * into the embedded store, summarise the collection (size, column types,
 * class balance with the threat share, missing cells, exact duplicate rows),
 * then train on it (`netsec train -c COLLECTION`).  Serving extends this
 * command later.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsec/pipeline.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec run [--data FILE] [--schema S] [--collection NAME]\n"
		"                  [--no-train] [--retrain] [--no-serve] [SERVE OPTIONS]\n\n"
		"The main job: ingests the dataset into the store (once; a file already\n"
		"ingested is not stored again), prints a summary of the collection, trains\n"
		"on it as `netsec train -c COLLECTION` does when the registry has no model\n"
		"yet (always with --retrain; never with --no-train), then serves as\n"
		"`netsec serve` does (unless --no-serve; serve options such as --port pass on).\n"
		"Defaults: the bundled phishing dataset, DATA_DIR/phisingData.csv with\n"
		"DATA_DIR/schema.yaml (DATA_DIR: $NETSEC_DATA_DIR or %s), collection\n"
		"named by the schema, store $NETSEC_STORE or %s.\n",
		cli_data_dir(), NS_STORE_DEFAULT_URI);
}

static void print_summary(const struct ns_schema *s, const struct ns_frame *f, const char *name,
			  const char *store_uri)
{
	size_t n_rows = ns_frame_n_rows(f), missing = 0;
	size_t n_int = 0, n_float = 0, n_cat = 0;
	char shown[4096];
	long tcol = s->target >= 0 ? ns_frame_col_index(f, s->columns[s->target].name) : -1;

	for (size_t i = 0; i < s->n_columns; i++) {
		n_int += s->columns[i].type == NS_TYPE_INT && !s->columns[i].ignore;
		n_float += s->columns[i].type == NS_TYPE_FLOAT && !s->columns[i].ignore;
		n_cat += s->columns[i].type == NS_TYPE_CATEGORY && !s->columns[i].ignore;
	}
	for (size_t j = 0; j < ns_frame_n_cols(f); j++)
		for (size_t r = 0; r < n_rows; r++)
			missing += ns_frame_col_kind(f, j) == NS_COL_NUMERIC
					   ? isnan(ns_frame_numbers(f, j)[r])
					   : ns_frame_codes(f, j)[r] == NS_FRAME_NA_CODE;
	printf("\ncollection '%s' in %s\n", name, ns_redact(store_uri, shown, sizeof(shown)));
	printf("  rows             %zu\n", n_rows);
	printf("  features         %zu (%zu int, %zu float, %zu category)%s\n",
	       n_int + n_float + n_cat - (tcol >= 0),
	       n_int - (tcol >= 0 && s->columns[s->target].type == NS_TYPE_INT),
	       n_float - (tcol >= 0 && s->columns[s->target].type == NS_TYPE_FLOAT),
	       n_cat - (tcol >= 0 && s->columns[s->target].type == NS_TYPE_CATEGORY), "");
	printf("  missing cells    %zu\n", missing);
	{
		/* Rows that repeat an earlier row exactly (label included). */
		size_t *keep = NULL, n_keep = n_rows;
		size_t d = ns_frame_unique_rows(f, &keep, &n_keep) == NS_OK ? n_rows - n_keep : 0;
		ns_free(keep);
		printf("  duplicate rows   %zu (%.1f%%: rows that repeat an earlier row exactly)\n",
		       d, n_rows ? 100.0 * (double)d / (double)n_rows : 0.0);
	}
	if (tcol < 0)
		return;
	printf("  target           %s\n", s->columns[s->target].name);
	for (size_t k = 0; k < s->n_classes; k++) {
		size_t count = 0;
		const char *cls = s->classes[k];
		if (ns_frame_col_kind(f, (size_t)tcol) == NS_COL_NUMERIC) {
			double v;
			const double *col = ns_frame_numbers(f, (size_t)tcol);
			if (!ns_parse_double(cls, strlen(cls), &v))
				continue;
			for (size_t r = 0; r < n_rows; r++)
				count += col[r] == v;
		} else {
			uint32_t code = ns_frame_level_code(f, (size_t)tcol, cls, strlen(cls));
			const uint32_t *col = ns_frame_codes(f, (size_t)tcol);
			for (size_t r = 0; r < n_rows && code != NS_FRAME_NA_CODE; r++)
				count += col[r] == code;
		}
		printf("    class %-12s %7zu  %5.1f%%%s\n", cls, count,
		       n_rows ? 100.0 * (double)count / (double)n_rows : 0.0,
		       (long)k == s->threat ? "  threat" : "");
	}
}

int cmd_run(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
					     {"schema", required_argument, NULL, 's'},
					     {"collection", required_argument, NULL, 'c'},
					     {"no-train", no_argument, NULL, 'n'},
					     {"retrain", no_argument, NULL, 'r'},
					     {"no-serve", no_argument, NULL, 'S'},
					     {"port", required_argument, NULL, 'p'},
					     {"host", required_argument, NULL, 'H'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	char data_path[4096], schema_path[4096], shown[4096];
	const char *data = NULL, *schema_arg = NULL, *collection = NULL;
	struct ns_schema *schema = NULL;
	struct ns_store *store = NULL;
	struct ns_frame *frame = NULL;
	struct ns_ingest_params ip = ns_ingest_params_default();
	struct ns_ingest_result res;
	struct cli_problems pp = {.cli = cli, .max_print = 20};
	struct ns_diag diag;
	enum ns_status st;
	double t0 = cli_now();
	int c, rc = CLI_OK;
	bool train = true, retrain = false, serve = true;
	char *serve_argv[8] = {"serve", NULL};
	int serve_argc = 1;

	while ((c = getopt_long(argc, argv, "d:s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 's':
			schema_arg = optarg;
			break;
		case 'c':
			collection = optarg;
			break;
		case 'n':
			train = false;
			break;
		case 'r':
			retrain = true;
			break;
		case 'S':
			serve = false;
			break;
		case 'p':
		case 'H':
			if (serve_argc < 6) {
				serve_argv[serve_argc++] = c == 'p' ? "--port" : "--host";
				serve_argv[serve_argc++] = optarg;
			}
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "run", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "run", "unexpected argument '%s'", argv[optind]);
	snprintf(data_path, sizeof(data_path), "%s/phisingData.csv", cli_data_dir());
	snprintf(schema_path, sizeof(schema_path), "%s/schema.yaml", cli_data_dir());
	if (data)
		snprintf(data_path, sizeof(data_path), "%s", data);
	if (schema_arg)
		snprintf(schema_path, sizeof(schema_path), "%s", schema_arg);
	pp.file = data_path;

	ns_diag_clear(&diag);
	st = ns_schema_load(schema_path, &schema, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (!collection)
		collection = schema->name && *schema->name ? schema->name : "dataset";
	st = ns_store_open(cli->store_uri, &store, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	cli_info(cli, "[1/%d] ingest %s -> '%s' (%s)\n", train ? 3 : 2, data_path, collection,
		 ns_redact(cli->store_uri, shown, sizeof(shown)));
	ip.collection = collection;
	st = ns_store_ingest_csv(store, data_path, schema, &ip, cli_print_problem, &pp, &res,
				 &diag);
	cli_problems_done(&pp);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	if (res.duplicate)
		cli_info(cli, "      already in the store (sha256 %.16s...): nothing to add\n",
			 res.sha256);
	else
		cli_info(cli, "      stored %llu rows (sha256 %.16s...)\n",
			 (unsigned long long)res.n_rows, res.sha256);
	cli_info(cli, "[2/%d] summarise '%s'\n", train ? 3 : 2, collection);
	st = ns_store_read_frame(store, collection, &frame, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	if (cli->verbosity >= 1)
		print_summary(schema, frame, collection, cli->store_uri);
	if (train && !retrain) {
		/* Train only when the registry has no model yet. */
		char cur[4096];
		const char *reg = getenv("NETSEC_REGISTRY");
		FILE *fp;
		snprintf(cur, sizeof(cur), "%s/netsec/current", reg && *reg ? reg : "models");
		fp = fopen(cur, "r");
		if (fp) {
			fclose(fp);
			train = false;
			cli_info(cli,
				 "\n[3/3] a model is already promoted (%s): not retraining "
				 "(--retrain trains again)\n",
				 cur);
		}
	}
	if (train) {
		char *targv[] = {"train", "-c", (char *)collection, NULL};
		cli_info(cli, "\n[3/3] train on '%s'\n", collection);
		fflush(stdout);
		optind = 0; /* a fresh getopt scan for the train command */
		rc = cmd_train(cli, 3, targv);
		if (rc != CLI_OK)
			goto out;
	}
	cli_info(cli, "\nmain job done in %.2f s\n", cli_now() - t0);
	if (serve) {
		fflush(stdout);
		ns_frame_free(frame);
		frame = NULL;
		ns_store_close(store);
		store = NULL;
		optind = 0;
		rc = cmd_serve(cli, serve_argc, serve_argv);
	}
out:
	ns_frame_free(frame);
	ns_store_close(store);
	ns_schema_free(schema);
	return rc;
}
