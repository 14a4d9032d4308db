import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { asyncFailureRecord, type DestinationSender, functionFailure } from '../destinations';
import type { Invoker } from '../invoker';
import { sleep } from '../kinesis/shard-reader';
import { errorMessage, type StackLog } from '../log';
import type { FunctionSpec, S3Subscription } from '../wiring';
import { type ObjectChange, s3Event, subscriptionMatches } from './events';

export interface S3NotifierOptions {
  subscriptions: S3Subscription[];
  invoker: Invoker;
  s3: S3Client;
  region: string;
  /** Each function's retries (`asyncRetries`, Lambda's default 2) and `destinations.onFailure`. */
  functions: FunctionSpec[];
  /** Delivers the on-failure record of an event whose retries are exhausted. */
  destinations: DestinationSender;
  /** Where such an event is written when its function declares no onFailure destination (or it fails). */
  failedEventsDir: string;
  retryDelayMs: number;
  log: StackLog;
}

/**
 * S3 event notifications to Lambda: each object change is matched against every `s3` subscription and the
 * matching functions are invoked asynchronously with a real-shaped event, with Lambda's async retries.
 */
export class S3Notifier {
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: S3NotifierOptions) {}

  /** Called by the S3 emulator for every change; never throws. */
  notify(change: ObjectChange): void {
    if (this.stopped) return;
    const matching = this.options.subscriptions.filter((sub) => subscriptionMatches(sub, change));
    for (const sub of matching) {
      const delivery = this.deliver(sub, change).finally(() => this.inFlight.delete(delivery));
      this.inFlight.add(delivery);
    }
  }

  /** Resolves when every delivery started so far has finished (tests and stop use it). */
  async idle(): Promise<void> {
    while (this.inFlight.size) await Promise.all([...this.inFlight]);
  }

  /** Takes no new changes and waits for the deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }

  private async deliver(sub: S3Subscription, change: ObjectChange): Promise<void> {
    const { invoker, log, retryDelayMs } = this.options;
    const fn = this.options.functions.find((f) => f.key === sub.functionKey);
    const retries = fn?.asyncRetries ?? 2;
    // One request id for the event and all its retries, as Lambda keeps for an asynchronous invocation.
    const requestId = randomUUID();
    const completed = await this.withETag(change);
    const event = s3Event(completed, this.options.region, `${sub.functionName}-s3-${sub.event}`);
    const label = `s3 ${change.eventName} s3://${change.bucket}/${change.key} -> ${sub.functionKey}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await invoker.invoke({ key: sub.functionKey, name: sub.functionName }, event);
        log.info(`${label}, ok`);
        return;
      } catch (error) {
        if (attempt >= retries || this.stopped) {
          const failed = `${label}, failed after ${attempt + 1} attempt(s): ${errorMessage(error)}`;
          if (fn?.onFailure) {
            const record = asyncFailureRecord({
              requestId,
              functionArn: fn.arn,
              approximateInvokeCount: attempt + 1,
              event,
              failure: functionFailure(error),
              timestamp: new Date(),
            });
            try {
              await this.options.destinations.send(fn.onFailure, record);
              log.error(`${failed}; on-failure record sent to ${fn.onFailure.arn}`);
              return;
            } catch (sendError) {
              const file = await this.writeFailed(sub, event, error);
              log.error(
                `${failed}; the on-failure record could not be sent to ${fn.onFailure.arn} (${errorMessage(sendError)}), event written to ${file}`,
              );
              return;
            }
          }
          const file = await this.writeFailed(sub, event, error);
          log.error(`${failed}; no destinations.onFailure declared, event written to ${file}`);
          return;
        }
        log.warn(`${label}, failed (${errorMessage(error)}); retry ${attempt + 1}`);
        await sleep(retryDelayMs * 2 ** attempt);
      }
    }
  }

  /** s3rver reports no ETag for copies: ask for it, as the real event carries one. */
  private async withETag(change: ObjectChange): Promise<ObjectChange> {
    if (change.eTag !== undefined || !change.eventName.startsWith('ObjectCreated:')) return change;
    try {
      const head = await this.options.s3.send(
        new HeadObjectCommand({ Bucket: change.bucket, Key: change.key }),
      );
      return { ...change, eTag: head.ETag?.replace(/"/g, ''), size: change.size ?? head.ContentLength };
    } catch {
      return change;
    }
  }

  private async writeFailed(sub: S3Subscription, event: unknown, error: unknown): Promise<string> {
    const dir = this.options.failedEventsDir;
    await mkdir(dir, { recursive: true });
    const file = join(
      dir,
      `${sub.functionName}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`,
    );
    await writeFile(
      file,
      `${JSON.stringify({ functionName: sub.functionName, error: errorMessage(error), event }, null, 2)}\n`,
    );
    return file;
  }
}
