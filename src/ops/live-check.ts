import * as fs from 'node:fs';
import { BusyError, DbguardError, IntegrityError, storageErrorFrom } from '../core/errors';
import type { Finding } from '../core/types';
import { BLOCKS_START } from '../engines/duckdb/header';
import { liveSnapshot, windowsBusy } from '../engines/duckdb/live-snapshot';
import { scrubLive } from '../engines/duckdb/live-scrub';
import { scrubFindings } from '../engines/duckdb/findings';
import { acquireLock } from '../storage/lock';
import { newBackupId } from '../storage/naming';
import { BackupRepository } from '../storage/repository';
import { fileFindings } from './check';
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
export function stableFileFindings(target: string, file: string): ReturnType<typeof fileFindings> {
  const first = fileFindings(target, file);
  if (!first.findings.some((f) => f.severity === 'error')) return first;
  const second = fileFindings(target, file);
  const again = new Set(second.findings.map((f) => f.code));
  return { ...second, findings: second.findings.filter((f) => f.severity !== 'error' || first.findings.some((g) => g.code === f.code) && again.has(f.code)) };
}

/**
 * Checks a database that another process holds read-write, filling `result`.
 * Default: the header and a block scrub of the live file, where only a block
 * that fails its checksum twice with the header iteration unchanged is a
 * finding. `full`: a validated live copy into a temporary file in `copyDir`
 * (under the target's dbguard lock), a full check of that copy through
 * `checkCopy`, and the copy deleted afterwards. Never opens the source with
 * DuckDB and takes no lock on it. Throws StorageError (disk full) and
 * BusyError (another dbguard run holds the target); damage is returned as
 * findings.
 */
export async function liveCheck(
  result: TargetCheck,
  holder: { pid?: number; exe?: string },
  live: LiveCheckOptions,
  opts: CheckOptions,
  checkCopy: (file: string) => Promise<TargetCheck>,
): Promise<void> {
  const { target, path: file } = result;
  const pre = stableFileFindings(target, file);
  // Windows: the holder may keep everyone else from reading the file at all
  const unreadable = pre.findings.find((f) => f.code === 'unreadable');
  const locked = unreadable && windowsBusy(file, unreadable.message);
  if (locked) {
    result.busy = { ...holder, message: `${locked.message}; ${locked.hint}` };
    return;
  }
  result.findings = [...pre.findings];
  if (pre.stop || !pre.header?.active) {
    result.live = { mode: 'scrub', covered: 'the file header only (it is not a readable DuckDB file)', holder };
    return;
  }
  const header = pre.header.active;
  const progress = (phase: string, d: number, total: number) => opts.onProgress?.({ target, phase, done: d, total });
  if (!live.full) {
    let scrub;
    try {
      scrub = await scrubLive(file, header, (bytes) => progress('scrub', bytes, pre.header!.fileSize - BLOCKS_START));
    } catch (err) {
      const busy = windowsBusy(file, err);
      if (!busy) throw err;
      result.busy = { ...holder, message: `${busy.message}; ${busy.hint}` };
      return;
    }
    result.findings.push(...scrubFindings(file, scrub, target));
    const unjudged = scrub.unjudged.length ? `; ${scrub.unjudged.length} block(s) changed under a checkpoint and were not judged` : '';
    result.live = {
      mode: 'scrub', iteration: Number(scrub.iteration), holder,
      covered: `header and block scrub of the live file (${scrub.checked} of ${scrub.blockCount} blocks at header iteration ${scrub.iteration}, ${scrub.reread} re-read${unjudged}); tables were not read: dbguard check ${target} --full reads every column of a live copy`,
    };
    return;
  }
  const repo = new BackupRepository(live.copyDir);
  repo.ensureDir();
  const lock = acquireLock(repo.dir, target, 'check');
  const tmp = repo.tempOf(newBackupId(target, new Date(), (x) => repo.taken(x)));
  try {
    const snap = await liveSnapshot(target, file, tmp, { signal: opts.signal, onProgress: progress });
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
      result.busy = { ...holder, message: err.message };
    } else if (err instanceof DbguardError) {
      throw err;
    } else {
      throw storageErrorFrom(err, repo.dir, 'writing a live copy in') ?? err;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
    fs.rmSync(`${tmp}.wal`, { force: true });
    lock.release();
  }
}
