import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SchemaAcceptance } from '../core/schema-baseline';
import { writeFileAtomic } from './atomic';

export const ACCEPTED_SCHEMA_FORMAT = 'dbguard-accepted-schema/1';

/** `<backupDir>/accepted-schema/<target>.json`: beside the backups it refers to. */
export const acceptedSchemaPath = (backupDir: string, target: string) => path.join(backupDir, 'accepted-schema', `${target}.json`);

/**
 * The accepted schema of `target`, or undefined when none was recorded. A
 * record that cannot be read or is not ours also gives undefined: without it
 * every backup counts, so a damaged record can only add findings, never hide one.
 */
export function readAcceptedSchema(backupDir: string, target: string): SchemaAcceptance | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(acceptedSchemaPath(backupDir, target), 'utf8')) as SchemaAcceptance;
    if (value?.format !== ACCEPTED_SCHEMA_FORMAT || value.target !== target || !Array.isArray(value.covers) || !Array.isArray(value.tables) || !Array.isArray(value.sequences)) return undefined;
    return value;
  } catch {
    return undefined;
  }
}

/**
 * Records the accepted schema atomically (temp, fsync, rename), mode 0600 in
 * a folder of mode 0700; replaces the previous record. Throws the file-system
 * error (the caller turns it into a StorageError).
 */
export function writeAcceptedSchema(backupDir: string, record: SchemaAcceptance): string {
  const file = acceptedSchemaPath(backupDir, record.target);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return file;
}
