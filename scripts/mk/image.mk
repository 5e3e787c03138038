# Container images, included from the top-level Makefile. No container daemon and no RUN step: see
# scripts/release/image.ts. Needs apt (Debian's libc6 of each architecture) and dpkg-deb.
#   make image                            linux amd64 + arm64 images in $(IMAGE_DIR) (dist/image)
#   make image IMAGE_TARGETS=linux-x64    one architecture
# `make release` builds the same images into the release directory and its SHA256SUMS.

BUN ?= ./node_modules/.bin/bun
IMAGE_DIR ?= dist/image
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: image
image: $(BUN)
	VERSION="$(VERSION)" COMMIT="$(COMMIT)" IMAGE_TARGETS="$(IMAGE_TARGETS)" ENTRY="$(ENTRY)" \
	IMAGE_DIR="$(IMAGE_DIR)" SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" \
	$(BUN) scripts/image.ts
