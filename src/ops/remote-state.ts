/**
 * What the last pushes of each target did, in `<backupDir>/.dbguard-remote-<target>.json`
 * (written atomically by every push, CLI or daemon), so that status, /health,
 * /metrics and the maxAge alert can tell the off-site state without asking
 * the provider on every request.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from '../config/load';
import { parseDuration } from '../core/retry';
import { writeFileAtomic } from '../storage/atomic';

export interface RemoteState {
  target: string;
  /** The last push run: when it ended, whether it succeeded, its error. */
  lastPush: { at: string; ok: boolean; error: string | null; bytesUploaded: number } | null;
  /** When a push of this target last succeeded. */
  lastSuccessAt: string | null;
  /** The newest valid backup on the remote, as the last successful push saw it. */
  newest: { id: string; createdAt: string } | null;
  /** Totals over every push recorded here (for /metrics). */
  uploadedBytesTotal: number;
  failuresTotal: number;
}

const fileOf = (backupDir: string, target: string) => path.join(backupDir, `.dbguard-remote-${target}.json`);

/** The recorded state of `target` (an empty one when none was recorded or the file is unreadable). Never throws. */
export function readRemoteState(backupDir: string, target: string): RemoteState {
  try {
    const s = JSON.parse(fs.readFileSync(fileOf(backupDir, target), 'utf8')) as RemoteState;
    if (s && s.target === target) return s;
  } catch { /* none yet */ }
  return { target, lastPush: null, lastSuccessAt: null, newest: null, uploadedBytesTotal: 0, failuresTotal: 0 };
}

/** Records one push of `target` (atomic rewrite). Throws StorageError-like fs errors for the caller to report. */
export function recordPush(backupDir: string, target: string, r: { ok: boolean; error?: string; bytesUploaded: number; newest: { id: string; createdAt: string } | null }, at = new Date()): RemoteState {
  const s = readRemoteState(backupDir, target);
  const next: RemoteState = {
    target,
    lastPush: { at: at.toISOString(), ok: r.ok, error: r.error ?? null, bytesUploaded: r.bytesUploaded },
    lastSuccessAt: r.ok ? at.toISOString() : s.lastSuccessAt,
    newest: r.ok ? r.newest : s.newest,
    uploadedBytesTotal: s.uploadedBytesTotal + r.bytesUploaded,
    failuresTotal: s.failuresTotal + (r.ok ? 0 : 1),
  };
  writeFileAtomic(fileOf(backupDir, target), `${JSON.stringify(next, null, 2)}\n`);
  return next;
}

/** The off-site view of one target for status and /health: last push, newest off-site backup and its age, and whether it is older than remote.maxAge. Pure but for reading the state file. */
export function offsiteOf(config: Config, target: string, now: Date = new Date()) {
  if (!config.remote) return null;
  const s = readRemoteState(config.backupDir, target);
  const ageMs = s.newest ? Math.max(0, now.getTime() - new Date(s.newest.createdAt).getTime()) : null;
  const ageSeconds = ageMs === null ? null : Math.round(ageMs / 1000);
  const maxAgeMs = config.remote.maxAge ? parseDuration(config.remote.maxAge) : undefined;
  const stale = maxAgeMs !== undefined && (ageMs === null || ageMs > maxAgeMs);
  return {
    lastPush: s.lastPush,
    lastSuccessAt: s.lastSuccessAt,
    newest: s.newest ? { ...s.newest, ageSeconds } : null,
    maxAgeSeconds: maxAgeMs === undefined ? null : Math.round(maxAgeMs / 1000),
    stale,
  };
}
