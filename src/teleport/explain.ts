/**
 * Turns the TLS library's texts ("OPENSSL_internal:WRONG_VERSION_NUMBER", "unable to verify the
 * first certificate") into sentences that name the setting to check. Undefined when nothing fits:
 * the caller keeps the original message.
 */
export interface ConnectionContext {
  /** teleport-addr as configured. */
  addr: string;
  /** Where the trusted CA came from: "teleport-identity" or "teleport-ca". */
  caSetting: string;
  /** The cluster the credentials belong to, when the CA names it. */
  cluster?: string;
}

const NOT_TLS = /WRONG_VERSION_NUMBER|packet length too long|unknown protocol|http request|HTTP_REQUEST|record layer failure/i;
const UNTRUSTED = /unable to verify the first certificate|UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to get local issuer certificate|self[- ]signed certificate|CERT_SIGNATURE_FAILURE|certificate signature failure/i;
const NAME_MISMATCH = /ERR_TLS_CERT_ALTNAME_INVALID|Hostname\/IP does not match|altnames/i;

export function explainTeleportFailure(raw: string, ctx: ConnectionContext): string | undefined {
  const cluster = ctx.cluster ? `cluster ${ctx.cluster}` : "the cluster of your credentials";
  if (NOT_TLS.test(raw)) return `teleport-addr ${ctx.addr} does not speak TLS: is it the Auth (3025) or Proxy (443, 3080) port?`;
  if (UNTRUSTED.test(raw)) {
    return `the server at teleport-addr ${ctx.addr} presented a certificate that the CA in ${ctx.caSetting} does not trust: is it the address of ${cluster}, and does ${ctx.caSetting} come from that cluster?`;
  }
  if (NAME_MISMATCH.test(raw)) {
    return `the server at teleport-addr ${ctx.addr} is not an Auth service of ${cluster}: its certificate lacks the name teleport.cluster.local that every Auth server's has`;
  }
  return undefined;
}
