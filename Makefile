# Build and test entry points. Other targets (proto, release, deb, demo, bench, ...) are added below
# by the features that need them; keep each one small and self-describing.
BUN := ./node_modules/.bin/bun
TSC := ./node_modules/.bin/tsc
VERSION := $(shell node -p 'require("./package.json").version' 2>/dev/null || sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' package.json)
COMMIT := $(shell git describe --always --dirty --abbrev=7 --match 'NO-TAGS' 2>/dev/null || echo unknown)
OUT := dist/teleport-event-handler

.PHONY: all build test typecheck deps clean proto demo bench bench-quick

all: build

# npm ci installs the pinned Bun too (it is a devDependency), so a machine with only Node (22 or
# later, which two dependencies require) works.
deps: $(BUN)
$(BUN):
	@sh scripts/check-node.sh
	npm ci

# Bytecode (ESM needs --format esm) cuts `version` cold start from ~95 ms to ~30 ms: the bundle is not
# parsed at every start.
build: $(BUN)
	$(BUN) build --compile --bytecode --format esm src/main.ts --outfile $(OUT) \
		--define 'BUILD_VERSION="$(VERSION)"' --define 'BUILD_COMMIT="$(COMMIT)"'

typecheck: $(BUN)
	$(TSC) --noEmit

# TEST_FLAGS lets CI add reporters, e.g. TEST_FLAGS="--reporter=junit --reporter-outfile=junit.xml".
# ci-deps installs the system tools the packaging tests need (qemu for the arm64 binary, zip, ruby)
# when they are missing; without root or sudo it says so and those tests name what is missing.
test: typecheck
	@sh scripts/ci-deps.sh || echo "warning: scripts/ci-deps.sh could not install the packaging tools; the packaging tests will fail naming them"
	$(BUN) test --timeout 60000 $(TEST_FLAGS)

# Regenerates src/gen from proto/ (offline; the tools come from node_modules).
proto: $(BUN)
	scripts/gen-proto.sh

# The export-path benchmark; writes BENCHMARKS.md. Never fails on a number.
bench: build
	$(BUN) scripts/bench.ts --binary $(OUT)

bench-quick: build
	$(BUN) scripts/bench.ts --quick --binary $(OUT)

# The README's first command: builds (installing dependencies first on a fresh clone), then runs the
# handler against a simulated Teleport and a Fluentd-compatible receiver, all on 127.0.0.1, with
# certificates from our own configure. Output in .demo/ (gitignored). DEMO_FLAGS e.g. "--lock".
demo: build
	$(BUN) scripts/demo.ts --binary $(OUT) $(DEMO_FLAGS)

clean:
	rm -rf dist

include scripts/mk/example-mtls.mk
include scripts/mk/release.mk
include scripts/mk/image.mk
