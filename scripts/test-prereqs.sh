#!/usr/bin/env bash
# What the test suite needs beyond node_modules, found or installed before it runs (`npm test` calls this):
# python3 with numpy and pytest (Python jobs, the example's loader, the Python helper's tests, the scaffolded pytest
# file; the PATH's python3 or Debian's /usr/bin/python3, whichever has both: test/support/python.ts picks it), Debian's chromium (the dashboard's
# browser tests, never a browser download) and Debian's postgresql (a throwaway server for the PostgreSQL store's
# tests; Debian keeps initdb in /usr/lib/postgresql/<version>/bin, off PATH, and the tests look there too).
# Missing ones are installed with apt-get when this runs as root; otherwise it says what to install and fails.
set -euo pipefail

missing=()
python_ready() { command -v "$1" >/dev/null && "$1" -c 'import numpy, pytest' 2>/dev/null; }
python_ready python3 || python_ready /usr/bin/python3 || missing+=(python3-numpy python3-pytest)
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
# Debian's packages are for /usr/bin/python3, which the tests use when the python3 first on PATH lacks them.
python_ready python3 || python_ready /usr/bin/python3 || { echo "No python3 with numpy and pytest: install them for $(command -v python3), or Debian's python3-numpy and python3-pytest." >&2; exit 1; }
