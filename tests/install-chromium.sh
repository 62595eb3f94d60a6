#!/usr/bin/env bash
# Installs Debian's Chromium for the explorer's browser tests (tests/tests/explorer.rs),
# unless it is there already. Part of the README's test command and of .ci/run.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run apt-get update -qq
run apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/chromium --version
