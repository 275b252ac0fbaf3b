/**
 * Posting at concurrency 32, side by side on one database: ours (over HTTP: POST
 * /v1/households/:id/adjustments as the county office; in process: postEntry), the database's
 * own limit (one driver insertOne per request) and medici (book.entry().debit().credit()
 * .commit()), each spread over many households and all on one household, over HTTP (real
 * listening server in a child process, keep-alive client) and in process.
 *
 * Round trips are counted twice: one operation after another (the uncontended path the core
 * work targets, ≤ 3 for a posting) and during the concurrent runs (retries included).
 */
import { randomBytes } from 'node:crypto';
import mongoose from 'mongoose';
import { postEntry } from '../src/modules/ledger/ledger.service';
import { cpuMeter, cpuNote } from './cpu';
import { cpuProcesses, type BenchEnv, type SectionResult } from './env';
import { HttpClient, problemCode } from './http';
import { closedLoop, type LoopResult, type Operation } from './load';
import { mediciBook, mediciPost } from './medici';
import { writeLane } from '../src/platform/write-lane';
import type { Row, RoundTripRow } from './report';
import { perOperation } from './roundtrips';

/** Operations per sequential round-trip count. */
const SEQUENTIAL_OPS = 20;

type System = 'limit' | 'medici' | 'ours';
type Transport = 'HTTP' | 'in process';
type Shape = 'spread' | 'one household';

export interface PostingFixtures {
  adminAuth: Record<string, string>;
  /** Households the spread runs post to (round-robin). */
  spread: string[];
  /** The household every posting of the one-household runs goes to. */
  one: string;
}

const LABEL: Record<System, Record<Transport, string>> = {
  limit: {
    HTTP: 'limit: plain express route, one driver insertOne',
    'in process': 'limit: one driver insertOne',
  },
  medici: {
    HTTP: 'medici: plain express route, entry().debit().credit().commit()',
    'in process': 'medici: entry().debit().credit().commit()',
  },
  ours: { HTTP: 'ours: POST /v1/households/:id/adjustments', 'in process': 'ours: postEntry' },
};

const sourceId = () => randomBytes(12).toString('hex');

export async function benchPosting(env: BenchEnv, fx: PostingFixtures): Promise<SectionResult> {
  const api = new HttpClient(env.server.apiOrigin, env.concurrency);
  const plain = new HttpClient(env.server.plainOrigin, env.concurrency);
  const limit = mongoose.connection.db!.collection('bench_limit');
  const book = mediciBook();
  const body = { points: 1, reason: '基准测试调整' };
  const http = async (p: Promise<{ status: number; body: unknown }>) => {
    const a = await p;
    return a.status === 201 ? undefined : problemCode(a);
  };
  const ops: Record<
    System,
    Record<Transport, (householdId: string) => Promise<string | undefined>>
  > = {
    limit: {
      HTTP: (h) => http(plain.post(`/limit/${h}`, body)),
      'in process': async (h) => {
        // No write lane for the comparisons: they meet the database as a plain app does.
        await writeLane.unqueued(() =>
          limit.insertOne({ householdId: h, ...body, at: new Date() }),
        );
        return undefined;
      },
    },
    medici: {
      HTTP: (h) => http(plain.post(`/medici/${h}`, body)),
      'in process': async (h) => {
        await writeLane.unqueued(() => mediciPost(book, h, 1));
        return undefined;
      },
    },
    ours: {
      HTTP: (h) => http(api.post(`/v1/households/${h}/adjustments`, body, fx.adminAuth)),
      'in process': async (h) => {
        await postEntry({
          householdId: h,
          type: 'adjustment',
          points: 1,
          spendableDelta: 1,
          meritDelta: 1,
          shortfall: 'clamp',
          source: { type: 'bench', id: sourceId() },
          reason: body.reason,
        });
        return undefined;
      },
    },
  };
  const target = (shape: Shape, i: number) =>
    shape === 'spread' ? fx.spread[i % fx.spread.length]! : fx.one;
  const count = (transport: Transport) =>
    transport === 'HTTP'
      ? {
          start: () => env.server.countStart(),
          stop: () => env.server.countStop(),
          times: () => env.server.lastTimes(),
        }
      : {
          start: () => env.counter.start(),
          stop: async () => env.counter.stop(),
          times: () => env.counter.lastTimes(),
        };

  const rows: Row[] = [];
  const roundTrips: RoundTripRow[] = [];
  const results = new Map<string, LoopResult>();

  for (const transport of ['HTTP', 'in process'] as Transport[]) {
    for (const system of ['limit', 'medici', 'ours'] as System[]) {
      // Ours twice: first to households this process has not posted to (cold: no head hint,
      // no cached household), then to the same ones again (warm: the hot path).
      for (const pass of system === 'ours' ? ['cold', 'warm'] : ['cold']) {
        const c = count(transport);
        c.start();
        for (let i = 0; i < SEQUENTIAL_OPS; i++) {
          const problem = await ops[system][transport](target('spread', i));
          if (problem) throw new Error(`${system} ${transport} posting failed: ${problem}`);
        }
        const per = perOperation(await c.stop(), SEQUENTIAL_OPS);
        roundTrips.push({
          operation: `posting: ${LABEL[system][transport]}`,
          how: pass === 'cold' ? 'one after another' : 'one after another, warm',
          operations: SEQUENTIAL_OPS,
          perOperation: per.total,
          waits: per.waits,
          byCommand: per.byCommand,
        });
      }
    }
  }

  for (const shape of ['spread', 'one household'] as Shape[]) {
    for (const transport of ['HTTP', 'in process'] as Transport[]) {
      for (const system of ['limit', 'medici', 'ours'] as System[]) {
        env.log(`posting: ${system}, ${transport}, ${shape}…`);
        let attempts = 0;
        const op: Operation = (_w, i) => {
          attempts++;
          return ops[system][transport](target(shape, i));
        };
        const c = count(transport);
        if (system === 'ours') c.start();
        const cpu = cpuMeter(cpuProcesses(env));
        const r = await closedLoop(env.concurrency, env.durationMs, op);
        const cpuText = cpuNote(cpu.stop(attempts), 'posting');
        if (system === 'ours') {
          const per = perOperation(await c.stop(), attempts);
          roundTrips.push({
            operation: `posting: ${LABEL.ours[transport]}, ${shape}`,
            how: `concurrency ${env.concurrency}`,
            operations: attempts,
            perOperation: per.total,
            byCommand: per.byCommand,
            times: c.times(),
          });
        }
        results.set(`${system}|${transport}|${shape}`, r);
        const section = `posting, c=${env.concurrency}, ${transport}, ${shape === 'spread' ? `spread over ${fx.spread.length} households` : 'all on one household'}`;
        rows.push({
          section,
          what: LABEL[system][transport],
          value: r.ratePerS,
          unit: 'postings/s',
          p50Ms: r.p50Ms,
          p95Ms: r.p95Ms,
          p99Ms: r.p99Ms,
          ...(r.failed || cpuText
            ? {
                note: [r.failed ? `${r.failed} failed: ${JSON.stringify(r.failures)}` : '', cpuText]
                  .filter(Boolean)
                  .join('; '),
              }
            : {}),
        });
        if (system === 'ours') {
          const limitRate = results.get(`limit|${transport}|${shape}`)!.ratePerS;
          const mediciRate = results.get(`medici|${transport}|${shape}`)!.ratePerS;
          rows.push({
            section,
            what: 'ours ÷ limit',
            ratio: { value: r.ratePerS / limitRate, of: 'limit' },
          });
          rows.push({
            section,
            what: 'ours ÷ medici',
            ratio: { value: r.ratePerS / mediciRate, of: 'medici' },
          });
        }
      }
    }
  }
  await api.close();
  await plain.close();
  return { rows, roundTrips, details: Object.fromEntries(results) };
}
