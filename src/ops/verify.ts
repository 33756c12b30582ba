import * as path from 'node:path';
import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { DbguardError, InterruptedError, storageErrorFrom, UsageError } from '../core/errors';
import { retryWhileBusy } from '../core/retry';
import type { Finding } from '../core/types';
import { EngineFailed } from '../engines/engine';
import { detectFile, engineChoices } from '../engines/registry';
import { engineOfBackup } from './engine-of';
import { sha256File } from '../storage/hash';
import { acquireLock } from '../storage/lock';
import { writeManifest } from '../storage/manifest';
import { BackupRepository, type BackupEntry } from '../storage/repository';
import type { ProgressFn } from './progress';
import { notRunError } from './worker-errors';
import { snapshotOf } from './store-access';
import { checkStoreBackups, readStoreBackup, recordVerified } from './store-verify';

export interface VerifyResult {
  target: string;
  id: string;
  file: string;
  ok: boolean;
  findings: Finding[];
  durationMs: number;
  /** Where the verified backup is (`plain`, `store`, `plain+store`, or `remote` for verify --remote); absent for a target without backups. */
  location?: BackupEntry['location'] | 'remote';
}

export type Which = { latest: true } | { all: true } | { id: string };

export interface VerifyOptions {
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  /** Which copies of a backup in both places to verify (default all). */
  parts?: 'plain' | 'store' | 'all';
  /** Store backups: also materialise into a temporary file and read it in full in the engine's process. */
  readData?: boolean;
  /** How long to wait for the store's lock. */
  waitMs?: number;
  /** The store check's findings for this backup when the caller checked many at once (verifyTargets). */
  storeFindings?: Finding[];
}

const error = (code: string, message: string, hint: string): Finding => ({ severity: 'error', code, message, hint });

/**
 * Re-verifies one stored backup: manifest present and valid, size and sha256
 * as recorded, the engine's magic bytes, a full read in a separate process, and row
 * counts and content fingerprints equal to the manifest's. On success records
 * `verifiedAt` in the manifest (atomic rewrite); never modifies the backup.
 * Damage is returned as findings. When the verification could not run (a
 * worker that could not start or was killed, a full disk, EIO) it throws
 * StorageError or CouldNotCheckError (6), and InterruptedError on abort:
 * callers must never treat that as a damaged backup.
 */
export async function verifyBackup(entry: BackupEntry, opts: VerifyOptions = {}): Promise<VerifyResult> {
  const started = Date.now();
  const findings: Finding[] = [];
  const hint = `dbguard restore ${entry.target} picks a verified backup; delete or move ${entry.file} if it stays broken`;
  const done = () => ({ target: entry.target, id: entry.id, file: entry.file, ok: findings.length === 0, findings, durationMs: Date.now() - started, location: entry.location });
  const m = entry.manifest;
  if (!m) {
    findings.push(error('no-manifest', `${entry.id} has no valid manifest (${entry.file}.json): it is an incomplete backup and can never be restored`, `take a new backup with dbguard backup ${entry.target}`));
    return done();
  }
  if (m.validation.status !== 'valid') {
    findings.push(error('stored-invalid', `${entry.id} was stored as invalid: ${(m.validation.problems ?? []).join('; ') || 'validation failed'}`, hint));
  }
  const parts = opts.parts ?? 'all';
  const plainPart = entry.location !== 'store' && parts !== 'store';
  const snap = parts === 'plain' ? undefined : snapshotOf(entry);
  if (plainPart) {
    if (entry.bytes !== m.bytes) findings.push(error('size-mismatch', `${entry.id} is ${entry.bytes} bytes, its manifest says ${m.bytes}`, hint));
    const sha = await sha256File(entry.file, opts.signal);
    if (sha !== m.sha256) {
      findings.push(error('checksum-mismatch', `${entry.id}: sha256 ${sha.slice(0, 12)}… differs from the manifest's ${m.sha256.slice(0, 12)}…: the file changed after it was written`, hint));
    }
    findings.push(...(await contentFindings(entry, entry.file, opts)));
  }
  if (snap) {
    const backupDir = path.dirname(entry.file);
    const blocks = opts.storeFindings ?? (await checkStoreBackups(backupDir, [entry], opts)).get(entry.id) ?? [];
    findings.push(...blocks);
    // with every block sound, --read-data proves the bytes open: the same full read as a plain file's
    if (opts.readData && blocks.length === 0) findings.push(...(await readStoreBackup(backupDir, entry, opts)));
  }
  if (findings.length === 0) {
    const at = new Date().toISOString();
    if (plainPart) writeManifest(entry.file, { ...m, verifiedAt: at });
    if (snap) await recordVerified(path.dirname(entry.file), snap, at);
  }
  return done();
}

/**
 * Reads `file` (the backup's bytes: its plain file, or a copy materialised
 * from the store) in full in the engine's separate process and compares
 * every table's rows and content fingerprint with the manifest's. Damage is
 * returned as findings; a worker that could not run throws (StorageError,
 * CouldNotCheckError, InterruptedError on abort), never a finding.
 */
export async function contentFindings(entry: BackupEntry, file: string, opts: { signal?: AbortSignal; onProgress?: ProgressFn } = {}): Promise<Finding[]> {
  const findings: Finding[] = [];
  const m = entry.manifest!;
  const hint = `dbguard restore ${entry.target} picks a verified backup; delete or move ${entry.file} if it stays broken`;
  const engine = engineOfBackup(entry);
  if (!engine) {
    findings.push(error('unknown-engine', `${entry.id}: its manifest names engine "${m.engine?.name}", which this dbguard does not have (it has ${engineChoices()})`, 'upgrade dbguard to read this backup'));
    return findings;
  }
  if (detectFile(file) !== engine) {
    findings.push(error(`not-${engine.name}`, `${file} is no longer a ${engine.label} file`, hint));
    return findings;
  }
  try {
    const scan = await engine.validate(file, undefined, {
      signal: opts.signal,
      onProgress: (phase, d, total) => opts.onProgress?.({ target: entry.target, phase, done: d, total }),
    });
    const scans = new Map(scan.tables.map((t) => [`${t.schema}.${t.name}`, t]));
    for (const t of m.tables) {
      const s = scans.get(`${t.schema}.${t.name}`);
      const name = `${t.schema}.${t.name}`;
      if (!s) findings.push(error('table-missing', `${entry.id}: table ${name} from the manifest is missing`, hint));
      else if (s.error) findings.push(error('table-unreadable', `${entry.id}: table ${name} cannot be read: ${s.error.message}`, hint));
      else if (s.rows !== t.rows) findings.push(error('rows-differ', `${entry.id}: table ${name} has ${s.rows} rows, the manifest says ${t.rows}`, hint));
      else if (t.fingerprint && s.fingerprint !== t.fingerprint) findings.push(error('content-differs', `${entry.id}: the content of table ${name} differs from what was validated at backup time`, hint));
    }
  } catch (err) {
    if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
    // A worker that could not start, was killed (OOM) or ran out of disk says nothing
    // about the backup: never a finding, so nothing skips or deletes the backup for it.
    const notRun = notRunError(err, `verifying backup ${entry.id} (${file})`);
    if (notRun) throw notRun;
    const message = err instanceof EngineFailed ? err.failure.message : String(err);
    findings.push(error('unreadable', `${entry.id}: ${engine.label} cannot open or read ${file}: ${message}`, hint));
  }
  return findings;
}

/**
 * `verify`: re-verifies the selected backups of each target (`latest`: the
 * newest valid one, `all`, or one `id`) under the target's run lock. A target
 * without any backup to verify yields a `no-backups` failure.
 */
export async function verifyTargets(config: Config, selector: string | undefined, which: Which, opts: { signal?: AbortSignal; onProgress?: ProgressFn; waitMs?: number; env?: NodeJS.ProcessEnv; readData?: boolean } = {}): Promise<VerifyResult[]> {
  const names = selectTargets(config, selector, (opts.env ?? process.env).ENVIRONMENT);
  const repo = new BackupRepository(config.backupDir);
  const results: VerifyResult[] = [];
  if ('id' in which) {
    const entry = repo.list().find((e) => e.id === which.id && names.includes(e.target));
    if (!entry) throw new UsageError(`no backup with id ${which.id} for ${names.join(', ')}`, `list them with dbguard list ${selector ?? ''}`.trim(), 'unknown-backup');
  }
  for (const target of names) {
    const entries = repo.list(target);
    const chosen = 'all' in which ? entries : 'id' in which ? entries.filter((e) => e.id === which.id) : entries.filter((e) => e.status === 'valid' && !e.future).slice(0, 1);
    if ('id' in which && chosen.length === 0) continue;
    if (chosen.length === 0) {
      results.push({ target, id: '', file: '', ok: false, durationMs: 0, findings: [error('no-backups', `${target} has no ${'all' in which ? '' : 'valid '}backup in ${repo.dir}`, `take one with dbguard backup ${target}`)] });
      continue;
    }
    const lock = await retryWhileBusy(() => acquireLock(repo.dir, target, 'verify'), opts.waitMs ?? 0, opts.signal);
    try {
      // one pass over the packs for all the chosen store backups; a damaged pack names every one it affects
      const storeFindings = await checkStoreBackups(repo.dir, chosen.filter((e) => e.manifest && snapshotOf(e)), opts);
      for (const entry of chosen) {
        if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
        let result: VerifyResult;
        try {
          result = await verifyBackup(entry, { ...opts, storeFindings: storeFindings.get(entry.id) });
        } catch (err) {
          if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
          if (err instanceof DbguardError) throw err;
          throw storageErrorFrom(err, entry.file, 'reading') ?? err;
        }
        // A Ctrl-C reaches the DuckDB worker and dbguard at once: when the worker died
        // first, let dbguard's own handler run so an interruption never reads as damage.
        if (!result.ok && opts.signal && !opts.signal.aborted) await new Promise((r) => setTimeout(r, 200));
        if (opts.signal?.aborted) throw new InterruptedError('verify interrupted');
        results.push(result);
      }
    } finally {
      lock.release();
    }
  }
  return results;
}
