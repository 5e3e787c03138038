// SHA256SUMS in the format `sha256sum -c` reads: "<hex>  <file name>", one line per asset.

import { writeFileSync } from "node:fs";
import { join } from "node:path";

export async function sha256File(path: string): Promise<string> {
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
  return hasher.digest("hex");
}

/** Hashes `names` (files inside `dir`) and writes `dir/SHA256SUMS`; returns name → hash. */
export async function writeChecksums(dir: string, names: readonly string[]): Promise<Map<string, string>> {
  const sums = new Map<string, string>();
  for (const name of [...names].sort()) sums.set(name, await sha256File(join(dir, name)));
  const lines = [...sums].map(([name, hash]) => `${hash}  ${name}\n`).join("");
  writeFileSync(join(dir, "SHA256SUMS"), lines);
  return sums;
}
