/**
 * Serves the pages (built by web/build.mjs into config.webDir) under /app:
 * - /app/assets/<name>-<hash>.<ext>: cached for a year (a new build has new names), sent
 *   precompressed (brotli or gzip, whichever the browser takes) with Vary: Accept-Encoding;
 * - any other /app path: index.html (the page routes itself), never cached, with a strict
 *   Content-Security-Policy: scripts and styles only from this service, no inline code, no eval;
 * - GET / redirects to /app/.
 * Nothing is fetched from elsewhere: the pages use the same /v1 API as integrators.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import { STATEMENT_STYLE_HASH } from '../modules/households/statement';

/**
 * The pages' policy: this origin only; data: images are the evidence photos the pages load. The
 * one inline style admitted, by its hash, is the household statement's own stylesheet: the pages
 * open that statement (fetched with the token) from a blob: URL, which keeps this policy.
 */
export const PAGES_CSP = `default-src 'self'; script-src 'self'; style-src 'self' ${STATEMENT_STYLE_HASH}; img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
};
const ASSET_RE = /^[A-Za-z0-9_-]+\.(js|css)$/;

interface Variant {
  bytes: Buffer;
  encoding?: 'br' | 'gzip';
}

/** A built file and its precompressed copies, read once and kept in memory (tens of KB). */
function loadFile(file: string): Variant[] {
  const variants: Variant[] = [];
  if (existsSync(`${file}.br`))
    variants.push({ bytes: readFileSync(`${file}.br`), encoding: 'br' });
  if (existsSync(`${file}.gz`))
    variants.push({ bytes: readFileSync(`${file}.gz`), encoding: 'gzip' });
  variants.push({ bytes: readFileSync(file) });
  return variants;
}

function accepts(req: Request, encoding: string): boolean {
  const header = String(req.headers['accept-encoding'] ?? '');
  return header.split(',').some((part) => {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return name === encoding && (!q || Number(q.slice(2)) > 0);
  });
}

function send(
  req: Request,
  res: Response,
  variants: Variant[],
  type: string,
  cacheControl: string,
): void {
  const v = variants.find((x) => !x.encoding || accepts(req, x.encoding))!;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', cacheControl);
  res.setHeader('Vary', 'Accept-Encoding');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (v.encoding) res.setHeader('Content-Encoding', v.encoding);
  res.setHeader('Content-Length', String(v.bytes.length));
  res.status(200).end(req.method === 'HEAD' ? undefined : v.bytes);
}

export function pagesRouter(webDir: string): Router {
  const router = express.Router();
  const cache = new Map<string, { mtimeMs: number; variants: Variant[] }>();
  // Re-read a file when a rebuild replaced it (npm start rebuilds at start only; tests may rebuild).
  const read = (file: string): Variant[] | undefined => {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(file).mtimeMs;
    } catch {
      return undefined;
    }
    const hit = cache.get(file);
    if (hit && hit.mtimeMs === mtimeMs) return hit.variants;
    const variants = loadFile(file);
    cache.set(file, { mtimeMs, variants });
    return variants;
  };

  router.get('/', (_req, res) => res.redirect(302, '/app/'));
  // Express matches `/app` for `/app/` too (non-strict routing): only the bare path redirects.
  router.get('/app', (req, res, next) =>
    req.path === '/app' ? res.redirect(302, '/app/') : next(),
  );
  router.get('/app/assets/:file', (req, res, next) => {
    const name = String(req.params.file);
    const variants = ASSET_RE.test(name) ? read(path.join(webDir, 'assets', name)) : undefined;
    if (!variants) return next();
    send(req, res, variants, TYPES[path.extname(name)]!, 'public, max-age=31536000, immutable');
  });
  router.get('/app/{*page}', (req, res) => {
    const variants = read(path.join(webDir, 'index.html'));
    res.setHeader('Content-Security-Policy', PAGES_CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    if (!variants) {
      res
        .status(503)
        .type('text/plain; charset=utf-8')
        .send(
          '页面尚未构建：请运行 npm run build:web（npm start 会自动构建）。\nThe pages are not built: run `npm run build:web`.\n',
        );
      return;
    }
    send(req, res, variants, TYPES['.html']!, 'no-cache');
  });
  return router;
}
