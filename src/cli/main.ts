/**
 * Entry point of `npm run cli -- <command>`: reads the configuration (the same environment
 * as the service: MONGODB_URI, MONGODB_DB, DATA_DIR, …), wires stdout/stderr and the
 * database, and exits with the command's code. The commands live in commands.ts.
 *
 * Exit codes: 0 ok, 1 problem found, 2 usage error, 3 the command could not run (e.g. the
 * database is unreachable) — so a script can tell "the chain is broken" from "no database".
 */
import readline from 'node:readline';
import pino from 'pino';
import { loadConfig } from '../../config';
import { createLogger } from '../platform/logger';
import { runCli, type CliIo } from './commands';
import { announceConfigChange } from './config-epoch';
import { openDatabase } from './database';

const EXIT_CRASH = 3;

/** Asks on the terminal without echoing the answer; undefined when stdin is not a terminal. */
function promptSecret(question: string): Promise<string | undefined> {
  if (!process.stdin.isTTY) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const rl = readline.createInterface({
      input: process.stdin,
      output: process.stderr,
      terminal: true,
    });
    let muted = false;
    // readline echoes through this (undocumented) hook; muting it hides the typed secret.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s) => {
      if (!muted) process.stderr.write(s);
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<number> {
  const config = loadConfig();
  // Logs go to stderr so stdout carries only results. The service's default level `info` is
  // too chatty for a command (every embedded-database start); any other LOG_LEVEL is honoured.
  const logger = createLogger(
    config.logLevel === 'info' ? 'warn' : config.logLevel,
    pino.destination({ dest: 2, sync: true }),
  );
  const io: CliIo = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    promptSecret,
    readStdin,
  };
  return runCli(process.argv.slice(2), {
    config,
    logger,
    io,
    connect: () => openDatabase(config, logger),
    announceConfigChange: () => announceConfigChange(config),
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(EXIT_CRASH);
  },
);
