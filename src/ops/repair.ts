import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { DbguardError, inUseError, IntegrityError, InterruptedError, StorageError, storageErrorFrom, UsageError } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock, type Logger, silentLogger } from '../core/types';
import { EngineFailed, type Engine, type SalvageReport } from '../engines/engine';
import { detectFile } from '../engines/registry';
import { engineOf, engineOfBackup } from './engine-of';
import { failpoint, pausepoint } from '../storage/failpoint';
import { acquireLock } from '../storage/lock';
import { databaseFiles, keepAside, newAsideFolder, refuseSymlink, removeOriginals } from '../storage/move-aside';
import { adoptReplacement, commitReplacement, discardReplacement, type FileOwner, ownerOf, type Prepared, prepareReplacement, tempNameFor } from '../storage/place';
import { unfinishedRepairs } from '../storage/quarantine';
import { afterQuarantine, writeRecord } from './repair-record';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import type { TargetCheck } from './check';
import { checkHealth } from './health';
import { describeLost, SCHEMA_CODES } from './schema-findings';
import { objectKey, objectName, type SchemaObject } from '../core/schema-baseline';
import { notRunError } from './worker-errors';
import { sideFilesOf } from './side-files';
import type { ProgressFn } from './progress';
import { verificationInterrupted } from './restore';
import { verifyBackup } from './verify';
import { prepareFromBackup } from './backup-source';
import { plainUsable } from './store-access';

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
 * The damaged file and every side file of it (WAL, journal) are first copied to
 * `<backupDir>/quarantine/<target>_<stamp>/` (never deleted) and stay at the
 * target until a replacement is renamed over them. Then:
 * salvage (copy every readable row into a fresh file), restore (the newest
 * backup that verifies), recreate (empty schema; data gone), or auto (a
 * lossless salvage, else the newest verified backup with the salvage kept in
 * quarantine, else a lossy salvage). The new file appears by atomic rename
 * and is checked, with the damaged file's owner and mode. Throws
 * IntegrityError (4) when nothing could be recovered, BusyError (5) when the
 * database is in use, UsageError (2) for a symbolic link, InterruptedError
 * (130) on abort; every failure after the quarantine copy is recorded in
 * RECOVERY.json and its message says where the files are.
 */
export async function repair(config: Config, target: string, opts: RepairOptions = {}): Promise<RepairResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const strategy = opts.strategy ?? 'auto';
  const file = config.targets[target]!.path;
  const { engine } = engineOf(config, target);
  const repo = new BackupRepository(config.backupDir);
  repo.ensureDir();
  const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'repair'), opts.waitMs ?? 0, opts.signal);
  try {
    const owner = ownerOf(file);
    const before = await checkHealth(config, target, { onProgress: opts.onProgress, signal: opts.signal });
    if (opts.signal?.aborted) throw new InterruptedError(`repair of ${target} interrupted; nothing was changed`);
    if (before.busy) throw inUseError(file, before.busy, `stop the application first, then run dbguard repair ${target}`);
    const damage = before.findings.filter((f) => f.severity === 'error').map((f) => f.message);
    const result: RepairResult = { ok: true, target, path: file, strategy: 'none', dryRun: Boolean(opts.dryRun), quarantine: null, details: { damage, notes: [] } };
    const unfinished = unfinishedRepairs(repo.dir, target);
    for (const q of unfinished) {
      result.details.notes.push(`an earlier repair did not finish (${q.state === 'unknown' ? 'no RECOVERY.json' : q.state}): its files are in ${q.dir}${q.files.length ? ` (${q.files.join(', ')})` : ''}`);
      log.warn({ target, quarantine: q.dir, state: q.state }, 'an earlier repair did not finish');
    }
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
    if (schemaOnly && (strategy !== 'restore' || !repo.list(target).some((e) => e.status === 'valid' && !e.future && holdsAll(e.manifest, missing)))) throw schemaOnlyError(target, before, strategy, repo);
    if (schemaOnly) result.details.notes.push(`the replaced database was readable and only lacked ${missing.map((o) => `${o.kind} ${objectName(o)}`).join(', ')}; rows written to other tables since the backup are in it, in the quarantine folder`);
    // only now: a healthy database behind a link needs nothing replaced
    refuseSymlink(file, `targets.${target}.path`);
    if (opts.dryRun) {
      result.details.notes.push(`would move ${databaseFiles(file, engine.isSideFile).join(', ') || 'nothing (the file is missing)'} to ${path.join(repo.dir, 'quarantine')}/, then apply strategy ${strategy}`);
      result.ok = false;
      return result;
    }

    if (opts.confirm && !(await opts.confirm(damage, strategy))) throw new UsageError('repair cancelled; nothing was changed', 'run again and confirm, or pass --yes', 'cancelled');
    if (opts.signal?.aborted) throw new InterruptedError(`repair of ${target} interrupted; nothing was changed`);

    // All or nothing: copies of the damaged file and its WALs go to quarantine first; the files
    // at the target stay until a replacement is renamed over them (or nothing could be recovered).
    const existing = databaseFiles(file, engine.isSideFile);
    const qParent = path.join(repo.dir, 'quarantine');
    const quarantine = keepAside(existing, qParent, target, clock.now()) ?? newAsideFolder(qParent, target, clock.now());
    result.quarantine = quarantine;
    const copies = existing.map((f) => path.join(quarantine, path.basename(f)));
    // The file is gone but an unfinished repair holds it: resume from that copy rather than
    // fall back to an older backup and leave its newer rows behind in quarantine.
    const resumeFrom = existing.some((f) => f === file) ? undefined : [...unfinished].reverse().find((q) => q.files.includes(path.basename(file)));
    const damaged = copies.find((m) => path.basename(m) === path.basename(file)) ?? (resumeFrom && path.join(resumeFrom.dir, path.basename(file)));
    if (resumeFrom) result.details.notes.push(`${file} was missing; resumed from the copy the earlier repair left in ${resumeFrom.dir}`);
    try {
      writeRecord(quarantine, { ...result, ok: false }, 'in-progress');
    } catch (err) {
      const e = err instanceof StorageError ? err : new StorageError(`could not write ${path.join(quarantine, 'RECOVERY.json')}: ${(err as Error).message}`, `fix ${quarantine}, then run again`);
      e.message = `${e.message}; nothing was changed: ${file} is as it was (copies are in ${quarantine})`;
      throw e;
    }
    failpoint('quarantined', file);
    log.warn({ target, quarantine, copies }, 'damaged database copied to quarantine');

    try {
      return await recover(config, target, engine, file, owner, existing, quarantine, damaged, missing, result, opts);
    } catch (err) {
      if (err instanceof IntegrityError && err.code === 'unrecoverable') throw err;
      throw afterQuarantine(err, target, file, quarantine, copies, result, opts.signal);
    }
  } catch (err) {
    if (opts.signal?.aborted && !(err instanceof DbguardError)) throw new InterruptedError(`repair of ${target} interrupted; nothing was changed`).because(err);
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, file, 'repairing') ?? err;
  } finally {
    lock.release();
  }
}

/** The strategies, once the damaged files have copies in `quarantine`. Returns the finished result. */
async function recover(config: Config, target: string, engine: Engine, file: string, owner: FileOwner | undefined, existing: string[], quarantine: string, damaged: string | undefined, missing: SchemaObject[], result: RepairResult, opts: RepairOptions): Promise<RepairResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const strategy = opts.strategy ?? 'auto';
  const repo = new BackupRepository(config.backupDir);
  const aborted = () => { if (opts.signal?.aborted) throw new InterruptedError(`repair of ${target} interrupted`); };
  // Every placement: a prepared, fsynced file with the damaged file's owner and mode, renamed over the target.
  const place = (prepared: Prepared) => { aborted(); commitReplacement(prepared, existing, quarantine); };

  /** A store backup, materialised beside the target (every block and the whole sha256 checked: the bytes validated at backup time) and placed; false when it is damaged. */
  const placeFromStore = async (entry: BackupEntry): Promise<boolean> => {
    let prepared;
    try {
      prepared = await prepareFromBackup(config.backupDir, entry, file, owner, { signal: opts.signal, fromStore: true });
    } catch (err) {
      // a damaged block is this backup's problem: try the next older one; anything else stops the repair
      if (err instanceof IntegrityError && !opts.signal?.aborted) return false;
      throw err;
    }
    try { place(prepared); } catch (err) { discardReplacement(prepared); throw err; }
    return true;
  };

  const tryRestore = async (): Promise<string | undefined> => {
    const skipped: string[] = [];
    for (const entry of repo.list(target).filter((e) => e.status === 'valid' && !e.future && holdsAll(e.manifest, missing))) {
      let ok = false;
      if (plainUsable(entry)) {
        const v = await verifyBackup(entry, { signal: opts.signal, onProgress: opts.onProgress, parts: 'plain' });
        aborted();
        if (verificationInterrupted(v)) throw new InterruptedError(`repair of ${target} interrupted while verifying backup ${entry.id}`);
        if (v.ok) { place(await prepareReplacement(entry.file, file, owner)); ok = true; }
      }
      // a store copy of the same backup stands in for a damaged plain file
      if (!ok && entry.snapshot) ok = await placeFromStore(entry);
      if (!ok) { skipped.push(entry.id); continue; }
      result.details.skippedBackups = skipped;
      return entry.id;
    }
    result.details.skippedBackups = skipped;
    return undefined;
  };

  // The salvage (written by DuckDB in the quarantine folder) moves into place by rename; when the
  // quarantine is on another file system it is copied beside the target and the original stays there.
  const placeSalvage = async (s: NonNullable<RepairResult['details']['salvage']>) => {
    const prepared = await prepareReplacement(s.file!, file, owner, { move: true });
    try { place(prepared); } catch (err) { discardReplacement(prepared); throw err; }
    if (prepared.movedFrom) s.file = file;
  };

  const recreate = async (schema: { sql: string; from: string }): Promise<'recreate'> => {
    const tmp = tempNameFor(file);
    fs.rmSync(tmp, { force: true });
    await engine.recreate(tmp, schema.sql, { signal: opts.signal });
    const prepared = adoptReplacement(tmp, file, owner);
    try { place(prepared); } catch (err) { discardReplacement(prepared); throw err; }
    result.details.dataLost = true;
    result.details.schemaFrom = schema.from;
    result.details.notes.push(schema === EMPTY
      ? `DATA IS GONE: nothing could be recovered and no backup verified, so ${file} was recreated as an EMPTY ${engine.label} database: every key it held is lost; the damaged file is in ${quarantine}`
      : `DATA IS GONE: ${file} was recreated EMPTY with the schema from ${schema.from}; the damaged file is in ${quarantine}`);
    return 'recreate';
  };

  await pausepoint('repair-salvage', opts.signal);
  aborted();
  let placed: RepairResult['strategy'] | undefined;
  if (strategy === 'salvage' || strategy === 'auto') {
    const salvaged = damaged ? await salvageInto(engine, damaged, quarantine, opts) : undefined;
    aborted();
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
      } else if (engine.recreatesEmpty) {
        placed = await recreate(EMPTY);
      }
    }
    if (salvaged?.walLeftOut) result.details.notes.push(`the WAL beside the damaged file could not be replayed and was left out of the salvage; it is kept in ${quarantine}`);
    if (salvaged && placed === 'salvage' && !salvaged.lossless) result.details.notes.push(`lost in the salvage: ${lostSummary(salvaged).join('; ') || 'see details'}`);
  } else if (strategy === 'restore') {
    const from = await tryRestore();
    if (from) { placed = 'restore'; result.details.restoredFrom = from; }
  } else if (strategy === 'recreate') {
    const schema = (await schemaFor(config, target, repo, engine)) ?? (engine.recreatesEmpty ? EMPTY : undefined);
    if (schema) placed = await recreate(schema);
  }

  if (!placed) {
    // nothing replaces the damaged files: they leave the target (their copies are in quarantine)
    removeOriginals(existing, quarantine);
    writeRecord(quarantine, { ...result, ok: false }, 'failed');
    const earlier = result.details.notes.filter((n) => n.startsWith('an earlier repair'));
    throw new IntegrityError(
      `${target}: nothing could be recovered with strategy ${strategy}; the damaged file is kept in ${quarantine}${existing.length ? ` (${existing.map((m) => path.basename(m)).join(', ')})` : ''}${earlier.length ? `; ${earlier.join('; ')}` : ''}`,
      `next steps: restore a backup from elsewhere with dbguard restore ${target} --from ID after copying it into ${repo.dir}; or dbguard repair ${target} --strategy recreate (empty database, schema only)${existing.length ? `; to put the damaged file back as it was: cp -p ${existing.map((f) => `'${path.join(quarantine, path.basename(f))}'`).join(' ')} '${path.dirname(file)}/'` : ''}; the quarantine folder is never deleted`,
      'unrecoverable',
    );
  }
  result.strategy = placed;
  result.after = await checkHealth(config, target, { onProgress: opts.onProgress });
  result.ok = result.after.ok;
  if (!writeRecord(quarantine, result, 'done')) result.details.notes.push(`RECOVERY.json could not be written in ${quarantine}; this output is the only record`);
  log.warn({ target, strategy: placed, quarantine, restoredFrom: result.details.restoredFrom, lossless: result.details.salvage?.lossless, ok: result.ok, notes: result.details.notes, at: clock.now().toISOString() }, 'RECOVERY: database repaired');
  return result;
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
  const from = repo.list(target).find((e) => e.status === 'valid' && !e.future && holdsAll(e.manifest, missing));
  const what = before.lost?.length === missing.length ? describeLost(before.lost) : missing.map((o) => `${o.kind} ${objectName(o)}`).join(', ');
  return new IntegrityError(
    `${target}: ${before.path} lacks ${what}; the file is otherwise readable, so repair --strategy ${strategy} changed nothing${strategy === 'restore' ? ' (no valid backup has everything it lacks)' : ' (putting a backup over it would also lose the rows written since in every other table)'}`,
    `${from ? `dbguard restore ${target} --from ${from.id} (the current file is kept in pre-restore/; merge newer rows from it by hand), or dbguard repair ${target} --strategy restore, ` : ''}or dbguard accept-schema ${target} if it was dropped on purpose`,
    'schema-lost',
  );
}

/** Salvages the quarantined file into `<quarantine>/<name>.salvaged<ext>`; the engine retries without a side file that cannot be replayed. */
async function salvageInto(engine: Engine, damaged: string, quarantine: string, opts: RepairOptions): Promise<NonNullable<RepairResult['details']['salvage']> | undefined> {
  if (detectFile(damaged) !== engine) return undefined;
  const ext = engine.backupExtension(damaged);
  const out = path.join(quarantine, `${path.basename(damaged, ext)}.salvaged${ext}`);
  try {
    const { sideFilesLeftOut, ...report } = await engine.salvage(damaged, out, { signal: opts.signal });
    return { ...report, file: out, walLeftOut: Boolean(sideFilesLeftOut) };
  } catch (err) {
    // A full quarantine disk (or a worker that could not run) says nothing about what is lost.
    const notRun = notRunError(err, `salvaging ${damaged} (kept in ${quarantine})`);
    if (notRun) throw notRun;
    fs.rmSync(out, { force: true });
    const message = err instanceof EngineFailed ? err.failure.message : String(err);
    return { tables: [], failedObjects: [], lossless: false, file: null, walLeftOut: sideFilesOf(damaged, engine).length > 0, error: message };
  }
}

/** The "schema" of an engine that recreatesEmpty and has none to read (GDBM). */
const EMPTY = { sql: '', from: 'no schema (an empty database)' };

/** Schema SQL for recreate: targets.<name>.schema, else the newest valid manifest's DDL, else the DDL read from the newest backup file. */
async function schemaFor(config: Config, target: string, repo: BackupRepository, engine: Engine): Promise<{ sql: string; from: string } | undefined> {
  const configured = config.targets[target]!.schema;
  if (configured) return { sql: fs.readFileSync(configured, 'utf8'), from: configured };
  for (const e of repo.list(target).filter((x) => x.status === 'valid')) {
    if (e.manifest?.ddl?.length) return { sql: e.manifest.ddl.join('\n'), from: `the manifest of backup ${e.id}` };
    if (!plainUsable(e)) continue; // a store-only backup without DDL in its manifest: no file to read it from
    try {
      const ddl = await (engineOfBackup(e) ?? engine).ddl(e.file);
      return { sql: ddl.join('\n'), from: `backup ${e.id}` };
    } catch { /* try the next older backup */ }
  }
  return undefined;
}
