/*
 * lib/learn/grid_yaml.c - parameter grids from a YAML file (ns_grids_load).
 *
 * Shape: a mapping of family name -> mapping of parameter -> value or list of
 * values.  Scalars are checked through the family's parameter table exactly
 * as on the command line.  Errors carry the YAML line and column.
 * Limits: 1 MiB file, 64 families.
 */
#include <stdio.h>
#include <yaml.h>

#include "learn/family.h"
#include "netsec/search.h"

static enum ns_status at(struct ns_diag *diag, const char *path, const yaml_node_t *n,
			 enum ns_status st, const char *msg)
{
	ns_diag_where(diag, path, n->start_mark.line + 1, n->start_mark.column + 1, NULL);
	return ns_diag_set(diag, st, "%s", msg);
}

enum ns_status ns_grids_load(const char *path, struct ns_grid **grids, size_t *n_out,
			     struct ns_diag *diag)
{
	char *text = NULL;
	size_t len = 0, n = 0;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	struct ns_grid *out = NULL;
	enum ns_status st;
	bool have_doc = false;

	st = ns_read_file(path, 1 << 20, &text, &len, diag);
	if (st != NS_OK)
		return st;
	if (!yaml_parser_initialize(&parser)) {
		ns_free(text);
		return ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		ns_diag_where(diag, path, parser.problem_mark.line + 1,
			      parser.problem_mark.column + 1, NULL);
		st = ns_diag_set(diag, NS_ERR_PARSE, "YAML: %s",
				 parser.problem ? parser.problem : "syntax error");
		goto out;
	}
	have_doc = true;
	root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		ns_diag_where(diag, path, 1, 1, NULL);
		st = ns_diag_set(diag, NS_ERR_SCHEMA,
				 "a grid file is a mapping of family names to parameter grids");
		goto out;
	}
	{
		size_t count =
			(size_t)(root->data.mapping.pairs.top - root->data.mapping.pairs.start);
		if (count > 64) {
			st = at(diag, path, root, NS_ERR_LIMIT, "more than 64 families");
			goto out;
		}
		out = ns_calloc(count ? count : 1, sizeof(*out));
		if (!out) {
			st = ns_diag_set(diag, NS_ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	     pr < root->data.mapping.pairs.top; pr++) {
		yaml_node_t *key = yaml_document_get_node(&doc, pr->key);
		yaml_node_t *val = yaml_document_get_node(&doc, pr->value);
		const struct ns_family *f;
		struct ns_grid *g;
		if (!key || key->type != YAML_SCALAR_NODE) {
			st = at(diag, path, key ? key : root, NS_ERR_SCHEMA,
				"expected a family name");
			goto out;
		}
		f = ns_family_find((const char *)key->data.scalar.value);
		if (!f) {
			char msg[256];
			snprintf(msg, sizeof(msg),
				 "unknown family '%.64s' (logreg, tree, forest, knn, adaboost, "
				 "gbdt)",
				 key->data.scalar.value);
			st = at(diag, path, key, NS_ERR_SCHEMA, msg);
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			if (out[i].family == f) {
				st = at(diag, path, key, NS_ERR_SCHEMA, "family listed twice");
				goto out;
			}
		g = &out[n++];
		memset(g, 0, sizeof(*g));
		g->family = f;
		ns_params_init(&g->base, f);
		if (val && val->type == YAML_SCALAR_NODE && val->data.scalar.length == 0)
			continue; /* "forest:" with nothing: defaults only */
		if (!val || val->type != YAML_MAPPING_NODE) {
			st = at(diag, path, val ? val : key, NS_ERR_SCHEMA,
				"expected a mapping of parameter names to values");
			goto out;
		}
		for (yaml_node_pair_t *pp = val->data.mapping.pairs.start;
		     pp < val->data.mapping.pairs.top; pp++) {
			yaml_node_t *pk = yaml_document_get_node(&doc, pp->key);
			yaml_node_t *pv = yaml_document_get_node(&doc, pp->value);
			char list[2048];
			size_t off = 0;
			struct ns_diag d2;
			if (!pk || pk->type != YAML_SCALAR_NODE || !pv) {
				st = at(diag, path, pk ? pk : val, NS_ERR_SCHEMA,
					"expected a parameter name");
				goto out;
			}
			list[0] = '\0';
			if (pv->type == YAML_SCALAR_NODE) {
				snprintf(list, sizeof(list), "%s", pv->data.scalar.value);
			} else if (pv->type == YAML_SEQUENCE_NODE) {
				for (yaml_node_item_t *it = pv->data.sequence.items.start;
				     it < pv->data.sequence.items.top; it++) {
					yaml_node_t *iv = yaml_document_get_node(&doc, *it);
					int w;
					if (!iv || iv->type != YAML_SCALAR_NODE ||
					    strchr((const char *)iv->data.scalar.value, ',')) {
						st = at(diag, path, iv ? iv : pv, NS_ERR_SCHEMA,
							"expected a plain value");
						goto out;
					}
					w = snprintf(list + off, sizeof(list) - off, "%s%s",
						     off ? "," : "", iv->data.scalar.value);
					if (w < 0 || (size_t)w >= sizeof(list) - off) {
						st = at(diag, path, pv, NS_ERR_LIMIT,
							"value list too long");
						goto out;
					}
					off += (size_t)w;
				}
			} else {
				st = at(diag, path, pv, NS_ERR_SCHEMA,
					"expected a value or a list");
				goto out;
			}
			ns_diag_clear(&d2);
			st = ns_grid_set_axis(g, (const char *)pk->data.scalar.value, list, &d2);
			if (st != NS_OK) {
				st = at(diag, path, pk, NS_ERR_SCHEMA, d2.message);
				goto out;
			}
		}
	}
	*grids = out;
	*n_out = n;
	out = NULL;
	st = NS_OK;
out:
	ns_free(out);
	if (have_doc)
		yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	ns_free(text);
	return st;
}
