/*
 * tests/unit/core/test_config.c - the .env grammar (every error with its
 * line and column), loading into the environment, precedence (flag > env >
 * .env > default) with aliases, the settings table, URI redaction and secret
 * masking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "netsec/config.h"

#ifndef NETSEC_TEST_TMP
#define NETSEC_TEST_TMP "/tmp"
#endif

/* ---- the grammar ----------------------------------------------------------- */

struct kv {
	size_t n;
	char keys[32][64];
	char values[32][256];
	size_t lens[32];
	uint64_t lines[32];
};

static enum ns_status collect(void *user, const char *key, const char *value, size_t len,
			      uint64_t line)
{
	struct kv *kv = user;
	assert_true(kv->n < 32);
	snprintf(kv->keys[kv->n], sizeof(kv->keys[0]), "%s", key);
	assert_true(len < sizeof(kv->values[0]));
	memcpy(kv->values[kv->n], value, len + 1);
	kv->lens[kv->n] = len;
	kv->lines[kv->n] = line;
	kv->n++;
	return NS_OK;
}

static enum ns_status parse(const char *text, size_t len, struct kv *kv, struct ns_diag *d)
{
	memset(kv, 0, sizeof(*kv));
	return ns_dotenv_parse(text, len, "t.env", collect, kv, d);
}

static void test_dotenv_good(void **state)
{
	static const char text[] = "# a comment\n"
				   "\n"
				   "   \t\n"
				   "  # indented comment\n"
				   "PLAIN=value\n"
				   "export EXPORTED=1\n"
				   "SPACED \t=  \t spaced value  \t\n"
				   "INLINE=abc # a comment\n"
				   "HASH=a#b\n"
				   "EMPTY=\n"
				   "EMPTYQ=\"\"\n"
				   "SINGLE='lit\\n $HOME \"q\" #x'\n"
				   "DOUBLE=\"a\\nb\\tc\\\"d\\\\e\\$f ${X}\"\r\n"
				   "MULTI='line1\nline2'\n"
				   "MULTID=\"l1\r\nl2\" # after\n"
				   "AFTER='x'#c\n"
				   "QUOTES=ab'c\"d\\e\n"
				   "export=kw\n"
				   "_k9=$HOME\n"
				   "CRLF=yes\r\n"
				   "LAST=end";
	struct kv kv;
	struct ns_diag d;
	(void)state;
	assert_int_equal(parse(text, sizeof(text) - 1, &kv, &d), NS_OK);
	assert_int_equal(kv.n, 17);
#define KV(i, k, v, l) \
	do { \
		assert_string_equal(kv.keys[i], k); \
		assert_string_equal(kv.values[i], v); \
		assert_int_equal(kv.lines[i], l); \
	} while (0)
	KV(0, "PLAIN", "value", 5);
	KV(1, "EXPORTED", "1", 6);
	KV(2, "SPACED", "spaced value", 7);
	KV(3, "INLINE", "abc", 8);
	KV(4, "HASH", "a#b", 9);
	KV(5, "EMPTY", "", 10);
	KV(6, "EMPTYQ", "", 11);
	KV(7, "SINGLE", "lit\\n $HOME \"q\" #x", 12);
	KV(8, "DOUBLE", "a\nb\tc\"d\\e$f ${X}", 13);
	KV(9, "MULTI", "line1\nline2", 14);
	KV(10, "MULTID", "l1\nl2", 16);
	KV(11, "AFTER", "x", 18);
	KV(12, "QUOTES", "ab'c\"d\\e", 19);
	KV(13, "export", "kw", 20);
	KV(14, "_k9", "$HOME", 21);
	KV(15, "CRLF", "yes", 22);
	KV(16, "LAST", "end", 23);
#undef KV
	/* Empty input and comments only. */
	assert_int_equal(parse("", 0, &kv, &d), NS_OK);
	assert_int_equal(kv.n, 0);
	assert_int_equal(parse("# only\n\n", 8, &kv, &d), NS_OK);
	assert_int_equal(kv.n, 0);
	/* \r escape. */
	assert_int_equal(parse("R=\"a\\rb\"", 8, &kv, &d), NS_OK);
	assert_string_equal(kv.values[0], "a\rb");
}

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen */
	enum ns_status st;
	uint64_t line, column;
	const char *message; /* a part of it */
};

static void test_dotenv_errors(void **state)
{
	static const struct bad_case cases[] = {
		{"1A=x\n", 0, NS_ERR_PARSE, 1, 1, "expected a variable name"},
		{"=x\n", 0, NS_ERR_PARSE, 1, 1, "expected a variable name"},
		{"OK=1\n  -A=x\n", 0, NS_ERR_PARSE, 2, 3, "expected a variable name"},
		{"A B=1\n", 0, NS_ERR_PARSE, 1, 3, "expected '=' after 'A'"},
		{"A-B=1\n", 0, NS_ERR_PARSE, 1, 2, "expected '=' after 'A'"},
		{"ALONE\n", 0, NS_ERR_PARSE, 1, 6, "expected '=' after 'ALONE'"},
		{"ALONE", 0, NS_ERR_PARSE, 1, 6, "expected '='"},
		{"export \n", 0, NS_ERR_PARSE, 1, 8, "expected a variable name"},
		{"export A\n", 0, NS_ERR_PARSE, 1, 9, "expected '='"},
		{"A='x\n", 0, NS_ERR_PARSE, 1, 3, "unterminated single-quoted value"},
		{"A=1\nB=\"x\ny\n", 0, NS_ERR_PARSE, 2, 3, "unterminated double-quoted value"},
		{"A=\"x\\", 0, NS_ERR_PARSE, 1, 3, "unterminated double-quoted value"},
		{"A=\"x\\q\"\n", 0, NS_ERR_PARSE, 1, 5, "unknown escape '\\q'"},
		{"A=\"x\\\ny\"\n", 0, NS_ERR_PARSE, 1, 5, "unknown escape"},
		{"A=\"x\"y\n", 0, NS_ERR_PARSE, 1, 6, "after the closing quote"},
		{"A='x' y\n", 0, NS_ERR_PARSE, 1, 7, "after the closing quote"},
		{"A=\"x\ny\"z\n", 0, NS_ERR_PARSE, 2, 3, "after the closing quote"},
		{"A=1\nB=2\nA=3\n", 0, NS_ERR_PARSE, 3, 1, "'A' is set twice (first on line 1)"},
		{"A=a\0b\n", 6, NS_ERR_PARSE, 1, 4, "NUL byte"},
		{"\0", 1, NS_ERR_PARSE, 1, 1, "NUL byte"},
		{"A\0=1", 4, NS_ERR_PARSE, 1, 2, "NUL byte"},
		{"A='a\0'", 6, NS_ERR_PARSE, 1, 5, "NUL byte"},
		{"A=\"a\0\"", 6, NS_ERR_PARSE, 1, 5, "NUL byte"},
		{"# c\0\n", 5, NS_ERR_PARSE, 1, 4, "NUL byte"},
		{"A=a\rb\n", 0, NS_ERR_PARSE, 1, 4, "stray carriage return"},
		{"\rA=1\n", 0, NS_ERR_PARSE, 1, 1, "stray carriage return"},
		{"A='a\rb'\n", 0, NS_ERR_PARSE, 1, 5, "stray carriage return"},
		{"A=\"a\rb\"\n", 0, NS_ERR_PARSE, 1, 5, "stray carriage return"},
		{"A='x'\rB=1", 0, NS_ERR_PARSE, 1, 6, "stray carriage return"},
	};
	struct kv kv;
	struct ns_diag d;
	char buf[1024];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		size_t len = c->len ? c->len : strlen(c->text);
		enum ns_status st = parse(c->text, len, &kv, &d);
		ns_diag_format(&d, buf, sizeof(buf));
		if (st != c->st || d.line != c->line || d.column != c->column ||
		    !strstr(d.message, c->message) || strcmp(d.file, "t.env") != 0 || kv.n != 0)
			fail_msg("case %zu: got %s '%s' (n=%zu), wanted %llu:%llu %s", i,
				 ns_status_name(st), buf, kv.n, (unsigned long long)c->line,
				 (unsigned long long)c->column, c->message);
	}
}

static void test_dotenv_limits(void **state)
{
	struct kv kv;
	struct ns_diag d;
	char *text;
	size_t n = 0, cap = (size_t)NS_DOTENV_MAX_ENTRIES * 16 + 64;
	(void)state;

	/* A key of the longest allowed length, then one byte more. */
	text = malloc(NS_DOTENV_KEY_MAX + 8);
	assert_non_null(text);
	memset(text, 'K', NS_DOTENV_KEY_MAX);
	memcpy(text + NS_DOTENV_KEY_MAX, "=1", 3);
	assert_int_equal(ns_dotenv_parse(text, strlen(text), "t.env", NULL, NULL, &d), NS_OK);
	memset(text, 'K', NS_DOTENV_KEY_MAX + 1);
	memcpy(text + NS_DOTENV_KEY_MAX + 1, "=1", 3);
	assert_int_equal(ns_dotenv_parse(text, strlen(text), "t.env", NULL, NULL, &d),
			 NS_ERR_LIMIT);
	assert_int_equal(d.line, 1);
	assert_int_equal(d.column, 1);
	free(text);

	/* Too many assignments: the first one too many is named. */
	text = malloc(cap);
	assert_non_null(text);
	for (size_t i = 0; i <= NS_DOTENV_MAX_ENTRIES; i++)
		n += (size_t)snprintf(text + n, cap - n, "K%zu=%zu\n", i, i);
	assert_int_equal(parse(text, n, &kv, &d), NS_ERR_LIMIT);
	assert_int_equal(d.line, NS_DOTENV_MAX_ENTRIES + 1);
	assert_int_equal(d.column, 1);
	assert_int_equal(kv.n, 0);
	free(text);

	/* Too large a text. */
	text = calloc(1, NS_DOTENV_MAX_BYTES + 1);
	assert_non_null(text);
	memset(text, '#', NS_DOTENV_MAX_BYTES + 1);
	assert_int_equal(parse(text, NS_DOTENV_MAX_BYTES + 1, &kv, &d), NS_ERR_LIMIT);
	assert_true(strstr(d.message, "larger than") != NULL);
	assert_int_equal(parse(text, NS_DOTENV_MAX_BYTES, &kv, &d), NS_OK);
	free(text);
}

static void test_dotenv_no_values_in_errors(void **state)
{
	struct kv kv;
	struct ns_diag d;
	char buf[1024];
	static const char *texts[] = {"PW=\"hunter2secret\\q\"", "PW='hunter2secret",
				      "PW=\"hunter2secret\"x", "PW=hunter2secret\rx"};
	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		assert_int_not_equal(parse(texts[i], strlen(texts[i]), &kv, &d), NS_OK);
		ns_diag_format(&d, buf, sizeof(buf));
		assert_null(strstr(buf, "hunter2"));
	}
}

static void test_dotenv_alloc_faults(void **state)
{
	static const char text[] = "A=1\nB='two'\nC=\"three\"\n";
	(void)state;
	for (long n = 0; n < 64; n++) {
		struct kv kv;
		struct ns_diag d;
		enum ns_status st;
		ns_alloc_fail_after(n);
		st = parse(text, sizeof(text) - 1, &kv, &d);
		ns_alloc_fail_reset();
		if (st == NS_OK) {
			assert_int_equal(kv.n, 3);
			return;
		}
		assert_int_equal(st, NS_ERR_NOMEM);
		assert_int_equal(kv.n, 0);
	}
	fail_msg("never succeeded");
}

/* ---- loading and precedence ---------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static const char *tmp_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/test_config_%ld_%s", NETSEC_TEST_TMP, (long)getpid(), name);
	return buf;
}

static void clear_store_env(void)
{
	unsetenv("NETSEC_STORE");
	unsetenv("MONGO_DB_URL");
	unsetenv("NS_TEST_A");
	unsetenv("NS_TEST_B");
}

static void test_load_dotenv(void **state)
{
	char path[512];
	struct ns_dotenv_loaded l;
	struct ns_diag d;
	(void)state;
	clear_store_env();
	tmp_path(path, sizeof(path), "load.env");
	write_file(path, "NS_TEST_A=from-file\nNS_TEST_B=from-file\n");
	setenv("NS_TEST_B", "from-env", 1);
	assert_int_equal(ns_config_load_dotenv(path, false, &l, &d), NS_OK);
	assert_string_equal(getenv("NS_TEST_A"), "from-file");
	assert_string_equal(getenv("NS_TEST_B"), "from-env");
	assert_int_equal(l.n_entries, 2);
	assert_string_equal(l.path, path);
	assert_true(l.entries[0].applied);
	assert_false(l.entries[1].applied);
	assert_non_null(ns_dotenv_loaded_find(&l, "NS_TEST_A"));
	assert_null(ns_dotenv_loaded_find(&l, "NS_TEST_B"));
	assert_null(ns_dotenv_loaded_find(&l, "NOPE"));
	ns_dotenv_loaded_fini(&l);

	/* overwrite: the file wins. */
	assert_int_equal(ns_config_load_dotenv(path, true, NULL, &d), NS_OK);
	assert_string_equal(getenv("NS_TEST_B"), "from-file");

	/* A bad line sets nothing, not even the good lines before it. */
	clear_store_env();
	write_file(path, "NS_TEST_A=good\nNS_TEST_B='bad\n");
	assert_int_equal(ns_config_load_dotenv(path, false, &l, &d), NS_ERR_PARSE);
	assert_null(getenv("NS_TEST_A"));
	assert_int_equal(d.line, 2);
	assert_int_equal(d.column, 11);
	assert_string_equal(d.file, path);
	ns_dotenv_loaded_fini(&l);

	/* Missing file: NOTFOUND; a folder: IO. */
	unlink(path);
	assert_int_equal(ns_config_load_dotenv(path, false, &l, &d), NS_ERR_NOTFOUND);
	ns_dotenv_loaded_fini(&l);
	assert_int_equal(ns_config_load_dotenv(NETSEC_TEST_TMP, false, NULL, &d), NS_ERR_IO);
	assert_int_equal(ns_config_load_dotenv("", false, NULL, &d), NS_ERR_INVALID);
	clear_store_env();
}

static struct ns_setting_value resolve_store(const char *flag, const char *dotenv_text,
					     struct ns_dotenv_loaded *l)
{
	char path[512];
	struct ns_diag d;
	memset(l, 0, sizeof(*l));
	if (dotenv_text) {
		tmp_path(path, sizeof(path), "prec.env");
		write_file(path, dotenv_text);
		assert_int_equal(ns_config_load_dotenv(path, false, l, &d), NS_OK);
		unlink(path);
	}
	return ns_setting_resolve(ns_setting_find("store"), flag, l, NULL);
}

static void test_precedence(void **state)
{
	const struct ns_setting *s = ns_setting_find("store");
	struct ns_dotenv_loaded l;
	struct ns_setting_value v;
	(void)state;
	assert_non_null(s);
	assert_string_equal(s->env[0], "NETSEC_STORE");
	assert_string_equal(s->env[1], "MONGO_DB_URL");

	/* Nothing: the default. */
	clear_store_env();
	v = resolve_store(NULL, NULL, &l);
	assert_int_equal(v.source, NS_SETTING_DEFAULT);
	assert_string_equal(v.value, "sqlite:var/netsec.db");
	assert_null(v.var);
	/* A caller's default replaces the table's. */
	v = ns_setting_resolve(s, NULL, NULL, "sqlite:other.db");
	assert_string_equal(v.value, "sqlite:other.db");

	/* .env with the reference's name. */
	v = resolve_store(NULL, "# ref\nMONGO_DB_URL=mongodb://f/db\n", &l);
	assert_int_equal(v.source, NS_SETTING_DOTENV);
	assert_string_equal(v.value, "mongodb://f/db");
	assert_string_equal(v.var, "MONGO_DB_URL");
	assert_int_equal(v.line, 2);
	ns_dotenv_loaded_fini(&l);

	/* Both names in .env: the preferred one. */
	clear_store_env();
	v = resolve_store(NULL, "MONGO_DB_URL=mongodb://f/db\nNETSEC_STORE=sqlite:f.db\n", &l);
	assert_int_equal(v.source, NS_SETTING_DOTENV);
	assert_string_equal(v.var, "NETSEC_STORE");
	ns_dotenv_loaded_fini(&l);

	/* The environment's alias beats .env's preferred name: layers first. */
	clear_store_env();
	setenv("MONGO_DB_URL", "mongodb://env/db", 1);
	v = resolve_store(NULL, "NETSEC_STORE=sqlite:f.db\n", &l);
	assert_int_equal(v.source, NS_SETTING_ENV);
	assert_string_equal(v.var, "MONGO_DB_URL");
	assert_string_equal(v.value, "mongodb://env/db");
	ns_dotenv_loaded_fini(&l);

	/* The environment beats .env for the same name. */
	clear_store_env();
	setenv("MONGO_DB_URL", "mongodb://env/db", 1);
	v = resolve_store(NULL, "MONGO_DB_URL=mongodb://file/db\n", &l);
	assert_int_equal(v.source, NS_SETTING_ENV);
	assert_string_equal(v.value, "mongodb://env/db");
	ns_dotenv_loaded_fini(&l);

	/* Both names in the environment: the preferred one. */
	setenv("NETSEC_STORE", "sqlite:env.db", 1);
	v = resolve_store(NULL, NULL, &l);
	assert_string_equal(v.var, "NETSEC_STORE");

	/* An empty variable counts as unset. */
	setenv("NETSEC_STORE", "", 1);
	v = resolve_store(NULL, NULL, &l);
	assert_string_equal(v.var, "MONGO_DB_URL");

	/* The flag beats everything. */
	v = resolve_store("sqlite:flag.db", "NETSEC_STORE=sqlite:f.db\n", &l);
	assert_int_equal(v.source, NS_SETTING_FLAG);
	assert_string_equal(v.value, "sqlite:flag.db");
	ns_dotenv_loaded_fini(&l);
	clear_store_env();

	/* No default: unset. */
	unsetenv("NETSEC_API_TOKEN");
	v = ns_setting_resolve(ns_setting_find("api_token"), NULL, NULL, NULL);
	assert_int_equal(v.source, NS_SETTING_UNSET);
	assert_null(v.value);
	assert_string_equal(ns_setting_source_name(NS_SETTING_DOTENV), ".env");
	assert_string_equal(ns_setting_source_name(NS_SETTING_UNSET), "unset");
}

static void test_settings_table(void **state)
{
	size_t n;
	const struct ns_setting *t = ns_settings(&n);
	static const char *const secrets[] = {"NETSEC_API_TOKEN",      "MLFLOW_TRACKING_PASSWORD",
					      "MLFLOW_TRACKING_TOKEN", "AWS_SECRET_ACCESS_KEY",
					      "AWS_SESSION_TOKEN",     "AWS_ACCESS_KEY_ID"};
	static const char *const reference[] = {"MONGO_DB_URL",
						"MLFLOW_TRACKING_URI",
						"MLFLOW_TRACKING_USERNAME",
						"MLFLOW_TRACKING_PASSWORD",
						"AWS_ACCESS_KEY_ID",
						"AWS_SECRET_ACCESS_KEY",
						"AWS_REGION",
						"AWS_SESSION_TOKEN",
						"AWS_ENDPOINT_URL",
						"MLFLOW_TRACKING_TOKEN",
						"NETSEC_S3_URI",
						"NETSEC_API_TOKEN"};
	(void)state;
	assert_true(n > 20);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i].name);
		assert_non_null(t[i].env[0]);
		assert_non_null(t[i].doc);
		assert_ptr_equal(ns_setting_find(t[i].name), &t[i]);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(t[i].name, t[j].name);
			for (size_t a = 0; a < NS_SETTING_ENV_MAX && t[i].env[a]; a++)
				for (size_t b = 0; b < NS_SETTING_ENV_MAX && t[j].env[b]; b++)
					assert_string_not_equal(t[i].env[a], t[j].env[b]);
		}
	}
	assert_null(ns_setting_find("nope"));
	for (size_t k = 0; k < sizeof(reference) / sizeof(reference[0]); k++) {
		bool found = false, secret = false;
		for (size_t i = 0; i < n; i++)
			for (size_t a = 0; a < NS_SETTING_ENV_MAX && t[i].env[a]; a++)
				if (strcmp(t[i].env[a], reference[k]) == 0) {
					found = true;
					secret = t[i].secret;
				}
		if (!found)
			fail_msg("%s is not in the settings table", reference[k]);
		for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++)
			if (strcmp(secrets[s], reference[k]) == 0 && !secret)
				fail_msg("%s is not marked secret", reference[k]);
	}
}

/* ---- masking -------------------------------------------------------------------- */

static void test_redact(void **state)
{
	static const char *const cases[][2] = {
		{"mongodb://u:p@h1,h2/db?x=y", "mongodb://u:***@h1,h2/db?x=y"},
		{"mongodb://u:p@h1:27017,h2:27018/db?replicaSet=rs0",
		 "mongodb://u:***@h1:27017,h2:27018/db?replicaSet=rs0"},
		{"mongodb+srv://alice:s3cr3t@cluster0.x.mongodb.net/?retryWrites=true&w=majority",
		 "mongodb+srv://alice:***@cluster0.x.mongodb.net/?retryWrites=true&w=majority"},
		{"http://u:p@host:5000/", "http://u:***@host:5000/"},
		{"https://user:tok@dagshub.com/a/b.mlflow",
		 "https://user:***@dagshub.com/a/b.mlflow"},
		{"s3://AKIA:secret@bucket/prefix", "s3://AKIA:***@bucket/prefix"},
		{"s3://bucket/prefix/x", "s3://bucket/prefix/x"},
		{"https://host/path", "https://host/path"},
		{"http://host:5000/a@b", "http://host:5000/a@b"},
		{"http://host/a@b", "http://host/a@b"},
		{"mongodb://u:p%40ss@h/db", "mongodb://u:***@h/db"},
		{"mongodb://u:p@ss@h/db", "mongodb://u:***@h/db"},
		{"mongodb://u:p@s:s@h/db", "mongodb://u:***@h/db"},
		{"mongodb://u:pa/ss@h/db", "mongodb://u:***@h/db"},
		{"mongodb://u:pa?ss@h/db", "mongodb://u:***@h/db"},
		{"mongodb://u:pa#ss@h/db", "mongodb://u:***@h/db"},
		{"mongodb://user@h/db", "mongodb://user@h/db"},
		{"mongodb://:p@h", "mongodb://:***@h"},
		{"mongodb://u:@h", "mongodb://u:***@h"},
		{"http://[::1]:8080/x", "http://[::1]:8080/x"},
		{"http://u:p@[::1]:8080/x", "http://u:***@[::1]:8080/x"},
		{"https://h/x?token=abc&y=1", "https://h/x?token=***&y=1"},
		{"https://h/x?a=1&Password=abc;b=2", "https://h/x?a=1&Password=***;b=2"},
		{"https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab#f",
		 "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***#f"},
		{"mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_"
		 "TOKEN:xyz",
		 "mongodb://h/?authMechanism=MONGODB-AWS&authMechanismProperties=***"},
		{"http://h/?key=abc&monkey=1", "http://h/?key=***&monkey=1"},
		{"http://h/#token=abc", "http://h/#token=abc"},
		{"store mongodb://u:p@h/db: refused; tracking 'http://a:b@m:5000' failed",
		 "store mongodb://u:***@h/db: refused; tracking 'http://a:***@m:5000' failed"},
		{"//u:p@h/db", "//u:***@h/db"},
		{"sqlite://u:p@h/db", "sqlite://u:***@h/db"},
		{"sqlite:var/netsec.db", "sqlite:var/netsec.db"},
		{"var/u:p@x.db", "var/u:p@x.db"},
		{"file:///tmp/mlruns", "file:///tmp/mlruns"},
		{"://u:p@h", "://u:p@h"},
		{"a ?token=x", "a ?token=x"},
		{"", ""},
	};
	char out[512];
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ns_redact(cases[i][0], out, sizeof(out));
		if (strcmp(out, cases[i][1]) != 0)
			fail_msg("case %zu: '%s' -> '%s', wanted '%s'", i, cases[i][0], out,
				 cases[i][1]);
	}
	/* Truncation never shows the password, and always terminates. */
	for (size_t size = 1; size < 40; size++) {
		char small[40];
		memset(small, 'Z', sizeof(small));
		ns_redact("mongodb://user:hunter2@h/db", small, size);
		assert_true(strlen(small) < size);
		assert_null(strstr(small, "hunter"));
		assert_null(strstr(small, "h2"));
	}
	assert_string_equal(ns_redact(NULL, out, sizeof(out)), "");
	assert_null(ns_redact("x", NULL, 0));
}

static void test_secret_mask(void **state)
{
	char out[64];
	const struct ns_setting *tok = ns_setting_find("api_token");
	const struct ns_setting *store = ns_setting_find("store");
	(void)state;
	assert_string_equal(ns_secret_mask(NULL, out, sizeof(out)), "");
	assert_string_equal(ns_secret_mask("", out, sizeof(out)), "");
	assert_string_equal(ns_secret_mask("abc", out, sizeof(out)), "****");
	assert_string_equal(ns_secret_mask("abcdefghijk", out, sizeof(out)), "****");
	assert_string_equal(ns_secret_mask("abcdefghijkl", out, sizeof(out)), "ab****(12 chars)");
	assert_string_equal(
		ns_secret_mask("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", out, sizeof(out)),
		"wJ****(40 chars)");
	assert_string_equal(ns_secret_mask("\t\x01xxxxxxxxxxxx", out, sizeof(out)),
			    "******(14 chars)");
	ns_secret_mask("abcdefghijkl", out, 5);
	assert_string_equal(out, "ab**");
	assert_true(tok && tok->secret);
	assert_string_equal(ns_setting_display(tok, "supersecrettoken", out, sizeof(out)),
			    "su****(16 chars)");
	assert_string_equal(ns_setting_display(store, "mongodb://u:pw@h/db", out, sizeof(out)),
			    "mongodb://u:***@h/db");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dotenv_good),
		cmocka_unit_test(test_dotenv_errors),
		cmocka_unit_test(test_dotenv_limits),
		cmocka_unit_test(test_dotenv_no_values_in_errors),
		cmocka_unit_test(test_dotenv_alloc_faults),
		cmocka_unit_test(test_load_dotenv),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_settings_table),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_secret_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
