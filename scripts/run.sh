#!/usr/bin/env bash
# scripts/run.sh - the main job on the embedded default, from a fresh machine:
# install dependencies, build, then `netsec run` (ingest the bundled phishing
# dataset into the embedded SQLite store var/netsec.db and summarise it).
# Extra arguments go to `netsec run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh build
exec build/netsec run "$@"
