#!/usr/bin/env bash
# Measures the console's budgets and writes bench/console.md:
#  - the initial JavaScript of each entry (the entry script and every module
#    its HTML preloads), gzipped at level 9 as a server would send it; fails
#    when the console passes 300 KiB or the engineers' app 150 KiB;
#  - in Chromium (BenchmarkConsole, cmd/pdm/console_bench_test.go): the
#    first useful screen against `pdm serve` on a database with 1,000,000
#    work orders, scroll frame times of the orders list with 10,000 rows,
#    and the evidence chart's draw time with 100,000 points per series (the
#    bench page web/bench/chart.html, built here into web/dist/bench, never
#    into the shipped bundle).
# The 1,000,000 orders: PDM_BENCH_DB (default api_bench1m), the database
# scripts/bench-tickets.sh seeds and keeps; it is seeded here when missing
# (a few minutes), then copied to console_bench1m for the run (pdm serve
# writes to it) and the copy dropped afterwards. The source is only read.
#   scripts/bench-console.sh             build the bundle first (scripts/web.sh build)
#   NO_BUILD=1 scripts/bench-console.sh  measure the bundle already in web/dist/ui
#   NO_BROWSER=1 scripts/bench-console.sh  the bundle sizes only
set -euo pipefail
cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || scripts/web.sh build >/dev/null
dist=web/dist/ui

initial_js() { # html → gzipped bytes of the JS it loads up front
	local html=$1 total=0 f n
	for f in $(grep -o '\(src\|href\)="/[^"]*\.js"' "$html" | sed 's/.*="\/\(.*\)"/\1/' | sort -u); do
		n=$(gzip -9 -c "$dist/$f" | wc -c)
		total=$((total + n))
	done
	echo "$total"
}

fail=0
row() { # name html budget-KiB
	local b kib
	b=$(initial_js "$1")
	kib=$(awk -v b="$b" 'BEGIN { printf "%.1f", b / 1024 }')
	local ok=yes
	if [ "$b" -gt $(($3 * 1024)) ]; then ok=NO; fail=1; fi
	printf '| %s | %s KiB | %s KiB | %s |\n' "$2" "$kib" "$3" "$ok"
}

{
	echo "# Console budgets"
	echo
	echo "Measured by \`make bench-console\` (scripts/bench-console.sh) on $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD)."
	echo "Initial JavaScript: the entry script and every module its page preloads, gzip -9; lazily loaded"
	echo "chunks (the dispatch map, the QR scanner) are not counted because the first screen does not wait for them."
	echo
	echo "| entry | initial JS (gzip) | budget | within |"
	echo "|---|---|---|---|"
	row "$dist/index.html" "console (/)" 300
	[ -f "$dist/app/index.html" ] && row "$dist/app/index.html" "engineers' app (/app/)" 150
	for f in "$dist"/pages/*.html "$dist"/public/index.html; do
		[ -f "$f" ] && row "$f" "public pages (${f#"$dist"/})" 150
	done
} >bench/console.md.tmp

browser=""
if [ -z "${NO_BROWSER:-}" ]; then
	if [[ -z "${PDM_PG_URL:-}" ]]; then
		eval "$(deploy/local/services.sh env)"
	fi
	scripts/web.sh deps-browser
	(cd web && npx vite build -c vite.bench.config.ts --logLevel error)
	src="${PDM_BENCH_DB:-api_bench1m}"
	copy=console_bench1m
	admin="$PDM_PG_URL"
	if [ "$(psql "$admin" -Atc "SELECT count(*) FROM pg_database WHERE datname = '$src'")" != 1 ]; then
		echo "bench-console: seeding $src with 1,000,000 work orders (scripts/bench-tickets.sh's seed)" >&2
		PDM_BENCH_DB="$src" PDM_BENCH_ORDERS=1000000 PDM_BENCH_RATE=1 go test -run '^$' -bench '^BenchmarkTickets$' \
			-benchtime 1x -timeout 60m ./workorders/httpapi/ >/dev/null
	fi
	psql "$admin" -qc "DROP DATABASE IF EXISTS $copy WITH (FORCE)"
	# A template must have no other sessions: wait up to 10 minutes for
	# another benchmark using the source to finish.
	for try in $(seq 60); do
		psql "$admin" -qc "CREATE DATABASE $copy TEMPLATE $src" 2>/dev/null && break
		[ "$try" = 60 ] && { echo "bench-console: $src stayed in use; cannot copy it" >&2; exit 1; }
		sleep 10
	done
	trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $copy WITH (FORCE)" || true; rm -f bench/console.md.tmp bench/console-browser.md.tmp' EXIT
	PDM_CONSOLE_BENCH_DB=$copy PDM_BENCH_MD="$PWD/bench/console-browser.md.tmp" go test ./cmd/pdm -run '^$' \
		-bench '^BenchmarkConsole$' -benchtime 1x -count=1 -timeout 30m >/dev/null
	browser=bench/console-browser.md.tmp
fi

# The hand-written sections of bench/console.md (from "## Lighthouse" on)
# are kept.
keep=""
[ -f bench/console.md ] && keep=$(sed -n '/^## Lighthouse/,$p' bench/console.md)
{
	cat bench/console.md.tmp
	if [ -n "$browser" ]; then
		echo
		cat "$browser"
	fi
	if [ -n "$keep" ]; then
		echo
		echo "$keep"
	fi
} >bench/console.md
rm -f bench/console.md.tmp
cat bench/console.md
exit $fail
