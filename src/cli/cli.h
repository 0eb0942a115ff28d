/*
 * src/cli/cli.h - shared parts of the `netsec` command-line tool.
 *
 * The tool is a client of libnetsec: it parses arguments, calls the library,
 * prints results on stdout and errors on stderr, and maps statuses to the
 * documented exit codes below.
 */
#ifndef NETSEC_CLI_H
#define NETSEC_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "netsec/config.h"
#include "netsec/netsec.h"

/* Exit codes (documented in README.md and `netsec --help`). */
enum cli_exit {
	CLI_OK = 0, /* success */
	CLI_BAD_INPUT = 1, /* the input is invalid: validation failed, parse error */
	CLI_USAGE = 2, /* wrong command-line usage */
	CLI_IO = 3, /* a file or the store could not be read or written */
	CLI_INTERNAL = 4, /* out of memory or an internal error */
	CLI_GATE = 5, /* a quality gate stopped the run (expected score, drift) */
};

struct cli {
	int verbosity; /* 0 quiet, 1 normal, 2 verbose, 3 debug */
	const char *store_uri;
	const char *prog;
	const char *store_flag; /* --store as given, or NULL (for `netsec config`) */
	const char *env_file_flag; /* --env-file as given, or NULL */
	const struct ns_dotenv_loaded *dotenv; /* what the .env file set (main.c) */
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Maps a library status to an exit code. */
int cli_exit_for(enum ns_status st);
/* Prints "netsec: error: <diag>" on stderr and returns the exit code for st. */
int cli_fail(struct cli *cli, enum ns_status st, const struct ns_diag *diag);
/* Prints a usage error and returns CLI_USAGE. */
int cli_usage_error(struct cli *cli, const char *cmd, const char *fmt, ...) NS_PRINTF(3, 4);
/* Informational line on stdout unless quiet. */
void cli_info(struct cli *cli, const char *fmt, ...) NS_PRINTF(2, 3);
/* Folder of the bundled data (data/phisingData.csv, data/schema.yaml). */
const char *cli_data_dir(void);
/* Splits "a,b,c" into a new array of new strings; free with cli_free_list. */
char **cli_split_list(const char *s, size_t *n);
void cli_free_list(char **list, size_t n);

int cmd_ingest(struct cli *cli, int argc, char **argv);
int cmd_export(struct cli *cli, int argc, char **argv);
int cmd_schema(struct cli *cli, int argc, char **argv);
int cmd_validate(struct cli *cli, int argc, char **argv);
int cmd_store(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_fit(struct cli *cli, int argc, char **argv);
int cmd_search(struct cli *cli, int argc, char **argv);
int cmd_predict(struct cli *cli, int argc, char **argv);
int cmd_models(struct cli *cli, int argc, char **argv);
int cmd_train(struct cli *cli, int argc, char **argv);
int cmd_drift(struct cli *cli, int argc, char **argv);
int cmd_serve(struct cli *cli, int argc, char **argv);
int cmd_sync(struct cli *cli, int argc, char **argv);
int cmd_track(struct cli *cli, int argc, char **argv);
int cmd_config(struct cli *cli, int argc, char **argv);

#endif

/* Prints validation problems on stderr as FILE:LINE:COLUMN: field 'F': message. */
struct cli_problems {
	struct cli *cli;
	const char *file;
	unsigned long long n_seen;
	unsigned long long max_print; /* 0: all */
};
void cli_print_problem(void *user, const struct ns_problem *p);
/* Prints "... and N more problems" when some were not printed. */
void cli_problems_done(const struct cli_problems *pp);
/* Seconds on a monotonic clock. */
double cli_now(void);
