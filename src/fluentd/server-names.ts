import { connect } from "node:tls";

/**
 * The names in the certificate the server at `host:port` presents, read without verifying it: only
 * to say, when the name check fails, which names the certificate does have. Undefined when the
 * server cannot be reached within `timeoutMs`.
 */
export function serverCertificateNames(host: string, port: number, timeoutMs = 5_000): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, rejectUnauthorized: false });
    const done = (names: string[] | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(names);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once("secureConnect", () => {
      const cert = socket.getPeerCertificate();
      const alt = (cert?.subjectaltname ?? "")
        .split(",")
        .map((n) => n.trim().replace(/^(DNS|IP Address):/, ""))
        .filter(Boolean);
      done(alt.length > 0 ? alt : cert?.subject?.CN ? [String(cert.subject.CN)] : undefined);
    });
    socket.once("error", () => done(undefined));
  });
}
