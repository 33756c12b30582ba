/**
 * The dashboard over HTTP (issue 13): without a token it answers only to a
 * loopback Host; with a token every route but /ready needs it (header or the
 * login's cookie: HttpOnly, SameSite=Strict, Secure over TLS); cross-site
 * POSTs are refused and start nothing; "run now" goes through the runner and
 * refuses a duplicate; no config value or secret reaches the browser.
 */
import * as http from 'node:http';
import { baseUrl, Daemons, get, Sandbox, waitFor } from './helpers/daemon';

/** GET with a Host header of our choosing (fetch always sends the URL's). */
function getWithHost(url: string, host: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) }));
    });
    req.on('error', reject);
  });
}

const box = new Sandbox('dbguard-ui-http-');
const daemons = new Daemons();
afterEach(() => daemons.stopAll());
afterAll(() => box.cleanup());

const TOKEN = 'dashboard-token-s3cret-42';

/** A POST as the dashboard's page sends it (same origin, the action header), with `headers` over that. */
async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const origin = new URL(url).origin;
  const res = await fetch(url, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/json', origin, 'sec-fetch-site': 'same-origin', 'x-dbguard-action': '1', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, body: text, json, headers: res.headers };
}

describe('without a token (loopback)', () => {
  test('the page, its assets and state answer on 127.0.0.1 and carry no config value; another Host is refused', async () => {
    const site = await box.site();
    const d = await daemons.start(site.config());
    const base = baseUrl(d);
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.contentType).toMatch(/text\/html/);
    expect(page.body).toContain('<script src="/assets/app.js">');
    expect(page.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing from a CDN
    for (const a of ['/assets/app.js', '/assets/app.css', '/assets/favicon.svg']) expect((await get(`${base}${a}`)).status).toBe(200);

    const state = await get(`${base}/api/state`);
    expect(state.status).toBe(200);
    expect(state.json.targets.map((t: any) => t.target)).toEqual(['production', 'staging']);
    expect(state.json.targets[0]).toMatchObject({ status: 'healthy', lastBackup: { bytes: expect.any(Number), rows: expect.any(Number) } });
    expect(state.json.series.production.length).toBeGreaterThan(0);
    // no path, schedule text or backup folder reaches the browser
    expect(state.body).not.toContain(site.dir);
    expect(state.body).not.toContain('0 0 1 1 *');

    // a DNS-rebinding page reaches 127.0.0.1 under its own name: refused
    const rebound = await getWithHost(`${base}/api/state`, `attacker.example:${new URL(base).port}`);
    expect(rebound.status).toBe(403);
    expect(rebound.json.error).toMatch(/not a loopback name/);
    expect((await getWithHost(`${base}/api/state`, `localhost:${new URL(base).port}`)).status).toBe(200);
  });

  test('a cross-site POST is refused and starts nothing; a same-origin one is queued through the runner, a duplicate is refused', async () => {
    const site = await box.site();
    const d = await daemons.start(site.config());
    const url = `${baseUrl(d)}/api/run`;
    const body = { target: 'production', kind: 'backup' };

    const cross = await post(url, body, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(cross.status).toBe(403);
    expect(cross.json.error).toMatch(/cross-site/);
    expect((await post(url, body, { origin: 'http://evil.example', 'sec-fetch-site': '' })).status).toBe(403);
    const noHeader = await post(url, body, { 'x-dbguard-action': '' });
    expect(noHeader.status).toBe(403);
    expect(noHeader.json.error).toMatch(/x-dbguard-action/);
    expect((await get(url)).status).toBe(405);
    expect(site.history()).toEqual([]);

    expect((await post(url, { target: 'nope', kind: 'backup' })).status).toBe(400);
    expect((await post(url, { target: 'production', kind: 'restore' })).status).toBe(400);
    expect((await post(url, 'not json')).status).toBe(400);

    const ok = await post(url, body);
    expect(ok.status).toBe(202);
    const again = await post(url, body);
    expect(again.status).toBe(409);
    const done = await waitFor('the dashboard backup', () => site.history().find((r) => r.reason === 'dashboard' && r.state === 'succeeded'));
    expect(done).toMatchObject({ target: 'production', kind: 'backup', source: 'daemon' });
    expect(new Set(site.history().map((r) => r.id)).size).toBe(1);
  });
});

describe('with a token', () => {
  test('every route but /ready needs it; the login sets an HttpOnly, SameSite=Strict cookie (Secure over TLS) that is not the token', async () => {
    const site = await box.site();
    const d = await daemons.start(site.config(), { env: { DBGUARD_HTTP_TOKEN: TOKEN } });
    const base = baseUrl(d);

    expect((await get(`${base}/ready`)).status).toBe(200);
    const login = await get(`${base}/`);
    expect(login.status).toBe(401);
    expect(login.body).toMatch(/<form method="post" action="\/login">/);
    for (const p of ['/api/state', '/health', '/metrics']) expect((await get(`${base}${p}`)).status).toBe(401);
    expect((await post(`${base}/api/run`, { target: 'production', kind: 'check' })).status).toBe(401);

    const form = (token: string, headers: Record<string, string> = {}) => fetch(`${base}/login`, {
      method: 'POST', redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: base, 'sec-fetch-site': 'same-origin', ...headers },
      body: new URLSearchParams({ token }).toString(),
    });
    const wrong = await form('guess');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // a login form posted from another site is refused
    expect((await form(TOKEN, { origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);

    const right = await form(TOKEN);
    expect(right.status).toBe(303);
    const cookie = right.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^dbguard_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0]!;
    const tls = await form(TOKEN, { 'x-forwarded-proto': 'https' });
    expect(tls.headers.get('set-cookie')).toMatch(/; Secure$/);

    const page = await get(`${base}/`, { cookie: session });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Log out');
    const state = await get(`${base}/api/state`, { cookie: session });
    expect(state.status).toBe(200);
    expect((await get(`${base}/health`, { cookie: session })).status).toBe(200);
    expect((await get(`${base}/api/state`, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect((await get(`${base}/api/state`, { cookie: 'dbguard_session=forged' })).status).toBe(401);
    for (const r of [login, page, state]) expect(r.body).not.toContain(TOKEN);

    // with the cookie, a cross-site POST is still refused (SameSite aside, Origin and the header decide)
    expect((await post(`${base}/api/run`, { target: 'production', kind: 'check' }, { cookie: session, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    const queued = await post(`${base}/api/run`, { target: 'production', kind: 'check' }, { cookie: session });
    expect(queued.status).toBe(202);
    await waitFor('the dashboard check', () => site.history().find((r) => r.reason === 'dashboard' && r.kind === 'check' && r.state === 'succeeded'));

    const out = await fetch(`${base}/logout`, { method: 'POST', redirect: 'manual', headers: { cookie: session, origin: base } });
    expect(out.status).toBe(303);
    expect(out.headers.get('set-cookie')).toMatch(/dbguard_session=; .*Max-Age=0/);
  });
});
