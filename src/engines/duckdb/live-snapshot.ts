import * as fs from 'node:fs';
import { BusyError, IntegrityError, InterruptedError, windowsBusy } from '../../core/errors';

export { windowsBusy };
import { backoffDelay, sleep } from '../../core/retry';
import type { Logger } from '../../core/types';
import { silentLogger } from '../../core/types';
import { runWorker, WorkerFailed } from './client';
import { readFileHeader, STORAGE_VERSIONS } from './header';
import { copyLive } from './live-copy';
import type { LiveFinalizeResult, SnapshotResult } from './protocol';

/** Default bound of a live copy's retries when no `--wait` is given. */
export const LIVE_ATTEMPTS = 10;
export const LIVE_WINDOW_MS = 120000;

export interface LiveSnapshotOptions {
  /** Retry window (ms); 0 means the default bound (10 attempts in 2 minutes). */
  waitMs?: number;
  signal?: AbortSignal;
  log?: Logger;
  onProgress?: (phase: string, done: number, total: number) => void;
  /** Base of the backoff between attempts (tests shorten it). */
  baseDelayMs?: number;
  /** Hashes the final file; run beside the worker's full read, its result kept only when the copy passes. */
  hashFile?: (file: string) => Promise<string>;
}

export interface LiveSnapshot {
  /** What a locked snapshot records, taken from the copy. */
  snapshot: SnapshotResult;
  /** The full read of the finalized copy. */
  validated: LiveFinalizeResult;
  iteration: number;
  attempts: number;
  /** Why earlier attempts were discarded, oldest first. */
  retries: string[];
  /** sha256 of the final file at `dest` ('' without `hashFile`). */
  sha256: string;
}

const describeTable = (schema: string, name: string) => (schema === 'main' ? name : `${schema}.${name}`);

/** What was wrong with a finalized copy, as one comparable line; undefined when it is sound. */
function copyFinding(v: LiveFinalizeResult): string | undefined {
  if (v.badBlocks.length) {
    const ids = v.badBlocks;
    return ids[0] === -1 ? 'the copy has no valid database header after its checkpoint' : `block ${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ` (${ids.length} in all)` : ''} of the copy fails its checksum`;
  }
  const bad = v.tables.find((t) => t.error) ?? v.unreadable.map((u) => ({ schema: u.schema, name: u.table, error: u.error }))[0];
  return bad ? `table ${describeTable(bad.schema, bad.name)} cannot be read: ${bad.error!.message}` : undefined;
}

/**
 * Takes a validated live copy of `source`, which another process holds
 * read-write, into `dest`: a fenced copy (WAL first, then the main file; see
 * copyLive), a block scrub of the raw copy, then a private worker that folds
 * the copy's WAL in and reads every column back. A copy whose fence moved, or
 * that fails to open, replay, read or scrub, is discarded and taken again with
 * backoff; only two consecutive fenced copies failing with the same finding
 * are reported as damage (IntegrityError, exit 4). Gives up with BusyError
 * (exit 5) after 10 attempts or 2 minutes (or `waitMs`), saying how many
 * attempts were made and why. Never opens the source with DuckDB, takes no
 * lock on it and never writes it. On success `dest` is one checkpointed file
 * (no WAL); on any failure nothing is left at `dest`. Throws InterruptedError
 * on abort and the file-system error of a failed copy (ENOSPC, EACCES).
 */
export async function liveSnapshot(target: string, source: string, dest: string, opts: LiveSnapshotOptions = {}): Promise<LiveSnapshot> {
  const log = opts.log ?? silentLogger;
  const window = opts.waitMs && opts.waitMs > 0 ? opts.waitMs : LIVE_WINDOW_MS;
  const maxAttempts = opts.waitMs && opts.waitMs > 0 ? Number.POSITIVE_INFINITY : LIVE_ATTEMPTS;
  const deadline = Date.now() + window;
  const started = Date.now();
  const discard = () => {
    fs.rmSync(dest, { force: true });
    fs.rmSync(`${dest}.wal`, { force: true });
  };
  const retries: string[] = [];
  let lastFinding: string | undefined;
  const interrupted = () => new InterruptedError(`backup of ${target} interrupted`);
  let version: number | undefined;
  try {
    version = readFileHeader(source).storageVersion;
  } catch (err) {
    throw windowsBusy(source, err) ?? err;
  }
  if (version !== undefined && !STORAGE_VERSIONS[version]) {
    // DuckDB would refuse the copy every time: that is a format this dbguard cannot read, not damage
    throw new IntegrityError(
      `${target}: ${source} has storage version ${version}, written by a newer DuckDB than this dbguard reads (it knows ${Object.keys(STORAGE_VERSIONS).join(', ')}); no live copy was taken`,
      'upgrade dbguard (npm update dbguard), or export the database with the DuckDB release that wrote it',
      'unsupported-format',
    );
  }
  try {
    for (let attempt = 1; ; attempt++) {
      if (opts.signal?.aborted) throw interrupted();
      discard();
      let finding: string | undefined;
      let reason: string;
      let copy;
      try {
        copy = await copyLive(source, dest, { attempt, signal: opts.signal, onProgress: (d, t) => opts.onProgress?.('copy', d, t) });
      } catch (err) {
        throw windowsBusy(source, err) ?? err;
      }
      if (copy.broken) {
        reason = copy.broken;
      } else {
        try {
          // the sha256 of the final file is taken beside the worker's full read; kept only if the copy passes
          let hashing: Promise<string> | undefined;
          const validated = await runWorker<LiveFinalizeResult>({ action: 'finalize-live', file: dest }, {
            signal: opts.signal,
            onProgress: (phase, d, t) => {
              if (phase !== 'checkpointed') return opts.onProgress?.(phase, d, t);
              hashing = opts.hashFile?.(dest);
              hashing?.catch(() => undefined);
            },
          });
          finding = copyFinding(validated);
          if (!finding && fs.existsSync(`${dest}.wal`)) finding = 'the copy still has a WAL after its checkpoint';
          if (!finding) {
            const sha256 = (await (hashing ?? opts.hashFile?.(dest))) ?? '';
            return {
              sha256,
              snapshot: {
                library: validated.library, catalog: validated.catalog, nullPrimaryKeys: validated.nullPrimaryKeys, unreadable: validated.unreadable,
                ddl: validated.ddl, walCopied: copy.walCopied, bytes: copy.bytes + copy.walBytes, copyMs: copy.copyMs,
              },
              validated,
              iteration: Number(copy.iteration),
              attempts: attempt,
              retries,
            };
          }
        } catch (err) {
          if (opts.signal?.aborted) throw interrupted();
          if (!(err instanceof WorkerFailed)) throw err;
          finding = `DuckDB cannot open the copy: ${err.failure.message}`;
        }
        // A torn copy is not proof of damage; the same finding in two fenced copies in a row is.
        if (finding === lastFinding) {
          throw new IntegrityError(
            `${target}: ${source} is held by another process (a live copy) and two consecutive consistent copies failed the same way: ${finding}`,
            `run dbguard check ${target} to scrub the live file, then stop the service and run dbguard repair ${target}`,
            'source-damaged',
          );
        }
        reason = `the copy failed validation (${finding})`;
      }
      lastFinding = finding;
      retries.push(reason);
      discard();
      log.warn({ target, attempt, reason }, 'live copy discarded; copying again');
      // A moved fence is the service working, not contention dbguard causes (it takes no lock), and
      // right after a checkpoint is the best moment to copy: a gentle backoff, with jitter so a
      // service that checkpoints on a timer does not stay in step with the attempts.
      const delay = backoffDelay(attempt, opts.baseDelayMs ?? 50, 1.5, 2000) * (0.5 + Math.random());
      if (attempt >= maxAttempts || Date.now() + delay > deadline) {
        throw new BusyError(
          `${target}: ${source} is held by another process and changed during every live copy: ${attempt} attempt(s) in ${Math.round((Date.now() - started) / 1000)} s; the last: ${reason}`,
          'retry when the service is quieter, with a longer window (--wait 10m), or back up with the service stopped (dbguard pre-update)',
          undefined,
          'live-copy-unstable',
        );
      }
      await sleep(delay, opts.signal);
    }
  } catch (err) {
    discard();
    throw err;
  }
}
