import type { Catalog } from '../../core/types';
import type { EngineFailure as WorkerFailure, NullKeyCount, TableScan } from '../engine';

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

/** DuckDB failures use the engine-wide classification (engines/engine.ts). */
export type { FailureKind, EngineFailure as WorkerFailure, NullKeyCount, TableScan } from '../engine';

export interface InspectResult {
  library: string;
  catalog: Catalog;
  nullPrimaryKeys: NullKeyCount[];
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
