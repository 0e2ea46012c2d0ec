#!/usr/bin/env bash
# Debian packages the stage needs: Mesa's software EGL, so Workbench / EEVEE render headless;
# Chromium, which the browser tests drive (tests/test_browser.py).
set -euo pipefail
packages=(libegl1 libegl-mesa0 libgl1-mesa-dri chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${missing[*]}; install them with: sudo apt-get install ${missing[*]}" >&2
  echo "system-deps: without them Workbench / EEVEE renders fall back to Cycles" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
