/*
 * lib/store/store_sqlite.c - the SQLite store backend (the embedded default).
 *
 * One SQLite file holds every collection: netsec_meta (format version),
 * netsec_collections (name, schema YAML and hash), netsec_ingests (one row
 * per ingested file, with its SHA-256), netsec_rejects (records put aside by
 * skip_bad) and one table "data_<name>" per collection with a column per
 * schema column plus _ingest_id.  The prediction log adds netsec_predictions
 * (one row per request), netsec_prediction_classes (one per request and
 * class) and netsec_prediction_raw (the optional raw CSV); a file made before
 * they existed gets them when opened (the format version stays 1: older
 * netsec builds ignore tables they do not know).  docs/store.md describes
 * the layout for people who open the file with sqlite3.
 *
 * An ingest is one BEGIN IMMEDIATE ... COMMIT transaction with prepared
 * INSERTs (one of 8 rows, one of 1) reused for every row, no allocation per
 * row, so a process killed mid-ingest leaves nothing of it behind.  The file runs in WAL mode with
 * synchronous=NORMAL: a commit is durable once the WAL is synced at the next
 * checkpoint, and never half-applied.
 *
 * A prediction log entry is one short BEGIN IMMEDIATE ... COMMIT with
 * statements prepared once per handle: tens of microseconds, no fsync
 * (WAL with synchronous=NORMAL).  A covering index on (at_ms, n_rows,
 * threat_rows) lets the dashboard's series read the index alone.
 *
 * Threading: a handle (one sqlite3 connection, opened NOMUTEX) is used by
 * one thread at a time.  Several processes may share a file; writers wait up
 * to 5 s for each other (busy_timeout).
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/internal.h"
#include "netsec/config.h"
#include "store/store_impl.h"

/* Bump when the layout changes; a file with a larger number is refused. */
#define SQ_FORMAT_VERSION 1
#define SQ_BUSY_TIMEOUT_MS 5000
/* Data tables are named "data_<collection>". */
#define SQ_DATA_PREFIX "data_"
#define SQ_INGEST_COL "_ingest_id"
/* Rows per multi-row INSERT (more gains little: measured 8 ~ 40). */
#define SQ_INSERT_ROWS 8

/* The prediction log's statements. */
enum sq_log { SQ_LOG_BEGIN, SQ_LOG_ENTRY, SQ_LOG_CLASS, SQ_LOG_RAW, SQ_LOG_COMMIT, SQ_LOG_N };

struct sq {
	sqlite3 *db;
	char *path; /* for diagnostics only: passwords redacted (ns_redact) */
	/* The ingest in progress (in_tx), else all zero. */
	bool in_tx;
	char *collection;
	size_t n_cols;
	unsigned char *col_type; /* enum ns_col_type of each column */
	sqlite3_stmt *ins; /* one row */
	sqlite3_stmt *ins_many; /* ins_rows rows (NULL when ins_rows < 2) */
	int ins_rows;
	sqlite3_stmt *rej;
	int64_t ingest_id;
	/* The prediction log's statements (enum sq_log), prepared on first use
	 * and kept until close. */
	sqlite3_stmt *log[SQ_LOG_N];
};

static enum ns_status sq_status(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return NS_OK;
	case SQLITE_NOMEM:
		return NS_ERR_NOMEM;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_FULL:
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return NS_ERR_IO;
	case SQLITE_CORRUPT:
		return NS_ERR_CORRUPT;
	default:
		return NS_ERR_STORE;
	}
}

/* Reports SQLite error `rc` while doing `what`; call before anything else
 * touches the connection, as sqlite3_errmsg() describes the latest call. */
static enum ns_status sq_fail(struct sq *s, struct ns_diag *diag, int rc, const char *what)
{
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
	ns_diag_where(diag, s->path, 0, 0, NULL);
	if ((rc & 0xff) == SQLITE_BUSY)
		return ns_diag_set(diag, NS_ERR_STORE,
				   "store is busy (another writer held it for %d s): cannot %s",
				   SQ_BUSY_TIMEOUT_MS / 1000, what);
	return ns_diag_set(diag, sq_status(rc), "sqlite: cannot %s: %s", what, msg);
}

static enum ns_status sq_exec(struct sq *s, const char *sql, const char *what, struct ns_diag *diag)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? NS_OK : sq_fail(s, diag, rc, what);
}

static enum ns_status sq_prepare(struct sq *s, const char *sql, int len, sqlite3_stmt **stmt,
				 const char *what, struct ns_diag *diag)
{
	int rc = sqlite3_prepare_v2(s->db, sql, len, stmt, NULL);
	if (rc != SQLITE_OK) {
		*stmt = NULL;
		return sq_fail(s, diag, rc, what);
	}
	return NS_OK;
}

/* Appends `name` as a quoted SQL identifier (quotes doubled). */
static enum ns_status sq_quote(struct ns__buf *b, const char *prefix, const char *name)
{
	enum ns_status st = ns__buf_append(b, "\"", 1);
	if (st == NS_OK && prefix)
		st = ns__buf_append(b, prefix, strlen(prefix));
	for (const char *p = name; st == NS_OK && *p; p++) {
		const char *q = strchr(p, '"');
		size_t n = q ? (size_t)(q - p) + 1 : strlen(p);
		st = ns__buf_append(b, p, n);
		if (st == NS_OK && q)
			st = ns__buf_append(b, "\"", 1);
		p += n - 1;
	}
	if (st == NS_OK)
		st = ns__buf_append(b, "\"", 1);
	return st;
}

static enum ns_status sq_nomem(struct ns_diag *diag)
{
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}

/* Creates every missing parent folder of the file `path` (mkdir -p of its
 * dirname). */
static enum ns_status sq_mkdirs(const char *path, struct ns_diag *diag)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	enum ns_status st;
	if (!slash || slash == path)
		return NS_OK;
	dir = ns_strndup(path, (size_t)(slash - path));
	if (!dir)
		return sq_nomem(diag);
	st = ns_mkdir_p(dir, diag);
	ns_free(dir);
	return st;
}

static const char sq_ddl[] =
	"CREATE TABLE netsec_meta(key TEXT PRIMARY KEY, value);"
	"CREATE TABLE netsec_collections(name TEXT PRIMARY KEY, schema_yaml TEXT NOT NULL,"
	" schema_hash TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);"
	"CREATE TABLE netsec_ingests(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" collection TEXT NOT NULL REFERENCES netsec_collections(name) ON DELETE CASCADE,"
	" sha256 TEXT NOT NULL, source TEXT NOT NULL, n_rows INTEGER NOT NULL,"
	" n_bad INTEGER NOT NULL, at_ms INTEGER NOT NULL);"
	"CREATE INDEX netsec_ingests_by_hash ON netsec_ingests(collection, sha256);"
	"CREATE TABLE netsec_rejects(ingest_id INTEGER NOT NULL"
	" REFERENCES netsec_ingests(id) ON DELETE CASCADE, line INTEGER NOT NULL,"
	" reason TEXT NOT NULL, raw TEXT NOT NULL);"
	"CREATE INDEX netsec_rejects_by_ingest ON netsec_rejects(ingest_id);";

/*
 * The prediction log (IF NOT EXISTS: also run on files made before it).
 * The classes table is WITHOUT ROWID, clustered on (prediction_id, class),
 * which is also the index the ON DELETE CASCADE of a prune needs.
 * threat_rows repeats the sum of the threat classes' n so that a series
 * needs no join; the time index covers it.
 */
static const char sq_log_ddl[] =
	"CREATE TABLE IF NOT EXISTS netsec_predictions(id INTEGER PRIMARY KEY,"
	" at_ms INTEGER NOT NULL, request_id TEXT NOT NULL, source TEXT NOT NULL,"
	" model_name TEXT NOT NULL, model_version INTEGER NOT NULL, n_rows INTEGER NOT NULL,"
	" threat_rows INTEGER NOT NULL, seconds REAL NOT NULL,"
	" requests INTEGER NOT NULL DEFAULT 1);"
	"CREATE INDEX IF NOT EXISTS netsec_predictions_by_time"
	" ON netsec_predictions(at_ms, requests, n_rows, threat_rows);"
	"CREATE TABLE IF NOT EXISTS netsec_prediction_classes(prediction_id INTEGER NOT NULL"
	" REFERENCES netsec_predictions(id) ON DELETE CASCADE, class INTEGER NOT NULL,"
	" label TEXT NOT NULL, is_threat INTEGER NOT NULL, n INTEGER NOT NULL,"
	" PRIMARY KEY(prediction_id, class)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS netsec_prediction_raw(prediction_id INTEGER PRIMARY KEY"
	" REFERENCES netsec_predictions(id) ON DELETE CASCADE, csv BLOB NOT NULL);";

static enum ns_status sq_table_exists(struct sq *s, const char *name, bool *found,
				      struct ns_diag *diag)
{
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;
	*found = false;
	if ((st = sq_prepare(s, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1,
			     &q, "read the store's tables", diag)) != NS_OK)
		return st;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*found = true;
	else if (rc != SQLITE_DONE)
		st = sq_fail(s, diag, rc, "read the store's tables");
	sqlite3_finalize(q);
	return st;
}

/* Adds the prediction log's tables to a store made before they existed. */
static enum ns_status sq_setup_log(struct sq *s, struct ns_diag *diag)
{
	enum ns_status st;
	bool have = false;
	if ((st = sq_table_exists(s, "netsec_predictions", &have, diag)) != NS_OK || have)
		return st;
	/* Under the write lock, and IF NOT EXISTS: another process may be at it too. */
	if ((st = sq_exec(s, "BEGIN IMMEDIATE", "lock the store", diag)) != NS_OK)
		return st;
	if ((st = sq_exec(s, sq_log_ddl, "add the prediction log's tables", diag)) == NS_OK)
		st = sq_exec(s, "COMMIT", "add the prediction log's tables", diag);
	if (st != NS_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return st;
}

/* Creates the netsec tables in a new file, or checks the format version of an
 * existing store (adding the tables of later additions it lacks). */
static enum ns_status sq_setup(struct sq *s, struct ns_diag *diag)
{
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	bool have = false, in_tx = false, setup_log = false;
	int rc;

	if ((st = sq_table_exists(s, "netsec_meta", &have, diag)) != NS_OK)
		return st;
	if (!have) {
		/* Re-check under the write lock: another process may be creating it. */
		if ((st = sq_exec(s, "BEGIN IMMEDIATE", "lock the store", diag)) != NS_OK)
			return st;
		in_tx = true;
		if ((st = sq_table_exists(s, "netsec_meta", &have, diag)) != NS_OK)
			goto out;
	}
	if (!have) {
		int64_t n_tables = 0;
		if ((st = sq_prepare(s, "SELECT count(*) FROM sqlite_master", -1, &q,
				     "read the store's tables", diag)) != NS_OK)
			goto out;
		if (sqlite3_step(q) == SQLITE_ROW)
			n_tables = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
		q = NULL;
		if (n_tables > 0) {
			ns_diag_where(diag, s->path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_STORE,
					 "not a netsec store: an SQLite file with other tables "
					 "and no netsec_meta table");
			goto out;
		}
		if ((st = sq_exec(s, sq_ddl, "create the store's tables", diag)) != NS_OK ||
		    (st = sq_exec(s, sq_log_ddl, "create the prediction log's tables", diag)) !=
			    NS_OK)
			goto out;
		if ((st = sq_prepare(s,
				     "INSERT INTO netsec_meta(key, value) VALUES"
				     "('format_version', ?1), ('created_by', ?2)",
				     -1, &q, "write the store's version", diag)) != NS_OK)
			goto out;
		sqlite3_bind_int(q, 1, SQ_FORMAT_VERSION);
		sqlite3_bind_text(q, 2, "netsec " NETSEC_VERSION_STRING, -1, SQLITE_STATIC);
		rc = sqlite3_step(q);
		if (rc != SQLITE_DONE) {
			st = sq_fail(s, diag, rc, "write the store's version");
			goto out;
		}
		sqlite3_finalize(q);
		q = NULL;
		st = sq_exec(s, "COMMIT", "create the store", diag);
		if (st == NS_OK)
			in_tx = false;
		goto out;
	}
	if (in_tx) {
		if ((st = sq_exec(s, "COMMIT", "unlock the store", diag)) != NS_OK)
			goto out;
		in_tx = false;
	}
	if ((st = sq_prepare(s, "SELECT value FROM netsec_meta WHERE key='format_version'", -1, &q,
			     "read the store's version", diag)) != NS_OK)
		goto out;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && sqlite3_column_type(q, 0) == SQLITE_INTEGER) {
		int64_t v = sqlite3_column_int64(q, 0);
		if (v > SQ_FORMAT_VERSION) {
			ns_diag_where(diag, s->path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_UNSUPPORTED,
					 "store format version %lld is newer than this netsec (%s) "
					 "reads (version %d): upgrade netsec",
					 (long long)v, NETSEC_VERSION_STRING, SQ_FORMAT_VERSION);
		} else if (v < 1) {
			ns_diag_where(diag, s->path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_CORRUPT, "bad store format version %lld",
					 (long long)v);
		} else {
			st = NS_OK;
			setup_log = true;
		}
	} else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		ns_diag_where(diag, s->path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_CORRUPT, "netsec_meta has no integer format_version");
	} else {
		st = sq_fail(s, diag, rc, "read the store's version");
	}
out:
	sqlite3_finalize(q);
	if (in_tx)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	/* After the version check's statement is done: no read snapshot held. */
	if (setup_log)
		st = sq_setup_log(s, diag);
	return st;
}

static void sq_close(void *impl);

static enum ns_status sq_open(const char *location, void **impl, struct ns_diag *diag)
{
	struct sq *s;
	enum ns_status st;
	int rc;

	if (!location || !*location) {
		return ns_diag_set(diag, NS_ERR_INVALID, "sqlite store: empty path");
	}
	s = ns_calloc(1, sizeof(*s));
	if (!s)
		return sq_nomem(diag);
	{
		char shown[4096];
		s->path = ns_strdup(ns_redact(location, shown, sizeof(shown)));
	}
	if (!s->path) {
		st = sq_nomem(diag);
		goto out;
	}
	if (strcmp(location, ":memory:") != 0 && (st = sq_mkdirs(location, diag)) != NS_OK)
		goto out;
	rc = sqlite3_open_v2(location, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		st = sq_fail(s, diag, rc, "open");
		goto out;
	}
	sqlite3_busy_timeout(s->db, SQ_BUSY_TIMEOUT_MS);
	/*
	 * page_size only takes effect on a new file (before its first table) and
	 * must come before WAL.  16 KiB pages hold more small rows per page and
	 * halve the b-tree work of bulk appends compared with the 4 KiB default.
	 * The 64 MiB cache keeps the pages of a large ingest from spilling to the
	 * WAL twice.
	 */
	if ((st = sq_exec(s, "PRAGMA page_size=16384", "set the page size", diag)) != NS_OK)
		goto out;
	if ((st = sq_exec(s, "PRAGMA journal_mode=WAL", "set WAL mode", diag)) != NS_OK)
		goto out;
	if ((st = sq_exec(s,
			  "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
			  " PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY",
			  "configure the connection", diag)) != NS_OK)
		goto out;
	if ((st = sq_setup(s, diag)) != NS_OK)
		goto out;
	*impl = s;
	s = NULL;
out:
	if (s)
		sq_close(s);
	return st;
}

static void sq_end_ingest(struct sq *s)
{
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->ins_many);
	sqlite3_finalize(s->rej);
	ns_free(s->collection);
	ns_free(s->col_type);
	s->ins = s->ins_many = s->rej = NULL;
	s->ins_rows = 0;
	s->collection = NULL;
	s->col_type = NULL;
	s->n_cols = 0;
	s->ingest_id = 0;
	s->in_tx = false;
}

static void sq_rollback(void *impl)
{
	struct sq *s = impl;
	/* Statements are finalized first so that ROLLBACK cannot be refused. */
	bool in_tx = s->in_tx;
	sq_end_ingest(s);
	if (in_tx || !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static void sq_close(void *impl)
{
	struct sq *s = impl;
	if (!s)
		return;
	if (s->db) {
		sq_rollback(s);
		for (int i = 0; i < SQ_LOG_N; i++)
			sqlite3_finalize(s->log[i]);
		sqlite3_close_v2(s->db);
	}
	ns_free(s->path);
	ns_free(s);
}

/* Looks up a collection by exact name; *found, and *hash_out when asked
 * (a new string the caller frees). */
static enum ns_status sq_find(struct sq *s, const char *collection, bool *found, char **hash_out,
			      struct ns_diag *diag)
{
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;
	*found = false;
	if ((st = sq_prepare(s, "SELECT schema_hash FROM netsec_collections WHERE name=?1", -1, &q,
			     "look up the collection", diag)) != NS_OK)
		return st;
	sqlite3_bind_text(q, 1, collection, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*found = true;
		if (hash_out) {
			const char *h = (const char *)sqlite3_column_text(q, 0);
			*hash_out = ns_strdup(h ? h : "");
			if (!*hash_out)
				st = sq_nomem(diag);
		}
	} else if (rc != SQLITE_DONE) {
		st = sq_fail(s, diag, rc, "look up the collection");
	}
	sqlite3_finalize(q);
	return st;
}

static enum ns_status sq_notfound(struct sq *s, const char *collection, struct ns_diag *diag)
{
	ns_diag_where(diag, s->path, 0, 0, NULL);
	return ns_diag_set(diag, NS_ERR_NOTFOUND, "no collection '%s' in the store", collection);
}

/* Runs one statement with text parameters ?1 ?2 ?4 and integer ?3 (each
 * bound when the statement has it and it is not NULL), expecting no rows. */
static enum ns_status sq_run(struct sq *s, const char *sql, const char *t1, const char *t2,
			     int64_t i3, const char *t4, const char *what, struct ns_diag *diag)
{
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;
	if ((st = sq_prepare(s, sql, -1, &q, what, diag)) != NS_OK)
		return st;
	if (t1)
		sqlite3_bind_text(q, 1, t1, -1, SQLITE_STATIC);
	if (t2)
		sqlite3_bind_text(q, 2, t2, -1, SQLITE_STATIC);
	if (sqlite3_bind_parameter_count(q) >= 3)
		sqlite3_bind_int64(q, 3, i3);
	if (t4 && sqlite3_bind_parameter_count(q) >= 4)
		sqlite3_bind_text(q, 4, t4, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		st = sq_fail(s, diag, rc, what);
	sqlite3_finalize(q);
	return st;
}

static const char *sq_decl_type(enum ns_col_type t)
{
	switch (t) {
	case NS_TYPE_INT:
		return "INTEGER";
	case NS_TYPE_FLOAT:
		return "REAL";
	default:
		return "TEXT";
	}
}

static enum ns_status sq_create_data_table(struct sq *s, const char *collection,
					   const struct ns_schema *schema, struct ns_diag *diag)
{
	struct ns__buf b;
	enum ns_status st;
	int rc;
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "CREATE TABLE ", 13);
	if (st == NS_OK)
		st = sq_quote(&b, SQ_DATA_PREFIX, collection);
	if (st == NS_OK)
		st = ns__buf_append(&b, "(", 1);
	for (size_t i = 0; st == NS_OK && i < schema->n_columns; i++) {
		st = sq_quote(&b, NULL, schema->columns[i].name);
		if (st == NS_OK)
			st = ns__buf_printf(&b, " %s, ", sq_decl_type(schema->columns[i].type));
	}
	/* No NOT NULL here: a constraint that may fail makes SQLite keep a
	 * statement journal for multi-row INSERTs, which costs their gain. */
	if (st == NS_OK)
		st = ns__buf_append(&b, SQ_INGEST_COL " INTEGER)",
				    strlen(SQ_INGEST_COL " INTEGER)"));
	if (st != NS_OK) {
		st = sq_nomem(diag);
		goto out;
	}
	rc = sqlite3_exec(s->db, b.data, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		/* Mostly column names SQLite sees as equal (it ignores ASCII case). */
		const char *msg = sqlite3_errmsg(s->db);
		ns_diag_where(diag, s->path, 0, 0, NULL);
		if ((rc & 0xff) == SQLITE_ERROR)
			st = ns_diag_set(diag, NS_ERR_SCHEMA,
					 "cannot create the table of collection '%s': %s "
					 "(SQLite column names ignore ASCII case)",
					 collection, msg);
		else
			st = sq_fail(s, diag, rc, "create the collection's table");
	}
out:
	ns__buf_fini(&b);
	return st;
}

/*
 * Prepares INSERT INTO "data_<c>"(cols..., _ingest_id) VALUES(?,...,?,ID)
 * with `n_rows` rows of values: appending several rows per statement saves
 * SQLite's per-statement work (about a quarter of the insert time for small
 * rows).  The ingest id is known by now, so it is a literal.
 */
static enum ns_status sq_prepare_insert(struct sq *s, const char *collection,
					const struct ns_schema *schema, int n_rows,
					sqlite3_stmt **out, struct ns_diag *diag)
{
	struct ns__buf b;
	enum ns_status st;
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "INSERT INTO ", 12);
	if (st == NS_OK)
		st = sq_quote(&b, SQ_DATA_PREFIX, collection);
	if (st == NS_OK)
		st = ns__buf_append(&b, "(", 1);
	for (size_t i = 0; st == NS_OK && i < schema->n_columns; i++) {
		st = sq_quote(&b, NULL, schema->columns[i].name);
		if (st == NS_OK)
			st = ns__buf_append(&b, ",", 1);
	}
	if (st == NS_OK)
		st = ns__buf_append(&b, SQ_INGEST_COL ") VALUES", strlen(SQ_INGEST_COL) + 8);
	for (int r = 0; st == NS_OK && r < n_rows; r++) {
		st = ns__buf_append(&b, r ? ",(" : "(", r ? 2 : 1);
		for (size_t i = 0; st == NS_OK && i < schema->n_columns; i++)
			st = ns__buf_append(&b, "?,", 2);
		if (st == NS_OK)
			st = ns__buf_printf(&b, "%lld)", (long long)s->ingest_id);
	}
	if (st != NS_OK) {
		st = sq_nomem(diag);
		goto out;
	}
	st = sq_prepare(s, b.data, (int)b.len, out, "prepare the row insert", diag);
out:
	ns__buf_fini(&b);
	return st;
}

static enum ns_status sq_begin(void *impl, const char *collection, const struct ns_schema *schema,
			       const char *schema_yaml, const char *schema_hash, bool replace,
			       struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	char *other = NULL, *old_hash = NULL;
	enum ns_status st;
	bool found = false;
	int64_t now = ns__now_ms();
	int rc;

	if (s->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "an ingest is already in progress");
	for (size_t i = 0; i < schema->n_columns; i++) {
		if (strcasecmp(schema->columns[i].name, SQ_INGEST_COL) == 0) {
			ns_diag_where(diag, NULL, 0, 0, schema->columns[i].name);
			return ns_diag_set(diag, NS_ERR_SCHEMA,
					   "column name '%s' is reserved by the SQLite store",
					   schema->columns[i].name);
		}
	}
	if (schema->n_columns + 1 > (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_COLUMN, -1)) {
		return ns_diag_set(diag, NS_ERR_LIMIT,
				   "schema has %zu columns; the SQLite store holds at most %d",
				   schema->n_columns,
				   sqlite3_limit(s->db, SQLITE_LIMIT_COLUMN, -1) - 1);
	}
	if ((st = sq_exec(s, "BEGIN IMMEDIATE", "start the ingest", diag)) != NS_OK)
		return st;
	s->in_tx = true;

	/* Table names ignore ASCII case in SQLite, so collection names must too. */
	if ((st = sq_prepare(s, "SELECT name FROM netsec_collections WHERE name=?1 COLLATE NOCASE",
			     -1, &q, "look up the collection", diag)) != NS_OK)
		goto out;
	sqlite3_bind_text(q, 1, collection, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(q, 0);
		if (n && strcmp(n, collection) != 0 && !other) {
			other = ns_strdup(n);
			if (!other) {
				st = sq_nomem(diag);
				goto out;
			}
		}
	}
	if (rc != SQLITE_DONE) {
		st = sq_fail(s, diag, rc, "look up the collection");
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	if ((st = sq_find(s, collection, &found, &old_hash, diag)) != NS_OK)
		goto out;
	if (!found && other) {
		ns_diag_where(diag, s->path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_EXISTS,
				 "collection '%s' clashes with collection '%s': names that differ "
				 "only in case cannot coexist",
				 collection, other);
		goto out;
	}
	if (found && strcmp(old_hash, schema_hash) != 0 && !replace) {
		ns_diag_where(diag, s->path, 0, 0, NULL);
		st = ns_diag_set(diag, NS_ERR_SCHEMA,
				 "collection '%s' holds records of another schema (hash %.12s, "
				 "this one %.12s); use replace to start it over",
				 collection, old_hash, schema_hash);
		goto out;
	}
	if (found && replace) {
		bool same = strcmp(old_hash, schema_hash) == 0;
		struct ns__buf b;
		ns__buf_init(&b, 0);
		st = ns__buf_append(&b, same ? "DELETE FROM " : "DROP TABLE IF EXISTS ",
				    same ? 12 : 21);
		if (st == NS_OK)
			st = sq_quote(&b, SQ_DATA_PREFIX, collection);
		if (st != NS_OK) {
			ns__buf_fini(&b);
			st = sq_nomem(diag);
			goto out;
		}
		st = sq_exec(s, b.data, "clear the collection", diag);
		ns__buf_fini(&b);
		if (st != NS_OK)
			goto out;
		/* Cascades to netsec_rejects. */
		if ((st = sq_run(s, "DELETE FROM netsec_ingests WHERE collection=?1", collection,
				 NULL, 0, NULL, "clear the collection's history", diag)) != NS_OK)
			goto out;
		if ((st = sq_run(s,
				 "UPDATE netsec_collections SET schema_yaml=?2, schema_hash=?4,"
				 " updated_ms=?3 WHERE name=?1",
				 collection, schema_yaml, now, schema_hash, "update the collection",
				 diag)) != NS_OK)
			goto out;
		if (!same && (st = sq_create_data_table(s, collection, schema, diag)) != NS_OK)
			goto out;
	} else if (!found) {
		if ((st = sq_run(s,
				 "INSERT INTO netsec_collections(name, schema_yaml, schema_hash,"
				 " created_ms, updated_ms) VALUES(?1, ?2, ?4, ?3, ?3)",
				 collection, schema_yaml, now, schema_hash, "create the collection",
				 diag)) != NS_OK)
			goto out;
		if ((st = sq_create_data_table(s, collection, schema, diag)) != NS_OK)
			goto out;
	}
	if ((st = sq_run(s,
			 "INSERT INTO netsec_ingests(collection, sha256, source, n_rows, n_bad,"
			 " at_ms) VALUES(?1, '', '', 0, 0, ?3)",
			 collection, NULL, now, NULL, "record the ingest", diag)) != NS_OK)
		goto out;
	s->ingest_id = sqlite3_last_insert_rowid(s->db);
	s->n_cols = schema->n_columns;
	s->collection = ns_strdup(collection);
	s->col_type = ns_malloc(schema->n_columns ? schema->n_columns : 1);
	if (!s->collection || !s->col_type) {
		st = sq_nomem(diag);
		goto out;
	}
	for (size_t i = 0; i < schema->n_columns; i++)
		s->col_type[i] = (unsigned char)schema->columns[i].type;
	if ((st = sq_prepare_insert(s, collection, schema, 1, &s->ins, diag)) != NS_OK)
		goto out;
	/* SQ_INSERT_ROWS rows a statement, within SQLite's parameter limit. */
	s->ins_rows = SQ_INSERT_ROWS;
	if (schema->n_columns > 0) {
		int max_vars = sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1);
		if ((size_t)s->ins_rows > (size_t)max_vars / schema->n_columns)
			s->ins_rows = (int)((size_t)max_vars / schema->n_columns);
	}
	if (s->ins_rows >= 2)
		st = sq_prepare_insert(s, collection, schema, s->ins_rows, &s->ins_many, diag);
out:
	sqlite3_finalize(q);
	ns_free(other);
	ns_free(old_hash);
	if (st != NS_OK)
		sq_rollback(s);
	return st;
}

/* Largest magnitude below 2^63 that a double holds exactly is 2^63 - 1024. */
#define SQ_INT64_EDGE 9223372036854774784.0

/* Binds row `values` to parameters first+1 .. first+n_cols of q. */
static int sq_bind_row(struct sq *s, sqlite3_stmt *q, int first, const struct ns_value *values)
{
	int rc = SQLITE_OK;
	for (size_t i = 0; i < s->n_cols; i++) {
		const struct ns_value *v = &values[i];
		int c = first + (int)i + 1;
		double d = v->num;
		if (v->missing) {
			rc |= sqlite3_bind_null(q, c);
			continue;
		}
		switch (s->col_type[i]) {
		case NS_TYPE_CATEGORY:
			if (v->len > (size_t)INT32_MAX)
				return SQLITE_TOOBIG;
			rc |= sqlite3_bind_text(q, c, v->str, (int)v->len, SQLITE_STATIC);
			break;
		case NS_TYPE_INT:
			/* Whole numbers go in as integers: SQLite stores small ones in
			 * 0 or 1 byte.  -0.0 and huge values stay doubles. */
			if (d >= -SQ_INT64_EDGE && d <= SQ_INT64_EDGE && d == (double)(int64_t)d &&
			    !(d == 0 && signbit(d))) {
				rc |= sqlite3_bind_int64(q, c, (int64_t)d);
				break;
			}
			/* fall through */
		default:
			rc |= isnan(d) ? sqlite3_bind_null(q, c) : sqlite3_bind_double(q, c, d);
			break;
		}
	}
	return rc;
}

static enum ns_status sq_step_insert(struct sq *s, sqlite3_stmt *q, int rc, struct ns_diag *diag)
{
	if (rc == SQLITE_TOOBIG)
		return ns_diag_set(diag, NS_ERR_LIMIT, "a value longer than 2 GiB");
	if (rc != SQLITE_OK)
		return sq_fail(s, diag, SQLITE_ERROR, "bind a row");
	rc = sqlite3_step(q);
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return sq_fail(s, diag, rc, "insert a row");
	return NS_OK;
}

static enum ns_status sq_insert(void *impl, const struct ns_value *values, size_t n_rows,
				struct ns_diag *diag)
{
	struct sq *s = impl;
	enum ns_status st = NS_OK;
	size_t r = 0;

	if (!s->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "no ingest in progress");
	for (; s->ins_many && n_rows - r >= (size_t)s->ins_rows; r += (size_t)s->ins_rows) {
		int rc = SQLITE_OK;
		for (int k = 0; k < s->ins_rows && rc == SQLITE_OK; k++)
			rc = sq_bind_row(s, s->ins_many, k * (int)s->n_cols,
					 &values[(r + (size_t)k) * s->n_cols]);
		if ((st = sq_step_insert(s, s->ins_many, rc, diag)) != NS_OK)
			return st;
	}
	for (; r < n_rows; r++) {
		int rc = sq_bind_row(s, s->ins, 0, &values[r * s->n_cols]);
		if ((st = sq_step_insert(s, s->ins, rc, diag)) != NS_OK)
			return st;
	}
	return NS_OK;
}

static enum ns_status sq_reject(void *impl, uint64_t line, const char *reason, const char *raw,
				size_t raw_len, struct ns_diag *diag)
{
	struct sq *s = impl;
	enum ns_status st;
	int rc;
	if (!s->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "no ingest in progress");
	if (!s->rej && (st = sq_prepare(s,
					"INSERT INTO netsec_rejects(ingest_id, line, reason, raw)"
					" VALUES(?1, ?2, ?3, ?4)",
					-1, &s->rej, "prepare the reject insert", diag)) != NS_OK)
		return st;
	if (raw_len > (size_t)INT32_MAX)
		return ns_diag_set(diag, NS_ERR_LIMIT, "a record of %zu bytes", raw_len);
	sqlite3_bind_int64(s->rej, 1, s->ingest_id);
	sqlite3_bind_int64(s->rej, 2, (int64_t)line);
	sqlite3_bind_text(s->rej, 3, reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->rej, 4, raw ? raw : "", raw ? (int)raw_len : 0, SQLITE_STATIC);
	rc = sqlite3_step(s->rej);
	sqlite3_reset(s->rej);
	if (rc != SQLITE_DONE)
		return sq_fail(s, diag, rc, "store a rejected record");
	return NS_OK;
}

static enum ns_status sq_commit(void *impl, const char *sha256, const char *source, uint64_t n_rows,
				uint64_t n_bad, bool allow_duplicate, bool *duplicate,
				int64_t *ingest_id, struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;

	*duplicate = false;
	if (!s->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "no ingest in progress");
	if (!allow_duplicate) {
		if ((st = sq_prepare(s,
				     "SELECT 1 FROM netsec_ingests WHERE collection=?1 AND"
				     " sha256=?2 AND id<>?3 LIMIT 1",
				     -1, &q, "look for an earlier ingest", diag)) != NS_OK)
			goto out;
		sqlite3_bind_text(q, 1, s->collection, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, sha256, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, s->ingest_id);
		rc = sqlite3_step(q);
		sqlite3_finalize(q);
		q = NULL;
		if (rc == SQLITE_ROW) {
			sq_rollback(s);
			*duplicate = true;
			return NS_OK;
		}
		if (rc != SQLITE_DONE) {
			st = sq_fail(s, diag, rc, "look for an earlier ingest");
			goto out;
		}
	}
	if ((st = sq_prepare(s,
			     "UPDATE netsec_ingests SET sha256=?1, source=?2, n_rows=?3, n_bad=?4"
			     " WHERE id=?5",
			     -1, &q, "record the ingest", diag)) != NS_OK)
		goto out;
	sqlite3_bind_text(q, 1, sha256, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, source ? source : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (int64_t)n_rows);
	sqlite3_bind_int64(q, 4, (int64_t)n_bad);
	sqlite3_bind_int64(q, 5, s->ingest_id);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	q = NULL;
	if (rc != SQLITE_DONE) {
		st = sq_fail(s, diag, rc, "record the ingest");
		goto out;
	}
	if ((st = sq_run(s, "UPDATE netsec_collections SET updated_ms=?3 WHERE name=?1",
			 s->collection, NULL, ns__now_ms(), NULL, "update the collection", diag)) !=
	    NS_OK)
		goto out;
	/* Reset statements hold no locks; finalize them anyway before COMMIT. */
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->ins_many);
	sqlite3_finalize(s->rej);
	s->ins = s->ins_many = s->rej = NULL;
	if ((st = sq_exec(s, "COMMIT", "commit the ingest", diag)) != NS_OK)
		goto out;
	*ingest_id = s->ingest_id;
	sq_end_ingest(s);
out:
	sqlite3_finalize(q);
	if (st != NS_OK)
		sq_rollback(s);
	return st;
}

/* Builds "SELECT <what> FROM "data_<collection>"<tail>" into b. */
static enum ns_status sq_select(struct ns__buf *b, const char *what, const struct ns_schema *schema,
				const char *collection, const char *tail)
{
	enum ns_status st = ns__buf_append(b, "SELECT ", 7);
	if (st == NS_OK && what)
		st = ns__buf_append(b, what, strlen(what));
	for (size_t i = 0; st == NS_OK && schema && i < schema->n_columns; i++) {
		if (i)
			st = ns__buf_append(b, ",", 1);
		if (st == NS_OK)
			st = sq_quote(b, NULL, schema->columns[i].name);
	}
	/* (A select list cannot be empty.) */
	if (st == NS_OK && schema && schema->n_columns == 0)
		st = ns__buf_append(b, SQ_INGEST_COL, strlen(SQ_INGEST_COL));
	if (st == NS_OK)
		st = ns__buf_append(b, " FROM ", 6);
	if (st == NS_OK)
		st = sq_quote(b, SQ_DATA_PREFIX, collection);
	if (st == NS_OK && tail)
		st = ns__buf_append(b, tail, strlen(tail));
	return st;
}

static enum ns_status sq_count_rows(struct sq *s, const char *collection, uint64_t *n,
				    struct ns_diag *diag)
{
	struct ns__buf b;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;
	ns__buf_init(&b, 0);
	if (sq_select(&b, "count(*)", NULL, collection, NULL) != NS_OK) {
		st = sq_nomem(diag);
		goto out;
	}
	if ((st = sq_prepare(s, b.data, (int)b.len, &q, "count the rows", diag)) != NS_OK)
		goto out;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*n = (uint64_t)sqlite3_column_int64(q, 0);
	else
		st = sq_fail(s, diag, rc, "count the rows");
out:
	sqlite3_finalize(q);
	ns__buf_fini(&b);
	return st;
}

static enum ns_status sq_count(void *impl, const char *collection, uint64_t *n,
			       struct ns_diag *diag)
{
	struct sq *s = impl;
	enum ns_status st;
	bool found;
	if ((st = sq_find(s, collection, &found, NULL, diag)) != NS_OK)
		return st;
	if (!found)
		return sq_notfound(s, collection, diag);
	return sq_count_rows(s, collection, n, diag);
}

struct sq_coll {
	char *name;
	char *hash;
	int64_t updated_ms;
	uint64_t n_ingests;
	uint64_t n_rejects;
};

static enum ns_status sq_list(void *impl, ns_collection_fn fn, void *user, struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	struct sq_coll *cs = NULL;
	size_t n = 0, cap = 0;
	enum ns_status st;
	int rc;

	/* Collected first, so that `fn` may use the store (even drop). */
	if ((st = sq_prepare(s,
			     "SELECT c.name, c.schema_hash, c.updated_ms, count(i.id),"
			     " coalesce(sum(i.n_bad), 0) FROM netsec_collections c"
			     " LEFT JOIN netsec_ingests i ON i.collection = c.name"
			     " GROUP BY c.name ORDER BY c.name",
			     -1, &q, "list the collections", diag)) != NS_OK)
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		const char *hash = (const char *)sqlite3_column_text(q, 1);
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			struct sq_coll *nc = ns_reallocarray(cs, ncap, sizeof(*cs));
			if (!nc) {
				st = sq_nomem(diag);
				goto out;
			}
			cs = nc;
			cap = ncap;
		}
		memset(&cs[n], 0, sizeof(cs[n]));
		cs[n].name = ns_strdup(name ? name : "");
		cs[n].hash = ns_strdup(hash ? hash : "");
		cs[n].updated_ms = sqlite3_column_int64(q, 2);
		cs[n].n_ingests = (uint64_t)sqlite3_column_int64(q, 3);
		cs[n].n_rejects = (uint64_t)sqlite3_column_int64(q, 4);
		n++;
		if (!cs[n - 1].name || !cs[n - 1].hash) {
			st = sq_nomem(diag);
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		st = sq_fail(s, diag, rc, "list the collections");
		goto out;
	}
	sqlite3_finalize(q);
	q = NULL;
	for (size_t i = 0; i < n; i++) {
		struct ns_collection_info info;
		memset(&info, 0, sizeof(info));
		info.name = cs[i].name;
		info.schema_hash = cs[i].hash;
		info.updated_ms = cs[i].updated_ms;
		info.n_ingests = cs[i].n_ingests;
		info.n_rejects = cs[i].n_rejects;
		if ((st = sq_count_rows(s, cs[i].name, &info.n_rows, diag)) != NS_OK)
			goto out;
		if ((st = fn(user, &info)) != NS_OK)
			goto out;
	}
out:
	sqlite3_finalize(q);
	for (size_t i = 0; i < n; i++) {
		ns_free(cs[i].name);
		ns_free(cs[i].hash);
	}
	ns_free(cs);
	return st;
}

static enum ns_status sq_schema_yaml(void *impl, const char *collection, char **yaml,
				     struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;
	if ((st = sq_prepare(s, "SELECT schema_yaml FROM netsec_collections WHERE name=?1", -1, &q,
			     "read the collection's schema", diag)) != NS_OK)
		return st;
	sqlite3_bind_text(q, 1, collection, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);
		char *y = ns_strndup(t ? t : "", t ? (size_t)sqlite3_column_bytes(q, 0) : 0);
		if (y)
			*yaml = y;
		else
			st = sq_nomem(diag);
	} else if (rc == SQLITE_DONE) {
		st = sq_notfound(s, collection, diag);
	} else {
		st = sq_fail(s, diag, rc, "read the collection's schema");
	}
	sqlite3_finalize(q);
	return st;
}

static enum ns_status sq_scan(void *impl, const char *collection, const struct ns_schema *schema,
			      enum ns_status (*fn)(void *user, const struct ns_value *values),
			      void *user, struct ns_diag *diag)
{
	struct sq *s = impl;
	struct ns__buf b;
	sqlite3_stmt *q = NULL;
	struct ns_value *vals = NULL;
	enum ns_status st;
	size_t n_cols = schema->n_columns;
	int rc;

	ns__buf_init(&b, 0);
	vals = ns_calloc(n_cols ? n_cols : 1, sizeof(*vals));
	if (!vals || sq_select(&b, NULL, schema, collection, " ORDER BY rowid") != NS_OK) {
		st = sq_nomem(diag);
		goto out;
	}
	if ((st = sq_prepare(s, b.data, (int)b.len, &q, "read the collection", diag)) != NS_OK)
		goto out;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		for (size_t i = 0; i < n_cols; i++) {
			/* One API call per cell: the connection is NOMUTEX, so the
			 * column's unprotected value may be read directly. */
			sqlite3_value *cv = sqlite3_column_value(q, (int)i);
			struct ns_value *v = &vals[i];
			if (sqlite3_value_type(cv) == SQLITE_NULL) {
				v->missing = true;
				v->num = NAN;
				v->str = NULL;
				v->len = 0;
			} else if (schema->columns[i].type == NS_TYPE_CATEGORY) {
				const unsigned char *t = sqlite3_value_text(cv);
				if (!t) {
					st = sq_nomem(diag);
					goto out;
				}
				v->missing = false;
				v->num = NAN;
				v->str = (const char *)t;
				v->len = (size_t)sqlite3_value_bytes(cv);
			} else {
				v->missing = false;
				v->num = sqlite3_value_double(cv);
				v->str = NULL;
				v->len = 0;
			}
		}
		if ((st = fn(user, vals)) != NS_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		st = sq_fail(s, diag, rc, "read the collection");
out:
	sqlite3_finalize(q);
	ns__buf_fini(&b);
	ns_free(vals);
	return st;
}

static enum ns_status sq_scan_rejects(void *impl, const char *collection,
				      enum ns_status (*fn)(void *user, int64_t ingest_id,
							   uint64_t line, const char *reason,
							   const char *raw, size_t raw_len),
				      void *user, struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	bool found;
	int rc;

	if ((st = sq_find(s, collection, &found, NULL, diag)) != NS_OK)
		return st;
	if (!found)
		return sq_notfound(s, collection, diag);
	if ((st = sq_prepare(s,
			     "SELECT r.ingest_id, r.line, r.reason, r.raw FROM netsec_rejects r"
			     " JOIN netsec_ingests i ON i.id = r.ingest_id"
			     " WHERE i.collection=?1 ORDER BY r.ingest_id, r.rowid",
			     -1, &q, "read the rejected records", diag)) != NS_OK)
		return st;
	sqlite3_bind_text(q, 1, collection, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *reason = (const char *)sqlite3_column_text(q, 2);
		const char *raw = (const char *)sqlite3_column_text(q, 3);
		size_t raw_len = (size_t)sqlite3_column_bytes(q, 3);
		if ((st = fn(user, sqlite3_column_int64(q, 0), (uint64_t)sqlite3_column_int64(q, 1),
			     reason ? reason : "", raw ? raw : "", raw ? raw_len : 0)) != NS_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		st = sq_fail(s, diag, rc, "read the rejected records");
out:
	sqlite3_finalize(q);
	return st;
}

static enum ns_status sq_drop(void *impl, const char *collection, struct ns_diag *diag)
{
	struct sq *s = impl;
	struct ns__buf b;
	enum ns_status st;
	bool found = false;

	ns__buf_init(&b, 0);
	if (s->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "an ingest is in progress");
	if ((st = sq_exec(s, "BEGIN IMMEDIATE", "lock the store", diag)) != NS_OK)
		return st;
	if ((st = sq_find(s, collection, &found, NULL, diag)) != NS_OK)
		goto out;
	if (!found) {
		st = sq_notfound(s, collection, diag);
		goto out;
	}
	if (ns__buf_append(&b, "DROP TABLE IF EXISTS ", 21) != NS_OK ||
	    sq_quote(&b, SQ_DATA_PREFIX, collection) != NS_OK) {
		st = sq_nomem(diag);
		goto out;
	}
	if ((st = sq_exec(s, b.data, "drop the collection's table", diag)) != NS_OK)
		goto out;
	/* Cascades to netsec_ingests and on to netsec_rejects. */
	if ((st = sq_run(s, "DELETE FROM netsec_collections WHERE name=?1", collection, NULL, 0,
			 NULL, "delete the collection", diag)) != NS_OK)
		goto out;
	st = sq_exec(s, "COMMIT", "commit the drop", diag);
out:
	ns__buf_fini(&b);
	if (st != NS_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return st;
}

/* ---- the prediction log ------------------------------------------------------ */

static const char *const sq_log_sql[SQ_LOG_N] = {
	"BEGIN IMMEDIATE",
	"INSERT INTO netsec_predictions(at_ms, request_id, source, model_name, model_version,"
	" n_rows, threat_rows, seconds, requests) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	"INSERT INTO netsec_prediction_classes(prediction_id, class, label, is_threat, n)"
	" VALUES(?1, ?2, ?3, ?4, ?5)",
	"INSERT INTO netsec_prediction_raw(prediction_id, csv) VALUES(?1, ?2)",
	"COMMIT",
};

static enum ns_status sq_log_busy(struct sq *s, struct ns_diag *diag)
{
	if (s->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL,
				   "an ingest is in progress on this handle");
	return NS_OK;
}

/* Steps prepared log statement `i` once and resets it. */
static enum ns_status sq_log_step(struct sq *s, enum sq_log i, const char *what,
				  struct ns_diag *diag)
{
	int rc = sqlite3_step(s->log[i]);
	sqlite3_reset(s->log[i]);
	return rc == SQLITE_DONE ? NS_OK : sq_fail(s, diag, rc, what);
}

static enum ns_status sq_log_prediction(void *impl, const struct ns_prediction_log *e,
					uint64_t threat_rows, struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q;
	enum ns_status st;
	int64_t id;

	if ((st = sq_log_busy(s, diag)) != NS_OK)
		return st;
	for (int i = 0; i < SQ_LOG_N; i++) {
		if (!s->log[i] && (st = sq_prepare(s, sq_log_sql[i], -1, &s->log[i],
						   "prepare the prediction log", diag)) != NS_OK)
			return st;
	}
	if ((st = sq_log_step(s, SQ_LOG_BEGIN, "start a prediction log entry", diag)) != NS_OK)
		return st;
	q = s->log[SQ_LOG_ENTRY];
	sqlite3_bind_int64(q, 1, e->time_ms);
	sqlite3_bind_text(q, 2, e->request_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, e->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, e->model_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (int64_t)e->model_version);
	sqlite3_bind_int64(q, 6, (int64_t)e->n_rows);
	sqlite3_bind_int64(q, 7, (int64_t)threat_rows);
	sqlite3_bind_double(q, 8, e->seconds);
	sqlite3_bind_int64(q, 9, e->n_requests ? (sqlite3_int64)e->n_requests : 1);
	if ((st = sq_log_step(s, SQ_LOG_ENTRY, "log a prediction request", diag)) != NS_OK)
		goto out;
	id = sqlite3_last_insert_rowid(s->db);
	q = s->log[SQ_LOG_CLASS];
	for (size_t i = 0; i < e->n_classes; i++) {
		sqlite3_bind_int64(q, 1, id);
		sqlite3_bind_int64(q, 2, (int64_t)i);
		sqlite3_bind_text(q, 3, e->labels[i], -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 4, e->is_threat[i] ? 1 : 0);
		sqlite3_bind_int64(q, 5, (int64_t)e->counts[i]);
		if ((st = sq_log_step(s, SQ_LOG_CLASS, "log a prediction's class counts", diag)) !=
		    NS_OK)
			goto out;
	}
	if (e->raw_csv) {
		q = s->log[SQ_LOG_RAW];
		sqlite3_bind_int64(q, 1, id);
		/* A zero-length blob, not NULL, for "" (a non-NULL pointer). */
		sqlite3_bind_blob64(q, 2, e->raw_csv, (sqlite3_uint64)e->raw_len, SQLITE_STATIC);
		st = sq_log_step(s, SQ_LOG_RAW, "keep a prediction's raw rows", diag);
		sqlite3_bind_null(q, 2); /* drop the borrowed pointer */
		if (st != NS_OK)
			goto out;
	}
	st = sq_log_step(s, SQ_LOG_COMMIT, "commit a prediction log entry", diag);
out:
	if (st != NS_OK && !sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return st;
}

static enum ns_status sq_prediction_series(void *impl, int64_t since_ms, int64_t until_ms,
					   int64_t bucket_ms, struct ns_prediction_bucket *buckets,
					   size_t n_buckets, struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;

	if ((st = sq_log_busy(s, diag)) != NS_OK)
		return st;
	/* at_ms >= since_ms >= 0, so the bucket's number cannot overflow. */
	if ((st = sq_prepare(
		     s,
		     "SELECT (at_ms - ?1) / ?3, sum(requests), sum(n_rows), sum(threat_rows)"
		     " FROM netsec_predictions WHERE at_ms >= ?1 AND at_ms < ?2"
		     " GROUP BY 1",
		     -1, &q, "read the prediction log", diag)) != NS_OK)
		return st;
	sqlite3_bind_int64(q, 1, since_ms);
	sqlite3_bind_int64(q, 2, until_ms);
	sqlite3_bind_int64(q, 3, bucket_ms);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		int64_t i = sqlite3_column_int64(q, 0);
		if (sqlite3_column_type(q, 0) != SQLITE_INTEGER || i < 0 ||
		    (uint64_t)i >= n_buckets) {
			ns_diag_where(diag, s->path, 0, 0, NULL);
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "netsec_predictions holds a time that is not an integer");
			goto out;
		}
		buckets[i].requests = (uint64_t)sqlite3_column_int64(q, 1);
		buckets[i].rows = (uint64_t)sqlite3_column_int64(q, 2);
		buckets[i].threat_rows = (uint64_t)sqlite3_column_int64(q, 3);
	}
	if (rc != SQLITE_DONE)
		st = sq_fail(s, diag, rc, "read the prediction log");
out:
	sqlite3_finalize(q);
	return st;
}

static enum ns_status sq_prediction_totals(void *impl, int64_t since_ms, int64_t until_ms,
					   enum ns_status (*fn)(void *user, const char *label,
								size_t label_len, bool is_threat,
								uint64_t count),
					   void *user, struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	int rc;

	if ((st = sq_log_busy(s, diag)) != NS_OK)
		return st;
	if ((st = sq_prepare(s,
			     "SELECT c.label, max(c.is_threat), sum(c.n) FROM netsec_predictions p"
			     " JOIN netsec_prediction_classes c ON c.prediction_id = p.id"
			     " WHERE p.at_ms >= ?1 AND p.at_ms < ?2 GROUP BY c.label",
			     -1, &q, "read the prediction totals", diag)) != NS_OK)
		return st;
	sqlite3_bind_int64(q, 1, since_ms);
	sqlite3_bind_int64(q, 2, until_ms);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *label = (const char *)sqlite3_column_text(q, 0);
		if (!label) {
			st = sq_nomem(diag);
			goto out;
		}
		if ((st = fn(user, label, (size_t)sqlite3_column_bytes(q, 0),
			     sqlite3_column_int(q, 1) != 0,
			     (uint64_t)sqlite3_column_int64(q, 2))) != NS_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		st = sq_fail(s, diag, rc, "read the prediction totals");
out:
	sqlite3_finalize(q);
	return st;
}

/* Entries a prune deletes per transaction, so that each holds the write
 * lock only briefly and loggers keep going in between. */
#define SQ_PRUNE_BATCH 2000

static enum ns_status sq_prediction_prune(void *impl, int64_t before_ms, uint64_t *deleted,
					  struct ns_diag *diag)
{
	struct sq *s = impl;
	sqlite3_stmt *q = NULL;
	enum ns_status st;
	uint64_t total = 0;

	if ((st = sq_log_busy(s, diag)) != NS_OK)
		return st;
	/* Each DELETE is its own (autocommit) transaction; the cascade takes the
	 * classes and raw rows along. */
	if ((st = sq_prepare(s,
			     "DELETE FROM netsec_predictions WHERE id IN (SELECT id FROM"
			     " netsec_predictions WHERE at_ms < ?1 LIMIT ?2)",
			     -1, &q, "prune the prediction log", diag)) != NS_OK)
		return st;
	sqlite3_bind_int64(q, 1, before_ms);
	sqlite3_bind_int(q, 2, SQ_PRUNE_BATCH);
	for (;;) {
		int rc = sqlite3_step(q);
		int64_t n;
		sqlite3_reset(q);
		if (rc != SQLITE_DONE) {
			st = sq_fail(s, diag, rc, "prune the prediction log");
			break;
		}
		n = sqlite3_changes64(s->db);
		total += (uint64_t)n;
		if (n < SQ_PRUNE_BATCH)
			break;
	}
	sqlite3_finalize(q);
	if (st == NS_OK)
		*deleted = total;
	return st;
}

const struct ns__store_backend ns__store_sqlite = {
	.scheme = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.insert = sq_insert,
	.reject = sq_reject,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.list = sq_list,
	.count = sq_count,
	.schema_yaml = sq_schema_yaml,
	.scan = sq_scan,
	.scan_rejects = sq_scan_rejects,
	.drop = sq_drop,
	.log_prediction = sq_log_prediction,
	.prediction_series = sq_prediction_series,
	.prediction_totals = sq_prediction_totals,
	.prediction_prune = sq_prediction_prune,
};
