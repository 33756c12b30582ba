import { classifyGdbmError, type GdbmFailure } from './failure';
import { parseCount, runGdbmtool } from './tool';

export interface GdbmCount {
  keys?: number;
  failure?: GdbmFailure;
}

/**
 * Opens `file` read-only in a gdbmtool child (a shared lock, as gdbm readers
 * take) and counts its keys. Never writes. Throws only when gdbmtool cannot
 * run (gdbmtoolMissing) or on abort (InterruptedError); a file gdbm refuses
 * is a `failure`.
 */
export async function countKeys(file: string, signal?: AbortSignal): Promise<GdbmCount> {
  const r = await runGdbmtool(['-r', file, 'count'], { signal });
  if (r.errors.length) return { failure: classifyGdbmError(r.errors[0]!) };
  const keys = parseCount(r.stdout);
  if (keys === undefined) return { failure: { kind: 'corrupt', message: `gdbmtool count printed no count (${r.stdout.trim().slice(0, 80) || 'nothing'})` } };
  return { keys };
}

export interface GdbmFullRead {
  /** Records (key + value) read in full. */
  records: number;
  /** The count gdbm's dump trailer states, when it got that far. */
  trailerCount?: number;
  failure?: GdbmFailure;
}

/**
 * Reads every key and value of `file` through gdbm (`export /dev/stdout
 * ascii`: gdbm iterates every bucket and fetches every record), streaming the
 * dump so nothing of it is stored. Read-only. Throws like countKeys.
 */
export async function readAllRecords(file: string, signal?: AbortSignal): Promise<GdbmFullRead> {
  let lens = 0;
  let trailerCount: number | undefined;
  const r = await runGdbmtool(['-r', file, 'export', '/dev/stdout', 'truncate', 'ascii'], {
    signal,
    realPipe: true,
    onLine: (line) => {
      if (line.startsWith('#:len=')) lens++;
      else if (line.startsWith('#:count=')) trailerCount = Number(line.slice(8));
    },
  });
  const records = Math.floor(lens / 2);
  if (r.errors.length) return { records, trailerCount, failure: classifyGdbmError(r.errors[0]!) };
  if (trailerCount === undefined) return { records, failure: { kind: 'corrupt', message: 'the dump ended without its trailer' } };
  return { records, trailerCount };
}
