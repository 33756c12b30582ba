/**
 * Helpers for the daemon, status and alert tests (issue 5): ready-made sites
 * (config, databases, optionally backups) copied from one template per test
 * file, in-process daemons and spawned `dbguard daemon` processes that are
 * always stopped, local HTTP and SMTP servers that record what they receive,
 * and polling with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { loadConfig, type Config } from '../../src/config/load';
import { Daemon, type DaemonOptions } from '../../src/daemon/daemon';
import { JobHistory, type JobRecord } from '../../src/daemon/history';
import { backupTarget } from '../../src/ops/backup';
import { BackupRepository } from '../../src/storage/repository';
import { CLI, cleanEnv } from './cli';
import { createMusicDb, execSql, writeConfig } from './db';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20000, everyMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A TCP port that was free a moment ago (listen on 0, close). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A schedule that fired on 1 January and fires again next year: nothing runs by schedule during a test. */
export const YEARLY = '0 0 1 1 *';

export interface Site {
  dir: string;
  backupDir: string;
  db(target: string): string;
  /** The site's configuration as the CLI would load it (no environment overrides). */
  config(): Config;
  /** Every history record, oldest first. */
  history(): JobRecord[];
  /** Rewrites the config file with `extra` over the base settings. */
  rewrite(extra: Record<string, unknown>): void;
}

/**
 * Sites for one test file: a template with healthy production and staging
 * databases (and one valid backup each) is made once; every `site()` is a
 * copy of it with its own config.
 */
export class Sandbox {
  readonly root: string;
  private template?: Promise<string>;
  private n = 0;

  constructor(prefix = 'dbguard-daemon-') {
    this.root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  private makeTemplate(): Promise<string> {
    this.template ??= (async () => {
      const dir = path.join(this.root, 'template');
      await createMusicDb(path.join(dir, 'data', 'production.duckdb'), 0.05);
      fs.copyFileSync(path.join(dir, 'data', 'production.duckdb'), path.join(dir, 'data', 'staging.duckdb'));
      writeConfig(dir);
      const config = loadConfig({ cwd: dir, env: {} });
      for (const t of ['production', 'staging']) await backupTarget(config, t);
      fs.rmSync(path.join(dir, 'dbguard.config.json'));
      return dir;
    })();
    return this.template;
  }

  /** A copy of the template with a config of `extra` over the base settings; `backups: false` leaves the backup folder empty. */
  async site(extra: Record<string, unknown> = {}, opts: { backups?: boolean } = {}): Promise<Site> {
    const template = await this.makeTemplate();
    const dir = path.join(this.root, `site-${++this.n}`);
    fs.cpSync(template, dir, { recursive: true });
    if (opts.backups === false) {
      fs.rmSync(path.join(dir, 'backups'), { recursive: true, force: true });
    }
    const base = { keep: 5, schedule: { backup: YEARLY, check: YEARLY, timezone: 'local' }, http: { host: '127.0.0.1', port: 0 } };
    const write = (extra2: Record<string, unknown>) => writeConfig(dir, { ...base, ...extra2 });
    write(extra);
    return {
      dir,
      backupDir: path.join(dir, 'backups'),
      db: (target) => path.join(dir, 'data', `${target}.duckdb`),
      config: () => loadConfig({ cwd: dir, env: {} }),
      history: () => new JobHistory(path.join(dir, 'backups')).read(),
      rewrite: write,
    };
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** Makes a DuckDB file big enough that backing it up takes a couple of seconds (≈ 270 MB). */
export async function createBigDb(file: string): Promise<void> {
  await createMusicDb(file, 0.05);
  await execSql(file, 'CREATE TABLE readings AS SELECT i AS id, hash(i) AS a, hash(i + 1) AS b, hash(i * 3) AS c, hash(i * 7) AS d FROM range(0, 8000000) t(i)');
}

/** The records of one run, oldest first. */
export const runRecords = (records: JobRecord[], id: string) => records.filter((r) => r.id === id);

/** The valid backups of `target` in `backupDir`, newest first. */
export const validBackups = (backupDir: string, target: string) => new BackupRepository(backupDir).list(target).filter((e) => e.status === 'valid');

/** Temporary and lock files left in a backup folder. */
export const leftovers = (backupDir: string) => fs.readdirSync(backupDir).filter((n) => n.includes('.tmp') || n.endsWith('.lock'));

/** In-process daemons, stopped by `stopAll()` (call it in afterEach). */
export class Daemons {
  private all: Daemon[] = [];

  async start(config: Config, opts: DaemonOptions = {}): Promise<Daemon> {
    const d = new Daemon(config, { env: {}, alertRetryMs: 50, ...opts });
    this.all.push(d);
    await d.start();
    return d;
  }

  /** Stops one daemon (and forgets it). */
  async stop(d: Daemon, timeoutMs?: number): Promise<{ cancelled: boolean }> {
    this.all = this.all.filter((x) => x !== d);
    return d.stop(timeoutMs);
  }

  async stopAll(): Promise<void> {
    const all = this.all;
    this.all = [];
    for (const d of all) await d.stop(5000).catch(() => undefined);
  }
}

/** The base URL of an in-process daemon's endpoints. */
export const baseUrl = (d: Daemon) => `http://127.0.0.1:${d.address()!.port}`;

export interface Fetched { status: number; body: string; json: any; contentType: string }

/** GET with optional headers; the body as text and, when it is JSON, parsed. */
export async function get(url: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const res = await fetch(url, { headers });
  const body = await res.text();
  let json: unknown;
  try { json = JSON.parse(body); } catch { json = undefined; }
  return { status: res.status, body, json, contentType: res.headers.get('content-type') ?? '' };
}

export interface Received { method: string; path: string; headers: http.IncomingHttpHeaders; body: string; json: any }

/** A local HTTP server that records every request; `respond` picks the status (default 200). */
export async function startRecorder(respond: (r: Received, n: number) => number = () => 200): Promise<{ url: string; requests: Received[]; close(): Promise<void> }> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      let json: unknown;
      try { json = JSON.parse(body); } catch { json = undefined; }
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json };
      requests.push(r);
      res.writeHead(respond(r, requests.length), { 'content-type': 'text/plain', connection: 'close' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); }),
  };
}

export interface Mail { from: string; to: string[]; user: string | undefined; data: string }

/**
 * A local SMTP server (smtp-server) that requires AUTH with `user` and
 * `password`, without TLS (STARTTLS disabled), and records each message.
 */
export async function startSmtp(user: string, password: string): Promise<{ port: number; mails: Mail[]; authFailures: number; close(): Promise<void> }> {
  const state = { mails: [] as Mail[], authFailures: 0 };
  const server = new SMTPServer({
    secure: false,
    authOptional: false,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === user && auth.password === password) return cb(null, { user: auth.username });
      state.authFailures++;
      return cb(new Error('Invalid username or password'));
    },
    onData(stream, session, cb) {
      let data = '';
      stream.on('data', (d: Buffer) => (data += d.toString()));
      stream.on('end', () => {
        state.mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          data,
        });
        cb();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as net.AddressInfo).port;
  return {
    port,
    mails: state.mails,
    get authFailures() { return state.authFailures; },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SpawnedDaemon {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `dbguard daemon` as a real process in `cwd`; tracked so `killAll()` can SIGKILL what is left. */
export class Spawned {
  private all: ChildProcess[] = [];

  /** `group: true` starts it as the leader of its own process group, so a test can signal the group like a terminal or service manager does. */
  start(cwd: string, env: Record<string, string> = {}, args: string[] = [], opts: { group?: boolean } = {}): SpawnedDaemon {
    const child = spawn(process.execPath, [CLI, 'daemon', ...args], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: opts.group ?? false });
    this.all.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    return { child, stdout: () => out, stderr: () => err, exited };
  }

  /** Kills every daemon still running (SIGKILL) and waits for it to go. */
  async killAll(): Promise<void> {
    const all = this.all;
    this.all = [];
    await Promise.all(all.map((c) => new Promise<void>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    })));
  }
}

/** Resolves with the exit of `d`, or rejects after `timeoutMs` with its stderr. */
export async function exitOf(d: SpawnedDaemon, timeoutMs = 30000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      d.exited,
      new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`daemon did not exit within ${timeoutMs} ms\n${d.stderr().slice(-3000)}`)), timeoutMs); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
