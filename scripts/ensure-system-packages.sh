#!/usr/bin/env bash
# Install the Debian packages the pipeline needs, when missing: with apt-get as root, otherwise stop and name them.
# Usage: scripts/ensure-system-packages.sh PACKAGE...
set -euo pipefail
# A package also counts as installed when an installed package provides it (e.g. npm, which NodeSource's nodejs
# package provides and conflicts with: installing Debian's npm there would remove that nodejs).
provided() {
  dpkg-query -W -f='${Status}\t${Provides}\n' 2>/dev/null | awk -F'\t' '$1 == "install ok installed" { print $2 }' \
    | tr ',' '\n' | sed -e 's/([^)]*)//g' -e 's/^ *//' -e 's/ *$//' | grep -xF "$1" >/dev/null
}
missing=()
for package in "$@"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" && ! provided "$package"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing system packages: ${missing[*]}" >&2
  echo "install them as root:  apt-get install ${missing[*]}" >&2
  exit 1
fi
