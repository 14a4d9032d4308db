import * as Tb from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { registerFormats } from '../../schemas/formats';

/**
 * The KPI report of one day, as the batch chain publishes it (`reports/kpi/dt=YYYY-MM-DD/report.json`)
 * and as `renderReportHtml` draws it. Pure: no AWS imports.
 *
 * Versioned like the event schemas: `report_version` is a literal, and a change that a reader of an older
 * report could not read means a new version, not an edit of this one. Counts are integers >= 0; rates
 * are fractions in [0, 1] (0.042 is 4.2%), null where their denominator is 0; a CTR is >= 0 and may
 * exceed 1 when clicks outnumber the impressions logged (a loosening: version 1 readers still read it).
 */
export const KPI_REPORT_VERSION = 1;

const Count = (description: string) => Tb.Integer({ minimum: 0, description });
const Fraction = (description: string) =>
  Tb.Union([Tb.Number({ minimum: 0, maximum: 1 }), Tb.Null()], { description });
const Name = (description: string) => Tb.String({ minLength: 1, maxLength: 256, description });
const Seconds = (description: string) => Tb.Number({ minimum: 0, description });

const Rate = Tb.Number({ minimum: 0, maximum: 1 });

/** A headline figure with the day before's value; `change` is (value - previous) / previous. */
const Figure = <V extends Tb.TSchema>(description: string, value: V) =>
  Tb.Object(
    {
      value,
      previous: Tb.Union([value, Tb.Null()], { description: 'the day before (null: no report for it)' }),
      change: Tb.Union([Tb.Number(), Tb.Null()], {
        description: 'relative day-over-day change; null when previous is null or 0',
      }),
    },
    { additionalProperties: false, description },
  );
const CountFigure = (description: string) => Figure(description, Count("the day's value"));

/** Impressions, clicks and their CTR for one value of a dimension. */
// A CTR is not capped at 1: clicks whose impressions were never logged (a click from a push, a lost
// impression) can outnumber them, and the report shows that rather than refusing the day.
const Ctr = Tb.Union([Tb.Number({ minimum: 0 }), Tb.Null()], {
  description: 'clicks / impressions (above 1 when clicks outnumber the logged impressions)',
});
const ctrFields = {
  impressions: Count('impression events'),
  clicks: Count('click events'),
  ctr: Ctr,
};
const PlatformCtr = Tb.Object(
  { platform: Name('client platform'), ...ctrFields },
  { additionalProperties: false },
);
const TabCtr = Tb.Object({ tab: Name('app tab'), ...ctrFields }, { additionalProperties: false });

/** The pipeline stages that quarantine records. */
export const REPORT_STAGES = ['collect', 'format', 'articles'] as const;
export type ReportStage = (typeof REPORT_STAGES)[number];

const StageQuarantine = Tb.Object(
  {
    stage: Tb.Union(
      REPORT_STAGES.map((s) => Tb.Literal(s)),
      {
        description:
          'collect: events at the edge; format: raw lines to Parquet; articles: vectorized articles',
      },
    ),
    records_in: Count('records the stage read that day'),
    quarantined: Count('records it quarantined'),
    rate: Fraction('quarantined / records_in'),
  },
  { additionalProperties: false },
);

const Named = <P extends Tb.TProperties>(properties: P, description: string) =>
  Tb.Object(
    {
      count: Count('how many there were (may exceed the names listed)'),
      items: Tb.Array(Tb.Object(properties, { additionalProperties: false }), {
        maxItems: 100,
        description: 'the first of them, by name',
      }),
    },
    { additionalProperties: false, description },
  );

export const KpiReportV1 = Tb.Object(
  {
    report_version: Tb.Literal(KPI_REPORT_VERSION),
    date: Tb.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: "the lake's dt partition (UTC day)" }),
    generated_at: Tb.String({ format: 'date-time', description: 'when the run made this report' }),
    run_id: Name('the batch-scoring run that made it'),
    /** "no_events": the lake has no event for this date; every count is 0 and the breakdowns are empty. */
    status: Tb.Union([Tb.Literal('ok'), Tb.Literal('no_events')]),
    headline: Tb.Object(
      {
        daily_active_users: CountFigure('distinct users with at least one event'),
        events: CountFigure('events of every type'),
        impressions: CountFigure('impression events'),
        clicks: CountFigure('click events'),
        ctr: Figure('clicks / impressions', Ctr),
      },
      { additionalProperties: false },
    ),
    ctr_by_platform: Tb.Array(PlatformCtr, { description: 'in the order the page shows them' }),
    ctr_by_tab: Tb.Array(TabCtr, { description: 'in the order the page shows them' }),
    events_by_type: Tb.Array(
      Tb.Object({ event_type: Name('event type'), count: Count('events') }, { additionalProperties: false }),
    ),
    users: Tb.Object(
      {
        new_users: Count('users whose first event ever was this day'),
        returning_users: Count('users seen on an earlier day'),
      },
      { additionalProperties: false },
    ),
    quarantine: Tb.Object(
      {
        threshold: Rate,
        stages: Tb.Array(StageQuarantine),
      },
      { additionalProperties: false, description: 'a stage over threshold is flagged' },
    ),
    freshness: Tb.Object(
      {
        checked_at: Tb.String({ format: 'date-time' }),
        oldest_unformatted_raw: Tb.Union(
          [
            Tb.Object(
              { key: Name('S3 key under raw/'), age_seconds: Seconds('checked_at - its LastModified') },
              { additionalProperties: false },
            ),
            Tb.Null(),
          ],
          { description: 'the oldest raw object with no Parquet yet; null: everything is formatted' },
        ),
        user_vector_lag_seconds: Tb.Union([Seconds('latest click - latest vector update'), Tb.Null()], {
          description: 'null: no click to measure against',
        }),
        limits: Tb.Object(
          {
            raw_age_seconds: Seconds('an unformatted raw object older than this is late'),
            user_vector_lag_seconds: Seconds('a larger lag is late'),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    data_quality: Tb.Object(
      {
        skipped_articles: Named(
          { article_id: Name('article'), reason: Name('why it was skipped') },
          'articles the scoring skipped (no vector)',
        ),
        unreadable_user_items: Named(
          { user_id: Name('user'), reason: Name('why the item could not be read') },
          'UserVectors items that could not be read',
        ),
      },
      { additionalProperties: false },
    ),
  },
  { $id: `kpi-report.v${KPI_REPORT_VERSION}`, additionalProperties: false },
);

export type KpiReport = Tb.Static<typeof KpiReportV1>;
export type HeadlineFigure = KpiReport['headline']['daily_active_users'];
export type CtrFigure = KpiReport['headline']['ctr'];
export type PlatformCtr = Tb.Static<typeof PlatformCtr>;
export type TabCtr = Tb.Static<typeof TabCtr>;
export type StageQuarantine = Tb.Static<typeof StageQuarantine>;

/** Raised for a report that does not match the schema or does not add up. */
export class InvalidReportError extends Error {
  override name = 'InvalidReportError';
}

/** `numerator / denominator`, or null when the denominator is 0. */
export function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : numerator / denominator;
}

/** A headline figure with its day-over-day change. */
export function figure<V extends number | null>(
  value: V,
  previous: V | null,
): { value: V; previous: V | null; change: number | null } {
  const change = value === null || previous === null || previous === 0 ? null : (value - previous) / previous;
  return { value, previous, change };
}

let compiled: ReturnType<typeof TypeCompiler.Compile<typeof KpiReportV1>> | undefined;

/** Every way a report fails to add up (empty when it does): the checks a schema cannot state. */
export function reportInconsistencies(report: KpiReport): string[] {
  const problems: string[] = [];
  const { headline: h } = report;
  const derived = (name: string, stated: number | null, expected: number | null) => {
    const same =
      stated === null || expected === null ? stated === expected : Math.abs(stated - expected) <= 1e-9;
    if (!same) problems.push(`${name} is ${stated}, its parts give ${expected}`);
  };
  for (const [name, f] of Object.entries(h)) {
    const change = f.value === null || f.previous === null ? null : ratio(f.value - f.previous, f.previous);
    derived(`headline.${name}.change`, f.change, change);
  }
  derived('headline.ctr', h.ctr.value, ratio(h.clicks.value, h.impressions.value));
  for (const [name, rows] of [
    ['ctr_by_platform', report.ctr_by_platform],
    ['ctr_by_tab', report.ctr_by_tab],
  ] as const) {
    for (const [i, r] of rows.entries()) derived(`${name}[${i}].ctr`, r.ctr, ratio(r.clicks, r.impressions));
  }
  for (const s of report.quarantine.stages)
    derived(`${s.stage} rate`, s.rate, ratio(s.quarantined, s.records_in));
  const sum = (rows: { count: number }[]) => rows.reduce((total, r) => total + r.count, 0);
  if (report.status === 'no_events' && h.events.value !== 0) {
    problems.push(`status is no_events but headline.events is ${h.events.value}`);
  }
  if (report.status === 'ok' && h.events.value === 0) problems.push('status is ok but there are no events');
  if (sum(report.events_by_type) !== h.events.value) {
    problems.push(
      `events_by_type adds up to ${sum(report.events_by_type)}, headline.events is ${h.events.value}`,
    );
  }
  const users = report.users.new_users + report.users.returning_users;
  if (users !== h.daily_active_users.value) {
    problems.push(`new + returning users is ${users}, daily_active_users is ${h.daily_active_users.value}`);
  }
  for (const [name, rows] of [
    ['ctr_by_platform', report.ctr_by_platform],
    ['ctr_by_tab', report.ctr_by_tab],
  ] as const) {
    const impressions = rows.reduce((t, r) => t + r.impressions, 0);
    const clicks = rows.reduce((t, r) => t + r.clicks, 0);
    if (impressions !== h.impressions.value || clicks !== h.clicks.value) {
      problems.push(
        `${name} adds up to ${impressions} impressions and ${clicks} clicks, the headline to ${h.impressions.value} and ${h.clicks.value}`,
      );
    }
  }
  for (const stage of report.quarantine.stages) {
    if (stage.quarantined > stage.records_in) {
      problems.push(`${stage.stage} quarantined ${stage.quarantined} of ${stage.records_in} records`);
    }
  }
  for (const list of [report.data_quality.skipped_articles, report.data_quality.unreadable_user_items]) {
    if (list.items.length > list.count)
      problems.push(`a data-quality list names ${list.items.length} of ${list.count}`);
  }
  return problems;
}

/**
 * Reads a report (parsed JSON) and returns it typed, or throws an InvalidReportError that names every
 * field that does not match the schema (the first 10) or every figure that does not add up.
 */
export function parseReport(value: unknown): KpiReport {
  const version = (value as { report_version?: unknown } | null)?.report_version;
  if (typeof value === 'object' && value !== null && version !== KPI_REPORT_VERSION) {
    throw new InvalidReportError(
      `a KPI report of version ${JSON.stringify(version) ?? 'none'}: this logbase reads version ${KPI_REPORT_VERSION}`,
    );
  }
  registerFormats();
  compiled ??= TypeCompiler.Compile(KpiReportV1);
  if (!compiled.Check(value)) {
    const errors = [...compiled.Errors(value)].slice(0, 10).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new InvalidReportError(`not a version ${KPI_REPORT_VERSION} KPI report: ${errors.join('; ')}`);
  }
  const problems = reportInconsistencies(value);
  if (problems.length > 0)
    throw new InvalidReportError(`the KPI report does not add up: ${problems.join('; ')}`);
  return value;
}
