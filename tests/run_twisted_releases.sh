#!/usr/bin/env bash
# The push, protocol and hardening tests, and those of twist txpush's roots,
# twist web's options and the reverse proxy, on the oldest, a middle and the
# newest Twisted release of the range txpush supports (TESTED_TWISTED in
# txpush/_twisted/compat.py), each in its own virtual environment
# .venvs/twisted-<release> with txpush (editable) and its "test" extra.
# tests/run.sh runs it after the main suite, which runs on the newest release
# pip picks.
#
#   bash tests/run_twisted_releases.sh [pytest options]   # -q, -x, ...
#
# TXPUSH_TWISTED_RELEASES="24.3.0 25.5.0" picks other releases; set to "" it
# runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

releases=(${TXPUSH_TWISTED_RELEASES-22.4.0 24.7.0 26.10.0})

TESTS=(
    tests/test_push.py
    tests/test_connection.py
    tests/test_hardening.py
    tests/test_internals.py
    tests/test_resource.py
    tests/test_delivery.py
    tests/test_tap.py
    tests/test_roots.py
    tests/test_mounts.py
    tests/test_webparity.py
    tests/test_twistd.py
    tests/test_frameworks.py
    tests/test_forwarding.py
    tests/test_proxy.py
    tests/test_workers.py
)
if [ -e tests/test_attacks.py ]; then
    TESTS+=(tests/test_attacks.py)
fi

failed=()
for release in "${releases[@]}"; do
    venv=".venvs/twisted-$release"
    echo "Twisted $release ($venv):"
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv"
    fi
    extra=()
    # Before 26.4, Twisted sets ALPN on a TLS context already in use, which
    # pyOpenSSL 26.2 and later refuse (see txpush._twisted.compat).
    if [ "$(printf '%s\n' "$release" 26.4.0 | sort -V | head -n1)" != 26.4.0 ]; then
        extra+=("pyOpenSSL<26.2")
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check \
        --config-settings editable_mode=compat -e '.[test]' \
        "Twisted[http2,tls]==$release" "${extra[@]}"
    # Write Twisted's plugin cache now, so no test races to write it.
    "$venv/bin/python" -c 'from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))'
    if ! "$venv/bin/python" -m pytest "${TESTS[@]}" "$@"; then
        failed+=("$release")
    fi
done

if ((${#failed[@]})); then
    echo "Failed on Twisted ${failed[*]}"
    exit 1
fi
