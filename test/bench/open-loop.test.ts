/**
 * The bench's open loop (bench/load.ts) splits its answered arrivals in two: each terminal's
 * first (where everything is new to the server) and every later one (the steady market day), so
 * the report can say where a tail comes from. Latencies are only bounded from below here (a slow
 * machine cannot make them shorter than the work they wait for).
 */
import { expect } from '../support/expect';
import { openLoop } from '../../bench/load';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bench: open loop', () => {
  it("reports each terminal's first arrival apart from the later ones", async () => {
    const calls: [number, number][] = [];
    // 4 terminals at 40 arrivals/s for 0.3 s: 12 arrivals, each terminal's next one 100 ms after
    // its first, so a slow first (40 ms) holds up nothing after it.
    const result = await openLoop(4, 40, 300, 2_000, async (worker, i) => {
      calls.push([worker, i]);
      if (i < 4) await sleep(40);
      return i === 11 ? 'refused' : undefined;
    });
    expect(result.scheduled).to.equal(12);
    expect(calls.map(([, i]) => i).sort((a, b) => a - b)).to.deep.equal([...Array(12).keys()]);
    // Each terminal served its own arrivals: worker w got w, w + 4, w + 8.
    for (const [w, i] of calls) expect(i % 4).to.equal(w);
    expect(result.ok).to.equal(11);
    expect(result.failed).to.equal(1);
    expect(result.phases.first.answered).to.equal(4);
    expect(result.phases.later.answered).to.equal(7);
    // Timers may fire a millisecond early; the first arrivals still took most of their 40 ms.
    expect(result.phases.first.p50Ms).to.be.at.least(30);
    expect(result.phases.first.maxMs).to.be.at.least(result.phases.first.p99Ms);
  });
});
