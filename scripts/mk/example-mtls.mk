# `make gen-example-mtls`: mTLS material for local Fluentd testing, made with plain OpenSSL so the
# procedure is visible step by step (`teleport-event-handler configure` does the same without it).
#
#   PASS=12345678 KEYLEN=4096 make gen-example-mtls
#
# PASS    passphrase of the server key (Fluentd's private_key_passphrase). Taken from the environment
#         or the make command line and handed to OpenSSL through a 0600 file, never on a command line.
#         Unset: a random one is generated. Either way it ends up in $(EXAMPLE_KEYS)/server.pass.
# KEYLEN  RSA key length (2048 or 4096; 1024 is refused by OpenSSL at security level 2).
# EXAMPLE_KEYS  output directory (gitignored); it is emptied first.

KEYLEN ?= 4096
EXAMPLE_KEYS ?= example/keys
EXAMPLE_SSL_CONF ?= example/ssl.conf
EXAMPLE_CA_DAYS ?= 730
EXAMPLE_DAYS ?= 365
OPENSSL ?= openssl

.PHONY: gen-example-mtls
gen-example-mtls:
	mkdir -p $(EXAMPLE_KEYS)
	chmod 700 $(EXAMPLE_KEYS)
	rm -f $(EXAMPLE_KEYS)/*
	@# The passphrase: from PASS when set, else random. umask keeps the file private from the start.
	@umask 077; if [ -n "$${PASS:-}" ]; then printf '%s\n' "$$PASS"; else $(OPENSSL) rand -hex 32; fi > $(EXAMPLE_KEYS)/server.pass

	@# CA: self-signed, plain key (keep it offline in real use).
	$(OPENSSL) genrsa -out $(EXAMPLE_KEYS)/ca.key $(KEYLEN)
	$(OPENSSL) req -config $(EXAMPLE_SSL_CONF) -new -x509 -sha256 -days $(EXAMPLE_CA_DAYS) -extensions v3_ca \
		-subj "/O=Teleport event handler example/CN=ca" -key $(EXAMPLE_KEYS)/ca.key -out $(EXAMPLE_KEYS)/ca.crt

	@# Fluentd server: AES-256 encrypted key (Fluentd wants a passphrase), SANs from [server_cert].
	$(OPENSSL) genrsa -aes256 -passout file:$(EXAMPLE_KEYS)/server.pass -out $(EXAMPLE_KEYS)/server.key $(KEYLEN)
	$(OPENSSL) req -config $(EXAMPLE_SSL_CONF) -new -subj "/CN=server" \
		-key $(EXAMPLE_KEYS)/server.key -passin file:$(EXAMPLE_KEYS)/server.pass -out $(EXAMPLE_KEYS)/server.csr
	$(OPENSSL) x509 -req -sha256 -days $(EXAMPLE_DAYS) -in $(EXAMPLE_KEYS)/server.csr \
		-CA $(EXAMPLE_KEYS)/ca.crt -CAkey $(EXAMPLE_KEYS)/ca.key -CAserial $(EXAMPLE_KEYS)/ca.srl -CAcreateserial \
		-extfile $(EXAMPLE_SSL_CONF) -extensions server_cert -out $(EXAMPLE_KEYS)/server.crt

	@# Handler client: plain key (the handler reads it unencrypted), clientAuth only.
	$(OPENSSL) genrsa -out $(EXAMPLE_KEYS)/client.key $(KEYLEN)
	$(OPENSSL) req -config $(EXAMPLE_SSL_CONF) -new -subj "/CN=client" \
		-key $(EXAMPLE_KEYS)/client.key -out $(EXAMPLE_KEYS)/client.csr
	$(OPENSSL) x509 -req -sha256 -days $(EXAMPLE_DAYS) -in $(EXAMPLE_KEYS)/client.csr \
		-CA $(EXAMPLE_KEYS)/ca.crt -CAkey $(EXAMPLE_KEYS)/ca.key -CAserial $(EXAMPLE_KEYS)/ca.srl -CAcreateserial \
		-extfile $(EXAMPLE_SSL_CONF) -extensions client_cert -out $(EXAMPLE_KEYS)/client.crt

	rm -f $(EXAMPLE_KEYS)/*.csr $(EXAMPLE_KEYS)/ca.srl
	chmod 600 $(EXAMPLE_KEYS)/*
	$(OPENSSL) verify -CAfile $(EXAMPLE_KEYS)/ca.crt $(EXAMPLE_KEYS)/server.crt $(EXAMPLE_KEYS)/client.crt
	@echo "Wrote $(EXAMPLE_KEYS): ca.crt ca.key server.crt server.key (passphrase in server.pass) client.crt client.key"
