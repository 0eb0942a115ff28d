#!/usr/bin/python3
"""bench/learn.py - the learning core against its anchors, side by side in one run.

1. The full default grid search (six families, cv=3, F1 of the threat class) on the
   phishing training split: `netsec search` vs scikit-learn's GridSearchCV with the
   same grids (n_jobs=1 as the reference project runs it, or --sklearn-jobs -1);
   wall time and peak memory of each (as separate processes).
2. Gradient boosting on a synthetic 1,000,000 x 30 binary set, 100 trees of depth 6:
   netsec vs XGBoost `hist` (same threads) vs scikit-learn's GradientBoostingClassifier
   (on 20,000 rows, scaled by 50: it is too slow for the full set).
3. Batch prediction with a 128-tree random forest: rows/s, netsec vs scikit-learn.

    /usr/bin/python3 bench/learn.py [--build build] [--skip-sklearn-search] [--threads 2]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SKLEARN_SEARCH = r'''
import sys, time
import pandas as pd
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier
train = pd.read_csv(sys.argv[1])
x, y = train.drop(columns="Result").to_numpy(float), train["Result"].to_numpy()
grids = {
    "forest": (RandomForestClassifier(), {"n_estimators": [8, 16, 32, 128, 256]}),
    "tree": (DecisionTreeClassifier(), {"criterion": ["gini", "entropy", "log_loss"]}),
    "gbdt": (GradientBoostingClassifier(), {"learning_rate": [.1, .01, .05, .001],
             "subsample": [0.6, 0.7, 0.75, 0.85, 0.9], "n_estimators": [8, 16, 32, 64, 128, 256]}),
    "logreg": (LogisticRegression(), {}),
    "adaboost": (AdaBoostClassifier(), {"learning_rate": [.1, .01, .001],
                 "n_estimators": [8, 16, 32, 64, 128, 256]}),
    "knn": (KNeighborsClassifier(), {"n_neighbors": [3, 5, 7, 9, 11], "weights": ["uniform", "distance"]}),
}
scorer = make_scorer(f1_score, pos_label=-1)
t0 = time.perf_counter()
for name, (est, grid) in grids.items():
    t1 = time.perf_counter()
    gs = GridSearchCV(est, grid, cv=3, scoring=scorer, n_jobs=int(sys.argv[2]))
    gs.fit(x, y)
    print(f"  sklearn {name:9} best {gs.best_score_:.4f} {gs.best_params_} {time.perf_counter() - t1:.1f} s", flush=True)
print(f"TOTAL {time.perf_counter() - t0:.2f}")
'''


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall seconds, peak RSS MiB, stdout)."""
    proc = subprocess.run(["/usr/bin/time", "-f", "@@ %e %M"] + cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    line = [l for l in proc.stderr.splitlines() if l.startswith("@@ ")][-1].split()
    return float(line[1]), float(line[2]) / 1024, proc.stdout


def search(args, work):
    data = pd.read_csv(os.path.join(ROOT, "data", "phisingData.csv"))
    train, _ = train_test_split(data, test_size=0.2, stratify=data["Result"], random_state=42)
    path = os.path.join(work, "train.csv")
    train.to_csv(path, index=False)
    print(f"1. full default grid search, cv=3, phishing training split ({len(train)} rows), {args.threads} threads")
    ours_s, ours_mb, out = timed([os.path.join(args.build, "netsec"), "-q", "search", "--train", path,
                                  "--schema", os.path.join(ROOT, "data", "schema.yaml"),
                                  "--threads", str(args.threads)])
    print(out.rstrip())
    print(f"  netsec search: {ours_s:.2f} s, peak {ours_mb:.0f} MiB")
    if args.skip_sklearn_search:
        print("  scikit-learn GridSearchCV: skipped (--skip-sklearn-search)")
        return
    script = os.path.join(work, "sk_search.py")
    with open(script, "w") as fh:
        fh.write(SKLEARN_SEARCH)
    sk_s, sk_mb, out = timed(["/usr/bin/python3", script, path, str(args.sklearn_jobs)])
    print(out.rstrip())
    print(f"  scikit-learn GridSearchCV (n_jobs={args.sklearn_jobs}): {sk_s:.2f} s, peak {sk_mb:.0f} MiB")
    print(f"  ratio: netsec {sk_s / ours_s:.1f}x faster, {sk_mb / ours_mb:.1f}x less memory")


def gbdt(args, work):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import GradientBoostingClassifier
    n, d = args.rows, 30
    print(f"\n2. gradient boosting, {n} x {d} synthetic binary, 100 trees of depth 6, {args.threads} threads")
    x, y = make_classification(n_samples=n, n_features=d, n_informative=15, random_state=0)
    xf, yf = os.path.join(work, "x.f64"), os.path.join(work, "y.u32")
    np.ascontiguousarray(x, dtype="<f8").tofile(xf)
    y.astype("<u4").tofile(yf)
    params = "n_estimators=100,max_depth=6,learning_rate=0.1"
    out = subprocess.run([os.path.join(args.build, "bench", "bench_learn"), "fit", "gbdt", params,
                          xf, yf, str(n), str(d), str(args.threads)], capture_output=True, text=True, check=True)
    ours = float(out.stdout.split()[1])
    print(f"  netsec gbdt:   {ours:.2f} s")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    xgb_script = ("import sys, time, numpy as np, xgboost as xgb\n"
                  f"x = np.fromfile('{xf}', dtype='<f8').reshape(-1, {d}); y = np.fromfile('{yf}', dtype='<u4')\n"
                  "ts = []\n"
                  "for _ in range(3):\n"
                  "    t0 = time.perf_counter()\n"
                  f"    xgb.XGBClassifier(tree_method='hist', max_depth=6, n_estimators=100, learning_rate=0.1, n_jobs={args.threads}).fit(x, y)\n"
                  "    ts.append(time.perf_counter() - t0)\n"
                  "print(sorted(ts)[1])\n")
    out = subprocess.run(["/usr/bin/python3", "-c", xgb_script], capture_output=True, text=True, env=env)
    if out.returncode == 0:
        xg = float(out.stdout.split()[-1])
        print(f"  xgboost hist:  {xg:.2f} s   (netsec / xgboost = {ours / xg:.2f}; goal <= 1.5)")
    else:
        print(f"  xgboost: not available ({out.stderr.strip()[-200:]})")
    m = n // 50
    t0 = time.perf_counter()
    GradientBoostingClassifier(n_estimators=100, max_depth=6, learning_rate=0.1, random_state=0).fit(x[:m], y[:m])
    sk = (time.perf_counter() - t0) * (n / m)
    print(f"  scikit-learn GradientBoostingClassifier: {sk:.1f} s (measured on {m} rows x {n // m})")
    print(f"  ratio: netsec {sk / ours:.1f}x faster than scikit-learn (goal >= 10)")


def forest_predict(args, work):
    from sklearn.ensemble import RandomForestClassifier
    data = pd.read_csv(os.path.join(ROOT, "data", "phisingData.csv"))
    x, y = data.drop(columns="Result").to_numpy(float), data["Result"].to_numpy()
    xf, yf = os.path.join(work, "px.f64"), os.path.join(work, "py.u32")
    np.ascontiguousarray(x, dtype="<f8").tofile(xf)
    (y > 0).astype("<u4").tofile(yf)
    print(f"\n3. batch prediction, random forest of 128 trees, phishing data ({len(x)} rows)")
    out = subprocess.run([os.path.join(args.build, "bench", "bench_learn"), "predict", "forest",
                          "n_estimators=128", xf, yf, str(len(x)), "30", "1", "20"],
                         capture_output=True, text=True, check=True)
    ours = float(out.stdout.split()[1])
    rf = RandomForestClassifier(n_estimators=128, random_state=0).fit(x, y)
    ts = []
    for _ in range(3):
        t0 = time.perf_counter()
        rf.predict_proba(x)
        ts.append(time.perf_counter() - t0)
    sk = len(x) / sorted(ts)[1]
    print(f"  netsec: {ours:,.0f} rows/s   scikit-learn: {sk:,.0f} rows/s   ratio {ours / sk:.1f}x (goal >= 10)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--skip-sklearn-search", action="store_true")
    ap.add_argument("--sklearn-jobs", type=int, default=1,
                    help="GridSearchCV n_jobs (1, the reference project's setting; -1: all cores)")
    ap.add_argument("--only", choices=["search", "gbdt", "predict"])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.only in (None, "search"):
            search(args, work)
        if args.only in (None, "gbdt"):
            gbdt(args, work)
        if args.only in (None, "predict"):
            forest_predict(args, work)


if __name__ == "__main__":
    main()
