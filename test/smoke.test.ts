import { runCli } from './helpers/cli';
import { tempDir } from './helpers/db';

describe('cli basics', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());

  test('--version prints the package version and exits 0', () => {
    const r = runCli(['--version'], { cwd: t.dir });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(require('../package.json').version);
  });

  test('an unknown command is a usage error (exit 2)', () => {
    const r = runCli(['frobnicate'], { cwd: t.dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });
});
