/**
 * Credentials in URLs never reach a log line or a message (issue 8, item 5):
 * a ping URL with `user:pass@` used to appear in the log when the ping failed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../src/config/load';
import type { Logger } from '../src/core/types';
import { redactUrl, redactUrls } from '../src/core/redact';
import { Alerter } from '../src/daemon/alerts';
import { runCli } from './helpers/cli';
import { freePort, startRecorder } from './helpers/daemon';
import { tempDir, writeConfig } from './helpers/db';

const t = tempDir('dbguard-redact-');
afterAll(() => t.cleanup());

describe('redactUrl', () => {
  test.each([
    ['https://user:hunter2@hc.example/ping/abc', 'https://[redacted]@hc.example/ping/abc'],
    ['https://user@hc.example/x', 'https://[redacted]@hc.example/x'],
    ['https://hooks.example/h?token=s3cr3t&channel=ops', 'https://hooks.example/h?token=[redacted]&channel=ops'],
    ['https://x.example/p?api_key=k&Signature=s&page=2#top', 'https://x.example/p?api_key=[redacted]&Signature=[redacted]&page=2#top'],
    ['http://127.0.0.1:9977/health', 'http://127.0.0.1:9977/health'],
    ['smtp://me:pw@mail.example:587', 'smtp://[redacted]@mail.example:587'],
    ['not a url but //me:pw@host', 'not a url but //[redacted]@host'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  test('redactUrls masks every URL inside a message and leaves the rest', () => {
    const msg = 'Request cannot be constructed from a URL that includes credentials: https://u:pw@hc.example/p?token=t1 (then http://a:b@c/ failed)';
    const out = redactUrls(msg);
    expect(out).toBe('Request cannot be constructed from a URL that includes credentials: https://[redacted]@hc.example/p?token=[redacted] (then http://[redacted]@c/ failed)');
    for (const secret of ['pw', 't1', 'a:b']) expect(out).not.toContain(secret);
  });
});

/** A logger that keeps every line as JSON text, as a log file would. */
function memoryLogger(): Logger & { text(): string } {
  const lines: string[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => { lines.push(JSON.stringify({ level, obj, msg })); };
  return { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug'), text: () => lines.join('\n') };
}

const configWith = (alerts: Record<string, unknown>) => {
  const dir = fs.mkdtempSync(path.join(t.dir, 'c'));
  writeConfig(dir, { alerts });
  return loadConfig({ cwd: dir, env: {} });
};

test('a failing ping URL with user:pass and a token is logged redacted', async () => {
  const port = await freePort(); // nothing listens there: the ping fails
  const log = memoryLogger();
  const alerter = new Alerter(configWith({ ping: { failure: `http://pinguser:pingpass99@127.0.0.1:${port}/fail?token=tok777` } }), log, {}, 1);
  alerter.ping(false);
  await alerter.flush();
  const text = log.text();
  expect(text).toContain('alert delivery failed');
  expect(text).toContain('alert not delivered after retries');
  for (const secret of ['pinguser', 'pingpass99', 'tok777']) expect(text).not.toContain(secret);
});

test('a ping URL with user:pass is delivered with HTTP basic auth (fetch refuses credentials in the URL)', async () => {
  const rec = await startRecorder();
  try {
    const log = memoryLogger();
    const url = new URL(rec.url);
    const alerter = new Alerter(configWith({ ping: { success: `http://pinguser:p%40ss@${url.host}/ok` } }), log, {}, 1);
    alerter.ping(true);
    await alerter.flush();
    expect(rec.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /ok']);
    expect(rec.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('pinguser:p@ss').toString('base64')}`);
    expect(log.text()).not.toContain('delivery failed');
  } finally {
    await rec.close();
  }
});

test('a config error about a URL does not print its password', () => {
  const dir = fs.mkdtempSync(path.join(t.dir, 'e'));
  writeConfig(dir, { alerts: { webhook: { url: 'ftp://hookuser:hookpass55@hooks.example/x' } } });
  const r = runCli(['list', 'production'], { cwd: dir });
  expect(r.code).toBe(3);
  expect(r.stderr).toContain('alerts.webhook.url');
  expect(r.stderr).toContain('[redacted]@hooks.example');
  expect(r.stderr).not.toContain('hookpass55');
});
