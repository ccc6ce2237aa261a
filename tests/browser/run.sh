#!/usr/bin/env bash
# Starts a real Vigie (debug build, fresh SQLite, a test Secretary key) and
# runs the browser tests against it in headless Chromium.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

chromium_bin="${CHROMIUM:-$(command -v chromium || true)}"
if [ -z "$chromium_bin" ]; then
  if [ -n "${CI:-}" ]; then echo "Chromium is required in CI (Debian package chromium)" >&2; exit 1; fi
  echo "SKIPPED: browser tests need Chromium (Debian package chromium)"; exit 0
fi

# VIGIE_BROWSER_DATABASE_URL=postgres://… runs the same tests on PostgreSQL
# (the binary is then built with the `postgres` feature).
db_url="${VIGIE_BROWSER_DATABASE_URL:-}"
if [ -n "$db_url" ]; then
  cargo build --quiet --features postgres
else
  cargo build --quiet
fi
(cd "$here" && npm ci --no-audit --no-fund --silent)

work="$(mktemp -d)"
server_pid=""
stop() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap stop EXIT

export VIGIE_PASSPHRASE="browser test passphrase"
./target/debug/vigie keygen --out "$work/secretary.key.age" --passphrase > "$work/recipients.txt" 2>/dev/null
unset VIGIE_PASSPHRASE
# A second, plain identity (as a sealed backup key would be) lets the stock
# `age` command decrypt without a terminal.
./target/debug/vigie keygen --out "$work/backup.key" >> "$work/recipients.txt" 2>/dev/null
# The Bureau's referent: a plain identity, in a recipients file of its own.
./target/debug/vigie keygen --out "$work/bureau.key" > "$work/bureau.txt" 2>/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
VIGIE_LISTEN="127.0.0.1:$port" \
VIGIE_DATA_DIR="$work/data" \
VIGIE_DATABASE_URL="${db_url:-sqlite://$work/data/vigie.sqlite3}" \
VIGIE_RECIPIENTS_FILE="$work/recipients.txt" \
VIGIE_BUREAU_RECIPIENTS_FILE="$work/bureau.txt" \
VIGIE_LOG=warn \
  ./target/debug/vigie serve > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

export VIGIE_URL="http://127.0.0.1:$port"
export VIGIE_DATABASE_URL="${db_url:-sqlite://$work/data/vigie.sqlite3}"
export VIGIE_BIN="$root/target/debug/vigie"
export VIGIE_WORK="$work"
export VIGIE_IDENTITY="$work/secretary.key.age"
export VIGIE_IDENTITY_PASSPHRASE="browser test passphrase"
export VIGIE_PLAIN_IDENTITY="$work/backup.key"
export VIGIE_BUREAU_IDENTITY="$work/bureau.key"
export CHROMIUM="$chromium_bin"
export SCREENSHOTS="${SCREENSHOTS:-$work/screenshots}"
mkdir -p "$SCREENSHOTS"
cd "$here"
node --test --test-concurrency=1 ${VIGIE_BROWSER_TESTS:-./*.test.mjs}
