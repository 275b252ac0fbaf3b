/**
 * One structured JSON logger (pino). HTTP code uses `req.log` (a child with `requestId` and
 * `userId`); workers use children with `queue`, `jobId`, `attempt`. Tokens, passwords, secrets
 * and ID numbers are redacted wherever they appear in a logged object.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'password',
  '*.password',
  'clientSecret',
  '*.clientSecret',
  'accessToken',
  '*.accessToken',
  'idNumber',
  '*.idNumber',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'req.headers["board-link"]',
  'headers["board-link"]',
];

/** Creates the root logger. `destination` lets tests and the CLI send logs elsewhere. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'moral-savings' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
