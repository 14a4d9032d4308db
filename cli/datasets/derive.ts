import {
  S3_DATASETS,
  type S3Declaration,
  type S3Retention,
  TABLE_DATASETS,
  type TableDeclaration,
} from '../../catalog/datasets';
import { lakeTables } from '../../catalog/lake';
import { type Column, EVENT_TYPES } from '../../lib/schemas';
import type { PrintedService } from '../../local/service-config';
import { deriveWiring } from '../../local/wiring';

/**
 * The datasets of a stage, derived from its resolved serverless.yml and the schema registry, with the
 * facts of their declarations (catalog/datasets.ts). Pure: no AWS calls.
 */

export interface Dataset {
  /** `raw/events`, `lake/click/v1`, `quarantine/format`, `batch`, or a table's physical name. */
  name: string;
  kind: 's3' | 'table';
  /** The declaration it belongs to: its lifecycle rule id, or the table's logical id. */
  family: string;
  /** Where it lives in the data bucket (`raw/events/`); for tables, undefined. */
  prefix?: string;
  /** The DynamoDB table's name. */
  table?: string;
  description: string;
  owner: string;
  /** The registry's columns (lake tables; raw streams name the event types they carry). */
  schema?: { format: string; types: string[]; columns?: Column[] };
  /** `click_v1`: the lake table a query reads it as. */
  lakeTable?: string;
  /** The retention in words, from the stage's lifecycle rule or TTL; undefined when none. */
  retention?: string;
  /** Functions whose IAM statements let them write / read it (what they do is not measured). */
  writers: string[];
  readers: string[];
}

/** What the template says a function may do to S3 prefixes and tables, from its iamRoleStatements. */
interface Access {
  fn: string;
  action: string;
  resource: string;
}

/** CloudFormation properties as sls print gives them, walked by name. */
// biome-ignore lint/suspicious/noExplicitAny: untyped template JSON.
type Props = any;

const READ_ACTIONS = /^(s3:GetObject|s3:ListBucket|dynamodb:(GetItem|BatchGetItem|Query|Scan))$/;
const WRITE_ACTIONS =
  /^(s3:PutObject|s3:DeleteObject|dynamodb:(PutItem|BatchWriteItem|UpdateItem|DeleteItem))$/;

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** A resource as text: `arn:...:::bucket/raw/events/*`, `{"Fn::GetAtt":["UserVectorsTable","Arn"]}` -> `table:UserVectorsTable`. */
function resourceText(r: unknown): string[] {
  if (typeof r === 'string') return [r];
  if (r && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    if (typeof o['Fn::Sub'] === 'string') return [o['Fn::Sub']];
    const att = o['Fn::GetAtt'];
    if (Array.isArray(att)) return [`logical:${att[0]}`];
    if (typeof o.Ref === 'string') return [`logical:${o.Ref}`];
  }
  return [];
}

function accessOf(config: PrintedService): Access[] {
  const out: Access[] = [];
  for (const [fn, f] of Object.entries(config.functions ?? {})) {
    for (const s of list(f.iamRoleStatements) as Record<string, unknown>[]) {
      if (s.Effect !== 'Allow') continue;
      const prefixes = list((s.Condition as Props)?.StringLike?.['s3:prefix']).map(String);
      for (const action of list(s.Action).map(String)) {
        for (const resource of list(s.Resource).flatMap(resourceText)) {
          if (action === 's3:ListBucket') {
            for (const p of prefixes) out.push({ fn, action, resource: `/${p}` });
          } else out.push({ fn, action, resource });
        }
      }
    }
  }
  return out;
}

/** The key prefix an S3 object ARN names (`arn:...:::bucket/lake/click/*` -> `lake/click/`), or undefined. */
function keyPrefix(resource: string): string | undefined {
  const at = resource.startsWith('/') ? 0 : resource.indexOf(':::');
  if (at < 0) return undefined;
  const slash = resource.indexOf('/', at);
  if (slash < 0) return undefined;
  return resource.slice(slash + 1).replace(/\*.*$/, '');
}

/** Every `<prefix><name>/` a function may PutObject under, for a `writers` family. */
function writtenMembers(access: Access[], prefix: string): string[] {
  const names = new Set<string>();
  for (const a of access) {
    if (a.action !== 's3:PutObject') continue;
    const p = keyPrefix(a.resource);
    if (p?.startsWith(prefix)) {
      const name = p.slice(prefix.length).split('/')[0];
      if (name) names.add(name);
    }
  }
  return [...names];
}

/** The static head of a Firehose prefix: `raw/events/dt=!{timestamp:...}/` -> `raw/events/`. */
function staticHead(prefix: string): string {
  const cut = prefix.search(/!\{|dt=/);
  const head = cut < 0 ? prefix : prefix.slice(0, cut);
  return head.endsWith('/') ? head : head.slice(0, head.lastIndexOf('/') + 1);
}

function days(n: unknown): string {
  return `${n} day${n === 1 ? '' : 's'}`;
}

/** The retention in words, from the stage's own rule (what the deployed bucket does). */
function ruleText(rule: Props | undefined, declared: S3Retention | undefined): string | undefined {
  if (rule === undefined) return undefined;
  const parts: string[] = [];
  if (rule.ExpirationInDays !== undefined) parts.push(`expires after ${days(rule.ExpirationInDays)}`);
  else parts.push(`kept${declared?.keep ? ` (${declared.keep})` : ''}`);
  for (const t of list(rule.Transitions) as Record<string, unknown>[]) {
    parts.push(`${t.StorageClass} after ${days(t.TransitionInDays)}`);
  }
  if (rule.NoncurrentVersionExpiration?.NoncurrentDays !== undefined) {
    parts.push(`old versions ${days(rule.NoncurrentVersionExpiration.NoncurrentDays)}`);
  }
  return parts.join('; ');
}

/** The event types a raw stream carries: collect sends clicks to the Kinesis stream, the rest to Firehose. */
function rawTypes(streamName: string): string[] {
  return streamName === 'clicks' ? ['click'] : EVENT_TYPES.filter((t) => t !== 'click');
}

export interface Catalog {
  service: string;
  stage: string;
  bucket: string;
  datasets: Dataset[];
  /** The stage's prefix of every resource name: `logbase-dev-` (tables outside the declarations carry it too). */
  namePrefix: string;
}

/** The datasets of the stage `config` resolves (sls print), with their declarations. */
export function deriveCatalog(
  config: PrintedService,
  declarations: { s3: S3Declaration[]; tables: TableDeclaration[] } = {
    s3: S3_DATASETS,
    tables: TABLE_DATASETS,
  },
): Catalog {
  const wiring = deriveWiring(config);
  const bucket = String(config.provider.environment?.DATA_BUCKET ?? '');
  const resources = config.resources?.Resources ?? {};
  const rules = new Map<string, Record<string, unknown>>();
  const bucketResource = Object.values(resources).find(
    (r) => r.Type === 'AWS::S3::Bucket' && (r.Properties as Props)?.BucketName === bucket,
  );
  for (const rule of list((bucketResource?.Properties as Props)?.LifecycleConfiguration?.Rules)) {
    const r = rule as Record<string, unknown>;
    rules.set(String(r.Id), r);
  }
  const access = accessOf(config);
  const s3Users = (prefix: string, actions: RegExp) =>
    [
      ...new Set(
        access
          .filter((a) => actions.test(a.action))
          .filter((a) => {
            const p = keyPrefix(a.resource);
            return p !== undefined && (p.startsWith(prefix) || prefix.startsWith(p));
          })
          .map((a) => a.fn),
      ),
    ].sort();

  const datasets: Dataset[] = [];
  const add = (d: S3Declaration, name: string, prefix: string, extra: Partial<Dataset> = {}) => {
    const member = name.slice(d.prefix.length);
    datasets.push({
      name,
      kind: 's3',
      family: d.id,
      prefix,
      description: d.members?.[member] ?? d.description,
      owner: d.owner,
      ...(rules.has(d.id)
        ? { retention: ruleText(rules.get(d.id) as Record<string, unknown>, d.retention) }
        : {}),
      writers: s3Users(prefix, WRITE_ACTIONS),
      readers: s3Users(prefix, READ_ACTIONS),
      ...extra,
    });
  };
  for (const d of declarations.s3) {
    switch (d.derive) {
      case 'firehose': {
        const heads = new Set<string>();
        for (const ds of wiring.deliveryStreams) {
          if (ds.bucket !== bucket) continue;
          for (const p of [ds.prefix, ds.errorOutputPrefix]) if (p) heads.add(staticHead(p));
        }
        for (const head of [...heads].filter((h) => h.startsWith(d.prefix)).sort()) {
          const name = head.slice(0, -1);
          const errors = head.includes('/errors/');
          const stream = name.split('/').at(-1) as string;
          add(d, name, head, {
            ...(errors
              ? { description: `Firehose deliveries of raw/${stream} that failed, by error type` }
              : {
                  description: `${stream}: ${d.description.split(';')[0]}`,
                  schema: { format: 'gzip JSON lines (stored events)', types: rawTypes(stream) },
                }),
          });
        }
        break;
      }
      case 'registry':
        for (const t of lakeTables()) {
          add(d, t.prefix.slice(0, -1), t.prefix, {
            description: `${t.type} events, schema v${t.version}${t.latest ? ` (the ${t.type} view reads it)` : ''}: ${d.description.split(',')[0]}`,
            schema: {
              format: 'zstd Parquet, partitions dt/hour',
              types: [`${t.type} v${t.version}`],
              columns: t.columns,
            },
            lakeTable: t.name,
          });
        }
        break;
      case 'writers': {
        const names = new Set([...writtenMembers(access, d.prefix), ...Object.keys(d.members ?? {})]);
        for (const name of [...names].sort()) add(d, `${d.prefix}${name}`, `${d.prefix}${name}/`);
        break;
      }
      case 'fixed':
        add(d, d.prefix.slice(0, -1), d.prefix);
        break;
    }
  }

  const tableAccess = (logicalId: string, actions: RegExp) =>
    [
      ...new Set(
        access
          .filter((a) => actions.test(a.action) && a.resource === `logical:${logicalId}`)
          .map((a) => a.fn),
      ),
    ].sort();
  for (const t of wiring.tables) {
    const d = declarations.tables.find((x) => x.logicalId === t.logicalId);
    const ttl = (resources[t.logicalId]?.Properties as Props)?.TimeToLiveSpecification;
    const retention =
      ttl?.Enabled === true
        ? `items expire at their ${ttl.AttributeName} (TTL)`
        : d?.retention && 'keep' in d.retention
          ? `kept (${d.retention.keep})`
          : undefined;
    datasets.push({
      name: t.name,
      kind: 'table',
      family: t.logicalId,
      table: t.name,
      description: d?.description ?? 'not declared in catalog/datasets.ts',
      owner: d?.owner ?? 'nobody declared',
      ...(retention ? { retention } : {}),
      writers: tableAccess(t.logicalId, WRITE_ACTIONS),
      readers: tableAccess(t.logicalId, READ_ACTIONS),
    });
  }
  return {
    service: config.service,
    stage: wiring.stage,
    bucket,
    datasets,
    namePrefix: `${config.service}-${wiring.stage}-`,
  };
}

/** The dataset whose prefix is the longest one `key` starts with, or undefined. */
export function datasetOf(datasets: Dataset[], key: string): Dataset | undefined {
  let best: Dataset | undefined;
  for (const d of datasets) {
    if (
      d.prefix &&
      key.startsWith(d.prefix) &&
      (best?.prefix === undefined || d.prefix.length > best.prefix.length)
    ) {
      best = d;
    }
  }
  return best;
}

/**
 * The prefix an undeclared key is reported under: its first folder, or its first two when the first
 * is a declared family's (`raw/tmp/` inside raw/, `scratch/` outside every family).
 */
export function unknownPrefixOf(key: string, families: string[]): string {
  const parts = key.split('/');
  if (parts.length === 1) return key;
  const first = `${parts[0]}/`;
  return families.includes(first) && parts.length > 2 ? `${first}${parts[1]}/` : first;
}
