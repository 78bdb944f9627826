#!/usr/bin/env bash
# What the test suite needs beyond node_modules, found or installed before it runs (`npm test` calls this):
# python3 with numpy (the example's loader and the Python helper's tests), Debian's chromium (the dashboard's
# browser tests, never a browser download) and Debian's postgresql (a throwaway server for the PostgreSQL store's
# tests; Debian keeps initdb in /usr/lib/postgresql/<version>/bin, off PATH, and the tests look there too).
# Missing ones are installed with apt-get when this runs as root; otherwise it says what to install and fails.
set -euo pipefail

missing=()
command -v python3 >/dev/null && python3 -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v initdb >/dev/null || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "The tests need Debian's ${missing[*]}: install them (sudo apt-get install -y ${missing[*]}), then run npm test again." >&2
  exit 1
fi
echo "Installing what the tests need: ${missing[*]} (Debian's packages)"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
# Debian's python3-numpy is for /usr/bin/python3; a python3 first on PATH without numpy still lacks it.
python3 -c 'import numpy' 2>/dev/null || { echo "python3 on PATH ($(command -v python3)) has no numpy: install numpy for it, or put /usr/bin first on PATH." >&2; exit 1; }
