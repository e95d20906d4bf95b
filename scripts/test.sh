#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: set up, start services, run pytest.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || exit 1
bash scripts/services.sh || exit 1
set -a; . .venv/test-services.env; set +a
.venv/bin/ruff check src tests bench || exit 1
.venv/bin/ruff format --check src tests bench || exit 1
.venv/bin/python -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "test: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit $rc
