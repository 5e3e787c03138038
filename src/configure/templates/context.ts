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
}
