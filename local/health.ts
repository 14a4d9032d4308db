import { request } from 'node:http';

/** `starting`: not up yet while the stack starts (or serverless-offline restarts); `down`: it should be up. */
export type ServiceState = 'up' | 'starting' | 'down';

export interface ServiceStatus {
  state: ServiceState;
  endpoint?: string;
  /** What is running, or why it is not up. */
  detail?: string;
}

/** What `GET /health` answers: 200 when `status` is `ready` (every service up), 503 otherwise. */
export interface HealthReport {
  status: 'ready' | 'starting' | 'degraded';
  services: Record<string, ServiceStatus>;
}

/** A service's check: run on every report, concurrently, cut at the probe timeout. */
export type HealthCheck = () => Promise<ServiceStatus>;

/**
 * The stack's services and how to check each. Every service is named when the stack starts (`starting` until
 * its check is set), so a report always names them all; `markReady` says the whole stack is up.
 */
export class StackHealth {
  private readonly checks = new Map<string, HealthCheck | undefined>();
  private ready = false;

  constructor(
    names: readonly string[],
    private readonly timeoutMs = 1_000,
  ) {
    for (const name of names) this.checks.set(name, undefined);
  }

  /** How a started service is checked from now on. */
  set(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  markReady(): void {
    this.ready = true;
  }

  get isReady(): boolean {
    return this.ready;
  }

  async report(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]): Promise<[string, ServiceStatus]> => {
        if (!check) return [name, { state: 'starting' }];
        return [name, await withTimeout(check(), this.timeoutMs)];
      }),
    );
    const services = Object.fromEntries(entries);
    const allUp = entries.every(([, s]) => s.state === 'up');
    return { status: allUp && this.ready ? 'ready' : this.ready ? 'degraded' : 'starting', services };
  }
}

function withTimeout(check: Promise<ServiceStatus>, ms: number): Promise<ServiceStatus> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<ServiceStatus>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'down', detail: `no answer within ${ms} ms` }), ms);
  });
  return Promise.race([
    check.catch((error: unknown): ServiceStatus => ({ state: 'down', detail: String(error) })),
    late,
  ]).finally(() => clearTimeout(timer));
}

/**
 * Whether an HTTP server answers at `url` (any status: an emulator answers a bare GET with an error of its
 * protocol, which is an answer). A TCP connect alone would not do: the kernel accepts connections for a
 * process whose event loop is stuck.
 */
export function httpAnswers(url: string, path = '/', timeoutMs = 1_000): Promise<ServiceStatus> {
  return new Promise((resolve) => {
    const req = request(new URL(path, url), { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve({ state: 'up', endpoint: url });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (error) => resolve({ state: 'down', endpoint: url, detail: error.message }));
    req.end();
  });
}
