/**
 * The browser verifier page (dist/verifier.html): reads a proof bundle and
 * trusted keys from the form, runs `verifyBundle` from the verify library in
 * the page, and lists each check with its verdict. Plain DOM, no framework.
 */
import { type BundleReport, fromBase64, verifyBundle } from '../verify.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const form = $<HTMLFormElement>('form');
const bundleFile = $<HTMLInputElement>('bundle-file');
const bundleText = $<HTMLTextAreaElement>('bundle');
const keysText = $<HTMLTextAreaElement>('keys');
const witnessesText = $<HTMLTextAreaElement>('witnesses');
const quorumInput = $<HTMLInputElement>('quorum');
const verdict = $<HTMLParagraphElement>('verdict');
const checksList = $<HTMLOListElement>('checks');

const lines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');

/** Signature type byte of a `name+hash+base64(type || key)` key, or undefined if it is not one. */
function keyType(line: string): number | undefined {
  const m = /^[^\s+]+\+[0-9a-f]{8}\+([A-Za-z0-9+/=]+)$/.exec(line);
  if (m === null) return undefined;
  try {
    return fromBase64(m[1]!)[0];
  } catch {
    return undefined;
  }
}

function addLines(area: HTMLTextAreaElement, more: string[]): void {
  const have = lines(area.value);
  area.value = [...have, ...more.filter((l) => !have.includes(l))].join('\n');
}

/** Witness key types (C2SP tlog-cosignature): Ed25519 cosignature/v1 and ML-DSA-44. */
const isWitnessType = (t: number | undefined): boolean => t === 0x04 || t === 0x06;

/** Puts a dropped or opened file where it belongs: a bundle, log keys (type 1) or witness keys (types 4 and 6). */
function place(text: string): void {
  if (text.trimStart().startsWith('{')) {
    bundleText.value = text;
    return;
  }
  const keys = lines(text);
  addLines(
    keysText,
    keys.filter((k) => !isWitnessType(keyType(k))),
  );
  addLines(
    witnessesText,
    keys.filter((k) => isWitnessType(keyType(k))),
  );
}

function show(report: BundleReport): void {
  checksList.replaceChildren(
    ...report.checks.map((c) => {
      const li = document.createElement('li');
      li.className = c.status;
      const mark = document.createElement('span');
      mark.className = 'mark';
      mark.textContent = { pass: '✓ pass', fail: '✗ FAIL', skip: '– skipped' }[c.status];
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = ` ${c.name}`;
      const detail = document.createElement('span');
      detail.className = 'detail';
      detail.textContent = c.detail;
      li.append(mark, name, detail);
      return li;
    }),
  );
  const failed = report.checks.find((c) => c.status === 'fail');
  verdict.className = `verdict ${report.ok ? 'pass' : 'fail'}`;
  verdict.textContent = report.ok
    ? report.kind === 'fork'
      ? 'verified: the evidence proves the log forked'
      : 'verified'
    : `NOT verified: ${failed?.name} failed`;
}

function verify(): void {
  const witnesses = lines(witnessesText.value);
  const q = quorumInput.value.trim();
  const policy =
    witnesses.length > 0 || q !== '' ? { witnesses, ...(q === '' ? {} : { quorum: Number(q) }) } : {};
  show(verifyBundle(bundleText.value, lines(keysText.value), policy));
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  verify();
});

bundleFile.addEventListener('change', async () => {
  const file = bundleFile.files?.[0];
  if (file !== undefined) bundleText.value = await file.text();
});

// Drop anywhere: each file goes to the field it fits.
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  $('drop').classList.add('over');
});
document.addEventListener('dragleave', () => $('drop').classList.remove('over'));
document.addEventListener('drop', async (e) => {
  e.preventDefault();
  $('drop').classList.remove('over');
  for (const file of Array.from(e.dataTransfer?.files ?? [])) place(await file.text());
  const pasted = e.dataTransfer?.getData('text/plain');
  if (pasted) place(pasted);
});
