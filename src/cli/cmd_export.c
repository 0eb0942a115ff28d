/*
 * src/cli/cmd_export.c - `netsec export`: a collection back to CSV.
 */
#include <getopt.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: netsec export -c NAME [-o FILE] [--rejects] [--store URI]\n\n"
		    "Writes a collection as CSV (header, then rows in ingest order) to FILE\n"
		    "(atomically: a temp file renamed into place) or stdout.  --rejects writes\n"
		    "the records that 'ingest --skip-bad' put aside, with line and reason.\n");
}

int cmd_export(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"collection", required_argument, NULL, 'c'},
					     {"output", required_argument, NULL, 'o'},
					     {"rejects", no_argument, NULL, 'r'},
					     {"store", required_argument, NULL, 'S'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *collection = NULL, *output = NULL;
	bool rejects = false;
	struct ns_store *store = NULL;
	struct ns_atomic_file af = {0};
	struct ns_diag diag;
	enum ns_status st;
	FILE *fp = stdout;
	int c;

	while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			collection = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'r':
			rejects = true;
			break;
		case 'S':
			cli->store_uri = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "export", "bad option");
		}
	}
	if (optind < argc && !collection)
		collection = argv[optind++];
	if (!collection || optind != argc)
		return cli_usage_error(cli, "export", "expected -c COLLECTION");
	ns_diag_clear(&diag);
	st = ns_store_open(cli->store_uri, &store, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (output && strcmp(output, "-") != 0) {
		st = ns_atomic_file_open(&af, output, &diag);
		if (st != NS_OK)
			goto out;
		fp = af.fp;
	}
	st = rejects ? ns_store_export_rejects(store, collection, fp, &diag)
		     : ns_store_export_csv(store, collection, fp, &diag);
	if (af.fp) {
		if (st == NS_OK)
			st = ns_atomic_file_commit(&af, &diag);
		else
			ns_atomic_file_abort(&af);
	} else if (fflush(stdout) != 0) {
		st = ns_diag_set(&diag, NS_ERR_IO, "cannot write to standard output");
	}
out:
	ns_store_close(store);
	return st == NS_OK ? CLI_OK : cli_fail(cli, st, &diag);
}
