/*
 * src/cli/cmd_search.c - `netsec search`: grid search with cross-validation
 * over the model families, printing a leaderboard; optionally test metrics
 * of each family's best (refitted on all the training data) and the winner
 * written as a model file.  Selection is by cross-validation score only.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn_common.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec search --train FILE [OPTIONS]\n\n"
		"Searches each family's parameter grid with stratified k-fold cross-validation\n"
		"and prints a leaderboard.  Default grids are the reference project's (plus\n"
		"kNN); a YAML file replaces the grids of the families it lists.\n\n"
		"Options:\n"
		"      --train FILE        training data (CSV)\n"
		"      --test FILE         also report each family's best on this file\n"
		"  -s, --schema FILE       schema (default: inferred)\n"
		"  -t, --target COL        target column when inferring\n"
		"      --families A,B,..   families to search (default: all six)\n"
		"      --grid FILE         YAML grids (docs/search.md)\n"
		"      --cv N              folds (default 3)\n"
		"      --scoring NAME      f1 (of the threat class; default), accuracy,\n"
		"                          macro_f1, roc_auc, neg_log_loss\n"
		"      --seed N            folds and fits (default 42)\n"
		"  -j, --threads N         threads (default: all cores)\n"
		"  -o, --output MODEL      write the winner, refitted on all the training data\n");
}

struct progress {
	struct cli *cli;
	bool tty;
	size_t last_decile;
};

static void on_progress(void *user, const struct ns_search_progress *p)
{
	struct progress *pr = user;
	double frac = p->tasks_total ? (double)p->tasks_done / (double)p->tasks_total : 1;
	double remaining = frac > 0 ? p->elapsed * (1 - frac) / frac : 0;
	if (pr->cli->verbosity < 1)
		return;
	if (pr->tty) {
		fprintf(stderr,
			"\r  search: %zu/%zu fits (%3.0f%%), %zu/%zu candidates, %.1f s, ~%.1f s "
			"left  ",
			p->tasks_done, p->tasks_total, 100 * frac, p->candidates_done,
			p->candidates_total, p->elapsed, remaining);
		if (p->tasks_done == p->tasks_total)
			fprintf(stderr, "\n");
	} else if ((size_t)(frac * 10) > pr->last_decile || p->tasks_done == p->tasks_total) {
		pr->last_decile = (size_t)(frac * 10);
		fprintf(stderr, "search: %zu/%zu fits, %.1f s elapsed\n", p->tasks_done,
			p->tasks_total, p->elapsed);
	}
}

int cmd_search(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"train", required_argument, NULL, 'T'},
					     {"test", required_argument, NULL, 'E'},
					     {"schema", required_argument, NULL, 's'},
					     {"target", required_argument, NULL, 't'},
					     {"families", required_argument, NULL, 'F'},
					     {"grid", required_argument, NULL, 'G'},
					     {"cv", required_argument, NULL, 'c'},
					     {"scoring", required_argument, NULL, 'R'},
					     {"seed", required_argument, NULL, 'S'},
					     {"threads", required_argument, NULL, 'j'},
					     {"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *train = NULL, *test = NULL, *schema = NULL, *target = NULL, *families = NULL,
		   *grid_path = NULL, *output = NULL;
	uint64_t cv = 3, seed = 42, threads = 0;
	int scoring = NS_SCORE_F1;
	struct ns_grid grids[16];
	size_t n_grids = 0;
	struct cli_trainset ts;
	struct ns_search_params sp = ns_search_params_default();
	struct ns_search_results res;
	struct progress prog = {0};
	struct ns_diag diag;
	enum ns_status st;
	double *tx = NULL;
	uint32_t *ty = NULL;
	size_t tn = 0;
	int c, rc = CLI_OK;
	bool ts_loaded = false, have_res = false;

	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, "s:t:j:o:h", opts, NULL)) != -1) {
		switch (c) {
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
		case 'F':
			families = optarg;
			break;
		case 'G':
			grid_path = optarg;
			break;
		case 'c':
			if (cli_parse_u64(optarg, &cv) != 0 || cv < 2 || cv > 100)
				return cli_usage_error(cli, "search", "--cv must be in [2, 100]");
			break;
		case 'R':
			scoring = ns_scoring_from_name(optarg);
			if (scoring < 0)
				return cli_usage_error(cli, "search", "unknown --scoring '%s'",
						       optarg);
			break;
		case 'S':
			if (cli_parse_u64(optarg, &seed) != 0)
				return cli_usage_error(cli, "search", "bad --seed '%s'", optarg);
			break;
		case 'j':
			if (cli_parse_u64(optarg, &threads) != 0 || threads > 256)
				return cli_usage_error(cli, "search", "bad --threads '%s'", optarg);
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "search", "bad option");
		}
	}
	if (optind != argc || !train)
		return cli_usage_error(cli, "search", "--train FILE is required");
	ns_diag_clear(&diag);

	rc = cli_build_grids(cli, "search", families, grid_path, grids, &n_grids);
	if (rc != CLI_OK)
		return rc;

	rc = cli_load_train(cli, train, schema, target, &ts);
	if (rc != CLI_OK)
		return rc;
	ts_loaded = true;
	if (test) {
		rc = cli_load_eval(cli, test, &ts, &tx, &ty, &tn);
		if (rc != CLI_OK)
			goto out;
	}
	sp.cv = (uint32_t)cv;
	sp.seed = seed;
	sp.scoring = (enum ns_scoring)scoring;
	sp.positive = ns_encoder_threat(ts.enc);
	sp.n_threads = (int)threads;
	prog.cli = cli;
	prog.tty = isatty(2);
	sp.progress = on_progress;
	sp.progress_user = &prog;
	{
		struct ns_dataset d = cli_dataset(&ts);
		struct ns_fit_options o = cli_fit_options(&ts, seed, (int)threads);
		size_t total = 0;
		for (size_t g = 0; g < n_grids; g++)
			total += ns_grid_size(&grids[g]);
		cli_info(cli,
			 "searching %zu candidates in %zu families, cv = %u, scoring %s, on %zu "
			 "rows\n",
			 total, n_grids, sp.cv, ns_scoring_name(sp.scoring), ts.n);
		st = ns_search_run(grids, n_grids, &d, &o, &sp, &res, &diag);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
		have_res = true;
	}
	/* Leaderboard, best family first. */
	{
		size_t order[16];
		for (size_t i = 0; i < res.n_families; i++)
			order[i] = i;
		for (size_t i = 1; i < res.n_families; i++)
			for (size_t j = i; j > 0; j--) {
				const struct ns_family_result *a = &res.families[order[j - 1]],
							      *b = &res.families[order[j]];
				if (b->candidates[b->best].mean_score >
				    a->candidates[a->best].mean_score) {
					size_t t = order[j];
					order[j] = order[j - 1];
					order[j - 1] = t;
				}
			}
		printf("\n%-4s %-9s %10s %8s %10s %8s  %s\n", "rank", "family",
		       ns_scoring_name(sp.scoring), "+/-", test ? "test" : "", "fit s",
		       "best parameters");
		for (size_t r = 0; r < res.n_families; r++) {
			const struct ns_family_result *fr = &res.families[order[r]];
			const struct ns_candidate_result *cr = &fr->candidates[fr->best];
			char axes[512], testcol[32] = "";
			double fit_s = 0;
			for (size_t k = 0; k < fr->n_candidates; k++)
				fit_s += fr->candidates[k].fit_seconds;
			ns_grid_axes_text(&grids[order[r]], &cr->params, axes, sizeof(axes));
			if (test) {
				struct ns_model *m = NULL;
				struct ns_dataset d = cli_dataset(&ts);
				struct ns_fit_options o = cli_fit_options(&ts, seed, (int)threads);
				struct ns_metrics met;
				st = ns_model_fit(&cr->params, &d, &o, &m, &diag);
				if (st == NS_OK)
					st = cli_evaluate(m, tx, ty, tn, sp.positive, &met);
				if (st == NS_OK) {
					snprintf(testcol, sizeof(testcol), "%.4f",
						 ns_metrics_score(&met, sp.scoring));
					ns_metrics_fini(&met);
				}
				ns_model_free(m);
				if (st != NS_OK) {
					rc = cli_fail(cli, st, &diag);
					goto out;
				}
			}
			printf("%-4zu %-9s %10.4f %8.4f %10s %8.2f  %s\n", r + 1,
			       ns_family_name(fr->family), cr->mean_score, cr->std_score, testcol,
			       fit_s, axes);
		}
		printf("\nsearched %zu fits in %.2f s; winner: %s (by cross-validation %s)\n",
		       res.n_fits, res.seconds,
		       ns_family_name(res.families[res.best_family].family),
		       ns_scoring_name(sp.scoring));
	}
	if (output) {
		const struct ns_family_result *fr = &res.families[res.best_family];
		struct ns_model *m = NULL;
		struct ns_dataset d = cli_dataset(&ts);
		struct ns_fit_options o = cli_fit_options(&ts, seed, (int)threads);
		st = ns_model_fit(&fr->candidates[fr->best].params, &d, &o, &m, &diag);
		if (st == NS_OK)
			st = cli_attach_prep(m, &ts, &diag);
		if (st == NS_OK)
			st = ns_model_save(m, output, &diag);
		ns_model_free(m);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
		cli_info(cli, "wrote %s\n", output);
	}
out:
	if (have_res)
		ns_search_results_fini(&res);
	ns_free(tx);
	ns_free(ty);
	if (ts_loaded)
		cli_trainset_fini(&ts);
	return rc;
}
