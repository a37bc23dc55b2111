#!/usr/bin/env bash
# The engineers' app: BenchmarkApp (Chromium on an emulated phone against a
# real pdm serve: first load on throttled 3G, cached and offline loads, a
# queued action reaching the server after reconnecting) and the app shell's
# size (gzipped JS and CSS /app/ loads before the first screen) → bench/app.md.
# Needs the web bundle built into the test binary (make web).
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/app.md
PDM_BENCH_MD="$PWD/$out" go test ./cmd/pdm -run '^$' -bench '^BenchmarkApp$' -benchtime 1x -count=1 -timeout 15m >/dev/null
page=web/dist/ui/app/index.html
js=0; jsgz=0; css=0; cssgz=0; n=0
for a in $(grep -oE '/assets/[^"]+\.(js|css)' "$page" | sort -u); do
	f="web/dist/ui$a"; n=$((n + 1))
	case "$f" in
	*.js) js=$((js + $(wc -c <"$f"))); jsgz=$((jsgz + $(gzip -9c "$f" | wc -c))) ;;
	*.css) css=$((css + $(wc -c <"$f"))); cssgz=$((cssgz + $(gzip -9c "$f" | wc -c))) ;;
	esac
done
lazy=0
for f in web/dist/ui/assets/Chart-*.js web/dist/ui/assets/jsQR-*.js; do [ -f "$f" ] && lazy=$((lazy + $(gzip -9c "$f" | wc -c))); done
printf '\nApp shell (the %d files web/dist/ui/app/index.html loads): JavaScript %d bytes, %d bytes gzipped (budget 150 KiB = 153600); CSS %d bytes, %d gzipped. Loaded later, only when used: the chart component and the jsQR fallback decoder (camera without BarcodeDetector), %d bytes gzipped together (uPlot itself ships in a chunk the shell shares with the console, counted above).\n' \
	"$n" "$js" "$jsgz" "$css" "$cssgz" "$lazy" >>"$out"
printf '\nMachine load average during the run: %s. Command: scripts/bench-app.sh (make bench runs it).\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
