#!/usr/bin/env bash
# Install Segment's published Segment Profiles destination and its runtime into a scratch folder
# outside the repository. Usage: setup.sh <scratch-dir>
# Only the segment-profiles folder of @segment/action-destinations is kept: the full package pulls
# hundreds of unrelated destination SDKs, and segment-profiles needs nothing but @segment/actions-core.
set -euo pipefail
DEST_VERSION="${DEST_VERSION:-3.497.0}"
CORE_VERSION="${CORE_VERSION:-3.170.0}"
LIQUID_VERSION="${LIQUID_VERSION:-^10.25.7}"
FAST_URI_VERSION="${FAST_URI_VERSION:-3.1.0}"
dir="${1:?usage: setup.sh <scratch-dir>}"
mkdir -p "$dir"
cd "$dir"
[ -f package.json ] || npm init -y >/dev/null
# actions-core requires liquidjs at load time without declaring it; action-destinations declares it.
# fast-uri >= 3.1.1 rejects the "Destination Name:Action Title" schema keys actions-core hands to
# ajv ("URI scheme is malformed"); Segment's own lockfile predates that, so pin the last accepting one.
npm install --no-audit --no-fund "@segment/actions-core@${CORE_VERSION}" "liquidjs@${LIQUID_VERSION}" \
  "fast-uri@${FAST_URI_VERSION}"
tarball="$(npm pack "@segment/action-destinations@${DEST_VERSION}" | tail -1)"
rm -rf segment-profiles extract
mkdir extract
tar xzf "$tarball" -C extract package/dist/destinations/segment-profiles
mv extract/package/dist/destinations/segment-profiles segment-profiles
rm -rf extract "$tarball"
echo "installed @segment/action-destinations@${DEST_VERSION} (segment-profiles) and @segment/actions-core@${CORE_VERSION} in $dir"
