/**
 * The only place that calls fetch. Every failure becomes an ApiError that says whether it is
 * worth retrying (network down, server restarting) or needs the annotator (bad input, conflict).
 */

export class ApiError extends Error {
  /** status 0 means the request never got an answer (offline, server down, timed out). */
  constructor(status, body, message) {
    super(message || (body && body.detail) || (status ? `HTTP ${status}` : 'The server could not be reached.'));
    this.status = status;
    this.body = body;
    this.code = body && body.code;
  }

  get isNetwork() {
    return this.status === 0;
  }

  /** Worth trying again later: no answer, the server is overloaded or restarting. */
  get isRetryable() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }

  get isConflict() {
    return this.status === 409;
  }

  get isAuth() {
    return this.status === 401 || this.status === 403;
  }
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const TIMEOUT_MS = 30000;

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : null;
}

async function csrfToken() {
  // Django rotates the token at sign-in, so read the cookie on every unsafe request.
  let token = cookie('csrftoken');
  if (!token) {
    const body = await request('GET', '/api/auth/csrf/');
    token = cookie('csrftoken') || body.csrf_token;
  }
  return token;
}

/** Send a JSON request and return the parsed body (null for 204); throw ApiError otherwise. */
export async function request(method, url, { body, rawBody, signal, headers: extra } = {}) {
  const headers = { Accept: 'application/json', ...extra };
  if (!SAFE.has(method)) headers['X-CSRFToken'] = await csrfToken();
  let payload;
  if (rawBody !== undefined) {
    payload = rawBody;
    headers['Content-Type'] = 'application/json';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(), TIMEOUT_MS);
  if (signal) signal.addEventListener('abort', () => timeout.abort(), { once: true });
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: payload,
      credentials: 'same-origin',
      signal: timeout.signal,
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError(0, null, navigator.onLine === false ? 'You are offline.' : 'The server could not be reached.');
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  let parsed = null;
  const text = await response.text().catch(() => '');
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // A proxy's HTML error page, say: keep the status, show a plain message.
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}
