import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as path from 'node:path';
import type { Logger } from '../../core/types';
import { crossSiteReason, isAuthorized, loopbackHost, sessionCookie } from './auth';
import { dashboardState, type DashboardSource } from './state';

/** The page's files, shipped in the package next to this module (copied to dist by the build). */
const ASSET_DIR = path.join(__dirname, 'assets');
const ASSETS: Record<string, string> = {
  '/assets/app.js': 'text/javascript; charset=utf-8',
  '/assets/app.css': 'text/css; charset=utf-8',
  '/assets/favicon.svg': 'image/svg+xml',
};
const cache = new Map<string, Buffer>();
const asset = (name: string) => {
  let b = cache.get(name);
  if (!b) { b = fs.readFileSync(path.join(ASSET_DIR, name)); cache.set(name, b); }
  return b;
};

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // same-origin, not no-referrer: with no-referrer a browser sends "Origin: null" on the login form's POST, which the cross-site check refuses
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

const KINDS = ['backup', 'check', 'verify'] as const;
const MAX_BODY = 16 * 1024;

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => {
      body += d;
      if (body.length > MAX_BODY) { reject(new Error('body too large')); req.destroy(); }
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

export interface DashboardOptions {
  token: string | undefined;
  source: DashboardSource;
  log: Logger;
}

/**
 * The dashboard's routes: `GET /` (the page, or the token form when a token
 * is required and missing), `/assets/*`, `GET /api/state`, `POST /api/run`
 * (`{ target, kind }`, queued through the daemon's runner), `POST /login`
 * and `POST /logout`. Returns false for any other path, which the caller
 * handles. Every POST is refused (403) when cross-site; without a token, a
 * Host header that is not loopback is refused (DNS rebinding).
 */
export function handleDashboard(req: http.IncomingMessage, res: http.ServerResponse, url: URL, opts: DashboardOptions): boolean {
  const p = url.pathname;
  const known = p === '/' || p === '/index.html' || p === '/login' || p === '/logout' || p.startsWith('/api/') || p in ASSETS;
  if (!known) return false;
  const send = (status: number, body: string | Buffer, type = 'application/json', extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...extra });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const json = (status: number, doc: unknown, extra: Record<string, string> = {}) => send(status, JSON.stringify(doc), 'application/json', extra);
  const { token, source } = opts;
  if (!token && !loopbackHost(req)) {
    json(403, { error: `refused: Host ${req.headers.host ?? '(none)'} is not a loopback name; without a token the dashboard answers only to localhost / 127.0.0.1` });
    return true;
  }
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (!get && req.method !== 'POST') {
    json(405, { error: 'method not allowed' }, { allow: 'GET, HEAD, POST' });
    return true;
  }
  if (p in ASSETS) {
    if (!get) { json(405, { error: 'method not allowed' }); return true; }
    // the page's code holds nothing secret: the login form needs its styles before the token is known
    send(200, asset(p.slice('/assets/'.length)), ASSETS[p]!, { 'cache-control': 'no-cache' });
    return true;
  }
  if (!get) {
    const why = crossSiteReason(req, p.startsWith('/api/'));
    if (why) {
      opts.log.warn({ path: p, why }, 'refused a cross-site request');
      json(403, { error: `refused as a cross-site request: ${why}` });
      return true;
    }
  }
  if (p === '/login') {
    if (get) { send(303, '', 'text/plain', { location: '/' }); return true; }
    readBody(req).then((body) => {
      const given = new URLSearchParams(body).get('token') ?? '';
      if (!token) return send(303, '', 'text/plain', { location: '/' });
      const ok = isAuthorized({ headers: { authorization: `Bearer ${given}` } } as http.IncomingMessage, token);
      if (!ok) return send(401, page('login', 'That token is not right. Use the value of DBGUARD_HTTP_TOKEN on the daemon\'s machine.'), 'text/html; charset=utf-8');
      send(303, '', 'text/plain', { location: '/', 'set-cookie': sessionCookie(req, token) });
    }, () => json(413, { error: 'request body too large' }));
    return true;
  }
  if (p === '/logout') {
    if (get) { json(405, { error: 'use POST' }); return true; }
    send(303, '', 'text/plain', { location: '/', ...(token ? { 'set-cookie': sessionCookie(req, token, true) } : {}) });
    return true;
  }
  if (!isAuthorized(req, token)) {
    if (p === '/' || p === '/index.html') send(401, page('login'), 'text/html; charset=utf-8');
    else json(401, { error: 'unauthorized: send Authorization: Bearer <token>, or log in on the dashboard' });
    return true;
  }
  if (p === '/' || p === '/index.html') {
    if (!get) { json(405, { error: 'method not allowed' }); return true; }
    send(200, page('dashboard', undefined, Boolean(token)), 'text/html; charset=utf-8');
    return true;
  }
  if (p === '/api/state') {
    if (!get) { json(405, { error: 'use GET' }); return true; }
    try {
      json(200, dashboardState(source));
    } catch (err) {
      opts.log.error({ error: String(err) }, 'dashboard state failed');
      json(503, { error: 'the dashboard state could not be computed; see the daemon log' });
    }
    return true;
  }
  if (p === '/api/run') {
    if (get) { json(405, { error: 'use POST' }, { allow: 'POST' }); return true; }
    readBody(req).then((body) => {
      let doc: { target?: unknown; kind?: unknown };
      try { doc = JSON.parse(body) as typeof doc; } catch { return json(400, { error: 'send JSON: { "target": "<name>", "kind": "backup" | "check" | "verify" }' }); }
      const target = typeof doc.target === 'string' ? doc.target : '';
      const kind = KINDS.find((k) => k === doc.kind);
      if (!source.targets().includes(target)) return json(400, { error: `unknown target "${target}"`, targets: source.targets() });
      if (!kind) return json(400, { error: `kind must be one of ${KINDS.join(', ')}` });
      if (source.isQueued(target, kind)) return json(409, { queued: false, error: `a ${kind} of ${target} is already queued or running` });
      void source.trigger(target, kind, 'dashboard');
      opts.log.info({ target, kind }, 'run requested from the dashboard');
      json(202, { queued: true, target, kind });
    }, () => json(413, { error: 'request body too large' }));
    return true;
  }
  json(404, { error: 'not found' });
  return true;
}

/** The HTML shell: the dashboard (filled in by app.js) or the token form. */
function page(which: 'dashboard' | 'login', message?: string, withLogout = false): string {
  const head = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>dbguard</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
</head>`;
  if (which === 'login') {
    return `${head}
<body class="login">
<main>
<h1>dbguard</h1>
<p>This dashboard needs the daemon's token.</p>
${message ? `<p class="error" role="alert">${message}</p>` : ''}
<form method="post" action="/login">
<label for="token">Token (<code>DBGUARD_HTTP_TOKEN</code>)</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Open the dashboard</button>
</form>
<p class="muted">It is kept in a session cookie (HttpOnly, SameSite=Strict) so you are asked once.</p>
</main>
</body>
</html>
`;
  }
  return `${head}
<body>
<header class="top">
<h1>dbguard</h1>
<span id="overall" class="pill" aria-live="polite">…</span>
<span id="updated" class="muted"></span>
${withLogout ? '<form method="post" action="/logout" class="logout"><button type="submit" class="link">Log out</button></form>' : ''}
</header>
<main>
<p id="notice" class="notice" role="status" aria-live="polite" hidden></p>
<section aria-labelledby="h-targets"><h2 id="h-targets">Databases</h2><div id="cards" class="cards"></div></section>
<section aria-labelledby="h-trends"><h2 id="h-trends">Backups over time</h2><div id="charts" class="charts"></div></section>
<section aria-labelledby="h-history">
<h2 id="h-history">History</h2>
<div class="filters">
<label>Target <select id="f-target"><option value="">all</option></select></label>
<label>Result <select id="f-result"><option value="">all</option><option value="succeeded">succeeded</option><option value="failed">failed</option><option value="running">running</option><option value="cancelled">cancelled</option></select></label>
</div>
<div class="table-wrap" tabindex="0" aria-label="run history (scrolls sideways)">
<table id="history"><thead><tr><th scope="col">Time</th><th scope="col">Target</th><th scope="col">Kind</th><th scope="col">Result</th><th scope="col">Duration</th><th scope="col">Size</th><th scope="col">Rows</th><th scope="col">Attempt</th><th scope="col">Run</th><th scope="col">Error</th></tr></thead><tbody></tbody></table>
</div>
</section>
</main>
<script src="/assets/app.js"></script>
</body>
</html>
`;
}
