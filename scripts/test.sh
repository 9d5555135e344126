#!/usr/bin/env bash
# Install foolbox-lite with its test extras (CPU torch first) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_ALBUMENTATIONS_UPDATE=1 HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[test]'
PYTHON=python3 bash scripts/install_test_models.sh
python3 -m pytest -q -m "slow or not slow" "$@"  # slow tests too (deselected by default locally)
