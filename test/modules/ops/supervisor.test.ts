/**
 * The supervisor `npm start` runs its workers under: a child that keeps dying is restarted with a
 * delay doubling from the initial one to the maximum (never in a tight loop), each exit and
 * restart is logged, and stop() ends supervision and the child.
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/platform/logger';
import { Supervisor, restartDelayMs } from '../../../src/platform/supervisor';
import { expect } from '../../support/expect';

describe('Supervisor (npm start’s workers supervision)', () => {
  it('restartDelayMs › doubles per failure in a row from the initial delay and stops at the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((n) => restartDelayMs(n, 1000, 30_000))).to.deep.equal([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000,
    ]);
    expect(restartDelayMs(0, 1000, 30_000)).to.equal(1000);
    expect(restartDelayMs(3, 0, 30_000)).to.equal(0);
  });

  it('a child that dies at once is restarted again and again with growing delays, each logged; stop() ends it', async function () {
    this.timeout(60_000);
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean))
          lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    let restarts = 0;
    const supervisor = new Supervisor({
      name: 'workers',
      start: () => spawn(process.execPath, ['-e', 'process.exit(3)'], { stdio: 'ignore' }),
      logger: createLogger('info', sink),
      initialDelayMs: 20,
      maxDelayMs: 160,
      onRestart: (n) => (restarts = n),
    });
    supervisor.start();
    const until = Date.now() + 50_000;
    while (restarts < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    await supervisor.stop();
    expect(restarts).to.be.at.least(6);
    const exits = lines.filter(
      (l) => l.msg === 'workers process exited unexpectedly; restarting it',
    );
    expect(exits.slice(0, 6).map((l) => l.restartInMs)).to.deep.equal([20, 40, 80, 160, 160, 160]);
    expect(exits.every((l) => l.code === 3)).to.equal(true);
    expect(lines.filter((l) => l.msg === 'restarting the workers process').length).to.equal(
      restarts,
    );
    const countAfterStop = lines.length;
    await new Promise((r) => setTimeout(r, 400));
    expect(lines.length, 'nothing restarts after stop()').to.equal(countAfterStop);
  });
});
