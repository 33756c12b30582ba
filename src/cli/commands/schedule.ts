import { ExitCode } from '../../core/exit-codes';
import { UsageError } from '../../core/errors';
import { installCrontab, writeFiles } from '../../ops/schedule/install';
import { cronLine, systemdUnits, windowsTask } from '../../ops/schedule/render';
import type { CliContext } from '../context';

/**
 * `dbguard schedule cron|systemd|windows [--install] [--dir DIR] [--daemon-unit]`:
 * prints the scheduler entry (default) or installs it.
 */
export async function run(ctx: CliContext, kind: string, opts: { install?: boolean; dir?: string; daemonUnit?: boolean }): Promise<number> {
  const config = ctx.config();
  if (kind === 'cron') {
    const line = cronLine(config);
    if (opts.install) {
      const table = installCrontab(line, ctx.env);
      if (ctx.opts.json) ctx.printJson({ ok: true, kind, line, installed: true, crontab: table });
      else ctx.print(`installed in the crontab (dbguard's old line, if any, was replaced):\n${line}`);
      return ExitCode.ok;
    }
    if (ctx.opts.json) ctx.printJson({ ok: true, kind, line, installed: false });
    else ctx.print(`# add with: crontab -e   (or: dbguard schedule cron --install)\n${line}`);
    return ExitCode.ok;
  }
  if (kind === 'systemd') {
    const units = systemdUnits(config, opts.daemonUnit);
    const enable = opts.daemonUnit ? 'systemctl daemon-reload && systemctl enable --now dbguard.service' : 'systemctl daemon-reload && systemctl enable --now dbguard-backup.timer';
    if (opts.install) {
      const written = writeFiles(opts.dir ?? '/etc/systemd/system', units);
      if (ctx.opts.json) ctx.printJson({ ok: true, kind, files: written, enable });
      else ctx.print(`wrote ${written.join(', ')}\nnow run: ${enable}`);
      return ExitCode.ok;
    }
    if (ctx.opts.json) ctx.printJson({ ok: true, kind, units, enable });
    else ctx.print(Object.entries(units).map(([name, text]) => `# ${name}\n${text}`).join('\n') + `\n# then: ${enable}`);
    return ExitCode.ok;
  }
  if (kind === 'windows') {
    const task = windowsTask(config);
    if (opts.install) {
      // written as UTF-16LE with a BOM, so the declaration says UTF-16
      const [file] = writeFiles(opts.dir ?? ctx.cwd, { 'dbguard-backup.xml': windowsTask(config, undefined, 'UTF-16').xml });
      const command = windowsTask(config, file).command;
      if (ctx.opts.json) ctx.printJson({ ok: true, kind, file, command });
      else ctx.print(`wrote ${file} (UTF-16)\nregister it from an elevated prompt:\n  ${command}`);
      return ExitCode.ok;
    }
    if (ctx.opts.json) ctx.printJson({ ok: true, kind, xml: task.xml, command: task.command });
    else {
      // stdout is the XML alone (well-formed, UTF-8 as printed); how to use it goes to stderr
      ctx.print(task.xml.trimEnd());
      ctx.note(`save the XML above as dbguard-backup.xml (or use --install --dir DIR), then from an elevated prompt:\n  ${task.command}`);
    }
    return ExitCode.ok;
  }
  throw new UsageError(`unknown scheduler "${kind}"`, 'use one of: cron, systemd, windows', 'bad-argument');
}
