/*
 * lib/learn/serial.c - little-endian byte buffers for model payloads, seeded
 * random numbers, thread counts.
 *
 * The reader never trusts a length: every read checks the bytes remaining and
 * array reads check n * size for overflow first.
 */
#include <unistd.h>

#include "learn/family.h"

void ns__w_init(struct ns__wbuf *w)
{
	memset(w, 0, sizeof(*w));
}

void ns__w_fini(struct ns__wbuf *w)
{
	ns_free(w->data);
	memset(w, 0, sizeof(*w));
}

void ns__w_bytes(struct ns__wbuf *w, const void *p, size_t n)
{
	if (w->failed)
		return;
	if (n > SIZE_MAX / 2 - w->len) {
		w->failed = true;
		return;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *d;
		while (cap < w->len + n)
			cap *= 2;
		d = ns_realloc(w->data, cap);
		if (!d) {
			w->failed = true;
			return;
		}
		w->data = d;
		w->cap = cap;
	}
	if (n)
		memcpy(w->data + w->len, p, n);
	w->len += n;
}

void ns__w_u8(struct ns__wbuf *w, uint8_t v)
{
	ns__w_bytes(w, &v, 1);
}

void ns__w_u32(struct ns__wbuf *w, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	ns__w_bytes(w, b, 4);
}

void ns__w_u64(struct ns__wbuf *w, uint64_t v)
{
	ns__w_u32(w, (uint32_t)v);
	ns__w_u32(w, (uint32_t)(v >> 32));
}

void ns__w_f64(struct ns__wbuf *w, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	ns__w_u64(w, bits);
}

void ns__w_f64s(struct ns__wbuf *w, const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ns__w_f64(w, v[i]);
}

void ns__w_u32s(struct ns__wbuf *w, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ns__w_u32(w, v[i]);
}

void ns__w_align(struct ns__wbuf *w, size_t align)
{
	static const uint8_t zeros[64] = {0};
	while (!w->failed && w->len % align) {
		size_t pad = align - w->len % align;
		ns__w_bytes(w, zeros, pad > 64 ? 64 : pad);
	}
}

void ns__w_string(struct ns__wbuf *w, const char *s)
{
	size_t n = strlen(s);
	ns__w_u32(w, (uint32_t)n);
	ns__w_bytes(w, s, n);
}

char *ns__r_string(struct ns__rbuf *r, size_t max)
{
	uint32_t n = ns__r_u32(r);
	char *s;
	if (r->bad || n > max || n > r->len - r->off || memchr(r->data + r->off, '\0', n)) {
		r->bad = true;
		return NULL;
	}
	s = ns_strndup((const char *)r->data + r->off, n);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	r->off += n;
	return s;
}

bool ns__r_bytes(struct ns__rbuf *r, void *out, size_t n)
{
	if (r->bad || n > r->len - r->off) {
		r->bad = true;
		if (out && n)
			memset(out, 0, n);
		return false;
	}
	if (out && n)
		memcpy(out, r->data + r->off, n);
	r->off += n;
	return true;
}

uint8_t ns__r_u8(struct ns__rbuf *r)
{
	uint8_t v = 0;
	ns__r_bytes(r, &v, 1);
	return v;
}

uint32_t ns__r_u32(struct ns__rbuf *r)
{
	uint8_t b[4];
	if (!ns__r_bytes(r, b, 4))
		return 0;
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

uint64_t ns__r_u64(struct ns__rbuf *r)
{
	uint64_t lo = ns__r_u32(r);
	uint64_t hi = ns__r_u32(r);
	return lo | hi << 32;
}

double ns__r_f64(struct ns__rbuf *r)
{
	uint64_t bits = ns__r_u64(r);
	double v;
	memcpy(&v, &bits, 8);
	return v;
}

double *ns__r_f64s(struct ns__rbuf *r, size_t n)
{
	double *v;
	if (r->bad || n > (r->len - r->off) / 8) {
		r->bad = true;
		return NULL;
	}
	v = ns_malloc(n ? n * sizeof(double) : 1);
	if (!v) {
		r->bad = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = ns__r_f64(r);
	return v;
}

uint32_t *ns__r_u32s(struct ns__rbuf *r, size_t n)
{
	uint32_t *v;
	if (r->bad || n > (r->len - r->off) / 4) {
		r->bad = true;
		return NULL;
	}
	v = ns_malloc(n ? n * sizeof(uint32_t) : 1);
	if (!v) {
		r->bad = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = ns__r_u32(r);
	return v;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void ns__rng_seed(struct ns__rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (splitmix64(&stream) + 0x632be59bd9b4e019ULL);
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t ns__rng_next(struct ns__rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t ns__rng_below(struct ns__rng *r, uint64_t n)
{
	uint64_t limit, x;
	if (n <= 1)
		return 0;
	/* limit = UINT64_MAX - UINT64_MAX % n > UINT64_MAX - n: a draw at most
	 * UINT64_MAX - n is below it, so the division that gives the exact limit
	 * is only needed for the (rare) draws above. */
	for (;;) {
		x = ns__rng_next(r);
		if (x <= UINT64_MAX - n)
			break;
		limit = UINT64_MAX - UINT64_MAX % n;
		if (x < limit)
			break;
	}
	return x % n;
}

double ns__rng_uniform(struct ns__rng *r)
{
	return (double)(ns__rng_next(r) >> 11) * 0x1.0p-53;
}

int ns__threads(int requested)
{
	long n;
	if (requested > 0)
		return requested > 256 ? 256 : requested;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > 64 ? 64 : (int)n;
}
