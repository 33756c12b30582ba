import * as path from 'node:path';
import type { Config } from '../../config/load';
import { UsageError } from '../../core/errors';
import { cronFields, isFixed } from './cron-fields';
import { cronToOnCalendar } from './oncalendar';

/** Marks dbguard's own crontab line, so --install replaces only that line. */
export const CRON_MARKER = '# dbguard-backup';

/** Absolute paths of the running node and of this dbguard's CLI and scripts. */
export function installation() {
  const root = path.resolve(__dirname, '../../..');
  return { node: process.execPath, cli: path.join(root, 'dist', 'cli', 'main.js'), scripts: path.join(root, 'scripts') };
}

const sh = (s: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** `--config <file>` when a file was used, so the scheduled run reads the same configuration. */
const configArgs = (config: Config) => (config.file ? ['--config', config.file] : []);

/**
 * The crontab line that runs `dbguard backup all` on `schedule.backup`, with
 * absolute paths to node and dbguard and its output appended to a log file.
 * Throws UsageError for a 6-field (seconds) schedule, which cron cannot run.
 */
export function cronLine(config: Config): string {
  const expr = config.schedule.backup;
  if (expr.trim().split(/\s+/).length === 6) throw new UsageError(`schedule.backup "${expr}" has a seconds field, which cron cannot run`, 'use a 5-field expression, or run dbguard daemon instead');
  const { node, cli } = installation();
  const log = path.join(config.baseDir, 'dbguard-backup.log');
  const cmd = [node, cli, 'backup', 'all', ...configArgs(config), '--quiet'].map(sh).join(' ');
  const tz = config.schedule.timezone === 'local' ? '' : `CRON_TZ=${config.schedule.timezone}\n`;
  // cron turns a bare % in the command into a newline; \% passes a literal %
  const command = `cd ${sh(config.baseDir)} && ${cmd} >> ${sh(log)} 2>&1`.replace(/%/g, '\\%');
  return `${tz}${expr} ${command} ${CRON_MARKER}`;
}

/** One ExecStart= argument: double-quoted when it has spaces or quotes; % doubled (systemd specifiers). */
const unitArg = (s: string) => {
  const v = s.replace(/%/g, '%%');
  return /[\s"'\\;]/.test(v) ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : v;
};

/** Folders a hardened unit must be allowed to write: each database's folder (WAL, restore) and the backup folder. */
function writablePaths(config: Config): string[] {
  return [...new Set([...Object.values(config.targets).map((t) => path.dirname(t.path)), config.backupDir, config.baseDir])];
}

const HARDENING = (config: Config) => [
  'NoNewPrivileges=yes',
  'ProtectSystem=strict',
  'PrivateTmp=yes',
  'ProtectKernelTunables=yes',
  'ProtectControlGroups=yes',
  'RestrictSUIDSGID=yes',
  `ReadWritePaths=${writablePaths(config).map(unitArg).join(' ')}`,
];

/** systemd units: a oneshot service + timer for backups, or (daemonUnit) the daemon as a service. */
export function systemdUnits(config: Config, daemonUnit = false): Record<string, string> {
  const { node, cli } = installation();
  const exec = (args: string[]) => [node, cli, ...args, ...configArgs(config)].map(unitArg).join(' ');
  if (daemonUnit) {
    return {
      'dbguard.service': [
        '[Unit]',
        'Description=dbguard daemon: scheduled database backups, checks and health endpoints',
        'After=network-online.target',
        'Wants=network-online.target',
        '',
        '[Service]',
        'Type=simple',
        `WorkingDirectory=${config.baseDir}`,
        `ExecStart=${exec(['daemon'])}`,
        'Restart=on-failure',
        'RestartSec=5s',
        `TimeoutStopSec=${Math.ceil(config.shutdownTimeoutMs / 1000) + 15}`,
        'KillSignal=SIGTERM',
        // SIGTERM to the daemon only: it finishes or cancels its engine worker processes itself
        'KillMode=mixed',
        ...HARDENING(config),
        '',
        '[Install]',
        'WantedBy=multi-user.target',
        '',
      ].join('\n'),
    };
  }
  return {
    'dbguard-backup.service': [
      '[Unit]',
      'Description=dbguard: back up all configured databases',
      '',
      '[Service]',
      'Type=oneshot',
      `WorkingDirectory=${config.baseDir}`,
      `ExecStart=${exec(['backup', 'all', '--log-file', path.join(config.baseDir, 'dbguard-backup.log')])}`,
      // Busy (exit 5) and storage (exit 6) conditions often pass; damage (4) does not.
      'Restart=on-failure',
      'RestartSec=5min',
      'RestartPreventExitStatus=2 3 4',
      ...HARDENING(config),
      '',
    ].join('\n'),
    'dbguard-backup.timer': [
      '[Unit]',
      `Description=dbguard backup on "${config.schedule.backup}"`,
      '',
      '[Timer]',
      `OnCalendar=${cronToOnCalendar(config.schedule.backup)}${config.schedule.timezone === 'local' ? '' : ` ${config.schedule.timezone}`}`,
      'Persistent=true',
      'Unit=dbguard-backup.service',
      '',
      '[Install]',
      'WantedBy=timers.target',
      '',
    ].join('\n'),
  };
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** The <CalendarTrigger> for a cron expression with a fixed minute: daily, weekly, or hourly repetition. */
function calendarTrigger(expr: string): string {
  const f = cronFields(expr);
  const refuse = () => { throw new UsageError(`schedule.backup "${expr}" cannot be expressed as a Task Scheduler trigger`, 'use a fixed time such as "0 2 * * *" (daily), "0 3 * * 0" (weekly) or "15 */4 * * *" (every 4 hours)'); };
  if (!isFixed(f.minute) || f.dom !== '*' || f.month !== '*' || !isFixed(f.second)) refuse();
  const pad = (n: string) => n.padStart(2, '0');
  let hour = '00';
  let repetition = '';
  if (isFixed(f.hour)) hour = pad(f.hour);
  else {
    const m = /^\*(?:\/(\d+))?$/.exec(f.hour);
    if (!m) refuse();
    repetition = `      <Repetition>\n        <Interval>PT${m![1] ?? 1}H</Interval>\n        <Duration>P1D</Duration>\n        <StopAtDurationEnd>false</StopAtDurationEnd>\n      </Repetition>\n`;
  }
  let schedule = '      <ScheduleByDay>\n        <DaysInterval>1</DaysInterval>\n      </ScheduleByDay>\n';
  if (f.dow !== '*' && f.dow !== '?') {
    const days = new Set<number>();
    for (const part of f.dow.split(',')) {
      const m = /^(\d)(?:-(\d))?$/.exec(part);
      if (!m) refuse();
      for (let d = Number(m![1]); d <= Number(m![2] ?? m![1]); d++) days.add(d % 7);
    }
    schedule = `      <ScheduleByWeek>\n        <WeeksInterval>1</WeeksInterval>\n        <DaysOfWeek>\n${[...days].sort().map((d) => `          <${WEEKDAYS[d]} />\n`).join('')}        </DaysOfWeek>\n      </ScheduleByWeek>\n`;
  }
  return `    <CalendarTrigger>\n${repetition}      <StartBoundary>2024-01-01T${hour}:${pad(f.minute)}:${pad(f.second)}</StartBoundary>\n      <Enabled>true</Enabled>\n${schedule}    </CalendarTrigger>\n`;
}

/**
 * Task Scheduler XML (schema 1.2) that runs scripts\backup_db.ps1 all on
 * schedule.backup, and the schtasks command to register it. `encoding` is what
 * the declaration says: UTF-16 for a file written as UTF-16LE (as schtasks
 * expects), UTF-8 for text printed to a terminal or pipe.
 */
export function windowsTask(config: Config, xmlFile = 'dbguard-backup.xml', encoding: 'UTF-8' | 'UTF-16' = 'UTF-8'): { xml: string; command: string } {
  const { scripts } = installation();
  const ps1 = path.join(scripts, 'backup_db.ps1');
  const args = `-NoProfile -ExecutionPolicy Bypass -File "${ps1}" all${config.file ? ` --config "${config.file}"` : ''}`;
  const body = `<?xml version="1.0" encoding="${encoding}"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>dbguard: back up all configured databases (${xml(config.schedule.backup)})</Description>
    <URI>\\dbguard backup</URI>
  </RegistrationInfo>
  <Triggers>
${calendarTrigger(config.schedule.backup)}  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>S-1-5-18</UserId>
      <RunLevel>HighestAvailable</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <AllowHardTerminate>true</AllowHardTerminate>
    <StartWhenAvailable>true</StartWhenAvailable>
    <RunOnlyIfNetworkAvailable>false</RunOnlyIfNetworkAvailable>
    <AllowStartOnDemand>true</AllowStartOnDemand>
    <Enabled>true</Enabled>
    <Hidden>false</Hidden>
    <RunOnlyIfIdle>false</RunOnlyIfIdle>
    <WakeToRun>false</WakeToRun>
    <ExecutionTimeLimit>PT4H</ExecutionTimeLimit>
    <Priority>7</Priority>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>powershell.exe</Command>
      <Arguments>${xml(args)}</Arguments>
      <WorkingDirectory>${xml(config.baseDir)}</WorkingDirectory>
    </Exec>
  </Actions>
</Task>
`;
  return { xml: body, command: `schtasks /Create /TN "dbguard backup" /XML "${xmlFile}" /F` };
}
