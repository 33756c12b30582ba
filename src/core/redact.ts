/**
 * Redaction of credentials in URLs, for every URL dbguard logs or prints:
 * a ping, webhook or SMTP URL may carry `user:pass@` or a token in its query.
 */

const MASK = '[redacted]';

/** Query parameters whose values are secrets (token=, api_key=, sig=, password=, ...). */
const SECRET_PARAM = /token|key|secret|pass|pwd|auth|sig|credential|session/i;

/**
 * The URL with its user info and the values of token-like query parameters
 * replaced by `[redacted]`. Pure; never throws: text that does not parse as a
 * URL is returned with any `//user:pass@` part masked anyway.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.replace(/(\/\/)[^/@\s]*@/, `$1${MASK}@`);
  }
  if (!u.username && !u.password && ![...u.searchParams.keys()].some((k) => SECRET_PARAM.test(k))) return url;
  const userinfo = u.username || u.password ? `${MASK}@` : '';
  const query = [...u.searchParams].map(([k, v]) => `${encodeURIComponent(k)}=${SECRET_PARAM.test(k) ? MASK : encodeURIComponent(v)}`).join('&');
  return `${u.protocol}//${userinfo}${u.host}${u.pathname}${query ? `?${query}` : ''}${u.hash}`;
}

/** `text` (an error message, a log line) with every URL in it passed through redactUrl. */
export function redactUrls(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi, (m) => redactUrl(m));
}
