#!/usr/bin/env bash
# Installs the tools the test suite uses, only when they are missing, so the
# suite runs on a fresh Debian machine:
#   util-linux (unshare, setpriv)      PID-1 and non-root tests
#   busybox-static                     the scratch-root test (tests/main/scratch.rs)
#   python3                            sd_notify / socket-activation test helpers
#   prometheus (promtool + server)     metrics exposition and scrape tests
#   chromium, chromium-driver          dashboard end-to-end test
#   selenium (PyPI)                    drives Chromium from tests/e2e/ui_e2e.py
#   schemathesis (PyPI)                API fuzzing against /v1/openapi.json
set -euo pipefail
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need_apt=()
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v setpriv >/dev/null || need_apt+=(util-linux)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)
command -v busybox >/dev/null || need_apt+=(busybox-static)
command -v promtool >/dev/null || need_apt+=(prometheus)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
need_pip=()
python3 -c "import selenium" 2>/dev/null || need_pip+=(selenium)
command -v schemathesis >/dev/null || python3 -c "import schemathesis" 2>/dev/null || need_pip+=(schemathesis)
if [ ${#need_pip[@]} -gt 0 ]; then
  echo "installing PyPI packages: ${need_pip[*]}"
  python3 -m pip install -q --disable-pip-version-check "${need_pip[@]}"
fi
