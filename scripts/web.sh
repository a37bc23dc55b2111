#!/usr/bin/env bash
# Builds the web front end (web/ → web/dist/ui, embedded in pdm) and runs its
# unit tests. Installs Debian's nodejs and npm (Node 18 on Debian 12; every
# tool in web/ runs on it) when node is missing, and Chromium for the
# browser tests with `deps-browser`.
#   scripts/web.sh build          npm ci when needed, then npm run build
#   scripts/web.sh test           vitest
#   scripts/web.sh deps-browser   install Debian's chromium when missing
set -euo pipefail
cd "$(dirname "$0")/../web"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

need_node() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		echo "web: installing nodejs and npm (Debian packages)" >&2
		apt_install nodejs npm
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	if [ "$major" -lt 18 ]; then
		echo "web: Node.js $(node --version) is too old; 18 or newer is needed" >&2
		exit 1
	fi
}

# npm ci only when the lock changed since the last install.
install() {
	need_node
	local stamp=node_modules/.pdm-lock-hash want
	want=$(sha256sum package-lock.json | cut -d' ' -f1)
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		npm ci --no-audit --no-fund --loglevel=error
		echo "$want" >"$stamp"
	fi
}

case "${1:-build}" in
build)
	install
	npm run --silent build
	;;
test)
	install
	npm test --silent
	;;
deps-browser)
	if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
		echo "web: installing chromium (Debian package) for the browser tests" >&2
		apt_install chromium
	fi
	;;
*)
	echo "usage: $0 build|test|deps-browser" >&2
	exit 2
	;;
esac
