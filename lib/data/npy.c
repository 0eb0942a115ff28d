/*
 * lib/data/npy.c - NumPy .npy writer (format 1.0).
 *
 * Layout: the magic "\x93NUMPY", version 1.0, a little-endian u16 header
 * length, then an ASCII Python dict literal
 * {'descr': ..., 'fortran_order': False, 'shape': (...), } padded with spaces
 * and ended by '\n' so that magic + length + header is a multiple of 64
 * bytes, then the raw array data in C order.
 */
#include <stdio.h>
#include <string.h>

#include "netsec/npy.h"

static enum ns_status write_header(FILE *fp, const char *descr, size_t rows, size_t cols)
{
	char dict[256], shape[96];
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
	size_t len, total;
	if (cols)
		snprintf(shape, sizeof(shape), "(%zu, %zu)", rows, cols);
	else
		snprintf(shape, sizeof(shape), "(%zu,)", rows);
	len = (size_t)snprintf(dict, sizeof(dict),
			       "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
			       shape);
	total = 10 + len + 1;
	total = (total + 63) / 64 * 64;
	pre[8] = (unsigned char)((total - 10) & 0xff);
	pre[9] = (unsigned char)((total - 10) >> 8);
	if (fwrite(pre, 1, 10, fp) != 10 || fwrite(dict, 1, len, fp) != len)
		return NS_ERR_IO;
	for (size_t i = 10 + len; i + 1 < total; i++)
		if (fputc(' ', fp) == EOF)
			return NS_ERR_IO;
	return fputc('\n', fp) == EOF ? NS_ERR_IO : NS_OK;
}

static bool little_endian(void)
{
	uint16_t one = 1;
	unsigned char b;
	memcpy(&b, &one, 1);
	return b == 1;
}

enum ns_status ns_npy_write_f64(const char *path, const double *data, size_t rows, size_t cols,
				struct ns_diag *diag)
{
	struct ns_atomic_file af;
	size_t n = cols ? rows * cols : rows;
	enum ns_status st;
	if (cols && rows > SIZE_MAX / 8 / cols)
		return ns_diag_set(diag, NS_ERR_INVALID, "%s: array too large", path);
	st = ns_atomic_file_open(&af, path, diag);
	if (st != NS_OK)
		return st;
	st = write_header(af.fp, "<f8", rows, cols);
	if (st == NS_OK && little_endian()) {
		if (n && fwrite(data, sizeof(double), n, af.fp) != n)
			st = NS_ERR_IO;
	} else if (st == NS_OK) {
		for (size_t i = 0; st == NS_OK && i < n; i++) {
			uint64_t bits;
			unsigned char b[8];
			memcpy(&bits, &data[i], 8);
			for (int k = 0; k < 8; k++)
				b[k] = (unsigned char)(bits >> (8 * k));
			if (fwrite(b, 1, 8, af.fp) != 8)
				st = NS_ERR_IO;
		}
	}
	if (st != NS_OK) {
		ns_atomic_file_abort(&af);
		return ns_diag_set(diag, st, "%s: cannot write the array", path);
	}
	return ns_atomic_file_commit(&af, diag);
}

/* Decodes one UTF-8 sequence at s (len bytes left); 0 on malformed input. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c = s[0], min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		n = 2, c &= 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 3, c &= 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 4, c &= 0x07, min = 0x10000;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

static enum ns_status code_points(const char *s, size_t *count)
{
	size_t len = strlen(s), i = 0, n = 0;
	while (i < len) {
		uint32_t cp;
		size_t k = utf8_next((const unsigned char *)s + i, len - i, &cp);
		if (!k)
			return NS_ERR_INVALID;
		i += k;
		n++;
	}
	*count = n;
	return NS_OK;
}

enum ns_status ns_npy_write_str(const char *path, const char *const *strings, size_t n,
				struct ns_diag *diag)
{
	struct ns_atomic_file af;
	size_t width = 1;
	char descr[32];
	enum ns_status st;
	for (size_t i = 0; i < n; i++) {
		size_t c;
		if (code_points(strings[i], &c) != NS_OK)
			return ns_diag_set(diag, NS_ERR_INVALID,
					   "%s: string %zu is not valid UTF-8", path, i);
		if (c > width)
			width = c;
	}
	snprintf(descr, sizeof(descr), "<U%zu", width);
	st = ns_atomic_file_open(&af, path, diag);
	if (st != NS_OK)
		return st;
	st = write_header(af.fp, descr, n, 0);
	for (size_t i = 0; st == NS_OK && i < n; i++) {
		const unsigned char *s = (const unsigned char *)strings[i];
		size_t len = strlen(strings[i]), off = 0, c = 0;
		while (st == NS_OK && off < len) {
			uint32_t cp = 0;
			unsigned char b[4];
			off += utf8_next(s + off, len - off, &cp);
			for (int k = 0; k < 4; k++)
				b[k] = (unsigned char)(cp >> (8 * k));
			if (fwrite(b, 1, 4, af.fp) != 4)
				st = NS_ERR_IO;
			c++;
		}
		for (; st == NS_OK && c < width; c++) {
			static const unsigned char zero[4] = {0, 0, 0, 0};
			if (fwrite(zero, 1, 4, af.fp) != 4)
				st = NS_ERR_IO;
		}
	}
	if (st != NS_OK) {
		ns_atomic_file_abort(&af);
		return ns_diag_set(diag, st, "%s: cannot write the array", path);
	}
	return ns_atomic_file_commit(&af, diag);
}
