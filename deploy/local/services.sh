#!/usr/bin/env bash
# Local services for development, tests and the demo:
#   PostgreSQL 15 (Debian package and cluster, 127.0.0.1, trust on loopback)
#   Mosquitto 2   (Debian package; this script runs its own broker, 127.0.0.1:1883)
#   InfluxDB 1.8  (built once with `go install`, run from a project-local folder, 127.0.0.1:8086)
#
# usage: deploy/local/services.sh up|down|status|env|deps
#
# Idempotent: `up` installs what is missing (deps), starts what is not
# running, creates the `pdm` databases and waits for each service to be
# healthy. `down` stops only what this script started (it keeps pid files
# and a note of the PostgreSQL cluster it started under PDM_SERVICES_DIR);
# it never stops a process found by its name.
#
# Variables (defaults in brackets); set other ports and another
# PDM_SERVICES_DIR to run a second set of services beside the first:
#   PDM_SERVICES_DIR  state: data, pid files, logs [<repo>/.services]
#   PDM_CACHE_DIR     built binaries [~/.cache/pdm]
#   PDM_PG_PORT       PostgreSQL port; unset: the port of the Debian cluster
#                     `main` (5432, or 5433 and up when 5432 was busy when the
#                     package was installed). Set to a port no cluster uses, a
#                     cluster `pdm<port>` is created and started on it.
#   PDM_MQTT_PORT     Mosquitto listener [1883]
#   PDM_INFLUX_PORT   InfluxDB HTTP [8086]; PDM_INFLUX_RPC_PORT its backup/RPC port [HTTP+2]
#   PDM_TELEGRAF_BIN  Telegraf for the ingest tests [built into the cache]
#   PDM_HELM_BIN      Helm for the chart's tests [built into the cache]
#   PDM_SERVICES_WAIT seconds to wait for a service to be healthy [60]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${PDM_SERVICES_DIR:-$ROOT/.services}
CACHE_DIR=${PDM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pdm}
INFLUX_VERSION=1.8.10
INFLUXD=${PDM_INFLUXD_BIN:-$CACHE_DIR/influxdb-$INFLUX_VERSION/bin/influxd}
HELM_VERSION=3.22.0
HELM=${PDM_HELM_BIN:-$CACHE_DIR/helm-v$HELM_VERSION/helm}
TELEGRAF_VERSION=1.37.2
TELEGRAF=${PDM_TELEGRAF_BIN:-$CACHE_DIR/telegraf-v$TELEGRAF_VERSION/telegraf}
INFLUX_PORT=${PDM_INFLUX_PORT:-8086}
INFLUX_RPC_PORT=${PDM_INFLUX_RPC_PORT:-$((INFLUX_PORT + 2))}
PG_PORT=${PDM_PG_PORT:-}
MQTT_PORT=${PDM_MQTT_PORT:-1883}
WAIT_SECONDS=${PDM_SERVICES_WAIT:-60}

log() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "need root for: $* (run as root or install sudo)"
	fi
}

apt_updated=
apt_install() {
	log "installing Debian packages: $*"
	if [ -z "$apt_updated" ]; then
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
		apt_updated=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# deps installs every Debian package the README's two commands (`make demo`,
# `make test`) need beyond Go and make: gcc and the C library headers (the
# race detector needs cgo), curl, PostgreSQL, Mosquitto (broker and
# clients), Node.js and npm (the web console's build and tests),
# Chromium (the console's browser tests) and the fonts asset labels use.
deps() {
	local missing=() cmd pkg
	while read -r cmd pkg; do
		command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
	done <<-'EOF2'
		gcc gcc
		curl curl
		pg_ctlcluster postgresql
		mosquitto mosquitto
		mosquitto_pub mosquitto-clients
		node nodejs
		npm npm
		chromium chromium
		pgrep procps
		git git
	EOF2
	[ -e /usr/include/stdlib.h ] || missing+=(libc6-dev)
	# Asset labels draw Latin with DejaVu Sans and Chinese with Droid Sans
	# Fallback (workorders/labels; PDM_LABEL_FONT overrides).
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
	[ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || missing+=(fonts-droid-fallback)
	[ -d /etc/ssl/certs ] && [ -n "$(ls /etc/ssl/certs 2>/dev/null)" ] || missing+=(ca-certificates)
	[ -d /usr/share/postgresql-common ] && [ -n "$(ls /usr/share/postgresql/*/extension/pg_trgm.control 2>/dev/null)" ] || missing+=(postgresql-contrib)
	if [ ${#missing[@]} -gt 0 ]; then
		apt_install "${missing[@]}"
		# Debian starts a freshly installed mosquitto.service on 1883 with its
		# default limits (1,000 queued messages a client); this script runs
		# its own broker instead, so the package's service is stopped with
		# its own control command and not started at boot.
		if [[ " ${missing[*]} " == *" mosquitto "* ]]; then
			if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
				as_root systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
			elif [ -x /etc/init.d/mosquitto ]; then
				as_root /etc/init.d/mosquitto stop >/dev/null 2>&1 || true
			fi
		fi
	fi
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

# pid_of PIDFILE NEEDLE prints the pid in PIDFILE when that process runs and
# its command line contains NEEDLE (a pid the system reused for another
# program does not count).
pid_of() {
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
	echo "$pid"
}

# stop_pid NAME PIDFILE NEEDLE stops the process of PIDFILE (see pid_of),
# waits until it has exited and removes PIDFILE.
stop_pid() {
	local pid deadline
	if pid=$(pid_of "$2" "$3"); then
		log "stopping $1 (pid $pid)"
		kill "$pid" 2>/dev/null || true
		deadline=$((SECONDS + 30))
		while kill -0 "$pid" 2>/dev/null; do
			if [ $SECONDS -ge $deadline ]; then
				log "$1 (pid $pid) did not exit within 30s: killing it"
				kill -9 "$pid" 2>/dev/null || true
			fi
			sleep 0.2
		done
	fi
	rm -f "$2"
}

# ---------------------------------------------------------------- PostgreSQL

PG_MARK=$STATE_DIR/postgresql.started

# pg_pick prints "version name port status" of the cluster to use: the one
# on PDM_PG_PORT when set, else `main` of the newest version.
pg_pick() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	if [ -n "$PG_PORT" ]; then
		pg_lsclusters -h 2>/dev/null | awk -v p="$PG_PORT" '$3 == p {print $1, $2, $3, $4; exit}'
	else
		pg_lsclusters -h 2>/dev/null | awk '$2 == "main" {print $1, $2, $3, $4}' | sort -V | tail -n1
	fi
}

# pg_port prints the port PostgreSQL is (or will be) reached on.
pg_port() {
	local ver name port status
	read -r ver name port status <<<"$(pg_pick)"
	echo "${port:-${PG_PORT:-5432}}"
}

pg_ok() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }
pg_login_ok() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; }
pg_sql() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

pg_up() {
	local line ver name port status
	line=$(pg_pick)
	if [ -z "$line" ]; then
		ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1)
		[ -n "$ver" ] || die "PostgreSQL is not installed"
		name=main
		[ -z "$PG_PORT" ] || name=pdm$PG_PORT
		log "creating PostgreSQL cluster $ver/$name${PG_PORT:+ on port $PG_PORT}"
		as_root pg_createcluster ${PG_PORT:+-p "$PG_PORT"} "$ver" "$name" >/dev/null
		line=$(pg_pick)
		[ -n "$line" ] || die "PostgreSQL cluster $ver/$name was not created"
	fi
	read -r ver name port status <<<"$line"
	PG_PORT=$port
	if [[ $status != online* ]]; then
		log "starting PostgreSQL cluster $ver/$name on port $port"
		as_root pg_ctlcluster "$ver" "$name" start
		echo "$ver $name" >"$PG_MARK"
	fi
	wait_for "PostgreSQL (127.0.0.1:$PG_PORT)" pg_ok
	if ! pg_login_ok; then
		# A fresh Debian cluster uses peer/scram auth; development uses trust on loopback.
		local hba=/etc/postgresql/$ver/$name/pg_hba.conf
		log "enabling trust authentication on loopback in $hba"
		as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
		as_root pg_ctlcluster "$ver" "$name" reload
		wait_for "PostgreSQL login as postgres" pg_login_ok
	fi
	local me
	me=$(id -un)
	pg_sql -d postgres -tAc "select 1 from pg_roles where rolname='$me'" | grep -q 1 ||
		pg_sql -d postgres -c "create role \"$me\" superuser login"
	pg_sql -d postgres -tAc "select 1 from pg_database where datname='pdm'" | grep -q 1 ||
		pg_sql -d postgres -c 'create database pdm'
	pg_sql -d pdm -c 'create extension if not exists pg_trgm' >/dev/null
}

pg_down() {
	local ver name
	if [ -f "$PG_MARK" ] && read -r ver name <"$PG_MARK"; then
		log "stopping PostgreSQL cluster $ver/$name"
		as_root pg_ctlcluster "$ver" "$name" stop || true
		rm -f "$PG_MARK"
	elif [ -n "$(pg_pick)" ]; then
		log "PostgreSQL: the cluster on port $(pg_port) was not started by this script; left running"
	fi
}

# ------------------------------------------------------------------ Mosquitto

MQTT_DIR=$STATE_DIR/mosquitto
MQTT_CONF=$MQTT_DIR/mosquitto.conf
MQTT_PID=$MQTT_DIR/mosquitto.pid

mqtt_ok() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$MQTT_PORT" 2>/dev/null; }

# The broker must keep what a persistent session has not taken yet: pdm's
# ingest acknowledges only after InfluxDB has a reading, so while it is down
# or behind, the broker queues. Mosquitto's default keeps 1,000 messages per
# client and drops the rest; its in-flight window of 20 reorders QoS 1
# messages to a slow subscriber, so the window is unlimited (TCP paces it).
# "user" keeps the privileges of whoever runs this script (as root,
# Mosquitto would drop to its own user, who cannot write here).
mqtt_conf() {
	cat <<EOF2
# written by pdm's deploy/local/services.sh
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $MQTT_DIR/data/
pid_file $MQTT_PID
log_dest file $MQTT_DIR/mosquitto.log
user $(id -un)
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 0
EOF2
}

mqtt_up() {
	mkdir -p "$MQTT_DIR/data"
	local want pid
	want=$(mqtt_conf)
	if [ "$(cat "$MQTT_CONF" 2>/dev/null)" != "$want" ]; then
		printf '%s\n' "$want" >"$MQTT_CONF"
		if pid=$(pid_of "$MQTT_PID" "$MQTT_CONF"); then
			log "restarting Mosquitto (pid $pid) to apply $MQTT_CONF"
			stop_pid Mosquitto "$MQTT_PID" "$MQTT_CONF"
		fi
	fi
	if mqtt_ok; then
		pid_of "$MQTT_PID" "$MQTT_CONF" >/dev/null ||
			log "a broker this script did not start answers on 127.0.0.1:$MQTT_PORT; using it as it is (pdm wants the settings in $MQTT_CONF)"
	else
		log "starting Mosquitto on 127.0.0.1:$MQTT_PORT (data in $MQTT_DIR)"
		"$(mosquitto_bin)" -d -c "$MQTT_CONF"
	fi
	wait_for "Mosquitto (127.0.0.1:$MQTT_PORT, log $MQTT_DIR/mosquitto.log)" mqtt_ok
}

mqtt_down() { stop_pid Mosquitto "$MQTT_PID" "$MQTT_CONF"; }

mosquitto_bin() { command -v mosquitto 2>/dev/null || echo /usr/sbin/mosquitto; }

# ------------------------------------------------------------------- InfluxDB

INFLUX_DIR=$STATE_DIR/influxdb
INFLUX_PID=$INFLUX_DIR/influxd.pid

influx_ok() { curl -fsS -o /dev/null "http://127.0.0.1:$INFLUX_PORT/ping" 2>/dev/null; }

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
	local dir=$INFLUX_DIR
	mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
	cat >"$dir/influxdb.conf" <<EOF2
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"
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
EOF2
	if influx_ok; then
		pid_of "$INFLUX_PID" "$dir/influxdb.conf" >/dev/null ||
			log "an InfluxDB this script did not start answers on 127.0.0.1:$INFLUX_PORT; using it as it is"
	else
		log "starting influxd $INFLUX_VERSION on 127.0.0.1:$INFLUX_PORT (data in $dir)"
		nohup "$INFLUXD" run -config "$dir/influxdb.conf" -pidfile "$INFLUX_PID" >"$dir/influxd.log" 2>&1 &
	fi
	wait_for "InfluxDB (127.0.0.1:$INFLUX_PORT, log $dir/influxd.log)" influx_ok
	curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$INFLUX_PORT/query" --data-urlencode 'q=CREATE DATABASE pdm' ||
		die "could not create the InfluxDB database pdm"
}

influx_down() { stop_pid InfluxDB "$INFLUX_PID" "$INFLUX_DIR/influxdb.conf"; }

# ------------------------------------------------------------------- Telegraf

# The ingest tests run a real Telegraf publishing line protocol through its
# MQTT output. Built once with only the plugins they use (Telegraf's
# "custom" build tags), a few minutes the first time.
telegraf_build() {
	[ -x "$TELEGRAF" ] && return 0
	command -v go >/dev/null 2>&1 || die "Go is needed to build Telegraf $TELEGRAF_VERSION"
	log "building telegraf $TELEGRAF_VERSION (cpu, mem inputs; MQTT output) into $(dirname "$TELEGRAF") (a few minutes, once)"
	mkdir -p "$(dirname "$TELEGRAF")"
	(cd /tmp && GOBIN=$(dirname "$TELEGRAF") GOFLAGS=-mod=mod go install \
		-tags "custom,inputs.cpu,inputs.mem,outputs.mqtt,serializers.influx" \
		"github.com/influxdata/telegraf/cmd/telegraf@v$TELEGRAF_VERSION") || die "building telegraf failed"
}

# ----------------------------------------------------------------------- Helm

# make test lints and renders the Helm chart (deploy/kubernetes): Helm 3 from
# the Go module proxy, built once (a few minutes the first time).
helm_build() {
	[ -x "$HELM" ] && return 0
	command -v go >/dev/null 2>&1 || die "Go is needed to build Helm $HELM_VERSION"
	log "building helm $HELM_VERSION into $(dirname "$HELM") (a few minutes, once)"
	mkdir -p "$(dirname "$HELM")"
	(cd /tmp && GOBIN=$(dirname "$HELM") GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION") ||
		die "building helm failed"
}

# ---------------------------------------------------------------------- main

print_env() {
	cat <<EOF2
export PDM_PG_URL='postgres://postgres@127.0.0.1:$(pg_port)/pdm?sslmode=disable'
export PDM_MQTT_URL='tcp://127.0.0.1:$MQTT_PORT'
export PDM_INFLUX_URL='http://127.0.0.1:$INFLUX_PORT'
export PDM_INFLUX_BUCKET='pdm'
export PDM_INFLUXD_BIN='$INFLUXD'
export PDM_MOSQUITTO_BIN='$(mosquitto_bin)'
export PDM_TELEGRAF_BIN='$TELEGRAF'
export PDM_HELM_BIN='$HELM'
EOF2
}

status() {
	local rc=0 mine
	PG_PORT=$(pg_port)
	mine() { pid_of "$1" "$2" >/dev/null && echo ", started by this script" || true; }
	if pg_ok 2>/dev/null; then
		echo "postgresql: up (127.0.0.1:$PG_PORT$([ -f "$PG_MARK" ] && echo ", started by this script"))"
	else
		echo "postgresql: down (127.0.0.1:$PG_PORT)"; rc=1
	fi
	if mqtt_ok; then echo "mosquitto:  up (127.0.0.1:$MQTT_PORT$(mine "$MQTT_PID" "$MQTT_CONF"))"; else echo "mosquitto:  down (127.0.0.1:$MQTT_PORT)"; rc=1; fi
	if influx_ok 2>/dev/null; then echo "influxdb:   up (127.0.0.1:$INFLUX_PORT$(mine "$INFLUX_PID" "$INFLUX_DIR/influxdb.conf"))"; else echo "influxdb:   down (127.0.0.1:$INFLUX_PORT)"; rc=1; fi
	return $rc
}

case "${1:-}" in
deps) deps ;;
up)
	mkdir -p "$STATE_DIR"
	deps
	pg_up
	mqtt_up
	influx_up
	telegraf_build
	helm_build
	status
	;;
down)
	influx_down
	mqtt_down
	pg_down
	;;
restart)
	"$0" down
	exec "$0" up
	;;
status) status ;;
env) print_env ;;
*)
	echo "usage: $0 up|down|restart|status|env|deps" >&2
	exit 2
	;;
esac
