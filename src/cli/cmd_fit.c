/*
 * src/cli/cmd_fit.c - `netsec fit`: train one family, report test metrics,
 * write a model file that carries its encoder and schema.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn_common.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec fit --family NAME --train FILE [OPTIONS] -o MODEL\n\n"
		"Trains one model family on FILE and writes the model (with its encoder and\n"
		"schema, so that 'netsec predict' needs nothing else).  With --test, prints\n"
		"the metrics on that file.  Nothing is written unless training succeeds.\n\n"
		"Options:\n"
		"  -f, --family NAME    logreg, tree, forest, knn, adaboost, gbdt (or aliases)\n"
		"  -p, --params K=V,..  parameters ('netsec fit --family NAME --help-params')\n"
		"      --train FILE     training data (CSV)\n"
		"      --test FILE      evaluation data (CSV, same schema)\n"
		"  -s, --schema FILE    schema (default: inferred from the training file)\n"
		"  -t, --target COL     target column when inferring the schema\n"
		"      --seed N         random seed (default 42)\n"
		"  -j, --threads N      threads (default: all cores)\n"
		"  -o, --output MODEL   the model file to write\n"
		"      --metrics-out F  also write the test metrics as JSON to F\n"
		"      --help-params    list the family's parameters and exit\n");
}

static void print_params(const struct ns_family *f)
{
	size_t n;
	const struct ns_param_def *defs = ns_family_params(f, &n);
	printf("%s: %s\n\nparameters:\n", ns_family_name(f), ns_family_doc(f));
	for (size_t i = 0; i < n; i++) {
		char def[64];
		ns_param_value_format(&defs[i], defs[i].def, def, sizeof(def));
		printf("  %-22s default %-10s %s\n", defs[i].name, def, defs[i].doc);
	}
}

int cmd_fit(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"family", required_argument, NULL, 'f'},
					     {"params", required_argument, NULL, 'p'},
					     {"train", required_argument, NULL, 'T'},
					     {"test", required_argument, NULL, 'E'},
					     {"schema", required_argument, NULL, 's'},
					     {"target", required_argument, NULL, 't'},
					     {"seed", required_argument, NULL, 'S'},
					     {"threads", required_argument, NULL, 'j'},
					     {"output", required_argument, NULL, 'o'},
					     {"help-params", no_argument, NULL, 'P'},
					     {"metrics-out", required_argument, NULL, 'M'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *family = NULL, *plist = "", *train = NULL, *test = NULL, *schema = NULL,
		   *target = NULL, *output = NULL, *metrics_out = NULL;
	uint64_t seed = 42, threads = 0;
	bool help_params = false;
	const struct ns_family *f;
	struct ns_params params;
	struct cli_trainset ts;
	struct ns_model *model = NULL;
	struct ns_diag diag;
	enum ns_status st;
	double t0, fit_seconds;
	int c, rc;

	while ((c = getopt_long(argc, argv, "f:p:s:t:j:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			family = optarg;
			break;
		case 'p':
			plist = optarg;
			break;
		case 'T':
			train = optarg;
			break;
		case 'E':
			test = optarg;
			break;
		case 's':
			schema = optarg;
			break;
		case 't':
			target = optarg;
			break;
		case 'S':
			if (cli_parse_u64(optarg, &seed) != 0)
				return cli_usage_error(cli, "fit", "bad --seed '%s'", optarg);
			break;
		case 'j':
			if (cli_parse_u64(optarg, &threads) != 0 || threads > 256)
				return cli_usage_error(cli, "fit", "bad --threads '%s'", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'P':
			help_params = true;
			break;
		case 'M':
			metrics_out = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "fit", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "fit", "unexpected argument '%s'", argv[optind]);
	if (!family)
		return cli_usage_error(cli, "fit", "--family is required");
	f = ns_family_find(family);
	if (!f)
		return cli_usage_error(
			cli, "fit",
			"unknown family '%s' (logreg, tree, forest, knn, adaboost, gbdt)", family);
	if (help_params) {
		print_params(f);
		return CLI_OK;
	}
	if (!train || !output)
		return cli_usage_error(cli, "fit", "--train and --output are required");
	/* Parameters are checked before any work. */
	ns_diag_clear(&diag);
	ns_params_init(&params, f);
	st = ns_params_parse(&params, plist, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);

	rc = cli_load_train(cli, train, schema, target, &ts);
	if (rc != CLI_OK)
		return rc;
	t0 = cli_now();
	{
		struct ns_dataset d = cli_dataset(&ts);
		struct ns_fit_options o = cli_fit_options(&ts, seed, (int)threads);
		st = ns_model_fit(&params, &d, &o, &model, &diag);
	}
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	fit_seconds = cli_now() - t0;
	cli_info(cli, "trained %s on %zu rows x %zu features (%u classes) in %.3f s\n",
		 ns_family_name(f), ts.n, ts.d, ts.k, fit_seconds);
	st = cli_attach_prep(model, &ts, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	if (test) {
		double *x = NULL;
		uint32_t *y = NULL;
		size_t n = 0;
		struct ns_metrics m;
		rc = cli_load_eval(cli, test, &ts, &x, &y, &n);
		if (rc != CLI_OK)
			goto out;
		st = cli_evaluate(model, x, y, n, ns_encoder_threat(ts.enc), &m);
		ns_free(x);
		ns_free(y);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, NULL);
			goto out;
		}
		if (cli->verbosity >= 1)
			cli_print_metrics(&m, &ts, test);
		if (metrics_out) {
			char json[1024];
			int len = snprintf(
				json, sizeof(json),
				"{\"family\":\"%s\",\"n\":%llu,\"accuracy\":%.17g,"
				"\"precision\":%.17g,\"recall\":%.17g,\"f1\":%.17g,"
				"\"macro_f1\":%.17g,\"weighted_f1\":%.17g,"
				"\"roc_auc\":%.17g,\"log_loss\":%.17g,\"fit_seconds\":%.6f}\n",
				ns_family_name(f), (unsigned long long)m.n, m.accuracy, m.precision,
				m.recall, m.f1, m.macro_f1, m.weighted_f1,
				isnan(m.roc_auc) ? -1.0 : m.roc_auc, m.log_loss, fit_seconds);
			st = ns_write_file_atomic(metrics_out, json, (size_t)len, &diag);
		}
		ns_metrics_fini(&m);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
	}
	st = ns_model_save(model, output, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	cli_info(cli, "wrote %s\n", output);
out:
	ns_model_free(model);
	cli_trainset_fini(&ts);
	return rc;
}
