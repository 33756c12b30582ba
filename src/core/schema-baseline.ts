/**
 * The schema baseline of a target: which tables and sequences its database is
 * expected to hold, derived from the valid backups and the last accepted
 * schema. Pure: no I/O.
 *
 * Why not "the newest backup": a backup made of a database that lost a table
 * (with --allow-damaged) would otherwise erase the table from the baseline,
 * and the next check would pass. Every valid backup counts until the operator
 * records the change as intended (`dbguard accept-schema`); that record names
 * the backups it covers, so only backups made afterwards count again.
 */

export type SchemaObjectKind = 'table' | 'sequence';

export interface SchemaObject {
  kind: SchemaObjectKind;
  schema: string;
  name: string;
}

/** What the baseline needs of one valid backup (its manifest). */
export interface BaselineBackup {
  id: string;
  tables: { schema: string; name: string }[];
  sequences: { schema: string; name: string }[];
}

/** The record `dbguard accept-schema` writes for a target. */
export interface SchemaAcceptance {
  format: 'dbguard-accepted-schema/1';
  target: string;
  acceptedAt: string;
  /** Ids of the backups that existed when the schema was accepted; their objects no longer count. */
  covers: string[];
  /** The schema of the database when it was accepted: it must keep these. */
  tables: { schema: string; name: string }[];
  sequences: { schema: string; name: string }[];
  /** What was accepted as removed (for the record; not used by the rules). */
  dropped: SchemaObject[];
}

export interface ExpectedObject extends SchemaObject {
  /** Newest valid backup that holds the object (covered or not), if any. */
  heldBy?: string;
}

export const objectKey = (o: SchemaObject) => `${o.kind}:${o.schema}.${o.name}`;
/** `name` in schema main, else `schema.name`. */
export const objectName = (o: { schema: string; name: string }) => (o.schema === 'main' ? o.name : `${o.schema}.${o.name}`);

const objectsOf = (b: { tables: { schema: string; name: string }[]; sequences: { schema: string; name: string }[] }): SchemaObject[] => [
  ...b.tables.map((t) => ({ kind: 'table' as const, schema: t.schema, name: t.name })),
  ...b.sequences.map((s) => ({ kind: 'sequence' as const, schema: s.schema, name: s.name })),
];

/**
 * The objects a target's database must contain: those of every valid backup
 * not covered by the acceptance, plus the accepted schema itself. Each names
 * the newest backup holding it. `backups` are valid backups, newest first.
 * Deterministic; order follows the backups, newest first.
 */
export function expectedObjects(backups: BaselineBackup[], acceptance?: SchemaAcceptance): ExpectedObject[] {
  const covered = new Set(acceptance?.covers ?? []);
  const heldBy = new Map<string, string>();
  for (const b of backups) for (const o of objectsOf(b)) if (!heldBy.has(objectKey(o))) heldBy.set(objectKey(o), b.id);
  const out = new Map<string, ExpectedObject>();
  const add = (o: SchemaObject) => {
    const key = objectKey(o);
    if (!out.has(key)) out.set(key, { ...o, heldBy: heldBy.get(key) });
  };
  for (const b of backups) if (!covered.has(b.id)) objectsOf(b).forEach(add);
  if (acceptance) objectsOf(acceptance).forEach(add);
  return [...out.values()];
}

/** The expected objects the catalog lacks. Names match exactly (schema and name). */
export function lostObjects(expected: ExpectedObject[], catalog: { tables: { schema: string; name: string }[]; sequences: { schema: string; name: string }[] }): ExpectedObject[] {
  const present = new Set(objectsOf(catalog).map(objectKey));
  return expected.filter((o) => !present.has(objectKey(o)));
}
