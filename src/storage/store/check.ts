import type { ObjectBackend } from './backend';
import type { PackIndex } from './pack-index';
import type { StoreSnapshot } from './read';

export interface StoreCheckOptions {
  snapshots?: StoreSnapshot[];
  /** Also read every pack a snapshot needs and hash every block. */
  readData?: boolean;
  signal?: AbortSignal;
}

export interface StoreFinding {
  severity: 'error' | 'warning';
  code: string;
  message: string;
  hint: string;
  /** The pack (id) at fault, when one is. */
  pack?: string;
}

export interface SnapshotRef { target: string; id: string; fileName: string }

export interface StoreCheckResult {
  ok: boolean;
  /** One entry per checked snapshot. */
  snapshots: (SnapshotRef & { ok: boolean; findings: StoreFinding[] })[];
  /** Per missing or damaged pack: what is wrong and the snapshots that depend on it. */
  packs: { pack: string; key: string; problem: 'missing' | 'damaged' | 'no-index'; detail: string; snapshots: SnapshotRef[] }[];
  /** Problems of the store itself that no snapshot depends on (unreadable index, garbage). */
  findings: StoreFinding[];
  checkedBlocks: number;
  readPacks: number;
}

export async function checkStore(_backend: ObjectBackend, _index: PackIndex, _snaps: StoreSnapshot[], _opts: StoreCheckOptions): Promise<StoreCheckResult> {
  throw new Error('not implemented yet');
}
