import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../storage/atomic';
import { acquireLock, type HeldLock } from '../storage/lock';
import { BusyError } from '../core/errors';

/** What a run did. The daemon schedules backup, check and verify (restore drills); the CLI records the rest too. */
export type JobKind = 'backup' | 'check' | 'verify' | 'prune' | 'repair' | 'pre-update' | 'push';
/** `died` is never written: the dashboard's name for a command-line run whose process ended without recording its result. */
export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled' | 'died';

/** One state change of one run; the history file holds one per line. */
export interface JobRecord {
  id: string;
  target: string;
  kind: JobKind;
  state: JobState;
  attempt: number;
  /** When this record was written. */
  at: string;
  startedAt?: string;
  endedAt?: string;
  durationMs?: number;
  error?: { code: string; exitCode: number; message: string };
  backupId?: string;
  /** Backup runs: "locked" or "live" copy, and how many copies it took. */
  consistency?: 'locked' | 'live';
  attempts?: number;
  /** Check results: whether the database was healthy, and the finding codes. */
  healthy?: boolean;
  findings?: string[];
  /** Why the run happened: schedule, catch-up, retry, dashboard, cli. */
  reason?: string;
  /** Who ran it: the daemon, or a command line (cron, Task Scheduler, by hand). */
  source?: 'daemon' | 'cli';
  /** Backup runs: size of the backup and its total row count. */
  bytes?: number;
  rows?: number;
  /** Command-line runs: the process and host, so a run killed mid-way can be told from one still going. */
  pid?: number;
  host?: string;
}

export const HISTORY_FILE = '.dbguard-history.jsonl';
const KEEP = 10000;
const COMPACT_AT = 12000;

/** True for a missing or empty file, or one whose last byte is a newline. */
function endsWithNewline(file: string): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return true;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return true;
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The daemon's job history: an append-only JSON-lines file in the backup
 * folder, so it survives restarts and `status` can read it. Keeps the newest
 * 10,000 records (compacted atomically once the file passes 12,000). A torn
 * last line (power cut mid-append) is skipped when reading.
 */
export class JobHistory {
  readonly file: string;
  private lines = -1;
  private readonly keep: number;
  private readonly compactAt: number;

  /** `limits` exist for tests; the defaults keep 10,000 records and compact past 12,000. */
  constructor(backupDir: string, limits: { keep?: number; compactAt?: number } = {}) {
    this.file = path.join(backupDir, HISTORY_FILE);
    this.keep = limits.keep ?? KEEP;
    this.compactAt = limits.compactAt ?? COMPACT_AT;
  }

  /** Every readable record, oldest first. Missing file: none. */
  read(): JobRecord[] {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const out: JobRecord[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try { out.push(JSON.parse(line) as JobRecord); } catch { /* torn line */ }
    }
    return out;
  }

  /** Appends one record; compacts to the newest 10,000 when the file grows past 12,000. */
  append(record: JobRecord): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    let prefix = '';
    if (this.lines < 0) {
      this.lines = this.read().length;
      // a torn last line has no newline: start a fresh line, or this record would be glued to it and lost
      if (!endsWithNewline(this.file)) prefix = '\n';
    }
    // The daemon and command-line runs write the same file: the history lock keeps a
    // compaction (read, rewrite, rename) from dropping a line appended meanwhile.
    const lock = lockHistory(path.dirname(this.file));
    try {
      fs.appendFileSync(this.file, `${prefix}${JSON.stringify(record)}\n`, { mode: 0o600 });
      this.lines++;
      if (this.lines > this.compactAt) this.compactLocked();
    } finally {
      lock.release();
    }
  }

  /** Rewrites the file atomically with only the newest 10,000 records (under the history lock). */
  compact(): void {
    const lock = lockHistory(path.dirname(this.file));
    try {
      this.compactLocked();
    } finally {
      lock.release();
    }
  }

  private compactLocked(): void {
    const records = this.read();
    this.lines = records.length;
    if (records.length <= this.keep) return;
    const kept = records.slice(-this.keep);
    writeFileAtomic(this.file, kept.map((r) => JSON.stringify(r)).join('\n') + '\n', 0o600);
    this.lines = kept.length;
  }

  /** The latest record of each run, newest first. */
  latestRuns(): JobRecord[] {
    const byId = new Map<string, JobRecord>();
    for (const r of this.read()) byId.set(r.id, r);
    return [...byId.values()].sort((a, b) => (a.at < b.at ? 1 : -1));
  }
}

/** The lock's name cannot be a target's: target names start with a letter. */
const HISTORY_LOCK = '_history';

/**
 * Takes the history lock `<dir>/._history.lock`, waiting up to 5 s for
 * another writer (each holds it for one append). Throws BusyError after that,
 * StorageError when the folder cannot be written.
 */
function lockHistory(dir: string): HeldLock {
  const deadline = Date.now() + 5000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return acquireLock(dir, HISTORY_LOCK, 'history append');
    } catch (err) {
      if (!(err instanceof BusyError) || Date.now() > deadline) throw err;
      // appends are synchronous and the lock is held for microseconds: a short blocking pause is enough
      Atomics.wait(pause, 0, 0, 5);
    }
  }
}

/** The final record of the run of `target` and `kind` before now, or undefined. */
export function lastFinished(runs: JobRecord[], target: string, kind: JobKind): JobRecord | undefined {
  return runs.find((r) => r.target === target && r.kind === kind && (r.state === 'succeeded' || r.state === 'failed'));
}

/** Summaries for status and /health, from the latest record of each run. */
export function summarize(runs: JobRecord[], target: string) {
  const mine = runs.filter((r) => r.target === target);
  const done = (k: JobKind) => mine.filter((r) => r.kind === k && ['succeeded', 'failed', 'cancelled'].includes(r.state));
  const lastCheck = done('check')[0];
  const lastBackupRun = done('backup')[0];
  const lastFailure = mine.find((r) => r.state === 'failed');
  const lastVerify = done('verify')[0];
  return { lastCheck, lastBackupRun, lastFailure, lastVerify, running: mine.filter((r) => r.state === 'running' || r.state === 'retrying' || r.state === 'pending') };
}
