import type { Column } from './columns';

/** A field as recorded in registry.lock.json: what readers of published data rely on. */
export interface LockedField {
  name: string;
  type: Column['type'];
  required: boolean;
}

/** One published (type, version) as recorded in registry.lock.json. */
export interface LockedSchema {
  type: string;
  version: number;
  fields: LockedField[];
}

/** Reduces schemas (e.g. `listSchemas()`) to their lock form, sorted by type then version. */
export function toLocked(schemas: readonly LockedSchema[]): LockedSchema[] {
  return schemas
    .map(({ type, version, fields }) => ({
      type,
      version,
      fields: fields.map(({ name, type: fieldType, required }) => ({ name, type: fieldType, required })),
    }))
    .sort((a, b) => (a.type === b.type ? a.version - b.version : a.type < b.type ? -1 : 1));
}

const key = (s: LockedSchema) => `${s.type} v${s.version}`;

function indexByKey(schemas: readonly LockedSchema[]): Map<string, LockedSchema> {
  return new Map(schemas.map((s) => [key(s), s]));
}

/**
 * Compares the published shapes (`locked`) with the registry (`current`) and returns one message per
 * incompatible change; empty when compatible. Adding an optional field to a version, a new version or a
 * new type is compatible. Removing, renaming or retyping a field, changing whether it is required, adding
 * a required field or removing a version is not: published versions are immutable.
 */
export function checkCompatibility(
  locked: readonly LockedSchema[],
  current: readonly LockedSchema[],
): string[] {
  const now = indexByKey(current);
  const problems: string[] = [];
  for (const before of locked) {
    const id = key(before);
    const after = now.get(id);
    const addVersion = `add ${before.type} v${nextVersion(before.type, locked, current)} instead`;
    const fix = `published versions are immutable: ${addVersion}`;
    if (after === undefined) {
      problems.push(`${id}: published version was removed; published versions are immutable: restore it`);
      continue;
    }
    const afterFields = new Map(after.fields.map((f) => [f.name, f]));
    const beforeNames = new Set(before.fields.map((f) => f.name));
    const removed = before.fields.filter((f) => !afterFields.has(f.name));
    const added = after.fields.filter((f) => !beforeNames.has(f.name));
    const renamedTo = removed.length === 1 && added.length === 1 ? added[0] : undefined;
    for (const field of removed) {
      problems.push(
        renamedTo
          ? `${id}: field "${field.name}" was renamed to "${renamedTo.name}"; ${fix}`
          : `${id}: field "${field.name}" was removed; ${fix}`,
      );
    }
    for (const field of before.fields) {
      const now = afterFields.get(field.name);
      if (now === undefined) continue;
      if (now.type !== field.type) {
        problems.push(`${id}: field "${field.name}" changed type ${field.type} -> ${now.type}; ${fix}`);
      }
      if (now.required !== field.required) {
        const change = now.required ? 'optional -> required' : 'required -> optional';
        problems.push(`${id}: field "${field.name}" changed ${change}; ${fix}`);
      }
    }
    for (const field of added) {
      if (field.required && field !== renamedTo) {
        problems.push(
          `${id}: new field "${field.name}" is required; only optional fields may be added to a published version: make it optional or ${addVersion}`,
        );
      }
    }
  }
  return problems;
}

function nextVersion(type: string, ...lists: (readonly LockedSchema[])[]): number {
  let max = 0;
  for (const list of lists) for (const s of list) if (s.type === type && s.version > max) max = s.version;
  return max + 1;
}

/** Compatible changes the lock does not record yet (new types, versions, optional fields). */
export function unrecordedAdditions(
  locked: readonly LockedSchema[],
  current: readonly LockedSchema[],
): string[] {
  const before = indexByKey(locked);
  const additions: string[] = [];
  for (const schema of current) {
    const id = key(schema);
    const old = before.get(id);
    if (old === undefined) {
      additions.push(
        `${id}: new version with ${schema.fields.length} field${schema.fields.length === 1 ? '' : 's'}`,
      );
      continue;
    }
    const oldNames = new Set(old.fields.map((f) => f.name));
    for (const field of schema.fields) {
      if (!oldNames.has(field.name) && !field.required) {
        additions.push(`${id}: new optional field "${field.name}" (${field.type})`);
      }
    }
  }
  return additions;
}
