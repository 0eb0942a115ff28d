/*
 * tests/unit/learn/test_metrics.c - metrics against scikit-learn's figures
 * (tests/golden/metrics/cases.txt, made by tests/tools/gen_metrics_cases.py)
 * and parameter tables (parsing, validation messages, formatting).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "learn/family.h"

static void close_to(double got, double want, double tol, const char *what, int c)
{
	if (isnan(want) && isnan(got))
		return;
	if (!(fabs(got - want) <= tol)) {
		fprintf(stderr, "case %d: %s = %.17g, scikit-learn: %.17g\n", c, what, got, want);
		fail();
	}
}

static void test_metrics_match_sklearn(void **state)
{
	FILE *fp = fopen(NETSEC_SOURCE_DIR "/tests/golden/metrics/cases.txt", "r");
	int c = 0;
	(void)state;
	assert_non_null(fp);
	for (;; c++) {
		size_t n;
		unsigned k;
		long pos;
		uint32_t *y;
		double *p, want[12];
		struct ns_metrics m;
		if (fscanf(fp, "%zu %u %ld", &n, &k, &pos) != 3)
			break;
		y = malloc(n * sizeof(*y));
		p = malloc(n * k * sizeof(*p));
		for (size_t i = 0; i < n; i++)
			assert_int_equal(fscanf(fp, "%u", &y[i]), 1);
		for (size_t i = 0; i < n * k; i++)
			assert_int_equal(fscanf(fp, "%lf", &p[i]), 1);
		for (int i = 0; i < 12; i++)
			assert_int_equal(fscanf(fp, "%lf", &want[i]), 1);
		assert_int_equal(ns_metrics_compute(y, p, n, k, pos, &m), NS_OK);
		close_to(m.accuracy, want[0], 1e-12, "accuracy", c);
		close_to(m.precision, want[1], 1e-12, "precision", c);
		close_to(m.recall, want[2], 1e-12, "recall", c);
		close_to(m.f1, want[3], 1e-12, "f1", c);
		close_to(m.macro_precision, want[4], 1e-12, "macro precision", c);
		close_to(m.macro_recall, want[5], 1e-12, "macro recall", c);
		close_to(m.macro_f1, want[6], 1e-12, "macro f1", c);
		close_to(m.weighted_precision, want[7], 1e-12, "weighted precision", c);
		close_to(m.weighted_recall, want[8], 1e-12, "weighted recall", c);
		close_to(m.weighted_f1, want[9], 1e-12, "weighted f1", c);
		close_to(m.roc_auc, want[10], 1e-12, "roc auc", c);
		close_to(m.log_loss, want[11], 1e-12, "log loss", c);
		/* The confusion matrix accounts for every row. */
		{
			uint64_t total = 0;
			for (size_t i = 0; i < (size_t)k * k; i++)
				total += m.confusion[i];
			assert_int_equal(total, n);
		}
		ns_metrics_fini(&m);
		free(y);
		free(p);
	}
	fclose(fp);
	assert_true(c >= 40);
}

static void test_metrics_edge_cases(void **state)
{
	uint32_t y[4] = {0, 0, 1, 1};
	double perfect[8] = {0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.1, 0.9};
	uint32_t bad[1] = {5};
	struct ns_metrics m;
	(void)state;
	assert_int_equal(ns_metrics_compute(y, perfect, 4, 2, 1, &m), NS_OK);
	assert_true(m.accuracy == 1 && m.f1 == 1 && m.roc_auc == 1);
	assert_int_equal(m.confusion[0], 2);
	assert_int_equal(m.confusion[3], 2);
	ns_metrics_fini(&m);
	/* One class only in y_true: AUC undefined. */
	{
		uint32_t same[2] = {1, 1};
		assert_int_equal(ns_metrics_compute(same, perfect, 2, 2, 1, &m), NS_OK);
		assert_true(isnan(m.roc_auc));
		ns_metrics_fini(&m);
	}
	assert_int_equal(ns_metrics_compute(bad, perfect, 1, 2, 1, &m), NS_ERR_INVALID);
	assert_int_equal(ns_metrics_compute(y, perfect, 4, 1, 0, &m), NS_ERR_INVALID);
	ns_metrics_fini(&m);
}

/* A family that exists only here, to exercise the parameter machinery. */
static const char *const crit[] = {"gini", "entropy", "log_loss", NULL};
static const struct ns_param_def test_params[] = {
	{"n_estimators", NS_PARAM_INT, 100, 1, 10000, NULL, false, "members"},
	{"learning_rate", NS_PARAM_FLOAT, 0.1, 1e-12, 1e6, NULL, false, "shrinkage"},
	{"criterion", NS_PARAM_CHOICE, 0, 0, 0, crit, false, "impurity"},
	{"max_depth", NS_PARAM_INT, NAN, 1, 1000, NULL, true, "depth"},
	{"bootstrap", NS_PARAM_BOOL, 1, 0, 1, NULL, false, "resample"},
	{"max_features", NS_PARAM_FEATURES, -1, 0, 0, NULL, false, "features per split"},
};
static const struct ns_family test_family = {
	.name = "testfam",
	.params = test_params,
	.n_params = sizeof(test_params) / sizeof(test_params[0]),
};

static void test_params_parse_and_format(void **state)
{
	struct ns_params p;
	struct ns_diag d;
	char buf[512];
	(void)state;
	ns_params_init(&p, &test_family);
	assert_true(ns_params_get(&p, "n_estimators") == 100);
	assert_true(isnan(ns_params_get(&p, "max_depth")));
	assert_int_equal(ns_params_parse(&p,
					 "n_estimators=8,criterion=entropy,max_depth=3,"
					 "bootstrap=false,max_features=0.5,learning_rate=1e-3",
					 &d),
			 NS_OK);
	assert_true(ns_params_get(&p, "n_estimators") == 8);
	assert_true(ns_params_get(&p, "criterion") == 1);
	assert_true(ns_params_get(&p, "max_depth") == 3);
	assert_true(ns_params_get(&p, "bootstrap") == 0);
	assert_true(ns_params_get(&p, "max_features") == 0.5);
	ns_params_format(&p, buf, sizeof(buf));
	assert_string_equal(buf, "n_estimators=8,learning_rate=0.001,criterion=entropy,max_depth=3,"
				 "bootstrap=false,max_features=0.5");
	/* Formatting reads back to the same values. */
	{
		struct ns_params q;
		ns_params_init(&q, &test_family);
		assert_int_equal(ns_params_parse(&q, buf, &d), NS_OK);
		assert_memory_equal(q.v, p.v, sizeof(double) * test_family.n_params);
	}
	assert_int_equal(ns_params_parse(&p, "max_features=sqrt,max_depth=None", &d), NS_OK);
	assert_true(ns_params_get(&p, "max_features") == -1);
	assert_true(isnan(ns_params_get(&p, "max_depth")));
	assert_int_equal(ns_params_set(&p, "max_features", "7", &d), NS_OK);
	assert_true(ns_params_get(&p, "max_features") == 7);
	assert_int_equal(ns_params_set(&p, "max_features", "1.0", &d), NS_OK);
	assert_true(isnan(ns_params_get(&p, "max_features")));
}

static void test_params_errors(void **state)
{
	struct ns_params p;
	struct ns_diag d;
	(void)state;
	ns_params_init(&p, &test_family);
	ns_diag_clear(&d);
	assert_int_equal(ns_params_set(&p, "n_trees", "5", &d), NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "unknown parameter 'n_trees'"));
	assert_non_null(strstr(d.message, "n_estimators, learning_rate, criterion"));
	assert_int_equal(ns_params_set(&p, "n_estimators", "0", &d), NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "an integer in [1, 10000]"));
	assert_int_equal(ns_params_set(&p, "n_estimators", "2.5", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "n_estimators", "none", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "criterion", "mse", &d), NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "one of gini, entropy, log_loss"));
	assert_int_equal(ns_params_set(&p, "bootstrap", "maybe", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "learning_rate", "nan", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "learning_rate", "-1", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_features", "0", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_features", "1.5", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_set(&p, "max_features", "2.5", &d), NS_ERR_INVALID);
	assert_int_equal(ns_params_parse(&p, "n_estimators", &d), NS_ERR_INVALID);
	assert_non_null(strstr(d.message, "NAME=VALUE"));
	assert_int_equal(ns_params_parse(&p, "=3", &d), NS_ERR_INVALID);
	/* Nothing was changed by the failed calls. */
	assert_true(ns_params_get(&p, "n_estimators") == 100);
	assert_int_equal(ns_params_parse(&p, "", &d), NS_OK);
	assert_int_equal(ns_params_parse(&p, ",,", &d), NS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_match_sklearn),
		cmocka_unit_test(test_metrics_edge_cases),
		cmocka_unit_test(test_params_parse_and_format),
		cmocka_unit_test(test_params_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
