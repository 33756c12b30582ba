import { format } from 'date-fns/format';
import { allExtensions } from '../engines/registry';

/**
 * `<target>_data_YYYYMMDD_HHMMSS[_N]`, a backup id; the file adds the
 * extension of the engine that made it (the names of the deployments dbguard
 * replaces). Extensions come from the engine registry, never from here.
 */
const ID = /^(?<target>[A-Za-z][A-Za-z0-9_-]*)_data_(?<date>\d{8})_(?<time>\d{6})(?:_(?<seq>\d+))?$/;

export interface ParsedName {
  target: string;
  id: string;
  /** Local time of the name, "YYYYMMDD_HHMMSS". */
  stamp: string;
  /** 1 for the first backup of a second, 2, 3… for the `_2`, `_3` suffixes. */
  seq: number;
}

export interface ParsedFileName extends ParsedName {
  /** The file's extension with its dot, one of a registered engine's. */
  ext: string;
}

/** Parses a backup id (a file name without its extension); undefined for anything else. Pure. */
export function parseBackupId(id: string): ParsedName | undefined {
  const g = ID.exec(id)?.groups;
  if (!g) return undefined;
  return { target: g.target!, id, stamp: `${g.date}_${g.time}`, seq: g.seq ? Number(g.seq) : 1 };
}

/**
 * Parses a backup file name `<id><ext>`, where `ext` is one of `extensions`
 * (default: every registered engine's, matched exactly, case included);
 * undefined for any file dbguard did not name (never touched by rotation). Pure.
 */
export function parseBackupName(fileName: string, extensions: readonly string[] = allExtensions()): ParsedFileName | undefined {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const ext = fileName.slice(dot);
  if (!extensions.includes(ext)) return undefined;
  const parsed = parseBackupId(fileName.slice(0, dot));
  return parsed && { ...parsed, ext };
}

/** Local-time stamp used in backup names, e.g. "20240115_020000". */
export function stampOf(date: Date): string {
  return format(date, 'yyyyMMdd_HHmmss');
}

/**
 * The id for a new backup at `date`: `<target>_data_<stamp>`, or with `_2`,
 * `_3`… when `taken(id)` says that name is already used within that second.
 */
export function newBackupId(target: string, date: Date, taken: (id: string) => boolean): string {
  const base = `${target}_data_${stampOf(date)}`;
  if (!taken(base)) return base;
  for (let n = 2; ; n++) if (!taken(`${base}_${n}`)) return `${base}_${n}`;
}

/** Orders parsed names newest first (by stamp, then suffix). */
export function newestFirst(a: ParsedName, b: ParsedName): number {
  if (a.stamp !== b.stamp) return a.stamp < b.stamp ? 1 : -1;
  return b.seq - a.seq;
}
