import * as http from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { ConfigError, errorMessage } from '../core/errors';
import type { Logger } from '../core/types';
import { isAuthorized } from './ui/auth';
import { handleDashboard } from './ui/routes';
import type { DashboardSource } from './ui/state';

export interface Endpoints {
  ready(): boolean;
  health(): { status: 'healthy' | 'degraded' | 'unhealthy' } & Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The web dashboard (GET /, /api/*); absent: no dashboard. */
  dashboard?: DashboardSource;
}

/** True for localhost and the loopback addresses 127.0.0.0/8, ::1 and ::ffff:127.x (a host name that merely starts with "127." is not). */
export const isLoopback = (host: string) => {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
};

/** A listen failure as a configuration error naming http.host / http.port and the fix. */
function listenError(err: NodeJS.ErrnoException, host: string, port: number): Error {
  switch (err.code) {
    case 'EADDRINUSE':
      return new ConfigError(`http.port ${port} on ${host} is already in use (another dbguard daemon?)`, 'stop the other process, or set http.port (or DBGUARD_HTTP_PORT) to a free port');
    case 'EACCES':
      return new ConfigError(`http.port ${port} on ${host} needs privileges this user does not have`, 'use a port above 1023 in http.port');
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConfigError(`http.host ${host} is not an address of this machine (${err.code})`, 'set http.host to 127.0.0.1 or an address of this machine');
    default:
      return err;
  }
}

/**
 * Serves GET /health (200 healthy or degraded, 503 unhealthy), /ready (200
 * once schedules are armed), /metrics (Prometheus text) and the dashboard
 * (ui/routes.ts). With a token, every endpoint but /ready needs
 * `Authorization: Bearer <token>` or the dashboard's session cookie. Responses
 * carry only what the endpoints compute; no config value is echoed.
 */
export function startHttpServer(host: string, port: number, token: string | undefined, endpoints: Endpoints, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    const url = requestUrl(req.url);
    if (!url) {
      log.warn({ method: req.method, path: pathOf(req.url) }, 'http request with a malformed request target');
      return send(400, JSON.stringify({ error: 'bad request: the request target must be a path such as /health' }));
    }
    try {
      route(req, res, url, send);
    } catch (err) {
      // logged and answered: an error in a handler must never end the daemon
      log.error({ method: req.method, path: url.pathname, error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'http request failed');
      if (!res.headersSent) send(500, JSON.stringify({ error: 'internal error; see the daemon log' }));
      else res.destroy();
    }
  });
  // A request line Node cannot parse: 400 and close (Node's default, plus a log line).
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) { socket.destroy(); return; }
    log.warn({ error: err.code ?? errorMessage(err) }, 'http request that could not be parsed');
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return listen(server, host, port, log);

  /** The endpoints. Throws only by mistake (answered 500 above); an async route catches its own errors, as /metrics does. */
  function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, send: (status: number, body: string, type?: string) => void): void {
    if (endpoints.dashboard && handleDashboard(req, res, url, { token, source: endpoints.dashboard, log })) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: 'method not allowed' }));
    if (url.pathname === '/ready') return endpoints.ready() ? send(200, JSON.stringify({ ready: true })) : send(503, JSON.stringify({ ready: false }));
    if (!isAuthorized(req, token)) return send(401, JSON.stringify({ error: 'unauthorized: send Authorization: Bearer <token>' }));
    if (url.pathname === '/health') {
      let h: ReturnType<Endpoints['health']>;
      try {
        h = endpoints.health();
      } catch (err) {
        // e.g. the backup folder became unreadable: answer, never crash the daemon
        log.error({ error: String(err) }, 'health failed');
        return send(503, JSON.stringify({ status: 'unhealthy', error: 'health could not be computed; see the daemon log' }));
      }
      return send(h.status === 'unhealthy' ? 503 : 200, JSON.stringify(h, null, 2));
    }
    if (url.pathname === '/metrics') {
      endpoints.metrics().then(
        (m) => send(200, m.body, m.contentType),
        (err) => { log.error({ error: String(err) }, 'metrics failed'); send(500, JSON.stringify({ error: 'metrics failed' })); },
      );
      return;
    }
    send(404, JSON.stringify({ error: 'not found', endpoints: ['/', '/health', '/ready', '/metrics'] }));
  }
}

/**
 * The request target as a URL, or undefined when it is not a path (`//`,
 * `*`, an absolute URL, bytes URL cannot parse): those get a 400.
 */
function requestUrl(raw: string | undefined): URL | undefined {
  if (!raw || !raw.startsWith('/') || raw.startsWith('//')) return undefined;
  try {
    return new URL(raw, 'http://localhost');
  } catch {
    return undefined;
  }
}

/** The path part of a request target for a log line: never the query, which may carry a token. */
const pathOf = (raw: string | undefined) => (raw ?? '').split('?')[0]!.slice(0, 200);

function listen(server: http.Server, host: string, port: number, log: Logger): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(err, host, port)));
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      server.on('error', (err) => log.error({ error: String(err) }, 'http server error'));
      const a = server.address() as AddressInfo;
      log.info({ host: a.address, port: a.port }, 'http endpoints listening');
      resolve(server);
    });
  });
}
