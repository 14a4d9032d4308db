import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataDirLayout, prepareDataDir } from '../../../local/data-dir';
import { DataDirError } from '../../../local/errors';
import { CheckpointStore } from '../../../local/kinesis/checkpoints';

describe('prepareDataDir', () => {
  let parent: string;

  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'logbase-datadir-'));
  });

  afterEach(async () => {
    await rm(parent, { recursive: true, force: true });
  });

  it('creates the layout, marks the folder as a logbase data dir and locks it with this pid', async () => {
    // Act
    const { layout, release } = await prepareDataDir(join(parent, 'data'), false);

    // Assess
    expect((await readdir(layout.root)).sort()).toEqual([
      '.logbase-data',
      'dynamodb',
      'kinesis',
      'lock.pid',
      's3',
    ]);
    expect(await readFile(layout.lock, 'utf8')).toBe(String(process.pid));
    await release();
    expect(await readdir(layout.root)).not.toContain('lock.pid');
  });

  it('keeps what is there, and wipes it with fresh', async () => {
    // Prepare
    const root = join(parent, 'data');
    const first = await prepareDataDir(root, false);
    await writeFile(join(first.layout.s3, 'object'), 'x');
    await first.release();

    // Act + Assess
    const kept = await prepareDataDir(root, false);
    expect(await readdir(kept.layout.s3)).toEqual(['object']);
    await kept.release();
    const wiped = await prepareDataDir(root, true);
    expect(await readdir(wiped.layout.s3)).toEqual([]);
    await wiped.release();
  });

  it('refuses, with or without fresh, a non-empty folder logbase did not create', async () => {
    // Prepare
    await writeFile(join(parent, 'precious.txt'), 'do not delete');

    // Act + Assess
    await expect(prepareDataDir(parent, true)).rejects.toThrow(DataDirError);
    await expect(prepareDataDir(parent, false)).rejects.toThrow(/not created by logbase/);
    expect(await readdir(parent)).toEqual(['precious.txt']);
  });

  it('refuses a data dir a running process holds, and takes over the lock of one that is gone', async () => {
    // Prepare
    const root = join(parent, 'data');
    const layout = dataDirLayout(root);
    await mkdir(root, { recursive: true });
    await writeFile(join(root, '.logbase-data'), '');
    await writeFile(layout.lock, String(process.ppid));

    // Act + Assess: the parent process is running
    await expect(prepareDataDir(root, false)).rejects.toThrow(
      `in use by another local stack (pid ${process.ppid})`,
    );
    await writeFile(layout.lock, '2147483646');
    const taken = await prepareDataDir(root, false);
    expect(await readFile(layout.lock, 'utf8')).toBe(String(process.pid));
    await taken.release();
  });
});

describe('CheckpointStore', () => {
  it('persists positions so a reopened store resumes from them', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'logbase-checkpoints-'));
    const file = join(dir, 'checkpoints.json');
    const store = await CheckpointStore.open(file);

    // Act
    void store.set('a', { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: '1' });
    await store.set('a', { type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '2' });
    await store.set('b', { type: 'TRIM_HORIZON' });
    const reopened = await CheckpointStore.open(file);

    // Assess
    expect(reopened.get('a')).toEqual({ type: 'AT_SEQUENCE_NUMBER', sequenceNumber: '2' });
    expect(reopened.get('b')).toEqual({ type: 'TRIM_HORIZON' });
    expect(reopened.get('c')).toBeUndefined();
    await rm(dir, { recursive: true, force: true });
  });
});
