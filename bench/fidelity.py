#!/usr/bin/python3
"""bench/fidelity.py - each netsec family against scikit-learn on the same split
and parameters, in the same run.

For the phishing data (fixed stratified 80/20 split, seed 42) it prints each
family's test F1 of the threat class (-1) for netsec and scikit-learn, the
difference, and both fit times; for NSL-KDD (if present) the macro-F1 with the
three categorical columns one-hot encoded (fitted on the training split).

    /usr/bin/python3 bench/fidelity.py [--netsec build/netsec] [--nsl PATH]

Needs Debian's python3-sklearn and python3-pandas (scripts/bootstrap.sh --bench).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import OneHotEncoder
from sklearn.tree import DecisionTreeClassifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NSL_NAMES = ("duration protocol_type service flag src_bytes dst_bytes land wrong_fragment urgent hot "
             "num_failed_logins logged_in num_compromised root_shell su_attempted num_root "
             "num_file_creations num_shells num_access_files num_outbound_cmds is_host_login "
             "is_guest_login count srv_count serror_rate srv_serror_rate rerror_rate srv_rerror_rate "
             "same_srv_rate diff_srv_rate srv_diff_host_rate dst_host_count dst_host_srv_count "
             "dst_host_same_srv_rate dst_host_diff_srv_rate dst_host_same_src_port_rate "
             "dst_host_srv_diff_host_rate dst_host_serror_rate dst_host_srv_serror_rate "
             "dst_host_rerror_rate dst_host_srv_rerror_rate label difficulty").split()


def sklearn_models(seed):
    """Each family with scikit-learn's defaults, seeded where it draws numbers."""
    return {
        "logreg": LogisticRegression(),
        "tree": DecisionTreeClassifier(random_state=seed),
        "forest": RandomForestClassifier(random_state=seed, n_jobs=2),
        "knn": KNeighborsClassifier(),
        "adaboost": AdaBoostClassifier(random_state=seed),
        "gbdt": GradientBoostingClassifier(random_state=seed),
    }


def run_netsec(netsec, family, train, test, schema, workdir, seed=42):
    out = os.path.join(workdir, f"{family}.json")
    model = os.path.join(workdir, f"{family}.model")
    cmd = [netsec, "-q", "fit", "--family", family, "--train", train, "--test", test,
           "--schema", schema, "--seed", str(seed), "-o", model, "--metrics-out", out]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return None, wall, proc.stderr.strip()
    with open(out) as fh:
        return json.load(fh), wall, ""


def phishing(netsec, workdir):
    data = pd.read_csv(os.path.join(ROOT, "data", "phisingData.csv"))
    y = data["Result"]
    train, test = train_test_split(data, test_size=0.2, stratify=y, random_state=42)
    train_csv, test_csv = os.path.join(workdir, "ph_train.csv"), os.path.join(workdir, "ph_test.csv")
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    xtr, ytr = train.drop(columns="Result").to_numpy(float), train["Result"].to_numpy()
    xte, yte = test.drop(columns="Result").to_numpy(float), test["Result"].to_numpy()
    print("phishing: test F1 of the threat class (-1), 80/20 stratified split, seed 42")
    print(f"{'family':10} {'netsec':>8} {'sklearn':>8} {'diff':>8} {'netsec s':>9} {'sklearn s':>9}")
    worst = 0.0
    for family, est in sklearn_models(42).items():
        t0 = time.perf_counter()
        est.fit(xtr, ytr)
        sk_fit = time.perf_counter() - t0
        sk_f1 = f1_score(yte, est.predict(xte), pos_label=-1)
        ours, wall, err = run_netsec(netsec, family, train_csv, test_csv,
                                     os.path.join(ROOT, "data", "schema.yaml"), workdir)
        if ours is None:
            print(f"{family:10} {'error':>8} {sk_f1:8.4f}   ({err})")
            worst = float("inf")
            continue
        diff = ours["f1"] - sk_f1
        worst = max(worst, -diff)
        print(f"{family:10} {ours['f1']:8.4f} {sk_f1:8.4f} {diff:+8.4f} {ours['fit_seconds']:9.3f} {sk_fit:9.3f}")
    return worst


def nsl(netsec, workdir, path):
    data = pd.read_csv(path, header=None, names=NSL_NAMES)
    # Rare classes cannot be stratified with fewer than 2 members: keep them in train.
    counts = data["label"].value_counts()
    rare = data["label"].map(counts) < 2
    common = data[~rare]
    train, test = train_test_split(common, test_size=0.2, stratify=common["label"], random_state=42)
    train = pd.concat([train, data[rare]])
    train_csv, test_csv = os.path.join(workdir, "kdd_train.csv"), os.path.join(workdir, "kdd_test.csv")
    train.to_csv(train_csv, index=False, header=False)
    test.to_csv(test_csv, index=False, header=False)
    cats = ["protocol_type", "service", "flag"]
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=False) if "sparse_output" in \
        OneHotEncoder().get_params() else OneHotEncoder(handle_unknown="ignore", sparse=False)
    enc.fit(train[cats])

    def design(frame):
        num = frame.drop(columns=cats + ["label", "difficulty"]).to_numpy(float)
        return np.hstack([num, enc.transform(frame[cats])])

    xtr, xte = design(train), design(test)
    ytr, yte = train["label"].to_numpy(), test["label"].to_numpy()
    # The test split holds classes with 1-2 rows, so one row moves macro-F1 by up to 0.06, and
    # a seeded learner's score swings with its seed (scikit-learn's own tree: 0.72-0.91 over
    # seeds 0-9 on this split).  The tree and the forest, whose seed picks features, are
    # therefore compared by their mean over the same seeds on both sides; the others (whose
    # seed only breaks exact ties with default parameters) with one run.
    seeds = [0, 1, 2, 3, 4]
    print("\nNSL-KDD: test macro-F1 (22 classes, 3 categorical columns one-hot)")
    print("seeded families: mean [min, max] over seeds 0-4 on both sides")
    print(f"{'family':10} {'netsec':>24} {'sklearn':>24} {'diff':>8} {'netsec s':>9} {'sklearn s':>9}")
    worst = 0.0
    labels_all = np.unique(ytr)
    for family in sklearn_models(0):
        runs = seeds if family in ("tree", "forest") else [0]
        ours_f1, sk_f1, ours_s, sk_s, err = [], [], [], [], ""
        for seed in runs:
            est = sklearn_models(seed)[family]
            t0 = time.perf_counter()
            est.fit(xtr, ytr)
            sk_s.append(time.perf_counter() - t0)
            pred = est.predict(xte)
            sk_f1.append(f1_score(yte, pred, average="macro",
                                  labels=np.unique(np.concatenate([yte, pred]))))
            ours, wall, err = run_netsec(netsec, family, train_csv, test_csv,
                                         os.path.join(ROOT, "data", "nsl_kdd.schema.yaml"), workdir, seed)
            if ours is None:
                break
            ours_f1.append(ours["macro_f1"])
            ours_s.append(ours["fit_seconds"])
        if len(ours_f1) != len(runs):
            print(f"{family:10} {'error':>24}   ({err})")
            worst = float("inf")
            continue
        def cell(v):
            return f"{np.mean(v):.4f} [{min(v):.3f}, {max(v):.3f}]" if len(v) > 1 else f"{v[0]:.4f}"
        diff = np.mean(ours_f1) - np.mean(sk_f1)
        worst = max(worst, -diff)
        print(f"{family:10} {cell(ours_f1):>24} {cell(sk_f1):>24} {diff:+8.4f} {np.median(ours_s):9.3f} {np.median(sk_s):9.3f}")
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--netsec", default=os.path.join(ROOT, "build", "netsec"))
    ap.add_argument("--nsl", default=os.path.join(ROOT, "..", "shared", "data", "nsl_kdd", "KDDTrain+_20Percent.txt"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        worst = phishing(args.netsec, workdir)
        print(f"largest shortfall vs scikit-learn: {worst:.4f} (goal <= 0.01)")
        if os.path.exists(args.nsl):
            worst = nsl(args.netsec, workdir, args.nsl)
            print(f"largest shortfall vs scikit-learn: {worst:.4f} (goal <= 0.02)")
        else:
            print(f"\nNSL-KDD not found at {args.nsl}: skipped")


if __name__ == "__main__":
    sys.exit(main())
