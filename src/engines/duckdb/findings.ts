import type { Finding } from '../../core/types';
import type { FileHeader } from './header';
import { BLOCKS_START, STORAGE_VERSIONS } from './header';
import type { ScrubResult } from './scrub';

const err = (code: string, message: string, hint: string): Finding => ({ severity: 'error', code, message, hint });
const warn = (code: string, message: string, hint: string): Finding => ({ severity: 'warning', code, message, hint });

const list = (ids: number[]) => (ids.length > 8 ? `${ids.slice(0, 8).join(', ')}, … (${ids.length} in all)` : ids.join(', '));

/**
 * Findings from the file header alone, before DuckDB is asked to open the file.
 * `stop` is true when DuckDB must not open it (foreign format, no valid header).
 */
export function headerFindings(file: string, h: FileHeader, target: string): { findings: Finding[]; stop: boolean } {
  const repair = `dbguard repair ${target}`;
  switch (h.kind) {
    case 'empty':
      return { findings: [err('empty-file', `${file} is empty (0 bytes)`, `${repair} (restores the newest valid backup)`)], stop: true };
    case 'sqlite':
      return { findings: [err('not-duckdb', `${file} is a SQLite database, not DuckDB`, `check targets.${target}.path in the config; if this file should be DuckDB, run ${repair}`)], stop: true };
    case 'text':
      return { findings: [err('not-duckdb', `${file} is a text file ("${h.preview.trim().slice(0, 30)}"), not a DuckDB database`, `${repair} (the file is moved to quarantine, not deleted)`)], stop: true };
    case 'unknown':
      return { findings: [err('bad-magic', `${file} has no DuckDB header (bytes 8–12 are not "DUCK"): the header was overwritten or this is not a DuckDB file`, repair)], stop: true };
    case 'duckdb':
      break;
  }
  const findings: Finding[] = [];
  if (h.fileSize < BLOCKS_START) {
    return { findings: [err('truncated', `${file} is truncated: ${h.fileSize} bytes, shorter than DuckDB's 12 KiB of headers`, repair)], stop: true };
  }
  if (h.storageVersion !== undefined && !STORAGE_VERSIONS[h.storageVersion]) {
    findings.push(warn('unknown-storage-version', `${file} has storage version ${h.storageVersion}, which this dbguard does not know (written by ${h.library || 'an unknown DuckDB'})`, `upgrade dbguard (npm update dbguard), then dbguard check ${target}; or export the database with the DuckDB version that wrote it`));
  }
  if (h.mainChecksumOk === false) {
    findings.push(err('main-header-damaged', `${file}: the main file header (bytes 0–4096) fails its checksum`, repair));
  }
  const bad = h.headers.filter((x) => !x.checksumOk);
  if (!h.active) {
    findings.push(err('db-headers-damaged', `${file}: both database headers (at 4096 and 8192) fail their checksums; DuckDB cannot find the data`, repair));
    return { findings, stop: true };
  }
  if (bad.length) {
    // DuckDB verifies both database headers when it opens a file and refuses it if either fails
    findings.push(err('db-header-damaged', `${file}: the database header at ${bad.map((b) => b.offset).join(', ')} fails its checksum (the other one is intact, but DuckDB refuses to open a file with either header damaged)`, repair));
  }
  const size = h.active.blockAllocSize;
  if (size <= 0 || size % 4096 !== 0) {
    findings.push(err('db-headers-damaged', `${file}: the active database header gives an impossible block size (${size})`, repair));
    return { findings, stop: true };
  }
  if ((h.fileSize - BLOCKS_START) % size !== 0) {
    findings.push(err('truncated', `${file} is truncated: ${h.fileSize} bytes ends inside block ${Math.floor((h.fileSize - BLOCKS_START) / size)} (blocks are ${size} bytes)`, repair));
  }
  return { findings, stop: false };
}

/** Findings from the offline block scrub. */
export function scrubFindings(file: string, s: ScrubResult, target: string): Finding[] {
  const out: Finding[] = [];
  const repair = `dbguard repair ${target}`;
  if (s.missingBlocks.length) {
    out.push(err('truncated', `${file} is truncated: ${s.missingBlocks.length} block(s) in use lie beyond the end of the file (${list(s.missingBlocks)})`, repair));
  }
  if (s.badBlocks.length) {
    out.push(err('bad-blocks', `${file}: ${s.badBlocks.length} block(s) in use fail their checksum (block ${list(s.badBlocks)}); queries that touch them will fail`, `${repair} (salvages readable rows or restores the newest valid backup)`));
  }
  if (s.badFreeBlocks.length) {
    out.push(warn('bad-free-blocks', `${file}: ${s.badFreeBlocks.length} free block(s) fail their checksum (block ${list(s.badFreeBlocks)}); they hold no data, but the disk may be failing`, `no repair is needed for free blocks; run dbguard backup ${target} now and check the disk (smartctl, dmesg)`));
  }
  return out;
}
