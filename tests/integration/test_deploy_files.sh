#!/usr/bin/env bash
# tests/integration/test_deploy_files.sh - the deployment files (docs/deploy.md):
#  - .github/workflows/main.yml parses as YAML (PyYAML) and has the shape
#    CI/CD relies on: jobs test -> image -> deploy, OIDC (id-token: write) and
#    no AWS keys, the image tagged with the commit, a /healthz check and a
#    rollback step that runs on failure, third-party actions pinned;
#  - the Dockerfile: multi-stage, non-root USER, EXPOSE 8080, HEALTHCHECK on
#    /healthz, VOLUME, the runtime stage installs a package for every shared
#    library the netsec binary links directly;
#  - .dockerignore leaves out build folders, node_modules, .git and run output;
#  - hadolint and actionlint, when installed (skipped otherwise).
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
S=$NETSEC_SOURCE_DIR
WF=$S/.github/workflows/main.yml
DF=$S/Dockerfile
DI=$S/.dockerignore
PY=/usr/bin/python3

for f in "$WF" "$DF" "$DI"; do
  [[ -f "$f" ]] && pass || fail "missing $f"
done
if ! "$PY" -c 'import yaml' 2>/dev/null; then
  echo "SKIP: $PY with PyYAML is needed (scripts/bootstrap.sh installs python3-yaml)"
  exit 77
fi

# The checks print "pass WHAT" or "fail WHAT"; count them here.
tally() {
  local verdict what
  while read -r verdict what; do
    case "$verdict" in
      pass) pass ;;
      fail) fail "$what" ;;
      *) fail "checker said: $verdict $what" ;;
    esac
  done
}

# ---- the workflow ---------------------------------------------------------------
"$PY" - "$WF" <<'EOF' >"$T/wf.out" 2>&1
import re, sys, yaml

path = sys.argv[1]
text = open(path, encoding="utf-8").read()
def check(ok, what):
    print(("pass " if ok else "fail ") + what)

try:
    wf = yaml.safe_load(text)
except yaml.YAMLError as e:
    print("fail main.yml does not parse as YAML: " + str(e).replace("\n", " "))
    sys.exit(0)
check(isinstance(wf, dict), "main.yml is a mapping")
# PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
on = wf.get("on", wf.get(True)) or {}
check("push" in on, "runs on push")
check("pull_request" in on, "runs on pull requests")
jobs = wf.get("jobs") or {}
for j in ("test", "image", "deploy"):
    check(j in jobs, "job %s exists" % j)
if not all(j in jobs for j in ("test", "image", "deploy")):
    sys.exit(0)

def needs(job):
    n = jobs[job].get("needs", [])
    return [n] if isinstance(n, str) else list(n)
def steps(job):
    return jobs[job].get("steps") or []
def runs(job):
    return "\n".join(s.get("run", "") for s in steps(job))
def uses(job):
    return [s.get("uses", "") for s in steps(job) if s.get("uses")]

check("test" in needs("image"), "image needs test")
check("image" in needs("deploy"), "deploy needs image")

# test: what CI runs (.ci/run: format check, tests, sanitizer suite with fuzz replays)
check(".ci/run" in runs("test"), "test job runs .ci/run")
up = [s for s in steps("test") if "upload-artifact" in s.get("uses", "")]
check(bool(up) and "test_browser" in str(up[0].get("with", {}).get("path", "")),
      "test job uploads the browser screenshots")
check(bool(up) and "always()" in str(up[0].get("if", "")), "test artifacts are uploaded even on failure")

# permissions: read-only by default, the OIDC token only where AWS is used
top = wf.get("permissions")
check(isinstance(top, dict) and top.get("contents") == "read" and "id-token" not in top,
      "top-level permissions are contents: read only")
for j in ("image", "deploy"):
    p = jobs[j].get("permissions") or {}
    check(p.get("id-token") == "write", "%s has id-token: write" % j)
    aws = [s for s in steps(j) if "configure-aws-credentials" in s.get("uses", "")]
    check(bool(aws) and all("role-to-assume" in (s.get("with") or {}) for s in aws),
          "%s assumes a role with configure-aws-credentials" % j)
    check(all(not re.search(r"aws-(access-key-id|secret-access-key)", str(s.get("with")))
              for s in aws), "%s passes no access keys to configure-aws-credentials" % j)
check(not re.search(r"AWS_SECRET_ACCESS_KEY|AWS_ACCESS_KEY_ID|aws-secret-access-key|aws-access-key-id",
                    text), "no long-lived AWS keys in the workflow")

# image: main only, ECR, tagged with the commit
cond = str(jobs["image"].get("if", ""))
check("refs/heads/main" in cond and "push" in cond, "image job runs on pushes to main only")
check(any("amazon-ecr-login" in u for u in uses("image")), "image job logs in to ECR")
r = runs("image")
check("docker build" in r and "docker push" in r, "image job builds and pushes")
push = [s for s in steps("image") if "docker push" in s.get("run", "")]
check(bool(push) and "github.sha" in str(push[0].get("env", "")) + push[0].get("run", ""),
      "the image is tagged with the commit SHA")
check(":latest" not in text, "no :latest tag")

# deploy: production, records the running tag, /healthz with retries, rollback on failure
check(jobs["deploy"].get("environment") in ("production", {"name": "production"}),
      "deploy runs in the production environment")
ds = steps("deploy")
rec = [s for s in ds if s.get("id") == "previous"]
check(bool(rec) and "docker inspect" in rec[0].get("run", ""), "deploy records the running tag")
check("/healthz" in runs("deploy"), "deploy checks /healthz")
check(re.search(r"for \w+ in \$\(seq 1 \d+\)", runs("deploy")) is not None, "the /healthz check retries")
rb = [s for s in ds if "roll" in s.get("name", "").lower()]
check(bool(rb), "deploy has a rollback step")
if rb:
    check("failure()" in str(rb[0].get("if", "")), "the rollback step runs on failure")
    check("steps.previous.outputs.image" in str(rb[0].get("env", "")) + str(rb[0].get("if", "")),
          "the rollback step uses the recorded tag")
    check(re.search(r"exit 1\s*$", rb[0].get("run", "")) is not None,
          "the rollback step fails the job")
    check(ds.index(rb[0]) == len(ds) - 1, "the rollback step comes last")

# actions: every third-party action pinned to a commit SHA or at least a major version
for job in jobs:
    for u in uses(job):
        if u.startswith("./"):
            continue
        ok = re.fullmatch(r"[\w.-]+/[\w./-]+@([0-9a-f]{40}|v\d+(\.\d+)*)", u) is not None
        check(ok, "%s: %s is pinned" % (job, u))
EOF
tally <"$T/wf.out"

# ---- the Dockerfile ---------------------------------------------------------------
"$PY" - "$DF" "$DI" <<'EOF' >"$T/df.out" 2>&1
import fnmatch, json, re, sys

df_text = open(sys.argv[1], encoding="utf-8").read()
def check(ok, what):
    print(("pass " if ok else "fail ") + what)

# instructions: join continuation lines, drop comments
lines, cur = [], ""
for raw in df_text.splitlines():
    s = raw.strip()
    if not cur and (not s or s.startswith("#")):
        continue
    if cur and s.startswith("#"):
        continue
    if s.endswith("\\"):
        cur += s[:-1] + " "
        continue
    lines.append(cur + s)
    cur = ""
ins = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]

froms = [a for k, a in ins if k == "FROM"]
check(len(froms) >= 2, "multi-stage: %d FROM lines" % len(froms))
args = dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)
def base(a):  # FROM ${X} AS y -> the image X defaults to
    img = a.split()[0]
    m = re.fullmatch(r"\$\{?(\w+)\}?", img)
    return args.get(m.group(1), img) if m else img
check(any("bookworm" in base(a) and "slim" not in base(a) and
          re.search(r"\bAS\s+build\b", a, re.I) for a in froms), "a Debian bookworm build stage")
check("bookworm-slim" in base(froms[-1]), "the runtime stage is debian:bookworm-slim")

# the runtime stage: from the last FROM on
last = max(i for i, (k, _) in enumerate(ins) if k == "FROM")
rt = ins[last:]
users = [a for k, a in rt if k == "USER"]
check(bool(users) and users[-1].split(":")[0] not in ("root", "0"), "runtime USER is not root")
check(any(k == "EXPOSE" and "8080" in a.split() for k, a in rt), "EXPOSE 8080")
hc = [a for k, a in rt if k == "HEALTHCHECK"]
check(bool(hc) and "/healthz" in hc[0] and "127.0.0.1" in hc[0], "HEALTHCHECK on 127.0.0.1 /healthz")
check(any(k == "VOLUME" and "/var/lib/netsec" in a for k, a in rt), "VOLUME /var/lib/netsec")
check(any(k == "WORKDIR" and a.strip() == "/var/lib/netsec" for k, a in rt), "WORKDIR /var/lib/netsec")
ep = [a for k, a in rt if k == "ENTRYPOINT"]
check(bool(ep) and json.loads(ep[-1]) == ["netsec"], 'ENTRYPOINT ["netsec"]')
cmd = [a for k, a in rt if k == "CMD"]
check(bool(cmd) and json.loads(cmd[-1]) == ["run"], 'CMD ["run"]')
env = " ".join(a for k, a in rt if k == "ENV")
for v in ("NETSEC_STORE", "NETSEC_REGISTRY", "NETSEC_ARTIFACTS", "MLFLOW_TRACKING_URI", "NETSEC_DATA_DIR"):
    check(re.search(v + r"=\S*(/var/lib/netsec|/opt/netsec)", env) is not None,
          "runtime ENV %s points into the image's folders" % v)
check(any(k == "COPY" and "--from=build" in a for k, a in rt), "the runtime copies from the build stage")
rt_run = " ".join(a for k, a in rt if k == "RUN")
for tool in ("gcc", "cmake", "nodejs", "npm", "-dev "):
    check(tool not in rt_run, "no %s in the runtime stage" % tool.strip())
# the runtime packages, for the library check below
pk = re.search(r"apt-get install\s+(.*?)(&&|$)", rt_run)
with open("runtime-packages", "w") as f:
    f.write("\n".join(w for w in (pk.group(1).split() if pk else []) if not w.startswith("-")))

# .dockerignore: the build folders and what runs write stay out of the context
pats = [l.strip().rstrip("/") for l in open(sys.argv[2], encoding="utf-8")
        if l.strip() and not l.startswith("#")]
def ignored(p):
    return any(fnmatch.fnmatch(p, x) or fnmatch.fnmatch(p.split("/")[0], x) for x in pats)
for p in ("build", "build-asan", "build-w", "node_modules", "third_party/swagger-ui/node_modules",
          ".git", "artifacts", "models", "mlruns", "var"):
    check(ignored(p), ".dockerignore leaves out %s" % p)
for p in ("src", "lib", "include", "data", "scripts", "third_party/swagger-ui/package-lock.json",
          "CMakeLists.txt"):
    check(not ignored(p), ".dockerignore keeps %s" % p)
EOF
tally <"$T/df.out"

# Every shared library netsec links directly comes from a package the runtime
# stage installs (or from libc6/libgcc-s1, in every Debian image).  Sanitizer
# runtimes (an ASan build) are not shipped and are left out.
if command -v readelf >/dev/null && command -v dpkg >/dev/null; then
  for lib in $(readelf -d "$NETSEC" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$lib" in libasan* | libubsan* | liblsan* | libtsan*) continue ;; esac
    path=$(ldd "$NETSEC" | awk -v l="$lib" '$1 == l { print $3 }')
    pkg=$({ dpkg -S "$path" || dpkg -S "$(realpath "$path")"; } 2>/dev/null | head -n1 | cut -d: -f1)
    case "$pkg" in
      libc6 | libgcc-s1) pass ;;
      "") fail "no Debian package found for $lib ($path)" ;;
      *) if grep -qx "$pkg" "$T/runtime-packages"; then pass; else
           fail "netsec links $lib (package $pkg) but the runtime stage does not install $pkg"
         fi ;;
    esac
  done
else
  echo "skip: readelf or dpkg missing, runtime library check not run"
fi

# ---- linters, when installed ---------------------------------------------------------
if command -v hadolint >/dev/null; then
  if hadolint "$DF" >"$T/hadolint.out" 2>&1; then pass; else fail "hadolint: $(head -c 800 "$T/hadolint.out")"; fi
else
  echo "skip: hadolint is not installed"
fi
if command -v actionlint >/dev/null; then
  if (cd "$S" && actionlint .github/workflows/main.yml) >"$T/actionlint.out" 2>&1; then pass; else
    fail "actionlint: $(head -c 800 "$T/actionlint.out")"
  fi
else
  echo "skip: actionlint is not installed"
fi

finish
