import { join } from "node:path";
import type { TemplateContext } from "./context.ts";
import { EVENTS_TAG, FLUENTD_PORT, fluentdUrls, FORWARD_PORT, SESSION_TAG_PATTERN } from "./endpoints.ts";
import { fluentdString } from "./quote.ts";

/**
 * A durable file buffer belongs to an OUTPUT: Fluentd ignores `<buffer>` inside `<source>` (where the
 * Go template put it). With it, a record acknowledged to the handler survives a Fluentd restart, and
 * a full buffer answers 500 so the handler retries instead of Fluentd dropping records.
 */
function buffer(path: string): string {
  return `  <buffer>
    @type file
    path ${fluentdString(path)}
    flush_mode interval
    flush_interval 1s
    flush_thread_count 8
    chunk_limit_size 10M
    total_limit_size 1G
    overflow_action throw_exception
    retry_forever true
    retry_max_interval 30
  </buffer>`;
}

/** in_http parses the JSON body and takes the time from Teleport's `time` field. */
function httpSource(ctx: TemplateContext): string {
  return `<source>
  @type http
  port ${FLUENTD_PORT}

${transport(ctx)}

  <parse>
    @type json
    json_parser oj
    # Teleport's event time, e.g. 2024-05-01T12:34:56.789Z; kept in the record for the SIEM.
    time_type string
    time_format %Y-%m-%dT%H:%M:%S
    keep_time_key true
  </parse>
</source>`;
}

/**
 * in_forward needs no parser: the handler sends msgpack records with the event time as EventTime.
 * <security> makes every connection prove the shared key (HELO/PING/PONG) on top of the client
 * certificate; self_hostname only has to differ from the handler's host name.
 */
function forwardSource(ctx: TemplateContext): string {
  return `<source>
  @type forward
  port ${FORWARD_PORT}

${transport(ctx)}

  <security>
    self_hostname ${fluentdString(ctx.fluentdHost)}
    shared_key ${fluentdString(ctx.sharedKey!)}
  </security>
</source>`;
}

function transport(ctx: TemplateContext): string {
  return `  <transport tls>
    # Only clients with a certificate from this CA (the handler's) may send.
    client_cert_auth true
    ca_path ${fluentdString(ctx.files.caCert)}
    cert_path ${fluentdString(ctx.files.serverCert)}
    private_key_path ${fluentdString(ctx.files.serverKey)}
    private_key_passphrase ${fluentdString(ctx.passphrase)}
  </transport>`;
}

export function fluentConf(ctx: TemplateContext): string {
  const forward = ctx.protocol === "forward";
  const { url, sessionUrl } = fluentdUrls("<host>", ctx.protocol);
  return `# Sample Fluentd configuration written by teleport-event-handler configure.
# It receives the handler's ${forward ? "forward protocol frames" : "POSTs"} over mutual TLS and prints them; replace the two outputs
# (@type stdout) with your SIEM's output plugin and keep their <buffer> sections.
# The paths below are the generated files; if Fluentd runs in a container, mount the directory at
# the same path (docker run -v <dir>:<dir> ...) or edit them.

${forward ? forwardSource(ctx) : httpSource(ctx)}

# Audit events: ${url}
<match ${EVENTS_TAG}>
  @type stdout
${buffer(join(ctx.bufferDir, "events"))}
</match>

# Session recordings: ${sessionUrl}.<session-id>.log
<match ${SESSION_TAG_PATTERN}>
  @type stdout
${buffer(join(ctx.bufferDir, "sessions"))}
</match>
`;
}
