/**
 * The dbguard-store/1 format: object keys, the JSON shapes of config.json,
 * pack indexes and the manifest's `store` part, the block-list text, and the
 * checks that a name from outside (target, file name, pack id) cannot leave
 * its folder. Pure: no I/O. README "Store format (dbguard-store/1)" is the
 * public description of the same.
 */
import * as path from 'node:path';
import { StorageError, storageErrorFrom } from '../../core/errors';
import type { ChunkPlan } from '../../engines/engine';
import type { Manifest } from '../manifest';

export const STORE_FORMAT = 'dbguard-store/1';

/** The chunking used when an engine has none: fixed 256 KiB blocks. */
export const DEFAULT_CHUNK_PLAN: ChunkPlan = { headerBytes: 0, chunkBytes: 256 * 1024 };

/** A pack is written when it reaches this size (or at the end of an ingest). */
export const PACK_TARGET_BYTES = 32 * 1024 * 1024;

/** The local store of a backup folder: `<backupDir>/store`. */
export function localStoreDir(backupDir: string): string {
  return path.join(backupDir, 'store');
}

/** config.json: always plaintext, even in an encrypted store. */
export interface StoreConfig {
  format: typeof STORE_FORMAT;
  createdAt: string;
  hash: 'sha256';
  encryption: null | { algorithm: 'AES-256-GCM'; kdf: unknown; check: string };
}

/** One block of a file: its sha256 (hex) and length. */
export interface BlockRef {
  hash: string;
  length: number;
}

/** `index/<packId>.json`: where each block of one pack lies. */
export interface PackIndexFile {
  format: typeof STORE_FORMAT;
  pack: string;
  bytes: number;
  blocks: [hash: string, offset: number, length: number][];
}

/** The `store` member of a snapshot's manifest. */
export interface StoreManifestPart {
  blocks: string;
  blocksSha256: string;
  blockCount: number;
  chunking: ChunkPlan;
}

export type StoreManifest = Manifest & { store: StoreManifestPart };

export const CONFIG_KEY = 'config.json';
export const packKey = (packId: string) => `packs/${packId.slice(0, 2)}/${packId}.pack`;
export const indexKey = (packId: string) => `index/${packId}.json`;
export const manifestKey = (target: string, fileName: string) => `snapshots/${target}/${fileName}.json`;
export const blocksKey = (target: string, fileName: string) => `snapshots/${target}/${fileName}.blocks`;

const HEX64 = /^[0-9a-f]{64}$/;

/** The pack id of a `packs/xx/<id>.pack` key, or undefined for any other key. */
export function packIdOfKey(key: string): string | undefined {
  const m = /^packs\/([0-9a-f]{2})\/([0-9a-f]{64})\.pack$/.exec(key);
  return m && m[2]!.startsWith(m[1]!) ? m[2] : undefined;
}

/** The pack id of an `index/<id>.json` key, or undefined. */
export function packIdOfIndexKey(key: string): string | undefined {
  const m = /^index\/([0-9a-f]{64})\.json$/.exec(key);
  return m ? m[1] : undefined;
}

/** `{ target, fileName, kind }` of a `snapshots/<target>/<fileName>.json|.blocks` key, or undefined. */
export function snapshotKeyParts(key: string): { target: string; fileName: string; kind: 'manifest' | 'blocks' } | undefined {
  const m = /^snapshots\/([^/]+)\/([^/]+)\.(json|blocks)$/.exec(key);
  if (!m || !safeName(m[1]!) || !safeName(m[2]!)) return undefined;
  return { target: m[1]!, fileName: m[2]!, kind: m[3] === 'json' ? 'manifest' : 'blocks' };
}

/** True for a name usable as one path segment: no slash, not `.`/`..`, not hidden, printable. */
export function safeName(name: string): boolean {
  return name.length > 0 && name.length <= 200 && !/[/\\\0]/.test(name) && !name.startsWith('.') && !/[\x00-\x1f]/.test(name);
}

/** Throws a plain Error (a bug in the caller) unless `name` is a safe path segment. */
export function assertSafeName(what: string, name: string): void {
  if (!safeName(name)) throw new Error(`invalid store ${what} ${JSON.stringify(name)}: must be one path segment, not hidden`);
}

/** The `.blocks` text: one `<sha256 hex> <length>\n` line per block, in file order. */
export function encodeBlockList(blocks: readonly BlockRef[]): Buffer {
  const parts: string[] = new Array(blocks.length);
  for (let i = 0; i < blocks.length; i++) parts[i] = `${blocks[i]!.hash} ${blocks[i]!.length}\n`;
  return Buffer.from(parts.join(''), 'ascii');
}

/** Parses a `.blocks` object; throws a plain Error saying which line is wrong. */
export function parseBlockList(data: Buffer): BlockRef[] {
  const text = data.toString('ascii');
  const out: BlockRef[] = [];
  let start = 0;
  let line = 1;
  while (start < text.length) {
    const end = text.indexOf('\n', start);
    if (end < 0) throw new Error(`line ${line} has no end of line (a truncated block list)`);
    const sp = start + 64;
    const hash = text.slice(start, sp);
    const length = Number(text.slice(sp + 1, end));
    if (!HEX64.test(hash) || text[sp] !== ' ' || !Number.isSafeInteger(length) || length <= 0) throw new Error(`line ${line} is not "<sha256> <length>"`);
    out.push({ hash, length });
    start = end + 1;
    line++;
  }
  return out;
}

/** Parses and checks a pack index object; throws a plain Error saying what is wrong. */
export function parsePackIndex(data: Buffer, packId: string): PackIndexFile {
  const v = JSON.parse(data.toString('utf8')) as PackIndexFile;
  if (v?.format !== STORE_FORMAT) throw new Error(`its format is ${JSON.stringify(v?.format)}, not ${STORE_FORMAT}`);
  if (v.pack !== packId) throw new Error(`it describes pack ${String(v.pack)}, not ${packId}`);
  if (!Number.isSafeInteger(v.bytes) || !Array.isArray(v.blocks)) throw new Error('it has no bytes or blocks');
  for (const b of v.blocks) {
    if (!Array.isArray(b) || !HEX64.test(String(b[0])) || !Number.isSafeInteger(b[1]) || !Number.isSafeInteger(b[2]) || b[1] < 0 || b[2] <= 0 || b[1] + b[2] > v.bytes) {
      throw new Error(`block entry ${JSON.stringify(b)} is not [sha256, offset, length] inside the pack`);
    }
  }
  return v;
}

/** The StoreManifestPart of a parsed manifest, or undefined when it has none (not a store snapshot). */
export function storePartOf(m: unknown): StoreManifestPart | undefined {
  const s = (m as { store?: StoreManifestPart } | undefined)?.store;
  if (!s || typeof s.blocks !== 'string' || !HEX64.test(String(s.blocksSha256)) || !Number.isSafeInteger(s.blockCount)) return undefined;
  if (!s.chunking || !Number.isSafeInteger(s.chunking.headerBytes) || !Number.isSafeInteger(s.chunking.chunkBytes)) return undefined;
  return s;
}

/**
 * Maps a backend error to a StorageError (exit 6) naming the object and the
 * store, or returns `err` unchanged when it is not a storage condition (the
 * remote layer maps its own errors before they get here).
 */
export function storeIoError(err: unknown, where: string, key: string, action: string): unknown {
  if (err instanceof StorageError) return err;
  return storageErrorFrom(err, `${key} in the store ${where}`, action) ?? err;
}
