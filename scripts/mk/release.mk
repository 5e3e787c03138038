# Release packaging, included from the top-level Makefile.
#   make release VERSION=1.2.3                       every target, .debs, SHA256SUMS, Homebrew formula
#   make release VERSION=1.2.3 TARGETS=linux-x64     a subset (comma-separated), e.g. for quick checks
# Output: $(RELEASE_DIR) (default dist/release). See scripts/release.ts for the other knobs.

BUN ?= ./node_modules/.bin/bun
RELEASE_DIR ?= dist/release
# Archives get the last commit's time as mtime, so rebuilding a commit gives the same tarballs.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: release
release: $(BUN)
	@test -n "$(VERSION)" || { echo "release: VERSION is required, e.g. make release VERSION=1.2.3" >&2; exit 2; }
	VERSION="$(VERSION)" COMMIT="$(COMMIT)" TARGETS="$(TARGETS)" ENTRY="$(ENTRY)" \
	RELEASE_DIR="$(RELEASE_DIR)" SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" \
	$(BUN) scripts/release.ts
