#!/usr/bin/env bash
# scripts/run.sh - the main job on the embedded default, from a fresh machine:
# install dependencies, build, then `netsec run`: ingest the bundled phishing
# dataset into the embedded SQLite store var/netsec.db, summarise it, train if
# the registry (models/) has no model yet, and serve on port 8080 (/docs,
# /home).  Extra arguments go to `netsec run` (--no-serve, --retrain, --port).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/build.sh build
exec build/netsec run "$@"
