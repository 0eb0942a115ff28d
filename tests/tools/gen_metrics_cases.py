#!/usr/bin/python3
"""Writes tests/golden/metrics/cases.txt: random classification results with
the metrics scikit-learn computes for them, for tests/unit/learn/test_metrics.c.

Run with Debian's python3-sklearn:  /usr/bin/python3 tests/tools/gen_metrics_cases.py
Each case is four lines:
  n n_classes positive
  y_true (n class indices)
  proba (n * n_classes values, row-major)
  accuracy precision recall f1 macro_p macro_r macro_f1 weighted_p weighted_r weighted_f1 roc_auc log_loss
"""
import os
import numpy as np
from sklearn import metrics

rng = np.random.default_rng(20261125)
out = os.path.join(os.path.dirname(__file__), "..", "golden", "metrics", "cases.txt")
lines = []
for case in range(40):
    k = int(rng.choice([2, 2, 2, 3, 4, 6]))
    n = int(rng.integers(5, 80))
    y = rng.integers(0, k, n)
    if case % 5 == 0:
        y[: n // 2] = 0  # imbalance
    # ensure every class appears at least once in y_true (sklearn's OvR AUC needs it)
    y[:k] = np.arange(k)
    raw = rng.random((n, k)) ** 3
    if case % 4 == 0:
        raw = np.round(raw, 1) + 1e-9  # ties
    if case % 7 == 0:
        raw[:, 0] = 0  # never predicts class 0 -> zero_division paths
        raw[:, 1:] += 0.01
    proba = raw / raw.sum(axis=1, keepdims=True)
    pred = proba.argmax(axis=1)
    pos = int(rng.integers(0, k))
    labels = np.arange(k)
    p, r, f, _ = metrics.precision_recall_fscore_support(y, pred, labels=[pos], zero_division=0)
    mp, mr, mf, _ = metrics.precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
    wp, wr, wf, _ = metrics.precision_recall_fscore_support(y, pred, average="weighted", zero_division=0)
    if k == 2:
        auc = metrics.roc_auc_score(y == pos, proba[:, pos])
    else:
        auc = metrics.roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=labels)
    ll = metrics.log_loss(y, proba, labels=labels)
    acc = metrics.accuracy_score(y, pred)
    lines.append(f"{n} {k} {pos}")
    lines.append(" ".join(str(int(v)) for v in y))
    lines.append(" ".join(repr(float(v)) for v in proba.ravel()))
    lines.append(" ".join(repr(float(v)) for v in [acc, p[0], r[0], f[0], mp, mr, mf, wp, wr, wf, auc, ll]))
with open(out, "w") as fh:
    fh.write("\n".join(lines) + "\n")
print(f"wrote {out}")
