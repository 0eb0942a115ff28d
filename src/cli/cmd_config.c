/*
 * src/cli/cmd_config.c - `netsec config`: every setting netsec reads, its
 * effective value and (with --show-source) where the value came from.
 *
 * Values pass through ns_setting_display: secrets (tokens, passwords, keys)
 * are masked whole and every other value has URI passwords redacted, so the
 * output can be pasted into a bug report.  Only the global flags (--store,
 * --env-file) are visible here; a command's own flags (train --registry ...)
 * override these values when that command runs.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef NETSEC_DATA_DIR
#define NETSEC_DATA_DIR "data"
#endif

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: netsec config [--show-source] [--json]\n\n"
		    "Prints every setting netsec reads with its effective value: a flag, else\n"
		    "the environment, else the .env file, else the default.  Secrets are masked\n"
		    "(tokens, passwords and keys show at most their first 2 characters and their\n"
		    "length; URI passwords show as ***).  docs/config.md lists the settings.\n\n"
		    "      --show-source  add where each value came from (flag, env, .env:LINE,\n"
		    "                     default, unset)\n"
		    "      --json         one JSON object (always with the sources)\n");
}

static void json_str(FILE *fp, const char *s)
{
	if (!s) {
		fputs("null", fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\u%04x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

/* The caller's defaults that the library cannot know. */
static const char *local_default(const struct ns_setting *s, char *buf, size_t size)
{
	if (strcmp(s->name, "data_dir") == 0)
		return NETSEC_DATA_DIR;
	if (strcmp(s->name, "store") == 0)
		return NS_STORE_DEFAULT_URI;
	if (strcmp(s->name, "workers") == 0) {
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		snprintf(buf, size, "%ld", cores > 0 ? cores : 2);
		return buf;
	}
	return NULL;
}

static const char *flag_value(const struct cli *cli, const struct ns_setting *s)
{
	if (strcmp(s->name, "store") == 0)
		return cli->store_flag;
	if (strcmp(s->name, "env_file") == 0)
		return cli->env_file_flag;
	return NULL;
}

static void source_text(const struct ns_setting_value *v, const struct ns_setting *s, char *buf,
			size_t size)
{
	switch (v->source) {
	case NS_SETTING_FLAG:
		snprintf(buf, size, "flag %s", s->flag ? s->flag : "");
		break;
	case NS_SETTING_ENV:
		snprintf(buf, size, "env %s", v->var);
		break;
	case NS_SETTING_DOTENV:
		snprintf(buf, size, ".env:%llu %s", (unsigned long long)v->line, v->var);
		break;
	default:
		snprintf(buf, size, "%s", ns_setting_source_name(v->source));
	}
}

int cmd_config(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"show-source", no_argument, NULL, 'S'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const struct ns_dotenv_loaded *dotenv = cli->dotenv;
	const struct ns_setting *table;
	bool show_source = false, json = false;
	size_t n;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			show_source = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error(cli, "config", "unexpected argument '%s'", argv[optind]);

	table = ns_settings(&n);
	if (json)
		printf("{\"env_file\": {\"path\": ");
	else if (dotenv && dotenv->path)
		printf("# settings file %s read (%zu entries)\n", dotenv->path, dotenv->n_entries);
	else
		printf("# no settings file read\n");
	if (json) {
		json_str(stdout, dotenv && dotenv->path ? dotenv->path : NULL);
		printf(", \"loaded\": %s},\n \"settings\": [",
		       dotenv && dotenv->path ? "true" : "false");
	} else {
		printf("%-22s %-24s %s%s\n", "setting", "variable",
		       show_source ? "source                       " : "", "value");
	}
	for (size_t i = 0; i < n; i++) {
		const struct ns_setting *s = &table[i];
		char def_buf[32], shown[4096], src[128];
		struct ns_setting_value v = ns_setting_resolve(
			s, flag_value(cli, s), dotenv, local_default(s, def_buf, sizeof(def_buf)));
		const char *var = v.var ? v.var : s->env[0];
		ns_setting_display(s, v.value, shown, sizeof(shown));
		source_text(&v, s, src, sizeof(src));
		if (json) {
			printf("%s\n  {\"name\": ", i ? "," : "");
			json_str(stdout, s->name);
			printf(", \"variables\": [");
			for (size_t k = 0; k < NS_SETTING_ENV_MAX && s->env[k]; k++) {
				printf("%s", k ? ", " : "");
				json_str(stdout, s->env[k]);
			}
			printf("], \"flag\": ");
			json_str(stdout, s->flag);
			printf(", \"value\": ");
			json_str(stdout, v.value ? shown : NULL);
			printf(", \"secret\": %s, \"source\": ", s->secret ? "true" : "false");
			json_str(stdout, ns_setting_source_name(v.source));
			printf(", \"variable\": ");
			json_str(stdout, v.var);
			if (v.source == NS_SETTING_DOTENV)
				printf(", \"line\": %llu", (unsigned long long)v.line);
			printf(", \"doc\": ");
			json_str(stdout, s->doc);
			printf("}");
		} else if (show_source) {
			printf("%-22s %-24s %-28s %s\n", s->name, var, src, v.value ? shown : "-");
		} else {
			printf("%-22s %-24s %s\n", s->name, var, v.value ? shown : "-");
		}
	}
	if (json)
		printf("\n]}\n");
	return CLI_OK;
}
