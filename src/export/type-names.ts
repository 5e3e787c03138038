import { KNOWN_EVENT_TYPES } from "../teleport/index.ts";
import { editDistance } from "../lib/edit-distance.ts";
import type { Config } from "../config/options.ts";

/** The known type nearest to `name`, when it is near enough to be the intended one. */
function nearest(name: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const known of KNOWN_EVENT_TYPES) {
    const d = editDistance(name, known);
    if (d < bestDistance) [best, bestDistance] = [known, d];
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

/**
 * One warning per name in types, skip-event-types or skip-session-types that Teleport does not
 * define: a typo in `types` exports nothing, in the skip lists exports what was meant to be
 * skipped, and both look like success. Warnings, not errors: Teleport adds types faster than this
 * list is regenerated.
 */
export function unknownTypeWarnings(options: Pick<Config["ingest"], "types" | "skipEventTypes" | "skipSessionTypes">): string[] {
  const settings: Array<[string, readonly string[]]> = [
    ["types", options.types],
    ["skip-event-types", options.skipEventTypes],
    ["skip-session-types", options.skipSessionTypes],
  ];
  const warnings: string[] = [];
  for (const [setting, names] of settings) {
    for (const name of names) {
      if (KNOWN_EVENT_TYPES.has(name)) continue;
      const guess = nearest(name);
      warnings.push(`${setting}: "${name}" is not a Teleport event type${guess ? `; did you mean "${guess}"?` : ""} (${setting === "types" ? "no event of that type will be exported" : "nothing will be skipped for it"})`);
    }
  }
  return warnings;
}
