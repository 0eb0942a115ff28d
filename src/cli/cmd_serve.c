/*
 * src/cli/cmd_serve.c - `netsec serve`: the HTTP service (src/server/).
 * Settings: flags over environment variables over defaults.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "learn_common.h"
#include "server.h"

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec serve [--host H] [--port P] [OPTIONS]\n\n"
		"Serves the REST API, the threat dashboard (/home) and the API docs (/docs).\n"
		"Every setting also comes from the environment (flags win):\n\n"
		"      --host H            NETSEC_HOST (default 0.0.0.0)\n"
		"      --port P            NETSEC_PORT (default 8080; 0: any free port)\n"
		"      --registry DIR      NETSEC_REGISTRY (default models)\n"
		"      --name NAME         NETSEC_MODEL_NAME (default netsec)\n"
		"      --artifacts DIR     NETSEC_ARTIFACTS (default artifacts)\n"
		"      --token-file F      NETSEC_API_TOKEN_FILE; or the token itself in\n"
		"                          NETSEC_API_TOKEN (needed by /train, promote, rollback)\n"
		"      --workers N         NETSEC_WORKERS (default: cores)\n"
		"      --max-upload BYTES  NETSEC_MAX_UPLOAD (default 268435456)\n"
		"      --max-rows N        NETSEC_MAX_ROWS per request (default 10000000)\n"
		"      --max-json BYTES    NETSEC_MAX_JSON (default 8388608)\n"
		"      --max-fields N      NETSEC_MAX_FIELDS per CSV record (default 65536)\n"
		"      --max-connections N NETSEC_MAX_CONNECTIONS (default 512)\n"
		"      --timeout S         NETSEC_TIMEOUT: idle connection seconds (default 30)\n"
		"      --cors ORIGINS      NETSEC_CORS_ORIGINS: comma-separated allowed origins\n"
		"                          (default none; '*' is refused)\n"
		"      --keep-dir DIR      NETSEC_KEEP_PREDICTIONS: where ?keep=true results go\n"
		"      --log-raw-rows      NETSEC_LOG_RAW_ROWS=1: keep predicted rows in the log\n"
		"      --port-file F       write the bound port to F once listening\n"
		"The store (prediction log, training data) is --store / NETSEC_STORE; POST /train\n"
		"trains on its collection NETSEC_COLLECTION (default: the bundled dataset's,\n"
		"ingested first if absent); tracking of training runs MLFLOW_TRACKING_URI.\n");
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);
	return v && *v ? v : def;
}

static int parse_size(struct cli *cli, const char *what, const char *s, uint64_t *out)
{
	if (cli_parse_u64(s, out) != 0 || *out == 0)
		return cli_usage_error(cli, "serve", "bad %s '%s'", what, s);
	return CLI_OK;
}

/* Fills cfg from the environment and the flags; CLI_OK or an exit code. */
int cli_serve_config(struct cli *cli, int argc, char **argv, struct srv_config *cfg,
		     char **token_buf);

int cli_serve_config(struct cli *cli, int argc, char **argv, struct srv_config *cfg,
		     char **token_buf)
{
	static const struct option opts[] = {{"host", required_argument, NULL, 'H'},
					     {"port", required_argument, NULL, 'p'},
					     {"registry", required_argument, NULL, 'R'},
					     {"name", required_argument, NULL, 'N'},
					     {"artifacts", required_argument, NULL, 'A'},
					     {"token-file", required_argument, NULL, 'T'},
					     {"workers", required_argument, NULL, 'w'},
					     {"max-upload", required_argument, NULL, 'u'},
					     {"max-rows", required_argument, NULL, 'r'},
					     {"max-json", required_argument, NULL, 'J'},
					     {"max-fields", required_argument, NULL, 'f'},
					     {"max-connections", required_argument, NULL, 'c'},
					     {"timeout", required_argument, NULL, 't'},
					     {"cors", required_argument, NULL, 'C'},
					     {"keep-dir", required_argument, NULL, 'K'},
					     {"log-raw-rows", no_argument, NULL, 'L'},
					     {"port-file", required_argument, NULL, 'F'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	static char data_path[4096], schema_path[4096];
	const char *token_file = env_or("NETSEC_API_TOKEN_FILE", NULL);
	uint64_t v;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int c, rc;

	memset(cfg, 0, sizeof(*cfg));
	cfg->host = env_or("NETSEC_HOST", "0.0.0.0");
	cfg->port = 8080;
	cfg->store_uri = cli->store_uri;
	cfg->registry_dir = env_or("NETSEC_REGISTRY", "models");
	cfg->model_name = env_or("NETSEC_MODEL_NAME", "netsec");
	cfg->artifacts_dir = env_or("NETSEC_ARTIFACTS", "artifacts");
	cfg->tracking_uri = env_or("MLFLOW_TRACKING_URI", NULL);
	cfg->collection = env_or("NETSEC_COLLECTION", NULL);
	snprintf(data_path, sizeof(data_path), "%s/phisingData.csv", cli_data_dir());
	snprintf(schema_path, sizeof(schema_path), "%s/schema.yaml", cli_data_dir());
	cfg->data_path = data_path;
	cfg->schema_path = schema_path;
	cfg->token = env_or("NETSEC_API_TOKEN", NULL);
	cfg->cors_origins = env_or("NETSEC_CORS_ORIGINS", NULL);
	cfg->keep_dir = env_or("NETSEC_KEEP_PREDICTIONS", NULL);
	cfg->log_raw_rows = strcmp(env_or("NETSEC_LOG_RAW_ROWS", "0"), "1") == 0;
	cfg->max_upload = 256ull << 20;
	cfg->max_rows = 10000000;
	cfg->max_json = 8u << 20;
	cfg->max_fields = 65536;
	cfg->workers = cores > 0 ? (unsigned)cores : 2;
	cfg->max_connections = 512;
	cfg->timeout = 30;
	cfg->reload_interval_ms = 1000;
	cfg->verbosity = cli->verbosity;
	{
		/* numeric environment settings */
		static const struct {
			const char *name;
			int kind;
		} nums[] = {{"NETSEC_PORT", 0},       {"NETSEC_WORKERS", 1},
			    {"NETSEC_MAX_UPLOAD", 2}, {"NETSEC_MAX_ROWS", 3},
			    {"NETSEC_MAX_JSON", 4},   {"NETSEC_MAX_CONNECTIONS", 5},
			    {"NETSEC_TIMEOUT", 6},    {"NETSEC_MAX_FIELDS", 7}};
		for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
			const char *e = env_or(nums[i].name, NULL);
			if (!e)
				continue;
			if (cli_parse_u64(e, &v) != 0 || (nums[i].kind != 0 && v == 0) ||
			    (nums[i].kind == 0 && v > 65535)) {
				fprintf(stderr, "%s serve: bad %s='%s'\n", cli->prog, nums[i].name,
					e);
				return CLI_USAGE;
			}
			switch (nums[i].kind) {
			case 0:
				cfg->port = (unsigned)v;
				break;
			case 1:
				cfg->workers = (unsigned)v;
				break;
			case 2:
				cfg->max_upload = v;
				break;
			case 3:
				cfg->max_rows = v;
				break;
			case 4:
				cfg->max_json = v;
				break;
			case 5:
				cfg->max_connections = (unsigned)v;
				break;
			case 6:
				cfg->timeout = (unsigned)v;
				break;
			default:
				cfg->max_fields = v;
			}
		}
	}
	optind = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			cfg->host = optarg;
			break;
		case 'p':
			if (cli_parse_u64(optarg, &v) != 0 || v > 65535)
				return cli_usage_error(cli, "serve", "bad --port '%s'", optarg);
			cfg->port = (unsigned)v;
			break;
		case 'R':
			cfg->registry_dir = optarg;
			break;
		case 'N':
			cfg->model_name = optarg;
			break;
		case 'A':
			cfg->artifacts_dir = optarg;
			break;
		case 'T':
			token_file = optarg;
			break;
		case 'w':
			if ((rc = parse_size(cli, "--workers", optarg, &v)) != CLI_OK)
				return rc;
			cfg->workers = (unsigned)(v > 256 ? 256 : v);
			break;
		case 'u':
			if ((rc = parse_size(cli, "--max-upload", optarg, &cfg->max_upload)) !=
			    CLI_OK)
				return rc;
			break;
		case 'r':
			if ((rc = parse_size(cli, "--max-rows", optarg, &cfg->max_rows)) != CLI_OK)
				return rc;
			break;
		case 'J':
			if ((rc = parse_size(cli, "--max-json", optarg, &cfg->max_json)) != CLI_OK)
				return rc;
			break;
		case 'f':
			if ((rc = parse_size(cli, "--max-fields", optarg, &cfg->max_fields)) !=
			    CLI_OK)
				return rc;
			break;
		case 'c':
			if ((rc = parse_size(cli, "--max-connections", optarg, &v)) != CLI_OK)
				return rc;
			cfg->max_connections = (unsigned)v;
			break;
		case 't':
			if ((rc = parse_size(cli, "--timeout", optarg, &v)) != CLI_OK)
				return rc;
			cfg->timeout = (unsigned)v;
			break;
		case 'C':
			cfg->cors_origins = optarg;
			break;
		case 'K':
			cfg->keep_dir = optarg;
			break;
		case 'L':
			cfg->log_raw_rows = true;
			break;
		case 'F':
			cfg->port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		default:
			return cli_usage_error(cli, "serve", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error(cli, "serve", "unexpected argument '%s'", argv[optind]);
	if (cfg->cors_origins && strchr(cfg->cors_origins, '*'))
		return cli_usage_error(cli, "serve",
				       "'*' is not an allowed CORS origin: list the origins");
	if (token_file && (!cfg->token || !*cfg->token)) {
		struct ns_diag d;
		size_t len = 0;
		ns_diag_clear(&d);
		if (ns_read_file(token_file, 4096, token_buf, &len, &d) != NS_OK)
			return cli_fail(cli, NS_ERR_IO, &d);
		while (len && ((*token_buf)[len - 1] == '\n' || (*token_buf)[len - 1] == '\r'))
			(*token_buf)[--len] = '\0';
		cfg->token = *token_buf;
	}
	if (cfg->token && *cfg->token && strlen(cfg->token) < 16)
		fprintf(stderr, "%s serve: warning: the API token is shorter than 16 characters\n",
			cli->prog);
	return CLI_OK;
}

int cmd_serve(struct cli *cli, int argc, char **argv)
{
	struct srv_config cfg;
	char *token = NULL;
	int rc = cli_serve_config(cli, argc, argv, &cfg, &token);
	if (rc == -1)
		return CLI_OK;
	if (rc == CLI_OK)
		rc = srv_run(&cfg);
	ns_free(token);
	return rc;
}
