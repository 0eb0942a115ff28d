/*
 * src/cli/cmd_validate.c - `netsec validate FILE --schema S`.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli.h"

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: netsec validate FILE --schema S [--max-problems N]\n\n"
		    "Checks FILE against the schema and reports every problem with its line and\n"
		    "column: wrong column count or names, wrong types, values out of range or\n"
		    "not allowed, unknown labels, missing shares above the limit.  Exit 0 when\n"
		    "the file is valid, 1 when it is not.\n\n"
		    "Options:\n"
		    "  -s, --schema FILE     the schema (YAML), required\n"
		    "  -n, --max-problems N  print at most N problems (default 50; 0: all)\n");
}

int cmd_validate(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"schema", required_argument, NULL, 's'},
					     {"max-problems", required_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *schema_path = NULL;
	struct ns_schema *schema = NULL;
	struct ns_validator_params vp = ns_validator_params_default();
	struct ns_validate_summary sum = {0};
	struct cli_problems pp = {.cli = cli, .max_print = 50};
	struct ns_diag diag;
	enum ns_status st;
	int c;

	while ((c = getopt_long(argc, argv, "s:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			schema_path = optarg;
			break;
		case 'n': {
			char *end;
			unsigned long long n = strtoull(optarg, &end, 10);
			if (*end || end == optarg)
				return cli_usage_error(cli, "validate", "bad --max-problems '%s'",
						       optarg);
			pp.max_print = n;
			break;
		}
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "validate", "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error(cli, "validate", "expected one FILE");
	if (!schema_path)
		return cli_usage_error(cli, "validate", "--schema is required");
	pp.file = argv[optind];
	ns_diag_clear(&diag);
	st = ns_schema_load(schema_path, &schema, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	st = ns_validate_file(argv[optind], schema, &vp, cli_print_problem, &pp, &sum, &diag);
	cli_problems_done(&pp);
	ns_schema_free(schema);
	if (st == NS_OK) {
		cli_info(cli, "%s: valid: %llu records match %s\n", argv[optind],
			 (unsigned long long)sum.n_records, schema_path);
		return CLI_OK;
	}
	if (st == NS_ERR_SCHEMA) {
		fprintf(stderr, "%s: invalid: %llu problems in %llu records (%llu valid)\n",
			argv[optind], (unsigned long long)sum.n_problems,
			(unsigned long long)sum.n_records, (unsigned long long)sum.n_valid);
		return CLI_BAD_INPUT;
	}
	return cli_fail(cli, st, &diag);
}
