/*
 * lib/store/store_mongo.h - internals of the MongoDB store backend shared
 * with its tests (not API).
 */
#ifndef NETSEC_STORE_MONGO_H
#define NETSEC_STORE_MONGO_H

#include <stddef.h>

#include "store/store_impl.h"

extern const struct ns__store_backend ns__store_mongo, ns__store_mongo_srv;

/*
 * Copies `uri` into `out` (size bytes, always NUL-terminated, truncated if
 * need be) with the password of its user info replaced by "***", and the
 * values of query options that may hold secrets (names containing
 * "password", "secret" or "token", and authMechanismProperties) by "***".
 * Returns out.  Thread-safe.
 */
char *ns__mongo_redact_uri(const char *uri, char *out, size_t size);

#endif
