/** Shared data shapes of dbguard; pure types, no I/O. */

export type Severity = 'error' | 'warning';

/** One thing a check found. `hint` names the dbguard command that fixes it. */
export interface Finding {
  severity: Severity;
  code: string;
  message: string;
  hint: string;
}

export interface TableCount {
  schema: string;
  name: string;
  rows: number;
}

export interface TableInfo extends TableCount {
  primaryKey: string[];
}

/** Everything the catalog of a DuckDB file holds that a backup must preserve. */
export interface Catalog {
  tables: TableInfo[];
  sequences: { schema: string; name: string }[];
  views: { schema: string; name: string }[];
  indexes: { schema: string; table: string; name: string }[];
}

/** Injected time source so schedules and retention are testable. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Minimal structured logger interface (pino-compatible). */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
