import { gzipSync } from 'node:zlib';
import { mkdtempSync } from 'node:fs';
import { rawObjectLines } from '../cli/traffic/raw-objects';
import { formatObject } from '../lib/format/format-object';
import { ParquetWriter } from '../lib/format/duckdb';
import { PatternLineCheck, ParsedLineCheck } from '../lib/domain/format/stored-lines';
async function main() {
const raw = rawObjectLines({ lines: Number(process.argv[2] ?? 20000), badShare: 0.01, tooLong: 1 });
const buf = Buffer.concat(raw.lines);
const gz = gzipSync(buf);
console.log('raw MB', buf.length / 1e6, 'gz MB', gz.length / 1e6, raw.bad);
const writer = await ParquetWriter.open({ tempDirectory: '/tmp/fmt-exp/duck' });
console.log(await writer.settings(), await writer.loadedExtensions());
for (const check of [new ParsedLineCheck(), new PatternLineCheck()]) {
  const t = performance.now();
  const dir = mkdtempSync('/tmp/fmt-exp/w-');
  const out = await formatObject((async function* () { for (let i = 0; i < gz.length; i += 1 << 20) yield gz.subarray(i, i + (1 << 20)); })(), { source: { bucket: 'b', key: 'raw/events/x.gz' }, workDir: dir, writer, check, segmentBytes: 4 << 20 });
  console.log(check.constructor.name, (performance.now() - t).toFixed(0), 'ms', { ...out, files: out.files.length });
}

}
main();
