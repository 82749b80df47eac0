/**
 * The auditor's script: is this record in the log I trust? Or, given a status
 * bundle (`dirchain prove-status --size N`): was grant G active at my checkpoint?
 *
 *   node dist-examples/audit.js <trusted-checkpoint.txt> <bundle.json> <sequencer.pub | key> [consistency.json]
 *
 * Trusts only the sequencer's public key and a checkpoint the auditor already
 * holds (say, published in the city gazette). The inclusion bundle must lead to
 * that checkpoint:
 *   - same tree size: the roots must be equal, else the log showed two histories (a fork);
 *   - older tree: not enough — ask for the proof at your size (`dirchain prove --size`);
 *   - newer tree: give a consistency proof from your checkpoint to the bundle's.
 * Exit 0 verified, 1 not verified, 2 usage.
 */
import { readFileSync } from 'node:fs';
import {
  checkStatus,
  decodeRecord,
  fromBase64,
  toBase64,
  verifyBundle,
  verifyCheckpoint,
} from 'dirchain/verify';

const [trustedFile, bundleFile, keyArg, consistencyFile] = process.argv.slice(2);
if (keyArg === undefined) {
  console.error(
    'usage: audit <trusted-checkpoint.txt> <bundle.json> <sequencer key or file> [consistency.json]',
  );
  process.exit(2);
}
const key = keyArg.includes('+') ? keyArg : readFileSync(keyArg, 'utf8').trim();
const notVerified: (why: string) => never = (why) => {
  console.log(`NOT verified: ${why}`);
  process.exit(1);
};

// 1. The checkpoint I trust, and the bundle on its own terms.
let trusted: ReturnType<typeof verifyCheckpoint>;
try {
  trusted = verifyCheckpoint(readFileSync(trustedFile!, 'utf8'), [key]);
} catch (e) {
  notVerified(`the trusted checkpoint does not verify under this key: ${(e as Error).message}`);
}
const text = readFileSync(bundleFile!, 'utf8');
const report = verifyBundle(text, [key]);
for (const c of report.checks)
  console.log(`${c.status === 'pass' ? 'ok  ' : c.status.toUpperCase()} ${c.name}: ${c.detail}`);
if (!report.ok) notVerified(`${report.checks.find((c) => c.status === 'fail')?.name} failed`);
if (report.kind === 'status') {
  // A status speaks for its own checkpoint only: it must be the one I trust.
  const status = checkStatus(text, [key]);
  const at = verifyCheckpoint((JSON.parse(text) as { checkpoint: string }).checkpoint, [key]);
  if (at.origin !== trusted.origin) notVerified(`bundle is for ${at.origin}, you trust ${trusted.origin}`);
  if (at.size !== trusted.size)
    notVerified(
      `the status is proven at size ${at.size}, not at your checkpoint (${trusted.size}): ` +
        `ask for it there (dirchain prove-status <dir> --type ${status.type} --id ${status.id} --size ${trusted.size})`,
    );
  if (toBase64(at.root) !== toBase64(trusted.root))
    notVerified(
      `FORK: two signed checkpoints of size ${trusted.size} with different roots; keep both as evidence`,
    );
  const when = new Date(status.asOf.time).toISOString();
  console.log(
    `verified: at your checkpoint (size ${trusted.size}, block ${status.asOf.height}, ${when}) ${status.type} ` +
      `${status.id} was ${status.status}` +
      (status.type === 'grant' && status.status === 'active' ? ': it was active then' : ''),
  );
  process.exit(0);
}
if (report.kind !== 'inclusion')
  notVerified(
    'expected an inclusion bundle (dirchain prove --index) or a status bundle (dirchain prove-status)',
  );
const bundle = JSON.parse(text) as {
  origin: string;
  index: number;
  size: number;
  root: string;
  leaf: string;
};
const mine = { size: trusted.size, root: toBase64(trusted.root) };
if (bundle.origin !== trusted.origin)
  notVerified(`bundle is for ${bundle.origin}, you trust ${trusted.origin}`);

// 2. Tie the bundle's checkpoint to mine.
if (bundle.size === mine.size && bundle.root !== mine.root) {
  notVerified(
    `FORK: two signed checkpoints of size ${mine.size} with different roots; keep both as evidence`,
  );
} else if (bundle.size < mine.size) {
  notVerified(
    `the proof is for tree size ${bundle.size}, older than your checkpoint (${mine.size}); ` +
      `ask for it at your size: dirchain prove <dir> --index ${bundle.index} --size ${mine.size}`,
  );
} else if (bundle.size > mine.size) {
  if (consistencyFile === undefined)
    notVerified(
      `the proof is for tree size ${bundle.size}, newer than your checkpoint (${mine.size}); give a consistency ` +
        `proof too: dirchain prove <dir> --from ${mine.size} --to ${bundle.size}`,
    );
  const c = JSON.parse(readFileSync(consistencyFile!, 'utf8'));
  const cr = verifyBundle(c, [key]);
  if (!cr.ok) notVerified(`consistency ${cr.checks.find((x) => x.status === 'fail')?.name} failed`);
  if (c.size1 !== mine.size || c.root1 !== mine.root || c.size2 !== bundle.size || c.root2 !== bundle.root)
    notVerified('the consistency proof does not join your checkpoint to the bundle’s');
  console.log(
    `ok   log grew consistently: ${mine.size} → ${bundle.size} (trust the newer checkpoint from now on)`,
  );
}

// 3. What the leaf is: a member's record, or an entry the log itself wrote (the
// block entry that ends every block; an event of a batch) as its check says.
const leafCheck = report.checks.find((c) => c.name.startsWith('leaf is '))!;
if (leafCheck.name === 'leaf is a record of this log') {
  const record = decodeRecord(fromBase64(bundle.leaf));
  console.log(
    `verified: record ${bundle.index} (${record.kind} by ${record.author}) is in ${trusted.origin} as of your checkpoint`,
  );
} else {
  console.log(
    `verified: entry ${bundle.index} (${leafCheck.name.slice('leaf is '.length)}: ${leafCheck.detail}) is in ${trusted.origin} as of your checkpoint`,
  );
}
