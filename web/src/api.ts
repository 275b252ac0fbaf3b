/**
 * The pages' one way to the /v1 API integrators use: bearer token, JSON in and out,
 * problem+json errors turned into ApiError (code, field errors, Chinese message).
 *
 * - A person whose token has expired (401) is sent back to sign-in; what they typed stays in
 *   sessionStorage drafts (drafts.ts) and comes back after they sign in again.
 * - A counter signs itself in again with the terminal credentials kept on the device and
 *   repeats the request once (the same request: a redemption keeps its Idempotency-Key).
 */
import { savedTerminal, session, setSession, type Me, type Session } from './session';
import { clearDrafts } from './drafts';
import { signal } from './signal';

const LAST_ACCOUNT_KEY = 'msl.lastAccount';

export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly body: Record<string, unknown> = {},
  ) {
    super(detail || code);
  }
}

/** Thrown when no answer came (network down, server unreachable, connection cut). */
export class NetworkError extends Error {
  constructor() {
    super('network');
  }
}

/** Set when a person's session ended and sign-in should show (with the page to return to). */
export const sessionExpired = signal<string | null>(null);

/**
 * What the sign-in page says about why the session ended: set when a token still within its
 * lifetime was refused (the account was disabled, its password changed or reset, its tokens
 * revoked), or after the person changed their own password.
 */
export const signInNotice = signal<string | null>(null);

export const REVOKED_NOTICE =
  '您的登录已被终止：账号可能已被县中心停用，或密码已被修改、重设。请重新登录；如果无法登录，请联系县中心。';

const TOKEN_MARGIN_MS = 30_000;

async function signIn(
  body: Record<string, string>,
): Promise<{ accessToken: string; expiresIn: number }> {
  let res: Response;
  try {
    res = await fetch('/v1/auth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch {
    throw new NetworkError();
  }
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok)
    throw new ApiError(
      res.status,
      String(json.code ?? 'error'),
      String(json.detail ?? ''),
      (json.errors as FieldError[]) ?? [],
      json,
    );
  return json as unknown as { accessToken: string; expiresIn: number };
}

async function whoAmI(token: string): Promise<Me> {
  const res = await fetch('/v1/me', { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new ApiError(res.status, 'unauthenticated', '');
  return (await res.json()) as Me;
}

async function establish(body: Record<string, string>): Promise<Session> {
  const t = await signIn(body);
  const me = await whoAmI(t.accessToken);
  const s: Session = { token: t.accessToken, expiresAt: Date.now() + t.expiresIn * 1000, me };
  // Drafts kept over an expired session belong to the account that typed them: another account
  // signing in on this tab starts with empty forms.
  if (sessionStorage.getItem(LAST_ACCOUNT_KEY) !== me.id) clearDrafts();
  sessionStorage.setItem(LAST_ACCOUNT_KEY, me.id);
  signInNotice.set(null);
  setSession(s);
  return s;
}

export const signInPerson = (username: string, password: string) =>
  establish({ grantType: 'password', username, password });
export const signInTerminal = (clientId: string, clientSecret: string) =>
  establish({ grantType: 'client_credentials', clientId, clientSecret });

/** A valid token: the session's, or for a counter a fresh one from its saved credentials. */
async function token(forceRenew = false): Promise<string | null> {
  const s = session.get();
  if (s && !forceRenew && s.expiresAt - TOKEN_MARGIN_MS > Date.now()) return s.token;
  const terminal = savedTerminal();
  if (terminal && (!s || s.me.role === 'terminal')) {
    try {
      return (await signInTerminal(terminal.clientId, terminal.clientSecret)).token;
    } catch (err) {
      if (err instanceof NetworkError) throw err;
      return null;
    }
  }
  return s?.token ?? null;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** Read the answer as text or a Blob instead of JSON. */
  as?: 'json' | 'text' | 'blob';
}

function expire(): never {
  const s = session.get();
  // A 401 answering a request sent before a deliberate sign-out (修改密码 signs out and says so)
  // changes nothing: there is no session left to call expired, and the sign-in page keeps the
  // notice it was given. Seen on a loaded machine: a page's slow first reads, answered after the
  // password change, turned 密码已修改 into 登录已过期.
  if (!s) throw new ApiError(401, 'unauthenticated', '');
  if (s.expiresAt > Date.now()) signInNotice.set(REVOKED_NOTICE);
  setSession(null);
  sessionExpired.set(location.pathname + location.search);
  throw new ApiError(401, 'unauthenticated', '');
}

/** Calls the API; throws ApiError for a problem answer, NetworkError when no answer came. */
export async function api<T = unknown>(path: string, opts: RequestOptions = {}): Promise<T> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const t = await token(attempt > 0);
    if (!t) expire();
    const headers: Record<string, string> = { authorization: `Bearer ${t}`, ...opts.headers };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(path, {
        method: opts.method ?? 'GET',
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch {
      throw new NetworkError();
    }
    if (res.status === 401) {
      if (attempt === 0 && savedTerminal() && (session.get()?.me.role ?? 'terminal') === 'terminal')
        continue;
      expire();
    }
    if (!res.ok) {
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      throw new ApiError(
        res.status,
        String(json.code ?? `http_${res.status}`),
        String(json.detail ?? ''),
        (json.errors as FieldError[]) ?? [],
        json,
      );
    }
    if (res.status === 204) return undefined as T;
    try {
      if (opts.as === 'text') return (await res.text()) as T;
      if (opts.as === 'blob') return (await res.blob()) as T;
      return (await res.json()) as T;
    } catch {
      // The answer began but was cut off: the caller cannot know what happened.
      throw new NetworkError();
    }
  }
  return expire();
}

export const get = <T>(path: string, query?: Record<string, string | number | undefined>) => {
  const q = query ? Object.entries(query).filter(([, v]) => v !== undefined && v !== '') : [];
  return api<T>(
    q.length
      ? `${path}?${new URLSearchParams(q.map(([k, v]) => [k, String(v)])).toString()}`
      : path,
  );
};
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>) =>
  api<T>(path, { method: 'POST', body: body ?? {}, headers });
export const del = <T>(path: string) => api<T>(path, { method: 'DELETE' });
