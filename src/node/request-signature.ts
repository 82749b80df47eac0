/**
 * Member-authenticated requests (docs/http-api.md, "Request signatures"):
 * RFC 9421 HTTP Message Signatures with Ed25519 (§3.3.6), one signature
 * labelled `sig1` over `@method`, `@target-uri` and, when there is a body,
 * `content-digest` (RFC 9530 §2, sha-256):
 *
 *   Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=1765100000;nonce="…";keyid="dept-health/0";alg="ed25519"
 *   Signature: sig1=:<64 bytes, base64>:
 *   Content-Digest: sha-256=:<32 bytes, base64>:
 *
 * The library (http-message-signatures) builds the signature base (§2.5) on
 * both sides and calls our Ed25519 signer and verifier. What it leaves to its
 * caller is checked here: that there is exactly one signature and it is
 * `sig1` (the library accepts a request if any one of several verifies), that
 * the covered components are exactly ours, the parameters, the `created`
 * window against the caller's clock (the library's own check reads the wall
 * clock, so it is switched off), the digest against the bytes read, the
 * member and its key, and the nonce (§2.3: a signature alone does not stop a
 * replay).
 */
import { randomBytes } from 'node:crypto';
import * as messageSignatures from 'http-message-signatures';
import { equalBytes, fromBase64, show, toBase64 } from '../crypto/bytes.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import type { MemberSigner } from '../directory/submitter.js';
import { MEMBER_ID_PATTERN } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import type { MemberEntity } from '../policy/entities.js';

const { httpbis } = messageSignatures;

/** The one signature label a node accepts. */
const LABEL = 'sig1';
const ALG = 'ed25519';
/** Signature-Input parameters, in the order a signer writes them. */
const PARAMS = ['created', 'nonce', 'keyid', 'alg'] as const;
const COMPONENTS = ['@method', '@target-uri'] as const;
const COMPONENTS_WITH_BODY = [...COMPONENTS, 'content-digest'] as const;
const NONCE_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
const NONCE_BYTES = 16;

export const DEFAULT_NONCE_CAPACITY = 1_000_000;
/** Twice the default `genesis.policy.maxClockSkewMs` (10 minutes): a node passes twice its ledger's. */
export const DEFAULT_NONCE_TTL_MS = 2 * 10 * 60 * 1000;

export interface RequestToSign {
  method: string;
  /** Absolute http(s) URL, as the request will be sent. */
  url: string;
  body?: Uint8Array;
}

/**
 * Headers to add to the request: `signature`, `signature-input`, and
 * `content-digest` when there is a body (a non-empty one). `@target-uri` is
 * signed as the node sees it, `http://<host><path and query>`, whatever the
 * URL's scheme (a node behind a TLS proxy is reached over http).
 */
export async function signRequest(
  req: RequestToSign,
  member: MemberSigner,
  options: { now?: number; nonce?: string } = {},
): Promise<Record<string, string>> {
  const now = options.now ?? Date.now();
  const nonce = options.nonce ?? randomBytes(NONCE_BYTES).toString('base64url');
  if (typeof req.method !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(req.method))
    fail(ErrorCode.INVALID_ARGUMENT, `request method ${show(req.method)} is not an HTTP method`);
  if (typeof member.id !== 'string' || !MEMBER_ID_PATTERN.test(member.id))
    fail(ErrorCode.INVALID_ARGUMENT, `member id ${show(member.id)} must match ${MEMBER_ID_PATTERN}`);
  if (!Number.isSafeInteger(member.keyId) || member.keyId < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `keyId ${show(member.keyId)} must be a non-negative integer`);
  if (!Number.isFinite(now) || now < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `now ${show(now)} must be milliseconds since the epoch`);
  if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce))
    fail(ErrorCode.INVALID_ARGUMENT, `nonce ${show(nonce)} must be 16 to 64 characters of [A-Za-z0-9_-]`);

  const body = req.body !== undefined && req.body.length > 0 ? req.body : undefined;
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-digest'] = `sha-256=:${toBase64(sha256Node(body))}:`;
  const keyid = `${member.id}/${member.keyId}`;
  const signed = await httpbis.signMessage(
    {
      key: { id: keyid, alg: ALG, sign: async (data) => Buffer.from(member.signer.sign(data)) },
      name: LABEL,
      params: [...PARAMS],
      fields: [...(body === undefined ? COMPONENTS : COMPONENTS_WITH_BODY)],
      paramValues: { created: new Date(Math.floor(now / 1000) * 1000), nonce, keyid, alg: ALG },
      componentParser: exactMethod(req.method),
    },
    { method: req.method, url: targetUriOf(req.url), headers },
  );
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers))
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/** `http://<host><path and query>`: what the node rebuilds from the Host header and request line. */
function targetUriOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return fail(ErrorCode.INVALID_ARGUMENT, `request url ${show(url)} is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    fail(ErrorCode.INVALID_ARGUMENT, `request url ${show(url)} is not http or https`);
  u.hash = '';
  // href, not pathname + search: a lone "?" is sent, and so is in the node's view.
  return `http://${u.host}${u.href.slice(u.origin.length)}`;
}

/**
 * RFC 9421 §2.2.1: `@method` is the method as sent, not case-normalised (the
 * library upper-cases it).
 */
function exactMethod(method: string): messageSignatures.ComponentParser {
  return (name) => (name === '@method' ? [method] : null);
}

/**
 * The nonces accepted recently, each kept `ttlMs` from its first use: long
 * enough that a request is refused for its `created` before its nonce is
 * forgotten. Bounded: at `capacity` unexpired nonces it refuses new ones
 * rather than admit any unchecked.
 *
 * Entries expire in the order they were added, since their expiry is counted
 * from the latest `now` seen (a clock that steps back keeps nonces a little
 * longer, never shorter), so dropping the expired ones is a walk from the
 * oldest that stops at the first alive: amortised O(1) per use, no timer.
 */
export class NonceStore {
  readonly capacity: number;
  readonly ttlMs: number;
  /** nonce → the time it expires, oldest first (a Map iterates in insertion order). */
  readonly #expiries = new Map<string, number>();
  #clock = Number.NEGATIVE_INFINITY;

  constructor(options: { capacity?: number; ttlMs?: number } = {}) {
    const capacity = options.capacity ?? DEFAULT_NONCE_CAPACITY;
    const ttlMs = options.ttlMs ?? DEFAULT_NONCE_TTL_MS;
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      fail(ErrorCode.INVALID_ARGUMENT, `nonce capacity ${show(capacity)} must be a positive integer`);
    if (!Number.isFinite(ttlMs) || ttlMs <= 0)
      fail(ErrorCode.INVALID_ARGUMENT, `nonce ttlMs ${show(ttlMs)} must be a positive number`);
    this.capacity = capacity;
    this.ttlMs = ttlMs;
  }

  /**
   * 'ok' (remembered now), 'replayed' (seen and not expired), or 'full'
   * (capacity reached by unexpired nonces; not remembered).
   */
  use(nonce: string, now: number): 'ok' | 'replayed' | 'full' {
    if (now > this.#clock) this.#clock = now;
    for (const [oldest, expires] of this.#expiries) {
      if (expires > this.#clock) break;
      this.#expiries.delete(oldest);
    }
    if (this.#expiries.has(nonce)) return 'replayed';
    if (this.#expiries.size >= this.capacity) return 'full';
    this.#expiries.set(nonce, this.#clock + this.ttlMs);
    return 'ok';
  }

  /** Nonces remembered, counting expired ones until the next `use` drops them. */
  get size(): number {
    return this.#expiries.size;
  }
}

export interface RequestToVerify {
  method: string;
  /** `http://<Host header><req.url>`. */
  targetUri: string;
  /** node's IncomingHttpHeaders: lower-case names. */
  headers: Record<string, string | string[] | undefined>;
  /** The body as read; absent or empty for a request without one. */
  body?: Uint8Array;
}

export interface VerifyRequestOptions {
  /** How far `created` may be from `now`, either way (the ledger's `maxClockSkewMs`). */
  skewMs: number;
  /** The node's clock, milliseconds since the epoch. */
  now: number;
  nonces: NonceStore;
}

/**
 * Who signed the request, or a DirchainError: E_UNAUTHENTICATED (no, malformed,
 * expired or future signature, wrong components or digest, a signature that does
 * not verify, a key that is not the member's active one), E_UNKNOWN_MEMBER,
 * E_UNKNOWN_KEY, E_MEMBER_INACTIVE, E_REPLAYED, E_UNAVAILABLE (nonce store full).
 * The nonce is used up only by a request that passed every other check, so no
 * one can burn another's nonces, nor fill the store, without a member's key.
 */
export async function verifyRequest(
  req: RequestToVerify,
  lookup: (member: string) => MemberEntity | undefined,
  options: VerifyRequestOptions,
): Promise<{ member: string; keyId: number }> {
  const { skewMs, now, nonces } = options;
  if (!Number.isFinite(skewMs) || skewMs < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `skewMs ${show(skewMs)} must be a non-negative number`);
  if (!Number.isFinite(now)) fail(ErrorCode.INVALID_ARGUMENT, `now ${show(now)} must be a number`);

  const inputText = header(req.headers, 'signature-input');
  const signatureText = header(req.headers, 'signature');
  if (inputText === undefined || signatureText === undefined)
    unauthenticated(
      `the request has no ${inputText === undefined ? 'Signature-Input' : 'Signature'} header`,
      'sign the request as a member (RFC 9421, see docs/http-api.md "Request signatures")',
    );
  const inputs = parseDictionary(inputText, 'Signature-Input', parseInnerList);
  const signatures = parseDictionary(signatureText, 'Signature', parseByteSequence);
  if (inputs.length === 0 || signatures.length === 0)
    unauthenticated(
      `the ${inputs.length === 0 ? 'Signature-Input' : 'Signature'} header is empty`,
      `send one signature, labelled ${LABEL}`,
    );
  if (inputs.length > 1 || signatures.length > 1)
    unauthenticated(
      `the request carries ${Math.max(inputs.length, signatures.length)} signatures`,
      `send exactly one, labelled ${LABEL}`,
    );
  const [label, input] = inputs[0]!;
  if (label !== LABEL || signatures[0]![0] !== LABEL)
    unauthenticated(
      `signature label ${show(label === LABEL ? signatures[0]![0] : label)} is not ${LABEL}`,
      `label the signature ${LABEL} in both Signature-Input and Signature`,
    );

  const body = req.body !== undefined && req.body.length > 0 ? req.body : undefined;
  const expected: readonly string[] = body === undefined ? COMPONENTS : COMPONENTS_WITH_BODY;
  if (input.components.length !== expected.length || input.components.some((c, i) => c !== expected[i]))
    unauthenticated(
      `the signature covers (${input.components.map((c) => JSON.stringify(c)).join(' ')}), ` +
        `expected (${expected.map((c) => JSON.stringify(c)).join(' ')})`,
      'cover "@method" and "@target-uri", then "content-digest" when the request has a body',
    );
  const { created, nonce, member, keyId } = checkParams(input.params);

  // RFC 9421 §2.3: `created` is in seconds; the window is the ledger's clock skew, either way.
  const age = now - created * 1000;
  if (age > skewMs)
    unauthenticated(
      `the signature was created ${Math.round(age / 1000)} s ago, more than the ${skewMs / 1000} s allowed`,
      'sign each request when sending it, with a clock set right',
    );
  if (-age > skewMs)
    unauthenticated(
      `the signature was created ${Math.round(-age / 1000)} s in the future, more than the ${skewMs / 1000} s allowed`,
      "set the client's clock right",
    );

  const digestText = header(req.headers, 'content-digest');
  if (body !== undefined) checkContentDigest(digestText, body);

  const entity = lookup(member);
  if (entity === undefined)
    fail(ErrorCode.UNKNOWN_MEMBER, `keyid names member ${show(member)}, which the ledger does not have`, {
      hint: 'sign as a member of this ledger: keyid is "<member id>/<keyId>"',
    });
  const publicKey = entity.keys[keyId];
  if (publicKey === undefined)
    fail(ErrorCode.UNKNOWN_KEY, `member ${show(member)} has no key ${keyId} (it has ${entity.keys.length})`, {
      hint: `sign with the member's active key, ${entity.activeKeyId}`,
    });

  const headers: Record<string, string> = { 'signature-input': inputText, signature: signatureText };
  if (body !== undefined) headers['content-digest'] = digestText!;
  const keyid = `${member}/${keyId}`;
  const covered: string[] = [];
  let verified: boolean | null;
  try {
    verified = await httpbis.verifyMessage(
      {
        keyLookup: async (params) =>
          params.keyid === keyid && params.nonce === nonce
            ? {
                id: keyid,
                algs: [ALG],
                // OpenSSL's Ed25519 (node:crypto): ~15x faster than the pure-JS one here.
                verify: async (data, signature) => verifyNode(publicKey, data, signature),
              }
            : null,
        componentParser: (name, params, message, context) => {
          covered.push(name);
          return exactMethod(req.method)(name, params, message, context);
        },
        // Its `created` check reads the wall clock; ours above reads `now`.
        notAfter: Number.POSITIVE_INFINITY,
      },
      { method: req.method, url: req.targetUri, headers },
    );
  } catch (e) {
    return unauthenticated(
      `the signature could not be checked: ${e instanceof Error ? e.message : String(e)}`,
      'send Signature-Input and Signature as RFC 9421 §4 writes them',
    );
  }
  // The base was built from the library's own parse of Signature-Input: it must be the one checked above.
  if (verified !== true || covered.length !== expected.length || covered.some((c, i) => c !== expected[i]))
    unauthenticated(
      `the signature does not verify under key ${keyId} of member ${show(member)}`,
      'sign exactly the method, the URL (http://<Host><path and query>) and body sent, with that key',
    );

  if (entity.status !== 'active')
    fail(ErrorCode.MEMBER_INACTIVE, `member ${show(member)} is ${entity.status}`, {
      hint: 'only active members may make signed requests',
    });
  if (keyId !== entity.activeKeyId)
    unauthenticated(
      `key ${keyId} of member ${show(member)} was rotated out; its active key is ${entity.activeKeyId}`,
      'sign with the active key',
    );

  const used = nonces.use(nonce, now);
  if (used === 'replayed')
    fail(ErrorCode.REPLAYED, `nonce ${show(nonce)} was already used`, {
      hint: 'sign each request afresh, with a new random nonce',
    });
  if (used === 'full')
    fail(ErrorCode.UNAVAILABLE, 'the node holds as many recent nonces as it may', {
      hint: 'retry later, once older nonces expired',
    });
  return { member, keyId };
}

function unauthenticated(message: string, hint: string): never {
  return fail(ErrorCode.UNAUTHENTICATED, message, { hint });
}

/** A field's value; several lines of it joined as RFC 9110 §5.3 combines them. */
function header(headers: RequestToVerify['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function checkParams(params: ReadonlyMap<string, string | number>): {
  created: number;
  nonce: string;
  member: string;
  keyId: number;
} {
  for (const name of params.keys())
    if (!(PARAMS as readonly string[]).includes(name))
      unauthenticated(`signature parameter ${show(name)} is not accepted`, `use only ${PARAMS.join(', ')}`);
  const [created, nonce, keyid, alg] = PARAMS.map((name) => {
    const value = params.get(name);
    if (value === undefined)
      unauthenticated(`the signature has no ${name} parameter`, `give ${PARAMS.join(', ')}`);
    return value;
  });
  if (alg !== ALG) unauthenticated(`alg ${show(alg)} is not "${ALG}"`, `sign with Ed25519, alg="${ALG}"`);
  if (typeof created !== 'number' || created < 0)
    unauthenticated(`created ${show(created)} is not a time`, 'give created as seconds since the epoch');
  if (typeof nonce !== 'string' || !NONCE_PATTERN.test(nonce))
    unauthenticated(
      `nonce ${show(nonce)} is not 16 to 64 characters of [A-Za-z0-9_-]`,
      'use 16 random bytes, base64url, as the nonce',
    );
  const slash = typeof keyid === 'string' ? keyid.lastIndexOf('/') : -1;
  const keyIdText = typeof keyid === 'string' ? keyid.slice(slash + 1) : '';
  if (typeof keyid !== 'string' || slash < 1 || !/^(0|[1-9][0-9]{0,15})$/.test(keyIdText))
    unauthenticated(
      `keyid ${show(keyid)} is not "<member id>/<keyId>"`,
      'give keyid as "<member id>/<keyId>"',
    );
  const keyId = Number(keyIdText);
  if (!Number.isSafeInteger(keyId))
    unauthenticated(`keyid ${show(keyid)}: keyId is too large`, 'give a key index');
  return { created, nonce, member: keyid.slice(0, slash), keyId };
}

/** RFC 9530 §2: exactly `sha-256=:<base64>:`, equal to the SHA-256 of the body read. */
function checkContentDigest(text: string | undefined, body: Uint8Array): void {
  const hint = 'send Content-Digest: sha-256=:<base64 of SHA-256 of the body>: (RFC 9530)';
  if (text === undefined) unauthenticated('the request has a body but no Content-Digest header', hint);
  const match = /^sha-256=:([A-Za-z0-9+/=]*):$/.exec(text.trim());
  let digest: Uint8Array | undefined;
  try {
    if (match) digest = fromBase64(match[1]!);
  } catch {
    digest = undefined;
  }
  if (digest === undefined) unauthenticated(`Content-Digest ${show(text)} is not sha-256=:<base64>:`, hint);
  if (!equalBytes(digest, sha256Node(body)))
    unauthenticated('Content-Digest is not the SHA-256 of the body', `${hint}, over the exact bytes sent`);
}

// The subset of RFC 8941 structured fields (§3.2 dictionary, §3.1.1 inner list,
// §3.1.2 parameters, §3.3.1 integer, §3.3.3 string, §3.3.5 byte sequence) that
// Signature-Input and Signature use. Stricter than RFC 8941 where it only
// refuses what no signer here writes: a key given twice (RFC 8941 keeps the
// last, which would hide a second signature), component parameters, parameter
// values other than integers and strings.

interface SignatureInput {
  readonly components: readonly string[];
  readonly params: ReadonlyMap<string, string | number>;
}

interface Cursor {
  readonly text: string;
  readonly field: string;
  at: number;
}

const KEY = /[a-z*][a-z0-9_.*-]*/y;
const INTEGER = /-?[0-9]{1,15}/y;
const STRING = /"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"/y;
const BYTE_SEQUENCE = /:([A-Za-z0-9+/=]*):/y;

function malformed(cursor: Cursor, what: string): never {
  return unauthenticated(
    `malformed ${cursor.field} header at character ${cursor.at}: ${what}`,
    `send ${cursor.field} as RFC 9421 §4 writes it (an RFC 8941 dictionary)`,
  );
}

function take(cursor: Cursor, pattern: RegExp): RegExpExecArray | undefined {
  pattern.lastIndex = cursor.at;
  const match = pattern.exec(cursor.text);
  if (match) cursor.at = pattern.lastIndex;
  return match ?? undefined;
}

function skip(cursor: Cursor, spaces: string): void {
  while (cursor.at < cursor.text.length && spaces.includes(cursor.text[cursor.at]!)) cursor.at++;
}

function parseDictionary<T>(
  text: string,
  field: string,
  parseValue: (cursor: Cursor) => T,
): (readonly [string, T])[] {
  const cursor: Cursor = { text, field, at: 0 };
  const members: (readonly [string, T])[] = [];
  skip(cursor, ' \t');
  while (cursor.at < text.length) {
    const key = take(cursor, KEY)?.[0];
    if (key === undefined) malformed(cursor, 'expected a label');
    if (members.some(([k]) => k === key)) malformed(cursor, `label ${show(key)} given twice`);
    if (text[cursor.at++] !== '=') malformed(cursor, `expected "=" after label ${show(key)}`);
    members.push([key, parseValue(cursor)]);
    skip(cursor, ' \t');
    if (cursor.at === text.length) break;
    if (text[cursor.at++] !== ',') malformed(cursor, 'expected "," between signatures');
    skip(cursor, ' \t');
    if (cursor.at === text.length) malformed(cursor, 'trailing ","');
  }
  return members;
}

function parseString(cursor: Cursor): string | undefined {
  return take(cursor, STRING)?.[1]?.replace(/\\(["\\])/g, '$1');
}

function parseInnerList(cursor: Cursor): SignatureInput {
  const { text } = cursor;
  if (text[cursor.at++] !== '(') malformed(cursor, 'expected "(" to open the covered components');
  const components: string[] = [];
  for (;;) {
    skip(cursor, ' ');
    if (text[cursor.at] === ')') break;
    const component = parseString(cursor);
    if (component === undefined) malformed(cursor, 'expected a quoted component name or ")"');
    if (text[cursor.at] !== ' ' && text[cursor.at] !== ')')
      malformed(cursor, 'expected " " or ")" after a component (component parameters are not accepted)');
    components.push(component);
  }
  cursor.at++;
  const params = new Map<string, string | number>();
  while (text[cursor.at] === ';') {
    cursor.at++;
    skip(cursor, ' ');
    const name = take(cursor, KEY)?.[0];
    if (name === undefined) malformed(cursor, 'expected a parameter name');
    if (params.has(name)) malformed(cursor, `parameter ${show(name)} given twice`);
    if (text[cursor.at++] !== '=') malformed(cursor, `expected "=" after parameter ${show(name)}`);
    const integer = take(cursor, INTEGER)?.[0];
    const value = integer !== undefined ? Number(integer) : parseString(cursor);
    if (value === undefined)
      malformed(cursor, `parameter ${show(name)}: expected an integer or a quoted string`);
    params.set(name, value);
  }
  return { components, params };
}

function parseByteSequence(cursor: Cursor): Uint8Array {
  const base64 = take(cursor, BYTE_SEQUENCE)?.[1];
  if (base64 === undefined) malformed(cursor, 'expected :<base64>:');
  if (cursor.text[cursor.at] === ';') malformed(cursor, 'signature parameters are not accepted');
  try {
    return fromBase64(base64);
  } catch {
    return malformed(cursor, 'the signature is not canonical base64');
  }
}
