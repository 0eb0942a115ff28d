/*
 * include/netsec/registry.h - the model registry: numbered versions of a
 * model, one of them promoted as "current", with an append-only history
 * that rollback walks back.
 *
 * On disk (docs/registry.md):
 *
 *     <root>/<name>/.lock              flock'ed by every change
 *     <root>/<name>/<N>/model.nsm      version N's model file
 *     <root>/<name>/<N>/meta.json      its model card (a JSON object)
 *     <root>/<name>/current            "N\n": the promoted version
 *     <root>/<name>/history            one line per promotion or rollback
 *     <root>/<name>/last_version       the highest number ever handed out
 *
 * Versions are 1, 2, 3, ... in order of addition and never reused (gaps are
 * possible after a crash).  A version folder is complete or absent: it is
 * built in a temp folder (.tmp.*) and renamed into place.  `current` is
 * replaced atomically (temp file, fsync, rename, fsync of the folder).  The
 * history is written ahead of `current`: a promotion is decided once its
 * line is in the history, and opening the registry finishes one that a
 * crash interrupted.  A kill -9 at any moment leaves `current` naming a
 * complete, loadable model (the old one or the new one).
 *
 * Concurrency: changes (add, promote, rollback, and the clean-up done by
 * open and check) hold an exclusive flock on `.lock`, so processes adding at
 * once get distinct versions.  Reads take no lock: every file they read is
 * replaced by rename, never rewritten in place.  A `struct ns_registry` is
 * used by one thread at a time.
 *
 * Test hook: when the environment variable NETSEC_TEST_CRASH_AT names one of
 * the points listed in docs/registry.md ("add:after-model", ...), the
 * process kills itself with SIGKILL there.  Unset in production.
 */
#ifndef NETSEC_REGISTRY_H
#define NETSEC_REGISTRY_H

#include "netsec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ns_registry;

/* Caps on what the registry reads back. */
#define NS_REGISTRY_META_MAX ((size_t)16 << 20)
#define NS_REGISTRY_REASON_MAX 500

/*
 * Opens (creating the folders if needed) the registry `name` under `root`.
 * `name` is 1..64 characters of [A-Za-z0-9_.-], not starting with '.'.
 * Under the lock, removes temp folders left by a crash and finishes a
 * promotion that was logged but not yet applied.  OUT *out owned by the
 * caller (ns_registry_close).  NS_ERR_INVALID (bad name), NS_ERR_IO,
 * NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_registry_open(const char *root, const char *name, struct ns_registry **out,
				       struct ns_diag *diag);
/** Closes a registry; NULL is a no-op. */
NS_API void ns_registry_close(struct ns_registry *r);
/** The registry's folder, "<root>/<name>"; borrowed, valid until close. */
NS_API const char *ns_registry_dir(const struct ns_registry *r);

/*
 * Adds a new version: checks that `model_path` loads (ns_model_load), copies
 * it and writes `meta_json` (a JSON object; NULL for "{}") as meta.json, both
 * fsynced, in a temp folder renamed into place.  If the object has no
 * "version" or "model_sha256" member, the registry adds them (the new number,
 * the SHA-256 of the model file); a "model_sha256" that does not match the
 * file is refused.  Does not promote.  OUT *version the new number.
 * NS_ERR_PARSE (meta is not a JSON object), NS_ERR_CORRUPT (the model does
 * not load, the hash differs), NS_ERR_IO, NS_ERR_NOMEM.
 */
NS_API enum ns_status ns_registry_add(struct ns_registry *r, const char *model_path,
				      const char *meta_json, unsigned *version,
				      struct ns_diag *diag);

/* OUT *version: the promoted version, 0 if none.  NS_ERR_CORRUPT if `current` is unreadable. */
NS_API enum ns_status ns_registry_current(struct ns_registry *r, unsigned *version,
					  struct ns_diag *diag);

/*
 * Makes `version` current after checking that its model loads (checksums
 * included) and matches meta.json's model_sha256; logs "promote" with
 * `reason` (may be NULL; tabs and newlines become spaces, cut at
 * NS_REGISTRY_REASON_MAX bytes).  Promoting the current version again does
 * nothing.  NS_ERR_NOTFOUND (no such version), NS_ERR_CORRUPT, NS_ERR_IO.
 */
NS_API enum ns_status ns_registry_promote(struct ns_registry *r, unsigned version,
					  const char *reason, struct ns_diag *diag);

/*
 * Undoes the last promotion still in effect: the history is replayed as a
 * stack (promote pushes, rollback pops) and the version below the top
 * becomes current again, after the same checks as promote; logs "rollback".
 * Repeated rollbacks walk further back.  OUT *now_current (may be NULL).
 * NS_ERR_NOTFOUND when there is nothing to go back to, NS_ERR_CORRUPT when
 * that version no longer loads (nothing is changed), NS_ERR_IO.
 */
NS_API enum ns_status ns_registry_rollback(struct ns_registry *r, unsigned *now_current,
					   struct ns_diag *diag);

/* OUT *versions (ascending, ns_free) and *n: the complete versions present. */
NS_API enum ns_status ns_registry_list(struct ns_registry *r, unsigned **versions, size_t *n,
				       struct ns_diag *diag);

/*
 * Writes the path of version's model.nsm into model_path (`size` bytes).
 * NS_ERR_NOTFOUND (no such version), NS_ERR_LIMIT (buffer too small).
 */
NS_API enum ns_status ns_registry_path(struct ns_registry *r, unsigned version, char *model_path,
				       size_t size);

/* OUT *json_text: version's meta.json, NUL-terminated, owned by the caller (ns_free). */
NS_API enum ns_status ns_registry_meta(struct ns_registry *r, unsigned version, char **json_text,
				       struct ns_diag *diag);

/*
 * Verifies the whole registry: every version's model loads and matches
 * meta.json's model_sha256, every meta.json is a JSON object, `current`
 * names a complete loadable version and agrees with the history, every
 * history line is well-formed and names an existing version.  Removes temp
 * folders left by a crash first.  Each problem is logged (NS_LOG_WARN); the
 * diagnostic holds the first.  OUT *problems their number.  Returns NS_OK
 * when the check ran (whatever it found), NS_ERR_IO / NS_ERR_NOMEM if not.
 */
NS_API enum ns_status ns_registry_check(struct ns_registry *r, size_t *problems,
					struct ns_diag *diag);

/*
 * Verifies one version (model loads, hash matches meta.json, meta.json is an
 * object); NS_OK or the first problem's status.
 */
NS_API enum ns_status ns_registry_check_version(struct ns_registry *r, unsigned version,
						struct ns_diag *diag);

/* One history line, as ns_registry_history returns them. */
struct ns_registry_event {
	char time[32]; /* ISO 8601 UTC, "2024-05-01T12:00:00Z" */
	unsigned version;
	char action[16]; /* "promote" or "rollback" */
	char reason[NS_REGISTRY_REASON_MAX + 1];
};

/* OUT *events (oldest first, ns_free) and *n: the well-formed history lines. */
NS_API enum ns_status ns_registry_history(struct ns_registry *r, struct ns_registry_event **events,
					  size_t *n, struct ns_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
