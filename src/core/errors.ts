import { ExitCode, type ExitCodeValue } from './exit-codes';

/**
 * Base of every expected failure. Carries the exit code, a stable machine code
 * and a hint that tells the operator what to do next. The CLI prints
 * `message` and `hint` and never a stack trace for these.
 */
export class DbguardError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: ExitCodeValue,
    readonly hint: string = '',
  ) {
    super(message);
    this.name = new.target.name;
  }

  /**
   * Records the error this one was raised from, so `--verbose` can print the
   * chain. Returns `this` so it reads `throw new StorageError(...).because(err)`.
   */
  because(cause: unknown): this {
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false, writable: true, configurable: true });
    return this;
  }
}

/** Bad arguments, unknown command or target (exit 2). */
export class UsageError extends DbguardError {
  constructor(message: string, hint = 'run `dbguard --help` for usage', code = 'usage') {
    super(message, code, ExitCode.usage, hint);
  }
}

/** Missing or invalid configuration file, key or environment variable (exit 3). */
export class ConfigError extends DbguardError {
  constructor(message: string, hint = 'fix the setting named above and run the command again', readonly problems: string[] = [], code = 'config') {
    super(message, code, ExitCode.config, hint);
  }
}

/** A database or backup is damaged, or could not be recovered (exit 4). */
export class IntegrityError extends DbguardError {
  constructor(message: string, hint: string, code = 'integrity') {
    super(message, code, ExitCode.integrity, hint);
  }
}

/** The database is held by another process, or another dbguard run holds the target lock (exit 5). */
export class BusyError extends DbguardError {
  constructor(message: string, hint: string, readonly pid?: number, code = 'busy') {
    super(message, code, ExitCode.busy, hint);
  }
}

/**
 * The database file is held read-write by another process (exit 5). The
 * message names the file and the holder as DuckDB reported it.
 */
export function inUseError(file: string, holder: { pid?: number; exe?: string }, hint: string, detail = ''): BusyError {
  return new BusyError(`${file} is in use by PID ${holder.pid ?? '?'} (${holder.exe ?? 'another program'})${detail}`, hint, holder.pid);
}

/** Disk full, permission denied, folder not writable (exit 6). */
export class StorageError extends DbguardError {
  constructor(message: string, hint: string, code = 'storage') {
    super(message, code, ExitCode.storage, hint);
  }
}

/** The run was interrupted by SIGINT/SIGTERM; nothing half-written was left (exit 130). */
export class InterruptedError extends DbguardError {
  constructor(message = 'interrupted', hint = 'nothing half-written was left behind; run the command again') {
    super(message, 'interrupted', ExitCode.interrupted, hint);
  }
}

/**
 * Maps a Node.js file-system error to a StorageError that names the path, or
 * returns undefined when the error is not a storage condition.
 */
export function storageErrorFrom(err: unknown, path: string, action: string): StorageError | undefined {
  const mapped = storageErrorFor(err, path, action);
  return mapped?.because(err);
}

function storageErrorFor(err: unknown, path: string, action: string): StorageError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new StorageError(`disk full while ${action} ${path}`, 'free space on that disk or point backupDir elsewhere, then run again', 'disk-full');
    case 'EACCES':
    case 'EPERM':
      return new StorageError(`permission denied while ${action} ${path}`, `give the user running dbguard write access to ${path}`, 'permission-denied');
    case 'EROFS':
      return new StorageError(`read-only file system while ${action} ${path}`, 'point backupDir to a writable disk', 'read-only-fs');
    case 'EIO':
      return new StorageError(`I/O error of the disk while ${action} ${path}`, 'the disk may be failing: check dmesg and smartctl, then run again; nothing was judged damaged', 'io-error');
    case 'ENOTDIR':
    case 'EEXIST':
    case 'EISDIR':
      return new StorageError(`${path} is not usable while ${action} it (${code})`, 'check that the path is a folder where a folder is expected', 'bad-path');
    default:
      return undefined;
  }
}

/** Returns the message of any thrown value without a stack. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * The chain of causes below `err` (its `cause`, that one's `cause`, ...),
 * outermost first, stopping at cycles. Used by `--verbose` output.
 */
export function causeChain(err: unknown): unknown[] {
  const out: unknown[] = [];
  const seen = new Set<unknown>([err]);
  let cur = (err as { cause?: unknown } | undefined)?.cause;
  while (cur !== undefined && !seen.has(cur)) {
    out.push(cur);
    seen.add(cur);
    cur = (cur as { cause?: unknown } | null)?.cause;
  }
  return out;
}

/**
 * A check or verification could not run (the DuckDB worker could not start,
 * was killed — e.g. out of memory —, or ran out of disk): nothing is known
 * about the file, so this is never damage and nothing may act on it (exit 6,
 * like the other conditions of the machine; the daemon retries it).
 */
export class CouldNotCheckError extends DbguardError {
  constructor(message: string, hint = 'see the cause above, fix it (memory, processes, disk space) and run the command again', code = 'could-not-check') {
    super(message, code, ExitCode.storage, hint);
  }
}

/**
 * The error for EBUSY on reading a held file (Windows: the holder keeps other
 * processes from reading it at all): no live copy is possible (exit 5).
 * Returns undefined for any other error.
 */
export function windowsBusy(source: string, err: unknown): BusyError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (e?.code !== 'EBUSY' && !/\bEBUSY\b/.test(String(e?.message ?? err))) return undefined;
  return new BusyError(
    `${source} is held by another process that does not let other programs read it (EBUSY): a live copy is impossible on this system while the service runs`,
    'run dbguard pre-update in the deploy script while the service is stopped, or schedule a task that stops the service, runs dbguard backup and starts it again',
    undefined,
    'live-copy-impossible',
  ).because(err);
}
