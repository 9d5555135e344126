#!/usr/bin/env bash
# Install foolbox-lite with its test extras (CPU torch first) and run the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export NO_ALBUMENTATIONS_UPDATE=1 HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e '.[test]'
PYTHON=python3 bash scripts/install_test_models.sh
# the jsPsych experiment is tested in the system Chromium (driven by playwright; no browser download)
if [ ! -x /usr/bin/chromium ] && [ -z "${FOOLBOX_LITE_CHROMIUM:-}" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi
python3 -m pytest -q "$@"
