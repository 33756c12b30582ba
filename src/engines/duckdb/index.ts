import * as fs from 'node:fs';
import * as path from 'node:path';
import { BusyError, inUseError } from '../../core/errors';
import { retryWhileBusy } from '../../core/retry';
import type { Finding } from '../../core/types';
import {
  couldNotRun, DEFAULT_CHUNK_BYTES, EngineFailed, type CopyOptions, type CopyResult, type Engine, type EngineFailure, type FullRead,
  type HeaderReport, type Inspection, type RunOptions,
} from '../engine';
import { runWorker } from './client';
import { ddlStatements, type Ddl } from './ddl';
import { headerFindings, scrubFindings } from './findings';
import { BLOCKS_START, readFileHeader, type FileHeader } from './header';
import { programOf, writeLockHolder } from '../proc-locks';
import { liveSnapshot } from './live-snapshot';
import { scrubLive } from './live-scrub';
import type { InspectResult, ScanResult, SnapshotResult, WorkerRequest } from './protocol';
import type { SalvageReport } from './salvage';
import { scrubBlocks } from './scrub';
import { demoSql } from './demo-data';

const MAGIC = 'DUCK';

/**
 * Runs a worker request, asking once more when the worker died before
 * answering: a Ctrl-C or a service stop meant for dbguard can reach it while
 * it starts, which says nothing about the file. A file that really crashes
 * DuckDB crashes it twice. `cleanup` runs after each failed attempt.
 */
async function work<T>(req: WorkerRequest, opts: RunOptions, cleanup: () => void = () => {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await runWorker<T>(req, { signal: opts.signal, onProgress: opts.onProgress });
    } catch (e) {
      cleanup();
      const crashed = !opts.signal?.aborted && e instanceof EngineFailed && e.failure.kind === 'crash';
      if (attempt > 1 || !crashed) throw e;
      opts.log?.warn({ action: req.action, error: e.failure.message }, 'a DuckDB worker stopped without answering; trying once more');
    }
  }
}

const parsed = (h: HeaderReport) => h.state as FileHeader;

/** A locked snapshot (DuckDB's shared lock) whose lock failure is a BusyError (exit 5). */
async function lockedCopy(source: string, dest: string, opts: CopyOptions): Promise<CopyResult> {
  const removeCopy = () => {
    fs.rmSync(dest, { force: true });
    fs.rmSync(`${dest}.wal`, { force: true });
  };
  try {
    const snap = await work<SnapshotResult>({ action: 'snapshot', file: source, dest, destWal: `${dest}.wal` }, opts, removeCopy);
    const { walCopied, ...rest } = snap;
    return { ...rest, sideFilesCopied: walCopied, consistency: 'locked', attempts: 1, retries: [] };
  } catch (e) {
    if (e instanceof EngineFailed && e.failure.kind === 'lock') {
      throw inUseError(source, e.failure, 'stop that process, or retry with --wait 5m; dbguard needs a shared (read-only) open for a consistent copy', ', which holds it read-write').because(e);
    }
    throw e;
  }
}

/** DuckDB single-file databases (`.duckdb`, WAL in `<file>.wal`), read through @duckdb/node-api in child processes. */
export const duckdbEngine: Engine = {
  name: 'duckdb',
  label: 'DuckDB',
  extensions: ['.duckdb'],

  detect: (head) => head.length >= 12 && head.subarray(8, 12).toString('latin1') === MAGIC,

  backupExtension: () => '.duckdb',

  demoSql: (target) => demoSql(target, target === 'production' ? 2 : 1),

  isSideFile: (base, name) => name.startsWith(`${base}.wal`),

  // a WAL replays into the file it was written for: quarantine and restore keep them together
  inseparable: (base, name) => name.startsWith(`${base}.wal`),

  readHeader(file, target) {
    const h = readFileHeader(file);
    const { findings, stop } = headerFindings(file, h, target);
    return {
      findings, stop, fileSize: h.fileSize, library: h.library, storageVersion: h.storageVersion,
      iteration: h.active ? Number(h.active.iteration) : undefined,
      scrubBytes: Math.max(0, h.fileSize - BLOCKS_START), state: h,
    };
  },

  sideFileFindings(file, target) {
    if (!fs.existsSync(`${file}.wal`)) return [];
    return [{ severity: 'warning', code: 'wal-pending', message: `${file}.wal is present: the last writer did not shut down cleanly. DuckDB replays it at the next open; this is normal`, hint: `nothing to do; dbguard backup ${target} includes it` }];
  },

  failureFinding(file, target, f: EngineFailure): Finding {
    if (f.kind === 'wal' || (fs.existsSync(`${file}.wal`) && /WAL/i.test(f.message))) {
      return { severity: 'error', code: 'wal-replay-failed', message: `${file}.wal cannot be replayed into ${file}: ${f.message}`, hint: `dbguard repair ${target} (moves the WAL to quarantine; a foreign or stale WAL must not be replayed)` };
    }
    if (f.kind === 'crash') return { severity: 'error', code: 'engine-crash', message: `${file}: ${f.message}`, hint: `dbguard repair ${target}` };
    return { severity: 'error', code: 'open-failed', message: `DuckDB cannot open ${file}: ${f.message}`, hint: `dbguard repair ${target}` };
  },

  inspect: (file, opts = {}) => runWorker<InspectResult>({ action: 'inspect', file }, opts),

  scan: (file, opts = {}) => runWorker<InspectResult & ScanResult>({ action: 'scan', file }, opts),

  async scrub(file, target, header, opts = {}) {
    const h = parsed(header);
    const s = await scrubBlocks(file, h.active!, (bytes) => opts.onProgress?.('scrub', bytes, h.fileSize - BLOCKS_START));
    return scrubFindings(file, s, target);
  },

  async scrubLive(file, target, header, opts = {}) {
    const h = parsed(header);
    const s = await scrubLive(file, h.active!, (bytes) => opts.onProgress?.('scrub', bytes, h.fileSize - BLOCKS_START));
    const unjudged = s.unjudged.length ? `; ${s.unjudged.length} block(s) changed under a checkpoint and were not judged` : '';
    return {
      findings: scrubFindings(file, s, target), iteration: Number(s.iteration),
      covered: `header and block scrub of the live file (${s.checked} of ${s.blockCount} blocks at header iteration ${s.iteration}, ${s.reread} re-read${unjudged})`,
    };
  },

  holder(file) {
    const pid = writeLockHolder(file);
    return pid === undefined ? undefined : { pid, exe: programOf(pid) };
  },

  async probeBusy(file) {
    try {
      await runWorker({ action: 'probe', file });
      return undefined;
    } catch (err) {
      if (err instanceof EngineFailed && err.failure.kind === 'lock') return { pid: err.failure.pid, exe: err.failure.exe, message: err.failure.message };
      throw err;
    }
  },

  async copy(source, dest, opts) {
    const locked = () => lockedCopy(source, dest, opts);
    const waiting = (err: BusyError, delayMs: number) => opts.log?.info({ target: opts.target, delayMs, reason: err.message }, 'busy; waiting before the next try (--wait)');
    if (!opts.live) return retryWhileBusy(locked, opts.waitMs, opts.signal, waiting);
    const goLive = async (holder: string): Promise<CopyResult> => {
      opts.log?.info({ target: opts.target, holder }, 'the database is held by another process; taking a live copy');
      const live = await liveSnapshot(opts.target, source, dest, { waitMs: opts.waitMs, signal: opts.signal, log: opts.log, onProgress: opts.onProgress, hashFile: opts.hashFile });
      const { walCopied, ...snap } = live.snapshot;
      return { ...snap, sideFilesCopied: walCopied, consistency: 'live', attempts: live.attempts, retries: live.retries, iteration: live.iteration, validated: live.validated, sha256: live.sha256 };
    };
    // held read-write by the service: copy it live instead of waiting for it to stop
    // (Linux lists the holder's lock, which saves a DuckDB worker that would only fail)
    const pid = writeLockHolder(source);
    if (pid !== undefined) return goLive(`PID ${pid}`);
    try {
      return await locked();
    } catch (e) {
      if (!(e instanceof BusyError)) throw e;
      return goLive(e.message);
    }
  },

  async validate(copy, made, opts = {}) {
    if (made?.validated) { opts.onFinal?.(); return made.validated; }
    const action = made?.sideFilesCopied ? 'finalize' : 'validate';
    if (action === 'validate') opts.onFinal?.();
    const run: RunOptions = {
      ...opts,
      onProgress: (phase, d, total) => {
        if (phase === 'checkpointed') opts.onFinal?.();
        else opts.onProgress?.(phase, d, total);
      },
    };
    // a fresh copy is read again once when its worker died (see work); a stored backup's
    // verification is not: a killed verification is "could not check" for its caller
    return made ? work<Inspection & FullRead>({ action, file: copy }, run) : runWorker<Inspection & FullRead>({ action, file: copy }, run);
  },

  stamp: (copy, validated) => ({ name: 'duckdb', library: validated.library, storageVersion: readFileHeader(copy).storageVersion ?? null }),

  async salvage(damaged, dest, opts = {}) {
    const attempt = async (src: string) => {
      fs.rmSync(dest, { force: true });
      fs.rmSync(`${dest}.wal`, { force: true });
      return runWorker<SalvageReport>({ action: 'salvage', file: src, dest }, opts);
    };
    try {
      return { ...(await attempt(damaged)), sideFilesLeftOut: false };
    } catch (err) {
      // A foreign or stale WAL makes the open fail; the main file may be intact without it.
      const retry = err instanceof EngineFailed && !couldNotRun(err.failure) && fs.existsSync(`${damaged}.wal`);
      if (!retry) { fs.rmSync(dest, { force: true }); throw err; }
      const bare = path.join(path.dirname(damaged), `${path.basename(damaged, '.duckdb')}.without-wal.duckdb`);
      try {
        fs.copyFileSync(damaged, bare);
        return { ...(await attempt(bare)), sideFilesLeftOut: true };
      } catch (err2) {
        fs.rmSync(dest, { force: true });
        throw err2;
      } finally {
        fs.rmSync(bare, { force: true });
      }
    }
  },

  async ddl(file) {
    return ddlStatements(await runWorker<Ddl>({ action: 'ddl', file }));
  },

  async recreate(dest, sql, opts = {}) {
    await runWorker({ action: 'execute', file: dest, sql }, opts);
  },

  async doctor() {
    try {
      const { library } = await runWorker<{ library: string }>({ action: 'version' });
      return [{ name: 'duckdb', ok: true, detail: `@duckdb/node-api loads, DuckDB ${library}` }];
    } catch (err) {
      return [{ name: 'duckdb', ok: false, detail: `the DuckDB binding does not load: ${err instanceof Error ? err.message : String(err)}`, hint: 'run `npm ci` again on this machine (the binding ships per platform)' }];
    }
  },

  chunking(file) {
    try {
      const size = readFileHeader(file).active?.blockAllocSize;
      if (size && size > 0 && size % 4096 === 0) return { headerBytes: BLOCKS_START, chunkBytes: size };
    } catch { /* an unreadable header: fall back to fixed chunks */ }
    return { headerBytes: 0, chunkBytes: DEFAULT_CHUNK_BYTES };
  },
};
