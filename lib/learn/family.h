/*
 * lib/learn/family.h - what a model family provides, and the helpers every
 * family shares (serialisation, seeded random numbers, threads).
 *
 * A family is one file (lib/learn/<name>.c) that defines one
 * `const struct ns_family ns__family_<name>` and is listed once in
 * lib/learn/registry.c.  The grid search, the model file, the CLI help and
 * the API docs read the same parameter table.
 *
 * Rules for a family implementation:
 *  - fit() reads parameters with ns_params_get()/p->v[i]; they are already
 *    validated against the table.  The dataset has >= 2 classes present and,
 *    for NS__FAMILY_NEEDS_COMPLETE families, no NaN (checked by model.c).
 *  - Deterministic under o->seed whatever o->n_threads: derive per-member
 *    seeds from the seed and the member's index, never from thread ids.
 *  - predict_proba() writes n * k probabilities (rows sum to 1); it must not
 *    write to the model (models are shared across threads).  n_estimators:
 *    use only the first n members (0 or >= total: all).
 *  - save() appends the family's payload to a byte buffer with the ns__w_*
 *    helpers; load() reads it back with the bounds-checked ns__r_* helpers and
 *    must validate every count, index and child pointer (a model file is
 *    outside data), returning NS_ERR_CORRUPT with a message on any
 *    inconsistency.  save(load(save(m))) must be byte-identical to save(m).
 */
#ifndef NETSEC_LEARN_FAMILY_H
#define NETSEC_LEARN_FAMILY_H

#include <string.h>

#include "core/internal.h"
#include "netsec/learn.h"

enum {
	NS__FAMILY_NEEDS_COMPLETE = 1u << 0, /* cannot take NaN input */
};

/* Growable output byte buffer for model payloads (little-endian encoding). */
struct ns__wbuf {
	uint8_t *data;
	size_t len, cap;
	bool failed; /* an allocation failed: the buffer is unusable */
};
void ns__w_init(struct ns__wbuf *w);
void ns__w_fini(struct ns__wbuf *w);
void ns__w_bytes(struct ns__wbuf *w, const void *p, size_t n);
void ns__w_u8(struct ns__wbuf *w, uint8_t v);
void ns__w_u32(struct ns__wbuf *w, uint32_t v);
void ns__w_u64(struct ns__wbuf *w, uint64_t v);
void ns__w_f64(struct ns__wbuf *w, double v);
void ns__w_f64s(struct ns__wbuf *w, const double *v, size_t n);
void ns__w_u32s(struct ns__wbuf *w, const uint32_t *v, size_t n);
/* Pads with zero bytes to a multiple of `align`. */
void ns__w_align(struct ns__wbuf *w, size_t align);

/* Bounds-checked reader; any overrun sets `bad` and returns zeros. */
struct ns__rbuf {
	const uint8_t *data;
	size_t len, off;
	bool bad;
};
static inline void ns__r_init(struct ns__rbuf *r, const uint8_t *data, size_t len)
{
	r->data = data;
	r->len = len;
	r->off = 0;
	r->bad = false;
}
bool ns__r_bytes(struct ns__rbuf *r, void *out, size_t n);
uint8_t ns__r_u8(struct ns__rbuf *r);
uint32_t ns__r_u32(struct ns__rbuf *r);
uint64_t ns__r_u64(struct ns__rbuf *r);
double ns__r_f64(struct ns__rbuf *r);
/* Reads n values into a new array (ns_free); NULL and bad set if the bytes are not there. */
double *ns__r_f64s(struct ns__rbuf *r, size_t n);
uint32_t *ns__r_u32s(struct ns__rbuf *r, size_t n);
/* A u32 length then the bytes (no NUL). */
void ns__w_string(struct ns__wbuf *w, const char *s);
/*
 * Reads a string written by ns__w_string into a new NUL-terminated copy
 * (ns_free); NULL and `bad` set when longer than `max`, past the end, or
 * holding a NUL byte.
 */
char *ns__r_string(struct ns__rbuf *r, size_t max);
/* True when the reader consumed exactly all bytes without overrun. */
static inline bool ns__r_done(const struct ns__rbuf *r)
{
	return !r->bad && r->off == r->len;
}

/*
 * Seeded random numbers: splitmix64 to derive seeds, xoshiro256** to draw.
 * ns__rng_seed(rng, seed, stream) gives independent streams per member.
 */
struct ns__rng {
	uint64_t s[4];
};
void ns__rng_seed(struct ns__rng *r, uint64_t seed, uint64_t stream);
uint64_t ns__rng_next(struct ns__rng *r);
/* Uniform in [0, n) without modulo bias. */
uint64_t ns__rng_below(struct ns__rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double ns__rng_uniform(struct ns__rng *r);

/*
 * Scores n_var variants of model m at once (see predict_proba_multi): through
 * the family's op when it has one, else one predict_proba() per variant
 * (then pv is ignored).  Errors: NS_ERR_INVALID, NS_ERR_NOMEM.
 */
enum ns_status ns__model_predict_proba_multi(const struct ns_model *m, const double *x, size_t n,
					     size_t n_var, const size_t *n_est, const double *pv,
					     double *const *out);

/* Number of threads to use for `requested` (0: cores available, capped). */
int ns__threads(int requested);

struct ns__family_ops {
	enum ns_status (*fit)(const struct ns_params *p, const struct ns_dataset *d,
			      const struct ns_fit_options *o, void **impl, struct ns_diag *diag);
	void (*predict_proba)(const void *impl, const double *x, size_t n, size_t n_features,
			      uint32_t n_classes, size_t n_estimators, double *out);
	size_t (*n_estimators)(const void *impl);
	/* n_features values, summing to 1 (or all 0 when undefined). */
	void (*feature_importance)(const void *impl, size_t n_features, double *out);
	enum ns_status (*save)(const void *impl, struct ns__wbuf *w);
	enum ns_status (*load)(struct ns__rbuf *r, const struct ns_params *p, size_t n_features,
			       uint32_t n_classes, void **impl, struct ns_diag *diag);
	/*
	 * Optional: the probabilities of n_var variants of the fitted model in one
	 * pass, each bit for bit what predict_proba() gives for it: variant v uses
	 * the first n_est[v] members (0: all) and the value pv[v] of the family's
	 * predict_param (ignored when it has none); out[v] receives n * n_classes
	 * values.  The grid search scores a group of candidates with it.  Returns
	 * NS_OK or NS_ERR_NOMEM; must not write to the model.
	 */
	enum ns_status (*predict_proba_multi)(const void *impl, const double *x, size_t n,
					      size_t n_features, uint32_t n_classes, size_t n_var,
					      const size_t *n_est, const double *pv,
					      double *const *out);
	/* Appends a JSON object of family details (e.g. tree count, depth) to b. */
	enum ns_status (*describe)(const void *impl, struct ns__buf *b);
	void (*free)(void *impl);
};

struct ns_family {
	const char *name; /* "forest" */
	const char *const *aliases; /* NULL-terminated: "random_forest", "rf" */
	const char *doc;
	uint32_t version; /* of the family's payload format */
	uint32_t flags; /* NS__FAMILY_* */
	const struct ns_param_def *params;
	size_t n_params;
	const char *prefix_param; /* "n_estimators" or NULL */
	/* A parameter that only prediction reads (knn's "weights"), or NULL: the
	 * search fits candidates differing only in it (and the prefix) once, and
	 * needs predict_proba_multi to score them. */
	const char *predict_param;
	const struct ns__family_ops *ops;
};

extern const struct ns_family ns__family_logreg;
extern const struct ns_family ns__family_tree;
extern const struct ns_family ns__family_forest;
extern const struct ns_family ns__family_knn;
extern const struct ns_family ns__family_adaboost;
extern const struct ns_family ns__family_gbdt;

#endif
