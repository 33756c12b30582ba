import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Logger } from '../core/types';

export interface LoggerOptions {
  logFile?: string;
  verbose?: boolean;
  quiet?: boolean;
  /** Level on stderr when neither --verbose nor --quiet is given (default warn). */
  stderrLevel?: 'info' | 'warn';
}

/** Keys whose values never reach a log line. */
export const REDACT = ['password', 'pass', 'token', 'secret', '*.password', '*.pass', '*.token', '*.secret', 'auth', '*.auth', 'authorization', '*.authorization', 'url', '*.url'];

/**
 * Builds the pino logger: JSON lines to `--log-file` (level info, or debug with
 * --verbose) and, on stderr, warnings only (info with --verbose, nothing with
 * --quiet), pretty-printed on a terminal. Secrets are redacted. pino is loaded
 * here, lazily, so `dbguard --version` stays fast.
 */
export function createLogger(opts: LoggerOptions): Logger {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pino = require('pino') as typeof import('pino');
  const stderrLevel = opts.quiet ? 'silent' : opts.verbose ? 'debug' : (opts.stderrLevel ?? 'warn');
  const streams: import('pino').StreamEntry[] = [];
  if (stderrLevel !== 'silent') {
    if (process.stderr.isTTY) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pretty = require('pino-pretty') as (o: object) => import('pino').DestinationStream;
      streams.push({ level: stderrLevel as import('pino').Level, stream: pretty({ destination: 2, sync: true, colorize: !process.env.NO_COLOR, ignore: 'pid,hostname' }) });
    } else {
      streams.push({ level: stderrLevel as import('pino').Level, stream: pino.destination({ dest: 2, sync: true }) });
    }
  }
  if (opts.logFile) {
    fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
    streams.push({ level: opts.verbose ? 'debug' : 'info', stream: pino.destination({ dest: opts.logFile, sync: true, mkdir: true, append: true }) });
  }
  if (streams.length === 0) return pino({ level: 'silent' });
  return pino(
    { level: 'debug', base: { pid: process.pid }, redact: { paths: REDACT, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}
