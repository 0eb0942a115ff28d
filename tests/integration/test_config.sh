#!/usr/bin/env bash
# tests/integration/test_config.sh - settings from flags, the environment and a
# .env file: the reference project's variable names are picked up, the
# environment wins over .env, `netsec config` masks every secret, a broken
# .env names FILE:LINE:COLUMN, and a store URI's password never reaches the
# output.
source "$(dirname "$0")/lib.sh"
unset NETSEC_STORE MONGO_DB_URL NETSEC_ENV_FILE MLFLOW_TRACKING_URI MLFLOW_TRACKING_USERNAME \
  MLFLOW_TRACKING_PASSWORD MLFLOW_TRACKING_TOKEN AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
  AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL NETSEC_API_TOKEN NETSEC_S3_URI
cd "$T" || exit 1

# no_secret WORD DESCRIPTION: WORD is in neither stdout nor stderr
no_secret() {
  if grep -qF -- "$1" "$T/out" "$T/err"; then
    fail "$2: '$1' was printed: $(grep -hF -- "$1" "$T/out" "$T/err" | head -c 300)"
  else pass; fi
}

# --- the reference's .env ------------------------------------------------------
cat >.env <<'ENV'
# the reference project's settings
MONGO_DB_URL="mongodb+srv://alice:Mongo-Secret-Pw1@cluster0.example.net/?retryWrites=true&w=majority"
MLFLOW_TRACKING_URI=https://dagshub.com/alice/netsec.mlflow
MLFLOW_TRACKING_USERNAME=alice
MLFLOW_TRACKING_PASSWORD=mlflow-secret-0123456789   # the token
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
AWS_SECRET_ACCESS_KEY='wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
AWS_REGION=eu-west-1
NETSEC_API_TOKEN=api-token-abcdefghijklmnop
ENV

run config --show-source
expect_rc 0 "config with a .env"
expect_out '^store .*MONGO_DB_URL +\.env:2 MONGO_DB_URL +mongodb\+srv://alice:\*\*\*@cluster0\.example\.net/' \
  "MONGO_DB_URL from .env is the store, password redacted"
expect_out '^tracking_uri .*\.env:3 .*https://dagshub\.com/alice/netsec\.mlflow' "MLFLOW_TRACKING_URI from .env"
expect_out '^tracking_password .* ml\*\*\*\*\(24 chars\)' "tracking password masked"
expect_out '^aws_secret_access_key .* wJ\*\*\*\*\(40 chars\)' "AWS secret masked"
expect_out '^aws_access_key_id .* AK\*\*\*\*\(20 chars\)' "AWS key id masked"
expect_out '^aws_region .*eu-west-1' "AWS_REGION from .env"
expect_out '^api_token .* ap\*\*\*\*\(26 chars\)' "API token masked"
expect_out '^host .*default +0\.0\.0\.0' "defaults shown"
for s in Mongo-Secret-Pw1 mlflow-secret-0123456789 wJalrXUtnFEMI EXAMPLEKEY AKIAIOSFODNN7 \
         api-token-abcdefghijklmnop; do
  no_secret "$s" "config"
done

run config --json
expect_rc 0 "config --json"
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s={x["name"]:x for x in d["settings"]}; \
assert s["store"]["source"]==".env" and s["store"]["variable"]=="MONGO_DB_URL" and s["store"]["line"]==2; \
assert s["aws_secret_access_key"]["secret"] is True; assert d["env_file"]["loaded"] is True' "$T/out" 2>"$T/py.err"
then pass; else fail "config --json: $(cat "$T/py.err")"; fi
for s in Mongo-Secret-Pw1 mlflow-secret-0123456789 wJalrXUtnFEMI api-token-abcdefghijklmnop; do
  no_secret "$s" "config --json"
done

# --- the environment overrides .env; flags override both ----------------------------
MONGO_DB_URL="sqlite:$T/env.db" run config --show-source
expect_out "^store .*env MONGO_DB_URL +sqlite:$T/env.db" "the environment beats .env"
NETSEC_STORE="sqlite:$T/ns.db" run config --show-source
expect_out "^store .*env NETSEC_STORE +sqlite:$T/ns.db" "NETSEC_STORE in the environment beats .env's MONGO_DB_URL"
AWS_REGION=us-west-2 run config --show-source
expect_out '^aws_region .*env AWS_REGION +us-west-2' "environment AWS_REGION beats .env"
NETSEC_STORE="sqlite:$T/ns.db" run --store "sqlite:$T/flag.db" config --show-source
expect_out "^store .*flag --store +sqlite:$T/flag.db" "--store beats everything"

# The store .env names is the one commands use: ingest into it through MONGO_DB_URL.
cat >store.env <<ENV
MONGO_DB_URL=sqlite:$T/from-dotenv.db
ENV
run --env-file store.env ingest "$NETSEC_SOURCE_DIR/data/phisingData.csv" --schema "$NETSEC_SOURCE_DIR/data/schema.yaml"
expect_rc 0 "ingest with the store from --env-file"
if [[ -s "$T/from-dotenv.db" ]]; then pass; else fail "the .env store was not used"; fi
NETSEC_ENV_FILE=store.env run store list
expect_out '^phishing +11055' "NETSEC_ENV_FILE names the file"

# --- --env-file and NETSEC_ENV_FILE: a missing named file is an error ------------------
run --env-file missing.env config
expect_rc 3 "missing --env-file"
expect_err 'missing\.env: cannot open' "missing --env-file is named"
NETSEC_ENV_FILE=missing.env run config
expect_rc 3 "missing NETSEC_ENV_FILE"
mkdir -p empty && (cd empty && "$NETSEC" config >"$T/out" 2>"$T/err"; echo $? >"$T/rc")
expect_eq "$(cat "$T/rc")" 0 "no .env in the working directory is fine"
expect_out '^# no settings file read' "config says no file was read"

# --- a broken .env: FILE:LINE:COLUMN, exit 1, nothing set ------------------------------
bad() { # bad NAME CONTENT REGEX DESCRIPTION
  printf '%b' "$2" >"$1"
  run --env-file "$1" config
  expect_rc 1 "$4"
  expect_err "^netsec: error: $3" "$4: location"
}
bad b1.env 'A=1\nB="x\\q"\n' 'b1\.env:2:5: unknown escape' "bad escape"
bad b2.env "A=1\n\nC='open\n" "b2\\.env:3:3: unterminated single-quoted value" "unterminated quote"
bad b3.env 'A=1\n1B=2\n' 'b3\.env:2:1: expected a variable name' "bad key"
bad b4.env 'A=1\nA=2\n' "b4\\.env:2:1: 'A' is set twice \\(first on line 1\\)" "duplicate key"
bad b5.env 'A="x" y\n' 'b5\.env:1:7: unexpected text after the closing quote' "text after a quote"
bad b6.env 'NOEQUALS\n' "b6\\.env:1:9: expected '=' after 'NOEQUALS'" "no ="
printf 'PW="hunter2-secret-value\\z"\n' >b7.env
run --env-file b7.env config
expect_rc 1 "bad line holding a secret"
no_secret hunter2 "a .env error"

# --- a store URI's password never reaches the output ----------------------------------
MONGO_DB_URL=mongodb://user:secretpw@127.0.0.1:1/db run --env-file /dev/null store list
if [[ $rc -ne 0 ]]; then pass; else fail "store list on an unreachable mongodb store: exit 0"; fi
no_secret secretpw "store list with MONGO_DB_URL"
if grep -q 'user:' "$T/err"; then expect_err 'user:\*\*\*@127\.0\.0\.1' "the URI is shown redacted"; fi
MONGO_DB_URL=mongodb://user:secretpw@127.0.0.1:1/db run --env-file /dev/null train --families tree --cv 2
if [[ $rc -ne 0 ]]; then pass; else fail "train on an unreachable store: exit 0"; fi
no_secret secretpw "train with MONGO_DB_URL"
if grep -rqF secretpw "$T/artifacts" "$T/mlruns" "$T/models" 2>/dev/null; then
  fail "the store password is in an artifact: $(grep -rlF secretpw "$T/artifacts" "$T/mlruns" "$T/models")"
else pass; fi
run --store 'sqlite://user:secretpw@host/x.db' --env-file /dev/null store list
no_secret secretpw "sqlite store with userinfo"

# --- every variable the code reads is listed by `netsec config` --------------------------
run --env-file /dev/null config
for v in $(grep -rhoE '(getenv|env_or|env)\((NULL, |[a-z_.]+, )?"[A-Z][A-Z0-9_]+"' \
             "$NETSEC_SOURCE_DIR/src" "$NETSEC_SOURCE_DIR/lib" | grep -oE '"[A-Z0-9_]+"' |
           tr -d '"' | sort -u); do
  case $v in LOGNAME | USER | LNAME | USERNAME) continue ;; esac
  if grep -qE -- " $v( |$)" "$T/out" || grep -qF "$v" "$NETSEC_SOURCE_DIR/lib/core/config.c"; then pass
  else fail "$v is read by the code but not in the settings table (lib/core/config.c)"; fi
done

finish
