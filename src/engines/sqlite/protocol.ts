import type { Catalog } from '../../core/types';
import type { EngineFailure as WorkerFailure, NullKeyCount } from '../engine';

export type { WorkerFailure };

/** Requests the SQLite worker process understands. `waitMs` is how long a writer's lock is waited for. */
export type SqliteRequest =
  | { action: 'check'; file: string; quick: boolean; waitMs: number; readWrite?: boolean; /** false: the full read only (the engine's scrub runs the pragmas) */ pragmas?: boolean; /** false: the pragmas only, no full read (the scrubs: the scan reads) */ read?: boolean }
  | { action: 'snapshot'; file: string; dest: string; waitMs: number }
  | { action: 'validate'; file: string }
  | { action: 'salvage'; file: string; dest: string }
  | { action: 'recreate'; dest: string; ddl: string[] }
  | { action: 'execute'; file: string; sql: string }
  | { action: 'inspect'; file: string }
  | { action: 'rollback'; file: string }
  | { action: 'version' };

export interface SqliteInspectResult {
  library: string;
  journalMode: string;
  catalog: SqliteCatalog;
  /** Rows whose PRIMARY KEY is NULL (SQLite allows it in rowid tables whose key is not INTEGER PRIMARY KEY). */
  nullPrimaryKeys: NullKeyCount[];
}

export interface SqliteTableRead {
  schema: string;
  name: string;
  rows: number;
  /** Order-independent sum of row hashes: equal content gives an equal fingerprint. */
  fingerprint?: string;
  error?: WorkerFailure;
}

export interface SqliteCatalog extends Catalog {
  triggers: { schema: string; table: string; name: string }[];
  /** `sqlite_schema.sql` of every object, in creation order (tables first), for `repair --strategy recreate`. */
  ddl: string[];
}

export interface SqliteCheckResult {
  library: string;
  journalMode: string;
  catalog: SqliteCatalog;
  /** `ok` alone means healthy. */
  integrity: string[];
  foreignKeys: { table: string; parent: string; count: number }[];
  tables: SqliteTableRead[];
  durationMs: number;
}

export interface SqliteSnapshotResult {
  library: string;
  journalMode: string;
  catalog: SqliteCatalog;
  /** Row counts read inside the same read transaction the copy was taken from. */
  counts: { name: string; rows: number }[];
  bytes: number;
  copyMs: number;
}

export interface SalvageTable {
  name: string;
  copied: number;
  /** Rowid ranges that could not be read, even row by row. */
  lostRowids: [number, number][];
  error?: string;
}

export interface SqliteSalvageResult {
  tables: SalvageTable[];
  /** Tables whose schema could not be read or recreated: lost entirely. */
  lostTables: { name: string; reason: string }[];
  /** Indexes, views and triggers that could not be recreated in the copy. */
  skippedObjects: { name: string; reason: string }[];
}

export type SqliteMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'result'; result: unknown }
  | { type: 'failure'; failure: WorkerFailure };
