import type { Config } from '../config/load';
import type { Logger } from '../core/types';
import type { RunLog } from '../daemon/run-log';
import { colors, type Colors } from './format';

export interface GlobalOptions {
  config?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  logFile?: string;
  yes?: boolean;
  /** `--no-alerts` sets this to false: the run is recorded, but no alert or ping is sent. */
  alerts?: boolean;
  /** Set by commands that log every step to stderr (guard, daemon). */
  stderrLevel?: 'info' | 'warn';
}

/** What every command receives: output channels, the lazily loaded config and logger. */
export interface CliContext {
  opts: GlobalOptions;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Human result text to stdout (suppressed with --json and --quiet). */
  print(text: string): void;
  /** One JSON document to stdout. */
  printJson(doc: unknown): void;
  /** Human notes to stderr (suppressed with --json and --quiet). */
  note(text: string): void;
  out: Colors;
  err: Colors;
  config(): Config;
  log(): Logger;
  /** The job history and alerts of this command's runs (created on first use). */
  runs(): RunLog;
  /** Waits (bounded) for alerts still in flight; called once when the command is done. */
  settle(): Promise<void>;
  /** Aborted on the first SIGINT/SIGTERM, so a long run can clean up and exit 130. */
  signal: AbortSignal;
  /** Stops dbguard's own SIGINT/SIGTERM handling (guard hands signals to its service instead). */
  releaseSignals(): void;
}

/** Builds the context; the config and the logger are created on first use. */
export function createContext(opts: GlobalOptions, signal: AbortSignal, releaseSignals: () => void = () => {}, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): CliContext {
  let config: Config | undefined;
  let logger: Logger | undefined;
  let runLog: RunLog | undefined;
  const human = !opts.json && !opts.quiet;
  return {
    opts,
    env,
    cwd,
    signal,
    releaseSignals,
    print: (text) => { if (human) process.stdout.write(`${text}\n`); },
    printJson: (doc) => process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`),
    note: (text) => { if (human) process.stderr.write(`${text}\n`); },
    out: colors(process.stdout, env),
    err: colors(process.stderr, env),
    config() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (!config) config = (require('../config/load') as typeof import('../config/load')).loadConfig({ configPath: opts.config, cwd, env });
      return config;
    },
    log() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (!logger) logger = (require('./logger') as typeof import('./logger')).createLogger({ logFile: opts.logFile, verbose: opts.verbose, quiet: opts.quiet || opts.json, stderrLevel: opts.stderrLevel });
      return logger;
    },
    runs() {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      if (!runLog) runLog = new (require('../daemon/run-log') as typeof import('../daemon/run-log')).RunLog(this.config(), { alerts: opts.alerts !== false, log: this.log(), env });
      return runLog;
    },
    async settle() {
      await runLog?.flush();
    },
  };
}
