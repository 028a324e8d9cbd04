#!/usr/bin/env sh
# Best effort, never fatal: the Debian programs some tests use as independent oracles
# (redis-server for the GPU farm's broker-outage tests, chromium for the dashboard's browser
# tests). `make test` runs this so a fresh machine gets them when it can; where it cannot (no
# apt-get, not root, no network), those tests skip with a message saying what is missing.
set -u
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing="$missing postgresql"
[ -z "$missing" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != "0" ]; then
    echo "note: not installing$missing (needs apt-get as root); their tests will skip"
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh image may have no package lists yet; a failed update still lets a cached list work.
timeout 300 apt-get update -qq >/dev/null 2>&1 || true
# shellcheck disable=SC2086
if ! timeout 600 apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1; then
    echo "note: could not install$missing; their tests will skip"
fi
exit 0
