#!/usr/bin/env bash
# tests/integration/test_browser.sh - the pages in a real browser: Debian's
# headless Chromium loads /home and /docs from a running `netsec serve` and we
# check what rendered - the dashboard's SVG charts in the DOM, Swagger UI's
# list of operations (built by its JavaScript from /openapi.json) - and keep
# screenshots as test artifacts (in the test's tmp folder, and copied to
# $NETSEC_ARTIFACTS_OUT when set).
source "$(dirname "$0")/lib.sh"
DATA="$NETSEC_SOURCE_DIR/data/phisingData.csv"
SCHEMA="$NETSEC_SOURCE_DIR/data/schema.yaml"
cd "$T" || exit 1
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [[ -z "$CHROMIUM" ]]; then
  echo "SKIP: chromium is not installed (scripts/bootstrap.sh installs it)"
  exit 77
fi
export NETSEC_REGISTRY="$T/models" NETSEC_ARTIFACTS="$T/artifacts"

run train --data "$DATA" -s "$SCHEMA" --families tree,forest --tracking none
expect_rc 0 "a model to show"
"$NETSEC" serve --host 127.0.0.1 --port 0 --port-file "$T/port" >"$T/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do [[ -s "$T/port" ]] && break; sleep 0.05; done
U="http://127.0.0.1:$(cat "$T/port")"
# Predictions, so that the dashboard has data to chart.
for _ in 1 2 3; do curl -s -o /dev/null -F "file=@$DATA" "$U/predict"; done
sleep 1.2

browse() { # browse URL OUT_PREFIX: the DOM after scripts ran, and a screenshot
  local flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars
               --user-data-dir="$T/chrome-profile" --virtual-time-budget=15000)
  timeout 120 "$CHROMIUM" "${flags[@]}" --dump-dom "$1" >"$T/$2.dom" 2>"$T/$2.chrome.log"
  timeout 120 "$CHROMIUM" "${flags[@]}" --window-size=1280,1800 --screenshot="$T/$2.png" "$1" \
    >/dev/null 2>>"$T/$2.chrome.log"
}

browse "$U/home" home
for id in chart-timeline chart-share chart-classes chart-features; do
  grep -q "<svg[^>]*id=\"$id\"" "$T/home.dom" && pass || fail "/home renders $id in the DOM"
done
grep -q 'Predicted Data\|Current model' "$T/home.dom" && pass || fail "/home shows the model card"
n_bars=$(grep -o '<rect' "$T/home.dom" | wc -l)
[[ $n_bars -gt 5 ]] && pass || fail "/home charts have bars ($n_bars rects)"
[[ -s "$T/home.png" ]] && pass || fail "/home screenshot"

browse "$U/docs" docs
n_ops=$(grep -o 'class="opblock opblock-[a-z]*' "$T/docs.dom" | wc -l)
[[ $n_ops -ge 13 ]] && pass || fail "Swagger UI lists the operations ($n_ops found): $(head -c 300 "$T/docs.chrome.log")"
for path in /predict /predict/json /train /models/rollback /metrics; do
  grep -q "data-path=\"$path\"" "$T/docs.dom" && pass || fail "Swagger UI shows $path"
done
[[ -s "$T/docs.png" ]] && pass || fail "/docs screenshot"
if [[ -n "${NETSEC_ARTIFACTS_OUT:-}" ]]; then
  mkdir -p "$NETSEC_ARTIFACTS_OUT" && cp "$T/home.png" "$T/docs.png" "$NETSEC_ARTIFACTS_OUT/"
fi
echo "screenshots: $T/home.png $T/docs.png"
kill -0 $server && pass || fail "server alive"
finish
