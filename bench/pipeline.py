#!/usr/bin/python3
"""bench/pipeline.py - the whole training pipeline, netsec against the reference shape.

The reference (written here in our own words with Debian's scikit-learn and
scipy) does what the Python project netsec replaces does, stage by stage:
read the CSV with pandas, split 80/20, a two-sample KS drift check per column,
KNNImputer(n_neighbors=3) fitted on the training split, GridSearchCV (cv=3)
over the same six families and grids, the best family by cross-validation,
refit, test metrics, and the fitted model pickled to disk.

netsec runs `netsec train --data ... --schema ...` (same stages, same grids,
cv=3, F1 of the threat class).  So that the two chosen models are scored on
the same rows, the reference reads the train/test split netsec wrote
(artifacts/<run>/data_ingestion/ingested/{train,test}.csv).

    /usr/bin/python3 bench/pipeline.py [--build build] [--runs 1] [--jobs 1]

Prints both wall times, the ratio, and each side's chosen family and test F1.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

REFERENCE = r'''
import pickle, sys, time
import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import KNNImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, make_scorer
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

t0 = time.perf_counter()
train, test = pd.read_csv(sys.argv[1]), pd.read_csv(sys.argv[2])
jobs = int(sys.argv[4])
target = "Result"
drifted = sum(ks_2samp(train[c], test[c]).pvalue < 0.05 for c in train.columns if c != target)
xtr, ytr = train.drop(columns=target), train[target].to_numpy()
xte, yte = test.drop(columns=target), test[target].to_numpy()
prep = Pipeline([("imputer", KNNImputer(n_neighbors=3))]).fit(xtr)
xtr, xte = prep.transform(xtr), prep.transform(xte)
candidates = {
    "forest": (RandomForestClassifier(), {"n_estimators": [8, 16, 32, 128, 256]}),
    "tree": (DecisionTreeClassifier(), {"criterion": ["gini", "entropy", "log_loss"]}),
    "gbdt": (GradientBoostingClassifier(), {"learning_rate": [.1, .01, .05, .001],
             "subsample": [0.6, 0.7, 0.75, 0.85, 0.9], "n_estimators": [8, 16, 32, 64, 128, 256]}),
    "logreg": (LogisticRegression(), {}),
    "adaboost": (AdaBoostClassifier(), {"learning_rate": [.1, .01, .001],
                 "n_estimators": [8, 16, 32, 64, 128, 256]}),
    "knn": (KNeighborsClassifier(), {"n_neighbors": [3, 5, 7, 9, 11], "weights": ["uniform", "distance"]}),
}
threat_f1 = make_scorer(f1_score, pos_label=-1)
results = {}
for name, (est, grid) in candidates.items():
    gs = GridSearchCV(est, grid, cv=3, scoring=threat_f1, n_jobs=jobs).fit(xtr, ytr)
    results[name] = gs
best = max(results, key=lambda n: results[n].best_score_)
model = results[best].best_estimator_  # refit on the whole training split
test_f1 = f1_score(yte, model.predict(xte), pos_label=-1)
with open(sys.argv[3], "wb") as fp:
    pickle.dump((prep, model), fp)
print(f"REF {time.perf_counter() - t0:.3f} {best} {test_f1:.6f} drifted={drifted}")
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", type=int, default=1, help="netsec runs (median); the reference runs once")
    ap.add_argument("--jobs", type=int, default=1, help="GridSearchCV n_jobs (the reference uses 1)")
    args = ap.parse_args()
    netsec = os.path.join(args.build, "netsec")
    data = os.path.join(ROOT, "data", "phisingData.csv")
    schema = os.path.join(ROOT, "data", "schema.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        times, out = [], ""
        for i in range(args.runs):
            t0 = time.perf_counter()
            p = subprocess.run([netsec, "train", "--data", data, "--schema", schema,
                                "--artifacts", f"{tmp}/artifacts", "--registry", f"{tmp}/models",
                                "--tracking", f"file:{tmp}/mlruns", "--force"],
                               capture_output=True, text=True, cwd=tmp)
            times.append(time.perf_counter() - t0)
            if p.returncode != 0:
                sys.exit(f"netsec train failed: {p.stderr}")
            out = p.stdout
        run_dir = [l.split()[-1] for l in out.splitlines() if l.startswith("artifacts")][-1]
        chosen = [l for l in out.splitlines() if l.startswith("chosen by")][0]
        import json
        report = json.load(open(os.path.join(run_dir, "model_trainer", "report.json")))
        ns_f1 = report["chosen"]["test"]["f1"]
        ns_family = report["chosen"]["family"]
        ingested = os.path.join(run_dir, "data_ingestion", "ingested")
        p = subprocess.run(["/usr/bin/python3", "-c", REFERENCE, f"{ingested}/train.csv",
                            f"{ingested}/test.csv", f"{tmp}/model.pkl", str(args.jobs)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"reference failed: {p.stderr}")
        ref = [l for l in p.stdout.splitlines() if l.startswith("REF")][0].split()
        ref_time, ref_family, ref_f1 = float(ref[1]), ref[2], float(ref[3])
    ns_time = statistics.median(times)
    print(f"netsec train      {ns_time:8.2f} s (median of {args.runs})  chosen {ns_family:9} test F1 {ns_f1:.4f}")
    print(f"reference (sklearn n_jobs={args.jobs}) {ref_time:8.2f} s  chosen {ref_family:9} test F1 {ref_f1:.4f}")
    print(f"ratio             {ref_time / ns_time:8.1f}x faster end to end; "
          f"F1 difference {ns_f1 - ref_f1:+.4f} (goal >= -0.005)")
    print(f"  ({chosen})")


if __name__ == "__main__":
    main()
