import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { CouldNotCheckError, InterruptedError } from '../../core/errors';

/** The Debian package that ships `gdbmtool`; named in every "missing" message. */
export const GDBMTOOL_PACKAGE = 'gdbmtool';
export const GDBMTOOL_INSTALL = `apt-get install ${GDBMTOOL_PACKAGE}`;

/** `DBGUARD_GDBMTOOL` may point at another gdbmtool binary (tests use it to simulate a missing one). */
export const gdbmtoolPath = (): string => process.env.DBGUARD_GDBMTOOL || 'gdbmtool';

/** `-N` ignores the user's ~/.gdbmtoolrc (it could run commands), `-q` drops the banner. */
const BASE_ARGS = ['-N', '-q'];

/** gdbmtool is not installed (or not runnable): nothing about the file is known. Exit 6, never damage. */
export function gdbmtoolMissing(cause?: unknown): CouldNotCheckError {
  return new CouldNotCheckError(
    `gdbmtool is not installed (needed for GDBM databases; looked for "${gdbmtoolPath()}")`,
    `install Debian's ${GDBMTOOL_PACKAGE} package (${GDBMTOOL_INSTALL}), then run the command again; nothing was judged damaged`,
    'gdbmtool-missing',
  ).because(cause);
}

export interface ToolResult {
  stdout: string;
  /** gdbmtool's error lines, `gdbmtool: argv:1.1-6: ` prefix removed. gdbmtool exits 0 even when a command failed, so these are what count. */
  errors: string[];
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Splits gdbmtool's stderr into its messages without the location prefix. */
export function toolErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => l.replace(/^gdbmtool:\s*(?:(?:argv|stdin|[^:]*):\d+\.\d+(?:-\d+)?:\s*)?/, ''));
}

/**
 * Runs `gdbmtool -N -q ARGS` once (one command given in argv) and collects its
 * output (or streams stdout line by line to `onLine`). Throws gdbmtoolMissing() when the binary cannot be started, and
 * InterruptedError when `signal` aborts it (the child is killed first).
 */
export function runGdbmtool(args: string[], opts: { signal?: AbortSignal; stdin?: string; onLine?: (line: string) => void; realPipe?: boolean } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(new InterruptedError());
    let child: ChildProcess;
    try {
      // Node's stdio pipes are sockets, which gdbm cannot open as /dev/stdout
      // (ENXIO); `realPipe` puts a real pipe between gdbmtool and us.
      child = opts.realPipe
        ? spawn('/bin/sh', ['-c', 'command -v "$0" >/dev/null 2>&1 || exit 127; "$0" "$@" | cat', gdbmtoolPath(), ...BASE_ARGS, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
        : spawn(gdbmtoolPath(), [...BASE_ARGS, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    } catch (err) {
      return reject(gdbmtoolMissing(err));
    }
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (!opts.onLine) return void (stdout += d);
      // streamed: an export of a large database is never held in memory whole
      const lines = (partial + d).split('\n');
      partial = lines.pop()!;
      for (const l of lines) opts.onLine(l);
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const onAbort = () => child.kill('SIGKILL');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.stdin!.on('error', () => {}); // a child that exits before reading stdin is reported by its close
    child.stdin!.end(opts.stdin ?? '');
    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EACCES' ? gdbmtoolMissing(err) : err);
    });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (opts.signal?.aborted) return reject(new InterruptedError());
      if (opts.realPipe && code === 127) return reject(gdbmtoolMissing());
      if (opts.onLine && partial) opts.onLine(partial);
      resolve({ stdout, errors: toolErrors(stderr), code, signal: sig });
    });
  });
}

/** `gdbmtool --version` first line, or undefined when it is not installed. Used by doctor. */
export function gdbmtoolVersion(): string | undefined {
  const r = spawnSync(gdbmtoolPath(), ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split('\n')[0]!.trim();
}

/** Parses "There are N items in the database." / "There is 1 item…". */
export function parseCount(stdout: string): number | undefined {
  const m = /There (?:are|is) (\d+) items? in the database/.exec(stdout);
  return m ? Number(m[1]) : undefined;
}
