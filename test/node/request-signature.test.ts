/**
 * node/request-signature.ts on its own: requests signed by signRequest (or,
 * to reach one check at a time, signed validly by the library with one thing
 * off), verified against member entities made here, with no ledger or HTTP.
 * Each refusal is next to the accepted request it differs from in one place.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import * as messageSignatures from 'http-message-signatures';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../src/crypto/bytes.js';
import { nobleSigner, randomSeed, type Signer, verifyNoble } from '../../src/crypto/ed25519.js';
import type { MemberSigner } from '../../src/directory/submitter.js';
import { DirchainError, ErrorCode, type ErrorCodeValue } from '../../src/errors.js';
import {
  NonceStore,
  type RequestToSign,
  type RequestToVerify,
  signRequest,
  verifyRequest,
} from '../../src/node/request-signature.js';
import type { MemberEntity, MemberStatus } from '../../src/policy/entities.js';

const { httpbis } = messageSignatures;

const NOW = Date.UTC(2025, 11, 7, 9, 30, 0);
const SKEW = 10 * 60 * 1000;
const URL_ = 'http://127.0.0.1:8080/dirchain/v1/query';
const BODY = utf8('{"method":"get","args":["member","dept-health"]}');

interface TestMember {
  readonly id: string;
  /** One signer per key index. */
  readonly signers: Signer[];
}

function makeMember(id = 'dept-health', keys = 1): TestMember {
  return { id, signers: Array.from({ length: keys }, () => nobleSigner(randomSeed())) };
}

function entityOf(m: TestMember, over: { status?: MemberStatus; activeKeyId?: number } = {}): MemberEntity {
  return {
    id: m.id,
    name: m.id,
    roles: [],
    keys: m.signers.map((s) => s.publicKey),
    activeKeyId: over.activeKeyId ?? m.signers.length - 1,
    encryptionKey: null,
    status: over.status ?? 'active',
    index: 0,
  };
}

function as(m: TestMember, keyId = m.signers.length - 1, id = m.id): MemberSigner {
  return { id, keyId, signer: m.signers[keyId]! };
}

function lookupOf(...entities: MemberEntity[]): (id: string) => MemberEntity | undefined {
  return (id) => entities.find((e) => e.id === id);
}

/** The request as the node would see it after the client sent `req` with the signed headers. */
async function signed(
  req: RequestToSign,
  member: MemberSigner,
  options: { now?: number; nonce?: string } = {},
): Promise<RequestToVerify> {
  const headers = await signRequest(req, member, { now: NOW, ...options });
  return { method: req.method, targetUri: req.url, headers, ...(req.body ? { body: req.body } : {}) };
}

function verify(
  req: RequestToVerify,
  lookup: (id: string) => MemberEntity | undefined,
  nonces = new NonceStore({ ttlMs: 2 * SKEW }),
  now = NOW,
) {
  return verifyRequest(req, lookup, { skewMs: SKEW, now, nonces });
}

/** Refused with `code`, a message matching `message`, and a hint saying what to do. */
async function refused(
  promise: Promise<unknown>,
  code: ErrorCodeValue,
  message?: RegExp,
): Promise<DirchainError> {
  const error = await promise.then(
    () => expect.fail(`expected ${code}, but the request was accepted`),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DirchainError);
  const e = error as DirchainError;
  // Two assertions, not toMatchObject: it takes a RegExp as an empty object, matching any message.
  expect(e.code).toBe(code);
  if (message) expect(e.message).toMatch(message);
  expect(e.hint).toMatch(/\w/);
  return e;
}

/**
 * Signs through the library directly with the member's key, so a request can
 * be validly signed and still break one rule (label, components, parameters).
 */
async function signRaw(
  req: RequestToSign,
  member: MemberSigner,
  config: {
    name?: string;
    fields?: string[];
    params?: string[];
    paramValues?: messageSignatures.SignatureParameters;
    headers?: Record<string, string>;
  } = {},
): Promise<RequestToVerify> {
  const headers: Record<string, string> = { ...config.headers };
  if (req.body && req.body.length > 0 && !('content-digest' in headers))
    headers['content-digest'] = `sha-256=:${createHash('sha256').update(req.body).digest('base64')}:`;
  const out = await httpbis.signMessage(
    {
      key: { sign: async (data) => Buffer.from(member.signer.sign(data)) },
      name: config.name ?? 'sig1',
      fields:
        config.fields ??
        (req.body ? ['@method', '@target-uri', 'content-digest'] : ['@method', '@target-uri']),
      params: config.params ?? ['created', 'nonce', 'keyid', 'alg'],
      paramValues: {
        created: new Date(NOW),
        nonce: 'AAAAAAAAAAAAAAAAAAAAAA',
        keyid: `${member.id}/${member.keyId}`,
        alg: 'ed25519',
        ...config.paramValues,
      },
    },
    { method: req.method, url: req.url, headers },
  );
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(out.headers)) lower[k.toLowerCase()] = String(v);
  return { method: req.method, targetUri: req.url, headers: lower, ...(req.body ? { body: req.body } : {}) };
}

describe('signRequest and verifyRequest: accepted', () => {
  it('round-trips a GET: headers as docs/http-api.md shows them, no Content-Digest', async () => {
    const m = makeMember();
    const req = await signed({ method: 'GET', url: URL_ }, as(m), { nonce: 'nonce-nonce-nonce-0001' });
    expect(Object.keys(req.headers).sort()).toEqual(['signature', 'signature-input']);
    expect(req.headers['signature-input']).toBe(
      `sig1=("@method" "@target-uri");created=${NOW / 1000};nonce="nonce-nonce-nonce-0001";` +
        'keyid="dept-health/0";alg="ed25519"',
    );
    expect(req.headers.signature).toMatch(/^sig1=:[A-Za-z0-9+/]{86}==:$/);
    expect(await verify(req, lookupOf(entityOf(m)))).toEqual({ member: 'dept-health', keyId: 0 });
  });

  it('round-trips a POST with a body: Content-Digest is the SHA-256 of the body (RFC 9530)', async () => {
    const m = makeMember();
    const req = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    expect(req.headers['content-digest']).toBe(
      `sha-256=:${createHash('sha256').update(BODY).digest('base64')}:`,
    );
    expect(req.headers['signature-input']).toMatch(
      /^sig1=\("@method" "@target-uri" "content-digest"\);created=/,
    );
    expect(await verify(req, lookupOf(entityOf(m)))).toEqual({ member: 'dept-health', keyId: 0 });
  });

  it('signs the RFC 9421 §2.5 signature base, one line per component then @signature-params', async () => {
    const m = makeMember();
    const req = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    const params = req.headers['signature-input']!.toString().slice('sig1='.length);
    const base =
      '"@method": POST\n' +
      `"@target-uri": ${URL_}\n` +
      `"content-digest": ${req.headers['content-digest']}\n` +
      `"@signature-params": ${params}`;
    const signature = fromBase64(/^sig1=:(.*):$/.exec(String(req.headers.signature))![1]!);
    expect(verifyNoble(m.signers[0]!.publicKey, utf8(base), signature)).toBe(true);
  });

  it('an empty body is no body: no Content-Digest, and it verifies with the body empty or absent', async () => {
    const m = makeMember();
    const req = await signed({ method: 'POST', url: URL_, body: new Uint8Array(0) }, as(m));
    expect(req.headers['content-digest']).toBeUndefined();
    const lookup = lookupOf(entityOf(m));
    await expect(verify(req, lookup)).resolves.toEqual({ member: 'dept-health', keyId: 0 });
    await expect(verify({ ...req, body: undefined }, lookup)).resolves.toEqual({
      member: 'dept-health',
      keyId: 0,
    });
  });

  it('signs the target as the node rebuilds it: http://<Host><path and query>, without the fragment', async () => {
    const m = makeMember();
    const headers = await signRequest(
      { method: 'GET', url: 'https://Node.Example:443/checkpoint?x=1#part' },
      as(m),
      { now: NOW },
    );
    const lookup = lookupOf(entityOf(m));
    const node = { method: 'GET', targetUri: 'http://node.example/checkpoint?x=1', headers };
    await expect(verify(node, lookup)).resolves.toEqual({ member: 'dept-health', keyId: 0 });
    await refused(
      verify({ ...node, targetUri: 'https://node.example/checkpoint?x=1' }, lookup),
      ErrorCode.UNAUTHENTICATED,
    );
  });

  it('accepts `created` at the edges of the window, either way', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    await expect(
      verify(await signed({ method: 'GET', url: URL_ }, as(m), { now: NOW - SKEW }), lookup),
    ).resolves.toBeDefined();
    await expect(
      verify(await signed({ method: 'GET', url: URL_ }, as(m), { now: NOW + SKEW }), lookup),
    ).resolves.toBeDefined();
  });

  it('accepts a request whose created is ahead of the wall clock (the library must not judge time)', async () => {
    const m = makeMember();
    const future = Date.now() + 5 * 60 * 1000;
    const req = await signed({ method: 'GET', url: URL_ }, as(m), { now: future });
    await expect(verify(req, lookupOf(entityOf(m)), undefined, future)).resolves.toBeDefined();
  });

  it('draws a fresh 22-character base64url nonce per request', async () => {
    const m = makeMember();
    const nonces = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const req = await signed({ method: 'GET', url: URL_ }, as(m));
      nonces.add(/;nonce="([^"]*)"/.exec(String(req.headers['signature-input']))![1]!);
    }
    expect(nonces.size).toBe(20);
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it('refuses to sign with a malformed nonce, method, URL or member', async () => {
    const m = makeMember();
    const get = { method: 'GET', url: URL_ };
    for (const nonce of ['short', 'a'.repeat(65), 'has space in it!!'])
      await expect(signRequest(get, as(m), { nonce })).rejects.toMatchObject({
        code: ErrorCode.INVALID_ARGUMENT,
        message: expect.stringMatching(/nonce/),
      });
    await expect(signRequest(get, as(m), { nonce: 'a'.repeat(64) })).resolves.toBeDefined();
    await expect(signRequest({ method: 'GET X', url: URL_ }, as(m))).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    await expect(signRequest({ method: 'GET', url: '/relative' }, as(m))).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    await expect(signRequest({ method: 'GET', url: 'ftp://x/y' }, as(m))).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    await expect(signRequest(get, as(m, 0, 'bad id"'))).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
  });
});

describe('verifyRequest: refusals, each one change away from an accepted request', () => {
  it('E_UNAUTHENTICATED for a changed method', async () => {
    const m = makeMember();
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    await refused(
      verify({ ...req, method: 'HEAD' }, lookupOf(entityOf(m))),
      ErrorCode.UNAUTHENTICATED,
      /verify/,
    );
    await refused(
      verify({ ...req, method: 'get' }, lookupOf(entityOf(m))),
      ErrorCode.UNAUTHENTICATED,
      /verify/,
    );
  });

  it('E_UNAUTHENTICATED for a changed URL: path, query, host or port', async () => {
    const m = makeMember();
    const req = await signed({ method: 'GET', url: `${URL_}?a=1` }, as(m));
    for (const targetUri of [
      'http://127.0.0.1:8080/dirchain/v1/querY?a=1',
      'http://127.0.0.1:8080/dirchain/v1/query?a=2',
      'http://127.0.0.1:8080/dirchain/v1/query',
      'http://127.0.0.2:8080/dirchain/v1/query?a=1',
      'http://127.0.0.1:8081/dirchain/v1/query?a=1',
    ])
      await refused(
        verify({ ...req, targetUri }, lookupOf(entityOf(m))),
        ErrorCode.UNAUTHENTICATED,
        /verify/,
      );
  });

  it('E_UNAUTHENTICATED for a body changed after signing: the digest no longer matches', async () => {
    const m = makeMember();
    const req = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    const body = Uint8Array.from(BODY);
    body[0]! ^= 1;
    await refused(
      verify({ ...req, body }, lookupOf(entityOf(m))),
      ErrorCode.UNAUTHENTICATED,
      /Content-Digest/,
    );
  });

  it('E_UNAUTHENTICATED for a changed body with a matching digest: the digest is signed', async () => {
    const m = makeMember();
    const req = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    const body = utf8('{"method":"get","args":["member","dept-police"]}');
    const headers = {
      ...req.headers,
      'content-digest': `sha-256=:${toBase64(createHash('sha256').update(body).digest())}:`,
    };
    await refused(
      verify({ ...req, body, headers }, lookupOf(entityOf(m))),
      ErrorCode.UNAUTHENTICATED,
      /verify/,
    );
  });

  it('E_UNAUTHENTICATED for a missing or malformed Content-Digest', async () => {
    const m = makeMember();
    const req = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    const lookup = lookupOf(entityOf(m));
    const sha512 = `sha-512=:${createHash('sha512').update(BODY).digest('base64')}:`;
    await refused(
      verify({ ...req, headers: { ...req.headers, 'content-digest': undefined } }, lookup),
      ErrorCode.UNAUTHENTICATED,
      /no Content-Digest/,
    );
    for (const digest of [sha512, `${req.headers['content-digest']}, ${sha512}`, 'sha-256=:not base64:'])
      await refused(
        verify({ ...req, headers: { ...req.headers, 'content-digest': digest } }, lookup),
        ErrorCode.UNAUTHENTICATED,
        /Content-Digest/,
      );
  });

  it('E_UNAUTHENTICATED when a body is added to or dropped from what was signed', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const withBody = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    await refused(verify({ ...withBody, body: undefined }, lookup), ErrorCode.UNAUTHENTICATED, /covers/);
    const without = await signed({ method: 'POST', url: URL_ }, as(m));
    await refused(verify({ ...without, body: BODY }, lookup), ErrorCode.UNAUTHENTICATED, /covers/);
  });

  it('E_UNAUTHENTICATED for `created` too old or in the future', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const old = await signed({ method: 'GET', url: URL_ }, as(m), { now: NOW - SKEW - 1000 });
    await refused(verify(old, lookup), ErrorCode.UNAUTHENTICATED, /ago/);
    const future = await signed({ method: 'GET', url: URL_ }, as(m), { now: NOW + SKEW + 1000 });
    await refused(verify(future, lookup), ErrorCode.UNAUTHENTICATED, /future/);
  });

  it('E_REPLAYED for a reused nonce, on the same request or another', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const nonces = new NonceStore({ ttlMs: 2 * SKEW });
    const nonce = 'replayed-nonce-000001';
    const req = await signed({ method: 'GET', url: URL_ }, as(m), { nonce });
    await expect(verify(req, lookup, nonces)).resolves.toBeDefined();
    await refused(verify(req, lookup, nonces), ErrorCode.REPLAYED, /already used/);
    const other = await signed({ method: 'POST', url: URL_, body: BODY }, as(m), { nonce, now: NOW + 1000 });
    await refused(verify(other, lookup, nonces, NOW + 1000), ErrorCode.REPLAYED);
  });

  it('E_UNAUTHENTICATED for a malformed nonce, even validly signed', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    for (const nonce of ['short-nonce', 'x'.repeat(65), 'has.dot.in.it.0000000'])
      await refused(
        verify(await signRaw({ method: 'GET', url: URL_ }, as(m), { paramValues: { nonce } }), lookup),
        ErrorCode.UNAUTHENTICATED,
        /nonce/,
      );
    // The same request with a well-formed nonce is accepted: only the nonce was wrong above.
    await expect(verify(await signRaw({ method: 'GET', url: URL_ }, as(m)), lookup)).resolves.toBeDefined();
  });

  it('E_UNKNOWN_MEMBER for a keyid naming no member', async () => {
    const m = makeMember();
    const req = await signed({ method: 'GET', url: URL_ }, as(m, 0, 'dept-nobody'));
    await refused(verify(req, lookupOf(entityOf(m))), ErrorCode.UNKNOWN_MEMBER, /dept-nobody/);
  });

  it('E_UNKNOWN_KEY for a keyId the member does not have', async () => {
    const m = makeMember();
    const req = await signed({ method: 'GET', url: URL_ }, { id: m.id, keyId: 1, signer: m.signers[0]! });
    await refused(verify(req, lookupOf(entityOf(m))), ErrorCode.UNKNOWN_KEY, /no key 1/);
  });

  it('E_MEMBER_INACTIVE for a suspended or removed member', async () => {
    const m = makeMember();
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    await refused(
      verify(req, lookupOf(entityOf(m, { status: 'suspended' }))),
      ErrorCode.MEMBER_INACTIVE,
      /suspended/,
    );
    await refused(
      verify(req, lookupOf(entityOf(m, { status: 'removed' }))),
      ErrorCode.MEMBER_INACTIVE,
      /removed/,
    );
  });

  it('E_UNAUTHENTICATED for a key rotated out; the active key is accepted', async () => {
    const m = makeMember('dept-health', 2);
    const lookup = lookupOf(entityOf(m, { activeKeyId: 1 }));
    await refused(
      verify(await signed({ method: 'GET', url: URL_ }, as(m, 0)), lookup),
      ErrorCode.UNAUTHENTICATED,
      /rotated/,
    );
    await expect(verify(await signed({ method: 'GET', url: URL_ }, as(m, 1)), lookup)).resolves.toEqual({
      member: 'dept-health',
      keyId: 1,
    });
  });

  it('E_UNAUTHENTICATED for a signature by another key than keyid names', async () => {
    const m = makeMember('dept-health', 2);
    const req = await signed({ method: 'GET', url: URL_ }, { id: m.id, keyId: 1, signer: m.signers[0]! });
    await refused(
      verify(req, lookupOf(entityOf(m, { activeKeyId: 1 }))),
      ErrorCode.UNAUTHENTICATED,
      /verify/,
    );
  });

  it('E_UNAUTHENTICATED for another label than sig1, in either header', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    await refused(
      verify(await signRaw({ method: 'GET', url: URL_ }, as(m), { name: 'sig2' }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /label/,
    );
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    const headers = { ...req.headers, signature: String(req.headers.signature).replace(/^sig1=/, 'sig2=') };
    await refused(verify({ ...req, headers }, lookup), ErrorCode.UNAUTHENTICATED, /label/);
  });

  it('E_UNAUTHENTICATED for two signatures, even both valid', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    // The library appends a second signature (labelled sig10) beside the first.
    const twice = await signRaw({ method: 'GET', url: URL_ }, as(m), {
      headers: {
        'signature-input': String(req.headers['signature-input']),
        signature: String(req.headers.signature),
      },
    });
    expect(twice.headers['signature-input']).toMatch(/^sig1=.*, sig10=/);
    await refused(verify(twice, lookup), ErrorCode.UNAUTHENTICATED, /2 signatures/);
    // The same signature sent on two header lines (node joins them with ", ").
    const lines = {
      ...req.headers,
      'signature-input': [String(req.headers['signature-input']), String(req.headers['signature-input'])],
      signature: [String(req.headers.signature), String(req.headers.signature)],
    };
    await refused(verify({ ...req, headers: lines }, lookup), ErrorCode.UNAUTHENTICATED, /twice/);
  });

  it('E_UNAUTHENTICATED for a missing Signature-Input or Signature', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    await refused(
      verify({ ...req, headers: { signature: req.headers.signature } }, lookup),
      ErrorCode.UNAUTHENTICATED,
      /no Signature-Input/,
    );
    await refused(
      verify({ ...req, headers: { 'signature-input': req.headers['signature-input'] } }, lookup),
      ErrorCode.UNAUTHENTICATED,
      /no Signature header/,
    );
    await refused(verify({ ...req, headers: {} }, lookup), ErrorCode.UNAUTHENTICATED);
    await refused(
      verify({ ...req, headers: { ...req.headers, signature: '' } }, lookup),
      ErrorCode.UNAUTHENTICATED,
      /empty/,
    );
  });

  it('E_UNAUTHENTICATED for malformed Signature-Input or Signature', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    const input = String(req.headers['signature-input']);
    const signature = String(req.headers.signature);
    for (const [name, value] of [
      ['signature-input', input.replace('(', '[')],
      ['signature-input', input.replace(';created=', ';created=x')],
      ['signature-input', input.replace('"@method"', '"@method";req')],
      ['signature-input', `${input},`],
      ['signature-input', input.replace(/"$/, '')],
      ['signature', signature.replace(/:$/, '')],
      ['signature', signature.replace('sig1=:', 'sig1=:!')],
      ['signature', `${signature};x=1`],
    ] as const)
      await refused(
        verify({ ...req, headers: { ...req.headers, [name]: value } }, lookup),
        ErrorCode.UNAUTHENTICATED,
        /malformed/,
      );
  });

  it('E_UNAUTHENTICATED for other covered components, validly signed', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const get = { method: 'GET', url: URL_ };
    for (const fields of [
      ['@target-uri', '@method'],
      ['@method'],
      ['@method', '@target-uri', '@authority'],
      [],
    ])
      await refused(
        verify(await signRaw(get, as(m), { fields }), lookup),
        ErrorCode.UNAUTHENTICATED,
        /covers/,
      );
  });

  it('E_UNAUTHENTICATED for missing, extra or wrong parameters, validly signed', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const get = { method: 'GET', url: URL_ };
    await refused(
      verify(await signRaw(get, as(m), { params: ['created', 'keyid', 'alg'] }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /no nonce/,
    );
    await refused(
      verify(await signRaw(get, as(m), { params: ['nonce', 'keyid', 'alg'] }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /no created/,
    );
    await refused(
      verify(await signRaw(get, as(m), { params: ['created', 'expires', 'nonce', 'keyid', 'alg'] }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /"expires" is not accepted/,
    );
    await refused(
      verify(await signRaw(get, as(m), { paramValues: { alg: 'hmac-sha256' } }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /alg/,
    );
    await refused(
      verify(await signRaw(get, as(m), { paramValues: { keyid: 'dept-health' } }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /keyid/,
    );
    await refused(
      verify(await signRaw(get, as(m), { paramValues: { keyid: 'dept-health/01' } }), lookup),
      ErrorCode.UNAUTHENTICATED,
      /keyid/,
    );
  });

  it('E_UNAUTHENTICATED for a signature that is not this one: other bytes, or too short', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const req = await signed({ method: 'GET', url: URL_ }, as(m));
    const other = await signed({ method: 'GET', url: `${URL_}?other` }, as(m));
    await refused(
      verify({ ...req, headers: { ...req.headers, signature: other.headers.signature } }, lookup),
      ErrorCode.UNAUTHENTICATED,
      /verify/,
    );
    await refused(
      verify({ ...req, headers: { ...req.headers, signature: 'sig1=:AAAA:' } }, lookup),
      ErrorCode.UNAUTHENTICATED,
      /verify/,
    );
  });

  it('uses up no nonce on a refused request, so a forger cannot burn a member’s nonces', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const nonces = new NonceStore({ ttlMs: 2 * SKEW });
    const nonce = 'the-members-own-nonce';
    const genuine = await signed({ method: 'POST', url: URL_, body: BODY }, as(m), { nonce });
    const forger = makeMember();
    const forged = await signed(
      { method: 'POST', url: URL_, body: BODY },
      { ...as(forger), id: m.id },
      { nonce },
    );
    await refused(verify(forged, lookup, nonces), ErrorCode.UNAUTHENTICATED, /verify/);
    await refused(verify({ ...genuine, method: 'PUT' }, lookup, nonces), ErrorCode.UNAUTHENTICATED);
    await refused(
      verify(genuine, lookupOf(entityOf(m, { status: 'suspended' })), nonces),
      ErrorCode.MEMBER_INACTIVE,
    );
    expect(nonces.size).toBe(0);
    await expect(verify(genuine, lookup, nonces)).resolves.toBeDefined();
    expect(nonces.size).toBe(1);
  });

  it('E_UNAVAILABLE when the nonce store is full; the request is not admitted', async () => {
    const m = makeMember();
    const lookup = lookupOf(entityOf(m));
    const nonces = new NonceStore({ capacity: 1, ttlMs: 2 * SKEW });
    await expect(
      verify(await signed({ method: 'GET', url: URL_ }, as(m)), lookup, nonces),
    ).resolves.toBeDefined();
    const second = await signed({ method: 'GET', url: URL_ }, as(m));
    await refused(verify(second, lookup, nonces), ErrorCode.UNAVAILABLE, /nonces/);
    // Once the first nonce expired, the same request is admitted (it was not remembered when refused).
    const later = NOW + 2 * SKEW;
    const third = await signed({ method: 'GET', url: URL_ }, as(m), { now: later });
    await expect(verify(third, lookup, nonces, later)).resolves.toBeDefined();
  });
});

describe('NonceStore', () => {
  const TTL = 1000;

  it('remembers a nonce for ttlMs from its use, then forgets it', () => {
    const store = new NonceStore({ ttlMs: TTL });
    expect(store.use('a', 0)).toBe('ok');
    expect(store.use('a', 0)).toBe('replayed');
    expect(store.use('a', TTL - 1)).toBe('replayed');
    expect(store.size).toBe(1);
    expect(store.use('a', TTL)).toBe('ok');
    expect(store.size).toBe(1);
  });

  it('drops every expired nonce on the next use, and only those', () => {
    const store = new NonceStore({ ttlMs: TTL });
    for (let i = 0; i < 1000; i++) expect(store.use(`n${i}`, i)).toBe('ok');
    expect(store.size).toBe(1000);
    expect(store.use('late', TTL + 499)).toBe('ok');
    expect(store.size).toBe(501);
    expect(store.use('n499', TTL + 499)).toBe('ok');
    expect(store.use('n500', TTL + 499)).toBe('replayed');
    expect(store.use('x', 10 * TTL)).toBe('ok');
    expect(store.size).toBe(1);
  });

  it('is full at capacity unexpired nonces, does not remember a refused one, and frees as they expire', () => {
    const store = new NonceStore({ capacity: 3, ttlMs: TTL });
    expect(['a', 'b', 'c'].map((n, i) => store.use(n, i))).toEqual(['ok', 'ok', 'ok']);
    expect(store.use('d', 10)).toBe('full');
    expect(store.use('a', 10)).toBe('replayed');
    expect(store.size).toBe(3);
    expect(store.use('d', TTL)).toBe('ok');
    expect(store.use('e', TTL)).toBe('full');
    expect(store.size).toBe(3);
  });

  it('counts expiry from the latest time seen, so a clock stepping back keeps nonces longer, never shorter', () => {
    const store = new NonceStore({ ttlMs: TTL });
    expect(store.use('a', 5000)).toBe('ok');
    expect(store.use('b', 0)).toBe('ok');
    expect(store.use('b', TTL)).toBe('replayed');
    expect(store.use('a', 5000 + TTL - 1)).toBe('replayed');
    expect(store.use('b', 5000 + TTL - 1)).toBe('replayed');
    expect(store.use('b', 5000 + TTL)).toBe('ok');
  });

  it('keeps a nonce used after the clock stepped back for ttlMs from the latest time seen', () => {
    const store = new NonceStore({ ttlMs: TTL });
    expect(store.use('a', 0)).toBe('ok');
    expect(store.use('a', 900)).toBe('replayed');
    expect(store.use('b', 0)).toBe('ok');
    expect(store.use('b', TTL)).toBe('replayed');
    expect(store.size).toBe(1);
    expect(store.use('b', 900 + TTL - 1)).toBe('replayed');
    expect(store.use('b', 900 + TTL)).toBe('ok');
  });

  it('defaults to a capacity of 1,000,000 and refuses bad options', () => {
    expect(new NonceStore().capacity).toBe(1_000_000);
    for (const options of [{ capacity: 0 }, { capacity: 1.5 }, { ttlMs: 0 }, { ttlMs: Number.NaN }])
      expect(() => new NonceStore(options)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
  });
});

describe('verifyRequest: properties', () => {
  const m = makeMember();
  const lookup = lookupOf(entityOf(m));

  it('refuses the body with any byte flipped', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (body, at, mask) => {
          const req = await signed({ method: 'POST', url: URL_, body }, as(m));
          await expect(verify(req, lookup)).resolves.toBeDefined();
          const flipped = Uint8Array.from(body);
          flipped[at % body.length]! ^= mask;
          await refused(verify({ ...req, body: flipped }, lookup), ErrorCode.UNAUTHENTICATED);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('refuses the signature with any byte flipped', async () => {
    const req = await signed({ method: 'POST', url: URL_, body: BODY }, as(m));
    const signature = fromBase64(/^sig1=:(.*):$/.exec(String(req.headers.signature))![1]!);
    expect(signature.length).toBe(64);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 63 }),
        fc.integer({ min: 1, max: 255 }),
        async (at, mask) => {
          const flipped = Uint8Array.from(signature);
          flipped[at]! ^= mask;
          const headers = { ...req.headers, signature: `sig1=:${toBase64(flipped)}:` };
          await refused(verify({ ...req, headers }, lookup), ErrorCode.UNAUTHENTICATED, /verify/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses the target URI with any character changed', async () => {
    const url = `${URL_}?index=41&size=8`;
    const req = await signed({ method: 'GET', url }, as(m));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: url.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1, unit: 'binary-ascii' }),
        async (at, char) => {
          fc.pre(url[at] !== char);
          const targetUri = url.slice(0, at) + char + url.slice(at + 1);
          await refused(verify({ ...req, targetUri }, lookup), ErrorCode.UNAUTHENTICATED);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('RFC 9421 Appendix B.2.6 (ed25519) through the library and our noble signer', () => {
  // test-key-ed25519 (RFC 9421 §B.1.4), PKCS#8: the last 32 bytes are the seed.
  const PKCS8 = 'MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF';
  const SIGNATURE_BASE =
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n' +
    '"@method": POST\n' +
    '"@path": /foo\n' +
    '"@authority": example.com\n' +
    '"content-type": application/json\n' +
    '"content-length": 18\n' +
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
  const SIGNATURE_INPUT =
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
  const SIGNATURE =
    'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';
  // The RFC's test-request (§B.2), with the headers B.2.6 covers.
  const REQUEST = {
    method: 'POST',
    url: 'http://example.com/foo?param=Value&Pet=dog',
    headers: {
      date: 'Tue, 20 Apr 2021 02:07:55 GMT',
      'content-type': 'application/json',
      'content-length': '18',
    },
  };
  const FIELDS = ['date', '@method', '@path', '@authority', 'content-type', 'content-length'];
  const signer = nobleSigner(fromBase64(PKCS8).subarray(16));

  it('builds the signature base and signs it to the published signature', async () => {
    const out = await httpbis.signMessage(
      {
        key: { sign: async (data) => Buffer.from(signer.sign(data)) },
        name: 'sig-b26',
        fields: FIELDS,
        params: ['created', 'keyid'],
        paramValues: { created: new Date(1618884473 * 1000), keyid: 'test-key-ed25519' },
      },
      REQUEST,
    );
    const headers: Record<string, string | string[]> = out.headers;
    expect(headers['Signature-Input']).toBe(SIGNATURE_INPUT);
    expect(headers.Signature).toBe(SIGNATURE);
    const base = httpbis.formatSignatureBase([
      ...httpbis.createSignatureBase({ fields: FIELDS }, REQUEST),
      ['"@signature-params"', [SIGNATURE_INPUT.slice('sig-b26='.length)]],
    ]);
    expect(base).toBe(SIGNATURE_BASE);
  });

  it('verifies the published signature with verifyNoble', async () => {
    const signature = fromBase64(SIGNATURE.slice('sig-b26=:'.length, -1));
    expect(verifyNoble(signer.publicKey, utf8(SIGNATURE_BASE), signature)).toBe(true);
    const verified = await httpbis.verifyMessage(
      {
        keyLookup: async () => ({
          algs: ['ed25519'],
          verify: async (data, sig) => verifyNoble(signer.publicKey, data, sig),
        }),
        notAfter: Number.POSITIVE_INFINITY,
      },
      {
        ...REQUEST,
        headers: { ...REQUEST.headers, 'signature-input': SIGNATURE_INPUT, signature: SIGNATURE },
      },
    );
    expect(verified).toBe(true);
  });
});
