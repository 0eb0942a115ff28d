/*
 * tests/unit/store/test_store_contract.c - one store contract, run against
 * every backend: SQLite (a temporary file) always, and MongoDB when
 * NETSEC_TEST_MONGO_URI names a server (tests/integration/test_mongo.sh and
 * scripts/test-servers/mongo.sh start a CongoDB for it); without it the
 * MongoDB half is skipped with a message.
 *
 * The contract: ingest, the duplicate-file check, skip_bad rejects, replace,
 * schema clashes, list/count/schema, read_frame values and NA mapping, CSV
 * export, drop, and the prediction log's series/totals/prune.  MongoDB-only
 * cases: documents written by another program (the reference project's
 * shape), an ingest abandoned by a dead process and cleaned by the next
 * open, connection errors that name host:port and never the password, and
 * the URI redaction helper.
 *
 * Each MongoDB test runs in a database of its own (netsec_t<pid>_<n>),
 * dropped at the end.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <mongoc/mongoc.h>

#include "netsec/core.h"
#include "netsec/frame.h"
#include "netsec/schema.h"
#include "netsec/store.h"
#include "netsec/config.h"
#include "store/store_mongo.h"

#define PHISHING_CSV NETSEC_SOURCE_DIR "/data/phisingData.csv"
#define PHISHING_SCHEMA NETSEC_SOURCE_DIR "/data/schema.yaml"
#define PHISHING_ROWS 11055

enum backend { BE_SQLITE, BE_MONGO };

struct ctx {
	enum backend be;
	char uri[512];
	char dbname[64]; /* MongoDB: the test's database */
	char tmp[256]; /* a scratch file prefix */
	struct ns_store *st;
};

static int n_ctx;

/* ---- helpers ------------------------------------------------------------------ */

static void check_ok(enum ns_status st, const struct ns_diag *d)
{
	if (st != NS_OK) {
		char buf[1024];
		print_error("unexpected %s: %s\n", ns_status_name(st),
			    ns_diag_format(d, buf, sizeof(buf)));
	}
	assert_int_equal(st, NS_OK);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *s;
	long n;
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	s[n] = '\0';
	fclose(fp);
	return s;
}

static struct ns_schema *parse_schema(const char *yaml)
{
	struct ns_schema *s = NULL;
	struct ns_diag d;
	check_ok(ns_schema_parse(yaml, strlen(yaml), "test", &s, &d), &d);
	return s;
}

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

static enum ns_status ingest_p(struct ns_store *st, const char *path, const struct ns_schema *sc,
			       const char *collection, bool replace, bool skip_bad, bool dup,
			       struct ns_ingest_result *res, struct ns_diag *d)
{
	struct ns_ingest_params p = ns_ingest_params_default();
	p.collection = collection;
	p.replace = replace;
	p.skip_bad = skip_bad;
	p.allow_duplicate = dup;
	return ns_store_ingest_csv(st, path, sc, &p, NULL, NULL, res, d);
}

/* Builds the test's MongoDB URI: the server's URI with our own database in
 * its path (mongodb://HOSTS[/DB][?OPTS]). */
static void mongo_uri_for(struct ctx *c, const char *base)
{
	const char *hosts = strstr(base, "://");
	size_t end;
	const char *q;
	assert_non_null(hosts);
	hosts += 3;
	end = (size_t)(hosts - base) + strcspn(hosts, "/?");
	q = strchr(base + end, '?');
	snprintf(c->dbname, sizeof(c->dbname), "netsec_t%ld_%d", (long)getpid(), ++n_ctx);
	snprintf(c->uri, sizeof(c->uri), "%.*s/%s%s", (int)end, base, c->dbname, q ? q : "");
}

/* A raw libmongoc client on the test's database (the caller destroys it). */
static mongoc_client_t *raw_client(const struct ctx *c)
{
	mongoc_client_t *cl = mongoc_client_new(c->uri);
	assert_non_null(cl);
	mongoc_client_set_error_api(cl, MONGOC_ERROR_API_VERSION_2);
	return cl;
}

static int setup(void **state)
{
	const enum backend *be = *state;
	struct ctx *c = calloc(1, sizeof(*c));
	struct ns_diag d;
	assert_non_null(c);
	c->be = *be;
	snprintf(c->tmp, sizeof(c->tmp), "%s/contract_%ld_%d", NETSEC_TEST_TMP, (long)getpid(),
		 ++n_ctx);
	if (c->be == BE_SQLITE) {
		snprintf(c->uri, sizeof(c->uri), "sqlite:%s.db", c->tmp);
	} else {
		const char *base = getenv("NETSEC_TEST_MONGO_URI");
		assert_non_null(base);
		mongo_uri_for(c, base);
	}
	check_ok(ns_store_open(c->uri, &c->st, &d), &d);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char p[300];
	if (!c)
		return 0;
	ns_store_close(c->st);
	if (c->be == BE_SQLITE) {
		static const char *const sfx[] = {".db", ".db-wal", ".db-shm", ".csv", ".out"};
		for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
			snprintf(p, sizeof(p), "%s%s", c->tmp, sfx[i]);
			unlink(p);
		}
	} else {
		mongoc_client_t *cl = raw_client(c);
		mongoc_database_t *db = mongoc_client_get_database(cl, c->dbname);
		mongoc_database_drop(db, NULL);
		mongoc_database_destroy(db);
		mongoc_client_destroy(cl);
		snprintf(p, sizeof(p), "%s.csv", c->tmp);
		unlink(p);
		snprintf(p, sizeof(p), "%s.out", c->tmp);
		unlink(p);
	}
	free(c);
	return 0;
}

static void tmp_file(const struct ctx *c, const char *sfx, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", c->tmp, sfx);
}

/* Exports a collection into a new string (free()). */
static char *export_text(struct ctx *c, const char *collection, bool rejects)
{
	char path[300];
	struct ns_diag d;
	FILE *fp;
	char *s;
	tmp_file(c, ".out", path, sizeof(path));
	fp = fopen(path, "wb");
	assert_non_null(fp);
	if (rejects)
		check_ok(ns_store_export_rejects(c->st, collection, fp, &d), &d);
	else
		check_ok(ns_store_export_csv(c->st, collection, fp, &d), &d);
	assert_int_equal(fclose(fp), 0);
	s = read_text(path);
	unlink(path);
	return s;
}

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
				"4,1e-300,NA,1\n"
				"5,0.1,web,1\n";

/* ---- the contract ------------------------------------------------------------------- */

static void test_ingest_duplicate_replace(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = NULL;
	struct ns_ingest_result r;
	struct ns_diag d;
	check_ok(ns_schema_load(PHISHING_SCHEMA, &sc, &d), &d);

	check_ok(ingest_p(c->st, PHISHING_CSV, sc, "phishing", false, false, false, &r, &d), &d);
	assert_int_equal(r.n_rows, PHISHING_ROWS);
	assert_false(r.duplicate);
	assert_true(r.ingest_id > 0);
	assert_int_equal(count_rows(c->st, "phishing"), PHISHING_ROWS);

	/* The same file again: a duplicate, nothing stored. */
	check_ok(ingest_p(c->st, PHISHING_CSV, sc, "phishing", false, false, false, &r, &d), &d);
	assert_true(r.duplicate);
	assert_int_equal(r.n_rows, 0);
	assert_int_equal(count_rows(c->st, "phishing"), PHISHING_ROWS);

	/* Asked for: stored twice. */
	check_ok(ingest_p(c->st, PHISHING_CSV, sc, "phishing", false, false, true, &r, &d), &d);
	assert_false(r.duplicate);
	assert_int_equal(count_rows(c->st, "phishing"), 2 * PHISHING_ROWS);

	/* Replace starts over (history too: the file is not a duplicate). */
	check_ok(ingest_p(c->st, PHISHING_CSV, sc, "phishing", true, false, false, &r, &d), &d);
	assert_false(r.duplicate);
	assert_int_equal(count_rows(c->st, "phishing"), PHISHING_ROWS);
	check_ok(ingest_p(c->st, PHISHING_CSV, sc, "phishing", false, false, false, &r, &d), &d);
	assert_true(r.duplicate);
	ns_schema_free(sc);
}

struct list_seen {
	int n;
	char names[4][32];
	uint64_t rows[4], rejects[4], ingests[4];
};

static enum ns_status on_coll(void *user, const struct ns_collection_info *ci)
{
	struct list_seen *ls = user;
	if (ls->n < 4) {
		snprintf(ls->names[ls->n], sizeof(ls->names[0]), "%s", ci->name);
		ls->rows[ls->n] = ci->n_rows;
		ls->rejects[ls->n] = ci->n_rejects;
		ls->ingests[ls->n] = ci->n_ingests;
		assert_int_equal(strlen(ci->schema_hash), 64);
		assert_true(ci->updated_ms > 0);
	}
	ls->n++;
	return NS_OK;
}

static void test_list_count_schema_clash(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = parse_schema(small_yaml), *other, *back = NULL;
	struct ns_diag d;
	struct list_seen ls;
	char csv[300];
	char hash_a[65], hash_b[65];
	tmp_file(c, ".csv", csv, sizeof(csv));
	write_text(csv, small_csv);

	assert_int_equal(count_rows(c->st, "b"), UINT64_MAX);
	check_ok(ingest_p(c->st, csv, sc, "b", false, false, false, NULL, &d), &d);
	check_ok(ingest_p(c->st, csv, sc, "a", false, false, false, NULL, &d), &d);
	check_ok(ingest_p(c->st, csv, sc, "a", false, false, true, NULL, &d), &d);
	memset(&ls, 0, sizeof(ls));
	check_ok(ns_store_list(c->st, on_coll, &ls, &d), &d);
	assert_int_equal(ls.n, 2);
	assert_string_equal(ls.names[0], "a");
	assert_string_equal(ls.names[1], "b");
	assert_int_equal(ls.rows[0], 10);
	assert_int_equal(ls.ingests[0], 2);
	assert_int_equal(ls.rows[1], 5);

	/* The stored schema reads back as the same schema. */
	check_ok(ns_store_schema(c->st, "a", &back, &d), &d);
	assert_int_equal(ns_schema_hash(sc, hash_a), NS_OK);
	assert_int_equal(ns_schema_hash(back, hash_b), NS_OK);
	assert_string_equal(hash_a, hash_b);
	ns_schema_free(back);
	assert_int_equal(ns_store_schema(c->st, "zzz", &back, &d), NS_ERR_NOTFOUND);

	/* Another schema is refused without replace; a case clash always. */
	other = parse_schema("columns:\n  - id: int\n  - x: float\n  - kind: category\n"
			     "  - label: int\ntarget: label\nname: other\n");
	assert_int_equal(ingest_p(c->st, csv, other, "a", false, false, true, NULL, &d),
			 NS_ERR_SCHEMA);
	assert_int_equal(count_rows(c->st, "a"), 10);
	check_ok(ingest_p(c->st, csv, other, "a", true, false, true, NULL, &d), &d);
	assert_int_equal(count_rows(c->st, "a"), 5);
	assert_int_equal(ingest_p(c->st, csv, sc, "A", false, false, false, NULL, &d),
			 NS_ERR_EXISTS);
	assert_int_equal(count_rows(c->st, "A"), UINT64_MAX);
	ns_schema_free(other);
	ns_schema_free(sc);
}

static void test_skip_bad_rejects(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = parse_schema(small_yaml);
	struct ns_ingest_result r;
	struct ns_diag d;
	char csv[300], *rej;
	tmp_file(c, ".csv", csv, sizeof(csv));
	write_text(csv, "id,x,kind,label\n"
			"1,0.5,web,0\n"
			"two,1,web,1\n"
			"3,2,mail,0\n"
			"4,zz,web,1\n");
	/* Without skip_bad: nothing stored, the collection is not created. */
	assert_int_equal(ingest_p(c->st, csv, sc, "bad", false, false, false, &r, &d),
			 NS_ERR_SCHEMA);
	assert_int_equal(d.line, 3);
	assert_int_equal(count_rows(c->st, "bad"), UINT64_MAX);
	/* With it: the good rows and the rejects with their lines. */
	check_ok(ingest_p(c->st, csv, sc, "bad", false, true, false, &r, &d), &d);
	assert_int_equal(r.n_rows, 2);
	assert_int_equal(r.n_bad, 2);
	assert_int_equal(count_rows(c->st, "bad"), 2);
	rej = export_text(c, "bad", true);
	assert_non_null(strstr(rej, "ingest_id,line,reason,raw\n"));
	assert_non_null(strstr(rej, ",3,\"id: "));
	assert_non_null(strstr(rej, ",5,\"x: "));
	assert_non_null(strstr(rej, "\"two,1,web,1\""));
	free(rej);
	ns_schema_free(sc);
}

static void test_frame_values_export(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = parse_schema(small_yaml);
	struct ns_frame *f = NULL;
	struct ns_diag d;
	char csv[300], *out;
	const double *id, *x;
	const uint32_t *kind;
	tmp_file(c, ".csv", csv, sizeof(csv));
	write_text(csv, small_csv);
	check_ok(ingest_p(c->st, csv, sc, "small", false, false, false, NULL, &d), &d);
	check_ok(ns_store_read_frame(c->st, "small", &f, &d), &d);
	assert_int_equal(ns_frame_n_rows(f), 5);
	assert_int_equal(ns_frame_n_cols(f), 4);
	id = ns_frame_numbers(f, 0);
	x = ns_frame_numbers(f, 1);
	kind = ns_frame_codes(f, 2);
	for (size_t i = 0; i < 5; i++)
		assert_true(id[i] == (double)(i + 1)); /* ingest order */
	assert_true(x[0] == 0.5 && x[1] == -2.25 && x[3] == 1e-300 && x[4] == 0.1);
	assert_true(isnan(x[2]));
	assert_string_equal(ns_frame_level(f, 2, kind[0]), "web");
	assert_string_equal(ns_frame_level(f, 2, kind[1]), "mail, smtp");
	assert_string_equal(ns_frame_level(f, 2, kind[2]), "say \"hi\"");
	assert_true(kind[3] == kind[3]); /* NA: missing (checked through the export) */
	ns_frame_free(f);

	out = export_text(c, "small", false);
	assert_string_equal(out, "id,x,kind,label\n"
				 "1,0.5,web,0\n"
				 "2,-2.25,\"mail, smtp\",1\n"
				 "3,,\"say \"\"hi\"\"\",0\n"
				 "4,1e-300,,1\n"
				 "5,0.1,web,1\n");
	free(out);
	assert_int_equal(ns_store_read_frame(c->st, "none", &f, &d), NS_ERR_NOTFOUND);
	ns_schema_free(sc);
}

static void test_drop(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = parse_schema(small_yaml);
	struct ns_ingest_result r;
	struct ns_diag d;
	char csv[300];
	tmp_file(c, ".csv", csv, sizeof(csv));
	write_text(csv, small_csv);
	check_ok(ingest_p(c->st, csv, sc, "gone", false, false, false, NULL, &d), &d);
	check_ok(ns_store_drop(c->st, "gone", &d), &d);
	assert_int_equal(count_rows(c->st, "gone"), UINT64_MAX);
	assert_int_equal(ns_store_drop(c->st, "gone", &d), NS_ERR_NOTFOUND);
	/* A dropped collection forgets its files. */
	check_ok(ingest_p(c->st, csv, sc, "gone", false, false, false, &r, &d), &d);
	assert_false(r.duplicate);
	assert_int_equal(count_rows(c->st, "gone"), 5);
	ns_schema_free(sc);
}

static void log_one(struct ns_store *st, int64_t t, uint64_t benign, uint64_t threat,
		    const char *raw)
{
	static const char *const labels[] = {"1", "-1"};
	uint64_t counts[2] = {benign, threat};
	bool thr[2] = {false, true};
	struct ns_prediction_log e;
	struct ns_diag d;
	memset(&e, 0, sizeof(e));
	e.time_ms = t;
	e.request_id = "r";
	e.source = "/predict";
	e.model_name = "netsec";
	e.model_version = 3;
	e.n_rows = benign + threat;
	e.n_classes = 2;
	e.labels = labels;
	e.counts = counts;
	e.is_threat = thr;
	e.seconds = 0.01;
	e.raw_csv = raw;
	e.raw_len = raw ? strlen(raw) : 0;
	check_ok(ns_store_log_prediction(st, &e, &d), &d);
}

static void test_prediction_log(void **state)
{
	struct ctx *c = *state;
	struct ns_prediction_bucket *b = NULL;
	struct ns_prediction_class_total *t = NULL;
	struct ns_diag d;
	size_t n = 0;
	uint64_t del = 0;

	log_one(c->st, 1000, 3, 1, NULL);
	log_one(c->st, 1500, 2, 2, "a,b\n1,2\n");
	log_one(c->st, 2500, 0, 5, NULL);
	log_one(c->st, 9000, 7, 0, NULL);
	check_ok(ns_store_prediction_series(c->st, 1000, 4000, 1000, &b, &n, &d), &d);
	assert_int_equal(n, 3);
	assert_int_equal(b[0].start_ms, 1000);
	assert_int_equal(b[0].requests, 2);
	assert_int_equal(b[0].rows, 8);
	assert_int_equal(b[0].threat_rows, 3);
	assert_int_equal(b[1].requests, 1);
	assert_int_equal(b[1].threat_rows, 5);
	assert_int_equal(b[2].requests, 0);
	ns_free(b);

	check_ok(ns_store_prediction_totals(c->st, 0, 5000, &t, &n, &d), &d);
	assert_int_equal(n, 2);
	assert_string_equal(t[0].label, "-1");
	assert_int_equal(t[0].count, 8);
	assert_true(t[0].is_threat);
	assert_string_equal(t[1].label, "1");
	assert_int_equal(t[1].count, 5);
	assert_false(t[1].is_threat);
	ns_free(t);
	check_ok(ns_store_prediction_totals(c->st, 20000, 30000, &t, &n, &d), &d);
	assert_int_equal(n, 0);

	check_ok(ns_store_prediction_prune(c->st, 2500, &del, &d), &d);
	assert_int_equal(del, 2);
	check_ok(ns_store_prediction_series(c->st, 0, 10000, 10000, &b, &n, &d), &d);
	assert_int_equal(n, 1);
	assert_int_equal(b[0].requests, 2);
	assert_int_equal(b[0].rows, 12);
	ns_free(b);
	check_ok(ns_store_prediction_prune(c->st, 100000, &del, &d), &d);
	assert_int_equal(del, 2);
}

/* ---- MongoDB only ------------------------------------------------------------------ */

static void insert_json(mongoc_client_t *cl, const char *db, const char *coll, const char *json)
{
	bson_error_t err;
	bson_t *doc = bson_new_from_json((const uint8_t *)json, -1, &err);
	mongoc_collection_t *c = mongoc_client_get_collection(cl, db, coll);
	if (!doc)
		fail_msg("bad JSON %s: %s", json, err.message);
	if (!mongoc_collection_insert_one(c, doc, NULL, NULL, &err))
		fail_msg("insert: %s", err.message);
	bson_destroy(doc);
	mongoc_collection_destroy(c);
}

/*
 * Documents written by another program: the reference project's shape (one
 * document per CSV row, field names = column names, numbers or strings,
 * ObjectId _ids), registered by a hand-made netsec_collections entry, and
 * every BSON type the reader maps.
 */
static void test_mongo_foreign_documents(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = parse_schema(small_yaml);
	mongoc_client_t *cl = raw_client(c);
	struct ns_frame *f = NULL;
	struct ns_diag d;
	char *yaml = NULL, hash[65], *out;
	const double *id, *x, *label;
	const uint32_t *kind;

	assert_int_equal(ns_schema_to_yaml(sc, &yaml, NULL), NS_OK);
	assert_int_equal(ns_schema_hash(sc, hash), NS_OK);
	{
		bson_t e = BSON_INITIALIZER;
		mongoc_collection_t *cc =
			mongoc_client_get_collection(cl, c->dbname, "netsec_collections");
		bson_error_t err;
		BSON_APPEND_UTF8(&e, "name", "ref");
		BSON_APPEND_UTF8(&e, "schema_yaml", yaml);
		BSON_APPEND_UTF8(&e, "schema_hash", hash);
		BSON_APPEND_UTF8(&e, "data", "reference_rows");
		if (!mongoc_collection_insert_one(cc, &e, NULL, NULL, &err))
			fail_msg("insert: %s", err.message);
		bson_destroy(&e);
		mongoc_collection_destroy(cc);
	}
	/* Ordered by ObjectId, as written. */
	insert_json(cl, c->dbname, "reference_rows",
		    "{\"_id\": {\"$oid\": \"650000000000000000000001\"}, \"id\": 1, \"x\": 0.5,"
		    " \"kind\": \"web\", \"label\": -1}");
	insert_json(
		cl, c->dbname, "reference_rows",
		"{\"_id\": {\"$oid\": \"650000000000000000000002\"}, \"label\": {\"$numberLong\":"
		" \"1\"}, \"kind\": 7, \"x\": \"na\", \"id\": {\"$numberDouble\": \"2\"},"
		" \"extra\": [1, 2]}");
	insert_json(cl, c->dbname, "reference_rows",
		    "{\"_id\": {\"$oid\": \"650000000000000000000003\"}, \"id\": \" 3 \", \"x\":"
		    " {\"$numberDecimal\": \"2.5\"}, \"kind\": null, \"label\": true}");
	insert_json(
		cl, c->dbname, "reference_rows",
		"{\"_id\": {\"$oid\": \"650000000000000000000004\"}, \"id\": \"NA\", \"x\": \"\","
		" \"kind\": \"NA\", \"label\": false}");
	insert_json(
		cl, c->dbname, "reference_rows",
		"{\"_id\": {\"$oid\": \"650000000000000000000005\"}, \"id\": 5, \"x\": 1.25e3}");

	assert_int_equal(count_rows(c->st, "ref"), 5);
	check_ok(ns_store_read_frame(c->st, "ref", &f, &d), &d);
	assert_int_equal(ns_frame_n_rows(f), 5);
	id = ns_frame_numbers(f, 0);
	x = ns_frame_numbers(f, 1);
	kind = ns_frame_codes(f, 2);
	label = ns_frame_numbers(f, 3);
	assert_true(id[0] == 1 && id[1] == 2 && id[2] == 3 && isnan(id[3]) && id[4] == 5);
	assert_true(x[0] == 0.5 && isnan(x[1]) && x[2] == 2.5 && isnan(x[3]) && x[4] == 1250);
	assert_string_equal(ns_frame_level(f, 2, kind[0]), "web");
	assert_string_equal(ns_frame_level(f, 2, kind[1]), "7");
	assert_true(label[0] == -1 && label[1] == 1 && label[2] == 1 && label[3] == 0 &&
		    isnan(label[4]));
	ns_frame_free(f);
	out = export_text(c, "ref", false);
	assert_string_equal(out, "id,x,kind,label\n"
				 "1,0.5,web,-1\n"
				 "2,,7,1\n"
				 "3,2.5,,1\n"
				 ",,,0\n"
				 "5,1250,,\n");
	free(out);

	/* Text that is not a number in a numeric column is an error naming it. */
	insert_json(cl, c->dbname, "reference_rows", "{\"id\": \"abc\"}");
	assert_int_equal(ns_store_read_frame(c->st, "ref", &f, &d), NS_ERR_CORRUPT);
	assert_string_equal(d.field, "id");
	ns_free(yaml);
	mongoc_client_destroy(cl);
	ns_schema_free(sc);
}

/* An ingest whose process died: invisible at once, removed by the next open. */
static void test_mongo_abandoned_ingest(void **state)
{
	struct ctx *c = *state;
	struct ns_schema *sc = parse_schema(small_yaml);
	mongoc_client_t *cl = raw_client(c);
	struct ns_diag d;
	char csv[300], json[512];
	int64_t old = (int64_t)time(NULL) * 1000 - 3600 * 1000;
	mongoc_collection_t *data;
	bson_t all = BSON_INITIALIZER;
	int64_t n;

	tmp_file(c, ".csv", csv, sizeof(csv));
	write_text(csv, small_csv);
	check_ok(ingest_p(c->st, csv, sc, "live", false, false, false, NULL, &d), &d);
	/* What a process killed mid-ingest leaves: a pending record, last heard
	 * of an hour ago, and some of its rows. */
	snprintf(json, sizeof(json),
		 "{\"id\": {\"$numberLong\": \"999\"}, \"collection\": \"live\", \"data\":"
		 " \"data_live\", \"state\": \"pending\", \"fresh\": false, \"sha256\": \"\","
		 " \"alive_ms\": {\"$numberLong\": \"%lld\"}}",
		 (long long)old);
	insert_json(cl, c->dbname, "netsec_ingests", json);
	for (int i = 0; i < 3; i++)
		insert_json(cl, c->dbname, "data_live",
			    "{\"_ingest\": {\"$numberLong\": \"999\"}, \"id\": 100, \"x\": 1,"
			    " \"kind\": \"zz\", \"label\": 1}");
	/* A replace's fresh collection abandoned before its flip. */
	snprintf(json, sizeof(json),
		 "{\"id\": {\"$numberLong\": \"998\"}, \"collection\": \"live\", \"data\":"
		 " \"data_live@998\", \"state\": \"pending\", \"fresh\": true, \"sha256\": \"\","
		 " \"alive_ms\": {\"$numberLong\": \"%lld\"}}",
		 (long long)old);
	insert_json(cl, c->dbname, "netsec_ingests", json);
	insert_json(cl, c->dbname, "data_live@998",
		    "{\"_ingest\": {\"$numberLong\": \"998\"}, \"id\": 1}");

	assert_int_equal(count_rows(c->st, "live"), 5); /* hidden already */
	ns_store_close(c->st);
	c->st = NULL;
	check_ok(ns_store_open(c->uri, &c->st, &d), &d); /* cleans up */
	assert_int_equal(count_rows(c->st, "live"), 5);
	data = mongoc_client_get_collection(cl, c->dbname, "data_live");
	n = mongoc_collection_count_documents(data, &all, NULL, NULL, NULL, NULL);
	assert_int_equal(n, 5);
	mongoc_collection_destroy(data);
	{
		bool gone = true;
		mongoc_database_t *db = mongoc_client_get_database(cl, c->dbname);
		char **names = mongoc_database_get_collection_names_with_opts(db, NULL, NULL);
		assert_non_null(names);
		for (char **p = names; *p; p++)
			if (strcmp(*p, "data_live@998") == 0)
				gone = false;
		bson_strfreev(names);
		mongoc_database_destroy(db);
		assert_true(gone);
	}
	mongoc_client_destroy(cl);
	ns_schema_free(sc);
}

/* A server that is not there: a bounded wait, host:port named, no password. */
static void test_mongo_unreachable(void **state)
{
	struct ns_store *st = NULL;
	struct ns_diag d;
	char buf[1024];
	double t0;
	(void)state;
	setenv("NETSEC_MONGO_TIMEOUT_MS", "1500", 1);
	t0 = (double)time(NULL);
	assert_int_equal(
		ns_store_open("mongodb://alice:s3cr3tPw@127.0.0.1:1/netsec?tls=false", &st, &d),
		NS_ERR_STORE);
	unsetenv("NETSEC_MONGO_TIMEOUT_MS");
	assert_null(st);
	ns_diag_format(&d, buf, sizeof(buf));
	print_message("    %s\n", buf);
	assert_non_null(strstr(buf, "127.0.0.1:1"));
	assert_null(strstr(buf, "s3cr3tPw"));
	assert_true((double)time(NULL) - t0 <= 4);
	/* A bad URI does not echo the password either. */
	assert_int_equal(ns_store_open("mongodb://bob:hunter2@/x", &st, &d), NS_ERR_INVALID);
	ns_diag_format(&d, buf, sizeof(buf));
	assert_null(strstr(buf, "hunter2"));
}

static void test_redact_uri(void **state)
{
	char out[256];
	(void)state;
	assert_string_equal(ns_redact("mongodb://u:p@h:1/db?tls=true", out, sizeof(out)),
			    "mongodb://u:***@h:1/db?tls=true");
	assert_string_equal(ns_redact("mongodb://h1,h2:27018/db", out, sizeof(out)),
			    "mongodb://h1,h2:27018/db");
	assert_string_equal(ns_redact("mongodb+srv://user:p%40ss@x.example.net/?"
				      "tlsCertificateKeyFilePassword=k&w=1",
				      out, sizeof(out)),
			    "mongodb+srv://user:***@x.example.net/?"
			    "tlsCertificateKeyFilePassword=***&w=1");
	assert_string_equal(ns_redact("mongodb://onlyuser@h", out, sizeof(out)),
			    "mongodb://onlyuser@h");
	assert_string_equal(ns_redact("mongodb://u:a@b@h/d", out, sizeof(out)),
			    "mongodb://u:***@h/d");
	assert_string_equal(ns_redact("mongodb://u:pw@h/?authMechanismProperties="
				      "AWS_SESSION_TOKEN:t",
				      out, sizeof(out)),
			    "mongodb://u:***@h/?authMechanismProperties=***");
	/* Truncation keeps the NUL and never shows what was cut from. */
	assert_string_equal(ns_redact("mongodb://u:pw@host", out, 12), "mongodb://u");
}

static const enum backend be_sqlite = BE_SQLITE, be_mongo = BE_MONGO;

#define CONTRACT(fn) \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&be_sqlite), \
		cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&be_mongo)
#define MONGO_ONLY(fn) \
	cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)&be_mongo)

int main(void)
{
	const struct CMUnitTest all[] = {
		CONTRACT(test_ingest_duplicate_replace),
		CONTRACT(test_list_count_schema_clash),
		CONTRACT(test_skip_bad_rejects),
		CONTRACT(test_frame_values_export),
		CONTRACT(test_drop),
		CONTRACT(test_prediction_log),
		MONGO_ONLY(test_mongo_foreign_documents),
		MONGO_ONLY(test_mongo_abandoned_ingest),
		cmocka_unit_test(test_mongo_unreachable),
		cmocka_unit_test(test_redact_uri),
	};
	struct CMUnitTest run[sizeof(all) / sizeof(all[0])];
	const char *uri = getenv("NETSEC_TEST_MONGO_URI");
	size_t n = 0;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		/* Without a server the MongoDB half is left out (cmocka would
		 * count a skip in set-up as a failure). */
		if ((!uri || !*uri) && all[i].initial_state == &be_mongo)
			continue;
		run[n++] = all[i];
	}
	if (!uri || !*uri)
		print_message("NETSEC_TEST_MONGO_URI is not set: the MongoDB half of the store "
			      "contract is skipped (tests/integration/test_mongo.sh starts a "
			      "CongoDB and sets it)\n");
	return _cmocka_run_group_tests("store_contract", run, n, NULL, NULL);
}
