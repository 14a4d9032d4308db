import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DataDirError } from './errors';

/** Where each part of the local stack keeps its state, under one data dir. */
export interface DataDirLayout {
  root: string;
  /** Holds the pid of the stack using the data dir. */
  lock: string;
  s3: string;
  kinesis: string;
  dynamodb: string;
  /** SQS queues and messages, SNS topics and subscriptions (fauxqs's SQLite). */
  sqs: string;
  checkpoints: string;
  /** Kinesis batches given up after maximumRetryAttempts (the local on-failure destination). */
  failedBatches: string;
  /** S3-triggered invocations that still failed after the async retries. */
  failedEvents: string;
  /** Firehose deliveries that could not be written to S3. */
  failedDeliveries: string;
  /** One JSON line per `logbase query` run on the local lake (who, when, SQL, tables read). */
  queryLog: string;
}

/** Marks a folder as a logbase data dir, so `--fresh` never wipes a folder it did not create. */
const MARKER = '.logbase-data';

/** The layout of a data dir (no I/O). */
export function dataDirLayout(root: string): DataDirLayout {
  const dir = resolve(root);
  return {
    root: dir,
    lock: join(dir, 'lock.pid'),
    s3: join(dir, 's3'),
    kinesis: join(dir, 'kinesis'),
    dynamodb: join(dir, 'dynamodb'),
    sqs: join(dir, 'sqs'),
    checkpoints: join(dir, 'checkpoints.json'),
    failedBatches: join(dir, 'failed-batches'),
    failedEvents: join(dir, 'failed-events'),
    failedDeliveries: join(dir, 'failed-deliveries'),
    queryLog: join(dir, 'query-log.jsonl'),
  };
}

/** A data dir claimed by this process: `release` frees it for the next stack. */
export interface PreparedDataDir {
  layout: DataDirLayout;
  release(): Promise<void>;
}

/**
 * Creates and claims the data dir (with `fresh`, wipes it first). A non-empty folder without the marker file
 * is neither used nor wiped (`--data-dir ~ --fresh` fails with a DataDirError instead of deleting a home
 * folder), and neither is a data dir another running stack holds.
 */
export async function prepareDataDir(root: string, fresh: boolean): Promise<PreparedDataDir> {
  const layout = dataDirLayout(root);
  if (existsSync(layout.root)) {
    const entries = (await readdir(layout.root)).filter((e) => join(layout.root, e) !== layout.lock);
    if (entries.length > 0 && !entries.includes(MARKER)) {
      throw new DataDirError(
        `${layout.root} is not empty and was not created by logbase (no ${MARKER} file): choose another --data-dir`,
      );
    }
  }
  await mkdir(layout.root, { recursive: true });
  const release = await lockDataDir(layout);
  try {
    if (fresh) {
      for (const entry of await readdir(layout.root)) {
        if (join(layout.root, entry) !== layout.lock)
          await rm(join(layout.root, entry), { recursive: true, force: true });
      }
    }
    for (const dir of [layout.s3, layout.kinesis, layout.dynamodb]) await mkdir(dir, { recursive: true });
    await writeFile(
      join(layout.root, MARKER),
      'logbase local stack data (safe to delete; `logbase dev --fresh`)\n',
    );
  } catch (error) {
    await release();
    throw error;
  }
  return { layout, release };
}

/**
 * Claims the data dir for this process (the emulators' databases allow one user). A lock left by a process
 * that no longer runs is taken over. Returns the release function.
 */
async function lockDataDir(layout: DataDirLayout): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(layout.lock, String(process.pid), { flag: 'wx' });
      return () => rm(layout.lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(layout.lock, 'utf8').catch(() => '')).trim());
      if (owner && owner !== process.pid && isRunning(owner)) {
        throw new DataDirError(
          `${layout.root} is in use by another local stack (pid ${owner}); stop it or use --data-dir`,
        );
      }
      if (owner === process.pid) {
        throw new DataDirError(`${layout.root} is already used by a local stack in this process`);
      }
      await rm(layout.lock, { force: true });
    }
  }
  throw new DataDirError(`could not lock ${layout.root}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
