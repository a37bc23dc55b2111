#!/usr/bin/env bash
# Proves that the README's two commands work on a bare Debian 12 with only
# Go and make added (the README's preconditions): it builds a minimal
# bookworm root with debootstrap, copies this machine's Go and a snapshot of
# the working tree (git ls-files, with uncommitted changes) into it, installs
# make, and in a chroot runs
#
#   make demo   until the API answers with the demo's work orders, then Ctrl-C
#   make test   the whole suite
#
# Everything else (gcc, curl, PostgreSQL, Mosquitto, Node.js, npm, Chromium,
# InfluxDB) must be installed by deploy/local/services.sh from nothing. The
# chroot shares this machine's network, so its services use other ports:
# PostgreSQL's cluster lands on 5433 (5432 is busy here) and the services
# script must find it there; Mosquitto, InfluxDB and the API get free ports.
#
# usage: deploy/local/bare-debian-check.sh   (as root; `make check-bare-debian`)
# Slow: a first run downloads ~500 MB of packages and builds InfluxDB.
#   PDM_BARE_DIR     the root to build and reuse [/var/tmp/pdm-bookworm]
#   PDM_BARE_FRESH   1: start from a new debootstrap even if the root exists
#   PDM_DEBIAN_MIRROR [http://deb.debian.org/debian]
#   PDM_BARE_STEPS    which commands to run [demo test]
#   PDM_BARE_REUSE_CACHE 1: start the root with this machine's Go module
#                     cache and built tools (influxd, Telegraf, Helm) to save
#                     their downloads and builds (not "from nothing" then)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${PDM_BARE_DIR:-/var/tmp/pdm-bookworm}
MIRROR=${PDM_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf 'bare-debian: %s\n' "$*" >&2; }
die() { printf 'bare-debian: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap and chroot)"
command -v go >/dev/null || die "Go is needed on this machine (it is copied into the root)"
command -v debootstrap >/dev/null || {
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
	echo $((20000 + RANDOM % 20000)); }

if [ "${PDM_BARE_FRESH:-0}" = 1 ] && [ -d "$DIR" ]; then
	log "removing $DIR"
	rm -rf --one-file-system "$DIR"
fi
if [ ! -x "$DIR/bin/bash" ]; then
	log "debootstrap --variant=minbase bookworm into $DIR"
	debootstrap --variant=minbase bookworm "$DIR" "$MIRROR" >"$DIR.debootstrap.log" 2>&1 ||
		die "debootstrap failed (log $DIR.debootstrap.log)"
fi

mounts=(proc sys dev dev/pts)
cleanup() {
	local i
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		umount -l "$DIR/${mounts[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT
mount -t proc proc "$DIR/proc"
mount -t sysfs sys "$DIR/sys"
mount --bind /dev "$DIR/dev"
mount --bind /dev/pts "$DIR/dev/pts"
cp /etc/resolv.conf "$DIR/etc/resolv.conf"
# Certificate authorities this machine adds (a TLS-inspecting proxy between
# it and the package registries) are the machine's, not Debian's: carry them
# over, as a machine behind such a proxy would have them.
mkdir -p "$DIR/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$DIR/usr/local/share/ca-certificates/" 2>/dev/null || true

# The README's preconditions: Go and make.
GOROOT_HOST=$(go env GOROOT)
rm -rf "$DIR/usr/local/go"
cp -a "$GOROOT_HOST" "$DIR/usr/local/go"
chroot "$DIR" /usr/bin/env DEBIAN_FRONTEND=noninteractive bash -c 'apt-get update -qq && apt-get install -y -qq make >/dev/null'

# The tree under test.
rm -rf "$DIR/root/pdm"
mkdir -p "$DIR/root/pdm"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --ignore-failed-read 2>/dev/null) |
	tar -xf - -C "$DIR/root/pdm"

if [ "${PDM_BARE_REUSE_CACHE:-0}" = 1 ]; then
	log "reusing this machine's module cache and built tools"
	mkdir -p "$DIR/root/go/pkg/mod" "$DIR/root/.cache"
	cp -a "$(go env GOMODCACHE)/." "$DIR/root/go/pkg/mod/" 2>/dev/null || true
	[ -d "$HOME/.cache/pdm" ] && cp -a "$HOME/.cache/pdm" "$DIR/root/.cache/" || true
fi

MQTT_PORT=$(free_port)
INFLUX_PORT=$(free_port)
INFLUX_RPC_PORT=$(free_port)
HTTP_PORT=$(free_port)
# GOPROXY and GOFLAGS pass through (a module proxy mirror, if this machine uses one).
run() {
	chroot "$DIR" /usr/bin/env -i HOME=/root TERM=dumb PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		GOPROXY="$(go env GOPROXY)" GOSUMDB="$(go env GOSUMDB)" GOTOOLCHAIN=local \
		PDM_MQTT_PORT="$MQTT_PORT" PDM_INFLUX_PORT="$INFLUX_PORT" PDM_INFLUX_RPC_PORT="$INFLUX_RPC_PORT" \
		PDM_HTTP_ADDR="127.0.0.1:$HTTP_PORT" CI=true \
		bash -c "{ [ ! -x /usr/sbin/update-ca-certificates ] || update-ca-certificates >/dev/null 2>&1; } && cd /root/pdm && $1"
}
stop_services() { run 'deploy/local/services.sh down' || true; }
trap 'stop_services; cleanup' EXIT

steps=${PDM_BARE_STEPS:-demo test}
if [[ " $steps " == *" demo "* ]]; then
log "make demo (API on 127.0.0.1:$HTTP_PORT)"
demo_log=$DIR/root/demo.log
run 'exec make demo' >"$demo_log" 2>&1 &
demo=$!
deadline=$((SECONDS + 1800))
token=
until [ -n "$token" ] && curl -fsS -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$HTTP_PORT/api/v1/work-orders" 2>/dev/null; do
	kill -0 "$demo" 2>/dev/null || { tail -n 40 "$demo_log" >&2; die "make demo exited (log $demo_log)"; }
	[ $SECONDS -lt $deadline ] || { tail -n 40 "$demo_log" >&2; die "make demo: the API did not answer within 30 minutes"; }
	token=$(grep -oE '[A-Za-z0-9_-]{24,}' <(grep -i token "$demo_log") | head -n1 || true)
	sleep 5
done
log "make demo: the API answers with the printed admin token"
# Ctrl-C: the demo's process group gets SIGINT and must exit cleanly.
signal_tree() { local p; for p in $(pgrep -P "$1"); do signal_tree "$p"; done; kill -INT "$1" 2>/dev/null || true; }
signal_tree "$demo"
wait "$demo" || log "make demo exited with status $? after SIGINT"
fi

if [[ " $steps " == *" test "* ]]; then
	log "make test"
	run 'make test' >"$DIR/root/test.log" 2>&1 || { tail -n 60 "$DIR/root/test.log" >&2; die "make test failed (log $DIR/root/test.log)"; }
	tail -n 5 "$DIR/root/test.log" >&2
fi
log "OK: $steps on a bare Debian 12 (logs in $DIR/root)"
