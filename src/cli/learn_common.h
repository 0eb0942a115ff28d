/*
 * src/cli/learn_common.h - shared parts of the learning commands.
 */
#ifndef NETSEC_CLI_LEARN_COMMON_H
#define NETSEC_CLI_LEARN_COMMON_H

#include "cli.h"
#include "netsec/learn.h"
#include "netsec/predict.h"
#include "netsec/prep.h"
#include "netsec/search.h"

/* A training set: schema, fitted encoder and the encoded matrix. */
struct cli_trainset {
	struct ns_schema *schema;
	struct ns_encoder *enc;
	char schema_hash[65];
	double *x;
	uint32_t *y;
	size_t n, d;
	uint32_t k;
};

/* Loads FILE with the schema (or one inferred with `target`); fits the encoder. */
int cli_load_train(struct cli *cli, const char *path, const char *schema_path, const char *target,
		   struct cli_trainset *t);
/* Encodes another file (test set) with the training set's schema and encoder. */
int cli_load_eval(struct cli *cli, const char *path, const struct cli_trainset *t, double **x,
		  uint32_t **y, size_t *n);
void cli_trainset_fini(struct cli_trainset *t);
struct ns_dataset cli_dataset(const struct cli_trainset *t);
struct ns_fit_options cli_fit_options(const struct cli_trainset *t, uint64_t seed, int threads);
/* Attaches the encoder and schema so that the model file can predict on its own. */
enum ns_status cli_attach_prep(struct ns_model *m, const struct cli_trainset *t,
			       struct ns_diag *diag);
void cli_print_metrics(const struct ns_metrics *m, const struct cli_trainset *t, const char *title);
int cli_parse_u64(const char *s, uint64_t *out);
/* Predicts n rows of x and computes the metrics against y (positive: the threat class). */
enum ns_status cli_evaluate(const struct ns_model *m, const double *x, const uint32_t *y, size_t n,
			    long positive, struct ns_metrics *out);

/*
 * The grids to search: the default grids of `families` ("a,b"; NULL: all),
 * replaced or extended by the YAML file's (NULL: none).  CLI_OK or the exit
 * code after printing the error.
 */
int cli_build_grids(struct cli *cli, const char *cmd, const char *families, const char *grid_path,
		    struct ns_grid grids[16], size_t *n_grids);

#endif
