import * as fs from 'node:fs';
import type { TableInfo } from '../core/types';
import { writeFileAtomic } from './atomic';
import type { EngineStamp } from '../engines/engine';

export const MANIFEST_FORMAT = 'dbguard-backup/1';

export interface ManifestTable extends TableInfo {
  /** Per-column content fingerprint from the validation read. */
  fingerprint?: string;
}

/** The proof that a backup is valid (DESIGN.md §2), stored as `<backup file>.json`. */
export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  id: string;
  target: string;
  source: string;
  createdAt: string;
  bytes: number;
  sha256: string;
  /** Which engine made and validated the copy (engines/registry.ts), and its library and format version. */
  engine: EngineStamp;
  tables: ManifestTable[];
  sequences: { schema: string; name: string }[];
  views: { schema: string; name: string }[];
  indexes: { schema: string; table: string; name: string }[];
  /** CREATE statements (schemas, sequences at copy time, tables in foreign-key order, views, indexes). */
  ddl?: string[];
  validation: { status: 'valid' | 'invalid'; checkedAt: string; durationMs: number; problems?: string[] };
  phases?: Record<string, number>;
  /** True when the engine's side files (a WAL) came with the copy and were folded into it. */
  walIncluded?: boolean;
  /** Tables and sequences the source had lost when this copy was made (`backup --allow-damaged`). */
  schemaLost?: string[];
  /** "locked": copied under DuckDB's shared lock; "live": a fenced copy of a file another process held read-write. */
  consistency?: 'locked' | 'live';
  /** The active database header iteration the copy was fenced by (live) or taken at (locked). */
  headerIteration?: number;
  /** Copies taken until one held its fence and passed validation (1 for locked). */
  attempts?: number;
  /** How long the source's shared lock was held (locked backups only). */
  lockHeldMs?: number;
  host?: string;
  dbguardVersion?: string;
  verifiedAt?: string;
}

export const manifestPath = (backupFile: string) => `${backupFile}.json`;

/** Reads a manifest; undefined when missing, unreadable, not JSON or not of our format. */
export function readManifest(backupFile: string): Manifest | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(manifestPath(backupFile), 'utf8')) as Manifest;
    if (value?.format !== MANIFEST_FORMAT || typeof value.id !== 'string' || !value.validation) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/** Writes a manifest atomically (temp, fsync, rename, fsync of the folder), mode 0600. */
export function writeManifest(backupFile: string, manifest: Manifest): void {
  writeFileAtomic(manifestPath(backupFile), `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
}
