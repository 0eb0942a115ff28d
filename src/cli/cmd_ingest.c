/*
 * src/cli/cmd_ingest.c - `netsec ingest`: load a CSV file into a collection.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec ingest FILE [OPTIONS]\n\n"
		"Validates every record of FILE ('-' for stdin) against a schema and stores\n"
		"the file in a collection, in one transaction: a bad record rejects the whole\n"
		"file (nothing is stored) unless --skip-bad puts bad records aside.  A file\n"
		"whose content was ingested before is not stored twice.\n\n"
		"Options:\n"
		"  -s, --schema FILE      schema (YAML); default: the collection's stored\n"
		"                         schema, else one inferred from the file\n"
		"  -c, --collection NAME  collection (default: the schema's name, else the\n"
		"                         file's base name)\n"
		"      --store URI        store (default: $NETSEC_STORE or %s)\n"
		"      --replace          drop the collection's records first\n"
		"      --skip-bad         store valid records, put bad ones aside with reasons\n"
		"      --allow-duplicate  ingest a file even if its content was ingested before\n"
		"      --target COL       target column when inferring a schema\n"
		"  -h, --help             this help\n",
		NS_STORE_DEFAULT_URI);
}

/* Base name of path without extension, reduced to [A-Za-z0-9_.-]. */
static void name_from_path(const char *path, char *out, size_t size)
{
	const char *base = strrchr(path, '/');
	size_t n = 0;
	base = base ? base + 1 : path;
	for (const char *p = base; *p && *p != '.' && n + 1 < size && n < 64; p++) {
		char c = *p;
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '_' || c == '-';
		out[n++] = ok ? c : '_';
	}
	if (n == 0 && size > 6) {
		memcpy(out, "stdin", 5);
		n = 5;
	}
	out[n] = '\0';
}

int cmd_ingest(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"schema", required_argument, NULL, 's'},
					     {"collection", required_argument, NULL, 'c'},
					     {"store", required_argument, NULL, 'S'},
					     {"replace", no_argument, NULL, 'r'},
					     {"skip-bad", no_argument, NULL, 'b'},
					     {"allow-duplicate", no_argument, NULL, 'd'},
					     {"target", required_argument, NULL, 't'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *schema_path = NULL, *collection = NULL, *target = NULL;
	struct ns_ingest_params ip = ns_ingest_params_default();
	struct ns_ingest_result res;
	struct ns_schema *schema = NULL;
	struct ns_store *store = NULL;
	struct ns_diag diag;
	struct cli_problems pp = {.cli = cli, .max_print = 20};
	char name[80], shown[4096];
	const char *path;
	enum ns_status st;
	double t0;
	int c, rc = CLI_OK;

	while ((c = getopt_long(argc, argv, "s:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			schema_path = optarg;
			break;
		case 'c':
			collection = optarg;
			break;
		case 'S':
			cli->store_uri = optarg;
			break;
		case 'r':
			ip.replace = true;
			break;
		case 'b':
			ip.skip_bad = true;
			break;
		case 'd':
			ip.allow_duplicate = true;
			break;
		case 't':
			target = optarg;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "ingest", "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(cli, "ingest", "expected one FILE");
	path = argv[optind];
	pp.file = path;
	if (cli->verbosity >= 2)
		pp.max_print = 0;
	ns_diag_clear(&diag);

	st = ns_store_open(cli->store_uri, &store, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (schema_path) {
		st = ns_schema_load(schema_path, &schema, &diag);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
	}
	if (collection) {
		snprintf(name, sizeof(name), "%s", collection);
	} else if (schema && schema->name && *schema->name) {
		snprintf(name, sizeof(name), "%s", schema->name);
	} else {
		name_from_path(path, name, sizeof(name));
	}
	if (!schema) {
		st = ns_store_schema(store, name, &schema, &diag);
		if (st == NS_ERR_NOTFOUND) {
			struct ns_infer_params inf = ns_infer_params_default();
			if (strcmp(path, "-") == 0) {
				rc = cli_usage_error(cli, "ingest",
						     "reading stdin into a new collection needs "
						     "--schema");
				goto out;
			}
			inf.target = target;
			inf.name = name;
			ns_diag_clear(&diag);
			st = ns_schema_infer_file(path, &inf, &schema, &diag);
			if (st == NS_OK)
				cli_info(cli,
					 "no schema given: inferred one from %s "
					 "(write it with 'netsec schema infer')\n",
					 path);
		}
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
	}
	ip.collection = name;
	t0 = cli_now();
	ns_diag_clear(&diag);
	st = ns_store_ingest_csv(store, path, schema, &ip, cli_print_problem, &pp, &res, &diag);
	cli_problems_done(&pp);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		if (st == NS_ERR_SCHEMA && !ip.skip_bad && pp.n_seen > 0)
			fprintf(stderr,
				"%s: nothing was stored (--skip-bad stores the valid records)\n",
				cli->prog);
		goto out;
	}
	if (res.duplicate) {
		cli_info(cli,
			 "%s: already ingested into '%s' (sha256 %.16s...): nothing stored; "
			 "--allow-duplicate stores it again\n",
			 path, name, res.sha256);
		goto out;
	}
	cli_info(cli, "ingested %llu rows from %s into '%s' (%s) in %.3f s\n",
		 (unsigned long long)res.n_rows, path, name,
		 ns_redact(cli->store_uri, shown, sizeof(shown)), cli_now() - t0);
	if (res.n_bad)
		cli_info(cli,
			 "put aside %llu bad records with their reasons "
			 "('netsec export --rejects -c %s' lists them)\n",
			 (unsigned long long)res.n_bad, name);
out:
	ns_schema_free(schema);
	ns_store_close(store);
	return rc;
}
