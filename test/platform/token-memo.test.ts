/**
 * Verified tokens remembered until they expire (platform/auth.ts): a token sent again is not
 * verified again, and remembering it lets nothing through that a full check would refuse: an
 * expired token, a token of the wrong kind for the route, a token differing in one character.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import jwt from 'jsonwebtoken';
import { expect } from '../support/expect';
import { createTokenService, VERIFIED_TOKENS_MAX } from '../../src/platform/auth';
import { DomainError } from '../../src/platform/errors';

const service = (ttlS = 900) =>
  createTokenService({ issuer: 'test-issuer', audience: 'test-audience', ttlS });

/** Counts jsonwebtoken's signature checks while `fn` runs. */
async function signatureChecks(fn: () => unknown): Promise<number> {
  const lib = jwt as { verify: typeof jwt.verify };
  const original = lib.verify;
  let n = 0;
  lib.verify = ((...args: Parameters<typeof jwt.verify>) => {
    n++;
    return original(...args);
  }) as typeof jwt.verify;
  try {
    await fn();
  } finally {
    lib.verify = original;
  }
  return n;
}

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(DomainError);
    expect((err as DomainError).code).to.equal('unauthenticated');
    return (err as DomainError).message;
  }
  throw new Error('expected a refusal');
}

describe('platform: verified tokens remembered until they expire', () => {
  it('checks a token’s signature once, however often it is sent, and answers the same claims', async () => {
    const tokens = service();
    const token = tokens.sign({ sub: 'terminal-1', role: 'terminal', tv: 2 }, 'terminal');
    const seen: unknown[] = [];
    const checks = await signatureChecks(() => {
      for (let i = 0; i < 20; i++) seen.push(tokens.verify(token, ['terminal']));
    });
    expect(checks).to.equal(1);
    for (const claims of seen)
      expect(claims).to.deep.equal({
        sub: 'terminal-1',
        role: 'terminal',
        tv: 2,
        kind: 'terminal',
      });
  });

  it('refuses a remembered token once it has expired, as a full check does', async () => {
    const tokens = service(1);
    const token = tokens.sign({ sub: 'u1', role: 'clerk' }, 'person');
    const unseen = tokens.sign({ sub: 'u2', role: 'clerk' }, 'person');
    expect(tokens.verify(token, ['person']).sub).to.equal('u1');
    const { exp } = jwt.decode(token) as { exp: number };
    await sleep(exp * 1000 - Date.now() + 20);
    const remembered = refusal(() => tokens.verify(token, ['person']));
    expect(remembered).to.equal('The access token has expired.');
    // A token of the same age never sent before is refused in full, with the same reason.
    expect(refusal(() => tokens.verify(unseen, ['person']))).to.equal(remembered);
  });

  it('refuses a remembered token on a route of the other kind, with the full check’s reason', () => {
    const tokens = service();
    const terminal = tokens.sign({ sub: 't1', role: 'terminal' }, 'terminal');
    tokens.verify(terminal, ['terminal']);
    expect(refusal(() => tokens.verify(terminal, ['person']))).to.equal(
      'This kind of access token is not accepted here.',
    );
    const person = tokens.sign({ sub: 'u1', role: 'clerk' }, 'person');
    tokens.verify(person, ['person']);
    expect(refusal(() => tokens.verify(person, ['terminal']))).to.equal(
      'This kind of access token is not accepted here.',
    );
  });

  it('verifies in full any token differing from a remembered one, by one character of its signature or its claims', () => {
    const tokens = service();
    const token = tokens.sign({ sub: 'u1', role: 'clerk' }, 'person');
    tokens.verify(token, ['person']);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flip = (s: string, i: number) =>
      s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
    const forgedSignature = `${header}.${payload}.${flip(signature, 10)}`;
    expect(refusal(() => tokens.verify(forgedSignature, ['person']))).to.equal(
      'The access token is not valid.',
    );
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as object;
    const admin = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url');
    expect(refusal(() => tokens.verify(`${header}.${admin}.${signature}`, ['person']))).to.equal(
      'The access token is not valid.',
    );
  });

  it('remembers at most VERIFIED_TOKENS_MAX tokens: the oldest is checked again', async () => {
    const tokens = service();
    const first = tokens.sign({ sub: 'u0', role: 'clerk' }, 'person');
    tokens.verify(first, ['person']);
    for (let i = 1; i <= VERIFIED_TOKENS_MAX; i++)
      tokens.verify(tokens.sign({ sub: `u${i}`, role: 'clerk' }, 'person'), ['person']);
    expect(await signatureChecks(() => tokens.verify(first, ['person']))).to.equal(1);
  });
});
