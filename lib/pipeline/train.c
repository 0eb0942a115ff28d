/*
 * lib/pipeline/train.c - the training run, stage by stage.
 *
 *   1 ingestion       data from the store or a CSV file; exact duplicates
 *                     counted (dropped with dedup); seeded stratified split;
 *                     leakage count; feature store and split files written
 *   2 validation      the split files re-validated against the schema (a
 *                     problem stops the run); all-missing columns and a
 *                     one-class training split stop it too; drift report
 *   3 transformation  encoder and KNN imputer fitted on the training split
 *                     only; .npy matrices and the preprocessor written
 *   4 search          every family's grid, stratified k-fold CV
 *   5 evaluation      each family's best refitted on the training split and
 *                     scored on the test split; the winner (by CV) gated
 *   6 registry        the winner added as a new version and promoted when it
 *                     is not worse than the current model on this test split
 *
 * Every stage writes under the run folder; a failure leaves run.status
 * saying which stage failed and why, and nothing is promoted.  Tracking is
 * best effort: a tracking error is logged as a warning, never fails a run.
 * When tracking goes to an MLflow server (http/https), every run is also
 * written to the local file store ($NETSEC_LOCAL_MLRUNS or ./mlruns); after
 * the first failed server call the server is left alone and the local copy
 * is tagged netsec.pending_push=true for `netsec track push` (a run the
 * server got whole is tagged netsec.remote_run_id instead).
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "netsec/config.h"
#include "netsec/impute.h"
#include "netsec/npy.h"
#include "netsec/predict.h"
#include "netsec/prep.h"
#include "netsec/registry.h"
#include "netsec/store.h"
#include "netsec/track.h"
#include "pipeline/internal.h"

#define PATH_MAX_ 4200

/* One tracked run: on the configured tracker and, when that is an MLflow
 * server, its copy in the local file store. */
struct trun {
	struct ns_run *run; /* NULL when it could not be started */
	struct ns_run *copy; /* remote tracking only */
	bool remote; /* `run` is on a server */
	bool *remote_down; /* shared by all runs of one training */
};

static const char *const stage_names[NS_STAGE_COUNT_] = {
	"data_ingestion", "data_validation",  "data_transformation",
	"model_search",   "model_evaluation", "model_registry",
};

const char *ns_train_stage_name(enum ns_train_stage s)
{
	return (unsigned)s < NS_STAGE_COUNT_ ? stage_names[s] : "unknown";
}

struct ns_train_config ns_train_config_default(void)
{
	struct ns_train_config c;
	memset(&c, 0, sizeof(c));
	c.artifacts_dir = "artifacts";
	c.registry_dir = "models";
	c.model_name = "netsec";
	c.experiment = "netsec";
	c.test_fraction = 0.2;
	c.seed = 42;
	c.drift_threshold = 0.05;
	c.impute_neighbors = 3;
	c.cv = 3;
	c.scoring = NS_SCORE_F1;
	c.expected_score = 0.6;
	c.overfit_threshold = 0.05;
	return c;
}

struct run {
	const struct ns_train_config *c;
	struct ns_train_result *r;
	struct ns_diag *diag;
	double t0;
	enum ns_train_stage stage;
	int announced; /* last stage announced to emit(), -1 at first */
	char source[PATH_MAX_];
	char started_at[32];
	/* data */
	struct ns_schema *schema;
	char schema_hash[65];
	char data_hash[65];
	struct ns_frame *frame, *train_f, *test_f;
	size_t *train_rows, *test_rows;
	uint64_t store_rejects;
	/* validation */
	struct ns_drift_report drift;
	bool have_drift;
	/* transformation */
	struct ns_encoder *enc;
	struct ns_imputer *imp;
	double *xtr, *xte;
	uint32_t *ytr, *yte;
	size_t d, n_imputed_train, n_imputed_test;
	uint32_t k;
	long threat;
	/* selection */
	struct ns_grid grids[16];
	size_t n_grids;
	struct ns_search_results search;
	bool have_search;
	struct ns_model *winner;
	struct ns_metrics winner_test, winner_train;
	bool have_winner_test, have_winner_train;
	/* tracking */
	struct ns_tracker *tracker; /* the configured one */
	struct ns_tracker *local; /* the local copy's, when `tracker` is a server */
	struct trun parent;
	char experiment_id[64], local_experiment_id[64];
	bool remote_down; /* a server call failed: no more calls */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void utc_now(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Test hook: NETSEC_TEST_CRASH_AT=<stage name> kills the process with
 * SIGKILL when that stage begins, so the crash-safety test can stop a run at
 * a known point (tests/integration/test_train.sh). */
static void crash_point(const char *name)
{
	const char *at = getenv("NETSEC_TEST_CRASH_AT");
	if (at && strcmp(at, name) == 0)
		raise(SIGKILL);
}

static void emit(struct run *u, const char *detail)
{
	struct ns_train_progress p;
	if ((int)u->stage != u->announced) {
		u->announced = (int)u->stage;
		crash_point(ns_train_stage_name(u->stage));
	}
	if (!u->c->progress)
		return;
	memset(&p, 0, sizeof(p));
	p.stage = u->stage;
	p.detail = detail;
	p.elapsed = now_s() - u->t0;
	u->c->progress(u->c->progress_user, &p);
}

static void path_of(const struct run *u, const char *rel, char *buf)
{
	ns__path_join(buf, PATH_MAX_, u->r->run_dir, rel);
}

static enum ns_status make_dir(struct run *u, const char *rel)
{
	char p[PATH_MAX_];
	path_of(u, rel, p);
	return ns_mkdir_p(p, u->diag);
}

/* Puts the stage name in front of the message diag holds. */
static enum ns_status stage_fail(struct run *u, enum ns_status st)
{
	char msg[NS_DIAG_MESSAGE_MAX];
	if (u->diag->status == NS_OK)
		ns_diag_set(u->diag, st, "%s", ns_status_str(st));
	if (snprintf(msg, sizeof(msg), "%s: %s", ns_train_stage_name(u->stage), u->diag->message) >
	    0)
		memcpy(u->diag->message, msg, sizeof(msg));
	u->diag->status = st;
	return st;
}

static enum ns_status write_frame(struct run *u, const char *rel, const struct ns_frame *f,
				  const size_t *rows, size_t n)
{
	char p[PATH_MAX_];
	struct ns_atomic_file af;
	enum ns_status st;
	path_of(u, rel, p);
	st = ns_atomic_file_open(&af, p, u->diag);
	if (st != NS_OK)
		return st;
	st = ns_frame_write_csv(f, rows, n, u->schema->header, u->schema->delimiter, af.fp,
				u->diag);
	if (st != NS_OK) {
		ns_atomic_file_abort(&af);
		ns_diag_where(u->diag, p, 0, 0, NULL);
		return st;
	}
	return ns_atomic_file_commit(&af, u->diag);
}

/* ---- tracking (best effort) -------------------------------------------------------- */

static void track_warn(const char *what, const struct ns_diag *d)
{
	ns_log(NS_LOG_WARN, "tracking: %s: %s", what, d->message);
}

/* A failed call on the configured tracker: a warning; for a server, one
 * warning and no more server calls (the local copy has everything). */
static void track_fail(struct trun *t, const char *what, const struct ns_diag *d)
{
	if (!t->remote) {
		track_warn(what, d);
		return;
	}
	if (!*t->remote_down)
		ns_log(NS_LOG_WARN,
		       "tracking: %s: %s; the run is kept in the local store and marked for "
		       "`netsec track push`",
		       what, d->message);
	*t->remote_down = true;
}

static bool track_live(const struct trun *t)
{
	return t->run && !(t->remote && *t->remote_down);
}

static void track_start(struct run *u, struct trun *t, const char *name, const struct trun *parent)
{
	struct ns_diag d;
	memset(t, 0, sizeof(*t));
	t->remote = u->local != NULL;
	t->remote_down = &u->remote_down;
	ns_diag_clear(&d);
	if (u->tracker && (!parent || parent->run) && !(t->remote && u->remote_down) &&
	    ns_run_start(u->tracker, u->experiment_id, name, parent ? ns_run_id(parent->run) : NULL,
			 &t->run, &d) != NS_OK)
		track_fail(t, parent ? "cannot start a family run" : "cannot start the run", &d);
	if (u->local && (!parent || parent->copy) &&
	    ns_run_start(u->local, u->local_experiment_id, name,
			 parent ? ns_run_id(parent->copy) : NULL, &t->copy, &d) != NS_OK)
		track_warn("cannot start the local copy of the run", &d);
}

/* Ends both copies; the local one says whether the server has it all. */
static void track_end(struct trun *t, enum ns_run_status status)
{
	char remote_id[NS_TRACK_RUN_ID_MAX] = "";
	struct ns_diag d;
	ns_diag_clear(&d);
	if (t->run) {
		bool live = track_live(t);
		snprintf(remote_id, sizeof(remote_id), "%s", ns_run_id(t->run));
		/* After an outage this fails at once; it frees the run either way. */
		if (ns_run_end(t->run, live ? status : NS_RUN_FAILED, &d) != NS_OK && live)
			track_fail(t, "cannot end the run", &d);
		t->run = NULL;
	}
	if (!t->copy)
		return;
	if (t->remote && (*t->remote_down || !remote_id[0])) {
		if (ns_run_set_tag(t->copy, "netsec.pending_push", "true", &d) != NS_OK)
			track_warn("netsec.pending_push", &d);
	} else if (t->remote &&
		   ns_run_set_tag(t->copy, "netsec.remote_run_id", remote_id, &d) != NS_OK) {
		track_warn("netsec.remote_run_id", &d);
	}
	if (ns_run_end(t->copy, status, &d) != NS_OK)
		track_warn("cannot end the local copy of the run", &d);
	t->copy = NULL;
}

static void track_open(struct run *u)
{
	struct ns_diag d;
	const char *scheme;
	ns_diag_clear(&d);
	if (u->c->tracking_uri && !*u->c->tracking_uri)
		return; /* tracking off */
	if (ns_tracker_open(u->c->tracking_uri, &u->tracker, &d) != NS_OK) {
		track_warn("cannot open the tracking store", &d);
		return;
	}
	scheme = ns_tracker_scheme(u->tracker);
	if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
		const char *local = getenv("NETSEC_LOCAL_MLRUNS");
		if (ns_tracker_open(local && *local ? local : "./mlruns", &u->local, &d) != NS_OK ||
		    ns_tracker_reap(u->local, NULL, &d) != NS_OK ||
		    ns_tracker_experiment(u->local, u->c->experiment, u->local_experiment_id,
					  sizeof(u->local_experiment_id), &d) != NS_OK) {
			track_warn("cannot open the local copy's store", &d);
			ns_tracker_close(u->local);
			u->local = NULL;
		}
	}
	u->parent.remote = u->local != NULL;
	u->parent.remote_down = &u->remote_down;
	ns_tracker_reap(u->tracker, NULL, &d);
	if (ns_tracker_experiment(u->tracker, u->c->experiment, u->experiment_id,
				  sizeof(u->experiment_id), &d) != NS_OK) {
		track_fail(&u->parent, "cannot start the run", &d);
		if (!u->local) {
			ns_tracker_close(u->tracker);
			u->tracker = NULL;
			return;
		}
	}
	track_start(u, &u->parent, u->r->run_id, NULL);
	if (u->parent.run || u->parent.copy)
		snprintf(u->r->tracking_run_id, sizeof(u->r->tracking_run_id), "%s",
			 ns_run_id(u->parent.run ? u->parent.run : u->parent.copy));
}

static void track_param(struct trun *t, const char *key, const char *fmt, ...) NS_PRINTF(3, 4);
static void track_param(struct trun *t, const char *key, const char *fmt, ...)
{
	char val[512];
	struct ns_diag d;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	ns_diag_clear(&d);
	if (track_live(t) && ns_run_log_param(t->run, key, val, &d) != NS_OK)
		track_fail(t, key, &d);
	if (t->copy && ns_run_log_param(t->copy, key, val, &d) != NS_OK)
		track_warn(key, &d);
}

static void track_metric(struct trun *t, const char *key, double v)
{
	struct ns_diag d;
	if (!isfinite(v))
		return;
	ns_diag_clear(&d);
	if (track_live(t) && ns_run_log_metric(t->run, key, v, 0, &d) != NS_OK)
		track_fail(t, key, &d);
	if (t->copy && ns_run_log_metric(t->copy, key, v, 0, &d) != NS_OK)
		track_warn(key, &d);
}

static void track_artifact(struct trun *t, const char *path, const char *dir)
{
	struct ns_diag d;
	if (access(path, R_OK) != 0)
		return;
	ns_diag_clear(&d);
	if (track_live(t) && ns_run_log_artifact(t->run, path, dir, &d) != NS_OK)
		track_fail(t, path, &d);
	if (t->copy && ns_run_log_artifact(t->copy, path, dir, &d) != NS_OK)
		track_warn(path, &d);
}

static void track_metrics(struct trun *run, const char *prefix, const struct ns_metrics *m)
{
	char key[128];
	static const char *const names[] = {"accuracy", "precision", "recall", "f1", "roc_auc"};
	const double vals[] = {m->accuracy, m->positive >= 0 ? m->precision : m->macro_precision,
			       m->positive >= 0 ? m->recall : m->macro_recall,
			       m->positive >= 0 ? m->f1 : m->macro_f1, m->roc_auc};
	for (size_t i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "%s_%s", prefix, names[i]);
		track_metric(run, key, vals[i]);
	}
}

/* ---- stage 1: ingestion ---------------------------------------------------------------- */

/* Class index per row from the schema's classes (sorted distinct labels
 * when the schema lists none). */
static enum ns_status row_classes(struct run *u, uint32_t **y_out, uint32_t *k_out)
{
	const struct ns_schema *s = u->schema;
	const struct ns_frame *f = u->frame;
	long tcol = ns_frame_col_index(f, s->columns[s->target].name);
	size_t n = ns_frame_n_rows(f);
	uint32_t *y;
	if (tcol < 0) {
		ns_diag_where(u->diag, NULL, 0, 0, s->columns[s->target].name);
		return ns_diag_set(u->diag, NS_ERR_SCHEMA,
				   "the target column '%s' is not in the data",
				   s->columns[s->target].name);
	}
	if (s->n_classes == 0) {
		/* No class list: the encoder orders the distinct labels. */
		struct ns_encoder *e = NULL;
		double *x = NULL;
		enum ns_status st = ns_encoder_fit(s, f, &e, u->diag);
		if (st == NS_OK)
			st = ns_encoder_transform(e, f, &x, y_out, u->diag);
		if (st == NS_OK)
			*k_out = ns_encoder_n_classes(e);
		ns_free(x);
		ns_encoder_free(e);
		return st;
	}
	y = ns_malloc((n ? n : 1) * sizeof(*y));
	if (!y)
		return ns_diag_set(u->diag, NS_ERR_NOMEM, "out of memory");
	for (size_t r = 0; r < n; r++) {
		char buf[64];
		const char *text;
		long cls;
		if (ns_frame_col_kind(f, (size_t)tcol) == NS_COL_NUMERIC) {
			double v = ns_frame_numbers(f, (size_t)tcol)[r];
			text = isnan(v) ? NULL : (ns_format_double(v, buf, sizeof(buf)), buf);
		} else {
			uint32_t code = ns_frame_codes(f, (size_t)tcol)[r];
			text = code == NS_FRAME_NA_CODE ? NULL
							: ns_frame_level(f, (size_t)tcol, code);
		}
		cls = text ? ns_schema_class_index(s, text, strlen(text)) : -1;
		if (cls < 0) {
			ns_free(y);
			ns_diag_where(u->diag, u->source, 0, 0, s->columns[s->target].name);
			return ns_diag_set(u->diag, NS_ERR_SCHEMA,
					   "row %zu: the label %s%s%s is not one of the schema's "
					   "classes",
					   r + 1, text ? "'" : "", text ? text : "is missing and",
					   text ? "'" : "");
		}
		y[r] = (uint32_t)cls;
	}
	*y_out = y;
	*k_out = (uint32_t)s->n_classes;
	return NS_OK;
}

static enum ns_status load_data(struct run *u)
{
	const struct ns_train_config *c = u->c;
	struct ns_store *store = NULL;
	enum ns_status st;

	if (c->schema_path) {
		st = ns_schema_load(c->schema_path, &u->schema, u->diag);
		if (st != NS_OK)
			return st;
	}
	if (c->csv_path) {
		if (!u->schema)
			return ns_diag_set(u->diag, NS_ERR_INVALID,
					   "training from a CSV file needs a schema");
		snprintf(u->source, sizeof(u->source), "%s", c->csv_path);
		st = ns_frame_read_csv(c->csv_path, u->schema, &u->frame, u->diag);
		if (st == NS_OK && ns_schema_hash(u->schema, u->schema_hash) != NS_OK)
			st = ns_diag_set(u->diag, NS_ERR_NOMEM, "out of memory");
		return st;
	}
	{
		const char *uri = c->store_uri ? c->store_uri : NS_STORE_DEFAULT_URI;
		const char *coll = c->collection                  ? c->collection
				   : u->schema && u->schema->name ? u->schema->name
								  : NULL;
		struct ns_schema *stored = NULL;
		char shown[PATH_MAX_];
		uint64_t rows = 0;
		if (!coll)
			return ns_diag_set(
				u->diag, NS_ERR_INVALID,
				"no collection named (give one, or a schema with a name)");
		/* The source goes into report.json, the tracked run and errors:
		 * never with a password (ns_redact). */
		ns_redact(uri, shown, sizeof(shown));
		if (snprintf(u->source, sizeof(u->source), "%s#%s", shown, coll) >=
		    (int)sizeof(u->source))
			return ns_diag_set(u->diag, NS_ERR_INVALID,
					   "the store URI and collection name are too long");
		st = ns_store_open(uri, &store, u->diag);
		if (st != NS_OK)
			return st;
		st = ns_store_count(store, coll, &rows, u->diag);
		if (st == NS_ERR_NOTFOUND || (st == NS_OK && rows == 0)) {
			st = ns_diag_set(
				u->diag, NS_ERR_NOTFOUND,
				"the store %s has no data in collection '%s' (ingest first: "
				"netsec ingest FILE --schema S)",
				shown, coll);
			goto out;
		}
		if (st == NS_OK)
			st = ns_store_schema(store, coll, &stored, u->diag);
		if (st != NS_OK)
			goto out;
		if (u->schema) {
			char a[65], b[65];
			if (ns_schema_hash(u->schema, a) != NS_OK ||
			    ns_schema_hash(stored, b) != NS_OK) {
				st = ns_diag_set(u->diag, NS_ERR_NOMEM, "out of memory");
			} else if (strcmp(a, b) != 0) {
				st = ns_diag_set(
					u->diag, NS_ERR_SCHEMA,
					"schema mismatch: collection '%s' was ingested with "
					"schema %.12s..., this run's schema %s is %.12s...",
					coll, b, c->schema_path, a);
			}
			ns_schema_free(stored);
			stored = NULL;
		} else {
			u->schema = stored;
			stored = NULL;
		}
		if (st == NS_OK)
			st = ns_schema_hash(u->schema, u->schema_hash);
		if (st == NS_OK)
			st = ns_store_read_frame(store, coll, &u->frame, u->diag);
		if (st == NS_OK) {
			/* Rows set aside at ingest (skip_bad) go to invalid/. */
			char p[PATH_MAX_];
			struct ns_atomic_file af;
			struct ns_diag d2;
			ns_diag_clear(&d2);
			path_of(u, "data_validation/invalid/store_rejects.csv", p);
			if (make_dir(u, "data_validation/invalid") == NS_OK &&
			    ns_atomic_file_open(&af, p, &d2) == NS_OK) {
				if (ns_store_export_rejects(store, coll, af.fp, &d2) == NS_OK &&
				    ftell(af.fp) > 0) {
					ns_atomic_file_commit(&af, &d2);
				} else {
					ns_atomic_file_abort(&af);
				}
			}
		}
	out:
		ns_schema_free(stored);
		ns_store_close(store);
		return st;
	}
}

static enum ns_status stage_ingestion(struct run *u)
{
	struct ns_train_result *r = u->r;
	uint32_t *y = NULL, k = 0;
	size_t *keep = NULL, n_keep = 0;
	uint32_t *ky = NULL;
	char rel[PATH_MAX_];
	enum ns_status st;

	u->stage = NS_STAGE_INGESTION;
	emit(u, "reading the data");
	st = load_data(u);
	if (st != NS_OK)
		return st;
	if (u->schema->target < 0)
		return ns_diag_set(u->diag, NS_ERR_SCHEMA, "the schema names no target column");
	r->n_rows = ns_frame_n_rows(u->frame);
	if (r->n_rows == 0)
		return ns_diag_set(u->diag, NS_ERR_NOTFOUND, "%s has no rows", u->source);
	st = make_dir(u, "data_ingestion/feature_store");
	if (st == NS_OK)
		st = make_dir(u, "data_ingestion/ingested");
	if (st != NS_OK)
		return st;
	snprintf(rel, sizeof(rel), "data_ingestion/feature_store/%s.csv",
		 u->schema->name && ns__valid_name(u->schema->name) ? u->schema->name : "dataset");
	emit(u, "writing the feature store");
	st = write_frame(u, rel, u->frame, NULL, 0);
	if (st != NS_OK)
		return st;
	{
		/* A hash of the data as written: what the model was trained on. */
		char p[PATH_MAX_], *text = NULL;
		size_t len = 0;
		path_of(u, rel, p);
		if (ns_read_file(p, SIZE_MAX / 2, &text, &len, u->diag) == NS_OK) {
			struct ns_sha256 h;
			uint8_t dig[32];
			ns_sha256_init(&h);
			ns_sha256_update(&h, text, len);
			ns_sha256_final(&h, dig);
			ns_sha256_hex(dig, u->data_hash);
		}
		ns_free(text);
	}
	st = row_classes(u, &y, &k);
	if (st != NS_OK)
		return st;
	u->k = k;
	st = ns_frame_unique_rows(u->frame, &keep, &n_keep);
	if (st != NS_OK)
		goto out;
	r->n_duplicates = r->n_rows - n_keep;
	if (u->c->dedup) {
		ky = ns_malloc((n_keep ? n_keep : 1) * sizeof(*ky));
		if (!ky) {
			st = NS_ERR_NOMEM;
			goto out;
		}
		for (size_t i = 0; i < n_keep; i++)
			ky[i] = y[keep[i]];
	}
	emit(u, "splitting");
	st = u->c->dedup ? ns_split_stratified(ky, keep, n_keep, k, u->c->test_fraction, u->c->seed,
					       &u->train_rows, &r->n_train, &u->test_rows,
					       &r->n_test, u->diag)
			 : ns_split_stratified(y, NULL, r->n_rows, k, u->c->test_fraction,
					       u->c->seed, &u->train_rows, &r->n_train,
					       &u->test_rows, &r->n_test, u->diag);
	if (st != NS_OK)
		goto out;
	st = ns_split_leakage(u->frame, u->train_rows, r->n_train, u->test_rows, r->n_test, -1,
			      &r->n_leaked);
	if (st == NS_OK)
		st = ns_frame_select_rows(u->frame, u->train_rows, r->n_train, &u->train_f);
	if (st == NS_OK)
		st = ns_frame_select_rows(u->frame, u->test_rows, r->n_test, &u->test_f);
	if (st == NS_OK)
		st = write_frame(u, "data_ingestion/ingested/train.csv", u->train_f, NULL, 0);
	if (st == NS_OK)
		st = write_frame(u, "data_ingestion/ingested/test.csv", u->test_f, NULL, 0);
out:
	if (st == NS_ERR_NOMEM)
		ns_diag_set(u->diag, st, "out of memory");
	ns_free(y);
	ns_free(ky);
	ns_free(keep);
	return st;
}

/* ---- stage 2: validation ------------------------------------------------------------------ */

struct invalid_out {
	struct ns_csv_writer *w;
	size_t n;
	enum ns_status st; /* the first write error */
};

static void on_problem(void *user, const struct ns_problem *p)
{
	struct invalid_out *o = user;
	char num[32];
	enum ns_status st;
	if (o->st != NS_OK)
		return;
	int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)p->line);
	o->n++;
	st = ns_csv_writer_field(o->w, num, (size_t)n);
	if (st == NS_OK) {
		n = snprintf(num, sizeof(num), "%llu", (unsigned long long)p->column);
		st = ns_csv_writer_field(o->w, num, (size_t)n);
	}
	if (st == NS_OK)
		st = ns_csv_writer_field(o->w, p->field ? p->field : "",
					 p->field ? strlen(p->field) : 0);
	if (st == NS_OK) {
		const char *kind = ns_problem_kind_name(p->kind);
		st = ns_csv_writer_field(o->w, kind, strlen(kind));
	}
	if (st == NS_OK)
		st = ns_csv_writer_field(o->w, p->message, strlen(p->message));
	if (st == NS_OK)
		st = ns_csv_writer_end_row(o->w);
	o->st = st;
}

/* Validates one split file; problems go to invalid/<split>.csv (kept only
 * when there are some). */
static enum ns_status validate_split(struct run *u, const char *split, size_t *problems)
{
	static const char *const head[] = {"line", "column", "field", "problem", "message"};
	char in[PATH_MAX_], outp[PATH_MAX_], rel[256];
	struct ns_atomic_file af;
	struct invalid_out o = {NULL, 0, NS_OK};
	struct ns_validate_summary sum;
	enum ns_status st, vst;

	snprintf(rel, sizeof(rel), "data_ingestion/ingested/%s.csv", split);
	path_of(u, rel, in);
	snprintf(rel, sizeof(rel), "data_validation/invalid/%s.csv", split);
	path_of(u, rel, outp);
	st = ns_atomic_file_open(&af, outp, u->diag);
	if (st != NS_OK)
		return st;
	st = ns_csv_writer_create(af.fp, ',', &o.w, u->diag);
	for (size_t i = 0; st == NS_OK && i < 5; i++)
		st = ns_csv_writer_field(o.w, head[i], strlen(head[i]));
	if (st == NS_OK)
		st = ns_csv_writer_end_row(o.w);
	if (st != NS_OK) {
		ns_csv_writer_free(o.w);
		ns_atomic_file_abort(&af);
		return st;
	}
	memset(&sum, 0, sizeof(sum));
	vst = ns_validate_file(in, u->schema, NULL, on_problem, &o, &sum, u->diag);
	st = o.st != NS_OK ? ns_diag_set(u->diag, o.st, "cannot write %s", outp)
			   : ns_csv_writer_flush(o.w, u->diag);
	ns_csv_writer_free(o.w);
	if (st == NS_OK && o.n > 0)
		st = ns_atomic_file_commit(&af, u->diag);
	else
		ns_atomic_file_abort(&af);
	*problems = o.n;
	if (vst == NS_ERR_IO)
		return vst;
	if (st == NS_OK && vst == NS_OK) {
		snprintf(rel, sizeof(rel), "data_validation/validated/%s.csv", split);
		st = write_frame(u, rel, strcmp(split, "train") == 0 ? u->train_f : u->test_f, NULL,
				 0);
	}
	return st;
}

static enum ns_status stage_validation(struct run *u)
{
	size_t p_train = 0, p_test = 0;
	enum ns_status st;
	char p[PATH_MAX_];
	char *yaml = NULL;
	size_t len = 0;

	u->stage = NS_STAGE_VALIDATION;
	emit(u, "checking the schema");
	st = make_dir(u, "data_validation/validated");
	if (st == NS_OK)
		st = make_dir(u, "data_validation/invalid");
	if (st == NS_OK)
		st = make_dir(u, "data_validation/drift_report");
	if (st == NS_OK)
		st = validate_split(u, "train", &p_train);
	if (st == NS_OK)
		st = validate_split(u, "test", &p_test);
	if (st != NS_OK)
		return st;
	if (p_train + p_test > 0)
		return ns_diag_set(
			u->diag, NS_ERR_SCHEMA,
			"the schema check failed: %zu problems in the training split, %zu "
			"in the test split (see %s/data_validation/invalid/)",
			p_train, p_test, u->r->run_dir);
	/* A feature column with no value at all cannot be learnt or imputed. */
	for (size_t i = 0; i < u->schema->n_columns; i++) {
		const char *name = u->schema->columns[i].name;
		long col = ns_frame_col_index(u->train_f, name);
		bool any = false;
		if ((long)i == u->schema->target || u->schema->columns[i].ignore || col < 0)
			continue;
		for (size_t r = 0; r < ns_frame_n_rows(u->train_f) && !any; r++)
			any = ns_frame_col_kind(u->train_f, (size_t)col) == NS_COL_NUMERIC
				      ? !isnan(ns_frame_numbers(u->train_f, (size_t)col)[r])
				      : ns_frame_codes(u->train_f, (size_t)col)[r] !=
						NS_FRAME_NA_CODE;
		if (!any) {
			ns_diag_where(u->diag, NULL, 0, 0, name);
			return ns_diag_set(
				u->diag, NS_ERR_SCHEMA,
				"column '%s' is entirely missing in the training split: "
				"nothing to learn or impute from (drop it from the schema "
				"or mark it `ignore: true`)",
				name);
		}
	}
	emit(u, "drift report");
	st = ns_drift_compare(u->schema, u->train_f, u->test_f, u->c->drift_threshold, &u->drift,
			      u->diag);
	if (st != NS_OK)
		return st;
	u->have_drift = true;
	u->r->n_drifted = u->drift.n_drifted;
	st = ns_drift_report_yaml(&u->drift, &yaml, &len);
	if (st != NS_OK)
		return ns_diag_set(u->diag, st, "cannot format the drift report");
	path_of(u, "data_validation/drift_report/report.yaml", p);
	st = ns_write_file_atomic(p, yaml, len, u->diag);
	ns_free(yaml);
	if (st != NS_OK)
		return st;
	if (u->c->fail_on_drift && u->drift.n_drifted)
		return ns_diag_set(u->diag, NS_ERR_ABORTED,
				   "%zu columns drifted between the training and test splits (p < "
				   "%g; see %s)",
				   u->drift.n_drifted, u->c->drift_threshold, p);
	return NS_OK;
}

/* ---- stage 3: transformation ------------------------------------------------------------------ */

/* The preprocessor file: "NSPREP1\n", then two sections (encoder, imputer),
 * each a little-endian u64 length and the bytes, then the SHA-256 of all
 * that precedes it. */
static enum ns_status write_preprocessor(struct run *u, const uint8_t *enc, size_t enc_len,
					 const uint8_t *imp, size_t imp_len)
{
	struct ns__buf b;
	struct ns_sha256 h;
	uint8_t dig[32], len8[8];
	char p[PATH_MAX_];
	enum ns_status st;
	const uint8_t *parts[2] = {enc, imp};
	size_t lens[2] = {enc_len, imp_len};
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "NSPREP1\n", 8);
	for (int i = 0; st == NS_OK && i < 2; i++) {
		for (int k = 0; k < 8; k++)
			len8[k] = (uint8_t)((uint64_t)lens[i] >> (8 * k));
		st = ns__buf_append(&b, len8, 8);
		if (st == NS_OK)
			st = ns__buf_append(&b, parts[i], lens[i]);
	}
	if (st == NS_OK) {
		ns_sha256_init(&h);
		ns_sha256_update(&h, b.data, b.len);
		ns_sha256_final(&h, dig);
		st = ns__buf_append(&b, dig, 32);
	}
	path_of(u, "data_transformation/preprocessor.bin", p);
	if (st == NS_OK)
		st = ns_write_file_atomic(p, b.data, b.len, u->diag);
	else
		ns_diag_set(u->diag, st, "out of memory");
	ns__buf_fini(&b);
	return st;
}

/* x with the label appended as the last column (numeric labels as their
 * value, as the reference project's np.c_[x, y]; others as class index). */
static enum ns_status write_npy(struct run *u, const char *split, const double *x,
				const uint32_t *y, size_t n)
{
	size_t d = u->d;
	double *m = ns_malloc((n ? n : 1) * (d + 1) * sizeof(double));
	const char **labels = ns_malloc((n ? n : 1) * sizeof(char *));
	double *values = ns_malloc((u->k ? u->k : 1) * sizeof(double));
	bool numeric = true;
	char rel[256], p[PATH_MAX_];
	enum ns_status st = NS_ERR_NOMEM;
	if (!m || !labels || !values)
		goto out;
	for (uint32_t c = 0; c < u->k; c++) {
		const char *s = ns_encoder_class_label(u->enc, c);
		numeric = numeric && ns_parse_double(s, strlen(s), &values[c]);
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(m + i * (d + 1), x + i * d, d * sizeof(double));
		m[i * (d + 1) + d] = numeric ? values[y[i]] : (double)y[i];
		labels[i] = ns_encoder_class_label(u->enc, y[i]);
	}
	snprintf(rel, sizeof(rel), "data_transformation/transformed/%s.npy", split);
	path_of(u, rel, p);
	st = ns_npy_write_f64(p, m, n, d + 1, u->diag);
	if (st == NS_OK) {
		snprintf(rel, sizeof(rel), "data_transformation/transformed/%s_labels.npy", split);
		path_of(u, rel, p);
		st = ns_npy_write_str(p, labels, n, u->diag);
	}
out:
	if (st == NS_ERR_NOMEM)
		ns_diag_set(u->diag, st, "out of memory");
	ns_free(m);
	ns_free(labels);
	ns_free(values);
	return st;
}

static size_t count_nan(const double *x, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += isnan(x[i]);
	return c;
}

static enum ns_status stage_transformation(struct run *u)
{
	uint8_t *eb = NULL, *ib = NULL;
	size_t el = 0, il = 0;
	enum ns_status st;

	u->stage = NS_STAGE_TRANSFORMATION;
	emit(u, "encoding");
	st = make_dir(u, "data_transformation/transformed");
	if (st == NS_OK)
		st = ns_encoder_fit(u->schema, u->train_f, &u->enc, u->diag);
	if (st == NS_OK)
		st = ns_encoder_transform(u->enc, u->train_f, &u->xtr, &u->ytr, u->diag);
	if (st == NS_OK)
		st = ns_encoder_transform(u->enc, u->test_f, &u->xte, &u->yte, u->diag);
	if (st != NS_OK)
		return st;
	u->d = ns_encoder_n_features(u->enc);
	u->k = ns_encoder_n_classes(u->enc);
	u->threat = ns_encoder_threat(u->enc);
	{
		/* One class in the training split cannot be learnt. */
		size_t seen = 0;
		bool *present = ns_calloc(u->k ? u->k : 1, sizeof(bool));
		if (!present)
			return ns_diag_set(u->diag, NS_ERR_NOMEM, "out of memory");
		for (size_t i = 0; i < u->r->n_train; i++)
			if (!present[u->ytr[i]]) {
				present[u->ytr[i]] = true;
				seen++;
			}
		ns_free(present);
		if (seen < 2)
			return ns_diag_set(u->diag, NS_ERR_SCHEMA,
					   "the training split has only one class ('%s'): nothing "
					   "to tell apart",
					   ns_encoder_class_label(u->enc, u->ytr[0]));
	}
	emit(u, "KNN imputation");
	u->n_imputed_train = count_nan(u->xtr, u->r->n_train * u->d);
	u->n_imputed_test = count_nan(u->xte, u->r->n_test * u->d);
	st = ns_imputer_fit(u->xtr, u->r->n_train, u->d, u->c->impute_neighbors, &u->imp, u->diag);
	if (st == NS_ERR_INVALID) {
		/* The message names a column index: say which feature it is. */
		char msg[NS_DIAG_MESSAGE_MAX];
		if (snprintf(msg, sizeof(msg), "KNN imputer: %s", u->diag->message) > 0)
			memcpy(u->diag->message, msg, sizeof(msg));
		st = u->diag->status = NS_ERR_SCHEMA;
	}
	if (st == NS_OK && u->n_imputed_train)
		st = ns_imputer_transform(u->imp, u->xtr, u->r->n_train, NULL, u->diag);
	if (st == NS_OK && u->n_imputed_test)
		st = ns_imputer_transform(u->imp, u->xte, u->r->n_test, NULL, u->diag);
	if (st != NS_OK)
		return st;
	emit(u, "writing the matrices");
	st = write_npy(u, "train", u->xtr, u->ytr, u->r->n_train);
	if (st == NS_OK)
		st = write_npy(u, "test", u->xte, u->yte, u->r->n_test);
	if (st == NS_OK && (ns_encoder_to_buffer(u->enc, &eb, &el) != NS_OK ||
			    ns_imputer_to_buffer(u->imp, &ib, &il) != NS_OK))
		st = ns_diag_set(u->diag, NS_ERR_NOMEM, "out of memory");
	if (st == NS_OK)
		st = write_preprocessor(u, eb, el, ib, il);
	ns_free(eb);
	ns_free(ib);
	return st;
}

/* ---- stages 4 and 5: search and evaluation ------------------------------------------------- */

static void on_search_progress(void *user, const struct ns_search_progress *sp)
{
	struct run *u = user;
	struct ns_train_progress p;
	if (!u->c->progress)
		return;
	memset(&p, 0, sizeof(p));
	p.stage = NS_STAGE_SEARCH;
	p.family = sp->family;
	p.done = sp->tasks_done;
	p.total = sp->tasks_total;
	p.elapsed = now_s() - u->t0;
	u->c->progress(u->c->progress_user, &p);
}

static struct ns_fit_options fit_options(const struct run *u)
{
	struct ns_fit_options o = ns_fit_options_default();
	o.seed = u->c->seed;
	o.n_threads = u->c->n_threads;
	o.feature_names = ns_encoder_feature_names(u->enc);
	o.class_labels = ns_encoder_class_labels(u->enc);
	o.schema_hash = u->schema_hash;
	o.threat_class = u->threat;
	return o;
}

static enum ns_status evaluate(const struct ns_model *m, const double *x, const uint32_t *y,
			       size_t n, long positive, struct ns_metrics *out)
{
	uint32_t k = ns_model_n_classes(m);
	double *proba = ns_malloc((n ? n : 1) * k * sizeof(double));
	enum ns_status st = proba ? ns_model_predict_proba(m, x, n, proba) : NS_ERR_NOMEM;
	if (st == NS_OK)
		st = ns_metrics_compute(y, proba, n, k, positive, out);
	ns_free(proba);
	return st;
}

static enum ns_status stage_search(struct run *u)
{
	const struct ns_grid *grids = u->c->grids;
	size_t n_grids = u->c->n_grids;
	struct ns_search_params sp = ns_search_params_default();
	struct ns_dataset d;
	struct ns_fit_options o = fit_options(u);
	enum ns_status st;

	u->stage = NS_STAGE_SEARCH;
	if (n_grids > 16)
		return ns_diag_set(u->diag, NS_ERR_INVALID, "at most 16 grids");
	if (!grids) {
		n_grids = ns_family_count() < 16 ? ns_family_count() : 16;
		for (size_t i = 0; i < n_grids; i++)
			ns_grid_default(&u->grids[i], ns_family_at(i));
	} else {
		memcpy(u->grids, grids, n_grids * sizeof(*grids));
	}
	u->n_grids = n_grids;
	grids = u->grids;
	memset(&d, 0, sizeof(d));
	d.n_rows = u->r->n_train;
	d.n_features = u->d;
	d.x = u->xtr;
	d.y = u->ytr;
	d.n_classes = u->k;
	sp.cv = u->c->cv;
	sp.seed = u->c->seed;
	sp.scoring = u->c->scoring;
	sp.positive = u->threat;
	sp.n_threads = u->c->n_threads;
	sp.progress = on_search_progress;
	sp.progress_user = u;
	emit(u, "grid search");
	st = ns_search_run(grids, n_grids, &d, &o, &sp, &u->search, u->diag);
	if (st != NS_OK)
		return st;
	u->have_search = true;
	return NS_OK;
}

static void metric_fields(const struct ns_metrics *m, double *acc, double *prec, double *rec,
			  double *f1, double *auc)
{
	*acc = m->accuracy;
	*prec = m->positive >= 0 ? m->precision : m->macro_precision;
	*rec = m->positive >= 0 ? m->recall : m->macro_recall;
	*f1 = m->positive >= 0 ? m->f1 : m->macro_f1;
	*auc = m->roc_auc;
}

static enum ns_status stage_evaluation(struct run *u)
{
	struct ns_train_result *r = u->r;
	struct ns_dataset d;
	struct ns_fit_options o = fit_options(u);
	enum ns_status st = NS_OK;

	u->stage = NS_STAGE_EVALUATION;
	memset(&d, 0, sizeof(d));
	d.n_rows = r->n_train;
	d.n_features = u->d;
	d.x = u->xtr;
	d.y = u->ytr;
	d.n_classes = u->k;
	r->n_families = u->search.n_families < 16 ? u->search.n_families : 16;
	r->winner = u->search.best_family < r->n_families ? u->search.best_family : 0;
	for (size_t i = 0; st == NS_OK && i < r->n_families; i++) {
		const struct ns_family_result *fr = &u->search.families[i];
		const struct ns_candidate_result *cr = &fr->candidates[fr->best];
		struct ns_train_family *tf = &r->families[i];
		struct ns_model *m = NULL;
		struct ns_metrics met;
		char detail[96];
		double t = now_s();

		tf->family = fr->family;
		tf->cv_mean = cr->mean_score;
		tf->cv_std = cr->std_score;
		tf->n_candidates = fr->n_candidates;
		ns_params_format(&cr->params, tf->params, sizeof(tf->params));
		ns_grid_axes_text(&u->grids[i], &cr->params, tf->axes, sizeof(tf->axes));
		snprintf(detail, sizeof(detail), "refitting and testing %s",
			 ns_family_name(fr->family));
		emit(u, detail);
		st = ns_model_fit(&cr->params, &d, &o, &m, u->diag);
		tf->fit_seconds = now_s() - t;
		if (st == NS_OK)
			st = evaluate(m, u->xte, u->yte, r->n_test, u->threat, &met);
		if (st != NS_OK) {
			ns_model_free(m);
			break;
		}
		tf->test_score = ns_metrics_score(&met, u->c->scoring);
		metric_fields(&met, &tf->test_accuracy, &tf->test_precision, &tf->test_recall,
			      &tf->test_f1, &tf->test_roc_auc);
		if (u->parent.run || u->parent.copy) {
			struct trun child;
			char name[128];
			const struct ns_param_def *defs;
			size_t n_defs = 0;
			snprintf(name, sizeof(name), "%s-%s", r->run_id,
				 ns_family_name(fr->family));
			track_start(u, &child, name, &u->parent);
			defs = ns_family_params(fr->family, &n_defs);
			for (size_t p = 0; p < n_defs; p++) {
				char val[64];
				ns_param_value_format(&defs[p], cr->params.v[p], val, sizeof(val));
				track_param(&child, defs[p].name, "%s", val);
			}
			track_param(&child, "family", "%s", ns_family_name(fr->family));
			track_param(&child, "candidates", "%zu", fr->n_candidates);
			track_metric(&child, "cv_score_mean", cr->mean_score);
			track_metric(&child, "cv_score_std", cr->std_score);
			track_metrics(&child, "test", &met);
			track_metric(&child, "fit_seconds", tf->fit_seconds);
			track_end(&child, NS_RUN_FINISHED);
		}
		if (i == r->winner) {
			u->winner = m;
			u->winner_test = met;
			u->have_winner_test = true;
		} else {
			ns_model_free(m);
			ns_metrics_fini(&met);
		}
	}
	if (st != NS_OK)
		return st;
	{
		r->test_score = r->families[r->winner].test_score;
		st = evaluate(u->winner, u->xtr, u->ytr, r->n_train, u->threat, &u->winner_train);
		if (st != NS_OK)
			return ns_diag_set(u->diag, st,
					   "cannot score the winner on the training split");
		u->have_winner_train = true;
		r->train_score = ns_metrics_score(&u->winner_train, u->c->scoring);
		r->overfit = r->train_score - r->test_score > u->c->overfit_threshold;
		r->gate_passed = r->test_score >= u->c->expected_score;
	}
	/* The winner travels with its preprocessing. */
	{
		uint8_t *buf = NULL;
		char *yaml = NULL;
		size_t len = 0;
		st = ns_encoder_to_buffer(u->enc, &buf, &len);
		if (st == NS_OK)
			st = ns_model_attach(u->winner, NS_ATTACH_ENCODER, buf, len);
		ns_free(buf);
		buf = NULL;
		if (st == NS_OK)
			st = ns_imputer_to_buffer(u->imp, &buf, &len);
		if (st == NS_OK)
			st = ns_model_attach(u->winner, NS_ATTACH_IMPUTER, buf, len);
		ns_free(buf);
		if (st == NS_OK)
			st = ns_schema_to_yaml(u->schema, &yaml, &len);
		if (st == NS_OK)
			st = ns_model_attach(u->winner, NS_ATTACH_SCHEMA, (const uint8_t *)yaml,
					     len);
		ns_free(yaml);
		if (st != NS_OK)
			return ns_diag_set(u->diag, st,
					   "cannot attach the preprocessing to the model");
	}
	st = make_dir(u, "model_trainer");
	if (st == NS_OK)
		st = ns_model_save(u->winner, r->model_path, u->diag);
	if (st != NS_OK)
		return st;
	if (!r->gate_passed)
		return ns_diag_set(u->diag, NS_ERR_ABORTED,
				   "the winner (%s) scores %s %.4f on the test split, below the "
				   "expected %.4f: not registered (the model stays in %s)",
				   ns_family_name(r->families[r->winner].family),
				   ns_scoring_name(u->c->scoring), r->test_score,
				   u->c->expected_score, r->model_path);
	return NS_OK;
}

/* ---- stage 6: registry -------------------------------------------------------------------------- */

/* Scores a registered model on this run's test split with its own
 * preprocessing.  NaN (and a reason) when it cannot score this data. */
static double score_current(struct run *u, const char *path, char *why, size_t why_size)
{
	struct ns_model *m = NULL;
	struct ns_encoder *enc = NULL;
	struct ns_imputer *imp = NULL;
	struct ns_diag d;
	struct ns_metrics met;
	double *x = NULL, score = NAN;
	uint32_t *y = NULL;
	const uint8_t *ib;
	size_t il;
	enum ns_status st;

	ns_diag_clear(&d);
	st = ns_model_load(path, &m, &d);
	if (st == NS_OK)
		st = ns_model_encoder(m, &enc, &d);
	if (st == NS_OK)
		st = ns_encoder_transform(enc, u->test_f, &x, &y, &d);
	if (st == NS_OK && ns_model_attachment(m, NS_ATTACH_IMPUTER, &ib, &il)) {
		st = ns_imputer_from_buffer(ib, il, &imp, &d);
		if (st == NS_OK)
			st = ns_imputer_transform(imp, x, u->r->n_test, NULL, &d);
	} else if (st == NS_OK && count_nan(x, u->r->n_test * ns_model_n_features(m))) {
		st = ns_diag_set(&d, NS_ERR_SCHEMA, "it has no imputer and the data has gaps");
	}
	if (st == NS_OK)
		st = evaluate(m, x, y, u->r->n_test, ns_model_threat_class(m), &met);
	if (st == NS_OK) {
		score = ns_metrics_score(&met, u->c->scoring);
		ns_metrics_fini(&met);
	} else {
		snprintf(why, why_size, "%s", d.message);
	}
	ns_free(x);
	ns_free(y);
	ns_imputer_free(imp);
	ns_encoder_free(enc);
	ns_model_free(m);
	return score;
}

static enum ns_status json_num(struct ns__buf *b, double v)
{
	char num[40];
	if (!isfinite(v))
		return ns__buf_append(b, "null", 4);
	ns_format_double(v, num, sizeof(num));
	return ns__buf_append(b, num, strlen(num));
}

static enum ns_status json_metrics(struct ns__buf *b, const struct ns_metrics *m)
{
	double acc, prec, rec, f1, auc;
	enum ns_status st;
	metric_fields(m, &acc, &prec, &rec, &f1, &auc);
	st = ns__buf_append(b, "{\"accuracy\":", 12);
	if (st == NS_OK)
		st = json_num(b, acc);
	if (st == NS_OK)
		st = ns__buf_append(b, ",\"precision\":", 13);
	if (st == NS_OK)
		st = json_num(b, prec);
	if (st == NS_OK)
		st = ns__buf_append(b, ",\"recall\":", 10);
	if (st == NS_OK)
		st = json_num(b, rec);
	if (st == NS_OK)
		st = ns__buf_append(b, ",\"f1\":", 6);
	if (st == NS_OK)
		st = json_num(b, f1);
	if (st == NS_OK)
		st = ns__buf_append(b, ",\"roc_auc\":", 11);
	if (st == NS_OK)
		st = json_num(b, auc);
	if (st == NS_OK)
		st = ns__buf_append(b, ",\"log_loss\":", 12);
	if (st == NS_OK)
		st = json_num(b, m->log_loss);
	if (st == NS_OK)
		st = ns__buf_append(b, "}", 1);
	return st;
}

static enum ns_status json_confusion(struct ns__buf *b, const struct ns_metrics *m,
				     const struct ns_encoder *enc)
{
	enum ns_status st = ns__buf_append(b, "{\"labels\":[", 11);
	for (uint32_t c = 0; st == NS_OK && c < m->n_classes; c++) {
		if (c)
			st = ns__buf_append(b, ",", 1);
		if (st == NS_OK)
			st = ns__json_string(b, ns_encoder_class_label(enc, c));
	}
	if (st == NS_OK)
		st = ns__buf_append(b, "],\"matrix\":[", 12);
	for (uint32_t i = 0; st == NS_OK && i < m->n_classes; i++) {
		st = ns__buf_append(b, i ? ",[" : "[", i ? 2 : 1);
		for (uint32_t j = 0; st == NS_OK && j < m->n_classes; j++)
			st = ns__buf_printf(
				b, "%s%llu", j ? "," : "",
				(unsigned long long)m->confusion[(size_t)i * m->n_classes + j]);
		if (st == NS_OK)
			st = ns__buf_append(b, "]", 1);
	}
	if (st == NS_OK)
		st = ns__buf_append(b, "]}", 2);
	return st;
}

struct importance {
	const char *name;
	double value;
};

static int cmp_importance(const void *a, const void *b)
{
	const struct importance *x = a, *y = b;
	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return strcmp(x->name, y->name);
}

static enum ns_status json_importance(struct ns__buf *b, const struct ns_model *m, size_t top)
{
	size_t d = ns_model_n_features(m);
	double *v = ns_malloc((d ? d : 1) * sizeof(double));
	struct importance *imp = ns_malloc((d ? d : 1) * sizeof(*imp));
	enum ns_status st = v && imp ? ns_model_feature_importance(m, v) : NS_ERR_NOMEM;
	if (st == NS_OK) {
		for (size_t j = 0; j < d; j++)
			imp[j] = (struct importance){ns_model_feature_name(m, j), v[j]};
		qsort(imp, d, sizeof(*imp), cmp_importance);
		st = ns__buf_append(b, "[", 1);
		for (size_t j = 0; st == NS_OK && j < d && j < top; j++) {
			st = ns__buf_append(b, j ? ",{\"name\":" : "{\"name\":", j ? 9 : 8);
			if (st == NS_OK)
				st = ns__json_string(b, imp[j].name);
			if (st == NS_OK)
				st = ns__buf_append(b, ",\"importance\":", 14);
			if (st == NS_OK)
				st = json_num(b, imp[j].value);
			if (st == NS_OK)
				st = ns__buf_append(b, "}", 1);
		}
		if (st == NS_OK)
			st = ns__buf_append(b, "]", 1);
	}
	ns_free(v);
	ns_free(imp);
	return st;
}

/* The model card the registry keeps beside the model (docs/registry.md). */
static enum ns_status model_meta(struct run *u, char **out)
{
	const struct ns_train_result *r = u->r;
	const struct ns_train_family *w = &r->families[r->winner];
	struct ns__buf b;
	enum ns_status st;
	char trained_at[32], sha[65] = "";
	{
		char *data = NULL;
		size_t len = 0;
		if (ns_read_file(r->model_path, SIZE_MAX / 2, &data, &len, NULL) == NS_OK) {
			struct ns_sha256 h;
			uint8_t dig[32];
			ns_sha256_init(&h);
			ns_sha256_update(&h, data, len);
			ns_sha256_final(&h, dig);
			ns_sha256_hex(dig, sha);
		}
		ns_free(data);
	}
	utc_now(trained_at, sizeof(trained_at));
	ns__buf_init(&b, 0);
	st = ns__buf_append(&b, "{\"name\":", 8);
	if (st == NS_OK)
		st = ns__json_string(&b, u->c->model_name);
	if (st == NS_OK)
		st = ns__buf_printf(&b,
				    ",\"family\":\"%s\",\"params\":", ns_family_name(w->family));
	if (st == NS_OK) {
		/* "k=v,k=v" as an object of strings. */
		const struct ns_params *p = ns_model_params(u->winner);
		size_t n_defs = 0;
		const struct ns_param_def *defs = ns_family_params(w->family, &n_defs);
		st = ns__buf_append(&b, "{", 1);
		for (size_t i = 0; st == NS_OK && i < n_defs; i++) {
			char val[64];
			ns_param_value_format(&defs[i], p->v[i], val, sizeof(val));
			st = ns__buf_printf(&b, "%s\"%s\":", i ? "," : "", defs[i].name);
			if (st == NS_OK)
				st = ns__json_string(&b, val);
		}
		if (st == NS_OK)
			st = ns__buf_append(&b, "}", 1);
	}
	if (st == NS_OK)
		st = ns__buf_printf(
			&b,
			",\"trained_at\":\"%s\",\"run_id\":\"%s\",\"tracking_run_id\":\"%s\","
			"\"data_hash\":\"%s\",\"schema_hash\":\"%s\",\"classes\":[",
			trained_at, r->run_id, r->tracking_run_id, u->data_hash, u->schema_hash);
	for (uint32_t c = 0; st == NS_OK && c < u->k; c++) {
		if (c)
			st = ns__buf_append(&b, ",", 1);
		if (st == NS_OK)
			st = ns__json_string(&b, ns_encoder_class_label(u->enc, c));
	}
	if (st == NS_OK)
		st = ns__buf_append(&b, "],\"threat\":", 11);
	if (st == NS_OK)
		st = u->threat >= 0
			     ? ns__json_string(&b,
					       ns_encoder_class_label(u->enc, (uint32_t)u->threat))
			     : ns__buf_append(&b, "null", 4);
	if (st == NS_OK)
		st = ns__buf_append(&b, ",\"cv_score\":", 12);
	if (st == NS_OK)
		st = json_num(&b, w->cv_mean);
	if (st == NS_OK)
		st = ns__buf_printf(&b, ",\"scoring\":\"%s\",\"metrics\":{\"test\":",
				    ns_scoring_name(u->c->scoring));
	if (st == NS_OK)
		st = json_metrics(&b, &u->winner_test);
	if (st == NS_OK)
		st = ns__buf_append(&b, ",\"train\":", 9);
	if (st == NS_OK)
		st = json_metrics(&b, &u->winner_train);
	if (st == NS_OK)
		st = ns__buf_append(&b, "},\"confusion_matrix\":", 21);
	if (st == NS_OK)
		st = json_confusion(&b, &u->winner_test, u->enc);
	if (st == NS_OK)
		st = ns__buf_append(&b, ",\"feature_importance\":", 22);
	if (st == NS_OK)
		st = json_importance(&b, u->winner, 20);
	if (st == NS_OK)
		st = ns__buf_printf(&b, ",\"model_sha256\":\"%s\",\"n_train\":%zu,\"n_test\":%zu}",
				    sha, r->n_train, r->n_test);
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return st;
	}
	*out = b.data;
	return NS_OK;
}

static enum ns_status stage_registry(struct run *u)
{
	struct ns_train_result *r = u->r;
	struct ns_registry *reg = NULL;
	char *meta = NULL;
	unsigned current = 0;
	enum ns_status st;

	u->stage = NS_STAGE_REGISTRY;
	emit(u, "registering");
	r->previous_score = NAN;
	st = ns_registry_open(u->c->registry_dir, u->c->model_name, &reg, u->diag);
	if (st == NS_OK)
		st = ns_registry_current(reg, &current, u->diag);
	if (st != NS_OK)
		goto out;
	r->previous_version = current;
	if (current) {
		char path[PATH_MAX_], why[NS_DIAG_MESSAGE_MAX] = "";
		ns_registry_path(reg, current, path, sizeof(path));
		emit(u, "scoring the current model on this test split");
		r->previous_score = score_current(u, path, why, sizeof(why));
		if (isnan(r->previous_score))
			snprintf(r->promotion_reason, sizeof(r->promotion_reason),
				 "the current model v%u cannot score this data (%s)", current, why);
	}
	st = model_meta(u, &meta);
	if (st != NS_OK) {
		st = ns_diag_set(u->diag, st, "cannot describe the model");
		goto out;
	}
	st = ns_registry_add(reg, r->model_path, meta, &r->version, u->diag);
	ns_free(meta);
	meta = NULL;
	if (st != NS_OK)
		goto out;
	{
		bool better =
			!current || isnan(r->previous_score) || r->test_score >= r->previous_score;
		char reason[512];
		if (!current)
			snprintf(r->promotion_reason, sizeof(r->promotion_reason),
				 "first model of '%s'", u->c->model_name);
		else if (!isnan(r->previous_score))
			snprintf(r->promotion_reason, sizeof(r->promotion_reason),
				 "%s on this test split: v%u %.4f, v%u %.4f%s",
				 ns_scoring_name(u->c->scoring), r->version, r->test_score, current,
				 r->previous_score,
				 better ? ""
					: " (worse: kept the current model; --force promotes)");
		if (!better && u->c->force) {
			size_t l = strlen(r->promotion_reason);
			snprintf(r->promotion_reason + l, sizeof(r->promotion_reason) - l,
				 "; promoted anyway (--force)");
		}
		if (better || u->c->force) {
			snprintf(reason, sizeof(reason), "run %s: %s", r->run_id,
				 r->promotion_reason);
			st = ns_registry_promote(reg, r->version, reason, u->diag);
			r->promoted = st == NS_OK;
		}
	}
out:
	ns_registry_close(reg);
	return st;
}

/* ---- report.json ------------------------------------------------------------------------------- */

static enum ns_status write_report(struct run *u, enum ns_status outcome)
{
	const struct ns_train_result *r = u->r;
	struct ns__buf b;
	char finished[32], p[PATH_MAX_];
	enum ns_status st;
	utc_now(finished, sizeof(finished));
	ns__buf_init(&b, 0);
	st = ns__buf_printf(&b, "{\n  \"run_id\": \"%s\",\n  \"status\": \"%s\",\n", r->run_id,
			    outcome == NS_OK ? "finished" : "failed");
	if (st == NS_OK && outcome != NS_OK) {
		st = ns__buf_printf(&b, "  \"failed_stage\": \"%s\",\n  \"error\": ",
				    ns_train_stage_name(u->stage));
		if (st == NS_OK)
			st = ns__json_string(&b, u->diag->message);
		if (st == NS_OK)
			st = ns__buf_append(&b, ",\n", 2);
	}
	if (st == NS_OK)
		st = ns__buf_printf(&b,
				    "  \"started_at\": \"%s\",\n  \"finished_at\": \"%s\",\n"
				    "  \"seconds\": %.3f,\n  \"data\": {\"source\": ",
				    u->started_at, finished, now_s() - u->t0);
	if (st == NS_OK)
		st = ns__json_string(&b, u->source);
	if (st == NS_OK)
		st = ns__buf_printf(
			&b,
			", \"sha256\": \"%s\", \"schema_hash\": \"%s\", \"rows\": %zu, "
			"\"duplicate_rows\": %zu, \"dedup\": %s, \"test_fraction\": %g, \"seed\": "
			"%llu,\n    \"train_rows\": %zu, \"test_rows\": %zu, \"leakage\": "
			"{\"test_rows_in_train\": %zu, \"share\": %.6f}},\n",
			u->data_hash, u->schema_hash, r->n_rows, r->n_duplicates,
			u->c->dedup ? "true" : "false", u->c->test_fraction,
			(unsigned long long)u->c->seed, r->n_train, r->n_test, r->n_leaked,
			r->n_test ? (double)r->n_leaked / (double)r->n_test : 0.0);
	if (st == NS_OK && u->have_drift)
		st = ns__buf_printf(&b,
				    "  \"drift\": {\"threshold\": %g, \"columns_tested\": %zu, "
				    "\"columns_drifted\": %zu, \"report\": "
				    "\"data_validation/drift_report/report.yaml\"},\n",
				    u->drift.threshold, u->drift.n_columns, u->drift.n_drifted);
	if (st == NS_OK && u->enc)
		st = ns__buf_printf(
			&b,
			"  \"preparation\": {\"features\": %zu, \"imputer\": "
			"\"KNNImputer(n_neighbors=%u)\", \"imputed_cells\": {\"train\": "
			"%zu, \"test\": %zu}},\n",
			u->d, u->c->impute_neighbors, u->n_imputed_train, u->n_imputed_test);
	if (st == NS_OK && r->n_families) {
		st = ns__buf_printf(&b, "  \"scoring\": \"%s\",\n  \"cv\": %u,\n  \"families\": [",
				    ns_scoring_name(u->c->scoring), u->c->cv);
		for (size_t i = 0; st == NS_OK && i < r->n_families; i++) {
			const struct ns_train_family *f = &r->families[i];
			st = ns__buf_printf(&b, "%s\n    {\"family\": \"%s\", \"best_params\": ",
					    i ? "," : "", ns_family_name(f->family));
			if (st == NS_OK)
				st = ns__json_string(&b, f->params);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"best_of_grid\": ", 18);
			if (st == NS_OK)
				st = ns__json_string(&b, f->axes);
			if (st == NS_OK)
				st = ns__buf_printf(&b, ", \"candidates\": %zu, \"cv_mean\": ",
						    f->n_candidates);
			if (st == NS_OK)
				st = json_num(&b, f->cv_mean);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"cv_std\": ", 12);
			if (st == NS_OK)
				st = json_num(&b, f->cv_std);
			if (st == NS_OK)
				st = ns__buf_append(&b, ",\n     \"test\": {\"score\": ", 25);
			if (st == NS_OK)
				st = json_num(&b, f->test_score);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"accuracy\": ", 14);
			if (st == NS_OK)
				st = json_num(&b, f->test_accuracy);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"precision\": ", 15);
			if (st == NS_OK)
				st = json_num(&b, f->test_precision);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"recall\": ", 12);
			if (st == NS_OK)
				st = json_num(&b, f->test_recall);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"f1\": ", 8);
			if (st == NS_OK)
				st = json_num(&b, f->test_f1);
			if (st == NS_OK)
				st = ns__buf_append(&b, ", \"roc_auc\": ", 13);
			if (st == NS_OK)
				st = json_num(&b, f->test_roc_auc);
			if (st == NS_OK)
				st = ns__buf_printf(&b, "}, \"refit_seconds\": %.3f}",
						    f->fit_seconds);
		}
		if (st == NS_OK)
			st = ns__buf_append(&b, "\n  ],\n", 6);
	}
	if (st == NS_OK && u->winner) {
		const struct ns_train_family *w = &r->families[r->winner];
		st = ns__buf_printf(&b, "  \"chosen\": {\"family\": \"%s\", \"params\": ",
				    ns_family_name(w->family));
		if (st == NS_OK)
			st = ns__json_string(&b, w->params);
		if (st == NS_OK)
			st = ns__buf_append(
				&b, ", \"selected_by\": \"cross-validation\", \"test\": ", 45);
		if (st == NS_OK)
			st = json_metrics(&b, &u->winner_test);
		if (st == NS_OK)
			st = ns__buf_append(&b, ",\n    \"confusion_matrix\": ", 26);
		if (st == NS_OK)
			st = json_confusion(&b, &u->winner_test, u->enc);
		if (st == NS_OK)
			st = ns__buf_append(&b, ",\n    \"feature_importance\": ", 28);
		if (st == NS_OK)
			st = json_importance(&b, u->winner, 10);
		if (st == NS_OK)
			st = ns__buf_append(&b, ",\n    \"model\": \"model_trainer/model.nsm\"},\n",
					    43);
		if (st == NS_OK) {
			st = ns__buf_printf(
				&b, "  \"gates\": {\"expected_score\": %g, \"test_score\": ",
				u->c->expected_score);
			if (st == NS_OK)
				st = json_num(&b, r->test_score);
			if (st == NS_OK)
				st = ns__buf_printf(&b, ", \"passed\": %s, \"train_score\": ",
						    r->gate_passed ? "true" : "false");
			if (st == NS_OK)
				st = json_num(&b, r->train_score);
			if (st == NS_OK)
				st = ns__buf_printf(
					&b, ", \"overfit_threshold\": %g, \"overfit\": %s},\n",
					u->c->overfit_threshold, r->overfit ? "true" : "false");
		}
	}
	if (st == NS_OK && u->stage == NS_STAGE_REGISTRY) {
		st = ns__buf_printf(
			&b,
			"  \"registry\": {\"model\": \"%s\", \"version\": %u, \"promoted\": "
			"%s, \"previous_version\": %u, \"previous_score\": ",
			u->c->model_name, r->version, r->promoted ? "true" : "false",
			r->previous_version);
		if (st == NS_OK)
			st = json_num(&b, r->previous_score);
		if (st == NS_OK)
			st = ns__buf_append(&b, ", \"reason\": ", 12);
		if (st == NS_OK)
			st = ns__json_string(&b, r->promotion_reason);
		if (st == NS_OK)
			st = ns__buf_append(&b, "},\n", 3);
	}
	if (st == NS_OK)
		st = ns__buf_printf(&b, "  \"tracking_run_id\": \"%s\"\n}\n", r->tracking_run_id);
	if (st != NS_OK) {
		ns__buf_fini(&b);
		return ns_diag_set(u->diag, st, "cannot format report.json");
	}
	path_of(u, "model_trainer", p);
	st = ns_mkdir_p(p, u->diag);
	if (st == NS_OK)
		st = ns_write_file_atomic(r->report_path, b.data, b.len, u->diag);
	ns__buf_fini(&b);
	return st;
}

/* ---- the run ------------------------------------------------------------------------------------- */

static void run_fini(struct run *u)
{
	ns_schema_free(u->schema);
	ns_frame_free(u->frame);
	ns_frame_free(u->train_f);
	ns_frame_free(u->test_f);
	ns_free(u->train_rows);
	ns_free(u->test_rows);
	ns_drift_report_fini(&u->drift);
	ns_encoder_free(u->enc);
	ns_imputer_free(u->imp);
	ns_free(u->xtr);
	ns_free(u->xte);
	ns_free(u->ytr);
	ns_free(u->yte);
	if (u->have_search)
		ns_search_results_fini(&u->search);
	ns_model_free(u->winner);
	if (u->have_winner_test)
		ns_metrics_fini(&u->winner_test);
	if (u->have_winner_train)
		ns_metrics_fini(&u->winner_train);
	ns_tracker_close(u->tracker);
	ns_tracker_close(u->local);
}

static void track_finish(struct run *u, enum ns_status outcome)
{
	struct ns_train_result *r = u->r;
	struct trun *t = &u->parent;
	char p[PATH_MAX_];
	if (!t->run && !t->copy)
		return;
	track_param(t, "source", "%s", u->source);
	track_param(t, "test_fraction", "%g", u->c->test_fraction);
	track_param(t, "seed", "%llu", (unsigned long long)u->c->seed);
	track_param(t, "cv", "%u", u->c->cv);
	track_param(t, "scoring", "%s", ns_scoring_name(u->c->scoring));
	track_param(t, "dedup", "%s", u->c->dedup ? "true" : "false");
	track_param(t, "impute_neighbors", "%u", u->c->impute_neighbors);
	if (u->winner) {
		track_param(t, "chosen_family", "%s",
			    ns_family_name(r->families[r->winner].family));
		track_param(t, "chosen_params", "%s", r->families[r->winner].params);
		track_metrics(t, "test", &u->winner_test);
		track_metric(t, "train_score", r->train_score);
		track_metric(t, "cv_score", r->families[r->winner].cv_mean);
	}
	track_metric(t, "rows", (double)r->n_rows);
	track_metric(t, "leaked_test_rows", (double)r->n_leaked);
	track_metric(t, "drifted_columns", (double)r->n_drifted);
	if (r->version)
		track_param(t, "registry_version", "%u", r->version);
	track_artifact(t, r->model_path, "model");
	track_artifact(t, r->report_path, NULL);
	path_of(u, "data_validation/drift_report/report.yaml", p);
	track_artifact(t, p, "drift_report");
	track_end(t, outcome == NS_OK ? NS_RUN_FINISHED : NS_RUN_FAILED);
}

enum ns_status ns_train_run(const struct ns_train_config *c, struct ns_train_result *out,
			    struct ns_diag *diag)
{
	struct run u;
	enum ns_status st;
	char line[NS_DIAG_MESSAGE_MAX + 64];
	struct ns_diag d2;

	memset(&u, 0, sizeof(u));
	memset(out, 0, sizeof(*out));
	ns_diag_clear(diag);
	u.c = c;
	u.r = out;
	u.diag = diag;
	u.t0 = now_s();
	u.announced = -1;
	out->previous_score = NAN;
	utc_now(u.started_at, sizeof(u.started_at));
	if (!c->artifacts_dir || strlen(c->artifacts_dir) > 3000)
		return ns_diag_set(diag, NS_ERR_INVALID, "the artifacts path is too long");
	if (!(c->cv >= 2) || !(c->test_fraction > 0 && c->test_fraction < 1) ||
	    c->impute_neighbors < 1)
		return ns_diag_set(diag, NS_ERR_INVALID,
				   "bad configuration: cv >= 2, 0 < test fraction < 1 and "
				   "neighbours >= 1 are required");
	ns_diag_clear(&d2);
	ns_train_reap(c->artifacts_dir, NULL, &d2);
	st = ns__run_folder_create(c->artifacts_dir, out->run_id, sizeof(out->run_id), out->run_dir,
				   sizeof(out->run_dir), diag);
	if (st != NS_OK)
		return st;
	snprintf(line, sizeof(line), "running %ld %llu", (long)getpid(),
		 ns__process_start((long)getpid()));
	st = ns__run_status_write(out->run_dir, line, diag);
	if (st != NS_OK)
		return st;
	ns__path_join(out->model_path, sizeof(out->model_path), out->run_dir,
		      "model_trainer/model.nsm");
	ns__path_join(out->report_path, sizeof(out->report_path), out->run_dir,
		      "model_trainer/report.json");
	track_open(&u);

	st = stage_ingestion(&u);
	if (st == NS_OK)
		st = stage_validation(&u);
	if (st == NS_OK)
		st = stage_transformation(&u);
	if (st == NS_OK)
		st = stage_search(&u);
	if (st == NS_OK)
		st = stage_evaluation(&u);
	if (st == NS_OK)
		st = stage_registry(&u);
	if (st != NS_OK)
		stage_fail(&u, st);
	out->seconds = now_s() - u.t0;

	/* The report and status are written even for a failed run. */
	{
		struct ns_diag keep = *diag;
		enum ns_status rst = write_report(&u, st);
		if (rst != NS_OK && st == NS_OK)
			st = stage_fail(&u, rst);
		else
			*diag = keep;
	}
	track_finish(&u, st);
	if (st == NS_OK)
		snprintf(line, sizeof(line), "finished");
	else
		snprintf(line, sizeof(line), "failed: %s", diag->message);
	ns_diag_clear(&d2);
	ns__run_status_write(out->run_dir, line, &d2);
	run_fini(&u);
	return st;
}
