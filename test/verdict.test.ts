/** The per-target verdict of /health and the dashboard (issue 13): worst reason first, each with its fix. */
import type { JobRecord } from '../src/daemon/history';
import { verdict, type TargetFacts } from '../src/daemon/verdict';

const base: TargetFacts = { target: 'production', check: { ok: true, findings: [] }, hasValidBackup: true, fresh: true, drillOverdue: false };
const run = (kind: JobRecord['kind'], state: JobRecord['state'], message?: string): JobRecord =>
  ({ id: 'r', target: 'production', kind, state, attempt: 2, at: '', ...(message ? { error: { code: 'x', exitCode: 6, message } } : {}) });

test('healthy, then each degraded and unhealthy reason, worst first', () => {
  expect(verdict(base)).toEqual({ state: 'healthy', reason: 'database healthy, fresh valid backup' });
  expect(verdict({ ...base, drillOverdue: true })).toEqual({ state: 'degraded', reason: expect.stringMatching(/restore drill.*dbguard verify production/) });
  expect(verdict({ ...base, drillOverdue: true, retrying: run('backup', 'retrying') })).toEqual({ state: 'degraded', reason: 'backup is being retried (attempt 2)' });
  expect(verdict({ ...base, failedRun: run('verify', 'failed', 'sha256 differs') }).reason).toBe('the last restore drill failed: sha256 differs');
  expect(verdict({ ...base, failedRun: run('backup', 'failed', 'disk full'), fresh: false })).toEqual({ state: 'unhealthy', reason: expect.stringMatching(/older than two backup periods: run dbguard backup production/) });
  expect(verdict({ ...base, hasValidBackup: false, fresh: false }).reason).toBe('no valid backup: run dbguard backup production');
  expect(verdict({ ...base, check: { ok: false, findings: ['not-duckdb'] }, hasValidBackup: false })).toEqual({ state: 'unhealthy', reason: 'database damaged at the last check (not-duckdb): run dbguard repair production' });
  // no check yet is not damage
  expect(verdict({ ...base, check: null }).state).toBe('healthy');
});
