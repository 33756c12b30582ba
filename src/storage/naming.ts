import { format } from 'date-fns/format';

/** `<target>_data_YYYYMMDD_HHMMSS[_N].duckdb`, the names of the deployments dbguard replaces. */
const NAME = /^(?<target>[A-Za-z][A-Za-z0-9_-]*)_data_(?<date>\d{8})_(?<time>\d{6})(?:_(?<seq>\d+))?\.duckdb$/;

export interface ParsedName {
  target: string;
  id: string;
  /** Local time of the name, "YYYYMMDD_HHMMSS". */
  stamp: string;
  /** 1 for the first backup of a second, 2, 3… for the `_2`, `_3` suffixes. */
  seq: number;
}

/** Parses a backup file name; undefined for any file dbguard did not name (never touched by rotation). */
export function parseBackupName(fileName: string): ParsedName | undefined {
  const m = NAME.exec(fileName);
  if (!m?.groups) return undefined;
  const g = m.groups;
  return { target: g.target!, id: fileName.slice(0, -'.duckdb'.length), stamp: `${g.date}_${g.time}`, seq: g.seq ? Number(g.seq) : 1 };
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
