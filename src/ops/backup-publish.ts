import * as fs from 'node:fs';
import { errorMessage, StorageError } from '../core/errors';
import type { Logger } from '../core/types';
import { fsyncDir } from '../storage/atomic';
import { failpoint } from '../storage/failpoint';
import * as os from 'node:os';
import type { CopyResult, Engine, FullRead, Inspection } from '../engines/engine';
import { manifestPath, readManifest, writeManifest, MANIFEST_FORMAT, type Manifest } from '../storage/manifest';
import { dbguardVersion } from './version';
import type { BackupRepository } from '../storage/repository';
import type { IngestResult, Store, StoreSnapshot } from '../storage/store';
import type { RemovalFailure } from './prune';

/** The manifest of a validated copy (DESIGN §2): catalog and fingerprints, validation, how the copy was made. Pure but for the host name and clock. */
export function backupManifest(a: {
  id: string; target: string; source: string; createdAt: Date; bytes: number; sha256: string; engine: Engine; file: string;
  snap: CopyResult; validated: Inspection & FullRead; status: 'valid' | 'invalid'; problems: string[]; phases: Record<string, number>; schemaLost: string[];
}): Manifest {
  const { snap, validated } = a;
  const live = snap.consistency === 'live' ? snap : undefined;
  const scans = new Map(validated.tables.map((t) => [`${t.schema}.${t.name}`, t]));
  return {
    format: MANIFEST_FORMAT,
    id: a.id,
    target: a.target,
    source: a.source,
    createdAt: a.createdAt.toISOString(),
    bytes: a.bytes,
    sha256: a.sha256,
    engine: a.engine.stamp(a.file, validated),
    tables: snap.catalog.tables.map((t) => ({ ...t, fingerprint: scans.get(`${t.schema}.${t.name}`)?.fingerprint })),
    sequences: snap.catalog.sequences,
    views: snap.catalog.views,
    indexes: snap.catalog.indexes,
    ddl: snap.ddl,
    validation: { status: a.status, checkedAt: new Date().toISOString(), durationMs: a.phases.validate ?? 0, ...(a.problems.length ? { problems: a.problems } : {}) },
    phases: { ...a.phases },
    walIncluded: snap.sideFilesCopied,
    ...(a.schemaLost.length ? { schemaLost: a.schemaLost } : {}),
    consistency: live ? 'live' : 'locked',
    headerIteration: live?.iteration,
    attempts: live?.attempts ?? 1,
    ...(live ? {} : { lockHeldMs: snap.lockHeldMs }),
    host: os.hostname(),
    dbguardVersion: dbguardVersion(),
  };
}

/**
 * Publishes a plain backup: the manifest first, then the atomic rename of
 * the data file publishes both (a crash in between leaves a manifest without
 * data, which nothing lists and the next run removes, never a backup without
 * its proof). Throws StorageError when `file` appeared meanwhile, or the file
 * system's error; on failure the manifest is removed again and `tmpFile` is
 * left for the caller to remove.
 */
export function publishPlain(repo: BackupRepository, tmpFile: string, file: string, manifest: Manifest): void {
  if (fs.existsSync(file)) throw new StorageError(`${file} appeared while the backup ran`, 'another process writes to the backup folder; run again');
  writeManifest(file, manifest);
  try {
    failpoint('publish-plain', file);
    fs.renameSync(tmpFile, file);
  } catch (err) {
    fs.rmSync(manifestPath(file), { force: true });
    throw err;
  }
  fsyncDir(repo.dir);
}

/**
 * Publishes a backup in blocks format: the store snapshot first (its
 * manifest object publishes it), then, when `plainToo`, the plain file as
 * in `publishPlain`, else the copy is removed. If the plain publication
 * fails, the snapshot is removed again: a failure publishes nothing. Caller
 * holds the store's shared lock. Throws the first error (StorageError or the
 * file system's), saying where the copy is when the snapshot could not be taken back.
 */
export async function publishBlocks(store: Store, repo: BackupRepository, args: { target: string; tmpFile: string; file: string; fileName: string; manifest: Manifest; ingest: IngestResult; plainToo: boolean }): Promise<StoreSnapshot> {
  failpoint('store-publish', args.file);
  const snap = await store.publish(args.target, args.fileName, args.manifest, args.ingest);
  failpoint('store-published', args.file);
  if (!args.plainToo) {
    fs.rmSync(args.tmpFile, { force: true });
    return snap;
  }
  try {
    publishPlain(repo, args.tmpFile, args.file, args.manifest);
  } catch (err) {
    try {
      await store.removeSnapshot(snap);
    } catch (undo) {
      throw new StorageError(
        `${args.target}: the plain file ${args.file} could not be published (${errorMessage(err)}), and taking back store snapshot ${snap.id} failed too (${errorMessage(undo)})`,
        `the backup ${snap.id} is complete in the store (${store.backend.where}); dbguard list ${args.target} shows it; free space and run dbguard backup ${args.target} again`,
      ).because(err);
    }
    throw err;
  }
  return snap;
}

/**
 * Demotes plain files that are safely in the store: of the backups of
 * `target` that have a plain file, newest first, every one after the first
 * `keepPlain` loses its plain file and manifest (the store keeps the
 * backup) — but only when its store snapshot is valid, records the same
 * bytes and sha256 as the plain manifest, and every block it needs is in
 * the store (a check without reading the data). Otherwise the plain file
 * stays and the reason is returned in `kept`. A plain-only backup is never
 * touched. Failures are returned (never swallowed); the others still go.
 * Caller holds the store's shared lock.
 */
export async function demotePlain(store: Store, repo: BackupRepository, target: string, keepPlain: number, log: Logger): Promise<{ demoted: string[]; failed: RemovalFailure[]; kept: string[] }> {
  const withPlain = repo.list(target).filter((e) => e.location !== 'store' && !e.future);
  const demoted: string[] = [];
  const failed: RemovalFailure[] = [];
  const kept: string[] = [];
  const candidates = withPlain.slice(keepPlain).filter((e) => e.location === 'plain+store' && e.snapshot);
  if (!candidates.length) return { demoted, failed, kept };
  const snaps = new Map((await store.snapshots(target)).map((s) => [s.id, s]));
  const same = candidates.filter((e) => {
    const plain = readManifest(e.file);
    const snap = snaps.get(e.id);
    const ok = plain && snap && snap.manifest.validation.status === 'valid' && snap.manifest.sha256 === plain.sha256 && snap.manifest.bytes === plain.bytes;
    if (!ok) kept.push(`${e.id}: its store copy is not the same valid backup as the plain file`);
    return ok;
  });
  // one check for all of them: it lists the packs and reads the indexes once
  const check = same.length ? await store.check({ snapshots: same.map((e) => snaps.get(e.id)!) }) : undefined;
  for (const e of same) {
    const result = check!.snapshots.find((x) => x.id === e.id);
    if (!result?.ok) { kept.push(`${e.id}: its store copy lacks blocks (${result?.findings[0]?.message ?? 'see dbguard verify'})`); continue; }
    try {
      repo.remove(e);
      demoted.push(e.id);
    } catch (err) {
      failed.push({ id: e.id, file: (err as NodeJS.ErrnoException).path ?? e.file, error: (err as NodeJS.ErrnoException).code ?? errorMessage(err) });
    }
  }
  if (demoted.length) log.info({ target, demoted }, 'older plain files removed; those backups stay in the store');
  if (kept.length) log.warn({ target, kept }, 'plain files kept: their store copies are not proven; run dbguard verify');
  return { demoted, failed, kept };
}
