#!/usr/bin/env bash
# Sets up backsplit on Debian/Ubuntu with Node 20: a libtorch if none is found, the C++ toolchain,
# npm packages, the engine addon and the TypeScript build. Safe to run again.
#   bash scripts/setup.sh          everything needed to run backsplit
#   bash scripts/setup.sh --test   also what the tests compare against: Python references (python3-torch, numpy,
#                                  scipy, nibabel, pydicom) and Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "backsplit needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 3
fi

packages=()
node scripts/libtorch.mjs >/dev/null 2>&1 || packages+=(libtorch-dev)
# Debian's libtorch has c10d's Gloo; its headers (for distributed training) come with libgloo-dev.
if [ ! -e /usr/include/gloo/algorithm.h ] && { [[ " ${packages[*]} " == *" libtorch-dev "* ]] ||
  node scripts/libtorch.mjs 2>/dev/null | grep -q '"source": "debian'; }; then
  packages+=(libgloo-dev)
fi
command -v g++ >/dev/null || packages+=(g++)
command -v nm >/dev/null || packages+=(binutils)
if [ "$with_tests" = 1 ] && ! /usr/bin/python3 -c "import torch, numpy, scipy, nibabel, pydicom" >/dev/null 2>&1; then
  packages+=(python3-torch python3-numpy python3-scipy python3-nibabel python3-pydicom)
fi
# Browser tests drive Debian's Chromium through playwright-core (which never downloads a browser).
if [ "$with_tests" = 1 ] && ! command -v chromium >/dev/null; then
  packages+=(chromium fonts-dejavu-core)
fi

if [ ${#packages[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${packages[*]}" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null && command -v apt-get >/dev/null; then
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    echo "[setup] cannot install packages (needs root and apt). Install them, then run this again:" >&2
    echo "  sudo apt-get install ${packages[*]}" >&2
    node scripts/libtorch.mjs >/dev/null 2>&1 || node scripts/libtorch.mjs || true
    exit 3
  fi
fi

echo "[setup] npm packages" >&2
# onnxruntime-node's CPU binary ships in the package; its install script would download GPU parts.
export ONNXRUNTIME_NODE_INSTALL="${ONNXRUNTIME_NODE_INSTALL:-skip}"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi
node scripts/link-bin.mjs

echo "[setup] building the engine and the TypeScript sources" >&2
npm run --silent build
echo "[setup] done: try \`npx backsplit --help\`" >&2
