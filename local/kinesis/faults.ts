import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';

/**
 * A test hook in front of kinesalite's request handler: counts calls per operation and makes
 * calls fail as Kinesis does under load, so a test can assert exactly how often a writer calls.
 * - `calls`: the next N calls of `operation` fail whole, HTTP 400 ProvisionedThroughputExceededException
 *   (what Kinesis answers a throttled call) or the given status and code (e.g. 503 ServiceUnavailable);
 * - `records`: the next N records of PutRecords calls fail one by one (ProvisionedThroughputExceededException
 *   in the entry, FailedRecordCount set), the others are stored as usual.
 */
export interface KinesisFaults {
  operation?: string;
  calls?: number;
  records?: number;
  errorCode?: string;
  status?: number;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const THROTTLED = 'ProvisionedThroughputExceededException';

export class KinesisFaultHook {
  private faults: Required<KinesisFaults> = {
    operation: 'PutRecords',
    calls: 0,
    records: 0,
    errorCode: THROTTLED,
    status: 400,
  };
  private readonly counts = new Map<string, number>();

  /** Puts the hook in front of the server's request handler. */
  constructor(server: Server) {
    const handlers = server.listeners('request') as Handler[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res, (r, s) => {
        for (const handler of handlers) handler(r, s);
      });
    });
  }

  inject(faults: KinesisFaults): void {
    this.faults = {
      operation: faults.operation ?? 'PutRecords',
      calls: faults.calls ?? 0,
      records: faults.records ?? 0,
      errorCode: faults.errorCode ?? THROTTLED,
      status: faults.status ?? 400,
    };
  }

  /** Calls of an operation (e.g. PutRecords) since the stack started, failed ones included. */
  calls(operation: string): number {
    return this.counts.get(operation) ?? 0;
  }

  private handle(req: IncomingMessage, res: ServerResponse, next: Handler): void {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.indexOf('.') + 1);
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
    const faults = this.faults;
    if (operation === faults.operation && faults.calls > 0) {
      faults.calls -= 1;
      req.resume();
      const body = JSON.stringify({ __type: faults.errorCode, message: 'Rate exceeded (injected fault).' });
      res.writeHead(faults.status, {
        'content-type': 'application/x-amz-json-1.1',
        'x-amzn-errortype': faults.errorCode,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    if (operation !== 'PutRecords' || faults.records === 0) {
      next(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => this.failRecords(req, res, Buffer.concat(chunks), next));
  }

  /** Fails the first records still owed, hands the rest to kinesalite, and answers both in the call's order. */
  private failRecords(req: IncomingMessage, res: ServerResponse, body: Buffer, next: Handler): void {
    const input = JSON.parse(body.toString('utf8')) as { Records: unknown[] };
    const failing = Math.min(this.faults.records, input.Records.length);
    this.faults.records -= failing;
    const forwarded = Buffer.from(JSON.stringify({ ...input, Records: input.Records.slice(failing) }));
    const request = Object.assign(Readable.from([forwarded]), {
      headers: { ...req.headers, 'content-length': String(forwarded.length) },
      method: req.method,
      url: req.url,
    }) as unknown as IncomingMessage;
    const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
    res.end = ((chunk?: unknown) => {
      if (res.statusCode !== 200 || chunk === undefined) return end(chunk);
      const answer = JSON.parse(String(chunk)) as { FailedRecordCount: number; Records: unknown[] };
      const failed = Array.from({ length: failing }, () => ({
        ErrorCode: THROTTLED,
        ErrorMessage: 'Rate exceeded for shard (injected fault).',
      }));
      const merged = Buffer.from(
        JSON.stringify({
          ...answer,
          FailedRecordCount: answer.FailedRecordCount + failing,
          Records: [...failed, ...answer.Records],
        }),
      );
      res.setHeader('Content-Length', merged.length);
      return end(merged);
    }) as ServerResponse['end'];
    next(request, res);
  }
}
