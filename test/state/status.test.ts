/**
 * Status values (src/state/status.ts): every entity's value round-trips
 * through its canonical encoding, any other bytes are refused, and a grant is
 * judged at a time exactly as `activeGrants` judges it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { entityDigest, statusOf } from '../../src/chain/map-state.js';
import { toHex } from '../../src/crypto/bytes.js';
import { pack } from '../../src/encoding/msgpack.js';
import { ErrorCode } from '../../src/errors.js';
import type { Change } from '../../src/policy/entities.js';
import { decodeStatus, encodeStatus, judgeGrant, type StatusValue } from '../../src/state/status.js';

const id = fc.string({ minLength: 1, maxLength: 12 });
const n = fc.nat({ max: 2 ** 40 });
const entity = fc.uint8Array({ minLength: 32, maxLength: 32 });
/** A fixed digest for the hand-made values below (judgeGrant does not read it). */
const E = new Uint8Array(32);
const values: fc.Arbitrary<StatusValue> = fc.oneof(
  fc.record({
    type: fc.constant('member' as const),
    id,
    status: fc.constantFrom('active', 'suspended', 'removed'),
    index: n,
    entity,
  }),
  fc.record({
    type: fc.constant('resource' as const),
    id,
    status: fc.constantFrom('active', 'retired'),
    version: n,
    index: n,
    owner: id,
    entity,
  }),
  fc.record({
    type: fc.constant('scenario' as const),
    id,
    status: fc.constant('registered' as const),
    index: n,
    entity,
  }),
  fc.record({
    type: fc.constant('request' as const),
    id,
    status: fc.constantFrom('open', 'granted', 'refused', 'closed'),
    index: n,
    consumer: id,
    provider: id,
    resource: id,
    grant: fc.option(id, { nil: null }),
    entity,
  }),
  fc.record({
    type: fc.constant('grant' as const),
    id,
    status: fc.constantFrom('active', 'revoked'),
    index: n,
    provider: id,
    consumer: id,
    resource: id,
    validFrom: n,
    validTo: n,
    revokedAt: fc.option(n, { nil: null }),
    entity,
  }),
);

const code = (f: () => unknown) => {
  try {
    f();
    return 'no error';
  } catch (e) {
    return (e as { code?: string }).code;
  }
};

describe('status values', () => {
  it('round-trip, and the encoding is the only one accepted', () => {
    fc.assert(
      fc.property(values, fc.nat(), fc.nat(255), (v, at, byte) => {
        const bytes = encodeStatus(v);
        expect(decodeStatus(bytes)).toEqual(v);
        // One byte changed: refused, or another valid value (never the same one).
        const changed = Uint8Array.from(bytes);
        changed[at % bytes.length] = byte;
        if (byte === bytes[at % bytes.length]) return;
        try {
          expect(decodeStatus(changed)).not.toEqual(v);
        } catch (e) {
          expect((e as { code: string }).code).toBe(ErrorCode.DECODE);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses a value with a field too many or too few, a wrong type, or another type name', () => {
    expect(code(() => decodeStatus(pack(['member', 'm', 'active'])))).toBe(ErrorCode.DECODE);
    expect(code(() => decodeStatus(pack(['member', 'm', 'active', 1, 2])))).toBe(ErrorCode.DECODE);
    expect(code(() => decodeStatus(pack(['member', 'm', 'active', -1])))).toBe(ErrorCode.DECODE);
    expect(code(() => decodeStatus(pack(['access', 'm', 'active', 1])))).toBe(ErrorCode.DECODE);
    expect(code(() => decodeStatus(pack(['scenario', 's', 'retired', 1])))).toBe(ErrorCode.DECODE);
    expect(code(() => decodeStatus(pack({ type: 'member' })))).toBe(ErrorCode.DECODE);
  });

  it('statusOf takes what the map commits to from each entity', () => {
    const grant = {
      type: 'grant',
      entity: {
        id: 'g1',
        provider: 'p',
        consumer: 'c',
        resource: 'r',
        fields: ['a'],
        scenario: 's',
        purpose: 'x',
        validFrom: 10,
        validTo: 20,
        conditions: null,
        request: null,
        countersignedBy: [],
        status: 'revoked',
        revokedAt: 15,
        revokedBy: 'p',
        index: 7,
      },
    } as Change;
    expect(statusOf(grant)).toEqual({
      type: 'grant',
      id: 'g1',
      status: 'revoked',
      index: 7,
      provider: 'p',
      consumer: 'c',
      resource: 'r',
      validFrom: 10,
      validTo: 20,
      revokedAt: 15,
      // The whole entity, as the state encodes it: any other field changed is another digest.
      entity: entityDigest(grant),
    });
    const rotated = { ...grant, entity: { ...grant.entity, fields: ['a', 'b'] } } as Change;
    expect(toHex(statusOf(rotated).entity)).not.toBe(toHex(statusOf(grant).entity));
  });
});

describe('judgeGrant', () => {
  const grant = (over: Partial<Extract<StatusValue, { type: 'grant' }>> = {}): StatusValue => ({
    type: 'grant',
    id: 'g',
    status: 'active',
    index: 5,
    provider: 'p',
    consumer: 'c',
    resource: 'r',
    validFrom: 100,
    validTo: 200,
    revokedAt: null,
    entity: E,
    ...over,
  });
  const resource = (status = 'active'): StatusValue => ({
    type: 'resource',
    id: 'r',
    status,
    version: 1,
    index: 2,
    owner: 'p',
    entity: E,
  });
  const consumer = (status = 'active'): StatusValue => ({
    type: 'member',
    id: 'c',
    status,
    index: 1,
    entity: E,
  });

  it('is active only inside its window, unrevoked, on an active resource, for an active consumer', () => {
    expect(judgeGrant(grant(), resource(), consumer(), 150)).toBe('active');
    expect(judgeGrant(grant(), resource(), consumer(), 100)).toBe('active');
    expect(judgeGrant(grant(), resource(), consumer(), 99)).toBe('not-yet-valid');
    expect(judgeGrant(grant(), resource(), consumer(), 200)).toBe('expired');
    expect(judgeGrant(grant({ status: 'revoked', revokedAt: 150 }), resource(), consumer(), 160)).toBe(
      'revoked',
    );
    // Revoked later than the time asked about: it was active then.
    expect(judgeGrant(grant({ status: 'revoked', revokedAt: 150 }), resource(), consumer(), 140)).toBe(
      'active',
    );
    expect(judgeGrant(grant(), resource('retired'), consumer(), 150)).toBe('retired');
    expect(judgeGrant(grant(), resource(), consumer('suspended'), 150)).toBe('suspended');
    expect(judgeGrant(grant(), resource(), consumer('removed'), 150)).toBe('suspended');
    expect(judgeGrant(undefined, resource(), consumer(), 150)).toBe('absent');
  });

  it('takes no other entity for its resource or consumer', () => {
    const other: StatusValue = {
      type: 'resource',
      id: 'r2',
      status: 'active',
      version: 1,
      index: 2,
      owner: 'p',
      entity: E,
    };
    expect(judgeGrant(grant(), other, consumer(), 150)).toBe('retired');
    expect(
      judgeGrant(
        grant(),
        resource(),
        { type: 'member', id: 'x', status: 'active', index: 1, entity: E },
        150,
      ),
    ).toBe('suspended');
  });
});
