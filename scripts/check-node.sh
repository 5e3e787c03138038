#!/bin/sh
# Node.js only installs the dependencies (`npm ci`); Bun, which that installs, runs everything else.
# Node 20 is the floor: npm 10+ and the lockfile format need it. Two packages
# (@connectrpc/connect-node, @bufbuild/protoc-gen-es) declare Node 22 for their own Node code
# paths, which never run here (Bun runs them), so npm's EBADENGINE warnings for them on Node 20 are
# expected. Older versions of both that declare Node 20 lack the HTTP/2 connect timeout the
# Teleport transport relies on to bound a connect to an address that never answers.
set -e
REQUIRED=20
if ! version=$(node --version 2>/dev/null); then
  echo "Node.js $REQUIRED or later (with npm) is needed to install the dependencies; none found on PATH" >&2
  exit 1
fi
major=$(echo "$version" | sed 's/^v\([0-9]*\).*/\1/')
if [ "$major" -lt "$REQUIRED" ]; then
  echo "Node.js $REQUIRED or later is needed to install the dependencies; found $version. Install Node.js $REQUIRED+ (e.g. from nodejs.org or nvm) and run make again" >&2
  exit 1
fi
