/*
 * fuzz/fuzz_model.c - the model file loader on arbitrary bytes.
 *
 * A file that loads must also predict without crashing, re-save, load
 * again and re-save to the same bytes.  The checksum would stop most mutations before the section
 * parsers, so when the input's trailing 32 bytes do not match, the target
 * also tries the input with a correct checksum (and file size) patched in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "netsec/learn.h"

static void exercise(const uint8_t *data, size_t size)
{
	struct ns_model *m = NULL;
	struct ns_diag diag;
	if (ns_model_from_buffer(data, size, &m, &diag) != NS_OK)
		return;
	{
		size_t d = ns_model_n_features(m);
		uint32_t k = ns_model_n_classes(m);
		double *x = calloc(d * 3, sizeof(double));
		double *p = calloc((size_t)k * 3, sizeof(double));
		double *imp = calloc(d, sizeof(double));
		uint8_t *again = NULL;
		size_t len = 0;
		char *json = NULL;
		if (x && p && imp) {
			for (size_t j = 0; j < d; j++) {
				x[j] = -1;
				x[d + j] = 0;
				x[2 * d + j] = 1e300;
			}
			ns_model_predict_proba(m, x, 3, p);
			ns_model_feature_importance(m, imp);
		}
		if (ns_model_to_buffer(m, &again, &len) == NS_OK) {
			/* The container is strict (reserved fields, padding, parameter text), so
			 * load -> save reproduces the file unless a family accepted a
			 * non-canonical payload; either way a second round must be stable. */
			struct ns_model *m2 = NULL;
			uint8_t *third = NULL;
			size_t len3 = 0;
			if (ns_model_from_buffer(again, len, &m2, &diag) != NS_OK)
				abort(); /* what we write, we must read */
			if (ns_model_to_buffer(m2, &third, &len3) != NS_OK || len3 != len ||
			    memcmp(third, again, len) != 0)
				abort();
			ns_free(third);
			ns_model_free(m2);
			ns_free(again);
		}
		if (ns_model_describe_json(m, &json) == NS_OK)
			ns_free(json);
		free(x);
		free(p);
		free(imp);
	}
	ns_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exercise(data, size);
	if (size >= 64 + 32 && size < (1u << 24)) {
		uint8_t *fixed = malloc(size);
		struct ns_sha256 sha;
		uint64_t n = size;
		if (!fixed)
			return 0;
		memcpy(fixed, data, size);
		for (int i = 0; i < 8; i++)
			fixed[40 + i] = (uint8_t)(n >> (8 * i));
		ns_sha256_init(&sha);
		ns_sha256_update(&sha, fixed, size - 32);
		ns_sha256_final(&sha, fixed + size - 32);
		if (memcmp(fixed, data, size) != 0)
			exercise(fixed, size);
		free(fixed);
	}
	return 0;
}
