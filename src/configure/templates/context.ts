/** Everything the templates need; paths are absolute so the files work from any directory. */
export interface TemplateContext {
  addr: string;
  /** Host part of the Fluentd URLs, valid for the server certificate. */
  fluentdHost: string;
  files: {
    caCert: string;
    serverCert: string;
    serverKey: string;
    clientCert: string;
    clientKey: string;
  };
  passphrase: string;
  /** Where Fluentd keeps its durable output buffers. */
  bufferDir: string;
  /** in_http (https:// URLs) or in_forward (forward+tls:// URLs and `sharedKey`). */
  protocol: "http" | "forward";
  /** in_forward's `<security>` shared key, written into fluent.conf and the handler TOML. */
  sharedKey?: string;
}
