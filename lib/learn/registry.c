/*
 * lib/learn/registry.c - the table of model families, and lookups.
 *
 * Adding a family: one file lib/learn/<name>.c defining ns__family_<name>,
 * and one line in `families` below.
 */
#include <strings.h>

#include "learn/family.h"

static const struct ns_family *const all_families[] = {
	&ns__family_logreg, &ns__family_tree,     &ns__family_forest,
	&ns__family_knn,    &ns__family_adaboost, &ns__family_gbdt,
};
#define N_ALL (sizeof(all_families) / sizeof(all_families[0]))

size_t ns_family_count(void)
{
	return N_ALL;
}

const struct ns_family *ns_family_at(size_t i)
{
	return i < N_ALL ? all_families[i] : NULL;
}

const struct ns_family *ns_family_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < N_ALL; i++) {
		const struct ns_family *f = all_families[i];
		if (strcasecmp(f->name, name) == 0)
			return f;
		for (const char *const *a = f->aliases; a && *a; a++)
			if (strcasecmp(*a, name) == 0)
				return f;
	}
	return NULL;
}

const char *ns_family_name(const struct ns_family *f)
{
	return f->name;
}

const char *const *ns_family_aliases(const struct ns_family *f)
{
	static const char *const none[] = {NULL};
	return f->aliases ? f->aliases : none;
}

const char *ns_family_doc(const struct ns_family *f)
{
	return f->doc;
}

const struct ns_param_def *ns_family_params(const struct ns_family *f, size_t *n)
{
	if (n)
		*n = f->n_params;
	return f->params;
}

bool ns_family_needs_complete(const struct ns_family *f)
{
	return (f->flags & NS__FAMILY_NEEDS_COMPLETE) != 0;
}

const char *ns_family_prefix_param(const struct ns_family *f)
{
	return f->prefix_param;
}
