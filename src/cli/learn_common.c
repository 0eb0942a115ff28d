/*
 * src/cli/learn_common.c - loading training and evaluation data for the
 * learning commands (fit, search): schema, frame, encoder, matrix.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "learn_common.h"

void cli_trainset_fini(struct cli_trainset *t)
{
	ns_schema_free(t->schema);
	ns_encoder_free(t->enc);
	ns_free(t->x);
	ns_free(t->y);
	memset(t, 0, sizeof(*t));
}

int cli_load_train(struct cli *cli, const char *path, const char *schema_path, const char *target,
		   struct cli_trainset *t)
{
	struct ns_diag diag;
	struct ns_frame *f = NULL;
	enum ns_status st;
	int rc = CLI_OK;

	memset(t, 0, sizeof(*t));
	ns_diag_clear(&diag);
	if (schema_path) {
		st = ns_schema_load(schema_path, &t->schema, &diag);
	} else {
		struct ns_infer_params ip = ns_infer_params_default();
		ip.target = target;
		st = ns_schema_infer_file(path, &ip, &t->schema, &diag);
		if (st == NS_OK)
			cli_info(cli, "no --schema: inferred one from %s\n", path);
	}
	if (st != NS_OK)
		return cli_fail(cli, st, &diag);
	if (t->schema->target < 0) {
		cli_trainset_fini(t);
		return cli_usage_error(cli, "fit", "the schema names no target column (--target)");
	}
	st = ns_schema_hash(t->schema, t->schema_hash);
	if (st == NS_OK)
		st = ns_frame_read_csv(path, t->schema, &f, &diag);
	if (st == NS_OK)
		st = ns_encoder_fit(t->schema, f, &t->enc, &diag);
	if (st == NS_OK)
		st = ns_encoder_transform(t->enc, f, &t->x, &t->y, &diag);
	if (st != NS_OK) {
		if (!diag.file[0])
			ns_diag_where(&diag, path, 0, 0, NULL);
		rc = cli_fail(cli, st, &diag);
		cli_trainset_fini(t);
	} else {
		t->n = ns_frame_n_rows(f);
		t->d = ns_encoder_n_features(t->enc);
		t->k = ns_encoder_n_classes(t->enc);
	}
	ns_frame_free(f);
	return rc;
}

int cli_load_eval(struct cli *cli, const char *path, const struct cli_trainset *t, double **x,
		  uint32_t **y, size_t *n)
{
	struct ns_diag diag;
	struct ns_frame *f = NULL;
	enum ns_status st;
	ns_diag_clear(&diag);
	st = ns_frame_read_csv(path, t->schema, &f, &diag);
	if (st == NS_OK)
		st = ns_encoder_transform(t->enc, f, x, y, &diag);
	if (st == NS_OK)
		*n = ns_frame_n_rows(f);
	ns_frame_free(f);
	if (st != NS_OK) {
		if (!diag.file[0])
			ns_diag_where(&diag, path, 0, 0, NULL);
		return cli_fail(cli, st, &diag);
	}
	return CLI_OK;
}

struct ns_dataset cli_dataset(const struct cli_trainset *t)
{
	struct ns_dataset d;
	memset(&d, 0, sizeof(d));
	d.n_rows = t->n;
	d.n_features = t->d;
	d.x = t->x;
	d.y = t->y;
	d.n_classes = t->k;
	return d;
}

struct ns_fit_options cli_fit_options(const struct cli_trainset *t, uint64_t seed, int threads)
{
	struct ns_fit_options o = ns_fit_options_default();
	o.seed = seed;
	o.n_threads = threads;
	o.feature_names = ns_encoder_feature_names(t->enc);
	o.class_labels = ns_encoder_class_labels(t->enc);
	o.schema_hash = t->schema_hash;
	o.threat_class = ns_encoder_threat(t->enc);
	return o;
}

enum ns_status cli_attach_prep(struct ns_model *m, const struct cli_trainset *t,
			       struct ns_diag *diag)
{
	uint8_t *buf = NULL;
	char *yaml = NULL;
	size_t len = 0;
	enum ns_status st = ns_encoder_to_buffer(t->enc, &buf, &len);
	if (st == NS_OK)
		st = ns_model_attach(m, NS_ATTACH_ENCODER, buf, len);
	ns_free(buf);
	if (st == NS_OK)
		st = ns_schema_to_yaml(t->schema, &yaml, &len);
	if (st == NS_OK)
		st = ns_model_attach(m, NS_ATTACH_SCHEMA, (const uint8_t *)yaml, len);
	ns_free(yaml);
	if (st != NS_OK)
		ns_diag_set(diag, st, "cannot attach the encoder and schema to the model");
	return st;
}

void cli_print_metrics(const struct ns_metrics *m, const struct cli_trainset *t, const char *title)
{
	uint32_t k = m->n_classes;
	printf("%s (%llu rows)\n", title, (unsigned long long)m->n);
	printf("  accuracy   %.4f\n", m->accuracy);
	if (m->positive >= 0)
		printf("  threat '%s': precision %.4f  recall %.4f  f1 %.4f\n",
		       ns_encoder_class_label(t->enc, (uint32_t)m->positive), m->precision,
		       m->recall, m->f1);
	printf("  macro      precision %.4f  recall %.4f  f1 %.4f\n", m->macro_precision,
	       m->macro_recall, m->macro_f1);
	printf("  weighted   precision %.4f  recall %.4f  f1 %.4f\n", m->weighted_precision,
	       m->weighted_recall, m->weighted_f1);
	printf("  roc_auc    %.4f   log_loss %.4f\n", m->roc_auc, m->log_loss);
	if (k <= 12) {
		printf("  confusion (rows: true, columns: predicted)\n  %12s", "");
		for (uint32_t j = 0; j < k; j++)
			printf(" %10.10s", ns_encoder_class_label(t->enc, j));
		printf("\n");
		for (uint32_t i = 0; i < k; i++) {
			printf("  %12.12s", ns_encoder_class_label(t->enc, i));
			for (uint32_t j = 0; j < k; j++)
				printf(" %10llu",
				       (unsigned long long)m->confusion[(size_t)i * k + j]);
			printf("\n");
		}
	}
}

int cli_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	if (!s || !*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

enum ns_status cli_evaluate(const struct ns_model *m, const double *x, const uint32_t *y, size_t n,
			    long positive, struct ns_metrics *out)
{
	uint32_t k = ns_model_n_classes(m);
	double *proba = ns_malloc((n ? n : 1) * k * sizeof(double));
	enum ns_status st = proba ? ns_model_predict_proba(m, x, n, proba) : NS_ERR_NOMEM;
	if (st == NS_OK)
		st = ns_metrics_compute(y, proba, n, k, positive, out);
	ns_free(proba);
	return st;
}

int cli_build_grids(struct cli *cli, const char *cmd, const char *families, const char *grid_path,
		    struct ns_grid grids[16], size_t *n_grids)
{
	struct ns_grid *file_grids = NULL;
	struct ns_diag diag;
	size_t n_file = 0, n = 0;
	enum ns_status st;
	if (families) {
		size_t n_list = 0;
		char **list = cli_split_list(families, &n_list);
		for (size_t i = 0; list && i < n_list; i++) {
			const struct ns_family *f = ns_family_find(list[i]);
			if (!f || n == 16) {
				int rc = cli_usage_error(cli, cmd, "unknown family '%s'", list[i]);
				cli_free_list(list, n_list);
				return rc;
			}
			ns_grid_default(&grids[n++], f);
		}
		cli_free_list(list, n_list);
	} else {
		for (size_t i = 0; i < ns_family_count() && n < 16; i++)
			ns_grid_default(&grids[n++], ns_family_at(i));
	}
	if (grid_path) {
		ns_diag_clear(&diag);
		st = ns_grids_load(grid_path, &file_grids, &n_file, &diag);
		if (st != NS_OK)
			return cli_fail(cli, st, &diag);
		for (size_t i = 0; i < n_file; i++) {
			size_t g;
			for (g = 0; g < n; g++)
				if (grids[g].family == file_grids[i].family)
					break;
			if (g == n && n < 16)
				n++;
			if (g < 16)
				grids[g] = file_grids[i];
		}
		ns_free(file_grids);
	}
	*n_grids = n;
	return CLI_OK;
}
