import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { generateCertificates } from "./certificates.ts";
import { writeFiles, prepareOutputDir, refuseExisting, type PlannedFile } from "./files.ts";
import { resolveOptions, type ConfigureArgs } from "./options.ts";
import { resolvePassphrase, type PassphraseInput } from "./passphrase.ts";
import { reportLines } from "./report.ts";
import type { TemplateContext } from "./templates/context.ts";
import { fluentdHost } from "./templates/endpoints.ts";
import { fluentConf } from "./templates/fluent-conf.ts";
import { handlerToml } from "./templates/handler-toml.ts";
import { helmValues } from "./templates/helm-values.ts";
import { roleYaml } from "./templates/role-yaml.ts";

export const FILE_NAMES = {
  role: "teleport-event-handler-role.yaml",
  fluentConf: "fluent.conf",
  toml: "teleport-event-handler.toml",
  helmValues: "teleport-plugin-event-handler-values.yaml",
} as const;

/** Injected by tests; the CLI uses the process's own. */
export interface ConfigureIO {
  stdin: PassphraseInput;
  print(line: string): void;
  warn(line: string): void;
  cwd: string;
}

export interface ConfigureResult {
  /** Absolute paths of every file written, in the order they are listed. */
  files: string[];
  passphraseSource: "stdin" | "generated";
}

function processIO(): ConfigureIO {
  return {
    stdin: process.stdin,
    print: (line) => process.stdout.write(`${line}\n`),
    warn: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
  };
}

export async function runConfigure(args: ConfigureArgs, io: ConfigureIO = processIO()): Promise<ConfigureResult> {
  const opts = resolveOptions(args);
  const dir = resolve(io.cwd, opts.out);
  const at = (name: string) => join(dir, name);
  const { ca, server, client } = opts.names;
  const certPaths = [`${ca}.crt`, `${ca}.key`, `${server}.crt`, `${server}.key`, `${client}.crt`, `${client}.key`].map(at);

  // Refuse before reading stdin or spending seconds on RSA keys.
  refuseExisting([...certPaths, ...Object.values(FILE_NAMES).map(at)], opts.force);
  if (opts.rsaBits === 1024) {
    io.warn("warning: --length 1024 gives weak RSA keys that OpenSSL at security level 2 (e.g. Debian's Fluentd image) refuses; prefer 2048 or 4096");
  }

  const passphrase = await resolvePassphrase(io.stdin);
  const certs = await generateCertificates(opts, passphrase.value);
  const ctx: TemplateContext = {
    addr: opts.addr,
    fluentdHost: fluentdHost(opts.dnsNames, opts.ips),
    files: {
      caCert: at(certs.caCert.name),
      serverCert: at(certs.serverCert.name),
      serverKey: at(certs.serverKey.name),
      clientCert: at(certs.clientCert.name),
      clientKey: at(certs.clientKey.name),
    },
    passphrase: passphrase.value,
    bufferDir: at("fluentd-buffer"),
    protocol: opts.protocol,
    // 32 random bytes: the key only has to be unguessable, and base64url keeps it free of quotes.
    sharedKey: opts.protocol === "forward" ? randomBytes(32).toString("base64url") : undefined,
  };
  const pems = [certs.caCert, certs.caKey, certs.serverCert, certs.serverKey, certs.clientCert, certs.clientKey];
  const files: PlannedFile[] = [
    ...pems.map((f) => ({ path: at(f.name), content: f.pem })),
    { path: at(FILE_NAMES.role), content: roleYaml() },
    { path: at(FILE_NAMES.fluentConf), content: fluentConf(ctx) },
    { path: at(FILE_NAMES.toml), content: handlerToml(ctx) },
    { path: at(FILE_NAMES.helmValues), content: helmValues(ctx) },
  ];

  prepareOutputDir(dir);
  writeFiles(files, opts.force);

  const lines = reportLines(
    {
      certificates: certPaths,
      role: at(FILE_NAMES.role),
      fluentConf: at(FILE_NAMES.fluentConf),
      toml: at(FILE_NAMES.toml),
      helmValues: at(FILE_NAMES.helmValues),
    },
    io.cwd,
    passphrase.source,
  );
  lines.forEach((line) => io.print(line));
  return { files: files.map((f) => f.path), passphraseSource: passphrase.source };
}
