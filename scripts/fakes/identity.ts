import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Identity files laid out like `tctl auth sign --format=file`: private key, SSH certificate line,
 * TLS certificate, `@cert-authority` lines, then the trusted TLS CA certificates.
 */
export interface IdentityParts {
  keyPem: string;
  certPem: string;
  caPems: string[];
  sshCertLine?: string;
  sshCALines?: string[];
}

const withNewline = (s: string) => (s.endsWith("\n") ? s : s + "\n");

export function identityFileText(p: IdentityParts): string {
  const items = [p.keyPem, ...(p.sshCertLine ? [p.sshCertLine] : []), p.certPem, ...(p.sshCALines ?? []), ...p.caPems];
  return items.map(withNewline).join("");
}

export interface SshLines {
  certLine: string;
  caLine: string;
}

let cachedSsh: Promise<SshLines> | undefined;

function run(args: string[]): void {
  const r = Bun.spawnSync(args, { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args[0]} failed: ${r.stderr.toString().trim()}`);
}

/**
 * A real OpenSSH user certificate and its CA as a known_hosts `@cert-authority` line, made with
 * ssh-keygen when it is installed; otherwise syntactically valid stand-ins (TLS never uses them).
 */
export function sshLines(clusterName: string): Promise<SshLines> {
  cachedSsh ??= (async () => {
    const dir = mkdtempSync(join(tmpdir(), "teh-ssh-"));
    try {
      run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(dir, "ca")]);
      run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", join(dir, "user")]);
      run(["ssh-keygen", "-q", "-s", join(dir, "ca"), "-I", "teleport-event-handler", "-n", "teleport-event-handler", "-V", "-1m:+365d", join(dir, "user.pub")]);
      const certLine = readFileSync(join(dir, "user-cert.pub"), "utf8").trim();
      const caPub = readFileSync(join(dir, "ca.pub"), "utf8").trim().split(" ").slice(0, 2).join(" ");
      return { certLine, caLine: `@cert-authority ${clusterName},*.${clusterName} ${caPub} type=host` };
    } catch {
      const blob = Buffer.from("ssh-ed25519-cert-v01@openssh.com stand-in").toString("base64");
      return {
        certLine: `ssh-ed25519-cert-v01@openssh.com ${blob}`,
        caLine: `@cert-authority ${clusterName},*.${clusterName} ssh-ed25519 ${Buffer.alloc(51).toString("base64")} type=host`,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })();
  return cachedSsh;
}

export interface WrittenIdentity {
  identityFile: string;
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** Writes the identity file and the `--format=tls` triplet (`.crt`, `.key`, `.cas`) into `dir`. */
export async function writeIdentity(dir: string, clusterName: string, parts: Omit<IdentityParts, "sshCertLine" | "sshCALines">, name = "identity"): Promise<WrittenIdentity> {
  const ssh = await sshLines(clusterName);
  const files = {
    identityFile: join(dir, name),
    certFile: join(dir, `${name}.crt`),
    keyFile: join(dir, `${name}.key`),
    caFile: join(dir, `${name}.cas`),
  };
  writeFileSync(files.identityFile, identityFileText({ ...parts, sshCertLine: ssh.certLine, sshCALines: [ssh.caLine] }), { mode: 0o600 });
  writeFileSync(files.certFile, parts.certPem, { mode: 0o600 });
  writeFileSync(files.keyFile, parts.keyPem, { mode: 0o600 });
  writeFileSync(files.caFile, parts.caPems.map(withNewline).join(""), { mode: 0o600 });
  return files;
}
