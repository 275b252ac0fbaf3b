/**
 * `npm run bench`: measures speed and memory on this machine and prints a report. Figures are
 * reported as ratios measured in one run (tests never assert on time). Each bench starts from
 * the same environment the tests use: embedded FerretDB (or MONGODB_URI) and real Redis.
 *
 *   npm run bench                 # every bench
 *   npm run bench -- ledger       # only the named ones
 */
import { startContext, stopContext } from '../test/support/context';
import { benches } from './registry';

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const selected = benches.filter((b) => wanted.length === 0 || wanted.includes(b.name));
  if (selected.length === 0) {
    process.stderr.write(`no bench named ${wanted.join(', ')}; have: ${benches.map((b) => b.name).join(', ')}\n`);
    process.exit(2);
  }
  const ctx = await startContext();
  const lines: string[] = [`# Bench report ${new Date().toISOString()}`, `node ${process.version}, database ${process.env.MONGODB_URI ? 'MONGODB_URI' : `embedded FerretDB (${ctx.config.ferretdb.handler})`}`, ''];
  try {
    for (const b of selected) {
      process.stderr.write(`running ${b.name}…\n`);
      lines.push(`## ${b.name}`, ...(await b.run()), '');
    }
  } finally {
    await stopContext();
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
