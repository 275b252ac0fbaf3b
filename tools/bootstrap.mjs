// Makes a fresh clone runnable with no step before `npm start` / `npm test`:
// installs the npm packages when node_modules is missing or older than the lock file, and
// builds the embedded FerretDB launcher (Go) when MONGODB_URI is unset and the binary is
// missing or older than its source. Plain Node with no dependencies, since it runs before any.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (msg) => {
  if (!quiet) process.stderr.write(`[bootstrap] ${msg}\n`);
};

function mtime(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, {
    cwd: root,
    stdio: quiet ? ['ignore', 'ignore', 'inherit'] : 'inherit',
    ...opts,
  });
  if (res.error) throw res.error;
  if (res.status !== 0) {
    process.stderr.write(
      `[bootstrap] ${cmd} ${args.join(' ')} failed with exit code ${res.status}\n`,
    );
    process.exit(res.status ?? 1);
  }
}

// 1. npm packages
const lock = path.join(root, 'package-lock.json');
const installed = path.join(root, 'node_modules', '.package-lock.json');
if (!existsSync(installed) || mtime(installed) < mtime(lock)) {
  // `npm ci`: exactly the lock file, or a refusal when the lock is incomplete (the lock lists the
  // optional native builds of every platform, so npm 10 and 11 both accept it).
  say('installing npm packages…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

// 2. the embedded FerretDB launcher, only when no external database is configured
if (!process.env.MONGODB_URI) {
  const src = path.join(root, 'tools', 'ferretdb');
  const bin = process.env.FERRETDB_BIN || path.join(root, 'bin', 'ferretdb-launcher');
  const sources = readdirSync(src).filter((f) => /\.go$|^go\.(mod|sum)$/.test(f));
  const newest = Math.max(...sources.map((f) => mtime(path.join(src, f))));
  if (!existsSync(bin) || mtime(bin) < newest) {
    const goCandidates = [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(Boolean);
    const go = goCandidates.find(
      (g) => spawnSync(g, ['version'], { stdio: 'ignore' }).status === 0,
    );
    if (!go) {
      process.stderr.write(
        '[bootstrap] Go is needed to build the embedded FerretDB launcher and was not found.\n' +
          '  Install Go (https://go.dev/doc/install, or Debian: apt-get install golang-go >= 1.22),\n' +
          '  or set MONGODB_URI to a MongoDB 6+ server.\n',
      );
      process.exit(1);
    }
    say('building the embedded FerretDB launcher (go build; first time takes about a minute)…');
    run(go, ['build', '-trimpath', '-o', bin, '.'], { cwd: src });
  }
}

// 3. the pages (web/ → dist/web), when missing or older than their sources
{
  const { buildWeb, webBuildStale } = await import('../web/build.mjs');
  if (webBuildStale()) {
    say('building the pages (esbuild)…');
    await buildWeb();
  }
}
