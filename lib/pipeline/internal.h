/*
 * lib/pipeline/internal.h - shared parts of the training pipeline.
 */
#ifndef NETSEC_PIPELINE_INTERNAL_H
#define NETSEC_PIPELINE_INTERNAL_H

#include <stdio.h>

#include "core/internal.h"
#include "netsec/pipeline.h"

/* "a/b" into buf; an empty string if it does not fit (the run checks path
 * lengths first, so this does not happen in practice). */
static inline void ns__path_join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';
}

/* Makes ARTIFACTS/<new id>; OUT id and dir. */
enum ns_status ns__run_folder_create(const char *artifacts, char *id, size_t id_size, char *dir,
				     size_t dir_size, struct ns_diag *diag);
/* Replaces DIR/run.status with `line`. */
enum ns_status ns__run_status_write(const char *dir, const char *line, struct ns_diag *diag);
/* Start time of a process since boot in clock ticks, 0 if unknown. */
unsigned long long ns__process_start(long pid);

#endif
