import { defineCommand } from "citty";
import { APP_NAME, COMMIT, VERSION } from "../../version.ts";
import { GLOBAL_ARGS } from "../args.ts";

function versionLine(): string {
  return `${APP_NAME} v${VERSION} git:${COMMIT} bun ${Bun.version}`;
}

export const versionCommand = defineCommand({
  meta: { name: "version", description: "Print the version, git commit and Bun version" },
  args: GLOBAL_ARGS,
  run(): number {
    process.stdout.write(versionLine() + "\n");
    return 0;
  },
});
