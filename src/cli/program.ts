import { Command } from 'commander';
import type { CliContext } from './context';
import { rejectEmptyValues } from './parse';

/** A command's implementation, loaded only when that command runs (keeps `--version` fast). */
type Runner = (ctx: CliContext, ...args: never[]) => Promise<number>;
export type Dispatch = (load: () => { run: Runner }, args: unknown[]) => Promise<void>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const version = (require('../../package.json') as { version: string }).version;

/**
 * The command table of DESIGN.md §1. Each action hands its arguments to
 * `dispatch`, which builds the context, runs the command and records its exit code.
 */
export function buildProgram(dispatch: Dispatch): Command {
  const program = new Command('dbguard')
    .description('Keeps DuckDB database files safe: checks, consistent validated backups, restore, repair, scheduling.')
    .version(version, '-V, --version')
    .option('-c, --config <path>', 'config file (default: ./dbguard.config.json, or $DBGUARD_CONFIG)')
    .option('--json', 'print one JSON document on stdout (errors as JSON on stderr)')
    .option('-q, --quiet', 'print nothing but errors')
    .option('-v, --verbose', 'more detail, including stack traces of unexpected errors')
    .option('--log-file <path>', 'append JSON log lines to this file')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--no-alerts', 'send no alert or ping for this run (it is still recorded in the job history)')
    .showHelpAfterError('(run dbguard --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .hook('preAction', (_program, action) => rejectEmptyValues(action));

  const cmd = (name: string, description: string) => program.command(name).description(description).exitOverride();

  cmd('check', 'integrity check of the live database files')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--quick', 'skip the full read and the block scrub')
    .option('--full', 'of a database held by another process: a full check of a live copy (in backupDir, deleted afterwards) instead of a scrub of the live file')
    .action((targets, opts) => dispatch(() => require('./commands/check'), [targets, opts]));

  cmd('backup', 'consistent, validated, timestamped backup, then rotation')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--keep <n>', 'keep the newest N valid backups (default: config keep, 30)')
    .option('--wait <duration>', 'wait this long (e.g. 30s, 5m) for a busy database or a running dbguard instead of exiting 5')
    .option('--allow-damaged', 'store a copy of a damaged database anyway: invalid when the copy fails validation; valid (listing schemaLost) when the database only lost tables')
    .option('--no-live', 'exit 5 when another process holds the database, instead of taking a live copy')
    .action((targets, opts) => dispatch(() => require('./commands/backup'), [targets, opts]));

  cmd('list', 'the backups of each target, newest first')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--remote', 'the backups on the remote (remote.url) instead of the local ones')
    .action((targets, opts) => dispatch(() => require('./commands/list'), [targets, opts]));

  cmd('push', 'copy the valid local backups the remote (remote.url) lacks into it; only new blocks travel')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--wait <duration>', 'wait this long for a busy store lock instead of exiting 5')
    .action((targets, opts) => dispatch(() => require('./commands/push'), [targets, opts]));

  cmd('verify', 're-verify stored backups: checksum, open, full read, row counts')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--latest', 'the newest valid backup of each target (default)')
    .option('--all', 'every backup')
    .option('--id <id>', 'one backup, e.g. production_data_20240115_020000')
    .option('--read-data', 'store backups: also write each into a temporary file and read it in full with the engine')
    .option('--remote', 'verify the backups on the remote (every object exists; with --read-data downloaded, hashed and read)')
    .option('--wait <duration>', 'wait for a running dbguard on the same target')
    .action((targets, opts) => dispatch(() => require('./commands/verify'), [targets, opts]));

  cmd('prune', 'apply the retention policy')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--keep <n>', 'keep the newest N valid backups')
    .option('--keep-daily <n>', 'also keep the newest backup of each of the last N days with backups')
    .option('--keep-weekly <n>', 'also keep the newest backup of each of the last N weeks with backups')
    .option('--keep-monthly <n>', 'also keep the newest backup of each of the last N months with backups')
    .option('--dry-run', 'show what would be removed and why, remove nothing')
    .option('--wait <duration>', 'wait for a running dbguard on the same target')
    .option('--remote', 'prune the remote instead (remote.keep / remote.retention), then delete the objects no remote backup needs')
    .action((targets, opts) => dispatch(() => require('./commands/prune'), [targets, opts]));

  cmd('migrate-store', 'convert plain backups into the deduplicated store (--to blocks) and back (--to files), verifying each')
    .argument('[targets]', 'production, staging, both, all, or a comma list (default: $ENVIRONMENT)')
    .option('--to <format>', 'blocks (into the store, the default) or files (back to plain files)')
    .option('--dry-run', 'show what would be converted, change nothing')
    .option('--wait <duration>', 'wait for a running dbguard on the same target')
    .action((targets, opts) => dispatch(() => require('./commands/migrate-store'), [targets, opts]));

  cmd('restore', 'put a verified backup in place (the current file moves to pre-restore/)')
    .argument('[target]', 'one target (default: $ENVIRONMENT)')
    .option('--from <id>', 'a backup id, or latest (default)')
    .option('--at <time>', 'the newest valid backup created at or before this time, e.g. "2024-01-15 02:00"')
    .option('--to <path>', 'restore into this file instead; the target is left alone')
    .option('--remote', 'restore from the remote (remote.url): works with only the config and the credentials')
    .option('--dry-run', 'say what would happen, change nothing')
    .option('--wait <duration>', 'wait for a running dbguard on the same target')
    .action((target, opts) => dispatch(() => require('./commands/restore'), [target, opts]));

  cmd('repair', 'recover a damaged database (the damaged file moves to quarantine/)')
    .argument('[target]', 'one target (default: $ENVIRONMENT)')
    .option('--strategy <name>', 'auto (default), salvage, restore or recreate')
    .option('--dry-run', 'say what would happen, change nothing')
    .option('--wait <duration>', 'wait for a running dbguard on the same target')
    .action((target, opts) => dispatch(() => require('./commands/repair'), [target, opts]));

  cmd('pre-update', 'deploy hook: check, back up healthy targets, repair damaged ones, re-check')
    .argument('[targets]', 'default: both')
    .option('--wait <duration>', 'wait for a busy database or a running dbguard')
    .action((targets, opts) => dispatch(() => require('./commands/pre-update'), [targets, opts]));

  cmd('guard', 'check and recover, then run CMD with signals forwarded; exit with its code')
    .usage('<targets> [options] -- CMD [ARGS...]')
    .argument('<targets>', 'production, staging, both, all, or a comma list')
    .argument('[command...]', 'the service command, after --')
    .option('--wait-for <host:port>', 'wait until this TCP service accepts connections (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--wait-timeout <duration>', 'how long to wait for --wait-for services', '120s')
    .option('--start-anyway', 'start the command even if recovery failed')
    .option('--full-check', 'check with a full read and block scrub (slower start; finds damage in data blocks)')
    .action((targets, command, opts) => dispatch(() => require('./commands/guard'), [targets, command, opts]));

  cmd('accept-schema', 'record the current schema as intended (after a migration that dropped a table or sequence)')
    .argument('[target]', 'one target (default: $ENVIRONMENT)')
    .option('--dry-run', 'say what would be accepted, change nothing')
    .option('--wait <duration>', 'wait for a running dbguard on the same target')
    .action((target, opts) => dispatch(() => require('./commands/accept-schema'), [target, opts]));

  cmd('daemon', 'scheduled backups and checks, HTTP health endpoints, alerts')
    .action(() => dispatch(() => require('./commands/daemon'), []));

  cmd('status', 'last backup, its age, health and next scheduled run per target')
    .argument('[targets]', 'default: all')
    .action((targets) => dispatch(() => require('./commands/status'), [targets]));

  cmd('schedule', 'print (or install) the cron line, systemd units, or Task Scheduler XML for backups')
    .argument('<kind>', 'cron, systemd or windows')
    .option('--install', 'install instead of printing: crontab -, or unit/XML files into --dir')
    .option('--dir <dir>', 'where --install writes files (systemd: /etc/systemd/system; windows: the current folder)')
    .option('--daemon-unit', 'systemd: a dbguard.service running the daemon instead of a backup timer')
    .action((kind, opts) => dispatch(() => require('./commands/schedule'), [kind, opts]));

  cmd('doctor', 'validate the whole setup: config, paths, permissions, disk space, engine')
    .action(() => dispatch(() => require('./commands/doctor'), []));

  cmd('init', 'write a config file with the defaults')
    .option('--demo', 'also create sample databases (a small music library)')
    .option('--force', 'overwrite an existing config file')
    .action((opts) => dispatch(() => require('./commands/init'), [opts]));

  return program;
}

