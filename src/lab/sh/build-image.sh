#!/bin/bash
# Build the lab's cached images into OUT (a fresh directory; the caller renames it into place):
#   OUT/rootfs      droplet base: debootstrap bookworm + base-packages.txt, provisioned by provision-base.sh
#   OUT/nas         NAS layer: an overlayfs upper dir over rootfs with nas-packages.txt + provision-nas.sh
#   OUT/image.tar   rootfs as a tarball, imported as local/debian:bookworm into each NAS's dockerd
# Usage: build-image.sh OUT MIRROR DEB_CACHE
set -euo pipefail
OUT=$1; MIRROR=$2; DEBS=$3
HERE=$(cd "$(dirname "$0")" && pwd)
R=$OUT/rootfs
mkdir -p "$OUT" "$DEBS"
t0=$(date +%s)
pkgs=$(grep -v '^#' "$HERE/base-packages.txt" | xargs | tr ' ' ,)
# --cache-dir keeps the .debs, so a changed recipe rebuilds without downloading everything again
debootstrap --variant=minbase --cache-dir="$DEBS" --include="$pkgs" bookworm "$R" "$MIRROR" >"$OUT/debootstrap.log" 2>&1 ||
  { tail -n 30 "$OUT/debootstrap.log" >&2; exit 1; }
echo "debootstrap: $(( $(date +%s) - t0 )) s"
"$HERE/provision-base.sh" "$R" >"$OUT/provision-base.log" 2>&1 || { tail -n 30 "$OUT/provision-base.log" >&2; exit 1; }
echo "provision-base: $(( $(date +%s) - t0 )) s"

# NAS layer: install into an overlay so the layer holds only the difference
mkdir -p "$OUT/nas" "$OUT/nas-work" "$OUT/nas-merged"
mount -t overlay overlay -o "lowerdir=$R,upperdir=$OUT/nas,workdir=$OUT/nas-work" "$OUT/nas-merged"
trap 'umount "$OUT/nas-merged" 2>/dev/null || true' EXIT
"$HERE/provision-nas.sh" "$OUT/nas-merged" "$DEBS" >"$OUT/provision-nas.log" 2>&1 || { tail -n 30 "$OUT/provision-nas.log" >&2; exit 1; }
umount "$OUT/nas-merged"; trap - EXIT
rm -rf "$OUT/nas-work" "$OUT/nas-merged"
echo "provision-nas: $(( $(date +%s) - t0 )) s"

tar -C "$R" --numeric-owner -cf "$OUT/image.tar" .
echo "image.tar: $(( $(date +%s) - t0 )) s, $(du -sm "$OUT/image.tar" | cut -f1) MB"
