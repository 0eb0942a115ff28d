/*
 * lib/core/number.c - locale-independent number parsing and printing.
 *
 * Parsing: a fast exact path for the common case (at most 19 significant
 * digits whose value fits in 53 bits, and a power of ten up to 1e22: one
 * correctly rounded multiply or divide, Clinger 1990), else strtod_l() in
 * the "C" locale on a bounded copy, so results never depend on the process
 * locale and are always correctly rounded.
 *
 * Printing: integers below 2^53 as integers; other values with the fewest of
 * 15, 16 or 17 significant digits that read back to the same double, in the
 * "C" locale.  Thread-safe.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "netsec/core.h"

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

locale_t ns__c_locale(void)
{
	pthread_once(&c_locale_once, make_c_locale);
	return c_locale;
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
				       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
				       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static bool ieq(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

static bool parse_slow(const char *s, size_t len, double *out)
{
	char stack[128];
	char *buf = stack, *end = NULL;
	bool ok;
	if (len >= sizeof(stack)) {
		buf = malloc(len + 1); /* not ns_malloc: parsing must not see injected faults */
		if (!buf)
			return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod_l(buf, &end, ns__c_locale());
	ok = end == buf + len;
	if (buf != stack)
		free(buf);
	return ok;
}

bool ns_parse_double(const char *s, size_t len, double *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t mant = 0;
	int n_sig = 0, exp10 = 0, n_digits = 0;
	bool truncated = false;

	if (len == 0)
		return false;
	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i < len && !((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) {
		const char *w = s + i;
		size_t wl = len - i;
		if (ieq(w, wl, "inf") || ieq(w, wl, "infinity")) {
			*out = neg ? -INFINITY : INFINITY;
			return true;
		}
		if (ieq(w, wl, "nan")) {
			*out = NAN;
			return true;
		}
		return false;
	}
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
		n_digits++;
		if (mant == 0 && s[i] == '0')
			continue;
		if (n_sig < 19) {
			mant = mant * 10 + (uint64_t)(s[i] - '0');
			n_sig++;
		} else {
			exp10++;
			if (s[i] != '0')
				truncated = true;
		}
	}
	if (i < len && s[i] == '.') {
		i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			n_digits++;
			if (mant == 0 && s[i] == '0') {
				exp10--;
				continue;
			}
			if (n_sig < 19) {
				mant = mant * 10 + (uint64_t)(s[i] - '0');
				n_sig++;
				exp10--;
			} else if (s[i] != '0') {
				truncated = true;
			}
		}
	}
	if (n_digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		bool eneg = false;
		long e = 0;
		if (j < len && (s[j] == '-' || s[j] == '+')) {
			eneg = s[j] == '-';
			j++;
		}
		if (j >= len || s[j] < '0' || s[j] > '9')
			return false;
		for (; j < len && s[j] >= '0' && s[j] <= '9'; j++) {
			if (e < 100000)
				e = e * 10 + (s[j] - '0');
		}
		if (j != len)
			return false;
		if (truncated || e >= 100000)
			return parse_slow(s, len, out);
		exp10 += (int)(eneg ? -e : e);
		i = j;
	}
	if (i != len)
		return false;
	if (mant == 0) {
		*out = neg ? -0.0 : 0.0;
		return true;
	}
	if (!truncated && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
		double v = (double)mant;
		v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
		*out = neg ? -v : v;
		return true;
	}
	return parse_slow(s, len, out);
}

size_t ns_format_double(double v, char *buf, size_t size)
{
	int n;
	if (size < 2)
		return 0;
	if (isnan(v))
		n = snprintf(buf, size, "nan");
	else if (isinf(v))
		n = snprintf(buf, size, v < 0 ? "-inf" : "inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0 && !(v == 0 && signbit(v)))
		n = snprintf(buf, size, "%lld", (long long)v);
	else {
		locale_t old = uselocale(ns__c_locale());
		n = 0;
		for (int prec = 15; prec <= 17; prec++) {
			char *end;
			n = snprintf(buf, size, "%.*g", prec, v);
			if (n < 0 || (size_t)n >= size)
				break;
			if (strtod_l(buf, &end, ns__c_locale()) == v)
				break;
		}
		uselocale(old);
	}
	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}
