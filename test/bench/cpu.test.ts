/**
 * The bench's CPU meter (bench/cpu.ts): it charges each process the CPU it really spent, so a
 * process that worked shows its time and an idle one shows next to none, and a process that
 * cannot be read is left out rather than reported as 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from '../support/expect';
import { cpuMeter, cpuMsOf, cpuNote } from '../../bench/cpu';

const onLinux = process.platform === 'linux';

describe('bench: CPU per operation', () => {
  let busy: ChildProcess;
  let idle: ChildProcess;
  before(function () {
    if (!onLinux) this.skip();
    // One child spins for its whole life, the other sleeps.
    busy = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  });
  after(async () => {
    for (const c of [busy, idle]) {
      if (!c || c.exitCode !== null) continue;
      const gone = once(c, 'exit');
      c.kill('SIGKILL');
      await gone;
    }
  });

  it('charges the spinning process about the wall time and the sleeping one next to nothing', async () => {
    const meter = cpuMeter({ busy: busy.pid, idle: idle.pid, missing: undefined });
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, 600));
    const wallMs = Date.now() - t0;
    const per = meter.stop(2);
    expect(Object.keys(per).sort()).to.deep.equal(['busy', 'idle']);
    // Per operation, two operations: half of what each spent. A spinning process gets at most
    // the wall time (one thread) and, on a machine with two cores, at least a good part of it.
    expect(per.busy! * 2).to.be.at.most(wallMs + 20);
    expect(per.busy! * 2).to.be.at.least(wallMs * 0.25);
    expect(per.idle! * 2).to.be.below(per.busy! * 2 * 0.5);
    expect(cpuNote(per, 'redemption')).to.match(
      /^CPU per redemption: busy \d+\.\d\d, idle \d+\.\d\d ms \(\/proc, all threads, the warm-up included\)$/,
    );
  });

  it('leaves out a process that has gone, and reports nothing for no operations', async () => {
    const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await once(gone, 'exit');
    expect(cpuMsOf(gone.pid!)).to.equal(undefined);
    expect(cpuMeter({ gone: gone.pid }).stop(10)).to.deep.equal({});
    expect(cpuMeter({ self: process.pid }).stop(0)).to.deep.equal({});
    expect(cpuNote({}, 'posting')).to.equal('');
  });
});
