import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, fromHex, fromUtf8, toBase64, toHex } from '../../src/crypto/bytes.js';
import { nobleSigner, verifyNoble } from '../../src/crypto/ed25519.js';
import { nodeSigner, sha256Node, verifyNode } from '../../src/crypto/node-crypto.js';
import { sha256Noble } from '../../src/crypto/sha256.js';

describe('byte encodings', () => {
  it('base64 and hex round-trip and agree with Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        expect(toBase64(b)).toBe(Buffer.from(b).toString('base64'));
        expect(fromBase64(toBase64(b))).toEqual(b);
        expect(fromHex(toHex(b))).toEqual(b);
      }),
    );
  });

  it('base64 decoding is strict: one text form per byte string', () => {
    for (const bad of ['QQ', 'QR==', 'QUI', 'Q===', 'QUJD\n', 'QU J', '====', 'QUJ=QUJD']) {
      expect(() => fromBase64(bad), bad).toThrow();
    }
  });

  it('rejects malformed UTF-8 instead of replacing it', () => {
    expect(() => fromUtf8(Uint8Array.of(0xc3, 0x28))).toThrow(/UTF-8/);
  });
});

describe('node crypto and noble agree', () => {
  it('on SHA-256 and Ed25519, both ways', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ maxLength: 300 }),
        (seed, msg) => {
          expect(sha256Node(msg)).toEqual(sha256Noble(msg));
          const a = nodeSigner(seed);
          const b = nobleSigner(seed);
          expect(a.publicKey).toEqual(b.publicKey);
          const sig = a.sign(msg);
          expect(b.sign(msg)).toEqual(sig);
          expect(verifyNoble(a.publicKey, msg, sig)).toBe(true);
          expect(verifyNode(a.publicKey, msg, sig)).toBe(true);
          const bad = sig.slice();
          bad[msg.length % 64]! ^= 4;
          expect(verifyNoble(a.publicKey, msg, bad)).toBe(false);
          expect(verifyNode(a.publicKey, msg, bad)).toBe(false);
        },
      ),
      { numRuns: 50 },
    );
  });
});
