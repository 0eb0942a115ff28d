/*
 * src/cli/cmd_sync.c - `netsec sync push|pull`: artifacts and the model
 * registry to and from s3://bucket/prefix (docs/sync.md).
 *
 * The destination comes from the argument or NETSEC_S3_URI; credentials,
 * region and endpoint from the AWS_* variables (include/netsec/s3.h).
 * NETSEC_S3_MULTIPART_THRESHOLD, NETSEC_S3_PART_SIZE (bytes) and
 * NETSEC_S3_PAGE_SIZE tune the transfer (tests use small values).  Each file
 * that moves is listed unless -q; a summary line closes the run.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "learn_common.h"
#include "netsec/s3.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: netsec sync push|pull [s3://bucket/prefix] [--artifacts DIR] [--registry "
		"DIR]\n"
		"                             [--dry-run] [--only artifacts|models]\n"
		"\n"
		"push uploads artifacts/ and the model registry to "
		"s3://bucket/prefix/{artifacts,models}/,\n"
		"moving only files whose size or SHA-256 differs; the registry's `current` goes "
		"last.\n"
		"pull downloads what differs (each file atomically, `current` last) and checks "
		"that\n"
		"the current model loads, so a fresh replica can serve it.\n"
		"\n"
		"  s3://bucket/prefix   destination (default: $NETSEC_S3_URI)\n"
		"  --artifacts DIR      artifacts folder (default: $NETSEC_ARTIFACTS or "
		"artifacts)\n"
		"  --registry DIR       registry root (default: $NETSEC_REGISTRY or models)\n"
		"  --dry-run            list what would move, move nothing\n"
		"  --only WHAT          artifacts or models\n"
		"\n"
		"Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; "
		"AWS_REGION\n"
		"(default us-east-1); AWS_ENDPOINT_URL for S3-compatible stores (path-style).\n");
}

struct report {
	struct cli *cli;
	bool dry_run;
};

static void on_file(void *user, enum ns_sync_action action, const char *key, uint64_t size)
{
	struct report *r = user;
	if (action == NS_SYNC_SKIP) {
		if (r->cli->verbosity >= 2)
			printf("  same      %s\n", key);
		return;
	}
	if (r->cli->verbosity >= 1)
		printf("  %s %s (%llu bytes)\n",
		       action == NS_SYNC_UPLOAD ? (r->dry_run ? "would put" : "put      ")
						: (r->dry_run ? "would get" : "got      "),
		       key, (unsigned long long)size);
}

static bool env_u64(const char *name, uint64_t *out)
{
	const char *v = getenv(name);
	return v && *v && cli_parse_u64(v, out) == 0;
}

int cmd_sync(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"artifacts", required_argument, NULL, 'A'},
					     {"registry", required_argument, NULL, 'R'},
					     {"dry-run", no_argument, NULL, 'n'},
					     {"only", required_argument, NULL, 'O'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct ns_sync_params sp = ns_sync_params_default();
	struct ns_s3_params s3p = ns_s3_params_default();
	struct ns_sync_summary sum;
	struct ns_s3 *s3 = NULL;
	struct ns_diag diag;
	struct report rep;
	const char *uri = NULL, *verb, *env;
	char bucket[64], prefix[520];
	enum ns_status st;
	uint64_t u;
	bool push;
	int ch;

	if ((env = getenv("NETSEC_ARTIFACTS")) && *env)
		sp.artifacts_dir = env;
	if ((env = getenv("NETSEC_REGISTRY")) && *env)
		sp.registry_dir = env;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'A':
			sp.artifacts_dir = optarg;
			break;
		case 'R':
			sp.registry_dir = optarg;
			break;
		case 'n':
			sp.dry_run = true;
			break;
		case 'O':
			if (strcmp(optarg, "artifacts") == 0)
				sp.models = false;
			else if (strcmp(optarg, "models") == 0)
				sp.artifacts = false;
			else
				return cli_usage_error(cli, "sync",
						       "--only takes artifacts or models, not '%s'",
						       optarg);
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cli, "sync", "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(cli, "sync", "push or pull?");
	verb = argv[optind++];
	if (strcmp(verb, "push") != 0 && strcmp(verb, "pull") != 0)
		return cli_usage_error(cli, "sync", "unknown action '%s' (push or pull)", verb);
	push = verb[1] == 'u' && verb[2] == 's';
	if (optind < argc)
		uri = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cli, "sync", "unexpected argument '%s'", argv[optind]);
	if (!uri && (env = getenv("NETSEC_S3_URI")) && *env)
		uri = env;
	if (!uri)
		return cli_usage_error(
			cli, "sync",
			"no destination: give s3://bucket/prefix or set NETSEC_S3_URI");
	ns_diag_clear(&diag);
	st = ns_s3_uri_parse(uri, bucket, sizeof(bucket), prefix, sizeof(prefix), &diag);
	if (st != NS_OK)
		return cli_usage_error(cli, "sync", "%s", diag.message);
	if (env_u64("NETSEC_S3_MULTIPART_THRESHOLD", &u))
		s3p.multipart_threshold = u;
	if (env_u64("NETSEC_S3_PART_SIZE", &u))
		s3p.part_size = u;
	if (env_u64("NETSEC_S3_PAGE_SIZE", &u) && u >= 1 && u <= 1000)
		s3p.list_page_size = (unsigned)u;
	st = ns_s3_create(&s3p, bucket, &s3, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	rep.cli = cli;
	rep.dry_run = sp.dry_run;
	sp.on_file = on_file;
	sp.user = &rep;
	if (push)
		st = ns_sync_push(s3, prefix, &sp, &sum, &diag);
	else
		st = ns_sync_pull(s3, prefix, &sp, &sum, &diag);
	ns_s3_free(s3);
	if (st != NS_OK) {
		fflush(stdout);
		return cli_fail(cli, st, &diag);
	}
	cli_info(cli, "sync %s%s %s: %llu file(s), %llu bytes %s; %llu unchanged (%llu bytes)%s\n",
		 verb, sp.dry_run ? " (dry run)" : "", uri, (unsigned long long)sum.files_moved,
		 (unsigned long long)sum.bytes_moved,
		 sp.dry_run ? "would move" : (push ? "uploaded" : "downloaded"),
		 (unsigned long long)sum.files_skipped, (unsigned long long)sum.bytes_skipped,
		 !push && sum.models_verified ? "; current model verified" : "");
	return CLI_OK;
}
