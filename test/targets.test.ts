/** Target selectors (DESIGN.md §1): a name, both, all, a comma list; ENVIRONMENT as the default. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig, type Config } from '../src/config/load';
import { selectOneTarget, selectTargets } from '../src/config/targets';
import { UsageError } from '../src/core/errors';
import { tempDir } from './helpers/db';

const t = tempDir('dbguard-targets-');
afterAll(() => t.cleanup());

let n = 0;
function configWith(targets: Record<string, { path: string }>): Config {
  const dir = path.join(t.dir, `c${++n}`);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'dbguard.config.json'), JSON.stringify({ targets }));
  return loadConfig({ cwd: dir, env: {} });
}

const three = () => configWith({ production: { path: 'p.duckdb' }, staging: { path: 's.duckdb' }, analytics: { path: 'a.duckdb' } });

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('no UsageError was thrown');
}

describe('selectTargets', () => {
  test('a single name', () => {
    expect(selectTargets(three(), 'staging')).toEqual(['staging']);
  });

  test('both = production and staging', () => {
    expect(selectTargets(three(), 'both')).toEqual(['production', 'staging']);
  });

  test('all = every configured target, in config order', () => {
    expect(selectTargets(three(), 'all')).toEqual(['production', 'staging', 'analytics']);
  });

  test('a comma list comes back in config order, with spaces tolerated', () => {
    expect(selectTargets(three(), 'analytics, production')).toEqual(['production', 'analytics']);
  });

  test('duplicates are checked once', () => {
    expect(selectTargets(three(), 'production,production')).toEqual(['production']);
    expect(selectTargets(three(), 'both,staging,production')).toEqual(['production', 'staging']);
    expect(selectTargets(three(), 'all,analytics')).toEqual(['production', 'staging', 'analytics']);
  });

  test('an unknown name is a usage error (exit 2) listing the configured names', () => {
    const err = usageError(() => selectTargets(three(), 'production,prod'));
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('unknown-target');
    expect(err.message).toBe('unknown target "prod"');
    expect(err.hint).toBe('configured targets: production, staging, analytics (or both, all)');
  });

  test('names are case-sensitive', () => {
    expect(usageError(() => selectTargets(three(), 'Production')).message).toBe('unknown target "Production"');
  });

  test('"both" without a staging target is a usage error that says so', () => {
    const c = configWith({ production: { path: 'p.duckdb' }, analytics: { path: 'a.duckdb' } });
    const err = usageError(() => selectTargets(c, 'both'));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('"staging" is not configured');
    expect(err.hint).toContain('production, analytics');
  });

  test('no selector falls back to the given default (ENVIRONMENT)', () => {
    expect(selectTargets(three(), undefined, 'analytics')).toEqual(['analytics']);
    expect(selectTargets(three(), 'production', 'analytics')).toEqual(['production']);
  });

  test('no selector and no default: usage error naming the choices', () => {
    const err = usageError(() => selectTargets(three(), undefined));
    expect(err.exitCode).toBe(2);
    expect(err.code).toBe('no-target');
    expect(err.hint).toContain('production, staging, analytics');
    expect(usageError(() => selectTargets(three(), ' , ')).code).toBe('no-target');
  });
});

describe('selectOneTarget', () => {
  test('a name, or ENVIRONMENT when none is given', () => {
    expect(selectOneTarget(three(), 'staging', {})).toBe('staging');
    expect(selectOneTarget(three(), undefined, { ENVIRONMENT: 'production' })).toBe('production');
  });

  test('more than one target is a usage error', () => {
    const err = usageError(() => selectOneTarget(three(), 'both', {}));
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe('this command takes one target, got production, staging');
  });

  test('an unknown ENVIRONMENT is a usage error', () => {
    expect(usageError(() => selectOneTarget(three(), undefined, { ENVIRONMENT: 'qa' })).message).toBe('unknown target "qa"');
  });
});
