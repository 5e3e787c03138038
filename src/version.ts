// Replaced at build time through `bun build --define`; the fallbacks serve `bun src/main.ts`.
declare const BUILD_VERSION: string | undefined;
declare const BUILD_COMMIT: string | undefined;

export const APP_NAME = "teleport-event-handler";
export const VERSION: string = typeof BUILD_VERSION === "string" ? BUILD_VERSION : "0.0.0-dev";
export const COMMIT: string = typeof BUILD_COMMIT === "string" ? BUILD_COMMIT : "unknown";
