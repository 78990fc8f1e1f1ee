#!/usr/bin/env bash
# Installs the tools the test suite uses, only when missing.
set -euo pipefail
need_apt=()
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v python3 >/dev/null || need_apt+=(python3)
# promtool and the Prometheus server for the metrics tests.
{ command -v promtool >/dev/null && command -v prometheus >/dev/null; } || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi
