/*
 * src/server/openapi.c - GET /openapi.json, generated from the route table
 * (paths, methods, parameters, bodies, responses, security) and the model
 * families' parameter tables (the training options), plus the current
 * model's schema (the record shape /predict/json takes).  Nothing here is
 * written by hand per endpoint, so the document follows the code.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server.h"

#define PUTS(b, s) dash_buf_append((b), (s), strlen(s))

static void enum_list(struct dash_buf *b, const char *csv)
{
	PUTS(b, "[");
	for (const char *p = csv; *p;) {
		size_t n = strcspn(p, ",");
		char item[128];
		snprintf(item, sizeof(item), "%.*s", (int)(n < 127 ? n : 127), p);
		if (p != csv)
			PUTS(b, ",");
		srv_json_string(b, item);
		p += n;
		if (*p == ',')
			p++;
	}
	PUTS(b, "]");
}

static void operation(struct dash_buf *b, const struct route *rt)
{
	dash_buf_printf(b, "\"%s\":{\"tags\":[", rt->method[0] == 'G' ? "get" : "post");
	srv_json_string(b, rt->tag);
	PUTS(b, "],\"summary\":");
	srv_json_string(b, rt->summary);
	if (rt->description) {
		PUTS(b, ",\"description\":");
		srv_json_string(b, rt->description);
	}
	{
		/* operationId: method + path words */
		char id[128];
		size_t n = 0;
		for (const char *p = rt->method; *p && n < sizeof(id) - 1; p++)
			id[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		for (const char *p = rt->pattern; *p && n < sizeof(id) - 1; p++)
			if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
				id[n++] = *p;
			else if (*p == '/' && p[1])
				id[n++] = '_';
		id[n] = '\0';
		PUTS(b, ",\"operationId\":");
		srv_json_string(b, id);
	}
	if (rt->params) {
		PUTS(b, ",\"parameters\":[");
		for (const struct route_doc_param *p = rt->params; p->name; p++) {
			if (p != rt->params)
				PUTS(b, ",");
			PUTS(b, "{\"name\":");
			srv_json_string(b, p->name);
			dash_buf_printf(b, ",\"in\":\"%s\",\"required\":%s,\"description\":", p->in,
					p->required ? "true" : "false");
			srv_json_string(b, p->description);
			dash_buf_printf(b, ",\"schema\":{\"type\":\"%s\"", p->type);
			if (p->enum_values) {
				PUTS(b, ",\"enum\":");
				enum_list(b, p->enum_values);
			}
			PUTS(b, "}}");
		}
		PUTS(b, "]");
	}
	if (rt->request_types) {
		PUTS(b, ",\"requestBody\":{\"required\":");
		dash_buf_append(b, strcmp(rt->pattern, "/train") == 0 ? "false" : "true",
				strcmp(rt->pattern, "/train") == 0 ? 5 : 4);
		PUTS(b, ",\"content\":{");
		for (const char *p = rt->request_types; *p;) {
			size_t n = strcspn(p, ",");
			char type[64];
			snprintf(type, sizeof(type), "%.*s", (int)(n < 63 ? n : 63), p);
			if (p != rt->request_types)
				PUTS(b, ",");
			srv_json_string(b, type);
			if (strcmp(type, "multipart/form-data") == 0)
				PUTS(b, ":{\"schema\":{\"type\":\"object\",\"required\":[\"file\"],"
					"\"properties\":{\"file\":{\"type\":\"string\",\"format\":"
					"\"binary\",\"description\":\"the CSV file\"}}}}");
			else if (strcmp(type, "text/csv") == 0)
				dash_buf_printf(b, ":{\"schema\":{\"type\":\"string\"}}");
			else if (rt->request_schema_ref)
				dash_buf_printf(b, ":{\"schema\":{\"$ref\":\"%s\"}}",
						rt->request_schema_ref);
			else
				dash_buf_printf(b, ":{\"schema\":{\"type\":\"object\"}}");
			p += n;
			if (*p == ',')
				p++;
		}
		PUTS(b, "}}");
	}
	PUTS(b, ",\"responses\":{");
	if (!rt->responses) {
		PUTS(b, "\"200\":{\"description\":\"OK\"}");
	} else {
		for (const struct route_doc_response *x = rt->responses; x->status; x++) {
			if (x != rt->responses)
				PUTS(b, ",");
			dash_buf_printf(b, "\"%u\":{\"description\":", x->status);
			srv_json_string(b, x->description);
			if (x->content_type) {
				dash_buf_printf(b, ",\"content\":{\"%s\":{", x->content_type);
				if (x->schema_ref)
					dash_buf_printf(b, "\"schema\":{\"$ref\":\"%s\"}",
							x->schema_ref);
				PUTS(b, "}}");
			}
			PUTS(b, "}");
		}
	}
	PUTS(b, "}");
	if (rt->flags & ROUTE_AUTH)
		PUTS(b, ",\"security\":[{\"bearer\":[]}]");
	PUTS(b, "}");
}

/* The parameters of one family, from its table: type, default, range, doc. */
static void family_schema(struct dash_buf *b, const struct ns_family *f)
{
	size_t n = 0;
	const struct ns_param_def *defs = ns_family_params(f, &n);
	PUTS(b, "{\"type\":\"object\",\"description\":");
	srv_json_string(b, ns_family_doc(f));
	PUTS(b, ",\"properties\":{");
	for (size_t i = 0; i < n; i++) {
		const struct ns_param_def *p = &defs[i];
		char def[64];
		if (i)
			PUTS(b, ",");
		srv_json_string(b, p->name);
		PUTS(b, ":{\"description\":");
		srv_json_string(b, p->doc);
		ns_param_value_format(p, p->def, def, sizeof(def));
		switch (p->type) {
		case NS_PARAM_INT:
		case NS_PARAM_FLOAT:
			dash_buf_printf(b, ",\"type\":\"%s\"",
					p->type == NS_PARAM_INT ? "integer" : "number");
			if (isfinite(p->min))
				dash_buf_printf(b, ",\"minimum\":%.17g", p->min);
			if (isfinite(p->max) && p->max < 1e300)
				dash_buf_printf(b, ",\"maximum\":%.17g", p->max);
			if (!isnan(p->def))
				dash_buf_printf(b, ",\"default\":%s", def);
			if (p->none_allowed)
				PUTS(b, ",\"nullable\":true");
			break;
		case NS_PARAM_BOOL:
			dash_buf_printf(b, ",\"type\":\"boolean\",\"default\":%s", def);
			break;
		case NS_PARAM_CHOICE:
			PUTS(b, ",\"type\":\"string\",\"enum\":[");
			for (size_t c = 0; p->choices && p->choices[c]; c++) {
				if (c)
					PUTS(b, ",");
				srv_json_string(b, p->choices[c]);
			}
			PUTS(b, "],\"default\":");
			srv_json_string(b, def);
			break;
		default:
			PUTS(b, ",\"type\":\"string\",\"default\":");
			srv_json_string(b, def);
		}
		PUTS(b, "}");
	}
	PUTS(b, "}}");
}

enum MHD_Result srv_openapi_get(struct req *r)
{
	struct dash_buf b = {0};
	struct srv_model *m = srv_model_acquire(r->s);

	dash_buf_printf(&b,
			"{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"netsec\",\"version\":\"%s\","
			"\"description\":\"Network threat detection: predictions, training, "
			"model registry, dashboard.\"},\"paths\":{",
			ns_version());
	{
		bool first_path = true;
		for (size_t i = 0; i < srv_n_routes; i++) {
			const struct route *rt = &srv_routes[i];
			bool first = true;
			if (rt->flags & ROUTE_HIDDEN)
				continue;
			/* Emit each path once, with every method that has it. */
			for (size_t j = 0; j < i; j++)
				if (!(srv_routes[j].flags & ROUTE_HIDDEN) &&
				    strcmp(srv_routes[j].pattern, rt->pattern) == 0)
					goto next;
			if (!first_path)
				PUTS(&b, ",");
			first_path = false;
			srv_json_string(&b, rt->pattern);
			PUTS(&b, ":{");
			for (size_t j = i; j < srv_n_routes; j++) {
				if ((srv_routes[j].flags & ROUTE_HIDDEN) ||
				    strcmp(srv_routes[j].pattern, rt->pattern) != 0)
					continue;
				if (!first)
					PUTS(&b, ",");
				first = false;
				operation(&b, &srv_routes[j]);
			}
			PUTS(&b, "}");
		next:;
		}
	}
	PUTS(&b, "},\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\","
		 "\"scheme\":\"bearer\"}},\"schemas\":{");
	PUTS(&b, "\"Error\":{\"type\":\"object\",\"required\":[\"error\",\"detail\"],"
		 "\"properties\":{\"error\":{\"type\":\"string\"},\"detail\":{\"type\":"
		 "\"string\"},\"where\":{\"type\":\"object\",\"nullable\":true,\"properties\":"
		 "{\"source\":{\"type\":\"string\"},\"line\":{\"type\":\"integer\"},"
		 "\"column\":{\"type\":\"integer\"},\"field\":{\"type\":\"string\","
		 "\"nullable\":true}}},\"request_id\":{\"type\":\"string\"}}},");
	dash_buf_printf(&b,
			"\"Job\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"string\"},"
			"\"url\":{\"type\":\"string\"},\"state\":{\"type\":\"string\",\"enum\":["
			"\"running\",\"finished\",\"failed\"]},\"stage\":{\"type\":\"string\"},"
			"\"progress\":{\"type\":\"object\"},\"result\":{\"type\":\"object\"},"
			"\"error\":{\"type\":\"string\"}}},");
	/* Training options: the families come from the family table. */
	dash_buf_printf(&b, "\"TrainOptions\":{\"type\":\"object\",\"properties\":{\"families\":{"
			    "\"type\":\"string\",\"description\":\"comma-separated, of: ");
	for (size_t i = 0; i < ns_family_count(); i++)
		dash_buf_printf(&b, "%s%s", i ? ", " : "", ns_family_name(ns_family_at(i)));
	dash_buf_printf(
		&b, "\"},\"dedup\":{\"type\":\"boolean\"},\"force\":{\"type\":\"boolean\"},"
		    "\"seed\":{\"type\":\"integer\",\"minimum\":0},\"test_fraction\":{\"type\":"
		    "\"number\",\"exclusiveMinimum\":true,\"minimum\":0,\"exclusiveMaximum\":true,"
		    "\"maximum\":1},\"expected_score\":{\"type\":\"number\"},\"cv\":{\"type\":"
		    "\"integer\",\"minimum\":2,\"maximum\":20}}},");
	PUTS(&b, "\"FamilyParameters\":{\"type\":\"object\",\"description\":\"each model "
		 "family's parameters (the tables the training and the CLI "
		 "validate with)\",\"properties\":{");
	for (size_t i = 0; i < ns_family_count(); i++) {
		if (i)
			PUTS(&b, ",");
		srv_json_string(&b, ns_family_name(ns_family_at(i)));
		PUTS(&b, ":");
		family_schema(&b, ns_family_at(i));
	}
	PUTS(&b, "}},");
	/* A record: the served model's schema columns. */
	PUTS(&b, "\"Record\":{\"type\":\"object\"");
	if (m) {
		const struct ns_schema *s = m->schema;
		bool first = true;
		dash_buf_printf(&b,
				",\"description\":\"the columns of model v%u's schema; null = "
				"unknown (imputed)\",\"properties\":{",
				m->version);
		for (size_t i = 0; i < s->n_columns; i++) {
			if ((long)i == s->target || s->columns[i].ignore)
				continue;
			if (!first)
				PUTS(&b, ",");
			first = false;
			srv_json_string(&b, s->columns[i].name);
			dash_buf_printf(&b, ":{\"type\":\"%s\",\"nullable\":true}",
					s->columns[i].type == NS_TYPE_INT     ? "integer"
					: s->columns[i].type == NS_TYPE_FLOAT ? "number"
									      : "string");
		}
		PUTS(&b, "}");
	}
	PUTS(&b, "},");
	dash_buf_printf(
		&b, "\"Records\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Record\"},"
		    "{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Record\"}}]},"
		    "\"Predictions\":{\"type\":\"object\",\"properties\":{\"model\":{\"type\":"
		    "\"object\"},\"predictions\":{\"type\":\"array\",\"items\":{\"type\":"
		    "\"object\",\"properties\":{\"predicted_column\":{\"type\":\"string\"},"
		    "\"threat_probability\":{\"type\":\"number\",\"nullable\":true},"
		    "\"probabilities\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
		    "\"number\"}}}}}}}}}}\n");
	srv_model_release(m);
	if (b.failed) {
		ns_free(b.data);
		return srv_error(r, 503, "out of memory", "cannot render the document", NULL);
	}
	return srv_send_owned(r, 200, "application/json", b.data, b.len);
}
