/**
 * Store locks on a remote (restic's model, with lock objects): a push holds a
 * SHARED lock object `locks/shared-<pid>-<rand>.json` for its whole run and
 * re-puts it every `refreshMs`, so a lock whose object has not been
 * rewritten for `staleMs` belongs to a run that died on another machine.
 * Times are compared in the SERVER's clock (the objects' LastModified), so a
 * client clock that is off changes nothing. `prune --remote` does not take
 * the exclusive lock (pushes may run during it): it reads `liveLocks` and
 * never deletes packs newer than the oldest live one (see ops/remote-prune.ts).
 */
import * as crypto from 'node:crypto';
import * as os from 'node:os';
import { BusyError } from '../core/errors';
import { alive, parseLock, type LockInfo } from '../storage/lock';
import type { ObjectBackend } from '../storage/store/backend';
import type { StoreLock, StoreLocker } from '../storage/store/store-lock';

/** Default refresh period of a held remote lock (restic: 5 min). */
export const LOCK_REFRESH_MS = 5 * 60 * 1000;
/** A lock object not rewritten for this long is stale (restic: 30 min). */
export const LOCK_STALE_MS = 30 * 60 * 1000;

export interface RemoteLockEntry {
  key: string;
  kind: 'shared' | 'exclusive';
  info: LockInfo | undefined;
  /** Server time of the object's last (re)write. */
  modifiedAt: Date;
  /** Server time the lock was first written (from its text; else modifiedAt). */
  since: Date;
}

const LOCK_NAME = /^locks\/(shared|exclusive)-\d+-[0-9a-f]+\.json$/;

/**
 * Every lock object under `locks/`, with `live` telling the ones of runs
 * still alive: same host → its PID runs; other host → rewritten within
 * `staleMs` of `serverNow`. Read-only. Throws the backend's error.
 */
export async function listRemoteLocks(backend: ObjectBackend, serverNow: Date, staleMs = LOCK_STALE_MS, signal?: AbortSignal): Promise<(RemoteLockEntry & { live: boolean })[]> {
  const out: (RemoteLockEntry & { live: boolean })[] = [];
  for (const o of await backend.list('locks/', signal)) {
    const m = LOCK_NAME.exec(o.key);
    if (!m) continue;
    let text: string | undefined;
    try {
      text = (await backend.get(o.key, signal)).toString('utf8');
    } catch {
      continue; // released meanwhile
    }
    const info = parseLock(text);
    const firstAt = info && (info as LockInfo & { serverStartedAt?: string }).serverStartedAt;
    const since = firstAt ? new Date(firstAt) : o.modifiedAt;
    const live = info && info.host === os.hostname() ? alive(info.pid) : serverNow.getTime() - o.modifiedAt.getTime() < staleMs;
    out.push({ key: o.key, kind: m[1] as 'shared' | 'exclusive', info, modifiedAt: o.modifiedAt, since: Number.isNaN(since.getTime()) ? o.modifiedAt : since, live });
  }
  return out;
}

const describe = (e: RemoteLockEntry) => e.info ? `${e.kind} lock of another dbguard run (${e.info.command}, PID ${e.info.pid} on ${e.info.host}, since ${e.info.startedAt})` : 'an unreadable lock object';

/**
 * Lock objects with a heartbeat. Write-then-look: a run first puts its own
 * complete lock object and only then lists the others, so two racing runs
 * see each other. Stale locks (dead PID on this host, or not refreshed
 * within staleMs) are removed on the way. BusyError (exit 5) names a live
 * conflicting holder.
 */
export class RemoteStoreLocker implements StoreLocker {
  constructor(private readonly backend: ObjectBackend, private readonly refreshMs = LOCK_REFRESH_MS, private readonly staleMs = LOCK_STALE_MS) {}

  shared(command: string): Promise<StoreLock> {
    return this.take('shared', command);
  }

  exclusive(command: string): Promise<StoreLock> {
    return this.take('exclusive', command);
  }

  private async take(kind: 'shared' | 'exclusive', command: string): Promise<StoreLock> {
    const key = `locks/${kind}-${process.pid}-${crypto.randomBytes(4).toString('hex')}.json`;
    const info: LockInfo & { serverStartedAt?: string } = { pid: process.pid, host: os.hostname(), command, startedAt: new Date().toISOString() };
    await this.backend.put(key, Buffer.from(JSON.stringify(info)));
    const own = await this.backend.head(key);
    info.serverStartedAt = (own?.modifiedAt ?? new Date()).toISOString();
    const text = () => Buffer.from(JSON.stringify(info));
    let released = false;
    let refreshing: Promise<void> = Promise.resolve();
    // a refresh still in flight would put the lock back after its removal: wait for it first
    const remove = async () => { released = true; clearInterval(timer); await refreshing; await this.backend.delete(key); };
    const timer = setInterval(() => {
      if (!released) refreshing = this.backend.put(key, text()).catch(() => { /* the next refresh tries again */ });
    }, this.refreshMs);
    timer.unref();
    try {
      await this.backend.put(key, text());
      const now = own?.modifiedAt ?? new Date();
      for (const e of await listRemoteLocks(this.backend, now, this.staleMs)) {
        if (e.key === key) continue;
        if (!e.live) {
          await this.backend.delete(e.key);
          continue;
        }
        if (kind === 'exclusive' || e.kind === 'exclusive') {
          throw new BusyError(`the remote store is busy: ${describe(e)} at ${this.backend.where}/${e.key} prevents a ${kind} lock (${command})`,
            `wait for it to finish, or use --wait 5m; if no such run exists any more, it goes stale ${Math.round(this.staleMs / 60000)} min after its last refresh`, e.info?.pid, 'store-locked');
        }
      }
    } catch (err) {
      await remove().catch(() => undefined);
      throw err;
    }
    return { kind, where: `${this.backend.where}/${key}`, tookOverFrom: [], release: async () => { if (!released) await remove(); } };
  }
}
