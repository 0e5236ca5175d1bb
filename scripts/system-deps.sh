#!/usr/bin/env bash
# Debian packages the test suite uses for real: the PostgreSQL server binaries (the store's tests start a
# throwaway cluster on 127.0.0.1) and chromium (the UI's browser test drives it with playwright).
# Installs only what is missing, and only where apt-get is usable.
set -euo pipefail
have_pg() { command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; }
missing=()
have_pg || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "system-deps: missing ${missing[*]}; install them (e.g. sudo apt-get install ${missing[*]}) or the tests that need them are skipped" >&2
fi
