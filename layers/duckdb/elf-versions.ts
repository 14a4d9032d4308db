import { readFileSync } from 'node:fs';

/**
 * The symbol versions a shared library needs from each of its dependencies, read from its ELF
 * `.gnu.version_r` section (what `objdump -T` and `readelf -V` print as "Version References"),
 * e.g. `{ 'libc.so.6': ['GLIBC_2.17', 'GLIBC_2.25'], 'libstdc++.so.6': ['GLIBCXX_3.4.29'] }`.
 * Only 64-bit little-endian ELF files (what Lambda's arm64 and x86_64 run) are read.
 */
export function neededVersions(file: string): Record<string, string[]> {
  const elf = readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
  if (elf[4] !== 2 || elf[5] !== 1) throw new Error(`${file} is not a 64-bit little-endian ELF file`);
  const sectionsAt = Number(elf.readBigUInt64LE(0x28));
  const sectionSize = elf.readUInt16LE(0x3a);
  const sectionCount = elf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const at = sectionsAt + i * sectionSize;
    return {
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      link: elf.readUInt32LE(at + 0x28),
      info: elf.readUInt32LE(at + 0x2c),
    };
  };
  const SHT_GNU_VERNEED = 0x6ffffffe;
  const out: Record<string, string[]> = {};
  for (let i = 0; i < sectionCount; i++) {
    const verneed = section(i);
    if (verneed.type !== SHT_GNU_VERNEED) continue;
    const strings = section(verneed.link).offset;
    const name = (offset: number) => {
      const start = strings + offset;
      return elf.toString('latin1', start, elf.indexOf(0, start));
    };
    // Elf64_Verneed: vn_version u16, vn_cnt u16, vn_file u32, vn_aux u32, vn_next u32;
    // Elf64_Vernaux: vna_hash u32, vna_flags u16, vna_other u16, vna_name u32, vna_next u32.
    let entry = verneed.offset;
    for (let n = 0; n < verneed.info; n++) {
      const library = name(elf.readUInt32LE(entry + 4));
      const versions = out[library] ?? [];
      out[library] = versions;
      let aux = entry + elf.readUInt32LE(entry + 8);
      for (let k = elf.readUInt16LE(entry + 2); k > 0; k--) {
        versions.push(name(elf.readUInt32LE(aux + 8)));
        const next = elf.readUInt32LE(aux + 12);
        if (next === 0) break;
        aux += next;
      }
      const next = elf.readUInt32LE(entry + 12);
      if (next === 0) break;
      entry += next;
    }
  }
  return out;
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The newest version a file needs with this prefix (`GLIBC_`, `GLIBCXX_`), or undefined. */
export function newestNeeded(versions: Record<string, string[]>, prefix: string): string | undefined {
  const found = Object.values(versions)
    .flat()
    .filter((v) => v.startsWith(prefix) && /^[\d.]+$/.test(v.slice(prefix.length)))
    .map((v) => v.slice(prefix.length));
  return found.sort(compareVersions).at(-1);
}
