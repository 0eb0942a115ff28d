/*
 * lib/pipeline/runfolder.c - run ids, run folders and their status file.
 *
 * A run id is the UTC start time and a random suffix,
 * "20261125T033510Z-9f2c4a1b".  The folder ARTIFACTS/<id> is made with a
 * plain mkdir (not mkdir -p), so two runs that draw the same id - the same
 * second and the same suffix - cannot share it: the second mkdir fails with
 * EEXIST and that run draws again.
 *
 * run.status holds one line: "running <pid> <boot-relative start>" while the
 * run is alive, then "finished" or "failed: <why>".  It is replaced
 * atomically.  ns_train_reap() turns the "running" lines of processes that
 * are gone into "failed: interrupted (process <pid> ended without finishing)".
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pipeline/internal.h"

static uint64_t random_u64(void)
{
	uint64_t v = 0;
	if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32;
	}
	return v;
}

enum ns_status ns__run_folder_create(const char *artifacts, char *id, size_t id_size, char *dir,
				     size_t dir_size, struct ns_diag *diag)
{
	enum ns_status st = ns_mkdir_p(artifacts, diag);
	if (st != NS_OK)
		return st;
	for (int attempt = 0; attempt < 64; attempt++) {
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];
		int n;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
		n = snprintf(id, id_size, "%s-%08x", stamp, (unsigned)(random_u64() & 0xffffffffu));
		if (n < 0 || (size_t)n >= id_size)
			return ns_diag_set(diag, NS_ERR_INTERNAL, "run id buffer too small");
		n = snprintf(dir, dir_size, "%s/%s", artifacts, id);
		if (n < 0 || (size_t)n >= dir_size)
			return ns_diag_set(diag, NS_ERR_INVALID, "the artifacts path is too long");
		if (mkdir(dir, 0755) == 0)
			return NS_OK;
		if (errno != EEXIST)
			return ns_diag_set(diag, NS_ERR_IO, "cannot create the run folder %s: %s",
					   dir, strerror(errno));
	}
	return ns_diag_set(diag, NS_ERR_IO, "cannot find a free run folder in %s", artifacts);
}

enum ns_status ns__run_status_write(const char *dir, const char *line, struct ns_diag *diag)
{
	char path[4200], text[1024];
	int n = snprintf(text, sizeof(text), "%s\n", line);
	ns__path_join(path, sizeof(path), dir, "run.status");
	if (n < 0)
		return NS_ERR_INTERNAL;
	return ns_write_file_atomic(path, text, strlen(text), diag);
}

/* Start time of process `pid` in clock ticks since boot (/proc/PID/stat field
 * 22), or 0 when unknown: with the pid it names a process even if the pid is
 * reused later. */
unsigned long long ns__process_start(long pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	FILE *fp;
	size_t n;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* The command name (field 2) may hold spaces: count from its ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++) {
		p = strchr(p + 1, ' ');
	}
	if (p)
		sscanf(p, " %llu", &start);
	return start;
}

static bool process_gone(long pid, unsigned long long start)
{
	if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		return true;
	return start && ns__process_start(pid) != start;
}

enum ns_status ns_train_reap(const char *artifacts_dir, size_t *reaped, struct ns_diag *diag)
{
	DIR *d;
	struct dirent *e;
	size_t count = 0;
	enum ns_status st = NS_OK;
	if (reaped)
		*reaped = 0;
	d = opendir(artifacts_dir);
	if (!d)
		return errno == ENOENT ? NS_OK
				       : ns_diag_set(diag, NS_ERR_IO, "cannot read %s: %s",
						     artifacts_dir, strerror(errno));
	while (st == NS_OK && (e = readdir(d)) != NULL) {
		char path[4200], dir[4200], *text = NULL;
		size_t len = 0;
		long pid = 0;
		unsigned long long start = 0;
		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", artifacts_dir, e->d_name);
		ns__path_join(path, sizeof(path), dir, "run.status");
		if (ns_read_file(path, 4096, &text, &len, NULL) != NS_OK)
			continue;
		if (sscanf(text, "running %ld %llu", &pid, &start) >= 1 && pid > 0 &&
		    process_gone(pid, start)) {
			char line[128];
			snprintf(line, sizeof(line),
				 "failed: interrupted (process %ld ended without finishing)", pid);
			st = ns__run_status_write(dir, line, diag);
			count += st == NS_OK;
		}
		ns_free(text);
	}
	closedir(d);
	if (reaped)
		*reaped = count;
	return st;
}
