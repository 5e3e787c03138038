#!/bin/sh
# Two dependencies (@connectrpc/connect-node, @bufbuild/protoc-gen-es) require Node.js 22 or later,
# and `npm ci` on an older Node ends in EBADENGINE warnings and a half-working install. Node is only
# needed to install the dependencies (Bun, installed by them, runs everything else), so this runs
# just before `npm ci`.
set -e
REQUIRED=22
if ! version=$(node --version 2>/dev/null); then
  echo "Node.js $REQUIRED or later (with npm) is needed to install the dependencies; none found on PATH" >&2
  exit 1
fi
major=$(echo "$version" | sed 's/^v\([0-9]*\).*/\1/')
if [ "$major" -lt "$REQUIRED" ]; then
  echo "Node.js $REQUIRED or later is needed to install the dependencies; found $version. Install Node.js $REQUIRED+ (e.g. from nodejs.org or nvm) and run make again" >&2
  exit 1
fi
