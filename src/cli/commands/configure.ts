import { DEFAULT_ADDR, DEFAULT_DNS_NAMES, DEFAULT_LENGTH, DEFAULT_TTL } from "../../configure/options.ts";
import { defineCommand } from "../command.ts";

/** Same positionals and flags as the Go tool's `configure`, plus --force; the work is in src/configure. */
export default defineCommand({
  meta: {
    name: "configure",
    description:
      "Generate mTLS certificates for Fluentd and sample fluent.conf, handler TOML, Teleport role and Helm values. " +
      "The server key passphrase is read from stdin when piped, otherwise generated.",
  },
  args: {
    out: { type: "positional", required: true, description: "Output directory (created if missing)" },
    addr: { type: "positional", required: false, default: DEFAULT_ADDR, description: "Teleport Auth or Proxy address, host:port" },
    "ca-name": { type: "positional", required: false, default: "ca", description: "Base name of the CA certificate and key files" },
    "server-name": { type: "positional", required: false, default: "server", description: "Base name of the Fluentd server files" },
    "client-name": { type: "positional", required: false, default: "client", description: "Base name of the handler's client files" },
    ttl: { type: "string", default: DEFAULT_TTL, description: "Certificate lifetime, Go duration syntax (default one year)" },
    "dns-names": { type: "string", default: DEFAULT_DNS_NAMES, description: "Comma-separated DNS names of the Fluentd server certificate" },
    ip: { type: "string", description: "Comma-separated IP addresses of the Fluentd server certificate" },
    length: { type: "string", default: DEFAULT_LENGTH, description: "RSA key length: 1024, 2048 or 4096" },
    force: { type: "boolean", default: false, description: "Overwrite existing files" },
    forward: {
      type: "boolean",
      default: false,
      description: "Fluentd's forward protocol (in_forward over mutual TLS with a generated shared key) instead of in_http",
    },
    output: { type: "string", description: "Accepted for compatibility with the Go tool; unused" },
  },
  async run({ args }) {
    // X.509 generation (@peculiar/x509) is heavy to load; only this command needs it. Its
    // dependency injection needs the Reflect polyfill first, and a bundle only keeps the static
    // import order of pki/certs.ts when the polyfill was loaded before the lazy import.
    await import("reflect-metadata");
    const { runConfigure } = await import("../../configure/run.ts");
    await runConfigure({
      out: args.out,
      addr: args.addr,
      caName: args["ca-name"],
      serverName: args["server-name"],
      clientName: args["client-name"],
      ttl: args.ttl,
      dnsNames: args["dns-names"],
      ip: args.ip,
      length: args.length,
      force: args.force,
      forward: args.forward,
      output: args.output,
    });
  },
});
