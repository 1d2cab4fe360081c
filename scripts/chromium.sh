#!/usr/bin/env bash
# Makes sure Debian's chromium is installed, for the console's browser test
# (engine/httpapi TestConsoleInBrowser), and prints its path. Fast when it
# is there; installing needs root and the Debian archive.
#
#   scripts/chromium.sh        # install when missing; print the path
set -euo pipefail

say() { echo "chromium: $*" >&2; }

for name in chromium chromium-browser; do
  if path=$(command -v "$name"); then
    echo "$path"
    exit 0
  fi
done
[[ $(id -u) == 0 ]] || { say "chromium missing; install it (apt-get install chromium, needs root)"; exit 1; }
say "installing Debian's chromium"
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
command -v chromium
