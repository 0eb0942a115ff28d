/*
 * src/server/server.c - the libmicrohttpd daemon, request dispatch through
 * the route table, authentication, CORS, limits, response helpers and the
 * request log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"

#define PUTS(b, s) dash_buf_append((b), (s), strlen(s))

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

int64_t srv_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double srv_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- JSON helpers ------------------------------------------------------------------- */

void srv_json_string(struct dash_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	PUTS(b, "\"");
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		char esc[8];
		switch (*p) {
		case '"':
			PUTS(b, "\\\"");
			break;
		case '\\':
			PUTS(b, "\\\\");
			break;
		case '\n':
			PUTS(b, "\\n");
			break;
		case '\r':
			PUTS(b, "\\r");
			break;
		case '\t':
			PUTS(b, "\\t");
			break;
		default:
			if (*p < 0x20) {
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[*p >> 4];
				esc[5] = hex[*p & 15];
				dash_buf_append(b, esc, 6);
			} else {
				dash_buf_append(b, (const char *)p, 1);
			}
		}
	}
	PUTS(b, "\"");
}

void srv_json_number(struct dash_buf *b, double v)
{
	char num[40];
	if (!isfinite(v)) {
		PUTS(b, "null");
		return;
	}
	ns_format_double(v, num, sizeof(num));
	dash_buf_append(b, num, strlen(num));
}

/* ---- responses ----------------------------------------------------------------------- */

static void add_common_headers(struct req *r, struct MHD_Response *resp)
{
	const char *origin;
	MHD_add_response_header(resp, "X-Request-Id", r->id_str);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* CORS: only for configured origins, echoed exactly; never "*". */
	origin = srv_header(r, "Origin");
	if (origin && r->s->cfg.cors_origins && *r->s->cfg.cors_origins) {
		const char *list = r->s->cfg.cors_origins;
		size_t n = strlen(origin);
		for (const char *p = list; *p;) {
			const char *e = strchr(p, ',');
			size_t len = e ? (size_t)(e - p) : strlen(p);
			while (len && (*p == ' ')) {
				p++;
				len--;
			}
			if (len == n && strncmp(p, origin, n) == 0) {
				MHD_add_response_header(resp, "Access-Control-Allow-Origin",
							origin);
				MHD_add_response_header(resp, "Vary", "Origin");
				break;
			}
			if (!e)
				break;
			p = e + 1;
		}
	}
}

enum MHD_Result srv_send_response(struct req *r, unsigned status, struct MHD_Response *resp)
{
	enum MHD_Result ret;
	if (!resp)
		return MHD_NO;
	add_common_headers(r, resp);
	if (r->in_upload) {
		/* libmicrohttpd takes a response only once the body is read: keep
		 * it, discard the rest of the body, send it then. */
		if (r->pending)
			MHD_destroy_response(r->pending);
		r->pending = resp;
		r->status = status;
		r->done = true;
		return MHD_YES;
	}
	ret = MHD_queue_response(r->conn, status, resp);
	MHD_destroy_response(resp);
	r->status = status;
	r->done = true;
	return ret;
}

enum MHD_Result srv_send(struct req *r, unsigned status, const char *content_type, const void *body,
			 size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	r->bytes_out = len;
	return srv_send_response(r, status, resp);
}

void srv_free(void *p)
{
	ns_free(p);
}

enum MHD_Result srv_send_owned(struct req *r, unsigned status, const char *content_type, char *body,
			       size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(len, body, srv_free);
	if (!resp) {
		ns_free(body);
		return MHD_NO;
	}
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	r->bytes_out = len;
	return srv_send_response(r, status, resp);
}

enum MHD_Result srv_error(struct req *r, unsigned status, const char *error, const char *detail,
			  const struct ns_diag *where)
{
	struct dash_buf b = {0};
	enum MHD_Result ret;
	PUTS(&b, "{\"error\":");
	srv_json_string(&b, error);
	PUTS(&b, ",\"detail\":");
	srv_json_string(&b, detail ? detail : "");
	PUTS(&b, ",\"where\":");
	if (where && (where->file[0] || where->line || where->column || where->field[0])) {
		PUTS(&b, "{\"source\":");
		srv_json_string(&b, where->file);
		dash_buf_printf(&b, ",\"line\":%llu,\"column\":%llu,\"field\":",
				(unsigned long long)where->line, (unsigned long long)where->column);
		if (where->field[0])
			srv_json_string(&b, where->field);
		else
			PUTS(&b, "null");
		PUTS(&b, "}");
	} else {
		PUTS(&b, "null");
	}
	dash_buf_printf(&b, ",\"request_id\":\"%s\"}\n", r->id_str);
	if (b.failed) {
		ns_free(b.data);
		return MHD_NO;
	}
	ret = srv_send_owned(r, status, "application/json", b.data, b.len);
	return ret;
}

const char *srv_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *srv_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- authentication -------------------------------------------------------------------- */

/* Constant-time comparison: the time does not depend on where the strings
 * differ (only on the configured token's length). */
static bool same_secret(const char *given, size_t given_len, const char *token)
{
	size_t n = strlen(token);
	unsigned char diff = (unsigned char)(given_len != n);
	for (size_t i = 0; i < n; i++) {
		unsigned char g = i < given_len ? (unsigned char)given[i] : 0;
		diff |= (unsigned char)(g ^ (unsigned char)token[i]);
	}
	return diff == 0;
}

bool srv_token_ok(const struct srv *s, const char *authorization)
{
	const char *p;
	if (!s->cfg.token || !*s->cfg.token || !authorization)
		return false;
	if (strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	p = authorization + 7;
	while (*p == ' ')
		p++;
	return same_secret(p, strlen(p), s->cfg.token);
}

/* ---- dispatch ------------------------------------------------------------------------------- */

/* Matches `path` against `pattern` ("/jobs/{id}"); the {param} goes to arg. */
static bool match(const struct route *rt, const char *path, char *arg, size_t arg_size)
{
	const char *p = rt->pattern, *q = path;
	if (rt->flags & ROUTE_PREFIX)
		return strncmp(path, p, strlen(p)) == 0;
	arg[0] = '\0';
	while (*p && *q) {
		if (*p == '{') {
			const char *pe = strchr(p, '}');
			const char *qe = strchr(q, '/');
			size_t len = qe ? (size_t)(qe - q) : strlen(q);
			if (!pe || len == 0 || len >= arg_size)
				return false;
			memcpy(arg, q, len);
			arg[len] = '\0';
			p = pe + 1;
			q += len;
			continue;
		}
		if (*p != *q)
			return false;
		p++;
		q++;
	}
	return *p == '\0' && *q == '\0';
}

static void req_free(struct req *r)
{
	if (!r)
		return;
	if (r->state_free && r->state)
		r->state_free(r->state);
	if (r->pending)
		MHD_destroy_response(r->pending);
	free(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct srv *s = cls;
	struct req *r = *con_cls;
	double secs;
	(void)conn;
	if (!r)
		return;
	secs = srv_mono() - r->t0;
	if (!r->done)
		r->status = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? 408 : 499;
	srv_metrics_request(s, r->route_index, r->status, secs);
	if (s->cfg.verbosity >= 1)
		fprintf(stderr, "req=%s method=%s route=%s path=%s status=%u bytes=%llu ms=%.3f\n",
			r->id_str, r->method, r->route ? r->route->pattern : "-", r->path,
			r->status, (unsigned long long)r->bytes_out, secs * 1000);
	req_free(r);
	*con_cls = NULL;
}

static enum MHD_Result method_not_allowed(struct req *r)
{
	char detail[600];
	snprintf(detail, sizeof(detail), "%s is not allowed on %s", r->method, r->path);
	return srv_error(r, 405, "method not allowed", detail, NULL);
}

static enum MHD_Result check_and_begin(struct srv *s, struct req *r);

static enum MHD_Result start_request(struct srv *s, struct MHD_Connection *conn, const char *url,
				     const char *method, struct req **out)
{
	struct req *r = calloc(1, sizeof(*r));
	bool path_known = false;
	if (!r)
		return MHD_NO;
	r->s = s;
	r->conn = conn;
	r->t0 = srv_mono();
	r->id = atomic_fetch_add(&s->next_request, 1) + 1;
	snprintf(r->id_str, sizeof(r->id_str), "%08llx", (unsigned long long)r->id);
	snprintf(r->method, sizeof(r->method), "%s", method);
	snprintf(r->path, sizeof(r->path), "%s", url);
	r->route_index = srv_n_routes;
	*out = r;
	for (size_t i = 0; i < srv_n_routes; i++) {
		char arg[sizeof(r->arg)];
		if (!match(&srv_routes[i], url, arg, sizeof(arg)))
			continue;
		path_known = true;
		if (strcmp(srv_routes[i].method, method) != 0)
			continue;
		r->route = &srv_routes[i];
		r->route_index = i;
		memcpy(r->arg, arg, sizeof(arg));
		break;
	}
	if (!r->route) {
		if (strcmp(method, "OPTIONS") == 0 && path_known) {
			/* CORS preflight: allowed only for configured origins. */
			struct MHD_Response *resp =
				MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
			if (!resp)
				return MHD_NO;
			MHD_add_response_header(resp, "Access-Control-Allow-Methods",
						"GET, POST, OPTIONS");
			MHD_add_response_header(resp, "Access-Control-Allow-Headers",
						"Authorization, Content-Type, Accept");
			MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
			return srv_send_response(r, 204, resp);
		}
		if (path_known)
			return method_not_allowed(r);
		{
			char detail[600];
			snprintf(detail, sizeof(detail), "no route for %s (see /docs)", r->path);
			return srv_error(r, 404, "not found", detail, NULL);
		}
	}
	/*
	 * A client sending a body without waiting for "100 Continue" would see
	 * its connection reset if we answered before reading the body: for such
	 * requests an early answer waits in `pending` until the body is read
	 * (and discarded).  With "Expect: 100-continue" the client waits, so the
	 * answer goes at once and the body is never sent.
	 */
	if (r->route->flags & ROUTE_BODY) {
		const char *expect = srv_header(r, "Expect");
		const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
		const char *te = srv_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING);
		bool has_body = (cl && strcmp(cl, "0") != 0) || te;
		r->in_upload = has_body && !(expect && strcasecmp(expect, "100-continue") == 0);
	}
	{
		enum MHD_Result ret = check_and_begin(s, r);
		r->in_upload = false;
		return ret;
	}
}

static enum MHD_Result check_and_begin(struct srv *s, struct req *r)
{
	if (r->route->flags & ROUTE_AUTH) {
		if (!s->cfg.token || !*s->cfg.token)
			return srv_error(r, 403, "forbidden",
					 "this endpoint needs an API token and none is configured: "
					 "start the server with NETSEC_API_TOKEN=<secret> (or "
					 "NETSEC_API_TOKEN_FILE=<file>) and send 'Authorization: "
					 "Bearer <secret>'",
					 NULL);
		if (!srv_token_ok(s, srv_header(r, MHD_HTTP_HEADER_AUTHORIZATION))) {
			struct dash_buf b = {0};
			struct MHD_Response *resp;
			dash_buf_printf(&b,
					"{\"error\":\"unauthorized\",\"detail\":\"send "
					"'Authorization: Bearer <token>' with the server's API "
					"token\",\"where\":null,\"request_id\":\"%s\"}\n",
					r->id_str);
			if (b.failed)
				return MHD_NO;
			resp = MHD_create_response_from_buffer_with_free_callback(b.len, b.data,
										  srv_free);
			if (!resp)
				return MHD_NO;
			MHD_add_response_header(resp, "Content-Type", "application/json");
			MHD_add_response_header(resp, "WWW-Authenticate",
						"Bearer realm=\"netsec\"");
			r->bytes_out = b.len;
			return srv_send_response(r, 401, resp);
		}
	}
	if (r->route->flags & ROUTE_BODY) {
		const char *cl = srv_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl) {
			char *end;
			unsigned long long n = strtoull(cl, &end, 10);
			if (*end == '\0' && n > s->cfg.max_upload) {
				char detail[160];
				snprintf(detail, sizeof(detail),
					 "the body is %llu bytes; the limit is %llu "
					 "(NETSEC_MAX_UPLOAD)",
					 n, (unsigned long long)s->cfg.max_upload);
				return srv_error(r, 413, "payload too large", detail, NULL);
			}
		}
	}
	return r->route->begin ? r->route->begin(r) : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct srv *s = cls;
	struct req *r = *con_cls;
	(void)version;
	if (!r) {
		enum MHD_Result ret = start_request(s, conn, url, method, &r);
		*con_cls = r;
		return ret;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		enum MHD_Result ret = MHD_YES;
		*upload_data_size = 0;
		r->body_bytes += n;
		if (r->done || r->body_error) {
			/* Already answered: discard the rest, but not without end. */
			return r->body_bytes > 2 * s->cfg.max_upload + (1u << 20) ? MHD_NO
										  : MHD_YES;
		}
		r->in_upload = true;
		if (r->body_bytes > s->cfg.max_upload) {
			char detail[160];
			r->body_error = true;
			snprintf(detail, sizeof(detail),
				 "the body exceeds the limit of %llu bytes "
				 "(NETSEC_MAX_UPLOAD)",
				 (unsigned long long)s->cfg.max_upload);
			ret = srv_error(r, 413, "payload too large", detail, NULL);
		} else if (r->route && (r->route->flags & ROUTE_BODY) && r->route->body) {
			ret = r->route->body(r, upload_data, n);
		}
		r->in_upload = false;
		return ret;
	}
	if (r->pending) {
		struct MHD_Response *resp = r->pending;
		enum MHD_Result ret;
		r->pending = NULL;
		ret = MHD_queue_response(conn, r->status, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (r->done)
		return MHD_YES;
	return r->route->end ? r->route->end(r) : srv_error(r, 500, "internal", "no handler", NULL);
}

/* ---- the daemon's life --------------------------------------------------------------------- */

static void *watcher_main(void *arg)
{
	struct srv *s = arg;
	while (!atomic_load(&s->stopping)) {
		struct ns_diag d;
		bool changed = false;
		ns_diag_clear(&d);
		if (srv_holder_reload(s, &changed, &d) != NS_OK && s->cfg.verbosity >= 1)
			fprintf(stderr, "netsec serve: cannot load the current model: %s\n",
				d.message);
		else if (changed && s->cfg.verbosity >= 1 && s->holder.current)
			fprintf(stderr, "netsec serve: serving model %s v%u (%s)\n",
				s->holder.current->name, s->holder.current->version,
				s->holder.current->family);
		for (unsigned waited = 0;
		     waited < s->cfg.reload_interval_ms && !atomic_load(&s->stopping); waited += 50)
			usleep(50 * 1000);
	}
	return NULL;
}

int srv_run(const struct srv_config *cfg)
{
	struct srv *s = calloc(1, sizeof(*s));
	struct sockaddr_in addr;
	struct ns_diag d;
	struct sigaction sa;
	const union MHD_DaemonInfo *info;
	int rc = 0;

	if (!s)
		return 4;
	s->cfg = *cfg;
	s->started_ms = srv_now_ms();
	s->running_job = -1;
	pthread_mutex_init(&s->jobs_lock, NULL);
	pthread_mutex_init(&s->class_lock, NULL);
	srv_holder_init(&s->holder);
	srv_metrics_init(s);
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)cfg->port);
	if (inet_pton(AF_INET, cfg->host, &addr.sin_addr) != 1) {
		fprintf(stderr, "netsec serve: error: bad --host '%s' (an IPv4 address)\n",
			cfg->host);
		rc = 2;
		goto out;
	}
	ns_diag_clear(&d);
	if (srv_holder_reload(s, NULL, &d) != NS_OK)
		fprintf(stderr, "netsec serve: warning: cannot load the current model: %s\n",
			d.message);
	srv_log_start(s);
	s->daemon = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->workers, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)cfg->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)cfg->timeout, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
		MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
	if (!s->daemon) {
		fprintf(stderr, "netsec serve: error: cannot listen on %s:%u: %s\n", cfg->host,
			cfg->port, strerror(errno));
		rc = 3;
		goto out;
	}
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->port;
	if (pthread_create(&s->watcher, NULL, watcher_main, s) == 0)
		s->watcher_live = true;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (cfg->port_file) {
		char text[32];
		int n = snprintf(text, sizeof(text), "%u\n", s->port);
		ns_diag_clear(&d);
		ns_write_file_atomic(cfg->port_file, text, (size_t)n, &d);
	}
	{
		const char *shown = strcmp(cfg->host, "0.0.0.0") == 0 ? "127.0.0.1" : cfg->host;
		fprintf(stderr,
			"netsec serve: listening on http://%s:%u (%u workers)\n"
			"  API docs   http://%s:%u/docs\n  dashboard  http://%s:%u/home\n",
			cfg->host, s->port, cfg->workers, shown, s->port, shown, s->port);
	}
	while (!stop_signal)
		pause();
	fprintf(stderr, "netsec serve: stopping (signal %d)\n", (int)stop_signal);
out:
	atomic_store(&s->stopping, true);
	if (s->daemon)
		MHD_stop_daemon(s->daemon);
	if (s->watcher_live)
		pthread_join(s->watcher, NULL);
	srv_jobs_fini(s);
	srv_log_stop(s);
	srv_metrics_fini(s);
	srv_holder_fini(&s->holder);
	pthread_mutex_destroy(&s->jobs_lock);
	pthread_mutex_destroy(&s->class_lock);
	free(s);
	return rc;
}
