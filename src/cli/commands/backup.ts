import * as path from 'node:path';
import { engineNamed } from '../../engines/registry';
import { selectTargets } from '../../config/targets';
import { DbguardError, InterruptedError } from '../../core/errors';
import { ExitCode } from '../../core/exit-codes';
import { backupTarget, type BackupResult } from '../../ops/backup';
import type { CliContext } from '../context';
import { verboseDetail } from '../error-view';
import { formatBytes, formatCount, formatDuration } from '../format';
import { intOption, waitOption } from '../parse';
import { progressBar } from '../progress-bar';
import { thrown } from '../runs';
import type { PushResult } from '../../ops/push';
import { recordedPush } from './push';

interface Failure { target: string; code: string; exitCode: number; message: string; hint: string }

/** `dbguard backup <targets>`: each target in turn; exit code of the first target that failed, else 6 when a rotation could not delete an old backup. */
export async function run(ctx: CliContext, selector: string | undefined, opts: { keep?: string; wait?: string; allowDamaged?: boolean; live?: boolean }): Promise<number> {
  const keep = intOption('--keep', opts.keep, 1);
  const waitMs = waitOption(opts.wait);
  const config = ctx.config();
  const targets = selectTargets(config, selector, ctx.env.ENVIRONMENT);
  const log = ctx.log();
  const results: BackupResult[] = [];
  const failures: Failure[] = [];
  // Backups that were published, but whose rotation could not delete old ones (exit 6).
  const rotation: Failure[] = [];
  for (const target of targets) {
    const bar = progressBar(!ctx.opts.json && !ctx.opts.quiet);
    const run = ctx.runs().begin(target, 'backup');
    try {
      log.info({ target }, 'backup started');
      const r = await backupTarget(config, target, { keep, waitMs, allowDamaged: opts.allowDamaged, live: opts.live === false ? false : undefined, signal: ctx.signal, onProgress: bar.onProgress, log });
      bar.stop();
      const outcome = { backupId: r.id, bytes: r.bytes, rows: r.rows };
      if (r.status === 'valid') run.end({ ok: true, outcome });
      else {
        const message = `${target} is damaged; its copy ${r.id} was stored as invalid: ${r.problems.join('; ')}`;
        run.end({ ok: false, damage: message, error: { code: 'stored-invalid', exitCode: ExitCode.integrity, message }, outcome });
      }
      results.push(r);
      log.info({ target, id: r.id, bytes: r.bytes, durationMs: r.durationMs, removed: r.removed, status: r.status, consistency: r.consistency, attempts: r.attempts }, 'backup finished');
      if (!ctx.opts.json) printResult(ctx, r);
      if (r.rotationError) {
        rotation.push({ target, code: 'rotation-failed', exitCode: ExitCode.storage, message: `backup ${r.id} is published and valid, but ${r.rotationError}`, hint: `check those files' permissions and attributes (ls -l, lsattr; an immutable file needs chattr -i), then run dbguard prune ${target}` });
        log.error({ target, id: r.id, message: r.rotationError }, 'rotation failed');
        if (!ctx.opts.json) process.stderr.write(`dbguard: error: ${rotation[rotation.length - 1]!.message}\n  hint: ${rotation[rotation.length - 1]!.hint}\n`);
      }
    } catch (err) {
      bar.stop();
      run.end(thrown(err));
      if (!(err instanceof DbguardError)) throw err;
      failures.push({ target, code: err.code, exitCode: err.exitCode, message: err.message, hint: err.hint });
      log.error({ target, code: err.code, message: err.message }, 'backup failed');
      if (!ctx.opts.json) {
        process.stderr.write(`dbguard: error: ${err.message}\n  hint: ${err.hint}\n`);
        if (ctx.opts.verbose) for (const line of verboseDetail(err)) process.stderr.write(`${line}\n`);
      }
      if (err instanceof InterruptedError) break;
    }
  }
  // remote.auto: push what was just backed up; a failed push never undoes the backup, it sets the exit code
  const pushed = await autoPush(ctx, results.filter((r) => r.status === 'valid'));
  const pushFailed = pushed?.find((r) => !r.ok);
  if (pushFailed?.error) {
    const e = pushFailed.error;
    rotation.push({ target: pushFailed.target, code: 'push-failed', exitCode: e.exitCode, message: `the backup is published locally, but the push to the remote failed: ${e.message}`, hint: e.hint });
  }
  if (ctx.opts.json) {
    ctx.printJson({
      ...(pushed ? { push: pushed } : {}),
      ok: failures.length === 0 && rotation.length === 0 && results.every((r) => r.status === 'valid'),
      backups: results.map((r) => ({
        target: r.target, id: r.id, file: r.file, engine: r.engine, bytes: r.bytes, sha256: r.sha256, durationMs: r.durationMs, removed: r.removed,
        status: r.status, problems: r.problems, rows: r.rows, tables: r.tables, phases: r.phases, cleaned: r.cleaned, walIncluded: r.walIncluded,
        consistency: r.consistency, attempts: r.attempts, retries: r.retries, headerIteration: r.headerIteration ?? null, lockHeldMs: r.lockHeldMs ?? null,
        location: r.location, demoted: r.demoted, ...(r.store ? { store: r.store } : {}),
        ...(r.lockTakenOverFrom ? { lockTakenOverFrom: r.lockTakenOverFrom } : {}),
        ...(r.schemaLost ? { schemaLost: r.schemaLost } : {}),
        ...(r.rotationError ? { rotationError: r.rotationError, rotationFailed: r.rotationFailed ?? [] } : {}),
      })),
      errors: [...failures, ...rotation],
    });
    // The error contract of --json: the failure that sets the exit code, as JSON on stderr.
    const first = failures[0] ?? rotation[0];
    if (first) process.stderr.write(`${JSON.stringify({ error: { code: first.code, exitCode: first.exitCode, message: first.message, hint: first.hint, target: first.target } })}\n`);
  }
  if (failures.length) return failures[0]!.exitCode;
  if (rotation.length) return rotation.find((r) => r.code === 'rotation-failed')?.exitCode ?? rotation[0]!.exitCode;
  return results.some((r) => r.status !== 'valid') ? ExitCode.integrity : ExitCode.ok;
}

/** Pushes the valid backups just made when remote.auto is on (recorded as push runs); undefined when off or nothing to push. */
async function autoPush(ctx: CliContext, made: BackupResult[]): Promise<PushResult[] | undefined> {
  if (!ctx.config().remote?.auto || made.length === 0 || ctx.signal.aborted) return undefined;
  let results: PushResult[];
  try {
    results = await recordedPush(ctx, [...new Set(made.map((r) => r.target))].join(','), { only: made.map((r) => r.id) });
  } catch (err) {
    if (!(err instanceof DbguardError) || err instanceof InterruptedError) throw err;
    results = [...new Set(made.map((r) => r.target))].map((target) => ({ target, ok: false, pushed: [], alreadyThere: 0, bytesUploaded: 0, blocksReused: 0, newestRemote: null, error: { message: err.message, hint: err.hint, exitCode: err.exitCode } }));
  }
  if (!ctx.opts.json) {
    for (const r of results) {
      if (r.ok) ctx.print(`  pushed to the remote: ${r.pushed.map((p) => p.id).join(', ') || 'nothing new'} (${formatBytes(r.bytesUploaded)} uploaded)`);
      else process.stderr.write(`dbguard: error: ${r.target}: the backup is published locally, but the push to the remote failed: ${r.error!.message}\n  hint: ${r.error!.hint}\n`);
    }
  }
  return results;
}

function printResult(ctx: CliContext, r: BackupResult) {
  const c = ctx.out;
  const mbs = r.bytes / 1024 / 1024 / Math.max(0.001, ((r.phases.copy ?? 0) + (r.phases.checkpoint ?? 0)) / 1000);
  const status = r.status === 'valid' ? c.green('valid') : c.red('INVALID (stored with --allow-damaged; never restored or counted)');
  const where = r.location === 'store' ? `${r.id} (in the store, no plain file)` : path.relative(ctx.cwd, r.file) || r.file;
  ctx.print(`${c.bold(r.target)}  ${where}  ${status}`);
  ctx.print(`  ${formatBytes(r.bytes)}, ${r.tables.length} tables, ${formatCount(r.rows)} rows, ${formatDuration(r.durationMs)} (copy ${formatDuration(r.phases.copy ?? 0)} at ${mbs.toFixed(0)} MB/s, validation ${formatDuration(r.phases.validate ?? 0)})`);
  if (r.consistency === 'live') {
    ctx.print(`  live copy: the database was held by another process; fenced at header iteration ${r.headerIteration}, ${r.attempts} attempt(s)`);
  } else if (r.lockHeldMs !== undefined) {
    ctx.print(`  locked copy: ${engineNamed(r.engine)?.label ?? r.engine}'s shared lock held for ${formatDuration(r.lockHeldMs)}`);
  }
  if (r.store) ctx.print(`  in the store: ${r.store.blocks} blocks, ${r.store.newBlocks} new (${formatBytes(r.store.newBytes)}), ${r.store.reusedBlocks} already stored`);
  if (r.demoted.length) ctx.print(`  now only in the store: ${r.demoted.join(', ')}`);
  if (r.cleaned.length) ctx.print(`  cleaned up ${r.cleaned.length} temporary file(s) of an interrupted run`);
  if (r.removed.length) ctx.print(`  rotation removed ${r.removed.length}: ${r.removed.join(', ')}`);
  for (const p of r.problems) ctx.print(`  ${c.red('problem')} ${p}`);
  if (r.schemaLost) ctx.print(`  ${c.yellow('stored with --allow-damaged')}: the database lacks ${r.schemaLost.join(', ')}; the older backup that has it is kept by rotation, and check reports it until dbguard accept-schema ${r.target}`);
}
