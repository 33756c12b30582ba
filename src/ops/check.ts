import * as fs from 'node:fs';
import type { Finding, TableCount } from '../core/types';
import { EngineFailed, type Engine, type FullRead, type HeaderReport, type Inspection } from '../engines/engine';
import { detectFile, engineForExtension, engines } from '../engines/registry';
import { CouldNotCheckError, errorMessage, InterruptedError, storageErrorFrom } from '../core/errors';
import { liveCheck, type LiveCheckInfo, type LiveCheckOptions } from './live-check';
import type { ProgressFn } from './progress';
import { schemaFindings, type SchemaRules } from './schema-findings';
import type { ExpectedObject, SchemaObject } from '../core/schema-baseline';
import { notRunError } from './worker-errors';

/** Schema rules (`requiredTables`, `requiredSequences`, the backups' baseline): see ops/schema-findings.ts. */
export interface CheckOptions extends SchemaRules {
  /** Skip the full read and the block scrub; run the engine's quickScrub instead, where it has one. */
  quick?: boolean;
  onProgress?: ProgressFn;
  /** Aborting kills the DuckDB worker; the result is then meaningless and the caller must discard it. */
  signal?: AbortSignal;
  /** Check a database held by another process live (see liveCheck) instead of returning `busy`. */
  live?: LiveCheckOptions;
  /** The target's engine (ops/engine-of.ts); default: the file's magic bytes, else its extension, else the first registered engine. */
  engine?: Engine;
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
  busy?: { pid?: number; exe?: string; message: string; /** What to do, when the check knows better than "stop the application". */ hint?: string };
  /** Set when the database was held by another process and checked live: what that covered. */
  live?: LiveCheckInfo;
  /** The engine the file was checked as (registry name: "duckdb"…). */
  engine?: string;
  storageVersion?: number;
  library?: string;
  bytes?: number;
  durationMs: number;
  /** The tables and sequences the database holds, when its catalog could be read. */
  catalog?: { tables: { schema: string; name: string }[]; sequences: { schema: string; name: string }[] };
  /** Objects the schema rules want and the database lacks (configured or lost). */
  missing?: SchemaObject[];
  /** Objects the baseline (backups, accepted schema) has and the database lacks. */
  lost?: ExpectedObject[];
}

const displayName = (schema: string, name: string) => (schema === 'main' ? name : `${schema}.${name}`);

/** The engine of `file` when the caller did not say: its magic bytes, else its extension, else the first registered engine. Never throws. */
export function guessEngine(file: string): Engine {
  return detectFile(file) ?? engineForExtension(file) ?? engines()[0]!;
}

export interface FileFindings {
  findings: Finding[];
  /** True when the engine's library must not be asked to open the file. */
  stop: boolean;
  bytes?: number;
  header?: HeaderReport;
}

/**
 * What can be said of a database file without its library: it exists, is a
 * regular readable file, and has a sound header as `engine` judges it
 * (magic, version, sizes, checksums). Reads a few KiB; never writes.
 */
export function fileFindings(target: string, file: string, engine: Engine = guessEngine(file)): FileFindings {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return { stop: true, findings: [{ severity: 'error', code: 'missing', message: `database file ${file} does not exist`, hint: `dbguard restore ${target} to put the newest valid backup in place, or fix targets.${target}.path` }] };
  }
  if (!stat.isFile()) {
    return { stop: true, findings: [{ severity: 'error', code: 'not-a-file', message: `${file} is not a regular file`, hint: `point targets.${target}.path at the database file, then dbguard check ${target}` }] };
  }
  let header: HeaderReport;
  try {
    header = engine.readHeader(file, target);
  } catch (e) {
    return { stop: true, bytes: stat.size, findings: [{ severity: 'error', code: 'unreadable', message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, hint: `give the user running dbguard read access to the file, then dbguard check ${target}` }] };
  }
  return { stop: header.stop, bytes: stat.size, header, findings: header.findings };
}

/**
 * Checks one database file: existence, header, open, catalog, the schema
 * rules (required tables and sequences, objects lost since a backup), NULL primary keys, row counts and — unless `quick` — a full
 * read of every column of every table and a checksum scrub of every block,
 * run side by side. Never modifies the file (every open is READ_ONLY, in a
 * child process). Damage is returned as findings; a lock held by another
 * process is returned as `busy`. Does not throw for a bad file; throws
 * StorageError or CouldNotCheckError (exit 6) when the check could not run
 * (full disk, EIO, a worker that could not start or was killed), and
 * InterruptedError when `signal` aborted it: never a damage finding.
 */
export async function checkDatabase(target: string, file: string, opts: CheckOptions = {}): Promise<TargetCheck> {
  const started = Date.now();
  const result: TargetCheck = { target, path: file, ok: false, findings: [], tables: [], durationMs: 0 };
  const done = () => {
    result.ok = !result.busy && !result.findings.some((f) => f.severity === 'error');
    result.durationMs = Date.now() - started;
    return result;
  };
  const engine = opts.engine ?? guessEngine(file);
  result.engine = engine.name;
  const pre = fileFindings(target, file, engine);
  result.findings.push(...pre.findings);
  result.bytes = pre.bytes;
  result.storageVersion = pre.header?.storageVersion;
  result.library = pre.header?.library;
  if (pre.stop) return done();
  const header = pre.header!;

  // Linux lists the lock of a process holding the file read-write: check it live at once
  const holder = opts.live ? engine.holder(file) : undefined;
  const checkCopy = (copy: string) => checkDatabase(target, copy, { ...opts, engine, live: undefined });
  if (holder !== undefined) {
    await liveCheck(result, engine, holder, opts.live!, opts, checkCopy);
    return done();
  }

  const progress = (phase: string, d: number, total: number) => opts.onProgress?.({ target, phase, done: d, total });
  const scanning = opts.quick
    ? engine.inspect(file, { signal: opts.signal })
    : engine.scan(file, { onProgress: progress, signal: opts.signal });
  // Settled at once, so a scrub that fails (EIO) while the scan is awaited is never an
  // unhandled rejection; both always run to completion and both are reported.
  const scrubber = opts.quick ? engine.quickScrub : engine.scrub;
  const scrubbing: Promise<Settled<Finding[]>> | undefined = !scrubber
    ? undefined
    : scrubber.call(engine, file, target, header, { onProgress: progress, signal: opts.signal }).then((value) => ({ value }), (error: unknown) => ({ error }));
  const finish = async () => {
    const scrub = await scrubbing;
    if (scrub && 'value' in scrub) addScrubFindings(result, scrub.value);
    else if (scrub) scrubFailed(result, file, scrub.error, opts.signal);
    return done();
  };

  let inspected: Inspection & Partial<FullRead>;
  try {
    inspected = await scanning;
  } catch (e) {
    const scrub = await scrubbing;
    if (opts.signal?.aborted) throw new InterruptedError(`check of ${target} interrupted`);
    const notRun = notRunError(e, `checking ${file}`);
    if (notRun) {
      const scrubSaw = scrub && 'value' in scrub ? scrub.value : [];
      if (!scrubSaw.some((f) => f.severity === 'error')) throw notRun;
      // The scrub proved damage on its own: report that, with why the full read did not run.
      result.findings.push({ severity: 'warning', code: 'scan-not-run', message: `the full read of ${file} could not run: ${notRun.message}`, hint: notRun.hint });
      addScrubFindings(result, scrubSaw);
      return done();
    }
    const f = e instanceof EngineFailed ? e.failure : { kind: 'other' as const, message: String(e) };
    if (f.kind === 'lock') {
      // what the scrub read of a file another process writes says nothing; a live check judges it
      if (opts.live) await liveCheck(result, engine, { pid: f.pid, exe: f.exe }, opts.live, opts, checkCopy);
      else result.busy = { pid: f.pid, exe: f.exe, message: f.message };
      return done();
    }
    result.findings.push(engine.failureFinding(file, target, f));
    if (scrub && 'value' in scrub) addScrubFindings(result, scrub.value);
    else if (scrub) scrubFailed(result, file, scrub.error, opts.signal);
    return done();
  }

  result.findings.push(...engine.sideFileFindings(file, target));
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
  result.catalog = { tables: inspected.catalog.tables.map(({ schema, name }) => ({ schema, name })), sequences: inspected.catalog.sequences };
  const schema = schemaFindings(target, file, inspected.catalog, opts);
  for (const m of schema.missing) if (m.kind === 'table') result.tables.push({ schema: m.schema, name: m.name, rows: 0, status: 'missing' });
  result.findings.push(...schema.findings);
  result.missing = schema.missing;
  result.lost = schema.lost;
  return finish();
}

type Settled<T> = { value: T } | { error: unknown };

/**
 * A scrub that could not read the file (EIO, EACCES…) says nothing about its
 * blocks. When the full read already found damage, that damage stands and the
 * scrub's failure is a warning; otherwise nothing is known and the check
 * throws StorageError (6), or CouldNotCheckError, naming the file.
 */
function scrubFailed(result: TargetCheck, file: string, err: unknown, signal?: AbortSignal): void {
  if (signal?.aborted) throw new InterruptedError(`check of ${result.target} interrupted`);
  const why = storageErrorFrom(err, file, 'scrubbing the blocks of') ?? new CouldNotCheckError(`the block scrub of ${file} could not run: ${errorMessage(err)}`).because(err);
  if (result.findings.some((f) => f.severity === 'error')) {
    result.findings.push({ severity: 'warning', code: 'scrub-not-run', message: `the block checksums of ${file} could not be verified: ${why.message}`, hint: why.hint });
    return;
  }
  const found = result.findings.length ? ` (the full read reported: ${result.findings.map((f) => f.message).join('; ')})` : ' (the full read found no damage)';
  why.message = `${why.message}${found}`;
  throw why;
}

/** Adds scrub findings, leaving out a `truncated` the header check already reported. */
function addScrubFindings(result: TargetCheck, findings: Finding[]): void {
  for (const f of findings) if (!(f.code === 'truncated' && result.findings.some((x) => x.code === 'truncated'))) result.findings.push(f);
}
