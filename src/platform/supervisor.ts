/**
 * Keeps a child process running (`npm start` supervises its workers process with it).
 *
 * When the child exits while the supervisor is not stopping, it is started again after a delay
 * that doubles with each failure in a row (initial → max), so a child that dies at once (the
 * database unreachable) is not restarted in a tight loop; once a child has stayed up for
 * `stableAfterMs` the delay starts from the initial one again. Every exit and restart is logged
 * and counted. `stop()` ends supervision, sends SIGTERM and waits for the child to exit.
 */
import type { ChildProcess } from 'node:child_process';
import type { Logger } from './logger';

/** A child that stayed up this long is healthy: the next failure starts the backoff afresh. */
export const STABLE_AFTER_MS = 60_000;

/** The delay before restart number `failuresInARow` (1, 2, …): initial · 2^(n−1), at most max. */
export function restartDelayMs(failuresInARow: number, initialMs: number, maxMs: number): number {
  const n = Math.max(1, failuresInARow);
  return Math.min(maxMs, initialMs * 2 ** Math.min(n - 1, 30));
}

export interface SupervisorOptions {
  /** Name in the logs, e.g. `workers`. */
  name: string;
  start(): ChildProcess;
  logger: Logger;
  initialDelayMs: number;
  maxDelayMs: number;
  stableAfterMs?: number;
  /** Called on every restart (a metric counts them). */
  onRestart?(restarts: number): void;
}

export class Supervisor {
  private child: ChildProcess | undefined;
  private stopping = false;
  private failuresInARow = 0;
  private restarts = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: SupervisorOptions) {}

  /** The running child's pid, if one runs. */
  get pid(): number | undefined {
    return this.child && this.child.exitCode === null && this.child.signalCode === null
      ? this.child.pid
      : undefined;
  }

  start(): void {
    this.spawn();
  }

  private spawn(): void {
    const child = this.opts.start();
    this.child = child;
    this.startedAt = Date.now();
    this.opts.logger.info(
      { childPid: child.pid, restarts: this.restarts },
      `${this.opts.name} process started`,
    );
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    child.once('error', (err) =>
      this.opts.logger.error({ err }, `${this.opts.name} process could not be started`),
    );
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || child !== this.child) return;
    const upMs = Date.now() - this.startedAt;
    this.failuresInARow =
      upMs >= (this.opts.stableAfterMs ?? STABLE_AFTER_MS) ? 1 : this.failuresInARow + 1;
    const delayMs = restartDelayMs(
      this.failuresInARow,
      this.opts.initialDelayMs,
      this.opts.maxDelayMs,
    );
    this.opts.logger.error(
      {
        childPid: child.pid,
        code,
        signal,
        upMs,
        failuresInARow: this.failuresInARow,
        restartInMs: delayMs,
      },
      `${this.opts.name} process exited unexpectedly; restarting it`,
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopping) return;
      this.restarts++;
      this.opts.onRestart?.(this.restarts);
      this.opts.logger.warn(
        { restarts: this.restarts, afterMs: delayMs },
        `restarting the ${this.opts.name} process`,
      );
      this.spawn();
    }, delayMs);
  }

  /** Stops supervising, sends SIGTERM to the child and resolves once it has exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
