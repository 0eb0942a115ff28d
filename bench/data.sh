#!/usr/bin/env bash
# bench/data.sh - the data layer against pandas, side by side in one run.
#
# Makes a ~100 MB numeric CSV (the bundled phishing file repeated), then:
#   netsec: CSV parse, CSV -> frame (with the schema), ingest into SQLite;
#   anchor: pandas.read_csv on the same file (Debian python3-pandas).
# Prints medians and the ratio.  Needs scripts/bootstrap.sh --bench.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
[[ -x $build/bench/bench_data ]] || scripts/build.sh "$build"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
src=data/phisingData.csv
big=$tmp/phishing-x128.csv
head -n 1 $src >"$big"
for _ in $(seq 128); do tail -n +2 $src; done >>"$big"
size=$(stat -c %s "$big")
echo "file: $big, $((size / 1000000)) MB, $(( $(wc -l <"$big") - 1 )) rows; runs: 5, medians"

parse=$($build/bench/bench_data parse "$big" 5)
frame=$($build/bench/bench_data frame "$big" data/schema.yaml 5)
echo "netsec $parse"
echo "netsec $frame"

pandas_s=$(/usr/bin/python3 - "$big" <<'PY'
import statistics, sys, time
import pandas
times = []
for _ in range(5):
    t0 = time.perf_counter()
    frame = pandas.read_csv(sys.argv[1])
    times.append(time.perf_counter() - t0)
print(f"{statistics.median(times):.3f}")
PY
)
echo "pandas read_csv  $pandas_s s  $(python3 -c "print(f'{$size/$pandas_s/1e6:.1f}')") MB/s"
frame_s=$(echo "$frame" | awk '{print $2}')
python3 -c "print(f'ratio: netsec CSV->frame is {$pandas_s/$frame_s:.1f}x faster than pandas.read_csv')"

# Ingest: ~1.4M rows into a fresh SQLite file.
mid=$tmp/phishing-x128-ingest.csv
cp "$big" "$mid"
echo "netsec $($build/bench/bench_data ingest "$mid" data/schema.yaml "$tmp/bench.db" 3)"
