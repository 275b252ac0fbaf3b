// `npm test`: every test file under test/, run by mocha in parallel (TEST_JOBS processes, 2 by
// default; TEST_JOBS=1 runs them one after another in one process). In parallel mode the root
// hooks of test/setup.ts run once per file, so each file gets a fresh database and Redis prefix
// of its own (the product's scans then cost what one file wrote, not what the whole suite did).
// Files known to take longest start first, so that no long file is left to run alone at the end.
// Arguments are passed to mocha; naming test files (or globs) runs those instead of all.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Longest first, from TEST_TIMINGS of a whole parallel run (seconds on 2 busy CPUs). */
const LONGEST_FIRST = [
  'test/web/pages.test.ts', // 54
  'test/modules/submissions/durability.test.ts', // 53
  'test/web/service.test.ts', // 42
  'test/modules/cli/cli-fresh-database.test.ts', // 31
  'test/web/accounts.test.ts', // 30
  'test/modules/cli/backup-restore.test.ts', // 27
  'test/modules/ledger/random-text.test.ts', // 25
  'test/web/county-office.test.ts', // 24
  'test/modules/credit/lookup.test.ts', // 18
  'test/platform/busy.test.ts', // 18
  'test/modules/cli/verify-chain.test.ts', // 17
  'test/modules/cli/generate.test.ts', // 17
  'test/modules/credit/freshness.test.ts', // 16
  'test/modules/redemption/liveness.test.ts', // 13
  'test/modules/ops/workers-supervision.test.ts', // 12
  'test/modules/ledger/invariants.test.ts', // 11
  'test/modules/credit/exports.test.ts', // 11
  'test/modules/validation/bodies.test.ts', // 11
  'test/modules/demo/demo.seed.test.ts', // 8
];

function testFiles(dir) {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((d) => {
    const rel = `${dir}/${d.name}`;
    if (d.isDirectory()) return testFiles(rel);
    return d.name.endsWith('.test.ts') ? [rel] : [];
  });
}

const args = process.argv.slice(2);
const named = args.some((a) => !a.startsWith('-') && (a.endsWith('.ts') || a.includes('*')));
const all = testFiles('test').sort();
const files = named
  ? []
  : [
      ...LONGEST_FIRST.filter((f) => all.includes(f)),
      ...all.filter((f) => !LONGEST_FIRST.includes(f)),
    ];
const jobs = Number(process.env.TEST_JOBS ?? 2);
const parallel = jobs > 1 ? ['--parallel', '--jobs', String(jobs)] : [];
const mocha = createRequire(import.meta.url).resolve('mocha/bin/mocha.js');
const res = spawnSync(process.execPath, [mocha, ...parallel, ...args, ...files], {
  cwd: root,
  stdio: 'inherit',
});
if (res.error) throw res.error;
process.exit(res.status ?? 1);
