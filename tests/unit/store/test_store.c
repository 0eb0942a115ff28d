/*
 * tests/unit/store/test_store.c - the data store on real SQLite files: open,
 * URI schemes, ingest (duplicates, replace, bad rows, skip_bad, syntax
 * errors, empty files), export round trips, frames, list/count/schema/drop,
 * format versions, allocation faults and a process killed mid-ingest.
 *
 * Every test uses its own files under NETSEC_TEST_TMP (named after the test
 * and the process id) and deletes them.  After every failure the test checks
 * that nothing was stored.
 */
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "netsec/core.h"
#include "netsec/frame.h"
#include "netsec/schema.h"
#include "netsec/store.h"
#include "store/store_impl.h"

#define PHISHING_CSV NETSEC_SOURCE_DIR "/data/phisingData.csv"
#define PHISHING_SCHEMA NETSEC_SOURCE_DIR "/data/schema.yaml"
#define PHISHING_ROWS 11055

/* ---- helpers --------------------------------------------------------------- */

static void tmp_path(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "%s/store_%s_%ld", NETSEC_TEST_TMP, name, (long)getpid());
	assert_true(n > 0 && (size_t)n < size);
}

static void remove_db(const char *path)
{
	char p[512];
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
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
	assert_non_null(fp);
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

static void check_ok(enum ns_status st, const struct ns_diag *d)
{
	if (st != NS_OK) {
		char buf[1024];
		print_error("unexpected %s: %s\n", ns_status_name(st),
			    ns_diag_format(d, buf, sizeof(buf)));
	}
	assert_int_equal(st, NS_OK);
}

static struct ns_store *open_store(const char *path)
{
	struct ns_store *st = NULL;
	struct ns_diag d;
	check_ok(ns_store_open(path, &st, &d), &d);
	assert_non_null(st);
	return st;
}

static struct ns_schema *parse_schema(const char *yaml)
{
	struct ns_schema *s = NULL;
	struct ns_diag d;
	check_ok(ns_schema_parse(yaml, strlen(yaml), "test", &s, &d), &d);
	return s;
}

/* Rows of a collection; UINT64_MAX when it does not exist. */
static uint64_t count_rows(struct ns_store *st, const char *collection)
{
	uint64_t n = 0;
	struct ns_diag d;
	enum ns_status s = ns_store_count(st, collection, &n, &d);
	if (s == NS_ERR_NOTFOUND)
		return UINT64_MAX;
	check_ok(s, &d);
	return n;
}

static enum ns_status ingest(struct ns_store *st, const char *path, const struct ns_schema *schema,
			     const char *collection, struct ns_ingest_result *res,
			     struct ns_diag *d)
{
	struct ns_ingest_params p = ns_ingest_params_default();
	p.collection = collection;
	return ns_store_ingest_csv(st, path, schema, &p, NULL, NULL, res, d);
}

/* A small dataset: an int id, a float, a category, an int label (target). */
static const char small_yaml[] = "columns:\n"
				 "  - id: int\n"
				 "  - x: float\n"
				 "  - kind: category\n"
				 "  - label: int\n"
				 "target: label\n";

static const char small_csv[] = "id,x,kind,label\n"
				"1,0.5,web,0\n"
				"2,-2.25,\"mail, smtp\",1\n"
				"3,,\"say \"\"hi\"\"\",0\n"
				"4,1e-300,,1\n"
				"5,0.1,web,1\n";

struct fixture {
	char db[256];
	char csv[256];
	char other[256];
	struct ns_store *st;
	struct ns_schema *schema;
};

static struct fixture *fixture_new(const char *name)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char base[200];
	assert_non_null(f);
	tmp_path(base, sizeof(base), name);
	snprintf(f->db, sizeof(f->db), "%s.db", base);
	snprintf(f->csv, sizeof(f->csv), "%s.csv", base);
	snprintf(f->other, sizeof(f->other), "%s.out.csv", base);
	remove_db(f->db);
	f->st = open_store(f->db);
	f->schema = parse_schema(small_yaml);
	return f;
}

static void fixture_free(struct fixture *f)
{
	ns_store_close(f->st);
	ns_schema_free(f->schema);
	remove_db(f->db);
	unlink(f->csv);
	unlink(f->other);
	free(f);
}

/* ---- open and URIs ------------------------------------------------------------ */

static void test_open_create(void **state)
{
	char dir[256], path[300], uri[320];
	struct ns_store *st;
	struct stat sb;
	(void)state;
	tmp_path(dir, sizeof(dir), "open_dir");
	snprintf(path, sizeof(path), "%s/a/b/netsec.db", dir);
	/* Parent folders are created. */
	st = open_store(path);
	assert_string_equal(ns_store_scheme(st), "sqlite");
	ns_store_close(st);
	assert_int_equal(stat(path, &sb), 0);
	/* The sqlite: scheme names the same file; opening again is fine. */
	snprintf(uri, sizeof(uri), "sqlite:%s", path);
	st = open_store(uri);
	assert_int_equal(count_rows(st, "nothing"), UINT64_MAX);
	ns_store_close(st);
	ns_store_close(NULL);
	remove_db(path);
	snprintf(uri, sizeof(uri), "%s/a/b", dir);
	assert_int_equal(rmdir(uri), 0);
	snprintf(uri, sizeof(uri), "%s/a", dir);
	assert_int_equal(rmdir(uri), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_unknown_scheme(void **state)
{
	struct ns_store *st = NULL;
	struct ns_diag d;
	(void)state;
	assert_int_equal(ns_store_open("mongo:x", &st, &d), NS_ERR_INVALID);
	assert_null(st);
	assert_non_null(strstr(d.message, "mongo"));
	assert_non_null(strstr(d.message, "sqlite"));
	assert_int_equal(ns_store_open("sqlite:", &st, &d), NS_ERR_INVALID);
	assert_int_equal(ns_store_open("", &st, &d), NS_ERR_INVALID);
	assert_int_equal(ns_store_open(NULL, &st, &d), NS_ERR_INVALID);
	assert_null(st);
}

static void test_not_a_store(void **state)
{
	char path[256];
	struct ns_store *st = NULL;
	struct ns_diag d;
	sqlite3 *db;
	enum ns_status s;
	(void)state;
	/* A text file is not an SQLite database. */
	tmp_path(path, sizeof(path), "not_db.db");
	write_text(path, "this is not a database, it is a text file of some length.....\n");
	s = ns_store_open(path, &st, &d);
	assert_int_not_equal(s, NS_OK);
	assert_null(st);
	remove_db(path);
	/* An SQLite file of someone else's is not taken over. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ns_store_open(path, &st, &d), NS_ERR_STORE);
	assert_non_null(strstr(d.message, "not a netsec store"));
	assert_null(st);
	remove_db(path);
}

static void test_newer_version_refused(void **state)
{
	char path[256];
	struct ns_store *st = NULL;
	struct ns_diag d;
	sqlite3 *db;
	(void)state;
	tmp_path(path, sizeof(path), "version.db");
	remove_db(path);
	ns_store_close(open_store(path));
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE netsec_meta SET value=99 WHERE key='format_version'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(ns_store_open(path, &st, &d), NS_ERR_UNSUPPORTED);
	assert_null(st);
	assert_non_null(strstr(d.message, "version 99"));
	assert_non_null(strstr(d.message, "newer"));
	remove_db(path);
}

static void test_bad_collection_name(void **state)
{
	struct fixture *f = fixture_new("badname");
	struct ns_ingest_params p = ns_ingest_params_default();
	const char *bad[] = {
		"",           "has space",
		"semi;colon", "quote\"d",
		"slash/x",    "a2345678901234567890123456789012345678901234567890123456789012345"};
	struct ns_diag d;
	uint64_t n;
	(void)state;
	write_text(f->csv, small_csv);
	p.collection = NULL;
	assert_int_equal(ns_store_ingest_csv(f->st, f->csv, f->schema, &p, NULL, NULL, NULL, &d),
			 NS_ERR_INVALID);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p.collection = bad[i];
		assert_int_equal(
			ns_store_ingest_csv(f->st, f->csv, f->schema, &p, NULL, NULL, NULL, &d),
			NS_ERR_INVALID);
		assert_non_null(strstr(d.message, "collection name"));
		assert_int_equal(ns_store_count(f->st, bad[i], &n, &d), NS_ERR_INVALID);
		assert_int_equal(ns_store_drop(f->st, bad[i], &d), NS_ERR_INVALID);
	}
	/* Dots and dashes are fine (the table name is quoted). */
	check_ok(ingest(f->st, f->csv, f->schema, "web.v-1_x", NULL, &d), &d);
	assert_int_equal(count_rows(f->st, "web.v-1_x"), 5);
	/* Names differing only in case clash (SQLite table names ignore case). */
	assert_int_equal(ingest(f->st, f->csv, f->schema, "WEB.V-1_X", NULL, &d), NS_ERR_EXISTS);
	assert_int_equal(count_rows(f->st, "WEB.V-1_X"), UINT64_MAX);
	fixture_free(f);
}

/* ---- the phishing data ---------------------------------------------------------- */

/* The bundled schema, or one made from the CSV's header if it is not there. */
static struct ns_schema *phishing_schema(void)
{
	struct ns_schema *s = NULL;
	struct ns_diag d;
	char *head, *yaml, *p;
	size_t cap, off;
	if (access(PHISHING_SCHEMA, R_OK) == 0) {
		check_ok(ns_schema_load(PHISHING_SCHEMA, &s, &d), &d);
		return s;
	}
	head = read_text(PHISHING_CSV);
	p = strchr(head, '\n');
	assert_non_null(p);
	*p = '\0';
	cap = strlen(head) * 2 + 64;
	yaml = malloc(cap);
	assert_non_null(yaml);
	off = (size_t)snprintf(yaml, cap, "columns:\n");
	for (char *tok = head; tok; tok = p) {
		p = strchr(tok, ',');
		if (p)
			*p++ = '\0';
		off += (size_t)snprintf(yaml + off, cap - off, "  - %s: int\n", tok);
		assert_true(off < cap);
	}
	s = parse_schema(yaml);
	free(yaml);
	free(head);
	return s;
}

static void test_phishing_ingest(void **state)
{
	char path[256];
	struct ns_store *st;
	struct ns_schema *schema = phishing_schema();
	struct ns_ingest_params p = ns_ingest_params_default();
	struct ns_ingest_result res;
	struct ns_diag d;
	(void)state;
	tmp_path(path, sizeof(path), "phishing.db");
	remove_db(path);
	st = open_store(path);
	p.collection = "phishing";

	check_ok(ns_store_ingest_csv(st, PHISHING_CSV, schema, &p, NULL, NULL, &res, &d), &d);
	assert_int_equal(res.n_records, PHISHING_ROWS);
	assert_int_equal(res.n_rows, PHISHING_ROWS);
	assert_int_equal(res.n_bad, 0);
	assert_false(res.duplicate);
	assert_true(res.ingest_id > 0);
	assert_int_equal(strlen(res.sha256), 64);
	assert_int_equal(count_rows(st, "phishing"), PHISHING_ROWS);

	/* The same bytes again: a duplicate, nothing stored. */
	check_ok(ns_store_ingest_csv(st, PHISHING_CSV, schema, &p, NULL, NULL, &res, &d), &d);
	assert_true(res.duplicate);
	assert_int_equal(res.n_rows, 0);
	assert_int_equal(res.ingest_id, 0);
	assert_int_equal(count_rows(st, "phishing"), PHISHING_ROWS);

	/* Unless asked. */
	p.allow_duplicate = true;
	check_ok(ns_store_ingest_csv(st, PHISHING_CSV, schema, &p, NULL, NULL, &res, &d), &d);
	assert_false(res.duplicate);
	assert_int_equal(res.n_rows, PHISHING_ROWS);
	assert_int_equal(count_rows(st, "phishing"), 2 * PHISHING_ROWS);

	/* replace starts the collection over (and forgets the old hashes). */
	p.allow_duplicate = false;
	p.replace = true;
	check_ok(ns_store_ingest_csv(st, PHISHING_CSV, schema, &p, NULL, NULL, &res, &d), &d);
	assert_false(res.duplicate);
	assert_int_equal(count_rows(st, "phishing"), PHISHING_ROWS);

	/* Reopened, the data is still there. */
	ns_store_close(st);
	st = open_store(path);
	assert_int_equal(count_rows(st, "phishing"), PHISHING_ROWS);
	ns_store_close(st);
	ns_schema_free(schema);
	remove_db(path);
}

/* The SHA-256 is of the file's bytes. */
static void test_ingest_hash(void **state)
{
	struct fixture *f = fixture_new("hash");
	struct ns_ingest_result res;
	struct ns_sha256 sha;
	struct ns_diag d;
	uint8_t dig[32];
	char hex[65];
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "h", &res, &d), &d);
	ns_sha256_init(&sha);
	ns_sha256_update(&sha, small_csv, strlen(small_csv));
	ns_sha256_final(&sha, dig);
	ns_sha256_hex(dig, hex);
	assert_string_equal(res.sha256, hex);
	assert_int_equal(res.n_rows, 5);
	fixture_free(f);
}

/* ---- bad input ------------------------------------------------------------------ */

struct problems {
	int n;
	enum ns_problem_kind kind[16];
	uint64_t line[16];
};

static void collect_problem(void *user, const struct ns_problem *p)
{
	struct problems *ps = user;
	if (ps->n < 16) {
		ps->kind[ps->n] = p->kind;
		ps->line[ps->n] = p->line;
	}
	ps->n++;
}

static const char bad_csv[] = "id,x,kind,label\n"
			      "1,0.5,web,0\n"
			      "2,1.5,web,1\n"
			      "3,abc,web,0\n" /* line 4: text in the float column x (2nd) */
			      "4,2.5,web,1\n"
			      "5,2.5,web,1,9\n" /* line 6: a field too many */
			      "6,3.5,web,0\n";

static void test_bad_row_rejects_file(void **state)
{
	struct fixture *f = fixture_new("badrow");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct ns_ingest_result res;
	struct problems ps;
	struct ns_diag d;
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "c", NULL, &d), &d);
	write_text(f->other, bad_csv);

	memset(&ps, 0, sizeof(ps));
	memset(&res, 0x5a, sizeof(res));
	p.collection = "c";
	assert_int_equal(
		ns_store_ingest_csv(f->st, f->other, f->schema, &p, collect_problem, &ps, &res, &d),
		NS_ERR_SCHEMA);
	assert_int_equal(d.status, NS_ERR_SCHEMA);
	assert_string_equal(d.file, f->other);
	assert_int_equal(d.line, 4);
	assert_int_equal(d.column, 2);
	assert_string_equal(d.field, "x");
	assert_true(ps.n >= 1);
	assert_int_equal(ps.kind[0], NS_PROBLEM_TYPE);
	assert_int_equal(ps.line[0], 4);
	/* The result is left alone on failure, and nothing was stored. */
	assert_int_equal(res.n_rows, 0x5a5a5a5a5a5a5a5aULL);
	assert_int_equal(count_rows(f->st, "c"), 5);

	/* Into a new collection: not even the collection is created. */
	p.collection = "fresh";
	assert_int_equal(ns_store_ingest_csv(f->st, f->other, f->schema, &p, NULL, NULL, NULL, &d),
			 NS_ERR_SCHEMA);
	assert_int_equal(count_rows(f->st, "fresh"), UINT64_MAX);
	fixture_free(f);
}

static void test_skip_bad(void **state)
{
	struct fixture *f = fixture_new("skipbad");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct ns_ingest_result res;
	struct problems ps;
	struct ns_diag d;
	FILE *fp;
	char *text;
	(void)state;
	write_text(f->csv, bad_csv);
	memset(&ps, 0, sizeof(ps));
	p.collection = "c";
	p.skip_bad = true;
	check_ok(ns_store_ingest_csv(f->st, f->csv, f->schema, &p, collect_problem, &ps, &res, &d),
		 &d);
	assert_int_equal(res.n_records, 6);
	assert_int_equal(res.n_rows, 4);
	assert_int_equal(res.n_bad, 2);
	assert_int_equal(ps.n, 2);
	assert_int_equal(ps.line[0], 4);
	assert_int_equal(ps.line[1], 6);
	assert_int_equal(count_rows(f->st, "c"), 4);

	fp = fopen(f->other, "wb");
	assert_non_null(fp);
	check_ok(ns_store_export_rejects(f->st, "c", fp, &d), &d);
	fclose(fp);
	text = read_text(f->other);
	assert_true(strncmp(text, "ingest_id,line,reason,raw\n", 26) == 0);
	{
		char want[64];
		snprintf(want, sizeof(want), "\n%lld,4,", (long long)res.ingest_id);
		assert_non_null(strstr(text, want));
		snprintf(want, sizeof(want), "\n%lld,6,", (long long)res.ingest_id);
		assert_non_null(strstr(text, want));
	}
	/* The reason names the field; the raw record is kept as it was. */
	assert_non_null(strstr(text, "x: "));
	assert_non_null(strstr(text, ",\"3,abc,web,0\"\n"));
	assert_non_null(strstr(text, ",\"5,2.5,web,1,9\"\n"));
	free(text);

	/* No such collection: an error, and nothing written. */
	fp = fopen(f->other, "wb");
	assert_non_null(fp);
	assert_int_equal(ns_store_export_rejects(f->st, "nope", fp, &d), NS_ERR_NOTFOUND);
	assert_int_equal(ftell(fp), 0);
	fclose(fp);
	fixture_free(f);
}

static void test_syntax_error_stores_nothing(void **state)
{
	struct fixture *f = fixture_new("syntax");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct problems ps;
	struct ns_diag d;
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "c", NULL, &d), &d);
	/* An unterminated quote opened on line 3. */
	write_text(f->other, "id,x,kind,label\n"
			     "7,0.5,web,0\n"
			     "8,0.5,\"web,0\n"
			     "9,0.5,web,0\n");
	memset(&ps, 0, sizeof(ps));
	p.collection = "c";
	p.skip_bad = true; /* syntax errors abort even so */
	p.allow_duplicate = true;
	assert_int_equal(
		ns_store_ingest_csv(f->st, f->other, f->schema, &p, collect_problem, &ps, NULL, &d),
		NS_ERR_PARSE);
	assert_int_equal(d.line, 3);
	assert_string_equal(d.file, f->other);
	assert_int_equal(ps.n, 1);
	assert_int_equal(ps.kind[0], NS_PROBLEM_SYNTAX);
	assert_int_equal(count_rows(f->st, "c"), 5);

	/* A missing file. */
	assert_int_equal(ingest(f->st, "/nonexistent/x.csv", f->schema, "c", NULL, &d), NS_ERR_IO);
	assert_string_equal(d.file, "/nonexistent/x.csv");
	assert_int_equal(count_rows(f->st, "c"), 5);
	fixture_free(f);
}

static void test_empty_files(void **state)
{
	struct fixture *f = fixture_new("empty");
	const char *texts[] = {"", "id,x,kind,label\n", "id,x,kind,label", "\n\n"};
	struct ns_diag d;
	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		write_text(f->csv, texts[i]);
		assert_int_equal(ingest(f->st, f->csv, f->schema, "e", NULL, &d), NS_ERR_SCHEMA);
		assert_non_null(strstr(d.message, "no data records"));
		assert_string_equal(d.file, f->csv);
		assert_int_equal(count_rows(f->st, "e"), UINT64_MAX);
	}
	fixture_free(f);
}

static void test_header_mismatch(void **state)
{
	struct fixture *f = fixture_new("header");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct ns_diag d;
	(void)state;
	write_text(f->csv, "id,y,kind,label\n1,0.5,web,0\n");
	p.collection = "h";
	p.skip_bad = true; /* a bad header aborts even so */
	assert_int_equal(ns_store_ingest_csv(f->st, f->csv, f->schema, &p, NULL, NULL, NULL, &d),
			 NS_ERR_SCHEMA);
	assert_int_equal(count_rows(f->st, "h"), UINT64_MAX);
	fixture_free(f);
}

static void test_schema_mismatch(void **state)
{
	struct fixture *f = fixture_new("schemamis");
	struct ns_schema *other =
		parse_schema("columns:\n  - id: int\n  - x: float\n  - kind: category\n"
			     "  - label: category\ntarget: label\n");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct ns_schema *back = NULL;
	struct ns_diag d;
	char h1[65], h2[65];
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "c", NULL, &d), &d);
	p.collection = "c";
	p.allow_duplicate = true;
	assert_int_equal(ns_store_ingest_csv(f->st, f->csv, other, &p, NULL, NULL, NULL, &d),
			 NS_ERR_SCHEMA);
	assert_non_null(strstr(d.message, "another schema"));
	assert_int_equal(count_rows(f->st, "c"), 5);
	/* The stored schema is still the first one. */
	check_ok(ns_store_schema(f->st, "c", &back, &d), &d);
	check_ok(ns_schema_hash(back, h1), NULL);
	check_ok(ns_schema_hash(f->schema, h2), NULL);
	assert_string_equal(h1, h2);
	ns_schema_free(back);
	/* replace takes the new schema (the table is rebuilt). */
	p.replace = true;
	check_ok(ns_store_ingest_csv(f->st, f->csv, other, &p, NULL, NULL, NULL, &d), &d);
	assert_int_equal(count_rows(f->st, "c"), 5);
	check_ok(ns_store_schema(f->st, "c", &back, &d), &d);
	check_ok(ns_schema_hash(back, h1), NULL);
	check_ok(ns_schema_hash(other, h2), NULL);
	assert_string_equal(h1, h2);
	assert_int_equal(back->columns[3].type, NS_TYPE_CATEGORY);
	ns_schema_free(back);
	ns_schema_free(other);
	fixture_free(f);
}

/* ---- reading back ---------------------------------------------------------------- */

static void test_read_frame_values(void **state)
{
	struct fixture *f = fixture_new("frame");
	struct ns_frame *fr = NULL;
	struct ns_diag d;
	const double *x, *id;
	const uint32_t *kind;
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "c", NULL, &d), &d);
	check_ok(ns_store_read_frame(f->st, "c", &fr, &d), &d);
	assert_int_equal(ns_frame_n_rows(fr), 5);
	assert_int_equal(ns_frame_n_cols(fr), 4);
	assert_string_equal(ns_frame_col_name(fr, 0), "id");
	assert_string_equal(ns_frame_col_name(fr, 2), "kind");
	assert_int_equal(ns_frame_col_kind(fr, 0), NS_COL_NUMERIC);
	assert_int_equal(ns_frame_col_kind(fr, 1), NS_COL_NUMERIC);
	assert_int_equal(ns_frame_col_kind(fr, 2), NS_COL_CATEGORY);
	id = ns_frame_numbers(fr, 0);
	x = ns_frame_numbers(fr, 1);
	kind = ns_frame_codes(fr, 2);
	for (size_t i = 0; i < 5; i++)
		assert_true(id[i] == (double)(i + 1));
	assert_true(x[0] == 0.5);
	assert_true(x[1] == -2.25);
	assert_true(isnan(x[2]));
	assert_true(x[3] == 1e-300);
	assert_true(x[4] == 0.1);
	assert_string_equal(ns_frame_level(fr, 2, kind[0]), "web");
	assert_string_equal(ns_frame_level(fr, 2, kind[1]), "mail, smtp");
	assert_string_equal(ns_frame_level(fr, 2, kind[2]), "say \"hi\"");
	assert_int_equal(kind[3], NS_FRAME_NA_CODE);
	assert_int_equal(kind[4], kind[0]);
	ns_frame_free(fr);
	fr = NULL;
	assert_int_equal(ns_store_read_frame(f->st, "nope", &fr, &d), NS_ERR_NOTFOUND);
	assert_null(fr);
	fixture_free(f);
}

static void assert_frames_equal(const struct ns_frame *a, const struct ns_frame *b)
{
	size_t n = ns_frame_n_rows(a);
	assert_int_equal(ns_frame_n_rows(b), n);
	assert_int_equal(ns_frame_n_cols(b), ns_frame_n_cols(a));
	for (size_t c = 0; c < ns_frame_n_cols(a); c++) {
		assert_string_equal(ns_frame_col_name(a, c), ns_frame_col_name(b, c));
		assert_int_equal(ns_frame_col_kind(a, c), ns_frame_col_kind(b, c));
		if (ns_frame_col_kind(a, c) == NS_COL_NUMERIC) {
			const double *x = ns_frame_numbers(a, c), *y = ns_frame_numbers(b, c);
			for (size_t r = 0; r < n; r++) {
				if (isnan(x[r]))
					assert_true(isnan(y[r]));
				else
					assert_memory_equal(&x[r], &y[r], sizeof(double));
			}
		} else {
			const uint32_t *x = ns_frame_codes(a, c), *y = ns_frame_codes(b, c);
			for (size_t r = 0; r < n; r++) {
				const char *s = ns_frame_level(a, c, x[r]);
				const char *t = ns_frame_level(b, c, y[r]);
				if (!s)
					assert_null(t);
				else
					assert_string_equal(s, t);
			}
		}
	}
}

/* Exports `collection` to `out`, ingests that into `copy` and compares. */
static void export_round_trip(struct ns_store *st, const struct ns_schema *schema,
			      const char *collection, const char *copy, const char *out)
{
	struct ns_frame *a = NULL, *b = NULL;
	struct ns_ingest_result res;
	struct ns_diag d;
	uint64_t n = count_rows(st, collection);
	FILE *fp = fopen(out, "wb");
	assert_non_null(fp);
	check_ok(ns_store_export_csv(st, collection, fp, &d), &d);
	assert_int_equal(fclose(fp), 0);
	check_ok(ingest(st, out, schema, copy, &res, &d), &d);
	assert_int_equal(res.n_rows, n);
	check_ok(ns_store_read_frame(st, collection, &a, &d), &d);
	check_ok(ns_store_read_frame(st, copy, &b, &d), &d);
	assert_frames_equal(a, b);
	ns_frame_free(a);
	ns_frame_free(b);
}

static void test_export_round_trip(void **state)
{
	struct fixture *f = fixture_new("export");
	struct ns_diag d;
	char *text;
	FILE *fp;
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "c", NULL, &d), &d);
	fp = fopen(f->other, "wb");
	assert_non_null(fp);
	check_ok(ns_store_export_csv(f->st, "c", fp, &d), &d);
	fclose(fp);
	text = read_text(f->other);
	assert_string_equal(text, "id,x,kind,label\n"
				  "1,0.5,web,0\n"
				  "2,-2.25,\"mail, smtp\",1\n"
				  "3,,\"say \"\"hi\"\"\",0\n"
				  "4,1e-300,,1\n"
				  "5,0.1,web,1\n");
	free(text);
	export_round_trip(f->st, f->schema, "c", "c_copy", f->other);
	fp = fopen(f->other, "wb");
	assert_non_null(fp);
	assert_int_equal(ns_store_export_csv(f->st, "nope", fp, &d), NS_ERR_NOTFOUND);
	fclose(fp);
	fixture_free(f);
}

/* A schema without a header row, and another delimiter: export follows it. */
static void test_export_headerless(void **state)
{
	struct fixture *f = fixture_new("noheader");
	struct ns_schema *s = parse_schema("header: false\ndelimiter: \";\"\ncolumns:\n"
					   "  - a: float\n  - b: category\n  - c: int\n"
					   "target: c\n");
	struct ns_diag d;
	char *text;
	FILE *fp;
	(void)state;
	write_text(f->csv, "1.5;x,y;1\n;z;0\n");
	check_ok(ingest(f->st, f->csv, s, "nh", NULL, &d), &d);
	fp = fopen(f->other, "wb");
	assert_non_null(fp);
	check_ok(ns_store_export_csv(f->st, "nh", fp, &d), &d);
	fclose(fp);
	text = read_text(f->other);
	assert_string_equal(text, "1.5;x,y;1\n;z;0\n");
	free(text);
	export_round_trip(f->st, s, "nh", "nh2", f->other);
	ns_schema_free(s);
	fixture_free(f);
}

static void test_phishing_export_round_trip(void **state)
{
	struct fixture *f = fixture_new("phexport");
	struct ns_schema *schema = phishing_schema();
	struct ns_diag d;
	(void)state;
	check_ok(ingest(f->st, PHISHING_CSV, schema, "p", NULL, &d), &d);
	export_round_trip(f->st, schema, "p", "p2", f->other);
	assert_int_equal(count_rows(f->st, "p2"), PHISHING_ROWS);
	ns_schema_free(schema);
	fixture_free(f);
}

struct listing {
	int n;
	char names[4][80];
	uint64_t rows[4], rejects[4], ingests[4];
};

static enum ns_status collect_collection(void *user, const struct ns_collection_info *c)
{
	struct listing *l = user;
	if (l->n < 4) {
		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", c->name);
		l->rows[l->n] = c->n_rows;
		l->rejects[l->n] = c->n_rejects;
		l->ingests[l->n] = c->n_ingests;
		assert_int_equal(strlen(c->schema_hash), 64);
		assert_true(c->updated_ms > 0);
	}
	l->n++;
	return NS_OK;
}

static void test_list_count_schema_drop(void **state)
{
	struct fixture *f = fixture_new("list");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct listing l;
	struct ns_schema *back = NULL;
	struct ns_diag d;
	char *y1 = NULL, *y2 = NULL;
	size_t n1, n2;
	(void)state;
	write_text(f->csv, small_csv);
	write_text(f->other, bad_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "zeta", NULL, &d), &d);
	p.collection = "alpha";
	p.skip_bad = true;
	check_ok(ns_store_ingest_csv(f->st, f->other, f->schema, &p, NULL, NULL, NULL, &d), &d);
	check_ok(ns_store_ingest_csv(f->st, f->csv, f->schema, &p, NULL, NULL, NULL, &d), &d);

	memset(&l, 0, sizeof(l));
	check_ok(ns_store_list(f->st, collect_collection, &l, &d), &d);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.names[0], "alpha");
	assert_int_equal(l.rows[0], 9);
	assert_int_equal(l.rejects[0], 2);
	assert_int_equal(l.ingests[0], 2);
	assert_string_equal(l.names[1], "zeta");
	assert_int_equal(l.rows[1], 5);
	assert_int_equal(l.rejects[1], 0);
	assert_int_equal(l.ingests[1], 1);

	check_ok(ns_store_schema(f->st, "zeta", &back, &d), &d);
	check_ok(ns_schema_to_yaml(back, &y1, &n1), NULL);
	check_ok(ns_schema_to_yaml(f->schema, &y2, &n2), NULL);
	assert_string_equal(y1, y2);
	ns_free(y1);
	ns_free(y2);
	ns_schema_free(back);
	back = NULL;
	assert_int_equal(ns_store_schema(f->st, "nope", &back, &d), NS_ERR_NOTFOUND);
	assert_null(back);

	check_ok(ns_store_drop(f->st, "alpha", &d), &d);
	assert_int_equal(count_rows(f->st, "alpha"), UINT64_MAX);
	assert_int_equal(ns_store_drop(f->st, "alpha", &d), NS_ERR_NOTFOUND);
	memset(&l, 0, sizeof(l));
	check_ok(ns_store_list(f->st, collect_collection, &l, &d), &d);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.names[0], "zeta");
	/* A dropped collection starts afresh (its hashes are forgotten). */
	p.skip_bad = false;
	check_ok(ns_store_ingest_csv(f->st, f->csv, f->schema, &p, NULL, NULL, NULL, &d), &d);
	assert_int_equal(count_rows(f->st, "alpha"), 5);
	fixture_free(f);
}

/* The file's layout is what docs/store.md promises to sqlite3 users. */
static void test_sqlite_layout(void **state)
{
	struct fixture *f = fixture_new("layout");
	struct ns_diag d;
	sqlite3 *db;
	sqlite3_stmt *q;
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "web-1", NULL, &d), &d);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db,
				   "SELECT id, x, kind, label, _ingest_id FROM \"data_web-1\""
				   " ORDER BY rowid",
				   -1, &q, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(q, 0), SQLITE_INTEGER);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	assert_true(sqlite3_column_double(q, 1) == 0.5);
	assert_string_equal((const char *)sqlite3_column_text(q, 2), "web");
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(q, 1), SQLITE_NULL); /* missing */
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT c.name, i.n_rows, i.source, length(i.sha256),"
					    " m.value FROM netsec_collections c"
					    " JOIN netsec_ingests i ON i.collection = c.name,"
					    " netsec_meta m WHERE m.key = 'format_version'",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "web-1");
	assert_int_equal(sqlite3_column_int(q, 1), 5);
	assert_string_equal((const char *)sqlite3_column_text(q, 2), f->csv);
	assert_int_equal(sqlite3_column_int(q, 3), 64);
	assert_int_equal(sqlite3_column_int(q, 4), 1);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
	fixture_free(f);
}

/* Many rows of every kind of cell, with rejects in between: each row reads
 * back with its own values in its own columns (multi-row INSERTs included). */
static void test_many_rows_values(void **state)
{
	struct fixture *f = fixture_new("manyrows");
	struct ns_ingest_params p = ns_ingest_params_default();
	struct ns_ingest_result res;
	struct ns_frame *fr = NULL;
	struct ns_diag d;
	const double *id, *x, *label;
	const uint32_t *kind;
	size_t r = 0;
	FILE *fp;
	(void)state;
	fp = fopen(f->csv, "wb");
	assert_non_null(fp);
	fputs("id,x,kind,label\n", fp);
	for (int i = 0; i < 1000; i++) {
		if (i % 50 == 49) {
			fprintf(fp, "%d,bad,k,0\n", i);
			continue;
		}
		fprintf(fp, "%d,", i);
		if (i % 11)
			fprintf(fp, "%g", i * 0.25);
		fputs(",", fp);
		if (i % 17)
			fprintf(fp, "k%d", i % 13);
		fprintf(fp, ",%d\n", i % 2);
	}
	assert_int_equal(fclose(fp), 0);
	p.collection = "many";
	p.skip_bad = true;
	check_ok(ns_store_ingest_csv(f->st, f->csv, f->schema, &p, NULL, NULL, &res, &d), &d);
	assert_int_equal(res.n_rows, 980);
	assert_int_equal(res.n_bad, 20);
	check_ok(ns_store_read_frame(f->st, "many", &fr, &d), &d);
	assert_int_equal(ns_frame_n_rows(fr), 980);
	id = ns_frame_numbers(fr, 0);
	x = ns_frame_numbers(fr, 1);
	kind = ns_frame_codes(fr, 2);
	label = ns_frame_numbers(fr, 3);
	for (int i = 0; i < 1000; i++) {
		char want[16];
		if (i % 50 == 49)
			continue;
		assert_true(id[r] == i);
		if (i % 11)
			assert_true(x[r] == i * 0.25);
		else
			assert_true(isnan(x[r]));
		if (i % 17) {
			snprintf(want, sizeof(want), "k%d", i % 13);
			assert_string_equal(ns_frame_level(fr, 2, kind[r]), want);
		} else {
			assert_int_equal(kind[r], NS_FRAME_NA_CODE);
		}
		assert_true(label[r] == i % 2);
		r++;
	}
	ns_frame_free(fr);
	fixture_free(f);
}

/* Column names with quotes and spaces survive as SQL identifiers. */
static void test_odd_column_names(void **state)
{
	struct fixture *f = fixture_new("oddnames");
	struct ns_schema *s = parse_schema("columns:\n"
					   "  - 'a \"quoted\" name': int\n"
					   "  - 'drop table x; --': category\n"
					   "  - label: int\n"
					   "target: label\n");
	struct ns_frame *fr = NULL;
	struct ns_diag d;
	(void)state;
	write_text(f->csv, "\"a \"\"quoted\"\" name\",drop table x; --,label\n1,z,0\n2,y,1\n");
	check_ok(ingest(f->st, f->csv, s, "odd", NULL, &d), &d);
	check_ok(ns_store_read_frame(f->st, "odd", &fr, &d), &d);
	assert_int_equal(ns_frame_n_rows(fr), 2);
	assert_string_equal(ns_frame_col_name(fr, 0), "a \"quoted\" name");
	assert_true(ns_frame_numbers(fr, 0)[1] == 2.0);
	assert_string_equal(ns_frame_level(fr, 1, ns_frame_codes(fr, 1)[0]), "z");
	ns_frame_free(fr);
	ns_schema_free(s);
	fixture_free(f);
}

/* ---- faults and crashes ------------------------------------------------------------ */

static void test_alloc_faults(void **state)
{
	struct fixture *f = fixture_new("faults");
	struct ns_ingest_result res;
	struct ns_frame *fr = NULL;
	struct ns_diag d;
	enum ns_status s = NS_ERR_NOMEM;
	long n;
	(void)state;
	write_text(f->csv, small_csv);
	write_text(f->other, bad_csv);
	for (n = 0; n < 100000; n++) {
		ns_alloc_fail_after(n);
		s = ingest(f->st, f->csv, f->schema, "c", &res, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK)
			break;
		assert_int_not_equal(d.status, NS_OK);
		assert_int_equal(count_rows(f->st, "c"), UINT64_MAX);
	}
	assert_int_equal(s, NS_OK);
	assert_true(n > 0);
	assert_int_equal(count_rows(f->st, "c"), 5);

	/* The same with skip_bad into an existing collection. */
	for (n = 0; n < 100000; n++) {
		struct ns_ingest_params p = ns_ingest_params_default();
		p.collection = "c";
		p.skip_bad = true;
		ns_alloc_fail_after(n);
		s = ns_store_ingest_csv(f->st, f->other, f->schema, &p, NULL, NULL, &res, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK)
			break;
		assert_int_equal(count_rows(f->st, "c"), 5);
	}
	assert_int_equal(s, NS_OK);
	assert_int_equal(count_rows(f->st, "c"), 9);

	/* Reading back under faults. */
	for (n = 0; n < 100000; n++) {
		ns_alloc_fail_after(n);
		s = ns_store_read_frame(f->st, "c", &fr, &d);
		ns_alloc_fail_reset();
		if (s == NS_OK)
			break;
		assert_null(fr);
	}
	assert_int_equal(s, NS_OK);
	assert_int_equal(ns_frame_n_rows(fr), 9);
	ns_frame_free(fr);
	fixture_free(f);
}

static void kill_on_problem(void *user, const struct ns_problem *p)
{
	(void)user;
	(void)p;
	raise(SIGKILL);
}

/* A process killed in the middle of an ingest leaves nothing of it behind. */
static void test_killed_mid_ingest(void **state)
{
	struct fixture *f = fixture_new("killed");
	FILE *fp;
	pid_t pid;
	int status;
	struct ns_diag d;
	sqlite3 *db;
	sqlite3_stmt *q;
	(void)state;
	write_text(f->csv, small_csv);
	check_ok(ingest(f->st, f->csv, f->schema, "c", NULL, &d), &d);
	/* 200,000 good rows, then a bad one whose problem kills the process. */
	fp = fopen(f->other, "wb");
	assert_non_null(fp);
	fputs("id,x,kind,label\n", fp);
	for (int i = 0; i < 200000; i++)
		fprintf(fp, "%d,%d.5,k%d,%d\n", i, i, i % 7, i % 2);
	fputs("1,oops,web,0\n", fp);
	assert_int_equal(fclose(fp), 0);
	/* No SQLite connection may cross a fork: close ours first. */
	ns_store_close(f->st);
	f->st = NULL;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ns_store *st = NULL;
		struct ns_ingest_params p = ns_ingest_params_default();
		if (ns_store_open(f->db, &st, NULL) != NS_OK)
			_exit(3);
		p.collection = "c";
		p.skip_bad = true;
		ns_store_ingest_csv(st, f->other, f->schema, &p, kill_on_problem, NULL, NULL, NULL);
		_exit(4); /* not reached */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	/* A fresh connection sees the store as it was before. */
	f->st = open_store(f->db);
	assert_int_equal(count_rows(f->st, "c"), 5);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	assert_int_equal(
		sqlite3_prepare_v2(db, "SELECT count(*) FROM netsec_ingests", -1, &q, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
	sqlite3_close(db);
	/* And the store takes the same file once the bad row is gone. */
	fixture_free(f);
}

/* "-" reads standard input; the ingest's source is "stdin". */
static void test_ingest_stdin(void **state)
{
	struct fixture *f = fixture_new("stdin");
	struct ns_ingest_result res;
	struct ns_diag d;
	sqlite3 *db;
	sqlite3_stmt *q;
	(void)state;
	write_text(f->csv, small_csv);
	assert_non_null(freopen(f->csv, "rb", stdin));
	check_ok(ingest(f->st, "-", f->schema, "in", &res, &d), &d);
	assert_int_equal(res.n_rows, 5);
	assert_int_equal(count_rows(f->st, "in"), 5);
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT source FROM netsec_ingests", -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "stdin");
	sqlite3_finalize(q);
	sqlite3_close(db);
	fixture_free(f);
}

/* ---- the ingest pipeline, against a fake backend ------------------------------------ */

struct fake_backend {
	long n_rows, n_rejects;
	long fail_at; /* the insert that fails (0: none) */
	bool order_ok;
	long next; /* the id the next entry must carry */
};

static enum ns_status fake_insert(void *impl, const struct ns_value *values, size_t n_rows,
				  struct ns_diag *diag)
{
	struct fake_backend *fb = impl;
	for (size_t r = 0; r < n_rows; r++) {
		const struct ns_value *v = &values[r * 3];
		char want[32];
		long id = (long)v[0].num;
		fb->n_rows++;
		if (fb->fail_at && fb->n_rows == fb->fail_at)
			return ns_diag_set(diag, NS_ERR_STORE, "boom at row %ld", id);
		snprintf(want, sizeof(want), "k%ld", id % 7);
		if (id != fb->next || v[1].missing != (id % 5 == 0) ||
		    (!v[1].missing && (v[1].len != strlen(want) || strcmp(v[1].str, want) != 0)) ||
		    v[2].num != id * 0.5)
			fb->order_ok = false;
		fb->next++;
	}
	return NS_OK;
}

static enum ns_status fake_reject(void *impl, uint64_t line, const char *reason, const char *raw,
				  size_t raw_len, struct ns_diag *diag)
{
	struct fake_backend *fb = impl;
	char want[32];
	(void)diag;
	snprintf(want, sizeof(want), "raw %ld", fb->next);
	if ((long)line != fb->next || strcmp(reason, "bad") != 0 || raw_len != strlen(want) ||
	    memcmp(raw, want, raw_len) != 0)
		fb->order_ok = false;
	fb->n_rejects++;
	fb->next++;
	return NS_OK;
}

static const struct ns__store_backend fake = {
	.scheme = "fake",
	.insert = fake_insert,
	.reject = fake_reject,
};

/* Feeds n entries (every 97th a reject); returns the first error. */
static enum ns_status feed_pipe(struct ns__store_pipe *p, long n, struct ns_diag *d)
{
	struct ns_value v[3];
	char cat[32];
	enum ns_status s = NS_OK;
	for (long i = 0; s == NS_OK && i < n; i++) {
		if (i % 97 == 96) {
			char raw[32];
			snprintf(raw, sizeof(raw), "raw %ld", i);
			s = ns__store_pipe_reject(p, (uint64_t)i, "bad", raw, strlen(raw), d);
			continue;
		}
		memset(v, 0, sizeof(v));
		v[0].num = (double)i;
		v[1].missing = i % 5 == 0;
		snprintf(cat, sizeof(cat), "k%ld", i % 7);
		v[1].str = cat;
		v[1].len = strlen(cat);
		v[2].num = i * 0.5;
		s = ns__store_pipe_row(p, v, d);
		/* The caller's buffer is reused at once: the pipe must have copied it. */
		memset(cat, 'X', sizeof(cat));
	}
	return s;
}

static void test_pipe_order_and_errors(void **state)
{
	struct ns_schema *schema =
		parse_schema("columns:\n  - id: int\n  - kind: category\n  - x: float\n");
	struct fake_backend fb;
	struct ns__store_pipe *p = NULL;
	struct ns_diag d;
	long n;
	(void)state;
	/* 100,000 entries: many batches, in order, strings intact. */
	memset(&fb, 0, sizeof(fb));
	fb.order_ok = true;
	check_ok(ns__store_pipe_create(&fake, &fb, schema, &p), NULL);
	check_ok(feed_pipe(p, 100000, &d), &d);
	check_ok(ns__store_pipe_finish(p, &d), &d);
	ns__store_pipe_free(p);
	assert_true(fb.order_ok);
	assert_int_equal(fb.n_rejects, 100000 / 97);
	assert_int_equal(fb.n_rows + fb.n_rejects, 100000);

	/* A backend error comes back (from a later call or from finish), with
	 * its diag, and nothing after it is stored. */
	memset(&fb, 0, sizeof(fb));
	fb.order_ok = true;
	fb.fail_at = 5000;
	check_ok(ns__store_pipe_create(&fake, &fb, schema, &p), NULL);
	ns_diag_clear(&d);
	if (feed_pipe(p, 100000, &d) == NS_OK)
		assert_int_equal(ns__store_pipe_finish(p, &d), NS_ERR_STORE);
	assert_int_equal(d.status, NS_ERR_STORE);
	/* Row 5000 is entry 5051: 51 rejects come before it. */
	assert_string_equal(d.message, "boom at row 5051");
	assert_int_equal(ns__store_pipe_finish(p, &d), NS_ERR_STORE);
	ns__store_pipe_free(p);
	assert_int_equal(fb.n_rows, 5000);

	/* Freed without finish (an ingest that failed elsewhere). */
	for (n = 0; n < 3; n++) {
		memset(&fb, 0, sizeof(fb));
		fb.order_ok = true;
		check_ok(ns__store_pipe_create(&fake, &fb, schema, &p), NULL);
		check_ok(feed_pipe(p, n * 20000, &d), &d);
		ns__store_pipe_free(p);
		assert_true(fb.order_ok);
	}
	ns_schema_free(schema);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_create),
		cmocka_unit_test(test_unknown_scheme),
		cmocka_unit_test(test_not_a_store),
		cmocka_unit_test(test_newer_version_refused),
		cmocka_unit_test(test_bad_collection_name),
		cmocka_unit_test(test_phishing_ingest),
		cmocka_unit_test(test_ingest_hash),
		cmocka_unit_test(test_bad_row_rejects_file),
		cmocka_unit_test(test_skip_bad),
		cmocka_unit_test(test_syntax_error_stores_nothing),
		cmocka_unit_test(test_empty_files),
		cmocka_unit_test(test_header_mismatch),
		cmocka_unit_test(test_schema_mismatch),
		cmocka_unit_test(test_read_frame_values),
		cmocka_unit_test(test_export_round_trip),
		cmocka_unit_test(test_export_headerless),
		cmocka_unit_test(test_phishing_export_round_trip),
		cmocka_unit_test(test_list_count_schema_drop),
		cmocka_unit_test(test_sqlite_layout),
		cmocka_unit_test(test_many_rows_values),
		cmocka_unit_test(test_odd_column_names),
		cmocka_unit_test(test_alloc_faults),
		cmocka_unit_test(test_killed_mid_ingest),
		cmocka_unit_test(test_ingest_stdin),
		cmocka_unit_test(test_pipe_order_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
