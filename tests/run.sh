#!/usr/bin/env bash
# Every check of txpush, on a fresh machine or a used one:
#  1. installs the Debian packages of the real clients the tests drive;
#  2. makes a virtual environment (.venv, or $TXPUSH_VENV) with txpush (an
#     editable install, so `twist txpush` runs the work tree) and its "test"
#     extra from setup.py;
#  3. runs ruff, mypy and the whole pytest suite (arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(nghttp2-client chromium iproute2)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$package")
    fi
done
if ((${#missing[@]})); then
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    echo "Installing Debian packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

venv="${TXPUSH_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# "compat" editable mode puts the work tree on sys.path, where Twisted's
# plugin loader finds twisted/plugins/txpush_plugin.py for `twist txpush`.
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
    --config-settings editable_mode=compat -e '.[test]'
# Write Twisted's plugin cache now, so no test races to write it.
"$venv/bin/python" -c 'from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))'

echo "ruff:"
"$venv/bin/ruff" check .
"$venv/bin/ruff" format --check .
echo "mypy:"
"$venv/bin/mypy"
echo "pytest:"
"$venv/bin/python" -m pytest "$@"

# 4. The push, protocol, hardening and command-line tests on the oldest, a
#    middle and the newest Twisted release txpush supports, each in its own virtual
#    environment (.venvs/); pytest's output options pass through.
options=()
for argument in "$@"; do
    case "$argument" in
        -q | -qq | --quiet | -v | -vv | --verbose | -x | --exitfirst) options+=("$argument") ;;
    esac
done
echo "Twisted releases:"
bash tests/run_twisted_releases.sh "${options[@]}"
