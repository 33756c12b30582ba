import type { ObjectBackend } from './backend';
import type { PackIndex } from './pack-index';

export interface CollectOptions {
  /** Repack packs whose live share (bytes) is below this (default 0.5; 0 never repacks). */
  repackBelow?: number;
  /** Plan only: nothing is written or deleted. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface CollectResult {
  dryRun: boolean;
  /** Packs removed because no snapshot references any of their blocks (or they had no index). */
  deletedPacks: string[];
  /** Index objects removed (of deleted or repacked packs, or whose pack is gone). */
  deletedIndexes: number;
  /** `.blocks` objects without a manifest that were removed. */
  deletedBlockLists: string[];
  /** Packs rewritten because their live share was below repackBelow. */
  repackedPacks: string[];
  /** New packs written by the repack. */
  writtenPacks: string[];
  /** Bytes freed (deleted objects minus new packs). */
  freedBytes: number;
  /** Things collect left alone and why (unreadable index, damaged pack…). */
  problems: string[];
}

export async function collectStore(_backend: ObjectBackend, _index: PackIndex, _packBytes: number, _opts: CollectOptions): Promise<CollectResult> {
  throw new Error('not implemented yet');
}
