/**
 * Security headers on every response, through helmet.
 *
 * The Content-Security-Policy admits scripts, styles, fonts and fetches from this origin only,
 * images also as `data:` URIs (swagger-ui draws its icons so), no inline scripts, no inline
 * styles but the service's own by their hash, no plugins, and no framing by any page (`frame-ancestors 'none'`, plus the older
 * X-Frame-Options: DENY). /docs (swagger-ui) and the web UI under /app are served as same-origin
 * files under it. `nosniff` keeps browsers from reading a JSON or CSV answer as a script.
 *
 * Production adds HSTS and `upgrade-insecure-requests` (it is behind TLS); a local or village
 * office install served over plain http on a LAN address would break with them.
 */
import type { RequestHandler } from 'express';
import helmet from 'helmet';

const SELF = "'self'";

/**
 * `inlineStyleHashes`: the CSP hashes (`'sha256-…'`) of the few inline styles the service itself
 * writes and a page of this origin may show (the printable statement, opened from a blob: URL
 * that inherits this policy); no other inline style is admitted.
 */
export function securityHeaders(
  mode: 'local' | 'production',
  inlineStyleHashes: readonly string[] = [],
): RequestHandler {
  const production = mode === 'production';
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        'default-src': [SELF],
        'script-src': [SELF],
        'script-src-attr': ["'none'"],
        'style-src': [SELF, ...inlineStyleHashes],
        'img-src': [SELF, 'data:'],
        'font-src': [SELF, 'data:'],
        'connect-src': [SELF],
        'object-src': ["'none'"],
        'base-uri': [SELF],
        'form-action': [SELF],
        'frame-ancestors': ["'none'"],
        ...(production ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    strictTransportSecurity: production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
  });
}
