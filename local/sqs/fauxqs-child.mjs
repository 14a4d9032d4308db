// Runs fauxqs (SQS and SNS) for the local stack in a process of its own: fauxqs is ESM-only (jest and the
// tsx CLI load the stack as CommonJS) and needs node:sqlite (Node >= 22.5). Started by local/sqs/server.ts
// with its options as JSON in argv[2]; reports `{ port }` over IPC once listening, and stops when its parent
// disconnects (a parent that dies takes it along).
import { Server } from 'node:net';
import { startFauxqs } from 'fauxqs';

const { host, port, dataDir, region } = JSON.parse(process.argv[2] ?? '{}');

// startFauxqs always binds 0.0.0.0; the local stack's servers bind the interface the user chose.
const listen = Server.prototype.listen;
Server.prototype.listen = function (options, ...rest) {
  if (options && typeof options === 'object' && options.host === '0.0.0.0') options = { ...options, host };
  return listen.call(this, options, ...rest);
};

try {
  const server = await startFauxqs({ port, dataDir, defaultRegion: region, logger: false });
  const stop = () =>
    server.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.send?.({ port: server.port });
} catch (error) {
  process.send?.({ error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
