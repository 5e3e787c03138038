// A minimal ustar writer. Image layers need per-entry owners (root for the system files, 65532 for
// the storage directory) that GNU tar cannot give from a staging tree without running as root, and
// a layer's digest is part of the image's identity, so every byte here depends only on the entries:
// fixed mtime, no user or group names, entries in the order given.

export type TarEntry =
  | { type: "dir"; path: string; mode: number; uid?: number; gid?: number }
  | { type: "file"; path: string; mode: number; data: Uint8Array; uid?: number; gid?: number }
  | { type: "symlink"; path: string; target: string; uid?: number; gid?: number };

const BLOCK = 512;
const encoder = new TextEncoder();

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`tar: value ${value} does not fit in ${width - 1} octal digits`);
  return digits.padStart(width - 1, "0") + "\0";
}

/** Splits a path over ustar's name (100) and prefix (155) fields, at a "/". */
function splitName(path: string): { name: string; prefix: string } {
  if (encoder.encode(path).length <= 100) return { name: path, prefix: "" };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== "/") continue;
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (encoder.encode(prefix).length <= 155 && encoder.encode(name).length <= 100) return { name, prefix };
  }
  throw new Error(`tar: path too long for ustar: ${path}`);
}

function header(entry: TarEntry, mtime: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const put = (offset: number, text: string) => block.set(encoder.encode(text), offset);
  const path = entry.type === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  const { name, prefix } = splitName(path);
  const size = entry.type === "file" ? entry.data.length : 0;
  const mode = entry.type === "symlink" ? 0o777 : entry.mode;
  put(0, name);
  put(100, octal(mode, 8));
  put(108, octal(entry.uid ?? 0, 8));
  put(116, octal(entry.gid ?? 0, 8));
  put(124, octal(size, 12));
  put(136, octal(mtime, 12));
  put(148, "        "); // checksum field counts as spaces while summing
  put(156, entry.type === "file" ? "0" : entry.type === "dir" ? "5" : "2");
  if (entry.type === "symlink") {
    if (encoder.encode(entry.target).length > 100) throw new Error(`tar: symlink target too long: ${entry.target}`);
    put(157, entry.target);
  }
  put(257, "ustar\0");
  put(263, "00");
  put(345, prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(148, `${sum.toString(8).padStart(6, "0")}\0 `);
  return block;
}

/** The tar stream of `entries` (paths relative, without a leading "/"), every mtime set to `mtime`. */
export function tar(entries: readonly TarEntry[], mtime: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let length = 0;
  const push = (part: Uint8Array) => {
    parts.push(part);
    length += part.length;
  };
  for (const entry of entries) {
    if (entry.path.startsWith("/")) throw new Error(`tar: absolute path ${entry.path}`);
    push(header(entry, mtime));
    if (entry.type === "file") {
      push(entry.data);
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad) push(new Uint8Array(pad));
    }
  }
  push(new Uint8Array(BLOCK * 2)); // end-of-archive marker
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
