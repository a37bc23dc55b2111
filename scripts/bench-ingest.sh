#!/usr/bin/env bash
# Ingest benchmarks (issue 3): end-to-end readings/s (MQTT publish -> InfluxDB,
# acknowledged; 10 metrics a reading; 1 and 50 readings a message; JSON and
# line protocol), publish-to-durable latency p50/p99 at half that rate,
# decoder ns/reading and allocations, and the raw InfluxDB write rate (line
# protocol over HTTP, 5,000 lines a request) of the same machine in the same
# run. Writes bench/ingest.md: the part above the line "<!-- history -->"
# is replaced, everything from that line on (readings by hand, earlier
# runs) is kept. Needs the services (deploy/local/services.sh up) and their
# env (eval "$(deploy/local/services.sh env)").
# PDM_BENCH_READINGS sets the readings per end-to-end case with 1 reading a
# message (default 200000); the cases with 50 a message use five times as many.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PDM_BENCH_READINGS=${PDM_BENCH_READINGS:-200000}
out=bench/ingest.md
raw=$(mktemp)
hist=$(mktemp)
trap 'rm -f "$raw" "$hist"' EXIT
# What is kept: the file from the history marker on.
marker='<!-- history -->'
if [[ -f $out ]] && grep -qxF "$marker" "$out"; then
	sed -n "/^${marker}\$/,\$p" "$out" >"$hist"
elif [[ -f $out ]]; then
	{ printf '%s\n\n' "$marker"; cat "$out"; } >"$hist"
else
	printf '%s\n' "$marker" >"$hist"
fi
mkdir -p bench
load0=$(cut -d' ' -f1-3 /proc/loadavg)

go test ./ingest -run '^$' -bench '^BenchmarkDecode$' -benchtime 2s -count 1 | tee -a "$raw"
go test ./ingest -run '^$' -bench '^BenchmarkPipelineCPU$' -benchtime 3x -count 1 | tee -a "$raw"
# The raw InfluxDB rate is measured before and after the end-to-end runs:
# on a shared machine it moves with the load.
go test ./ingest -run '^$' -bench '^BenchmarkInfluxRaw$' -benchtime 40x -count 1 -timeout 20m | tee -a "$raw"
go test ./ingest -run '^$' -bench '^BenchmarkEndToEnd$' -benchtime 1x -count 1 -timeout 30m | tee -a "$raw"
go test ./ingest -run '^$' -bench '^BenchmarkInfluxRaw$' -benchtime 40x -count 1 -timeout 20m | sed 's/^BenchmarkInfluxRaw/AfterInfluxRaw/' | tee -a "$raw"

# value UNIT LINE: the number before UNIT on a benchmark line.
val() { awk -v u="$1" '{for (i = 2; i <= NF; i++) if ($i == u) { printf "%s", $(i-1); exit }}' <<<"$2"; }
line() { grep -E "^$1(-[0-9]+)?[[:space:]]" "$raw" | head -n1 || true; }

{
	echo "# Ingest benchmarks"
	echo
	echo "Run $(date -u +%Y-%m-%dT%H:%MZ) (load average before: $load0) on $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), broker and InfluxDB on the same machine; ${PDM_BENCH_READINGS} readings per end-to-end case with 1 reading a message and $((PDM_BENCH_READINGS * 5)) with 50 (so that the drain lasts long enough to be a sustained rate), 10 metrics a reading. Produced by \`scripts/bench-ingest.sh\`."
	echo
	echo "## End to end (MQTT QoS 1 -> decoded -> InfluxDB -> acknowledged)"
	echo
	echo "Sustained rate: the backlog is published to a private Mosquitto (persistent session, max_inflight_messages 5000) while ingest is down, then ingest drains it into InfluxDB; timed from ingest start to the last acknowledged write. Ingest CPU is the benchmark process's CPU time during that drain (paho, decoding, batching, HTTP to InfluxDB; the broker and InfluxDB not included) per reading. Refused: messages the pipeline did not take because its queue stayed full for its QueueWait (2 s), delivered again after a reconnect (each crosses the broker twice and is written twice); a queue that moves makes delivery wait instead (TCP back-pressure), since Mosquitto 2.0.11 does not hold its in-flight window. Latency: publish time to the reading reaching the consumer (after the durable write and the ack), publishing live at half the sustained rate."
	echo
	echo "| payload | readings/message | readings/s | messages/s | ingest CPU ns/reading | messages refused and delivered again | latency p50 (ms) at half rate | latency p99 (ms) at half rate |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for c in json-1 json-50 lp-1 lp-50; do
		l=$(line "BenchmarkEndToEnd/$c")
		fmt=JSON; [[ $c == lp-* ]] && fmt="line protocol"
		echo "| $fmt | ${c#*-} | $(val readings/s "$l") | $(val msgs/s "$l") | $(val cpu-ns/reading "$l") | $(val refused-msgs "$l") | $(val p50-ms "$l") | $(val p99-ms "$l") |"
	done
	echo
	echo "Where the time goes at half rate (from the pipeline's histograms, so bounds are powers of two: \"<= 0.032s\" means between 16 and 32 ms): ack lag is receive to acknowledgement inside ingest; write is one request to InfluxDB; the queue gauges are sampled every 10 ms. Latency above the ack lag is spent before ingest receives the message (publisher and broker)."
	echo
	for c in json-1 json-50 lp-1 lp-50; do
		awk -v c="$c" '/^--- BENCH: BenchmarkEndToEnd\// { on = ($3 ~ "/" c "(-[0-9]+)?$") } on && /at half rate/ { sub(/^.*at half rate: /, ""); print "- " c ": " $0 }' "$raw"
	done
	echo
	echo "## Raw InfluxDB write rate (5,000 lines a request, 10 fields a line, 2 writers)"
	echo
	echo "| client | readings/s before the end-to-end runs | readings/s after |"
	echo "|---|---:|---:|"
	echo "| line protocol straight over HTTP | $(val readings/s "$(line BenchmarkInfluxRaw/http)") | $(val readings/s "$(line AfterInfluxRaw/http)") |"
	echo "| influxdb-client-go/v2 blocking write API, same lines (what ingest/influx does) | $(val readings/s "$(line BenchmarkInfluxRaw/client-lib)") | $(val readings/s "$(line AfterInfluxRaw/client-lib)") |"
	echo
	echo "## Ingest against the raw write rate (same run)"
	echo
	echo "Target (issue 13): ingest with 50 readings a message sustains at least 90 % of the raw InfluxDB write rate of the same run. The raw rate is the mean of the before and after runs of the table above, for the client library ingest uses (and for plain HTTP, the ceiling)."
	echo
	echo "| payload | ingest readings/s | raw (client library) readings/s | ingest / raw | raw (HTTP) readings/s | ingest / raw HTTP | >= 90 % of the client library |"
	echo "|---|---:|---:|---:|---:|---:|---|"
	for c in json-50 lp-50; do
		fmt=JSON; [[ $c == lp-* ]] && fmt="line protocol"
		awk -v f="$fmt" -v i="$(val readings/s "$(line "BenchmarkEndToEnd/$c")")" \
			-v lb="$(val readings/s "$(line BenchmarkInfluxRaw/client-lib)")" -v la="$(val readings/s "$(line AfterInfluxRaw/client-lib)")" \
			-v hb="$(val readings/s "$(line BenchmarkInfluxRaw/http)")" -v ha="$(val readings/s "$(line AfterInfluxRaw/http)")" '
			BEGIN {
				if (i == "" || lb == "" || la == "" || hb == "" || ha == "") { print "| " f " | " i " | | | | | missing figures |"; exit }
				l = (lb + la) / 2; h = (hb + ha) / 2
				printf "| %s | %.0f | %.0f | %.1f %% | %.0f | %.1f %% | %s |\n", f, i, l, 100 * i / l, h, 100 * i / h, (i >= 0.9 * l ? "yes" : "no")
			}'
	done
	echo
	echo "## Ingest's own CPU (no broker, no InfluxDB)"
	echo
	echo "\`BenchmarkPipelineCPU\`: 200,000 readings handed to the pipeline as the MQTT source does, decoded, batched, encoded as line protocol (not sent), acknowledged and handed on; process CPU time per reading. The end-to-end CPU above adds paho (per message), HTTP to InfluxDB and the garbage of both."
	echo
	echo "| case | pipeline CPU ns/reading | end-to-end CPU ns/reading | allocs per 200,000 readings |"
	echo "|---|---:|---:|---:|"
	for c in json-1 json-50 lp-1 lp-50; do
		l=$(line "BenchmarkPipelineCPU/$c")
		echo "| $c | $(val cpu-ns/reading "$l") | $(val cpu-ns/reading "$(line "BenchmarkEndToEnd/$c")") | $(val allocs/op "$l") |"
	done
	echo
	echo "## Decoders (one core)"
	echo
	echo "CPU ns/reading is the process CPU time per reading (GC included); wall ns/reading also counts waiting for a core on a shared machine (load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg))."
	echo
	echo "| payload | decoder | CPU ns/reading | wall ns/reading | readings/s (wall) | allocs/message | bytes/message |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	for c in json-1 json-1-std json-50 json-50-std lp-1 lp-1-lib lp-50 lp-50-lib; do
		l=$(line "BenchmarkDecode/$c")
		case $c in *-std) d="encoding/json" ;; *-lib) d="line-protocol/v2" ;; *) d="hand-written" ;; esac
		echo "| ${c%-std} | $d | $(val cpu-ns/reading "$l") | $(val ns/reading "$l") | $(val readings/s "$l") | $(val allocs/op "$l") | $(val B/op "$l") |"
	done
	echo
	echo "End to end, a decoder's cost adds to ingest's CPU per reading (the end-to-end table). Ingest CPU per reading with the library decoder instead = end-to-end CPU - hand-written decoder CPU + library decoder CPU; the hand-written decoder is kept only where that is at least twice the end-to-end CPU:"
	echo
	echo "| payload | end-to-end CPU ns/reading (hand-written) | with the library decoder | ratio |"
	echo "|---|---:|---:|---:|"
	for c in json-1 json-50 lp-1 lp-50; do
		lib=$c-std; [[ $c == lp-* ]] && lib=$c-lib
		e=$(val cpu-ns/reading "$(line "BenchmarkEndToEnd/$c")")
		h=$(val cpu-ns/reading "$(line "BenchmarkDecode/$c")")
		x=$(val cpu-ns/reading "$(line "BenchmarkDecode/$lib")")
		awk -v c="$c" -v e="$e" -v h="$h" -v x="$x" 'BEGIN { if (e == "" || h == "" || x == "") { print "| " c " | | | |"; exit } w = e - h + x; printf "| %s | %.0f | %.0f | %.2f |\n", c, e, w, w / e }'
	done
	echo
	cat "$hist"
} >"$out.new"
mv "$out.new" "$out"
echo "wrote $out"
