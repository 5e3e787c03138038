#!/bin/sh
# Installs the system tools the packaging tests use, and only those that are missing, so a warm CI
# machine pays nothing. Debian/Ubuntu only (apt-get); run as root.
#   qemu-user-static + libc6-arm64-cross  run the linux-arm64 binary (it is dynamically linked to glibc,
#                                         so qemu needs the arm64 loader and libc from the cross package)
#   zip, unzip                            pack and inspect the Windows archive
#   ruby                                  `ruby -c` on the generated Homebrew formula
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

if [ -z "$missing" ]; then
  echo "ci-deps: everything is installed"
  exit 0
fi

echo "ci-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 # the package list is meant to split into words
$SUDO apt-get install -y -qq --no-install-recommends $missing
