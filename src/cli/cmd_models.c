/*
 * src/cli/cmd_models.c - `netsec models check FILE`: verify a model file and
 * print what it holds.
 */
#include <string.h>

#include "learn_common.h"

static int check(struct cli *cli, const char *path)
{
	struct ns_model *m = NULL;
	struct ns_diag diag;
	enum ns_status st;
	char *json = NULL;
	ns_diag_clear(&diag);
	st = ns_model_load(path, &m, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	printf("%s: ok\n  family: %s\n  features: %zu\n  classes:", path,
	       ns_family_name(ns_model_family(m)), ns_model_n_features(m));
	for (uint32_t k = 0; k < ns_model_n_classes(m); k++)
		printf(" %s%s", ns_model_class_label(m, k),
		       (long)k == ns_model_threat_class(m) ? " (threat)" : "");
	printf("\n  estimators: %zu\n", ns_model_n_estimators(m));
	if (ns_model_schema_hash(m)[0])
		printf("  schema sha256: %s\n", ns_model_schema_hash(m));
	if (ns_model_describe_json(m, &json) == NS_OK && cli->verbosity >= 1)
		printf("  description: %s\n", json);
	ns_free(json);
	ns_model_free(m);
	return CLI_OK;
}

int cmd_models(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"Usage: netsec models check FILE   verify a model file (magic, version,\n"
			"                                  checksum, every section) and describe "
			"it\n");
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	if (strcmp(argv[1], "check") == 0) {
		if (argc != 3)
			return cli_usage_error(cli, "models", "check needs one FILE");
		return check(cli, argv[2]);
	}
	return cli_usage_error(cli, "models", "unknown subcommand '%s'", argv[1]);
}
