/*
 * src/cli/cmd_train.c - `netsec train`: the training pipeline (lib/pipeline)
 * with progress on stderr and a leaderboard on stdout.
 *
 * With no arguments it trains on the embedded default: the store's
 * collection of the bundled dataset, ingested first when the store does not
 * have it yet.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn_common.h"
#include "netsec/pipeline.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec train [OPTIONS]\n\n"
		"Runs the training pipeline: ingestion (split, leakage count), validation\n"
		"(schema check, drift report), preparation (encoding, KNN imputation), model\n"
		"search (every family's grid, stratified k-fold CV), evaluation on the test\n"
		"split, gates, registry (promote when not worse than the current model) and\n"
		"tracking in MLflow's format.  Each run writes ARTIFACTS/<run id>/.\n\n"
		"Data (default: the store's collection of the bundled dataset, ingested\n"
		"first if the store lacks it):\n"
		"      --data FILE           train straight from a CSV file (needs --schema)\n"
		"  -s, --schema FILE         schema (default: the collection's own)\n"
		"  -c, --collection NAME     store collection (default: the schema's name)\n"
		"Outputs:\n"
		"      --artifacts DIR       run folders (default artifacts, $NETSEC_ARTIFACTS)\n"
		"      --registry DIR        model registry (default models, $NETSEC_REGISTRY)\n"
		"      --name NAME           registered model name (default netsec)\n"
		"      --tracking URI        MLflow tracking store (default $MLFLOW_TRACKING_URI\n"
		"                            or ./mlruns; 'none' turns tracking off)\n"
		"      --experiment NAME     MLflow experiment (default netsec)\n"
		"Split and checks:\n"
		"      --test-fraction F     test share (default 0.2)\n"
		"      --dedup               drop exact duplicate rows before splitting\n"
		"      --seed N              split, folds and fits (default 42)\n"
		"      --drift-threshold P   p-value below which a column drifted (0.05)\n"
		"      --fail-on-drift       a drifted column stops the run\n"
		"      --neighbors K         KNN imputer neighbours (default 3)\n"
		"Selection:\n"
		"      --families A,B,..     families to search (default: all six)\n"
		"      --grid FILE           YAML grids (docs/search.md)\n"
		"      --cv N                folds (default 3)\n"
		"      --scoring NAME        f1 (threat class; default), accuracy, macro_f1,\n"
		"                            roc_auc, neg_log_loss\n"
		"      --expected-score S    the winner's test score must reach S (0.6)\n"
		"      --overfit-threshold T flag train - test score above T (0.05)\n"
		"      --force               promote even if worse than the current model\n"
		"  -j, --threads N           threads (default: all cores)\n\n"
		"Exit status: 0 trained (promoted or not), 1 bad data, 2 usage, 3 I/O,\n"
		"4 internal, 5 a gate stopped the run (expected score, drift).\n");
}

struct progress {
	struct cli *cli;
	bool tty;
	int last_stage;
	size_t last_decile;
};

static void on_progress(void *user, const struct ns_train_progress *p)
{
	struct progress *pr = user;
	const char *name = ns_train_stage_name(p->stage);
	if (pr->cli->verbosity < 1)
		return;
	if (p->total) {
		double frac = (double)p->done / (double)p->total;
		double left = frac > 0 ? (p->elapsed - 0) * (1 - frac) / frac : 0;
		if (pr->tty) {
			fprintf(stderr,
				"\r[%d/%d] %-19s %zu/%zu fits (%3.0f%%) %-8s %6.1f s elapsed, "
				"~%.0f s left ",
				p->stage + 1, NS_STAGE_COUNT_, name, p->done, p->total, 100 * frac,
				p->family ? p->family : "", p->elapsed, left);
			if (p->done == p->total)
				fprintf(stderr, "\n");
		} else if ((size_t)(frac * 10) > pr->last_decile || p->done == p->total) {
			pr->last_decile = (size_t)(frac * 10);
			fprintf(stderr, "[%d/%d] %s: %zu/%zu fits, %.1f s elapsed\n", p->stage + 1,
				NS_STAGE_COUNT_, name, p->done, p->total, p->elapsed);
		}
		return;
	}
	if (pr->tty)
		fprintf(stderr, "\r\033[K[%d/%d] %s: %s (%.1f s)%s", p->stage + 1, NS_STAGE_COUNT_,
			name, p->detail ? p->detail : "", p->elapsed, "");
	else
		fprintf(stderr, "[%d/%d] %s: %s (%.1f s)\n", p->stage + 1, NS_STAGE_COUNT_, name,
			p->detail ? p->detail : "", p->elapsed);
	pr->last_stage = (int)p->stage;
}

/* The embedded default: ingest the bundled data when the store lacks it. */
static int ensure_default_data(struct cli *cli, const char *schema_path, const char **collection)
{
	struct ns_schema *schema = NULL;
	struct ns_store *store = NULL;
	struct ns_diag diag;
	enum ns_status st;
	uint64_t rows = 0;
	char data_path[4096];
	int rc = CLI_OK;

	ns_diag_clear(&diag);
	snprintf(data_path, sizeof(data_path), "%s/phisingData.csv", cli_data_dir());
	st = ns_schema_load(schema_path, &schema, &diag);
	if (st == NS_OK)
		st = ns_store_open(cli->store_uri, &store, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	*collection = strdup(schema->name && *schema->name ? schema->name : "dataset");
	st = ns_store_count(store, *collection, &rows, &diag);
	if (st == NS_ERR_NOTFOUND || (st == NS_OK && rows == 0)) {
		struct ns_ingest_params ip = ns_ingest_params_default();
		struct ns_ingest_result res;
		struct cli_problems pp = {.cli = cli, .max_print = 20, .file = data_path};
		cli_info(cli, "the store has no '%s' yet: ingesting %s\n", *collection, data_path);
		ns_diag_clear(&diag);
		ip.collection = *collection;
		st = ns_store_ingest_csv(store, data_path, schema, &ip, cli_print_problem, &pp,
					 &res, &diag);
		cli_problems_done(&pp);
	}
	if (st != NS_OK)
		rc = cli_fail(cli, st, &diag);
out:
	ns_store_close(store);
	ns_schema_free(schema);
	return rc;
}

static void print_result(const struct ns_train_result *r, const struct ns_train_config *c)
{
	size_t order[16];
	printf("\nrun %s: %zu rows (%zu exact duplicates%s), train %zu, test %zu\n", r->run_id,
	       r->n_rows, r->n_duplicates, c->dedup ? ", dropped" : "", r->n_train, r->n_test);
	printf("  leakage: %zu of %zu test rows (%.1f%%) also occur in train%s\n", r->n_leaked,
	       r->n_test, r->n_test ? 100.0 * (double)r->n_leaked / (double)r->n_test : 0.0,
	       c->dedup || r->n_leaked == 0 ? "" : " (--dedup removes this)");
	printf("  drift: %zu columns with p < %g\n", r->n_drifted, c->drift_threshold);
	if (!r->n_families)
		return;
	for (size_t i = 0; i < r->n_families; i++)
		order[i] = i;
	for (size_t i = 1; i < r->n_families; i++)
		for (size_t j = i;
		     j > 0 && r->families[order[j]].cv_mean > r->families[order[j - 1]].cv_mean;
		     j--) {
			size_t t = order[j];
			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	printf("\n%-4s %-9s %9s %7s %9s %8s %8s %8s  %s\n", "rank", "family", "cv", "+/-", "test",
	       "test f1", "roc_auc", "refit s", "best of the grid");
	for (size_t i = 0; i < r->n_families; i++) {
		const struct ns_train_family *f = &r->families[order[i]];
		printf("%-4zu %-9s %9.4f %7.4f %9.4f %8.4f %8.4f %8.2f  %s%s\n", i + 1,
		       ns_family_name(f->family), f->cv_mean, f->cv_std, f->test_score, f->test_f1,
		       f->test_roc_auc, f->fit_seconds, f->axes,
		       order[i] == r->winner ? "  <- chosen" : "");
	}
	printf("\nchosen by cross-validation %s: %s; test %s %.4f, train %.4f%s\n",
	       ns_scoring_name(c->scoring), ns_family_name(r->families[r->winner].family),
	       ns_scoring_name(c->scoring), r->test_score, r->train_score,
	       r->overfit ? "  (over-fitting: train - test above the threshold)" : "");
}

int cmd_train(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"data", required_argument, NULL, 'D'},
					     {"schema", required_argument, NULL, 's'},
					     {"collection", required_argument, NULL, 'c'},
					     {"artifacts", required_argument, NULL, 'A'},
					     {"registry", required_argument, NULL, 'R'},
					     {"name", required_argument, NULL, 'N'},
					     {"tracking", required_argument, NULL, 'T'},
					     {"experiment", required_argument, NULL, 'X'},
					     {"test-fraction", required_argument, NULL, 'f'},
					     {"dedup", no_argument, NULL, 'd'},
					     {"seed", required_argument, NULL, 'S'},
					     {"drift-threshold", required_argument, NULL, 'p'},
					     {"fail-on-drift", no_argument, NULL, 'P'},
					     {"neighbors", required_argument, NULL, 'k'},
					     {"families", required_argument, NULL, 'F'},
					     {"grid", required_argument, NULL, 'G'},
					     {"cv", required_argument, NULL, 'v'},
					     {"scoring", required_argument, NULL, 'r'},
					     {"expected-score", required_argument, NULL, 'e'},
					     {"overfit-threshold", required_argument, NULL, 'o'},
					     {"force", no_argument, NULL, 'O'},
					     {"threads", required_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct ns_train_config c = ns_train_config_default();
	struct ns_train_result *r = NULL;
	struct ns_grid grids[16];
	size_t n_grids = 0;
	const char *families = NULL, *grid_path = NULL, *env;
	char default_schema[4096];
	const char *default_collection = NULL;
	struct progress prog = {0};
	struct ns_diag diag;
	enum ns_status st;
	uint64_t u64;
	int ch, rc = CLI_OK;

	if ((env = getenv("NETSEC_ARTIFACTS")) && *env)
		c.artifacts_dir = env;
	if ((env = getenv("NETSEC_REGISTRY")) && *env)
		c.registry_dir = env;
	c.store_uri = cli->store_uri;
	while ((ch = getopt_long(argc, argv, "s:c:j:h", opts, NULL)) != -1) {
		double v;
		switch (ch) {
		case 'D':
			c.csv_path = optarg;
			break;
		case 's':
			c.schema_path = optarg;
			break;
		case 'c':
			c.collection = optarg;
			break;
		case 'A':
			c.artifacts_dir = optarg;
			break;
		case 'R':
			c.registry_dir = optarg;
			break;
		case 'N':
			c.model_name = optarg;
			break;
		case 'T':
			c.tracking_uri = strcmp(optarg, "none") == 0 ? "" : optarg;
			break;
		case 'X':
			c.experiment = optarg;
			break;
		case 'f':
		case 'p':
		case 'e':
		case 'o':
			if (!ns_parse_double(optarg, strlen(optarg), &v) || !isfinite(v))
				return cli_usage_error(cli, "train", "bad number '%s'", optarg);
			if (ch == 'f')
				c.test_fraction = v;
			else if (ch == 'p')
				c.drift_threshold = v;
			else if (ch == 'e')
				c.expected_score = v;
			else
				c.overfit_threshold = v;
			break;
		case 'd':
			c.dedup = true;
			break;
		case 'S':
			if (cli_parse_u64(optarg, &c.seed) != 0)
				return cli_usage_error(cli, "train", "bad --seed '%s'", optarg);
			break;
		case 'P':
			c.fail_on_drift = true;
			break;
		case 'k':
			if (cli_parse_u64(optarg, &u64) != 0 || u64 < 1 || u64 > 1000)
				return cli_usage_error(cli, "train",
						       "--neighbors must be in [1, 1000]");
			c.impute_neighbors = (unsigned)u64;
			break;
		case 'F':
			families = optarg;
			break;
		case 'G':
			grid_path = optarg;
			break;
		case 'v':
			if (cli_parse_u64(optarg, &u64) != 0 || u64 < 2 || u64 > 100)
				return cli_usage_error(cli, "train", "--cv must be in [2, 100]");
			c.cv = (uint32_t)u64;
			break;
		case 'r': {
			int s = ns_scoring_from_name(optarg);
			if (s < 0)
				return cli_usage_error(cli, "train", "unknown --scoring '%s'",
						       optarg);
			c.scoring = (enum ns_scoring)s;
			break;
		}
		case 'O':
			c.force = true;
			break;
		case 'j':
			if (cli_parse_u64(optarg, &u64) != 0 || u64 > 256)
				return cli_usage_error(cli, "train", "bad --threads '%s'", optarg);
			c.n_threads = (int)u64;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "train", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "train", "unexpected argument '%s'", argv[optind]);
	if (c.csv_path && !c.schema_path)
		return cli_usage_error(cli, "train", "--data needs --schema");
	if (!(c.test_fraction > 0 && c.test_fraction < 1))
		return cli_usage_error(cli, "train", "--test-fraction must be in (0, 1)");
	if (!(c.drift_threshold > 0 && c.drift_threshold < 1))
		return cli_usage_error(cli, "train", "--drift-threshold must be in (0, 1)");
	ns_diag_clear(&diag);

	/* Grids: the chosen families' defaults, replaced by the file's. */
	if (families || grid_path) {
		rc = cli_build_grids(cli, "train", families, grid_path, grids, &n_grids);
		if (rc != CLI_OK)
			return rc;
		c.grids = grids;
		c.n_grids = n_grids;
	}
	/* The embedded default. */
	if (!c.csv_path && !c.collection && !c.schema_path) {
		snprintf(default_schema, sizeof(default_schema), "%s/schema.yaml", cli_data_dir());
		rc = ensure_default_data(cli, default_schema, &default_collection);
		if (rc != CLI_OK)
			goto out;
		c.collection = default_collection;
	}
	prog.cli = cli;
	prog.tty = isatty(2);
	prog.last_stage = -1;
	c.progress = on_progress;
	c.progress_user = &prog;
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = CLI_INTERNAL;
		goto out;
	}
	st = ns_train_run(&c, r, &diag);
	if (prog.tty && cli->verbosity >= 1)
		fprintf(stderr, "\r\033[K");
	if (cli->verbosity >= 1 && r->n_rows)
		print_result(r, &c);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		if (r->run_dir[0])
			fprintf(stderr, "%s: the run's artifacts and report are in %s\n", cli->prog,
				r->run_dir);
		goto out;
	}
	printf("registry: %s v%u %s (%s)\n", c.model_name, r->version,
	       r->promoted ? "promoted to current" : "not promoted", r->promotion_reason);
	printf("\nartifacts  %s\nreport     %s\nmodel      %s\n", r->run_dir, r->report_path,
	       r->model_path);
	if (r->tracking_run_id[0])
		printf("tracking   run %s (experiment '%s')\n", r->tracking_run_id, c.experiment);
	cli_info(cli, "\ndone in %.1f s\n", r->seconds);
	/* Configured S3 sync: a failure warns, the run still counts (docs/sync.md). */
	if ((env = getenv("NETSEC_S3_URI")) && *env) {
		char *sync_argv[] = {"sync",        "push",
				     "--artifacts", (char *)c.artifacts_dir,
				     "--registry",  (char *)c.registry_dir,
				     NULL};
		if (cmd_sync(cli, 6, sync_argv) != CLI_OK)
			fprintf(stderr,
				"%s: warning: sync push to %s failed; the run is trained and "
				"registered locally (retry with `netsec sync push`)\n",
				cli->prog, env);
	}
out:
	free(r);
	free((void *)default_collection);
	return rc;
}
