#!/usr/bin/env python3
"""Independent verifier for dirchain proof bundles.

Written from the specifications only (not from dirchain's TypeScript code):

* RFC 9162 section 2.1 (Merkle tree hash, inclusion and consistency proofs):
  leaf hash = SHA-256(0x00 || entry), node hash = SHA-256(0x01 || left || right).
* C2SP signed-note (https://c2sp.org/signed-note) with Ed25519 keys.
* C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) note bodies.

Uses only the Python 3.11 standard library and `cryptography`.

Usage:
  independent_verify.py <bundle.json> <verifier key or key file>
      Prints one JSON line {"ok": true|false, "reason": "..."}; exit 0 only if valid.
  independent_verify.py --batch <verifier key or key file> <bundle.json>...
      One JSON line per bundle {"bundle", "ok", "reason"}; exit 0 only if all are valid.
  independent_verify.py --note <note file> <verifier key or key file>
      Verifies a signed checkpoint note alone; prints {"ok", "reason", "origin", "size", "root"}.
  independent_verify.py --vectors <vectors dir>
      Self-test against rfc9162-tlog.json and signed-note.json; prints a JSON summary.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HASH_SIZE = 32
ALG_ED25519 = 0x01
EM_DASH_PREFIX = "\u2014 "


class VerifyError(Exception):
    """A check failed; the message says which."""


# ---------------------------------------------------------------------------
# Encoding helpers
# ---------------------------------------------------------------------------


def b64decode_strict(text: object, what: str) -> bytes:
    """Standard base64 with padding; rejects anything else."""
    if not isinstance(text, str):
        raise VerifyError(f"{what} must be a base64 string")
    if not re.fullmatch(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", text):
        raise VerifyError(f"{what} is not canonical standard base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise VerifyError(f"{what} is not valid base64: {e}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerifyError(f"{what} is not canonical standard base64")
    return raw


def b64hash(text: object, what: str) -> bytes:
    h = b64decode_strict(text, what)
    if len(h) != HASH_SIZE:
        raise VerifyError(f"{what} is not a {HASH_SIZE}-byte hash")
    return h


def count(value: object, what: str) -> int:
    # bool is a subclass of int in Python: refuse it explicitly.
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise VerifyError(f"{what} must be a non-negative integer")
    return value


# ---------------------------------------------------------------------------
# RFC 9162 section 2.1: Merkle trees
# ---------------------------------------------------------------------------


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two k with k < n (n > 1)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1: MTH(D[n]) over leaf hashes (already hashed with 0x00)."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = largest_power_of_two_below(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.3.1: PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency_proof(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 section 2.1.4.1: PROOF(m, D[n])."""
    return subproof(m, leaves, True)


def verify_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2, step by step. `leaf` is the leaf hash."""
    if index >= size:
        return False
    fn = index
    sn = size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2, plus the trivial case first == second (empty proof)."""
    if size1 < 1 or size1 > size2:
        return False
    if size1 == size2:
        # PROOF(m, D[m]) is the empty list (SUBPROOF(m, D[m], true) = {}).
        return len(proof) == 0 and root1 == root2
    # 1. An empty path cannot prove anything when first < second.
    if len(proof) == 0:
        return False
    path_ = list(proof)
    # 2. If first is an exact power of 2, prepend first_hash.
    if size1 & (size1 - 1) == 0:
        path_.insert(0, root1)
    # 3.
    fn = size1 - 1
    sn = size2 - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path_[0]
    # 6.
    for c in path_[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1) and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == root1 and sr == root2 and sn == 0


# ---------------------------------------------------------------------------
# C2SP signed-note
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verifier:
    name: str
    key_hash: bytes  # 4 bytes
    public_key: bytes  # 32 bytes


def valid_key_name(name: str) -> bool:
    return (
        len(name) > 0
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name)
    )


def note_key_hash(name: str, alg: int, public_key: bytes) -> bytes:
    return sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + public_key)[:4]


def parse_verifier_key(text: str) -> Verifier:
    """`name+hexhash8+base64(0x01 || pubkey)`; base64 may contain '+': split at the first two only."""
    t = text.strip()
    parts = t.split("+", 2)
    if len(parts) != 3:
        raise VerifyError("verifier key must look like name+hash+base64key")
    name, hex_hash, key_b64 = parts
    if not valid_key_name(name):
        raise VerifyError(f"verifier key has an invalid name {name!r}")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_hash):
        raise VerifyError("verifier key hash must be 8 lowercase hex digits")
    raw = b64decode_strict(key_b64, "verifier key")
    if len(raw) != 33 or raw[0] != ALG_ED25519:
        raise VerifyError("verifier key must be an Ed25519 key (0x01 followed by 32 bytes)")
    public_key = raw[1:]
    expected = note_key_hash(name, ALG_ED25519, public_key)
    if expected.hex() != hex_hash:
        raise VerifyError(f"verifier key hash {hex_hash} does not match its key ({expected.hex()})")
    return Verifier(name, expected, public_key)


def load_key(arg: str) -> Verifier:
    text = arg
    if os.path.isfile(arg):
        with open(arg, encoding="utf-8") as f:
            text = f.read()
    return parse_verifier_key(text)


def split_note(note: str) -> tuple[str, list[tuple[str, bytes, bytes]]]:
    """Returns (text, [(name, key_hash4, signature)]). The text keeps its final newline."""
    if not isinstance(note, str):
        raise VerifyError("note must be a string")
    at = note.rfind("\n\n")
    if at < 0:
        raise VerifyError("note has no blank line before its signatures")
    text = note[: at + 1]
    sig_block = note[at + 2 :]
    if not text.endswith("\n") or "\n\n" in text:
        raise VerifyError("note text is malformed")
    if any((ord(ch) < 0x20 and ch != "\n") or ord(ch) == 0x7F for ch in text):
        raise VerifyError("note text contains a control character")
    if not sig_block.endswith("\n") or sig_block == "\n":
        raise VerifyError("note signature block must be non-empty and end with a newline")
    sigs: list[tuple[str, bytes, bytes]] = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(EM_DASH_PREFIX):
            raise VerifyError(f"malformed signature line {line!r}")
        rest = line[len(EM_DASH_PREFIX) :]
        space = rest.rfind(" ")
        if space < 0:
            raise VerifyError(f"malformed signature line {line!r}")
        name, sig_b64 = rest[:space], rest[space + 1 :]
        if not valid_key_name(name):
            raise VerifyError(f"signature line has an invalid key name {name!r}")
        raw = b64decode_strict(sig_b64, f"signature by {name}")
        if len(raw) < 5:
            raise VerifyError(f"signature by {name} is too short")
        sigs.append((name, raw[:4], raw[4:]))
    return text, sigs


def open_note(note: str, verifier: Verifier) -> str:
    """Checks the note has a valid signature by `verifier` (and no invalid one); returns its text."""
    text, sigs = split_note(note)
    message = text.encode("utf-8")
    public = Ed25519PublicKey.from_public_bytes(verifier.public_key)
    good = 0
    for name, key_hash, sig in sigs:
        if name != verifier.name or key_hash != verifier.key_hash:
            continue  # a signature by some other key (e.g. a witness): ignored
        if len(sig) != 64:
            raise VerifyError(f"signature by {name} is not 64 bytes")
        try:
            public.verify(sig, message)
        except InvalidSignature:
            raise VerifyError(f"signature by {name}+{key_hash.hex()} does not verify") from None
        good += 1
    if good == 0:
        found = ", ".join(f"{n}+{h.hex()}" for n, h, _ in sigs) or "none"
        raise VerifyError(
            f"note has no signature by trusted key {verifier.name}+{verifier.key_hash.hex()} (found: {found})"
        )
    return text


# ---------------------------------------------------------------------------
# C2SP tlog-checkpoint
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: str) -> Checkpoint:
    if not text.endswith("\n"):
        raise VerifyError("checkpoint body must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise VerifyError("checkpoint body needs origin, size and root lines")
    origin, size_line, root_line = lines[0], lines[1], lines[2]
    if origin == "":
        raise VerifyError("checkpoint origin is empty")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_line):
        raise VerifyError(f"checkpoint size {size_line!r} is not a decimal number")
    root = b64hash(root_line, "checkpoint root")
    extensions = tuple(lines[3:])
    if any(e == "" for e in extensions):
        raise VerifyError("checkpoint has an empty extension line")
    return Checkpoint(origin, int(size_line), root, extensions)


def verify_checkpoint(note: object, verifier: Verifier, what: str) -> Checkpoint:
    if not isinstance(note, str):
        raise VerifyError(f"{what} must be signed-note text")
    try:
        return parse_checkpoint(open_note(note, verifier))
    except VerifyError as e:
        raise VerifyError(f"{what}: {e}") from None


# ---------------------------------------------------------------------------
# Bundles
# ---------------------------------------------------------------------------


def verify_inclusion_bundle(b: dict, verifier: Verifier) -> str:
    origin = b.get("origin")
    if not isinstance(origin, str):
        raise VerifyError("bundle origin must be a string")
    index = count(b.get("index"), "bundle index")
    size = count(b.get("size"), "bundle size")
    leaf = b64decode_strict(b.get("leaf"), "bundle leaf")
    proof_list = b.get("inclusion")
    if not isinstance(proof_list, list):
        raise VerifyError("bundle inclusion must be a list")
    proof = [b64hash(p, f"inclusion[{i}]") for i, p in enumerate(proof_list)]
    root = b64hash(b.get("root"), "bundle root")
    cp = verify_checkpoint(b.get("checkpoint"), verifier, "checkpoint")
    if cp.origin != origin:
        raise VerifyError(f"checkpoint origin {cp.origin!r} != bundle origin {origin!r}")
    if cp.size != size:
        raise VerifyError(f"checkpoint size {cp.size} != bundle size {size}")
    if cp.root != root:
        raise VerifyError("checkpoint root != bundle root")
    if not verify_inclusion(index, size, leaf_hash(leaf), proof, root):
        raise VerifyError(f"inclusion proof for leaf {index} of tree size {size} does not verify")
    return f"leaf {index} is included in the signed tree of size {size}"


def verify_consistency_bundle(b: dict, verifier: Verifier) -> str:
    size1 = count(b.get("size1"), "bundle size1")
    size2 = count(b.get("size2"), "bundle size2")
    root1 = b64hash(b.get("root1"), "bundle root1")
    root2 = b64hash(b.get("root2"), "bundle root2")
    proof_list = b.get("consistency")
    if not isinstance(proof_list, list):
        raise VerifyError("bundle consistency must be a list")
    proof = [b64hash(p, f"consistency[{i}]") for i, p in enumerate(proof_list)]
    # Optional fields: absent is fine, present must be a string (null is not "absent").
    origin = b.get("origin")
    if "origin" in b and not isinstance(origin, str):
        raise VerifyError("bundle origin must be a string")
    signed = []
    for which, size, root in (("1", size1, root1), ("2", size2, root2)):
        if f"checkpoint{which}" not in b:
            continue
        note = b[f"checkpoint{which}"]
        cp = verify_checkpoint(note, verifier, f"checkpoint{which}")
        if origin is not None and cp.origin != origin:
            raise VerifyError(f"checkpoint{which} origin {cp.origin!r} != bundle origin {origin!r}")
        if cp.size != size:
            raise VerifyError(f"checkpoint{which} size {cp.size} != size{which} {size}")
        if cp.root != root:
            raise VerifyError(f"checkpoint{which} root != root{which}")
        signed.append(f"checkpoint{which}")
    if not verify_consistency(size1, size2, root1, root2, proof):
        raise VerifyError(f"consistency proof from size {size1} to {size2} does not verify")
    return f"tree {size1} is a prefix of tree {size2} (signed: {', '.join(signed) or 'none'})"


def verify_bundle(bundle: object, verifier: Verifier) -> str:
    if not isinstance(bundle, dict):
        raise VerifyError("bundle must be a JSON object")
    if "inclusion" in bundle:
        return verify_inclusion_bundle(bundle, verifier)
    if "consistency" in bundle:
        return verify_consistency_bundle(bundle, verifier)
    raise VerifyError("bundle has neither an inclusion nor a consistency field")


def verify_bundle_file(bundle_path: str, key_arg: str) -> dict:
    try:
        verifier = load_key(key_arg)
        with open(bundle_path, encoding="utf-8") as f:
            try:
                bundle = json.load(f)
            except json.JSONDecodeError as e:
                raise VerifyError(f"bundle is not valid JSON: {e}") from None
        return {"ok": True, "reason": verify_bundle(bundle, verifier)}
    except VerifyError as e:
        return {"ok": False, "reason": str(e)}
    except (OSError, UnicodeDecodeError) as e:
        return {"ok": False, "reason": f"cannot read input: {e}"}


# ---------------------------------------------------------------------------
# Self-test against known-answer vectors
# ---------------------------------------------------------------------------


def flip(b: bytes, bit: int = 0) -> bytes:
    out = bytearray(b)
    out[(bit // 8) % len(out)] ^= 1 << (bit % 8)
    return bytes(out)


def self_test(vectors_dir: str) -> dict:
    failures: list[str] = []
    stats = {"roots": 0, "inclusion": 0, "consistency": 0, "negative": 0, "note": False}

    def expect(cond: bool, what: str) -> None:
        if not cond:
            failures.append(what)

    with open(os.path.join(vectors_dir, "rfc9162-tlog.json"), encoding="utf-8") as f:
        tlog = json.load(f)
    roots = {int(k): bytes.fromhex(v) for k, v in tlog["roots"].items()}
    max_size = max(roots)
    leaves = [leaf_hash(f"leaf-{i}".encode()) for i in range(max_size)]

    for size, root in sorted(roots.items()):
        expect(mth(leaves[:size]) == root, f"root of size {size}")
        stats["roots"] += 1

    for v in tlog["inclusion"]:
        index, size = v["index"], v["size"]
        data = bytes.fromhex(v["leaf"])
        proof = [bytes.fromhex(p) for p in v["proof"]]
        lh = bytes.fromhex(v["leafHash"])
        root = roots[size]
        tag = f"inclusion {index}/{size}"
        expect(data == f"leaf-{index}".encode(), f"{tag}: leaf data")
        expect(leaf_hash(data) == lh, f"{tag}: leaf hash")
        expect(path(index, leaves[:size]) == proof, f"{tag}: proof differs from PATH()")
        expect(verify_inclusion(index, size, lh, proof, root), f"{tag}: does not verify")
        stats["inclusion"] += 1
        # Negative checks: each must be rejected.
        negatives = [
            (index, size, flip(lh), proof, root),
            (index, size, lh, proof, flip(root)),
            (index, size, lh, proof + [root], root),
        ]
        if size + 1 in roots:
            negatives.append((index, size + 1, lh, proof, roots[size + 1]))
        if size > 1:
            negatives.append(((index + 1) % size, size, lh, proof, root))
        if proof:
            negatives.append((index, size, lh, [flip(proof[0])] + proof[1:], root))
            negatives.append((index, size, lh, proof[:-1], root))
        for i, n in enumerate(negatives):
            expect(not verify_inclusion(*n), f"{tag}: negative case {i} accepted")
            stats["negative"] += 1

    for v in tlog["consistency"]:
        size1, size2 = v["size1"], v["size2"]
        proof = [bytes.fromhex(p) for p in v["proof"]]
        r1, r2 = roots[size1], roots[size2]
        tag = f"consistency {size1}->{size2}"
        expect(consistency_proof(size1, leaves[:size2]) == proof, f"{tag}: proof differs from PROOF()")
        expect(verify_consistency(size1, size2, r1, r2, proof), f"{tag}: does not verify")
        stats["consistency"] += 1
        negatives = [
            (size1, size2, flip(r1), r2, proof),
            (size1, size2, r1, flip(r2), proof),
            (size1, size2, r1, r2, proof + [r1]),
        ]
        if proof:
            negatives.append((size1, size2, r1, r2, proof[:-1] + [flip(proof[-1])]))
            negatives.append((size1, size2, r1, r2, proof[:-1]))
        if size2 + 1 in roots:
            negatives.append((size1, size2 + 1, r1, roots[size2 + 1], proof))
        for i, n in enumerate(negatives):
            expect(not verify_consistency(*n), f"{tag}: negative case {i} accepted")
            stats["negative"] += 1

    with open(os.path.join(vectors_dir, "signed-note.json"), encoding="utf-8") as f:
        sn = json.load(f)
    try:
        verifier = parse_verifier_key(sn["verifierKey"])
        text = open_note(sn["note"], verifier)
        expect(text == sn["text"], "signed note: text differs")
        cp = parse_checkpoint(text)
        expect(cp.size == 3 and cp.root == roots[3], "signed note: checkpoint is not the tree of size 3")
        expect(cp.origin == verifier.name, "signed note: origin differs from key name")
        # The signer key must give exactly this note (Ed25519 is deterministic).
        signer = sn["signerKey"]
        prefix = "PRIVATE+KEY+"
        expect(signer.startswith(prefix), "signer key prefix")
        s_name, s_hash, s_b64 = signer[len(prefix) :].split("+", 2)
        s_raw = base64.b64decode(s_b64, validate=True)
        priv = Ed25519PrivateKey.from_private_bytes(s_raw[1:])
        pub = priv.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        expect(s_raw[0] == ALG_ED25519 and pub == verifier.public_key, "signer key matches verifier key")
        expect(s_name == verifier.name and s_hash == verifier.key_hash.hex(), "signer key name/hash")
        sig = priv.sign(sn["text"].encode("utf-8"))
        line = f"{EM_DASH_PREFIX}{s_name} {base64.b64encode(verifier.key_hash + sig).decode()}\n"
        expect(sn["text"] + "\n" + line == sn["note"], "re-signing the text gives a different note")
        stats["note"] = True
        # Negative cases for the note.
        bad_notes = [
            sn["note"].replace("\n3\n", "\n4\n", 1),
            sn["note"].replace("block 2", "block 3", 1),
            sn["note"].replace("\u2014 ", "- ", 1),
            sn["text"],
        ]
        name, sig_b64 = sn["note"].rstrip("\n").split("\n")[-1][2:].rsplit(" ", 1)
        raw = base64.b64decode(sig_b64)
        bad_notes.append(sn["note"].replace(sig_b64, base64.b64encode(flip(raw, 40)).decode()))
        bad_notes.append(sn["note"].replace(sig_b64, base64.b64encode(flip(raw, 0)).decode()))
        for i, bad in enumerate(bad_notes):
            try:
                open_note(bad, verifier)
                failures.append(f"signed note: negative case {i} accepted")
            except VerifyError:
                pass
            stats["negative"] += 1
        other = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        bad_keys = [
            sn["verifierKey"].replace(verifier.key_hash.hex(), flip(verifier.key_hash).hex()),
            f"{verifier.name}+{verifier.key_hash.hex()}+{base64.b64encode(bytes([1]) + other).decode()}",
        ]
        for i, k in enumerate(bad_keys):
            try:
                parse_verifier_key(k)
                failures.append(f"verifier key: negative case {i} accepted")
            except VerifyError:
                pass
            stats["negative"] += 1
    except (VerifyError, KeyError, ValueError) as e:
        failures.append(f"signed note: {e}")

    return {"ok": not failures, **stats, "failureCount": len(failures), "failures": failures[:50]}


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "--vectors":
        summary = self_test(argv[1])
        emit(summary)
        return 0 if summary["ok"] else 1
    if len(argv) >= 3 and argv[0] == "--batch":
        all_ok = True
        for bundle_path in argv[2:]:
            result = verify_bundle_file(bundle_path, argv[1])
            all_ok = all_ok and result["ok"]
            emit({"bundle": bundle_path, **result})
        return 0 if all_ok else 1
    if len(argv) == 3 and argv[0] == "--note":
        try:
            with open(argv[1], encoding="utf-8") as f:
                note = f.read()
            cp = verify_checkpoint(note, load_key(argv[2]), "note")
            emit(
                {
                    "ok": True,
                    "reason": "checkpoint signature verifies",
                    "origin": cp.origin,
                    "size": cp.size,
                    "root": base64.b64encode(cp.root).decode(),
                }
            )
            return 0
        except (VerifyError, OSError, UnicodeDecodeError) as e:
            emit({"ok": False, "reason": str(e)})
            return 1
    if len(argv) == 2 and not argv[0].startswith("--"):
        result = verify_bundle_file(argv[0], argv[1])
        emit(result)
        return 0 if result["ok"] else 1
    sys.stderr.write(__doc__ or "")
    emit({"ok": False, "reason": "usage: independent_verify.py <bundle.json> <verifier key>"})
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
