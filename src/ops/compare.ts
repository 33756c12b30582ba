import type { Catalog } from '../core/types';
import type { TableScan } from '../engines/engine';

const key = (o: { schema: string; name: string }) => `${o.schema}.${o.name}`;

/**
 * Compares what a full read of a copy found with what the source held:
 * same tables, primary keys, sequences and views, same row count per table,
 * every table readable. Returns the problems in words; empty means equal.
 */
export function compareWithSource(source: Catalog, copy: Catalog, scans: TableScan[]): string[] {
  const problems: string[] = [];
  const copyTables = new Map(copy.tables.map((t) => [key(t), t]));
  const scanned = new Map(scans.map((s) => [key(s), s]));
  for (const t of source.tables) {
    const c = copyTables.get(key(t));
    if (!c) { problems.push(`table ${key(t)} is missing from the copy`); continue; }
    if (c.primaryKey.join(',') !== t.primaryKey.join(',')) problems.push(`table ${key(t)}: primary key (${c.primaryKey.join(', ')}) differs from the source's (${t.primaryKey.join(', ')})`);
    const s = scanned.get(key(t));
    if (s?.error) problems.push(`table ${key(t)} cannot be read in the copy: ${s.error.message}`);
    else if (s && s.rows !== t.rows) problems.push(`table ${key(t)} has ${s.rows} rows in the copy, ${t.rows} in the source at copy time`);
  }
  for (const c of copy.tables) if (!source.tables.some((t) => key(t) === key(c))) problems.push(`table ${key(c)} is in the copy but not in the source`);
  for (const kind of ['sequences', 'views'] as const) {
    const want = source[kind].map(key).sort().join(',');
    const got = copy[kind].map(key).sort().join(',');
    if (want !== got) problems.push(`${kind} differ: source has [${want}], copy has [${got}]`);
  }
  return problems;
}
