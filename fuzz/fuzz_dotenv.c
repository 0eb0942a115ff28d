/*
 * fuzz/fuzz_dotenv.c - libFuzzer target for the .env parser and ns_redact.
 *
 * Feeds arbitrary bytes to ns_dotenv_parse.  An error must carry a message
 * and a location (line and column from 1; only the size cap may have none).
 * Whatever parses must survive a round trip: every key is a valid name and
 * unique; writing every entry back as KEY="escaped value" and parsing that
 * gives the same entries.  The bytes also go through ns_redact, whose output
 * must be terminated within its buffer and never longer than the input
 * plus the masks.  Any difference aborts (a finding).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netsec/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES NS_DOTENV_MAX_ENTRIES

struct entries {
	size_t n;
	char *keys[MAX_ENTRIES];
	char *values[MAX_ENTRIES];
	size_t lens[MAX_ENTRIES];
	size_t i_check; /* second round: the next entry to compare */
	int bad;
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_dotenv: %s\n", what);
	abort();
}

static enum ns_status keep(void *user, const char *key, const char *value, size_t len,
			   uint64_t line)
{
	struct entries *e = user;
	if (line == 0 || e->n >= MAX_ENTRIES)
		die("bad line number or too many entries");
	e->keys[e->n] = strdup(key);
	e->values[e->n] = malloc(len + 1);
	if (!e->keys[e->n] || !e->values[e->n])
		die("out of memory");
	memcpy(e->values[e->n], value, len + 1);
	e->lens[e->n] = len;
	e->n++;
	return NS_OK;
}

static enum ns_status check(void *user, const char *key, const char *value, size_t len,
			    uint64_t line)
{
	struct entries *e = user;
	(void)line;
	if (e->i_check >= e->n || strcmp(e->keys[e->i_check], key) != 0 ||
	    e->lens[e->i_check] != len || memcmp(e->values[e->i_check], value, len) != 0)
		e->bad = 1;
	e->i_check++;
	return NS_OK;
}

static int valid_key(const char *k)
{
	if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_'))
		return 0;
	for (k++; *k; k++)
		if (!((*k >= 'A' && *k <= 'Z') || (*k >= 'a' && *k <= 'z') || *k == '_' ||
		      (*k >= '0' && *k <= '9')))
			return 0;
	return 1;
}

static void round_trip(struct entries *e)
{
	size_t cap = 64, len = 0;
	char *text;
	struct ns_diag d;
	for (size_t i = 0; i < e->n; i++)
		cap += strlen(e->keys[i]) + 2 * e->lens[i] + 8;
	text = malloc(cap);
	if (!text)
		die("out of memory");
	for (size_t i = 0; i < e->n; i++) {
		size_t kl = strlen(e->keys[i]);
		if (!valid_key(e->keys[i]))
			die("an invalid key was accepted");
		for (size_t j = 0; j < i; j++)
			if (strcmp(e->keys[i], e->keys[j]) == 0)
				die("a duplicate key was accepted");
		memcpy(text + len, e->keys[i], kl);
		len += kl;
		text[len++] = '=';
		text[len++] = '"';
		for (size_t j = 0; j < e->lens[i]; j++) {
			char c = e->values[i][j];
			if (c == '"' || c == '\\' || c == '$') {
				text[len++] = '\\';
				text[len++] = c;
			} else if (c == '\r') {
				text[len++] = '\\';
				text[len++] = 'r';
			} else {
				text[len++] = c;
			}
		}
		text[len++] = '"';
		text[len++] = '\n';
	}
	e->i_check = 0;
	if (len <= NS_DOTENV_MAX_BYTES) {
		if (ns_dotenv_parse(text, len, "round-trip", check, e, &d) != NS_OK) {
			fprintf(stderr, "%s:%llu:%llu: %s\n", d.file, (unsigned long long)d.line,
				(unsigned long long)d.column, d.message);
			die("the round trip does not parse");
		}
		if (e->bad || e->i_check != e->n)
			die("the round trip gives other entries");
	}
	free(text);
}

static void redact(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = {1, 2, 7, 64, 4096};
	char *in = malloc(size + 1), *out;
	size_t cap = size * 4 + 16;
	if (!in)
		die("out of memory");
	memcpy(in, data, size);
	in[size] = '\0';
	out = malloc(cap);
	if (!out)
		die("out of memory");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]) + 1; k++) {
		size_t n = k < sizeof(sizes) / sizeof(sizes[0]) ? sizes[k] : cap;
		if (n > cap)
			n = cap;
		memset(out, 'Z', cap);
		ns_redact(in, out, n);
		if (memchr(out, '\0', n) == NULL)
			die("ns_redact: output not terminated");
	}
	ns_secret_mask(in, out, 32);
	if (memchr(out, '\0', 32) == NULL)
		die("ns_secret_mask: output not terminated");
	free(in);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct entries *e = calloc(1, sizeof(*e));
	struct ns_diag d;
	enum ns_status st;

	if (!e)
		die("out of memory");
	st = ns_dotenv_parse((const char *)data, size, "fuzz", keep, e, &d);
	if (st != NS_OK) {
		if (d.status == NS_OK || d.message[0] == '\0')
			die("an error without a diagnostic");
		if (size <= NS_DOTENV_MAX_BYTES && (d.line == 0 || d.column == 0))
			die("an error without a line and column");
		if (e->n != 0)
			die("entries were handed out before an error");
	} else {
		round_trip(e);
	}
	for (size_t i = 0; i < e->n; i++) {
		free(e->keys[i]);
		free(e->values[i]);
	}
	free(e);
	redact(data, size);
	return 0;
}
