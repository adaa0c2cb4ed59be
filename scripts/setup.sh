#!/usr/bin/env bash
# Everything `make run` and `make test` need on a fresh machine with Python 3.11+, Node.js/npm and apt:
# the virtual environment with the pinned requirements, bun (from the npm registry) for Reflex, axe-core
# (npm registry) for the accessibility test, and Debian's chromium + chromium-driver for the browser tests.
# Idempotent and quick when done.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat .venv/.installed 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing requirements.txt"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  .venv/bin/pip install -q --disable-pip-version-check --no-deps -e .
  echo "$want" > .venv/.installed
fi

if [ ! -x .tools/node_modules/.bin/bun ]; then
  echo "setup: installing bun from the npm registry"
  npm install --silent --no-audit --no-fund --prefix .tools bun@1.4.4
fi

# axe-core for the accessibility browser test (tests/e2e/test_accessibility.py injects axe.min.js).
AXE_VERSION=4.11.1
if [ "$(node -p "require('./.tools/node_modules/axe-core/package.json').version" 2>/dev/null || true)" != "$AXE_VERSION" ]; then
  echo "setup: installing axe-core $AXE_VERSION from the npm registry"
  npm install --silent --no-audit --no-fund --save-exact --prefix .tools "axe-core@$AXE_VERSION"
fi

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "setup: installing chromium and chromium-driver (Debian packages) for the browser tests"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi
