import * as fs from 'node:fs';
import type { Finding, TableCount } from '../core/types';
import type { UnreadableTable } from '../engines/duckdb/catalog';
import { runWorker, WorkerFailed } from '../engines/duckdb/client';
import { headerFindings, scrubFindings } from '../engines/duckdb/findings';
import { BLOCKS_START, readFileHeader, type FileHeader } from '../engines/duckdb/header';
import type { InspectResult, ScanResult, WorkerFailure } from '../engines/duckdb/protocol';
import { programOf, writeLockHolder } from '../engines/duckdb/holder';
import { scrubBlocks } from '../engines/duckdb/scrub';
import { liveCheck, type LiveCheckInfo, type LiveCheckOptions } from './live-check';
import type { ProgressFn } from './progress';

export interface CheckOptions {
  /** Skip the full read and the block scrub. */
  quick?: boolean;
  /** Tables that must exist ("name" or "schema.name"). */
  requiredTables?: string[];
  /** Sequences that must exist ("name" or "schema.name"). */
  requiredSequences?: string[];
  onProgress?: ProgressFn;
  /** Aborting kills the DuckDB worker; the result is then meaningless and the caller must discard it. */
  signal?: AbortSignal;
  /** Check a database held by another process live (see liveCheck) instead of returning `busy`. */
  live?: LiveCheckOptions;
}

export interface TableStatus extends TableCount {
  status: 'ok' | 'unreadable' | 'null-primary-key' | 'missing';
}

export interface TargetCheck {
  target: string;
  path: string;
  ok: boolean;
  findings: Finding[];
  tables: TableStatus[];
  /** Set when another process holds the file read-write; nothing could be checked. */
  busy?: { pid?: number; exe?: string; message: string };
  /** Set when the database was held by another process and checked live: what that covered. */
  live?: LiveCheckInfo;
  storageVersion?: number;
  library?: string;
  bytes?: number;
  durationMs: number;
}

const displayName = (schema: string, name: string) => (schema === 'main' ? name : `${schema}.${name}`);
const matches = (wanted: string, schema: string, name: string) => wanted === name || wanted === `${schema}.${name}`;

function failureFinding(file: string, target: string, f: WorkerFailure, walPresent: boolean): Finding {
  if (f.kind === 'wal' || (walPresent && /WAL/i.test(f.message))) {
    return { severity: 'error', code: 'wal-replay-failed', message: `${file}.wal cannot be replayed into ${file}: ${f.message}`, hint: `dbguard repair ${target} (moves the WAL to quarantine; a foreign or stale WAL must not be replayed)` };
  }
  if (f.kind === 'crash') return { severity: 'error', code: 'engine-crash', message: `${file}: ${f.message}`, hint: `dbguard repair ${target}` };
  return { severity: 'error', code: 'open-failed', message: `DuckDB cannot open ${file}: ${f.message}`, hint: `dbguard repair ${target}` };
}

export interface FileFindings {
  findings: Finding[];
  /** True when DuckDB must not be asked to open the file. */
  stop: boolean;
  bytes?: number;
  header?: FileHeader;
}

/**
 * What can be said of a database file without DuckDB: it exists, is a regular
 * readable file, and has a sound DuckDB header (magic, version, both database
 * headers, block geometry). Reads at most 12 KiB; never writes.
 */
export function fileFindings(target: string, file: string): FileFindings {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return { stop: true, findings: [{ severity: 'error', code: 'missing', message: `database file ${file} does not exist`, hint: `dbguard restore ${target} to put the newest valid backup in place, or fix targets.${target}.path` }] };
  }
  if (!stat.isFile()) {
    return { stop: true, findings: [{ severity: 'error', code: 'not-a-file', message: `${file} is not a regular file`, hint: `point targets.${target}.path at the database file, then dbguard check ${target}` }] };
  }
  let header: FileHeader;
  try {
    header = readFileHeader(file);
  } catch (e) {
    return { stop: true, bytes: stat.size, findings: [{ severity: 'error', code: 'unreadable', message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, hint: `give the user running dbguard read access to the file, then dbguard check ${target}` }] };
  }
  const hf = headerFindings(file, header, target);
  return { stop: hf.stop, bytes: stat.size, header, findings: hf.findings };
}

/**
 * Checks one database file: existence, header, open, catalog, required tables
 * and sequences, NULL primary keys, row counts and — unless `quick` — a full
 * read of every column of every table and a checksum scrub of every block,
 * run side by side. Never modifies the file (every open is READ_ONLY, in a
 * child process). Damage is returned as findings; a lock held by another
 * process is returned as `busy`. Does not throw for a bad file.
 */
export async function checkDatabase(target: string, file: string, opts: CheckOptions = {}): Promise<TargetCheck> {
  const started = Date.now();
  const result: TargetCheck = { target, path: file, ok: false, findings: [], tables: [], durationMs: 0 };
  const done = () => {
    result.ok = !result.busy && !result.findings.some((f) => f.severity === 'error');
    result.durationMs = Date.now() - started;
    return result;
  };
  const pre = fileFindings(target, file);
  result.findings.push(...pre.findings);
  result.bytes = pre.bytes;
  result.storageVersion = pre.header?.storageVersion;
  result.library = pre.header?.library;
  if (pre.stop) return done();
  const header = pre.header!;

  // Linux lists the lock of a process holding the file read-write: check it live at once
  const holder = opts.live ? writeLockHolder(file) : undefined;
  if (holder !== undefined) {
    await liveCheck(result, { pid: holder, exe: programOf(holder) }, opts.live!, opts, (copy) => checkDatabase(target, copy, { ...opts, live: undefined }));
    return done();
  }

  const walPresent = fs.existsSync(`${file}.wal`);
  const progress = (phase: string, d: number, total: number) => opts.onProgress?.({ target, phase, done: d, total });
  const scanning = opts.quick
    ? runWorker<InspectResult>({ action: 'inspect', file }, { signal: opts.signal })
    : runWorker<InspectResult & ScanResult>({ action: 'scan', file }, { onProgress: progress, signal: opts.signal });
  const scrubbing = opts.quick ? undefined : scrubBlocks(file, header.active!, (bytes) => progress('scrub', bytes, header.fileSize - BLOCKS_START));

  let inspected: InspectResult & Partial<ScanResult> & { unreadable?: UnreadableTable[] };
  try {
    inspected = await scanning;
  } catch (e) {
    await scrubbing?.catch(() => undefined);
    const f = e instanceof WorkerFailed ? e.failure : { kind: 'other' as const, message: String(e) };
    if (f.kind === 'lock') {
      // what the scrub read of a file another process writes says nothing; a live check judges it
      if (opts.live) await liveCheck(result, { pid: f.pid, exe: f.exe }, opts.live, opts, (copy) => checkDatabase(target, copy, { ...opts, live: undefined }));
      else result.busy = { pid: f.pid, exe: f.exe, message: f.message };
      return done();
    }
    result.findings.push(failureFinding(file, target, f, walPresent));
    if (scrubbing) addScrubFindings(result, scrubFindings(file, await scrubbing, target));
    return done();
  }

  if (walPresent) {
    result.findings.push({ severity: 'warning', code: 'wal-pending', message: `${file}.wal is present: the last writer did not shut down cleanly. DuckDB replays it at the next open; this is normal`, hint: `nothing to do; dbguard backup ${target} includes it` });
  }
  const scans = new Map((inspected.tables ?? []).map((t) => [`${t.schema}.${t.name}`, t]));
  for (const t of inspected.catalog.tables) {
    const scan = scans.get(`${t.schema}.${t.name}`);
    const nullPk = inspected.nullPrimaryKeys.find((n) => n.schema === t.schema && n.table === t.name);
    const readError = scan?.error ?? inspected.unreadable?.find((u) => u.schema === t.schema && u.table === t.name)?.error;
    let status: TableStatus['status'] = 'ok';
    if (readError) {
      status = 'unreadable';
      result.findings.push({ severity: 'error', code: 'table-unreadable', message: `table ${displayName(t.schema, t.name)} cannot be read in full: ${readError.message}`, hint: `dbguard repair ${target} (salvages the readable rows, or restores the newest valid backup)` });
    } else if (nullPk) {
      status = 'null-primary-key';
      result.findings.push({ severity: 'error', code: 'null-primary-key', message: `table ${displayName(t.schema, t.name)} has ${nullPk.rows} row(s) with a NULL primary key (${t.primaryKey.join(', ')})`, hint: `dbguard restore ${target}, or fix those rows in the application` });
    }
    result.tables.push({ schema: t.schema, name: t.name, rows: scan?.rows ?? t.rows, status });
  }
  for (const wanted of opts.requiredTables ?? []) {
    if (!inspected.catalog.tables.some((t) => matches(wanted, t.schema, t.name))) {
      const [schema, name] = wanted.includes('.') ? wanted.split('.', 2) : ['main', wanted];
      result.tables.push({ schema: schema!, name: name!, rows: 0, status: 'missing' });
      result.findings.push({ severity: 'error', code: 'missing-table', message: `required table ${wanted} is missing from ${file}`, hint: `dbguard restore ${target} (the newest valid backup has it)` });
    }
  }
  for (const wanted of opts.requiredSequences ?? []) {
    if (!inspected.catalog.sequences.some((s) => matches(wanted, s.schema, s.name))) {
      result.findings.push({ severity: 'error', code: 'missing-sequence', message: `sequence ${wanted} is missing from ${file}`, hint: `dbguard restore ${target}` });
    }
  }
  if (scrubbing) addScrubFindings(result, scrubFindings(file, await scrubbing, target));
  return done();
}

/** Adds scrub findings, leaving out a `truncated` the header check already reported. */
function addScrubFindings(result: TargetCheck, findings: Finding[]): void {
  for (const f of findings) if (!(f.code === 'truncated' && result.findings.some((x) => x.code === 'truncated'))) result.findings.push(f);
}
