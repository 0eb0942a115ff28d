#!/usr/bin/env bash
# scripts/bootstrap.sh - install what netsec needs to build, test and benchmark
# on Debian 12.  Idempotent: installs only packages that are missing, so a
# second run does nothing.  Needs root (or sudo).
#
#   scripts/bootstrap.sh            build + test dependencies
#   scripts/bootstrap.sh --bench    also the anchors of bench/ (scikit-learn, pandas, pymongo)
set -euo pipefail

pkgs=(build-essential cmake pkg-config git ca-certificates
      libyaml-dev libsqlite3-dev libcmocka-dev libmicrohttpd-dev
      libmongoc-dev libbson-dev libcurl4-openssl-dev
      clang libclang-rt-14-dev libomp-dev clang-format
      python3 python3-numpy python3-yaml curl chromium)
# npm fetches Swagger UI for /docs (scripts/fetch-assets.sh); Debian's when the
# machine has no npm of its own.
command -v npm >/dev/null || pkgs+=(nodejs npm)
if [[ "${1:-}" == "--bench" ]]; then
  pkgs+=(python3-pandas python3-numpy python3-sklearn python3-scipy python3-xgboost hyperfine time
         python3-fastapi python3-uvicorn python3-multipart wrk
         python3-pymongo python3-pymongo-ext python3-bson-ext)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then

sudo=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "bootstrap: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
"$(dirname "$0")/fetch-assets.sh"
