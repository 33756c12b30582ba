import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type * as http from 'node:http';
import { isIP } from 'node:net';

/** The dashboard's session cookie: HttpOnly, SameSite=Strict, and Secure over TLS. */
export const SESSION_COOKIE = 'dbguard_session';

/** The header every dashboard POST must carry: a cross-site page cannot send it without a CORS preflight, which is never granted. */
export const ACTION_HEADER = 'x-dbguard-action';

const digest = (s: string) => createHash('sha256').update(s).digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** The cookie value for a token: derived from it, so the browser never holds the token itself. */
export const sessionValue = (token: string) => createHmac('sha256', token).update('dbguard-dashboard-session/1').digest('base64url');

/** The value of one cookie of the request, or undefined. */
function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * True when no token is configured, or the request carries it: as
 * `Authorization: Bearer <token>`, or as the session cookie the dashboard's
 * login set. Compared in constant time.
 */
export function isAuthorized(req: http.IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const bearer = same(req.headers.authorization ?? '', `Bearer ${token}`);
  const session = same(cookie(req, SESSION_COOKIE) ?? '', sessionValue(token));
  return bearer || session;
}

/** True when the request came over TLS, directly or through a proxy that says so. */
export const overTls = (req: http.IncomingMessage) => Boolean((req.socket as { encrypted?: boolean }).encrypted) || req.headers['x-forwarded-proto'] === 'https';

/** The Set-Cookie header that keeps a session (or, with `clear`, ends it). */
export function sessionCookie(req: http.IncomingMessage, token: string, clear = false): string {
  const parts = [`${SESSION_COOKIE}=${clear ? '' : sessionValue(token)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (clear) parts.push('Max-Age=0');
  if (overTls(req)) parts.push('Secure');
  return parts.join('; ');
}

/** The host name of a Host header, without port or brackets. */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  return isIP(h) === 6 ? h : h.replace(/:\d+$/, '');
}

/** True for a Host header naming this machine's loopback (localhost, 127.x, ::1): refuses DNS-rebinding pages when no token protects the dashboard. */
export function loopbackHost(req: http.IncomingMessage): boolean {
  const h = hostName(req.headers.host ?? '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/**
 * Why a state-changing request must be refused as cross-site, or undefined
 * when it is same-origin: `Sec-Fetch-Site` must be same-origin (or absent,
 * from a non-browser client), an `Origin` must match the Host, and
 * `needHeader` requests must carry the x-dbguard-action header.
 */
export function crossSiteReason(req: http.IncomingMessage, needHeader: boolean): string | undefined {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `Sec-Fetch-Site is ${site}`;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let host: string;
    try { host = new URL(origin).host; } catch { return 'the Origin header is not a URL'; }
    if (host.toLowerCase() !== (req.headers.host ?? '').toLowerCase()) return `Origin ${origin} is not this server`;
  }
  if (needHeader && req.headers[ACTION_HEADER] !== '1') return `the ${ACTION_HEADER} header is missing`;
  return undefined;
}
