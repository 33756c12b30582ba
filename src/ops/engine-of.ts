import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { ConfigError } from '../core/errors';
import type { Engine } from '../engines/engine';
import { detectFile, engineChoices, engineForExtension, engineNamed, engines } from '../engines/registry';
import type { BackupEntry } from '../storage/repository';
import { BackupRepository } from '../storage/repository';

/** Where the engine of a target came from, for `status`/`list` and messages. */
export type EngineSource = 'config' | 'file' | 'backup' | 'extension' | 'default';

/**
 * The engine of the file at `file` for target `target`, decided in this
 * order: the target's `engine` setting; the engine of the newest backup
 * that has a manifest (a file that is missing, or was overwritten by foreign
 * bytes or by a file of another format, is still judged as what it was, so
 * its damage is a finding and never the start of a new format's backups);
 * an extension that exactly one registered engine claims (a SQLite file
 * named after DuckDB's extension is "not DuckDB"); the file's magic bytes;
 * an extension several engines claim (the first); and for a missing or empty file,
 * the first registered engine. Reads at most 4 KiB of the file and the
 * backups' manifests; never writes.
 * Throws ConfigError (exit 3) naming the choices for an existing file none
 * of these decide, and for a manifest naming an engine this dbguard lacks.
 */
export function engineOf(config: Config, target: string, file = config.targets[target]!.path): { engine: Engine; source: EngineSource } {
  const configured = config.targets[target]?.engine;
  if (configured) return { engine: knownEngine(configured, `targets.${target}.engine`), source: 'config' };
  const fromBackup = newestStamped(new BackupRepository(config.backupDir), target);
  if (fromBackup) return { engine: knownEngine(fromBackup.manifest!.engine.name, `the manifest of backup ${fromBackup.id}`), source: 'backup' };
  const ext = path.extname(file).toLowerCase();
  const claimers = ext ? engines().filter((e) => e.extensions.includes(ext)) : [];
  if (claimers.length === 1) return { engine: claimers[0]!, source: 'extension' };
  const detected = detectFile(file);
  if (detected) return { engine: detected, source: 'file' };
  const byExtension = engineForExtension(file);
  if (byExtension) return { engine: byExtension, source: 'extension' };
  let size: number | undefined;
  try { size = fs.statSync(file).size; } catch { /* missing: nothing to judge yet */ }
  if (!size) return { engine: engines()[0]!, source: 'default' };
  throw new ConfigError(
    `cannot tell the format of ${file} (target ${target}): its first bytes are no known database header, it has no backup and its extension names no engine`,
    `set targets.${target}.engine to ${engineChoices()} in the config`,
    [],
    'unknown-engine',
  );
}

/** The engine that made a stored backup: its manifest's, else its file's magic bytes, else its extension. Undefined when none decides. Never throws. */
export function engineOfBackup(entry: BackupEntry): Engine | undefined {
  const named = entry.manifest?.engine?.name;
  return (named ? engineNamed(named) : undefined) ?? detectFile(entry.file) ?? engineForExtension(entry.file);
}

function newestStamped(repo: BackupRepository, target: string): BackupEntry | undefined {
  try {
    return repo.list(target).find((e) => !e.future && e.manifest?.engine?.name);
  } catch {
    return undefined; // an unreadable backup folder: the extension still decides
  }
}

function knownEngine(name: string, where: string): Engine {
  const engine = engineNamed(name);
  if (engine) return engine;
  throw new ConfigError(`${where} names engine "${name}", which this dbguard does not have`, `use ${engineChoices()}, or upgrade dbguard`, [], 'unknown-engine');
}

/** The registry name of the target's engine, or null when it cannot be told (see engineOf). For list/status/metrics; never throws. */
export function engineNameOf(config: Config, target: string): string | null {
  try {
    return engineOf(config, target).engine.name;
  } catch {
    return null;
  }
}
