import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { BusyError, InterruptedError, IntegrityError, storageErrorFrom } from '../../core/errors';
import { programOf, writeLockHolder } from '../proc-locks';
import { classifyGdbmError, type GdbmFailure } from './failure';
import { gdbmtoolMissing, gdbmtoolPath, parseCount, toolErrors } from './tool';

export interface GdbmSnapshot {
  /** Keys counted under the same reader lock the copy was made under. */
  keys: number;
  bytes: number;
  copyMs: number;
}

/** Thrown inside the lock session; mapped to the dbguard error of its kind. */
function failureError(src: string, target: string, f: GdbmFailure): Error {
  if (f.kind === 'busy') {
    const pid = writeLockHolder(src);
    const who = pid === undefined ? 'another process' : `PID ${pid}${programOf(pid) ? ` (${programOf(pid)})` : ''}`;
    return new BusyError(`${src} is open for writing by ${who} (${f.message})`, 'run again when the writer has closed it, or pass --wait to wait for it', pid);
  }
  if (f.kind === 'needs-recovery') return new IntegrityError(`${src}: Database needs recovery; it is not backed up`, `dbguard repair ${target} (runs gdbmtool recover on a copy; the original is kept in quarantine)`, 'gdbm-needs-recovery');
  return new IntegrityError(`gdbm cannot open ${src} to back it up: ${f.message}`, `dbguard check ${target}, then dbguard repair ${target}`, 'gdbm-unreadable');
}

/**
 * Copies `src` to `dest` (created exclusively, mode 0600, fsynced) while a
 * gdbmtool child holds the database open read-only, i.e. holds gdbm's shared
 * lock: no gdbm writer can open the file during the copy, so the copy is a
 * state some writer closed or synced. The keys are counted in the same lock
 * session. Never modifies `src`; on any failure `dest` is removed. Throws
 * BusyError when a writer holds the file, IntegrityError when gdbm refuses it,
 * StorageError for the copy, InterruptedError on abort.
 */
export function snapshotGdbm(src: string, dest: string, target: string, signal?: AbortSignal): Promise<GdbmSnapshot> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new InterruptedError());
    const child = spawn(gdbmtoolPath(), ['-N', '-q', '-r', src], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let settled = false;
    let outcome: { ok: GdbmSnapshot } | { err: unknown } | undefined;
    const onAbort = () => {
      outcome ??= { err: new InterruptedError() };
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      if (outcome && 'ok' in outcome) return resolve(outcome.ok);
      fs.rmSync(dest, { force: true });
      reject(outcome?.err ?? new IntegrityError(`gdbmtool ended before ${src} could be copied`, `dbguard check ${target}`));
    };
    // gdbmtool block-buffers stdout into a pipe, so the count only arrives when it
    // exits; its stderr is unbuffered. A fetch of a key no one stores answers on
    // stderr right after `count` ran, i.e. once the database is open and locked.
    const probe = `dbguard-lock-probe-${randomBytes(8).toString('hex')}`;
    let copied: { bytes: number; copyMs: number } | undefined;
    const copyUnderLock = () => {
      const t0 = Date.now();
      try {
        fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL);
        fs.chmodSync(dest, 0o600);
        const fd = fs.openSync(dest, 'r+');
        try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
        copied = { bytes: fs.statSync(dest).size, copyMs: Date.now() - t0 };
      } catch (e) {
        outcome = { err: storageErrorFrom(e, dest, 'copying to') ?? e };
      }
      child.stdin!.end('quit\n'); // releases the lock only after the copy
    };
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (outcome || copied) return;
      const first = toolErrors(stderr.slice(0, stderr.lastIndexOf('\n') + 1))[0]; // whole lines only
      if (!first) return;
      if (/No such item found/.test(first)) return copyUnderLock();
      outcome = { err: failureError(src, target, classifyGdbmError(first)) };
      child.stdin!.end();
    });
    child.on('close', () => {
      const keys = parseCount(stdout);
      if (!outcome && copied && keys !== undefined) outcome = { ok: { keys, ...copied } };
      finish();
    });
    child.stdin!.on('error', () => {});
    child.on('error', (e) => {
      outcome = { err: (e as NodeJS.ErrnoException).code === 'ENOENT' ? gdbmtoolMissing(e) : e };
      finish();
    });
    child.stdin!.write(`count\nfetch "${probe}"\n`);
  });
}
