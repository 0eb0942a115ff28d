#!/usr/bin/python3
"""bench/serve.py - the HTTP service against a FastAPI re-implementation of the reference app.

The reference app (written here in our own words with Debian's python3-fastapi,
python3-uvicorn, python3-multipart and python3-sklearn) answers POST /predict with an
uploaded CSV: it reads the upload whole with pandas, unpickles the preprocessor and the
model on every request, predicts, writes the result to one shared output file and
returns it as an HTML table. Two variants run:
  reference   as the reference does (model unpickled per request, shared output file)
  fair        the model loaded once, no output file
netsec serves the same model family (a 100-tree random forest with scikit-learn's
defaults) trained on the same data.

Measured, one server at a time on this machine:
  1. POST /predict with the 11,055-row phishing CSV: median latency of N requests.
  2. POST /predict/json with one record: wrk, 2 threads, 64 connections (netsec and
     the fair FastAPI variant's JSON endpoint).
  3. netsec's memory (RSS) after warm-up and after --million requests of /predict/json.

    /usr/bin/python3 bench/serve.py [--build build] [--n 20] [--duration 10] [--million 1000000]
"""
import argparse
import os
import pickle
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "phisingData.csv")
SCHEMA = os.path.join(ROOT, "data", "schema.yaml")

APP = r'''
import io, os, pickle, sys
import pandas as pd
from fastapi import FastAPI, File, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

MODEL_PATH = os.environ["BENCH_MODEL"]
OUT_PATH = os.environ["BENCH_OUT"]
PER_REQUEST = os.environ["BENCH_VARIANT"] == "reference"
app = FastAPI()
loaded = None if PER_REQUEST else pickle.load(open(MODEL_PATH, "rb"))

def model():
    return pickle.load(open(MODEL_PATH, "rb")) if PER_REQUEST else loaded

@app.post("/predict")
async def predict(file: UploadFile = File(...)):
    frame = pd.read_csv(io.BytesIO(await file.read()))
    prep, est = model()
    xt = prep.transform(frame.drop(columns=["Result"], errors="ignore"))
    proba = est.predict_proba(xt)
    frame["predicted_column"] = est.classes_[proba.argmax(axis=1)]
    frame["threat_probability"] = proba[:, list(est.classes_).index(-1)]
    if PER_REQUEST:
        frame.to_csv(OUT_PATH, index=False)  # one shared output file, as the reference
    return HTMLResponse(frame.to_html(classes="table table-striped"))

@app.post("/predict/json")
async def predict_json(request: Request):
    record = await request.json()
    prep, est = model()
    x = pd.DataFrame([record])
    proba = est.predict_proba(prep.transform(x))[0]
    label = est.classes_[proba.argmax()]
    return JSONResponse({"predicted_column": str(label),
                         "threat_probability": float(proba[list(est.classes_).index(-1)])})
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=30):
    t = time.time()
    while time.time() - t < timeout:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"server on {port} did not start")


def curl_times(url, n, form=True):
    times = []
    for _ in range(n):
        args = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"]
        args += ["-F", f"file=@{DATA}"] if form else []
        out = subprocess.run(args + [url], capture_output=True, text=True).stdout.split()
        if out[0] != "200":
            sys.exit(f"{url}: HTTP {out[0]}")
        times.append(float(out[1]))
    return times


def wrk(url, body_file, duration, connections=64, threads=2):
    lua = body_file + ".lua"
    with open(lua, "w") as fp:
        fp.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                 f'wrk.body = io.open("{body_file}"):read("*a")\n')
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-s", lua, url], capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = dict(re.findall(r"\s+(50|90|99)%\s+([\d.]+\w+)", out))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, lat, total, int(non2xx.group(1)) if non2xx else 0


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as fp:
        return int(re.search(r"VmRSS:\s+(\d+)", fp.read()).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--n", type=int, default=20, help="/predict requests per server")
    ap.add_argument("--duration", type=int, default=10, help="wrk seconds")
    ap.add_argument("--million", type=int, default=1_000_000, help="requests for the memory check (0: skip)")
    ap.add_argument("--netsec-only", action="store_true", help="skip the FastAPI servers")
    ap.add_argument("--workers", type=int, default=0, help="netsec serve --workers (0: default)")
    args = ap.parse_args()
    netsec = os.path.join(args.build, "netsec")
    tmp = tempfile.mkdtemp(prefix="netsec-bench-serve-")
    env = dict(os.environ, NETSEC_REGISTRY=f"{tmp}/models", NETSEC_STORE=f"sqlite:{tmp}/store.db")

    # The same family on both sides: a 100-tree forest, scikit-learn's defaults.
    subprocess.run([netsec, "-q", "fit", "--family", "forest", "--train", DATA, "--schema", SCHEMA,
                    "-o", f"{tmp}/forest.nsm"], check=True, env=env)
    subprocess.run([netsec, "-q", "models", "add", f"{tmp}/forest.nsm", "--promote",
                    "--registry", f"{tmp}/models"], check=True, env=env)
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import KNNImputer
    from sklearn.pipeline import Pipeline
    frame = pd.read_csv(DATA)
    x, y = frame.drop(columns=["Result"]), frame["Result"]
    prep = Pipeline([("imputer", KNNImputer(n_neighbors=3))]).fit(x)
    est = RandomForestClassifier().fit(prep.transform(x), y)
    with open(f"{tmp}/model.pkl", "wb") as fp:
        pickle.dump((prep, est), fp)
    record = frame.drop(columns=["Result"]).iloc[0].to_dict()
    with open(f"{tmp}/record.json", "w") as fp:
        import json
        json.dump({k: int(v) for k, v in record.items()}, fp)
    with open(f"{tmp}/app.py", "w") as fp:
        fp.write(APP)

    results = {}
    # netsec
    port = free_port()
    srv = subprocess.Popen([netsec, "-q", "serve", "--host", "127.0.0.1", "--port", str(port)]
                           + (["--workers", str(args.workers)] if args.workers else []),
                           env=env, cwd=tmp)
    wait_port(port)
    try:
        curl_times(f"http://127.0.0.1:{port}/predict", 3)  # warm-up
        results["netsec"] = curl_times(f"http://127.0.0.1:{port}/predict", args.n)
        rps, lat, total, bad = wrk(f"http://127.0.0.1:{port}/predict/json", f"{tmp}/record.json", args.duration)
        print(f"netsec /predict/json: {rps:,.0f} req/s, p50 {lat.get('50')}, p90 {lat.get('90')}, "
              f"p99 {lat.get('99')} ({total} requests, {bad} non-2xx)", flush=True)
        if args.million:
            rss0 = rss_kib(srv.pid)
            done = 0
            while done < args.million:
                _, _, n, bad = wrk(f"http://127.0.0.1:{port}/predict/json", f"{tmp}/record.json", 10)
                done += n
                print(f"  memory check: {done:,} requests, RSS {rss_kib(srv.pid):,} KiB "
                      f"(after warm-up {rss0:,} KiB)", flush=True)
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait()
    # FastAPI, both variants
    for variant in () if args.netsec_only else ("fair", "reference"):
        port = free_port()
        fenv = dict(os.environ, BENCH_MODEL=f"{tmp}/model.pkl", BENCH_OUT=f"{tmp}/prediction_output.csv",
                    BENCH_VARIANT=variant, PYTHONPATH=tmp)
        srv = subprocess.Popen(["/usr/bin/python3", "-m", "uvicorn", "app:app", "--host", "127.0.0.1",
                                "--port", str(port), "--workers", "2", "--log-level", "warning"],
                               env=fenv, cwd=tmp)
        wait_port(port)
        try:
            curl_times(f"http://127.0.0.1:{port}/predict", 2)
            results[f"fastapi-{variant}"] = curl_times(f"http://127.0.0.1:{port}/predict", args.n)
            if variant == "fair":
                rps, lat, total, bad = wrk(f"http://127.0.0.1:{port}/predict/json", f"{tmp}/record.json",
                                           args.duration)
                print(f"fastapi-fair /predict/json: {rps:,.0f} req/s, p50 {lat.get('50')}, "
                      f"p99 {lat.get('99')} ({total} requests, {bad} non-2xx)", flush=True)
        finally:
            srv.send_signal(signal.SIGTERM)
            srv.wait()
    if args.netsec_only:
        print(f"netsec /predict median {statistics.median(results['netsec']) * 1000:.1f} ms")
        return
    base = statistics.median(results["netsec"])
    print(f"\nPOST /predict, 11,055-row CSV, median of {args.n} (2 cores, one server at a time):")
    for name, t in results.items():
        m = statistics.median(t)
        print(f"  {name:18} {m * 1000:9.1f} ms   {m / base:6.1f}x netsec")


if __name__ == "__main__":
    main()
