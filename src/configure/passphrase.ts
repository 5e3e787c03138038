import { randomBytes } from "node:crypto";
import { ConfigureError } from "./errors.ts";

/** What the passphrase is read from: process.stdin in production, any stream in tests. */
export interface PassphraseInput extends AsyncIterable<string | Uint8Array> {
  isTTY?: boolean;
}

export interface Passphrase {
  value: string;
  source: "stdin" | "generated";
}

async function readAll(input: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * The server key's passphrase. Piped stdin wins so scripts choose it (`printf %s "$PASS" | … configure`);
 * at a terminal we never prompt and generate one instead. Unlike the Go tool, one trailing newline
 * is dropped (what `echo` adds) and an empty passphrase is refused rather than silently used.
 */
export async function resolvePassphrase(input: PassphraseInput): Promise<Passphrase> {
  if (input.isTTY) return { value: randomBytes(32).toString("hex"), source: "generated" };
  const value = (await readAll(input)).replace(/\r?\n$/, "");
  if (value === "") {
    throw new ConfigureError(
      "stdin is not a terminal but gave an empty passphrase for the server key: pipe one in (printf %s \"$PASS\" | teleport-event-handler configure …) or run configure from a terminal to generate one",
    );
  }
  // It is written into fluent.conf on one line; control characters there would break or reshape the config.
  if (/[\x00-\x1f\x7f]/.test(value)) {
    throw new ConfigureError("the passphrase read from stdin contains a line break or control character: give it on one line");
  }
  return { value, source: "stdin" };
}
