/*
 * src/cli/cmd_schema.c - `netsec schema infer | check | show`.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec schema infer FILE [OPTIONS] [-o schema.yaml]\n"
		"       netsec schema check SCHEMA    (load it, report errors, print a summary)\n"
		"       netsec schema show SCHEMA     (print it in canonical form)\n\n"
		"'infer' reads FILE and writes a schema describing it: header or none, column\n"
		"types (int, float, category), allowed values of small integer columns,\n"
		"category levels, the target column and its classes.\n\n"
		"Options for infer:\n"
		"  -t, --target COL       the label column (default: Result/label/class/target,\n"
		"                         else the last column)\n"
		"      --threat VALUE     the class that is the threat (phishing, attack)\n"
		"      --benign VALUE     or: the one benign class (every other class is a "
		"threat)\n"
		"      --ignore A,B,..    columns that are not features (ids, scores)\n"
		"      --names A,B,...    column names for a file without header\n"
		"      --names-file F     the same, one name per line or comma-separated\n"
		"      --header auto|yes|no  whether the first line is a header (default auto)\n"
		"  -d, --delimiter C      field delimiter (default: guessed among , ; tab |)\n"
		"      --name NAME        dataset name to record\n"
		"  -o, --output FILE      write the schema there (atomically) instead of stdout\n");
}

static char **read_names_file(const char *path, size_t *n, struct ns_diag *diag)
{
	char *text = NULL, **list;
	size_t len;
	if (ns_read_file(path, 1 << 20, &text, &len, diag) != NS_OK)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n' || text[i] == '\r' || text[i] == '\t' || text[i] == ' ')
			text[i] = ',';
	}
	/* Squeeze repeated commas and trim the ends. */
	{
		size_t w = 0;
		for (size_t i = 0; i < len; i++) {
			if (text[i] == ',' && (w == 0 || text[w - 1] == ','))
				continue;
			text[w++] = text[i];
		}
		while (w > 0 && text[w - 1] == ',')
			w--;
		text[w] = '\0';
	}
	list = cli_split_list(text, n);
	ns_free(text);
	return list;
}

static int do_infer(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"target", required_argument, NULL, 't'},
					     {"threat", required_argument, NULL, 'T'},
					     {"benign", required_argument, NULL, 'B'},
					     {"ignore", required_argument, NULL, 'I'},
					     {"names", required_argument, NULL, 'n'},
					     {"names-file", required_argument, NULL, 'N'},
					     {"header", required_argument, NULL, 'H'},
					     {"delimiter", required_argument, NULL, 'd'},
					     {"name", required_argument, NULL, 'a'},
					     {"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct ns_infer_params ip = ns_infer_params_default();
	const char *output = NULL;
	char **names = NULL, **ignore = NULL;
	size_t n_names = 0, n_ignore = 0;
	struct ns_schema *schema = NULL;
	struct ns_diag diag;
	enum ns_status st;
	int c, rc = CLI_OK;

	ns_diag_clear(&diag);
	while ((c = getopt_long(argc, argv, "t:d:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			ip.target = optarg;
			break;
		case 'T':
			ip.threat = optarg;
			break;
		case 'B':
			ip.benign = optarg;
			break;
		case 'I':
			cli_free_list(ignore, n_ignore);
			ignore = cli_split_list(optarg, &n_ignore);
			if (!ignore) {
				rc = CLI_INTERNAL;
				goto out;
			}
			ip.ignore = (const char *const *)ignore;
			ip.n_ignore = n_ignore;
			break;
		case 'n':
		case 'N':
			cli_free_list(names, n_names);
			names = c == 'n' ? cli_split_list(optarg, &n_names)
					 : read_names_file(optarg, &n_names, &diag);
			if (!names) {
				rc = c == 'N' ? cli_fail(cli, diag.status, &diag) : CLI_INTERNAL;
				goto out;
			}
			break;
		case 'H':
			if (strcmp(optarg, "auto") == 0)
				ip.header = NS_HEADER_AUTO;
			else if (strcmp(optarg, "yes") == 0)
				ip.header = NS_HEADER_YES;
			else if (strcmp(optarg, "no") == 0)
				ip.header = NS_HEADER_NO;
			else {
				rc = cli_usage_error(cli, "schema infer",
						     "--header must be auto, yes or no");
				goto out;
			}
			break;
		case 'd':
			if (strcmp(optarg, "\\t") == 0 || strcmp(optarg, "tab") == 0)
				ip.delimiter = '\t';
			else if (strlen(optarg) == 1)
				ip.delimiter = optarg[0];
			else {
				rc = cli_usage_error(cli, "schema infer",
						     "--delimiter must be one character");
				goto out;
			}
			break;
		case 'a':
			ip.name = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'h':
			usage(stdout);
			goto out;
		default:
			rc = cli_usage_error(cli, "schema infer", "bad option");
			goto out;
		}
	}
	if (optind != argc - 1) {
		rc = cli_usage_error(cli, "schema infer", "expected one FILE");
		goto out;
	}
	if (names) {
		ip.names = (const char *const *)names;
		ip.n_names = n_names;
		if (ip.header == NS_HEADER_AUTO)
			ip.header = NS_HEADER_NO;
	}
	st = ns_schema_infer_file(argv[optind], &ip, &schema, &diag);
	if (st != NS_OK) {
		rc = cli_fail(cli, st, &diag);
		goto out;
	}
	if (output) {
		st = ns_schema_save(schema, output, &diag);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, &diag);
			goto out;
		}
		cli_info(cli, "wrote %s: %zu columns, target '%s'%s\n", output, schema->n_columns,
			 schema->target >= 0 ? schema->columns[schema->target].name : "(none)",
			 schema->header ? ", header" : ", no header");
	} else {
		char *yaml = NULL;
		size_t len = 0;
		st = ns_schema_to_yaml(schema, &yaml, &len);
		if (st != NS_OK) {
			rc = cli_fail(cli, st, NULL);
			goto out;
		}
		fwrite(yaml, 1, len, stdout);
		ns_free(yaml);
	}
out:
	cli_free_list(names, n_names);
	cli_free_list(ignore, n_ignore);
	ns_schema_free(schema);
	return rc;
}

static int do_check(struct cli *cli, int argc, char **argv, bool show)
{
	struct ns_schema *schema = NULL;
	struct ns_diag diag;
	enum ns_status st;
	char hash[65];
	if (argc != 2)
		return cli_usage_error(cli, "schema", "expected one SCHEMA file");
	ns_diag_clear(&diag);
	st = ns_schema_load(argv[1], &schema, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (show) {
		char *yaml = NULL;
		size_t len = 0;
		st = ns_schema_to_yaml(schema, &yaml, &len);
		if (st == NS_OK)
			fwrite(yaml, 1, len, stdout);
		ns_free(yaml);
	} else {
		size_t n_int = 0, n_float = 0, n_cat = 0, n_ignored = 0;
		for (size_t i = 0; i < schema->n_columns; i++) {
			const struct ns_schema_column *c = &schema->columns[i];
			n_int += c->type == NS_TYPE_INT;
			n_float += c->type == NS_TYPE_FLOAT;
			n_cat += c->type == NS_TYPE_CATEGORY;
			n_ignored += c->ignore;
		}
		st = ns_schema_hash(schema, hash);
		printf("%s: ok\n  name: %s\n  columns: %zu (%zu int, %zu float, %zu category; "
		       "%zu ignored)\n  header: %s\n  target: %s\n",
		       argv[1], schema->name ? schema->name : "(none)", schema->n_columns, n_int,
		       n_float, n_cat, n_ignored, schema->header ? "yes" : "no",
		       schema->target >= 0 ? schema->columns[schema->target].name : "(none)");
		if (schema->n_classes) {
			printf("  classes:");
			for (size_t k = 0; k < schema->n_classes; k++)
				printf(" %s%s", schema->classes[k],
				       ns_schema_class_is_threat(schema, k) ? " (threat)" : "");
			printf("\n");
		}
		if (st == NS_OK)
			printf("  sha256: %s\n", hash);
	}
	ns_schema_free(schema);
	return st == NS_OK ? CLI_OK : cli_fail(cli, st, NULL);
}

int cmd_schema(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "infer") == 0)
		return do_infer(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "check") == 0)
		return do_check(cli, argc - 1, argv + 1, false);
	if (strcmp(argv[1], "show") == 0)
		return do_check(cli, argc - 1, argv + 1, true);
	return cli_usage_error(cli, "schema", "unknown subcommand '%s'", argv[1]);
}
