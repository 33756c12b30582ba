import { classifyDuckdbError } from './classify';
import { readDdl, type Ddl } from './ddl';
import { ident, openDuckdb, type OpenDb, queryRows } from './open';

export type { LostRange, SalvagedTable, SalvageReport } from '../engine';
import type { LostRange, SalvagedTable, SalvageReport } from '../engine';

const RANGE = 2048;
const SRC = 'damaged';

/** The salvage's own connection; reopened after a fatal error invalidates the instance. */
class Session {
  db!: OpenDb;
  /**
   * Set when writing the destination failed for want of space: from then on every
   * failure is the disk's, not the source's, so the salvage stops and throws it
   * instead of reporting rows as lost.
   */
  full: unknown;
  constructor(private dest: string, private src: string) {}
  private noted(err: unknown): unknown {
    if (this.full === undefined && classifyDuckdbError(err).kind === 'disk-full') this.full = err;
    return err;
  }
  /** Throws the full-disk error, if there was one. */
  stopIfFull(): void {
    if (this.full !== undefined) throw this.full;
  }
  async open() {
    this.db = await openDuckdb(this.dest, true);
    await this.db.conn.run(`ATTACH '${this.src.replace(/'/g, "''")}' AS ${SRC} (READ_ONLY)`);
  }
  async run(sql: string): Promise<void> {
    try {
      await this.db.conn.run(sql);
    } catch (err) {
      this.noted(err);
      if (/invalidated|FATAL|INTERNAL/i.test(String((err as Error).message))) {
        this.db.close();
        await this.open();
      }
      throw err;
    }
  }
  async rows(sql: string) {
    try {
      return await queryRows(this.db.conn, sql);
    } catch (err) {
      this.noted(err);
      if (/invalidated|FATAL|INTERNAL/i.test(String((err as Error).message))) {
        this.db.close();
        await this.open();
      }
      throw err;
    }
  }
}

const message = (err: unknown) => classifyDuckdbError(err).message;

/**
 * Copies everything readable from the damaged DuckDB file `src` (attached
 * READ_ONLY, never modified) into the new file `dest`: schemas, sequences at
 * their current values, tables in foreign-key order, views and indexes. A
 * table that cannot be read whole is copied in rowid ranges of 2048 rows;
 * within a failing range each column is read separately and the readable
 * ones kept. Reports exactly what was lost. Throws when `src` cannot be
 * attached or its catalog cannot be read at all, and throws DuckDB's error
 * as soon as writing `dest` fails for want of space (a full destination disk
 * is never reported as rows lost from the source).
 */
export async function salvage(src: string, dest: string, onTable?: (done: number, total: number) => void): Promise<SalvageReport> {
  const s = new Session(dest, src);
  await s.open();
  try {
    const ddl: Ddl = await readDdl(s.db.conn, SRC);
    const failedObjects: string[] = [];
    const tryCreate = async (sql: string) => {
      try { await s.run(sql); } catch (err) { failedObjects.push(`${sql.split('\n')[0]!.slice(0, 120)}: ${message(err)}`); }
    };
    for (const sql of [...ddl.schemas, ...ddl.sequences]) await tryCreate(sql);
    s.stopIfFull();
    const tables: SalvagedTable[] = [];
    for (const [i, t] of ddl.tables.entries()) {
      try {
        await s.run(t.sql);
      } catch (err) {
        failedObjects.push(`table ${t.schema}.${t.name}: ${message(err)}`);
        continue;
      }
      s.stopIfFull();
      tables.push(await copyTable(s, t));
      s.stopIfFull();
      onTable?.(i + 1, ddl.tables.length);
    }
    for (const sql of [...ddl.views, ...ddl.indexes]) await tryCreate(sql);
    s.stopIfFull();
    await s.run('CHECKPOINT');
    const lossless = failedObjects.length === 0 && tables.every((t) => t.lost.length === 0 && t.sourceRows !== null && t.copiedRows === t.sourceRows);
    for (const t of tables) t.lost = mergeRanges(t.lost);
    return { tables, failedObjects, lossless };
  } finally {
    s.db.close();
  }
}

async function copyTable(s: Session, t: Ddl['tables'][number]): Promise<SalvagedTable> {
  const from = `${SRC}.${ident(t.schema)}.${ident(t.name)}`;
  const to = `${ident(t.schema)}.${ident(t.name)}`;
  let sourceRows: number | null = null;
  let maxRowid = -1;
  try {
    const [r] = await s.rows(`SELECT count(*) AS n FROM ${from}`);
    sourceRows = Number(r!.n);
  } catch { /* the row groups themselves are unreadable */ }
  const result: SalvagedTable = { schema: t.schema, name: t.name, sourceRows, copiedRows: 0, lost: [] };
  try {
    await s.run(`INSERT INTO ${to} SELECT * FROM ${from}`);
    result.copiedRows = sourceRows ?? 0;
    return result;
  } catch (err) {
    // a failed INSERT … SELECT inserts nothing (autocommit rolls it back); go range by range
    void err;
  }
  try {
    const [r] = await s.rows(`SELECT max(rowid) AS m FROM ${from}`);
    maxRowid = r!.m === null ? -1 : Number(r!.m);
  } catch (err) {
    if (sourceRows === null) {
      result.lost.push({ fromRowid: 0, toRowid: -1, rows: 0, columns: [], rowsLost: true, reason: `table unreadable: ${message(err)}` });
      return result;
    }
    maxRowid = sourceRows - 1;
  }
  const cols = t.columns.map((c) => c.name);
  for (let a = 0; a <= maxRowid; a += RANGE) {
    s.stopIfFull();
    const b = Math.min(a + RANGE - 1, maxRowid);
    const where = `WHERE rowid BETWEEN ${a} AND ${b}`;
    try {
      await s.run(`INSERT INTO ${to} SELECT * FROM ${from} ${where}`);
      result.copiedRows += await countRange(s, from, where, b - a + 1);
      continue;
    } catch (err) {
      const reason = message(err);
      const readable: string[] = [];
      for (const c of cols) {
        try { await s.rows(`SELECT count(${ident(c)}) FROM ${from} ${where}`); readable.push(c); } catch { /* lost column values */ }
        // count(col) must read the values to test for NULL, so a damaged block fails here
      }
      const lostCols = cols.filter((c) => !readable.includes(c));
      const n = await countRange(s, from, where, b - a + 1);
      if (readable.length && lostCols.every((c) => !t.columns.find((x) => x.name === c)?.notNull)) {
        try {
          const list = readable.map(ident).join(', ');
          await s.run(`INSERT INTO ${to} (${list}) SELECT ${list} FROM ${from} ${where}`);
          result.copiedRows += n;
          result.lost.push({ fromRowid: a, toRowid: b, rows: n, columns: lostCols, rowsLost: false, reason });
          continue;
        } catch (err2) {
          result.lost.push({ fromRowid: a, toRowid: b, rows: n, columns: lostCols, rowsLost: true, reason: message(err2) });
          continue;
        }
      }
      result.lost.push({ fromRowid: a, toRowid: b, rows: n, columns: lostCols, rowsLost: true, reason });
    }
  }
  return result;
}

/** Rows in a rowid range; `fallback` when even the count fails. */
async function countRange(s: Session, from: string, where: string, fallback: number): Promise<number> {
  try {
    const [r] = await s.rows(`SELECT count(*) AS n FROM ${from} ${where}`);
    return Number(r!.n);
  } catch {
    return fallback;
  }
}

/** Joins adjacent lost ranges with the same columns and outcome, so a bad block reads as one range. */
export function mergeRanges(ranges: LostRange[]): LostRange[] {
  const out: LostRange[] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && last.toRowid + 1 === r.fromRowid && last.rowsLost === r.rowsLost && last.columns.join() === r.columns.join() && last.reason === r.reason) {
      last.toRowid = r.toRowid;
      last.rows += r.rows;
    } else out.push({ ...r });
  }
  return out;
}
