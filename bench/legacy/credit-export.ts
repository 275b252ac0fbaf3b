/**
 * Credit export at scale: 100 villages × 1,000 households (90% consenting, a quarter with three
 * entries each), exported once for 10 villages (≈9,000 rows) and once for all 100 (≈90,000 rows
 * of 100,000 households). Reports time, rows per second, file size and resident memory sampled
 * every 50 ms during each export: flat memory means the peak above the baseline does not grow
 * with the rows. The 100,000-household file's signature is then checked with
 * `openssl pkeyutl -verify` and the JWKS key, and again after a one-byte change.
 *
 * Seeding writes records directly in batches (households, consents, valid hash-chained entries):
 * the bench measures the export, not the posting path.
 *
 *   npm run bench -- credit-export
 *   NODE_OPTIONS=--expose-gc npm run bench -- credit-export         # baselines after a full GC
 *   CREDIT_BENCH_HOUSEHOLDS=20000 npm run bench -- credit-export   # a smaller run
 */
import { spawnSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Types } from 'mongoose';
import { runExport } from '../../src/modules/credit/credit.export-run';
import { createExport, exportFilePath } from '../../src/modules/credit/credit.exports';
import { signingKeysFor } from '../../src/modules/credit/credit.keys';
import { Consent, CONSENT_FIELDS, CreditExport } from '../../src/modules/credit/credit.model';
import { createCooperative } from '../../src/modules/cooperatives/cooperatives.service';
import { Household } from '../../src/modules/households/households.model';
import { Entry, entryId } from '../../src/modules/ledger/ledger.model';
import { hashEntry, ZERO_HASH, type EntryView } from '../../src/modules/ledger/ledger.service';
import { createVillage } from '../../src/modules/villages/villages.service';
import { ctx } from '../../test/support/context';
import type { Bench } from './registry';

const VILLAGES = 100;
const BATCH = 5000;
const DAY_MS = 86_400_000;
const SURNAMES = Array.from('王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗');
const GIVEN = Array.from('建国明华秀英丽军平刚桂兰志强文红玉梅海燕春');

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

/** Samples RSS and heap every 50 ms while `fn` runs. */
async function measured<T>(fn: () => Promise<T>) {
  if (global.gc) global.gc();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  let peakExternal = base.external + base.arrayBuffers;
  let peakLive = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    // With --expose-gc, every half second a full collection first: the heap then holds only what
    // the export keeps alive, which is what "flat memory" is about (garbage waits for the GC).
    if (global.gc && ++ticks % 10 === 0) {
      global.gc();
      peakLive = Math.max(peakLive, process.memoryUsage().heapUsed);
    }
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakExternal = Math.max(peakExternal, m.external + m.arrayBuffers);
  }, 50);
  const t0 = performance.now();
  try {
    const result = await fn();
    return {
      result,
      ms: performance.now() - t0,
      baseRss: base.rss,
      peakRss,
      baseHeap: base.heapUsed,
      peakHeap,
      peakExternal,
      peakLive,
    };
  } finally {
    clearInterval(timer);
  }
}

async function seed(householdsTotal: number, log: (s: string) => void) {
  const perVillage = Math.ceil(householdsTotal / VILLAGES);
  const villageIds: string[] = [];
  for (let v = 0; v < VILLAGES; v++)
    villageIds.push(
      (
        await createVillage({
          name: `基准村${v}`,
          code: `BENCH-${Date.now().toString(36)}-${v}`,
          township: '基准镇',
          county: '基准县',
          policy: { quorum: 1, noticePeriod: 'PT0S' },
        })
      ).id,
    );
  const coop = await createCooperative({ name: '基准农商行', villageIds });
  const runTag = Date.now().toString(36);
  const now = Date.now();
  let households: Record<string, unknown>[] = [];
  let consents: Record<string, unknown>[] = [];
  let entries: Record<string, unknown>[] = [];
  let n = 0;
  const flush = async (force = false) => {
    if (households.length >= BATCH || (force && households.length)) {
      await Household.collection.insertMany(households, { ordered: false });
      households = [];
    }
    if (consents.length >= BATCH || (force && consents.length)) {
      await Consent.collection.insertMany(consents, { ordered: false });
      consents = [];
    }
    if (entries.length >= BATCH || (force && entries.length)) {
      await Entry.collection.insertMany(entries as never[], { ordered: false });
      entries = [];
    }
  };
  for (let v = 0; v < VILLAGES; v++) {
    for (let i = 0; i < perVillage && n < householdsTotal; i++, n++) {
      const _id = new Types.ObjectId();
      const householdId = _id.toHexString();
      const head = `${SURNAMES[n % SURNAMES.length]}${GIVEN[(n * 7) % GIVEN.length]}${GIVEN[(n * 13) % GIVEN.length]}`;
      households.push({
        _id,
        villageId: villageIds[v],
        head,
        members: [],
        cardNo: `B${runTag}${n}`,
        createdAt: new Date(now - 800 * DAY_MS),
      });
      if (n % 10 !== 9) {
        consents.push({
          _id: new Types.ObjectId(),
          householdId,
          villageId: villageIds[v],
          cooperativeId: coop.id,
          recipient: coop.name,
          purpose: '农户信用评级及授信参考',
          fields: [...CONSENT_FIELDS],
          grantedAt: new Date(now - 30 * DAY_MS),
          expiresAt: new Date(now + 300 * DAY_MS),
          customerRef: `BK${n}`,
          method: 'household',
          recordedBy: 'bench',
        });
      }
      if (n % 4 === 0) {
        // Three entries with a valid chain: two awards and a deduction, spread over two years.
        let prevHash = ZERO_HASH;
        let spendable = 0;
        let merit = 0;
        const steps: [EntryView['type'], number, string][] = [
          ['award', 20 + (n % 30), n % 8 === 0 ? 'best-family' : 'volunteer-hour'],
          ['award', 10, 'environment'],
          ['deduction', -(5 + (n % 20)), 'gambling'],
        ];
        steps.forEach(([type, pts, ruleCode], k) => {
          const spendableDelta = type === 'deduction' ? -Math.min(spendable, -pts) : pts;
          spendable += spendableDelta;
          merit += pts;
          const unhashed: Omit<EntryView, 'hash'> = {
            seq: k + 1,
            type,
            points: pts,
            spendableDelta,
            meritDelta: pts,
            spendableAfter: spendable,
            meritAfter: merit,
            ruleCode,
            sourceType: 'bench',
            sourceId: `${householdId}-${k}`,
            createdAt: new Date(now - (700 - k * 300 - (n % 50)) * DAY_MS).toISOString(),
            prevHash,
          };
          const hash = hashEntry(householdId, unhashed);
          entries.push({
            ...unhashed,
            hash,
            _id: entryId(householdId, k + 1),
            householdId,
            createdAt: new Date(unhashed.createdAt),
          });
          prevHash = hash;
        });
      }
      await flush();
    }
    if (v % 10 === 9) log(`… seeded ${n} households`);
  }
  await flush(true);
  return { villageIds, cooperativeId: coop.id };
}

export const creditExportBench: Bench = {
  name: 'credit-export',
  async run() {
    const total = Number(process.env.CREDIT_BENCH_HOUSEHOLDS ?? 100_000);
    const log = (s: string) => process.stderr.write(`${s}\n`);
    const t0 = performance.now();
    const { villageIds, cooperativeId } = await seed(total, log);
    const seedMs = performance.now() - t0;
    const config = ctx().config;
    const keys = signingKeysFor(config);
    const officer = {
      id: new Types.ObjectId().toHexString(),
      kind: 'person' as const,
      role: 'officer' as const,
      cooperativeId,
    };
    const settings = { gradeThresholds: config.credit.gradeThresholds };
    const lines = [
      `Seeded ${total.toLocaleString('en')} households in ${VILLAGES} villages (90% consenting, 25% with 3 entries) in ${(seedMs / 1000).toFixed(0)} s.`,
      '',
      '| export | households read | rows | time | rows/s | file | RSS before | peak RSS | heap before | peak heap | peak live heap | peak buffers |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ];
    let lastFile = '';
    let lastManifest = { keyId: '', signature: '' };
    for (const villages of [villageIds.slice(0, VILLAGES / 10), villageIds]) {
      await new Promise((r) => setTimeout(r, 2100)); // asOf must be settled
      const doc = await createExport(officer, { villageIds: villages });
      const exportId = doc._id.toHexString();
      log(`exporting ${villages.length} villages…`);
      const m = await measured(() =>
        runExport(exportId, {
          keys,
          exportDir: config.credit.exportDir,
          settings,
          log: ctx().logger,
        }),
      );
      const rows = m.result?.rows ?? 0;
      const file = exportFilePath(config.credit.exportDir, exportId);
      const households = Math.round((total * villages.length) / VILLAGES);
      lines.push(
        `| ${villages.length} villages | ${households.toLocaleString('en')} | ${rows.toLocaleString('en')} | ${(m.ms / 1000).toFixed(1)} s | ${Math.round((rows / m.ms) * 1000)} | ${mb(statSync(file).size)} MiB | ${mb(m.baseRss)} MiB | ${mb(m.peakRss)} MiB | ${mb(m.baseHeap)} MiB | ${mb(m.peakHeap)} MiB | ${m.peakLive ? `${mb(m.peakLive)} MiB` : 'n/a (no --expose-gc)'} | ${mb(m.peakExternal)} MiB |`,
      );
      lastFile = file;
      const done = await CreditExport.findById(exportId).lean();
      lastManifest = { keyId: done!.keyId!, signature: done!.signature! };
    }

    // The largest file, verified as a bank would: openssl and the JWKS key only.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'msl-bench-export-'));
    const jwk = keys.jwks.keys.find((k) => k.kid === lastManifest.keyId)!;
    writeFileSync(
      path.join(dir, 'key.pem'),
      createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' }).export({
        type: 'spki',
        format: 'pem',
      }),
    );
    writeFileSync(path.join(dir, 'sig'), Buffer.from(lastManifest.signature, 'base64'));
    const verify = (file: string) =>
      spawnSync(
        'openssl',
        [
          'pkeyutl',
          '-verify',
          '-pubin',
          '-inkey',
          path.join(dir, 'key.pem'),
          '-rawin',
          '-in',
          file,
          '-sigfile',
          path.join(dir, 'sig'),
        ],
        { encoding: 'utf8' },
      );
    const ok = verify(lastFile);
    const tampered = readFileSync(lastFile);
    const at = Math.floor(tampered.length / 2);
    tampered[at] = tampered[at]! ^ 0x01;
    writeFileSync(path.join(dir, 'tampered.csv'), tampered);
    const bad = verify(path.join(dir, 'tampered.csv'));
    lines.push(
      '',
      `openssl pkeyutl -verify on the ${VILLAGES}-village file: exit ${ok.status} (${(ok.stdout || ok.stderr).trim()}); after flipping one bit of byte ${at}: exit ${bad.status} (${(bad.stdout || bad.stderr).trim().split('\n')[0]}).`,
      'Memory: each collection is streamed once into partition files of ~5,000 households, joined one partition at a time; the only whole-file read is the Ed25519 signing step (pure EdDSA cannot be streamed), which is in the peak.',
    );
    return lines;
  },
};
