import * as fs from 'node:fs';
import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { DbguardError, errorMessage, IntegrityError, InterruptedError, StorageError, storageErrorFrom } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import { silentLogger, type Logger } from '../core/types';
import { failpoint } from '../storage/failpoint';
import { sha256File } from '../storage/hash';
import { acquireLock } from '../storage/lock';
import type { Manifest } from '../storage/manifest';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import { DEFAULT_CHUNK_PLAN, type Store } from '../storage/store';
import { demotePlain, publishPlain } from './backup-publish';
import { engineOfBackup } from './engine-of';
import { chunkPlanOf, openLocalStore, snapshotOf, withStoreLock } from './store-access';
import { checkStoreBackups } from './store-verify';

export interface MigrateOptions {
  to: 'blocks' | 'files';
  dryRun?: boolean;
  waitMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

export interface MigrateResult {
  target: string;
  to: 'blocks' | 'files';
  dryRun: boolean;
  /** Backups now in the requested form (with a dry run: that would be). */
  converted: { id: string; from: BackupEntry['location']; to: BackupEntry['location'] }[];
  /** Backups left as they were, and why (invalid, changed since written…). */
  skipped: { id: string; reason: string }[];
}

const interrupted = (target: string) => new InterruptedError(`migrate-store of ${target} interrupted; every backup is still where it was or complete in its new place`);

/**
 * `migrate-store`: converts a target's valid backups into the local store
 * (`to: 'blocks'`: ingest, publish, check that every block is there and
 * hashes right, and only then remove plain files beyond the newest
 * `storage.plain`) or back to plain files (`to: 'files'`: materialise with
 * its sha256 checked, publish the plain file and its manifest, and only then
 * remove the snapshot; the packs are freed by the next `prune`). A plain file
 * whose sha256 no longer matches its manifest is skipped, never ingested.
 * Holds the target lock and the store's shared lock. Any failure leaves each
 * backup complete in its old place or in both; nothing is lost. Throws
 * StorageError (6), BusyError (5), InterruptedError (130).
 */
export async function migrateStore(config: Config, selector: string | undefined, opts: MigrateOptions): Promise<MigrateResult[]> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  const log = opts.log ?? silentLogger;
  const out: MigrateResult[] = [];
  if (!opts.dryRun) repo.ensureDir();
  for (const target of names) {
    const result: MigrateResult = { target, to: opts.to, dryRun: Boolean(opts.dryRun), converted: [], skipped: [] };
    out.push(result);
    const entries = repo.list(target);
    const todo = opts.to === 'blocks' ? entries.filter((e) => e.location === 'plain') : entries.filter((e) => e.location !== 'plain');
    for (const e of todo.filter((x) => x.status !== 'valid')) result.skipped.push({ id: e.id, reason: `${e.status}: only valid backups are converted` });
    const valid = todo.filter((e) => e.status === 'valid');
    if (opts.dryRun) {
      // as demotePlain will decide: the newest `plain` backups with a plain file keep it
      const keepsPlain = new Set(entries.filter((e) => e.location !== 'store' && !e.future).slice(0, config.storage.plain).map((e) => e.id));
      for (const e of valid) result.converted.push({ id: e.id, from: e.location, to: opts.to === 'files' ? 'plain' : keepsPlain.has(e.id) ? 'plain+store' : 'store' });
      continue;
    }
    if (!valid.length && opts.to === 'files') continue;
    const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'migrate-store'), opts.waitMs ?? 0, opts.signal);
    try {
      const store = await openLocalStore(repo.dir, opts.to === 'blocks');
      await withStoreLock(store, 'shared', `migrate-store ${target}`, async () => {
        // oldest first: the blocks of older backups are stored once and later ones reuse them
        for (const e of [...valid].reverse()) {
          if (opts.signal?.aborted) throw interrupted(target);
          let done;
          try {
            done = opts.to === 'blocks' ? await intoStore(store, repo, e, opts) : await outOfStore(store, repo, e, opts);
          } catch (err) {
            throw stoppedAt(target, e, result, err);
          }
          if ('skipped' in done) result.skipped.push({ id: e.id, reason: done.skipped });
          else result.converted.push({ id: e.id, from: e.location, to: done.to });
        }
        if (opts.to === 'blocks') {
          const demotion = await demotePlain(store, repo, target, config.storage.plain, log);
          for (const c of result.converted) c.to = demotion.demoted.includes(c.id) ? 'store' : 'plain+store';
          // a plain file beyond `plain` whose snapshot was published earlier goes too
          for (const id of demotion.demoted) if (!result.converted.some((c) => c.id === id)) result.converted.push({ id, from: 'plain+store', to: 'store' });
          if (demotion.failed.length) {
            throw new StorageError(`${target}: migrate-store could not remove ${demotion.failed.length} plain file(s) now in the store: ${demotion.failed.map((f) => `${f.file} (${f.error})`).join(', ')}; those backups are in both places`,
              `check those files' permissions (ls -l, lsattr), then run dbguard migrate-store ${target} again`, 'rotation-failed');
          }
        }
      }, opts);
    } catch (err) {
      if (opts.signal?.aborted && !(err instanceof InterruptedError)) throw interrupted(target).because(err);
      if (err instanceof DbguardError) throw err;
      throw storageErrorFrom(err, repo.dir, 'migrating the backups in') ?? err;
    } finally {
      lock.release();
    }
  }
  return out;
}

/** What became of one backup: its new location, or why it was left as it was. */
type Outcome = { to: BackupEntry['location'] } | { skipped: string };

/** Plain → store: ingest (its read gives the sha256, compared with the manifest's), publish, check every block. Returns the new location, or why it was skipped (never a throw for that). */
async function intoStore(store: Store, repo: BackupRepository, e: BackupEntry, opts: MigrateOptions): Promise<Outcome> {
  const m = e.manifest!;
  const engine = engineOfBackup(e);
  const plan = engine ? chunkPlanOf(engine, e.file) : DEFAULT_CHUNK_PLAN;
  const ingest = await store.ingestFile(e.file, plan, { signal: opts.signal });
  if (ingest.sha256 !== m.sha256) return { skipped: `its sha256 ${ingest.sha256.slice(0, 12)}… differs from the manifest's ${m.sha256.slice(0, 12)}… (the file changed after it was written); run dbguard verify --id ${e.id}` };
  failpoint('migrate-publish', e.file);
  const snap = await store.publish(e.target, `${e.id}${e.name.ext}`, m, ingest);
  const listed = { ...e, location: 'plain+store' as const, snapshot: { ...snap, name: e.name } };
  const findings = (await checkStoreBackups(repo.dir, [listed], opts)).get(e.id) ?? [];
  if (findings.length) {
    await store.removeSnapshot(snap);
    throw new IntegrityError(`${e.id}: the store copy failed its check right after it was written: ${findings[0]!.message}`, `the plain file ${e.file} is unchanged; run dbguard verify --all, then try again`, 'store-damaged');
  }
  return { to: 'plain+store' };
}

/** Store → plain: materialise (sha256 checked), publish the plain file and manifest, then remove the snapshot. A backup already in both places only loses its snapshot once its plain file matches. */
async function outOfStore(store: Store, repo: BackupRepository, e: BackupEntry, opts: MigrateOptions): Promise<Outcome> {
  const snap = snapshotOf(e)!;
  const { store: _part, ...manifest } = snap.manifest as Manifest & { store?: unknown };
  if (e.location === 'plain+store') {
    const sha = await sha256File(e.file, opts.signal);
    if (sha !== manifest.sha256 || e.plainStatus !== 'valid') return { skipped: `its plain file ${e.file} does not match its manifest; kept in the store` };
  } else {
    const tmp = repo.tempOf(e.id);
    try {
      await store.materialise(snap, tmp, { signal: opts.signal });
      failpoint('migrate-plain', e.file);
      publishPlain(repo, tmp, e.file, manifest as Manifest);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err instanceof DbguardError ? err : storageErrorFrom(err, e.file, 'writing') ?? new StorageError(`${e.id}: ${errorMessage(err)}`, 'run again').because(err);
    }
  }
  await store.removeSnapshot(snap);
  return { to: 'plain' };
}

/** The error of a migration that stopped at backup `e`: says which backup, what is done, and that every backup is still whole. */
function stoppedAt(target: string, e: BackupEntry, result: MigrateResult, err: unknown): Error {
  if (!(err instanceof StorageError) && err instanceof DbguardError) return err;
  const mapped = err instanceof StorageError ? err : storageErrorFrom(err, e.file, `converting backup ${e.id}`) ?? new StorageError(errorMessage(err), 'run again with --verbose');
  const done = result.converted.length ? `${result.converted.map((c) => c.id).join(', ')} ${result.converted.length > 1 ? 'are' : 'is'} converted (still in both places until the run completes); ` : '';
  return new StorageError(
    `${target}: migrate-store stopped at backup ${e.id}: ${mapped.message}; ${done}nothing was removed: every backup is complete where it was`,
    `${mapped.hint}; then run dbguard migrate-store ${target} again (it continues where it stopped)`,
    mapped.code,
  ).because(err);
}
