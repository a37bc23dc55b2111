#!/usr/bin/env bash
# Benchmarks of rules evaluation and trend prediction; writes bench/predict.md.
# Usage: scripts/bench-predict.sh   (BENCHTIME=2s by default)
#        ONLY=fleet scripts/bench-predict.sh   rewrites only the fleet
#        section (between the fleet-bench markers) from fleet/'s benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
benchtime=${BENCHTIME:-2s}
raw=$(mktemp)
kept=$(mktemp)
fleet=$(mktemp)
trap 'rm -f "$raw" "$kept" "$fleet" "$fleet.md"' EXIT

# The fleet model's run-to-failure proof (issue 15): its table goes between
# the markers in the kept, hand-written part.
fleet_section() {
	local load
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	go test ./fleet -run '^$' -bench 'BenchmarkRunToFailure|BenchmarkTrain$' -benchtime 1x -count 1 | tee "$fleet" >&2
	{
		echo "<!-- fleet-bench -->"
		echo "Command: \`go test ./fleet -run '^\$' -bench 'BenchmarkRunToFailure|BenchmarkTrain\$' -benchtime 1x\`"
		echo "($(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ), load average at start: $load)."
		echo
		echo "| seed | fleet RMSE | fleet RMSE (capped truth) | linear RMSE | linear RMSE (capped truth) | 90 % interval coverage | mean width | trend rule: units predicted, RMSE |"
		echo "|---|---:|---:|---:|---:|---:|---:|---|"
		awk '/^BenchmarkRunToFailure\// {
			name=$1; sub(/-[0-9]+$/, "", name); sub(/.*seed=/, "", name)
			delete v
			for (i=3; i<=NF; i+=2) v[$(i+1)]=$i
			tr = (v["trend_predicted"]+0 > 0) ? sprintf("%d of 100, %.1f", v["trend_predicted"], v["trend_rmse"]) : "0 of 100"
			printf "| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f | %s |\n", name, v["fleet_rmse"], v["fleet_rmse_capped"], v["linear_rmse"], v["linear_rmse_capped"], v["coverage"], v["width"], tr
			f+=v["fleet_rmse"]; l+=v["linear_rmse"]; c+=v["coverage"]; n++
		}
		END { if (n) printf "| mean | %.1f | | %.1f | | %.2f | | |\n", f/n, l/n, c/n }' "$fleet"
		awk '/^BenchmarkTrain/ { printf "\nOne training of 100 failed units (BenchmarkTrain, wall time at that load): %.1f s.\n", $3/1e9 }' "$fleet"
		echo "<!-- /fleet-bench -->"
	} >"$fleet.md"
}

# splice_fleet FILE: replaces the marked fleet section of FILE.
splice_fleet() {
	awk -v repl="$fleet.md" '
		/^<!-- fleet-bench -->$/ { while ((getline l < repl) > 0) print l; skip=1; next }
		/^<!-- \/fleet-bench -->$/ { skip=0; next }
		!skip' "$1" >"$1.new" && mv "$1.new" "$1"
}

if [ "${ONLY:-}" = fleet ]; then
	fleet_section
	splice_fleet bench/predict.md
	echo "bench-predict: rewrote the fleet section of bench/predict.md" >&2
	exit 0
fi
# The hand-written sections (from the first "## Issue" heading on) are kept.
[ -f bench/predict.md ] && sed -n '/^## Issue/,$p' bench/predict.md >"$kept"
go test ./predict -run '^$' -bench . -benchmem -benchtime "$benchtime" -count 1 | tee "$raw" >&2
{
	echo "## predict"
	echo
	echo "Command: \`go test ./predict -run '^\$' -bench . -benchmem -benchtime $benchtime\`"
	echo "($(nproc) cores, $(go version | cut -d' ' -f3), $(date -u +%Y-%m-%dT%H:%MZ), load average at start: $(cut -d' ' -f1-3 /proc/loadavg); the machine is shared, so absolute figures vary)."
	echo
	echo "| benchmark | ns/op | extra | B/op | allocs/op |"
	echo "|---|---:|---|---:|---:|"
	awk '/^Benchmark/ {
		name=$1; sub(/-[0-9]+$/, "", name); ns=""; extra=""; b=""; a="";
		for (i=3; i<=NF; i+=2) {
			u=$(i+1)
			if (u=="ns/op") ns=$i
			else if (u=="B/op") b=$i
			else if (u=="allocs/op") a=$i
			else extra=extra (extra==""?"":", ") $i " " u
		}
		printf "| %s | %s | %s | %s | %s |\n", name, ns, extra, b, a
	}' "$raw"
	echo
	echo "- PredictorObserve: cost per reading of one series (window bucketing, eviction, the amortised refit every window/96 of event time). A degrading series passes the closed-form pre-checks and runs the three sajari/regression fits; a healthy one stops at the pre-checks."
	echo "- Fit: one fit of a full 72-point window of a degrading series, three models (sajari/regression formats its formula and residual strings on every run, which dominates)."
	echo "- EngineDense: 100 assets x 5 predicted metrics sampled every second, 12 h windows, through the rules engine without and with the predictor; one op = one reading of 5 metrics."
	echo "- StressScenario: the stress scenario replayed offline, sampled hourly and (interval=10m) at its own 10 minutes, on its own seed (977), five others (1-5) and two held out from development (6, 7), and hourly on seed 977 with every issue-15 check off: recall at >= 24 h lead, false alarms per 100 healthy asset-months, duplicates (see simulators/scenarios/stress.yaml)."
	echo "- RigScenario: six shared rigs, one failing bearing shaking three neighbours each: recall and how many neighbours get orders of their own (see simulators/scenarios/rig.yaml)."
	echo "- EngineThroughput: 10,000 assets x 5 metrics, each metric covered by a threshold rule with prediction (72h window), after a warm-up that fills every window; one op = one reading of 5 metrics."
	if [ -s "$kept" ]; then
		echo
		cat "$kept"
	fi
} >bench/predict.md
fleet_section
splice_fleet bench/predict.md
echo "bench-predict: wrote bench/predict.md" >&2
