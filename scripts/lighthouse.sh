#!/usr/bin/env bash
# Lighthouse accessibility of every screen (console, engineers' app, public
# pages), in English and Chinese; prints the table bench/console.md keeps.
# Not part of `make test`.
#
# Starts `pdm demo` (serve + the demo site + the simulated fleet) on its own
# PostgreSQL database (LH_DB, default a11y_lh), port (LH_ADDR, default
# 127.0.0.1:18972) and MQTT topic root, files a customer request for the
# public status page, waits for the fleet's first orders, signs in through
# POST /api/v1/session (admin for the console, the demo engineer for /app/)
# and runs npm lighthouse 12 with Debian's Chromium on each screen; stops
# pdm by its pid at the end. Lighthouse is installed outside the repository:
#   npm install --prefix /tmp/a11y-lh lighthouse@12
#   LH_PREFIX=/tmp/a11y-lh scripts/lighthouse.sh      (after scripts/web.sh build)
# LH_BASE=http://host:port LH_ADMIN=token LH_ENGINEER=token measures a pdm
# already running with the demo site instead of starting one; LH_OUT=dir keeps
# every report (JSON); LH_SCREENS="/review /app/" measures only those.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${LH_PREFIX:-/tmp/a11y-lh}
lh="$prefix/node_modules/.bin/lighthouse"
[ -x "$lh" ] || { echo "lighthouse: npm install --prefix $prefix lighthouse@12" >&2; exit 1; }
work=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

base=${LH_BASE:-}
admin=${LH_ADMIN:-}
engineer=${LH_ENGINEER:-}
if [ -z "$base" ]; then
	[ -n "${PDM_PG_URL:-}" ] || eval "$(deploy/local/services.sh env)"
	db=${LH_DB:-a11y_lh}
	addr=${LH_ADDR:-127.0.0.1:18972}
	psql "$PDM_PG_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
	go build -o "$work/pdm" ./cmd/pdm
	admin=lh$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	pg=$(printf '%s' "$PDM_PG_URL" | sed -E "s#/[^/?]+(\?|$)#/$db\1#")
	PDM_PG_URL=$pg "$work/pdm" migrate >/dev/null 2>&1
	PDM_PG_URL=$pg PDM_HTTP_ADDR=$addr PDM_MQTT_TOPIC_ROOT=lh/v1 PDM_ADMIN_TOKEN=$admin \
		"$work/pdm" demo >"$work/demo.log" 2>&1 &
	pid=$!
	for _ in $(seq 120); do grep -q 'pdm demo is running' "$work/demo.log" && break; sleep 1; done
	grep -q 'pdm demo is running' "$work/demo.log" || { tail -20 "$work/demo.log" >&2; exit 1; }
	base=http://$addr
	engineer=$(sed -n 's/.*engineer: .*token \([^ ]*\) .*/\1/p' "$work/demo.log")
fi
api=$base/api/v1
auth=(-H "Authorization: Bearer $admin")

# A customer's request: its status page is /s/{token}.
status_url=$(curl -sf -X POST "$api/public/requests" -H 'Content-Type: application/json' \
	-d '{"site":"DEMO","asset":"P-101","title":"Noise","description":"The pump is loud","requester":{"name":"Li Lei","email":"li@example.com"}}' |
	sed -n 's/.*"status_url":"\([^"]*\)".*/\1/p')
[ -n "$status_url" ] || { echo "lighthouse: the public request failed" >&2; exit 1; }
# The fleet's first trend orders come within about two minutes.
for _ in $(seq 180); do
	n=$(curl -sf "${auth[@]}" "$api/work-orders?limit=50" | grep -o '"number":"WO-[0-9]*"' | wc -l)
	[ "$n" -ge 3 ] && break
	sleep 1
done
order=$(curl -sf "${auth[@]}" "$api/work-orders?limit=1" | grep -o '"number":"WO-[0-9]*"' | head -1 | cut -d'"' -f4)
asset=$(curl -sf "${auth[@]}" "$api/assets?code=P-101" | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4)
atype=$(curl -sf "${auth[@]}" "$api/assets/$asset" | grep -o '"type":"[^"]*"' | head -1 | cut -d'"' -f4)

cookie() { # token → pdm_session=...
	curl -sf -D - -o /dev/null -X POST "$api/session" -H 'Content-Type: application/json' -d "{\"token\":\"$1\"}" |
		sed -n 's/^[Ss]et-[Cc]ookie: \(pdm_session=[^;]*\).*/\1/p'
}
admin_cookie=$(cookie "$admin")
eng_cookie=$(cookie "$engineer")

screens=(/review /requests /dispatch /kpis /reports /orders "/orders/$order" /assets "/assets/$asset"
	"/asset-types/$atype" /rules /inventory /schedules /gateways /notifications /app/ /r/DEMO /r/DEMO/P-101
	"${status_url#"$base"}")
[ -z "${LH_SCREENS:-}" ] || read -r -a screens <<<"$LH_SCREENS" # e.g. "/review /app/"
echo "| screen | en | zh-CN | failing audits |"
echo "|---|---|---|---|"
for s in "${screens[@]}"; do
	c=$admin_cookie
	case $s in /app/*) c=$eng_cookie ;; /r/* | /s/*) c="" ;; esac
	row=""
	fails=""
	for lang in en zh-CN; do
		out="$work/lh.json"
		"$lh" "$base$s" --quiet --only-categories=accessibility --output=json --output-path="$out" \
			--chrome-path=/usr/bin/chromium  \
			--chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --lang=$lang --accept-lang=$lang --user-data-dir=$work/profile-$lang" \
			${c:+--extra-headers="{\"Cookie\":\"$c\"}"} >/dev/null 2>"$work/lh.err" || { tail -3 "$work/lh.err" >&2; }
		read -r score failed < <(node -e '
			const r = require(process.argv[1]);
			const a = r.categories.accessibility;
			const f = a.auditRefs.filter((x) => x.weight > 0 && r.audits[x.id].score !== null && r.audits[x.id].score < 1).map((x) => x.id);
			console.log(Math.round(a.score * 100), f.join(",") || "none");' "$out")
		row="$row | $score"
		[ "$failed" = none ] || fails="$fails $lang: $failed"
		rm -rf "$work/profile-$lang"
		[ -z "${LH_OUT:-}" ] || { mkdir -p "$LH_OUT"; cp "$out" "$LH_OUT/$(printf '%s' "$s" | tr -c 'A-Za-z0-9-' _)-$lang.json"; }
	done
	shown=$s
	case $s in /orders/WO-*) shown=/orders/{number} ;; /assets/*) shown=/assets/{id} ;; /s/*) shown=/s/{token} ;; esac
	echo "| $shown$row | ${fails:- none} |"
done
