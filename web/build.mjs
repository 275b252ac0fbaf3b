// Builds the pages (web/src) into dist/web: one hashed JS entry (with the chunks it loads on
// demand: pages of rarely used roles are split off with import(), so the counter's first load
// does not carry them) and one hashed CSS file under
// /app/assets (cached for a year: a new build has new names), index.html (never cached), and a
// gzip and a brotli copy of each, so the service sends precompressed files without compressing
// per request. Plain Node + esbuild, like tools/bootstrap.mjs which calls it when the sources
// are newer than the build. `node web/build.mjs` builds once.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const here = path.dirname(fileURLToPath(import.meta.url));
export const WEB_SRC = path.join(here, 'src');
export const WEB_OUT = path.resolve(here, '..', 'dist', 'web');

const hash = (buf) => createHash('sha256').update(buf).digest('hex').slice(0, 12);

function compress(file, bytes) {
  writeFileSync(`${file}.gz`, gzipSync(bytes, { level: 9 }));
  writeFileSync(
    `${file}.br`,
    brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
  );
}

/** Newest modification time of the page sources and this script (ms). */
export function sourcesMtime() {
  let newest = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(WEB_SRC);
  return newest;
}

/** True when dist/web is missing or older than its sources. */
export function webBuildStale(outDir = WEB_OUT) {
  try {
    return statSync(path.join(outDir, 'build.json')).mtimeMs < sourcesMtime();
  } catch {
    return true;
  }
}

export async function buildWeb({ outDir = WEB_OUT } = {}) {
  const result = await build({
    entryPoints: [path.join(WEB_SRC, 'main.tsx'), path.join(WEB_SRC, 'app.css')],
    bundle: true,
    splitting: true,
    chunkNames: 'chunk-[hash]',
    minify: true,
    format: 'esm',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    legalComments: 'none',
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  // The entry is named by its own hash (nothing imports it); the chunks keep esbuild's names,
  // which the entry and the other chunks import by (esbuild hashes a chunk's content into its name).
  const js = result.outputFiles.find((f) => path.basename(f.path) === 'main.js').contents;
  const css = result.outputFiles.find((f) => f.path.endsWith('.css')).contents;
  const chunks = Object.fromEntries(
    result.outputFiles
      .filter((f) => path.basename(f.path).startsWith('chunk-'))
      .map((f) => [`assets/${path.basename(f.path)}`, f.contents]),
  );
  const jsName = `app-${hash(js)}.js`;
  const cssName = `app-${hash(css)}.css`;
  const html = Buffer.from(
    [
      '<!doctype html>',
      '<html lang="zh-CN">',
      '<head>',
      '<meta charset="utf-8">',
      '<meta name="viewport" content="width=device-width, initial-scale=1">',
      '<title>道德储蓄</title>',
      '<link rel="icon" href="data:,">',
      `<link rel="stylesheet" href="/app/assets/${cssName}">`,
      `<script type="module" src="/app/assets/${jsName}"></script>`,
      '</head>',
      '<body>',
      '<div id="root"><noscript>请启用浏览器的 JavaScript 后再使用本页面。</noscript></div>',
      '</body>',
      '</html>',
      '',
    ].join('\n'),
  );
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(path.join(outDir, 'assets'), { recursive: true });
  const files = {
    [`assets/${jsName}`]: js,
    [`assets/${cssName}`]: css,
    ...chunks,
    'index.html': html,
  };
  const sizes = {};
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(outDir, name);
    writeFileSync(file, bytes);
    compress(file, bytes);
    sizes[name] = {
      raw: bytes.length,
      gzip: statSync(`${file}.gz`).size,
      brotli: statSync(`${file}.br`).size,
    };
  }
  writeFileSync(
    path.join(outDir, 'build.json'),
    JSON.stringify({ js: jsName, css: cssName, sizes }, null, 2),
  );
  return { outDir, js: jsName, css: cssName, sizes };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await buildWeb();
  const total = Object.values(r.sizes).reduce((n, s) => n + s.gzip, 0);
  process.stderr.write(
    `[web] built ${r.js}, ${r.css} into ${path.relative(process.cwd(), r.outDir)} (${total} bytes gzip)\n`,
  );
}
