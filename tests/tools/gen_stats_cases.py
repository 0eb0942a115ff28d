#!/usr/bin/python3
"""Writes tests/golden/stats/cases.txt: two-sample Kolmogorov-Smirnov tests,
chi-square contingency tests and chi-square tail values as scipy 1.10
computes them, for tests/unit/stats/test_stats.c.

Run with Debian's python3-scipy:  /usr/bin/python3 tests/tools/gen_stats_cases.py

Large samples are not written out: they are described by a small generator
that the C test reproduces bit for bit (splitmix64 uniforms, then only
additions, multiplications, comparisons and floor, which IEEE doubles round
the same way in C and Python).  One record per line:

  ks A B D P METHOD      two-sample KS; A and B are sample specs (below),
                         METHOD is exact or asymp
  kstwo N X P            scipy.stats.kstwo.sf(X, N), the one-sample
                         distribution behind the asymptotic branch
  chi2 R C V... STAT P DOF   chi2_contingency on an R x C table (row-major)
  chi2sf X DOF P         scipy.stats.chi2.sf(X, DOF)
  phishing NTRAIN COL D P METHOD   ks_2samp of column COL of
                         data/phisingData.csv, first NTRAIN rows vs the rest

A sample spec is one token without spaces:
  L:v1,v2,...            the listed values
  G:KIND:SEED:N:P1:P2    N values from the generator, u uniform in [0, 1):
                         U: P1 + P2*u        S: P1 + P2*u*u
                         I: floor(P2*u) + P1 T: -1 if u < P1, 0 if u < P2, else 1
                         A: P1 + P2*i for i = 0..N-1 (no randomness)
"""
import csv
import math
import os
import warnings

import numpy as np
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
OUT = os.path.join(ROOT, "tests", "golden", "stats", "cases.txt")
MASK = (1 << 64) - 1


def uniforms(seed, n):
    """splitmix64, the top 53 bits scaled to [0, 1)."""
    state = seed & MASK
    out = []
    for _ in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        z ^= z >> 31
        out.append((z >> 11) * (1.0 / 9007199254740992.0))
    return out


def generate(kind, seed, n, p1, p2):
    us = uniforms(seed, n)
    if kind == "U":
        return [p1 + p2 * u for u in us]
    if kind == "S":
        return [p1 + p2 * u * u for u in us]
    if kind == "I":
        return [float(math.floor(p2 * u) + p1) for u in us]
    if kind == "A":
        return [p1 + p2 * i for i in range(n)]
    if kind == "T":
        return [-1.0 if u < p1 else (0.0 if u < p2 else 1.0) for u in us]
    raise ValueError(kind)


def gen_spec(kind, seed, n, p1, p2):
    return f"G:{kind}:{seed}:{n}:{p1!r}:{p2!r}", generate(kind, seed, n, p1, p2)


def list_spec(values):
    values = [float(v) for v in values]
    return "L:" + ",".join(repr(v) for v in values), values


def ks_method(a, b, d):
    """Which branch scipy took: exact unless the sizes say otherwise or it fell back."""
    if max(len(a), len(b)) > 10000:
        return "asymp"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stats.ks_2samp(a, b)
    return "asymp" if any("Switching" in str(w.message) for w in caught) else "exact"


lines = []


def add_ks(spec_a, spec_b):
    (ta, a), (tb, b) = spec_a, spec_b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's "switching to asymp" is recorded as METHOD
        r = stats.ks_2samp(a, b)
    lines.append(f"ks {ta} {tb} {float(r.statistic)!r} {float(r.pvalue)!r} {ks_method(a, b, r.statistic)}")


rng = np.random.default_rng(20261126)
seed = [1000]


def next_seed():
    seed[0] += 1
    return seed[0]


# Tiny samples, every pair of sizes 1..5, continuous and tied values.
for na in range(1, 6):
    for nb in range(1, 6):
        a = np.round(rng.normal(size=na), 3)
        b = np.round(rng.normal(0.5, 1.0, size=nb), 3)
        add_ks(list_spec(a), list_spec(b))
        add_ks(list_spec(rng.integers(0, 3, na)), list_spec(rng.integers(0, 3, nb)))
# Identical samples (D = 0, p = 1) and completely separated ones.
add_ks(list_spec([1, 2, 3]), list_spec([3, 2, 1]))
add_ks(list_spec([0, 0, 0, 0]), list_spec([0, 0]))
add_ks(list_spec(range(10)), list_spec(range(100, 110)))
add_ks(list_spec(range(7)), list_spec(range(50, 61)))
add_ks(list_spec([-math.inf, 0, 1]), list_spec([2, math.inf]))
# Small and medium samples, n == m and n != m, continuous, shifted, tied.
for n in [6, 7, 10, 13, 20, 31, 50, 64, 100, 137, 250, 500, 999, 1000, 2500]:
    for m in sorted({n, n + 1, 2 * n, 3 * n + 2, max(1, n // 3)}):
        shift = float(rng.choice([0.0, 0.05, 0.2, 0.5, 1.5]))
        add_ks(gen_spec("U", next_seed(), n, 0.0, 1.0), gen_spec("U", next_seed(), m, shift, 1.0))
    add_ks(gen_spec("I", next_seed(), n, 0, 5), gen_spec("I", next_seed(), n + 3, 0, 5))
    add_ks(gen_spec("S", next_seed(), n, 0.0, 1.0), gen_spec("U", next_seed(), n, 0.0, 1.0))
# n == m where the statistic is small: the reflection sum at h = 1, 2.
for n in [8, 60, 333, 1500, 4000, 10000]:
    add_ks(gen_spec("A", 0, n, 0.0, 2.0), gen_spec("A", 0, n, 1.0, 2.0))
    add_ks(gen_spec("A", 0, n, 0.0, 2.0), gen_spec("A", 0, n, -3.0, 2.0))
# Exact branch at the size limit, n != m, with and without drift.
add_ks(gen_spec("U", next_seed(), 10000, 0.0, 1.0), gen_spec("U", next_seed(), 9999, 0.0, 1.0))
add_ks(gen_spec("U", next_seed(), 10000, 0.0, 1.0), gen_spec("U", next_seed(), 7001, 0.03, 1.0))
add_ks(gen_spec("U", next_seed(), 3000, 0.0, 1.0), gen_spec("U", next_seed(), 8000, 0.5, 1.0))
# Ternary features as in the phishing data: 8844 training rows vs 2211.
for lo, mid in [(0.3, 0.3), (0.4, 0.5), (0.1, 0.8), (0.45, 0.55), (0.02, 0.03), (0.33, 0.66)]:
    for dl, dm in [(0.0, 0.0), (0.01, 0.01), (0.05, 0.0), (0.2, 0.2)]:
        add_ks(gen_spec("T", next_seed(), 8844, lo, mid),
               gen_spec("T", next_seed(), 2211, min(lo + dl, 1.0), min(mid + dm, 1.0)))
add_ks(gen_spec("T", next_seed(), 8844, 0.5, 0.5), gen_spec("T", next_seed(), 2211, 0.5, 0.5))
add_ks(gen_spec("T", next_seed(), 2211, 0.3, 0.6), gen_spec("T", next_seed(), 8844, 0.9, 0.95))
# Asymptotic branch: max(n) > 10000, from near-identical to disjoint.
for na, nb in [(10001, 10001), (10001, 3), (12000, 150), (20000, 15000), (10001, 10000),
               (30000, 2500), (50000, 50000)]:
    for shift in [0.0, 0.004, 0.02, 0.1, 0.6, 2.0]:
        add_ks(gen_spec("U", next_seed(), na, 0.0, 1.0), gen_spec("U", next_seed(), nb, shift, 1.0))
    add_ks(gen_spec("T", next_seed(), na, 0.3, 0.6), gen_spec("T", next_seed(), nb, 0.31, 0.6))
    add_ks(gen_spec("I", next_seed(), na, 0, 40), gen_spec("I", next_seed(), nb, 1, 40))

# The one-sample Kolmogorov distribution over every branch of its method choice.
for n in [1, 2, 3, 5, 10, 40, 100, 140, 141, 300, 1000, 5000, 20000, 100000, 100001, 250000]:
    xs = {0.5 / n, 0.7 / n, 1.0 / n, 1.5 / n, 1 - 1.0 / n, 0.999, 0.5, 0.6}
    for c in [0.2, 0.5, 0.8, 0.86, 1.0, 1.2, 1.48, 1.6, 2.0, 2.5, 4.0, 8.0, 19.0, 19.3]:
        xs.add(c / math.sqrt(n))
    xs.add((1.4 / n) ** (2 / 3))
    xs.add((1.3 / n) ** (2 / 3))
    for x in sorted(xs):
        if 0 < x < 1:
            lines.append(f"kstwo {n} {x!r} {float(stats.kstwo.sf(x, n))!r}")

# Chi-square contingency: 2 x k (dof 1 with Yates), larger tables, small counts.
tables = [
    [[10, 20], [30, 40]],
    [[12, 5], [7, 7]],
    [[1, 0], [0, 1]],
    [[100, 0.2], [3, 9]],
    [[5, 5], [5, 5]],
    [[3, 4, 5]],
    [[3], [4], [5]],
    [[2, 3, 1], [10, 1, 4]],
    [[1000, 2000, 3000, 10], [1100, 1900, 3050, 40]],
    [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 13]],
]
for _ in range(30):
    r = int(rng.choice([2, 2, 2, 3, 5]))
    c = int(rng.integers(2, 9))
    t = rng.integers(1, int(rng.choice([5, 50, 5000])), size=(r, c)).astype(float)
    if rng.random() < 0.3:
        t[1] = np.round(t[0] * rng.uniform(0.5, 2.0))  # near independence
    tables.append(t.tolist())
# The phishing setting: a ternary feature's counts, train vs test.
tables.append([[3793, 1174, 3877], [941, 302, 968]])
tables.append([[3793, 1174, 3877], [1200, 100, 911]])
for t in tables:
    res = stats.chi2_contingency(np.array(t, dtype=float))
    r, c = len(t), len(t[0])
    vals = " ".join(repr(float(v)) for row in t for v in row)
    lines.append(f"chi2 {r} {c} {vals} {float(res[0])!r} {float(res[1])!r} {int(res[2])}")

for dof in [1, 2, 3, 4, 5, 7, 10, 30, 100, 1000, 2.5]:
    for x in [1e-8, 0.01, 0.5, 1.0, dof * 0.5, dof - 0.3, dof, dof + 1.0, dof * 1.5, 2 * dof + 10,
              3 * dof + 50, 5 * dof + 200, 1500.0]:
        lines.append(f"chi2sf {x!r} {dof!r} {float(stats.chi2.sf(x, dof))!r}")

# The real data: 30 ternary features, the first 8844 rows against the last 2211.
with open(os.path.join(ROOT, "data", "phisingData.csv")) as fh:
    rows = list(csv.reader(fh))
data = np.array(rows[1:], dtype=float)
ntrain = 8844
for col in range(data.shape[1] - 1):
    a, b = data[:ntrain, col], data[ntrain:, col]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = stats.ks_2samp(a, b)
    lines.append(f"phishing {ntrain} {col} {float(r.statistic)!r} {float(r.pvalue)!r} "
                 f"{ks_method(a, b, r.statistic)}")

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as fh:
    fh.write("\n".join(lines) + "\n")
print(f"wrote {OUT}: {len(lines)} records")
