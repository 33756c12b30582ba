import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { DbguardError, inUseError, IntegrityError, storageErrorFrom, UsageError } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock, type Logger, silentLogger } from '../core/types';
import { runWorker, WorkerFailed } from '../engines/duckdb/client';
import { ddlStatements, type Ddl } from '../engines/duckdb/ddl';
import { readFileHeader } from '../engines/duckdb/header';
import type { SalvageReport } from '../engines/duckdb/salvage';
import { fsyncDir, writeFileAtomic } from '../storage/atomic';
import { acquireLock } from '../storage/lock';
import { databaseFiles, moveAside, newAsideFolder, placeAtomically } from '../storage/move-aside';
import { BackupRepository } from '../storage/repository';
import type { TargetCheck } from './check';
import { checkHealth } from './health';
import { describeLost, SCHEMA_CODES } from './schema-findings';
import { objectKey, objectName, type SchemaObject } from '../core/schema-baseline';
import type { ProgressFn } from './progress';
import { replaceDatabase } from './restore';
import { verifyBackup } from './verify';
import { notRunError } from './worker-errors';

export type Strategy = 'auto' | 'salvage' | 'restore' | 'recreate';

export interface RepairOptions {
  strategy?: Strategy;
  dryRun?: boolean;
  /** Asked once the damage is known, before anything moves; false cancels (exit 2). */
  confirm?: (damage: string[], strategy: Strategy) => Promise<boolean>;
  waitMs?: number;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  log?: Logger;
}

export interface RepairResult {
  ok: boolean;
  target: string;
  path: string;
  strategy: 'none' | 'salvage' | 'restore' | 'recreate';
  dryRun: boolean;
  /** Folder holding the damaged file and its WALs (never deleted), or null. */
  quarantine: string | null;
  details: {
    /** What the check found before the repair. */
    damage: string[];
    salvage?: SalvageReport & { file: string | null; walLeftOut: boolean; error?: string };
    restoredFrom?: string;
    /** Backups that failed verification and were passed over. */
    skippedBackups?: string[];
    /** Recreate: the data is gone, only the schema was rebuilt. */
    dataLost?: boolean;
    schemaFrom?: string;
    /** What the operator should do next, in words. */
    notes: string[];
  };
  after?: TargetCheck;
}

const lostSummary = (r: SalvageReport) =>
  r.tables.flatMap((t) => t.lost.map((l) => `${t.schema}.${t.name} rowid ${l.fromRowid}–${l.toRowid} (${l.rows} rows): ${l.rowsLost ? 'rows lost' : `column(s) ${l.columns.join(', ')} set to NULL`}`)).concat(r.failedObjects);

/**
 * Recovers a damaged database; a healthy one is left alone (strategy none).
 * The damaged file and every `<file>.wal*` first move to
 * `<backupDir>/quarantine/<target>_<stamp>/` and are never deleted. Then:
 * salvage (copy every readable row into a fresh file), restore (the newest
 * backup that verifies), recreate (empty schema; data gone), or auto (a
 * lossless salvage, else the newest verified backup with the salvage kept in
 * quarantine, else a lossy salvage). The new file appears by atomic rename
 * and is checked. Throws IntegrityError (4) when nothing could be recovered,
 * BusyError (5) when the database is in use.
 */
export async function repair(config: Config, target: string, opts: RepairOptions = {}): Promise<RepairResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const strategy = opts.strategy ?? 'auto';
  const file = config.targets[target]!.path;
  const repo = new BackupRepository(config.backupDir);
  repo.ensureDir();
  const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'repair'), opts.waitMs ?? 0, opts.signal);
  try {
    const before = await checkHealth(config, target, { onProgress: opts.onProgress });
    if (before.busy) throw inUseError(file, before.busy, `stop the application first, then run dbguard repair ${target}`);
    const damage = before.findings.filter((f) => f.severity === 'error').map((f) => f.message);
    const result: RepairResult = { ok: true, target, path: file, strategy: 'none', dryRun: Boolean(opts.dryRun), quarantine: null, details: { damage, notes: [] } };
    if (before.ok) {
      result.details.notes.push('the database is healthy; nothing was changed');
      result.after = before;
      return result;
    }
    // Only tables or sequences are missing: the file itself is sound. Putting a
    // backup over it would also lose every row written since in the other tables,
    // so only an explicit --strategy restore does that.
    const schemaOnly = before.findings.every((f) => f.severity !== 'error' || SCHEMA_CODES.has(f.code));
    const missing = before.missing ?? [];
    if (schemaOnly && (strategy !== 'restore' || !repo.list(target).some((e) => e.status === 'valid' && holdsAll(e.manifest, missing)))) throw schemaOnlyError(target, before, strategy, repo);
    if (schemaOnly) result.details.notes.push(`the replaced database was readable and only lacked ${missing.map((o) => `${o.kind} ${objectName(o)}`).join(', ')}; rows written to other tables since the backup are in it, in the quarantine folder`);
    if (opts.dryRun) {
      result.details.notes.push(`would move ${databaseFiles(file).join(', ') || 'nothing (the file is missing)'} to ${path.join(repo.dir, 'quarantine')}/, then apply strategy ${strategy}`);
      result.ok = false;
      return result;
    }

    if (opts.confirm && !(await opts.confirm(damage, strategy))) throw new UsageError('repair cancelled; nothing was changed', 'run again and confirm, or pass --yes', 'cancelled');
    const quarantine = newAsideFolder(path.join(repo.dir, 'quarantine'), target, clock.now());
    result.quarantine = quarantine;
    const moved = moveAside(databaseFiles(file), quarantine);
    const damaged = moved.find((m) => path.basename(m) === path.basename(file));
    log.warn({ target, quarantine, moved }, 'damaged database moved to quarantine');

    const tryRestore = async (): Promise<string | undefined> => {
      const skipped: string[] = [];
      for (const entry of repo.list(target).filter((e) => e.status === 'valid' && !e.future && holdsAll(e.manifest, missing))) {
        const v = await verifyBackup(entry, { signal: opts.signal, onProgress: opts.onProgress });
        if (!v.ok) { skipped.push(entry.id); continue; }
        await replaceDatabase(entry.file, file, path.join(repo.dir, 'pre-restore'), target, clock.now());
        result.details.skippedBackups = skipped;
        return entry.id;
      }
      result.details.skippedBackups = skipped;
      return undefined;
    };

    // The salvage (written and checkpointed by DuckDB in the quarantine folder) moves
    // into place by rename; when the quarantine is on another file system (EXDEV) it
    // is copied beside the target, fsynced and renamed, and the original stays there.
    const damagedMode = damaged ? fs.statSync(damaged).mode & 0o777 : 0o600;
    const placeSalvage = async (s: NonNullable<RepairResult['details']['salvage']>) => {
      try {
        fs.chmodSync(s.file!, damagedMode);
        fs.renameSync(s.file!, file);
        fsyncDir(path.dirname(file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
        await placeAtomically(s.file!, file, damagedMode);
      }
      s.file = file;
    };

    let placed: RepairResult['strategy'] | undefined;
    if (strategy === 'salvage' || strategy === 'auto') {
      const salvaged = damaged ? await salvageInto(damaged, quarantine, opts) : undefined;
      result.details.salvage = salvaged;
      const usable = salvaged?.file && salvaged.tables.length > 0;
      if (usable && (strategy === 'salvage' || salvaged.lossless)) {
        await placeSalvage(salvaged);
        placed = 'salvage';
      } else if (strategy === 'auto') {
        const from = await tryRestore();
        if (from) {
          placed = 'restore';
          result.details.restoredFrom = from;
          if (usable) result.details.notes.push(`the salvage (${salvaged.file}) is kept in quarantine: rows written after backup ${from} can be merged from it by hand (see README, "merge a salvage")`);
        } else if (usable) {
          await placeSalvage(salvaged);
          placed = 'salvage';
          result.details.notes.push('no backup passed verification, so the salvage was used although it lost data');
        }
      }
      if (salvaged?.walLeftOut) result.details.notes.push(`the WAL beside the damaged file could not be replayed and was left out of the salvage; it is kept in ${quarantine}`);
      if (salvaged && placed === 'salvage' && !salvaged.lossless) result.details.notes.push(`lost in the salvage: ${lostSummary(salvaged).join('; ') || 'see details'}`);
    } else if (strategy === 'restore') {
      const from = await tryRestore();
      if (from) { placed = 'restore'; result.details.restoredFrom = from; }
    } else if (strategy === 'recreate') {
      const schema = await schemaFor(config, target, repo);
      if (schema) {
        const tmp = path.join(path.dirname(file), `.${path.basename(file)}.dbguard-recreate`);
        fs.rmSync(tmp, { force: true });
        await runWorker({ action: 'execute', file: tmp, sql: schema.sql });
        fs.renameSync(tmp, file);
        placed = 'recreate';
        result.details.dataLost = true;
        result.details.schemaFrom = schema.from;
        result.details.notes.push(`DATA IS GONE: ${file} was recreated EMPTY with the schema from ${schema.from}; the damaged file is in ${quarantine}`);
      }
    }

    if (!placed) {
      writeRecord(quarantine, { ...result, ok: false });
      throw new IntegrityError(
        `${target}: nothing could be recovered with strategy ${strategy}; the damaged file is kept in ${quarantine}${moved.length ? ` (${moved.map((m) => path.basename(m)).join(', ')})` : ''}`,
        `next steps: restore a backup from elsewhere with dbguard restore ${target} --from ID after copying it into ${repo.dir}; or dbguard repair ${target} --strategy recreate (empty database, schema only); the quarantine folder is never deleted`,
        'unrecoverable',
      );
    }
    result.strategy = placed;
    result.after = await checkHealth(config, target, { onProgress: opts.onProgress });
    result.ok = result.after.ok;
    writeRecord(quarantine, result);
    log.warn({ target, strategy: placed, quarantine, restoredFrom: result.details.restoredFrom, lossless: result.details.salvage?.lossless, ok: result.ok, notes: result.details.notes }, 'RECOVERY: database repaired');
    return result;
  } catch (err) {
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, file, 'repairing') ?? err;
  } finally {
    lock.release();
  }
}

/** True when the manifest lists every one of `objects` (a backup to restore a lost table from must have it). */
function holdsAll(manifest: { tables: { schema: string; name: string }[]; sequences: { schema: string; name: string }[] } | undefined, objects: SchemaObject[]): boolean {
  if (!objects.length) return true;
  if (!manifest) return false;
  const held = new Set([...manifest.tables.map((t) => objectKey({ kind: 'table', ...t })), ...(manifest.sequences ?? []).map((q) => objectKey({ kind: 'sequence', ...q }))]);
  return objects.every((o) => held.has(objectKey(o)));
}

/** Why repair leaves a database alone that only lost tables or sequences, and what to run instead. */
function schemaOnlyError(target: string, before: TargetCheck, strategy: Strategy, repo: BackupRepository): IntegrityError {
  const missing = before.missing ?? [];
  const from = repo.list(target).find((e) => e.status === 'valid' && holdsAll(e.manifest, missing));
  const what = before.lost?.length === missing.length ? describeLost(before.lost) : missing.map((o) => `${o.kind} ${objectName(o)}`).join(', ');
  return new IntegrityError(
    `${target}: ${before.path} lacks ${what}; the file is otherwise readable, so repair --strategy ${strategy} changed nothing${strategy === 'restore' ? ' (no valid backup has everything it lacks)' : ' (putting a backup over it would also lose the rows written since in every other table)'}`,
    `${from ? `dbguard restore ${target} --from ${from.id} (the current file is kept in pre-restore/; merge newer rows from it by hand), or dbguard repair ${target} --strategy restore, ` : ''}or dbguard accept-schema ${target} if it was dropped on purpose`,
    'schema-lost',
  );
}

/** Salvages the quarantined file into `<quarantine>/<name>.salvaged.duckdb`; retries without a WAL that cannot be replayed. */
async function salvageInto(damaged: string, quarantine: string, opts: RepairOptions): Promise<NonNullable<RepairResult['details']['salvage']> | undefined> {
  if (readFileHeader(damaged).kind !== 'duckdb') return undefined;
  const out = path.join(quarantine, `${path.basename(damaged, '.duckdb')}.salvaged.duckdb`);
  const attempt = async (src: string) => {
    fs.rmSync(out, { force: true });
    fs.rmSync(`${out}.wal`, { force: true });
    return runWorker<SalvageReport>({ action: 'salvage', file: src, dest: out }, { signal: opts.signal });
  };
  try {
    return { ...(await attempt(damaged)), file: out, walLeftOut: false };
  } catch (err) {
    // A full quarantine disk (or a worker that could not run) says nothing about what is lost.
    const notRun = notRunError(err, `salvaging ${damaged} (kept in ${quarantine})`);
    if (notRun) throw notRun;
    const message = err instanceof WorkerFailed ? err.failure.message : String(err);
    if (fs.existsSync(`${damaged}.wal`)) {
      // A foreign or stale WAL makes the open fail; the main file may be intact without it.
      const bare = path.join(quarantine, `${path.basename(damaged, '.duckdb')}.without-wal.duckdb`);
      try {
        fs.copyFileSync(damaged, bare);
        const report = await attempt(bare);
        return { ...report, file: out, walLeftOut: true };
      } catch (err2) {
        fs.rmSync(out, { force: true });
        const notRun2 = notRunError(err2, `salvaging ${damaged} without its WAL (kept in ${quarantine})`);
        if (notRun2) throw notRun2;
        return { tables: [], failedObjects: [], lossless: false, file: null, walLeftOut: true, error: err2 instanceof WorkerFailed ? err2.failure.message : String(err2) };
      } finally {
        fs.rmSync(bare, { force: true });
      }
    }
    fs.rmSync(out, { force: true });
    return { tables: [], failedObjects: [], lossless: false, file: null, walLeftOut: false, error: message };
  }
}

/** Schema SQL for recreate: targets.<name>.schema, else the newest valid manifest's DDL, else the DDL read from the newest backup file. */
async function schemaFor(config: Config, target: string, repo: BackupRepository): Promise<{ sql: string; from: string } | undefined> {
  const configured = config.targets[target]!.schema;
  if (configured) return { sql: fs.readFileSync(configured, 'utf8'), from: configured };
  for (const e of repo.list(target).filter((x) => x.status === 'valid')) {
    if (e.manifest?.ddl?.length) return { sql: e.manifest.ddl.join('\n'), from: `the manifest of backup ${e.id}` };
    try {
      const ddl = await runWorker<Ddl>({ action: 'ddl', file: e.file });
      return { sql: ddlStatements(ddl).join('\n'), from: `backup ${e.id}` };
    } catch { /* try the next older backup */ }
  }
  return undefined;
}

/** Leaves a RECOVERY.json in the quarantine folder: what was found, what was done, what to do next. */
function writeRecord(quarantine: string, result: RepairResult): void {
  const { after, ...rest } = result;
  try {
    writeFileAtomic(path.join(quarantine, 'RECOVERY.json'), `${JSON.stringify({ at: new Date().toISOString(), ...rest, afterOk: after?.ok ?? null }, null, 2)}\n`);
  } catch { /* the record is a courtesy; the repair itself is done */ }
}
