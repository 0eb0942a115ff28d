/*
 * lib/core/config.c - the .env parser, the settings table, value sources and
 * the masking of secrets (include/netsec/config.h has the grammar).
 *
 * The parser works in two passes over the bytes: the first checks every line
 * and collects the assignments (so a bad line sets nothing), the second hands
 * them to the caller.  Limits: NS_DOTENV_MAX_BYTES of text,
 * NS_DOTENV_MAX_ENTRIES assignments, NS_DOTENV_KEY_MAX bytes a key; values
 * are bounded by the text itself.  Error messages name keys but never
 * values, which may be secrets.
 *
 * Threading: reentrant, except ns_config_load_dotenv (setenv) and
 * ns_setting_resolve (getenv) against a concurrent setenv.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "netsec/config.h"

/* ---- the .env parser ----------------------------------------------------- */

struct dotenv_item {
	char *key;
	char *value;
	size_t value_len;
	uint64_t line;
};

struct dotenv_parser {
	const char *p; /* the text */
	size_t len;
	size_t pos;
	uint64_t line; /* 1-based line of pos */
	size_t line_start; /* offset of the line's first byte */
	const char *source;
	struct ns_diag *diag;
	struct dotenv_item *items;
	size_t n_items, cap_items;
	struct ns__buf value; /* the value being decoded */
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool key_first(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool key_char(char c)
{
	return key_first(c) || (c >= '0' && c <= '9');
}

static int peek(const struct dotenv_parser *ps, size_t ahead)
{
	return ps->pos + ahead < ps->len ? (unsigned char)ps->p[ps->pos + ahead] : -1;
}

/* An error at byte offset `at` (its line and column are worked out here). */
static enum ns_status perr_at(struct dotenv_parser *ps, enum ns_status st, size_t at,
			      const char *fmt, ...) NS_PRINTF(4, 5);
static enum ns_status perr_at(struct dotenv_parser *ps, enum ns_status st, size_t at,
			      const char *fmt, ...)
{
	uint64_t line = 1;
	size_t start = 0;
	va_list ap;
	for (size_t i = 0; i < at && i < ps->len; i++) {
		if (ps->p[i] == '\n') {
			line++;
			start = i + 1;
		}
	}
	ns_diag_where(ps->diag, ps->source, line, (uint64_t)(at - start) + 1, NULL);
	va_start(ap, fmt);
	ns_diag_vset(ps->diag, st, fmt, ap);
	va_end(ap);
	return st;
}

static void next_line(struct dotenv_parser *ps)
{
	ps->line++;
	ps->line_start = ps->pos;
}

/* At the end of a line (LF, CR LF or the end of the text)?  A lone CR is an
 * error reported by the caller. */
static bool at_eol(const struct dotenv_parser *ps)
{
	int c = peek(ps, 0);
	return c < 0 || c == '\n' || (c == '\r' && peek(ps, 1) == '\n');
}

/* Consumes the line end at pos (LF or CR LF; nothing at the end of the text). */
static void eat_eol(struct dotenv_parser *ps)
{
	if (peek(ps, 0) == '\r')
		ps->pos++;
	if (peek(ps, 0) == '\n') {
		ps->pos++;
		next_line(ps);
	}
}

static void skip_blanks(struct dotenv_parser *ps)
{
	while (ps->pos < ps->len && is_blank(ps->p[ps->pos]))
		ps->pos++;
}

/* The rest of a line after a value: blanks, then an optional comment. */
static enum ns_status finish_line(struct dotenv_parser *ps, bool after_quote)
{
	skip_blanks(ps);
	if (peek(ps, 0) == '#') {
		while (ps->pos < ps->len && ps->p[ps->pos] != '\n' && ps->p[ps->pos] != '\0')
			ps->pos++;
		if (ps->pos < ps->len && ps->p[ps->pos] == '\0')
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
		/* a CR LF ending: the comment swallowed the CR */
		eat_eol(ps);
		return NS_OK;
	}
	if (at_eol(ps)) {
		eat_eol(ps);
		return NS_OK;
	}
	if (peek(ps, 0) == '\r')
		return perr_at(ps, NS_ERR_PARSE, ps->pos, "stray carriage return");
	if (peek(ps, 0) == 0)
		return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
	return perr_at(ps, NS_ERR_PARSE, ps->pos,
		       after_quote ? "unexpected text after the closing quote (a comment needs '#')"
				   : "unexpected text");
}

static enum ns_status value_put(struct dotenv_parser *ps, const char *s, size_t n)
{
	enum ns_status st = ns__buf_append(&ps->value, s, n);
	if (st != NS_OK)
		return ns_diag_set(ps->diag, st, "out of memory");
	return NS_OK;
}

/* 'literal', possibly over several lines; pos is on the opening quote. */
static enum ns_status single_quoted(struct dotenv_parser *ps)
{
	size_t open = ps->pos;
	enum ns_status st;
	ps->pos++;
	for (;;) {
		int c = peek(ps, 0);
		if (c < 0)
			return perr_at(ps, NS_ERR_PARSE, open, "unterminated single-quoted value");
		if (c == '\'') {
			ps->pos++;
			return NS_OK;
		}
		if (c == 0)
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
		if (c == '\r') {
			if (peek(ps, 1) != '\n')
				return perr_at(ps, NS_ERR_PARSE, ps->pos, "stray carriage return");
			ps->pos++;
			continue;
		}
		if ((st = value_put(ps, &ps->p[ps->pos], 1)) != NS_OK)
			return st;
		ps->pos++;
		if (c == '\n')
			next_line(ps);
	}
}

/* "with \n \t \r \" \\ \$ escapes", possibly over several lines. */
static enum ns_status double_quoted(struct dotenv_parser *ps)
{
	size_t open = ps->pos;
	enum ns_status st;
	ps->pos++;
	for (;;) {
		int c = peek(ps, 0);
		char out;
		if (c < 0)
			return perr_at(ps, NS_ERR_PARSE, open, "unterminated double-quoted value");
		if (c == '"') {
			ps->pos++;
			return NS_OK;
		}
		if (c == 0)
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
		if (c == '\r') {
			if (peek(ps, 1) != '\n')
				return perr_at(ps, NS_ERR_PARSE, ps->pos, "stray carriage return");
			ps->pos++;
			continue;
		}
		out = (char)c;
		if (c == '\\') {
			int e = peek(ps, 1);
			switch (e) {
			case 'n':
				out = '\n';
				break;
			case 't':
				out = '\t';
				break;
			case 'r':
				out = '\r';
				break;
			case '"':
			case '\\':
			case '$':
				out = (char)e;
				break;
			default:
				if (e < 0)
					return perr_at(ps, NS_ERR_PARSE, open,
						       "unterminated double-quoted value");
				if (e >= 0x21 && e < 0x7f)
					return perr_at(ps, NS_ERR_PARSE, ps->pos,
						       "unknown escape '\\%c' (known: \\n \\t \\r "
						       "\\\" \\\\ \\$)",
						       e);
				return perr_at(
					ps, NS_ERR_PARSE, ps->pos,
					"unknown escape (a backslash must be followed by one "
					"of n t r \" \\ $)");
			}
			ps->pos++;
		}
		if ((st = value_put(ps, &out, 1)) != NS_OK)
			return st;
		ps->pos++;
		if (c == '\n')
			next_line(ps);
	}
}

/* Unquoted: to the end of the line or to " #", blanks trimmed at both ends
 * (leading ones were skipped by the caller). */
static enum ns_status unquoted(struct dotenv_parser *ps)
{
	size_t start = ps->pos, end = ps->pos;
	while (!at_eol(ps)) {
		int c = peek(ps, 0);
		if (c == '\r')
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "stray carriage return");
		if (c == 0)
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
		if (c == '#' && ps->pos > start && is_blank(ps->p[ps->pos - 1]))
			break;
		ps->pos++;
		if (!is_blank((char)c))
			end = ps->pos;
	}
	return value_put(ps, ps->p + start, end - start);
}

static enum ns_status add_item(struct dotenv_parser *ps, size_t key_at, size_t key_len,
			       uint64_t line)
{
	struct dotenv_item *it;
	for (size_t i = 0; i < ps->n_items; i++) {
		if (strlen(ps->items[i].key) == key_len &&
		    memcmp(ps->items[i].key, ps->p + key_at, key_len) == 0)
			return perr_at(ps, NS_ERR_PARSE, key_at,
				       "'%s' is set twice (first on line %llu)", ps->items[i].key,
				       (unsigned long long)ps->items[i].line);
	}
	if (ps->n_items == NS_DOTENV_MAX_ENTRIES)
		return perr_at(ps, NS_ERR_LIMIT, key_at, "more than %d assignments",
			       NS_DOTENV_MAX_ENTRIES);
	if (ps->n_items == ps->cap_items) {
		size_t cap = ps->cap_items ? ps->cap_items * 2 : 16;
		void *p = ns_reallocarray(ps->items, cap, sizeof(*ps->items));
		if (!p)
			return ns_diag_set(ps->diag, NS_ERR_NOMEM, "out of memory");
		ps->items = p;
		ps->cap_items = cap;
	}
	it = &ps->items[ps->n_items];
	memset(it, 0, sizeof(*it));
	it->key = ns_strndup(ps->p + key_at, key_len);
	it->value = ns_malloc(ps->value.len + 1);
	if (!it->key || !it->value) {
		ns_free(it->key);
		ns_free(it->value);
		return ns_diag_set(ps->diag, NS_ERR_NOMEM, "out of memory");
	}
	if (ps->value.len)
		memcpy(it->value, ps->value.data, ps->value.len);
	it->value[ps->value.len] = '\0';
	it->value_len = ps->value.len;
	it->line = line;
	ps->n_items++;
	return NS_OK;
}

/* One line (or, for a quoted value, several); pos at its first byte. */
static enum ns_status parse_line(struct dotenv_parser *ps)
{
	size_t key_at, key_len;
	uint64_t key_line;
	enum ns_status st;
	int c;

	skip_blanks(ps);
	c = peek(ps, 0);
	if (c == '#' || at_eol(ps))
		return finish_line(ps, false);
	if (c == '\r')
		return perr_at(ps, NS_ERR_PARSE, ps->pos, "stray carriage return");
	/* `export KEY=...`; but `export=...` and `export =...` set "export". */
	if (ps->len - ps->pos > 6 && memcmp(ps->p + ps->pos, "export", 6) == 0 &&
	    is_blank(ps->p[ps->pos + 6])) {
		size_t save = ps->pos;
		ps->pos += 6;
		skip_blanks(ps);
		if (peek(ps, 0) == '=')
			ps->pos = save;
	}
	key_at = ps->pos;
	key_line = ps->line;
	if (!key_first((char)peek(ps, 0))) {
		if (peek(ps, 0) == 0)
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
		return perr_at(ps, NS_ERR_PARSE, ps->pos,
			       "expected a variable name ([A-Za-z_][A-Za-z0-9_]*)");
	}
	while (ps->pos < ps->len && key_char(ps->p[ps->pos]))
		ps->pos++;
	key_len = ps->pos - key_at;
	if (key_len > NS_DOTENV_KEY_MAX)
		return perr_at(ps, NS_ERR_LIMIT, key_at, "variable name longer than %d bytes",
			       NS_DOTENV_KEY_MAX);
	skip_blanks(ps);
	if (peek(ps, 0) != '=') {
		if (at_eol(ps) || peek(ps, 0) == '#')
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "expected '=' after '%.*s'",
				       (int)key_len, ps->p + key_at);
		if (peek(ps, 0) == 0)
			return perr_at(ps, NS_ERR_PARSE, ps->pos, "NUL byte");
		return perr_at(ps, NS_ERR_PARSE, ps->pos,
			       "expected '=' after '%.*s' (a variable name is "
			       "[A-Za-z_][A-Za-z0-9_]*)",
			       (int)key_len, ps->p + key_at);
	}
	ps->pos++;
	skip_blanks(ps);
	ns__buf_reset(&ps->value);
	c = peek(ps, 0);
	if (c == '\'' || c == '"') {
		st = c == '\'' ? single_quoted(ps) : double_quoted(ps);
		if (st == NS_OK)
			st = finish_line(ps, true);
	} else {
		st = unquoted(ps);
		if (st == NS_OK)
			st = finish_line(ps, false);
	}
	if (st != NS_OK)
		return st;
	return add_item(ps, key_at, key_len, key_line);
}

static void free_items(struct dotenv_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ns_free(items[i].key);
		ns_free(items[i].value);
	}
	ns_free(items);
}

enum ns_status ns_dotenv_parse(const char *text, size_t len, const char *source, ns_dotenv_fn fn,
			       void *user, struct ns_diag *diag)
{
	struct dotenv_parser ps;
	enum ns_status st = NS_OK;

	ns_diag_clear(diag);
	if (!text && len)
		return ns_diag_set(diag, NS_ERR_INVALID, "no text");
	if (len > NS_DOTENV_MAX_BYTES) {
		ns_diag_where(diag, source, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_LIMIT, ".env file larger than %u bytes",
				   (unsigned)NS_DOTENV_MAX_BYTES);
	}
	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.len = len;
	ps.line = 1;
	ps.source = source;
	ps.diag = diag;
	ns__buf_init(&ps.value, NS_DOTENV_MAX_BYTES);
	while (ps.pos < ps.len && st == NS_OK)
		st = parse_line(&ps);
	for (size_t i = 0; st == NS_OK && fn && i < ps.n_items; i++)
		st = fn(user, ps.items[i].key, ps.items[i].value, ps.items[i].value_len,
			ps.items[i].line);
	free_items(ps.items, ps.n_items);
	ns__buf_fini(&ps.value);
	return st;
}

/* ---- loading a .env file into the environment ------------------------------ */

struct load_ctx {
	struct ns_dotenv_entry *entries;
	size_t n, cap;
	bool overwrite;
	bool apply; /* second round: setenv */
	struct ns_diag *diag;
};

static enum ns_status load_one(void *user, const char *key, const char *value, size_t value_len,
			       uint64_t line)
{
	struct load_ctx *lc = user;
	struct ns_dotenv_entry *e;
	if (strlen(value) != value_len)
		return ns_diag_set(lc->diag, NS_ERR_PARSE, "'%s': NUL byte in the value", key);
	if (lc->n == lc->cap) {
		size_t cap = lc->cap ? lc->cap * 2 : 16;
		void *p = ns_reallocarray(lc->entries, cap, sizeof(*lc->entries));
		if (!p)
			return ns_diag_set(lc->diag, NS_ERR_NOMEM, "out of memory");
		lc->entries = p;
		lc->cap = cap;
	}
	e = &lc->entries[lc->n];
	e->key = ns_strdup(key);
	if (!e->key)
		return ns_diag_set(lc->diag, NS_ERR_NOMEM, "out of memory");
	e->line = line;
	e->applied = lc->overwrite || getenv(key) == NULL;
	lc->n++;
	if (e->applied && setenv(key, value, 1) != 0)
		return ns_diag_set(lc->diag, NS_ERR_NOMEM, "cannot set '%s': %s", key,
				   strerror(errno));
	return NS_OK;
}

enum ns_status ns_config_load_dotenv(const char *path, bool overwrite,
				     struct ns_dotenv_loaded *loaded, struct ns_diag *diag)
{
	struct load_ctx lc = {.overwrite = overwrite, .diag = diag};
	struct stat sb;
	char *text = NULL;
	size_t len = 0;
	enum ns_status st;

	ns_diag_clear(diag);
	if (loaded)
		memset(loaded, 0, sizeof(*loaded));
	if (!path || !*path)
		return ns_diag_set(diag, NS_ERR_INVALID, "no .env path");
	if (stat(path, &sb) != 0) {
		int e = errno;
		ns_diag_where(diag, path, 0, 0, NULL);
		return ns_diag_set(diag, e == ENOENT ? NS_ERR_NOTFOUND : NS_ERR_IO,
				   "cannot open: %s", strerror(e));
	}
	if (S_ISDIR(sb.st_mode)) {
		ns_diag_where(diag, path, 0, 0, NULL);
		return ns_diag_set(diag, NS_ERR_IO, "is a folder, not a .env file");
	}
	st = ns_read_file(path, NS_DOTENV_MAX_BYTES, &text, &len, diag);
	if (st != NS_OK)
		return st;
	/* Check the whole file first, then set: a bad line sets nothing. */
	st = ns_dotenv_parse(text, len, path, NULL, NULL, diag);
	if (st == NS_OK)
		st = ns_dotenv_parse(text, len, path, load_one, &lc, diag);
	ns_free(text);
	if (loaded) {
		loaded->path = ns_strdup(path);
		loaded->entries = lc.entries;
		loaded->n_entries = lc.n;
		if (!loaded->path && st == NS_OK)
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	} else {
		for (size_t i = 0; i < lc.n; i++)
			ns_free(lc.entries[i].key);
		ns_free(lc.entries);
	}
	return st;
}

void ns_dotenv_loaded_fini(struct ns_dotenv_loaded *loaded)
{
	if (!loaded)
		return;
	for (size_t i = 0; i < loaded->n_entries; i++)
		ns_free(loaded->entries[i].key);
	ns_free(loaded->entries);
	ns_free(loaded->path);
	memset(loaded, 0, sizeof(*loaded));
}

const struct ns_dotenv_entry *ns_dotenv_loaded_find(const struct ns_dotenv_loaded *loaded,
						    const char *key)
{
	if (!loaded || !key)
		return NULL;
	for (size_t i = 0; i < loaded->n_entries; i++)
		if (loaded->entries[i].applied && strcmp(loaded->entries[i].key, key) == 0)
			return &loaded->entries[i];
	return NULL;
}

/* ---- the settings table ------------------------------------------------------ */

/*
 * Every setting netsec reads (grep getenv in src/ and lib/), plus the ones
 * the distributed backends read (MLflow REST, S3), with the reference
 * project's names as aliases.  docs/config.md shows the same table.
 */
static const struct ns_setting settings[] = {
	{"env_file",
	 {"NETSEC_ENV_FILE"},
	 "--env-file",
	 ".env",
	 false,
	 "the .env file read at start-up (a missing default file is fine)"},
	{"store",
	 {"NETSEC_STORE", "MONGO_DB_URL"},
	 "--store",
	 "sqlite:var/netsec.db",
	 false,
	 "the data store: sqlite:PATH, a bare path, or mongodb://..."},
	{"data_dir",
	 {"NETSEC_DATA_DIR"},
	 NULL,
	 "data",
	 false,
	 "folder of the bundled dataset and schema (run, train, serve)"},
	{"collection",
	 {"NETSEC_COLLECTION"},
	 "train -c",
	 NULL,
	 false,
	 "collection POST /train trains on (default: the schema's name)"},
	{"artifacts",
	 {"NETSEC_ARTIFACTS"},
	 "--artifacts",
	 "artifacts",
	 false,
	 "run folders of the training pipeline"},
	{"registry", {"NETSEC_REGISTRY"}, "--registry", "models", false, "the model registry"},
	{"model_name",
	 {"NETSEC_MODEL_NAME"},
	 "serve --name",
	 "netsec",
	 false,
	 "registered model name served"},
	{"tracking_uri",
	 {"MLFLOW_TRACKING_URI"},
	 "--tracking",
	 "./mlruns",
	 false,
	 "MLflow tracking: a file store path, file:PATH or http(s)://server"},
	{"local_mlruns",
	 {"NETSEC_LOCAL_MLRUNS"},
	 "track --from",
	 "./mlruns",
	 false,
	 "local MLflow file store kept beside a remote tracking server"},
	{"tracking_username",
	 {"MLFLOW_TRACKING_USERNAME"},
	 NULL,
	 NULL,
	 false,
	 "MLflow server user (basic auth)"},
	{"tracking_password",
	 {"MLFLOW_TRACKING_PASSWORD"},
	 NULL,
	 NULL,
	 true,
	 "MLflow server password (basic auth)"},
	{"tracking_token",
	 {"MLFLOW_TRACKING_TOKEN"},
	 NULL,
	 NULL,
	 true,
	 "MLflow server bearer token"},
	{"tracking_insecure_tls",
	 {"MLFLOW_TRACKING_INSECURE_TLS"},
	 NULL,
	 "false",
	 false,
	 "true: do not verify the MLflow server's TLS certificate"},
	{"tracking_server_cert",
	 {"MLFLOW_TRACKING_SERVER_CERT_PATH"},
	 NULL,
	 NULL,
	 false,
	 "CA bundle that verifies the MLflow server"},
	{"tracking_client_cert",
	 {"MLFLOW_TRACKING_CLIENT_CERT_PATH"},
	 NULL,
	 NULL,
	 false,
	 "client certificate presented to the MLflow server"},
	{"s3_uri",
	 {"NETSEC_S3_URI"},
	 NULL,
	 NULL,
	 false,
	 "s3://bucket/prefix that `netsec sync` pushes to and pulls from"},
	{"aws_access_key_id", {"AWS_ACCESS_KEY_ID"}, NULL, NULL, true, "S3 access key id"},
	{"aws_secret_access_key",
	 {"AWS_SECRET_ACCESS_KEY"},
	 NULL,
	 NULL,
	 true,
	 "S3 secret access key"},
	{"aws_session_token",
	 {"AWS_SESSION_TOKEN"},
	 NULL,
	 NULL,
	 true,
	 "S3 session token (temporary credentials)"},
	{"aws_region", {"AWS_REGION", "AWS_DEFAULT_REGION"}, NULL, "us-east-1", false, "S3 region"},
	{"aws_endpoint_url",
	 {"AWS_ENDPOINT_URL"},
	 NULL,
	 NULL,
	 false,
	 "S3 endpoint (a local S3-compatible server); default AWS's"},
	{"host", {"NETSEC_HOST"}, "serve --host", "0.0.0.0", false, "address `serve` listens on"},
	{"port", {"NETSEC_PORT"}, "serve --port", "8080", false, "port `serve` listens on"},
	{"api_token",
	 {"NETSEC_API_TOKEN"},
	 NULL,
	 NULL,
	 true,
	 "bearer token for POST /train, promote, rollback"},
	{"api_token_file",
	 {"NETSEC_API_TOKEN_FILE"},
	 "serve --token-file",
	 NULL,
	 false,
	 "file holding the bearer token (instead of NETSEC_API_TOKEN)"},
	{"workers",
	 {"NETSEC_WORKERS"},
	 "serve --workers",
	 NULL,
	 false,
	 "server threads (default: the number of cores)"},
	{"max_connections",
	 {"NETSEC_MAX_CONNECTIONS"},
	 "serve --max-connections",
	 "512",
	 false,
	 "server connection cap"},
	{"max_upload",
	 {"NETSEC_MAX_UPLOAD"},
	 "serve --max-upload",
	 "268435456",
	 false,
	 "largest request body in bytes (413 above)"},
	{"max_rows",
	 {"NETSEC_MAX_ROWS"},
	 "serve --max-rows",
	 "10000000",
	 false,
	 "most CSV rows a request may hold"},
	{"max_fields",
	 {"NETSEC_MAX_FIELDS"},
	 "serve --max-fields",
	 "65536",
	 false,
	 "most fields a CSV record may hold"},
	{"max_json",
	 {"NETSEC_MAX_JSON"},
	 "serve --max-json",
	 "8388608",
	 false,
	 "largest JSON body in bytes"},
	{"timeout",
	 {"NETSEC_TIMEOUT"},
	 "serve --timeout",
	 "30",
	 false,
	 "seconds before an idle connection is closed"},
	{"cors_origins",
	 {"NETSEC_CORS_ORIGINS"},
	 "serve --cors",
	 NULL,
	 false,
	 "comma-separated allowed origins ('*' refused)"},
	{"keep_predictions",
	 {"NETSEC_KEEP_PREDICTIONS"},
	 "serve --keep-dir",
	 NULL,
	 false,
	 "folder for ?keep=true prediction results"},
	{"log_raw_rows",
	 {"NETSEC_LOG_RAW_ROWS"},
	 "serve --log-raw-rows",
	 "0",
	 false,
	 "1: keep predicted rows in the prediction log"},
	{"test_crash_at",
	 {"NETSEC_TEST_CRASH_AT"},
	 NULL,
	 NULL,
	 false,
	 "tests only: crash at a named point (train, registry)"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

const struct ns_setting *ns_settings(size_t *n)
{
	if (n)
		*n = N_SETTINGS;
	return settings;
}

const struct ns_setting *ns_setting_find(const char *name)
{
	for (size_t i = 0; name && i < N_SETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

const char *ns_setting_source_name(enum ns_setting_source src)
{
	switch (src) {
	case NS_SETTING_DEFAULT:
		return "default";
	case NS_SETTING_DOTENV:
		return ".env";
	case NS_SETTING_ENV:
		return "env";
	case NS_SETTING_FLAG:
		return "flag";
	default:
		return "unset";
	}
}

struct ns_setting_value ns_setting_resolve(const struct ns_setting *s, const char *flag_value,
					   const struct ns_dotenv_loaded *dotenv, const char *def)
{
	struct ns_setting_value v = {NULL, NS_SETTING_UNSET, NULL, 0};
	struct ns_setting_value from_file = v;
	if (!s)
		return v;
	if (flag_value) {
		v.value = flag_value;
		v.source = NS_SETTING_FLAG;
		return v;
	}
	for (size_t i = 0; i < NS_SETTING_ENV_MAX && s->env[i]; i++) {
		const char *e = getenv(s->env[i]);
		const struct ns_dotenv_entry *d;
		if (!e || !*e)
			continue;
		d = ns_dotenv_loaded_find(dotenv, s->env[i]);
		if (!d) {
			v.value = e;
			v.source = NS_SETTING_ENV;
			v.var = s->env[i];
			return v;
		}
		if (!from_file.value) {
			from_file.value = e;
			from_file.source = NS_SETTING_DOTENV;
			from_file.var = s->env[i];
			from_file.line = d->line;
		}
	}
	if (from_file.value)
		return from_file;
	if (def || s->def) {
		v.value = def ? def : s->def;
		v.source = NS_SETTING_DEFAULT;
	}
	return v;
}

/* ---- masking ------------------------------------------------------------------- */

struct out {
	char *p;
	size_t size;
	size_t len;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->size == 0)
		return;
	for (size_t i = 0; i < n && o->len + 1 < o->size; i++)
		o->p[o->len++] = s[i];
	o->p[o->len] = '\0';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool scheme_char(char c)
{
	return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}

/* The end of a "word": where a URI written in free text stops. */
static bool word_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' ||
	       c == '\'' || c == '<' || c == '>' || c == '`';
}

static bool authority_end(char c)
{
	return word_end(c) || c == '/' || c == '?' || c == '#';
}

/* host[:port] (, host[:port])*, with [v6] hosts: true when `a` (n bytes)
 * reads as that, so a ':' in it is a port separator and not a password. */
static bool host_list(const char *a, size_t n)
{
	size_t i = 0;
	while (i <= n) {
		size_t j = i;
		if (j < n && a[j] == '[') {
			while (j < n && a[j] != ']')
				j++;
			if (j == n)
				return false;
			j++;
		} else {
			while (j < n && a[j] != ':' && a[j] != ',')
				j++;
		}
		if (j < n && a[j] == ':') {
			size_t d = ++j;
			while (j < n && is_digit(a[j]))
				j++;
			if (j == d)
				return false;
		}
		if (j < n && a[j] != ',')
			return false;
		i = j + 1;
	}
	return true;
}

/* Query parameter names whose values are masked. */
static bool secret_param(const char *name, size_t n)
{
	static const char *const parts[] = {"pass",   "pwd",       "secret",
					    "token",  "signature", "credential",
					    "apikey", "api_key",   "authmechanismproperties"};
	static const char *const whole[] = {"sig", "key"};
	char low[64];
	if (n == 0 || n >= sizeof(low))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		low[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	low[n] = '\0';
	for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
		if (strcmp(low, whole[i]) == 0)
			return true;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		if (strstr(low, parts[i]))
			return true;
	return false;
}

/*
 * The authority starting at text[a]: copies it to `o` with the password
 * masked; returns where the caller goes on copying.
 */
static size_t redact_authority(const char *text, size_t a, struct out *o)
{
	size_t e = a, at = SIZE_MAX, colon = SIZE_MAX;
	while (!authority_end(text[e]))
		e++;
	for (size_t i = a; i < e; i++)
		if (text[i] == '@')
			at = i;
	if (at == SIZE_MAX) {
		/* No '@' in the authority proper: a password with an unencoded '/',
		 * '?' or '#' ends it early.  If what we have is not a host list and
		 * an '@' follows in the same word, mask up to that '@'. */
		size_t w = e;
		while (!word_end(text[w]))
			w++;
		for (size_t i = e; i < w; i++)
			if (text[i] == '@')
				at = i;
		if (at == SIZE_MAX || host_list(text + a, e - a))
			return a;
	}
	for (size_t i = a; i < at; i++) {
		if (text[i] == ':') {
			colon = i;
			break;
		}
	}
	if (colon == SIZE_MAX)
		return a; /* a user name alone */
	out_put(o, text + a, colon + 1 - a);
	out_put(o, "***", 3);
	return at;
}

char *ns_redact(const char *text, char *out, size_t size)
{
	struct out o = {out, size, 0};
	bool in_uri = false, in_query = false;
	size_t i = 0;

	if (!out || size == 0)
		return out;
	out[0] = '\0';
	if (!text)
		return out;
	if (text[0] == '/' && text[1] == '/') {
		out_put(&o, text, 2);
		i = redact_authority(text, 2, &o);
		in_uri = true;
	}
	while (text[i]) {
		char c = text[i];
		if (c == ':' && text[i + 1] == '/' && text[i + 2] == '/') {
			size_t k = i;
			while (k > 0 && scheme_char(text[k - 1]))
				k--;
			while (k < i && !is_alpha(text[k]))
				k++;
			if (k < i) {
				out_put(&o, text + i, 3);
				i = redact_authority(text, i + 3, &o);
				in_uri = true;
				in_query = false;
				continue;
			}
		}
		if (word_end(c))
			in_uri = in_query = false;
		out_put(&o, &c, 1);
		i++;
		if (in_uri && (c == '?' || (in_query && (c == '&' || c == ';')))) {
			size_t n = i;
			in_query = true;
			while (!word_end(text[n]) && text[n] != '=' && text[n] != '&' &&
			       text[n] != ';' && text[n] != '#')
				n++;
			if (text[n] == '=' && secret_param(text + i, n - i)) {
				out_put(&o, text + i, n + 1 - i);
				out_put(&o, "***", 3);
				i = n + 1;
				while (!word_end(text[i]) && text[i] != '&' && text[i] != ';' &&
				       text[i] != '#')
					i++;
			}
		}
		if (in_uri && c == '#')
			in_query = false;
	}
	return out;
}

char *ns_secret_mask(const char *value, char *out, size_t size)
{
	size_t n;
	if (!out || size == 0)
		return out;
	out[0] = '\0';
	if (!value || !*value)
		return out;
	n = strlen(value);
	if (n < 12) {
		snprintf(out, size, "****");
		return out;
	}
	{
		char head[3] = {value[0], value[1], '\0'};
		for (int k = 0; k < 2; k++)
			if ((unsigned char)head[k] < 0x21 || (unsigned char)head[k] > 0x7e)
				head[k] = '*';
		snprintf(out, size, "%s****(%zu chars)", head, n);
	}
	return out;
}

char *ns_setting_display(const struct ns_setting *s, const char *value, char *out, size_t size)
{
	if (s && s->secret)
		return ns_secret_mask(value, out, size);
	return ns_redact(value, out, size);
}
