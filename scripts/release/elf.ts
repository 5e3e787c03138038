// Reads what a dynamically linked ELF binary needs at run time: its interpreter (the glibc loader)
// and its DT_NEEDED libraries. This is what `ldd` reports, without running the binary, so it works
// for the arm64 binary on an amd64 machine; the image then ships exactly those libraries.

export interface ElfDeps {
  machine: "amd64" | "arm64";
  /** PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2; undefined for a static binary. */
  interpreter?: string;
  /** DT_NEEDED sonames, e.g. libc.so.6. */
  needed: string[];
}

const MACHINES: Record<number, ElfDeps["machine"]> = { 62: "amd64", 183: "arm64" };

export function elfDeps(bytes: Uint8Array, what = "binary"): ElfDeps {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const isElf64Le = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46 && bytes[4] === 2 && bytes[5] === 1;
  if (!isElf64Le) throw new Error(`${what}: not a 64-bit little-endian ELF file`);
  const machine = MACHINES[view.getUint16(0x12, true)];
  if (!machine) throw new Error(`${what}: unsupported ELF machine ${view.getUint16(0x12, true)}`);

  const u64 = (offset: number) => Number(view.getBigUint64(offset, true));
  const phoff = u64(0x20);
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  const loads: Array<{ vaddr: number; offset: number; filesz: number }> = [];
  let interpreter: string | undefined;
  let dynamic: { offset: number; size: number } | undefined;
  const cString = (offset: number) => {
    let end = offset;
    while (end < bytes.length && bytes[end] !== 0) end++;
    return new TextDecoder().decode(bytes.subarray(offset, end));
  };
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    const type = view.getUint32(ph, true);
    const offset = u64(ph + 0x08);
    const vaddr = u64(ph + 0x10);
    const filesz = u64(ph + 0x20);
    if (type === 1) loads.push({ vaddr, offset, filesz });
    else if (type === 2) dynamic = { offset, size: filesz };
    else if (type === 3) interpreter = cString(offset);
  }
  if (!dynamic) return { machine, interpreter, needed: [] };

  let strtab: number | undefined;
  const neededOffsets: number[] = [];
  for (let p = dynamic.offset; p + 16 <= dynamic.offset + dynamic.size; p += 16) {
    const tag = u64(p);
    if (tag === 0) break;
    if (tag === 1) neededOffsets.push(u64(p + 8));
    else if (tag === 5) strtab = u64(p + 8);
  }
  if (strtab === undefined) throw new Error(`${what}: dynamic section without a string table`);
  const segment = loads.find((s) => strtab! >= s.vaddr && strtab! < s.vaddr + s.filesz);
  if (!segment) throw new Error(`${what}: string table outside every loaded segment`);
  const strtabOffset = strtab - segment.vaddr + segment.offset;
  return { machine, interpreter, needed: neededOffsets.map((o) => cString(strtabOffset + o)) };
}
