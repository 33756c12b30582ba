import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Engine } from './engine';
import { duckdbEngine } from './duckdb';
import { sqliteEngine } from './sqlite';
import { gdbmEngine } from './gdbm';

/**
 * Every engine dbguard knows. Adding one is ONE line here (import it and list
 * it); see the comment at the top of engine.ts. Order matters only for
 * detection by extension: the first engine claiming an extension wins.
 */
const ENGINES: readonly Engine[] = [duckdbEngine, sqliteEngine, gdbmEngine];

/** The registered engines, in registry order. */
export function engines(): readonly Engine[] {
  return ENGINES;
}

/** The registered engine names, for the config enum and messages ("duckdb", "sqlite"…). */
export function engineNames(): [string, ...string[]] {
  return ENGINES.map((e) => e.name) as [string, ...string[]];
}

/** The engine registered as `name`, or undefined. Pure. */
export function engineNamed(name: string): Engine | undefined {
  return ENGINES.find((e) => e.name === name);
}

/** "duckdb, sqlite or gdbm": the choices, for error messages. */
export function engineChoices(): string {
  const names = engineNames().map((n) => `"${n}"`);
  return names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** Bytes read for detection: every format's magic lies in the first 4 KiB. */
export const DETECT_BYTES = 4096;

/** The engine whose magic bytes `head` carries; undefined for none (empty, text, unknown). Pure. */
export function detectBytes(head: Buffer): Engine | undefined {
  if (head.length === 0) return undefined;
  return ENGINES.find((e) => e.detect(head));
}

/**
 * The engine whose magic bytes the file at `file` carries; undefined when the
 * file is missing, empty, unreadable or of no registered format. Reads at most
 * 4 KiB; never writes, never throws.
 */
export function detectFile(file: string): Engine | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(DETECT_BYTES);
    const n = fs.readSync(fd, head, 0, DETECT_BYTES, 0);
    return detectBytes(head.subarray(0, n));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The first engine whose `extensions` hold the extension of `file` (case-insensitive); undefined otherwise. Pure. */
export function engineForExtension(file: string): Engine | undefined {
  const ext = path.extname(file).toLowerCase();
  if (!ext) return undefined;
  return ENGINES.find((e) => e.extensions.includes(ext));
}

/** Every backup extension of every registered engine (".duckdb", ".db"…), without duplicates. */
export function allExtensions(): string[] {
  return [...new Set(ENGINES.flatMap((e) => e.extensions))];
}
