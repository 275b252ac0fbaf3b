/**
 * The bench server's log, read once the server has stopped. The server logs at the production
 * default (`LOG_LEVEL` info), so every request writes its access line, as in a deployment: the
 * bench's figures include that cost, and the report says what the log held (lines, bytes per
 * access line) and whether anything was logged at error level or above.
 */
import { createReadStream, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';

export interface ServerLogSummary {
  lines: number;
  bytes: number;
  /** Lines of the access log (`request completed`). */
  accessLines: number;
  accessBytes: number;
  /** Lines at level error or fatal, and lines that are not JSON (a crash's stack trace). */
  errors: number;
}

const SEVERE = new Set(['error', 'fatal']);

export async function summariseServerLog(file: string): Promise<ServerLogSummary> {
  const s: ServerLogSummary = { lines: 0, bytes: 0, accessLines: 0, accessBytes: 0, errors: 0 };
  if (!statSync(file, { throwIfNoEntry: false })?.size) return s;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line) continue;
    const bytes = Buffer.byteLength(line) + 1;
    s.lines++;
    s.bytes += bytes;
    let entry: { level?: unknown; msg?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      s.errors++;
      continue;
    }
    if (SEVERE.has(String(entry.level))) s.errors++;
    if (entry.msg === 'request completed') {
      s.accessLines++;
      s.accessBytes += bytes;
    }
  }
  return s;
}

/** The report's line on the server's log; the file is kept (and named) only if it holds errors. */
export async function serverLogLine(file: string): Promise<string> {
  const s = await summariseServerLog(file);
  const held =
    `${s.lines.toLocaleString('en')} lines, ${(s.bytes / 2 ** 20).toFixed(1)} MiB; ` +
    `${s.accessLines.toLocaleString('en')} access lines of ` +
    `${s.accessLines ? Math.round(s.accessBytes / s.accessLines) : 0} bytes on average`;
  if (s.errors)
    return `Server errors: ${s.errors} lines at error level or not JSON, in ${file} (${held}).`;
  rmSync(file, { force: true });
  return `Server errors: none. Its log, at LOG_LEVEL info as in production: ${held} (removed).`;
}
