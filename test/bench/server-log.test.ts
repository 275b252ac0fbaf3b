/**
 * The bench's summary of its server's log (bench/server-log.ts): a clean run's log is counted and
 * removed; a log with an error line, or a line that is not JSON (a crash's stack trace), is kept
 * and named, so a run that went wrong on the server side says so in its report.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from '../support/expect';
import { tempDir } from '../support/temp';
import { serverLogLine, summariseServerLog } from '../../bench/server-log';

const access = (n: number) =>
  JSON.stringify({ level: 'info', msg: 'request completed', req: { url: `/v1/x/${n}` } });

describe('bench: the server log summary', () => {
  it('counts the access lines and their bytes, and removes a log with no error', async () => {
    const file = path.join(tempDir('msl-bench-log-'), 'server.log');
    const lines = [access(1), access(22), JSON.stringify({ level: 'warn', msg: 'slow' })];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const s = await summariseServerLog(file);
    expect(s).to.deep.equal({
      lines: 3,
      bytes: lines.reduce((n, l) => n + l.length + 1, 0),
      accessLines: 2,
      accessBytes: access(1).length + access(22).length + 2,
      errors: 0,
    });
    expect(await serverLogLine(file)).to.match(
      /^Server errors: none\. .*2 access lines of \d+ bytes/,
    );
    expect(existsSync(file)).to.equal(false);
  });

  it('keeps and names a log with an error line or a line that is not JSON', async () => {
    for (const bad of [JSON.stringify({ level: 'error', msg: 'boom' }), 'TypeError: x\n    at y']) {
      const file = path.join(tempDir('msl-bench-log-'), 'server.log');
      writeFileSync(file, `${access(1)}\n${bad}\n`);
      expect(await serverLogLine(file)).to.include(`in ${file}`);
      expect(existsSync(file)).to.equal(true);
    }
  });

  it('reports an empty or missing log as holding nothing', async () => {
    const file = path.join(tempDir('msl-bench-log-'), 'absent.log');
    expect((await summariseServerLog(file)).lines).to.equal(0);
    expect(await serverLogLine(file)).to.match(/^Server errors: none\. .*0 lines/);
  });
});
