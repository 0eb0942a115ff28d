/*
 * include/netsec/config.h - settings: the .env file, the table of every
 * setting netsec reads, where each value comes from, and masking of secrets.
 *
 * Precedence, highest first: a command-line flag, the process environment,
 * a `.env` file, the built-in default.  A `.env` file only fills variables
 * that the environment does not already have (ns_config_load_dotenv with
 * overwrite = false), so the environment wins over it without any further
 * bookkeeping, and every reader of a setting just calls getenv().
 *
 * The .env grammar (docs/config.md has it with examples).  The file is UTF-8
 * or any ASCII superset, read as bytes; a line ends at LF (a CR before it is
 * dropped).  Each line is one of:
 *
 *   - blank (spaces and tabs only), or a comment: optional blanks, then '#';
 *   - an assignment: optional blanks, an optional `export` keyword followed
 *     by at least one blank, a KEY matching [A-Za-z_][A-Za-z0-9_]* (at most
 *     NS_DOTENV_KEY_MAX bytes), optional blanks, '=', optional blanks, then
 *     a VALUE and optional trailing blanks or a comment:
 *       * 'single quoted': literal, no escapes, may span lines;
 *       * "double quoted": escapes \n \t \r \" \\ \$ only (any other
 *         backslash is an error), may span lines;
 *       * unquoted: up to the end of the line or to the first '#' that
 *         follows a blank (" #" starts a comment), surrounding blanks
 *         trimmed; quotes and backslashes after its first byte are kept as
 *         they are; empty is allowed (KEY= sets the empty string).
 *     After a closing quote only blanks, then optionally a '#' comment,
 *     may follow.
 *   A line ends at LF or CR LF, also inside quoted values (CR LF is read
 *   as LF there); a CR anywhere else is an error.
 *
 * There is no variable interpolation: "$HOME" and "${X}" are kept as they
 * are, in every kind of value.  A KEY given twice is an error (it is almost
 * always a mistake, and shells and libraries disagree on which one wins).
 * NUL bytes are refused.  The file may be at most NS_DOTENV_MAX_BYTES long
 * and hold at most NS_DOTENV_MAX_ENTRIES assignments.
 *
 * Errors are NS_ERR_PARSE (or NS_ERR_LIMIT for the caps) with the file name,
 * the 1-based line and the 1-based column in bytes of the first bad byte,
 * so the CLI prints "FILE:LINE:COLUMN: message".  Error messages never
 * quote a value (it may be a secret); they may quote a key.
 *
 * Threading: parsing is reentrant.  ns_config_load_dotenv() calls setenv(),
 * which is not thread-safe: call it at start-up, before any thread starts.
 * Everything else here is thread-safe and allocation-free unless stated.
 */
#ifndef NETSEC_CONFIG_H
#define NETSEC_CONFIG_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NS_DOTENV_MAX_BYTES (1u << 20) /* 1 MiB */
#define NS_DOTENV_MAX_ENTRIES 4096
#define NS_DOTENV_KEY_MAX 255

/*
 * Called for each assignment, in file order, with the key and the decoded
 * value (both NUL-terminated, borrowed for the call only) and the 1-based
 * line of the key.  A status other than NS_OK stops the parse and is
 * returned by ns_dotenv_parse.
 */
typedef enum ns_status (*ns_dotenv_fn)(void *user, const char *key, const char *value,
				       size_t value_len, uint64_t line);

/*
 * Parses .env text `text` of `len` bytes (need not be NUL-terminated);
 * `source` names it in diagnostics (may be NULL).  Every line is checked
 * before `fn` is first called, so on any error `fn` has not been called at
 * all.  Returns NS_OK, NS_ERR_PARSE, NS_ERR_LIMIT, NS_ERR_NOMEM or fn's
 * status.
 */
NS_API enum ns_status ns_dotenv_parse(const char *text, size_t len, const char *source,
				      ns_dotenv_fn fn, void *user, struct ns_diag *diag);

/* What ns_config_load_dotenv did, for `netsec config --show-source`. */
struct ns_dotenv_entry {
	char *key; /* owned */
	uint64_t line; /* where it is in the file */
	bool applied; /* true: set from the file; false: the environment had it */
};
struct ns_dotenv_loaded {
	char *path; /* owned; the file that was read */
	struct ns_dotenv_entry *entries; /* owned; in file order */
	size_t n_entries;
};

/*
 * Reads the .env file `path` and sets each of its variables with setenv():
 * all of them when `overwrite`, otherwise (the normal case) only those the
 * environment does not already have, so that the environment wins.  The
 * whole file is parsed first: on any error no variable is set.  OUT
 * `loaded` (may be NULL) records every entry and whether it was applied;
 * release it with ns_dotenv_loaded_fini (also after an error).
 *
 * Returns NS_OK; NS_ERR_NOTFOUND when the file does not exist (the caller
 * decides whether that matters); NS_ERR_IO, NS_ERR_PARSE, NS_ERR_LIMIT,
 * NS_ERR_NOMEM.  Not thread-safe (setenv).
 */
NS_API enum ns_status ns_config_load_dotenv(const char *path, bool overwrite,
					    struct ns_dotenv_loaded *loaded, struct ns_diag *diag);
NS_API void ns_dotenv_loaded_fini(struct ns_dotenv_loaded *loaded);
/* The entry for `key` that was applied from the file, or NULL. */
NS_API const struct ns_dotenv_entry *ns_dotenv_loaded_find(const struct ns_dotenv_loaded *loaded,
							   const char *key);

/* ---- the settings table --------------------------------------------------- */

#define NS_SETTING_ENV_MAX 3

/*
 * One setting netsec reads.  `env` lists its environment variables, the
 * preferred one first, then aliases (the reference project's names such as
 * MONGO_DB_URL); unused slots are NULL.  `flag` is the command-line flag
 * that overrides it (NULL: none; "serve --port" style when it belongs to one
 * command).  `def` is the default as text (NULL: unset by default).
 * `secret`: the whole value is a secret (token, password, key) and is only
 * ever shown masked (ns_secret_mask).  Other values are shown through
 * ns_redact, so a URI's password never shows either.
 */
struct ns_setting {
	const char *name;
	const char *env[NS_SETTING_ENV_MAX];
	const char *flag;
	const char *def;
	bool secret;
	const char *doc;
};

/* The table, static storage; OUT *n the number of entries. */
NS_API const struct ns_setting *ns_settings(size_t *n);
/* The setting called `name`, or NULL. */
NS_API const struct ns_setting *ns_setting_find(const char *name);

enum ns_setting_source {
	NS_SETTING_UNSET = 0, /* no value and no default */
	NS_SETTING_DEFAULT,
	NS_SETTING_DOTENV,
	NS_SETTING_ENV,
	NS_SETTING_FLAG,
};
/* "unset", "default", ".env", "env", "flag"; static storage. */
NS_API const char *ns_setting_source_name(enum ns_setting_source src);

/* The effective value of a setting and where it came from. */
struct ns_setting_value {
	const char *value; /* borrowed (flag, getenv or the table); NULL when unset */
	enum ns_setting_source source;
	const char *var; /* the variable it came from (ENV, DOTENV), else NULL */
	uint64_t line; /* DOTENV: the line in the .env file */
};

/*
 * Resolves setting `s`: `flag_value` when not NULL; else the first of its
 * variables that is set (non-empty) in the environment and did not come
 * from the .env file; else the first one that came from it (`dotenv` may
 * be NULL: nothing did); else `def` when not NULL (a caller's own default,
 * such as a compiled-in path), else the table's default.  So a layer wins
 * over a lower layer whatever the alias order.  The value is borrowed from
 * the environment: valid until the variable is changed.  Not thread-safe
 * against concurrent setenv().
 */
NS_API struct ns_setting_value ns_setting_resolve(const struct ns_setting *s,
						  const char *flag_value,
						  const struct ns_dotenv_loaded *dotenv,
						  const char *def);

/* ---- masking ------------------------------------------------------------------ */

/*
 * Copies `text` into `out` (`size` bytes, always NUL-terminated, truncated
 * if needed) with every credential it can recognise masked:
 *   - the password of a URI's userinfo, "scheme://user:pass@host" (also
 *     "//user:pass@host" at the start of the text) becomes
 *     "scheme://user:***@host"; the userinfo ends at the last '@' before
 *     the authority's end ('/', '?', '#', a blank or a quote), so an
 *     unencoded '@' in the password is covered; when the authority has no
 *     '@' but is not a valid host[:port] list and an '@' follows later in
 *     the same word (an unencoded '/' in the password), the password is
 *     masked up to that '@' all the same;
 *   - the value of a query parameter whose name suggests a secret
 *     (password, secret, token, signature, credential, sig, key, apikey,
 *     api_key, case-insensitive) becomes "***".
 * Any number of URIs in the text are handled, so a whole message may be
 * passed.  A user name without a password is kept.  Returns `out`.
 */
NS_API char *ns_redact(const char *text, char *out, size_t size);

/*
 * Masks a whole secret for display into `out` (`size` bytes, >= 32 is
 * enough): "" for NULL or empty; "****" when shorter than 12 bytes;
 * otherwise the first 2 characters, "****" and the length:
 * "ab****(40 chars)".  Two characters of a 12+ character secret give away
 * too little to matter and help to tell two keys apart.  Returns `out`.
 */
NS_API char *ns_secret_mask(const char *value, char *out, size_t size);

/*
 * The display form of `value` for setting `s`: ns_secret_mask when the
 * setting is secret, ns_redact otherwise.  Returns `out`.
 */
NS_API char *ns_setting_display(const struct ns_setting *s, const char *value, char *out,
				size_t size);

#ifdef __cplusplus
}
#endif
#endif
