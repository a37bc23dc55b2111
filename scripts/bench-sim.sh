#!/usr/bin/env bash
# Simulator benchmarks: model cost per reading, fleet generation with
# 10,000 assets x 5 metrics, and publishing to Mosquitto. Writes bench/sim.md.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
raw=$(go test -run '^$' -bench Fleet -benchtime 5x ./simulators/ ./simulators/mqttpub/ 2>&1)
model=$(go test -run '^$' -bench 'ModelReading' ./simulators/ 2>&1)
echo "$raw" "$model" >&2
{
	echo "## Simulators"
	echo
	echo '`go test -run ^$ -bench Fleet -benchtime 5x ./simulators/ ./simulators/mqttpub/` and `-bench ModelReading ./simulators/`'
	echo
	echo "| benchmark | result |"
	echo "|---|---|"
	echo "$model $raw" | grep -E '^Benchmark' | sort -u | sed -E 's/^(Benchmark[^ \t]+)[ \t]+[0-9]+[ \t]+(.*)$/| \1 | \2 |/' | tr -s '\t' ' '
} >bench/sim.md
