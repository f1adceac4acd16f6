#!/usr/bin/env bash
# Reproduces the Dockerfile's steps without a Docker engine, on this machine's Node, and checks that the
# image would serve: build stage (npm ci, build, prune), runtime stage (only node_modules, dist,
# package.json, rules, schema; NODE_ENV=production, dev keys off), then
#   1. start without keys is refused with a message that says how to create them;
#   2. start with keys from `keys generate` is ready (/readyz) and a CleverTap upload through it is
#      tokenized by the embedded SQLite vault (its worker thread loads from dist/);
#   3. `vault migrate` and a start on PostgreSQL work from the pruned tree too, when a server answers
#      on 127.0.0.1:5432 (skipped with a line saying so otherwise).
# Usage: bash scripts/dockerfile-check.sh   (about 2 minutes: npm ci compiles better-sqlite3)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/pii-dockerfile-check.XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -n "${pgdb:-}" ]; then psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n== %s\n' "$*"; }

say "build stage (COPY package*.json; npm ci; COPY tsconfig*, src; npm run build; npm prune --omit=dev)"
mkdir -p "$work/build" "$work/app"
cp "$repo/package.json" "$repo/package-lock.json" "$work/build/"
(cd "$work/build" && npm ci --no-audit --no-fund >/dev/null)
cp "$repo/tsconfig.json" "$repo/tsconfig.build.json" "$work/build/"
cp -r "$repo/src" "$work/build/src"
(cd "$work/build" && npm run build >/dev/null && npm prune --omit=dev --no-audit --no-fund >/dev/null)

say "runtime stage (COPY node_modules, dist, package.json, rules, schema)"
cp -r "$work/build/node_modules" "$work/build/dist" "$work/build/package.json" "$work/app/"
cp -r "$repo/rules" "$repo/schema" "$work/app/"
mkdir -p "$work/app/data"
cd "$work/app"
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
export NODE_ENV=production PII_GATEWAY_DEV_KEYS=false
export PII_GATEWAY_DATA_DIR="$work/app/data" CLEVERTAP_URL="http://127.0.0.1:$(free_port)"

say "1. no keys: refused, with how to create them"
if out="$(node dist/cli/main.js start 2>&1)"; then echo "FAIL: started without keys"; exit 1; fi
echo "$out" | grep -q "keys" || { echo "FAIL: the refusal does not mention keys: $out"; exit 1; }
echo "refused: $(echo "$out" | tail -1 | cut -c1-200)"

start_gateway() { # $1: log file; the rest: extra env assignments
  local log="$1"; shift
  env "$@" PII_GATEWAY_LISTEN="127.0.0.1:$(free_port)" PII_GATEWAY_ADMIN_LISTEN="127.0.0.1:$(free_port)" \
    PII_GATEWAY_VAULT_API_LISTEN=off node dist/cli/main.js start >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do grep -qs '"pii-gateway listening"' "$log" && return 0; sleep 0.1; done
  echo "FAIL: the gateway did not start:"; cat "$log"; exit 1
}
url_of() { node -e "const l=require('fs').readFileSync(process.argv[1],'utf8').split('\n').find(x=>x.includes('pii-gateway listening'));console.log(JSON.parse(l)[process.argv[2]])" "$1" "$2"; }

say "2. keys from 'keys generate', sqlite vault: ready, and an upload is tokenized"
node dist/cli/main.js keys generate >"$work/keys.json"
chmod 600 "$work/keys.json"
export PII_GATEWAY_KEYS_FILE="$work/keys.json"
node dist/cli/main.js demo-upstream --port "${CLEVERTAP_URL##*:}" >"$work/demo.log" 2>&1 &
pids+=($!)
start_gateway "$work/gw.log"
admin="$(url_of "$work/gw.log" admin)"; proxy="$(url_of "$work/gw.log" proxy)"
curl -fsS "$admin/readyz"; echo
curl -fsS "$proxy/1/upload" -H 'content-type: application/json' --data-binary @"$repo/test/fixtures/providers/clevertap-upload.json"; echo
sleep 0.3
grep -q 'tok.invalid' "$work/demo.log" || { echo "FAIL: the stand-in did not receive tokens"; cat "$work/demo.log"; exit 1; }
if grep -q 'jack@gmail.com' "$work/demo.log"; then echo "FAIL: PII reached the stand-in"; exit 1; fi
echo "ok: the stand-in got tokens, no PII"

say "3. PostgreSQL from the pruned tree: vault migrate, then start"
if psql -h 127.0.0.1 -U postgres -qc 'select 1' >/dev/null 2>&1; then
  pgdb="pii_dockerfile_check_$$"
  psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE $pgdb" >/dev/null
  pgenv=(PII_GATEWAY_VAULT=postgres "PII_GATEWAY_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/$pgdb")
  env "${pgenv[@]}" node dist/cli/main.js vault migrate
  env "${pgenv[@]}" node dist/cli/main.js vault migrate
  start_gateway "$work/gw-pg.log" "${pgenv[@]}"
  curl -fsS "$(url_of "$work/gw-pg.log" admin)/readyz"; echo
  curl -fsS "$(url_of "$work/gw-pg.log" proxy)/1/upload" -H 'content-type: application/json' --data-binary @"$repo/test/fixtures/providers/clevertap-upload.json"; echo
else
  echo "skipped: no PostgreSQL answers on 127.0.0.1:5432 as user postgres"
fi
say "Dockerfile steps reproduced: all checks passed"
