/*
 * tests/unit/registry/test_registry.c - the model registry: versions and
 * their files, promote / rollback semantics, check, concurrent adds from
 * several processes, and crash safety (SIGKILL at every named point of add,
 * promote and rollback, and at random moments), each followed by check.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "netsec/json.h"
#include "netsec/learn.h"
#include "netsec/registry.h"

#define TMP NETSEC_TEST_TMP "/registry"

static char model_a[512], model_b[512];

static void sh(const char *fmt, ...) NS_PRINTF(1, 2);
static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* A tiny tree model: class = x0 > 0.5 (x1 is noise); `flip` changes the labels' sense. */
static void make_model(const char *path, bool flip)
{
	enum { N = 40 };
	double x[2 * N];
	uint32_t y[N];
	struct ns_dataset d = {N, 2, x, y, 2, NULL};
	struct ns_params p;
	struct ns_fit_options o = ns_fit_options_default();
	struct ns_model *m = NULL;
	struct ns_diag diag;
	const char *labels[] = {"benign", "attack"};
	const char *names[] = {"f0", "f1"};
	for (int i = 0; i < N; i++) {
		x[2 * i] = (double)i / N;
		x[2 * i + 1] = (double)((i * 7) % 5);
		y[i] = (uint32_t)((x[2 * i] > 0.5) ^ flip);
	}
	ns_params_init(&p, ns_family_find("tree"));
	o.class_labels = labels;
	o.feature_names = names;
	o.threat_class = 1;
	o.n_threads = 1;
	ns_diag_clear(&diag);
	if (ns_model_fit(&p, &d, &o, &m, &diag) != NS_OK)
		fail_msg("fit: %s", diag.message);
	if (ns_model_save(m, path, &diag) != NS_OK)
		fail_msg("save: %s", diag.message);
	ns_model_free(m);
}

static int setup_all(void **state)
{
	(void)state;
	sh("rm -rf '%s' && mkdir -p '%s'", TMP, TMP);
	snprintf(model_a, sizeof(model_a), "%s/a.nsm", TMP);
	snprintf(model_b, sizeof(model_b), "%s/b.nsm", TMP);
	make_model(model_a, false);
	make_model(model_b, true);
	return 0;
}

static struct ns_registry *open_fresh(const char *root)
{
	struct ns_registry *r = NULL;
	struct ns_diag d;
	sh("rm -rf '%s'", root);
	ns_diag_clear(&d);
	if (ns_registry_open(root, "netsec", &r, &d) != NS_OK)
		fail_msg("open %s: %s", root, d.message);
	return r;
}

static struct ns_registry *reopen(const char *root)
{
	struct ns_registry *r = NULL;
	struct ns_diag d;
	ns_diag_clear(&d);
	if (ns_registry_open(root, "netsec", &r, &d) != NS_OK)
		fail_msg("reopen %s: %s", root, d.message);
	return r;
}

static unsigned add(struct ns_registry *r, const char *model, const char *meta)
{
	struct ns_diag d;
	unsigned v = 0;
	ns_diag_clear(&d);
	if (ns_registry_add(r, model, meta, &v, &d) != NS_OK)
		fail_msg("add: %s", d.message);
	return v;
}

static unsigned current(struct ns_registry *r)
{
	unsigned v = 99;
	assert_int_equal(ns_registry_current(r, &v, NULL), NS_OK);
	return v;
}

static size_t problems(struct ns_registry *r)
{
	struct ns_diag d;
	size_t n = 99;
	ns_diag_clear(&d);
	if (ns_registry_check(r, &n, &d) != NS_OK)
		fail_msg("check: %s", d.message);
	if (n)
		print_message("check: %zu problems, first: %s: %s\n", n, d.file, d.message);
	return n;
}

static size_t count_entries(const char *dir, const char *prefix)
{
	char cmd[1024], out[64] = "";
	FILE *fp;
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -c '^%s' || true", dir, prefix);
	fp = popen(cmd, "r");
	assert_non_null(fp);
	if (!fgets(out, sizeof(out), fp))
		out[0] = '\0';
	pclose(fp);
	return (size_t)strtoul(out, NULL, 10);
}

static void test_add_list_meta(void **state)
{
	const char *root = TMP "/basic";
	struct ns_registry *r = open_fresh(root);
	struct ns_json_doc *doc = NULL;
	struct ns_diag d;
	unsigned *v = NULL, ver = 0;
	size_t n = 0;
	char path[1024], *meta = NULL;
	double num = 0;
	(void)state;

	assert_string_equal(ns_registry_dir(r), TMP "/basic/netsec");
	assert_int_equal(current(r), 0);
	assert_int_equal(ns_registry_list(r, &v, &n, NULL), NS_OK);
	assert_int_equal(n, 0);
	ns_free(v);

	assert_int_equal(add(r, model_a, "{\"family\": \"tree\", \"n_train\": 40}"), 1);
	assert_int_equal(add(r, model_b, NULL), 2);
	assert_int_equal(add(r, model_a, " {\"version\": 3, \"x\": [1]} "), 3);
	assert_int_equal(current(r), 0); /* add does not promote */
	assert_int_equal(ns_registry_list(r, &v, &n, NULL), NS_OK);
	assert_int_equal(n, 3);
	assert_int_equal(v[0], 1);
	assert_int_equal(v[2], 3);
	ns_free(v);

	assert_int_equal(ns_registry_path(r, 2, path, sizeof(path)), NS_OK);
	assert_string_equal(path, TMP "/basic/netsec/2/model.nsm");
	assert_int_equal(ns_registry_path(r, 9, path, sizeof(path)), NS_ERR_NOTFOUND);
	assert_int_equal(ns_registry_path(r, 2, path, 10), NS_ERR_LIMIT);

	/* meta.json: the caller's object, with version and model_sha256 added. */
	ns_diag_clear(&d);
	assert_int_equal(ns_registry_meta(r, 1, &meta, &d), NS_OK);
	assert_int_equal(ns_json_parse(meta, strlen(meta), "m", NULL, &doc, &d), NS_OK);
	assert_true(ns_json_number(ns_json_get(ns_json_root(doc), "version"), &num) && num == 1);
	assert_string_equal(ns_json_string(ns_json_get(ns_json_root(doc), "family"), NULL), "tree");
	assert_int_equal(
		strlen(ns_json_string(ns_json_get(ns_json_root(doc), "model_sha256"), NULL)), 64);
	ns_json_doc_free(doc);
	ns_free(meta);
	assert_int_equal(ns_registry_meta(r, 2, &meta, &d), NS_OK);
	assert_int_equal(ns_json_parse(meta, strlen(meta), "m", NULL, &doc, &d), NS_OK);
	assert_int_equal(ns_json_length(ns_json_root(doc)), 2);
	ns_json_doc_free(doc);
	ns_free(meta);
	assert_int_equal(ns_registry_meta(r, 3, &meta, &d), NS_OK);
	assert_int_equal(ns_json_parse(meta, strlen(meta), "m", NULL, &doc, &d), NS_OK);
	assert_int_equal(ns_json_length(ns_json_root(doc)), 3); /* version kept, sha added */
	ns_json_doc_free(doc);
	ns_free(meta);
	assert_int_equal(ns_registry_meta(r, 7, &meta, &d), NS_ERR_NOTFOUND);
	assert_non_null(strstr(d.message, "version 7"));
	assert_string_equal(d.file, TMP "/basic/netsec");

	/* Refused adds leave nothing behind and use no number. */
	assert_int_equal(ns_registry_add(r, model_a, "[1]", &ver, &d), NS_ERR_PARSE);
	assert_non_null(strstr(d.message, "JSON object"));
	assert_int_equal(ns_registry_add(r, model_a, "{\"a\":", &ver, &d), NS_ERR_PARSE);
	assert_int_equal(ns_registry_add(r, model_a,
					 "{\"model_sha256\":\"00000000000000000000000000000000"
					 "00000000000000000000000000000000\"}",
					 &ver, &d),
			 NS_ERR_CORRUPT);
	assert_non_null(strstr(d.message, "does not match"));
	sh("head -c 100 '%s' > '%s/short.nsm'", model_a, TMP);
	assert_int_equal(ns_registry_add(r, TMP "/short.nsm", NULL, &ver, &d), NS_ERR_CORRUPT);
	assert_int_equal(ns_registry_add(r, TMP "/missing.nsm", NULL, &ver, &d), NS_ERR_IO);
	assert_int_equal(count_entries(TMP "/basic/netsec", ".tmp"), 0);
	assert_int_equal(add(r, model_b, NULL), 4);

	/* A correct model_sha256 is accepted as it is. */
	{
		char json[200], *m2 = NULL;
		assert_int_equal(ns_registry_meta(r, 4, &m2, &d), NS_OK);
		assert_int_equal(ns_json_parse(m2, strlen(m2), "m", NULL, &doc, &d), NS_OK);
		snprintf(json, sizeof(json), "{\"model_sha256\":\"%s\"}",
			 ns_json_string(ns_json_get(ns_json_root(doc), "model_sha256"), NULL));
		ns_json_doc_free(doc);
		ns_free(m2);
		assert_int_equal(add(r, model_b, json), 5);
	}
	assert_int_equal(problems(r), 0);
	ns_registry_close(r);
	ns_registry_close(NULL);

	/* Bad names. */
	assert_int_equal(ns_registry_open(root, "../x", &r, &d), NS_ERR_INVALID);
	assert_int_equal(ns_registry_open(root, ".hidden", &r, &d), NS_ERR_INVALID);
	assert_int_equal(ns_registry_open(root, "", &r, &d), NS_ERR_INVALID);
}

static void test_promote_rollback(void **state)
{
	const char *root = TMP "/promote";
	struct ns_registry *r = open_fresh(root);
	struct ns_registry_event *ev = NULL;
	struct ns_diag d;
	unsigned now = 0;
	size_t n = 0;
	(void)state;
	for (int i = 0; i < 3; i++)
		add(r, i % 2 ? model_b : model_a, NULL);
	ns_diag_clear(&d);
	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_ERR_NOTFOUND);
	assert_non_null(strstr(d.message, "no version was ever promoted"));

	assert_int_equal(ns_registry_promote(r, 1, "first", &d), NS_OK);
	assert_int_equal(current(r), 1);
	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_ERR_NOTFOUND);
	assert_int_equal(ns_registry_promote(r, 2, "better\tf1\nline", &d), NS_OK);
	assert_int_equal(ns_registry_promote(r, 3, NULL, &d), NS_OK);
	assert_int_equal(ns_registry_promote(r, 3, "again", &d), NS_OK); /* no-op */
	assert_int_equal(current(r), 3);

	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_OK);
	assert_int_equal(now, 2);
	assert_int_equal(current(r), 2);
	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_OK);
	assert_int_equal(now, 1);
	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_ERR_NOTFOUND);
	assert_int_equal(current(r), 1);
	assert_int_equal(ns_registry_promote(r, 3, "after rollbacks", &d), NS_OK);
	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_OK);
	assert_int_equal(now, 1);

	assert_int_equal(ns_registry_history(r, &ev, &n, &d), NS_OK);
	assert_int_equal(n, 7);
	assert_string_equal(ev[0].action, "promote");
	assert_int_equal(ev[0].version, 1);
	assert_string_equal(ev[0].reason, "first");
	assert_string_equal(ev[1].reason, "better f1 line");
	assert_string_equal(ev[3].action, "rollback");
	assert_int_equal(ev[3].version, 2);
	assert_string_equal(ev[3].reason, "back from version 3");
	assert_int_equal(strlen(ev[0].time), 20);
	assert_int_equal(ev[0].time[19], 'Z');
	ns_free(ev);

	/* Unknown and broken versions are refused; current stays. */
	assert_int_equal(ns_registry_promote(r, 9, NULL, &d), NS_ERR_NOTFOUND);
	assert_non_null(strstr(d.message, "version 9"));
	sh("printf '\\377' | dd of='%s/netsec/2/model.nsm' bs=1 seek=60 conv=notrunc 2>/dev/null",
	   root);
	assert_int_equal(ns_registry_promote(r, 2, NULL, &d), NS_ERR_CORRUPT);
	assert_non_null(strstr(d.message, "version 2"));
	assert_int_equal(current(r), 1);
	assert_int_equal(problems(r), 1);

	/* A model replaced by another valid one: the hash in meta.json catches it. */
	sh("cp '%s' '%s/netsec/3/model.nsm'", model_b, root);
	assert_int_equal(ns_registry_promote(r, 3, NULL, &d), NS_ERR_CORRUPT);
	assert_non_null(strstr(d.message, "SHA-256"));
	assert_int_equal(problems(r), 2);

	/* Rolling back onto a broken version changes nothing. */
	assert_int_equal(ns_registry_promote(r, 1, NULL, &d), NS_OK); /* already current */
	sh("printf '2024-01-01T00:00:00Z\\t2\\tpromote\\tforced\\n' >> '%s/netsec/history'", root);
	sh("printf '2024-01-01T00:00:00Z\\t1\\tpromote\\tforced\\n' >> '%s/netsec/history'", root);
	assert_int_equal(ns_registry_rollback(r, &now, &d), NS_ERR_CORRUPT);
	assert_non_null(strstr(d.message, "cannot roll back to"));
	assert_int_equal(current(r), 1);
	ns_registry_close(r);
}

static void test_versions_never_reused(void **state)
{
	const char *root = TMP "/reuse";
	struct ns_registry *r = open_fresh(root);
	(void)state;
	assert_int_equal(add(r, model_a, NULL), 1);
	assert_int_equal(add(r, model_a, NULL), 2);
	assert_int_equal(add(r, model_a, NULL), 3);
	sh("rm -rf '%s/netsec/3'", root);
	assert_int_equal(add(r, model_a, NULL), 4);
	/* Even without last_version, the history remembers promoted numbers. */
	assert_int_equal(ns_registry_promote(r, 4, NULL, NULL), NS_OK);
	sh("rm -rf '%s/netsec/last_version'", root);
	assert_int_equal(add(r, model_a, NULL), 5);
	ns_registry_close(r);
}

static void test_check(void **state)
{
	const char *root = TMP "/check";
	struct ns_registry *r = open_fresh(root);
	struct ns_diag d;
	size_t n = 0;
	(void)state;
	add(r, model_a, NULL);
	add(r, model_b, NULL);
	assert_int_equal(ns_registry_promote(r, 2, NULL, NULL), NS_OK);
	assert_int_equal(problems(r), 0);

	/* Leftovers of a crash are removed, not counted. */
	sh("mkdir -p '%s/netsec/.tmp.abc123' && echo x > '%s/netsec/.tmp.abc123/model.nsm' && "
	   "echo 1 > '%s/netsec/current.tmp.XYZ'",
	   root, root, root);
	assert_int_equal(problems(r), 0);
	assert_int_equal(count_entries(TMP "/check/netsec", ".tmp"), 0);
	assert_int_equal(count_entries(TMP "/check/netsec", "current.tmp"), 0);

	/* Open cleans up too. */
	sh("mkdir -p '%s/netsec/.tmp.zzz'", root);
	ns_registry_close(r);
	r = reopen(root);
	assert_int_equal(count_entries(TMP "/check/netsec", ".tmp"), 0);

	/* meta.json that does not parse. */
	sh("echo '{\"a\":' > '%s/netsec/1/meta.json'", root);
	ns_diag_clear(&d);
	assert_int_equal(ns_registry_check(r, &n, &d), NS_OK);
	assert_int_equal(n, 1);
	assert_non_null(strstr(d.message, "version 1"));
	assert_int_equal(ns_registry_check_version(r, 1, &d), NS_ERR_CORRUPT);
	assert_int_equal(ns_registry_check_version(r, 2, &d), NS_OK);
	sh("echo '[]' > '%s/netsec/1/meta.json'", root);
	assert_int_equal(problems(r), 1);
	sh("echo '{}' > '%s/netsec/1/meta.json'", root);
	assert_int_equal(problems(r), 0);

	/* A missing model file. */
	sh("mv '%s/netsec/1/model.nsm' '%s/netsec/1/x'", root, root);
	assert_int_equal(problems(r), 1);
	sh("mv '%s/netsec/1/x' '%s/netsec/1/model.nsm'", root, root);

	/* A garbage history line; a history naming a missing version. */
	sh("echo 'garbage' >> '%s/netsec/history'", root);
	assert_int_equal(problems(r), 1);
	sh("printf '2024-01-01T00:00:00Z\\t2\\tpromote\\tok\\n' >> '%s/netsec/history'", root);
	sh("printf '2024-01-01T00:00:00Z\\t9\\tpromote\\tgone\\n' >> '%s/netsec/history'", root);
	/* 9 is logged but absent: current stays 2, and check says so twice. */
	assert_int_equal(problems(r), 3);
	assert_int_equal(current(r), 2);

	/* current naming a missing version. */
	sh("echo 7 > '%s/netsec/current'", root);
	assert_true(problems(r) >= 2);
	sh("echo x > '%s/netsec/current'", root);
	assert_int_equal(ns_registry_current(r, &(unsigned){0}, &d), NS_ERR_CORRUPT);
	ns_registry_close(r);
}

static void test_concurrent_adds(void **state)
{
	enum { PROCS = 4, EACH = 5 };
	const char *root = TMP "/concurrent";
	struct ns_registry *r = open_fresh(root);
	pid_t pids[PROCS];
	unsigned *v = NULL;
	size_t n = 0;
	(void)state;
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0) {
			struct ns_registry *c = NULL;
			int bad = 0;
			if (ns_registry_open(root, "netsec", &c, NULL) != NS_OK)
				_exit(2);
			for (int i = 0; i < EACH; i++) {
				unsigned ver = 0;
				bad |= ns_registry_add(c, model_a, NULL, &ver, NULL) != NS_OK;
				bad |= ns_registry_promote(c, ver, "race", NULL) != NS_OK;
			}
			ns_registry_close(c);
			_exit(bad);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status = 0;
		assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	assert_int_equal(ns_registry_list(r, &v, &n, NULL), NS_OK);
	assert_int_equal(n, PROCS * EACH);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(v[i], i + 1);
	ns_free(v);
	assert_int_equal(problems(r), 0);
	{
		struct ns_registry_event *ev = NULL;
		assert_int_equal(ns_registry_history(r, &ev, &n, NULL), NS_OK);
		assert_int_equal(n, PROCS * EACH);
		assert_int_equal(ev[n - 1].version, current(r));
		ns_free(ev);
	}
	ns_registry_close(r);
}

/* Runs `op` in a child that must die by SIGKILL at `point`. */
enum op { OP_ADD, OP_PROMOTE, OP_ROLLBACK };

static void crash_child(const char *root, const char *point, enum op op)
{
	pid_t pid = fork();
	int status = 0;
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ns_registry *c = NULL;
		unsigned v = 0;
		setenv("NETSEC_TEST_CRASH_AT", point, 1);
		if (ns_registry_open(root, "netsec", &c, NULL) != NS_OK)
			_exit(2);
		if (op == OP_ADD)
			(void)ns_registry_add(c, model_b, "{\"family\":\"tree\"}", &v, NULL);
		else if (op == OP_PROMOTE)
			(void)ns_registry_promote(c, 2, "crash test", NULL);
		else
			(void)ns_registry_rollback(c, &v, NULL);
		_exit(3); /* the crash point was not reached */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		fail_msg("%s: the child was not killed (status %d)", point, status);
}

static void assert_current_loads(struct ns_registry *r, unsigned want)
{
	char path[1024];
	struct ns_model *m = NULL;
	struct ns_diag d;
	assert_int_equal(current(r), want);
	assert_int_equal(ns_registry_path(r, want, path, sizeof(path)), NS_OK);
	ns_diag_clear(&d);
	if (ns_model_load(path, &m, &d) != NS_OK)
		fail_msg("current model does not load: %s", d.message);
	ns_model_free(m);
}

static void test_crash_points(void **state)
{
	static const struct {
		const char *point;
		enum op op;
		unsigned want_current; /* after recovery */
		size_t want_versions; /* after recovery */
	} cases[] = {
		/* Start: versions 1 and 2, 1 promoted (and, for rollback, then 2). */
		{"add:after-tmpdir", OP_ADD, 1, 2},
		{"add:mid-model", OP_ADD, 1, 2},
		{"add:after-meta", OP_ADD, 1, 2},
		{"add:before-rename", OP_ADD, 1, 2},
		{"add:after-rename", OP_ADD, 1, 3},
		{"promote:before-history", OP_PROMOTE, 1, 2},
		{"promote:torn-history", OP_PROMOTE, 1, 2},
		{"promote:after-history", OP_PROMOTE, 2, 2},
		{"promote:before-current-rename", OP_PROMOTE, 2, 2},
		{"promote:after-current", OP_PROMOTE, 2, 2},
		{"rollback:after-history", OP_ROLLBACK, 1, 2},
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char root[512];
		struct ns_registry *r;
		struct ns_registry_event *ev = NULL;
		unsigned *v = NULL, next;
		size_t n = 0;
		snprintf(root, sizeof(root), "%s/crash%zu", TMP, i);
		r = open_fresh(root);
		add(r, model_a, NULL);
		add(r, model_b, NULL);
		assert_int_equal(ns_registry_promote(r, 1, "start", NULL), NS_OK);
		if (cases[i].op == OP_ROLLBACK)
			assert_int_equal(ns_registry_promote(r, 2, "then", NULL), NS_OK);
		ns_registry_close(r);

		crash_child(root, cases[i].point, cases[i].op);

		r = reopen(root);
		if (problems(r) != 0)
			fail_msg("%s: check found problems", cases[i].point);
		assert_int_equal(count_entries(root, ".tmp"), 0);
		assert_current_loads(r, cases[i].want_current);
		assert_int_equal(ns_registry_list(r, &v, &n, NULL), NS_OK);
		if (n != cases[i].want_versions)
			fail_msg("%s: %zu versions, wanted %zu", cases[i].point, n,
				 cases[i].want_versions);
		ns_free(v);
		/* The history ends in whole lines and agrees with current. */
		assert_int_equal(ns_registry_history(r, &ev, &n, NULL), NS_OK);
		assert_true(n >= 1);
		ns_free(ev);
		/* The registry keeps working; a number is never handed out twice. */
		next = add(r, model_a, NULL);
		assert_true(next >= 3);
		if (strcmp(cases[i].point, "add:after-rename") == 0)
			assert_int_equal(next, 4);
		assert_int_equal(ns_registry_promote(r, next, "after the crash", NULL), NS_OK);
		assert_current_loads(r, next);
		assert_int_equal(problems(r), 0);
		ns_registry_close(r);
	}
}

static void test_random_kills(void **state)
{
	const char *root = TMP "/kill";
	struct ns_registry *r = open_fresh(root);
	unsigned seed = (unsigned)time(NULL);
	(void)state;
	add(r, model_a, NULL);
	assert_int_equal(ns_registry_promote(r, 1, "start", NULL), NS_OK);
	ns_registry_close(r);
	srand(seed);
	for (int round = 0; round < 12; round++) {
		pid_t pid = fork();
		int status;
		assert_true(pid >= 0);
		if (pid == 0) {
			struct ns_registry *c = NULL;
			if (ns_registry_open(root, "netsec", &c, NULL) != NS_OK)
				_exit(2);
			for (unsigned i = 0;; i++) {
				unsigned v = 0;
				if (ns_registry_add(c, i % 2 ? model_a : model_b, NULL, &v, NULL) ==
				    NS_OK)
					(void)ns_registry_promote(c, v, "loop", NULL);
				if (i % 3 == 2)
					(void)ns_registry_rollback(c, &v, NULL);
			}
		}
		usleep((useconds_t)(1000 + rand() % 20000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		r = reopen(root);
		if (problems(r) != 0)
			fail_msg("round %d (seed %u): check found problems", round, seed);
		assert_true(current(r) >= 1);
		assert_current_loads(r, current(r));
		ns_registry_close(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_list_meta),
		cmocka_unit_test(test_promote_rollback),
		cmocka_unit_test(test_versions_never_reused),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_concurrent_adds),
		cmocka_unit_test(test_crash_points),
		cmocka_unit_test(test_random_kills),
	};
	return cmocka_run_group_tests(tests, setup_all, NULL);
}
