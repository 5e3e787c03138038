#!/bin/sh
# Regenerates src/gen from proto/ with the pinned local tools; needs no network.
# Usage: scripts/gen-proto.sh [output-dir]   (default src/gen; tests pass a temp dir to detect staleness)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/src/gen"}
PATH="$root/node_modules/.bin:$PATH"
export PATH
cd "$root"
rm -rf "$out"
buf generate --template buf.gen.yaml -o "$out.tmp-$$" >/dev/null
# buf writes under <-o>/<plugin out>; move the tree to the requested place.
mv "$out.tmp-$$/src/gen" "$out"
rm -rf "$out.tmp-$$"
