/*
 * src/cli/util.c - helpers shared by the commands: problem printing, clock.
 */
#include <time.h>

#include "cli.h"

void cli_print_problem(void *user, const struct ns_problem *p)
{
	struct cli_problems *pp = user;
	pp->n_seen++;
	if (pp->max_print && pp->n_seen > pp->max_print)
		return;
	if (pp->cli->verbosity < 1 && pp->n_seen > 1)
		return;
	fprintf(stderr, "%s:", pp->file);
	if (p->line) {
		fprintf(stderr, "%llu:", (unsigned long long)p->line);
		if (p->column)
			fprintf(stderr, "%llu:", (unsigned long long)p->column);
	}
	fprintf(stderr, " %s:", ns_problem_kind_name(p->kind));
	if (p->field)
		fprintf(stderr, " field '%s':", p->field);
	fprintf(stderr, " %s\n", p->message);
}

void cli_problems_done(const struct cli_problems *pp)
{
	if (pp->max_print && pp->n_seen > pp->max_print && pp->cli->verbosity >= 1)
		fprintf(stderr, "%s: ... and %llu more problems (-v shows all)\n", pp->file,
			pp->n_seen - pp->max_print);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
