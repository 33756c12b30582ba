import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { BusyError, DbguardError, errorMessage, IntegrityError, InterruptedError, StorageError, storageErrorFrom, windowsBusy } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import { systemClock, type Clock, type Logger, silentLogger } from '../core/types';
import { fsyncFile } from '../storage/atomic';
import { sha256File } from '../storage/hash';
import { acquireLock, type LockInfo } from '../storage/lock';
import { manifestPath } from '../storage/manifest';
import type { IngestResult, Store, StoreLock } from '../storage/store';
import { blocksFormat, chunkPlanOf, openLocalStore } from './store-access';
import { backupManifest, demotePlain, publishBlocks, publishPlain } from './backup-publish';
import { newBackupId } from '../storage/naming';
import { listStoreSnapshots } from '../storage/store-listing';
import { BackupRepository } from '../storage/repository';
import { schemaRules } from './health';
import { schemaFindings, schemaRefusal } from './schema-findings';
import { objectName } from '../core/schema-baseline';
import { applyRetention, removalError, withOptionalStore, type RemovalFailure } from './prune';
import { engineOf } from './engine-of';
import { removeWithSideFiles, sideFilesOf } from './side-files';
import { stableFileFindings } from './live-check';
import { compareWithSource } from './compare';
import type { ProgressFn } from './progress';
import { freeBytes, refuse, spaceNeeded, workerError } from './backup-checks';

export interface BackupOptions {
  /** Overrides config `keep` for this run's rotation. */
  keep?: number;
  /**
   * Store a copy of a damaged source instead of refusing: with status
   * `invalid` when the copy fails validation; a faithful copy of a database
   * that lost tables is valid and lists them in `schemaLost`.
   */
  allowDamaged?: boolean;
  /** How long to wait for a busy database or target lock (ms); 0 fails at once with exit 5. */
  waitMs?: number;
  /** False: a database held by another process exits 5 instead of being copied live. Default: config `targets.<name>.live`. */
  live?: boolean;
  clock?: Clock;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  log?: Logger;
}

export interface BackupResult {
  target: string;
  id: string;
  file: string;
  bytes: number;
  sha256: string;
  status: 'valid' | 'invalid';
  problems: string[];
  rows: number;
  tables: { schema: string; name: string; rows: number }[];
  durationMs: number;
  phases: Record<string, number>;
  /** Ids of older backups removed by rotation. */
  removed: string[];
  /** Temporary files of an earlier, killed run that were cleaned up. */
  cleaned: string[];
  walIncluded: boolean;
  /** The engine that made the copy (registry name: "duckdb"…). */
  engine: string;
  /** How the copy was made consistent: under the engine's shared lock, or live (fenced copy of a held file). */
  consistency: 'locked' | 'live';
  /** Copies taken until one held (always 1 for locked). */
  attempts: number;
  /** Why earlier live copies were discarded, oldest first. */
  retries: string[];
  headerIteration?: number;
  /** How long the source's shared lock was held (locked backups). */
  lockHeldMs?: number;
  lockTakenOverFrom?: LockInfo;
  /**
   * Set when the backup was published but removing old ones failed: the
   * message names each file. The CLI exits 6 and the daemon alerts.
   */
  rotationError?: string;
  /** Tables and sequences the source lacked that the baseline expects (stored with --allow-damaged). */
  schemaLost?: string[];
  /** The old backups rotation could not delete, when that is why it failed. */
  rotationFailed?: RemovalFailure[];
  /** Where the new backup is: `plain` (files format), `store` or `plain+store` (blocks format). */
  location: 'plain' | 'store' | 'plain+store';
  /** Blocks format: what the ingest added to the store. */
  store?: { blocks: number; newBlocks: number; newBytes: number; reusedBlocks: number };
  /** Blocks format: older backups whose plain file was removed (they stay in the store). */
  demoted: string[];
}

export { spaceNeeded };

/**
 * Backs up one target: lock, clean leftovers, check the source file and its
 * header and the free space, then a consistent copy under DuckDB's shared
 * lock (the catalog, row counts and NULL-key test are taken under the same
 * lock), a checkpoint of the copy when a WAL came with it, validation in a
 * separate process (full read, row counts and schema against the source at
 * copy time) beside fsync and sha256, publication (manifest, then the atomic
 * rename of the data file, mode 0600), then rotation.
 *
 * Crash-atomic: until the rename only `.<id>.tmp*` files (and at most a
 * manifest without data) exist, and any failure or interruption removes them;
 * the next run removes what a kill left. Rotation runs only after a valid
 * backup is published, so a failed run deletes nothing. The source is only
 * ever opened READ_ONLY. Throws IntegrityError (4), BusyError (5),
 * StorageError (6) or InterruptedError (130).
 */
export async function backupTarget(config: Config, target: string, opts: BackupOptions = {}): Promise<BackupResult> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? silentLogger;
  const started = Date.now();
  const source = config.targets[target]!.path;
  const repo = new BackupRepository(config.backupDir);
  const waitMs = opts.waitMs ?? 0;
  const phases: Record<string, number> = {};
  const timed = async <T>(phase: string, fn: () => Promise<T> | T): Promise<T> => {
    if (opts.signal?.aborted) throw new InterruptedError(`backup of ${target} interrupted`);
    const t0 = Date.now();
    try { return await fn(); } finally { phases[phase] = Date.now() - t0; }
  };
  const progress = (phase: string, done: number, total: number) => opts.onProgress?.({ target, phase, done, total });
  const { engine } = engineOf(config, target);

  const folder = repo.ensureDir();
  if (folder.warning) log.warn({ target, backupDir: repo.dir }, folder.warning);
  const waiting = (err: BusyError, delayMs: number) => log.info({ target, delayMs, reason: err.message }, 'busy; waiting before the next try (--wait)');
  const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'backup'), waitMs, opts.signal, waiting);
  if (lock.tookOverFrom) log.warn({ target, stale: lock.tookOverFrom }, 'took over a stale lock of a dead process');
  let tmp: string | undefined;
  let manifestWritten: string | undefined;
  let store: Store | undefined;
  let storeLock: StoreLock | undefined;
  try {
    if (blocksFormat(config)) {
      // shared: other targets' backups may ingest at once; only prune's collect excludes us
      store = await openLocalStore(repo.dir, true);
      const opened = store;
      storeLock = await retryWhileBusy(() => opened.lockShared(`backup ${target}`), waitMs, opts.signal, waiting);
    }
    const cleaned = repo.leftovers(target);
    for (const f of cleaned) fs.rmSync(f, { force: true, recursive: true });
    if (cleaned.length) log.warn({ target, cleaned }, 'removed temporary files of an earlier, interrupted run');

    // Preflight without DuckDB: the file and its header. The catalog is read by
    // the snapshot itself, under the same lock as the copy.
    await timed('preflight', () => {
      // read twice on a finding: a checkpoint of the service may be writing a header right now
      const pre = stableFileFindings(target, source, engine);
      const unreadable = pre.findings.find((f) => f.code === 'unreadable');
      if (unreadable) { const busy = windowsBusy(source, unreadable.message); if (busy) throw busy; }
      const damage = pre.findings.filter((f) => f.severity === 'error').map((f) => f.message);
      if (damage.length && (pre.stop || !opts.allowDamaged)) throw refuse(target, damage);
      const walBytes = sideFilesOf(source, engine).reduce((n, f) => { try { return n + fs.statSync(f).size; } catch { return n; } }, 0);
      // blocks format: the first backup of a target into the store writes every block once more beside the copy
      const firstIntoStore = store !== undefined && listStoreSnapshots(repo.dir, target).length === 0;
      const need = spaceNeeded((pre.bytes ?? 0) * (firstIntoStore ? 2 : 1) + walBytes * 2);
      const free = freeBytes(repo.dir);
      if (free < need) {
        throw new StorageError(`not enough free space in ${repo.dir}: ${free} bytes free, ${need} needed (database and WAL ${(pre.bytes ?? 0) + walBytes} bytes plus headroom${firstIntoStore ? ', and as much again for the first copy of its blocks in the store' : ''})`, 'free space on that disk, lower keep, or point backupDir to a larger disk', 'disk-full');
      }
    });

    // The baseline is read before the copy: the new backup must not become its own reference.
    const rules = schemaRules(config, target);
    const createdAt = clock.now();
    const id = newBackupId(target, createdAt, (x) => repo.taken(x));
    tmp = repo.tempOf(id);
    const tmpFile = tmp;
    const removeCopy = () => removeWithSideFiles(tmpFile, engine);
    const liveAllowed = opts.live ?? config.targets[target]!.live !== 'never';
    const snap = await timed('snapshot', () =>
      engine.copy(source, tmpFile, { target, waitMs, live: liveAllowed, signal: opts.signal, log, onProgress: progress, hashFile: (f) => sha256File(f, opts.signal) })
        .catch((e) => { removeCopy(); throw workerError(e, target, source, engine); }));
    const live = snap.consistency === 'live' ? snap : undefined;
    phases.copy = snap.copyMs;
    const catalogDamage = [
      ...(snap.unreadable ?? []).map((u) => `table ${u.schema}.${u.table} cannot be read: ${u.error.message}`),
      ...snap.nullPrimaryKeys.map((n) => `table ${n.schema}.${n.table} has ${n.rows} row(s) with a NULL primary key`),
    ];
    if (catalogDamage.length && !opts.allowDamaged) {
      removeCopy();
      throw refuse(target, catalogDamage);
    }
    const schema = schemaFindings(target, source, snap.catalog, rules);
    if (schema.findings.length && !opts.allowDamaged) {
      removeCopy();
      throw schemaRefusal(target, schema);
    }
    const schemaLost = schema.missing.map((o) => `${o.kind} ${objectName(o)}`);

    // One worker folds the copied WAL in (when there is one) and reads everything
    // back; as soon as the file is final, fsync and sha256 run beside that read.
    let fileFinal!: () => void;
    const final = new Promise<void>((resolve) => (fileFinal = resolve));
    let ingest: IngestResult | undefined;
    // blocks format: the ingest's single read cuts, hashes and stores the blocks and gives the whole sha256
    const hashOf = async (): Promise<string> => {
      if (!store) return snap.sha256 !== undefined ? snap.sha256 : sha256File(tmpFile, opts.signal);
      ingest = await store.ingestFile(tmpFile, chunkPlanOf(engine, tmpFile), { signal: opts.signal, onProgress: (d, t) => progress('store', d, t) });
      return ingest.sha256;
    };
    const [validated, sha256] = await timed('validate', () =>
      Promise.all([
        engine.validate(tmpFile, snap, { signal: opts.signal, log, onProgress: progress, onFinal: () => fileFinal() })
          .catch((e) => { throw workerError(e, target, tmpFile, engine); }),
        final.then(async () => {
          const left = sideFilesOf(tmpFile, engine);
          if (left.length) throw new IntegrityError(`${target}: the copy still has ${left.map((f) => path.basename(f)).join(', ')} after it was finalized`, `run dbguard check ${target}`);
          const t0 = Date.now();
          const [hash] = await Promise.all([
            hashOf().finally(() => (phases.hash = Date.now() - t0)),
            fsyncFile(tmpFile, 0o600).finally(() => (phases.fsync = Date.now() - t0)),
          ]);
          return hash;
        }),
      ]),
    );
    phases.readBack = validated.durationMs;
    const problems = compareWithSource(snap.catalog, validated.catalog, validated.tables);
    if (problems.length && !opts.allowDamaged) {
      throw new IntegrityError(`${target}: the copy failed validation: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`, `run dbguard check ${target}; nothing was published and no backup was removed`, 'validation-failed');
    }
    const status = problems.length ? 'invalid' : 'valid';

    const file = repo.fileOf(id, engine.backupExtension(source));
    const bytes = fs.statSync(tmpFile).size;
    const plainToo = !store || config.storage.plain > 0;
    await timed('publish', async () => {
      if (opts.signal?.aborted) throw new InterruptedError(`backup of ${target} interrupted`);
      if (fs.existsSync(file)) throw new StorageError(`${file} appeared while the backup ran`, 'another process writes to the backup folder; run again');
      const manifest = backupManifest({ id, target, source, createdAt, bytes, sha256, engine, file: tmpFile, snap, validated, status, problems, phases, schemaLost });
      manifestWritten = manifestPath(file);
      if (store) await publishBlocks(store, repo, { target, tmpFile, file, fileName: path.basename(file), manifest, ingest: ingest!, plainToo });
      else publishPlain(repo, tmpFile, file, manifest);
      tmp = undefined;
      manifestWritten = undefined;
    });

    let removed: string[] = [];
    let demoted: string[] = [];
    let rotationError: string | undefined;
    let rotationFailed: RemovalFailure[] | undefined;
    if (status === 'valid') {
      // The new backup is published and valid; a failed rotation only leaves old ones
      // behind, but that fills the disk, so it is reported (exit 6, alert), never swallowed.
      try {
        const demotion = store ? await demotePlain(store, repo, target, config.storage.plain, log) : { demoted: [], failed: [] };
        demoted = demotion.demoted;
        const opened = store;
        const policy = { ...config.retention, keep: opts.keep ?? config.keep };
        // files format with store backups from before a switch: the store is opened (shared lock) only if one is dropped
        const rotated = opened
          ? await applyRetention(repo, target, policy, clock.now(), false, async () => opened)
          : await withOptionalStore(repo.dir, `backup ${target}`, waitMs, (lazy) => applyRetention(repo, target, policy, clock.now(), false, lazy));
        removed = rotated.removed;
        const failedAll = [...demotion.failed, ...rotated.failed];
        if (failedAll.length) {
          rotationFailed = failedAll;
          rotationError = removalError(target, failedAll, 'rotation').message;
        }
      } catch (err) {
        rotationError = `${target}: rotation failed: ${errorMessage(err)}`;
      }
      if (rotationError) log.warn({ target, error: rotationError, failed: rotationFailed }, 'rotation failed; older backups were kept');
    }
    const tables = snap.catalog.tables.map(({ schema, name, rows }) => ({ schema, name, rows }));
    return {
      target, id, file, bytes, sha256, status, problems, tables,
      rows: tables.reduce((n, t) => n + t.rows, 0),
      durationMs: Date.now() - started,
      phases, removed, cleaned, walIncluded: snap.sideFilesCopied, engine: engine.name, lockTakenOverFrom: lock.tookOverFrom, rotationError, rotationFailed,
      ...(schemaLost.length ? { schemaLost } : {}),
      consistency: live ? 'live' : 'locked', attempts: live?.attempts ?? 1, retries: live?.retries ?? [], headerIteration: live?.iteration, lockHeldMs: live ? undefined : snap.lockHeldMs,
      location: store ? (plainToo ? 'plain+store' : 'store') : 'plain',
      demoted,
      ...(ingest ? { store: { blocks: ingest.blocks.length, newBlocks: ingest.newBlocks, newBytes: ingest.newBytes, reusedBlocks: ingest.reusedBlocks } } : {}),
    };
  } catch (err) {
    if (tmp) removeWithSideFiles(tmp, engine);
    if (manifestWritten) fs.rmSync(manifestWritten, { force: true });
    // A Ctrl-C reaches the DuckDB workers and dbguard at the same moment. When a
    // worker died first, give dbguard's own signal handler a moment to run, so an
    // interruption is reported as one (130) and never as a damaged database (4).
    if (err instanceof IntegrityError && opts.signal && !opts.signal.aborted) await new Promise((r) => setTimeout(r, 200));
    if (opts.signal?.aborted && !(err instanceof InterruptedError)) throw new InterruptedError(`backup of ${target} interrupted`).because(err);
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, repo.dir, 'writing a backup in') ?? err;
  } finally {
    await storeLock?.release();
    lock.release();
  }
}

