#!/usr/bin/env bash
# Builds the base image localhost/bobench-base:bookworm from scratch: debootstrap a minimal
# Debian bookworm (with python3, python3-venv, tini and ca-certificates already in it, so
# the image build needs no Debian mirror) and import the rootfs with buildah.
#
#   bash scripts/container/build_base.sh           # reuses the image / the rootfs tarball
#   bash scripts/container/build_base.sh --force   # rebuilds both
#
# The Debian mirror is the one this machine's apt uses (override: BOBENCH_DEBIAN_MIRROR).
# Cache: BOBENCH_CONTAINER_CACHE [/var/cache/bobench-container]. Needs root.
set -euo pipefail

IMAGE=${BOBENCH_BASE_IMAGE:-localhost/bobench-base:bookworm}
CACHE=${BOBENCH_CONTAINER_CACHE:-/var/cache/bobench-container}
SUITE=bookworm
PACKAGES=python3,python3-venv,tini,ca-certificates
BUILDAH=(buildah --storage-driver vfs)
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

log() { echo "[base] $*"; }
die() { echo "[base] ERROR: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and buildah's vfs storage need it)"

need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v buildah >/dev/null || need+=(buildah)
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "$FORCE" = 0 ] && "${BUILDAH[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists (use --force to rebuild)"
  exit 0
fi

mirror() {
  if [ -n "${BOBENCH_DEBIAN_MIRROR:-}" ]; then echo "$BOBENCH_DEBIAN_MIRROR"; return; fi
  # the first "debian" (not -security) URI of this machine's apt sources
  cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list /etc/apt/sources.list \
    2>/dev/null | grep -v '^[[:space:]]*#' | grep -Eo '(https?|file)://[^ ]+/debian/?( |$)' |
    head -1 | tr -d ' ' || true
}

T0=$(date +%s)
mkdir -p "$CACHE"
TARBALL=$CACHE/$SUITE-rootfs.tar
if [ "$FORCE" = 1 ] || [ ! -s "$TARBALL" ]; then
  MIRROR=$(mirror)
  [ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt; set BOBENCH_DEBIAN_MIRROR"
  ROOT=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$ROOT"' EXIT
  log "debootstrap $SUITE (minbase + $PACKAGES) from the host's mirror"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" \
    >"$CACHE/debootstrap.log" 2>&1 || die "debootstrap failed (see $CACHE/debootstrap.log)"
  # Slim it: package caches, lists, docs, man pages, locales (apt still works after an update).
  rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* \
    "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
    "$ROOT"/usr/share/locale/* "$ROOT"/var/log/*.log "$ROOT"/tmp/*
  tar --numeric-owner -C "$ROOT" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
  rm -rf "$ROOT"
  trap - EXIT
  log "rootfs: $(du -h "$TARBALL" | cut -f1) in $(($(date +%s) - T0))s"
fi

T1=$(date +%s)
CTR=$("${BUILDAH[@]}" from scratch)
trap '"${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1 || true' EXIT
MNT=$("${BUILDAH[@]}" mount "$CTR")
tar --numeric-owner -C "$MNT" -xf "$TARBALL"
"${BUILDAH[@]}" umount "$CTR" >/dev/null
"${BUILDAH[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env LANG=C.UTF-8 --cmd /bin/bash --label org.opencontainers.image.title=bobench-base \
  "$CTR"
"${BUILDAH[@]}" commit --quiet --rm "$CTR" "$IMAGE" >/dev/null
trap - EXIT
log "committed $IMAGE in $(($(date +%s) - T1))s (total $(($(date +%s) - T0))s)"
"${BUILDAH[@]}" images "$IMAGE"
