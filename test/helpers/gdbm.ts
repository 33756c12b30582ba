import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

/**
 * Fails (never skips) when gdbmtool is missing, naming the Debian package.
 * Call it in beforeAll of every test file that needs gdbmtool.
 */
export function requireGdbmtool(): void {
  const r = spawnSync('gdbmtool', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error('these tests need gdbmtool from the Debian package "gdbmtool": apt-get install gdbmtool (.ci/run installs it)');
}

/** Runs gdbmtool with commands on stdin; throws when it printed any error. */
export function gdbmtool(args: string[], commands = ''): string {
  const r = spawnSync('gdbmtool', ['-N', '-q', ...args], { input: commands, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.stderr.trim()) throw new Error(`gdbmtool ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** Creates a GDBM file with gdbmtool itself, storing keys key1..keyN (values value-i-…). */
export function createGdbm(file: string, keys: number, opts: { numsync?: boolean; start?: number } = {}): void {
  const start = opts.start ?? 1;
  const lines: string[] = [];
  for (let i = start; i < start + keys; i++) lines.push(`store key${i} "value-${i}-padding-padding-padding"`);
  gdbmtool([...(opts.numsync ? ['-x'] : []), ...(fs.existsSync(file) ? [] : ['-n']), file], lines.join('\n') + '\n');
}

/** The key count gdbmtool reports, or throws with its error. */
export function gdbmCount(file: string): number {
  const out = gdbmtool(['-r', file, 'count']);
  const m = /There (?:are|is) (\d+) item/.exec(out);
  if (!m) throw new Error(`no count from gdbmtool: ${out}`);
  return Number(m[1]);
}

/** Every key of the file (via `export … ascii`, decoded), sorted. */
export function gdbmKeys(file: string): string[] {
  const dump = spawnSync('sh', ['-c', 'gdbmtool -N -q -r "$0" export /dev/stdout truncate ascii | cat', file], { encoding: 'utf8' });
  if (dump.stderr.trim()) throw new Error(dump.stderr);
  const lines = dump.stdout.split('\n');
  const records: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i]!.startsWith('#:len=')) continue;
    let b64 = '';
    for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('#'); j++) b64 += lines[j];
    records.push(Buffer.from(b64, 'base64').toString('utf8'));
  }
  return records.filter((_, i) => i % 2 === 0).sort();
}

/**
 * Leaves `file` in gdbm's "needs recovery" state the way it happens in
 * production: a writer holds the database open, a store fails half-written
 * (here the file-size limit makes the kernel refuse the write — EFBIG, like a
 * full disk), and then the writer is killed with SIGKILL while it still holds
 * the database. gdbm marks such a file by its header (next_block < file size).
 * Resolves once the writer is dead.
 */
export async function killWriterMidStore(file: string): Promise<void> {
  const limitBlocks = Math.ceil(fs.statSync(file).size / 512) + 16; // dash counts 512-byte blocks, bash 1024: both leave room for a few stores only
  const child = spawn('sh', ['-c', `trap "" XFSZ; ulimit -f ${limitBlocks}; exec gdbmtool -N -q "$0"`, file], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  const failed = new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (/File too large|needs recovery/.test(stderr)) resolve();
      else if (/Can't be writer|cannot open/.test(stderr)) reject(new Error(`the writer could not open ${file}: ${stderr}`));
    });
    child.on('exit', () => reject(new Error(`the writer exited before a store failed: ${stderr}`)));
  });
  child.stdin!.on('error', () => {}); // the kill below cuts the stores still queued
  const big = 'x'.repeat(12000);
  for (let i = 0; i < 40; i++) child.stdin!.write(`store big${i} "${big}"\n`);
  // stdin stays open: the writer is alive, holding the database, when it is killed
  await failed;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Writes `text` over the file at `offset` (default: over the header). */
export function writeOver(file: string, text: string, offset = 0): void {
  const fd = fs.openSync(file, 'r+');
  try { fs.writeSync(fd, Buffer.from(text), 0, text.length, offset); } finally { fs.closeSync(fd); }
}

/**
 * Starts a gdbmtool that opens `file` for writing (gdbm's exclusive lock) and
 * holds it until release(). Resolves once the database is open: gdbmtool's
 * stdout is block-buffered into a pipe but its stderr is not, so a fetch of a
 * key no one stores answers right after the open.
 */
export async function holdForWriting(file: string): Promise<{ pid: number; release(): Promise<void> }> {
  const child = spawn('gdbmtool', ['-N', '-q', file], { stdio: ['pipe', 'ignore', 'pipe'] });
  child.stdin!.on('error', () => {});
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (!err.endsWith('\n')) return;
      if (/No such item/.test(err)) resolve();
      else reject(new Error(`gdbmtool could not hold ${file}: ${err}`));
    });
    child.on('exit', () => reject(new Error(`gdbmtool exited before it held ${file}: ${err}`)));
    child.stdin!.write('count\nfetch "no-such-key-here"\n');
  });
  return { pid: child.pid!, release: () => new Promise((r) => { if (child.exitCode !== null) return r(); child.once('exit', () => r()); child.stdin!.end(); }) };
}
