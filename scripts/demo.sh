#!/usr/bin/env bash
# The demo, from a fresh Debian 12 machine: set up, then run an embedded deployment with synthetic
# cameras and the console on localhost. Extra arguments go to `custos demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/custos demo "$@"
