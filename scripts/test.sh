#!/usr/bin/env bash
# Install what the tests need and run them: the README's second command, and what .ci/run calls.
# A virtual environment in .venv (made when missing) keeps the install honest on a clean checkout.
# Browser tests need Debian's chromium; it is installed here when missing. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium for the browser tests…"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

.venv/bin/python -m ruff check .
.venv/bin/python -m pytest "$@"
