#!/usr/bin/env bash
# Customers' pages and notifications: BenchmarkCustomers (public status at
# 500 req/s, 1,000 emails through a local SMTP server against the API's
# p99) and the size of the public page (gzipped HTML + JS + CSS) → bench/customers.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bench/customers.md
# Sections from the first "### " heading on are written by hand (exports,
# email intake): kept across runs.
kept="$(sed -n '/^### /,$p' "$out" 2>/dev/null || true)"
PDM_BENCH_MD="$PWD/$out" go test ./workorders/httpapi -run '^$' -bench BenchmarkCustomers -benchtime 1x -count=1 -timeout 15m >/dev/null
page=web/dist/ui/pages/index.html
if [ -f "$page" ]; then
	files=("$page")
	for a in $(grep -oE '/assets/[^"]+\.(js|css)' "$page" | sort -u); do files+=("web/dist/ui$a"); done
	raw=0; gz=0
	for f in "${files[@]}"; do
		raw=$((raw + $(wc -c <"$f"))); gz=$((gz + $(gzip -9c "$f" | wc -c)))
	done
	printf '\nPublic page /s/{token} (web/dist/ui/pages/index.html and the %d files it loads): %d bytes, %d bytes gzipped (budget 50 KiB).\n' \
		"$(( ${#files[@]} - 1 ))" "$raw" "$gz" >>"$out"
fi
printf '\nMachine load average during the run: %s.\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
[ -z "$kept" ] || printf '\n%s\n' "$kept" >>"$out"
