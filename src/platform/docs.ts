/**
 * /docs: swagger-ui over /openapi.json, served as plain same-origin files so that it works
 * under the strict Content-Security-Policy (security.ts): the page has no inline script or
 * style; swagger-ui's own bundle and stylesheet come from the swagger-ui-dist package, and only
 * the files the page needs are served from it.
 */
import path from 'node:path';
import express, { type Router } from 'express';

const DIST = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const DIST_FILES = [
  'swagger-ui.css',
  'swagger-ui-bundle.js',
  'favicon-32x32.png',
  'favicon-16x16.png',
];

const PAGE = `<!DOCTYPE html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>道德储蓄 Moral Savings Ledger API</title>
  <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
  <link rel="stylesheet" href="/docs/docs.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/docs.js"></script>
</body>
</html>
`;

const SCRIPT = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true });
});
`;

const STYLE = `html { box-sizing: border-box; overflow-y: scroll; }
*, *::before, *::after { box-sizing: inherit; }
body { margin: 0; background: #fafafa; }
`;

export function docsRouter(): Router {
  const router = express.Router({ strict: true });
  router.get('/docs', (_req, res) => res.redirect(301, '/docs/'));
  router.get('/docs/', (_req, res) => {
    res.type('html').send(PAGE);
  });
  router.get('/docs/docs.js', (_req, res) => {
    res.type('application/javascript').send(SCRIPT);
  });
  router.get('/docs/docs.css', (_req, res) => {
    res.type('text/css').send(STYLE);
  });
  for (const file of DIST_FILES) {
    router.get(`/docs/${file}`, (_req, res, next) => {
      res.sendFile(path.join(DIST, file), { maxAge: '1h' }, (err) => err && next(err));
    });
  }
  return router;
}
