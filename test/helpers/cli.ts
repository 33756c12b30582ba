import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../dist/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON, else undefined. */
  json: any;
}

/** Environment for CLI runs: no colour, no inherited DBGUARD_* or ENVIRONMENT settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('DBGUARD_') && k !== 'ENVIRONMENT') env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

const parse = (s: string) => { try { return JSON.parse(s); } catch { return undefined; } };

/** Runs the built CLI synchronously in `cwd`. */
export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string; timeout?: number }): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env), input: opts.input, encoding: 'utf8', timeout: opts.timeout ?? 120000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) };
}

/** Runs the built CLI asynchronously (for concurrency tests). */
export function runCliAsync(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr, json: parse(stdout) }));
  });
}

/** True when the text contains something that looks like a JavaScript stack trace. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)|\n\s+at .+:\d+:\d+/.test(text);
}

export interface StartedCli {
  child: import('node:child_process').ChildProcess;
  /** Resolves once stderr contains `text` (rejects if the process ends first). */
  stderrIncludes(text: string): Promise<void>;
  /** Resolves when the process has ended. */
  done: Promise<CliResult & { signal: NodeJS.Signals | null }>;
}

/** Starts the built CLI and lets the test wait for what it prints before sending it a signal. */
export function startCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): StartedCli {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: cleanEnv(opts.env) });
  let stdout = '';
  let stderr = '';
  const waiters: { text: string; resolve(): void; reject(e: Error): void }[] = [];
  const settle = () => {
    for (const w of [...waiters]) if (stderr.includes(w.text)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => { stderr += d; settle(); });
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      for (const w of waiters.splice(0)) w.reject(new Error(`the CLI ended before printing "${w.text}"; stderr:\n${stderr}`));
      resolve({ code, signal, stdout, stderr, json: parse(stdout) });
    });
  });
  return {
    child,
    done,
    stderrIncludes: (text) => new Promise<void>((resolve, reject) => { waiters.push({ text, resolve, reject }); settle(); }),
  };
}
