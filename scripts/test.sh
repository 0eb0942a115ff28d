#!/usr/bin/env bash
# scripts/test.sh - all tests from a fresh machine: install dependencies, build
# with warnings as errors, run the whole ctest suite (unit, integration, fuzz
# corpus replays).  With --sanitize, the same suite built with ASan+UBSan in
# build-asan/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
if [[ "${1:-}" == "--sanitize" ]]; then
  scripts/build.sh build-asan -DNETSEC_WERROR=ON -DNETSEC_SANITIZE=ON
  cd build-asan
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  scripts/build.sh build -DNETSEC_WERROR=ON
  cd build
fi
ctest --output-on-failure -j"$(nproc)"
