#!/usr/bin/python3
"""bench/store.py - the MongoDB store against SQLite and against pymongo, in one run.

On the bundled phishing data repeated to 1,000,000 rows (31 int columns, data/schema.yaml):

1. `netsec --store sqlite:FILE ingest` and `netsec --store mongodb://127.0.0.1:PORT/DB ingest`,
   each into a fresh store (a new SQLite file, a new MongoDB database);
2. read-back of both with `netsec export -c phishing -o FILE`;
3. the same server through pymongo: the CSV parsed with the csv module into dicts (numbers as
   ints) and `insert_many(batch, ordered=False)` in batches of netsec's own batch size (the
   ingest pipeline's 32768 cells / 31 columns = 1057 rows, lib/store/store_pipe.c; store_mongo.c
   sends each batch as one unordered bulk insert) into a fresh collection, and `find()`
   iterating every document.

The server is one CongoDB (scripts/test-servers/mongo.sh: in memory, JavaScript), started here
and stopped by its pid at the end, also on errors.  Each netsec timing is a whole process
(start, connection and ping included); pymongo's include the client's connection.  Every step
is first run once on 100,000 rows (a probe, also the server's JIT warm-up); the number of
1,000,000-row repetitions is then chosen so that the whole run stays within --budget seconds.
Prints per-run times, medians, rows/s, CPU seconds (netsec's process, pymongo's client, the
server) and the ratios netsec/pymongo and mongo/sqlite.

    /usr/bin/python3 bench/store.py [--build build] [--rows 1000000] [--budget 540] [--max-runs 5]

Needs node/npm (CongoDB) and Debian python3-pymongo with its C extensions python3-pymongo-ext and
python3-bson-ext (scripts/bootstrap.sh --bench).
"""
import argparse
import csv
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "data", "phisingData.csv")
SCHEMA = os.path.join(ROOT, "data", "schema.yaml")
SERVERS = os.path.join(ROOT, "scripts", "test-servers", "mongo.sh")
PIPE_BATCH_CELLS = 32768  # lib/store/store_pipe.c: rows per batch = cells / columns
PIPE_BATCH_MAX_ROWS = 4096

STEPS = [  # (key, label); the order of one repetition
    ("sq_ingest", "netsec ingest  sqlite "),
    ("sq_export", "netsec export  sqlite "),
    ("mg_ingest", "netsec ingest  mongodb"),
    ("mg_export", "netsec export  mongodb"),
    ("py_ingest", "pymongo insert_many   "),
    ("py_read", "pymongo find()        "),
]


def make_csv(path, rows):
    """The bundled file's data rows repeated (and cut) to `rows` rows, under its header."""
    with open(DATA, "rb") as fh:
        header, *body = fh.read().splitlines(keepends=True)
    with open(path, "wb") as out:
        out.write(header)
        left = rows
        while left > 0:
            part = body[:left]
            out.writelines(part)
            left -= len(part)


def count_lines(path):
    n = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def server_cpu(pid):
    """utime + stime of the server process, in seconds (from /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


class Bench:
    def __init__(self, args, work, port, server_pid):
        self.args = args
        self.work = work
        self.port = port
        self.server_pid = server_pid
        self.netsec = os.path.join(args.build, "netsec")
        self.seq = 0
        import pymongo
        self.client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=10000)

    def _fresh(self):
        self.seq += 1
        return self.seq

    def _netsec(self, store, argv, what):
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        s0 = server_cpu(self.server_pid)
        t0 = time.perf_counter()
        proc = subprocess.run([self.netsec, "--store", store] + argv, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        s1 = server_cpu(self.server_pid)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode != 0:
            raise RuntimeError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-1500:]}")
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        return wall, cpu, s1 - s0, proc.stdout

    def run_once(self, path, rows):
        """One repetition of every step on `path`; returns {key: (wall, own cpu, server cpu)}."""
        res = {}
        k = self._fresh()
        # SQLite: a new file.
        db = os.path.join(self.work, f"bench{k}.db")
        store = f"sqlite:{db}"
        wall, cpu, _, out = self._netsec(store, ["ingest", path, "--schema", SCHEMA], "sqlite ingest")
        if f"ingested {rows} rows" not in out:
            raise RuntimeError(f"sqlite ingest: unexpected output {out!r}")
        res["sq_ingest"] = (wall, cpu, 0.0)
        exp = os.path.join(self.work, "export.csv")
        wall, cpu, _, _ = self._netsec(store, ["export", "-c", "phishing", "-o", exp], "sqlite export")
        res["sq_export"] = (wall, cpu, 0.0)
        if count_lines(exp) != rows + 1:
            raise RuntimeError("sqlite export: wrong line count")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        # MongoDB through netsec: a new database.
        dbname = f"bench_ns_{k}"
        store = f"mongodb://127.0.0.1:{self.port}/{dbname}"
        wall, cpu, srv, out = self._netsec(store, ["ingest", path, "--schema", SCHEMA], "mongodb ingest")
        if f"ingested {rows} rows" not in out:
            raise RuntimeError(f"mongodb ingest: unexpected output {out!r}")
        res["mg_ingest"] = (wall, cpu, srv)
        wall, cpu, srv, _ = self._netsec(store, ["export", "-c", "phishing", "-o", exp], "mongodb export")
        res["mg_export"] = (wall, cpu, srv)
        if count_lines(exp) != rows + 1:
            raise RuntimeError("mongodb export: wrong line count")
        os.unlink(exp)
        self.client.drop_database(dbname)  # keep the in-memory server small
        # MongoDB through pymongo: a new database and collection.
        pyname = f"bench_py_{k}"
        res["py_ingest"] = self._py_ingest(path, pyname, rows)
        res["py_read"] = self._py_read(pyname, rows)
        self.client.drop_database(pyname)
        return res

    def _py_ingest(self, path, dbname, rows):
        batch_rows = self.args.batch
        s0, c0 = server_cpu(self.server_pid), time.process_time()
        t0 = time.perf_counter()
        coll = self.client[dbname]["phishing"]
        n = 0
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            batch = []
            for rec in reader:
                batch.append({name: int(v) for name, v in zip(header, rec)})
                if len(batch) == batch_rows:
                    n += len(coll.insert_many(batch, ordered=False).inserted_ids)
                    batch = []
            if batch:
                n += len(coll.insert_many(batch, ordered=False).inserted_ids)
        wall = time.perf_counter() - t0
        if n != rows:
            raise RuntimeError(f"pymongo inserted {n} rows, wanted {rows}")
        return wall, time.process_time() - c0, server_cpu(self.server_pid) - s0

    def _py_read(self, dbname, rows):
        s0, c0 = server_cpu(self.server_pid), time.process_time()
        t0 = time.perf_counter()
        n = 0
        for _ in self.client[dbname]["phishing"].find():
            n += 1
        wall = time.perf_counter() - t0
        if n != rows:
            raise RuntimeError(f"pymongo read {n} rows, wanted {rows}")
        return wall, time.process_time() - c0, server_cpu(self.server_pid) - s0


def print_run(label, res, rows):
    print(f"  {label}: " + ", ".join(f"{key.split('_')[0]}/{key.split('_')[1]} {res[key][0]:.2f} s"
                                      for key, _ in STEPS) + f"  ({rows:,} rows)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--probe-rows", type=int, default=100_000)
    ap.add_argument("--budget", type=float, default=540.0,
                    help="seconds for the whole run (default 540: under ~10 minutes)")
    ap.add_argument("--max-runs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=0,
                    help="pymongo insert_many batch (default: netsec's, 32768 cells / columns)")
    args = ap.parse_args()
    t_start = time.perf_counter()

    try:
        import pymongo
    except ImportError:
        sys.exit("bench/store.py: needs pymongo (Debian python3-pymongo: scripts/bootstrap.sh --bench)")
    if not pymongo.has_c():
        print("warning: pymongo runs without its C extensions (Debian python3-pymongo-ext and "
              "python3-bson-ext): its figures are those of pure-Python BSON", file=sys.stderr)
    with open(DATA, newline="") as fh:
        n_cols = len(next(csv.reader(fh)))
    if args.batch <= 0:
        args.batch = max(1, min(PIPE_BATCH_MAX_ROWS, PIPE_BATCH_CELLS // n_cols))
    if not os.access(os.path.join(args.build, "netsec"), os.X_OK):
        sys.exit(f"bench/store.py: no {args.build}/netsec (scripts/build.sh {args.build})")

    # Stop the server on SIGTERM/SIGINT too: turn them into SystemExit so `finally` runs.
    def on_signal(signum, _frame):
        raise SystemExit(f"bench/store.py: stopped by signal {signum}")
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    work = tempfile.mkdtemp(prefix="netsec-bench-store-")
    pidfile = os.path.join(work, "congodb.pid")
    try:
        big = os.path.join(work, f"phishing-{args.rows}.csv")
        probe = os.path.join(work, f"phishing-{args.probe_rows}.csv")
        make_csv(big, args.rows)
        make_csv(probe, args.probe_rows)
        print(f"file: {big}, {os.path.getsize(big) / 1e6:.0f} MB, {args.rows:,} rows x {n_cols} columns "
              f"(data/phisingData.csv repeated), schema data/schema.yaml")
        subprocess.run(["bash", SERVERS, "start", os.path.join(work, "congodb.port"), pidfile], check=True)
        with open(os.path.join(work, "congodb.port")) as fh:
            port = int(fh.read())
        with open(pidfile) as fh:
            server_pid = int(fh.read())
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        print(f"server: CongoDB (@push.rocks/smartmongo 2.2.0, in memory, node {node}) on 127.0.0.1:{port}, "
              f"pid {server_pid}; pymongo {pymongo.version} (C extension: {pymongo.has_c()}), insert_many batch {args.batch} rows "
              f"(netsec's: {PIPE_BATCH_CELLS} cells / {n_cols} columns), ordered=False")
        bench = Bench(args, work, port, server_pid)

        # Probe: one pass on the small file (also warms the server's JIT up).
        t0 = time.perf_counter()
        res = bench.run_once(probe, args.probe_rows)
        probe_s = time.perf_counter() - t0
        print_run("probe", res, args.probe_rows)
        # One 1M repetition is estimated from the probe, with a margin for non-linear costs.
        est = probe_s * args.rows / args.probe_rows * 1.3
        left = args.budget - (time.perf_counter() - t_start)
        runs = int(max(1, min(args.max_runs, left // est)))
        print(f"probe took {probe_s:.1f} s; one {args.rows:,}-row repetition estimated at {est:.0f} s; "
              f"{left:.0f} s of the {args.budget:.0f} s budget left -> {runs} repetition(s), medians below",
              flush=True)

        results = []
        for i in range(runs):
            if i > 0:
                # Stop early if the measured repetitions say the next would overrun the budget.
                per = (time.perf_counter() - t_rep0) / i
                if time.perf_counter() - t_start + per > args.budget:
                    print(f"  stopping after {i} repetition(s): the next would pass the budget")
                    break
            else:
                t_rep0 = time.perf_counter()
            res = bench.run_once(big, args.rows)
            results.append(res)
            print_run(f"run {i + 1}", res, args.rows)

        n = len(results)
        med = {key: tuple(statistics.median(r[key][j] for r in results) for j in range(3)) for key, _ in STEPS}
        rate = {key: args.rows / med[key][0] for key, _ in STEPS}
        print(f"\n{args.rows:,} rows, medians of {n} run(s) (wall time of each whole step; CPU: the "
              f"netsec process or the pymongo client / the server)")
        for key, label in STEPS:
            wall, own, srv = med[key]
            srv_txt = f" / {srv:6.2f} s" if key.startswith(("mg", "py")) else ""
            print(f"  {label} {wall:7.2f} s  {rate[key]:>10,.0f} rows/s   CPU {own:6.2f} s{srv_txt}")
        print("ratios (rows/s over rows/s; > 1: the first is faster)")
        print(f"  netsec/pymongo  ingest    {rate['mg_ingest'] / rate['py_ingest']:.2f}x"
              f"   read-back (export vs find) {rate['mg_export'] / rate['py_read']:.2f}x")
        print(f"  mongo/sqlite    ingest    {rate['mg_ingest'] / rate['sq_ingest']:.3f}x"
              f"  read-back {rate['mg_export'] / rate['sq_export']:.3f}x"
              f"   (sqlite is {rate['sq_ingest'] / rate['mg_ingest']:.1f}x / "
              f"{rate['sq_export'] / rate['mg_export']:.1f}x faster)")
        print("notes: netsec export writes a CSV file and reads sorted by _id; pymongo find() only iterates "
              "(unsorted, decoded to dicts). netsec timings include process start, connection and ping.")
        print(f"total {time.perf_counter() - t_start:.0f} s")
    finally:
        subprocess.run(["bash", SERVERS, "stop", pidfile])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
