import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromBase64 } from '../../src/crypto/bytes.js';
import { generateKeyPair, loadSigner } from '../../src/crypto/keys.js';
import { signNote } from '../../src/crypto/note.js';
import { consistencyBundleToJSON, inclusionBundleToJSON } from '../../src/encoding/bundle.js';
import { formatCheckpoint } from '../../src/encoding/checkpoint.js';
import { isDirchainError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { cosignCheckpoint, generateWitnessKey } from '../../src/sync/witness.js';
import { verifyBundle, verifyCheckpoint, verifyCosignatures } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

const log = generateKeyPair(ORIGIN);
const w1 = generateWitnessKey('witness.example.org/court');
const w2 = generateWitnessKey('witness.example.org/mirror');
const w3 = generateWitnessKey('witness.example.org/press');
const stranger = generateWitnessKey('witness.example.net/unknown');
const witnesses = [w1.verifierKey, w2.verifierKey, w3.verifierKey];
const T = 1_767_225_600; // 2026-01-01T00:00:00Z

function checkpointNote(size: number, rootByte: number): string {
  const text = formatCheckpoint({
    origin: ORIGIN,
    size,
    root: new Uint8Array(32).fill(rootByte),
    extensions: [],
  });
  return signNote(text, [loadSigner(log.signerKey)]);
}

function cosign(note: string, ...ws: { signerKey: string }[]): string {
  return ws.reduce(
    (n, w, i) => cosignCheckpoint(n, w.signerKey, { logKeys: [log.verifierKey], time: T + i }),
    note,
  );
}

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    return isDirchainError(e) ? e.code : String(e);
  }
}

/** Flips one bit in the Ed25519 signature of the last signature line (after key ID and timestamp). */
function tamperLastLine(note: string): string {
  const lines = note.split('\n');
  const at = lines.length - 2;
  const line = lines[at]!;
  const space = line.lastIndexOf(' ');
  const raw = fromBase64(line.slice(space + 1));
  raw[4 + 8 + 20]! ^= 1;
  lines[at] = `${line.slice(0, space + 1)}${Buffer.from(raw).toString('base64')}`;
  return lines.join('\n');
}

function lastLine(note: string): string {
  const lines = note.split('\n');
  return `${lines[lines.length - 2]}\n`;
}

describe('C2SP tlog-cosignature/v1 lines', () => {
  it('have the spec layout: key ID of type 0x04, big-endian time, Ed25519 over "cosignature/v1\\ntime T\\n" + body', () => {
    const note = checkpointNote(5, 7);
    const cosigned = cosign(note, w1);
    expect(cosigned.startsWith(note)).toBe(true);
    const line = lastLine(cosigned);
    expect(line.startsWith('\u2014 witness.example.org/court ')).toBe(true);
    const raw = fromBase64(line.trim().split(' ').pop()!);
    expect(raw.length).toBe(4 + 8 + 64);
    const name = new TextEncoder().encode('witness.example.org/court');
    const keyId = sha256(concatBytes(name, Uint8Array.of(0x0a, 0x04), w1.publicKey)).subarray(0, 4);
    expect(raw.subarray(0, 4)).toEqual(keyId);
    expect(new DataView(raw.buffer, raw.byteOffset + 4, 8).getBigUint64(0)).toBe(BigInt(T));
    // The message written out from the spec text, verified with noble directly.
    const body = `${ORIGIN}\n5\n${Buffer.from(new Uint8Array(32).fill(7)).toString('base64')}\n`;
    const message = new TextEncoder().encode(`cosignature/v1\ntime ${T}\n${body}`);
    expect(ed25519.verify(raw.subarray(12), message, w1.publicKey)).toBe(true);
    expect(w1.verifierKey.startsWith('witness.example.org/court+')).toBe(true);
    expect(fromBase64(w1.verifierKey.split('+').slice(2).join('+'))[0]).toBe(0x04);
  });

  it('cosigning again replaces the witness’s earlier line; the log signature is kept', () => {
    const note = checkpointNote(5, 7);
    const twice = cosignCheckpoint(cosign(note, w1), w1.signerKey, {
      logKeys: [log.verifierKey],
      time: T + 99,
    });
    expect(twice.split('\n').filter((l) => l.startsWith('\u2014 witness.example.org/court ')).length).toBe(1);
    expect(verifyCheckpoint(twice, [log.verifierKey], { witnesses: [w1.verifierKey] }).cosigners).toEqual([
      expect.objectContaining({ name: 'witness.example.org/court', time: T + 99 }),
    ]);
  });

  it('a witness refuses to cosign a note the log did not sign', () => {
    const other = generateKeyPair(ORIGIN);
    expect(
      codeOf(() => cosignCheckpoint(checkpointNote(5, 7), w1.signerKey, { logKeys: [other.verifierKey] })),
    ).toBe('E_BAD_SIGNATURE');
  });
});

describe('k-of-n witness quorum', () => {
  const note = checkpointNote(9, 3);

  it('is met by k distinct valid cosignatures; unknown witnesses are ignored', () => {
    const cosigned = cosign(note, w1, stranger, w3);
    const cp = verifyCheckpoint(cosigned, [log.verifierKey], { witnesses, quorum: 2 });
    expect(cp.size).toBe(9);
    expect(cp.cosigners.map((c) => c.name).sort()).toEqual([
      'witness.example.org/court',
      'witness.example.org/press',
    ]);
    // Without a witness policy the cosignatures are simply extra signature lines.
    expect(verifyCheckpoint(cosigned, [log.verifierKey]).cosigners).toEqual([]);
  });

  it('is not met by k-1 (E_QUORUM), and the stranger does not make up the difference', () => {
    const cosigned = cosign(note, w1, stranger);
    expect(codeOf(() => verifyCheckpoint(cosigned, [log.verifierKey], { witnesses, quorum: 2 }))).toBe(
      'E_QUORUM',
    );
    // Quorum defaults to all witnesses given.
    expect(codeOf(() => verifyCheckpoint(cosign(note, w1, w2), [log.verifierKey], { witnesses }))).toBe(
      'E_QUORUM',
    );
    expect(
      verifyCheckpoint(cosign(note, w1, w2, w3), [log.verifierKey], { witnesses }).cosigners.length,
    ).toBe(3);
  });

  it('counts two lines by one witness once, and one witness key listed twice once', () => {
    const one = cosign(note, w1);
    const doubled = one + lastLine(one);
    expect(codeOf(() => verifyCosignatures(doubled, { witnesses, quorum: 2 }))).toBe('E_QUORUM');
    expect(verifyCosignatures(doubled, { witnesses, quorum: 1 }).length).toBe(1);
    expect(
      codeOf(() => verifyCosignatures(doubled, { witnesses: [w1.verifierKey, w1.verifierKey], quorum: 2 })),
    ).toBe('E_INVALID_ARGUMENT');
  });

  it('rejects a tampered cosignature by a listed witness (E_BAD_SIGNATURE), even with the quorum otherwise met', () => {
    const tampered = tamperLastLine(cosign(note, w1, w2));
    expect(codeOf(() => verifyCosignatures(tampered, { witnesses, quorum: 1 }))).toBe('E_BAD_SIGNATURE');
    // A tampered line by a witness nobody listed is just an unknown signature.
    expect(verifyCosignatures(tampered, { witnesses: [w1.verifierKey], quorum: 1 }).length).toBe(1);
  });

  it('rejects a cosignature made over a different checkpoint', () => {
    const other = checkpointNote(10, 4);
    const moved = note + lastLine(cosign(other, w1)).replace(/\n$/, '\n');
    expect(codeOf(() => verifyCosignatures(moved, { witnesses, quorum: 1 }))).toBe('E_BAD_SIGNATURE');
    expect(codeOf(() => verifyCheckpoint(moved, [log.verifierKey], { witnesses, quorum: 1 }))).toBe(
      'E_BAD_SIGNATURE',
    );
  });

  it('refuses impossible policies and keys of the wrong type with an actionable error', () => {
    expect(codeOf(() => verifyCosignatures(note, { witnesses, quorum: 4 }))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => verifyCosignatures(note, { quorum: 1 }))).toBe('E_INVALID_ARGUMENT');
    expect(codeOf(() => verifyCosignatures(note, { witnesses, quorum: 1.5 }))).toBe('E_INVALID_ARGUMENT');
    // A log key (type 0x01) is not a witness key, and the other way round.
    expect(codeOf(() => verifyCosignatures(note, { witnesses: [log.verifierKey] }))).toBe('E_KEY_INVALID');
    expect(codeOf(() => verifyCheckpoint(note, [w1.verifierKey]))).toBe('E_KEY_INVALID');
    // Quorum 0 asks nothing of the witnesses.
    expect(verifyCosignatures(note, { witnesses, quorum: 0 })).toEqual([]);
  });
});

describe('verifyBundle with witnesses, on a real ledger', () => {
  const dir = tempDir();
  const city = makeCity(2);
  let ledger: Ledger;
  let inclusion: ReturnType<typeof inclusionBundleToJSON>;
  let consistency: ReturnType<typeof consistencyBundleToJSON>;
  const seq = () => [city.sequencer.verifierKey];

  beforeAll(async () => {
    ledger = await newLedger(dir.path, city);
    for (let i = 0; i < 6; i++) await ledger.append(signedBy(city.departments[i % 2]!, { i }));
    const size = ledger.head().size;
    inclusion = inclusionBundleToJSON(await ledger.proveInclusion(3, size));
    consistency = consistencyBundleToJSON(await ledger.proveConsistency(2, size));
  });
  afterAll(async () => {
    await ledger.close();
    dir.cleanup();
  });

  const cosignAll = (note: string, ...ws: { signerKey: string }[]) =>
    ws.reduce((n, w) => cosignCheckpoint(n, w.signerKey, { logKeys: seq(), time: T }), note);

  it('passes the "witness cosignatures" check when k of n cosigned, and names it when not', () => {
    const good = { ...inclusion, checkpoint: cosignAll(inclusion.checkpoint, w1, w2) };
    const ok = verifyBundle(good, seq(), { witnesses, quorum: 2 });
    expect(ok.checks.find((c) => c.name === 'witness cosignatures')).toMatchObject({ status: 'pass' });
    expect(ok.ok).toBe(true);
    const short = verifyBundle(good, seq(), { witnesses, quorum: 3 });
    expect(short.ok).toBe(false);
    expect(short.checks.filter((c) => c.status === 'fail').map((c) => c.name)).toEqual([
      'witness cosignatures',
    ]);
    expect(short.checks.find((c) => c.status === 'fail')!.detail).toContain('E_QUORUM');
    // No policy: no witness check at all, as before.
    expect(verifyBundle(good, seq()).checks.map((c) => c.name)).not.toContain('witness cosignatures');
  });

  it('asks the quorum of checkpoint 2 of a consistency bundle', () => {
    const c2 = consistency.checkpoint2!;
    const good = { ...consistency, checkpoint2: cosignAll(c2, w2) };
    expect(verifyBundle(good, seq(), { witnesses, quorum: 1 }).ok).toBe(true);
    const bad = verifyBundle(consistency, seq(), { witnesses, quorum: 1 });
    expect(bad.checks.filter((c) => c.status === 'fail').map((c) => c.name)).toEqual([
      'witness cosignatures',
    ]);
  });
});
