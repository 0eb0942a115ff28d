/*
 * lib/core/log.c - logging through a callback.
 *
 * The callback and level are process-wide settings, set once at start-up
 * (documented in core.h); they are stored in atomics so worker threads read a
 * consistent value.  Messages longer than 1 KiB are truncated.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "netsec/core.h"

struct log_sink {
	ns_log_fn fn;
	void *user;
};

static struct log_sink sinks[2];
static atomic_int active = -1; /* index into sinks, -1: none */
static atomic_int max_level = NS_LOG_INFO;

void ns_log_set(ns_log_fn fn, void *user, enum ns_log_level level)
{
	int next = atomic_load(&active) == 0 ? 1 : 0;
	if (!fn) {
		atomic_store(&active, -1);
		return;
	}
	sinks[next].fn = fn;
	sinks[next].user = user;
	atomic_store(&max_level, (int)level);
	atomic_store(&active, next);
}

bool ns_log_enabled(enum ns_log_level level)
{
	return atomic_load(&active) >= 0 && (int)level <= atomic_load(&max_level);
}

void ns_log(enum ns_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int i = atomic_load(&active);
	if (i < 0 || (int)level > atomic_load(&max_level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sinks[i].fn(sinks[i].user, level, msg);
}
