#!/usr/bin/env bash
# Vendor Leaflet from the npm registry into api/static/vendor/leaflet (the board's map).
set -euo pipefail
version="${1:-1.9.4}"
here="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack "leaflet@${version}" >/dev/null && tar xzf "leaflet-${version}.tgz")
dest="$here/api/static/vendor/leaflet"
mkdir -p "$dest/images"
cp "$work/package/dist/leaflet.js" "$work/package/dist/leaflet.css" "$dest/"
cp "$work/package/dist/images/"*.png "$dest/images/"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "leaflet ${version} in ${dest}"
