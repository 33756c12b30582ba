/** Findings of a SQLite check, with stable codes; each hint names a dbguard command. Pure. */
import type { Finding } from '../../core/types';
import { validPageSize, type SqliteHeader } from './format';

const err = (code: string, message: string, hint: string): Finding => ({ severity: 'error', code, message, hint });
const warn = (code: string, message: string, hint: string): Finding => ({ severity: 'warning', code, message, hint });

/**
 * Findings from the header alone (read without SQLite). `stop` is true when
 * SQLite must not be asked to open the file (foreign format, no valid header).
 */
export function sqliteHeaderFindings(file: string, h: SqliteHeader, target: string): { findings: Finding[]; stop: boolean } {
  const repair = `dbguard repair ${target}`;
  switch (h.kind) {
    case 'empty':
      return { findings: [err('empty-file', `${file} is empty (0 bytes)`, `${repair} (restores the newest valid backup)`)], stop: true };
    case 'duckdb':
      return { findings: [err('not-sqlite', `${file} is a DuckDB database, not SQLite`, `set targets.${target}.engine to "duckdb" (or fix targets.${target}.path) in the config; if this file should be SQLite, run ${repair}`)], stop: true };
    case 'text':
      return { findings: [err('not-sqlite', `${file} is a text file ("${(h.preview ?? '').trim().slice(0, 30)}"), not a SQLite database`, `${repair} (the file is moved to quarantine, not deleted)`)], stop: true };
    case 'unknown':
      return { findings: [err('bad-magic', `${file} does not start with "SQLite format 3": the header was overwritten or this is not a SQLite file`, repair)], stop: true };
    case 'sqlite':
      break;
  }
  if (h.pageSize === undefined || h.fileSize < 100) {
    return { findings: [err('truncated', `${file} is truncated: ${h.fileSize} bytes, shorter than SQLite's 100-byte header`, repair)], stop: true };
  }
  if (!validPageSize(h.pageSize)) {
    return { findings: [err('bad-header', `${file}: the header's page size (${h.pageSize}) is not a power of two from 512 to 65536: the header is damaged`, repair)], stop: true };
  }
  const findings: Finding[] = [];
  const pages = h.fileSize / h.pageSize;
  if (!Number.isInteger(pages)) {
    findings.push(err('truncated', `${file} is ${h.fileSize} bytes, not a whole number of ${h.pageSize}-byte pages: the file was cut short or appended to`, repair));
  }
  if (h.headerPagesValid && h.headerPages !== undefined && h.headerPages > 0) {
    const filePages = Math.floor(pages);
    if (filePages < h.headerPages) {
      findings.push(err('truncated', `${file} is truncated: the header says ${h.headerPages} pages (${h.headerPages * h.pageSize} bytes), the file holds ${filePages}`, repair));
    }
  }
  return { findings, stop: false };
}

/** A hot `-journal`: a writer crashed (or is) mid-transaction. A warning: SQLite rolls it back on the next read-write open. */
export function hotJournalFinding(file: string, target: string): Finding {
  return warn('hot-journal', `${file}-journal is a hot journal: a writer stopped in the middle of a transaction, which SQLite rolls back at the next read-write open. The journal must stay next to its database (a database without its hot journal is corrupt); dbguard checked a copy of the pair`, `nothing to do: the application's next start rolls it back (dbguard backup ${target} saves the rolled-back state); never delete ${file}-journal`);
}

/** A `-wal` whose header is not a WAL header or whose page size differs from the database's. */
export function walMismatchFinding(file: string, target: string, why: string): Finding {
  return warn('wal-mismatch', `${file}-wal does not belong to ${file} (${why}): a stale or foreign WAL is replayed into the database by the next open`, `dbguard repair ${target} (moves the database and its side files aside together)`);
}

/** The messages of `PRAGMA integrity_check` / `quick_check`, as one finding. */
export function integrityFinding(file: string, target: string, messages: string[], quick: boolean): Finding {
  const shown = messages.slice(0, 5).join('; ');
  const more = messages.length > 5 ? ` … (${messages.length} problems in all)` : '';
  return err('integrity-check', `${file}: PRAGMA ${quick ? 'quick_check' : 'integrity_check'} reports ${shown}${more}`, `dbguard repair ${target}`);
}

/** Rows whose foreign key points at no parent row. */
export function foreignKeyFinding(file: string, target: string, rows: { table: string; parent: string; count: number }[]): Finding {
  const list = rows.map((r) => `${r.count} row(s) of ${r.table} → ${r.parent}`).join(', ');
  return warn('foreign-key', `${file}: foreign keys point at missing rows: ${list}`, `fix the rows in the application, or dbguard restore ${target} to the newest valid backup`);
}

/** A table whose full read failed. */
export function unreadableTableFinding(file: string, target: string, table: string, message: string): Finding {
  return err('table-unreadable', `${file}: table ${table} cannot be read in full: ${message}`, `dbguard repair ${target}`);
}

/** SQLite refused the file as a whole ("file is not a database", "database disk image is malformed"). */
export function unopenableFinding(file: string, target: string, message: string): Finding {
  return err('open-failed', `${file} cannot be read by SQLite: ${message}`, `dbguard repair ${target}`);
}
