/*
 * src/cli/cmd_drift.c - `netsec drift REFERENCE.csv NEW.csv`: the training
 * pipeline's drift check on new data against the training data.
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
		"Usage: netsec drift REFERENCE.csv NEW.csv [OPTIONS]\n\n"
		"Compares each feature column of NEW with REFERENCE (for example the\n"
		"training split of a run, artifacts/<run>/data_ingestion/ingested/train.csv):\n"
		"two-sample Kolmogorov-Smirnov for numeric columns (p-values as\n"
		"scipy.stats.ks_2samp), chi-square on the level counts for categorical ones.\n\n"
		"Options:\n"
		"  -s, --schema FILE       schema of both files (default: inferred from\n"
		"                          REFERENCE)\n"
		"  -t, --target COL        target column when inferring (left out of the test)\n"
		"  -p, --threshold P       p-value below which a column drifted (0.05)\n"
		"  -o, --output FILE       also write the report as YAML\n"
		"      --fail-on-drift     exit with status 5 when a column drifted\n");
}

int cmd_drift(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"schema", required_argument, NULL, 's'},
					     {"target", required_argument, NULL, 't'},
					     {"threshold", required_argument, NULL, 'p'},
					     {"output", required_argument, NULL, 'o'},
					     {"fail-on-drift", no_argument, NULL, 'F'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *schema_path = NULL, *target = NULL, *output = NULL;
	double threshold = 0.05;
	bool fail_on_drift = false;
	struct ns_schema *schema = NULL;
	struct ns_frame *ref = NULL, *cur = NULL;
	struct ns_drift_report rep;
	struct ns_validator_params vp = ns_validator_params_default();
	struct ns_diag diag;
	enum ns_status st;
	int c, rc = CLI_OK;

	memset(&rep, 0, sizeof(rep));
	while ((c = getopt_long(argc, argv, "s:t:p:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			schema_path = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'p':
			if (!ns_parse_double(optarg, strlen(optarg), &threshold) ||
			    !(threshold > 0 && threshold < 1))
				return cli_usage_error(cli, "drift",
						       "--threshold must be in (0, 1)");
			break;
		case 'o':
			output = optarg;
			break;
		case 'F':
			fail_on_drift = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "drift", "bad option");
		}
	}
	if (argc - optind != 2)
		return cli_usage_error(cli, "drift", "give REFERENCE.csv and NEW.csv");
	ns_diag_clear(&diag);
	if (schema_path) {
		st = ns_schema_load(schema_path, &schema, &diag);
	} else {
		struct ns_infer_params ip = ns_infer_params_default();
		ip.target = target;
		st = ns_schema_infer_file(argv[optind], &ip, &schema, &diag);
	}
	/* New data may come without the label, and with extra columns. */
	vp.target_optional = true;
	vp.allow_extra = true;
	if (st == NS_OK)
		st = ns_frame_read_csv_ex(argv[optind], schema, &vp, &ref, &diag);
	if (st == NS_OK)
		st = ns_frame_read_csv_ex(argv[optind + 1], schema, &vp, &cur, &diag);
	if (st == NS_OK)
		st = ns_drift_compare(schema, ref, cur, threshold, &rep, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	printf("%-32s %-5s %-7s %12s %12s  %s\n", "column", "test", "method", "statistic",
	       "p-value", "drift");
	for (size_t i = 0; i < rep.n_columns; i++) {
		const struct ns_drift_column *col = &rep.columns[i];
		printf("%-32.32s %-5s %-7s %12.6g %12.6g  %s\n", col->name, col->test,
		       col->skipped ? "skipped" : col->method, col->statistic, col->p_value,
		       col->drift ? "DRIFT" : "-");
	}
	printf("\n%zu of %zu columns drifted (p < %g)\n", rep.n_drifted, rep.n_columns, threshold);
	if (output) {
		char *yaml = NULL;
		size_t len = 0;
		st = ns_drift_report_yaml(&rep, &yaml, &len);
		if (st == NS_OK)
			st = ns_write_file_atomic(output, yaml, len, &diag);
		ns_free(yaml);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
		cli_info(cli, "wrote %s\n", output);
	}
	if (fail_on_drift && rep.n_drifted)
		rc = CLI_GATE;
out:
	ns_drift_report_fini(&rep);
	ns_frame_free(ref);
	ns_frame_free(cur);
	ns_schema_free(schema);
	return rc;
}
