/**
 * Helpers for the tests of backups in blocks format (issue 11): reading the
 * local store's objects the way the README documents them (no dbguard code),
 * and restoring a backup by id through the CLI into a file the test reads.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Manifest } from '../../src/storage/manifest';
import { contentOf, type Project } from './backup';
import { runCli } from './cli';

export const storeDir = (p: Project) => path.join(p.backups, 'store');

/** The published manifest of a store backup (`store/snapshots/<target>/<id>.duckdb.json`). */
export function storeManifest(p: Project, id: string, target = 'production', ext = '.duckdb'): Manifest & { store: { blocks: string } } {
  return JSON.parse(fs.readFileSync(path.join(storeDir(p), 'snapshots', target, `${id}${ext}.json`), 'utf8'));
}

/** The block hashes of a store backup, in file order, from its `.blocks` object. */
export function blocksOf(p: Project, id: string, target = 'production', ext = '.duckdb'): string[] {
  return fs.readFileSync(path.join(storeDir(p), 'snapshots', target, `${id}${ext}.blocks`), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[0]!);
}

/** Every pack file of the store, with its path and the blocks its index lists (`[hash, offset, length]`). */
export function packsOf(p: Project): { id: string; file: string; blocks: [string, number, number][] }[] {
  const root = path.join(storeDir(p), 'index');
  return fs.readdirSync(root).filter((n) => n.endsWith('.json')).map((n) => {
    const index = JSON.parse(fs.readFileSync(path.join(root, n), 'utf8'));
    return { id: index.pack, file: path.join(storeDir(p), 'packs', index.pack.slice(0, 2), `${index.pack}.pack`), blocks: index.blocks };
  });
}

/** Restores backup `id` with `restore --from ID --to <dir>/<id>.duckdb --yes --json` and returns the CLI result and the file. */
export function restoreTo(p: Project, id: string, dir: string, env: Record<string, string> = {}) {
  const dest = path.join(dir, `${id}.duckdb`);
  const r = runCli(['restore', 'production', '--from', id, '--to', dest, '--yes', '--json'], { cwd: p.dir, env });
  return { r, dest };
}

/** Per-table rows and fingerprints as a manifest records them. */
export const recorded = (m: Manifest) => Object.fromEntries(m.tables.map((t) => [`${t.schema}.${t.name}`, { rows: t.rows, fingerprint: t.fingerprint }]));

/** Asserts that `file` holds exactly the rows backup `m` recorded (every table's rows and content fingerprint). */
export async function expectRows(file: string, m: Manifest): Promise<void> {
  expect(await contentOf(file)).toEqual(recorded(m));
}
