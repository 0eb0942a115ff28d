/*
 * lib/store/store_mongo.h - internals of the MongoDB store backend shared
 * with its tests (not API).
 */
#ifndef NETSEC_STORE_MONGO_H
#define NETSEC_STORE_MONGO_H

#include <stddef.h>

#include "store/store_impl.h"

extern const struct ns__store_backend ns__store_mongo, ns__store_mongo_srv;

#endif
