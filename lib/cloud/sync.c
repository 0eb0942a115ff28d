/*
 * lib/cloud/sync.c - `netsec sync push|pull`: the artifacts folder and the
 * model registry mirrored to s3://bucket/prefix/{artifacts,models}/.
 *
 * Only what differs moves: a file is skipped when the object has the same
 * size and its x-amz-meta-sha256 equals the file's SHA-256 (ETags are not
 * digests for multipart uploads).  Order matters for the registry: version
 * folders first, then last_version and history, `current` last, both ways,
 * so a reader of the bucket or of the replica never finds a `current` that
 * names a version not yet there.  On pull a missing version folder is
 * assembled under a temp name (.tmp.sync.*, which the registry ignores and
 * cleans) and renamed into place whole.  Remote objects are never deleted.
 *
 * Threading: one sync at a time per client (struct ns_s3).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cloud/cloud_internal.h"
#include "netsec/learn.h"
#include "netsec/registry.h"

struct ns_sync_params ns_sync_params_default(void)
{
	struct ns_sync_params p;
	memset(&p, 0, sizeof(p));
	p.artifacts_dir = "artifacts";
	p.registry_dir = "models";
	p.artifacts = true;
	p.models = true;
	return p;
}

/* Temp files (ours and the registry's: *.tmp.*) and lock files never move. */
static bool ignored_name(const char *name)
{
	size_t n = strlen(name);
	if (strstr(name, ".tmp"))
		return true;
	if (n >= 5 && strcmp(name + n - 5, ".lock") == 0)
		return true;
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* ---- a list of relative paths ---------------------------------------------------- */

struct item {
	char *rel; /* "netsec/3/model.nsm" */
	int rank; /* registry order: 1 versions, 2 last_version, 3 history, 4 current */
	uint64_t size; /* remote size (pull) */
	bool remote_has; /* push: the remote listing has it */
};

struct items {
	struct item *v;
	size_t n, cap;
};

static int registry_rank(const char *rel)
{
	const char *slash = strchr(rel, '/');
	if (!slash || strchr(slash + 1, '/'))
		return 1;
	if (strcmp(slash + 1, "current") == 0)
		return 4;
	if (strcmp(slash + 1, "history") == 0)
		return 3;
	if (strcmp(slash + 1, "last_version") == 0)
		return 2;
	return 1;
}

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

static enum ns_status items_add(struct items *it, const char *rel, bool registry, uint64_t size)
{
	if (it->n == it->cap) {
		size_t nc = it->cap ? it->cap * 2 : 64;
		struct item *nv = ns_reallocarray(it->v, nc, sizeof(*nv));
		if (!nv)
			return NS_ERR_NOMEM;
		it->v = nv;
		it->cap = nc;
	}
	it->v[it->n].rel = ns_strdup(rel);
	if (!it->v[it->n].rel)
		return NS_ERR_NOMEM;
	it->v[it->n].rank = registry ? registry_rank(rel) : 1;
	it->v[it->n].size = size;
	it->v[it->n].remote_has = false;
	it->n++;
	return NS_OK;
}

static void items_fini(struct items *it)
{
	for (size_t i = 0; i < it->n; i++)
		ns_free(it->v[i].rel);
	ns_free(it->v);
	memset(it, 0, sizeof(*it));
}

/* Regular files under root/rel, recursively; symlinks are not followed. */
static enum ns_status walk(const char *root, const char *rel, bool registry, struct items *it,
			   unsigned depth, struct ns_diag *diag)
{
	struct ns__buf dir, sub;
	DIR *d;
	struct dirent *e;
	enum ns_status st = NS_OK;

	if (depth > 32)
		return ns_diag_set(diag, NS_ERR_LIMIT, "sync: %s/%s: folders nested too deep", root,
				   rel);
	ns__buf_init(&dir, 0);
	ns__buf_init(&sub, 0);
	if (ns__buf_printf(&dir, "%s%s%s", root, *rel ? "/" : "", rel) != NS_OK) {
		ns__buf_fini(&dir);
		return NS_ERR_NOMEM;
	}
	d = opendir(dir.data);
	if (!d) {
		st = errno == ENOENT && depth == 0
			     ? NS_OK
			     : ns_diag_set(diag, NS_ERR_IO, "sync: cannot read %s: %s", dir.data,
					   strerror(errno));
		ns__buf_fini(&dir);
		return st;
	}
	while (st == NS_OK && (e = readdir(d))) {
		struct stat sb;
		if (ignored_name(e->d_name))
			continue;
		ns__buf_reset(&sub);
		st = ns__buf_printf(&sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
		if (st != NS_OK)
			break;
		{
			struct ns__buf full;
			ns__buf_init(&full, 0);
			st = ns__buf_printf(&full, "%s/%s", dir.data, e->d_name);
			if (st == NS_OK && lstat(full.data, &sb) != 0)
				st = errno == ENOENT ? NS_OK
						     : ns_diag_set(diag, NS_ERR_IO,
								   "sync: cannot stat %s: %s",
								   full.data, strerror(errno));
			else if (st == NS_OK && S_ISDIR(sb.st_mode))
				st = walk(root, sub.data, registry, it, depth + 1, diag);
			else if (st == NS_OK && S_ISREG(sb.st_mode))
				st = items_add(it, sub.data, registry, (uint64_t)sb.st_size);
			ns__buf_fini(&full);
		}
	}
	closedir(d);
	ns__buf_fini(&dir);
	ns__buf_fini(&sub);
	return st;
}

static enum ns_status file_sha256(const char *path, char hex[65], uint64_t *size)
{
	FILE *fp = fopen(path, "rb");
	char buf[1 << 15];
	struct ns_sha256 s;
	uint8_t d[32];
	size_t got;
	uint64_t n = 0;
	if (!fp)
		return errno == ENOENT ? NS_ERR_NOTFOUND : NS_ERR_IO;
	ns_sha256_init(&s);
	while ((got = fread(buf, 1, sizeof(buf), fp)) > 0) {
		ns_sha256_update(&s, buf, got);
		n += got;
	}
	if (ferror(fp)) {
		fclose(fp);
		return NS_ERR_IO;
	}
	fclose(fp);
	ns_sha256_final(&s, d);
	ns_sha256_hex(d, hex);
	if (size)
		*size = n;
	return NS_OK;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ns_s3_entry *)a)->key, ((const struct ns_s3_entry *)b)->key);
}

static const struct ns_s3_entry *find_entry(const struct ns_s3_list *l, const char *key)
{
	struct ns_s3_entry probe;
	if (l->n == 0)
		return NULL;
	memset(&probe, 0, sizeof(probe));
	probe.key = (char *)key;
	return bsearch(&probe, l->entries, l->n, sizeof(*l->entries), entry_cmp);
}

/* "PREFIX/TREE/" (or "TREE/" for no prefix). */
static enum ns_status tree_prefix(struct ns__buf *b, const char *prefix, const char *tree)
{
	return ns__buf_printf(b, "%s%s%s/", prefix && *prefix ? prefix : "",
			      prefix && *prefix ? "/" : "", tree);
}

/* Does the object have the same content as the local file? (HEAD for its SHA-256.) */
static enum ns_status same_content(struct ns_s3 *s3, const char *key, const char *path, bool *same,
				   struct ns_diag *diag)
{
	struct ns_s3_object_info info;
	char local[65];
	uint64_t size;
	enum ns_status st = ns_s3_head(s3, key, &info, diag);
	*same = false;
	if (st == NS_ERR_NOTFOUND)
		return NS_OK;
	if (st != NS_OK)
		return st;
	if (!info.sha256[0])
		return NS_OK; /* not ours, or older: move it to be sure */
	st = file_sha256(path, local, &size);
	if (st == NS_ERR_NOTFOUND)
		return NS_OK;
	if (st != NS_OK)
		return ns_diag_set(diag, st, "sync: cannot read %s", path);
	*same = size == info.size && strcmp(local, info.sha256) == 0;
	return NS_OK;
}

/* ---- push ------------------------------------------------------------------------ */

static enum ns_status push_tree(struct ns_s3 *s3, const char *prefix, const char *tree,
				const char *root, bool registry, const struct ns_sync_params *p,
				struct ns_sync_summary *sum, struct ns_diag *diag)
{
	struct items it = {NULL, 0, 0};
	struct ns_s3_list remote = {NULL, 0};
	struct ns__buf tp, key, path;
	enum ns_status st;

	ns__buf_init(&tp, 0);
	ns__buf_init(&key, 0);
	ns__buf_init(&path, 0);
	st = tree_prefix(&tp, prefix, tree);
	if (st == NS_OK)
		st = walk(root, "", registry, &it, 0, diag);
	if (st == NS_OK && it.n > 0)
		st = ns_s3_list(s3, tp.data, &remote, diag);
	if (st != NS_OK)
		goto out;
	/* qsort and bsearch want a non-NULL base even for no elements. */
	if (remote.n)
		qsort(remote.entries, remote.n, sizeof(*remote.entries), entry_cmp);
	if (it.n)
		qsort(it.v, it.n, sizeof(*it.v), item_cmp);
	for (size_t i = 0; i < it.n && st == NS_OK; i++) {
		const struct ns_s3_entry *e;
		bool same = false;
		struct stat sb;
		ns__buf_reset(&key);
		ns__buf_reset(&path);
		st = ns__buf_printf(&key, "%s%s", tp.data, it.v[i].rel);
		if (st == NS_OK)
			st = ns__buf_printf(&path, "%s/%s", root, it.v[i].rel);
		if (st != NS_OK)
			break;
		if (key.len > NS_S3_KEY_MAX) {
			st = ns_diag_set(diag, NS_ERR_LIMIT,
					 "sync: %s: the key would be longer "
					 "than %d bytes",
					 path.data, NS_S3_KEY_MAX);
			break;
		}
		if (stat(path.data, &sb) != 0)
			continue; /* gone since the walk */
		e = find_entry(&remote, key.data);
		if (e && e->size == (uint64_t)sb.st_size)
			st = same_content(s3, key.data, path.data, &same, diag);
		if (st != NS_OK)
			break;
		if (same) {
			sum->files_skipped++;
			sum->bytes_skipped += (uint64_t)sb.st_size;
			if (p->on_file)
				p->on_file(p->user, NS_SYNC_SKIP, key.data, (uint64_t)sb.st_size);
			continue;
		}
		if (!p->dry_run) {
			struct ns_s3_object_info info;
			st = ns_s3_put_file(s3, key.data, path.data, &info, diag);
			if (st != NS_OK)
				break;
			sb.st_size = (off_t)info.size;
		}
		sum->files_moved++;
		sum->bytes_moved += (uint64_t)sb.st_size;
		if (p->on_file)
			p->on_file(p->user, NS_SYNC_UPLOAD, key.data, (uint64_t)sb.st_size);
	}
out:
	items_fini(&it);
	ns_s3_list_fini(&remote);
	ns__buf_fini(&tp);
	ns__buf_fini(&key);
	ns__buf_fini(&path);
	return st;
}

enum ns_status ns_sync_push(struct ns_s3 *s3, const char *prefix, const struct ns_sync_params *p,
			    struct ns_sync_summary *sum, struct ns_diag *diag)
{
	struct ns_sync_params d = ns_sync_params_default();
	struct ns_sync_summary s;
	enum ns_status st = NS_OK;
	if (!p)
		p = &d;
	memset(&s, 0, sizeof(s));
	if (p->artifacts)
		st = push_tree(s3, prefix, "artifacts",
			       p->artifacts_dir ? p->artifacts_dir : "artifacts", false, p, &s,
			       diag);
	if (st == NS_OK && p->models)
		st = push_tree(s3, prefix, "models", p->registry_dir ? p->registry_dir : "models",
			       true, p, &s, diag);
	if (sum)
		*sum = s;
	return st;
}

/* ---- pull ------------------------------------------------------------------------ */

/* A key's relative part must be a plain relative path: no "", ".", ".." segment. */
static bool safe_rel(const char *rel)
{
	const char *s = rel;
	if (!*rel || *rel == '/')
		return false;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == '\\')
				return false;
		if (!slash)
			return true;
		s = slash + 1;
	}
}

static bool any_ignored_segment(const char *rel)
{
	char seg[256];
	const char *s = rel;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (n >= sizeof(seg))
			n = sizeof(seg) - 1;
		memcpy(seg, s, n);
		seg[n] = '\0';
		if (ignored_name(seg))
			return true;
		if (!slash)
			return false;
		s = slash + 1;
	}
}

/* "name/N/..." with N all digits: the length of "name/N", else 0. */
static size_t version_dir_len(const char *rel)
{
	const char *a = strchr(rel, '/'), *b;
	if (!a)
		return 0;
	b = strchr(a + 1, '/');
	if (!b || b == a + 1)
		return 0;
	for (const char *c = a + 1; c < b; c++)
		if (*c < '0' || *c > '9')
			return 0;
	return (size_t)(b - rel);
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Stage of a version folder being assembled under a temp name. */
struct stage {
	char *vdir; /* "<root>/name/N" */
	char *tmp; /* "<root>/name/.tmp.sync.XXXXXX" */
	size_t vlen; /* length of "name/N" in rel */
	char *rel_vdir;
};

static enum ns_status stage_finish(struct stage *sg, bool ok, struct ns_diag *diag)
{
	enum ns_status st = NS_OK;
	if (!sg->tmp)
		return NS_OK;
	if (ok) {
		char *parent = ns_strdup(sg->vdir), *slash;
		fsync_dir(sg->tmp);
		if (rename(sg->tmp, sg->vdir) != 0)
			st = ns_diag_set(diag, NS_ERR_IO, "sync: cannot rename %s to %s: %s",
					 sg->tmp, sg->vdir, strerror(errno));
		if (parent && (slash = strrchr(parent, '/'))) {
			*slash = '\0';
			fsync_dir(parent);
		}
		ns_free(parent);
	}
	if (!ok || st != NS_OK) {
		/* Leave nothing half-made: remove the temp folder's files, then it. */
		DIR *d = opendir(sg->tmp);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			struct ns__buf f;
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			ns__buf_init(&f, 0);
			if (ns__buf_printf(&f, "%s/%s", sg->tmp, e->d_name) == NS_OK)
				unlink(f.data);
			ns__buf_fini(&f);
		}
		if (d)
			closedir(d);
		rmdir(sg->tmp);
	}
	ns_free(sg->vdir);
	ns_free(sg->tmp);
	ns_free(sg->rel_vdir);
	memset(sg, 0, sizeof(*sg));
	return st;
}

static enum ns_status verify_registries(const char *root, struct ns_sync_summary *sum,
					struct ns_diag *diag)
{
	DIR *d = opendir(root);
	struct dirent *e;
	enum ns_status st = NS_OK;
	if (!d)
		return NS_OK;
	while (st == NS_OK && (e = readdir(d))) {
		struct ns__buf cur;
		struct stat sb;
		struct ns_registry *r = NULL;
		struct ns_model *m = NULL;
		size_t problems = 0;
		unsigned v = 0;
		char model[4096];
		if (e->d_name[0] == '.' || !ns__valid_name(e->d_name))
			continue;
		ns__buf_init(&cur, 0);
		if (ns__buf_printf(&cur, "%s/%s/current", root, e->d_name) != NS_OK ||
		    stat(cur.data, &sb) != 0) {
			ns__buf_fini(&cur);
			continue;
		}
		ns__buf_fini(&cur);
		st = ns_registry_open(root, e->d_name, &r, diag);
		if (st == NS_OK)
			st = ns_registry_check(r, &problems, diag);
		if (st == NS_OK && problems)
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "sync: the pulled registry %s/%s has %zu problem(s) (see "
					 "`netsec models check`)",
					 root, e->d_name, problems);
		if (st == NS_OK)
			st = ns_registry_current(r, &v, diag);
		if (st == NS_OK && v == 0)
			st = ns_diag_set(diag, NS_ERR_CORRUPT,
					 "sync: the pulled registry %s/%s has no current version",
					 root, e->d_name);
		if (st == NS_OK && ns_registry_path(r, v, model, sizeof(model)) != NS_OK)
			st = ns_diag_set(diag, NS_ERR_CORRUPT, "sync: %s/%s: version %u is missing",
					 root, e->d_name, v);
		if (st == NS_OK)
			st = ns_model_load(model, &m, diag);
		if (st == NS_OK)
			sum->models_verified++;
		ns_model_free(m);
		ns_registry_close(r);
	}
	closedir(d);
	return st;
}

static enum ns_status pull_tree(struct ns_s3 *s3, const char *prefix, const char *tree,
				const char *root, bool registry, const struct ns_sync_params *p,
				struct ns_sync_summary *sum, struct ns_diag *diag)
{
	struct items it = {NULL, 0, 0};
	struct ns_s3_list remote = {NULL, 0};
	struct ns__buf tp, key, path;
	struct stage sg;
	enum ns_status st;

	memset(&sg, 0, sizeof(sg));
	ns__buf_init(&tp, 0);
	ns__buf_init(&key, 0);
	ns__buf_init(&path, 0);
	st = tree_prefix(&tp, prefix, tree);
	if (st == NS_OK)
		st = ns_s3_list(s3, tp.data, &remote, diag);
	for (size_t i = 0; i < remote.n && st == NS_OK; i++) {
		const char *rel = remote.entries[i].key + tp.len;
		if (strncmp(remote.entries[i].key, tp.data, tp.len) != 0)
			continue;
		if (!safe_rel(rel)) {
			st = ns_diag_set(
				diag, NS_ERR_INVALID,
				"sync: refusing the key '%.300s': not a plain relative path",
				remote.entries[i].key);
			break;
		}
		if (any_ignored_segment(rel))
			continue;
		st = items_add(&it, rel, registry, remote.entries[i].size);
	}
	if (st != NS_OK)
		goto out;
	if (it.n)
		qsort(it.v, it.n, sizeof(*it.v), item_cmp);
	if (it.n && !p->dry_run)
		st = ns_mkdir_p(root, diag);
	for (size_t i = 0; i < it.n && st == NS_OK; i++) {
		const char *rel = it.v[i].rel;
		size_t vlen = registry ? version_dir_len(rel) : 0;
		struct stat sb;
		bool same = false, staged = false;

		/* Leaving a staged version folder: put it in place. */
		if (sg.tmp && (vlen != sg.vlen || strncmp(rel, sg.rel_vdir, vlen) != 0)) {
			st = stage_finish(&sg, true, diag);
			if (st != NS_OK)
				break;
		}
		ns__buf_reset(&key);
		ns__buf_reset(&path);
		st = ns__buf_printf(&key, "%s%s", tp.data, rel);
		if (st == NS_OK)
			st = ns__buf_printf(&path, "%s/%s", root, rel);
		if (st != NS_OK)
			break;
		if (vlen && !p->dry_run && !sg.tmp) {
			struct ns__buf vdir;
			ns__buf_init(&vdir, 0);
			if (ns__buf_printf(&vdir, "%s/%.*s", root, (int)vlen, rel) == NS_OK &&
			    stat(vdir.data, &sb) != 0 && errno == ENOENT) {
				/* A version this replica lacks: assemble it aside. */
				const char *name_end = strchr(rel, '/');
				struct ns__buf tmpl;
				ns__buf_init(&tmpl, 0);
				st = ns__buf_printf(&tmpl, "%s/%.*s", root, (int)(name_end - rel),
						    rel);
				if (st == NS_OK)
					st = ns_mkdir_p(tmpl.data, diag);
				if (st == NS_OK)
					st = ns__buf_printf(&tmpl, "/.tmp.sync.XXXXXX");
				if (st == NS_OK && !mkdtemp(tmpl.data))
					st = ns_diag_set(
						diag, NS_ERR_IO,
						"sync: cannot create a temp folder in %s: %s", root,
						strerror(errno));
				if (st == NS_OK) {
					sg.tmp = tmpl.data;
					tmpl.data = NULL;
					sg.vdir = vdir.data;
					vdir.data = NULL;
					sg.vlen = vlen;
					sg.rel_vdir = ns_strndup(rel, vlen);
					if (!sg.rel_vdir)
						st = NS_ERR_NOMEM;
				}
				ns__buf_fini(&tmpl);
			}
			ns__buf_fini(&vdir);
			if (st != NS_OK)
				break;
		}
		staged = sg.tmp != NULL;
		if (staged) {
			ns__buf_reset(&path);
			st = ns__buf_printf(&path, "%s/%s", sg.tmp, rel + vlen + 1);
		} else if (stat(path.data, &sb) == 0 && S_ISREG(sb.st_mode) &&
			   (uint64_t)sb.st_size == it.v[i].size) {
			st = same_content(s3, key.data, path.data, &same, diag);
		}
		if (st != NS_OK)
			break;
		if (same) {
			sum->files_skipped++;
			sum->bytes_skipped += it.v[i].size;
			if (p->on_file)
				p->on_file(p->user, NS_SYNC_SKIP, key.data, it.v[i].size);
			continue;
		}
		if (!p->dry_run) {
			struct ns_s3_object_info info;
			st = ns_s3_get_file(s3, key.data, path.data, &info, diag);
			if (st != NS_OK)
				break;
			it.v[i].size = info.size;
		}
		sum->files_moved++;
		sum->bytes_moved += it.v[i].size;
		if (p->on_file)
			p->on_file(p->user, NS_SYNC_DOWNLOAD, key.data, it.v[i].size);
	}
	if (sg.tmp) {
		enum ns_status st2 = stage_finish(&sg, st == NS_OK, diag);
		if (st == NS_OK)
			st = st2;
	}
out:
	items_fini(&it);
	ns_s3_list_fini(&remote);
	ns__buf_fini(&tp);
	ns__buf_fini(&key);
	ns__buf_fini(&path);
	return st;
}

enum ns_status ns_sync_pull(struct ns_s3 *s3, const char *prefix, const struct ns_sync_params *p,
			    struct ns_sync_summary *sum, struct ns_diag *diag)
{
	struct ns_sync_params d = ns_sync_params_default();
	struct ns_sync_summary s;
	const char *reg;
	enum ns_status st = NS_OK;
	if (!p)
		p = &d;
	reg = p->registry_dir ? p->registry_dir : "models";
	memset(&s, 0, sizeof(s));
	/* The registry first: a replica wants its model before the run records. */
	if (p->models)
		st = pull_tree(s3, prefix, "models", reg, true, p, &s, diag);
	if (st == NS_OK && p->models && !p->dry_run)
		st = verify_registries(reg, &s, diag);
	if (st == NS_OK && p->artifacts)
		st = pull_tree(s3, prefix, "artifacts",
			       p->artifacts_dir ? p->artifacts_dir : "artifacts", false, p, &s,
			       diag);
	if (sum)
		*sum = s;
	return st;
}
