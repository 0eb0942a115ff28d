/*
 * tests/unit/track/test_track.c - experiment tracking in MLflow's file-store
 * layout: URIs, the Default experiment, experiment and run meta.yaml field
 * by field, params/metrics/tags files, MLflow's key rules (nothing written
 * outside the store), artifacts, nested runs, get-or-create raced by forked
 * processes, reaping runs of dead processes, allocation failures, and a
 * whole store read back by tests/tools/read_mlruns.py (FileStore's reading
 * rules restated in Python; skipped when python3 or PyYAML is missing).
 *
 * Every test uses its own folder under NETSEC_TEST_TMP (named after the
 * test and the process id) and removes it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"
#include "netsec/core.h"
#include "netsec/track.h"
#include "track/track_impl.h"

#define READER NETSEC_SOURCE_DIR "/tests/tools/read_mlruns.py"

/* ---- helpers --------------------------------------------------------------- */

static void tmp_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/track_%s_%ld", NETSEC_TEST_TMP, name, (long)getpid());
	assert_true(n > 0 && (size_t)n < size);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	(void)nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static bool path_exists(const char *path)
{
	struct stat sb;
	return lstat(path, &sb) == 0;
}

static bool dir_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

/* Reads a whole small file into a new string (free()). */
static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *s;
	long n;
	if (!fp)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n >= 0);
	rewind(fp);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static char *fmt(const char *f, ...) NS_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	assert_true(vasprintf(&s, f, ap) >= 0);
	va_end(ap);
	return s;
}

/* Contents of DIR/REL (free()). */
static char *read_at(const char *dir, const char *rel)
{
	char *p = fmt("%s/%s", dir, rel);
	char *s = read_text(p);
	free(p);
	return s;
}

/* Whether DIR/REL exists (as a folder when `folder`). */
static bool exists_at(const char *dir, const char *rel, bool folder)
{
	char *p = fmt("%s/%s", dir, rel);
	bool yes = folder ? dir_exists(p) : path_exists(p);
	free(p);
	return yes;
}

/* Replaces every run of digits after "KEY: " on lines named in `keys` with
 * "N", so that times compare. */
static void mask_times(char *s)
{
	static const char *const keys[] = {
		"creation_time: ", "last_update_time: ", "start_time: ", "end_time: ", NULL};
	for (size_t k = 0; keys[k]; k++) {
		char *p = s;
		while ((p = strstr(p, keys[k])) != NULL) {
			char *d = p + strlen(keys[k]);
			char *e = d;
			while (*e >= '0' && *e <= '9')
				e++;
			if (e > d) {
				*d = 'N';
				memmove(d + 1, e, strlen(e) + 1);
			}
			p = d;
		}
	}
}

static struct ns_tracker *open_ok(const char *uri)
{
	struct ns_tracker *t = NULL;
	struct ns_diag d;
	enum ns_status st = ns_tracker_open(uri, &t, &d);
	if (st != NS_OK)
		fail_msg("open %s: %s", uri ? uri : "(null)", d.message);
	return t;
}

static void exp_ok(struct ns_tracker *t, const char *name, char id[NS_TRACK_EXPERIMENT_ID_MAX])
{
	struct ns_diag d;
	enum ns_status st = ns_tracker_experiment(t, name, id, NS_TRACK_EXPERIMENT_ID_MAX, &d);
	if (st != NS_OK)
		fail_msg("experiment '%s': %s", name, d.message);
}

static struct ns_run *run_ok(struct ns_tracker *t, const char *exp, const char *name,
			     const char *parent)
{
	struct ns_run *r = NULL;
	struct ns_diag d;
	enum ns_status st = ns_run_start(t, exp, name, parent, &r, &d);
	if (st != NS_OK)
		fail_msg("run_start: %s", d.message);
	return r;
}

static char *run_dir(const char *root, const struct ns_run *r)
{
	return fmt("%s/%s/%s", root, ns_run_experiment_id(r), ns_run_id(r));
}

static void ok(enum ns_status st, const struct ns_diag *d)
{
	if (st != NS_OK)
		fail_msg("%s: %s", ns_status_name(st), d->message);
}

/* ---- tests -------------------------------------------------------------------- */

static void test_open_creates_default(void **state)
{
	char root[512];
	struct ns_tracker *t;
	char *meta, *expect, *again, *p;
	(void)state;
	tmp_path(root, sizeof(root), "open");
	rm_rf(root);
	p = fmt("%s/nested/mlruns", root);
	t = open_ok(p);
	assert_string_equal(ns_tracker_scheme(t), "file");
	ns_tracker_close(t);

	assert_true(exists_at(p, ".trash", true));
	meta = read_at(p, "0/meta.yaml");
	expect = fmt("artifact_location: file://%s/0\ncreation_time: N\nexperiment_id: '0'\n"
		     "last_update_time: N\nlifecycle_stage: active\nname: Default\n",
		     p);
	mask_times(meta);
	assert_string_equal(meta, expect);
	/* Opening again leaves it alone. */
	again = read_at(p, "0/meta.yaml");
	t = open_ok(p);
	ns_tracker_close(t);
	free(meta);
	meta = read_at(p, "0/meta.yaml");
	assert_string_equal(meta, again);

	/* An existing folder without experiment 0 gets one too. */
	{
		char *z = fmt("%s/0", p);
		rm_rf(z);
		free(z);
	}
	t = open_ok(p);
	ns_tracker_close(t);
	assert_true(exists_at(p, "0/meta.yaml", false));
	free(meta);
	free(expect);
	free(again);
	rm_rf(root);
	free(p);
}

static void test_uri_forms(void **state)
{
	char root[512], id[NS_TRACK_EXPERIMENT_ID_MAX], id2[NS_TRACK_EXPERIMENT_ID_MAX];
	struct ns_tracker *t = NULL;
	struct ns_diag d;
	char *uri;
	char cwd[1024];
	(void)state;
	tmp_path(root, sizeof(root), "uri");
	rm_rf(root);

	t = open_ok(root);
	exp_ok(t, "same", id);
	ns_tracker_close(t);

	const char *forms[] = {"file://", "file://localhost", "file:", "FILE://"};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		uri = fmt("%s%s", forms[i], root);
		t = open_ok(uri);
		exp_ok(t, "same", id2);
		assert_string_equal(id, id2);
		ns_tracker_close(t);
		free(uri);
	}
	/* file:./relative, and NULL with MLFLOW_TRACKING_URI */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(NETSEC_TEST_TMP), 0);
	uri = fmt("file:./%s", strrchr(root, '/') + 1);
	t = open_ok(uri);
	exp_ok(t, "same", id2);
	assert_string_equal(id, id2);
	ns_tracker_close(t);
	assert_int_equal(setenv("MLFLOW_TRACKING_URI", uri, 1), 0);
	t = open_ok(NULL);
	exp_ok(t, "same", id2);
	assert_string_equal(id, id2);
	ns_tracker_close(t);
	assert_int_equal(unsetenv("MLFLOW_TRACKING_URI"), 0);
	assert_int_equal(chdir(cwd), 0);
	free(uri);

	/* Percent escapes in file: URIs are decoded, as MLflow decodes them. */
	uri = fmt("file://%s%%20sp", root);
	t = open_ok(uri);
	ns_tracker_close(t);
	free(uri);
	uri = fmt("%s sp/0/meta.yaml", root);
	assert_true(path_exists(uri));
	free(uri);
	uri = fmt("%s sp/0/meta.yaml", root);
	{
		char *m = read_text(uri);
		assert_non_null(strstr(m, "%20sp/0\n"));
		free(m);
	}
	free(uri);
	uri = fmt("%s sp", root);
	rm_rf(uri);
	free(uri);

	assert_int_equal(ns_tracker_open("s3://bucket/x", &t, &d), NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "unknown tracking URI scheme 's3:'"));
	assert_non_null(strstr(d.message, "file:"));
	/* http(s) is the REST backend now (tests/unit/track/test_mlflow_rest.c). */
	assert_int_equal(ns_tracker_open("http://localhost:5000", &t, &d), NS_OK);
	assert_string_equal(ns_tracker_scheme(t), "http");
	ns_tracker_close(t);
	assert_int_equal(ns_tracker_open("file://otherhost/x", &t, &d), NS_ERR_INVALID);
	rm_rf(root);
}

static void test_experiments(void **state)
{
	char root[512], a[NS_TRACK_EXPERIMENT_ID_MAX], b[NS_TRACK_EXPERIMENT_ID_MAX],
		c[NS_TRACK_EXPERIMENT_ID_MAX];
	struct ns_tracker *t;
	struct ns_diag d;
	char small[4];
	char *meta, *expect, *path;
	char longname[NS_TRACK_EXPERIMENT_NAME_MAX + 2];
	(void)state;
	tmp_path(root, sizeof(root), "exp");
	rm_rf(root);
	t = open_ok(root);
	exp_ok(t, "phishing", a);
	exp_ok(t, "phishing", b);
	exp_ok(t, "intrusion", c);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	/* MLflow's _generate_unique_integer_id: 18 digits, no leading zero. */
	assert_int_equal(strlen(a), 18);
	assert_true(a[0] >= '1' && a[0] <= '9');
	for (size_t i = 0; i < 18; i++)
		assert_true(a[i] >= '0' && a[i] <= '9');
	path = fmt("%s/%s", root, a);
	meta = read_at(path, "meta.yaml");
	mask_times(meta);
	expect = fmt("artifact_location: file://%s/%s\ncreation_time: N\nexperiment_id: '%s'\n"
		     "last_update_time: N\nlifecycle_stage: active\nname: phishing\n",
		     root, a, a);
	assert_string_equal(meta, expect);
	free(meta);
	free(expect);
	free(path);
	/* "Default" is found, not created again. */
	exp_ok(t, "Default", b);
	assert_string_equal(b, "0");

	assert_int_equal(ns_tracker_experiment(t, "", a, sizeof(a), &d), NS_ERR_INVALID);
	assert_int_equal(ns_tracker_experiment(t, "\xff\xfe", a, sizeof(a), &d), NS_ERR_INVALID);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(ns_tracker_experiment(t, longname, a, sizeof(a), &d), NS_ERR_INVALID);
	longname[NS_TRACK_EXPERIMENT_NAME_MAX] = '\0';
	exp_ok(t, longname, a);
	assert_int_equal(ns_tracker_experiment(t, "phishing", small, sizeof(small), &d),
			 NS_ERR_LIMIT);
	ns_tracker_close(t);
	rm_rf(root);
}

/* Names that YAML would misread unless quoted, read back by our own parser
 * (libyaml) - the Python reader checks them again in test_python_reader. */
static const char *const tricky_names[] = {
	"a: b",     "it's \"quoted\"",
	"yes",      "No",
	"123",      "0x1F",
	"1e5",      "#x",
	"- item",   "~",
	"null",     "[a, b]",
	"{a: b}",   "tab\there",
	"nl\nx",    "cr\rx",
	" lead",    "trail ",
	"ünïcødé",  "\xe2\x80\xa8sep",
	"\x7f",     "back\\slash",
	"%percent", "@at",
	"`tick`",   "*star",
	"&amp",     "!bang",
	"|pipe",    ">gt",
	"'",        "\"",
	"a #b",     "a:b",
	"file:x",   ":colon",
	"?",        "2024-01-01",
};

static void test_yaml_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tricky_names) / sizeof(tricky_names[0]); i++) {
		struct ns__buf b;
		struct ns__yaml_map m;
		struct ns_diag d;
		ns__buf_init(&b, 0);
		assert_int_equal(ns__yaml_put_str(&b, "name", tricky_names[i]), NS_OK);
		assert_int_equal(ns__yaml_put_int(&b, "n", -5), NS_OK);
		if (ns__yaml_map_parse(b.data, b.len, &m, &d) != NS_OK)
			fail_msg("%s: %s", b.data, d.message);
		assert_string_equal(ns__yaml_map_str(&m, "name"), tricky_names[i]);
		{
			int64_t v = 0;
			assert_true(ns__yaml_map_int(&m, "n", &v));
			assert_int_equal(v, -5);
		}
		ns__yaml_map_fini(&m);
		ns__buf_fini(&b);
	}
}

static void test_run_layout(void **state)
{
	char root[512], exp[NS_TRACK_EXPERIMENT_ID_MAX];
	struct ns_tracker *t;
	struct ns_run *r;
	struct ns_diag d;
	char *dir, *meta, *expect, *s;
	(void)state;
	tmp_path(root, sizeof(root), "layout");
	rm_rf(root);
	t = open_ok(root);
	exp_ok(t, "layout", exp);
	r = run_ok(t, exp, "r1", NULL);
	assert_int_equal(strlen(ns_run_id(r)), 32);
	assert_int_equal(ns_run_id(r)[12], '4'); /* uuid4 */
	assert_string_equal(ns_run_experiment_id(r), exp);
	dir = run_dir(root, r);
	meta = read_at(dir, "meta.yaml");
	mask_times(meta);
	s = read_at(dir, "tags/mlflow.user");
	expect = fmt("artifact_uri: file://%s/artifacts\ndeleted_time: null\nend_time: null\n"
		     "entry_point_name: ''\nexperiment_id: '%s'\nlifecycle_stage: active\n"
		     "run_id: %s%s%s\nrun_name: r1\nrun_uuid: %s%s%s\nsource_name: ''\n"
		     "source_type: 4\nsource_version: ''\nstart_time: N\nstatus: 1\ntags: []\n"
		     "user_id: ",
		     dir, exp, ns_run_id(r)[0] <= '9' ? "'" : "", ns_run_id(r),
		     ns_run_id(r)[0] <= '9' ? "'" : "", ns_run_id(r)[0] <= '9' ? "'" : "",
		     ns_run_id(r), ns_run_id(r)[0] <= '9' ? "'" : "");
	assert_memory_equal(meta, expect, strlen(expect));
	free(expect);
	free(meta);
	free(s);
	assert_true(exists_at(dir, "metrics", true));
	assert_true(exists_at(dir, "params", true));
	assert_true(exists_at(dir, "artifacts", true));
	s = read_at(dir, "tags/mlflow.runName");
	assert_string_equal(s, "r1");
	free(s);
	s = read_at(dir, "tags/mlflow.source.type");
	assert_string_equal(s, "LOCAL");
	free(s);
	s = read_at(dir, "tags/netsec.pid");
	expect = fmt("%ld", (long)getpid());
	assert_string_equal(s, expect);
	free(s);
	free(expect);
	assert_true(exists_at(dir, "tags/mlflow.source.name", false));
	assert_true(exists_at(dir, "tags/netsec.host", false));

	/* params: value only, immutable */
	ok(ns_run_log_param(r, "max_depth", "6", &d), &d);
	ok(ns_run_log_param(r, "max_depth", "6", &d), &d);
	assert_int_equal(ns_run_log_param(r, "max_depth", "7", &d), NS_ERR_EXISTS);
	ok(ns_run_log_param(r, "grid/lr", "0.1", &d), &d);
	s = read_at(dir, "params/max_depth");
	assert_string_equal(s, "6");
	free(s);
	s = read_at(dir, "params/grid/lr");
	assert_string_equal(s, "0.1");
	free(s);

	/* metrics: "timestamp value step" lines */
	ok(ns_run_log_metric(r, "loss", 0.5, 0, &d), &d);
	ok(ns_run_log_metric(r, "loss", 1.0, 1, &d), &d);
	ok(ns_run_log_metric(r, "loss", 0.1, -3, &d), &d);
	s = read_at(dir, "metrics/loss");
	{
		long long ts[3];
		char v[3][32];
		long long step[3];
		assert_int_equal(sscanf(s, "%lld %31s %lld\n%lld %31s %lld\n%lld %31s %lld\n",
					&ts[0], v[0], &step[0], &ts[1], v[1], &step[1], &ts[2],
					v[2], &step[2]),
				 9);
		assert_string_equal(v[0], "0.5");
		assert_string_equal(v[1], "1.0");
		assert_string_equal(v[2], "0.1");
		assert_int_equal(step[2], -3);
		assert_true(ts[0] > 1600000000000LL && ts[2] >= ts[0]);
	}
	free(s);

	/* tags: last value wins; mlflow.runName renames the run */
	ok(ns_run_set_tag(r, "stage", "a", &d), &d);
	ok(ns_run_set_tag(r, "stage", "b", &d), &d);
	s = read_at(dir, "tags/stage");
	assert_string_equal(s, "b");
	free(s);
	ok(ns_run_set_tag(r, "mlflow.runName", "renamed: yes", &d), &d);
	meta = read_at(dir, "meta.yaml");
	assert_non_null(strstr(meta, "\nrun_name: 'renamed: yes'\n"));
	assert_null(strstr(meta, "deleted_time")); /* _overwrite_run_info drops it */
	free(meta);

	ok(ns_run_end(r, NS_RUN_FINISHED, &d), &d);
	meta = read_at(dir, "meta.yaml");
	assert_non_null(strstr(meta, "\nstatus: 3\n"));
	assert_null(strstr(meta, "end_time: null"));
	assert_non_null(strstr(meta, "\nend_time: 1"));
	free(meta);

	/* KILLED = 5, FAILED = 4; RUNNING is refused (and the handle freed). */
	r = run_ok(t, exp, NULL, NULL);
	free(dir);
	dir = run_dir(root, r);
	ok(ns_run_end(r, NS_RUN_KILLED, &d), &d);
	meta = read_at(dir, "meta.yaml");
	assert_non_null(strstr(meta, "\nstatus: 5\n"));
	free(meta);
	r = run_ok(t, NULL, "in-default", NULL);
	assert_string_equal(ns_run_experiment_id(r), "0");
	assert_int_equal(ns_run_end(r, NS_RUN_RUNNING, &d), NS_ERR_INVALID);
	assert_int_equal(ns_run_end(NULL, NS_RUN_FINISHED, &d), NS_OK);
	/* unknown experiment */
	assert_int_equal(ns_run_start(t, "12345", NULL, NULL, &r, &d), NS_ERR_NOTFOUND);
	assert_int_equal(ns_run_start(t, "../0", NULL, NULL, &r, &d), NS_ERR_INVALID);
	free(dir);
	ns_tracker_close(t);
	rm_rf(root);
}

static void test_generated_name(void **state)
{
	char root[512];
	struct ns_tracker *t;
	struct ns_run *r;
	struct ns_diag d;
	char *dir, *s, *want;
	(void)state;
	tmp_path(root, sizeof(root), "genname");
	rm_rf(root);
	t = open_ok(root);
	r = run_ok(t, NULL, NULL, NULL);
	dir = run_dir(root, r);
	want = fmt("run-%.8s", ns_run_id(r));
	s = read_at(dir, "tags/mlflow.runName");
	assert_string_equal(s, want);
	free(s);
	s = read_at(dir, "meta.yaml");
	assert_non_null(strstr(s, want));
	free(s);
	ok(ns_run_end(r, NS_RUN_FAILED, &d), &d);
	s = read_at(dir, "meta.yaml");
	assert_non_null(strstr(s, "\nstatus: 4\n"));
	free(s);
	free(want);
	free(dir);
	ns_tracker_close(t);
	rm_rf(root);
}

static void test_bad_keys(void **state)
{
	static const char *const bad[] = {
		"../x", "..x", "a/../b", "/abs",  "a//b", "a/",   ".",     "",    "a\\b",
		"a:b",  "ü",   "x\ny",   "a/./b", "..",   "a/..", "tab\t", "q\"", "*",
	};
	char root[512], key[NS_TRACK_KEY_MAX + 2], *dir, *outside;
	char value[NS_TRACK_PARAM_VALUE_MAX + 2];
	struct ns_tracker *t;
	struct ns_run *r;
	struct ns_diag d;
	DIR *dd;
	(void)state;
	tmp_path(root, sizeof(root), "badkeys");
	rm_rf(root);
	t = open_ok(root);
	r = run_ok(t, NULL, "bad", NULL);
	dir = run_dir(root, r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ns_run_log_param(r, bad[i], "v", &d), NS_ERR_INVALID);
		assert_int_equal(ns_run_log_metric(r, bad[i], 1.0, 0, &d), NS_ERR_INVALID);
		assert_int_equal(ns_run_set_tag(r, bad[i], "v", &d), NS_ERR_INVALID);
		assert_true(d.message[0] != '\0');
	}
	assert_int_equal(ns_run_log_param(r, NULL, "v", &d), NS_ERR_INVALID);
	/* Nothing escaped: no "x" next to the run, the params folder is empty. */
	outside = fmt("%s/x", dir);
	assert_false(path_exists(outside));
	free(outside);
	outside = fmt("%s/%s/x", root, ns_run_experiment_id(r));
	assert_false(path_exists(outside));
	free(outside);
	outside = fmt("%s/params", dir);
	dd = opendir(outside);
	assert_non_null(dd);
	for (struct dirent *e; (e = readdir(dd)) != NULL;)
		assert_true(e->d_name[0] == '.');
	closedir(dd);
	free(outside);

	/* 250 characters is the limit */
	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	assert_int_equal(ns_run_log_param(r, key, "v", &d), NS_ERR_INVALID);
	key[NS_TRACK_KEY_MAX] = '\0';
	ok(ns_run_log_param(r, key, "v", &d), &d);
	/* allowed characters, '/' nesting */
	ok(ns_run_log_metric(r, "a b/c-d.e_f/G9", 2.0, 0, &d), &d);

	/* value limits: params 6000, tags 5000 characters; UTF-8 only */
	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	assert_int_equal(ns_run_log_param(r, "long", value, &d), NS_ERR_INVALID);
	value[NS_TRACK_PARAM_VALUE_MAX] = '\0';
	ok(ns_run_log_param(r, "long", value, &d), &d);
	value[NS_TRACK_TAG_VALUE_MAX + 1] = '\0';
	assert_int_equal(ns_run_set_tag(r, "long", value, &d), NS_ERR_INVALID);
	value[NS_TRACK_TAG_VALUE_MAX] = '\0';
	ok(ns_run_set_tag(r, "long", value, &d), &d);
	assert_int_equal(ns_run_set_tag(r, "bin", "\xc3\x28", &d), NS_ERR_INVALID);
	assert_int_equal(ns_run_log_param(r, "bin", "\xed\xa0\x80", &d), NS_ERR_INVALID);
	ok(ns_run_set_tag(r, "utf8", "ünï \xf0\x9f\x94\x92", &d), &d);
	ok(ns_run_end(r, NS_RUN_FINISHED, &d), &d);
	free(dir);
	ns_tracker_close(t);
	rm_rf(root);
}

static void test_nested_runs(void **state)
{
	char root[512];
	struct ns_tracker *t;
	struct ns_run *p, *c;
	struct ns_diag d;
	char *dir, *s;
	(void)state;
	tmp_path(root, sizeof(root), "nested");
	rm_rf(root);
	t = open_ok(root);
	p = run_ok(t, NULL, "parent", NULL);
	c = run_ok(t, NULL, "child", ns_run_id(p));
	dir = run_dir(root, c);
	s = read_at(dir, "tags/mlflow.parentRunId");
	assert_string_equal(s, ns_run_id(p));
	free(s);
	free(dir);
	assert_int_equal(ns_run_start(t, NULL, "x", "0123456789abcdef0123456789abcdef", &c, &d),
			 NS_ERR_NOTFOUND);
	assert_int_equal(ns_run_start(t, NULL, "x", "../etc", &c, &d), NS_ERR_INVALID);
	ns_run_end(c, NS_RUN_FINISHED, NULL);
	ns_run_end(p, NS_RUN_FINISHED, NULL);
	ns_tracker_close(t);
	rm_rf(root);
}

static void test_artifacts(void **state)
{
	char root[512], src[600];
	struct ns_tracker *t;
	struct ns_run *r;
	struct ns_diag d;
	char *dir, *s, *p;
	(void)state;
	tmp_path(root, sizeof(root), "art");
	rm_rf(root);
	snprintf(src, sizeof(src), "%s_src", root);
	rm_rf(src);
	assert_int_equal(ns_mkdir_p(src, NULL), NS_OK);
	p = fmt("%s/model.bin", src);
	write_text(p, "MODEL");
	free(p);
	p = fmt("%s/report/sub", src);
	assert_int_equal(ns_mkdir_p(p, NULL), NS_OK);
	free(p);
	p = fmt("%s/report/a.txt", src);
	write_text(p, "A");
	free(p);
	p = fmt("%s/report/sub/b.txt", src);
	write_text(p, "B");
	free(p);
	p = fmt("%s/report/sub/link", src);
	assert_int_equal(symlink("b.txt", p), 0);
	free(p);

	t = open_ok(root);
	r = run_ok(t, NULL, "art", NULL);
	dir = run_dir(root, r);
	p = fmt("%s/model.bin", src);
	ok(ns_run_log_artifact(r, p, NULL, &d), &d);
	ok(ns_run_log_artifact(r, p, "models/v1", &d), &d);
	assert_int_equal(ns_run_log_artifact(r, p, "../escape", &d), NS_ERR_INVALID);
	assert_int_equal(ns_run_log_artifact(r, p, "/abs", &d), NS_ERR_INVALID);
	assert_int_equal(ns_run_log_artifact(r, p, "a//b", &d), NS_ERR_INVALID);
	free(p);
	p = fmt("%s/report", src);
	ok(ns_run_log_artifact(r, p, "report", &d), &d);
	free(p);
	p = fmt("%s/missing", src);
	assert_int_equal(ns_run_log_artifact(r, p, NULL, &d), NS_ERR_NOTFOUND);
	free(p);
	s = read_at(dir, "artifacts/model.bin");
	assert_string_equal(s, "MODEL");
	free(s);
	s = read_at(dir, "artifacts/models/v1/model.bin");
	assert_string_equal(s, "MODEL");
	free(s);
	s = read_at(dir, "artifacts/report/a.txt");
	assert_string_equal(s, "A");
	free(s);
	s = read_at(dir, "artifacts/report/sub/b.txt");
	assert_string_equal(s, "B");
	free(s);
	s = read_at(dir, "artifacts/report/sub/link");
	assert_string_equal(s, "B");
	free(s);
	assert_false(exists_at(dir, "escape", false));
	ok(ns_run_end(r, NS_RUN_FINISHED, &d), &d);
	free(dir);
	ns_tracker_close(t);
	rm_rf(root);
	rm_rf(src);
}

/* Several processes ask for the same new experiment at once. */
static void test_concurrent_get_or_create(void **state)
{
	enum { N_PROC = 8 };
	char root[512], ids[N_PROC][NS_TRACK_EXPERIMENT_ID_MAX];
	pid_t pids[N_PROC];
	int fds[2];
	size_t n_named = 0;
	DIR *dd;
	(void)state;
	tmp_path(root, sizeof(root), "race");
	rm_rf(root);
	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < N_PROC; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			struct ns_tracker *t = NULL;
			struct ns_run *r = NULL;
			char id[NS_TRACK_EXPERIMENT_ID_MAX] = "";
			char line[NS_TRACK_EXPERIMENT_ID_MAX + 2];
			int bad = 0;
			close(fds[0]);
			bad |= ns_tracker_open(root, &t, NULL) != NS_OK;
			bad |= !t ||
			       ns_tracker_experiment(t, "race", id, sizeof(id), NULL) != NS_OK;
			bad |= !t || ns_run_start(t, id, "child", NULL, &r, NULL) != NS_OK;
			for (int k = 0; r && k < 50; k++)
				bad |= ns_run_log_metric(r, "m", k * 0.5, k, NULL) != NS_OK;
			bad |= r && ns_run_end(r, NS_RUN_FINISHED, NULL) != NS_OK;
			ns_tracker_close(t);
			snprintf(line, sizeof(line), "%-64s\n", bad ? "bad" : id);
			if (write(fds[1], line, strlen(line)) < 0)
				_exit(2);
			_exit(bad);
		}
	}
	close(fds[1]);
	for (int i = 0; i < N_PROC; i++) {
		int wst;
		assert_int_equal(waitpid(pids[i], &wst, 0), pids[i]);
		if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
			fail_msg("child %d: status %d", i, wst);
	}
	for (int i = 0; i < N_PROC; i++) {
		char line[NS_TRACK_EXPERIMENT_ID_MAX + 1];
		size_t got = 0;
		while (got < 65) { /* 64 characters and '\n' */
			ssize_t k = read(fds[0], line + got, 65 - got);
			assert_true(k > 0);
			got += (size_t)k;
		}
		line[64] = '\0';
		for (int j = 63; j >= 0 && line[j] == ' '; j--)
			line[j] = '\0';
		memcpy(ids[i], line, 65);
	}
	close(fds[0]);
	for (int i = 1; i < N_PROC; i++)
		assert_string_equal(ids[i], ids[0]);
	/* exactly one experiment folder carries the name */
	dd = opendir(root);
	assert_non_null(dd);
	for (struct dirent *e; (e = readdir(dd)) != NULL;) {
		char *p;
		if (e->d_name[0] == '.')
			continue;
		p = fmt("%s/%s/meta.yaml", root, e->d_name);
		if (path_exists(p)) {
			char *m = read_text(p);
			if (strstr(m, "\nname: race\n"))
				n_named++;
			free(m);
		}
		free(p);
	}
	closedir(dd);
	assert_int_equal(n_named, 1);
	rm_rf(root);
}

static void test_reap(void **state)
{
	char root[512], *dir, *meta, *p;
	char child_run[NS_TRACK_RUN_ID_MAX] = "";
	struct ns_tracker *t;
	struct ns_run *mine, *reused, *foreign;
	struct ns_diag d;
	size_t n = 99;
	int fds[2], wst;
	pid_t pid;
	(void)state;
	tmp_path(root, sizeof(root), "reap");
	rm_rf(root);
	t = open_ok(root);
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ns_tracker *ct = NULL;
		struct ns_run *r = NULL;
		close(fds[0]);
		if (ns_tracker_open(root, &ct, NULL) != NS_OK ||
		    ns_run_start(ct, NULL, "crashes", NULL, &r, NULL) != NS_OK)
			_exit(1);
		if (write(fds[1], ns_run_id(r), 32) != 32)
			_exit(1);
		_exit(0); /* "crash": the run stays RUNNING */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], child_run, 32), 32);
	close(fds[0]);
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);

	mine = run_ok(t, NULL, "alive", NULL);
	/* A live pid that started at another time: a reused pid. */
	reused = run_ok(t, NULL, "reused", NULL);
	dir = run_dir(root, reused);
	p = fmt("%s/tags/netsec.pid_start", dir);
	write_text(p, "1");
	free(p);
	free(dir);
	/* A run with no netsec tags (as MLflow's client writes) is never touched. */
	foreign = run_ok(t, NULL, "foreign", NULL);
	dir = run_dir(root, foreign);
	p = fmt("%s/tags/netsec.pid", dir);
	assert_int_equal(unlink(p), 0);
	free(p);
	free(dir);

	ok(ns_tracker_reap(t, &n, &d), &d);
	assert_int_equal(n, 2);
	p = fmt("%s/0/%s", root, child_run);
	meta = read_at(p, "meta.yaml");
	assert_non_null(strstr(meta, "\nstatus: 4\n"));
	assert_null(strstr(meta, "end_time: null"));
	free(meta);
	free(p);
	dir = run_dir(root, mine);
	meta = read_at(dir, "meta.yaml");
	assert_non_null(strstr(meta, "\nstatus: 1\n"));
	free(meta);
	free(dir);
	dir = run_dir(root, foreign);
	meta = read_at(dir, "meta.yaml");
	assert_non_null(strstr(meta, "\nstatus: 1\n"));
	free(meta);
	free(dir);
	ok(ns_tracker_reap(t, &n, &d), &d);
	assert_int_equal(n, 0);
	ok(ns_run_end(mine, NS_RUN_FINISHED, &d), &d);
	/* ending a run that was reaped meanwhile still works (FAILED -> FINISHED) */
	ok(ns_run_end(reused, NS_RUN_FINISHED, &d), &d);
	ok(ns_run_end(foreign, NS_RUN_FINISHED, &d), &d);
	ns_tracker_close(t);
	rm_rf(root);
}

/* Every allocation in open -> experiment -> run -> log -> end may fail;
 * each failure is reported, nothing leaks (ASan), and a later success
 * works. */
static void test_alloc_failures(void **state)
{
	char root[512];
	bool done = false;
	(void)state;
	tmp_path(root, sizeof(root), "alloc");
	rm_rf(root);
	for (long k = 0; k < 2000 && !done; k++) {
		struct ns_tracker *t = NULL;
		struct ns_run *r = NULL;
		char id[NS_TRACK_EXPERIMENT_ID_MAX];
		enum ns_status st;
		ns_alloc_fail_after(k);
		st = ns_tracker_open(root, &t, NULL);
		if (st == NS_OK)
			st = ns_tracker_experiment(t, "alloc", id, sizeof(id), NULL);
		if (st == NS_OK)
			st = ns_run_start(t, id, "a", NULL, &r, NULL);
		if (st == NS_OK)
			st = ns_run_log_param(r, "p", "v", NULL);
		if (st == NS_OK)
			st = ns_run_log_metric(r, "m", 1.5, 0, NULL);
		if (st == NS_OK)
			st = ns_run_set_tag(r, "mlflow.runName", "b", NULL);
		if (r) {
			enum ns_status st2 = ns_run_end(r, NS_RUN_FINISHED, NULL);
			if (st == NS_OK)
				st = st2;
		}
		if (st == NS_OK) {
			size_t n;
			st = ns_tracker_reap(t, &n, NULL);
		}
		ns_alloc_fail_reset();
		ns_tracker_close(t);
		rm_rf(root); /* a fresh store each time: the same allocations */
		if (st == NS_OK)
			done = true;
		else if (st != NS_ERR_NOMEM && st != NS_ERR_IO)
			fail_msg("allocation %ld: %s", k, ns_status_name(st));
	}
	assert_true(done);
	rm_rf(root);
}

/* ---- the whole store, read back as MLflow's FileStore reads it -------------------- */

static void json_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void test_python_reader(void **state)
{
	static const double values[] = {
		0.1,     1.0,      -0.0,      1e-300,      5e-324, 1.7976931348623157e308,
		NAN,     INFINITY, -INFINITY, 123456789.0, 1e16,   -2.5e-7,
		1.0 / 3, 0.0};
	char root[512], exp[NS_TRACK_EXPERIMENT_ID_MAX], src[600];
	struct ns_tracker *t;
	struct ns_run *p, *c, *k;
	struct ns_diag d;
	char *expect_path, *cmd, *a;
	FILE *fp;
	int rc;
	(void)state;
	if (system("python3 -c 'import yaml' >/dev/null 2>&1") != 0)
		skip();
	tmp_path(root, sizeof(root), "python");
	rm_rf(root);
	snprintf(src, sizeof(src), "%s_model.bin", root);
	write_text(src, "bytes");
	t = open_ok(root);
	expect_path = fmt("%s_expect.json", root);
	fp = fopen(expect_path, "w");
	assert_non_null(fp);
	fprintf(fp, "{\"experiments\": {");
	/* an experiment per tricky name, one run each with the name as run
	 * name, a param value and a tag value */
	for (size_t i = 0; i < sizeof(tricky_names) / sizeof(tricky_names[0]); i++) {
		exp_ok(t, tricky_names[i], exp);
		p = run_ok(t, exp, tricky_names[i], NULL);
		ok(ns_run_log_param(p, "v", tricky_names[i], &d), &d);
		ok(ns_run_set_tag(p, "t", tricky_names[i], &d), &d);
		json_str(fp, tricky_names[i]);
		fprintf(fp, ": {\"runs\": {\"%s\": {\"status\": \"FINISHED\", \"run_name\": ",
			ns_run_id(p));
		json_str(fp, tricky_names[i]);
		fprintf(fp, ", \"params\": {\"v\": ");
		json_str(fp, tricky_names[i]);
		fprintf(fp, "}, \"tags\": {\"t\": ");
		json_str(fp, tricky_names[i]);
		fprintf(fp, "}}}}, ");
		ok(ns_run_end(p, NS_RUN_FINISHED, &d), &d);
	}
	/* metrics that must read back bit for bit, a nested run, a killed run,
	 * a run left running, artifacts */
	exp_ok(t, "numbers", exp);
	p = run_ok(t, exp, "parent", NULL);
	c = run_ok(t, exp, "child", ns_run_id(p));
	k = run_ok(t, exp, "killed", NULL);
	fprintf(fp, "\"numbers\": {\"runs\": {\"%s\": {\"status\": \"RUNNING\", \"metrics\": {",
		ns_run_id(p));
	for (int key = 0; key < 2; key++) {
		fprintf(fp, "%s\"%s\": [", key ? ", " : "", key ? "dir/sub metric" : "m");
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			int64_t step = (int64_t)i * (key ? -7 : 1000000007LL);
			ok(ns_run_log_metric(p, key ? "dir/sub metric" : "m", values[i], step, &d),
			   &d);
			fprintf(fp, "%s[\"%a\", %" PRId64 "]", i ? ", " : "", values[i], step);
		}
		fprintf(fp, "]");
	}
	ok(ns_run_log_artifact(p, src, "models", &d), &d);
	a = strrchr(src, '/') + 1;
	fprintf(fp, "}, \"artifacts\": [\"models/%s\"]}, ", a);
	fprintf(fp, "\"%s\": {\"status\": \"FINISHED\", \"parent\": \"%s\", \"params\": {}}, ",
		ns_run_id(c), ns_run_id(p));
	fprintf(fp, "\"%s\": {\"status\": \"KILLED\"}}}}}\n", ns_run_id(k));
	assert_int_equal(fclose(fp), 0);
	ok(ns_run_end(c, NS_RUN_FINISHED, &d), &d);
	ok(ns_run_end(k, NS_RUN_KILLED, &d), &d);

	cmd = fmt("python3 '%s' '%s' --expect '%s' >'%s.out'", READER, root, expect_path,
		  expect_path);
	rc = system(cmd);
	if (rc != 0)
		fail_msg("%s failed (%d)", cmd, rc);
	free(cmd);
	ok(ns_run_end(p, NS_RUN_FINISHED, &d), &d);
	ns_tracker_close(t);
	unlink(expect_path);
	cmd = fmt("%s.out", expect_path);
	unlink(cmd);
	free(cmd);
	free(expect_path);
	unlink(src);
	rm_rf(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_default),
		cmocka_unit_test(test_uri_forms),
		cmocka_unit_test(test_experiments),
		cmocka_unit_test(test_yaml_round_trip),
		cmocka_unit_test(test_run_layout),
		cmocka_unit_test(test_generated_name),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_nested_runs),
		cmocka_unit_test(test_artifacts),
		cmocka_unit_test(test_concurrent_get_or_create),
		cmocka_unit_test(test_reap),
		cmocka_unit_test(test_alloc_failures),
		cmocka_unit_test(test_python_reader),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
