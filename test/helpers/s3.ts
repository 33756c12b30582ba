/**
 * A real S3-compatible server for tests: s3rver on 127.0.0.1 (random port,
 * temp folder, its own process), behind a small HTTP proxy that counts the bytes it receives
 * (the bench's "server's own byte counts"), records request headers, and can
 * answer errors, drop connections or stop dead mid-upload on demand. Tests
 * talk to the proxy's URL; nothing is mocked in the SDK.
 *
 * The proxy runs in the test process: a CLI child that talks to it must be
 * started with runCliAsync/startCli (helpers/cli.ts), never the synchronous
 * runCli, which blocks the event loop the proxy answers on.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** Starts s3rver in a child process (s3rver-child.js) and resolves its port. */
function startS3rver(dir: string, buckets: string[]): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', path.join(__dirname, 's3rver-child.js'), dir, ...buckets], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); await exited; };
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const m = /\{"port":(\d+)\}/.exec(out);
      if (m) resolve({ port: Number(m[1]), stop });
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening: ${err}`)));
  });
}

/** The credentials s3rver accepts (its built-in account). Only for the test process and its children. */
export const S3_TEST_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_EC2_METADATA_DISABLED: 'true' } as const;

export interface RecordedRequest { method: string; url: string; headers: http.IncomingHttpHeaders; bytes: number }

/** An error the proxy answers instead of forwarding, for the next `times` requests that match. */
export interface InjectedAnswer {
  times: number;
  status: number;
  /** S3 error code in the XML body, e.g. InternalError, AccessDenied, SignatureDoesNotMatch. */
  code: string;
  message?: string;
  /** Only requests with this method (PUT, GET, POST, ...). */
  method?: string;
  /** Only requests for which this returns true. */
  match?: (req: http.IncomingMessage) => boolean;
}

export interface TestS3 {
  /** The proxy's URL: use as `remote.endpoint` (with forcePathStyle true). */
  endpoint: string;
  /** s3rver's own URL, bypassing the proxy. */
  directEndpoint: string;
  /** s3rver's storage folder: the provider's view of every object (for "no plaintext" greps). */
  dir: string;
  /** Request body bytes that reached the proxy (all requests since start or `resetCounts`). */
  bytesReceived(): number;
  /** Resolves once `bytes` request body bytes in all have reached the proxy (since start or resetCounts). */
  whenReceived(bytes: number): Promise<void>;
  /** Response body bytes s3rver sent back through the proxy (downloads). */
  bytesSent(): number;
  requests(): RecordedRequest[];
  resetCounts(): void;
  /** Answers the next matching requests with an S3 error XML instead of forwarding them. */
  answer(a: InjectedAnswer): void;
  /** Forgets every injected answer, drop and pending stop. */
  clearFaults(): void;
  /** Resets the connection of the next `times` requests after `afterBytes` of their body arrived. */
  dropConnections(times: number, afterBytes?: number): void;
  /** Cuts the connection of the next `times` GET answers after `afterBytes` of their body were sent. */
  dropResponses(times: number, afterBytes: number): void;
  /** The next `times` requests are read but never answered. */
  hang(times: number): void;
  /** Stops accepting connections (and kills open ones) once `afterBytes` more request body bytes arrived: a server that dies mid-upload. */
  stopAfterBytes(afterBytes: number): Promise<void>;
  /** Listens again on the same port after a stop. */
  resume(): Promise<void>;
  /** Stops the proxy and s3rver and removes the folder. Idempotent. */
  close(): Promise<void>;
}

/** Starts s3rver (buckets `buckets` created) and the proxy, both on 127.0.0.1 with random ports. */
export async function startS3(buckets: string[] = ['dbguard-test']): Promise<TestS3> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbguard-s3-'));
  const server = await startS3rver(dir, buckets);
  const upstreamPort = server.port;

  let received = 0;
  let answered = 0;
  let recorded: RecordedRequest[] = [];
  const answers: InjectedAnswer[] = [];
  let drops: { times: number; afterBytes: number } | undefined;
  let responseDrops: { times: number; afterBytes: number } | undefined;
  let hangs = 0;
  let stopAt: { bytes: number; reached(): void } | undefined;
  let waiters: { bytes: number; resolve(): void }[] = [];
  const sockets = new Set<Socket>();

  const sendError = (res: http.ServerResponse, status: number, code: string, message: string) => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body), 'x-amz-request-id': 'test' });
    res.end(body);
  };

  const proxy = http.createServer((req, res) => {
    const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes: 0 };
    recorded.push(rec);
    const injected = answers.find((a) => a.times > 0 && (!a.method || a.method === req.method) && (!a.match || a.match(req)));
    let dropped = false;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      rec.bytes += chunk.length;
      // counted when it happens, so requests without a body (HEAD, CreateMultipartUpload) are not used up
      if (drops && drops.times > 0 && !dropped && rec.bytes >= drops.afterBytes) { dropped = true; drops.times--; req.socket.destroy(); }
      if (stopAt && received >= stopAt.bytes) { const s = stopAt; stopAt = undefined; s.reached(); }
      if (waiters.length) { const due = waiters.filter((w) => received >= w.bytes); waiters = waiters.filter((w) => received < w.bytes); for (const w of due) w.resolve(); }
    };
    if (drops && drops.times > 0 && drops.afterBytes === 0) { drops.times--; req.socket.destroy(); return; }
    if (hangs > 0) {
      // accepted, body read, never answered: a service that hangs
      hangs--;
      req.on('data', onData);
      return;
    }
    if (injected) {
      injected.times--;
      req.on('data', onData);
      req.on('end', () => sendError(res, injected.status, injected.code, injected.message ?? injected.code));
      return;
    }
    // forwarded only once the whole body is here: S3 never stores a body cut short, but s3rver stores
    // whatever arrived before the connection closed, which would fake a half-visible object
    const body: Buffer[] = [];
    req.on('data', (chunk: Buffer) => { body.push(chunk); onData(chunk); });
    req.on('end', () => {
      const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        const cut = responseDrops && responseDrops.times > 0 && req.method === 'GET' ? responseDrops : undefined;
        if (cut) cut.times--;
        let sent = 0;
        upRes.on('data', (chunk: Buffer) => {
          sent += chunk.length;
          answered += chunk.length;
          if (cut && sent > cut.afterBytes) { upRes.destroy(); res.socket?.destroy(); }
        });
        upRes.pipe(res);
      });
      up.on('error', () => req.socket.destroy());
      up.end(Buffer.concat(body));
    });
  });
  proxy.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    proxy.once('error', reject);
    proxy.listen(port, '127.0.0.1', () => { proxy.off('error', reject); resolve((proxy.address() as AddressInfo).port); });
  });
  const port = await listen(0);
  const stopProxy = () => new Promise<void>((resolve) => {
    if (!proxy.listening) return resolve();
    proxy.close(() => resolve());
    for (const s of sockets) s.destroy();
  });

  let closed = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    directEndpoint: `http://127.0.0.1:${upstreamPort}`,
    dir,
    bytesReceived: () => received,
    bytesSent: () => answered,
    whenReceived: (bytes) => new Promise<void>((resolve) => { if (received >= bytes) resolve(); else waiters.push({ bytes, resolve }); }),
    requests: () => recorded,
    resetCounts: () => { received = 0; answered = 0; recorded = []; },
    answer: (a) => { answers.push({ ...a }); },
    clearFaults: () => { answers.length = 0; drops = undefined; responseDrops = undefined; hangs = 0; stopAt = undefined; },
    dropResponses: (times, afterBytes) => { responseDrops = { times, afterBytes }; },
    hang: (times) => { hangs = times; },
    dropConnections: (times, afterBytes = 0) => { drops = { times, afterBytes }; },
    stopAfterBytes: (afterBytes) => new Promise<void>((resolve) => {
      stopAt = { bytes: received + afterBytes, reached: () => { void stopProxy().then(resolve); } };
    }),
    resume: async () => { if (!proxy.listening) await listen(port); },
    close: async () => {
      if (closed) return;
      closed = true;
      await stopProxy();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
