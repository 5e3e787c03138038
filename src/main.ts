#!/usr/bin/env bun
import "./cli/no-color.ts";
import { reportError, runCli } from "./cli/run.ts";

let code: number;
try {
  code = await runCli(process.argv.slice(2));
} catch (err) {
  code = reportError(err);
}
process.exit(code);
