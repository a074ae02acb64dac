#!/usr/bin/env bash
# The test command (README, CI): unit + contract + real-simulator tests, CPU only.
set -euo pipefail
cd "$(dirname "$0")/.."
export SIMPLER_ASSETS="${SIMPLER_ASSETS:-$(cd .. && pwd)/shared/assets/simpler}"
exec python -m pytest -q -p no:cacheprovider "$@"
