/*
 * lib/cloud/s3_xml.c - a small XML reader for S3's answers.
 *
 * S3 speaks a tiny, regular subset of XML: nested elements with text, an
 * optional prolog and namespace attributes.  This reader handles that subset
 * and refuses the rest cleanly: no DTDs, no external entities (only the five
 * predefined ones and numeric references are decoded).  Every length is
 * bounded (depth, path, text per element) and every error reports the byte
 * offset.  The fuzz target fuzz/fuzz_s3_list.c feeds it arbitrary bytes.
 */
#include <string.h>

#include "cloud/cloud_internal.h"

struct xml {
	const char *p, *end, *start;
	struct ns_diag *diag;
	char path[NS__XML_MAX_PATH + 1];
	size_t path_len;
	size_t seg_at[NS__XML_MAX_DEPTH]; /* path_len before each open element */
	struct ns__buf text[NS__XML_MAX_DEPTH];
	int depth;
	bool had_root;
};

static enum ns_status fail(struct xml *x, enum ns_status st, const char *what)
{
	return ns_diag_set(x->diag, st, "s3: malformed XML: %s (byte %zu)", what,
			   (size_t)(x->p - x->start));
}

static bool is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skips to just after `term`; false if not found. */
static bool skip_past(struct xml *x, const char *term)
{
	size_t tl = strlen(term);
	while ((size_t)(x->end - x->p) >= tl) {
		if (memcmp(x->p, term, tl) == 0) {
			x->p += tl;
			return true;
		}
		x->p++;
	}
	x->p = x->end;
	return false;
}

static enum ns_status put_utf8(struct ns__buf *b, unsigned long cp)
{
	char u[4];
	size_t n;
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return NS_ERR_PARSE;
	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return ns__buf_append(b, u, n);
}

/* Decodes one entity at x->p ('&') into b. */
static enum ns_status entity(struct xml *x, struct ns__buf *b)
{
	static const struct {
		const char *name;
		char c;
	} named[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
	const char *s = x->p + 1;
	size_t left = (size_t)(x->end - s);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		size_t nl = strlen(named[i].name);
		if (left >= nl && memcmp(s, named[i].name, nl) == 0) {
			x->p = s + nl;
			return ns__buf_append(b, &named[i].c, 1);
		}
	}
	if (left >= 3 && *s == '#') {
		unsigned long cp = 0;
		bool hex = s[1] == 'x';
		const char *q = s + (hex ? 2 : 1);
		size_t digits = 0;
		enum ns_status st;
		for (; q < x->end && *q != ';'; q++, digits++) {
			int v;
			if (*q >= '0' && *q <= '9')
				v = *q - '0';
			else if (hex && *q >= 'a' && *q <= 'f')
				v = *q - 'a' + 10;
			else if (hex && *q >= 'A' && *q <= 'F')
				v = *q - 'A' + 10;
			else
				return fail(x, NS_ERR_PARSE, "bad character reference");
			if (digits >= 8)
				return fail(x, NS_ERR_PARSE, "character reference too long");
			cp = cp * (hex ? 16 : 10) + (unsigned long)v;
		}
		if (q >= x->end || digits == 0)
			return fail(x, NS_ERR_PARSE, "unterminated character reference");
		st = put_utf8(b, cp);
		if (st == NS_ERR_PARSE)
			return fail(x, NS_ERR_PARSE, "character reference out of range");
		x->p = q + 1;
		return st;
	}
	return fail(x, NS_ERR_PARSE, "unknown entity");
}

static enum ns_status add_text(struct xml *x, const char *s, size_t n)
{
	struct ns__buf *b;
	if (x->depth == 0) {
		for (size_t i = 0; i < n; i++)
			if (!is_space(s[i]))
				return fail(x, NS_ERR_PARSE, "text outside the root element");
		return NS_OK;
	}
	b = &x->text[x->depth - 1];
	if (b->len + n > NS__XML_MAX_TEXT)
		return fail(x, NS_ERR_LIMIT, "element text too long");
	return ns__buf_append(b, s, n);
}

static enum ns_status open_tag(struct xml *x, ns__xml_fn fn, void *user)
{
	const char *name = ++x->p, *q;
	size_t nl;
	bool self_close = false;
	while (x->p < x->end && is_name_char((unsigned char)*x->p))
		x->p++;
	nl = (size_t)(x->p - name);
	if (nl == 0)
		return fail(x, NS_ERR_PARSE, "empty element name");
	/* Attributes are skipped, quoted values honoured. */
	for (;;) {
		if (x->p >= x->end)
			return fail(x, NS_ERR_PARSE, "unterminated start tag");
		if (*x->p == '"' || *x->p == '\'') {
			q = memchr(x->p + 1, *x->p, (size_t)(x->end - x->p - 1));
			if (!q)
				return fail(x, NS_ERR_PARSE, "unterminated attribute value");
			x->p = q + 1;
			continue;
		}
		if (*x->p == '<')
			return fail(x, NS_ERR_PARSE, "'<' inside a tag");
		if (*x->p == '/' && x->p + 1 < x->end && x->p[1] == '>') {
			self_close = true;
			x->p += 2;
			break;
		}
		if (*x->p == '>') {
			x->p++;
			break;
		}
		x->p++;
	}
	if (x->depth == 0 && x->had_root)
		return fail(x, NS_ERR_PARSE, "a second root element");
	if (x->depth == NS__XML_MAX_DEPTH)
		return fail(x, NS_ERR_LIMIT, "elements nested too deep");
	if (x->path_len + (x->depth ? 1 : 0) + nl > NS__XML_MAX_PATH)
		return fail(x, NS_ERR_LIMIT, "element path too long");
	x->seg_at[x->depth] = x->path_len;
	if (x->depth)
		x->path[x->path_len++] = '/';
	memcpy(x->path + x->path_len, name, nl);
	x->path_len += nl;
	x->path[x->path_len] = '\0';
	ns__buf_reset(&x->text[x->depth]);
	x->depth++;
	x->had_root = true;
	if (self_close) {
		enum ns_status st = fn(user, x->path, "", 0);
		x->depth--;
		x->path_len = x->seg_at[x->depth];
		x->path[x->path_len] = '\0';
		return st;
	}
	return NS_OK;
}

static enum ns_status close_tag(struct xml *x, ns__xml_fn fn, void *user)
{
	const char *name = x->p + 2;
	const char *open;
	size_t nl, ol;
	struct ns__buf *b;
	enum ns_status st;
	x->p = name;
	while (x->p < x->end && is_name_char((unsigned char)*x->p))
		x->p++;
	nl = (size_t)(x->p - name);
	while (x->p < x->end && is_space(*x->p))
		x->p++;
	if (x->p >= x->end || *x->p != '>')
		return fail(x, NS_ERR_PARSE, "bad end tag");
	x->p++;
	if (x->depth == 0)
		return fail(x, NS_ERR_PARSE, "end tag without a start tag");
	open = x->path + x->seg_at[x->depth - 1] + (x->depth > 1 ? 1 : 0);
	ol = (size_t)(x->path + x->path_len - open);
	if (ol != nl || memcmp(open, name, nl) != 0)
		return fail(x, NS_ERR_PARSE, "end tag does not match its start tag");
	b = &x->text[x->depth - 1];
	st = fn(user, x->path, b->data ? b->data : "", b->len);
	x->depth--;
	x->path_len = x->seg_at[x->depth];
	x->path[x->path_len] = '\0';
	return st;
}

enum ns_status ns__xml_parse(const char *xml, size_t len, ns__xml_fn fn, void *user,
			     struct ns_diag *diag)
{
	struct xml x;
	enum ns_status st = NS_OK;

	memset(&x, 0, sizeof(x));
	x.p = x.start = xml;
	x.end = xml + len;
	x.diag = diag;
	for (int i = 0; i < NS__XML_MAX_DEPTH; i++)
		ns__buf_init(&x.text[i], NS__XML_MAX_TEXT + 1);
	/* A UTF-8 byte order mark is allowed. */
	if (len >= 3 && memcmp(xml, "\xEF\xBB\xBF", 3) == 0)
		x.p += 3;
	while (x.p < x.end && st == NS_OK) {
		const char *lt = memchr(x.p, '<', (size_t)(x.end - x.p));
		const char *stop = lt ? lt : x.end;
		/* Text, with entities. */
		while (x.p < stop && st == NS_OK) {
			const char *amp = memchr(x.p, '&', (size_t)(stop - x.p));
			const char *to = amp ? amp : stop;
			st = add_text(&x, x.p, (size_t)(to - x.p));
			x.p = to;
			if (st == NS_OK && amp) {
				struct ns__buf tmp;
				ns__buf_init(&tmp, 8);
				st = entity(&x, &tmp);
				if (st == NS_OK)
					st = add_text(&x, tmp.data, tmp.len);
				ns__buf_fini(&tmp);
				if (x.p > stop) {
					st = fail(&x, NS_ERR_PARSE, "entity runs into markup");
				}
			}
		}
		if (st != NS_OK || !lt)
			break;
		x.p = lt;
		if ((size_t)(x.end - x.p) >= 4 && memcmp(x.p, "<!--", 4) == 0) {
			x.p += 4;
			if (!skip_past(&x, "-->"))
				st = fail(&x, NS_ERR_PARSE, "unterminated comment");
		} else if ((size_t)(x.end - x.p) >= 9 && memcmp(x.p, "<![CDATA[", 9) == 0) {
			const char *from = x.p += 9;
			if (!skip_past(&x, "]]>"))
				st = fail(&x, NS_ERR_PARSE, "unterminated CDATA section");
			else
				st = add_text(&x, from, (size_t)(x.p - 3 - from));
		} else if ((size_t)(x.end - x.p) >= 2 && x.p[1] == '?') {
			x.p += 2;
			if (!skip_past(&x, "?>"))
				st = fail(&x, NS_ERR_PARSE, "unterminated processing instruction");
		} else if ((size_t)(x.end - x.p) >= 2 && x.p[1] == '!') {
			st = fail(&x, NS_ERR_PARSE, "DTDs are not accepted");
		} else if ((size_t)(x.end - x.p) >= 2 && x.p[1] == '/') {
			st = close_tag(&x, fn, user);
		} else {
			st = open_tag(&x, fn, user);
		}
	}
	if (st == NS_OK && x.depth > 0)
		st = fail(&x, NS_ERR_PARSE, "unclosed element at the end");
	if (st == NS_OK && !x.had_root)
		st = fail(&x, NS_ERR_PARSE, "no root element");
	for (int i = 0; i < NS__XML_MAX_DEPTH; i++)
		ns__buf_fini(&x.text[i]);
	return st;
}

/* ---- ListObjectsV2 ----------------------------------------------------------- */

struct list_ctx {
	struct ns__s3_list_page *page;
	struct ns_diag *diag;
	size_t cap;
	struct ns_s3_entry cur;
	bool have_key, have_size;
	bool root_ok;
};

static bool parse_u63(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (n == 0 || n > 19)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return false;
	*out = v;
	return true;
}

static void copy_etag(char *dst, size_t size, const char *s, size_t n)
{
	/* ETags come quoted ("..." or &quot;...&quot;); keep what is inside. */
	while (n && (*s == '"' || is_space(*s))) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == '"' || is_space(s[n - 1])))
		n--;
	if (n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static enum ns_status on_list(void *user, const char *path, const char *text, size_t len)
{
	struct list_ctx *c = user;
	struct ns__s3_list_page *pg = c->page;
	if (strncmp(path, "ListBucketResult", 16) != 0 || (path[16] != '\0' && path[16] != '/'))
		return ns_diag_set(c->diag, NS_ERR_PARSE,
				   "s3: the listing's root element is not ListBucketResult");
	c->root_ok = true;
	if (strcmp(path, "ListBucketResult/Contents/Key") == 0) {
		if (c->have_key)
			return ns_diag_set(c->diag, NS_ERR_PARSE,
					   "s3: listing: two Keys in one "
					   "Contents");
		if (len == 0 || len > NS_S3_KEY_MAX || memchr(text, '\0', len))
			return ns_diag_set(c->diag, NS_ERR_PARSE,
					   "s3: listing: a key that is empty, has a NUL or is "
					   "longer than %d bytes",
					   NS_S3_KEY_MAX);
		c->cur.key = ns_strndup(text, len);
		if (!c->cur.key)
			return NS_ERR_NOMEM;
		c->have_key = true;
	} else if (strcmp(path, "ListBucketResult/Contents/Size") == 0) {
		if (!parse_u63(text, len, &c->cur.size))
			return ns_diag_set(c->diag, NS_ERR_PARSE, "s3: listing: bad Size '%.*s'",
					   (int)(len > 40 ? 40 : len), text);
		c->have_size = true;
	} else if (strcmp(path, "ListBucketResult/Contents/ETag") == 0) {
		copy_etag(c->cur.etag, sizeof(c->cur.etag), text, len);
	} else if (strcmp(path, "ListBucketResult/Contents") == 0) {
		if (!c->have_key || !c->have_size) {
			ns_free(c->cur.key);
			memset(&c->cur, 0, sizeof(c->cur));
			c->have_key = c->have_size = false;
			return ns_diag_set(c->diag, NS_ERR_PARSE,
					   "s3: listing: Contents without Key or Size");
		}
		if (pg->n == c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 64;
			struct ns_s3_entry *ne = ns_reallocarray(pg->entries, nc, sizeof(*ne));
			if (!ne)
				return NS_ERR_NOMEM;
			pg->entries = ne;
			c->cap = nc;
		}
		pg->entries[pg->n++] = c->cur;
		memset(&c->cur, 0, sizeof(c->cur));
		c->have_key = c->have_size = false;
	} else if (strcmp(path, "ListBucketResult/IsTruncated") == 0) {
		if (len == 4 && memcmp(text, "true", 4) == 0)
			pg->is_truncated = true;
		else if (len == 5 && memcmp(text, "false", 5) == 0)
			pg->is_truncated = false;
		else
			return ns_diag_set(c->diag, NS_ERR_PARSE, "s3: listing: bad IsTruncated");
	} else if (strcmp(path, "ListBucketResult/NextContinuationToken") == 0) {
		if (len == 0 || len > 4096 || memchr(text, '\0', len))
			return ns_diag_set(c->diag, NS_ERR_PARSE,
					   "s3: listing: bad NextContinuationToken");
		ns_free(pg->next_token);
		pg->next_token = ns_strndup(text, len);
		if (!pg->next_token)
			return NS_ERR_NOMEM;
	}
	return NS_OK;
}

enum ns_status ns__s3_list_parse(const char *xml, size_t len, struct ns__s3_list_page *page,
				 struct ns_diag *diag)
{
	struct list_ctx c;
	enum ns_status st;
	memset(page, 0, sizeof(*page));
	memset(&c, 0, sizeof(c));
	c.page = page;
	c.diag = diag;
	st = ns__xml_parse(xml, len, on_list, &c, diag);
	ns_free(c.cur.key);
	if (st == NS_OK && page->is_truncated && !page->next_token)
		st = ns_diag_set(diag, NS_ERR_PARSE,
				 "s3: listing: truncated without a NextContinuationToken");
	if (st != NS_OK)
		ns__s3_list_page_fini(page);
	return st;
}

void ns__s3_list_page_fini(struct ns__s3_list_page *page)
{
	for (size_t i = 0; i < page->n; i++)
		ns_free(page->entries[i].key);
	ns_free(page->entries);
	ns_free(page->next_token);
	memset(page, 0, sizeof(*page));
}

/* ---- errors and multipart ------------------------------------------------------ */

struct err_ctx {
	char *code, *message;
	size_t code_size, message_size;
	bool is_error;
};

static void copy_text(char *dst, size_t size, const char *s, size_t n)
{
	size_t o = 0;
	if (size == 0)
		return;
	/* Control characters would garble a terminal: shown as spaces. */
	for (size_t i = 0; i < n && o + 1 < size; i++)
		dst[o++] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? ' ' : s[i];
	dst[o] = '\0';
}

static enum ns_status on_error(void *user, const char *path, const char *text, size_t len)
{
	struct err_ctx *c = user;
	if (strcmp(path, "Error") == 0)
		c->is_error = true;
	else if (strcmp(path, "Error/Code") == 0)
		copy_text(c->code, c->code_size, text, len);
	else if (strcmp(path, "Error/Message") == 0)
		copy_text(c->message, c->message_size, text, len);
	return NS_OK;
}

bool ns__s3_error_parse(const char *xml, size_t len, char *code, size_t code_size, char *message,
			size_t message_size)
{
	struct err_ctx c = {code, message, code_size, message_size, false};
	if (code_size)
		code[0] = '\0';
	if (message_size)
		message[0] = '\0';
	if (ns__xml_parse(xml, len, on_error, &c, NULL) != NS_OK)
		return false;
	return c.is_error;
}

struct upload_ctx {
	char *id;
};

static enum ns_status on_upload(void *user, const char *path, const char *text, size_t len)
{
	struct upload_ctx *c = user;
	if (strcmp(path, "InitiateMultipartUploadResult/UploadId") == 0 && len > 0 && len < 1024 &&
	    !memchr(text, '\0', len)) {
		ns_free(c->id);
		c->id = ns_strndup(text, len);
		if (!c->id)
			return NS_ERR_NOMEM;
	}
	return NS_OK;
}

enum ns_status ns__s3_upload_id_parse(const char *xml, size_t len, char **upload_id,
				      struct ns_diag *diag)
{
	struct upload_ctx c = {NULL};
	enum ns_status st = ns__xml_parse(xml, len, on_upload, &c, diag);
	if (st == NS_OK && !c.id)
		st = ns_diag_set(diag, NS_ERR_PARSE,
				 "s3: CreateMultipartUpload answered without an UploadId");
	if (st != NS_OK) {
		ns_free(c.id);
		return st;
	}
	*upload_id = c.id;
	return NS_OK;
}
