#!/usr/bin/env bash
# make bench: runs every scripts/bench-*.sh (each writes bench/<area>.md)
# and joins their tables into bench/results.md. Expects the services up and
# their PDM_* variables in the environment (the Makefile does both).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench
out=bench/results.md
{
	echo "# Benchmark results"
	echo
	echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(go version | cut -d' ' -f3-), run $(date -u +%Y-%m-%dT%H:%MZ)."
	echo
} >"$out"
status=0
for s in scripts/bench-*.sh; do
	[ -e "$s" ] || continue
	area=$(basename "$s" .sh)
	area=${area#bench-}
	echo "== $area" >&2
	if bash "$s"; then
		[ -f "bench/$area.md" ] && { cat "bench/$area.md"; echo; } >>"$out"
	else
		echo "bench: $s failed" >&2
		printf '## %s\n\nFAILED: see the output of %s\n\n' "$area" "$s" >>"$out"
		status=1
	fi
done
echo "bench: wrote $out" >&2
exit $status
