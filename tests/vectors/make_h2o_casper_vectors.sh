#!/usr/bin/env bash
# Regenerates tests/vectors/h2o_casper.json from a real H2O 2.2.5 (the casper reference).
#
# Run by hand (as root, on Debian 12):
#     apt-get install -y h2o nghttp2-client openssl python3
#     bash tests/vectors/make_h2o_casper_vectors.sh [OUTPUT.json]
# The test suite does not run it; it only reads the JSON it writes.
#
# How: one H2O process serves a directory of assets on several ports, one virtual host per
# casper setting (capacity bits, tracking types). An mruby handler answers GET / with a Link
# header for every path listed in the request's x-push header, so H2O pushes exactly those
# paths and records them in its digest (H2O 2.2 creates the digest of a connection only when
# it pushes). Paths listed after "--" are also requested as ordinary GETs on the same
# connection. The request is repeated, each time carrying the cookie H2O set the time
# before, until H2O's Set-Cookie value stops changing; that value then represents exactly
# the set of paths listed.
set -euo pipefail

OUT=${1:-$(cd "$(dirname "$0")" && pwd)/h2o_casper.json}
PORT_BASE=${PORT_BASE:-18440}
for tool in h2o nghttp openssl python3; do
    command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

WORK=$(mktemp -d)
H2O_PID=
cleanup() {
    if [ -n "$H2O_PID" ]; then
        kill "$H2O_PID" 2>/dev/null || true
        wait "$H2O_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# H2O drops to user nobody when started as root.
mkdir -p "$WORK/site" "$WORK/run" "$WORK/log"
chmod 755 "$WORK" "$WORK/site"
chmod 777 "$WORK/run" "$WORK/log"
echo '<!doctype html><title>casper</title>' >"$WORK/site/index.html"
echo 'body { margin: 0 }' >"$WORK/site/style.css"
echo 'var app = 1;' >"$WORK/site/app.js"
for i in $(seq 1 80); do
    echo "var a$i = $i;" >"$WORK/site/a$i.js"
    echo ".c$i { color: red }" >"$WORK/site/c$i.css"
done
chmod -R a+rX "$WORK/site"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" \
    -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 644 "$WORK/key.pem" "$WORK/cert.pem"

# One host per casper setting: "PORT_OFFSET|http2-casper value".
SETTINGS=(
    "1|ON"
    "2|{capacity-bits: 10}"
    "3|{capacity-bits: 15}"
    "4|{capacity-bits: 4}"
    "5|{capacity-bits: 1}"
    "6|{capacity-bits: 13, tracking-types: all}"
)
{
    echo "user: nobody"
    echo "num-threads: 1"
    echo "pid-file: $WORK/run/h2o.pid"
    echo "error-log: $WORK/log/error.log"
    echo "hosts:"
    for setting in "${SETTINGS[@]}"; do
        port=$((PORT_BASE + ${setting%%|*}))
        cat <<CONF
  "127.0.0.1:$port":
    listen:
      host: 127.0.0.1
      port: $port
      ssl:
        certificate-file: $WORK/cert.pem
        key-file: $WORK/key.pem
        ocsp-update-interval: 0
    http2-casper: ${setting#*|}
    paths:
      "/":
        mruby.handler: |
          Proc.new do |env|
            push = env["HTTP_X_PUSH"]
            if env["PATH_INFO"] == "/" && push
              [399, {"link" => push.split(" ").map { |p| "<#{p}>; rel=preload" }.join("\n")}, []]
            else
              [399, {}, []]
            end
          end
        file.dir: $WORK/site
CONF
    done
} >"$WORK/h2o.conf"

h2o -c "$WORK/h2o.conf" >"$WORK/log/stdout" 2>&1 &
H2O_PID=$!
for _ in $(seq 1 50); do
    nghttp -n "https://127.0.0.1:$((PORT_BASE + 1))/index.html" >/dev/null 2>&1 && break
    sleep 0.1
done

ROWS="$WORK/rows.tsv"
: >"$ROWS"

# [TRACKED=PATHS] vector PORT_OFFSET CAPACITY_BITS PUSHED_PATH... [-- REQUESTED_PATH...]
# TRACKED names paths H2O records besides those listed (the page "/" with tracking-types: all).
vector() {
    local offset=$1 port=$((PORT_BASE + $1)) bits=$2
    shift 2
    local pushed=() requested=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do pushed+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    requested=("$@")
    local urls=("https://127.0.0.1:$port/")
    for p in "${requested[@]}"; do urls+=("https://127.0.0.1:$port$p"); done
    local cookie="" previous="" rounds=0 value
    while :; do
        rounds=$((rounds + 1))
        local args=(-nv -H "x-push: ${pushed[*]}")
        [ -n "$cookie" ] && args+=(-H "cookie: h2o_casper=$cookie")
        value=$(nghttp "${args[@]}" "${urls[@]}" 2>&1 |
            sed -n 's/.* set-cookie: h2o_casper=\([^;]*\);.*/\1/p' | tail -n 1)
        [ -n "$value" ] && cookie=$value
        if [ "$rounds" -gt 1 ] && [ "$cookie" = "$previous" ]; then break; fi
        if [ "$rounds" -ge 6 ]; then
            echo "no stable cookie for ${pushed[*]} ${requested[*]}" >&2
            exit 1
        fi
        previous=$cookie
    done
    local setting
    for setting in "${SETTINGS[@]}"; do [ "${setting%%|*}" = "$offset" ] && break; done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$bits" "$cookie" "$rounds" "${setting#*|}" \
        "${TRACKED:-}" "${pushed[*]}" "${requested[*]}" >>"$ROWS"
}

seq_paths() { # seq_paths PREFIX FIRST LAST SUFFIX
    local i
    for i in $(seq "$2" "$3"); do printf '%s%s%s ' "$1" "$i" "$4"; done
}

vector 1 13 /style.css
vector 1 13 /app.js
vector 1 13 /style.css /app.js
vector 1 13 /app.js?v=3
vector 1 13 /app.js /app.js?v=3 /app.js?v=4
vector 1 13 /a%31.js /a1.js
vector 1 13 /style.css -- /app.js?v=7 /a2.js
# shellcheck disable=SC2046
vector 1 13 $(seq_paths /a 1 60 .js) $(seq_paths /c 1 20 .css)
# shellcheck disable=SC2046
vector 2 10 $(seq_paths /a 1 50 .js)
# shellcheck disable=SC2046
vector 3 15 $(seq_paths /c 1 30 .css) /app.js?v=15
# shellcheck disable=SC2046
vector 4 4 $(seq_paths /a 1 30 .js)
vector 5 1 /style.css /app.js /a1.js
TRACKED=/ vector 6 13 /index.html

python3 - "$ROWS" "$OUT" <<'PY'
import json, sys

vectors = []
for line in open(sys.argv[1], encoding="utf-8"):
    bits, cookie, rounds, setting, tracked, pushed, requested = line.rstrip("\n").split("\t")
    source = (
        f"H2O 2.2.5 (http2-casper: {setting}) Set-Cookie after {rounds} connections,"
        f" each a GET / carrying the previous cookie; pushed: {pushed}"
    )
    if requested:
        source += f"; also requested: {requested}"
    if tracked:
        source += f"; tracked as well: {tracked}"
    vectors.append({
        "capacityBits": int(bits),
        "paths": tracked.split() + pushed.split() + requested.split(),
        "cookieValue": cookie,
        "source": source,
    })
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(vectors, f, indent=2)
    f.write("\n")
print(f"wrote {len(vectors)} vectors to {sys.argv[2]}")
PY
