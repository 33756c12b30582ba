/**
 * The job history written by several processes at once (issue 13: the daemon
 * and cron runs share the file): real child processes append while each of
 * them compacts; the history lock makes sure no append is lost to a
 * compaction, and no line is torn.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { HISTORY_FILE } from '../src/daemon/history';
import { tempDir } from './helpers/db';

const t = tempDir('dbguard-history-mp-');
afterAll(() => t.cleanup());

const HISTORY_JS = path.resolve(__dirname, '../dist/daemon/history.js');
const WRITERS = 4;
const EACH = 1500;

function writer(dir: string, w: number): Promise<number | null> {
  const script = `
    const { JobHistory } = require(${JSON.stringify(HISTORY_JS)});
    const h = new JobHistory(${JSON.stringify(dir)}, { keep: 100, compactAt: 150 });
    for (let i = 0; i < ${EACH}; i++) h.append({ id: 'w${w}-' + i, target: 'production', kind: 'backup', state: 'succeeded', attempt: 1, at: new Date().toISOString() });
  `;
  return new Promise((resolve) => spawn(process.execPath, ['-e', script], { stdio: 'inherit' }).on('exit', (code) => resolve(code)));
}

test('four processes appending and compacting at once: every line whole, no append lost between the ones kept', async () => {
  const dir = path.join(t.dir, 'b');
  const codes = await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(dir, w)));
  expect(codes).toEqual(Array(WRITERS).fill(0));
  const lines = fs.readFileSync(path.join(dir, HISTORY_FILE), 'utf8').split('\n').filter(Boolean);
  const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
  expect(ids.length).toBeGreaterThanOrEqual(100);
  expect(ids.length).toBeLessThanOrEqual(150 + WRITERS);
  // compaction drops the oldest lines only: what is left of each writer is an unbroken run of its sequence
  for (let w = 0; w < WRITERS; w++) {
    const seq = ids.filter((id) => id.startsWith(`w${w}-`)).map((id) => Number(id.split('-')[1]));
    for (let i = 1; i < seq.length; i++) expect(seq[i]).toBe(seq[i - 1]! + 1);
  }
  // the last writer to finish has its last record kept
  expect(ids.some((id) => id.endsWith(`-${EACH - 1}`))).toBe(true);
  expect(fs.readdirSync(dir).filter((n) => n.endsWith('.lock') || n.includes('.takeover'))).toEqual([]);
});
