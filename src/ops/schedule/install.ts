import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError, storageErrorFrom, UsageError } from '../../core/errors';
import { CRON_MARKER } from './render';

/**
 * Installs the crontab line through `crontab -l` / `crontab -`: every existing
 * line is kept except dbguard's own marked line(s), which are replaced. Returns
 * the new crontab. Throws UsageError when crontab is not installed, and
 * StorageError (changing nothing) when the current table cannot be read.
 */
export function installCrontab(line: string, env: NodeJS.ProcessEnv = process.env): string {
  const list = spawnSync('crontab', ['-l'], { encoding: 'utf8', env });
  if (list.error) throw new UsageError(`cannot run crontab: ${(list.error as NodeJS.ErrnoException).code ?? list.error.message}`, 'install cron, or use dbguard schedule systemd').because(list.error);
  // `crontab -l` exits 1 with "no crontab for <user>" when there is none yet; any other
  // failure must stop here, or the user's table would be replaced by dbguard's line alone.
  if (list.status !== 0 && !/no crontab/i.test(list.stderr ?? '')) {
    throw new StorageError(`crontab -l failed: ${(list.stderr || '').trim() || `exit ${list.status}`}`, 'check that this user may use cron (cron.allow / cron.deny); the crontab was not changed');
  }
  const current = list.status === 0 ? list.stdout : '';
  // dbguard's own entry is its marked line plus, with a time zone, the CRON_TZ= line right above it
  // (cron allows no comment on a variable line, so that one cannot carry the marker itself)
  const lines = current.split('\n');
  const ours = (i: number) => lines[i]?.includes(CRON_MARKER) ?? false;
  const kept = lines.filter((l, i) => !ours(i) && !(/^\s*CRON_TZ=/.test(l) && ours(i + 1)));
  while (kept.length && !kept[kept.length - 1]!.trim()) kept.pop();
  const next = `${[...kept, line].join('\n')}\n`;
  const write = spawnSync('crontab', ['-'], { input: next, encoding: 'utf8', env });
  if (write.status !== 0) throw new StorageError(`crontab refused the new table: ${(write.stderr || '').trim() || `exit ${write.status}`}`, 'check that this user may use cron (cron.allow / cron.deny)');
  return next;
}

/** Writes files into `dir` (created if needed); Task Scheduler XML goes out as UTF-16LE with a BOM, as schtasks expects. */
export function writeFiles(dir: string, files: Record<string, string>): string[] {
  const written: string[] = [];
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      const file = path.join(dir, name);
      const data = name.endsWith('.xml') ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text.replace(/\n/g, '\r\n'), 'utf16le')]) : text;
      fs.writeFileSync(file, data, { mode: 0o644 });
      written.push(file);
    }
  } catch (err) {
    throw storageErrorFrom(err, dir, 'writing scheduler files to') ?? err;
  }
  return written;
}
