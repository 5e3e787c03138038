.PHONY: proto
# Regenerates src/gen from proto/ (offline; the tools come from node_modules).
proto:
	scripts/gen-proto.sh
