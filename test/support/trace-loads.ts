import { plugin } from "bun";

/**
 * Preloaded (`bun --preload`) into a CLI run to report which of the export stack's rooms it loads:
 * one `LOADED <path>` line on stderr per source file of src/app, export, teleport, fluentd, state
 * or observability. Tests use it to keep `version` and `--help` from paying for that stack.
 */
plugin({
  name: "trace-loads",
  setup(build) {
    build.onLoad({ filter: /\/src\/(app|export|teleport|fluentd|state|observability)\/.*\.ts$/ }, async (args) => {
      process.stderr.write(`LOADED ${args.path}\n`);
      return { contents: await Bun.file(args.path).text(), loader: "ts" };
    });
  },
});
