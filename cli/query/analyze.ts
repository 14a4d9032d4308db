import type { LakeTable } from '../../catalog/lake';

/**
 * Which lake tables a query reads, and which of its filters constrain each read's partition keys,
 * found in DuckDB's parse tree (`json_serialize_sql`), never in the SQL text: comments are gone,
 * strings are constants, and names are resolved the way the engine resolves them (a CTE shadows a
 * table, an alias names its relation). A filter counts for a read when the engine can use it to
 * skip that read's partitions: a conjunct of the WHERE (or of an inner join's ON) whose columns
 * are all that read's dt/hour, also when it reaches the read through a CTE, a subquery in FROM, a
 * set operation or a join equality (`a.dt = b.dt`), the way Trino's and DuckDB's optimizers push
 * filters down. Anything it cannot follow counts as no filter: the guard errs towards refusing.
 */

/** A node of DuckDB's serialized parse tree. */
// biome-ignore lint/suspicious/noExplicitAny: the parse tree is DuckDB's JSON, walked by its "class"/"type" tags.
export type Tree = any;

/** One read of a lake table by a query. */
export interface LakeRead {
  table: LakeTable;
  /** The name as written (`click`, `logbase_dev.click_v1`) and its alias, if any. */
  written: string;
  alias?: string;
  /** Offset of the reference in the SQL text, when DuckDB recorded it. */
  location?: number;
  /** Conjuncts on this read's partition keys only, with column refs rewritten to bare `dt` / `hour`. */
  filters: Tree[];
}

/** Resolves a table reference to a lake table (a view resolves to its table), or undefined. */
export type ResolveTable = (ref: { catalog: string; schema: string; name: string }) => LakeTable | undefined;

/** What the analysis found besides lake reads: things that read data around the lake tables. */
export interface Analysis {
  reads: LakeRead[];
  /** Table functions that read files (`read_parquet(...)`): they bypass the lake's tables. */
  fileFunctions: string[];
}

const PARTITION_COLUMNS = new Set(['dt', 'hour']);

/** Names DuckDB's parser leaves as column refs though they are values (bound later): `current_date`. */
const VALUE_NAMES = new Set([
  'current_date',
  'current_time',
  'current_timestamp',
  'localtime',
  'localtimestamp',
]);

/** Table functions that read files or list them, which would go around the guard locally. */
const FILE_FUNCTION = /^(read_\w+|parquet_\w+|sniff_csv|glob|iceberg_\w+|delta_scan)$/i;

interface Column {
  name: string;
  /** For a lake relation: the table's own column; for a derived one: the select-list expression. */
  source?: Tree;
  /** For a derived relation's column renamed by `AS x(a, b)`: its name in the body. */
  original?: string;
}

interface Relation {
  binding: string;
  /** Output columns in order; undefined when they cannot be known (the relation is then opaque). */
  columns: Column[] | undefined;
  lake?: LakeRead;
  /** A CTE or a subquery in FROM: filters on its columns are pushed into its body. */
  derived?: { node: Tree; scope: Scope; pushed: Tree[] };
}

/** The CTEs visible at a point of the query: name -> definition and the scope it was defined in. */
type Scope = Map<string, { node: Tree; aliases: string[]; scope: Scope }>;

const lower = (s: unknown) => String(s ?? '').toLowerCase();

/** A copy of a tree without its source positions, for comparing two expressions. */
function shape(tree: Tree): string {
  return JSON.stringify(tree, (key, value) => (key === 'query_location' ? undefined : value));
}

/** The conjuncts of an AND (a lone expression is one conjunct). */
function conjuncts(expr: Tree): Tree[] {
  if (!expr) return [];
  if (expr.class === 'CONJUNCTION' && expr.type === 'CONJUNCTION_AND')
    return expr.children.flatMap(conjuncts);
  return [expr];
}

/** Every expression node below `expr` (itself included), not descending into subqueries or lambdas. */
function* expressions(expr: Tree): Generator<Tree> {
  if (expr === null || typeof expr !== 'object') return;
  if (Array.isArray(expr)) {
    for (const e of expr) yield* expressions(e);
    return;
  }
  if (typeof expr.class === 'string') yield expr;
  if (expr.class === 'SUBQUERY') return;
  for (const [key, value] of Object.entries(expr)) {
    if (key !== 'subquery' && value !== null && typeof value === 'object') yield* expressions(value);
  }
}

/** The subqueries inside an expression (or any part of a node that is not its FROM or its CTEs). */
function subqueriesIn(expr: Tree): Tree[] {
  return [...expressions(expr)].filter((e) => e.class === 'SUBQUERY').map((e) => e.subquery.node);
}

/** Rewrites the column refs of an expression (a deep copy). */
function mapColumns(expr: Tree, replace: (ref: Tree) => Tree): Tree {
  if (expr === null || typeof expr !== 'object') return expr;
  if (Array.isArray(expr)) return expr.map((e) => mapColumns(e, replace));
  if (expr.class === 'COLUMN_REF') return replace(expr);
  const out: Tree = {};
  for (const [key, value] of Object.entries(expr)) out[key] = mapColumns(value, replace);
  return out;
}

const columnRef = (name: string): Tree => ({
  class: 'COLUMN_REF',
  type: 'COLUMN_REF',
  alias: '',
  query_location: 0,
  column_names: [name],
});

/** True when an expression can be evaluated from its columns alone (no subquery, lambda, window or parameter). */
function isPlain(expr: Tree): boolean {
  return [...expressions(expr)].every(
    (e) => !['SUBQUERY', 'LAMBDA', 'WINDOW', 'PARAMETER', 'DEFAULT', 'STAR'].includes(e.class),
  );
}

export class QueryAnalyzer {
  private readonly reads: LakeRead[] = [];
  private readonly fileFunctions: string[] = [];

  /**
   * @param expanding the CTE bodies being expanded right now: a recursive CTE met again inside itself is
   * opaque (its reads are already being counted by the outer expansion).
   */
  constructor(
    private readonly resolve: ResolveTable,
    private readonly expanding = new Set<Tree>(),
  ) {}

  /** Analyzes one statement of `json_serialize_sql`'s output (`statements[i].node`). */
  analyze(node: Tree): Analysis {
    this.visit(node, new Map(), []);
    return { reads: this.reads, fileFunctions: this.fileFunctions };
  }

  /** Visits a query node; `pushed` are filters on its output columns (bare column refs) from outside. */
  private visit(node: Tree, outer: Scope, pushed: Tree[]): void {
    const scope = this.withCtes(node, outer);
    switch (node.type) {
      case 'SELECT_NODE':
        this.visitSelect(node, scope, pushed);
        break;
      case 'SET_OPERATION_NODE':
        this.visitSetOperation(node, scope, pushed);
        break;
      default:
        // CTE_NODE / RECURSIVE_CTE_NODE (a materialized or recursive CTE): both parts, nothing pushed.
        for (const part of [node.query, node.child, node.left, node.right]) {
          if (part?.type) this.visit(part, scope, []);
        }
    }
  }

  private withCtes(node: Tree, outer: Scope): Scope {
    const entries: { key: string; value: Tree }[] = node.cte_map?.map ?? [];
    if (entries.length === 0) return outer;
    const scope: Scope = new Map(outer);
    for (const { key, value } of entries) {
      // A CTE sees the ones before it (and itself, when recursive): all share this scope object.
      scope.set(lower(key), { node: value.query.node, aliases: value.aliases ?? [], scope });
    }
    return scope;
  }

  private visitSetOperation(node: Tree, scope: Scope, pushed: Tree[]): void {
    const left = this.outputColumns(node.left, scope);
    const right = this.outputColumns(node.right, scope);
    const byName = String(node.setop_type).endsWith('_BY_NAME');
    this.visit(node.left, scope, pushed);
    // The output is named by the left side; the right side's columns match by position (or by name).
    let rightPushed: Tree[] = [];
    if (byName) rightPushed = pushed;
    else if (left && right && left.length === right.length) {
      rightPushed = pushed.flatMap((f) => {
        let ok = true;
        const mapped = mapColumns(f, (ref) => {
          const index = left.findIndex((c) => c.name === lower(ref.column_names.at(-1)));
          const target = right[index];
          if (index < 0 || target === undefined) ok = false;
          return columnRef(target?.name ?? '');
        });
        return ok ? [mapped] : [];
      });
    }
    this.visit(node.right, scope, rightPushed);
  }

  private visitSelect(node: Tree, scope: Scope, pushed: Tree[]): void {
    const relations: Relation[] = [];
    const joinFilters: { filter: Tree; targets: Relation[] }[] = [];
    const equalities: [Relation, string, Relation, string][] = [];
    this.collectFrom(node.from_table, scope, relations, joinFilters, equalities);

    // Subqueries anywhere else (select list, WHERE, HAVING, ...) read tables of their own.
    const { from_table: _from, cte_map: _ctes, ...rest } = node;
    for (const sub of subqueriesIn(rest)) this.visit(sub, scope, []);

    const filters: { filter: Tree; targets: Relation[] }[] = [
      ...conjuncts(node.where_clause).map((filter) => ({ filter, targets: relations })),
      ...joinFilters,
      ...this.pushedIntoSelect(node, relations, pushed).map((filter) => ({ filter, targets: relations })),
    ];
    for (const { filter, targets } of filters) {
      const eq = this.equality(filter, targets);
      if (eq) equalities.push(eq);
    }
    for (const { filter, targets } of filters) this.attribute(filter, targets, equalities);

    for (const relation of relations) {
      if (!relation.derived) continue;
      const { node: body, scope: bodyScope, pushed: inner } = relation.derived;
      this.expanding.add(body);
      try {
        this.visit(body, bodyScope, inner);
      } finally {
        this.expanding.delete(body);
      }
    }
  }

  /** Outer filters on this SELECT's output, rewritten onto its FROM, when pushing them down keeps the result. */
  private pushedIntoSelect(node: Tree, relations: Relation[], pushed: Tree[]): Tree[] {
    if (pushed.length === 0) return [];
    const modifiers: Tree[] = node.modifiers ?? [];
    // A filter moved below a LIMIT, a DISTINCT ON or a window function would change which rows come out.
    if (modifiers.some((m) => m.type === 'LIMIT_MODIFIER' || m.type === 'LIMIT_PERCENT_MODIFIER')) return [];
    if (modifiers.some((m) => m.type === 'DISTINCT_MODIFIER' && m.distinct_on_targets?.length)) return [];
    if (node.qualify || [...expressions(node.select_list)].some((e) => e.class === 'WINDOW')) return [];
    const output = this.selectColumns(node, relations);
    if (!output) return [];
    const groups = new Set((node.group_expressions ?? []).map(shape));
    return pushed.flatMap((f) => {
      let ok = true;
      const mapped = mapColumns(f, (ref) => {
        const column = output.find((c) => c.name === lower(ref.column_names.at(-1)));
        if (column?.source?.class !== 'COLUMN_REF') ok = false;
        // Through a GROUP BY only a grouping key passes unchanged.
        else if (groups.size > 0 && !groups.has(shape(column.source))) ok = false;
        return column?.source ?? ref;
      });
      return ok ? [mapped] : [];
    });
  }

  /** Flattens a FROM clause into relations, with the join conditions and to which relations they apply. */
  private collectFrom(
    from: Tree,
    scope: Scope,
    relations: Relation[],
    joinFilters: { filter: Tree; targets: Relation[] }[],
    equalities: [Relation, string, Relation, string][],
  ): Relation[] {
    if (!from) return [];
    switch (from.type) {
      case 'BASE_TABLE': {
        const relation = this.baseTable(from, scope);
        relations.push(relation);
        return [relation];
      }
      case 'SUBQUERY': {
        const relation = this.derived(from.alias || 'unnamed_subquery', from.subquery.node, scope, []);
        this.renameColumns(relation, from.column_name_alias);
        relations.push(relation);
        return [relation];
      }
      case 'JOIN': {
        const left = this.collectFrom(from.left, scope, relations, joinFilters, equalities);
        const right = this.collectFrom(from.right, scope, relations, joinFilters, equalities);
        for (const sub of subqueriesIn(from.condition)) this.visit(sub, scope, []);
        // Which side an ON condition may filter: both for an inner join, the inner side of an outer one.
        const joinType = String(from.join_type);
        const targets =
          joinType === 'INNER'
            ? [...left, ...right]
            : joinType === 'LEFT' || joinType === 'SEMI' || joinType === 'ANTI'
              ? right
              : joinType === 'RIGHT'
                ? left
                : [];
        for (const filter of conjuncts(from.condition)) joinFilters.push({ filter, targets });
        if (joinType === 'INNER') {
          for (const name of from.using_columns ?? []) {
            const l = left.find((r) => this.hasColumn(r, lower(name)));
            const r = right.find((x) => this.hasColumn(x, lower(name)));
            if (l && r) equalities.push([l, lower(name), r, lower(name)]);
          }
        }
        return [...left, ...right];
      }
      case 'TABLE_FUNCTION': {
        const name = String(from.function?.function_name ?? '');
        if (FILE_FUNCTION.test(name)) this.fileFunctions.push(name);
        for (const sub of subqueriesIn(from.function)) this.visit(sub, scope, []);
        const relation: Relation = { binding: lower(from.alias || name), columns: undefined };
        relations.push(relation);
        return [relation];
      }
      default: {
        // EMPTY (no FROM), SHOW_REF (DESCRIBE / SHOW), EXPRESSION_LIST (VALUES), PIVOT, ...: no lake read,
        // but a subquery inside one may read tables.
        for (const sub of subqueriesIn(from)) this.visit(sub, scope, []);
        if (from.source) this.collectFrom(from.source, scope, [], [], []);
        if (from.type === 'EMPTY') return [];
        const relation: Relation = { binding: lower(from.alias), columns: undefined };
        relations.push(relation);
        return [relation];
      }
    }
  }

  private baseTable(from: Tree, scope: Scope): Relation {
    const name = lower(from.table_name);
    const binding = lower(from.alias || from.table_name);
    const cte = from.schema_name || from.catalog_name ? undefined : scope.get(name);
    if (cte) {
      if (this.expanding.has(cte.node)) return { binding, columns: undefined };
      const relation = this.derived(binding, cte.node, cte.scope, cte.aliases);
      this.renameColumns(relation, from.column_name_alias);
      return relation;
    }
    const table = this.resolve({ catalog: lower(from.catalog_name), schema: lower(from.schema_name), name });
    if (!table) return { binding, columns: undefined };
    const written = [from.catalog_name, from.schema_name, from.table_name].filter(Boolean).join('.');
    const read: LakeRead = { table, written, filters: [] };
    if (from.alias) read.alias = from.alias;
    if (typeof from.query_location === 'number' && from.query_location < 2 ** 53) {
      read.location = from.query_location;
    }
    this.reads.push(read);
    const names = [...table.columns.map((c) => c.name), 'dt', 'hour'];
    const relation: Relation = {
      binding,
      columns: names.map((n) => ({ name: lower(n), source: n })),
      lake: read,
    };
    this.renameColumns(relation, from.column_name_alias);
    return relation;
  }

  private derived(binding: string, node: Tree, bodyScope: Scope, aliases: string[]): Relation {
    this.expanding.add(node);
    let columns: Column[] | undefined;
    try {
      columns = this.outputColumns(node, bodyScope);
    } finally {
      this.expanding.delete(node);
    }
    const relation: Relation = {
      binding: lower(binding),
      columns,
      derived: { node, scope: bodyScope, pushed: [] },
    };
    this.renameColumns(relation, aliases);
    return relation;
  }

  /** `AS c(a, b)` renames the first columns; a pushed filter still reaches them by position. */
  private renameColumns(relation: Relation, aliases: string[] | undefined): void {
    if (!aliases?.length || !relation.columns) return;
    // A derived relation takes filters in its body's own names: each renamed column keeps its original.
    relation.columns = relation.columns.map((c, i) => ({
      ...c,
      name: lower(aliases[i] ?? c.name),
      ...(relation.derived ? { original: c.original ?? c.name } : {}),
    }));
  }

  private hasColumn(relation: Relation, name: string): boolean {
    return relation.columns?.some((c) => c.name === name) ?? false;
  }

  /** The output columns of a query node (names lowercased), or undefined when they cannot be known. */
  private outputColumns(node: Tree, outer: Scope): Column[] | undefined {
    const scope = this.withCtes(node, outer);
    if (node.type === 'SET_OPERATION_NODE') return this.outputColumns(node.left, scope);
    if (node.type !== 'SELECT_NODE') return undefined;
    const relations: Relation[] = [];
    // A throwaway analyzer: only the relations' columns are wanted, not their reads.
    const probe = new QueryAnalyzer(this.resolve, this.expanding);
    probe.collectFrom(node.from_table, scope, relations, [], []);
    return probe.selectColumns(node, relations);
  }

  /** The select list of a SELECT as columns, stars expanded; undefined when a star covers an opaque relation. */
  private selectColumns(node: Tree, relations: Relation[]): Column[] | undefined {
    const out: Column[] = [];
    for (const item of node.select_list ?? []) {
      if (item.class === 'STAR') {
        if (item.columns || item.expr) return undefined;
        const excluded = new Set<string>(
          [...(item.exclude_list ?? []), ...(item.qualified_exclude_list ?? [])].map((e: unknown) =>
            lower(typeof e === 'string' ? e : ((e as Tree)?.column_names?.at(-1) ?? (e as Tree)?.column)),
          ),
        );
        const replaced = new Set<string>((item.replace_list ?? []).map((r: Tree) => lower(r.key)));
        const over = item.relation_name
          ? relations.filter((r) => r.binding === lower(item.relation_name))
          : relations;
        for (const relation of over) {
          if (!relation.columns) return undefined;
          for (const column of relation.columns) {
            if (excluded.has(column.name)) continue;
            out.push({
              name: column.name,
              source: replaced.has(column.name) ? undefined : columnRefTo(relation.binding, column.name),
            });
          }
        }
        continue;
      }
      const name = lower(item.alias || (item.class === 'COLUMN_REF' ? item.column_names.at(-1) : ''));
      out.push({ name, source: { ...item, alias: '' } });
    }
    return out;
  }

  /** `x.a = y.b` between two relations of this FROM: their columns hold the same values. */
  private equality(filter: Tree, targets: Relation[]): [Relation, string, Relation, string] | undefined {
    if (filter.class !== 'COMPARISON' || filter.type !== 'COMPARE_EQUAL') return undefined;
    const left = this.columnOf(filter.left, targets);
    const right = this.columnOf(filter.right, targets);
    if (!left || !right || left.relation === right.relation) return undefined;
    return [left.relation, left.name, right.relation, right.name];
  }

  /** The relation and column a column ref names, among the given relations. */
  private columnOf(ref: Tree, relations: Relation[]): { relation: Relation; name: string } | undefined {
    if (ref?.class !== 'COLUMN_REF') return undefined;
    const names: string[] = ref.column_names.map(lower);
    const name = names.at(-1) as string;
    if (names.length >= 2) {
      const binding = names.at(-2);
      const relation = relations.find((r) => r.binding === binding);
      return relation && this.hasColumn(relation, name) ? { relation, name } : undefined;
    }
    const having = relations.filter((r) => this.hasColumn(r, name));
    // Ambiguous or unknown (a correlated or select-list name): not attributable.
    return having.length === 1 ? { relation: having[0] as Relation, name } : undefined;
  }

  /**
   * Gives a filter to the one relation all its columns belong to (and, through join equalities, to the
   * relations whose columns equal those): a lake read keeps it when it is on dt/hour only; a derived
   * relation takes it down into its body.
   */
  private attribute(filter: Tree, targets: Relation[], equalities: [Relation, string, Relation, string][]) {
    if (!isPlain(filter)) return;
    const refs = [...expressions(filter)].filter(
      (e) => e.class === 'COLUMN_REF' && !this.isValueName(e, targets),
    );
    if (refs.length === 0) return;
    const resolved = refs.map((ref) => this.columnOf(ref, targets));
    const first = resolved[0]?.relation;
    if (!first || resolved.some((r) => r?.relation !== first)) return;
    const names = new Set(resolved.map((r) => r?.name as string));
    this.give(first, filter, targets);
    // The same filter, renamed, for every relation joined on all of its columns.
    for (const other of targets) {
      if (other === first) continue;
      const rename = new Map<string, string>();
      for (const name of names) {
        const match = equalities.find(
          ([a, an, b, bn]) =>
            (a === first && an === name && b === other) || (b === first && bn === name && a === other),
        );
        if (match) rename.set(name, match[0] === first ? match[3] : match[1]);
      }
      if (rename.size !== names.size) continue;
      const copy = mapColumns(filter, (ref) =>
        columnRefTo(other.binding, rename.get(lower(ref.column_names.at(-1))) ?? ''),
      );
      this.give(other, copy, targets);
    }
  }

  /** `current_date` and the like, unless a relation has a column of that name. */
  private isValueName(ref: Tree, relations: Relation[]): boolean {
    const names: string[] = ref.column_names.map(lower);
    return (
      names.length === 1 &&
      VALUE_NAMES.has(names[0] as string) &&
      !relations.some((r) => this.hasColumn(r, names[0] as string))
    );
  }

  private give(relation: Relation, filter: Tree, targets: Relation[]): void {
    const bare = mapColumns(filter, (ref) => {
      if (this.isValueName(ref, targets)) return ref;
      const name = this.columnOf(ref, targets)?.name ?? '';
      const column = relation.columns?.find((c) => c.name === name);
      return columnRef(String(relation.lake ? (column?.source ?? name) : (column?.original ?? name)));
    });
    if (relation.lake) {
      const columns = [...expressions(bare)].filter(
        (e) => e.class === 'COLUMN_REF' && !this.isValueName(e, []),
      );
      if (columns.every((c) => PARTITION_COLUMNS.has(lower(c.column_names[0]))))
        relation.lake.filters.push(bare);
    } else if (relation.derived) {
      relation.derived.pushed.push(bare);
    }
  }
}

function columnRefTo(binding: string, name: string): Tree {
  return { ...columnRef(name), column_names: binding ? [binding, name] : [name] };
}
