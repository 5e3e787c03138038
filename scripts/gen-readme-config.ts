// Rewrites the configuration table in README.md from src/config/options.ts.
// Usage: bun scripts/gen-readme-config.ts
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { withConfigTable } from "../src/config/readme-table.ts";

const path = join(import.meta.dir, "..", "README.md");
const before = readFileSync(path, "utf8");
const after = withConfigTable(before);
if (after !== before) writeFileSync(path, after);
console.log(after === before ? "README.md configuration table is up to date" : "README.md configuration table rewritten");
