#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (Playwright drives it by executable_path:
# browser downloads do not work on these machines), and a CJK font so the screenshots under
# docs/console/ show Chinese rather than boxes. Installs only what is missing.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "wenquanyi\|noto sans cjk" || missing+=(fonts-wqy-microhei)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "browser tests: installing ${missing[*]} with apt-get"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null
    $sudo apt-get install -y -q "${missing[@]}" >/dev/null
}
command -v chromium >/dev/null
