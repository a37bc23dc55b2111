#!/usr/bin/env bash
# Edge agent benchmarks: disk queue append/replay, catch-up after an outage
# (against the shared Mosquitto), release binary sizes and resident memory
# with 100 metrics at 1 Hz. Writes bench/edge.md. Run by `make bench` (with
# the services up and PDM_* set) or on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
GO=${GO:-go}
BENCHTIME=${BENCHTIME:-3s}
FOOTPRINT_SECONDS=${PDM_EDGE_FOOTPRINT_SECONDS:-30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "bench-edge: queue and catch-up benchmarks (-benchtime $BENCHTIME)" >&2
$GO test -run '^$' -bench 'Queue|CatchUp' -benchtime "$BENCHTIME" ./edge | tee "$tmp/edge.txt" >&2
echo "bench-edge: footprint (${FOOTPRINT_SECONDS}s of 100 metrics at 1 Hz)" >&2
PDM_EDGE_FOOTPRINT_SECONDS=$FOOTPRINT_SECONDS $GO test -run '^$' -bench Footprint -benchtime 1x ./cmd/pdm-edge | tee "$tmp/fp.txt" >&2
echo "bench-edge: catch-up end to end (agent -> Mosquitto -> ingest -> InfluxDB)" >&2
$GO test -run '^$' -bench CatchUpToInflux -benchtime 3x ./cmd/pdm-edge | tee "$tmp/e2e.txt" >&2

echo "bench-edge: release binaries" >&2
sizes=()
for target in amd64: arm64: arm:7; do
	arch=${target%%:*}; arm=${target#*:}; name=linux-$arch${arm:+v$arm}
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOARM=$arm $GO build -trimpath -ldflags "-s -w" -o "$tmp/pdm-edge-$name" ./cmd/pdm-edge
	sizes+=("$name $(stat -c %s "$tmp/pdm-edge-$name")")
done

# metric VALUE-with-unit from a benchmark line: unit_value FILE BENCH UNIT
unit_value() {
	awk -v b="$2" -v u="$3" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == u) { print $i; exit } }' "$1"
}

{
	echo "## edge"
	echo
	echo "Command: \`scripts/bench-edge.sh\` (\`go test -run '^\$' -bench 'Queue|CatchUp' -benchtime $BENCHTIME ./edge\`;"
	echo "\`go test -run '^\$' -bench 'Footprint|CatchUpToInflux' ./cmd/pdm-edge\`). $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), run $(date -u +%Y-%m-%dT%H:%MZ)."
	echo "Readings have 6 metrics each. Every append is durable (fsync) when it returns."
	echo
	echo "| benchmark | result |"
	echo "|---|---|"
	echo "| queue append, batches of 100 readings | $(unit_value "$tmp/edge.txt" BenchmarkQueueAppend readings/s) readings/s |"
	echo "| queue append, single readings from 8 goroutines (group commit) | $(unit_value "$tmp/edge.txt" BenchmarkQueueAppendConcurrent readings/s) readings/s |"
	echo "| queue replay (peek + delete after ack), 20,000 readings | $(unit_value "$tmp/edge.txt" BenchmarkQueueReplay readings/s) readings/s |"
	echo "| catch-up after an outage: 20,000 queued readings to Mosquitto, PUBACK each message | $(unit_value "$tmp/edge.txt" BenchmarkCatchUp readings/s) readings/s |"
	echo "| catch-up end to end: 20,000 queued readings through Mosquitto and the ingest pipeline until all are in InfluxDB | $(unit_value "$tmp/e2e.txt" BenchmarkCatchUpToInflux readings/s) readings/s |"
	echo "| resident memory, 100 metrics at 1 Hz for ${FOOTPRINT_SECONDS}s (target < 30 MB) | $(unit_value "$tmp/fp.txt" BenchmarkFootprint MB-rss) MB (peak $(unit_value "$tmp/fp.txt" BenchmarkFootprint MB-rss-peak) MB) |"
	for s in "${sizes[@]}"; do
		set -- $s
		echo "| release binary $1 (CGO off, -trimpath, -s -w) | $(awk -v n="$2" 'BEGIN { printf "%.1f MB (%d bytes)", n/1048576, n }') |"
	done
} >bench/edge.md
echo "bench-edge: wrote bench/edge.md" >&2
