/**
 * Starts the embedded FerretDB (tools/ferretdb, built by tools/bootstrap.mjs) when no
 * MONGODB_URI is configured, waits until it answers `ping`, and stops it with the service.
 *
 * The launcher prints `READY mongodb://127.0.0.1:PORT/` once listening on a free loopback port.
 * FerretDB 1.x supports no retryable writes, so `retryWrites=false` is added to the URI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { MongoClient } from 'mongodb';
import type { Logger } from './logger';

/** How long FerretDB may take to open its backend and bind (SQLite: ~100 ms; PostgreSQL: more). */
const START_TIMEOUT_MS = 30_000;

export interface EmbeddedDbOptions {
  bin: string;
  handler: 'sqlite' | 'postgresql';
  dataDir: string;
  postgresqlUrl?: string;
  /** SQLite: the write lock's wait before SQLITE_BUSY (the launcher's default: 10 s). */
  busyTimeoutMs?: number;
  logger: Logger;
}

export interface EmbeddedDb {
  uri: string;
  /** The launcher's process id. */
  pid: number;
  stop(): Promise<void>;
}

/** Launches FerretDB and resolves with a ready URI. */
export async function startEmbeddedDb(opts: EmbeddedDbOptions): Promise<EmbeddedDb> {
  if (!existsSync(opts.bin)) {
    throw new Error(
      `embedded FerretDB launcher not found at ${opts.bin}; run "node tools/bootstrap.mjs" (needs Go) or set MONGODB_URI`,
    );
  }
  // FerretDB logs every refused command at WARN (e.g. createCollection of an existing one); only its errors matter here.
  // -stop-with-stdin: the launcher stops when this process's end of its stdin closes, so it never
  // outlives this process (killed with -9 included), and the next start is not a second FerretDB
  // beside an orphan on the same folder.
  const args = [
    '-stop-with-stdin',
    '-handler',
    opts.handler,
    '-port',
    '0',
    '-host',
    '127.0.0.1',
    '-log-level',
    'error',
  ];
  if (opts.handler === 'sqlite') {
    const dir = path.join(opts.dataDir, 'ferretdb');
    mkdirSync(dir, { recursive: true });
    args.push('-data', dir);
    if (opts.busyTimeoutMs) args.push('-sqlite-busy-timeout-ms', String(opts.busyTimeoutMs));
  } else {
    args.push('-postgresql-url', opts.postgresqlUrl ?? '');
  }
  // Its stdin is a pipe this process holds open and never writes.
  const child = spawn(opts.bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => undefined); // EPIPE once the launcher has exited
  const log = opts.logger.child({ component: 'ferretdb', pid: child.pid });
  readline
    .createInterface({ input: child.stderr })
    .on('line', (line) => log.warn({ line }, 'ferretdb stderr'));

  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('embedded FerretDB did not start in time')),
      START_TIMEOUT_MS,
    );
    const rl = readline.createInterface({ input: child.stdout });
    rl.on('line', (line) => {
      const m = /^READY (\S+)$/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded FerretDB exited with code ${code} before it was ready`));
    });
  });
  const uri = `${base.replace(/\/?$/, '/')}?retryWrites=false&directConnection=true`;
  await waitForPing(uri);
  log.info({ uri, handler: opts.handler }, 'embedded FerretDB ready');
  return { uri, pid: child.pid!, stop: () => stopChild(child) };
}

async function waitForPing(uri: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 1000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.close().catch(() => undefined);
    }
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
