import { APP_NAME, COMMIT, VERSION } from "../../version.ts";
import { defineCommand } from "../command.ts";

export default defineCommand({
  meta: { name: "version", description: "Print the version, git commit and Bun version" },
  run() {
    process.stdout.write(`${APP_NAME} v${VERSION} git:${COMMIT} bun ${Bun.version}\n`);
  },
});
