/*
 * lib/store/store_mongo.c - the MongoDB store backend (libmongoc/libbson),
 * chosen by a mongodb:// or mongodb+srv:// URI.
 *
 * Layout (docs/store.md, "MongoDB"), in the URI's database ("netsec" when the
 * URI names none), with the SQLite store's logical names:
 *   netsec_meta         {key: "ingest_seq", value}: the ingest id counter
 *   netsec_collections  {name, schema_yaml, schema_hash, data, created_ms,
 *                        updated_ms}; `data` names the MongoDB collection
 *                        that holds the rows
 *   netsec_ingests      {id, collection, data, state, fresh, sha256, source,
 *                        n_rows, n_bad, at_ms, alive_ms, owner}
 *   netsec_rejects      {_id, ingest_id, collection, data, line, reason, raw}
 *   data_<name>         one document per row: {_id, _ingest: id, <column>:
 *                        value, ...}
 * Every _id is an ObjectId (CongoDB accepts no other _id type).  The _id of a
 * row or reject is made by netsec: 4 bytes ingest id, 4 bytes row number
 * (both big-endian), "nsec"; so ObjectId order, which the _id index serves,
 * is ingest order.
 *   netsec_predictions  one document per prediction log entry, its classes
 *                        inside; netsec_prediction_raw holds raw rows too
 *                        large for one document, in chunks.
 *
 * Atomicity without transactions (CongoDB has none, and a standalone mongod
 * has none either): every change becomes visible through one single-document
 * write, which MongoDB applies atomically.
 *   - An ingest first records itself in netsec_ingests as "pending", then
 *     bulk-inserts its rows (unordered) tagged with its id.  Readers skip the
 *     rows of pending ingests ({_ingest: {$nin: [pending ids]}}).  Commit
 *     flips the ingest's state to "committed": from then on the rows count.
 *   - A new collection or a replace writes into a fresh MongoDB collection
 *     that nothing points to; commit sets netsec_collections.data to it (the
 *     flip), then deletes the previous generation's rows, ingests and rejects.
 *   - Rollback deletes what the ingest wrote.  A process that dies mid-ingest
 *     leaves a pending ingest whose rows nobody reads; it keeps a heartbeat
 *     (alive_ms) while it runs, and the next open of the store that finds a
 *     pending ingest silent for MG_LEASE_MS deletes its rows (or rolls it
 *     forward when the flip had happened), and also removes the leftovers of
 *     an interrupted replace or drop.
 * Concurrent ingests into one collection are not serialised: two processes
 * ingesting the same file at once may both store it (no unique index is
 * relied upon; CongoDB does not enforce them).
 *
 * Reads go through a cursor in batches of MG_SCAN_BATCH documents, decoded
 * straight into ns_value rows; documents written by other programs (one per
 * CSV row, field names = column names) read too: see mg_decode_row.
 *
 * Connection: one mongoc client per store handle (handles are per thread, as
 * mongoc clients are).  Open pings the server with retries and exponential
 * back-off; messages name host:port and never the password (ns_redact).
 *
 * Threading: a handle is used by one thread at a time; mongoc_init runs once
 * per process (pthread_once) and mongoc_cleanup at exit.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <mongoc/mongoc.h>

#include "core/internal.h"
#include "data/schema_internal.h"
#include "netsec/config.h"
#include "store/store_mongo.h"

#define MG_DEFAULT_DB "netsec"
#define MG_DATA_PREFIX "data_"
#define MG_INGEST_FIELD "_ingest"
/* Documents per cursor batch when reading a collection. */
#define MG_SCAN_BATCH 4096
/* A pending ingest silent this long is taken for dead by the next open. */
#define MG_LEASE_MS (120 * 1000)
/* An ingest refreshes its heartbeat at most this often. */
#define MG_BEAT_MS (10 * 1000)
/* Rows per ingest: the row number is the low 32 bits of a row's _id. */
#define MG_MAX_ROWS_PER_INGEST UINT32_MAX
/* Raw prediction rows up to this size live in the entry's document; larger
 * ones go to netsec_prediction_raw in chunks of MG_RAW_CHUNK bytes (a BSON
 * document holds at most 16 MiB). */
#define MG_RAW_INLINE ((size_t)8 << 20)
#define MG_RAW_CHUNK ((size_t)8 << 20)
#define MG_PRUNE_BATCH 2000
/* Connection defaults (NETSEC_MONGO_RETRIES, NETSEC_MONGO_TIMEOUT_MS). */
#define MG_DEFAULT_RETRIES 5
#define MG_DEFAULT_TIMEOUT_MS 5000
#define MG_FIRST_BACKOFF_MS 100

struct mg {
	mongoc_client_t *client;
	mongoc_database_t *db;
	char *dbname;
	char *hosts; /* "host:port,host:port" for messages */
	char *password; /* to scrub from libmongoc's messages (may be NULL) */
	mongoc_collection_t *c_meta, *c_colls, *c_ingests, *c_rejects, *c_preds, *c_raw;

	/* The ingest in progress (in_tx), else all zero. */
	bool in_tx;
	bool fresh; /* writing into a collection nothing points to yet */
	bool replace;
	char *collection;
	char *target; /* the MongoDB collection receiving the rows */
	char *old_data; /* replace: the generation to delete after the flip */
	char *schema_yaml, *schema_hash;
	const struct ns_schema *schema; /* borrowed until commit/rollback */
	size_t *name_len;
	mongoc_collection_t *c_target;
	int64_t ingest_id;
	uint64_t n_rows, n_rejects;
	int64_t last_beat_ms;
};

/* ---- process-wide set-up ------------------------------------------------------ */

static pthread_once_t mg_once = PTHREAD_ONCE_INIT;

static void mg_log_handler(mongoc_log_level_t level, const char *domain, const char *message,
			   void *user)
{
	(void)user;
	/* Driver chatter goes to netsec's log, at debug level unless an error. */
	ns_log(level <= MONGOC_LOG_LEVEL_CRITICAL ? NS_LOG_ERROR : NS_LOG_DEBUG, "mongoc %s: %s",
	       domain ? domain : "", message ? message : "");
}

static void mg_cleanup_at_exit(void)
{
	mongoc_cleanup();
}

static void mg_global_init(void)
{
	mongoc_log_set_handler(mg_log_handler, NULL);
	mongoc_init();
	atexit(mg_cleanup_at_exit);
}

/* ---- URIs: redaction, hosts ----------------------------------------------------- */

/* Replaces every occurrence of `secret` in msg (NUL-terminated, in place)
 * with '*'s, so that no libmongoc message can carry the password. */
static void mg_scrub(char *msg, const char *secret)
{
	size_t n;
	char *p;
	if (!msg || !secret || !*secret)
		return;
	n = strlen(secret);
	while ((p = strstr(msg, secret)) != NULL)
		memset(p, '*', n);
}

/* ---- errors ------------------------------------------------------------------ */

static enum ns_status mg_nomem(struct ns_diag *diag)
{
	return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
}

static enum ns_status mg_status_of(const bson_error_t *err)
{
	if (err->domain == MONGOC_ERROR_STREAM || err->domain == MONGOC_ERROR_SERVER_SELECTION)
		return NS_ERR_IO;
	return NS_ERR_STORE;
}

/* Reports libmongoc error `err` while doing `what`, naming the server. */
static enum ns_status mg_fail(struct mg *m, struct ns_diag *diag, const bson_error_t *err,
			      const char *what)
{
	char msg[sizeof(err->message)];
	snprintf(msg, sizeof(msg), "%s", err->message);
	mg_scrub(msg, m->password);
	return ns_diag_set(diag, mg_status_of(err), "mongodb %s/%s: cannot %s: %s", m->hosts,
			   m->dbname, what, msg);
}

static enum ns_status mg_notfound(struct mg *m, const char *collection, struct ns_diag *diag)
{
	return ns_diag_set(diag, NS_ERR_NOTFOUND, "no collection '%s' in the store (mongodb %s/%s)",
			   collection, m->hosts, m->dbname);
}

/* ---- small BSON helpers ------------------------------------------------------- */

/* An integer field (int32, int64 or an integral double); `def` otherwise. */
static int64_t mg_iter_int(const bson_iter_t *it, int64_t def)
{
	switch (bson_iter_type(it)) {
	case BSON_TYPE_INT32:
		return bson_iter_int32(it);
	case BSON_TYPE_INT64:
		return bson_iter_int64(it);
	case BSON_TYPE_DOUBLE: {
		double d = bson_iter_double(it);
		return isfinite(d) && fabs(d) < 9.2e18 ? (int64_t)d : def;
	}
	case BSON_TYPE_BOOL:
		return bson_iter_bool(it) ? 1 : 0;
	default:
		return def;
	}
}

static int64_t mg_get_int(const bson_t *doc, const char *key, int64_t def)
{
	bson_iter_t it;
	return bson_iter_init_find(&it, doc, key) ? mg_iter_int(&it, def) : def;
}

/* A string field, borrowed from doc; NULL when absent or not a string. */
static const char *mg_get_str(const bson_t *doc, const char *key, uint32_t *len)
{
	bson_iter_t it;
	if (bson_iter_init_find(&it, doc, key) && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, len);
	return NULL;
}

/* The _id of row (or reject) `seq` of ingest `id`: sorts in ingest order. */
static void mg_row_oid(bson_oid_t *oid, int64_t id, uint64_t seq)
{
	uint32_t a = (uint32_t)id, b = (uint32_t)seq;
	oid->bytes[0] = (uint8_t)(a >> 24);
	oid->bytes[1] = (uint8_t)(a >> 16);
	oid->bytes[2] = (uint8_t)(a >> 8);
	oid->bytes[3] = (uint8_t)a;
	oid->bytes[4] = (uint8_t)(b >> 24);
	oid->bytes[5] = (uint8_t)(b >> 16);
	oid->bytes[6] = (uint8_t)(b >> 8);
	oid->bytes[7] = (uint8_t)b;
	memcpy(oid->bytes + 8, "nsec", 4);
}

/* Finds the first document matching `filter` (with find `opts`); on a match
 * *found and a copy in `out` (bson_destroy it), else out stays empty. */
static enum ns_status mg_find_one(struct mg *m, mongoc_collection_t *c, const bson_t *filter,
				  const bson_t *opts, bson_t *out, bool *found, const char *what,
				  struct ns_diag *diag)
{
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	bson_t o = BSON_INITIALIZER;
	enum ns_status st = NS_OK;

	*found = false;
	bson_init(out);
	if (opts)
		bson_concat(&o, opts);
	BSON_APPEND_INT64(&o, "limit", 1);
	cur = mongoc_collection_find_with_opts(c, filter, &o, NULL);
	if (mongoc_cursor_next(cur, &doc)) {
		bson_destroy(out);
		bson_copy_to(doc, out);
		*found = true;
	} else if (mongoc_cursor_error(cur, &err)) {
		st = mg_fail(m, diag, &err, what);
	}
	mongoc_cursor_destroy(cur);
	bson_destroy(&o);
	return st;
}

/* ---- connection ------------------------------------------------------------- */

static long mg_env_long(const char *name, long def, long lo, long hi)
{
	const char *v = getenv(name);
	char *end;
	long x;
	if (!v || !*v)
		return def;
	x = strtol(v, &end, 10);
	if (*end || x < lo || x > hi) {
		ns_log(NS_LOG_WARN, "ignoring %s=%s (want %ld..%ld)", name, v, lo, hi);
		return def;
	}
	return x;
}

static void mg_sleep_ms(int64_t ms)
{
	struct timespec ts;
	if (ms <= 0)
		return;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

/* "host:port,host:port" (or the SRV name) of a parsed URI: a new string. */
static char *mg_hosts_of(const mongoc_uri_t *uri)
{
	struct ns__buf b;
	const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri);
	char *s;
	ns__buf_init(&b, 4096);
	if (!h) {
		const char *srv = mongoc_uri_get_srv_hostname(uri);
		ns__buf_printf(&b, "%s (SRV)", srv ? srv : "?");
	}
	for (; h; h = h->next)
		ns__buf_printf(&b, "%s%s", b.len ? "," : "", h->host_and_port);
	s = ns_strdup(b.data ? b.data : "?");
	ns__buf_fini(&b);
	return s;
}

static void mg_close(void *impl);
static enum ns_status mg_recover(struct mg *m, struct ns_diag *diag);
static enum ns_status mg_create_indexes(struct mg *m, struct ns_diag *diag);

/*
 * Connects: a new client per attempt (a single-threaded mongoc client keeps
 * a failed server in a 5 s cool-down, so retrying with the same client would
 * not reach it sooner), a ping, and exponential back-off between attempts.
 */
static enum ns_status mg_connect(struct mg *m, mongoc_uri_t *uri, struct ns_diag *diag)
{
	long retries = mg_env_long("NETSEC_MONGO_RETRIES", MG_DEFAULT_RETRIES, 1, 100);
	long timeout_ms = mg_env_long("NETSEC_MONGO_TIMEOUT_MS", MG_DEFAULT_TIMEOUT_MS, 1, 3600000);
	double t0 = ns__mono_seconds();
	int64_t backoff = MG_FIRST_BACKOFF_MS;
	bool set_sst = !mongoc_uri_has_option(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS);
	bool set_ct = !mongoc_uri_has_option(uri, MONGOC_URI_CONNECTTIMEOUTMS);
	bson_error_t err;
	char msg[sizeof(err.message)];
	long tries = 0;

	memset(&err, 0, sizeof(err));
	/* A server that stops answering without closing the connection must not
	 * hold a call for libmongoc's 300 s default: 30 s unless the URI says
	 * (socketTimeoutMS) or NETSEC_MONGO_SOCKET_TIMEOUT_MS does. */
	if (!mongoc_uri_has_option(uri, MONGOC_URI_SOCKETTIMEOUTMS))
		mongoc_uri_set_option_as_int32(
			uri, MONGOC_URI_SOCKETTIMEOUTMS,
			(int32_t)mg_env_long("NETSEC_MONGO_SOCKET_TIMEOUT_MS", 30000, 100,
					     3600000));
	for (;;) {
		int64_t elapsed = (int64_t)((ns__mono_seconds() - t0) * 1000);
		int64_t left = timeout_ms - elapsed;
		bson_t ping = BSON_INITIALIZER;
		bool ok;
		tries++;
		/* Each attempt may use what is left of the overall budget. */
		if (set_sst)
			mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS,
						       (int32_t)(left > 1 ? left : 1));
		if (set_ct)
			mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS,
						       (int32_t)(left > 1 ? left : 1));
		m->client = mongoc_client_new_from_uri_with_error(uri, &err);
		if (!m->client)
			break; /* a bad option: retrying will not help */
		mongoc_client_set_error_api(m->client, MONGOC_ERROR_API_VERSION_2);
		mongoc_client_set_appname(m->client, "netsec");
		BSON_APPEND_INT32(&ping, "ping", 1);
		ok = mongoc_client_command_simple(m->client, "admin", &ping, NULL, NULL, &err);
		bson_destroy(&ping);
		if (ok)
			return NS_OK;
		mongoc_client_destroy(m->client);
		m->client = NULL;
		/* Authentication and TLS set-up failures are not transient. */
		if (err.domain == MONGOC_ERROR_CLIENT &&
		    err.code == MONGOC_ERROR_CLIENT_AUTHENTICATE)
			break;
		elapsed = (int64_t)((ns__mono_seconds() - t0) * 1000);
		if (tries >= retries || elapsed + backoff >= timeout_ms)
			break;
		mg_sleep_ms(backoff);
		backoff *= 2;
	}
	snprintf(msg, sizeof(msg), "%s", err.message);
	mg_scrub(msg, m->password);
	return ns_diag_set(diag, NS_ERR_STORE,
			   "mongodb: cannot connect to %s (database %s) after %ld %s in %.1f s: %s",
			   m->hosts, m->dbname, tries, tries == 1 ? "try" : "tries",
			   ns__mono_seconds() - t0, msg);
}

static enum ns_status mg_open_uri(const char *full, void **impl, struct ns_diag *diag)
{
	struct mg *m;
	mongoc_uri_t *uri = NULL;
	bson_error_t err;
	enum ns_status st;
	const char *dbname, *pw;
	char red[512];

	pthread_once(&mg_once, mg_global_init);
	m = ns_calloc(1, sizeof(*m));
	if (!m)
		return mg_nomem(diag);
	uri = mongoc_uri_new_with_error(full, &err);
	if (!uri) {
		char msg[sizeof(err.message)];
		/* Scrub whatever sits between ':' and '@' in case the message quotes it. */
		snprintf(msg, sizeof(msg), "%s", err.message);
		ns_redact(full, red, sizeof(red));
		st = ns_diag_set(diag, NS_ERR_INVALID, "bad MongoDB URI '%s': %s", red,
				 strstr(msg, "@") ? "(details withheld: they quote the URI)" : msg);
		goto out;
	}
	dbname = mongoc_uri_get_database(uri);
	pw = mongoc_uri_get_password(uri);
	m->dbname = ns_strdup(dbname && *dbname ? dbname : MG_DEFAULT_DB);
	m->hosts = mg_hosts_of(uri);
	if (pw && *pw && !(m->password = ns_strdup(pw))) {
		st = mg_nomem(diag);
		goto out;
	}
	if (!m->dbname || !m->hosts) {
		st = mg_nomem(diag);
		goto out;
	}
	if ((st = mg_connect(m, uri, diag)) != NS_OK)
		goto out;
	m->db = mongoc_client_get_database(m->client, m->dbname);
	m->c_meta = mongoc_client_get_collection(m->client, m->dbname, "netsec_meta");
	m->c_colls = mongoc_client_get_collection(m->client, m->dbname, "netsec_collections");
	m->c_ingests = mongoc_client_get_collection(m->client, m->dbname, "netsec_ingests");
	m->c_rejects = mongoc_client_get_collection(m->client, m->dbname, "netsec_rejects");
	m->c_preds = mongoc_client_get_collection(m->client, m->dbname, "netsec_predictions");
	m->c_raw = mongoc_client_get_collection(m->client, m->dbname, "netsec_prediction_raw");
	if ((st = mg_create_indexes(m, diag)) != NS_OK)
		goto out;
	if ((st = mg_recover(m, diag)) != NS_OK)
		goto out;
	*impl = m;
	m = NULL;
out:
	mongoc_uri_destroy(uri);
	if (m)
		mg_close(m);
	return st;
}

static enum ns_status mg_open_scheme(const char *scheme, const char *location, void **impl,
				     struct ns_diag *diag)
{
	char *full;
	size_t n;
	enum ns_status st;
	if (!location || !*location)
		return ns_diag_set(diag, NS_ERR_INVALID, "%s store: empty URI", scheme);
	n = strlen(scheme) + 1 + strlen(location) + 1;
	if (!(full = ns_malloc(n)))
		return mg_nomem(diag);
	snprintf(full, n, "%s:%s", scheme, location);
	st = mg_open_uri(full, impl, diag);
	/* The URI may hold a password: do not leave it in freed memory. */
	memset(full, 0, n);
	ns_free(full);
	return st;
}

static enum ns_status mg_open(const char *location, void **impl, struct ns_diag *diag)
{
	return mg_open_scheme("mongodb", location, impl, diag);
}

static enum ns_status mg_open_srv(const char *location, void **impl, struct ns_diag *diag)
{
	return mg_open_scheme("mongodb+srv", location, impl, diag);
}

static void mg_end_ingest(struct mg *m)
{
	if (m->c_target)
		mongoc_collection_destroy(m->c_target);
	ns_free(m->collection);
	ns_free(m->target);
	ns_free(m->old_data);
	ns_free(m->schema_yaml);
	ns_free(m->schema_hash);
	ns_free(m->name_len);
	m->c_target = NULL;
	m->collection = m->target = m->old_data = m->schema_yaml = m->schema_hash = NULL;
	m->name_len = NULL;
	m->schema = NULL;
	m->in_tx = m->fresh = m->replace = false;
	m->ingest_id = 0;
	m->n_rows = m->n_rejects = 0;
}

static void mg_rollback(void *impl);

static void mg_close(void *impl)
{
	struct mg *m = impl;
	if (!m)
		return;
	if (m->in_tx)
		mg_rollback(m);
	mongoc_collection_destroy(m->c_meta);
	mongoc_collection_destroy(m->c_colls);
	mongoc_collection_destroy(m->c_ingests);
	mongoc_collection_destroy(m->c_rejects);
	mongoc_collection_destroy(m->c_preds);
	mongoc_collection_destroy(m->c_raw);
	if (m->db)
		mongoc_database_destroy(m->db);
	if (m->client)
		mongoc_client_destroy(m->client);
	ns_free(m->dbname);
	ns_free(m->hosts);
	if (m->password) {
		memset(m->password, 0, strlen(m->password));
		ns_free(m->password);
	}
	ns_free(m);
}

/* Indexes the queries rely on (createIndexes is idempotent). */
static enum ns_status mg_create_indexes(struct mg *m, struct ns_diag *diag)
{
	/* Unique indexes guard a real MongoDB against two concurrent creators;
	 * CongoDB does not enforce them, and nothing here relies on them. */
	static const struct {
		const char *coll, *key, *name;
		bool unique;
	} ix[] = {
		{"netsec_meta", "key", "key_1", true},
		{"netsec_collections", "name", "name_1", true},
		{"netsec_ingests", "id", "id_1", true},
		{"netsec_ingests", "collection", "collection_1", false},
		{"netsec_rejects", "ingest_id", "ingest_id_1", false},
		{"netsec_predictions", "at_ms", "at_ms_1", false},
	};
	for (size_t i = 0; i < sizeof(ix) / sizeof(ix[0]); i++) {
		bson_t cmd = BSON_INITIALIZER, arr, one, key;
		bson_error_t err;
		bool ok;
		BSON_APPEND_UTF8(&cmd, "createIndexes", ix[i].coll);
		BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &arr);
		BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &one);
		BSON_APPEND_DOCUMENT_BEGIN(&one, "key", &key);
		BSON_APPEND_INT32(&key, ix[i].key, 1);
		bson_append_document_end(&one, &key);
		BSON_APPEND_UTF8(&one, "name", ix[i].name);
		if (ix[i].unique)
			BSON_APPEND_BOOL(&one, "unique", true);
		bson_append_document_end(&arr, &one);
		bson_append_array_end(&cmd, &arr);
		ok = mongoc_database_write_command_with_opts(m->db, &cmd, NULL, NULL, &err);
		bson_destroy(&cmd);
		if (!ok)
			return mg_fail(m, diag, &err, "create the store's indexes");
	}
	return NS_OK;
}

/* ---- collections ---------------------------------------------------------------- */

/* Drops MongoDB collection `name`; a missing one is fine. */
static enum ns_status mg_drop_coll(struct mg *m, const char *name, struct ns_diag *diag)
{
	mongoc_collection_t *c = mongoc_client_get_collection(m->client, m->dbname, name);
	bson_error_t err;
	enum ns_status st = NS_OK;
	if (!mongoc_collection_drop_with_opts(c, NULL, &err) &&
	    !(err.code == 26 || strstr(err.message, "ns not found") ||
	      strstr(err.message, "not found") || strstr(err.message, "does not exist")))
		st = mg_fail(m, diag, &err, "drop a data collection");
	mongoc_collection_destroy(c);
	return st;
}

static enum ns_status mg_delete_many(struct mg *m, mongoc_collection_t *c, const bson_t *filter,
				     uint64_t *n, const char *what, struct ns_diag *diag)
{
	bson_t reply;
	bson_error_t err;
	bool ok = mongoc_collection_delete_many(c, filter, NULL, &reply, &err);
	if (ok && n)
		*n = (uint64_t)mg_get_int(&reply, "deletedCount", 0);
	bson_destroy(&reply);
	return ok ? NS_OK : mg_fail(m, diag, &err, what);
}

/*
 * Looks a collection up: *found, and when asked its data collection and its
 * schema hash (new strings, the caller frees them).
 */
static enum ns_status mg_find_coll(struct mg *m, const char *collection, bool *found, char **data,
				   char **hash, struct ns_diag *diag)
{
	bson_t filter = BSON_INITIALIZER, doc;
	enum ns_status st;
	BSON_APPEND_UTF8(&filter, "name", collection);
	st = mg_find_one(m, m->c_colls, &filter, NULL, &doc, found, "look up the collection", diag);
	bson_destroy(&filter);
	if (st == NS_OK && *found) {
		const char *d = mg_get_str(&doc, "data", NULL);
		const char *h = mg_get_str(&doc, "schema_hash", NULL);
		/* A hand-made entry without `data` reads data_<name>. */
		char def[96];
		snprintf(def, sizeof(def), MG_DATA_PREFIX "%s", collection);
		if (data && !(*data = ns_strdup(d ? d : def)))
			st = mg_nomem(diag);
		if (st == NS_OK && hash && !(*hash = ns_strdup(h ? h : ""))) {
			st = mg_nomem(diag);
			if (data) {
				ns_free(*data);
				*data = NULL;
			}
		}
	}
	bson_destroy(&doc);
	return st;
}

/*
 * Builds the filter that hides the rows of pending ingests of `data` (those
 * still being written, or abandoned and not yet cleaned up) into `filter`
 * (initialised by the caller).
 */
static enum ns_status mg_visible_filter(struct mg *m, const char *collection, const char *data,
					bson_t *filter, struct ns_diag *diag)
{
	bson_t q = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj, nin, arr;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	enum ns_status st = NS_OK;
	uint32_t k = 0;
	bson_t ids = BSON_INITIALIZER;

	BSON_APPEND_UTF8(&q, "collection", collection);
	BSON_APPEND_UTF8(&q, "data", data);
	BSON_APPEND_UTF8(&q, "state", "pending");
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "id", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(m->c_ingests, &q, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		char key[16];
		const char *kp;
		bson_uint32_to_string(k++, &kp, key, sizeof(key));
		bson_append_int64(&ids, kp, -1, mg_get_int(doc, "id", -1));
	}
	if (mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "read the pending ingests");
	mongoc_cursor_destroy(cur);
	if (st == NS_OK && k > 0) {
		BSON_APPEND_DOCUMENT_BEGIN(filter, MG_INGEST_FIELD, &nin);
		bson_append_array_begin(&nin, "$nin", 4, &arr);
		bson_concat(&arr, &ids);
		bson_append_array_end(&nin, &arr);
		bson_append_document_end(filter, &nin);
	}
	bson_destroy(&ids);
	bson_destroy(&q);
	bson_destroy(&opts);
	return st;
}

static enum ns_status mg_count_rows(struct mg *m, const char *collection, const char *data,
				    uint64_t *n, struct ns_diag *diag)
{
	bson_t filter = BSON_INITIALIZER;
	mongoc_collection_t *c;
	bson_error_t err;
	enum ns_status st;
	int64_t cnt;
	if ((st = mg_visible_filter(m, collection, data, &filter, diag)) != NS_OK) {
		bson_destroy(&filter);
		return st;
	}
	c = mongoc_client_get_collection(m->client, m->dbname, data);
	cnt = mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, &err);
	if (cnt < 0)
		st = mg_fail(m, diag, &err, "count the rows");
	else
		*n = (uint64_t)cnt;
	mongoc_collection_destroy(c);
	bson_destroy(&filter);
	return st;
}

static enum ns_status mg_count(void *impl, const char *collection, uint64_t *n,
			       struct ns_diag *diag)
{
	struct mg *m = impl;
	char *data = NULL;
	bool found = false;
	enum ns_status st = mg_find_coll(m, collection, &found, &data, NULL, diag);
	if (st == NS_OK && !found)
		st = mg_notfound(m, collection, diag);
	if (st == NS_OK)
		st = mg_count_rows(m, collection, data, n, diag);
	ns_free(data);
	return st;
}

/* ---- recovery at open ------------------------------------------------------------ */

/* Deletes what ingest `id` wrote into `data` (all of `data` when fresh). */
static enum ns_status mg_undo_ingest(struct mg *m, int64_t id, const char *data, bool fresh,
				     struct ns_diag *diag)
{
	bson_t f = BSON_INITIALIZER;
	enum ns_status st = NS_OK;
	if (fresh) {
		st = mg_drop_coll(m, data, diag);
	} else {
		mongoc_collection_t *c = mongoc_client_get_collection(m->client, m->dbname, data);
		BSON_APPEND_INT64(&f, MG_INGEST_FIELD, id);
		st = mg_delete_many(m, c, &f, NULL, "delete an ingest's rows", diag);
		mongoc_collection_destroy(c);
		bson_reinit(&f);
	}
	if (st == NS_OK) {
		BSON_APPEND_INT64(&f, "ingest_id", id);
		st = mg_delete_many(m, m->c_rejects, &f, NULL, "delete an ingest's rejects", diag);
		bson_reinit(&f);
	}
	if (st == NS_OK) {
		BSON_APPEND_INT64(&f, "id", id);
		st = mg_delete_many(m, m->c_ingests, &f, NULL, "delete an ingest", diag);
	}
	bson_destroy(&f);
	return st;
}

struct mg_ing {
	int64_t id;
	char *collection, *data;
	bool pending, fresh;
	int64_t alive_ms;
};

/*
 * Cleans up after processes that died: pending ingests silent for
 * MG_LEASE_MS are rolled back (or forward, when their flip had happened),
 * and committed ingests whose collection was dropped or replaced (a drop or
 * replace interrupted before it removed the old generation) are removed with
 * their rejects and data collection.  Cheap when there is nothing to do: one
 * query over netsec_ingests (one document per ingested file).
 */
static enum ns_status mg_recover(struct mg *m, struct ns_diag *diag)
{
	bson_t q = BSON_INITIALIZER;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	struct mg_ing *v = NULL;
	size_t n = 0, cap = 0;
	enum ns_status st = NS_OK;
	int64_t now = ns__now_ms();

	cur = mongoc_collection_find_with_opts(m->c_ingests, &q, NULL, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		const char *c = mg_get_str(doc, "collection", NULL);
		const char *d = mg_get_str(doc, "data", NULL);
		const char *s = mg_get_str(doc, "state", NULL);
		bson_iter_t it;
		if (!c || !d || !s)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct mg_ing *nv = ns_reallocarray(v, nc, sizeof(*v));
			if (!nv) {
				st = mg_nomem(diag);
				break;
			}
			v = nv;
			cap = nc;
		}
		memset(&v[n], 0, sizeof(v[n]));
		v[n].id = mg_get_int(doc, "id", -1);
		v[n].pending = strcmp(s, "committed") != 0;
		v[n].fresh = bson_iter_init_find(&it, doc, "fresh") && BSON_ITER_HOLDS_BOOL(&it) &&
			     bson_iter_bool(&it);
		v[n].alive_ms = mg_get_int(doc, "alive_ms", 0);
		v[n].collection = ns_strdup(c);
		v[n].data = ns_strdup(d);
		n++;
		if (!v[n - 1].collection || !v[n - 1].data) {
			st = mg_nomem(diag);
			break;
		}
	}
	if (st == NS_OK && mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "read the ingest history");
	mongoc_cursor_destroy(cur);
	bson_destroy(&q);

	for (size_t i = 0; st == NS_OK && i < n; i++) {
		char *cur_data = NULL;
		bool found = false;
		if (v[i].pending && now - v[i].alive_ms < MG_LEASE_MS)
			continue; /* still being written, or only just abandoned */
		if ((st = mg_find_coll(m, v[i].collection, &found, &cur_data, NULL, diag)) != NS_OK)
			break;
		if (v[i].pending) {
			if (v[i].fresh && found && strcmp(cur_data, v[i].data) == 0) {
				/* The flip happened: only the state was left to write. */
				bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, set;
				BSON_APPEND_INT64(&f, "id", v[i].id);
				BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
				BSON_APPEND_UTF8(&set, "state", "committed");
				bson_append_document_end(&u, &set);
				if (!mongoc_collection_update_one(m->c_ingests, &f, &u, NULL, NULL,
								  &err))
					st = mg_fail(m, diag, &err, "finish an interrupted ingest");
				bson_destroy(&f);
				bson_destroy(&u);
			} else {
				ns_log(NS_LOG_WARN,
				       "mongodb store: removing ingest %" PRId64
				       " into '%s', abandoned mid-way",
				       v[i].id, v[i].collection);
				/* The data collection in use is never dropped. */
				st = mg_undo_ingest(
					m, v[i].id, v[i].data,
					v[i].fresh && !(found && strcmp(cur_data, v[i].data) == 0),
					diag);
			}
		} else if (!found || strcmp(cur_data, v[i].data) != 0) {
			/* An old generation left by an interrupted replace or drop.  Its
			 * data collection goes unless a collection still uses it. */
			bson_t f = BSON_INITIALIZER, d;
			bool used = false;
			BSON_APPEND_UTF8(&f, "data", v[i].data);
			st = mg_find_one(m, m->c_colls, &f, NULL, &d, &used, "look up a collection",
					 diag);
			bson_destroy(&d);
			bson_destroy(&f);
			if (st == NS_OK)
				st = mg_undo_ingest(m, v[i].id, v[i].data, !used, diag);
		}
		ns_free(cur_data);
	}
	for (size_t i = 0; i < n; i++) {
		ns_free(v[i].collection);
		ns_free(v[i].data);
	}
	ns_free(v);
	return st;
}

/* ---- ingest ---------------------------------------------------------------------- */

struct mg_coll {
	char *name;
	char *hash;
	char *data;
	int64_t updated_ms;
};

static void mg_colls_free(struct mg_coll *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ns_free(v[i].name);
		ns_free(v[i].hash);
		ns_free(v[i].data);
	}
	ns_free(v);
}

static int mg_coll_cmp(const void *a, const void *b)
{
	return strcmp(((const struct mg_coll *)a)->name, ((const struct mg_coll *)b)->name);
}

/* Every collection, in name byte order. */
static enum ns_status mg_load_colls(struct mg *m, struct mg_coll **out, size_t *n_out,
				    struct ns_diag *diag)
{
	bson_t q = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	struct mg_coll *v = NULL;
	size_t n = 0, cap = 0;
	enum ns_status st = NS_OK;

	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "name", 1);
	BSON_APPEND_INT32(&proj, "schema_hash", 1);
	BSON_APPEND_INT32(&proj, "data", 1);
	BSON_APPEND_INT32(&proj, "updated_ms", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(m->c_colls, &q, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		const char *name = mg_get_str(doc, "name", NULL);
		const char *h = mg_get_str(doc, "schema_hash", NULL);
		const char *d = mg_get_str(doc, "data", NULL);
		char def[96];
		if (!name)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct mg_coll *nv = ns_reallocarray(v, nc, sizeof(*v));
			if (!nv) {
				st = mg_nomem(diag);
				break;
			}
			v = nv;
			cap = nc;
		}
		snprintf(def, sizeof(def), MG_DATA_PREFIX "%s", name);
		v[n].name = ns_strdup(name);
		v[n].hash = ns_strdup(h ? h : "");
		v[n].data = ns_strdup(d ? d : def);
		v[n].updated_ms = mg_get_int(doc, "updated_ms", 0);
		n++;
		if (!v[n - 1].name || !v[n - 1].hash || !v[n - 1].data) {
			st = mg_nomem(diag);
			break;
		}
	}
	if (st == NS_OK && mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "list the collections");
	mongoc_cursor_destroy(cur);
	bson_destroy(&q);
	bson_destroy(&opts);
	if (st != NS_OK) {
		mg_colls_free(v, n);
		return st;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), mg_coll_cmp);
	*out = v;
	*n_out = n;
	return NS_OK;
}

/* Allocates the next ingest id (an atomic $inc on one document). */
static enum ns_status mg_next_id(struct mg *m, int64_t *id, struct ns_diag *diag)
{
	mongoc_find_and_modify_opts_t *o = mongoc_find_and_modify_opts_new();
	bson_t q = BSON_INITIALIZER, u = BSON_INITIALIZER, inc, reply;
	bson_error_t err;
	bson_iter_t it, val;
	enum ns_status st = NS_OK;
	BSON_APPEND_UTF8(&q, "key", "ingest_seq");
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$inc", &inc);
	BSON_APPEND_INT64(&inc, "value", 1);
	bson_append_document_end(&u, &inc);
	mongoc_find_and_modify_opts_set_update(o, &u);
	mongoc_find_and_modify_opts_set_flags(o, MONGOC_FIND_AND_MODIFY_UPSERT |
							 MONGOC_FIND_AND_MODIFY_RETURN_NEW);
	if (!mongoc_collection_find_and_modify_with_opts(m->c_meta, &q, o, &reply, &err)) {
		st = mg_fail(m, diag, &err, "allocate an ingest id");
	} else if (bson_iter_init_find(&it, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&it) &&
		   bson_iter_recurse(&it, &val) && bson_iter_find(&val, "value")) {
		*id = mg_iter_int(&val, -1);
		if (*id <= 0 || *id >= ((int64_t)1 << 31))
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "mongodb %s/%s: netsec_meta's ingest counter is out of "
					 "range",
					 m->hosts, m->dbname);
	} else {
		st = ns_diag_set(diag, NS_ERR_STORE,
				 "mongodb %s/%s: the server did not return the ingest counter",
				 m->hosts, m->dbname);
	}
	bson_destroy(&reply);
	bson_destroy(&q);
	bson_destroy(&u);
	mongoc_find_and_modify_opts_destroy(o);
	return st;
}

/* True when the database holds a collection named `name`. */
static enum ns_status mg_coll_exists(struct mg *m, const char *name, bool *exists,
				     struct ns_diag *diag)
{
	bson_t opts = BSON_INITIALIZER, filter;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	enum ns_status st = NS_OK;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "filter", &filter);
	BSON_APPEND_UTF8(&filter, "name", name);
	bson_append_document_end(&opts, &filter);
	cur = mongoc_database_find_collections_with_opts(m->db, &opts);
	*exists = false;
	while (mongoc_cursor_next(cur, &doc)) {
		const char *nm = mg_get_str(doc, "name", NULL);
		if (nm && strcmp(nm, name) == 0)
			*exists = true;
	}
	if (mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "list the database's collections");
	mongoc_cursor_destroy(cur);
	bson_destroy(&opts);
	return st;
}

static enum ns_status mg_begin(void *impl, const char *collection, const struct ns_schema *schema,
			       const char *schema_yaml, const char *schema_hash, bool replace,
			       struct ns_diag *diag)
{
	struct mg *m = impl;
	struct mg_coll *cs = NULL;
	size_t n_cs = 0;
	const struct mg_coll *found = NULL, *other = NULL;
	bson_t doc = BSON_INITIALIZER;
	bson_error_t err;
	enum ns_status st;
	char target[160];
	int64_t now = ns__now_ms();

	if (m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "an ingest is already in progress");
	for (size_t i = 0; i < schema->n_columns; i++) {
		const char *nm = schema->columns[i].name;
		if (strcmp(nm, "_id") == 0 || strcmp(nm, MG_INGEST_FIELD) == 0 || nm[0] == '$' ||
		    strchr(nm, '.') || !*nm) {
			ns_diag_where(diag, NULL, 0, 0, nm);
			return ns_diag_set(diag, NS_ERR_SCHEMA,
					   "column name '%s' cannot be a field of the MongoDB "
					   "store (_id and _ingest are reserved; no '.', no "
					   "leading '$')",
					   nm);
		}
	}
	if ((st = mg_load_colls(m, &cs, &n_cs, diag)) != NS_OK)
		return st;
	for (size_t i = 0; i < n_cs; i++) {
		if (strcmp(cs[i].name, collection) == 0)
			found = &cs[i];
		else if (strcasecmp(cs[i].name, collection) == 0 && !other)
			other = &cs[i];
	}
	if (!found && other) {
		st = ns_diag_set(diag, NS_ERR_EXISTS,
				 "collection '%s' clashes with collection '%s': names that differ "
				 "only in case cannot coexist",
				 collection, other->name);
		goto out;
	}
	if (found && strcmp(found->hash, schema_hash) != 0 && !replace) {
		st = ns_diag_set(diag, NS_ERR_SCHEMA,
				 "collection '%s' holds records of another schema (hash %.12s, "
				 "this one %.12s); use replace to start it over",
				 collection, found->hash, schema_hash);
		goto out;
	}
	if ((st = mg_next_id(m, &m->ingest_id, diag)) != NS_OK)
		goto out;
	m->fresh = !found || replace;
	m->replace = found && replace;
	if (m->fresh) {
		/* data_<name> when free (it alternates with data_<name>@<id> across
		 * replaces), so that the flip never points at a half-written one. */
		bool exists = false;
		snprintf(target, sizeof(target), MG_DATA_PREFIX "%s", collection);
		if ((st = mg_coll_exists(m, target, &exists, diag)) != NS_OK)
			goto out;
		if (exists)
			snprintf(target, sizeof(target), MG_DATA_PREFIX "%s@%" PRId64, collection,
				 m->ingest_id);
	} else {
		snprintf(target, sizeof(target), "%s", found->data);
	}
	m->collection = ns_strdup(collection);
	m->target = ns_strdup(target);
	m->old_data = m->replace ? ns_strdup(found->data) : NULL;
	m->schema_yaml = ns_strdup(schema_yaml);
	m->schema_hash = ns_strdup(schema_hash);
	m->name_len = ns_calloc(schema->n_columns ? schema->n_columns : 1, sizeof(size_t));
	if (!m->collection || !m->target || (m->replace && !m->old_data) || !m->schema_yaml ||
	    !m->schema_hash || !m->name_len) {
		st = mg_nomem(diag);
		goto out;
	}
	for (size_t i = 0; i < schema->n_columns; i++)
		m->name_len[i] = strlen(schema->columns[i].name);
	m->schema = schema;
	m->c_target = mongoc_client_get_collection(m->client, m->dbname, m->target);

	/* The pending record comes first: whatever follows, it says what to undo. */
	{
		char owner[128], host[64] = "";
		gethostname(host, sizeof(host) - 1);
		snprintf(owner, sizeof(owner), "%s:%ld", host, (long)getpid());
		BSON_APPEND_INT64(&doc, "id", m->ingest_id);
		BSON_APPEND_UTF8(&doc, "collection", collection);
		BSON_APPEND_UTF8(&doc, "data", m->target);
		BSON_APPEND_UTF8(&doc, "state", "pending");
		BSON_APPEND_BOOL(&doc, "fresh", m->fresh);
		BSON_APPEND_UTF8(&doc, "sha256", "");
		BSON_APPEND_UTF8(&doc, "source", "");
		BSON_APPEND_INT64(&doc, "n_rows", 0);
		BSON_APPEND_INT64(&doc, "n_bad", 0);
		BSON_APPEND_INT64(&doc, "at_ms", now);
		BSON_APPEND_INT64(&doc, "alive_ms", now);
		BSON_APPEND_UTF8(&doc, "owner", owner);
	}
	if (!mongoc_collection_insert_one(m->c_ingests, &doc, NULL, NULL, &err)) {
		st = mg_fail(m, diag, &err, "record the ingest");
		goto out;
	}
	m->last_beat_ms = now;
	m->in_tx = true;
out:
	bson_destroy(&doc);
	mg_colls_free(cs, n_cs);
	if (st != NS_OK && !m->in_tx)
		mg_end_ingest(m);
	return st;
}

/* Largest magnitude below 2^63 that a double holds exactly is 2^63 - 1024. */
#define MG_INT64_EDGE 9223372036854774784.0

/* Appends one row's fields to doc. */
static void mg_append_row(struct mg *m, bson_t *doc, const struct ns_value *values)
{
	const struct ns_schema *schema = m->schema;
	for (size_t i = 0; i < schema->n_columns; i++) {
		const struct ns_value *v = &values[i];
		const char *key = schema->columns[i].name;
		int kl = (int)m->name_len[i];
		double d = v->num;
		if (v->missing) {
			bson_append_null(doc, key, kl);
			continue;
		}
		switch (schema->columns[i].type) {
		case NS_TYPE_CATEGORY:
			bson_append_utf8(doc, key, kl, v->str ? v->str : "", (int)v->len);
			break;
		case NS_TYPE_INT:
			/* Whole numbers as int32/int64 (what other programs write too);
			 * -0.0 and huge values stay doubles. */
			if (d >= -2147483648.0 && d <= 2147483647.0 && d == (double)(int32_t)d &&
			    !(d == 0 && signbit(d))) {
				bson_append_int32(doc, key, kl, (int32_t)d);
				break;
			}
			if (d >= -MG_INT64_EDGE && d <= MG_INT64_EDGE && d == (double)(int64_t)d &&
			    !(d == 0 && signbit(d))) {
				bson_append_int64(doc, key, kl, (int64_t)d);
				break;
			}
			/* fall through */
		default:
			if (isnan(d))
				bson_append_null(doc, key, kl);
			else
				bson_append_double(doc, key, kl, d);
			break;
		}
	}
}

/* Refreshes the pending ingest's heartbeat (at most every MG_BEAT_MS). */
static enum ns_status mg_beat(struct mg *m, struct ns_diag *diag)
{
	int64_t now = ns__now_ms();
	bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, set;
	bson_error_t err;
	enum ns_status st = NS_OK;
	if (now - m->last_beat_ms < MG_BEAT_MS)
		return NS_OK;
	BSON_APPEND_INT64(&f, "id", m->ingest_id);
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
	BSON_APPEND_INT64(&set, "alive_ms", now);
	bson_append_document_end(&u, &set);
	if (!mongoc_collection_update_one(m->c_ingests, &f, &u, NULL, NULL, &err))
		st = mg_fail(m, diag, &err, "refresh the ingest's heartbeat");
	else
		m->last_beat_ms = now;
	bson_destroy(&f);
	bson_destroy(&u);
	return st;
}

static enum ns_status mg_insert(void *impl, const struct ns_value *values, size_t n_rows,
				struct ns_diag *diag)
{
	struct mg *m = impl;
	mongoc_bulk_operation_t *bulk;
	bson_t opts = BSON_INITIALIZER, ins_opts = BSON_INITIALIZER, doc, reply;
	bson_error_t err;
	enum ns_status st = NS_OK;
	size_t n_cols;

	if (!m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "no ingest in progress");
	if (n_rows == 0)
		return NS_OK;
	if (n_rows > MG_MAX_ROWS_PER_INGEST - m->n_rows)
		return ns_diag_set(diag, NS_ERR_LIMIT,
				   "more than %" PRIu32 " rows in one ingest: the MongoDB store "
				   "numbers rows in 32 bits",
				   MG_MAX_ROWS_PER_INGEST);
	n_cols = m->schema->n_columns;
	/* Unordered: the server may apply the batch in any order and goes on
	 * past a failed document; order comes from the _ids, not the arrival. */
	BSON_APPEND_BOOL(&opts, "ordered", false);
	/* Keys were checked at begin; skip libbson's per-document walk. */
	BSON_APPEND_BOOL(&ins_opts, "validate", false);
	bulk = mongoc_collection_create_bulk_operation_with_opts(m->c_target, &opts);
	bson_init(&doc);
	for (size_t r = 0; r < n_rows; r++) {
		bson_oid_t oid;
		mg_row_oid(&oid, m->ingest_id, m->n_rows + r);
		bson_reinit(&doc);
		BSON_APPEND_OID(&doc, "_id", &oid);
		BSON_APPEND_INT64(&doc, MG_INGEST_FIELD, m->ingest_id);
		mg_append_row(m, &doc, &values[r * n_cols]);
		if (!mongoc_bulk_operation_insert_with_opts(bulk, &doc, &ins_opts, &err)) {
			st = mg_fail(m, diag, &err, "queue a row");
			break;
		}
	}
	bson_destroy(&doc);
	if (st == NS_OK) {
		if (!mongoc_bulk_operation_execute(bulk, &reply, &err))
			st = mg_fail(m, diag, &err, "insert rows");
		bson_destroy(&reply);
	}
	mongoc_bulk_operation_destroy(bulk);
	bson_destroy(&opts);
	bson_destroy(&ins_opts);
	if (st == NS_OK) {
		m->n_rows += n_rows;
		st = mg_beat(m, diag);
	}
	return st;
}

static enum ns_status mg_reject(void *impl, uint64_t line, const char *reason, const char *raw,
				size_t raw_len, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t doc = BSON_INITIALIZER;
	bson_error_t err;
	enum ns_status st = NS_OK;
	if (!m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "no ingest in progress");
	if (raw_len > (size_t)8 << 20)
		return ns_diag_set(diag, NS_ERR_LIMIT,
				   "a rejected record of %zu bytes; the MongoDB store keeps at "
				   "most 8 MiB",
				   raw_len);
	{
		bson_oid_t oid;
		mg_row_oid(&oid, m->ingest_id, m->n_rejects);
		BSON_APPEND_OID(&doc, "_id", &oid);
	}
	BSON_APPEND_INT64(&doc, "ingest_id", m->ingest_id);
	BSON_APPEND_UTF8(&doc, "collection", m->collection);
	BSON_APPEND_UTF8(&doc, "data", m->target);
	BSON_APPEND_INT64(&doc, "line", (int64_t)line);
	BSON_APPEND_UTF8(&doc, "reason", reason);
	/* Raw bytes as read: a string when UTF-8, else binary. */
	if (bson_utf8_validate(raw ? raw : "", raw ? raw_len : 0, false))
		bson_append_utf8(&doc, "raw", 3, raw ? raw : "", raw ? (int)raw_len : 0);
	else
		bson_append_binary(&doc, "raw", 3, BSON_SUBTYPE_BINARY, (const uint8_t *)raw,
				   (uint32_t)raw_len);
	if (!mongoc_collection_insert_one(m->c_rejects, &doc, NULL, NULL, &err))
		st = mg_fail(m, diag, &err, "store a rejected record");
	else
		m->n_rejects++;
	bson_destroy(&doc);
	return st;
}

static void mg_rollback(void *impl)
{
	struct mg *m = impl;
	struct ns_diag d;
	if (!m->in_tx)
		return;
	/* If this fails the pending record stays, and a later open cleans up. */
	if (mg_undo_ingest(m, m->ingest_id, m->target, m->fresh, &d) != NS_OK)
		ns_log(NS_LOG_WARN, "mongodb store: cannot roll back ingest %" PRId64 ": %s",
		       m->ingest_id, d.message);
	mg_end_ingest(m);
}

static enum ns_status mg_commit(void *impl, const char *sha256, const char *source, uint64_t n_rows,
				uint64_t n_bad, bool allow_duplicate, bool *duplicate,
				int64_t *ingest_id, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t f = BSON_INITIALIZER, u = BSON_INITIALIZER, set, ins, reply, doc;
	bson_error_t err;
	enum ns_status st = NS_OK;
	int64_t now = ns__now_ms();
	bool found = false;

	*duplicate = false;
	if (!m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "no ingest in progress");
	bson_init(&reply);
	bson_init(&doc);
	if (!m->fresh) {
		char *cur = NULL;
		if (!allow_duplicate) {
			BSON_APPEND_UTF8(&f, "collection", m->collection);
			BSON_APPEND_UTF8(&f, "data", m->target);
			BSON_APPEND_UTF8(&f, "sha256", sha256);
			BSON_APPEND_UTF8(&f, "state", "committed");
			bson_destroy(&doc);
			if ((st = mg_find_one(m, m->c_ingests, &f, NULL, &doc, &found,
					      "look for an earlier ingest", diag)) != NS_OK)
				goto out;
			if (found) {
				mg_rollback(m);
				*duplicate = true;
				goto out;
			}
			bson_reinit(&f);
		}
		/* A replace or drop that won meanwhile makes these rows garbage. */
		if ((st = mg_find_coll(m, m->collection, &found, &cur, NULL, diag)) != NS_OK)
			goto out;
		if (!found || strcmp(cur, m->target) != 0) {
			ns_free(cur);
			st = ns_diag_set(diag, NS_ERR_STORE,
					 "mongodb %s/%s: collection '%s' was dropped or replaced "
					 "during the ingest",
					 m->hosts, m->dbname, m->collection);
			goto out;
		}
		ns_free(cur);
	}

	/* The ingest's record, still pending (must still exist: a process that
	 * stalled longer than the lease may have been cleaned up). */
	BSON_APPEND_INT64(&f, "id", m->ingest_id);
	BSON_APPEND_UTF8(&f, "state", "pending");
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
	BSON_APPEND_UTF8(&set, "sha256", sha256);
	BSON_APPEND_UTF8(&set, "source", source ? source : "");
	BSON_APPEND_INT64(&set, "n_rows", (int64_t)n_rows);
	BSON_APPEND_INT64(&set, "n_bad", (int64_t)n_bad);
	BSON_APPEND_INT64(&set, "at_ms", now);
	BSON_APPEND_INT64(&set, "alive_ms", now);
	if (!m->fresh)
		BSON_APPEND_UTF8(&set, "state", "committed"); /* the flip */
	bson_append_document_end(&u, &set);
	if (!mongoc_collection_update_one(m->c_ingests, &f, &u, NULL, &reply, &err)) {
		st = mg_fail(m, diag, &err, "commit the ingest");
		goto out;
	}
	if (mg_get_int(&reply, "matchedCount", 0) != 1) {
		st = ns_diag_set(diag, NS_ERR_STORE,
				 "mongodb %s/%s: ingest %" PRId64
				 " was cleaned up by another process (silent for over %d s)",
				 m->hosts, m->dbname, m->ingest_id, MG_LEASE_MS / 1000);
		goto out;
	}
	bson_reinit(&f);
	bson_reinit(&u);
	bson_destroy(&reply);
	bson_init(&reply);

	/* The collection's record: for a fresh target, this write is the flip. */
	BSON_APPEND_UTF8(&f, "name", m->collection);
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
	if (m->fresh) {
		BSON_APPEND_UTF8(&set, "schema_yaml", m->schema_yaml);
		BSON_APPEND_UTF8(&set, "schema_hash", m->schema_hash);
		BSON_APPEND_UTF8(&set, "data", m->target);
	}
	BSON_APPEND_INT64(&set, "updated_ms", now);
	bson_append_document_end(&u, &set);
	BSON_APPEND_DOCUMENT_BEGIN(&u, "$setOnInsert", &ins);
	BSON_APPEND_INT64(&ins, "created_ms", now);
	bson_append_document_end(&u, &ins);
	{
		bson_t uo = BSON_INITIALIZER;
		bool ok;
		BSON_APPEND_BOOL(&uo, "upsert", m->fresh);
		ok = mongoc_collection_update_one(m->c_colls, &f, &u, &uo, NULL, &err);
		bson_destroy(&uo);
		if (!ok) {
			st = mg_fail(m, diag, &err, "record the collection");
			goto out;
		}
	}
	if (m->fresh) {
		bson_reinit(&f);
		bson_reinit(&u);
		BSON_APPEND_INT64(&f, "id", m->ingest_id);
		BSON_APPEND_DOCUMENT_BEGIN(&u, "$set", &set);
		BSON_APPEND_UTF8(&set, "state", "committed");
		bson_append_document_end(&u, &set);
		/* Past the flip the ingest has happened: a failure here is repaired
		 * by the next open (roll forward), so it is only logged. */
		if (!mongoc_collection_update_one(m->c_ingests, &f, &u, NULL, NULL, &err))
			ns_log(NS_LOG_WARN, "mongodb store: ingest %" PRId64 " state: %s",
			       m->ingest_id, err.message);
		if (m->replace && strcmp(m->old_data, m->target) != 0) {
			/* The old generation: history, rejects, rows. */
			struct ns_diag d;
			bson_t g = BSON_INITIALIZER;
			enum ns_status s2;
			BSON_APPEND_UTF8(&g, "collection", m->collection);
			BSON_APPEND_UTF8(&g, "data", m->old_data);
			s2 = mg_delete_many(m, m->c_rejects, &g, NULL, "delete old rejects", &d);
			if (s2 == NS_OK)
				s2 = mg_delete_many(m, m->c_ingests, &g, NULL,
						    "delete the old history", &d);
			if (s2 == NS_OK)
				s2 = mg_drop_coll(m, m->old_data, &d);
			if (s2 != NS_OK)
				ns_log(NS_LOG_WARN,
				       "mongodb store: old rows of '%s' left for the next open: %s",
				       m->collection, d.message);
			bson_destroy(&g);
		}
	}
	*ingest_id = m->ingest_id;
	mg_end_ingest(m);
out:
	bson_destroy(&f);
	bson_destroy(&u);
	bson_destroy(&reply);
	bson_destroy(&doc);
	if (st != NS_OK && m->in_tx)
		mg_rollback(m);
	return st;
}

/* ---- queries ---------------------------------------------------------------------- */

static enum ns_status mg_list(void *impl, ns_collection_fn fn, void *user, struct ns_diag *diag)
{
	struct mg *m = impl;
	struct mg_coll *cs = NULL;
	size_t n = 0;
	enum ns_status st;

	/* Collected first, so that `fn` may use the store (even drop). */
	if ((st = mg_load_colls(m, &cs, &n, diag)) != NS_OK)
		return st;
	for (size_t i = 0; i < n && st == NS_OK; i++) {
		struct ns_collection_info info;
		bson_t q = BSON_INITIALIZER;
		mongoc_cursor_t *cur;
		const bson_t *doc;
		bson_error_t err;
		memset(&info, 0, sizeof(info));
		info.name = cs[i].name;
		info.schema_hash = cs[i].hash;
		info.updated_ms = cs[i].updated_ms;
		BSON_APPEND_UTF8(&q, "collection", cs[i].name);
		BSON_APPEND_UTF8(&q, "data", cs[i].data);
		BSON_APPEND_UTF8(&q, "state", "committed");
		cur = mongoc_collection_find_with_opts(m->c_ingests, &q, NULL, NULL);
		while (mongoc_cursor_next(cur, &doc)) {
			info.n_ingests++;
			info.n_rejects += (uint64_t)mg_get_int(doc, "n_bad", 0);
		}
		if (mongoc_cursor_error(cur, &err))
			st = mg_fail(m, diag, &err, "read the ingest history");
		mongoc_cursor_destroy(cur);
		bson_destroy(&q);
		if (st == NS_OK)
			st = mg_count_rows(m, cs[i].name, cs[i].data, &info.n_rows, diag);
		if (st == NS_OK)
			st = fn(user, &info);
	}
	mg_colls_free(cs, n);
	return st;
}

static enum ns_status mg_schema_yaml(void *impl, const char *collection, char **yaml,
				     struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t filter = BSON_INITIALIZER, doc;
	enum ns_status st;
	bool found = false;
	BSON_APPEND_UTF8(&filter, "name", collection);
	st = mg_find_one(m, m->c_colls, &filter, NULL, &doc, &found, "read the collection's schema",
			 diag);
	if (st == NS_OK && !found) {
		st = mg_notfound(m, collection, diag);
	} else if (st == NS_OK) {
		uint32_t len = 0;
		const char *y = mg_get_str(&doc, "schema_yaml", &len);
		if (!y)
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "mongodb %s/%s: collection '%s' has no schema_yaml string",
					 m->hosts, m->dbname, collection);
		else if (!(*yaml = ns_strndup(y, len)))
			st = mg_nomem(diag);
	}
	bson_destroy(&doc);
	bson_destroy(&filter);
	return st;
}

/* What a scan needs to decode documents into rows. */
struct mg_decoder {
	const struct ns_schema *schema;
	struct ns_value *vals;
	char (*num_text)[40]; /* per column: a number formatted for a category */
	size_t next; /* the column expected next (documents we wrote are in order) */
	const char *collection;
	struct mg *m;
};

static bool mg_is_na(const struct ns_schema *schema, const char *s, size_t len, bool numeric)
{
	if (numeric &&
	    (len == 0 || (len == 2 && (memcmp(s, "na", 2) == 0 || memcmp(s, "NA", 2) == 0))))
		return true;
	for (size_t i = 0; i < schema->n_na; i++) {
		const char *v = schema->na_values[i];
		if (v && strlen(v) == len && (len == 0 || memcmp(v, s, len) == 0))
			return true;
	}
	return false;
}

static long mg_column_of(struct mg_decoder *dc, const char *key, size_t key_len)
{
	const struct ns_schema *schema = dc->schema;
	size_t n = schema->n_columns;
	if (dc->next < n && strcmp(schema->columns[dc->next].name, key) == 0)
		return (long)dc->next++;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(schema->columns[i].name, key) == 0) {
			dc->next = i + 1;
			return (long)i;
		}
	}
	(void)key_len;
	return -1;
}

static enum ns_status mg_bad_value(struct mg_decoder *dc, const char *field, const char *what,
				   struct ns_diag *diag)
{
	ns_diag_where(diag, NULL, 0, 0, field);
	return ns_diag_set(diag, NS_ERR_CORRUPT,
			   "mongodb %s/%s: a document of collection '%s' holds %s in field '%s'",
			   dc->m->hosts, dc->m->dbname, dc->collection, what, field);
}

/*
 * Decodes one document into dc->vals.  Fields not in the schema (_id,
 * _ingest, anything else) are ignored; an absent field or null is missing.
 * Numeric columns take int32/int64/double/decimal128, bool as 0/1, and
 * strings that parse as numbers (NA markers and "" missing); categories take
 * strings (the schema's NA markers missing) and numbers in shortest form.
 */
static enum ns_status mg_decode_row(struct mg_decoder *dc, const bson_t *doc, struct ns_diag *diag)
{
	const struct ns_schema *schema = dc->schema;
	bson_iter_t it;
	for (size_t i = 0; i < schema->n_columns; i++) {
		dc->vals[i].missing = true;
		dc->vals[i].num = NAN;
		dc->vals[i].str = NULL;
		dc->vals[i].len = 0;
	}
	dc->next = 0;
	if (!bson_iter_init(&it, doc))
		return ns_diag_set(diag, NS_ERR_CORRUPT, "mongodb: a malformed document");
	while (bson_iter_next(&it)) {
		uint32_t klen = bson_iter_key_len(&it);
		const char *key = bson_iter_key(&it);
		bson_type_t t = bson_iter_type(&it);
		struct ns_value *v;
		bool numeric;
		double d = NAN;
		long c;
		if (key[0] == '_' && (strcmp(key, "_id") == 0 || strcmp(key, MG_INGEST_FIELD) == 0))
			continue;
		if ((c = mg_column_of(dc, key, klen)) < 0)
			continue;
		v = &dc->vals[c];
		numeric = schema->columns[c].type != NS_TYPE_CATEGORY;
		switch (t) {
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			continue;
		case BSON_TYPE_UTF8: {
			uint32_t len = 0;
			const char *s = bson_iter_utf8(&it, &len);
			if (mg_is_na(schema, s, len, numeric))
				continue;
			if (!numeric) {
				v->missing = false;
				v->str = s;
				v->len = len;
				continue;
			}
			/* Blanks around a number are tolerated from other writers. */
			while (len && (*s == ' ' || *s == '\t')) {
				s++;
				len--;
			}
			while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
				len--;
			if (!ns_parse_double(s, len, &d))
				return mg_bad_value(dc, key, "text that is not a number", diag);
			break;
		}
		case BSON_TYPE_INT32:
			d = bson_iter_int32(&it);
			break;
		case BSON_TYPE_INT64:
			d = (double)bson_iter_int64(&it);
			break;
		case BSON_TYPE_DOUBLE:
			d = bson_iter_double(&it);
			break;
		case BSON_TYPE_BOOL:
			d = bson_iter_bool(&it) ? 1 : 0;
			break;
		case BSON_TYPE_DECIMAL128: {
			bson_decimal128_t dec;
			char text[BSON_DECIMAL128_STRING];
			bson_iter_decimal128(&it, &dec);
			bson_decimal128_to_string(&dec, text);
			if (!ns_parse_double(text, strlen(text), &d))
				d = NAN; /* NaN, or a form strtod-like parsing refuses */
			break;
		}
		default:
			return mg_bad_value(dc, key, "a value that is neither a number nor text",
					    diag);
		}
		if (isnan(d))
			continue;
		v->missing = false;
		if (numeric) {
			v->num = d;
		} else {
			size_t n = ns__number_text(d, dc->num_text[c], sizeof(dc->num_text[c]));
			v->str = dc->num_text[c];
			v->len = n;
		}
	}
	return NS_OK;
}

static enum ns_status mg_scan(void *impl, const char *collection, const struct ns_schema *schema,
			      enum ns_status (*fn)(void *user, const struct ns_value *values),
			      void *user, struct ns_diag *diag)
{
	struct mg *m = impl;
	struct mg_decoder dc;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort;
	mongoc_collection_t *c = NULL;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t err;
	char *data = NULL;
	bool found = false;
	enum ns_status st;
	size_t n_cols = schema->n_columns ? schema->n_columns : 1;

	memset(&dc, 0, sizeof(dc));
	dc.schema = schema;
	dc.collection = collection;
	dc.m = m;
	dc.vals = ns_calloc(n_cols, sizeof(*dc.vals));
	dc.num_text = ns_calloc(n_cols, sizeof(*dc.num_text));
	if (!dc.vals || !dc.num_text) {
		st = mg_nomem(diag);
		goto out;
	}
	if ((st = mg_find_coll(m, collection, &found, &data, NULL, diag)) != NS_OK)
		goto out;
	if (!found) {
		st = mg_notfound(m, collection, diag);
		goto out;
	}
	if ((st = mg_visible_filter(m, collection, data, &filter, diag)) != NS_OK)
		goto out;
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	BSON_APPEND_INT32(&opts, "batchSize", MG_SCAN_BATCH);
	c = mongoc_client_get_collection(m->client, m->dbname, data);
	cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		if ((st = mg_decode_row(&dc, doc, diag)) != NS_OK)
			goto out;
		if ((st = fn(user, dc.vals)) != NS_OK)
			goto out;
	}
	if (mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "read the collection");
out:
	if (cur)
		mongoc_cursor_destroy(cur);
	if (c)
		mongoc_collection_destroy(c);
	bson_destroy(&filter);
	bson_destroy(&opts);
	ns_free(data);
	ns_free(dc.vals);
	ns_free(dc.num_text);
	return st;
}

static enum ns_status mg_scan_rejects(void *impl, const char *collection,
				      enum ns_status (*fn)(void *user, int64_t ingest_id,
							   uint64_t line, const char *reason,
							   const char *raw, size_t raw_len),
				      void *user, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t filter = BSON_INITIALIZER, opts = BSON_INITIALIZER, sort, ids, arr, q, proj;
	mongoc_cursor_t *cur = NULL;
	const bson_t *doc;
	bson_error_t err;
	char *data = NULL;
	bool found = false;
	enum ns_status st;
	uint32_t k = 0;

	bson_init(&ids);
	bson_init(&q);
	if ((st = mg_find_coll(m, collection, &found, &data, NULL, diag)) != NS_OK)
		goto out;
	if (!found) {
		st = mg_notfound(m, collection, diag);
		goto out;
	}
	/* The committed ingests of the current generation. */
	BSON_APPEND_UTF8(&q, "collection", collection);
	BSON_APPEND_UTF8(&q, "data", data);
	BSON_APPEND_UTF8(&q, "state", "committed");
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "id", 1);
	bson_append_document_end(&opts, &proj);
	cur = mongoc_collection_find_with_opts(m->c_ingests, &q, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		char key[16];
		const char *kp;
		bson_uint32_to_string(k++, &kp, key, sizeof(key));
		bson_append_int64(&ids, kp, -1, mg_get_int(doc, "id", -1));
	}
	if (mongoc_cursor_error(cur, &err)) {
		st = mg_fail(m, diag, &err, "read the ingest history");
		goto out;
	}
	mongoc_cursor_destroy(cur);
	cur = NULL;
	if (k == 0)
		goto out;
	{
		bson_t in;
		BSON_APPEND_DOCUMENT_BEGIN(&filter, "ingest_id", &in);
		bson_append_array_begin(&in, "$in", 3, &arr);
		bson_concat(&arr, &ids);
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&filter, &in);
	}
	bson_reinit(&opts);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
	BSON_APPEND_INT32(&sort, "_id", 1);
	bson_append_document_end(&opts, &sort);
	cur = mongoc_collection_find_with_opts(m->c_rejects, &filter, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it;
		const char *raw = "";
		uint32_t raw_len = 0, rl = 0;
		const char *reason = mg_get_str(doc, "reason", &rl);
		if (bson_iter_init_find(&it, doc, "raw")) {
			if (BSON_ITER_HOLDS_UTF8(&it)) {
				raw = bson_iter_utf8(&it, &raw_len);
			} else if (BSON_ITER_HOLDS_BINARY(&it)) {
				const uint8_t *b = NULL;
				bson_subtype_t sub;
				bson_iter_binary(&it, &sub, &raw_len, &b);
				raw = b ? (const char *)b : "";
			}
		}
		if ((st = fn(user, mg_get_int(doc, "ingest_id", 0),
			     (uint64_t)mg_get_int(doc, "line", 0), reason ? reason : "", raw,
			     raw_len)) != NS_OK)
			goto out;
	}
	if (mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "read the rejected records");
out:
	if (cur)
		mongoc_cursor_destroy(cur);
	bson_destroy(&filter);
	bson_destroy(&opts);
	bson_destroy(&ids);
	bson_destroy(&q);
	ns_free(data);
	return st;
}

static enum ns_status mg_drop(void *impl, const char *collection, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t f = BSON_INITIALIZER;
	char *data = NULL;
	bool found = false;
	uint64_t n = 0;
	enum ns_status st;

	if (m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL, "an ingest is in progress");
	if ((st = mg_find_coll(m, collection, &found, &data, NULL, diag)) != NS_OK)
		goto out;
	if (!found) {
		st = mg_notfound(m, collection, diag);
		goto out;
	}
	/* The collection disappears with its record (one atomic delete); the
	 * rest is cleanup, which the next open finishes if this one stops. */
	BSON_APPEND_UTF8(&f, "name", collection);
	if ((st = mg_delete_many(m, m->c_colls, &f, &n, "delete the collection", diag)) != NS_OK)
		goto out;
	bson_reinit(&f);
	BSON_APPEND_UTF8(&f, "collection", collection);
	if ((st = mg_delete_many(m, m->c_rejects, &f, NULL, "delete the rejects", diag)) != NS_OK)
		goto out;
	if ((st = mg_drop_coll(m, data, diag)) != NS_OK)
		goto out;
	/* Committed history last; pending ingests of other processes stay
	 * for their owners (their commit then fails) or the lease. */
	BSON_APPEND_UTF8(&f, "state", "committed");
	st = mg_delete_many(m, m->c_ingests, &f, NULL, "delete the history", diag);
out:
	bson_destroy(&f);
	ns_free(data);
	return st;
}

/* ---- the prediction log ------------------------------------------------------------ */

static enum ns_status mg_log_prediction(void *impl, const struct ns_prediction_log *e,
					uint64_t threat_rows, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t doc = BSON_INITIALIZER, arr, one, chunk;
	bson_oid_t oid;
	bson_error_t err;
	enum ns_status st = NS_OK;
	bool chunked = e->raw_csv && e->raw_len > MG_RAW_INLINE;

	if (m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL,
				   "an ingest is in progress on this handle");
	bson_oid_init(&oid, NULL);
	if (chunked) {
		/* Chunks first: the entry, written last, is what makes them part
		 * of the log (a crash in between leaves unreferenced chunks). */
		bson_init(&chunk);
		for (size_t off = 0, i = 0; off < e->raw_len && st == NS_OK;
		     off += MG_RAW_CHUNK, i++) {
			size_t n =
				e->raw_len - off < MG_RAW_CHUNK ? e->raw_len - off : MG_RAW_CHUNK;
			bson_reinit(&chunk);
			BSON_APPEND_OID(&chunk, "prediction", &oid);
			BSON_APPEND_INT64(&chunk, "i", (int64_t)i);
			bson_append_binary(&chunk, "data", 4, BSON_SUBTYPE_BINARY,
					   (const uint8_t *)e->raw_csv + off, (uint32_t)n);
			if (!mongoc_collection_insert_one(m->c_raw, &chunk, NULL, NULL, &err))
				st = mg_fail(m, diag, &err, "keep a prediction's raw rows");
		}
		bson_destroy(&chunk);
		if (st != NS_OK) {
			bson_t f = BSON_INITIALIZER;
			BSON_APPEND_OID(&f, "prediction", &oid);
			mongoc_collection_delete_many(m->c_raw, &f, NULL, NULL, NULL);
			bson_destroy(&f);
			return st;
		}
	}
	BSON_APPEND_OID(&doc, "_id", &oid);
	BSON_APPEND_INT64(&doc, "at_ms", e->time_ms);
	BSON_APPEND_UTF8(&doc, "request_id", e->request_id);
	BSON_APPEND_UTF8(&doc, "source", e->source);
	BSON_APPEND_UTF8(&doc, "model_name", e->model_name);
	BSON_APPEND_INT64(&doc, "model_version", (int64_t)e->model_version);
	BSON_APPEND_INT64(&doc, "n_rows", (int64_t)e->n_rows);
	BSON_APPEND_INT64(&doc, "threat_rows", (int64_t)threat_rows);
	BSON_APPEND_DOUBLE(&doc, "seconds", e->seconds);
	BSON_APPEND_INT64(&doc, "requests", e->n_requests ? (int64_t)e->n_requests : 1);
	BSON_APPEND_ARRAY_BEGIN(&doc, "classes", &arr);
	for (size_t i = 0; i < e->n_classes; i++) {
		char key[16];
		const char *kp;
		bson_uint32_to_string((uint32_t)i, &kp, key, sizeof(key));
		bson_append_document_begin(&arr, kp, -1, &one);
		BSON_APPEND_UTF8(&one, "label", e->labels[i]);
		BSON_APPEND_BOOL(&one, "is_threat", e->is_threat[i]);
		BSON_APPEND_INT64(&one, "n", (int64_t)e->counts[i]);
		bson_append_document_end(&arr, &one);
	}
	bson_append_array_end(&doc, &arr);
	if (e->raw_csv && !chunked)
		bson_append_binary(&doc, "raw", 3, BSON_SUBTYPE_BINARY, (const uint8_t *)e->raw_csv,
				   (uint32_t)e->raw_len);
	else if (chunked)
		BSON_APPEND_INT64(&doc, "raw_chunks",
				  (int64_t)((e->raw_len + MG_RAW_CHUNK - 1) / MG_RAW_CHUNK));
	/* One document: the entry, its classes and (small) raw rows at once. */
	if (!mongoc_collection_insert_one(m->c_preds, &doc, NULL, NULL, &err))
		st = mg_fail(m, diag, &err, "log a prediction request");
	bson_destroy(&doc);
	return st;
}

/* {at_ms: {$gte: since, $lt: until}} */
static void mg_time_filter(bson_t *f, int64_t since_ms, int64_t until_ms)
{
	bson_t r;
	BSON_APPEND_DOCUMENT_BEGIN(f, "at_ms", &r);
	BSON_APPEND_INT64(&r, "$gte", since_ms);
	BSON_APPEND_INT64(&r, "$lt", until_ms);
	bson_append_document_end(f, &r);
}

static enum ns_status mg_prediction_series(void *impl, int64_t since_ms, int64_t until_ms,
					   int64_t bucket_ms, struct ns_prediction_bucket *buckets,
					   size_t n_buckets, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	enum ns_status st = NS_OK;

	if (m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL,
				   "an ingest is in progress on this handle");
	/* Client-side buckets over the at_ms index: the entries stream past
	 * once, four small fields each. */
	mg_time_filter(&f, since_ms, until_ms);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 0);
	BSON_APPEND_INT32(&proj, "at_ms", 1);
	BSON_APPEND_INT32(&proj, "requests", 1);
	BSON_APPEND_INT32(&proj, "n_rows", 1);
	BSON_APPEND_INT32(&proj, "threat_rows", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT32(&opts, "batchSize", MG_SCAN_BATCH);
	cur = mongoc_collection_find_with_opts(m->c_preds, &f, &opts, NULL);
	while (mongoc_cursor_next(cur, &doc)) {
		int64_t at = mg_get_int(doc, "at_ms", -1);
		int64_t i;
		if (at < since_ms || at >= until_ms) {
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "mongodb %s/%s: netsec_predictions holds an entry whose "
					 "at_ms is not an integer",
					 m->hosts, m->dbname);
			break;
		}
		i = (at - since_ms) / bucket_ms;
		if ((uint64_t)i >= n_buckets)
			continue;
		buckets[i].requests += (uint64_t)mg_get_int(doc, "requests", 1);
		buckets[i].rows += (uint64_t)mg_get_int(doc, "n_rows", 0);
		buckets[i].threat_rows += (uint64_t)mg_get_int(doc, "threat_rows", 0);
	}
	if (st == NS_OK && mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "read the prediction log");
	mongoc_cursor_destroy(cur);
	bson_destroy(&f);
	bson_destroy(&opts);
	return st;
}

struct mg_total {
	char *label;
	size_t len;
	bool is_threat;
	uint64_t count;
};

static enum ns_status mg_prediction_totals(void *impl, int64_t since_ms, int64_t until_ms,
					   enum ns_status (*fn)(void *user, const char *label,
								size_t label_len, bool is_threat,
								uint64_t count),
					   void *user, struct ns_diag *diag)
{
	struct mg *m = impl;
	bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj;
	mongoc_cursor_t *cur;
	const bson_t *doc;
	bson_error_t err;
	struct mg_total *t = NULL;
	size_t n = 0, cap = 0;
	enum ns_status st = NS_OK;

	if (m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL,
				   "an ingest is in progress on this handle");
	mg_time_filter(&f, since_ms, until_ms);
	BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
	BSON_APPEND_INT32(&proj, "_id", 0);
	BSON_APPEND_INT32(&proj, "classes", 1);
	bson_append_document_end(&opts, &proj);
	BSON_APPEND_INT32(&opts, "batchSize", MG_SCAN_BATCH);
	cur = mongoc_collection_find_with_opts(m->c_preds, &f, &opts, NULL);
	while (st == NS_OK && mongoc_cursor_next(cur, &doc)) {
		bson_iter_t it, arr, cls;
		size_t k = 0;
		if (!bson_iter_init_find(&it, doc, "classes") || !BSON_ITER_HOLDS_ARRAY(&it) ||
		    !bson_iter_recurse(&it, &arr))
			continue;
		while (st == NS_OK && bson_iter_next(&arr)) {
			bson_t c;
			const uint8_t *data;
			uint32_t dlen = 0, llen = 0;
			const char *label;
			bool thr = false;
			size_t j;
			if (!BSON_ITER_HOLDS_DOCUMENT(&arr))
				continue;
			bson_iter_document(&arr, &dlen, &data);
			if (!bson_init_static(&c, data, dlen))
				continue;
			if (!(label = mg_get_str(&c, "label", &llen)))
				continue;
			if (bson_iter_init_find(&cls, &c, "is_threat"))
				thr = mg_iter_int(&cls, 0) != 0;
			/* Entries of one model list their classes in the same order:
			 * try the k-th total first. */
			j = k < n && t[k].len == llen && memcmp(t[k].label, label, llen) == 0 ? k
											      : n;
			for (size_t q = 0; j == n && q < n; q++)
				if (t[q].len == llen && memcmp(t[q].label, label, llen) == 0)
					j = q;
			if (j == n) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 8;
					struct mg_total *nt = ns_reallocarray(t, nc, sizeof(*t));
					if (!nt) {
						st = mg_nomem(diag);
						break;
					}
					t = nt;
					cap = nc;
				}
				memset(&t[n], 0, sizeof(t[n]));
				if (!(t[n].label = ns_strndup(label, llen))) {
					st = mg_nomem(diag);
					break;
				}
				t[n].len = llen;
				n++;
			}
			t[j].is_threat = t[j].is_threat || thr;
			t[j].count += (uint64_t)mg_get_int(&c, "n", 0);
			k++;
		}
	}
	if (st == NS_OK && mongoc_cursor_error(cur, &err))
		st = mg_fail(m, diag, &err, "read the prediction totals");
	mongoc_cursor_destroy(cur);
	for (size_t i = 0; st == NS_OK && i < n; i++)
		st = fn(user, t[i].label, t[i].len, t[i].is_threat, t[i].count);
	for (size_t i = 0; i < n; i++)
		ns_free(t[i].label);
	ns_free(t);
	bson_destroy(&f);
	bson_destroy(&opts);
	return st;
}

static enum ns_status mg_prediction_prune(void *impl, int64_t before_ms, uint64_t *deleted,
					  struct ns_diag *diag)
{
	struct mg *m = impl;
	enum ns_status st = NS_OK;
	uint64_t total = 0;

	if (m->in_tx)
		return ns_diag_set(diag, NS_ERR_INTERNAL,
				   "an ingest is in progress on this handle");
	/* Batches of MG_PRUNE_BATCH entries, each one delete by _id. */
	for (;;) {
		bson_t f = BSON_INITIALIZER, opts = BSON_INITIALIZER, proj, r, del, in, arr, raw;
		mongoc_cursor_t *cur;
		const bson_t *doc;
		bson_error_t err;
		uint32_t k = 0;
		bool any_chunked = false;
		uint64_t n = 0;

		BSON_APPEND_DOCUMENT_BEGIN(&f, "at_ms", &r);
		BSON_APPEND_INT64(&r, "$lt", before_ms);
		bson_append_document_end(&f, &r);
		BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
		BSON_APPEND_INT32(&proj, "_id", 1);
		BSON_APPEND_INT32(&proj, "raw_chunks", 1);
		bson_append_document_end(&opts, &proj);
		BSON_APPEND_INT64(&opts, "limit", MG_PRUNE_BATCH);
		bson_init(&del);
		bson_init(&raw);
		BSON_APPEND_DOCUMENT_BEGIN(&del, "_id", &in);
		bson_append_array_begin(&in, "$in", 3, &arr);
		cur = mongoc_collection_find_with_opts(m->c_preds, &f, &opts, NULL);
		while (mongoc_cursor_next(cur, &doc)) {
			bson_iter_t it;
			char key[16];
			const char *kp;
			if (!bson_iter_init_find(&it, doc, "_id"))
				continue;
			bson_uint32_to_string(k++, &kp, key, sizeof(key));
			bson_append_iter(&arr, kp, -1, &it);
			if (mg_get_int(doc, "raw_chunks", 0) > 0)
				any_chunked = true;
		}
		if (mongoc_cursor_error(cur, &err))
			st = mg_fail(m, diag, &err, "prune the prediction log");
		mongoc_cursor_destroy(cur);
		bson_append_array_end(&in, &arr);
		bson_append_document_end(&del, &in);
		if (st == NS_OK && k > 0) {
			if (any_chunked) {
				/* {prediction: {$in: ids}}: the same array under another key. */
				bson_iter_t it;
				if (bson_iter_init_find(&it, &del, "_id"))
					bson_append_iter(&raw, "prediction", -1, &it);
				st = mg_delete_many(m, m->c_raw, &raw, NULL,
						    "prune the prediction log's raw rows", diag);
			}
			if (st == NS_OK)
				st = mg_delete_many(m, m->c_preds, &del, &n,
						    "prune the prediction log", diag);
		}
		bson_destroy(&f);
		bson_destroy(&opts);
		bson_destroy(&del);
		bson_destroy(&raw);
		if (st != NS_OK)
			break;
		total += n;
		if (k < MG_PRUNE_BATCH)
			break;
	}
	if (st == NS_OK)
		*deleted = total;
	return st;
}

#define MG_OPS \
	.close = mg_close, .begin = mg_begin, .insert = mg_insert, .reject = mg_reject, \
	.commit = mg_commit, .rollback = mg_rollback, .list = mg_list, .count = mg_count, \
	.schema_yaml = mg_schema_yaml, .scan = mg_scan, .scan_rejects = mg_scan_rejects, \
	.drop = mg_drop, .log_prediction = mg_log_prediction, \
	.prediction_series = mg_prediction_series, .prediction_totals = mg_prediction_totals, \
	.prediction_prune = mg_prediction_prune

const struct ns__store_backend ns__store_mongo = {.scheme = "mongodb", .open = mg_open, MG_OPS};
const struct ns__store_backend ns__store_mongo_srv = {
	.scheme = "mongodb+srv", .open = mg_open_srv, MG_OPS};
