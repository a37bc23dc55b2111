#!/usr/bin/env bash
# Measures the console's budgets that need no browser and writes
# bench/console.md: the initial JavaScript of each entry (the entry script
# and every module its HTML preloads), gzipped at level 9 as a server
# would send it. Fails when the console passes 300 KiB or the engineers'
# app 150 KiB.
#   scripts/bench-console.sh            build the bundle first (scripts/web.sh build)
#   NO_BUILD=1 scripts/bench-console.sh measure the bundle already in web/dist/ui
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
	echo
	echo "Not yet measured here: first useful screen with 1,000,000 orders,"
	echo "the 100,000-point evidence chart's draw time and Lighthouse accessibility."
} >bench/console.md
cat bench/console.md
exit $fail
