/**
 * A test hook in front of s3rver: the next N requests of a method on one key (or under a key prefix)
 * are refused as S3 refuses them, before s3rver sees them, so a test can make one task's read or write
 * fail for real (the SDK gets S3's XML error) and watch the state machine retry it.
 * The default, 403 AccessDenied, is an error the SDK does not retry: one refused call is one failed task.
 */
export interface S3Fault {
  /** GET (GetObject), PUT (PutObject), ... */
  method: string;
  /** The object key, or a prefix ending in `*` (e.g. `batch/dt=2026-11-30/scores/*`). */
  key: string;
  /** How many requests to refuse (default 1). */
  calls?: number;
  /** Default 403. */
  status?: number;
  /** Default AccessDenied. */
  code?: string;
}

interface KoaLikeContext {
  method: string;
  path: string;
  status: number;
  body: unknown;
  set(field: string, value: string): void;
}

export class S3FaultHook {
  private faults: Required<S3Fault>[] = [];
  private readonly refused = new Map<string, number>();

  /** Adds faults (each counts down on its own). */
  inject(...faults: S3Fault[]): void {
    for (const f of faults) {
      this.faults.push({ calls: 1, status: 403, code: 'AccessDenied', ...f, method: f.method.toUpperCase() });
    }
  }

  /** Requests refused so far for `<METHOD> <key>`. */
  refusedCount(method: string, key: string): number {
    return this.refused.get(`${method.toUpperCase()} ${key}`) ?? 0;
  }

  /** The Koa middleware to put first in s3rver's chain. */
  readonly middleware = (ctx: KoaLikeContext, next: () => Promise<void>): Promise<void> | undefined => {
    if (this.faults.length === 0) return next();
    // Path-style: /<bucket>/<key>
    const path = decodeURIComponent(ctx.path);
    const key = path.slice(path.indexOf('/', 1) + 1);
    const fault = this.faults.find(
      (f) =>
        f.calls > 0 &&
        f.method === ctx.method &&
        (f.key.endsWith('*') ? key.startsWith(f.key.slice(0, -1)) : key === f.key),
    );
    if (!fault) return next();
    fault.calls -= 1;
    this.faults = this.faults.filter((f) => f.calls > 0);
    const id = `${ctx.method} ${key}`;
    this.refused.set(id, (this.refused.get(id) ?? 0) + 1);
    ctx.status = fault.status;
    ctx.set('Content-Type', 'application/xml');
    ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${fault.code}</Code><Message>${fault.code} (injected fault)</Message><Key>${key}</Key></Error>`;
    return undefined;
  };
}
