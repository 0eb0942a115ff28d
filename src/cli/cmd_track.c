/*
 * src/cli/cmd_track.c - `netsec track`: the local MLflow file store that
 * backs remote tracking, and replaying its runs to an MLflow server.
 *
 *   netsec track list [--from DIR]
 *   netsec track push RUN_ID [--from DIR] [--to URI] [--force]
 *   netsec track push --pending [--from DIR] [--to URI]
 *
 * --from defaults to $NETSEC_LOCAL_MLRUNS, else ./mlruns (where
 * `netsec train` keeps its local copy); --to to $MLFLOW_TRACKING_URI.
 * Nothing here prints a credential: URIs are shown without userinfo.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec track list [--from DIR]\n"
		"       netsec track push RUN_ID [--from DIR] [--to URI] [--force]\n"
		"       netsec track push --pending [--from DIR] [--to URI]\n\n"
		"When tracking goes to an MLflow server, `netsec train` also writes every run\n"
		"to a local MLflow file store; a run the server did not get whole is tagged\n"
		"netsec.pending_push=true there.  `push` replays a run and its nested runs\n"
		"(params, metrics with their timestamps and steps, tags, artifacts, status\n"
		"and times) and tags the local copy netsec.remote_run_id, so pushing again\n"
		"skips it unless --force.  See docs/tracking.md.\n\n"
		"Options:\n"
		"      --from DIR        local file store (default: $NETSEC_LOCAL_MLRUNS or "
		"./mlruns)\n"
		"      --to URI          MLflow server (default: $MLFLOW_TRACKING_URI)\n"
		"      --pending         push every run marked netsec.pending_push=true\n"
		"      --force           push runs that were pushed already (duplicates them)\n\n"
		"Credentials: MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or\n"
		"MLFLOW_TRACKING_TOKEN.  Exit codes: 0 ok, 1 no such run, 2 usage, 3 the\n"
		"server or the store failed, 4 internal.\n");
}

static const char *default_from(void)
{
	const char *v = getenv("NETSEC_LOCAL_MLRUNS");
	return v && *v ? v : "./mlruns";
}

/* `uri` without a "user:password@" part, for messages. */
static void redact(const char *uri, char *buf, size_t size)
{
	const char *p = strstr(uri, "://");
	const char *auth = p ? p + 3 : NULL;
	const char *end = auth ? auth + strcspn(auth, "/") : NULL;
	const char *at = NULL;
	for (const char *q = auth; q && q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		snprintf(buf, size, "%.*s***%s", (int)(auth - uri), uri, at);
	else
		snprintf(buf, size, "%s", uri);
}

static const char *status_name(enum ns_run_status s)
{
	switch (s) {
	case NS_RUN_RUNNING:
		return "RUNNING";
	case NS_RUN_FINISHED:
		return "FINISHED";
	case NS_RUN_FAILED:
		return "FAILED";
	default:
		return "KILLED";
	}
}

static int cmd_list(struct cli *cli, const char *from)
{
	struct ns_track_record *recs = NULL;
	size_t n = 0;
	struct ns_diag diag;
	enum ns_status st = ns_track_read_runs(from, false, &recs, &n, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	printf("%-32s  %-9s  %-7s  %-32s  %s\n", "RUN", "STATUS", "PENDING", "REMOTE RUN",
	       "NAME (EXPERIMENT)");
	for (size_t i = 0; i < n; i++) {
		const char *pending = ns_track_record_tag(&recs[i], "netsec.pending_push");
		const char *remote = ns_track_record_tag(&recs[i], "netsec.remote_run_id");
		const char *parent = ns_track_record_tag(&recs[i], "mlflow.parentRunId");
		printf("%-32s  %-9s  %-7s  %-32s  %s%s (%s)\n", recs[i].run_id,
		       status_name(recs[i].status),
		       pending && strcmp(pending, "true") == 0 ? "yes" : "no",
		       remote ? remote : "-", parent ? "  " : "", recs[i].run_name,
		       recs[i].experiment_name);
	}
	ns_track_records_free(recs, n);
	return CLI_OK;
}

/* True when `r` is pending and its parent (if any) is not, so that a
 * push of `r` covers its pending nested runs once. */
static bool pending_root(const struct ns_track_record *recs, size_t n,
			 const struct ns_track_record *r)
{
	const char *p = ns_track_record_tag(r, "netsec.pending_push");
	const char *parent = ns_track_record_tag(r, "mlflow.parentRunId");
	if (!p || strcmp(p, "true") != 0)
		return false;
	for (size_t i = 0; parent && i < n; i++) {
		if (strcmp(recs[i].run_id, parent) == 0) {
			const char *pp = ns_track_record_tag(&recs[i], "netsec.pending_push");
			return !(pp && strcmp(pp, "true") == 0);
		}
	}
	return true;
}

static int cmd_push(struct cli *cli, const char *from, const char *to, const char *run_id,
		    bool pending, bool force)
{
	struct ns_tracker *t = NULL;
	struct ns_track_record *recs = NULL;
	size_t n = 0, pushed = 0, skipped = 0, n_runs = 0;
	struct ns_diag diag;
	enum ns_status st;
	char shown[512];

	if (!to || !*to)
		to = getenv("MLFLOW_TRACKING_URI");
	if (!to || !*to)
		return cli_usage_error(cli, "track push",
				       "no destination: give --to URI or set MLFLOW_TRACKING_URI");
	redact(to, shown, sizeof(shown));
	st = ns_tracker_open(to, &t, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (pending) {
		st = ns_track_read_runs(from, false, &recs, &n, &diag);
		for (size_t i = 0; st == NS_OK && i < n; i++) {
			size_t p = 0, s = 0;
			if (!pending_root(recs, n, &recs[i]))
				continue;
			n_runs++;
			st = ns_track_push(t, from, recs[i].run_id, force, &p, &s, &diag);
			pushed += p;
			skipped += s;
			if (st == NS_OK)
				cli_info(cli,
					 "pushed run %s (%s): %zu run(s) sent, %zu already there\n",
					 recs[i].run_id, recs[i].run_name, p, s);
		}
		ns_track_records_free(recs, n);
		if (st == NS_OK && n_runs == 0)
			cli_info(cli, "no pending runs in %s\n", from);
	} else {
		st = ns_track_push(t, from, run_id, force, &pushed, &skipped, &diag);
		if (st == NS_OK)
			cli_info(cli, "pushed run %s: %zu run(s) sent, %zu already there\n", run_id,
				 pushed, skipped);
	}
	ns_tracker_close(t);
	if (st != NS_OK) {
		fprintf(stderr,
			"%s: push to %s failed after %zu run(s); what was not sent stays "
			"pending\n",
			cli->prog, shown, pushed);
		return cli_fail(cli, st, &diag);
	}
	if (pushed + skipped > 0)
		cli_info(cli,
			 "%s: %zu run(s) sent, %zu skipped (pushed before; --force sends them "
			 "again)\n",
			 shown, pushed, skipped);
	return CLI_OK;
}

int cmd_track(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
		{"pending", no_argument, NULL, 'P'},    {"force", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
	const char *from = default_from(), *to = NULL, *sub;
	bool pending = false, force = false;
	int c;

	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	argc--;
	argv++;
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			from = optarg;
			break;
		case 't':
			to = optarg;
			break;
		case 'P':
			pending = true;
			break;
		case 'F':
			force = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "track", "bad option");
		}
	}
	if (strcmp(sub, "list") == 0) {
		if (optind < argc || pending || force || to)
			return cli_usage_error(cli, "track list", "only --from is allowed");
		return cmd_list(cli, from);
	}
	if (strcmp(sub, "push") == 0) {
		if (pending ? optind != argc : optind + 1 != argc)
			return cli_usage_error(cli, "track push",
					       "give one RUN_ID, or --pending without one");
		return cmd_push(cli, from, to, pending ? NULL : argv[optind], pending, force);
	}
	return cli_usage_error(cli, "track", "unknown subcommand '%s' (list, push)", sub);
}
