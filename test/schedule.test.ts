/**
 * `dbguard schedule cron|systemd|windows` (issue 5): the cron line parses and
 * uses absolute paths, --install keeps foreign crontab lines and replaces only
 * dbguard's, systemd units (timer + service, daemon unit, OnCalendar
 * translation), and Task Scheduler XML that is well-formed and names the
 * PowerShell script.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cron } from 'croner';
import { UsageError } from '../src/core/errors';
import { cronToOnCalendar } from '../src/ops/schedule/oncalendar';
import { CLI, runCli } from './helpers/cli';
import { tempDir, writeConfig } from './helpers/db';

const t = tempDir('dbguard-schedule-');
afterAll(() => t.cleanup());
let n = 0;

/** A folder with a config (no databases are needed to render schedules). */
function site(schedule: Record<string, string> = {}): string {
  const dir = path.join(t.dir, `s${++n}`);
  fs.mkdirSync(dir, { recursive: true });
  writeConfig(dir, { schedule: { backup: '0 2 * * *', check: '0 * * * *', timezone: 'local', ...schedule } });
  return dir;
}

/** Parses XML with python3's expat-based minidom; returns the error text, or '' when well-formed. */
function xmlError(input: Buffer | string): string {
  const r = spawnSync('python3', ['-c', 'import sys, xml.dom.minidom as m\nd = m.parseString(sys.stdin.buffer.read())\nprint(d.documentElement.tagName)'], { input });
  if (r.error) throw r.error;
  return r.status === 0 ? '' : r.stderr.toString().trim().split('\n').pop()!;
}

describe('cronToOnCalendar', () => {
  test.each([
    ['0 2 * * *', '*-*-* 02:00:00'],
    ['30 4 * * 1-5', 'Mon..Fri *-*-* 04:30:00'],
    ['15 */4 * * *', '*-*-* 00/4:15:00'],
    ['0 3 * * 0', 'Sun *-*-* 03:00:00'],
    ['0 3 * * 7', 'Sun *-*-* 03:00:00'],
    ['0 3 * * SUN,WED', 'Sun,Wed *-*-* 03:00:00'],
    ['0 0 1 * *', '*-*-01 00:00:00'],
    ['0 6 1,15 JAN-MAR *', '*-01..03-01,15 06:00:00'],
    ['*/15 * * * *', '*-*-* *:00/15:00'],
    ['30 0 2 * * *', '*-*-* 02:00:30'],
    ['*/2 * * * * *', '*-*-* *:*:00/2'],
  ])('%s → %s', (cron, expected) => {
    expect(cronToOnCalendar(cron)).toBe(expected);
  });

  test('refuses what OnCalendar cannot say the same way', () => {
    // cron ORs a restricted day of month with a restricted weekday; systemd ANDs them
    expect(() => cronToOnCalendar('0 2 1 * 1')).toThrow(UsageError);
    expect(() => cronToOnCalendar('0 2 1 * 1')).toThrow(/day of month and weekday/);
    expect(() => cronToOnCalendar('0 1-10/2 * * *')).toThrow(UsageError);
    expect(() => cronToOnCalendar('0 2 * *')).toThrow(UsageError);
    expect(() => cronToOnCalendar('0 2 L * *')).toThrow(UsageError);
  });
});

describe('cron', () => {
  test('the line parses, runs `backup all` with absolute node and dbguard paths, logs, and carries the marker', () => {
    const dir = site({ backup: '30 3 * * 1-5' });
    const r = runCli(['schedule', 'cron'], { cwd: dir });
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n').find((l) => /^\S/.test(l) && !l.startsWith('#'))!;
    const fields = line.split(/\s+/);
    expect(fields.slice(0, 5).join(' ')).toBe('30 3 * * 1-5');
    expect(() => new Cron(fields.slice(0, 5).join(' '), { paused: true }).stop()).not.toThrow();
    expect(path.isAbsolute(fields[5] === 'cd' ? fields[6]! : fields[5]!)).toBe(true);
    expect(line).toContain(`${process.execPath} ${CLI} backup all`);
    expect(path.isAbsolute(process.execPath) && path.isAbsolute(CLI)).toBe(true);
    expect(line).toContain(`--config ${path.join(dir, 'dbguard.config.json')}`);
    expect(line).toMatch(/>> \/\S+\.log 2>&1/);
    expect(line.endsWith('# dbguard-backup')).toBe(true);

    const json = runCli(['schedule', 'cron', '--json'], { cwd: dir });
    expect(json.json).toMatchObject({ ok: true, kind: 'cron', installed: false, line });
  });

  test('a seconds schedule cannot go to cron (exit 2); an unknown scheduler is a usage error', () => {
    const dir = site({ backup: '*/2 * * * * *' });
    const r = runCli(['schedule', 'cron'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/schedule\.backup/);
    expect(runCli(['schedule', 'launchd'], { cwd: dir }).code).toBe(2);
  });

  test('a % in a path is escaped (cron turns a bare % into a newline)', () => {
    const dir = path.join(t.dir, 'with%percent');
    fs.mkdirSync(dir, { recursive: true });
    writeConfig(dir);
    const r = runCli(['schedule', 'cron', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.json.line).not.toMatch(/(^|[^\\])%/);
    expect(r.json.line).toContain('with\\%percent');
  });

  describe('--install through `crontab`', () => {
    /** A fake crontab on PATH: `-l` prints the stored table (exit 1 when none), `-` stores stdin. */
    function fakeCrontab(existing?: string) {
      const bin = path.join(t.dir, `bin${++n}`);
      fs.mkdirSync(bin);
      const store = path.join(bin, 'table');
      if (existing !== undefined) fs.writeFileSync(store, existing);
      fs.writeFileSync(path.join(bin, 'crontab'), `#!/bin/bash
if [ "$1" = "-l" ]; then
  if [ -f "${store}" ]; then cat "${store}"; exit 0; fi
  echo "no crontab for $USER" >&2; exit 1
fi
if [ "$1" = "-" ]; then cat > "${store}"; exit 0; fi
echo "usage" >&2; exit 2
`, { mode: 0o755 });
      return { env: { PATH: `${bin}:${process.env.PATH}` }, table: () => fs.readFileSync(store, 'utf8') };
    }

    test('keeps existing lines and replaces only dbguard\'s marked line', () => {
      const dir = site();
      const foreign = ['MAILTO=ops@example.test', '# nightly report', '15 1 * * * /usr/local/bin/report.sh', '0 4 * * 0 /usr/bin/echo weekly # not ours'];
      const cron = fakeCrontab([...foreign, '0 1 * * * /old/dbguard backup all # dbguard-backup', ''].join('\n'));
      const r = runCli(['schedule', 'cron', '--install'], { cwd: dir, env: cron.env });
      expect(r.code).toBe(0);
      const lines = cron.table().split('\n').filter(Boolean);
      expect(lines.slice(0, 4)).toEqual(foreign);
      expect(lines).toHaveLength(5);
      expect(lines[4]).toMatch(/^0 2 \* \* \* .* backup all .*# dbguard-backup$/);
      expect(cron.table()).not.toContain('/old/dbguard');

      // installing again (another schedule) still leaves exactly one dbguard line
      writeConfig(dir, { schedule: { backup: '45 23 * * *', check: '0 * * * *', timezone: 'local' } });
      expect(runCli(['schedule', 'cron', '--install', '--json'], { cwd: dir, env: cron.env }).json).toMatchObject({ installed: true });
      const again = cron.table().split('\n').filter(Boolean);
      expect(again.slice(0, 4)).toEqual(foreign);
      expect(again.filter((l) => l.includes('# dbguard-backup'))).toHaveLength(1);
      expect(again[4]).toMatch(/^45 23 \* \* \* /);
    });

    test('works on an empty crontab, and a CRON_TZ line of dbguard is replaced, not piled up', () => {
      const dir = site({ timezone: 'Europe/Berlin' });
      const cron = fakeCrontab();
      expect(runCli(['schedule', 'cron', '--install'], { cwd: dir, env: cron.env }).code).toBe(0);
      expect(runCli(['schedule', 'cron', '--install'], { cwd: dir, env: cron.env }).code).toBe(0);
      const lines = cron.table().split('\n').filter(Boolean);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe('CRON_TZ=Europe/Berlin');
      expect(lines[1]).toMatch(/^0 2 \* \* \* .*# dbguard-backup$/);
    });

    test('when `crontab -l` fails for another reason, nothing is written (exit 6)', () => {
      const dir = site();
      const cron = fakeCrontab('15 1 * * * /usr/local/bin/report.sh\n');
      const script = path.join(cron.env.PATH.split(':')[0]!, 'crontab');
      fs.writeFileSync(script, fs.readFileSync(script, 'utf8').replace('if [ "$1" = "-l" ]; then', 'if [ "$1" = "-l" ]; then\n  echo "crontab: cannot open the spool file: Permission denied" >&2; exit 1'));
      const r = runCli(['schedule', 'cron', '--install'], { cwd: dir, env: cron.env });
      expect(r.code).toBe(6);
      expect(r.stderr).toMatch(/Permission denied/);
      expect(cron.table()).toBe('15 1 * * * /usr/local/bin/report.sh\n');
    });

    test('without crontab on PATH: a clear usage error', () => {
      const dir = site();
      const r = runCli(['schedule', 'cron', '--install'], { cwd: dir, env: { PATH: path.join(t.dir, 'empty-bin') } });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/crontab/);
    });
  });
});

describe('systemd', () => {
  test('a backup service and timer: [Service], [Timer], OnCalendar, Restart=on-failure and hardening', () => {
    const dir = site({ backup: '30 4 * * 1-5' });
    const r = runCli(['schedule', 'systemd', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const service: string = r.json.units['dbguard-backup.service'];
    const timer: string = r.json.units['dbguard-backup.timer'];
    expect(service).toContain('[Service]');
    expect(service).toMatch(new RegExp(`^ExecStart=${process.execPath} ${CLI} backup all `, 'm'));
    for (const line of ['Restart=on-failure', 'NoNewPrivileges=yes', 'ProtectSystem=strict']) expect(service.split('\n')).toContain(line);
    const rw = service.split('\n').find((l) => l.startsWith('ReadWritePaths='))!.slice('ReadWritePaths='.length).split(' ');
    expect(rw).toEqual(expect.arrayContaining([path.join(dir, 'data'), path.join(dir, 'backups')]));
    expect(timer).toContain('[Timer]');
    expect(timer.split('\n')).toContain('OnCalendar=Mon..Fri *-*-* 04:30:00');
    expect(timer.split('\n')).toContain('Unit=dbguard-backup.service');
    expect(timer).toContain('[Install]');
    const human = runCli(['schedule', 'systemd'], { cwd: dir });
    expect(human.stdout).toContain('[Timer]');
    expect(human.stdout).toContain('[Service]');
  });

  test('--daemon-unit: the daemon as dbguard.service; SIGTERM reaches the daemon only, so it can finish a backup', () => {
    const dir = site();
    const r = runCli(['schedule', 'systemd', '--daemon-unit', '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(Object.keys(r.json.units)).toEqual(['dbguard.service']);
    const unit: string = r.json.units['dbguard.service'];
    const lines = unit.split('\n');
    expect(unit).toContain('[Service]');
    expect(unit).not.toContain('[Timer]');
    expect(lines).toContain(`ExecStart=${process.execPath} ${CLI} daemon --config ${path.join(dir, 'dbguard.config.json')}`);
    expect(lines).toContain('Restart=on-failure');
    expect(lines).toContain('KillMode=mixed');
    expect(lines).toContain('NoNewPrivileges=yes');
    expect(lines.find((l) => l.startsWith('TimeoutStopSec='))).toBe('TimeoutStopSec=75');
  });

  test('paths with spaces are quoted in ExecStart', () => {
    const dir = path.join(t.dir, 'with space');
    fs.mkdirSync(dir, { recursive: true });
    writeConfig(dir);
    const r = runCli(['schedule', 'systemd', '--json'], { cwd: dir });
    const exec = (r.json.units['dbguard-backup.service'] as string).split('\n').find((l) => l.startsWith('ExecStart='))!;
    expect(exec).toContain(`"${path.join(dir, 'dbguard.config.json')}"`);
  });

  test('--install --dir writes the unit files', () => {
    const dir = site();
    const out = path.join(t.dir, `units${++n}`);
    const r = runCli(['schedule', 'systemd', '--install', '--dir', out, '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(fs.readdirSync(out).sort()).toEqual(['dbguard-backup.service', 'dbguard-backup.timer']);
    expect(fs.readFileSync(path.join(out, 'dbguard-backup.timer'), 'utf8')).toContain('OnCalendar=*-*-* 02:00:00');
    expect(r.json.files.sort()).toEqual([path.join(out, 'dbguard-backup.service'), path.join(out, 'dbguard-backup.timer')]);
    const d = runCli(['schedule', 'systemd', '--daemon-unit', '--install', '--dir', out], { cwd: dir });
    expect(d.code).toBe(0);
    expect(fs.readFileSync(path.join(out, 'dbguard.service'), 'utf8')).toContain('[Service]');
  });

  test('a cron expression systemd cannot express is a usage error', () => {
    const r = runCli(['schedule', 'systemd'], { cwd: site({ backup: '0 2 1 * 1' }) });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/weekday/);
  });
});

describe('windows', () => {
  test('the printed Task Scheduler XML is well-formed, names backup_db.ps1 and comes with the schtasks command', () => {
    const dir = site({ backup: '30 1 * * *' });
    const r = runCli(['schedule', 'windows'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(xmlError(Buffer.from(r.stdout))).toBe('');
    expect(r.stdout).toMatch(/<Task version="1\.2" xmlns="http:\/\/schemas\.microsoft\.com\/windows\/2004\/02\/mit\/task">/);
    expect(r.stdout).toMatch(/<Command>powershell\.exe<\/Command>/);
    expect(r.stdout).toMatch(/<Arguments>[^<]*backup_db\.ps1[^<]* all/);
    expect(r.stdout).toContain('<StartBoundary>2024-01-01T01:30:00</StartBoundary>');
    expect(r.stdout + r.stderr).toMatch(/schtasks \/Create \/TN "dbguard backup" \/XML "dbguard-backup\.xml"/);

    const json = runCli(['schedule', 'windows', '--json'], { cwd: dir });
    expect(xmlError(json.json.xml)).toBe('');
    expect(json.json.command).toMatch(/^schtasks \/Create /);
  });

  test('weekly and every-n-hours schedules; others are refused', () => {
    const weekly = runCli(['schedule', 'windows', '--json'], { cwd: site({ backup: '0 3 * * 1,5' }) });
    expect(xmlError(weekly.json.xml)).toBe('');
    expect(weekly.json.xml).toMatch(/<ScheduleByWeek>[\s\S]*<Monday \/>[\s\S]*<Friday \/>[\s\S]*<\/ScheduleByWeek>/);
    const hourly = runCli(['schedule', 'windows', '--json'], { cwd: site({ backup: '15 */4 * * *' }) });
    expect(xmlError(hourly.json.xml)).toBe('');
    expect(hourly.json.xml).toContain('<Interval>PT4H</Interval>');
    expect(runCli(['schedule', 'windows'], { cwd: site({ backup: '*/5 * * * *' }) }).code).toBe(2);
  });

  test('--install --dir writes the XML as UTF-16 with a BOM, well-formed as a file', () => {
    const dir = site();
    const out = path.join(t.dir, `win${++n}`);
    const r = runCli(['schedule', 'windows', '--install', '--dir', out, '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    const file = path.join(out, 'dbguard-backup.xml');
    expect(r.json.file).toBe(file);
    expect(r.json.command).toContain(`/XML "${file}"`);
    const bytes = fs.readFileSync(file);
    expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect(xmlError(bytes)).toBe('');
    expect(bytes.subarray(2).toString('utf16le')).toContain('backup_db.ps1');
  });
});
