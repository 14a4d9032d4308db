import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RECORD_PATH, type RecordedFixture } from '../../local/recorder';

/**
 * `logbase replay --record <dir>`: holds GET /_logbase/record open on the running local stack
 * (local/recorder.ts) and writes each fixture it streams to `<dir>/<source>/<time>-<n>-<name>.json`,
 * in the shapes of events/<source>/ (so `logbase replay <dir>/<source>` delivers them again). An S3
 * fixture's object bytes go next to it (`<file>.object`, `<file>.<i>.object` for a later record), so it
 * replays on a stack whose bucket does not hold the object.
 */

export interface RecordOptions {
  /** The stack's HTTP endpoint (http://127.0.0.1:3000). */
  endpoint: string;
  dir: string;
  /** Stop after this long (default: until `signal` aborts). */
  forMs?: number;
  signal?: AbortSignal;
  /** Called with each file written. */
  onFile?: (file: string, fixture: RecordedFixture) => void;
  /** Called once the stack has started recording. */
  onStarted?: () => void;
}

/** Raised when the stack does not record (not running, or too old to have /_logbase/record). */
export class RecordError extends Error {
  override name = 'RecordError';
}

/** The object file of an S3 fixture's record `i`. */
export const objectFile = (fixtureFile: string, i: number) =>
  `${fixtureFile.replace(/\.json$/, '')}${i === 0 ? '' : `.${i}`}.object`;

/** The bytes recorded for an S3 fixture's record `i`, or undefined when there is no object file. */
export async function recordedObject(fixtureFile: string, i: number): Promise<Buffer | undefined> {
  const file = objectFile(fixtureFile, i);
  try {
    await access(file);
  } catch {
    return undefined;
  }
  return readFile(file);
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** Records until `forMs` passes or `signal` aborts; resolves with the files written. */
export async function recordFixtures(o: RecordOptions): Promise<string[]> {
  const stop = new AbortController();
  const abort = () => stop.abort();
  o.signal?.addEventListener('abort', abort, { once: true });
  const timer = o.forMs === undefined ? undefined : setTimeout(abort, o.forMs);
  const files: string[] = [];
  let n = 0;
  const write = async (f: RecordedFixture) => {
    n += 1;
    const file = join(o.dir, f.source, `${stamp(new Date())}-${String(n).padStart(4, '0')}-${f.name}.json`);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(f.event, null, 2)}\n`);
    for (const [i, object] of (f.objects ?? []).entries()) {
      if (object !== null) await writeFile(objectFile(file, i), Buffer.from(object, 'base64'));
    }
    files.push(file);
    o.onFile?.(file, f);
  };
  try {
    let res: Response;
    try {
      res = await fetch(new URL(RECORD_PATH, o.endpoint), { signal: stop.signal });
    } catch (error) {
      if (stop.signal.aborted) return files;
      throw new RecordError(
        `the local stack does not answer at ${o.endpoint} (${(error as Error).message}): start it with npm start (logbase dev)`,
      );
    }
    if (res.status !== 200 || res.body === null) {
      throw new RecordError(
        `${o.endpoint}${RECORD_PATH} answered HTTP ${res.status}: recording needs the local stack of this checkout (logbase dev)`,
      );
    }
    let pending = '';
    let writing = Promise.resolve();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        pending += Buffer.from(chunk).toString('utf8');
        let nl = pending.indexOf('\n');
        while (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          nl = pending.indexOf('\n');
          if (line.trim() === '') continue;
          const message = JSON.parse(line) as RecordedFixture | { recording: true };
          if ('recording' in message) o.onStarted?.();
          else writing = writing.then(() => write(message));
        }
      }
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    }
    await writing;
    return files;
  } finally {
    if (timer) clearTimeout(timer);
    o.signal?.removeEventListener('abort', abort);
  }
}
