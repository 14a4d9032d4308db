import * as Tb from '@sinclair/typebox';

/**
 * The event schema registry: the single source of truth for every (event type, version).
 * TypeScript types, runtime validators, JSON Schema and Parquet/Glue columns are all derived from it.
 *
 * Published versions are immutable: only OPTIONAL fields may be added to one in place (checked against
 * registry.lock.json by `logbase schemas --check` and the unit tests). Anything else means a new version.
 */

export const EVENT_TYPES = ['click', 'impression', 'ad_impression', 'action'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Upper bound of a 32-bit signed integer: integer fields within it become `int` columns. */
export const INT32_MAX = 2_147_483_647;

const Id = (description: string) => Tb.String({ minLength: 1, maxLength: 128, description });
const Platform = Tb.Union([Tb.Literal('ios'), Tb.Literal('android'), Tb.Literal('web')], {
  description: 'client platform: ios, android or web',
});
const AppVersion = Tb.String({ minLength: 1, maxLength: 32, description: 'client app version, e.g. 5.12.0' });
const Tab = Tb.String({
  minLength: 1,
  maxLength: 64,
  description: 'app tab or screen the event happened on',
});
const Position = Tb.Integer({
  minimum: 0,
  maximum: INT32_MAX,
  description: '0-based position of the item in its list',
});

/** Fields every event carries, in column order (event_type and schema_version are added per schema). */
const envelopeHead = {
  event_id: Tb.String({ format: 'uuid', maxLength: 36, description: 'client-made UUID, the dedup key' }),
} as const;
const envelopeTail = {
  user_id: Id('user the event belongs to'),
  occurred_at: Tb.String({
    format: 'date-time',
    maxLength: 40,
    description: 'client time, RFC 3339 with offset',
  }),
} as const;

/** Fields collect adds to every event it accepts. */
export const serverFields = {
  received_at: Tb.String({
    format: 'date-time',
    maxLength: 40,
    description: 'time collect received the event, RFC 3339',
  }),
  request_id: Tb.String({ minLength: 1, maxLength: 128, description: 'id of the collect request' }),
} as const;

type Envelope<T extends string, V extends number> = typeof envelopeHead & {
  event_type: Tb.TLiteral<T>;
  schema_version: Tb.TLiteral<V>;
} & typeof envelopeTail;

/** Builds the client-sent schema of one (type, version): envelope first, then the type's own fields. */
function defineEvent<T extends EventType, V extends number, P extends Tb.TProperties>(
  type: T,
  version: V,
  fields: P,
): Tb.TObject<Envelope<T, V> & P> {
  const properties = {
    ...envelopeHead,
    event_type: Tb.Literal(type, { description: 'event type' }),
    schema_version: Tb.Literal(version, { description: 'schema version of this event type' }),
    ...envelopeTail,
    ...fields,
  } as Envelope<T, V> & P;
  return Tb.Object(properties, { $id: `${type}.v${version}`, additionalProperties: false });
}

const ClickV1 = defineEvent('click', 1, {
  article_id: Id('article clicked'),
  tab: Tab,
  position: Position,
  platform: Platform,
  app_version: AppVersion,
});

const ImpressionV1 = defineEvent('impression', 1, {
  article_id: Id('article shown'),
  tab: Tab,
  position: Position,
  platform: Platform,
  app_version: AppVersion,
});

const AdImpressionV1 = defineEvent('ad_impression', 1, {
  ad_id: Id('ad shown'),
  campaign_id: Tb.Optional(Id('campaign the ad belongs to')),
  tab: Tab,
  position: Position,
  platform: Platform,
  app_version: AppVersion,
});

const ActionV1 = defineEvent('action', 1, {
  action: Tb.String({ minLength: 1, maxLength: 64, description: 'action name, e.g. share or bookmark' }),
  properties: Tb.Optional(
    Tb.Record(
      Tb.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' }),
      Tb.Union([Tb.String({ maxLength: 1024 }), Tb.Number(), Tb.Boolean()]),
      {
        additionalProperties: false,
        maxProperties: 50,
        description: 'free-form action attributes: name -> string, number or boolean',
      },
    ),
  ),
  article_id: Tb.Optional(Id('article the action is about')),
  platform: Platform,
  app_version: AppVersion,
});

/** Every published client schema: type -> version -> schema. Add a version here; never edit one in place. */
export const registry = {
  click: { 1: ClickV1 },
  impression: { 1: ImpressionV1 },
  ad_impression: { 1: AdImpressionV1 },
  action: { 1: ActionV1 },
} as const satisfies { [K in EventType]: Record<number, Tb.TObject> };

export type Registry = typeof registry;
