import type { TemplateContext } from "./context.ts";
import { fluentdUrls } from "./endpoints.ts";
import { tomlString } from "./quote.ts";

/** Uses only keys our `start` reads (and the Go tool reads), so the file works with either. */
export function handlerToml(ctx: TemplateContext): string {
  const { url, sessionUrl } = fluentdUrls(ctx.fluentdHost, ctx.protocol);
  const sharedKey = ctx.sharedKey === undefined ? "" : `# in_forward's <security> shared_key (see fluent.conf); keep this file private.\nshared-key = ${tomlString(ctx.sharedKey)}\n`;
  return `# teleport-event-handler configuration written by teleport-event-handler configure.
# Run: teleport-event-handler start --config teleport-event-handler.toml

storage = "./storage" # The handler keeps its checkpoints here (relative to the working directory)
timeout = "10s" # Wait between polls of the audit log once caught up (not a Fluentd time limit)
batch = 20

[forward.fluentd]
ca = ${tomlString(ctx.files.caCert)}
cert = ${tomlString(ctx.files.clientCert)}
key = ${tomlString(ctx.files.clientKey)}
url = ${tomlString(url)}
# ".<session-id>.log" is appended to this URL for each session recording.
session-url = ${tomlString(sessionUrl)}
${sharedKey}
[teleport]
addr = ${tomlString(ctx.addr)}
# Identity file of the teleport-event-handler user: tctl auth sign --user teleport-event-handler --out identity
identity = "identity"
# Re-read the identity file when it is renewed (e.g. by tbot).
refresh.enabled = true
`;
}
