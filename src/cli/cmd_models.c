/*
 * src/cli/cmd_models.c - `netsec models`: the model registry (add, list,
 * show, promote, rollback, history, check) and `models check FILE` for a
 * loose model file.
 *
 * Every registry subcommand takes --registry DIR (default "models") and
 * --name NAME (default "netsec"); the registry lives in DIR/NAME.  Errors
 * name the registry folder and the version.
 */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn_common.h"
#include "netsec/json.h"
#include "netsec/registry.h"

#define DEFAULT_REGISTRY "models"
#define DEFAULT_NAME "netsec"

static int check_file(struct cli *cli, const char *path)
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

static void usage(FILE *fp)
{
	fprintf(fp,
		"Usage: netsec models SUBCOMMAND [ARGS] [--registry DIR] [--name NAME]\n\n"
		"The registry keeps numbered versions of a model in DIR/NAME (default\n"
		"models/netsec), one of them current; see docs/registry.md.\n\n"
		"  add MODEL [--meta JSON] [--promote] [--reason TEXT]\n"
		"                        store a model file as a new version (meta.json from\n"
		"                        the file JSON, default {}); --promote makes it current\n"
		"  list                  versions with family, training time, test F1; '*' "
		"current\n"
		"  show [VERSION]        the model card of VERSION (default: the current one)\n"
		"  promote VERSION [--reason TEXT]\n"
		"                        make VERSION current (its model must load)\n"
		"  rollback              go back to the version promoted before the current one\n"
		"  history               every promotion and rollback, oldest first\n"
		"  check                 verify every version, the current pointer and the\n"
		"                        history; clean up after a crash\n"
		"  check VERSION         verify one version\n"
		"  check FILE            verify a model file (magic, version, checksum,\n"
		"                        every section) and describe it; a bare number is a\n"
		"                        VERSION: write ./3 for a file named 3\n\n"
		"Options:\n"
		"      --registry DIR    registry root (default: models)\n"
		"      --name NAME       model name (default: netsec)\n"
		"      --reason TEXT     why (promote, add --promote), kept in the history\n"
		"      --meta FILE       meta.json for add\n"
		"      --promote         add: promote the new version at once\n\n"
		"Exit codes: 0 ok, 1 bad input (no such version, a model that does not load,\n"
		"problems found by check), 2 usage, 3 I/O, 4 internal.\n");
}

static bool parse_version_arg(const char *s, unsigned *v)
{
	char *end = NULL;
	unsigned long x;
	if (!s || s[0] < '1' || s[0] > '9')
		return false;
	x = strtoul(s, &end, 10);
	if (*end != '\0' || x > 0xffffffffUL)
		return false;
	*v = (unsigned)x;
	return true;
}

/* ---- the model card -------------------------------------------------------------- */

/* A scalar as text: strings as they are, numbers shortest, null as "-". */
static const char *scalar(const struct ns_json *v, char *buf, size_t size)
{
	double d;
	bool b;
	const char *s = ns_json_string(v, NULL);
	if (s)
		return s;
	if (ns_json_number(v, &d)) {
		ns_format_double(d, buf, size);
		return buf;
	}
	if (ns_json_bool(v, &b))
		return b ? "true" : "false";
	if (ns_json_type(v) == NS_JSON_ARRAY || ns_json_type(v) == NS_JSON_OBJECT)
		return "...";
	return "-";
}

/* A metric with 4 decimals, "-" when absent. */
static const char *metric(const struct ns_json *v, char *buf, size_t size)
{
	double d;
	if (!ns_json_number(v, &d))
		return "-";
	snprintf(buf, size, "%.4f", d);
	return buf;
}

static void field(const char *key, const char *value)
{
	if (value && value[0] && strcmp(value, "-") != 0)
		printf("  %-15s %s\n", key, value);
}

static void print_params(const struct ns_json *params)
{
	char buf[40];
	size_t n = ns_json_length(params);
	if (ns_json_type(params) != NS_JSON_OBJECT || n == 0)
		return;
	printf("  %-15s ", "params:");
	for (size_t i = 0; i < n; i++)
		printf("%s%s=%s", i ? ", " : "", ns_json_member_key(params, i, NULL),
		       scalar(ns_json_member_value(params, i), buf, sizeof(buf)));
	printf("\n");
}

static void print_metrics(const struct ns_json *metrics)
{
	static const char *names[] = {"accuracy", "precision", "recall", "f1", "roc_auc"};
	const struct ns_json *test = ns_json_get(metrics, "test");
	const struct ns_json *train = ns_json_get(metrics, "train");
	char b1[32], b2[32];
	if (ns_json_type(test) != NS_JSON_OBJECT && ns_json_type(train) != NS_JSON_OBJECT)
		return;
	printf("\nmetrics          %10s %10s\n", "test", "train");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		printf("  %-15s%10s %10s\n", names[i],
		       metric(ns_json_get(test, names[i]), b1, sizeof(b1)),
		       metric(ns_json_get(train, names[i]), b2, sizeof(b2)));
}

static void print_confusion(const struct ns_json *cm)
{
	const struct ns_json *labels = ns_json_get(cm, "labels");
	const struct ns_json *matrix = ns_json_get(cm, "matrix");
	size_t k = ns_json_length(matrix), width = 6, lw = 4;
	char buf[40];
	if (k == 0 || k > 64)
		return;
	for (size_t i = 0; i < k; i++) {
		size_t l = strlen(scalar(ns_json_at(labels, i), buf, sizeof(buf)));
		if (ns_json_at(labels, i) == NULL)
			l = 4;
		if (l + 2 > width)
			width = l + 2;
		if (l > lw)
			lw = l;
		for (size_t j = 0; j < ns_json_length(ns_json_at(matrix, i)); j++) {
			size_t c = strlen(
				scalar(ns_json_at(ns_json_at(matrix, i), j), buf, sizeof(buf)));
			if (c + 2 > width)
				width = c + 2;
		}
	}
	if (width > 24)
		width = 24;
	if (lw > 24)
		lw = 24;
	printf("\nconfusion matrix (rows: true, columns: predicted)\n  %-*s", (int)lw, "");
	for (size_t j = 0; j < k; j++) {
		const struct ns_json *l = ns_json_at(labels, j);
		if (l)
			printf("%*.*s", (int)width, (int)width - 1, scalar(l, buf, sizeof(buf)));
		else
			printf("%*zu", (int)width, j);
	}
	printf("\n");
	for (size_t i = 0; i < k; i++) {
		const struct ns_json *row = ns_json_at(matrix, i);
		const struct ns_json *l = ns_json_at(labels, i);
		if (l)
			printf("  %-*.*s", (int)lw, (int)lw, scalar(l, buf, sizeof(buf)));
		else
			printf("  %-*zu", (int)lw, i);
		for (size_t j = 0; j < ns_json_length(row); j++)
			printf("%*.*s", (int)width, (int)width - 1,
			       scalar(ns_json_at(row, j), buf, sizeof(buf)));
		printf("\n");
	}
}

struct importance {
	const char *name;
	double value;
};

static int cmp_importance(const void *a, const void *b)
{
	const struct importance *x = a, *y = b;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void print_importance(const struct ns_json *fi)
{
	size_t n = ns_json_length(fi), m = 0, nw = 4, top;
	struct importance *v;
	double max = 0;
	if (ns_json_type(fi) != NS_JSON_ARRAY || n == 0)
		return;
	v = calloc(n, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0; i < n; i++) {
		const struct ns_json *e = ns_json_at(fi, i);
		const char *name = ns_json_string(ns_json_get(e, "name"), NULL);
		double d;
		if (!name || !ns_json_number(ns_json_get(e, "importance"), &d) || !isfinite(d))
			continue;
		v[m].name = name;
		v[m++].value = d;
	}
	qsort(v, m, sizeof(*v), cmp_importance);
	top = m < 10 ? m : 10;
	for (size_t i = 0; i < top; i++) {
		if (strlen(v[i].name) > nw)
			nw = strlen(v[i].name);
		if (v[i].value > max)
			max = v[i].value;
	}
	if (nw > 32)
		nw = 32;
	if (top)
		printf("\nfeature importance (top %zu of %zu)\n", top, m);
	for (size_t i = 0; i < top; i++) {
		int bar = max > 0 && v[i].value > 0 ? (int)lround(30.0 * v[i].value / max) : 0;
		printf("  %-*.*s %7.4f  ", (int)nw, (int)nw, v[i].name, v[i].value);
		for (int j = 0; j < bar; j++)
			putchar('#');
		printf("\n");
	}
	free(v);
}

static void print_card(const char *dir, unsigned version, bool current, const char *model_path,
		       const struct ns_json *meta)
{
	const struct ns_json *classes = ns_json_get(meta, "classes");
	const struct ns_json *threat = ns_json_get(meta, "threat");
	char buf[64], buf2[64], line[1024];
	double cv;
	size_t off = 0;

	printf("%s version %u%s\n", dir, version, current ? " (current)" : "");
	field("model:", model_path);
	field("name:", ns_json_string(ns_json_get(meta, "name"), NULL));
	field("family:", ns_json_string(ns_json_get(meta, "family"), NULL));
	print_params(ns_json_get(meta, "params"));
	field("trained at:", ns_json_string(ns_json_get(meta, "trained_at"), NULL));
	field("run id:", ns_json_string(ns_json_get(meta, "run_id"), NULL));
	line[0] = '\0';
	for (size_t i = 0; i < ns_json_length(classes) && off + 1 < sizeof(line); i++) {
		int w = snprintf(line + off, sizeof(line) - off, "%s%s", i ? ", " : "",
				 scalar(ns_json_at(classes, i), buf, sizeof(buf)));
		if (w < 0)
			break;
		off += (size_t)w;
	}
	field("classes:", line);
	if (ns_json_string(threat, NULL))
		field("threat class:", ns_json_string(threat, NULL));
	else if (ns_json_get(meta, "threat"))
		field("threat class:", "none");
	if (ns_json_number(ns_json_get(meta, "cv_score"), &cv)) {
		const char *scoring = ns_json_string(ns_json_get(meta, "scoring"), NULL);
		snprintf(line, sizeof(line), "%.4f%s%s%s", cv, scoring ? " (" : "",
			 scoring ? scoring : "", scoring ? ")" : "");
		field("cv score:", line);
	}
	if (ns_json_get(meta, "n_train") || ns_json_get(meta, "n_test")) {
		snprintf(line, sizeof(line), "%s train, %s test",
			 scalar(ns_json_get(meta, "n_train"), buf, sizeof(buf)),
			 scalar(ns_json_get(meta, "n_test"), buf2, sizeof(buf2)));
		field("rows:", line);
	}
	field("data sha256:", ns_json_string(ns_json_get(meta, "data_hash"), NULL));
	field("schema sha256:", ns_json_string(ns_json_get(meta, "schema_hash"), NULL));
	field("model sha256:", ns_json_string(ns_json_get(meta, "model_sha256"), NULL));
	print_metrics(ns_json_get(meta, "metrics"));
	print_confusion(ns_json_get(meta, "confusion_matrix"));
	print_importance(ns_json_get(meta, "feature_importance"));
}

/* ---- subcommands ---------------------------------------------------------------------- */

struct opts {
	const char *root, *name, *reason, *meta;
	bool promote;
	int argc; /* positional arguments after the subcommand */
	char **argv;
};

static int open_registry(struct cli *cli, const struct opts *o, struct ns_registry **r)
{
	struct ns_diag diag;
	enum ns_status st;
	ns_diag_clear(&diag);
	st = ns_registry_open(o->root, o->name, r, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	return CLI_OK;
}

/* Loads and parses meta.json of a version; NULL doc (and a warning) if it cannot. */
static struct ns_json_doc *load_meta(struct ns_registry *r, unsigned v, bool warn)
{
	struct ns_diag diag;
	struct ns_json_doc *doc = NULL;
	char *text = NULL, buf[1024];
	ns_diag_clear(&diag);
	if (ns_registry_meta(r, v, &text, &diag) == NS_OK)
		ns_json_parse(text, strlen(text), "meta.json", NULL, &doc, &diag);
	if (!doc && warn)
		fprintf(stderr, "netsec: warning: %s\n", ns_diag_format(&diag, buf, sizeof(buf)));
	ns_free(text);
	return doc;
}

static int do_list(struct cli *cli, struct ns_registry *r)
{
	struct ns_diag diag;
	unsigned *v = NULL, cur = 0;
	size_t n = 0;
	enum ns_status st;
	ns_diag_clear(&diag);
	st = ns_registry_list(r, &v, &n, &diag);
	if (st == NS_OK)
		st = ns_registry_current(r, &cur, &diag);
	if (st != NS_OK) {
		ns_free(v);
		return cli_fail(cli, st, &diag);
	}
	if (n == 0) {
		printf("%s: no versions yet (add one with 'netsec models add MODEL')\n",
		       ns_registry_dir(r));
		ns_free(v);
		return CLI_OK;
	}
	printf("  %-8s %-10s %-21s %s\n", "VERSION", "FAMILY", "TRAINED AT", "TEST F1");
	for (size_t i = 0; i < n; i++) {
		struct ns_json_doc *doc = load_meta(r, v[i], false);
		const struct ns_json *m = ns_json_root(doc);
		const char *family = ns_json_string(ns_json_get(m, "family"), NULL);
		const char *at = ns_json_string(ns_json_get(m, "trained_at"), NULL);
		char buf[32];
		printf("%c %-8u %-10s %-21s %s\n", v[i] == cur ? '*' : ' ', v[i],
		       family ? family : "-", at ? at : "-",
		       doc ? metric(ns_json_get(ns_json_get(ns_json_get(m, "metrics"), "test"),
						"f1"),
				    buf, sizeof(buf))
			   : "(meta.json unreadable)");
		ns_json_doc_free(doc);
	}
	ns_free(v);
	return CLI_OK;
}

static int do_show(struct cli *cli, struct ns_registry *r, const struct opts *o)
{
	struct ns_diag diag;
	struct ns_json_doc *doc = NULL;
	unsigned v = 0, cur = 0;
	char path[4096], *text = NULL;
	enum ns_status st;
	ns_diag_clear(&diag);
	if (o->argc > 1)
		return cli_usage_error(cli, "models", "show takes at most one VERSION");
	st = ns_registry_current(r, &cur, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (o->argc == 1) {
		if (!parse_version_arg(o->argv[0], &v))
			return cli_usage_error(cli, "models", "bad VERSION '%s' (1, 2, ...)",
					       o->argv[0]);
	} else if (cur == 0) {
		ns_diag_where(&diag, ns_registry_dir(r), 0, 0, NULL);
		ns_diag_set(&diag, NS_ERR_NOTFOUND,
			    "no version is current: promote one, or name a VERSION");
		return cli_fail(cli, NS_ERR_NOTFOUND, &diag);
	} else {
		v = cur;
	}
	st = ns_registry_meta(r, v, &text, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	st = ns_json_parse(text, strlen(text), "meta.json", NULL, &doc, &diag);
	if (st != NS_OK) {
		char msg[NS_DIAG_MESSAGE_MAX];
		snprintf(msg, sizeof(msg), "%s", diag.message);
		ns_diag_where(&diag, ns_registry_dir(r), 0, 0, NULL);
		ns_diag_set(&diag, NS_ERR_CORRUPT, "version %u: meta.json: %s", v, msg);
		ns_free(text);
		return cli_fail(cli, NS_ERR_CORRUPT, &diag);
	}
	if (ns_registry_path(r, v, path, sizeof(path)) != NS_OK)
		path[0] = '\0';
	print_card(ns_registry_dir(r), v, v == cur, path, ns_json_root(doc));
	ns_json_doc_free(doc);
	ns_free(text);
	return CLI_OK;
}

static int do_add(struct cli *cli, struct ns_registry *r, const struct opts *o)
{
	struct ns_diag diag;
	char *meta = NULL;
	unsigned v = 0;
	enum ns_status st;
	if (o->argc != 1)
		return cli_usage_error(cli, "models", "add needs one MODEL file");
	ns_diag_clear(&diag);
	if (o->meta) {
		st = ns_read_file(o->meta, NS_REGISTRY_META_MAX, &meta, NULL, &diag);
		if (st != NS_OK)
			return cli_fail(cli, st, &diag);
	}
	st = ns_registry_add(r, o->argv[0], meta, &v, &diag);
	ns_free(meta);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	cli_info(cli, "%s: added version %u\n", ns_registry_dir(r), v);
	if (o->promote) {
		st = ns_registry_promote(r, v, o->reason ? o->reason : "added with --promote",
					 &diag);
		if (st != NS_OK)
			return cli_fail(cli, st, &diag);
		cli_info(cli, "%s: version %u is current\n", ns_registry_dir(r), v);
	}
	return CLI_OK;
}

static int do_promote(struct cli *cli, struct ns_registry *r, const struct opts *o)
{
	struct ns_diag diag;
	unsigned v = 0, before = 0;
	enum ns_status st;
	if (o->argc != 1)
		return cli_usage_error(cli, "models", "promote needs one VERSION");
	if (!parse_version_arg(o->argv[0], &v))
		return cli_usage_error(cli, "models", "bad VERSION '%s' (1, 2, ...)", o->argv[0]);
	ns_diag_clear(&diag);
	(void)ns_registry_current(r, &before, NULL);
	st = ns_registry_promote(r, v, o->reason, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (before == v)
		cli_info(cli, "%s: version %u is already current\n", ns_registry_dir(r), v);
	else if (before)
		cli_info(cli, "%s: version %u is current (was %u)\n", ns_registry_dir(r), v,
			 before);
	else
		cli_info(cli, "%s: version %u is current\n", ns_registry_dir(r), v);
	return CLI_OK;
}

static int do_rollback(struct cli *cli, struct ns_registry *r, const struct opts *o)
{
	struct ns_diag diag;
	unsigned before = 0, now = 0;
	enum ns_status st;
	if (o->argc != 0)
		return cli_usage_error(cli, "models", "rollback takes no arguments");
	ns_diag_clear(&diag);
	(void)ns_registry_current(r, &before, NULL);
	st = ns_registry_rollback(r, &now, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	cli_info(cli, "%s: rolled back from version %u to version %u\n", ns_registry_dir(r), before,
		 now);
	return CLI_OK;
}

static int do_history(struct cli *cli, struct ns_registry *r, const struct opts *o)
{
	struct ns_diag diag;
	struct ns_registry_event *ev = NULL;
	size_t n = 0;
	enum ns_status st;
	if (o->argc != 0)
		return cli_usage_error(cli, "models", "history takes no arguments");
	ns_diag_clear(&diag);
	st = ns_registry_history(r, &ev, &n, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	for (size_t i = 0; i < n; i++)
		printf("%s  %-8s %-6u %s\n", ev[i].time, ev[i].action, ev[i].version, ev[i].reason);
	ns_free(ev);
	return CLI_OK;
}

static int do_check(struct cli *cli, struct ns_registry *r, const struct opts *o)
{
	struct ns_diag diag;
	size_t problems = 0;
	unsigned v;
	enum ns_status st;
	ns_diag_clear(&diag);
	if (o->argc == 1) {
		char path[4096];
		if (!parse_version_arg(o->argv[0], &v))
			return cli_usage_error(cli, "models", "bad VERSION '%s'", o->argv[0]);
		st = ns_registry_check_version(r, v, &diag);
		if (st != NS_OK)
			return cli_fail(cli, st, &diag);
		if (ns_registry_path(r, v, path, sizeof(path)) == NS_OK)
			printf("%s version %u: ok (%s)\n", ns_registry_dir(r), v, path);
		return CLI_OK;
	}
	st = ns_registry_check(r, &problems, &diag);
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (problems) {
		fprintf(stderr, "%s: %zu problem%s found\n", ns_registry_dir(r), problems,
			problems == 1 ? "" : "s");
		if (cli->verbosity < 1) /* the log printed each one otherwise */
			cli_fail(cli, diag.status, &diag);
		return CLI_BAD_INPUT;
	}
	{
		unsigned *vs = NULL, cur = 0;
		size_t n = 0;
		(void)ns_registry_list(r, &vs, &n, NULL);
		(void)ns_registry_current(r, &cur, NULL);
		printf("%s: ok (%zu version%s, current %u)\n", ns_registry_dir(r), n,
		       n == 1 ? "" : "s", cur);
		ns_free(vs);
	}
	return CLI_OK;
}

int cmd_models(struct cli *cli, int argc, char **argv)
{
	static const struct option long_opts[] = {{"registry", required_argument, NULL, 'r'},
						  {"name", required_argument, NULL, 'n'},
						  {"reason", required_argument, NULL, 'R'},
						  {"meta", required_argument, NULL, 'm'},
						  {"promote", no_argument, NULL, 'p'},
						  {"help", no_argument, NULL, 'h'},
						  {NULL, 0, NULL, 0}};
	struct opts o = {DEFAULT_REGISTRY, DEFAULT_NAME, NULL, NULL, false, 0, NULL};
	struct ns_registry *r = NULL;
	const char *sub;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	sub = argv[1];
	optind = 0;
	while ((c = getopt_long(argc - 1, argv + 1, "h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o.root = optarg;
			break;
		case 'n':
			o.name = optarg;
			break;
		case 'R':
			o.reason = optarg;
			break;
		case 'm':
			o.meta = optarg;
			break;
		case 'p':
			o.promote = true;
			break;
		case 'h':
			usage(stdout);
			return CLI_OK;
		default:
			fprintf(stderr, "Try '%s models --help'.\n", cli->prog);
			return CLI_USAGE;
		}
	}
	o.argc = argc - 1 - optind;
	o.argv = argv + 1 + optind;

	if (strcmp(sub, "check") == 0 && o.argc == 1 &&
	    !parse_version_arg(o.argv[0], &(unsigned){0}))
		return check_file(cli, o.argv[0]);
	if (strcmp(sub, "check") == 0 && o.argc > 1)
		return cli_usage_error(cli, "models", "check takes one FILE or VERSION at most");
	if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 && strcmp(sub, "add") != 0 &&
	    strcmp(sub, "promote") != 0 && strcmp(sub, "rollback") != 0 &&
	    strcmp(sub, "history") != 0 && strcmp(sub, "check") != 0)
		return cli_usage_error(cli, "models", "unknown subcommand '%s'", sub);
	if (strcmp(sub, "list") == 0 && o.argc != 0)
		return cli_usage_error(cli, "models", "list takes no arguments");
	if ((o.reason || o.promote || o.meta) && strcmp(sub, "add") != 0 &&
	    strcmp(sub, "promote") != 0)
		return cli_usage_error(cli, "models",
				       "--reason, --meta and --promote are for add "
				       "and promote");
	rc = open_registry(cli, &o, &r);
	if (rc != CLI_OK)
		return rc;
	if (strcmp(sub, "list") == 0)
		rc = do_list(cli, r);
	else if (strcmp(sub, "show") == 0)
		rc = do_show(cli, r, &o);
	else if (strcmp(sub, "add") == 0)
		rc = do_add(cli, r, &o);
	else if (strcmp(sub, "promote") == 0)
		rc = do_promote(cli, r, &o);
	else if (strcmp(sub, "rollback") == 0)
		rc = do_rollback(cli, r, &o);
	else if (strcmp(sub, "history") == 0)
		rc = do_history(cli, r, &o);
	else
		rc = do_check(cli, r, &o);
	ns_registry_close(r);
	return rc;
}
