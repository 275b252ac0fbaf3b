/**
 * Where a credit look-up's and an export's time goes, on a kept bench database:
 *   npx tsx bench/profile-credit.ts --data-dir /tmp/city2k
 * Times each stream the export reads (households, consents, revocations, entries) on its own
 * beside a raw read of ledger_entries, then one export; counts the driver commands of each.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import mongoose, { Types } from 'mongoose';
import { SCORED_TYPES } from '../src/modules/credit/credit.batch';
import { runExport } from '../src/modules/credit/credit.export-run';
import { createExport } from '../src/modules/credit/credit.exports';
import { settledBefore } from '../src/modules/credit/credit.inputs';
import { signingKeysFor } from '../src/modules/credit/credit.keys';
import { streamHouseholdsOfVillages } from '../src/modules/households/households.service';
import { streamEntries } from '../src/modules/ledger/ledger.service';
import { startBenchContext } from './context';
import { RoundTripCounter } from './roundtrips';

async function main() {
  const { values } = parseArgs({ options: { 'data-dir': { type: 'string' } } });
  const ctx = await startBenchContext({ dataDir: values['data-dir']! });
  const counter = new RoundTripCounter(mongoose.connection.getClient());
  const db = mongoose.connection.db!;
  const step = async (what: string, fn: () => Promise<number>) => {
    counter.start();
    const t0 = performance.now();
    const n = await fn();
    const ms = performance.now() - t0;
    const trips = counter.stop();
    const total = Object.values(trips).reduce((a, b) => a + b, 0);
    console.log(
      `| ${what} | ${n} | ${(ms / 1000).toFixed(2)} s | ${((n / ms) * 1000).toFixed(0)}/s | ${total} | ${JSON.stringify(trips)} |`,
    );
  };
  try {
    const coop = (await db.collection('cooperatives').findOne({}))!;
    const villageIds = coop.villageIds as string[];
    const cooperativeId = String(coop._id);
    console.log(
      `cooperative ${cooperativeId}: ${villageIds.length} villages; load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`,
    );
    console.log(
      '| step | documents | time | rate | round trips | by command |\n|---|---:|---:|---:|---:|---|',
    );
    const count = (cursor: AsyncIterable<unknown>) => async () => {
      let n = 0;
      for await (const x of cursor) if (x) n++;
      return n;
    };
    await step('raw cursor read of ledger_entries', () =>
      count(db.collection('ledger_entries').find({}, { batchSize: 1000 }))(),
    );
    await step('streamEntries(scored types, through now)', () =>
      count(streamEntries(SCORED_TYPES, { through: settledBefore() }))(),
    );
    await step('households of the villages', () => count(streamHouseholdsOfVillages(villageIds))());
    await step('consents of the cooperative', () =>
      count(db.collection('credit_consents').find({ cooperativeId }, { batchSize: 1000 }))(),
    );
    const officer = {
      id: new Types.ObjectId().toHexString(),
      kind: 'person' as const,
      role: 'officer' as const,
      cooperativeId,
    };
    await new Promise((r) => setTimeout(r, 2100));
    const doc = await createExport(officer, { villageIds });
    await step('runExport (rows)', async () => {
      const r = await runExport(doc._id.toHexString(), {
        keys: signingKeysFor(ctx.config),
        exportDir: ctx.config.credit.exportDir,
        settings: { gradeThresholds: ctx.config.credit.gradeThresholds },
        log: ctx.logger,
      });
      console.log(`stages (ms): ${JSON.stringify(r?.stagesMs)}`);
      return r?.rows ?? 0;
    });
  } finally {
    await ctx.stop();
  }
}

void main().catch((err) => {
  console.error(err);
  process.exit(1);
});
