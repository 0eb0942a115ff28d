#!/usr/bin/python3
"""tests/tools/mlflow_peer.py - an in-memory stand-in for an MLflow tracking
server that checks the shape of every request netsec sends.

It implements the subset of MLflow's REST API (mlflow.org/docs/latest/rest-api.html,
protos/service.proto) that lib/track/mlflow_rest.c uses:

  GET  /api/2.0/mlflow/experiments/get-by-name?experiment_name=N
  POST /api/2.0/mlflow/experiments/create    {name, artifact_location?, tags?}
  POST /api/2.0/mlflow/runs/create           {experiment_id, user_id?, run_name?, start_time?, tags?}
  GET  /api/2.0/mlflow/runs/get?run_id=R
  POST /api/2.0/mlflow/runs/log-batch        {run_id, metrics?, params?, tags?}
  POST /api/2.0/mlflow/runs/update           {run_id, run_uuid?, status?, end_time?, run_name?}
  PUT  /api/2.0/mlflow-artifacts/artifacts/<experiment>/<run>/artifacts/<path>

Every request is checked: method, path, query parameters, the Authorization
header (basic credentials or a bearer token given on the command line),
Content-Type, JSON syntax, unknown fields, missing required fields, field
types, status enum names, LogBatch's limits (1000 metrics, 100 params, 100
tags, 1000 entries in all, 1 MB body), duplicate param keys in a batch and
changed param values.  A bad request gets MLflow's error shape
({"error_code": ..., "message": ...}, 400/401/404) and is recorded under
"violations" in the dump, so a test can demand there were none.

Control (no auth): POST /_peer/fail {"count": N, "mode": "503"|"drop"|"STATUS"}
makes the next N API requests fail with 503, a dropped connection, or any HTTP
status given as digits ("500", "400": an MLflow error body, INTERNAL_ERROR for
5xx, BAD_REQUEST otherwise); {"count": 0} heals the peer;
GET /_peer/dump returns everything received as JSON.

Usage: mlflow_peer.py --port-file F [--port P] [--user U --password P | --token T]
                      [--fail-status N]
--fail-status N answers every API request with HTTP N from the start (until
POST /_peer/fail changes it).  It writes the port it listens on to F once it is
ready.
"""
import argparse
import base64
import hashlib
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API = "/api/2.0/mlflow/"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts/"
STATUSES = {"RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED"}
MAX_METRICS, MAX_PARAMS, MAX_TAGS, MAX_ENTITIES = 1000, 100, 100, 1000
MAX_BODY = 1024 * 1024

LOCK = threading.Lock()
STATE = {
    "experiments": {},  # id -> {experiment_id, name, lifecycle_stage, tags}
    "runs": {},  # id -> run record
    "requests": [],
    "violations": [],
    "fail": {"count": 0, "mode": "503"},
}
CONFIG = {}
_ids = {"exp": 100, "run": 0}


class Bad(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_str(v):
    return isinstance(v, str)


def is_double(v):
    # proto3 JSON: a number, or one of the strings for non-finite values.
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) or v in (
        "NaN", "Infinity", "-Infinity")


def check_kv_list(name, v, extra=()):
    if not isinstance(v, list):
        raise Bad(400, "INVALID_PARAMETER_VALUE", f"'{name}' must be an array")
    for i, e in enumerate(v):
        check_object(f"{name}[{i}]", e, {"key": (is_str, True), "value": (is_str, True),
                                         **dict(extra)})


def check_object(where, obj, spec):
    """spec: field -> (type check, required)."""
    if not isinstance(obj, dict):
        raise Bad(400, "INVALID_PARAMETER_VALUE", f"{where}: expected a JSON object")
    for k in obj:
        if k not in spec:
            raise Bad(400, "INVALID_PARAMETER_VALUE", f"{where}: unknown field '{k}'")
    for k, (check, required) in spec.items():
        if k not in obj:
            if required:
                raise Bad(400, "INVALID_PARAMETER_VALUE",
                          f"{where}: missing value for required parameter '{k}'")
            continue
        if not check(obj[k]):
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      f"{where}: field '{k}' has the wrong type ({type(obj[k]).__name__})")


def kv_list(v):
    return isinstance(v, list)


TAGS = (kv_list, False)
SPECS = {
    "experiments/create": {"name": (is_str, True), "artifact_location": (is_str, False),
                           "tags": TAGS},
    "runs/create": {"experiment_id": (is_str, True), "user_id": (is_str, False),
                    "run_name": (is_str, False), "start_time": (is_int, False), "tags": TAGS},
    "runs/log-batch": {"run_id": (is_str, True), "metrics": (kv_list, False),
                       "params": (kv_list, False), "tags": TAGS},
    "runs/update": {"run_id": (is_str, True), "run_uuid": (is_str, False),
                    "status": (is_str, False), "end_time": (is_int, False),
                    "run_name": (is_str, False)},
}
GETS = {"experiments/get-by-name": ("experiment_name",), "runs/get": ("run_id",)}


def experiment_json(e):
    return {"experiment_id": e["experiment_id"], "name": e["name"],
            "artifact_location": f"mlflow-artifacts:/{e['experiment_id']}",
            "lifecycle_stage": e["lifecycle_stage"],
            "tags": [{"key": k, "value": v} for k, v in e["tags"].items()]}


def run_json(r):
    info = {k: r[k] for k in ("run_id", "run_name", "experiment_id", "user_id", "status",
                              "start_time", "artifact_uri", "lifecycle_stage")}
    info["run_uuid"] = r["run_id"]
    if r["end_time"] is not None:
        info["end_time"] = r["end_time"]
    return {"info": info, "data": {
        "params": [{"key": k, "value": v} for k, v in r["params"].items()],
        "tags": [{"key": k, "value": v} for k, v in r["tags"].items()],
        "metrics": r["metrics"]}}


def get_run(run_id):
    r = STATE["runs"].get(run_id)
    if not r:
        raise Bad(404, "RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")
    return r


def api_call(method, endpoint, query, body):
    if method == "GET":
        if endpoint not in GETS:
            raise Bad(404, "ENDPOINT_NOT_FOUND", f"GET {endpoint} is not an endpoint here")
        want = GETS[endpoint]
        for k in query:
            if k not in want:
                raise Bad(400, "INVALID_PARAMETER_VALUE", f"unknown query parameter '{k}'")
        for k in want:
            if k not in query or len(query[k]) != 1:
                raise Bad(400, "INVALID_PARAMETER_VALUE",
                          f"missing value for required parameter '{k}'")
        if endpoint == "experiments/get-by-name":
            name = query["experiment_name"][0]
            for e in STATE["experiments"].values():
                if e["name"] == name:
                    return {"experiment": experiment_json(e)}
            raise Bad(404, "RESOURCE_DOES_NOT_EXIST",
                      f"Could not find experiment with name '{name}'")
        return {"run": run_json(get_run(query["run_id"][0]))}

    if endpoint not in SPECS:
        raise Bad(404, "ENDPOINT_NOT_FOUND", f"POST {endpoint} is not an endpoint here")
    check_object(endpoint, body, SPECS[endpoint])
    for f in ("tags", "params"):
        if f in body:
            check_kv_list(f, body[f])
    if endpoint == "experiments/create":
        if not body["name"]:
            raise Bad(400, "INVALID_PARAMETER_VALUE", "experiment name must not be empty")
        for e in STATE["experiments"].values():
            if e["name"] == body["name"]:
                raise Bad(400, "RESOURCE_ALREADY_EXISTS",
                          f"Experiment '{body['name']}' already exists.")
        _ids["exp"] += 1
        eid = str(_ids["exp"])
        STATE["experiments"][eid] = {"experiment_id": eid, "name": body["name"],
                                     "lifecycle_stage": "active",
                                     "tags": {t["key"]: t["value"] for t in body.get("tags", [])}}
        return {"experiment_id": eid}
    if endpoint == "runs/create":
        e = STATE["experiments"].get(body["experiment_id"])
        if not e:
            raise Bad(404, "RESOURCE_DOES_NOT_EXIST",
                      f"No Experiment with id={body['experiment_id']} exists")
        tags = {t["key"]: t["value"] for t in body.get("tags", [])}
        name = body.get("run_name")
        if name and tags.get("mlflow.runName", name) != name:
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      "Both 'run_name' argument and 'mlflow.runName' tag are specified, "
                      "but with different values")
        parent = tags.get("mlflow.parentRunId")
        if parent and parent not in STATE["runs"]:
            raise Bad(400, "INVALID_PARAMETER_VALUE", f"parent run {parent} does not exist")
        _ids["run"] += 1
        rid = hashlib.md5(f"run{_ids['run']}".encode()).hexdigest()
        name = name or tags.get("mlflow.runName") or f"peer-run-{_ids['run']}"
        tags["mlflow.runName"] = name
        r = {"run_id": rid, "run_name": name, "experiment_id": e["experiment_id"],
             "user_id": body.get("user_id", ""), "status": "RUNNING",
             "start_time": body.get("start_time", int(time.time() * 1000)), "end_time": None,
             "artifact_uri": f"mlflow-artifacts:/{e['experiment_id']}/{rid}/artifacts",
             "lifecycle_stage": "active", "tags": tags, "params": {}, "metrics": [],
             "artifacts": {}, "batches": []}
        STATE["runs"][rid] = r
        return {"run": run_json(r)}
    if endpoint == "runs/log-batch":
        r = get_run(body["run_id"])
        metrics, params, tags = (body.get("metrics", []), body.get("params", []),
                                 body.get("tags", []))
        for i, m in enumerate(metrics):
            check_object(f"metrics[{i}]", m, {"key": (is_str, True), "value": (is_double, True),
                                              "timestamp": (is_int, True),
                                              "step": (is_int, False)})
        if len(metrics) > MAX_METRICS:
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      f"A batch logging request can contain at most {MAX_METRICS} metrics. "
                      f"Got {len(metrics)} metrics.")
        if len(params) > MAX_PARAMS:
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      f"A batch logging request can contain at most {MAX_PARAMS} params. "
                      f"Got {len(params)} params.")
        if len(tags) > MAX_TAGS:
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      f"A batch logging request can contain at most {MAX_TAGS} tags. "
                      f"Got {len(tags)} tags.")
        if len(metrics) + len(params) + len(tags) > MAX_ENTITIES:
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      f"A batch logging request can contain at most {MAX_ENTITIES} "
                      "metrics, params and tags in total.")
        keys = [p["key"] for p in params]
        if len(set(keys)) != len(keys):
            raise Bad(400, "INVALID_PARAMETER_VALUE",
                      "Duplicate parameter keys have been submitted")
        for p in params:
            old = r["params"].get(p["key"])
            if old is not None and old != p["value"]:
                raise Bad(400, "INVALID_PARAMETER_VALUE",
                          f"Changing param values is not allowed. Param with key='{p['key']}'")
        for p in params:
            r["params"][p["key"]] = p["value"]
        for t in tags:
            r["tags"][t["key"]] = t["value"]
        for m in metrics:
            r["metrics"].append({"key": m["key"], "value": m["value"],
                                 "timestamp": m["timestamp"], "step": m.get("step", 0)})
        r["batches"].append([len(metrics), len(params), len(tags)])
        return {}
    if endpoint == "runs/update":
        r = get_run(body["run_id"])
        if "status" in body:
            if body["status"] not in STATUSES:
                raise Bad(400, "INVALID_PARAMETER_VALUE", f"bad status '{body['status']}'")
            r["status"] = body["status"]
        if "end_time" in body:
            r["end_time"] = body["end_time"]
        if "run_name" in body:
            r["run_name"] = body["run_name"]
        return {"run_info": run_json(r)["info"]}
    raise Bad(404, "ENDPOINT_NOT_FOUND", endpoint)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mlflow-peer/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read_body(self):
        n = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding"):
            raise Bad(400, "INVALID_PARAMETER_VALUE", "chunked bodies are not expected")
        if n is None:
            return b""
        n = int(n)
        if n > 64 * MAX_BODY:
            raise Bad(400, "INVALID_PARAMETER_VALUE", "body too large")
        return self.rfile.read(n)

    def auth(self):
        h = self.headers.get("Authorization")
        if CONFIG.get("user") is not None:
            want = "Basic " + base64.b64encode(
                f"{CONFIG['user']}:{CONFIG['password']}".encode()).decode()
            kind = "basic"
        elif CONFIG.get("token") is not None:
            want = "Bearer " + CONFIG["token"]
            kind = "bearer"
        else:
            return "none" if h is None else "unexpected"
        return kind if h == want else ("wrong" if h else "missing")

    def control(self, method):
        if method == "GET" and self.path == "/_peer/dump":
            with LOCK:
                self.reply(200, {k: v for k, v in STATE.items() if k != "fail"})
            return
        if method == "POST" and self.path == "/_peer/fail":
            spec = json.loads(self.read_body() or b"{}")
            with LOCK:
                STATE["fail"] = {"count": int(spec.get("count", 1)),
                                 "mode": str(spec.get("mode", "503"))}
            self.reply(200, {})
            return
        self.reply(404, {"error_code": "ENDPOINT_NOT_FOUND", "message": self.path})

    def handle_any(self, method):
        if self.path.startswith("/_peer/"):
            return self.control(method)
        url = urllib.parse.urlsplit(self.path)
        try:
            body = self.read_body()
        except Bad as b:
            self.close_connection = True
            return self.reply(b.status, {"error_code": b.code, "message": b.message})
        with LOCK:
            auth = self.auth()
            entry = {"method": method, "path": url.path, "auth": auth,
                     "content_type": self.headers.get("Content-Type"), "bytes": len(body)}
            STATE["requests"].append(entry)
            fail = STATE["fail"]
            if fail["count"] > 0:
                fail["count"] -= 1
                entry["injected"] = fail["mode"]
                if fail["mode"] == "drop":
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                if fail["mode"].isdigit():
                    code = int(fail["mode"])
                    entry["status"] = code
                    return self.reply(code, {
                        "error_code": "INTERNAL_ERROR" if code >= 500 else "BAD_REQUEST",
                        "message": f"injected HTTP {code}"})
                return self.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE",
                                        "message": "injected failure"})
            try:
                if auth not in ("basic", "bearer", "none"):
                    raise Bad(401, "UNAUTHENTICATED", f"authorization {auth}")
                result = self.dispatch(method, url, body)
                status = 200
            except Bad as b:
                result = {"error_code": b.code, "message": b.message}
                status = b.status
                # Lookups of what does not exist yet are normal protocol.
                if b.code not in ("RESOURCE_DOES_NOT_EXIST", "RESOURCE_ALREADY_EXISTS"):
                    STATE["violations"].append(f"{method} {url.path}: {b.code}: {b.message}")
            entry["status"] = status
        self.reply(status, result)

    def dispatch(self, method, url, body):
        if url.path.startswith(ARTIFACTS):
            if method != "PUT":
                raise Bad(405, "INVALID_PARAMETER_VALUE", "artifacts: only PUT here")
            rel = urllib.parse.unquote(url.path[len(ARTIFACTS):])
            parts = rel.split("/")
            if (len(parts) < 4 or parts[2] != "artifacts" or any(p in ("", ".", "..")
                                                                  for p in parts)):
                raise Bad(400, "INVALID_PARAMETER_VALUE", f"bad artifact path '{rel}'")
            r = get_run(parts[1])
            if r["experiment_id"] != parts[0]:
                raise Bad(400, "INVALID_PARAMETER_VALUE", "experiment id does not match the run")
            r["artifacts"]["/".join(parts[3:])] = {
                "size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
            return {}
        if not url.path.startswith(API):
            raise Bad(404, "ENDPOINT_NOT_FOUND", url.path)
        endpoint = url.path[len(API):]
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if method == "GET":
            if body:
                raise Bad(400, "INVALID_PARAMETER_VALUE", "GET with a body")
            return api_call("GET", endpoint, query, None)
        if method != "POST":
            raise Bad(405, "INVALID_PARAMETER_VALUE", f"{method} not allowed")
        if query:
            raise Bad(400, "INVALID_PARAMETER_VALUE", "POST with a query string")
        if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
            raise Bad(400, "INVALID_PARAMETER_VALUE", "Content-Type must be application/json")
        if len(body) > MAX_BODY:
            raise Bad(400, "INVALID_PARAMETER_VALUE", "request larger than 1 MB")
        try:
            obj = json.loads(body.decode("utf-8"), parse_constant=lambda c: c)
        except (UnicodeDecodeError, ValueError) as e:
            raise Bad(400, "MALFORMED_REQUEST", f"bad JSON: {e}")
        return api_call("POST", endpoint, query, obj)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--token")
    ap.add_argument("--fail-status", type=int, help="answer every API request with this status")
    a = ap.parse_args()
    if a.fail_status is not None:
        STATE["fail"] = {"count": 1 << 62, "mode": str(a.fail_status)}
    if a.user is not None:
        CONFIG["user"], CONFIG["password"] = a.user, a.password or ""
    elif a.token is not None:
        CONFIG["token"] = a.token
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
