import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { basename, join } from "node:path";
import { IMAGE_STORAGE, IMAGE_USER } from "../../scripts/release/image.ts";
import { OPTION_LIST } from "../../src/config/options.ts";
import { hostTarget, podman, podmanUnavailable, readOciArchive, secretDir, testImage, type TestImage } from "../support/podman.ts";
import {
  auditUids,
  countBy,
  expectAuditExactlyOnce,
  expectedRecordings,
  expectRecordingsExactlyOnce,
  logUids,
  sessionIndexes,
  sorted,
  startWorld,
  untilAuditRecords,
  type World,
  type WorldOptions,
} from "../support/world.ts";

/**
 * The image as users run it: `podman load` of the oci-archive `make image` writes, then the handler
 * inside the container, non-root, read-only root filesystem, host network, credentials mounted
 * read-only, progress on a named volume, configured through FDFWD_* variables only, against the
 * fake Teleport and the receiver running in this process on the host.
 */

const unavailable = podmanUnavailable();
if (unavailable) console.warn(`SKIPPED container image tests: podman cannot run here: ${unavailable}`);

/** Audit events per Fluentd request in these tests; a kill can duplicate at most one such batch. */
const BATCH = 20;
/** Audit batches in flight at once (fluentd-inflight-batches): what a kill may repeat. */
const INFLIGHT = 2;

describe.skipIf(unavailable !== undefined)("container image", () => {
  let image: TestImage;
  const volumes: string[] = [];
  const worlds: World[] = [];

  beforeAll(async () => {
    image = await testImage();
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(worlds.map((w) => w.stop()));
    for (const v of volumes) await podman(["volume", "rm", "-f", v], { allowFailure: true });
  });

  async function world(teleport: WorldOptions["teleport"]): Promise<World> {
    const w = await startWorld({ teleport });
    worlds.push(w);
    return w;
  }

  async function volume(): Promise<string> {
    const name = `teh-test-${process.pid}-${volumes.length}`;
    await podman(["volume", "create", name]);
    volumes.push(name);
    return name;
  }

  /**
   * `podman run` arguments for `start` against `w`: the world's flags become the FDFWD_* variables
   * OPTIONS names for them, and each file they point at is copied into one directory mounted
   * read-only at /creds.
   */
  function containerArgs(w: World, storageVolume: string, extraFlags: string[]): string[] {
    const files: Record<string, string> = {};
    const env: string[] = [];
    const args = w.startArgs(extraFlags, IMAGE_STORAGE).slice(1); // without "start"
    for (let i = 0; i < args.length; i++) {
      const flag = args[i]!.replace(/^--/, "");
      const def = OPTION_LIST.find(([, o]) => o.flag === flag)?.[1];
      if (!def) throw new Error(`no option for --${flag}`);
      let value = def.kind === "bool" ? "true" : args[++i]!;
      if (def.kind === "file") {
        files[basename(value)] = value;
        value = `/creds/${basename(value)}`;
      }
      env.push("-e", `${def.env[0]}=${value}`);
    }
    return ["--read-only", "--network", "host", "-v", `${secretDir(files)}:/creds:ro`, "-v", `${storageVolume}:${IMAGE_STORAGE}`, ...env];
  }

  test("runs `version` as the non-root user, with the entrypoint, volume and labels the issue lists", async () => {
    const run = await podman(["run", "--rm", image.ref, "version"]);
    expect(run.stdout).toMatch(/^teleport-event-handler v\S+ git:\S+ bun /);

    const [inspect] = JSON.parse((await podman(["image", "inspect", image.ref])).stdout);
    expect(inspect.Config.User).toBe(`${IMAGE_USER}:${IMAGE_USER}`);
    expect(inspect.Config.Entrypoint).toEqual(["/usr/local/bin/teleport-event-handler"]);
    expect(inspect.Config.Cmd).toEqual(["start"]);
    expect(Object.keys(inspect.Config.Volumes)).toEqual([IMAGE_STORAGE]);
    expect(inspect.Architecture).toBe(hostTarget().debArch);
    expect(inspect.Labels["org.opencontainers.image.version"]).toBe(`0.0.0-test.${process.pid}`);
    expect(inspect.Labels["org.opencontainers.image.licenses"]).toBe("Apache-2.0");
    expect(inspect.Labels["org.opencontainers.image.revision"]).toBe("test");
    expect(inspect.Labels["org.opencontainers.image.source"]).toStartWith("https://");

    // No shell to exec into: the runtime reports the missing file.
    const shell = await podman(["run", "--rm", "--entrypoint", "/bin/sh", image.ref, "-c", "true"], { allowFailure: true });
    expect(shell.code).not.toBe(0);
    expect(shell.stderr).toContain("/bin/sh");
  });

  test("holds exactly the listed files and nothing else (no shell, no package manager)", async () => {
    const listing = layerListing(image.archive);
    const zoneinfo = listing.filter((l) => l.path.startsWith("usr/share/zoneinfo/"));
    const rest = listing.filter((l) => !l.path.startsWith("usr/share/zoneinfo/")).map((l) => `${l.mode} ${l.owner} ${l.path}`);
    expect(rest).toEqual(EXPECTED_FILES[hostTarget().debArch!]!);
    // tzdata as Debian ships it (minus the link to /etc/localtime, which is the host's setting).
    expect(zoneinfo.length).toBeGreaterThan(500);
    const zones = new Set(zoneinfo.map((l) => l.path));
    for (const zone of ["UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"]) expect(zones.has(`usr/share/zoneinfo/${zone}`)).toBe(true);
    expect(zones.has("usr/share/zoneinfo/localtime")).toBe(false);
    const executable = (l: LayerEntry) => l.mode.startsWith("-") && l.mode.includes("x");
    expect(zoneinfo.filter((l) => l.owner !== "0/0" || executable(l))).toEqual([]);
  });

  test("exports the whole log from inside the container: read-only, non-root, settings from FDFWD_*", async () => {
    const w = await world({ events: 400, days: 2, sessions: 4, printsPerSession: 2 });
    const vol = await volume();
    const run = await podman(["run", "--rm", ...containerArgs(w, vol, ["--exit-on-last-event"]), image.ref], { allowFailure: true });
    expect(run.stderr).not.toContain("ERROR");
    expect(run.code).toBe(0);
    expectAuditExactlyOnce(w);
    expectRecordingsExactlyOnce(w, { withPrints: false });

    // The progress is on the volume, owned by the image's user: a second run has nothing to send.
    const before = w.fluentd.recordCount();
    const again = await podman(["run", "--rm", ...containerArgs(w, vol, ["--exit-on-last-event"]), image.ref], { allowFailure: true });
    expect(again.code).toBe(0);
    expect(w.fluentd.recordCount()).toBe(before);
  }, 120_000);

  test("killed with SIGKILL mid-export and started again on the same volume: nothing is lost", async () => {
    const w = await world({ events: 800, days: 2, sessions: 4, printsPerSession: 2 });
    // Each acknowledgement takes a little while, so that the kill lands mid-export.
    w.fluentd.faults.latencyMs = 15;
    const vol = await volume();
    const flags = ["--exit-on-last-event", "--fluentd-batch-size", String(BATCH), "--fluentd-inflight-batches", String(INFLIGHT)];
    const name = `teh-test-${process.pid}-kill`;
    await podman(["run", "-d", "--name", name, ...containerArgs(w, vol, flags), image.ref]);
    try {
      await untilAuditRecords(w, 200, 60_000);
      await podman(["kill", "-s", "KILL", name]);
      expect((await podman(["wait", name])).stdout.trim()).toBe("137");
    } finally {
      await podman(["rm", "-f", name], { allowFailure: true });
    }
    const deliveredBeforeKill = w.fluentd.recordCount("events.log");
    expect(deliveredBeforeKill).toBeLessThan(w.teleport.log.count);

    w.fluentd.faults.latencyMs = 0;
    const rerun = await podman(["run", "--rm", ...containerArgs(w, vol, flags), image.ref], { allowFailure: true });
    expect(rerun.code).toBe(0);

    // Every event and every recording arrived; a kill may repeat at most the batches in flight.
    expect(sorted([...new Set(auditUids(w))])).toEqual(sorted(logUids(w)));
    const duplicates = [...countBy(auditUids(w)).values()].reduce((sum, n) => sum + n - 1, 0);
    expect(duplicates).toBeLessThanOrEqual(INFLIGHT * BATCH);
    const got = sessionIndexes(w);
    for (const [tag, indexes] of expectedRecordings(w, { withPrints: false })) expect([...new Set(got.get(tag))]).toEqual(indexes);
  }, 180_000);
});

interface LayerEntry {
  mode: string;
  owner: string;
  path: string;
}

/** `tar -tv` of the image's single layer, read from the oci-archive as a registry would serve it. */
function layerListing(archive: string): LayerEntry[] {
  const { layers } = readOciArchive(archive);
  expect(layers).toHaveLength(1);
  const listing = Bun.spawnSync(["tar", "-tvz", "--numeric-owner"], { stdin: layers[0]!(), stdout: "pipe" }).stdout.toString();
  return listing
    .trim()
    .split("\n")
    .map((line) => {
      const [mode, owner, , , , ...rest] = line.split(/\s+/);
      return { mode: mode!, owner: owner!, path: rest.join(" ").replace(/ -> .*$/, "").replace(/\/$/, "") };
    });
}

/**
 * Everything outside /usr/share/zoneinfo, as `tar -tv` shows mode, uid/gid and path, for an
 * architecture whose glibc lives in lib/<triplet>, with the loader linked from loaderLinkDir.
 */
function expectedFiles(triplet: string, loader: string, loaderLinkDir: string): string[] {
  const libs = [
    "drwxr-xr-x 0/0 lib",
    `drwxr-xr-x 0/0 lib/${triplet}`,
    `-rwxr-xr-x 0/0 lib/${triplet}/${loader}`,
    `-rwxr-xr-x 0/0 lib/${triplet}/libc.so.6`,
    `-rw-r--r-- 0/0 lib/${triplet}/libdl.so.2`,
    `-rw-r--r-- 0/0 lib/${triplet}/libm.so.6`,
    `-rw-r--r-- 0/0 lib/${triplet}/libpthread.so.0`,
    ...(loaderLinkDir === "lib" ? [] : [`drwxr-xr-x 0/0 ${loaderLinkDir}`]),
    `lrwxrwxrwx 0/0 ${loaderLinkDir}/${loader}`,
  ];
  return [
    "drwxr-xr-x 0/0 etc",
    "-rw-r--r-- 0/0 etc/group",
    "-rw-r--r-- 0/0 etc/nsswitch.conf",
    "-rw-r--r-- 0/0 etc/passwd",
    "drwxr-xr-x 0/0 etc/ssl",
    "drwxr-xr-x 0/0 etc/ssl/certs",
    "-rw-r--r-- 0/0 etc/ssl/certs/ca-certificates.crt",
    "drwxr-xr-x 0/0 home",
    "drwx------ 65532/65532 home/nonroot",
    ...libs,
    "drwxrwxrwt 0/0 tmp",
    "drwxr-xr-x 0/0 usr",
    "drwxr-xr-x 0/0 usr/local",
    "drwxr-xr-x 0/0 usr/local/bin",
    "-rwxr-xr-x 0/0 usr/local/bin/teleport-event-handler",
    "drwxr-xr-x 0/0 usr/share",
    "drwxr-xr-x 0/0 usr/share/zoneinfo",
    "drwxr-xr-x 0/0 var",
    "drwxr-xr-x 0/0 var/lib",
    "drwx------ 65532/65532 var/lib/teleport-event-handler",
  ];
}

const EXPECTED_FILES: Record<string, string[]> = {
  amd64: expectedFiles("x86_64-linux-gnu", "ld-linux-x86-64.so.2", "lib64"),
  arm64: expectedFiles("aarch64-linux-gnu", "ld-linux-aarch64.so.1", "lib"),
};
