import { describe, expect, it } from 'vitest';
import { fromBase64, toBase64, utf8 } from '../../src/crypto/bytes.js';
import { nobleSigner, verifyNoble } from '../../src/crypto/ed25519.js';
import { generateKeyPair, loadSigner, loadVerifier } from '../../src/crypto/keys.js';
import { nodeSigner, sha256Node, verifyNode } from '../../src/crypto/node-crypto.js';
import {
  formatSignerKey,
  formatVerifierKey,
  noteSigner,
  openNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
} from '../../src/crypto/note.js';
import { sha256Noble } from '../../src/crypto/sha256.js';
import { parseBlockHeader } from '../../src/encoding/checkpoint.js';
import { isDirchainError } from '../../src/errors.js';
import { readVectors } from '../helpers.js';

const v = readVectors<{ signerKey: string; verifierKey: string; text: string; note: string }>(
  'signed-note.json',
);

describe('C2SP signed-note vector (made with Go sumdb/note)', () => {
  it.each([
    ['noble', sha256Noble, nobleSigner],
    ['node crypto', sha256Node, nodeSigner],
  ] as const)('signing the vector text gives exactly the vector note (%s)', (_n, sha, makeSigner) => {
    const { name, seed, keyHash } = parseSignerKey(v.signerKey);
    const signer = noteSigner(sha, name, makeSigner(seed));
    expect(signer.keyHash).toBe(keyHash);
    expect(signNote(v.text, [signer])).toBe(v.note);
    expect(formatVerifierKey(sha, name, signer.publicKey)).toBe(v.verifierKey);
    expect(formatSignerKey(sha, name, seed, signer.publicKey)).toBe(v.signerKey);
  });

  it.each([
    ['noble', sha256Noble, verifyNoble],
    ['node crypto', sha256Node, verifyNode],
  ] as const)('the vector note opens with the vector verifier key (%s)', (_n, sha, verify) => {
    const opened = openNote(v.note, [parseVerifierKey(sha, v.verifierKey)], verify);
    expect(opened.text).toBe(v.text);
    expect(opened.verified).toHaveLength(1);
  });

  it('the vector text is a dirchain block header', () => {
    const h = parseBlockHeader(v.text);
    expect([h.origin, h.size, h.height, h.time]).toEqual(['dirchain.example.gov/city', 3, 2, 1732280000000]);
  });

  it('rejects a changed text, a changed signature and an unknown key', () => {
    const key = parseVerifierKey(sha256Node, v.verifierKey);
    const changedText = v.note.replace('\n3\n', '\n4\n');
    expect(() => openNote(changedText, [key], verifyNode)).toThrow(/does not verify/);
    const sigLine = v.note.split('\n').at(-2)!;
    const raw = fromBase64(sigLine.split(' ').at(-1)!);
    raw[10]! ^= 1;
    const changedSig = v.note.replace(
      sigLine,
      `${sigLine.split(' ').slice(0, -1).join(' ')} ${toBase64(raw)}`,
    );
    expect(() => openNote(changedSig, [key], verifyNode)).toThrow(/does not verify/);
    const other = generateKeyPair('dirchain.example.gov/city');
    expect(() => openNote(v.note, [loadVerifier(other.verifierKey)], verifyNode)).toThrow(
      /no signature from a trusted key/,
    );
  });

  it('keeps unknown signatures (e.g. witnesses) as unverified and accepts extra signers', () => {
    const witness = loadSigner(generateKeyPair('witness.example').signerKey);
    const seq = parseSignerKey(v.signerKey);
    const note = signNote(v.text, [noteSigner(sha256Node, seq.name, nodeSigner(seq.seed)), witness]);
    const opened = openNote(note, [parseVerifierKey(sha256Node, v.verifierKey)], verifyNode);
    expect(opened.verified.map((s) => s.name)).toEqual(['dirchain.example.gov/city']);
    expect(opened.unverified.map((s) => s.name)).toEqual(['witness.example']);
  });
});

describe('note keys and text rules', () => {
  it('rejects malformed keys with E_KEY_INVALID', () => {
    const bad = [
      'no-plus-signs',
      'name+zzzzzzzz+AU9lIFl1Ezb4Ycysa+CLPkQqBDtW7Xfd5ivbBhRzJJ5i',
      v.verifierKey.replace('+c0b0ec62+', '+c0b0ec63+'),
      `${v.verifierKey.slice(0, -4)}AAAA`,
      'name with space+c0b0ec62+AU9lIFl1Ezb4Ycysa+CLPkQqBDtW7Xfd5ivbBhRzJJ5i',
    ];
    for (const k of bad) {
      let err: unknown;
      try {
        parseVerifierKey(sha256Node, k);
      } catch (e) {
        err = e;
      }
      expect(isDirchainError(err, 'E_KEY_INVALID'), k).toBe(true);
    }
  });

  it('refuses to sign text that is not a valid note body', () => {
    const s = loadSigner(generateKeyPair('a.example').signerKey);
    expect(() => signNote('no newline', [s])).toThrow(/end with a newline/);
    expect(() => signNote('a\n\nb\n', [s])).toThrow(/blank line/);
    expect(() => signNote('tab\there\n', [s])).toThrow(/control character/);
  });

  it('generated key pairs round-trip through their text forms', () => {
    const kp = generateKeyPair('dept-7');
    const signer = loadSigner(kp.signerKey);
    const note = signNote('hello\n', [signer]);
    expect(openNote(note, [parseVerifierKey(sha256Noble, kp.verifierKey)], verifyNoble).text).toBe('hello\n');
    expect(
      verifyNode(kp.publicKey, utf8('hello\n'), fromBase64(note.split(' ').at(-1)!.trim()).subarray(4)),
    ).toBe(true);
  });
});
