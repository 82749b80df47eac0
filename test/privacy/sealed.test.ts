/**
 * Sealed payloads (src/privacy/sealed.ts): the HPKE suite passes RFC 9180's
 * test vectors for it (A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * ChaCha20Poly1305, base mode); every recipient opens what was sealed to it,
 * with an old key after a rotation; a non-recipient cannot; a payload or a
 * stanza changed, or moved to another record, kind or ledger, does not open.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { DirchainError } from '../../src/errors.js';
import {
  encryptionKeyId,
  generateEncryptionKey,
  hpkeSuite,
  openPayload,
  type Sealed,
  sealPayload,
} from '../../src/privacy/sealed.js';

// RFC 9180 A.2.1 (draft-irtf-cfrg-hpke-12 B.2.1), base mode.
const A21 = {
  info: '4f6465206f6e2061204772656369616e2055726e',
  ikmE: '909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b',
  pkEm: '1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a',
  ikmR: '1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df',
  pkRm: '4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a',
  skRm: '8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb',
  pt: '4265617574792069732074727574682c20747275746820626561757479',
  encryptions: [
    {
      aad: '436f756e742d30',
      ct: '1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28',
    },
    {
      aad: '436f756e742d31',
      ct: '6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c',
    },
    {
      aad: '436f756e742d32',
      ct: '71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b',
    },
  ],
  exports: [
    { context: '', value: '4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e' },
    { context: '00', value: '8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69' },
    {
      context: '54657374436f6e74657874',
      value: '5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53',
    },
  ],
};

const buf = (hex: string): ArrayBuffer => fromHex(hex).slice().buffer;

describe('the HPKE suite', () => {
  it('passes RFC 9180 A.2.1 (base mode): keys, encapsulation, encryptions, exports', async () => {
    const suite = hpkeSuite();
    const recipient = await suite.kem.deriveKeyPair(buf(A21.ikmR));
    expect(toHex(new Uint8Array(await suite.kem.serializePublicKey(recipient.publicKey)))).toBe(A21.pkRm);
    expect(toHex(new Uint8Array(await suite.kem.serializePrivateKey(recipient.privateKey)))).toBe(A21.skRm);
    const sender = await suite.createSenderContext({
      recipientPublicKey: recipient.publicKey,
      info: buf(A21.info),
      ekm: buf(A21.ikmE),
    });
    expect(toHex(new Uint8Array(sender.enc))).toBe(A21.pkEm);
    const receiver = await suite.createRecipientContext({
      recipientKey: recipient,
      enc: sender.enc,
      info: buf(A21.info),
    });
    for (const e of A21.encryptions) {
      const ct = new Uint8Array(await sender.seal(buf(A21.pt), buf(e.aad)));
      expect(toHex(ct)).toBe(e.ct);
      expect(toHex(new Uint8Array(await receiver.open(ct.slice().buffer, buf(e.aad))))).toBe(A21.pt);
    }
    for (const x of A21.exports)
      expect(toHex(new Uint8Array(await sender.export(buf(x.context), 32)))).toBe(x.value);
  });
});

const context = {
  origin: 'dirchain.example.gov/city',
  kind: 'grant.issue',
  author: 'civil-affairs',
  binding: 'g-1',
};

describe('sealed payloads', () => {
  it('every recipient opens it, with an old key after a rotation; others cannot', async () => {
    const health = generateEncryptionKey();
    const healthOld = generateEncryptionKey();
    const civil = generateEncryptionKey();
    const outsider = generateEncryptionKey();
    const text = utf8('conditions: no onward sharing; delete after 30 days');
    const sealed = await sealPayload(context, text, [
      { member: 'health', publicKey: healthOld.publicKey },
      { member: 'civil-affairs', publicKey: civil.publicKey },
    ]);
    expect(sealed.stanzas.map((s) => toHex(s.keyId))).toEqual([
      toHex(encryptionKeyId(healthOld.publicKey)),
      toHex(encryptionKeyId(civil.publicKey)),
    ]);
    // Health rotated since: it keeps the old pair and opens with it.
    expect(await openPayload(context, sealed, 'health', [health, healthOld])).toEqual(text);
    expect(await openPayload(context, sealed, 'civil-affairs', [civil])).toEqual(text);
    await expect(openPayload(context, sealed, 'health', [health])).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    await expect(openPayload(context, sealed, 'public-security', [outsider])).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    // An outsider naming itself as a recipient with its own key still has no stanza; with a recipient's name and its own key, the stanza does not open.
    await expect(
      openPayload(
        context,
        { ...sealed, stanzas: [{ ...sealed.stanzas[1]!, keyId: encryptionKeyId(outsider.publicKey) }] },
        'civil-affairs',
        [outsider],
      ),
    ).rejects.toMatchObject({ code: 'E_PROOF_INVALID' });
  });

  it('changed, or moved to another record, kind or ledger, it does not open', async () => {
    const civil = generateEncryptionKey();
    const sealed = await sealPayload(context, utf8('terms'), [
      { member: 'civil-affairs', publicKey: civil.publicKey },
    ]);
    const flip = (b: Uint8Array, bit: number) => {
      const x = b.slice();
      x[(bit >> 3) % x.length]! ^= 1 << (bit & 7);
      return x;
    };
    await fc.assert(
      fc.asyncProperty(fc.nat(6), fc.nat(4095), async (what, bit) => {
        const s = sealed.stanzas[0]!;
        const changed: Sealed =
          what === 0
            ? { ...sealed, ciphertext: flip(sealed.ciphertext, bit) }
            : what === 1
              ? { ...sealed, nonce: flip(sealed.nonce, bit) }
              : what === 2
                ? { ...sealed, stanzas: [{ ...s, enc: flip(s.enc, bit) }] }
                : what === 3
                  ? { ...sealed, stanzas: [{ ...s, key: flip(s.key, bit) }] }
                  : what === 6
                    ? { ...sealed, commitment: flip(sealed.commitment, bit) }
                    : sealed;
        const where =
          what === 4
            ? { ...context, binding: 'g-2' }
            : what === 5
              ? { ...context, [['kind', 'origin', 'author'][bit % 3]!]: 'other' }
              : context;
        await expect(openPayload(where, changed, 'civil-affairs', [civil])).rejects.toBeInstanceOf(
          DirchainError,
        );
      }),
      { numRuns: 150 },
    );
    expect(await openPayload(context, sealed, 'civil-affairs', [civil])).toEqual(utf8('terms'));
  });
});
