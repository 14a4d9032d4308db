import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { type LakeTable, partitionOf } from '../../catalog/lake';

/** One partition of a lake table as it is stored: its Parquet files and their bytes. */
export interface PartitionStats {
  dt: string;
  hour: string;
  files: number;
  bytes: number;
  /** Local files (absolute paths), for the local engine to read. */
  paths?: string[];
}

/** The partitions found; `complete` is false when the listing stopped at its cap (the figures are then a floor). */
export interface PartitionListing {
  partitions: PartitionStats[];
  complete: boolean;
}

/** Lists a lake table's partitions: all of them, or only those of the given days. */
export interface PartitionSource {
  /** Where the lake is, for messages (`s3://bucket/lake/`, a folder). */
  readonly where: string;
  list(table: LakeTable, days?: string[]): Promise<PartitionListing>;
}

/** The Parquet objects of the lake: manifests and other files beside them are not data. */
const isParquetKey = (key: string) => key.endsWith('.parquet');

/** Groups objects by their dt/hour partition, sorted by partition. */
function group(objects: { key: string; size: number; path?: string }[]): PartitionStats[] {
  const byPartition = new Map<string, PartitionStats>();
  for (const o of objects) {
    const partition = partitionOf(o.key);
    if (!partition || !isParquetKey(o.key)) continue;
    const id = `${partition.dt}/${partition.hour}`;
    let stats = byPartition.get(id);
    if (!stats) {
      stats = { ...partition, files: 0, bytes: 0 };
      byPartition.set(id, stats);
    }
    stats.files += 1;
    stats.bytes += o.size;
    if (o.path) stats.paths = [...(stats.paths ?? []), o.path];
  }
  return [...byPartition.values()].sort((a, b) => `${a.dt}${a.hour}`.localeCompare(`${b.dt}${b.hour}`));
}

/** s3rver keeps an object `a/b/c.parquet` as the file `<bucket dir>/a/b/c.parquet._S3rver_object`. */
const S3RVER_OBJECT = '._S3rver_object';

/**
 * The local lake, read in place from the local stack's s3rver folder (`<data dir>/s3/<bucket>/lake/...`):
 * the stack does not have to run, and nothing is copied.
 */
export class LocalPartitions implements PartitionSource {
  readonly where: string;

  constructor(private readonly bucketDir: string) {
    this.where = join(bucketDir, 'lake');
  }

  async list(table: LakeTable, days?: string[]): Promise<PartitionListing> {
    const root = join(this.bucketDir, table.prefix);
    const wanted = days ? new Set(days) : undefined;
    const objects: { key: string; size: number; path: string }[] = [];
    let dayDirs: string[];
    try {
      dayDirs = (await readdir(root)).filter((d) => d.startsWith('dt='));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { partitions: [], complete: true };
      throw error;
    }
    for (const dayDir of dayDirs) {
      if (wanted && !wanted.has(dayDir.slice(3))) continue;
      for (const hourDir of await readdir(join(root, dayDir)).catch(() => [] as string[])) {
        const dir = join(root, dayDir, hourDir);
        for (const file of await readdir(dir).catch(() => [] as string[])) {
          if (!file.endsWith(S3RVER_OBJECT)) continue;
          const path = join(dir, file);
          const key = `${table.prefix}${dayDir}/${hourDir}/${file.slice(0, -S3RVER_OBJECT.length)}`;
          // A file deleted since the directory was read (compaction removing its inputs) is not listed.
          const size = await stat(path).then(
            (st) => st.size,
            (error: NodeJS.ErrnoException) => {
              if (error.code === 'ENOENT') return undefined;
              throw error;
            },
          );
          if (size !== undefined) objects.push({ key, size, path });
        }
      }
    }
    return { partitions: group(objects), complete: true };
  }
}

/** At most this many days are listed one prefix each; more, and the table's whole prefix is listed once. */
const MAX_DAY_PREFIXES = 62;
/** A listing stops after this many pages of 1,000 keys (a year of a busy table is some 500): enough for an estimate. */
const MAX_PAGES = 25;

/** The lake on S3, listed with ListObjectsV2 (paged): per matched day's prefix, or the whole table. */
export class S3Partitions implements PartitionSource {
  readonly where: string;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {
    this.where = `s3://${bucket}/lake/`;
  }

  async list(table: LakeTable, days?: string[]): Promise<PartitionListing> {
    if (days && days.length <= MAX_DAY_PREFIXES) {
      const perDay = await Promise.all(days.map((day) => this.objects(`${table.prefix}dt=${day}/`)));
      return {
        partitions: group(perDay.flatMap((d) => d.objects)),
        complete: perDay.every((d) => d.complete),
      };
    }
    const { objects, complete } = await this.objects(table.prefix);
    const all = group(objects);
    const wanted = days ? new Set(days) : undefined;
    return { partitions: wanted ? all.filter((p) => wanted.has(p.dt)) : all, complete };
  }

  private async objects(
    prefix: string,
  ): Promise<{ objects: { key: string; size: number }[]; complete: boolean }> {
    const objects: { key: string; size: number }[] = [];
    let pages = 0;
    const input = { Bucket: this.bucket, Prefix: prefix };
    for await (const page of paginateListObjectsV2({ client: this.s3 }, input)) {
      for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, size: o.Size ?? 0 });
      pages += 1;
      if (pages >= MAX_PAGES && page.IsTruncated) return { objects, complete: false };
    }
    return { objects, complete: true };
  }
}
