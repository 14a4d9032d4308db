import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { eventsUrl, resolveApiKey, SendSetupError } from '../../../cli/client/endpoint';
import { registerSend } from '../../../cli/commands/send';
import { validateClientEvent } from '../../../lib/schemas';
import { type FakeCollect, startFakeCollect } from './send-server';

/** Runs `logbase send <args>` in-process; resolves with what it printed and the exit code it set. */
async function run(args: string[]): Promise<{ out: string; err: string; exitCode: number | undefined }> {
  let out = '';
  let err = '';
  const program = new Command('logbase')
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (err += s) });
  registerSend(program);
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err += String(chunk);
    return true;
  });
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'logbase', 'send', ...args]);
    return { out, err, exitCode: process.exitCode as number | undefined };
  } catch (error) {
    if (error instanceof CommanderError) return { out, err, exitCode: error.exitCode };
    throw error;
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    process.exitCode = undefined;
  }
}

describe('logbase send arguments', () => {
  it.each([
    [[], 'error: nothing to send: give a JSON-lines <file> or --generate <n>'],
    [['events.jsonl', '--generate', '10'], 'error: give either a <file> or --generate <n>, not both'],
    [['--generate', 'ten'], '--generate must be a whole number >= 1, got "ten"'],
    [['--generate', '0'], '--generate must be a whole number >= 1, got "0"'],
    [
      ['--generate', '10', '--invalid-share', '1.5'],
      '--invalid-share must be a number from 0 to 1 (e.g. 0.05), got "1.5"',
    ],
    [['--generate', '10', '--rate', '-3'], '--rate must be a number > 0, got "-3"'],
    [
      ['--generate', '10', '--concurrency', '1000'],
      '--concurrency must be a whole number from 1 to 256, got "1000"',
    ],
    [['events.jsonl', '--seed', '4'], 'error: --seed only applies with --generate'],
    [
      ['events.jsonl', '--users', '4', '--out', 'x.jsonl'],
      'error: --users, --out only apply with --generate',
    ],
    [['--generate', '10', '--strict'], 'error: --strict only applies to a <file>'],
    [
      ['--generate', '10', '--endpoint', 'localhost:3000', '--api-key', 'k'],
      'error: --endpoint must be an http(s) URL such as http://127.0.0.1:3000, got "localhost:3000"',
    ],
    [
      ['--generate', '10', '--endpoint', 'ftp://127.0.0.1/', '--api-key', 'k'],
      '--endpoint must be an http(s) URL such as http://127.0.0.1:3000, got "ftp://127.0.0.1/"',
    ],
  ])('refuses `logbase send %j` with a clear message and exit code 1', async (args, message) => {
    // Act
    const result = await run(args);

    // Assess
    expect(result.err).toContain(message);
    expect(result.exitCode).toBe(1);
  });

  it('documents the exit codes in --help', async () => {
    // Act
    const result = await run(['--help']);

    // Assess
    expect(result.out).toMatch(/Exit codes:\n {2}0 {2}every event was accepted/);
    expect(result.out).toContain('--invalid-share <share>');
  });
});

describe('logbase send from the command line', () => {
  let server: FakeCollect | undefined;
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logbase-send-cli-'));
  });

  afterEach(async () => {
    await server?.close();
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints a summary with the counts, statuses and latency, and exits 0', async () => {
    // Prepare
    server = await startFakeCollect();

    // Act
    const result = await run([
      '--generate',
      '1200',
      '--invalid-share',
      '0.05',
      '--seed',
      '3',
      '--endpoint',
      server.url,
      '--api-key',
      'k',
    ]);

    // Assess
    expect(result.out).toContain(`sending 1200 events to ${server.url}/v1/events`);
    expect(result.out).toMatch(/progress: 1200\/1200 events \(100%\)/);
    expect(result.out).toMatch(/\n {2}events sent +1,200\n/);
    expect(result.out).toMatch(/\n {2}HTTP status +202 x3\n/);
    expect(result.out).toMatch(/\n {2}latency +p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms\n/);
    expect(result.out).toMatch(/top rejection reasons \(5 of \d+\):\n {4}\s*\d+ {2}\//);
    expect(result.out).not.toContain('UNEXPECTED');
    expect(result.exitCode).toBe(0);
  });

  it('writes generated events to a file with --out instead of sending them', async () => {
    // Prepare
    const file = join(dir, 'traffic.jsonl');

    // Act
    const result = await run(['--generate', '250', '--seed', '8', '--out', file]);

    // Assess
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(250);
    expect(lines.every((line) => validateClientEvent(JSON.parse(line)).ok)).toBe(true);
    expect(result.out).toContain(`wrote 250 events to ${file} (0 broken on purpose)`);
    expect(result.exitCode).toBe(0);
  });
});

describe('the API key and the URL logbase send uses', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'logbase-key-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prefers --api-key, then LOGBASE_API_KEY', () => {
    // Act, Assess
    expect(resolveApiKey('from-flag', { LOGBASE_API_KEY: 'from-env' }, [])).toBe('from-flag');
    expect(resolveApiKey(undefined, { LOGBASE_API_KEY: 'from-env' }, [])).toBe('from-env');
  });

  it('falls back to the local stage key in serverless.yml, CloudFormation tags and all', () => {
    // Prepare
    const yml = join(dir, 'serverless.yml');
    writeFileSync(
      yml,
      [
        'params:',
        '  local:',
        '    apiKeys: " lb_local_abc , lb_local_def"',
        'resources:',
        '  Resources:',
        '    Policy:',
        '      Properties:',
        '        Resource: !GetAtt Stream.Arn',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation !Sub syntax, not a JS template
        '        Other: !Sub arn:${AWS::Partition}:s3:::bucket/*',
        '        Bucket: !Ref DataBucket',
        '        Joined: !Join [",", [a, b]]',
      ].join('\n'),
    );

    // Act
    const key = resolveApiKey(undefined, {}, [join(dir, 'missing.yml'), yml]);

    // Assess
    expect(key).toBe('lb_local_abc');
  });

  it('reads the key of this project when run from its folder', () => {
    // Act, Assess
    expect(resolveApiKey(undefined, {})).toBe('lb_local_0123456789abcdef');
  });

  it('says how to give a key when there is none', () => {
    // Act, Assess
    expect(() => resolveApiKey(undefined, {}, [join(dir, 'missing.yml')])).toThrow(
      new SendSetupError(
        'no API key: pass --api-key, set LOGBASE_API_KEY, or run from the project (serverless.yml params.local.apiKeys)',
      ),
    );
  });

  it('appends /v1/events only when the endpoint has no path', () => {
    // Act, Assess
    expect(eventsUrl('http://127.0.0.1:3000')).toBe('http://127.0.0.1:3000/v1/events');
    expect(eventsUrl('http://127.0.0.1:3000/')).toBe('http://127.0.0.1:3000/v1/events');
    expect(eventsUrl('https://abc.execute-api.ap-northeast-1.amazonaws.com/v1/events')).toBe(
      'https://abc.execute-api.ap-northeast-1.amazonaws.com/v1/events',
    );
    expect(eventsUrl('http://127.0.0.1:3000/custom')).toBe('http://127.0.0.1:3000/custom');
  });
});
