export { goStateDir, readGoState, type GoState, type GoSession, type GoMissingRecording } from "./read.ts";
export { importGoState, type GoImportOutcome } from "./import.ts";
export { describeGoState } from "./describe.ts";
