/**
 * The bench's HTTP client: undici's Pool, keep-alive connections to one origin (as a terminal or
 * a county office client keeps its connection open). Each call reads the whole body, so the
 * time measured is the time until the answer is in hand.
 */
import { Pool } from 'undici';

export interface HttpAnswer {
  status: number;
  body: unknown;
}

export class HttpClient {
  private readonly pool: Pool;

  constructor(origin: string, connections: number) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  }

  async post(
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
  ): Promise<HttpAnswer> {
    const res = await this.pool.request({
      path,
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** The `code` of a problem+json answer, or the status when there is none. */
export function problemCode(a: HttpAnswer): string {
  const code = (a.body as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${a.status} ${code}` : String(a.status);
}
