#!/bin/sh
# Installs the Debian packages shale needs that are not yet installed.
# Idempotent and quiet when everything is present. Run as root (or with sudo on PATH).
set -eu

PKGS="build-essential pkg-config liburing-dev liblz4-dev libxxhash-dev libcmocka-dev \
redis-server redis-tools python3-redis rocksdb-tools libhiredis-dev prometheus \
liblua5.1-0-dev lua-cjson-dev lua-bitop-dev redis-sentinel"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install-deps: missing packages:$missing (run as root to install them)" >&2
        exit 1
    fi
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# An apt index older than the packages' versions makes install fail: refresh once.
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
# The Debian redis-server package starts a system instance on 6379; shale's own
# `make run` wants that port, and tests start their own redis-server on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
    $SUDO systemctl stop redis-server >/dev/null 2>&1 || true
    $SUDO systemctl disable redis-server >/dev/null 2>&1 || true
fi
if command -v service >/dev/null 2>&1; then
    $SUDO service redis-server stop >/dev/null 2>&1 || true
fi
# redis-sentinel is here for the failover tests, which start their own sentinels on
# free ports; the packaged one on 26379 is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-sentinel 2>/dev/null; then
    $SUDO systemctl stop redis-sentinel >/dev/null 2>&1 || true
    $SUDO systemctl disable redis-sentinel >/dev/null 2>&1 || true
fi
if command -v service >/dev/null 2>&1; then
    $SUDO service redis-sentinel stop >/dev/null 2>&1 || true
fi
# prometheus is here for promtool (the metrics endpoint's test); its server is not needed.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus >/dev/null 2>&1 || true
    $SUDO systemctl disable prometheus >/dev/null 2>&1 || true
fi
