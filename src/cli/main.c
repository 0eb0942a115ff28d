/*
 * src/cli/main.c - the `netsec` tool: global options and the command table.
 *
 * Usage: netsec [-q|-v] [--env-file FILE] [--store URI] COMMAND [ARGS];
 * `netsec COMMAND --help` for each command.  Library log messages go to
 * stderr through the logging callback at the chosen verbosity.
 *
 * Settings: flags over the environment over a .env file over defaults.  The
 * .env file (--env-file, else $NETSEC_ENV_FILE, else ./.env) is loaded right
 * after the global options are parsed and before any setting is read; it only
 * fills variables the environment lacks (docs/config.md).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "netsec/config.h"

#ifndef NETSEC_DATA_DIR
#define NETSEC_DATA_DIR "data"
#endif

static const struct cli_command commands[] = {
	{"run", "the main job: ingest the bundled dataset, train if there is no model, serve",
	 cmd_run},
	{"ingest", "load a CSV file into a store collection (one transaction)", cmd_ingest},
	{"export", "write a collection (or its rejected rows) back to CSV", cmd_export},
	{"validate", "check a CSV file against a schema, reporting every problem", cmd_validate},
	{"schema", "infer a schema from data, or check and print one", cmd_schema},
	{"store", "list or drop the collections of a store", cmd_store},
	{"fit", "train one model family on a CSV file and write a model file", cmd_fit},
	{"search", "grid search with cross-validation over the families; leaderboard", cmd_search},
	{"train", "the training pipeline: split, validate, drift, prepare, search, register",
	 cmd_train},
	{"drift", "compare new data with reference data, column by column (KS, chi-square)",
	 cmd_drift},
	{"predict", "predict a CSV file with a model file", cmd_predict},
	{"serve", "the HTTP service: REST API, threat dashboard, API docs", cmd_serve},
	{"sync", "push or pull artifacts and the model registry to or from S3", cmd_sync},
	{"track", "tracking runs: replay a run to a remote MLflow server", cmd_track},
	{"config", "print the effective settings (secrets masked)", cmd_config},
	{"models", "model registry: add, list, show, promote, rollback, check", cmd_models},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

int cli_exit_for(enum ns_status st)
{
	switch (st) {
	case NS_OK:
		return CLI_OK;
	case NS_ERR_PARSE:
	case NS_ERR_SCHEMA:
	case NS_ERR_LIMIT:
	case NS_ERR_CORRUPT:
	case NS_ERR_EXISTS:
	case NS_ERR_NOTFOUND:
	case NS_ERR_UNSUPPORTED:
		return CLI_BAD_INPUT;
	case NS_ERR_INVALID:
		return CLI_USAGE;
	case NS_ERR_IO:
	case NS_ERR_STORE:
		return CLI_IO;
	case NS_ERR_ABORTED:
		return CLI_GATE;
	default:
		return CLI_INTERNAL;
	}
}

int cli_fail(struct cli *cli, enum ns_status st, const struct ns_diag *diag)
{
	char buf[1024];
	struct ns_diag fallback;
	if (!diag || diag->status == NS_OK) {
		ns_diag_clear(&fallback);
		if (diag)
			fallback = *diag;
		ns_diag_set(&fallback, st, "%s",
			    diag && diag->message[0] ? diag->message : ns_status_str(st));
		diag = &fallback;
	}
	fprintf(stderr, "%s: error: %s\n", cli->prog, ns_diag_format(diag, buf, sizeof(buf)));
	return cli_exit_for(st);
}

int cli_usage_error(struct cli *cli, const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s %s: ", cli->prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s %s --help'.\n", cli->prog, cmd);
	return CLI_USAGE;
}

void cli_info(struct cli *cli, const char *fmt, ...)
{
	va_list ap;
	if (cli->verbosity < 1)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}

const char *cli_data_dir(void)
{
	const char *d = getenv("NETSEC_DATA_DIR");
	return d && *d ? d : NETSEC_DATA_DIR;
}

char **cli_split_list(const char *s, size_t *n)
{
	size_t count = 1, i = 0;
	char **list;
	for (const char *p = s; *p; p++)
		count += *p == ',';
	list = calloc(count, sizeof(*list));
	if (!list)
		return NULL;
	for (const char *p = s;; i++) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		list[i] = strndup(p, len);
		if (!list[i]) {
			cli_free_list(list, i);
			return NULL;
		}
		if (!e)
			break;
		p = e + 1;
	}
	*n = count;
	return list;
}

void cli_free_list(char **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static void log_to_stderr(void *user, enum ns_log_level level, const char *msg)
{
	static const char *names[] = {"error", "warning", "info", "debug"};
	fprintf(stderr, "%s: %s: %s\n", (const char *)user, names[level], msg);
}

static void print_help(FILE *fp, const char *prog)
{
	fprintf(fp,
		"netsec %s - network threat detection with machine learning\n\n"
		"Usage: %s [OPTIONS] COMMAND [ARGS...]\n\n"
		"Commands:\n",
		ns_version(), prog);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(fp,
		"\nOptions:\n"
		"  -q, --quiet        print only errors\n"
		"  -v, --verbose      more detail (twice: debug)\n"
		"      --store URI    data store (default: $NETSEC_STORE, $MONGO_DB_URL or\n"
		"                     %s)\n"
		"      --env-file FILE  settings file read at start-up (default: $NETSEC_ENV_FILE\n"
		"                     or .env in the working directory, if present); the\n"
		"                     environment wins over it; 'netsec config' shows all\n"
		"  -h, --help         this help; 'COMMAND --help' for a command\n"
		"  -V, --version      print the version\n\n"
		"Exit codes: 0 success, 1 invalid input (validation or parse error),\n"
		"2 usage error, 3 I/O or store error, 4 internal error, 5 a gate stopped\n"
		"the run (train: expected score; drift).\n",
		NS_STORE_DEFAULT_URI);
}

/*
 * Loads the .env file: `named` (--env-file) or $NETSEC_ENV_FILE, where a
 * missing file is an error; else ./.env, which may be absent.  CLI_OK or an
 * exit code.
 */
static int load_env_file(struct cli *cli, const char *named, struct ns_dotenv_loaded *loaded)
{
	const char *env = getenv("NETSEC_ENV_FILE");
	bool by_default = !named && !(env && *env);
	const char *path = named ? named : by_default ? ".env" : env;
	struct ns_diag diag;
	enum ns_status st = ns_config_load_dotenv(path, false, loaded, &diag);
	if (st == NS_ERR_NOTFOUND && by_default)
		return CLI_OK;
	if (st == NS_ERR_NOTFOUND) {
		cli_fail(cli, st, &diag);
		return CLI_IO;
	}
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (cli->verbosity >= 2) {
		size_t n = 0;
		for (size_t i = 0; i < loaded->n_entries; i++)
			n += loaded->entries[i].applied;
		fprintf(stderr,
			"%s: %zu of %zu settings taken from %s (the others are set in the "
			"environment)\n",
			cli->prog, n, loaded->n_entries, path);
	}
	return CLI_OK;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"quiet", no_argument, NULL, 'q'},
					     {"verbose", no_argument, NULL, 'v'},
					     {"store", required_argument, NULL, 's'},
					     {"help", no_argument, NULL, 'h'},
					     {"version", no_argument, NULL, 'V'},
					     {"env-file", required_argument, NULL, 'E'},
					     {NULL, 0, NULL, 0}};
	struct cli cli = {.verbosity = 1, .store_uri = NULL, .prog = "netsec"};
	struct ns_dotenv_loaded dotenv = {0};
	const char *env_file = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "+qvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			cli.verbosity = 0;
			break;
		case 'v':
			cli.verbosity++;
			break;
		case 's':
			cli.store_flag = optarg;
			break;
		case 'E':
			env_file = cli.env_file_flag = optarg;
			break;
		case 'h':
			print_help(stdout, cli.prog);
			return CLI_OK;
		case 'V':
			printf("netsec %s\n", ns_version());
			return CLI_OK;
		default:
			fprintf(stderr, "Try '%s --help'.\n", cli.prog);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		print_help(stderr, cli.prog);
		return CLI_USAGE;
	}
	/* The .env file first: every setting below and in the commands reads the
	 * environment it completes. */
	if ((rc = load_env_file(&cli, env_file, &dotenv)) != CLI_OK) {
		ns_dotenv_loaded_fini(&dotenv);
		return rc;
	}
	cli.dotenv = &dotenv;
	cli.store_uri = ns_setting_resolve(ns_setting_find("store"), cli.store_flag, &dotenv,
					   NS_STORE_DEFAULT_URI)
				.value;
	ns_log_set(log_to_stderr, (void *)cli.prog,
		   cli.verbosity == 0   ? NS_LOG_ERROR
		   : cli.verbosity == 1 ? NS_LOG_WARN
		   : cli.verbosity == 2 ? NS_LOG_INFO
					: NS_LOG_DEBUG);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(argv[optind], commands[i].name) == 0) {
			int sub_argc = argc - optind;
			char **sub_argv = argv + optind;
			optind = 0; /* glibc: re-initialise getopt for the command's own options */
			rc = commands[i].run(&cli, sub_argc, sub_argv);
			ns_dotenv_loaded_fini(&dotenv);
			return rc;
		}
	}
	ns_dotenv_loaded_fini(&dotenv);
	if (strcmp(argv[optind], "help") == 0) {
		print_help(stdout, cli.prog);
		return CLI_OK;
	}
	if (strcmp(argv[optind], "version") == 0) {
		printf("netsec %s\n", ns_version());
		return CLI_OK;
	}
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", cli.prog, argv[optind],
		cli.prog);
	return CLI_USAGE;
}
