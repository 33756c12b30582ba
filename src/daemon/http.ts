import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../core/types';

export interface Endpoints {
  ready(): boolean;
  health(): { status: 'healthy' | 'degraded' | 'unhealthy' } & Record<string, unknown>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

/** True for 127.0.0.0/8, ::1 and localhost. */
export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || host.startsWith('127.');

/**
 * Serves GET /health (200 healthy or degraded, 503 unhealthy), /ready (200
 * once schedules are armed) and /metrics (Prometheus text). With a token,
 * every endpoint but /ready needs `Authorization: Bearer <token>`. Responses
 * carry only what the endpoints compute; no config value is echoed.
 */
export function startHttpServer(host: string, port: number, token: string | undefined, endpoints: Endpoints, log: Logger): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const send = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, JSON.stringify({ error: 'method not allowed' }));
    if (url.pathname === '/ready') return endpoints.ready() ? send(200, JSON.stringify({ ready: true })) : send(503, JSON.stringify({ ready: false }));
    if (token && req.headers.authorization !== `Bearer ${token}`) return send(401, JSON.stringify({ error: 'unauthorized: send Authorization: Bearer <token>' }));
    if (url.pathname === '/health') {
      const h = endpoints.health();
      return send(h.status === 'unhealthy' ? 503 : 200, JSON.stringify(h, null, 2));
    }
    if (url.pathname === '/metrics') {
      endpoints.metrics().then(
        (m) => send(200, m.body, m.contentType),
        (err) => { log.error({ error: String(err) }, 'metrics failed'); send(500, JSON.stringify({ error: 'metrics failed' })); },
      );
      return;
    }
    send(404, JSON.stringify({ error: 'not found', endpoints: ['/health', '/ready', '/metrics'] }));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const a = server.address() as AddressInfo;
      log.info({ host: a.address, port: a.port }, 'http endpoints listening');
      resolve(server);
    });
  });
}
