/**
 * Every way a request body (or the request itself) can fail to be read is a 4xx
 * application/problem+json, the same with or without a token: malformed compressed bodies,
 * unsupported encodings and charsets, decompression bombs, cut-short bodies, and headers too
 * large for Node's parser (answered by the server's 'clientError' handler, tested on a real
 * listening server since supertest never reaches that code).
 */
import http, { type IncomingHttpHeaders, type Server } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { makeAdmin, type TestUser } from '../../support/factories';
import { listen } from '../../../src/platform/server';

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function send(
  port: number,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: { 'content-length': String(body.length), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Writes raw bytes on a TCP connection (optionally half-closing it) and reads the whole answer. */
function sendRaw(
  port: number,
  bytes: string | Buffer,
  opts: { halfClose?: boolean } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const lines = head!.split('\r\n');
      const headers: IncomingHttpHeaders = {};
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':');
        headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(lines[0]!.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(bytes, () => {
      if (opts.halfClose) socket.end();
    });
  });
}

function expectProblem(res: RawResponse, status: number, code: string, label: string) {
  expect(res.status, `${label}: ${res.body}`).to.equal(status);
  expect(res.headers['content-type'], label).to.match(/^application\/problem\+json/);
  const body = JSON.parse(res.body) as Record<string, unknown>;
  expect(body, label).to.include({ status, code });
  expect(body.type, label).to.equal(`urn:moral-savings:problem:${code}`);
}

const JSON_TYPE = { 'content-type': 'application/json' };
const json = Buffer.from(JSON.stringify({ villageId: 'x', head: '张三', cardNo: 'C-0001' }));
const gz = zlib.gzipSync(json);

/** [label, headers, body, status, code] */
const CASES: [string, Record<string, string>, Buffer, number, string][] = [
  [
    'gzip with a body that is not gzip',
    { ...JSON_TYPE, 'content-encoding': 'gzip' },
    Buffer.from('xx'),
    400,
    'validation_failed',
  ],
  [
    'deflate with a body that is not deflate',
    { ...JSON_TYPE, 'content-encoding': 'deflate' },
    Buffer.from('not deflate at all'),
    400,
    'validation_failed',
  ],
  [
    'br with a body that is not brotli',
    { ...JSON_TYPE, 'content-encoding': 'br' },
    Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01]),
    400,
    'validation_failed',
  ],
  [
    'gzip cut short',
    { ...JSON_TYPE, 'content-encoding': 'gzip' },
    gz.subarray(0, gz.length - 8),
    400,
    'validation_failed',
  ],
  [
    'gzip of bytes that are not JSON',
    { ...JSON_TYPE, 'content-encoding': 'gzip' },
    zlib.gzipSync(Buffer.from('{"a":')),
    400,
    'validation_failed',
  ],
  [
    'gzip that inflates past 1 MiB (a decompression bomb)',
    { ...JSON_TYPE, 'content-encoding': 'gzip' },
    zlib.gzipSync(Buffer.from(`{"a":"${'0'.repeat(4 * 1024 * 1024)}"}`)),
    413,
    'payload_too_large',
  ],
  [
    'an unsupported content-encoding',
    { ...JSON_TYPE, 'content-encoding': 'compress' },
    json,
    415,
    'unsupported_media_type',
  ],
  [
    'two stacked content-encodings',
    { ...JSON_TYPE, 'content-encoding': 'gzip, gzip' },
    zlib.gzipSync(gz),
    415,
    'unsupported_media_type',
  ],
  [
    'a charset other than UTF-8',
    { 'content-type': 'application/json; charset=latin1' },
    json,
    415,
    'unsupported_media_type',
  ],
  [
    'an unknown charset',
    { 'content-type': 'application/json; charset=klingon' },
    json,
    415,
    'unsupported_media_type',
  ],
  ['broken JSON', JSON_TYPE, Buffer.from('{"villageId":'), 400, 'validation_failed'],
  [
    'a body over 1 MiB',
    JSON_TYPE,
    Buffer.from(`{"head":"${'x'.repeat(1024 * 1024)}"}`),
    413,
    'payload_too_large',
  ],
];

describe('request bodies and requests that cannot be read', function () {
  this.timeout(120_000);
  let server: Server;
  let port: number;
  let admin: TestUser;

  before(async () => {
    server = await listen(ctx().app, 0, '127.0.0.1');
    port = (server.address() as AddressInfo).port;
    admin = await makeAdmin();
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  for (const [label, headers, body, status, code] of CASES) {
    it(`${label} › ${status} ${code} problem+json, before and regardless of authentication`, async () => {
      const anonymous = await send(port, '/v1/households', headers, body);
      expectProblem(anonymous, status, code, `${label}, no token`);
      const signedIn = await send(
        port,
        '/v1/households',
        { ...headers, authorization: admin.auth.Authorization },
        body,
      );
      expectProblem(signedIn, status, code, `${label}, admin token`);
      expect(JSON.parse(signedIn.body)).to.deep.equal({ ...JSON.parse(anonymous.body) });
      const publicRoute = await send(port, '/v1/auth/token', headers, body);
      expectProblem(publicRoute, status, code, `${label}, public route`);
    });
  }

  it('a well-formed gzip body is read like a plain one (the encodings above are refused for their bytes, not for being compressed)', async () => {
    const body = zlib.gzipSync(
      Buffer.from(
        JSON.stringify({
          grantType: 'password',
          username: admin.username,
          password: admin.password,
        }),
      ),
    );
    const res = await send(
      port,
      '/v1/auth/token',
      { ...JSON_TYPE, 'content-encoding': 'gzip' },
      body,
    );
    expect(res.status, res.body).to.equal(200);
    expect(JSON.parse(res.body)).to.have.property('accessToken');
  });

  it('a body cut short by the client (fewer bytes than Content-Length, then end of stream) › 400 problem+json', async () => {
    const res = await sendRaw(
      port,
      'POST /v1/households HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"villageId":"x"',
      { halfClose: true },
    );
    expectProblem(res, 400, 'validation_failed', 'cut short');
  });

  it('headers larger than 16 KiB › 431 headers_too_large problem+json from the server itself', async () => {
    const res = await sendRaw(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
    );
    expectProblem(res, 431, 'headers_too_large', 'large headers');
    expect(res.headers['connection']).to.equal('close');
    expect(res.headers['cache-control']).to.equal('no-store');
    expect(Number(res.headers['content-length'])).to.equal(Buffer.byteLength(res.body));
  });

  it('a request that is not HTTP/1.1 › 400 validation_failed problem+json, and the server keeps serving', async () => {
    const res = await sendRaw(port, 'HELLO THERE\r\n\r\n');
    expectProblem(res, 400, 'validation_failed', 'garbage request line');
    const health = await sendRaw(
      port,
      'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(health.status).to.equal(200);
  });
});
