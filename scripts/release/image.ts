// The OCI image of one Linux target, written without a container daemon and without running
// anything inside the image (no RUN step), so the arm64 image is built on amd64 without emulation.
// One layer, FROM scratch: the release binary, the glibc files it links (from Debian's libc6 of the
// same architecture), Debian's CA certificates and tzdata, a passwd/group with the non-root user
// 65532, and the storage directory owned by that user. The result is an oci-archive (an OCI image
// layout in a tar), which `podman load` and `skopeo copy oci-archive:…` read directly.

import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, posix, resolve } from "node:path";
import { elfDeps } from "./elf.ts";
import { HOMEPAGE, LICENSE_ID, NAME, SUMMARY } from "./meta.ts";
import { run } from "./run.ts";
import type { Target } from "./targets.ts";
import { tar, type TarEntry } from "./tar.ts";

export const IMAGE_USER = 65532;
export const IMAGE_BINARY = "/usr/local/bin/teleport-event-handler";
export const IMAGE_STORAGE = "/var/lib/teleport-event-handler";
const CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
/** Where each Debian architecture keeps its libraries (multiarch triplet). */
const TRIPLETS: Record<ImageArch, string> = { amd64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

export type ImageArch = "amd64" | "arm64";

export function imageArch(target: Target): ImageArch {
  if (target.os !== "linux" || !target.debArch) throw new Error(`image: ${target.name} is not a glibc Linux target`);
  return target.debArch;
}

export function imageName(version: string, arch: ImageArch): string {
  return `${NAME}-${version}-linux-${arch}.oci.tar`;
}

/** The image's tag inside the archive (`org.opencontainers.image.ref.name`); podman load uses it. */
export function imageRef(version: string): string {
  // OCI tags cannot hold "+", the same substitution the Go tool's images use.
  return `${NAME}:${version.replaceAll("+", "_")}`;
}

export interface ImageInfo {
  version: string;
  commit: string;
  /** Seconds since the epoch: every mtime and the `created` time (SOURCE_DATE_EPOCH). */
  epoch: number;
  /** Where Debian packages are downloaded to and reused from. */
  debCache: string;
}

/** The image settings `make image` and `make release` share, from their environment. */
export function imageInfoFromEnv(version: string, commit: string, root: string): ImageInfo {
  return {
    version,
    commit,
    epoch: Number(process.env.SOURCE_DATE_EPOCH || "0"),
    debCache: resolve(root, process.env.DEB_CACHE || "dist/.cache/debs"),
  };
}

const unpacked = new Map<string, Promise<string>>();

/**
 * Downloads `pkg` (e.g. "libc6:arm64", "tzdata") into the cache unless a .deb of it is there already,
 * and unpacks it under `workDir`; returns the unpacked root. Needs apt with the architecture enabled.
 * Images built side by side share one download and unpacking of the packages they have in common.
 */
function debianPackage(pkg: string, cache: string, workDir: string): Promise<string> {
  const key = `${pkg} ${cache} ${workDir}`;
  let root = unpacked.get(key);
  if (!root) unpacked.set(key, (root = fetchAndUnpack(pkg, cache, workDir)));
  return root;
}

async function fetchAndUnpack(pkg: string, cache: string, workDir: string): Promise<string> {
  const [name, arch] = pkg.split(":");
  const matches = () => readdirSync(cache).filter((f) => f.startsWith(`${name}_`) && f.endsWith(`_${arch ?? "all"}.deb`));
  mkdirSync(cache, { recursive: true });
  if (matches().length === 0) {
    try {
      await run(["apt-get", "download", "-q", pkg], { cwd: cache });
    } catch (error) {
      const reason = error instanceof Error ? error.message.split("\n").at(-1) : String(error);
      throw new Error(`apt-get download ${pkg} failed (${reason}); run scripts/ci-deps.sh, which enables the arm64 architecture and updates apt`);
    }
  }
  const deb = matches().sort().at(-1);
  if (!deb) throw new Error(`apt-get download ${pkg} wrote no ${name}_*_${arch ?? "all"}.deb into ${cache}`);
  const root = join(workDir, "debs", deb.replace(/\.deb$/, ""));
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  await run(["dpkg-deb", "-x", join(cache, deb), root]);
  return root;
}

/** Image files by absolute path; directories are added for every parent when the layer is written. */
type Files = Map<string, TarEntry>;

/** Adds `path` of the unpacked package at `root`, following symlinks (inside `root`) to their files. */
function addFromRoot(files: Files, root: string, path: string): string {
  const source = join(root, path);
  const stat = lstatSync(source, { throwIfNoEntry: false });
  if (!stat) throw new Error(`image: ${path} is not in ${basename(root)}`);
  if (stat.isSymbolicLink()) {
    const target = readlinkSync(source);
    files.set(path, { type: "symlink", path: path.slice(1), target });
    const resolved = posix.resolve(posix.dirname(path), target);
    // A link to a directory (zoneinfo/posix → .) needs no more: the directory is added as a tree.
    if (lstatSync(join(root, resolved), { throwIfNoEntry: false })?.isDirectory()) return resolved;
    return addFromRoot(files, root, resolved);
  }
  files.set(path, { type: "file", path: path.slice(1), mode: stat.mode & 0o111 ? 0o755 : 0o644, data: readFileSync(source) });
  return path;
}

/** Adds the binary's interpreter and libraries, and theirs, from the unpacked libc6 package. */
function addLibraries(files: Files, libc: string, arch: ImageArch, binary: Uint8Array): void {
  const deps = elfDeps(binary, "release binary");
  if (deps.machine !== arch) throw new Error(`image: the binary is for ${deps.machine}, the image for ${arch}`);
  const searchDirs = [`/lib/${TRIPLETS[arch]}`, `/usr/lib/${TRIPLETS[arch]}`];
  const pending: Array<{ soname: string; from: string }> = deps.needed.map((soname) => ({ soname, from: "the binary" }));
  if (deps.interpreter) addFromRoot(files, libc, deps.interpreter);
  const done = new Set<string>();
  for (let next = pending.shift(); next; next = pending.shift()) {
    if (done.has(next.soname)) continue;
    done.add(next.soname);
    const dir = searchDirs.find((d) => lstatSync(join(libc, d, next.soname), { throwIfNoEntry: false }));
    if (!dir) throw new Error(`image: ${next.soname} (needed by ${next.from}) is not in Debian's libc6:${arch}`);
    const file = addFromRoot(files, libc, `${dir}/${next.soname}`);
    for (const soname of elfDeps(readFileSync(join(libc, file)), file).needed) pending.push({ soname, from: next.soname });
  }
}

/**
 * Adds every file and symlink below `dir` of the unpacked package, except links out of it: those are
 * the system's settings (zoneinfo/localtime → /etc/localtime), which a container takes from TZ.
 */
function addTree(files: Files, root: string, dir: string, top = dir): void {
  for (const name of readdirSync(join(root, dir)).sort()) {
    const path = `${dir}/${name}`;
    const stat = lstatSync(join(root, path));
    if (stat.isDirectory()) addTree(files, root, path, top);
    else if (!stat.isSymbolicLink() || posix.resolve(dir, readlinkSync(join(root, path))).startsWith(`${top}/`)) addFromRoot(files, root, path);
  }
}

/** The CA bundle exactly as Debian's update-ca-certificates assembles it: every Mozilla root, in order. */
function caBundle(caRoot: string): Uint8Array {
  const dir = join(caRoot, "usr/share/ca-certificates/mozilla");
  const pems = readdirSync(dir).filter((f) => f.endsWith(".crt")).sort();
  if (pems.length === 0) throw new Error("image: Debian's ca-certificates package holds no certificates");
  return new TextEncoder().encode(pems.map((f) => readFileSync(join(dir, f), "utf8").trimEnd() + "\n").join(""));
}

const text = (s: string) => new TextEncoder().encode(s);

/** Every entry of the layer, parents first and sorted, so the layer's bytes depend only on its content. */
export function layerEntries(files: Files): TarEntry[] {
  const owned = new Set([IMAGE_STORAGE, `/home/nonroot`]);
  const dirs = new Map<string, TarEntry>();
  const addDir = (path: string) => {
    for (let d = path; d !== "/" && !dirs.has(d); d = dirname(d)) {
      const mine = owned.has(d);
      dirs.set(d, { type: "dir", path: d.slice(1), mode: mine ? 0o700 : d === "/tmp" ? 0o1777 : 0o755, uid: mine ? IMAGE_USER : 0, gid: mine ? IMAGE_USER : 0 });
    }
  };
  for (const d of [...owned, "/tmp"]) addDir(d);
  for (const path of files.keys()) addDir(dirname(path));
  return [...dirs.values(), ...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** Builds the image of `binary` for `target` into `outDir`; returns the archive's file name. */
export async function buildImage(target: Target, binary: string, info: ImageInfo, outDir: string, workDir: string): Promise<string> {
  const arch = imageArch(target);
  const [libc, tzdata, certs] = [
    await debianPackage(`libc6:${arch}`, info.debCache, workDir),
    await debianPackage("tzdata", info.debCache, workDir),
    await debianPackage("ca-certificates", info.debCache, workDir),
  ];

  const files: Files = new Map();
  const binaryBytes = readFileSync(binary);
  files.set(IMAGE_BINARY, { type: "file", path: IMAGE_BINARY.slice(1), mode: 0o755, data: binaryBytes });
  addLibraries(files, libc, arch, binaryBytes);
  addTree(files, tzdata, "/usr/share/zoneinfo");
  files.set(CA_BUNDLE, { type: "file", path: CA_BUNDLE.slice(1), mode: 0o644, data: caBundle(certs) });
  const etc = {
    "/etc/passwd": `root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:${IMAGE_USER}:${IMAGE_USER}:nonroot:/home/nonroot:/sbin/nologin\n`,
    "/etc/group": `root:x:0:\nnonroot:x:${IMAGE_USER}:\n`,
    // glibc's built-in default for hosts is "dns [!UNAVAIL=return] files": /etc/hosts first instead.
    "/etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
  };
  for (const [path, content] of Object.entries(etc)) files.set(path, { type: "file", path: path.slice(1), mode: 0o644, data: text(content) });

  const layerTar = tar(layerEntries(files), info.epoch);
  const layerGz = Bun.gzipSync(layerTar as Uint8Array<ArrayBuffer>, { level: 6 });
  const created = new Date(info.epoch * 1000).toISOString().replace(".000Z", "Z");
  const labels = {
    "org.opencontainers.image.title": NAME,
    "org.opencontainers.image.description": SUMMARY,
    "org.opencontainers.image.version": info.version,
    "org.opencontainers.image.revision": info.commit,
    "org.opencontainers.image.source": HOMEPAGE,
    "org.opencontainers.image.url": HOMEPAGE,
    "org.opencontainers.image.licenses": LICENSE_ID,
    "org.opencontainers.image.created": created,
  };
  const config = text(
    JSON.stringify({
      created,
      architecture: arch,
      os: "linux",
      config: {
        User: `${IMAGE_USER}:${IMAGE_USER}`,
        Env: ["PATH=/usr/local/bin", `SSL_CERT_FILE=${CA_BUNDLE}`],
        Entrypoint: [IMAGE_BINARY],
        Cmd: ["start"],
        WorkingDir: IMAGE_STORAGE,
        Volumes: { [IMAGE_STORAGE]: {} },
        Labels: labels,
      },
      rootfs: { type: "layers", diff_ids: [`sha256:${await sha256(layerTar)}`] },
      history: [{ created, created_by: "scripts/release/image.ts (files only, no RUN)" }],
    }),
  );
  const blob = async (mediaType: string, bytes: Uint8Array) => ({ mediaType, digest: `sha256:${await sha256(bytes)}`, size: bytes.length });
  const configDesc = await blob("application/vnd.oci.image.config.v1+json", config);
  const layerDesc = await blob("application/vnd.oci.image.layer.v1.tar+gzip", layerGz);
  const manifest = text(
    JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: configDesc, layers: [layerDesc], annotations: labels }),
  );
  const manifestDesc = await blob("application/vnd.oci.image.manifest.v1+json", manifest);
  const index = text(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ ...manifestDesc, platform: { architecture: arch, os: "linux" }, annotations: { "org.opencontainers.image.ref.name": imageRef(info.version) } }],
    }),
  );

  const blobEntry = (desc: { digest: string }, data: Uint8Array): TarEntry => ({ type: "file", path: `blobs/sha256/${desc.digest.slice(7)}`, mode: 0o644, data });
  const archive = tar(
    [
      { type: "dir", path: "blobs", mode: 0o755 },
      { type: "dir", path: "blobs/sha256", mode: 0o755 },
      blobEntry(configDesc, config),
      blobEntry(layerDesc, layerGz),
      blobEntry(manifestDesc, manifest),
      { type: "file", path: "index.json", mode: 0o644, data: index },
      { type: "file", path: "oci-layout", mode: 0o644, data: text('{"imageLayoutVersion":"1.0.0"}') },
    ],
    info.epoch,
  );
  mkdirSync(outDir, { recursive: true });
  const name = imageName(info.version, arch);
  writeFileSync(join(outDir, name), archive);
  return name;
}
