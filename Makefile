# Stand-in on the configure branch only; the real Makefile (foundation) includes the same file.
include scripts/mk/example-mtls.mk
