// Minimal types for the embedded emulators (none of them ships its own).

declare module 's3rver' {
  import type { EventEmitter } from 'node:events';
  import type { AddressInfo } from 'node:net';

  interface S3rverOptions {
    address?: string;
    port?: number;
    directory?: string;
    silent?: boolean;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string; configs?: (string | Buffer)[] }[];
  }

  /** A Koa middleware, as s3rver (a Koa app) composes them. */
  type Middleware = (ctx: S3rverContext, next: () => Promise<void>) => Promise<void> | void;

  interface S3rverContext {
    method: string;
    path: string;
    query: Record<string, string | string[] | undefined>;
    headers: Record<string, string | string[] | undefined>;
    req: import('node:http').IncomingMessage;
    ip: string;
    /** The answer (Koa's): set by a middleware that answers without calling next (local/s3/faults.ts). */
    status: number;
    body: unknown;
    set(field: string, value: string): void;
  }

  class S3rver extends EventEmitter {
    constructor(options?: S3rverOptions);
    middleware: Middleware[];
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
  export = S3rver;
}

declare module 's3rver/lib/models/account' {
  interface AWSAccount {
    id: number;
    createKeyPair(accessKeyId: string, secretAccessKey: string): void;
  }
  const AccountModule: {
    registry: Map<string, AWSAccount>;
    DUMMY_ACCOUNT: AWSAccount;
  };
  export = AccountModule;
}

declare module 'kinesalite' {
  import type { Server } from 'node:http';

  function kinesalite(options?: {
    path?: string;
    createStreamMs?: number;
    deleteStreamMs?: number;
    updateStreamMs?: number;
    shardLimit?: number;
  }): Server;
  export = kinesalite;
}

declare module 'dynalite' {
  import type { Server } from 'node:http';

  function dynalite(options?: {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
  }): Server;
  export = dynalite;
}
