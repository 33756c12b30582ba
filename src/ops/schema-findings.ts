import { IntegrityError } from '../core/errors';
import type { Finding } from '../core/types';
import { lostObjects, objectName, type ExpectedObject, type SchemaObject } from '../core/schema-baseline';

/** What a target's schema must hold: the config's required objects and the baseline of its backups. */
export interface SchemaRules {
  /** `targets.<name>.requiredTables` ("name" or "schema.name"). */
  requiredTables?: string[];
  requiredSequences?: string[];
  /** The schema baseline (see core/schema-baseline.ts). */
  expected?: ExpectedObject[];
  /** When the accepted schema was recorded, for objects only it expects. */
  acceptedAt?: string;
}

/** Codes of findings about objects missing from an otherwise readable database. */
export const SCHEMA_CODES = new Set(['missing-table', 'missing-sequence', 'table-missing-since-backup', 'sequence-missing-since-backup']);

export interface SchemaCheck {
  findings: Finding[];
  /** Every object the rules want and the catalog lacks (configured and lost). */
  missing: SchemaObject[];
  /** The part of `missing` that the baseline expected (the backups or the accepted schema have it). */
  lost: ExpectedObject[];
}

const matches = (wanted: string, o: { schema: string; name: string }) => wanted === o.name || wanted === `${o.schema}.${o.name}`;
const split = (wanted: string) => (wanted.includes('.') ? wanted.split('.', 2) : ['main', wanted]) as [string, string];

/**
 * The one rule set for "does this catalog hold what it must": configured
 * required tables and sequences (`missing-table`, `missing-sequence`) and
 * every object of the schema baseline (`table-missing-since-backup`,
 * `sequence-missing-since-backup`, naming the newest backup that still has
 * it). Used by check (and so repair, pre-update, guard, the daemon) and by
 * backup on the catalog of its snapshot. Pure.
 */
export function schemaFindings(target: string, file: string, catalog: { tables: { schema: string; name: string }[]; sequences: { schema: string; name: string }[] }, rules: SchemaRules): SchemaCheck {
  const out: SchemaCheck = { findings: [], missing: [], lost: [] };
  const seen = new Set<string>();
  for (const wanted of rules.requiredTables ?? []) {
    if (catalog.tables.some((t) => matches(wanted, t))) continue;
    const [schema, name] = split(wanted);
    seen.add(`table:${schema}.${name}`);
    out.missing.push({ kind: 'table', schema, name });
    out.findings.push({ severity: 'error', code: 'missing-table', message: `required table ${wanted} is missing from ${file}`, hint: `dbguard restore ${target} (the newest valid backup has it), or remove it from targets.${target}.requiredTables if it was dropped on purpose` });
  }
  for (const wanted of rules.requiredSequences ?? []) {
    if (catalog.sequences.some((s) => matches(wanted, s))) continue;
    const [schema, name] = split(wanted);
    seen.add(`sequence:${schema}.${name}`);
    out.missing.push({ kind: 'sequence', schema, name });
    out.findings.push({ severity: 'error', code: 'missing-sequence', message: `sequence ${wanted} is missing from ${file}`, hint: `dbguard restore ${target}` });
  }
  for (const o of lostObjects(rules.expected ?? [], catalog)) {
    if (seen.has(`${o.kind}:${o.schema}.${o.name}`)) continue;
    out.missing.push(o);
    out.lost.push(o);
    out.findings.push(lostFinding(target, file, o, rules.acceptedAt));
  }
  return out;
}

/** The finding for one object the database has lost since a backup (or since its schema was accepted). */
export function lostFinding(target: string, file: string, o: ExpectedObject, acceptedAt?: string): Finding {
  const where = o.heldBy ? `backup ${o.heldBy} still has it` : `it was in the schema accepted${acceptedAt ? ` at ${acceptedAt}` : ''} and no backup has it`;
  const restore = o.heldBy ? `dbguard restore ${target} --from ${o.heldBy} to put it back (rows written since stay in the replaced file in pre-restore/), or ` : '';
  return {
    severity: 'error',
    code: `${o.kind}-missing-since-backup`,
    message: `${o.kind} ${objectName(o)} is missing from ${file}; ${where}`,
    hint: `${restore}dbguard accept-schema ${target} if it was dropped on purpose`,
  };
}

/** One line naming the lost objects and the backups holding them, for error messages. */
export function describeLost(lost: ExpectedObject[]): string {
  return lost.map((o) => `${o.kind} ${objectName(o)}${o.heldBy ? ` (backup ${o.heldBy} has it)` : ''}`).join(', ');
}

/** Backup's refusal (exit 4) of a database that lacks what its schema rules want. */
export function schemaRefusal(target: string, schema: SchemaCheck): IntegrityError {
  const n = schema.missing.length;
  return new IntegrityError(
    `${target}: refusing to back up a database that lost ${n === 1 ? 'a table or sequence' : `${n} tables or sequences`}: ${schema.findings.map((f) => f.message).join('; ')}`,
    `${schema.findings[0]!.hint}; a backup now would let rotation drop the backups that still have it (--allow-damaged stores the copy anyway and keeps the older backup)`,
    'schema-lost',
  );
}
