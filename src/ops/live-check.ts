import { BusyError, DbguardError, IntegrityError, storageErrorFrom, windowsBusy } from '../core/errors';
import type { Finding } from '../core/types';
import type { Engine } from '../engines/engine';
import { acquireLock } from '../storage/lock';
import { newBackupId } from '../storage/naming';
import { BackupRepository } from '../storage/repository';
import { fileFindings } from './check';
import { removeWithSideFiles } from './side-files';
import type { CheckOptions, TargetCheck } from './check';

/** What a check of a database held by another process covered. */
export interface LiveCheckInfo {
  /** "scrub": header and block scrub of the live file; "copy": a full check of a live copy (`--full`). */
  mode: 'scrub' | 'copy';
  /** One line saying what was and was not checked. */
  covered: string;
  iteration?: number;
  attempts?: number;
  holder: { pid?: number; exe?: string };
}

/** Options of a live check: where a `--full` check puts its temporary copy. */
export interface LiveCheckOptions {
  /** The backup folder: the live copy of `--full` is written there and deleted afterwards. */
  copyDir: string;
  full?: boolean;
}

/**
 * The header findings of a file that another process may be writing: read
 * twice, and only an error both reads report is kept (a checkpoint writes the
 * inactive header while it is read). Reads 12 KiB twice; never writes.
 */
export function stableFileFindings(target: string, file: string, engine: Engine): ReturnType<typeof fileFindings> {
  const first = fileFindings(target, file, engine);
  if (!first.findings.some((f) => f.severity === 'error')) return first;
  const second = fileFindings(target, file, engine);
  const again = new Set(second.findings.map((f) => f.code));
  return { ...second, findings: second.findings.filter((f) => f.severity !== 'error' || first.findings.some((g) => g.code === f.code) && again.has(f.code)) };
}

const holderName = (h: { pid?: number; exe?: string }) => (h.pid === undefined ? 'another process' : `PID ${h.pid}${h.exe ? ` (${h.exe})` : ''}`);

/** What to do about a database that could not be checked because another process holds it. Pure. */
export function busyHint(target: string): string {
  return `stop the service and run dbguard check ${target} again, or check it while the service is stopped for a deploy with dbguard pre-update ${target}`;
}

/**
 * Checks a database that another process holds read-write, filling `result`.
 * Default: the header and the engine's live scrub of the file (DuckDB: only a
 * block that fails its checksum twice with the header iteration unchanged is
 * a finding); an engine without one (GDBM, SQLite) is not checked at all but
 * `busy`, since a header alone cannot say healthy. `full`: a validated live copy into a temporary file in `copyDir`
 * (under the target's dbguard lock), a full check of that copy through
 * `checkCopy`, and the copy deleted afterwards. Never opens the source with
 * DuckDB and takes no lock on it. Throws StorageError (disk full) and
 * BusyError (another dbguard run holds the target); damage is returned as
 * findings.
 */
export async function liveCheck(
  result: TargetCheck,
  engine: Engine,
  holder: { pid?: number; exe?: string },
  live: LiveCheckOptions,
  opts: CheckOptions,
  checkCopy: (file: string) => Promise<TargetCheck>,
): Promise<void> {
  const { target, path: file } = result;
  const pre = stableFileFindings(target, file, engine);
  // Windows: the holder may keep everyone else from reading the file at all
  const unreadable = pre.findings.find((f) => f.code === 'unreadable');
  const locked = unreadable && windowsBusy(file, unreadable.message);
  if (locked) {
    result.busy = { ...holder, message: `${locked.message}; ${locked.hint}` };
    return;
  }
  result.findings = [...pre.findings];
  if (pre.stop || !pre.header) {
    result.live = { mode: 'scrub', covered: `the file header only (it is not a readable ${engine.label} file)`, holder };
    return;
  }
  const header = pre.header;
  const progress = (phase: string, d: number, total: number) => opts.onProgress?.({ target, phase, done: d, total });
  if (!live.full) {
    if (!engine.scrubLive) {
      // a header alone proves nothing: "I could not check" is busy, never healthy
      result.busy = { ...holder, message: `${file} is held by ${holderName(holder)} and ${engine.label} has no live check: nothing was checked`, hint: busyHint(target) };
      return;
    }
    let scrub;
    try {
      scrub = await engine.scrubLive(file, target, header, { onProgress: progress, signal: opts.signal });
    } catch (err) {
      const busy = windowsBusy(file, err);
      if (!busy) throw err;
      result.busy = { ...holder, message: `${busy.message}; ${busy.hint}` };
      return;
    }
    result.findings.push(...scrub.findings);
    result.live = {
      mode: 'scrub', iteration: scrub.iteration, holder,
      covered: `${scrub.covered}; tables were not read: dbguard check ${target} --full reads every column of a live copy`,
    };
    return;
  }
  const repo = new BackupRepository(live.copyDir);
  repo.ensureDir();
  const lock = acquireLock(repo.dir, target, 'check');
  const tmp = repo.tempOf(newBackupId(target, new Date(), (x) => repo.taken(x)));
  try {
    const snap = await engine.copy(file, tmp, { target, live: true, waitMs: 0, signal: opts.signal, onProgress: progress });
    // a copy the engine could take under its shared lock is checked just the same
    if (!snap.validated) await engine.validate(tmp, snap, { signal: opts.signal });
    const copy = await checkCopy(tmp);
    const rename = (f: Finding): Finding => ({ ...f, message: f.message.split(tmp).join(`${file} (live copy)`) });
    result.findings.push(...copy.findings.map(rename));
    result.tables = copy.tables;
    result.live = {
      mode: 'copy', iteration: snap.iteration, attempts: snap.attempts, holder,
      covered: `full check (every column of every table, block scrub) of a live copy fenced at header iteration ${snap.iteration}, ${snap.attempts} attempt(s); the copy was deleted`,
    };
  } catch (err) {
    if (err instanceof IntegrityError) {
      result.findings.push({ severity: 'error', code: err.code, message: err.message, hint: err.hint });
      result.live = { mode: 'copy', covered: 'live copies, which failed the same way twice', holder };
    } else if (err instanceof BusyError) {
      result.busy = { ...holder, pid: holder.pid ?? err.pid, message: err.message, hint: busyHint(target) };
    } else if (err instanceof DbguardError) {
      throw err;
    } else {
      throw storageErrorFrom(err, repo.dir, 'writing a live copy in') ?? err;
    }
  } finally {
    removeWithSideFiles(tmp, engine);
    lock.release();
  }
}
