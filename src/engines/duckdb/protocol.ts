import type { Catalog } from '../../core/types';

/** Requests the DuckDB worker process understands. */
export type WorkerRequest =
  | { action: 'inspect'; file: string }
  | { action: 'scan'; file: string }
  | { action: 'validate'; file: string }
  | { action: 'snapshot'; file: string; dest: string; destWal: string }
  | { action: 'finalize'; file: string }
  | { action: 'finalize-live'; file: string }
  | { action: 'execute'; file: string; sql: string }
  | { action: 'salvage'; file: string; dest: string }
  | { action: 'ddl'; file: string }
  | { action: 'probe'; file: string }
  | { action: 'version' };

/**
 * How a DuckDB failure is classified, so callers can pick the exit code and hint.
 * `disk-full` (ENOSPC, "No space left on device"), `storage` (EIO, EACCES, EROFS
 * from the file system), `no-memory` and `not-started` (the worker could not be
 * forked) say nothing about the file: the check could not run.
 */
export type FailureKind = 'lock' | 'wal' | 'corrupt' | 'not-duckdb' | 'io' | 'crash' | 'other' | 'disk-full' | 'storage' | 'no-memory' | 'not-started';

export interface WorkerFailure {
  kind: FailureKind;
  /** First line of DuckDB's message, without its stack trace. */
  message: string;
  pid?: number;
  exe?: string;
  /** The Node.js error code (ENOSPC, EIO…) when the failure came from the file system. */
  errno?: string;
  /** For `crash`: the signal that ended the worker (SIGKILL from the OOM killer or an abort). */
  signal?: string;
}

export interface NullKeyCount {
  schema: string;
  table: string;
  rows: number;
}

export interface InspectResult {
  library: string;
  catalog: Catalog;
  nullPrimaryKeys: NullKeyCount[];
}

export interface TableScan {
  schema: string;
  name: string;
  rows: number;
  /** Per-column `sum(hash(col))`, joined: equal content gives an equal fingerprint. */
  fingerprint?: string;
  error?: WorkerFailure;
}

export interface ScanResult {
  tables: TableScan[];
  durationMs: number;
}

export interface SnapshotResult extends InspectResult {
  /** Tables whose primary-key columns could not be read while the catalog was taken. */
  unreadable?: { schema: string; table: string; error: WorkerFailure }[];
  /** The schema as SQL at copy time, so `repair --strategy recreate` can rebuild it. */
  ddl: string[];
  walCopied: boolean;
  bytes: number;
  copyMs: number;
  /** How long DuckDB's shared lock on the source was held (open to close), which keeps the service from starting. */
  lockHeldMs?: number;
}

/** A live copy after its WAL was folded in: everything a snapshot records, read from the copy, plus its full read. */
export type LiveFinalizeResult = InspectResult & ScanResult & {
  unreadable: { schema: string; table: string; error: WorkerFailure }[];
  ddl: string[];
  /** Block scrub of the finalized copy, run beside the full read: in-use blocks failing their checksum, or missing. */
  badBlocks: number[];
};

export type WorkerMessage =
  | { type: 'progress'; phase: string; done: number; total: number }
  | { type: 'result'; result: unknown }
  | { type: 'failure'; failure: WorkerFailure };
