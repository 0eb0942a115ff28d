/*
 * lib/core/status.c - status names and texts, and the library version.
 *
 * Both tables come from NS_STATUS_MAP so they cannot fall out of step with
 * the enum.  Thread-safe: read-only data.
 */
#include "netsec/core.h"

const char *ns_version(void)
{
	return NETSEC_VERSION_STRING;
}

const char *ns_status_str(enum ns_status st)
{
	switch (st) {
#define NS__STATUS_TEXT(name, text) \
	case NS_##name: \
		return text;
		NS_STATUS_MAP(NS__STATUS_TEXT)
#undef NS__STATUS_TEXT
	default:
		return "unknown status";
	}
}

const char *ns_status_name(enum ns_status st)
{
	switch (st) {
#define NS__STATUS_NAME(name, text) \
	case NS_##name: \
		return #name;
		NS_STATUS_MAP(NS__STATUS_NAME)
#undef NS__STATUS_NAME
	default:
		return "UNKNOWN";
	}
}
