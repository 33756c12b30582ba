import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../storage/atomic';

export type JobKind = 'backup' | 'check';
export type JobState = 'pending' | 'running' | 'succeeded' | 'failed' | 'retrying' | 'cancelled';

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
  /** Why the run happened: schedule, catch-up, retry. */
  reason?: string;
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

  constructor(backupDir: string) {
    this.file = path.join(backupDir, HISTORY_FILE);
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
    fs.appendFileSync(this.file, `${prefix}${JSON.stringify(record)}\n`, { mode: 0o600 });
    this.lines++;
    if (this.lines > COMPACT_AT) this.compact();
  }

  /** Rewrites the file atomically with only the newest 10,000 records. */
  compact(): void {
    const records = this.read().slice(-KEEP);
    writeFileAtomic(this.file, records.map((r) => JSON.stringify(r)).join('\n') + '\n', 0o600);
    this.lines = records.length;
  }

  /** The latest record of each run, newest first. */
  latestRuns(): JobRecord[] {
    const byId = new Map<string, JobRecord>();
    for (const r of this.read()) byId.set(r.id, r);
    return [...byId.values()].sort((a, b) => (a.at < b.at ? 1 : -1));
  }
}

/** Summaries for status and /health, from the latest record of each run. */
export function summarize(runs: JobRecord[], target: string) {
  const mine = runs.filter((r) => r.target === target);
  const done = (k: JobKind) => mine.filter((r) => r.kind === k && ['succeeded', 'failed', 'cancelled'].includes(r.state));
  const lastCheck = done('check')[0];
  const lastBackupRun = done('backup')[0];
  const lastFailure = mine.find((r) => r.state === 'failed');
  return { lastCheck, lastBackupRun, lastFailure, running: mine.filter((r) => r.state === 'running' || r.state === 'retrying' || r.state === 'pending') };
}
