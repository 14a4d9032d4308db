import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';

/** Where a shard reader resumes: after/at a sequence number, at a time, or from the oldest record. */
export type ShardPosition =
  | { type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AT_SEQUENCE_NUMBER'; sequenceNumber: string }
  | { type: 'AT_TIMESTAMP'; timestamp: number }
  | { type: 'TRIM_HORIZON' };

/**
 * Shard positions persisted as one JSON file in the data dir, so a restarted stack resumes where the last one
 * stopped. Writes are serialized and atomic (temp file + rename).
 */
export class CheckpointStore {
  private positions: Record<string, ShardPosition> = {};
  private writing: Promise<void> = Promise.resolve();

  private constructor(private readonly file: string) {}

  /** Opens (or starts) the checkpoint file. */
  static async open(file: string): Promise<CheckpointStore> {
    const store = new CheckpointStore(file);
    if (existsSync(file)) store.positions = JSON.parse(await readFile(file, 'utf8'));
    return store;
  }

  get(key: string): ShardPosition | undefined {
    return this.positions[key];
  }

  /** Records a position and persists it; resolves once it is on disk. */
  set(key: string, position: ShardPosition): Promise<void> {
    this.positions[key] = position;
    const snapshot = JSON.stringify(this.positions, null, 2);
    // A failed write is reported to its caller and does not block the writes after it.
    this.writing = this.writing
      .catch(() => undefined)
      .then(async () => {
        const tmp = `${this.file}.tmp`;
        await writeFile(tmp, snapshot);
        await rename(tmp, this.file);
      });
    return this.writing;
  }

  /** Resolves when every write so far is on disk. */
  flush(): Promise<void> {
    return this.writing.catch(() => undefined);
  }
}
