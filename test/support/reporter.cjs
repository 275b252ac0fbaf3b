// Mocha's spec reporter plus one closing line in the plain form CI tools read:
// "mocha: N passed, N failed, N skipped".
// With TEST_TIMINGS=<file>, also writes every test's and hook's duration (ms) with its file,
// so the slowest files and tests can be ranked.
'use strict';
const fs = require('node:fs');
const Mocha = require('mocha');

const { Spec } = Mocha.reporters;
const { EVENT_RUN_END, EVENT_TEST_END, EVENT_HOOK_END } = Mocha.Runner.constants;

class SpecWithTotals extends Spec {
  constructor(runner, options) {
    super(runner, options);
    const timingsFile = process.env.TEST_TIMINGS;
    const timings = [];
    if (timingsFile) {
      const record = (kind) => (t) => {
        timings.push({ kind, file: t.file, title: t.fullTitle(), ms: t.duration ?? 0 });
      };
      runner.on(EVENT_TEST_END, record('test'));
      runner.on(EVENT_HOOK_END, record('hook'));
    }
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      if (timingsFile)
        fs.writeFileSync(timingsFile, JSON.stringify({ totalMs: s.duration, timings }));
      process.stdout.write(
        `\nmocha: ${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped\n`,
      );
    });
  }
}

module.exports = SpecWithTotals;
