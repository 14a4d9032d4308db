import {
  BUCKET_WIDE_RULE_ID,
  type Days,
  S3_DATASETS,
  type S3Declaration,
  TABLE_DATASETS,
  type TableDeclaration,
} from './datasets';

/**
 * The data bucket's lifecycle rules and the tables' TTLs, generated from the datasets' declared
 * retention (catalog/datasets.ts) when serverless.yml is resolved (catalog/serverless-retention.cjs).
 * One rule per declaration that has a retention, with the declaration's id and prefix.
 */

/** Turns `param:rawExpireDays` into the stage's figure. */
export type ResolveDays = (param: string) => Promise<number>;

async function days(value: Days, resolve: ResolveDays): Promise<number> {
  if (typeof value === 'number') return value;
  const resolved = await resolve(value);
  if (!Number.isInteger(resolved) || resolved < 0) {
    throw new Error(`${value} must be a whole number of days, got ${resolved}`);
  }
  return resolved;
}

/** The lifecycle rule of one declaration, or undefined when it declares no retention. */
export async function lifecycleRule(
  d: S3Declaration,
  resolve: ResolveDays,
): Promise<Record<string, unknown> | undefined> {
  const r = d.retention;
  if (r === undefined) return undefined;
  if ((r.expireDays === undefined) === (r.keep === undefined)) {
    throw new Error(`dataset ${d.id}: declare exactly one of expireDays and keep`);
  }
  const rule: Record<string, unknown> = { Id: d.id, Status: 'Enabled', Prefix: d.prefix };
  if (r.transitions?.length) {
    rule.Transitions = await Promise.all(
      r.transitions.map(async (t) => ({
        StorageClass: t.storageClass,
        TransitionInDays: await days(t.days, resolve),
      })),
    );
  }
  if (r.expireDays !== undefined) rule.ExpirationInDays = await days(r.expireDays, resolve);
  rule.NoncurrentVersionExpiration = { NoncurrentDays: await days(r.noncurrentDays, resolve) };
  return rule;
}

/** The bucket's LifecycleConfiguration: the datasets' rules, then the bucket-wide one. */
export async function lifecycleConfiguration(
  resolve: ResolveDays,
  declarations: S3Declaration[] = S3_DATASETS,
): Promise<{ Rules: Record<string, unknown>[] }> {
  const rules: Record<string, unknown>[] = [];
  for (const d of declarations) {
    const rule = await lifecycleRule(d, resolve);
    if (rule) rules.push(rule);
  }
  rules.push({
    Id: BUCKET_WIDE_RULE_ID,
    Status: 'Enabled',
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
  });
  return { Rules: rules };
}

/** Per table logical id, its TimeToLiveSpecification (only tables whose retention is a TTL). */
export function timeToLive(declarations: TableDeclaration[] = TABLE_DATASETS): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const d of declarations) {
    if (d.retention && 'ttlAttribute' in d.retention) {
      out[d.logicalId] = { AttributeName: d.retention.ttlAttribute, Enabled: true };
    }
  }
  return out;
}

/** The bucket's `logbase:datasets` tag: the top-level prefixes it holds. */
export function datasetsTag(declarations: S3Declaration[] = S3_DATASETS): string {
  return [...new Set(declarations.map((d) => d.prefix.split('/')[0]))].join(' ');
}
