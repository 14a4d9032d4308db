import { readLock } from '../../../cli/schemas-lock';
import { listSchemas } from '../../../lib/schemas';
import {
  checkCompatibility,
  type LockedField,
  type LockedSchema,
  toLocked,
  unrecordedAdditions,
} from '../../../lib/schemas/compat';

const published: LockedSchema[] = [
  {
    type: 'click',
    version: 1,
    fields: [
      { name: 'event_id', type: 'string', required: true },
      { name: 'position', type: 'int', required: true },
      { name: 'tab', type: 'string', required: false },
    ],
  },
];

/** A copy of the published click v1 with its fields replaced by `edit(fields)`. */
function clickV1With(edit: (fields: LockedField[]) => LockedField[]): LockedSchema[] {
  const copy = structuredClone(published);
  const [click] = copy;
  if (click === undefined) throw new Error('fixture has no click schema');
  click.fields = edit(click.fields);
  return copy;
}

describe('the real registry', () => {
  it('is compatible with the committed registry.lock.json', () => {
    // Prepare
    const locked = readLock().schemas;

    // Act
    const problems = checkCompatibility(locked, toLocked(listSchemas()));

    // Assess
    expect(problems).toEqual([]);
  });

  it('is fully recorded in registry.lock.json (run logbase schemas --write-lock after a compatible change)', () => {
    const locked = readLock().schemas;

    expect(unrecordedAdditions(locked, toLocked(listSchemas()))).toEqual([]);
  });
});

describe('checkCompatibility', () => {
  it('accepts an unchanged registry', () => {
    expect(checkCompatibility(published, structuredClone(published))).toEqual([]);
  });

  it('accepts a new optional field in a published version', () => {
    const current = clickV1With((f) => [...f, { name: 'referrer', type: 'string', required: false }]);

    expect(checkCompatibility(published, current)).toEqual([]);
  });

  it('accepts a new version and a new type', () => {
    const current = [
      ...structuredClone(published),
      { type: 'click', version: 2, fields: [{ name: 'position', type: 'string' as const, required: true }] },
      { type: 'scroll', version: 1, fields: [{ name: 'depth', type: 'double' as const, required: true }] },
    ];

    expect(checkCompatibility(published, current)).toEqual([]);
  });

  it('rejects a retyped field and says to add a version', () => {
    const current = clickV1With((f) => f.map((x) => (x.name === 'position' ? { ...x, type: 'string' } : x)));

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: field "position" changed type int -> string; published versions are immutable: add click v2 instead',
    ]);
  });

  it('rejects a removed field', () => {
    const current = clickV1With((f) => f.filter((x) => x.name !== 'tab'));

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: field "tab" was removed; published versions are immutable: add click v2 instead',
    ]);
  });

  it('rejects a renamed field, naming both names', () => {
    const current = clickV1With((f) => f.map((x) => (x.name === 'tab' ? { ...x, name: 'screen' } : x)));

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: field "tab" was renamed to "screen"; published versions are immutable: add click v2 instead',
    ]);
  });

  it('rejects an optional field made required', () => {
    const current = clickV1With((f) => f.map((x) => (x.name === 'tab' ? { ...x, required: true } : x)));

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: field "tab" changed optional -> required; published versions are immutable: add click v2 instead',
    ]);
  });

  it('rejects a required field made optional, since readers rely on it being present', () => {
    const current = clickV1With((f) => f.map((x) => (x.name === 'position' ? { ...x, required: false } : x)));

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: field "position" changed required -> optional; published versions are immutable: add click v2 instead',
    ]);
  });

  it('rejects a new required field in a published version', () => {
    const current = clickV1With((f) => [...f, { name: 'referrer', type: 'string', required: true }]);

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: new field "referrer" is required; only optional fields may be added to a published version: make it optional or add click v2 instead',
    ]);
  });

  it('rejects a removed published version', () => {
    expect(checkCompatibility(published, [])).toEqual([
      'click v1: published version was removed; published versions are immutable: restore it',
    ]);
  });

  it('suggests the version after the newest existing one', () => {
    const locked = [...published, { ...structuredClone(published[0] as LockedSchema), version: 2 }];
    const current = locked.map((s) =>
      s.version === 1 ? { ...s, fields: s.fields.filter((f) => f.name !== 'tab') } : s,
    );

    expect(checkCompatibility(locked, current)).toEqual([
      'click v1: field "tab" was removed; published versions are immutable: add click v3 instead',
    ]);
  });

  it('reports every problem of a version, one message each', () => {
    const current = clickV1With(() => [
      { name: 'event_id', type: 'bigint', required: true },
      { name: 'tab', type: 'string', required: true },
    ]);

    expect(checkCompatibility(published, current)).toEqual([
      'click v1: field "position" was removed; published versions are immutable: add click v2 instead',
      'click v1: field "event_id" changed type string -> bigint; published versions are immutable: add click v2 instead',
      'click v1: field "tab" changed optional -> required; published versions are immutable: add click v2 instead',
    ]);
  });
});

describe('unrecordedAdditions', () => {
  it('lists new versions and new optional fields the lock does not record yet', () => {
    const current = [
      ...clickV1With((f) => [...f, { name: 'referrer', type: 'string', required: false }]),
      { type: 'click', version: 2, fields: [{ name: 'event_id', type: 'string' as const, required: true }] },
    ];

    expect(unrecordedAdditions(published, current)).toEqual([
      'click v1: new optional field "referrer" (string)',
      'click v2: new version with 1 field',
    ]);
  });
});

describe('toLocked', () => {
  it('keeps name, type and required only, sorted by type then version', () => {
    const schemas = [
      {
        type: 'view',
        version: 2,
        fields: [{ name: 'a', type: 'int' as const, required: true, description: 'x' }],
      },
      { type: 'click', version: 1, fields: [] },
      { type: 'view', version: 1, fields: [] },
    ];

    expect(toLocked(schemas)).toEqual([
      { type: 'click', version: 1, fields: [] },
      { type: 'view', version: 1, fields: [] },
      { type: 'view', version: 2, fields: [{ name: 'a', type: 'int', required: true }] },
    ]);
  });
});
