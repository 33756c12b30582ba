import * as os from 'node:os';
import type { Config } from '../config/load';
import type { Logger } from '../core/types';
import { silentLogger } from '../core/types';
import { errorMessage } from '../core/errors';
import { redactUrls } from '../core/redact';
import type { JobKind } from './history';

/** `drill-overdue`: no restore drill (verify) succeeded for two `schedule.verify` periods. */
export type AlertEvent = 'failure' | 'damage' | 'repair' | 'recovery' | 'drill-overdue';

/** The ping URLs of the healthchecks.io convention, from `alerts.ping`. */
export function pingUrls(ping: Config['alerts']['ping']): { start?: string; success?: string; failure?: string } {
  const base = ping?.url?.replace(/\/+$/, '');
  return {
    start: ping?.start ?? (base ? `${base}/start` : undefined),
    success: ping?.success ?? base,
    failure: ping?.failure ?? (base ? `${base}/fail` : undefined),
  };
}

export interface Alert {
  target: string;
  event: AlertEvent;
  kind: JobKind;
  message: string;
  time: string;
  host: string;
}

const DELIVERY_ATTEMPTS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withRetries(what: string, log: Logger, fn: () => Promise<void>, baseMs: number): Promise<boolean> {
  for (let attempt = 1; attempt <= DELIVERY_ATTEMPTS; attempt++) {
    try {
      await fn();
      return true;
    } catch (err) {
      log.warn({ channel: what, attempt, error: deliveryError(err) }, 'alert delivery failed');
      if (attempt < DELIVERY_ATTEMPTS) await sleep(baseMs * 2 ** (attempt - 1));
    }
  }
  log.error({ channel: what }, 'alert not delivered after retries');
  return false;
}

/** Why a delivery failed, for the log: the error and its cause (fetch says only "fetch failed"), URLs redacted. */
function deliveryError(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return redactUrls(`${errorMessage(err)}${cause !== undefined ? ` (${errorMessage(cause)})` : ''}`);
}

/**
 * fetch() refuses a URL with `user:pass@`, so the user info is sent as HTTP
 * basic auth instead (how curl and the ping services treat it).
 */
async function httpRequest(url: string, init: RequestInit): Promise<void> {
  const u = new URL(url);
  const headers = new Headers(init.headers);
  if (u.username || u.password) {
    headers.set('authorization', `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`);
    u.username = '';
    u.password = '';
  }
  const res = await fetch(u, { ...init, headers, signal: AbortSignal.timeout(10000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  await res.arrayBuffer();
}

/**
 * Delivers alerts by webhook (JSON or Slack text), email (nodemailer; the
 * password only from DBGUARD_SMTP_PASSWORD) and healthchecks-style ping URLs.
 * Never blocks or throws into a run: deliveries run in the background, are
 * retried 3 times with backoff, and failures are only logged. `flush()` waits
 * for deliveries in flight (used at shutdown and in tests).
 */
export class Alerter {
  private pending = new Set<Promise<unknown>>();
  private transport: import('nodemailer').Transporter | undefined;

  constructor(
    private readonly config: Config,
    private readonly log: Logger = silentLogger,
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly retryBaseMs = 1000,
  ) {}

  private track(p: Promise<unknown>) {
    const q = p.catch(() => undefined).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  /** Sends an alert on every configured channel, in the background. */
  notify(target: string, event: AlertEvent, kind: Alert['kind'], message: string): void {
    const alert: Alert = { target, event, kind, message, time: new Date().toISOString(), host: os.hostname() };
    this.log.warn({ alert: { target, event, kind, message } }, 'alert');
    const { webhook, email } = this.config.alerts;
    if (webhook) {
      const body = webhook.format === 'slack'
        ? { text: `*dbguard ${event}* on ${alert.host}: \`${target}\` ${kind}: ${message} (${alert.time})` }
        : alert;
      this.track(withRetries('webhook', this.log, () => httpRequest(webhook.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }), this.retryBaseMs));
    }
    if (email) this.track(withRetries('email', this.log, () => this.sendMail(alert), this.retryBaseMs));
  }

  /** GETs the success or failure ping URL after a run (`'start'`: the start URL as it begins), in the background. */
  ping(ok: boolean | 'start'): void {
    const urls = pingUrls(this.config.alerts.ping);
    const which = ok === 'start' ? 'start' : ok ? 'success' : 'failure';
    const url = urls[which];
    if (url) this.track(withRetries(`ping ${which}`, this.log, () => httpRequest(url, { method: 'GET' }), this.retryBaseMs));
  }

  private async sendMail(a: Alert): Promise<void> {
    const email = this.config.alerts.email!;
    if (!this.transport) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const nodemailer = require('nodemailer') as typeof import('nodemailer');
      const pass = this.env.DBGUARD_SMTP_PASSWORD;
      this.transport = nodemailer.createTransport({
        host: email.host,
        port: email.port,
        secure: email.secure,
        auth: email.user ? { user: email.user, pass } : undefined,
        tls: { rejectUnauthorized: this.env.DBGUARD_SMTP_INSECURE_TLS !== '1' },
      });
    }
    await this.transport.sendMail({
      from: email.from,
      to: email.to,
      subject: `[dbguard] ${a.event}: ${a.target} ${a.kind} on ${a.host}`,
      text: `${a.message}\n\ntarget: ${a.target}\nevent: ${a.event}\nkind: ${a.kind}\nhost: ${a.host}\ntime: ${a.time}\n`,
    });
  }

  /** Waits (at most `timeoutMs`) for deliveries still in flight. */
  async flush(timeoutMs = 30000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, timeoutMs); });
    try {
      await Promise.race([Promise.all([...this.pending]), timeout]);
    } finally {
      // a pending timer would keep a stopped daemon's process alive for the whole timeout
      clearTimeout(timer);
    }
  }
}
