#!/usr/bin/env python3
"""Reads an MLflow file store (an `mlruns` folder) the way MLflow 2.x's
FileStore (mlflow/store/tracking/file_store.py) reads it, and checks every
field MLflow needs, with the types MLflow expects.  MLflow itself is not
installed here, so this script restates the reading rules; docs/tracking.md
says which FileStore function each check mirrors.

    read_mlruns.py ROOT                  check, print a JSON summary
    read_mlruns.py ROOT --expect FILE    also compare with FILE (JSON, below)

Expectation file:
    {"experiments": {NAME: {"runs": {RUN_ID: {
        "status": "FINISHED", "run_name": "...", "parent": RUN_ID or null,
        "params": {K: V}, "tags": {K: V} (a subset), "artifacts": [REL, ...],
        "metrics": {K: [[VALUE_HEX, STEP], ...]}}}}}}
VALUE_HEX is C's "%a" text (float.fromhex reads it; "nan", "inf" too).
Exit status 0 when everything holds, 1 with one line per problem otherwise.
"""
import codecs
import json
import math
import os
import posixpath
import re
import struct
import sys
import urllib.parse
import urllib.request

import yaml

try:
    from yaml import CSafeLoader as Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as Loader

# mlflow/utils/validation.py
NAME_RE = re.compile(r"^[/\w.\- ]*$")
RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
# mlflow/entities/run_status.py (protos/service.proto RunStatus)
RUN_STATUS = {1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}
# FileStore constants
TRASH = ".trash"
RESERVED_EXPERIMENT_FOLDERS = ("tags", "datasets", "traces")
EXPERIMENT_KEYS = {"artifact_location", "creation_time", "experiment_id",
                   "last_update_time", "lifecycle_stage", "name"}
RUN_INFO_KEYS = {"artifact_uri", "end_time", "experiment_id", "lifecycle_stage", "run_id",
                 "run_name", "run_uuid", "start_time", "status", "user_id"}
PERSISTED_RUN_KEYS = RUN_INFO_KEYS | {"tags", "source_type", "source_name",
                                      "entry_point_name", "source_version"}

problems = []


def problem(msg):
    problems.append(msg)


def path_not_unique(name):
    norm = posixpath.normpath(name)
    return norm != name or norm == "." or norm.startswith("..") or norm.startswith("/")


def check_key(kind, name, where):
    if not NAME_RE.match(name) or path_not_unique(name) or len(name) > 250:
        problem(f"{where}: invalid {kind} name {name!r}")


def read_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)


def read_text(path):
    # file_utils.read_file: codecs.open reads in binary mode, so "\r" stays
    with codecs.open(path, mode="r", encoding="utf-8") as f:
        return f.read()


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def resource_files(folder):
    """FileStore._get_resource_files: every file below, as a relative path."""
    out = []
    for root, _, files in os.walk(folder):
        for name in files:
            out.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(out)


def local_path(uri):
    """mlflow.utils.file_utils.local_file_uri_to_path"""
    if uri.startswith("file:"):
        return urllib.request.url2pathname(urllib.parse.urlparse(uri).path)
    return uri


def read_experiment(parent, exp_id):
    where = os.path.join(parent, exp_id)
    if not EXPERIMENT_ID_RE.match(exp_id):
        problem(f"{where}: folder name is not a valid experiment id")
        return None
    meta_path = os.path.join(where, "meta.yaml")
    if not os.path.exists(meta_path):
        problem(f"{where}: no meta.yaml (MLflow: 'Malformed experiment')")
        return None
    meta = read_yaml(meta_path)
    if not isinstance(meta, dict):
        problem(f"{meta_path}: not a mapping")
        return None
    if set(meta) != EXPERIMENT_KEYS:
        problem(f"{meta_path}: keys {sorted(meta)} != {sorted(EXPERIMENT_KEYS)}")
    eid = meta.get("experiment_id")
    if is_int(eid):  # _read_persisted_experiment_dict
        eid = str(eid)
    if eid != exp_id:
        problem(f"{meta_path}: experiment_id {eid!r} is not the folder's name")
    for k in ("name", "artifact_location", "lifecycle_stage"):
        if not isinstance(meta.get(k), str):
            problem(f"{meta_path}: {k} is not a string: {meta.get(k)!r}")
    for k in ("creation_time", "last_update_time"):
        if not is_int(meta.get(k)):
            problem(f"{meta_path}: {k} is not an integer: {meta.get(k)!r}")
    if meta.get("lifecycle_stage") not in ("active", "deleted"):
        problem(f"{meta_path}: lifecycle_stage {meta.get('lifecycle_stage')!r}")
    exp = {"id": exp_id, "name": meta.get("name"), "lifecycle_stage": meta.get("lifecycle_stage"),
           "artifact_location": meta.get("artifact_location"), "runs": {}}
    for entry in sorted(os.listdir(where)):
        full = os.path.join(where, entry)
        if not os.path.isdir(full) or entry in RESERVED_EXPERIMENT_FOLDERS:
            continue
        run = read_run(full, exp_id)
        if run is not None:
            exp["runs"][run["run_id"]] = run
    return exp


def read_run(run_dir, exp_id):
    meta_path = os.path.join(run_dir, "meta.yaml")
    if not os.path.exists(meta_path):
        return None  # FileStore logs "Malformed run" at debug level and skips it
    meta = read_yaml(meta_path)
    if not isinstance(meta, dict):
        problem(f"{meta_path}: not a mapping")
        return None
    keys = set(meta)
    if keys != PERSISTED_RUN_KEYS and keys != PERSISTED_RUN_KEYS | {"deleted_time"}:
        problem(f"{meta_path}: keys {sorted(keys)} are not what FileStore writes")
    # _read_persisted_run_info_dict
    stage = meta.get("lifecycle_stage", "active")
    status = meta.get("status", 1)
    if not is_int(status) or status not in RUN_STATUS:
        problem(f"{meta_path}: status {status!r} is not an MLflow RunStatus number")
        status = 1
    eid = meta.get("experiment_id")
    if is_int(eid):
        eid = str(eid)
    if eid != exp_id:
        problem(f"{meta_path}: experiment_id {eid!r} != {exp_id!r}")
    run_id = meta.get("run_id") or meta.get("run_uuid")
    if meta.get("run_id") != meta.get("run_uuid"):
        problem(f"{meta_path}: run_id != run_uuid")
    if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
        problem(f"{meta_path}: bad run id {run_id!r}")
        return None
    if os.path.basename(run_dir) != run_id:
        problem(f"{meta_path}: run id is not the folder's name")
    # RunInfo.__init__ refuses None for these
    for k in ("user_id", "start_time"):
        if meta.get(k) is None:
            problem(f"{meta_path}: {k} is missing")
    if not is_int(meta.get("start_time")):
        problem(f"{meta_path}: start_time is not an integer")
    end = meta.get("end_time")
    if end is not None and not is_int(end):
        problem(f"{meta_path}: end_time is neither null nor an integer")
    for k in ("artifact_uri", "run_name", "user_id", "lifecycle_stage"):
        if not isinstance(meta.get(k), str):
            problem(f"{meta_path}: {k} is not a string: {meta.get(k)!r}")
    if meta.get("tags") != []:
        problem(f"{meta_path}: tags must be [] (tags live in files)")
    if meta.get("source_type") != 4:
        problem(f"{meta_path}: source_type {meta.get('source_type')!r} != 4 (LOCAL)")
    for k in ("source_name", "entry_point_name", "source_version"):
        if meta.get(k) != "":
            problem(f"{meta_path}: {k} must be ''")
    if RUN_STATUS[status] == "RUNNING" and end is not None:
        problem(f"{meta_path}: a RUNNING run has an end_time")
    if RUN_STATUS[status] != "RUNNING" and end is None:
        problem(f"{meta_path}: an ended run has no end_time")

    run = {"run_id": run_id, "run_name": meta.get("run_name"), "status": RUN_STATUS[status],
           "lifecycle_stage": stage, "start_time": meta.get("start_time"), "end_time": end,
           "user_id": meta.get("user_id"), "params": {}, "tags": {}, "metrics": {},
           "artifacts": []}
    for folder, kind in (("params", "param"), ("tags", "tag")):
        base = os.path.join(run_dir, folder)
        for rel in resource_files(base) if os.path.isdir(base) else []:
            check_key(kind, rel, run_dir)
            run[folder][rel] = read_text(os.path.join(base, rel))
    base = os.path.join(run_dir, "metrics")
    for rel in resource_files(base) if os.path.isdir(base) else []:
        check_key("metric", rel, run_dir)
        history = []
        with codecs.open(os.path.join(base, rel), mode="r", encoding="utf-8") as f:
            lines = f.readlines()  # file_utils.read_file_lines
        if not lines:
            problem(f"{run_dir}: metric {rel!r} is empty (MLflow: 'malformed')")
        for line in lines:  # FileStore._get_metric_from_line
            parts = line.strip().split(" ")
            if len(parts) not in (2, 3):
                problem(f"{run_dir}: metric {rel!r} line {line!r} has {len(parts)} fields")
                continue
            try:
                ts, val = int(parts[0]), float(parts[1])
                step = int(parts[2]) if len(parts) == 3 else 0
            except ValueError as e:
                problem(f"{run_dir}: metric {rel!r} line {line!r}: {e}")
                continue
            history.append([ts, val.hex(), step])
        run["metrics"][rel] = history
    if run["tags"].get("mlflow.runName") not in (None, run["run_name"]):
        problem(f"{run_dir}: tag mlflow.runName != run_name")
    art = local_path(meta.get("artifact_uri", ""))
    if os.path.isdir(art):
        run["artifacts"] = resource_files(art)
    return run


def same_float(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)


def compare(store, expect):
    active = [e for e in store["experiments"] if e["lifecycle_stage"] == "active"]
    for name, want in expect.get("experiments", {}).items():
        hits = [e for e in active if e["name"] == name]
        if len(hits) != 1:
            problem(f"experiment {name!r}: {len(hits)} active experiments have this name")
            continue
        exp = hits[0]
        for run_id, w in want.get("runs", {}).items():
            run = exp["runs"].get(run_id)
            if run is None:
                problem(f"experiment {name!r}: run {run_id} not found")
                continue
            where = f"run {run_id}"
            for k in ("status", "run_name"):
                if k in w and w[k] != run[k]:
                    problem(f"{where}: {k} {run[k]!r} != {w[k]!r}")
            if "params" in w and w["params"] != run["params"]:
                problem(f"{where}: params {run['params']!r} != {w['params']!r}")
            for k, v in w.get("tags", {}).items():
                if run["tags"].get(k) != v:
                    problem(f"{where}: tag {k!r} = {run['tags'].get(k)!r}, expected {v!r}")
            if "parent" in w and run["tags"].get("mlflow.parentRunId") != w["parent"]:
                problem(f"{where}: parent {run['tags'].get('mlflow.parentRunId')!r}")
            if "artifacts" in w and sorted(w["artifacts"]) != run["artifacts"]:
                problem(f"{where}: artifacts {run['artifacts']!r} != {sorted(w['artifacts'])!r}")
            if "metrics" in w:
                if sorted(w["metrics"]) != sorted(run["metrics"]):
                    problem(f"{where}: metric keys {sorted(run['metrics'])} != "
                            f"{sorted(w['metrics'])}")
                for k, hist in w["metrics"].items():
                    got = run["metrics"].get(k, [])
                    if len(got) != len(hist):
                        problem(f"{where}: metric {k!r} has {len(got)} values, not {len(hist)}")
                        continue
                    for (_, gv, gs), (wv, ws) in zip(got, hist):
                        if not same_float(float.fromhex(gv), float.fromhex(wv)) or gs != ws:
                            problem(f"{where}: metric {k!r} read {gv} step {gs}, "
                                    f"logged {wv} step {ws}")


def main(argv):
    if len(argv) not in (2, 4) or (len(argv) == 4 and argv[2] != "--expect"):
        print(__doc__, file=sys.stderr)
        return 2
    root = argv[1]
    if not os.path.isdir(root):
        print(f"{root}: not a folder", file=sys.stderr)
        return 1
    store = {"root": root, "experiments": []}
    # FileStore._get_active_experiments / _get_deleted_experiments
    for entry in sorted(os.listdir(root)):
        full = os.path.join(root, entry)
        if not os.path.isdir(full) or entry.endswith(TRASH) or entry == "models":
            continue
        exp = read_experiment(root, entry)
        if exp:
            store["experiments"].append(exp)
    trash = os.path.join(root, TRASH)
    if not os.path.isdir(trash):
        problem(f"{root}: no .trash folder (FileStore.__init__ makes one)")
    else:
        for entry in sorted(os.listdir(trash)):
            if os.path.isdir(os.path.join(trash, entry)):
                exp = read_experiment(trash, entry)
                if exp:
                    store["experiments"].append(exp)
    default = [e for e in store["experiments"] if e["id"] == "0"]
    if len(default) != 1 or default[0]["name"] != "Default":
        problem(f"{root}: no Default experiment with id '0'")
    names = [e["name"] for e in store["experiments"] if e["lifecycle_stage"] == "active"]
    for n in set(names):
        if names.count(n) > 1:
            problem(f"{root}: {names.count(n)} active experiments are called {n!r}")
    if len(argv) == 4:
        with open(argv[3], encoding="utf-8") as f:
            compare(store, json.load(f))
    json.dump(store, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    print()
    for p in problems:
        print("read_mlruns: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
