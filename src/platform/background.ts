/**
 * Writes a request does not wait for: the ones whose loss or delay the next reader repairs or
 * walks past. The account cache after a posting (readHead walks forward from it), a chain's stored
 * head hint (the walk goes past it), and the in-flight marker of a redemption that has ended (a
 * retry of its key or recovery finishes it). Each is sent at once and the request goes on; a
 * failure is counted and logged, never thrown at a request that has done its work.
 *
 * `settleBackgroundWrites()` waits until none is pending; disconnecting from the database does
 * it first (db.ts), so a process that shuts down cleanly loses none of them.
 */

/**
 * Background writes since start: started, and failed (logged; repaired by the next reader).
 * /metrics shows them, and those still pending, as `background_writes`.
 */
export const backgroundStats = { started: 0, failed: 0 };

const pending = new Set<Promise<void>>();

/** Background writes sent and not yet settled (a queue that grows means the database lags). */
export const pendingBackgroundWrites = (): number => pending.size;

type FailureLog = (err: unknown, what: string) => void;
let log: FailureLog = () => undefined;

/** Where failures are logged (the app's logger; set once by createApp). */
export function logBackgroundFailures(to: FailureLog): void {
  log = to;
}

/** Sends `write` without waiting for it; `what` names it in the log if it fails. */
export function inBackground(what: string, write: () => Promise<unknown>): void {
  backgroundStats.started++;
  const done = (async () => {
    try {
      await write();
    } catch (err) {
      backgroundStats.failed++;
      log(err, what);
    }
  })();
  pending.add(done);
  void done.finally(() => pending.delete(done));
}

/** Resolves once every background write sent so far (and any they sent) has settled. */
export async function settleBackgroundWrites(): Promise<void> {
  while (pending.size) await Promise.all([...pending]);
}
