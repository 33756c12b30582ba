/**
 * The store lock (restic's model): any number of SHARED holders (ingest,
 * publish, removing snapshots) or one EXCLUSIVE holder (collect). Every
 * holder first writes its own lock entry, complete, and only then looks at
 * the others; whoever sees a conflict removes its own entry and is busy. So
 * two runs that race both see each other (at worst both back off), and
 * never both proceed. Entries of processes dead on this host are stale and
 * removed.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BusyError, storageErrorFrom } from '../../core/errors';
import { alive, createExclusive, parseLock, removeStale, type LockInfo } from '../lock';
import type { ObjectBackend } from './backend';

/** A held store lock. `release` is idempotent. */
export interface StoreLock {
  readonly kind: 'shared' | 'exclusive';
  /** Where the lock entry is (a file or object key), for messages. */
  readonly where: string;
  /** Stale entries of dead processes that were removed on the way. */
  readonly tookOverFrom: LockInfo[];
  release(): Promise<void>;
}

/** Takes store locks; `LocalStoreLocker` for a folder, `ObjectStoreLocker` for any backend. */
export interface StoreLocker {
  shared(command: string): Promise<StoreLock>;
  exclusive(command: string): Promise<StoreLock>;
}

interface Entry { name: string; text: string | undefined; info: LockInfo | undefined }

/** Where lock entries live and how one is created and removed. */
interface LockSpace {
  where(name: string): string;
  /** The name an exclusive entry gets (local: the one `exclusive.json`). */
  exclusiveName(): string;
  /** Creates `name` complete; false when it exists already. */
  create(name: string, text: string): Promise<boolean>;
  entries(): Promise<Entry[]>;
  /** Removes `name` if it still holds `text`; `stale`: it is a dead run's (several runs may remove it at once). */
  remove(name: string, text: string | undefined, stale?: boolean): Promise<void>;
}

const isLockName = (n: string) => /^(shared|exclusive)(-\d+-[0-9a-f]+)?\.json$/.test(n);
const isExclusive = (n: string) => n.startsWith('exclusive');

const describe = (e: Entry) => e.info
  ? `${isExclusive(e.name) ? 'exclusive' : 'shared'} lock of another dbguard run (${e.info.command}, PID ${e.info.pid} on ${e.info.host}, since ${e.info.startedAt})`
  : `an unreadable lock entry`;

function busy(space: LockSpace, holder: Entry, what: string): BusyError {
  return new BusyError(
    `the store is busy: ${describe(holder)} at ${space.where(holder.name)} prevents ${what}`,
    `wait for it to finish, or use --wait 5m; if no such process exists, remove ${space.where(holder.name)}`,
    holder.info?.pid,
    'store-locked',
  );
}

class Locker implements StoreLocker {
  constructor(private readonly space: LockSpace) {}

  /** Live entries other than `own`; removes stale ones (dead on this host) on the way. */
  private async others(own: string | undefined, tookOver: LockInfo[]): Promise<Entry[]> {
    const me = os.hostname();
    const live: Entry[] = [];
    for (const e of await this.space.entries()) {
      if (e.name === own) continue;
      if (e.info && e.info.host === me && !alive(e.info.pid)) {
        await this.space.remove(e.name, e.text, true);
        tookOver.push(e.info);
        continue;
      }
      live.push(e);
    }
    return live;
  }

  private held(kind: 'shared' | 'exclusive', name: string, text: string, tookOverFrom: LockInfo[]): StoreLock {
    let released = false;
    return {
      kind, where: this.space.where(name), tookOverFrom,
      release: async () => {
        if (released) return;
        released = true;
        await this.space.remove(name, text);
      },
    };
  }

  async shared(command: string): Promise<StoreLock> {
    const text = JSON.stringify(lockInfo(command));
    const name = `shared-${process.pid}-${crypto.randomBytes(4).toString('hex')}.json`;
    const tookOver: LockInfo[] = [];
    await this.space.create(name, text);
    const conflict = (await this.others(name, tookOver).catch(async (err) => { await this.space.remove(name, text); throw err; })).find((e) => isExclusive(e.name));
    if (conflict) {
      await this.space.remove(name, text);
      throw busy(this.space, conflict, `a shared lock (${command})`);
    }
    return this.held('shared', name, text, tookOver);
  }

  async exclusive(command: string): Promise<StoreLock> {
    const text = JSON.stringify(lockInfo(command));
    const tookOver: LockInfo[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const before = await this.others(undefined, tookOver);
      if (before.length > 0) throw busy(this.space, before[0]!, `the exclusive lock (${command})`);
      const name = this.space.exclusiveName();
      if (!(await this.space.create(name, text))) continue; // another run took it meanwhile, or a stale one: look again
      const after = await this.others(name, tookOver).catch(async (err) => { await this.space.remove(name, text); throw err; });
      if (after.length > 0) {
        await this.space.remove(name, text);
        throw busy(this.space, after[0]!, `the exclusive lock (${command})`);
      }
      return this.held('exclusive', name, text, tookOver);
    }
    throw new BusyError(`could not take the exclusive lock of the store at ${this.space.where('')}`, 'another run is taking it; try again, or use --wait 5m', undefined, 'store-locked');
  }
}

const lockInfo = (command: string): LockInfo => ({ pid: process.pid, host: os.hostname(), command, startedAt: new Date().toISOString() });

const readText = (file: string) => { try { return fs.readFileSync(file, 'utf8'); } catch { return undefined; } };

const mapFs = (err: unknown, file: string, action: string) => storageErrorFrom(err, file, action) ?? err;

/**
 * Lock entries as files in `<store>/locks/`: `shared-<pid>-<rand>.json` and
 * `exclusive.json`, each created complete (hard link of a finished file, via
 * storage/lock.ts), mode 0600. Throws BusyError (exit 5) naming the holder,
 * StorageError (exit 6) when the folder cannot be written.
 */
export class LocalStoreLocker extends Locker {
  constructor(dir: string) {
    const where = (name: string) => path.join(dir, name);
    super({
      where,
      exclusiveName: () => 'exclusive.json',
      async create(name, text) {
        try {
          await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
          return createExclusive(where(name), text);
        } catch (err) {
          throw mapFs(err, where(name), 'creating the store lock');
        }
      },
      async entries() {
        let names: string[];
        try {
          names = await fs.promises.readdir(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
          throw mapFs(err, dir, 'reading the store locks in');
        }
        const out: Entry[] = [];
        for (const name of names) {
          const temp = /\.(\d+)\.new$/.exec(name);
          if (temp && !alive(Number(temp[1]))) fs.rmSync(where(name), { force: true }); // a run killed inside createExclusive
          if (!isLockName(name)) continue;
          const text = readText(where(name));
          if (text === undefined) continue; // released meanwhile
          out.push({ name, text, info: parseLock(text) });
        }
        return out;
      },
      async remove(name, text, stale) {
        try {
          if (name === 'exclusive.json' && stale) removeStale(where(name), text);
          else if (name !== 'exclusive.json' || readText(where(name)) === text) await fs.promises.rm(where(name), { force: true });
        } catch (err) {
          throw mapFs(err, where(name), 'removing the store lock');
        }
      },
    });
  }
}

/**
 * Lock entries as objects `locks/shared-<pid>-<rand>.json` and
 * `locks/exclusive-<pid>-<rand>.json` on any backend (no create-if-absent
 * needed: the write-then-look protocol makes racing runs see each other).
 * Entries of other hosts are always taken as live; the remote layer may
 * replace this with one that knows about stale remote locks.
 */
export class ObjectStoreLocker extends Locker {
  constructor(backend: ObjectBackend) {
    super({
      where: (name) => `${backend.where}/locks/${name}`,
      exclusiveName: () => `exclusive-${process.pid}-${crypto.randomBytes(4).toString('hex')}.json`,
      async create(name, text) {
        await backend.put(`locks/${name}`, Buffer.from(text));
        return true;
      },
      async entries() {
        const out: Entry[] = [];
        for (const o of await backend.list('locks/')) {
          const name = o.key.slice('locks/'.length);
          if (!isLockName(name)) continue;
          const text = await backend.get(o.key).then((b) => b.toString('utf8'), () => undefined);
          if (text !== undefined) out.push({ name, text, info: parseLock(text) });
        }
        return out;
      },
      async remove(name) {
        await backend.delete(`locks/${name}`);
      },
    });
  }
}

