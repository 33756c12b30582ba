import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, type Config, type LoadOptions } from '../config/load';
import { errorMessage } from '../core/errors';
import { ExitCode } from '../core/exit-codes';
import type { Engine } from '../engines/engine';
import { engines } from '../engines/registry';
import { engineOf } from './engine-of';

export interface DoctorItem {
  check: string;
  ok: boolean;
  /** A warning does not fail the doctor. */
  severity: 'error' | 'warning' | 'ok';
  detail: string;
  fix: string;
  /** What a failure of this check is: the setup (config, Node, DuckDB binding) or the disk (paths, permissions, space). */
  kind: 'config' | 'storage';
}

export interface DoctorReport {
  ok: boolean;
  items: DoctorItem[];
  /** 0 when every check passes; 3 when a config/setup check fails; otherwise 6 when a path, permission or disk-space check fails. */
  exitCode: number;
}

/** The exit code of a doctor run: a failed check is never "a bug" (1). */
function exitCodeOf(items: DoctorItem[]): number {
  const failed = items.filter((i) => !i.ok);
  if (!failed.length) return ExitCode.ok;
  return failed.some((i) => i.kind === 'config') ? ExitCode.config : ExitCode.storage;
}

/** The nearest existing folder at or above `p` (where a missing folder would be created). */
function existingAncestor(p: string): string {
  let cur = path.resolve(p);
  while (!fs.existsSync(cur)) {
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return cur;
}

const canWrite = (p: string) => { try { fs.accessSync(p, fs.constants.W_OK); return true; } catch { return false; } };
const canRead = (p: string) => { try { fs.accessSync(p, fs.constants.R_OK); return true; } catch { return false; } };

/**
 * Start-up validation of the whole setup: Node version, that each engine the
 * targets use has its library or tools (Engine.doctor: the DuckDB binding
 * loads, gdbmtool is installed…; the first registered engine when the config
 * does not load), the config, each database path, the backup folder and its
 * free space (at least 2 × the largest database), and the remote when one is
 * configured (bucket, credentials, DBGUARD_REMOTE_KEY, another tool's
 * objects; remote/open.ts probeRemote). Read-only: creates nothing.
 */
export async function doctor(opts: LoadOptions): Promise<DoctorReport> {
  const items: DoctorItem[] = [];
  const setupChecks = new Set(['node', 'config']);
  const add = (check: string, ok: boolean, detail: string, fix = '', warning = false) =>
    items.push({ check, ok: ok || warning, severity: ok ? 'ok' : warning ? 'warning' : 'error', detail, fix: ok ? '' : fix, kind: setupChecks.has(check) ? 'config' : 'storage' });

  const major = Number(process.versions.node.split('.')[0]);
  add('node', major >= 20, `Node.js ${process.versions.node}`, 'install Node.js 20 or newer');
  // the engines' checks come right after Node's, but which engines is known only from the config
  let config: Config | undefined;
  let configError: unknown;
  try { config = loadConfig(opts); } catch (err) { configError = err; }
  for (const engine of enginesInUse(config)) {
    for (const c of await engine.doctor()) {
      setupChecks.add(c.name);
      add(c.name, c.ok, c.detail, c.hint);
    }
  }
  if (!config) {
    add('config', false, errorMessage(configError), (configError as { hint?: string }).hint ?? 'fix the config');
    return { ok: false, items, exitCode: exitCodeOf(items) };
  }
  add('config', true, config.file ? `${config.file} is valid` : 'no config file; using the embedded defaults');

  let largest = 0;
  for (const t of Object.values(config.targets)) {
    const dir = path.dirname(t.path);
    if (!fs.existsSync(t.path)) add(`${t.name} database`, false, `${t.path} does not exist`, `create it, fix targets.${t.name}.path, or run dbguard restore ${t.name}`);
    else if (!canRead(t.path)) add(`${t.name} database`, false, `${t.path} is not readable`, `give the user running dbguard read access to ${t.path}`);
    else {
      const size = fs.statSync(t.path).size;
      largest = Math.max(largest, size);
      add(`${t.name} database`, true, `${t.path} is readable (${size} bytes)`);
    }
    const dirOk = fs.existsSync(dir) && canWrite(dir);
    add(`${t.name} folder`, dirOk, dirOk ? `${dir} is writable` : `${dir} is ${fs.existsSync(dir) ? 'not writable' : 'missing'}`, `create ${dir} and make it writable: the database writes its side files (WAL, journal) there, and restore places files there`);
  }

  const backupBase = existingAncestor(config.backupDir);
  const isDir = (() => { try { return fs.statSync(backupBase).isDirectory(); } catch { return false; } })();
  if (!isDir) {
    // a file where a folder belongs: access() says "writable", but no folder can be made there
    add('backup folder', false, `${config.backupDir} cannot be created: ${backupBase} is a file, not a folder`, `move ${backupBase} away, or set backupDir elsewhere`);
  } else {
    const backupOk = canWrite(backupBase);
    add('backup folder', backupOk, `${config.backupDir}${backupBase === config.backupDir ? '' : ` (to be created in ${backupBase})`} is ${backupOk ? 'writable' : 'not writable'}`, `make ${backupBase} writable by the user running dbguard, or set backupDir elsewhere`);
  }
  try {
    const s = fs.statfsSync(backupBase);
    const free = Number(s.bavail) * Number(s.bsize);
    const need = 2 * largest;
    add('disk space', free >= need, `${free} bytes free in ${backupBase}; ${need} needed (2 × the largest database)`, 'free space on that disk or point backupDir to a larger one');
  } catch (err) {
    add('disk space', false, `cannot measure free space of ${backupBase}: ${errorMessage(err)}`, 'check that the backup folder is on a mounted disk', true);
  }
  if (config.remote) {
    // loaded only when a remote is configured: the S3 SDK costs every other command ~150 ms of start-up
    const { probeRemote } = await import('../remote/open');
    const probe = await probeRemote(config.remote, opts.env ?? process.env);
    if (probe.kind === 'config') setupChecks.add('remote');
    add('remote', probe.ok, probe.detail, probe.fix);
  }
  return { ok: items.every((i) => i.ok), items, exitCode: exitCodeOf(items) };
}

/** The engines the targets use, in registry order; the first registered engine without a config (or when none can be told). Never throws. */
function enginesInUse(config: Config | undefined): Engine[] {
  const used = new Set<string>();
  for (const target of Object.keys(config?.targets ?? {})) {
    try { used.add(engineOf(config!, target).engine.name); } catch { /* an undetectable file: check reports it */ }
  }
  const list = engines().filter((e) => used.has(e.name));
  return list.length ? list : [engines()[0]!];
}
