import { spawn } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { selectTargets } from '../config/targets';
import { BusyError, inUseError, IntegrityError, InterruptedError, UsageError } from '../core/errors';
import { backoffDelay } from '../core/retry';
import type { Logger } from '../core/types';
import { silentLogger } from '../core/types';
import { quarantineHolding } from '../storage/quarantine';
import { BackupRepository } from '../storage/repository';
import { checkHealth } from './health';
import { repair, type RepairResult } from './repair';

export interface GuardRecovery {
  target: string;
  healthy: boolean;
  repaired?: Pick<RepairResult, 'strategy' | 'quarantine' | 'details'>;
  error?: string;
}

/**
 * Makes each target healthy before a service starts: a quick check (a full
 * one with `fullCheck`), and
 * `repair auto` for a damaged one. Returns one entry per target; never throws
 * for damage (the caller decides whether to start anyway). Throws
 * IntegrityError when the file is missing while a quarantine folder holds it
 * (never a first deployment, even with --start-anyway), UsageError for a
 * symbolic link that needs repair, BusyError
 * when a database is in use, InterruptedError when `signal` aborted before a
 * target (a repair already running is finished, never cut short).
 */
export async function recoverTargets(config: Config, selector: string | undefined, log: Logger = silentLogger, env: NodeJS.ProcessEnv = process.env, signal?: AbortSignal, fullCheck = false): Promise<GuardRecovery[]> {
  const out: GuardRecovery[] = [];
  for (const target of selectTargets(config, selector, env.ENVIRONMENT)) {
    if (signal?.aborted) throw new InterruptedError('interrupted before the service started; it was not started');
    const file = config.targets[target]!.path;
    const c = await checkHealth(config, target, { quick: !fullCheck, signal });
    if (c.busy) throw inUseError(file, c.busy, 'stop the other process; only the guarded service should open the database', ' before the service started');
    if (c.ok) {
      log.info({ target }, 'guard: database healthy');
      out.push({ target, healthy: true });
      continue;
    }
    // A first deployment: no database yet and nothing to restore; the service creates it.
    // Not when a quarantine folder holds the file: an earlier repair took it and never put one back.
    if (c.findings.every((f) => f.code === 'missing') && !new BackupRepository(config.backupDir).newestValid(target)) {
      const held = quarantineHolding(config.backupDir, target, path.basename(file));
      if (held) {
        throw new IntegrityError(
          `${target}: ${file} is missing, but ${held} holds ${path.basename(file)} from an earlier repair that did not put a database back; this is not a first deployment, so the service was not started`,
          `put the file back (cp -p '${path.join(held, path.basename(file))}' '${file}'), then run dbguard repair ${target}; to start with an empty database on purpose, move ${held} out of ${path.dirname(held)} first`,
          'quarantined',
        );
      }
      log.warn({ target, path: file }, 'guard: no database and no backup yet; starting the service, which creates it');
      out.push({ target, healthy: true });
      continue;
    }
    log.warn({ target, findings: c.findings.map((f) => f.message) }, 'guard: database damaged, repairing');
    try {
      // not interruptible: a repair stopped halfway would leave the target without a file
      const r = await repair(config, target, { strategy: 'auto', log });
      out.push({ target, healthy: r.ok, repaired: { strategy: r.strategy, quarantine: r.quarantine, details: r.details } });
      log.warn({ target, strategy: r.strategy, quarantine: r.quarantine, ok: r.ok }, 'guard: repair finished');
    } catch (err) {
      // a path dbguard refuses to replace (a symbolic link) is a usage error, not a failed recovery
      if (err instanceof UsageError) throw err;
      out.push({ target, healthy: false, error: (err as Error).message });
      log.error({ target, error: (err as Error).message }, 'guard: repair failed');
    }
  }
  return out;
}

/** Parses "host:port" (IPv6 as "[::1]:5672"). */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port < 1 || port > 65535) throw new UsageError(`--wait-for "${text}" is not host:port`, 'e.g. --wait-for localhost:5672', 'bad-option');
  return { host: m[1], port };
}

const tryConnect = (host: string, port: number, timeoutMs: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', done); resolve(); };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Waits until every `host:port` accepts a TCP connection, retrying with
 * exponential backoff (200 ms doubling, at most 5 s apart) until `timeoutMs`.
 * Throws BusyError (exit 5) naming the service that never answered, or
 * InterruptedError (130) as soon as `signal` aborts.
 */
export async function waitForServices(services: string[], timeoutMs: number, log: Logger = silentLogger, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const interrupted = (s: string) => new InterruptedError(`interrupted while waiting for ${s}; the service was not started`);
  for (const s of services) {
    const { host, port } = parseHostPort(s);
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw interrupted(s);
      if (await tryConnect(host, port, 2000)) { log.info({ service: s, attempt }, 'guard: service is up'); break; }
      if (signal?.aborted) throw interrupted(s);
      const left = deadline - Date.now();
      if (left <= 0) throw new BusyError(`${s} did not accept connections within ${Math.round(timeoutMs / 1000)} s`, `start that service, or raise --wait-timeout`, undefined, 'service-unavailable');
      log.info({ service: s, attempt }, 'guard: waiting for service');
      await sleep(Math.min(left, backoffDelay(attempt, 200, 2, 5000)), signal);
    }
  }
}

/**
 * Runs the service command with stdio inherited, forwards SIGTERM, SIGINT and
 * SIGHUP to it, and resolves with its exit code (128 + signal number when it
 * died of a signal). Throws UsageError when the command cannot be started.
 */
export function runService(command: string, args: string[], log: Logger = silentLogger): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => () => { log.info({ signal: sig, pid: child.pid }, 'guard: forwarding signal'); child.kill(sig); };
    const handlers = (['SIGTERM', 'SIGINT', 'SIGHUP'] as NodeJS.Signals[]).map((sig) => [sig, forward(sig)] as const);
    for (const [sig, h] of handlers) process.on(sig, h);
    const cleanup = () => { for (const [sig, h] of handlers) process.off(sig, h); };
    child.once('error', (err) => {
      cleanup();
      reject(new UsageError(`cannot start ${command}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, 'check the command after -- (it must be on PATH or an absolute path)', 'bad-command'));
    });
    child.once('exit', (code, signal) => {
      cleanup();
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}
