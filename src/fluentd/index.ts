import type { FluentdConfig } from "../config/options.ts";
import { parseFluentdUrl } from "../config/values.ts";
import { ForwardFluentdSink } from "./forward/sink.ts";
import { HttpFluentdSink, type SinkTuning } from "./sink.ts";
import { loadFluentdTls } from "./tls.ts";
import type { DeliveryReport, FluentdSink, SinkRecord } from "./types.ts";
import { logger } from "../logger.ts";

export type { SinkTuning } from "./sink.ts";
export { FluentdSettingError } from "./tls.ts";
export type { DeadLetter, DeliveryReport, FluentdSink, SinkRecord } from "./types.ts";

/** Sends each URL's records to the sink of its protocol: forward(+tls):// to in_forward, http(s):// to in_http. */
class ProtocolRouter implements FluentdSink {
  constructor(
    private readonly http: FluentdSink,
    private readonly forward: FluentdSink,
  ) {}

  deliver(url: string, records: SinkRecord[], signal?: AbortSignal): Promise<DeliveryReport> {
    // The URL was checked when the configuration loaded; session URLs only append to its path.
    return (parseFluentdUrl(url).protocol === "forward" ? this.forward : this.http).deliver(url, records, signal);
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.forward.close()]);
  }
}

/**
 * Loads and checks the TLS material (one line naming the setting when a file is wrong), then
 * returns a sink ready to deliver to either protocol; fluentd-url and fluentd-session-url may differ.
 */
export async function createFluentdSink(config: FluentdConfig, tuning: SinkTuning = {}): Promise<FluentdSink> {
  const tls = loadFluentdTls(config);
  if (config.ca === undefined) {
    // Not an error (a receiver with a public certificate needs no CA file), but it widens who may
    // pose as Fluentd to every CA the system trusts: say so once.
    logger.info("fluentd-ca is not set: the Fluentd server certificate is checked against the system's trusted CAs");
  }
  return new ProtocolRouter(new HttpFluentdSink(config, tls, tuning), new ForwardFluentdSink(config, tls, tuning));
}
