#!/usr/bin/env bash
# Local services for development, tests and the demo:
#   PostgreSQL 15 (Debian package, 127.0.0.1:5432, trust on loopback)
#   Mosquitto 2   (Debian package, 127.0.0.1:1883)
#   InfluxDB 1.8  (built once with `go install`, run from a project-local folder, 127.0.0.1:8086)
#
# usage: deploy/local/services.sh up|down|status|env
#
# Idempotent: `up` installs what is missing, starts what is not running,
# creates the `pdm` databases and waits for each service to be healthy.
# Paths and ports can be overridden with the variables below.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${PDM_SERVICES_DIR:-$ROOT/.services}
CACHE_DIR=${PDM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pdm}
INFLUX_VERSION=1.8.10
INFLUXD=${PDM_INFLUXD_BIN:-$CACHE_DIR/influxdb-$INFLUX_VERSION/bin/influxd}
INFLUX_PORT=${PDM_INFLUX_PORT:-8086}
PG_PORT=5432
MQTT_PORT=1883
WAIT_SECONDS=${PDM_SERVICES_WAIT:-60}

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
	log "installing Debian packages: $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# wait_for NAME COMMAND...: retries COMMAND until it succeeds or WAIT_SECONDS pass.
wait_for() {
	local name=$1; shift
	local deadline=$((SECONDS + WAIT_SECONDS))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			die "$name did not become healthy within ${WAIT_SECONDS}s (check: $*)"
		fi
		sleep 0.5
	done
}

# ---------------------------------------------------------------- PostgreSQL

pg_ok() { pg_isready -q -h 127.0.0.1 -p $PG_PORT; }
pg_login_ok() { psql -X -q -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; }

pg_up() {
	if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
		apt_install postgresql postgresql-contrib
	fi
	local ver
	ver=$(ls /etc/postgresql | sort -V | tail -n1)
	if ! pg_ok; then
		log "starting PostgreSQL $ver"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
	fi
	wait_for "PostgreSQL (127.0.0.1:$PG_PORT)" pg_ok
	if ! pg_login_ok; then
		# A fresh Debian cluster uses peer/scram auth; development uses trust on loopback.
		local hba=/etc/postgresql/$ver/main/pg_hba.conf
		log "enabling trust authentication on loopback in $hba"
		as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
		as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
		wait_for "PostgreSQL login as postgres" pg_login_ok
	fi
	# The default PDM_PG_URL connects over the socket as the current user.
	local me
	me=$(id -un)
	psql -X -q -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_roles where rolname='$me'" | grep -q 1 ||
		psql -X -q -h 127.0.0.1 -U postgres -d postgres -c "create role \"$me\" superuser login"
	psql -X -q -h 127.0.0.1 -U postgres -d postgres -tAc "select 1 from pg_database where datname='pdm'" | grep -q 1 ||
		psql -X -q -h 127.0.0.1 -U postgres -d postgres -c 'create database pdm'
	psql -X -q -h 127.0.0.1 -U postgres -d pdm -c 'create extension if not exists pg_trgm' >/dev/null
}

pg_down() {
	local ver
	ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
	[ -n "$ver" ] && as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main stop || true
}

# ------------------------------------------------------------------ Mosquitto

mqtt_ok() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQTT_PORT" 2>/dev/null; }

# The broker must keep what a persistent session has not taken yet: pdm's
# ingest acknowledges only after InfluxDB has a reading, so while it is down
# or behind, the broker queues. Mosquitto's default keeps 1,000 messages per
# client and drops the rest; its in-flight window of 20 reorders QoS 1
# messages to a slow subscriber, so the window is unlimited (TCP paces it).
MQTT_CONF_D=/etc/mosquitto/conf.d
MQTT_PDM_CONF="# written by pdm's deploy/local/services.sh
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 0"

mqtt_configure() {
	local main=/etc/mosquitto/mosquitto.conf changed=1
	as_root mkdir -p "$MQTT_CONF_D"
	if [ ! -f "$main" ]; then
		printf 'pid_file /run/mosquitto/mosquitto.pid\npersistence true\npersistence_location /var/lib/mosquitto/\nlog_dest file /var/log/mosquitto/mosquitto.log\n' | as_root tee "$main" >/dev/null
	fi
	grep -q "^listener $MQTT_PORT" "$main" "$MQTT_CONF_D"/*.conf 2>/dev/null ||
		printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQTT_PORT" | as_root tee "$MQTT_CONF_D/pdm-listener.conf" >/dev/null
	grep -q "^include_dir $MQTT_CONF_D" "$main" || echo "include_dir $MQTT_CONF_D" | as_root tee -a "$main" >/dev/null
	if [ "$(cat "$MQTT_CONF_D/pdm.conf" 2>/dev/null)" != "$MQTT_PDM_CONF" ]; then
		printf '%s\n' "$MQTT_PDM_CONF" | as_root tee "$MQTT_CONF_D/pdm.conf" >/dev/null
		changed=0
	fi
	return $changed
}

mqtt_up() {
	command -v mosquitto >/dev/null 2>&1 || apt_install mosquitto mosquitto-clients
	if mqtt_configure && mqtt_ok; then
		log "restarting Mosquitto to apply $MQTT_CONF_D/pdm.conf"
		mqtt_down
		local deadline=$((SECONDS + 10))
		while pgrep -x mosquitto >/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
	fi
	if ! mqtt_ok; then
		as_root mkdir -p /run/mosquitto /var/lib/mosquitto /var/log/mosquitto
		as_root chown mosquitto: /run/mosquitto /var/lib/mosquitto /var/log/mosquitto 2>/dev/null || true
		log "starting Mosquitto"
		as_root mosquitto -d -c /etc/mosquitto/mosquitto.conf
	fi
	wait_for "Mosquitto (127.0.0.1:$MQTT_PORT)" mqtt_ok
}

mqtt_down() {
	as_root pkill -x mosquitto || true
}

# ------------------------------------------------------------------- InfluxDB

influx_ok() { curl -fsS -o /dev/null "http://127.0.0.1:$INFLUX_PORT/ping"; }

influx_build() {
	[ -x "$INFLUXD" ] && return 0
	command -v go >/dev/null 2>&1 || die "Go is needed to build InfluxDB $INFLUX_VERSION (install Go from https://go.dev/dl)"
	log "building influxd $INFLUX_VERSION into $(dirname "$INFLUXD") (about a minute, once)"
	mkdir -p "$(dirname "$INFLUXD")"
	(cd /tmp && GOBIN=$(dirname "$INFLUXD") GOFLAGS=-mod=mod go install "github.com/influxdata/influxdb/cmd/influxd@v$INFLUX_VERSION") ||
		die "building influxd failed"
}

influx_up() {
	influx_build
	local dir=$STATE_DIR/influxdb
	mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
	cat >"$dir/influxdb.conf" <<EOF
reporting-disabled = true
bind-address = "127.0.0.1:$((INFLUX_PORT + 2))"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
  cache-max-memory-size = "2g"
  max-series-per-database = 0
  max-values-per-tag = 0
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  flux-enabled = true
  log-enabled = false
  max-body-size = 0
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
EOF
	if ! influx_ok; then
		log "starting influxd $INFLUX_VERSION on 127.0.0.1:$INFLUX_PORT (data in $dir)"
		nohup "$INFLUXD" run -config "$dir/influxdb.conf" -pidfile "$dir/influxd.pid" >"$dir/influxd.log" 2>&1 &
	fi
	wait_for "InfluxDB (127.0.0.1:$INFLUX_PORT, log $dir/influxd.log)" influx_ok
	curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$INFLUX_PORT/query" --data-urlencode 'q=CREATE DATABASE pdm' ||
		die "could not create the InfluxDB database pdm"
}

influx_down() {
	local pidfile=$STATE_DIR/influxdb/influxd.pid
	if [ -f "$pidfile" ]; then
		kill "$(cat "$pidfile")" 2>/dev/null || true
		rm -f "$pidfile"
	fi
}

# ---------------------------------------------------------------------- main

print_env() {
	cat <<EOF
export PDM_PG_URL='postgres://postgres@127.0.0.1:$PG_PORT/pdm?sslmode=disable'
export PDM_MQTT_URL='tcp://127.0.0.1:$MQTT_PORT'
export PDM_INFLUX_URL='http://127.0.0.1:$INFLUX_PORT'
export PDM_INFLUX_BUCKET='pdm'
export PDM_INFLUXD_BIN='$INFLUXD'
export PDM_MOSQUITTO_BIN='$(command -v mosquitto || echo /usr/sbin/mosquitto)'
EOF
}

status() {
	local rc=0
	if pg_ok; then echo "postgresql: up (127.0.0.1:$PG_PORT)"; else echo "postgresql: down"; rc=1; fi
	if mqtt_ok; then echo "mosquitto:  up (127.0.0.1:$MQTT_PORT)"; else echo "mosquitto:  down"; rc=1; fi
	if influx_ok; then echo "influxdb:   up (127.0.0.1:$INFLUX_PORT)"; else echo "influxdb:   down"; rc=1; fi
	return $rc
}

case "${1:-}" in
up)
	pg_up
	mqtt_up
	influx_up
	status
	;;
down)
	influx_down
	mqtt_down
	pg_down
	;;
status) status ;;
env) print_env ;;
*)
	echo "usage: $0 up|down|status|env" >&2
	exit 2
	;;
esac
