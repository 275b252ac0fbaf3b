/**
 * Runs the real CLI (`src/cli/main.ts` under tsx) as a child process against this run's database,
 * the way `npm run cli` does minus the bootstrap step. Node loads tsx itself (`--import tsx`)
 * rather than through tsx's own launcher, which starts a second Node process around it: the
 * same code in one process, about 0.3 s sooner each run.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ctx } from '../../support/context';
import { tempDir } from '../../support/temp';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliEnv {
  /** Database name (default: this run's). */
  db?: string;
  /** DATA_DIR (default: a fresh temporary folder). */
  dataDir?: string;
  /** Leave MONGODB_URI unset (to exercise the run-file discovery). */
  noUri?: boolean;
  /** Another REDIS_URL than this run's (the services' Redis, told of configuration changes); null: unset. */
  redisUrl?: string | null;
  /** Another MONGODB_URI than this run's. */
  uri?: string;
  stdin?: string;
}

export function runCliProcess(args: string[], env: CliEnv = {}): Promise<CliRun> {
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    MONGODB_URI: env.uri ?? ctx().mongoUri,
    MONGODB_DB: env.db ?? ctx().config.mongodbDb,
    DATA_DIR: env.dataDir ?? tempDir('cli'),
    PASSWORD_KDF_LOG2N: '12',
    LOG_LEVEL: 'warn',
    DEMO_SEED: 'false',
    REDIS_URL: env.redisUrl ?? ctx().redisUrl,
    REDIS_PREFIX: ctx().config.redisPrefix,
  };
  if (env.noUri) delete childEnv.MONGODB_URI;
  if (env.redisUrl === null) delete childEnv.REDIS_URL;
  delete childEnv.ADMIN_USERNAME;
  delete childEnv.ADMIN_PASSWORD;
  return new Promise((resolve, reject) => {
    const main = path.join(ROOT, 'src', 'cli', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', main, ...args], {
      cwd: ROOT,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(env.stdin ?? '');
  });
}
