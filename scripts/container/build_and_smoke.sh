#!/usr/bin/env bash
# Builds the CPU image with buildah (vfs storage, chroot isolation: works without a container
# daemon, user namespaces or overlayfs) and runs a short experiment inside it; the results land
# in a host folder mounted at /results.
#
#   bash scripts/container/build_and_smoke.sh
#
# Environment:
#   BOBENCH_IMAGE          image to build [localhost/bobench:cpu]
#   BOBENCH_TORCH_WHEEL    a CPU torch wheel to put in .whl/ [/opt/wheels/torch-*+cpu-*.whl]
#   BOBENCH_SMOKE_DIR      host folder for the smoke run's results [/tmp/bobench-smoke]
#   BOBENCH_SMOKE_ARGS     the smoke run's overrides [objective=branin strategy=ei ...]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE_IMAGE=${BOBENCH_BASE_IMAGE:-localhost/bobench-base:bookworm}
IMAGE=${BOBENCH_IMAGE:-localhost/bobench:cpu}
OUT=${BOBENCH_SMOKE_DIR:-/tmp/bobench-smoke}
ARGS=${BOBENCH_SMOKE_ARGS:-objective=branin strategy=ei strategy.num_restarts=2 strategy.raw_samples=64 budget.evaluations=4 progress=false}
BUILDAH=(buildah --storage-driver vfs)

log() { echo "[image] $*"; }
die() { echo "[image] ERROR: $*" >&2; exit 1; }
secs() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.0f", b-a}'; }
cd "$ROOT"

T0=$(date +%s.%N)
bash scripts/container/build_base.sh
T_BASE=$(secs "$T0")

# A CPU build of torch for the image (pip cannot reach PyTorch's own index from here).
mkdir -p .whl
if ! ls .whl/torch-*+cpu-*.whl >/dev/null 2>&1; then
  wheel=${BOBENCH_TORCH_WHEEL:-$(find /opt/wheels -maxdepth 1 -name 'torch-*+cpu-*cp311*.whl' 2>/dev/null | head -1)}
  if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
    die "no CPU torch wheel: set BOBENCH_TORCH_WHEEL or put one in .whl/"
  fi
  ln -f "$wheel" .whl/ 2>/dev/null || cp "$wheel" .whl/
fi

# TLS-intercepting networks: let pip in the build trust the host's CA bundle.
CA_ARGS=()
CA=${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}
if [ -f "$CA" ]; then
  CA_ARGS=(--volume "$CA:/run/bobench-host-ca.crt:ro" --build-arg PIP_CA_BUNDLE=/run/bobench-host-ca.crt)
fi

OLD_ID=$("${BUILDAH[@]}" images --quiet --no-trunc "$IMAGE" 2>/dev/null | head -1 || true)
T1=$(date +%s.%N)
log "building $IMAGE (vfs: slow, several minutes)"
"${BUILDAH[@]}" bud --isolation chroot --quiet \
  --build-arg BASE="$BASE_IMAGE" "${CA_ARGS[@]}" \
  --ignorefile docker/Dockerfile.cpu.dockerignore \
  -f docker/Dockerfile.cpu -t "$IMAGE" . >/dev/null
T_BUILD=$(secs "$T1")
NEW_ID=$("${BUILDAH[@]}" images --quiet --no-trunc "$IMAGE" | head -1)
if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then # the previous build, now untagged (vfs: ~1.5 GB)
  "${BUILDAH[@]}" rmi "$OLD_ID" >/dev/null 2>&1 || true
fi
SIZE=$("${BUILDAH[@]}" images --format '{{.Size}}' "$IMAGE" | head -1)
log "built $IMAGE ($SIZE) in ${T_BUILD}s"

# Smoke run: the image's user (uid 1000) writes into a host folder mounted at /results.
# (buildah run has no PID namespace here, so tini is told to act as a subreaper: -s.)
rm -rf "$OUT"
mkdir -p "$OUT"
chown 1000:1000 "$OUT"
T2=$(date +%s.%N)
CTR=$("${BUILDAH[@]}" from --quiet "$IMAGE")
trap '"${BUILDAH[@]}" rm "$CTR" >/dev/null 2>&1 || true' EXIT
# shellcheck disable=SC2086
"${BUILDAH[@]}" run --isolation chroot -v "$OUT:/results" "$CTR" -- \
  tini -s -- bobench $ARGS hydra.run.dir=/results/run
T_SMOKE=$(secs "$T2")
CSV=$OUT/run/results.csv
[ -s "$CSV" ] || die "no $CSV after the smoke run"
ROWS=$(($(wc -l <"$CSV") - 1))
[ "$ROWS" -ge 1 ] || die "$CSV has no rows"
log "smoke run OK: $ROWS evaluations in $CSV (${T_SMOKE}s)"
log "times: base ${T_BASE}s, image build ${T_BUILD}s, smoke run ${T_SMOKE}s, total $(secs "$T0")s"
