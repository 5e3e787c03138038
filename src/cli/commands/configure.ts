import { defineCommand } from "citty";
import { UserError, EXIT_USAGE } from "../../errors.ts";
import { GLOBAL_ARGS } from "../args.ts";

/** Placeholder until the mTLS material generator lands; fails rather than writing nothing. */
export const configureCommand = defineCommand({
  meta: { name: "configure", description: "Generate mTLS certificates and sample configuration (not implemented yet)" },
  args: GLOBAL_ARGS,
  run(): number {
    throw new UserError("configure is not implemented yet", EXIT_USAGE);
  },
});
