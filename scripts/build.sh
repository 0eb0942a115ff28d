#!/usr/bin/env bash
# scripts/build.sh [BUILD_DIR] [extra cmake args...] - configure and build netsec.
# The compiler's output goes to BUILD_DIR/build.log; on failure its end is shown.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
mkdir -p "$dir"
if ! { cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" &&
       cmake --build "$dir" -j"$(nproc)"; } >"$dir/build.log" 2>&1; then
  tail -n 40 "$dir/build.log" >&2
  echo "build failed: see $dir/build.log" >&2
  exit 1
fi
echo "built $dir/netsec" >&2
