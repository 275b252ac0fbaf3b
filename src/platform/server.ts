/**
 * The HTTP server around the express app.
 *
 * Node's HTTP parser answers some broken requests itself, before express ever sees them:
 * headers larger than `--max-http-header-size` (16 KiB) get 431, a malformed request line 400,
 * a client too slow to send its headers 408, each as a bare status line. `answerClientError`
 * answers them as application/problem+json like every other refusal, when nothing has been
 * written on the connection yet (the same rule Node's default handler follows), and then
 * closes the connection.
 */
import http, { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Express } from 'express';
import { PROBLEM_REASONS, statusOf, type ProblemReason } from './errors';
import { problemBody } from './http';

/** What the parser's error codes mean for the client. */
function clientErrorProblem(
  code: string | undefined,
): [ProblemReason, string, Record<string, unknown>] {
  if (code === 'HPE_HEADER_OVERFLOW')
    return ['headers_too_large', 'The request headers are larger than 16 KiB.', {}];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT')
    return ['request_timeout', 'The request headers did not arrive in time.', {}];
  return [
    'validation_failed',
    'The request is not well-formed HTTP/1.1.',
    { errors: [{ path: '(request)', message: 'malformed HTTP request' }] },
  ];
}

/** The server's 'clientError' listener: a problem+json answer, then the connection closes. */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const s = socket as Duplex & { bytesWritten?: number };
  if (err.code === 'ECONNRESET' || !s.writable || (s.bytesWritten ?? 0) > 0) {
    s.destroy();
    return;
  }
  const [reason, detail, extra] = clientErrorProblem(err.code);
  const status = statusOf(PROBLEM_REASONS[reason].code);
  const body = JSON.stringify(problemBody(reason, detail, extra));
  s.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: application/problem+json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      'Cache-Control: no-store\r\n' +
      'X-Content-Type-Options: nosniff\r\n' +
      'Connection: close\r\n\r\n' +
      body,
  );
}

/** An HTTP server for the app, with broken requests answered as problem+json. */
export function createServer(app: Express): Server {
  const server = http.createServer(app);
  server.on('clientError', answerClientError);
  return server;
}

/** Creates the server and listens; resolves once it accepts connections. */
export function listen(app: Express, port: number, host: string): Promise<Server> {
  const server = createServer(app);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
