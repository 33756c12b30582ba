/**
 * The Engine interface: everything dbguard knows about one file format.
 *
 * ops/ and storage/ never name a format; they ask the target's Engine. An
 * engine is one folder under src/engines/<name>/ whose index.ts exports an
 * object implementing Engine, and it registers itself with ONE line in
 * src/engines/registry.ts:
 *
 *     import { sqliteEngine } from './sqlite';   // and add it to ENGINES:
 *     const ENGINES: readonly Engine[] = [duckdbEngine, sqliteEngine];
 *
 * The registry's names become the config enum `targets.<name>.engine`, its
 * magic-byte detectors decide the engine of a target without one, and its
 * backup extensions are what the repository lists. Nothing else changes.
 *
 * Rules every engine keeps (DESIGN.md §5):
 * - The source is never written: every open of it is read-only, in a child
 *   process where the library can crash or hang.
 * - Damage is returned as findings; "I could not check" (full disk, EIO, no
 *   memory, a worker killed by SIGKILL) is an EngineFailed whose kind is one
 *   of NOT_RUN_KINDS, never a finding and never a reason to act.
 * - Side files that must never be separated from the database (SQLite's hot
 *   journal, DuckDB's WAL) are moved, copied and quarantined with it.
 */
import type { Catalog, Finding, Logger } from '../core/types';

/** How an engine operation failed; callers pick the exit code and hint from `kind`. */
export type FailureKind =
  /** Another process holds the file (a lock the engine cannot share); `pid`/`exe` when known. */
  | 'lock'
  /** A side file (DuckDB WAL, SQLite -wal/-journal) cannot be replayed into the database. */
  | 'wal'
  /** The content is damaged (checksum, b-tree, deserialization). */
  | 'corrupt'
  /** The bytes are not this engine's format. */
  | 'foreign'
  /** The format's own crash flag says the file must be recovered first (GDBM "needs recovery"). */
  | 'needs-recovery'
  | 'io'
  /** The worker died without answering (`signal` says how). */
  | 'crash'
  | 'other'
  /** ENOSPC/EDQUOT: says nothing about the file. */
  | 'disk-full'
  /** EIO, EACCES, EROFS… from the file system: says nothing about the file. */
  | 'storage'
  | 'no-memory'
  /** The worker or tool could not be started (fork failed, tool missing). */
  | 'not-started';

/** A classified failure of an engine operation (sent over IPC by worker processes: plain data). */
export interface EngineFailure {
  kind: FailureKind;
  /** First line of the library's or tool's message, without a stack trace. */
  message: string;
  pid?: number;
  exe?: string;
  /** The Node.js error code (ENOSPC, EIO…) when the failure came from the file system. */
  errno?: string;
  /** For `crash`: the signal that ended the worker. */
  signal?: string;
  /** What to do, when the engine knows better than the kind's default (e.g. "apt-get install gdbmtool" for `not-started`). */
  hint?: string;
}

/** An engine operation failed, or its worker died. Every Engine method rejects with this for engine-side failures. */
export class EngineFailed extends Error {
  constructor(readonly failure: EngineFailure) {
    super(failure.message);
  }
}

/** A table whose rows (or key columns) could not be read while the catalog was taken. */
export interface UnreadableTable {
  schema: string;
  table: string;
  error: EngineFailure;
}

export interface NullKeyCount {
  schema: string;
  table: string;
  rows: number;
}

/**
 * The catalog of a database. Engines without tables (GDBM) document a
 * pseudo-catalog: one table `main.keys` whose rows are the keys, no
 * sequences, views or indexes.
 */
export interface Inspection {
  /** The library or tool that read the file, e.g. "v1.5.6", "SQLite 3.46.1", "gdbmtool 1.23". */
  library: string;
  catalog: Catalog;
  nullPrimaryKeys: NullKeyCount[];
  unreadable?: UnreadableTable[];
}

export interface TableScan {
  schema: string;
  name: string;
  rows: number;
  /** Content fingerprint: equal content gives an equal string (any stable format per engine). */
  fingerprint?: string;
  error?: EngineFailure;
}

/** A full read: every row (and, where the format has columns, every column) of every table. */
export interface FullRead {
  tables: TableScan[];
  durationMs: number;
}

/** What the file's first bytes say, read without the engine's library. */
export interface HeaderReport {
  findings: Finding[];
  /** True when the library must not be asked to open the file (foreign format, no valid header, empty…). */
  stop: boolean;
  fileSize: number;
  library?: string;
  storageVersion?: number;
  /** The header iteration/change counter, when the format has one. */
  iteration?: number;
  /** Bytes a scrub reads, for progress totals; 0 or undefined when there is no scrub. Scrub progress phase: "scrub". */
  scrubBytes?: number;
  /** Engine-private parsed header, handed back to scrub()/scrubLive(); ops never look inside. */
  state?: unknown;
}

export type Progress = (phase: string, done: number, total: number) => void;

export interface RunOptions {
  signal?: AbortSignal;
  onProgress?: Progress;
  log?: Logger;
}

/** A live (no-lock) check of a file another process writes: header and scrub, judged so a busy writer cannot fake damage. */
export interface LiveScrub {
  findings: Finding[];
  /** One line saying what was and was not checked. */
  covered: string;
  iteration?: number;
}

export interface CopyOptions extends RunOptions {
  /** The target's name, for messages and hints. */
  target: string;
  /** How long to wait for a writer's lock (ms); 0 fails at once (BusyError, exit 5). */
  waitMs: number;
  /** May the engine copy a file held by another process live (fenced/snapshot copy) instead of waiting? */
  live: boolean;
  /** Hashes the final copy; a live copy may run it beside its own validation. */
  hashFile?: (file: string) => Promise<string>;
}

/** A consistent copy at `dest`, with what the manifest needs, all read under the copy's own consistency. */
export interface CopyResult extends Inspection {
  /** CREATE statements at copy time, for `repair --strategy recreate`. */
  ddl: string[];
  /** True when side files came with the copy and validate() must fold them in (DuckDB: a checkpoint). */
  sideFilesCopied: boolean;
  bytes: number;
  copyMs: number;
  consistency: 'locked' | 'live';
  /** Copies taken until one held (1 for locked). */
  attempts: number;
  /** Why earlier live copies were discarded, oldest first. */
  retries: string[];
  iteration?: number;
  /** How long the source's shared lock was held (locked copies). */
  lockHeldMs?: number;
  /** Set when the copy was already finalized and validated in a separate process (live copies). */
  validated?: Inspection & FullRead;
  /** sha256 of the final copy, when `hashFile` already ran. */
  sha256?: string;
}

export interface ValidateOptions extends RunOptions {
  /** Called once the copy's bytes are final (after any fold-in of side files), so hashing can start beside the read. */
  onFinal?: () => void;
}

/** Rows of one table that could not be brought back whole. */
export interface LostRange {
  fromRowid: number;
  toRowid: number;
  rows: number;
  /** Columns whose values in this range were unreadable (set to NULL/default); empty when whole rows were lost. */
  columns: string[];
  rowsLost: boolean;
  reason: string;
}

export interface SalvagedTable {
  schema: string;
  name: string;
  /** Rows the damaged file claims, or null when even that is unreadable. */
  sourceRows: number | null;
  copiedRows: number;
  lost: LostRange[];
}

export interface SalvageReport {
  tables: SalvagedTable[];
  /** Schema objects that could not be recreated, with the reason. */
  failedObjects: string[];
  lossless: boolean;
  /** True when a side file could not be replayed and was left out (it stays in quarantine). */
  sideFilesLeftOut?: boolean;
}

/** One line of `dbguard doctor`. */
export interface DoctorCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** How to fix it (e.g. "apt-get install gdbmtool"). */
  hint?: string;
}

/** How the dedup store (issue 11) should cut a file into chunks aligned with the format's pages. */
export interface ChunkPlan {
  /** Bytes at the start cut as one chunk (DuckDB: 12 KiB of headers); 0 for none. */
  headerBytes: number;
  /** Size of every following chunk (DuckDB block_alloc_size, SQLite page size, else 256 KiB). */
  chunkBytes: number;
}

/** The manifest's `engine` object. */
export interface EngineStamp {
  name: string;
  library: string;
  storageVersion: number | null;
}

/** One embedded-database format. Methods never write the source file. */
export interface Engine {
  /** Registry key, config value `targets.<n>.engine` and manifest `engine.name`: lower-case, stable forever. */
  readonly name: string;
  /** Name for messages: "DuckDB", "SQLite", "GDBM". */
  readonly label: string;
  /** File extensions this format's files carry, default first (".duckdb"); the repository lists backups of each. */
  readonly extensions: readonly string[];

  /** True when `head` (the first ≤ 4096 bytes of a non-empty file) carries this format's magic. Pure; never throws. */
  detect(head: Buffer): boolean;

  /** The extension of a backup of `source`: its own when in `extensions`, else the default. Pure. */
  backupExtension(source: string): string;

  /**
   * True when `name` (a file name in the same folder) is a side file of the
   * database named `base` (DuckDB: `base.wal*`; SQLite: `base-wal`, `-shm`,
   * `-journal`). Move-aside, restore and repair move these with the database. Pure.
   */
  isSideFile(base: string, name: string): boolean;

  /**
   * True when the side file `name` of `base` must never be separated from the
   * database (SQLite's hot journal: without it the database is corrupt): it
   * is never deleted, and moved only together with the database. Pure.
   */
  inseparable(base: string, name: string): boolean;

  /** Reads and judges the header without the library (magic, sizes, checksums). Reads a few KiB; never writes. Throws only on I/O errors. */
  readHeader(file: string, target: string): HeaderReport;

  /** Findings about side files present now (a pending WAL is normal; a hot journal is a warning). Never throws. */
  sideFileFindings(file: string, target: string): Finding[];

  /** The finding for an open or read that failed with a failure of the file (not a NOT_RUN kind, not `lock`). Pure. */
  failureFinding(file: string, target: string, failure: EngineFailure): Finding;

  /** Catalog, row counts and NULL-key test, read-only in a separate process. Rejects with EngineFailed. */
  inspect(file: string, opts?: RunOptions): Promise<Inspection>;

  /** inspect() plus a full read of every table (counts and fingerprints). Read-only. Rejects with EngineFailed. */
  scan(file: string, opts?: RunOptions): Promise<Inspection & FullRead>;

  /**
   * Optional: verifies every page/block checksum of a file no one writes, as
   * findings. Formats without checksums leave it out. Throws on I/O errors.
   */
  scrub?(file: string, target: string, header: HeaderReport, opts?: RunOptions): Promise<Finding[]>;

  /**
   * Optional: the cheaper structural check `check --quick` (and guard without
   * `--full-check`) runs instead of scrub(), as findings (SQLite: `PRAGMA
   * quick_check` and `foreign_key_check`, without a full read). Engines
   * without it do no scrub on the quick path. Read-only; throws on I/O errors.
   */
  quickScrub?(file: string, target: string, header: HeaderReport, opts?: RunOptions): Promise<Finding[]>;

  /** Optional: header and scrub of a file another process writes, without locking it. */
  scrubLive?(file: string, target: string, header: HeaderReport, opts?: RunOptions): Promise<LiveScrub>;

  /**
   * The PID (and program) of another process that holds `file` for writing,
   * told without opening it (Linux /proc/locks); undefined when none or when
   * it cannot be told. Never throws.
   */
  holder(file: string): { pid: number; exe?: string } | undefined;

  /**
   * Opens `file` the way a writer would and reports whether another process
   * holds it (restore refuses to replace a file in use). Never writes.
   * Resolves undefined when free; rejects with EngineFailed for other failures.
   */
  probeBusy(file: string): Promise<{ pid?: number; exe?: string; message: string } | undefined>;

  /**
   * A consistent copy of `source` at `dest` (plus side files named
   * `dest`+suffix when `sideFilesCopied`): under a shared lock, waiting up to
   * `waitMs` for a writer; or, when `live` and the file is held, live (fenced
   * or snapshot). Never writes the source. On failure, removes what it wrote at
   * `dest`. Rejects with BusyError (5), IntegrityError (4, the source
   * cannot be read), EngineFailed or StorageError.
   */
  copy(source: string, dest: string, opts: CopyOptions): Promise<CopyResult>;

  /**
   * Finalizes (folds copied side files in) and validates a copy in a separate
   * process: catalog and a full read of it. With `made` undefined (verify of
   * a stored backup) it only reads. Afterwards no side file is left beside
   * `copy`. Rejects with EngineFailed.
   */
  validate(copy: string, made: CopyResult | undefined, opts?: ValidateOptions): Promise<Inspection & FullRead>;

  /** The manifest's `engine` object for a validated copy. Reads the copy's header; never throws for a valid copy. */
  stamp(copy: string, validated: Inspection): EngineStamp;

  /**
   * Salvages what can be read of `damaged` into a new database at `dest`
   * (every table whose schema reads, range by range). `damaged` is a copy in
   * quarantine, with its side files beside it; the engine may write helper
   * files in that folder (e.g. the database without a WAL that cannot be
   * replayed, then `sideFilesLeftOut`). Never writes `damaged` itself.
   * Resolves a report saying what was lost; rejects with EngineFailed when
   * nothing could be salvaged, leaving nothing at `dest`.
   */
  salvage(damaged: string, dest: string, opts?: RunOptions): Promise<SalvageReport>;

  /** The CREATE statements of `file` (read-only), for recreate. Rejects with EngineFailed. */
  ddl(file: string): Promise<string[]>;

  /** Creates (or extends) the database at `dest` by running `sql` (DDL, demo data). Rejects with EngineFailed. */
  recreate(dest: string, sql: string, opts?: RunOptions): Promise<void>;

  /** Whether this engine's library/tools work on this machine, with install hints. Never throws. */
  doctor(): Promise<DoctorCheck[]>;

  /** Optional: SQL for the sample database `init --demo` creates for `target` (run through `recreate`). Pure. */
  demoSql?(target: string): string;

  /** Optional: chunk boundaries for the dedup store (issue 11). Reads the header; never throws (falls back to 256 KiB). */
  chunking?(file: string): ChunkPlan;

  /**
   * Optional: an empty database is a state this format's applications start
   * from (GDBM: Flower's state file). Then recreate needs no schema, and
   * repair's auto strategy, when neither salvage nor a verified backup
   * worked, recreates an empty database and reports every key as lost.
   */
  readonly recreatesEmpty?: boolean;
}

/** Failure kinds that say nothing about the file: the operation could not run (DESIGN.md §5, invariant 9). */
export const NOT_RUN_KINDS: readonly FailureKind[] = ['disk-full', 'storage', 'no-memory', 'not-started'];

/**
 * The one rule for "the check could not run" (DESIGN.md §5, invariant 9): a
 * full disk, a file-system error of the machine, no memory, a worker that
 * could not be forked or was killed (SIGKILL: the OOM killer, or an abort).
 * Such a failure says nothing about the file; callers must not report it as
 * damage nor act on it. Pure.
 */
export function couldNotRun(f: EngineFailure): boolean {
  return NOT_RUN_KINDS.includes(f.kind) || (f.kind === 'crash' && f.signal === 'SIGKILL');
}

/** Default chunk size of the dedup store for formats without pages. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;
