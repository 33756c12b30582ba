/**
 * The daemon's HTTP endpoints survive hostile requests (issue 8, item 5):
 * `GET //` (which needs no token) used to end the daemon with "TypeError:
 * Invalid URL", unlogged. Every malformed request line or target gets a 400
 * and the daemon keeps running; an error in a handler is logged and answered 500.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { startHttpServer } from '../src/daemon/http';
import type { Logger } from '../src/core/types';
import { freePort, get, Sandbox, Spawned, waitFor } from './helpers/daemon';

const box = new Sandbox('dbguard-http-robust-');
const spawned = new Spawned();
afterEach(() => spawned.killAll());
afterAll(() => box.cleanup());

/** Sends raw bytes on a fresh TCP connection and resolves with everything the server answered before closing it (requests say Connection: close). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('error', reject);
    s.on('close', () => resolve(got));
    s.on('connect', () => s.write(bytes));
  });
}

test('GET //, GET *, an absolute URL and garbage request lines get 400; the daemon keeps running and logs them', async () => {
  const port = await freePort();
  const site = await box.site({ http: { host: '127.0.0.1', port } });
  const logFile = path.join(site.dir, 'daemon.log');
  const d = spawned.start(site.dir, { DBGUARD_HTTP_TOKEN: 'tok-secret' }, ['--log-file', logFile]);
  await waitFor('the daemon to be ready', async () => (await get(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200, 30000, 50);

  for (const target of ['//', '//evil.example/health', '*', 'http://127.0.0.1/health', '/\\\\']) {
    const answer = await raw(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect([target, answer.split('\r\n')[0]]).toEqual([target, 'HTTP/1.1 400 Bad Request']);
  }
  for (const line of ['GARBAGE\r\n\r\n', 'GET /health HTTP/9.9 extra\r\n\r\n', '\x00\x01\x02 / HTTP/1.1\r\n\r\n']) {
    const answer = await raw(port, line);
    expect([JSON.stringify(line), answer.split('\r\n')[0]]).toEqual([JSON.stringify(line), 'HTTP/1.1 400 Bad Request']);
  }

  // still alive and still guarded by the token
  expect(d.child.exitCode).toBeNull();
  expect((await get(`http://127.0.0.1:${port}/health`)).status).toBe(401);
  expect([200, 503]).toContain((await get(`http://127.0.0.1:${port}/health`, { authorization: 'Bearer tok-secret' })).status);
  expect(d.stderr()).not.toMatch(/Invalid URL|TypeError/);
  const log = fs.readFileSync(logFile, 'utf8');
  expect(log).toContain('http request with a malformed request target');
  expect(log).toContain('http request that could not be parsed');
  expect(log).not.toContain('tok-secret');
}, 60000);

test('a handler that throws is logged and answered 500; the next request is served', async () => {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const at = (level: string) => (obj: object | string, msg?: string) => { lines.push({ level, obj, msg }); };
  const log: Logger = { info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
  let calls = 0;
  const server = await startHttpServer('127.0.0.1', 0, undefined, {
    ready: () => { if (++calls === 1) throw new Error('ready exploded'); return true; },
    health: () => ({ status: 'healthy' }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
  }, log);
  try {
    const port = (server.address() as net.AddressInfo).port;
    const first = await get(`http://127.0.0.1:${port}/ready`);
    expect(first.status).toBe(500);
    expect(first.body).not.toContain('exploded');
    expect(lines.find((l) => l.level === 'error')).toMatchObject({ msg: 'http request failed', obj: { path: '/ready', error: 'ready exploded' } });
    expect((await get(`http://127.0.0.1:${port}/ready`)).status).toBe(200);
  } finally {
    await new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  }
});
