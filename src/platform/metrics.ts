/** Prometheus metrics (prom-client): one registry per app, default process metrics included. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { backgroundStats, pendingBackgroundWrites } from './background';
import { busyStats } from './busy';
import { writeLane } from './write-lane';

export interface Metrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  ledgerPosts: Counter<'type'>;
  /** Credit look-ups by officers, by result (ok, consent_required, not_found, rate_limited, …). */
  creditLookups: Counter<'result'>;
  /** Officers crossing the daily look-up threshold (once per officer and day). */
  creditUnusualVolume: Counter<'cooperativeId'>;
  /** Restarts of the workers process by `npm start`'s supervisor. */
  workersRestarts: Counter;
}

/** The database's gauges: busy refusals of the embedded SQLite, the write lane. */
function databaseGauges(registry: Registry): void {
  new Gauge({
    name: 'db_busy_refusals',
    help: 'Writes the embedded SQLite refused as busy since start, by outcome: retried (sent again), gave_up (answered 503 or left undone), left_undone (an account cache or in-flight marker left for repair)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.set({ outcome: 'retried' }, busyStats.retried);
      this.set({ outcome: 'gave_up' }, busyStats.gaveUp);
      this.set({ outcome: 'left_undone' }, busyStats.leftUndone);
    },
  });
  new Gauge({
    name: 'db_write_lane',
    help: "The write lane (DB_WRITE_LANES; 1 on the embedded SQLite): permits (write commands at the database at once, 0: no lane), queued (writes that waited for a permit since start), waiting (now), longest_wait_ms (since start; a request's write), gave_way (permits a cache's write let a request's write have first, since start)",
    labelNames: ['what'],
    registers: [registry],
    collect() {
      this.set({ what: 'permits' }, writeLane.permits);
      this.set({ what: 'queued' }, writeLane.stats.queued);
      this.set({ what: 'waiting' }, writeLane.waiting);
      this.set({ what: 'longest_wait_ms' }, writeLane.stats.longestWaitMs);
      this.set({ what: 'gave_way' }, writeLane.stats.gaveWay);
    },
  });
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  new Gauge({
    name: 'background_writes',
    help: 'Writes sent without the request waiting for them (account cache, chain head hint, in-flight marker deletes), by state: started and failed since start (a failure is logged and repaired by the next reader), pending now',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.set({ state: 'started' }, backgroundStats.started);
      this.set({ state: 'failed' }, backgroundStats.failed);
      this.set({ state: 'pending' }, pendingBackgroundWrites());
    },
  });
  databaseGauges(registry);
  return {
    registry,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by route template',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ledgerPosts: new Counter({
      name: 'ledger_entries_posted_total',
      help: 'Ledger entries posted',
      labelNames: ['type'],
      registers: [registry],
    }),
    creditLookups: new Counter({
      name: 'credit_lookups_total',
      help: 'Credit look-ups by loan officers, by result',
      labelNames: ['result'],
      registers: [registry],
    }),
    creditUnusualVolume: new Counter({
      name: 'credit_unusual_lookup_volume_total',
      help: 'Loan officers who looked up more distinct households in a UTC day than CREDIT_LOOKUPS_PER_DAY_ALERT',
      labelNames: ['cooperativeId'],
      registers: [registry],
    }),
    workersRestarts: new Counter({
      name: 'workers_restarts_total',
      help: 'Times `npm start` restarted its workers process after it died (0 when the workers run on their own)',
      registers: [registry],
    }),
  };
}
