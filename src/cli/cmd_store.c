/*
 * src/cli/cmd_store.c - `netsec store list | drop NAME`.
 */
#include <string.h>
#include <time.h>

#include "cli.h"

static enum ns_status print_collection(void *user, const struct ns_collection_info *c)
{
	char when[32] = "-";
	time_t t = (time_t)(c->updated_ms / 1000);
	struct tm tm;
	(void)user;
	if (c->updated_ms > 0 && gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-24s %10llu %8llu %8llu  %s  %.12s\n", c->name, (unsigned long long)c->n_rows,
	       (unsigned long long)c->n_rejects, (unsigned long long)c->n_ingests, when,
	       c->schema_hash ? c->schema_hash : "");
	return NS_OK;
}

int cmd_store(struct cli *cli, int argc, char **argv)
{
	struct ns_store *store = NULL;
	struct ns_diag diag;
	enum ns_status st;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: netsec [--store URI] store list\n"
			"       netsec [--store URI] store drop NAME\n");
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "drop") != 0)
		return cli_usage_error(cli, "store", "unknown subcommand '%s'", argv[1]);
	if (strcmp(argv[1], "drop") == 0 && argc != 3)
		return cli_usage_error(cli, "store", "drop needs a collection NAME");
	ns_diag_clear(&diag);
	st = ns_store_open(cli->store_uri, &store, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (strcmp(argv[1], "list") == 0) {
		printf("%-24s %10s %8s %8s  %-20s  %s\n", "collection", "rows", "rejects",
		       "ingests", "updated (UTC)", "schema");
		st = ns_store_list(store, print_collection, NULL, &diag);
	} else {
		st = ns_store_drop(store, argv[2], &diag);
		if (st == NS_OK)
			cli_info(cli, "dropped '%s'\n", argv[2]);
	}
	ns_store_close(store);
	return st == NS_OK ? CLI_OK : cli_fail(cli, st, &diag);
}
