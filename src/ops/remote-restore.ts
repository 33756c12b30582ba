/**
 * restore --remote and verify --remote: the remote store as a BackupSource
 * for restore, and verify of remote backups (objects present; with
 * readData, every block downloaded and hashed and the file read in full by
 * its engine, in a temporary folder that is always removed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { DbguardError, InterruptedError, StorageError, storageErrorFrom, UsageError } from '../core/errors';
import type { Finding } from '../core/types';
import type { BackupEntry } from '../storage/repository';
import type { StoreSnapshot } from '../storage/store';
import type { ProgressFn } from './progress';
import type { BackupSource } from './restore';
import { remoteEntries, type RemoteSession } from './remote-store';
import { snapshotOf } from './store-access';
import { findingsOfCheck } from './store-verify';
import { contentFindings, type VerifyResult, type Which } from './verify';

const error = (code: string, message: string, hint: string): Finding => ({ severity: 'error', code, message, hint });

/** Materialises a remote backup into `dest` (Store.materialise: every block and the whole sha256 checked, no partial `dest` left). */
async function materialiseRemote(session: RemoteSession, entry: BackupEntry, dest: string, opts: { signal?: AbortSignal; onProgress?: (done: number, total: number) => void }): Promise<void> {
  const snap = snapshotOf(entry)!;
  try {
    await session.store.materialise(snap, dest, opts);
  } catch (err) {
    fs.rmSync(dest, { force: true });
    if (err instanceof DbguardError) throw err;
    throw storageErrorFrom(err, dest, `writing backup ${entry.id} from ${session.where} into`) ?? err;
  }
}

/** The remote as restore's BackupSource. */
export function remoteSource(session: RemoteSession, backupDir: string): BackupSource {
  return {
    entries: (target) => remoteEntries(session.store, backupDir, target),
    materialise: (entry, dest, opts) => materialiseRemote(session, entry, dest, opts),
    check: async (entry, signal) => {
      const snap = snapshotOf(entry)!;
      return findingsOfCheck(await session.store.check({ snapshots: [snap], readData: true, signal }), [snap]).get(entry.id) ?? [];
    },
  };
}

/**
 * `verify --remote`: the chosen remote backups of each target (latest valid,
 * all, or one id). Every block of each is in an index whose pack exists;
 * with `readData` every pack is downloaded and every block hashed, and each
 * backup is written to a temporary file (os.tmpdir) and read in full by its
 * engine (rows and fingerprints as in its manifest). Never changes the
 * remote. Damage is findings; a check that could not run throws.
 */
export async function verifyRemote(session: RemoteSession, config: Config, selector: string | undefined, which: Which, opts: { env?: NodeJS.ProcessEnv; readData?: boolean; signal?: AbortSignal; onProgress?: ProgressFn } = {}): Promise<VerifyResult[]> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const results: VerifyResult[] = [];
  const all = new Map<string, BackupEntry[]>();
  for (const t of names) all.set(t, await remoteEntries(session.store, config.backupDir, t));
  if ('id' in which && ![...all.values()].flat().some((e) => e.id === which.id)) {
    throw new UsageError(`no backup with id ${which.id} on the remote for ${names.join(', ')}`, `list them with dbguard list --remote ${selector ?? ''}`.trim(), 'unknown-backup');
  }
  for (const target of names) {
    const entries = all.get(target)!;
    const chosen = 'all' in which ? entries : 'id' in which ? entries.filter((e) => e.id === which.id) : entries.filter((e) => e.status === 'valid' && !e.future).slice(0, 1);
    if ('id' in which && chosen.length === 0) continue;
    if (chosen.length === 0) {
      results.push({ target, id: '', file: '', ok: false, durationMs: 0, findings: [error('no-backups', `${target} has no ${'all' in which ? '' : 'valid '}backup on the remote ${session.where}`, `copy the local ones there with dbguard push ${target}`)] });
      continue;
    }
    const started = Date.now();
    const snaps = chosen.map((e) => snapshotOf(e)).filter((s): s is StoreSnapshot => s !== undefined);
    const found = findingsOfCheck(await session.store.check({ snapshots: snaps, readData: !!opts.readData, signal: opts.signal }), snaps);
    for (const entry of chosen) {
      if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
      const findings = [...(found.get(entry.id) ?? [])];
      if (entry.status !== 'valid') findings.push(error('stored-invalid', `${entry.id} was stored as invalid: ${(entry.manifest?.validation.problems ?? []).join('; ') || 'validation failed'}`, `restore another backup of ${target}`));
      if (opts.readData && findings.length === 0) findings.push(...(await readRemoteBackup(session, entry, opts)));
      results.push({ target, id: entry.id, file: `snapshots/${target}/${snapshotOf(entry)!.fileName}.json on ${session.where}`, ok: findings.length === 0, findings, durationMs: Date.now() - started, location: 'remote' });
    }
  }
  return results;
}

/** Downloads `entry` into a private temporary folder and reads it with its engine; the folder is always removed. */
async function readRemoteBackup(session: RemoteSession, entry: BackupEntry, opts: { signal?: AbortSignal; onProgress?: ProgressFn }): Promise<Finding[]> {
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbguard-verify-remote-'));
  } catch (err) {
    throw storageErrorFrom(err, os.tmpdir(), 'creating a temporary folder in') ?? err;
  }
  const tmp = path.join(dir, snapshotOf(entry)!.fileName);
  try {
    try {
      await materialiseRemote(session, entry, tmp, { signal: opts.signal });
    } catch (err) {
      if (err instanceof DbguardError && err.exitCode === 4) return [error('blocks-damaged', `${entry.id}: ${err.message}`, `restore an older backup of ${entry.target}`)];
      if (err instanceof StorageError && /ENOSPC/.test(err.message)) throw new StorageError(`${err.message} (verify --remote --read-data writes each backup to ${os.tmpdir()}; set TMPDIR to a folder with room)`, err.hint).because(err);
      throw err;
    }
    return await contentFindings(entry, tmp, opts);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
