/**
 * ML-DSA-44 witness cosignatures (C2SP tlog-cosignature, signature type 0x06).
 * The key ID and the signed `cosigned_message` are checked against bytes built
 * here by hand from the spec's text, not from src/; one cosignature made by
 * OpenSSL (through Python's `cryptography`, an independent ML-DSA) is checked by
 * our verifier, and one of ours by OpenSSL.
 */
import { spawnSync } from 'node:child_process';
import { sha256 } from '@noble/hashes/sha2.js';
import { ml_dsa44 } from '@noble/post-quantum/ml-dsa.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/crypto/bytes.js';
import { subtreeCosignedMessage } from '../../src/crypto/cosignature.js';
import { generateKeyPair, loadSigner } from '../../src/crypto/keys.js';
import { signNote } from '../../src/crypto/note.js';
import { formatCheckpoint, parseCheckpoint } from '../../src/encoding/checkpoint.js';
import { isDirchainError } from '../../src/errors.js';
import { cosignCheckpoint, generateWitnessKey, loadWitnessVerifier } from '../../src/sync/witness.js';
import { parseKeys, parseWitnessKeys, verifyCheckpoint, verifyCosignatures } from '../../src/verify.js';

const ORIGIN = 'dirchain.example.gov/mldsa';
const NAME = 'witness.example.org/court';
const T = 1_767_225_600; // 2026-01-01T00:00:00Z = 0x6955b900
const SEED = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const log = generateKeyPair(ORIGIN);
const ml = generateWitnessKey(NAME, { type: 'ml-dsa-44', seed: SEED });
const ROOT = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
const SIZE = 258; // 0x0102: shows the byte order of `end`

const enc = (s: string) => new TextEncoder().encode(s);

function checkpointNote(extensions: string[] = []): string {
  const text = formatCheckpoint({ origin: ORIGIN, size: SIZE, root: ROOT, extensions });
  return signNote(text, [loadSigner(log.signerKey)]);
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isDirchainError(e) ? e.code : `untyped: ${String(e)}`;
  }
}

/** The spec's key ID: SHA-256(name || "\n" || type || public key)[:4]. */
function handKeyId(name: string, type: number, publicKey: Uint8Array): Uint8Array {
  return sha256(Uint8Array.from([...enc(name), 0x0a, type, ...publicKey])).slice(0, 4);
}

/** u64, big-endian (RFC 8446 §3.3). */
function u64(n: bigint): number[] {
  return Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * (7 - i))) & 0xffn));
}

/**
 * The spec's `cosigned_message` for a checkpoint, built by hand:
 * label[12] = "subtree/v1\n\0", cosigner_name<1..255>, u64 timestamp,
 * log_origin<1..255>, u64 start = 0, u64 end = size, hash[32].
 */
function handMessage(name: string, time: bigint, origin: string, size: bigint, root: Uint8Array): Uint8Array {
  const label = [0x73, 0x75, 0x62, 0x74, 0x72, 0x65, 0x65, 0x2f, 0x76, 0x31, 0x0a, 0x00];
  const n = [...enc(name)];
  const o = [...enc(origin)];
  return Uint8Array.from([
    ...label,
    n.length,
    ...n,
    ...u64(time),
    o.length,
    ...o,
    ...u64(0n),
    ...u64(size),
    ...root,
  ]);
}

/** The last signature line of a note, decoded: its name and bytes. */
function lastLine(note: string): { name: string; raw: Uint8Array; at: number; lines: string[] } {
  const lines = note.split('\n');
  const at = lines.length - 2;
  const line = lines[at]!;
  const space = line.lastIndexOf(' ');
  return { name: line.slice(2, space), raw: fromBase64(line.slice(space + 1)), at, lines };
}

function withLastLine(note: string, raw: Uint8Array): string {
  const { name, at, lines } = lastLine(note);
  lines[at] = `\u2014 ${name} ${toBase64(raw)}`;
  return lines.join('\n');
}

const note = checkpointNote();
const cosigned = cosignCheckpoint(note, ml.signerKey, { logKeys: [log.verifierKey], time: T });
const publicKey = ml_dsa44.keygen(SEED).publicKey;

describe('ML-DSA-44 witness keys', () => {
  it('are vkeys of type 0x06 with the spec key ID, and a seed-form signer key of type 0x06', () => {
    const id = handKeyId(NAME, 0x06, publicKey);
    const hex = Buffer.from(id).toString('hex');
    expect(ml.type).toBe('ml-dsa-44');
    expect(ml.publicKey).toEqual(publicKey);
    expect(ml.verifierKey).toBe(`${NAME}+${hex}+${Buffer.from([0x06, ...publicKey]).toString('base64')}`);
    expect(ml.signerKey).toBe(
      `PRIVATE+KEY+${NAME}+${hex}+${Buffer.from([0x06, ...SEED]).toString('base64')}`,
    );
    const v = loadWitnessVerifier(ml.verifierKey);
    expect([v.name, v.keyHash, v.type, v.publicKey.length]).toEqual([
      NAME,
      Buffer.from(id).readUInt32BE(0),
      'ml-dsa-44',
      1312,
    ]);
    // The same name and seed as an Ed25519 witness: another key ID (the type byte is hashed in).
    const ed = loadWitnessVerifier(generateWitnessKey(NAME, SEED).verifierKey);
    expect(ed.type).toBe('ed25519');
    expect(ed.keyHash).not.toBe(v.keyHash);
  });

  it('cannot be taken for another kind of key', () => {
    // A log (type 0x01) key is no witness key, and an ML-DSA witness key is no log key.
    expect(codeOf(() => parseWitnessKeys([log.verifierKey]))).toBe('E_KEY_INVALID');
    expect(codeOf(() => parseKeys([ml.verifierKey]))).toBe('E_KEY_INVALID');
    expect(codeOf(() => loadSigner(ml.signerKey))).toBe('E_KEY_INVALID');
    // The signer key's type byte turned to 0x04: the 32-byte seed parses, the key ID does not match.
    const b64 = ml.signerKey.slice(ml.signerKey.lastIndexOf('+') + 1);
    const asEd = ml.signerKey.replace(b64, Buffer.from([0x04, ...SEED]).toString('base64'));
    expect(codeOf(() => cosignCheckpoint(note, asEd, { logKeys: [log.verifierKey] }))).toBe('E_KEY_INVALID');
    // A vkey of type 0x06 with a key of the wrong length, or another key ID.
    const short = `${NAME}+00000000+${Buffer.from([0x06, ...publicKey.subarray(1)]).toString('base64')}`;
    expect(codeOf(() => parseWitnessKeys([short]))).toBe('E_KEY_INVALID');
    const wrongId = ml.verifierKey.replace(/\+[0-9a-f]{8}\+/, '+00000000+');
    expect(codeOf(() => parseWitnessKeys([wrongId]))).toBe('E_KEY_INVALID');
    // cosigner_name<1..2^8-1>: an ML-DSA witness name fits in 255 bytes.
    expect(codeOf(() => generateWitnessKey(`w.example/${'x'.repeat(250)}`, { type: 'ml-dsa-44' }))).toBe(
      'E_KEY_INVALID',
    );
    expect(codeOf(() => generateWitnessKey(NAME, { type: 'ml-dsa-65' as never }))).toBe('E_INVALID_ARGUMENT');
  });

  it('given as objects: the type follows the key length, and must agree with it when given', () => {
    const v = loadWitnessVerifier(ml.verifierKey);
    const bare = { name: v.name, keyHash: v.keyHash, publicKey: v.publicKey };
    expect(verifyCosignatures(cosigned, { witnesses: [bare], quorum: 1 })[0]!.type).toBe('ml-dsa-44');
    expect(
      codeOf(() =>
        verifyCosignatures(cosigned, { witnesses: [{ ...v, type: 'ed25519' } as never], quorum: 1 }),
      ),
    ).toBe('E_INVALID_ARGUMENT');
  });
});

describe('ML-DSA-44 cosignatures', () => {
  it('sign the cosigned_message of the spec, built here by hand', () => {
    const expected = handMessage(NAME, BigInt(T), ORIGIN, BigInt(SIZE), ROOT);
    // A few fields at their offsets, literally: timestamp 0x6955b900, end 0x0102.
    const at = 12 + 1 + NAME.length;
    expect([...expected.subarray(at, at + 8)]).toEqual([0, 0, 0, 0, 0x69, 0x55, 0xb9, 0x00]);
    const endAt = at + 8 + 1 + ORIGIN.length + 8;
    expect([...expected.subarray(endAt, endAt + 8)]).toEqual([0, 0, 0, 0, 0, 0, 0x01, 0x02]);
    expect(expected.length).toBe(12 + 1 + NAME.length + 8 + 1 + ORIGIN.length + 8 + 8 + 32);
    expect(
      subtreeCosignedMessage(
        NAME,
        T,
        parseCheckpoint(formatCheckpoint({ origin: ORIGIN, size: SIZE, root: ROOT, extensions: [] })),
      ),
    ).toEqual(expected);

    // The line: key ID || u64 timestamp || 2420-byte signature over that message.
    const { name, raw } = lastLine(cosigned);
    expect(name).toBe(NAME);
    expect(raw.length).toBe(4 + 8 + 2420);
    expect([...raw.subarray(0, 4)]).toEqual([...handKeyId(NAME, 0x06, publicKey)]);
    expect([...raw.subarray(4, 12)]).toEqual(u64(BigInt(T)));
    expect(ml_dsa44.verify(raw.subarray(12), expected, publicKey)).toBe(true);
  });

  it('round trip: verifyCheckpoint and verifyCosignatures count it, with its type and time', () => {
    const cp = verifyCheckpoint(cosigned, [log.verifierKey], { witnesses: [ml.verifierKey], quorum: 1 });
    expect(cp.cosigners).toEqual([
      { name: NAME, keyHash: loadWitnessVerifier(ml.verifierKey).keyHash, type: 'ml-dsa-44', time: T },
    ]);
    // Hedged signing: cosigning again gives another signature, both valid; the old line is replaced.
    const again = cosignCheckpoint(cosigned, ml.signerKey, { logKeys: [log.verifierKey], time: T });
    expect(lastLine(again).raw).not.toEqual(lastLine(cosigned).raw);
    expect(again.split('\n').filter((l) => l.startsWith(`\u2014 ${NAME} `)).length).toBe(1);
    expect(verifyCosignatures(again, { witnesses: [ml.verifierKey], quorum: 1 }).length).toBe(1);
  });

  it('do not cover extension lines (the spec says so), unlike Ed25519 cosignature/v1', () => {
    const ed = generateWitnessKey('witness.example.org/press');
    const withExt = cosignCheckpoint(
      cosignCheckpoint(checkpointNote(['block 7', 'time 1767225600000']), ml.signerKey, {
        logKeys: [log.verifierKey],
        time: T,
      }),
      ed.signerKey,
      { logKeys: [log.verifierKey], time: T },
    );
    const changed = withExt.replace('\nblock 7\n', '\nblock 8\n');
    expect(changed).not.toBe(withExt);
    // The ML-DSA cosignature still holds: origin, size and root are what it covers.
    expect(verifyCosignatures(changed, { witnesses: [ml.verifierKey], quorum: 1 })[0]!.type).toBe(
      'ml-dsa-44',
    );
    // The Ed25519 v1 cosignature covers the whole body, and the log's signature does too.
    expect(codeOf(() => verifyCosignatures(changed, { witnesses: [ed.verifierKey], quorum: 1 }))).toBe(
      'E_BAD_SIGNATURE',
    );
    expect(codeOf(() => verifyCheckpoint(changed, [log.verifierKey]))).toBe('E_BAD_SIGNATURE');
  });

  it('any one byte changed in origin, size, root, key ID, timestamp or signature is caught (property)', () => {
    const { raw } = lastLine(cosigned);
    const text = cosigned.slice(0, cosigned.indexOf('\n\n') + 1);
    const body = text.split('\n').slice(0, 3).join('\n'); // origin, size, root lines
    const verify = (n: string) =>
      codeOf(() => verifyCosignatures(n, { witnesses: [ml.verifierKey], quorum: 1 }));
    expect(verify(cosigned)).toBeUndefined();

    // The checkpoint body: a printable character for another one (newlines kept).
    const positions = [...body].flatMap((c, i) => (c === '\n' ? [] : [i]));
    fc.assert(
      fc.property(fc.constantFrom(...positions), fc.integer({ min: 0x21, max: 0x7e }), (i, c) => {
        fc.pre(body.charCodeAt(i) !== c);
        const mutated = body.slice(0, i) + String.fromCharCode(c) + body.slice(i + 1);
        const n = mutated + cosigned.slice(body.length);
        let parses = true;
        try {
          parseCheckpoint(n.slice(0, n.indexOf('\n\n') + 1));
        } catch {
          parses = false;
        }
        // A checkpoint that still parses fails the signature; one that does not is refused as such.
        expect(verify(n)).toBe(parses ? 'E_BAD_SIGNATURE' : 'E_CHECKPOINT_INVALID');
      }),
      { numRuns: 200 },
    );

    // The line's bytes: key ID (the line is then no longer this witness's), timestamp, signature.
    const region = (from: number, to: number, code: string, numRuns: number) =>
      fc.assert(
        fc.property(fc.integer({ min: from, max: to - 1 }), fc.integer({ min: 1, max: 255 }), (i, x) => {
          const r = raw.slice();
          r[i]! ^= x;
          expect(verify(withLastLine(cosigned, r))).toBe(code);
        }),
        { numRuns },
      );
    region(0, 4, 'E_QUORUM', 50);
    region(4, 12, 'E_BAD_SIGNATURE', 100);
    region(12, raw.length, 'E_BAD_SIGNATURE', 300);
  });

  it('a line of the wrong length by this witness is E_BAD_SIGNATURE', () => {
    const { raw } = lastLine(cosigned);
    for (const r of [
      raw.subarray(0, raw.length - 1),
      Uint8Array.from([...raw, 0]),
      raw.subarray(0, 4 + 8 + 64), // an Ed25519-sized signature under the ML-DSA key ID
    ]) {
      expect(
        codeOf(() =>
          verifyCosignatures(withLastLine(cosigned, r), { witnesses: [ml.verifierKey], quorum: 1 }),
        ),
      ).toBe('E_BAD_SIGNATURE');
    }
  });

  it('mixed with Ed25519 witnesses (one of the same name): quorum 2 of 3', () => {
    const edSameName = generateWitnessKey(NAME);
    const press = generateWitnessKey('witness.example.org/press', { type: 'ml-dsa-44' });
    const witnesses = [ml.verifierKey, edSameName.verifierKey, press.verifierKey];
    const cosign = (n: string, k: { signerKey: string }) =>
      cosignCheckpoint(n, k.signerKey, { logKeys: [log.verifierKey], time: T });
    const two = cosign(cosigned, edSameName);
    const counted = verifyCosignatures(two, { witnesses, quorum: 2 });
    expect(counted.map((c) => [c.name, c.type])).toEqual([
      [NAME, 'ml-dsa-44'],
      [NAME, 'ed25519'],
    ]);
    expect(codeOf(() => verifyCosignatures(two, { witnesses, quorum: 3 }))).toBe('E_QUORUM');
    expect(codeOf(() => verifyCosignatures(cosigned, { witnesses, quorum: 2 }))).toBe('E_QUORUM');
    expect(verifyCosignatures(cosign(two, press), { witnesses, quorum: 3 }).length).toBe(3);
    const cp = verifyCheckpoint(cosign(note, press), [log.verifierKey], {
      witnesses: [edSameName.verifierKey, press.verifierKey],
      quorum: 1,
    });
    expect(cp.cosigners.map((c) => c.type)).toEqual(['ml-dsa-44']);
  });
});

describe('against an independent ML-DSA-44 (OpenSSL, through Python cryptography)', () => {
  it('same key from the seed; OpenSSL verifies our signature; our verifier takes a line signed by OpenSSL', () => {
    const message = handMessage(NAME, BigInt(T + 1), ORIGIN, BigInt(SIZE), ROOT);
    const ours = lastLine(cosigned).raw.subarray(12);
    const script = [
      'import json, sys',
      'from cryptography.hazmat.primitives.asymmetric import mldsa',
      'from cryptography.exceptions import InvalidSignature',
      'a = json.load(sys.stdin)',
      'k = mldsa.MLDSA44PrivateKey.from_seed_bytes(bytes.fromhex(a["seed"]))',
      'pk = k.public_key().public_bytes_raw()',
      'p = mldsa.MLDSA44PublicKey.from_public_bytes(bytes.fromhex(a["publicKey"]))',
      'def ok(sig, msg):',
      '    try:',
      '        p.verify(sig, msg)',
      '        return True',
      '    except InvalidSignature:',
      '        return False',
      'json.dump({"publicKey": pk.hex(),',
      '  "oursOk": ok(bytes.fromhex(a["ours"]), bytes.fromhex(a["oursMessage"])),',
      '  "tamperedOk": ok(bytes.fromhex(a["ours"]), bytes.fromhex(a["message"])),',
      '  "signature": k.sign(bytes.fromhex(a["message"])).hex()}, sys.stdout)',
    ].join('\n');
    const input = {
      seed: Buffer.from(SEED).toString('hex'),
      publicKey: Buffer.from(publicKey).toString('hex'),
      ours: Buffer.from(ours).toString('hex'),
      oursMessage: Buffer.from(handMessage(NAME, BigInt(T), ORIGIN, BigInt(SIZE), ROOT)).toString('hex'),
      message: Buffer.from(message).toString('hex'),
    };
    const r = spawnSync('python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
    expect(r.status, `python3 with cryptography ≥ 47 (ML-DSA) is needed: ${r.stderr}`).toBe(0);
    const out = JSON.parse(r.stdout) as {
      publicKey: string;
      oursOk: boolean;
      tamperedOk: boolean;
      signature: string;
    };
    expect(out.publicKey).toBe(Buffer.from(publicKey).toString('hex'));
    expect([out.oursOk, out.tamperedOk]).toEqual([true, false]);

    // OpenSSL's signature as a cosignature line at time T+1: our verifier counts it.
    const line = Uint8Array.from([
      ...handKeyId(NAME, 0x06, publicKey),
      ...u64(BigInt(T + 1)),
      ...Buffer.from(out.signature, 'hex'),
    ]);
    const theirs = withLastLine(cosigned, line);
    expect(verifyCosignatures(theirs, { witnesses: [ml.verifierKey], quorum: 1 })).toEqual([
      { name: NAME, keyHash: loadWitnessVerifier(ml.verifierKey).keyHash, type: 'ml-dsa-44', time: T + 1 },
    ]);
    // And it is a signature over that message only: at time T it fails.
    const atT = line.slice();
    atT.set(u64(BigInt(T)), 4);
    expect(
      codeOf(() =>
        verifyCosignatures(withLastLine(cosigned, atT), { witnesses: [ml.verifierKey], quorum: 1 }),
      ),
    ).toBe('E_BAD_SIGNATURE');
  });
});
