/**
 * The built `dist/verify.js`: the `dirchain/verify` library, bundled with noble
 * and msgpackr into one file, which is also a command when Node runs it
 * directly (`node verify.js bundle.json --key ...`, see cli.ts).
 *
 * Nothing here may touch Node at load time: browsers and other runtimes import
 * this same file. "Run as main" is detected from `process.argv[1]` (absent in a
 * browser) and only then is node:fs loaded, with a dynamic import. The check
 * lives in this entry and not in src/verify.ts because the dirchain CLI bundles
 * src/verify.ts into dist/cli.js, where the same test would match the CLI itself.
 */
export * from '../verify.js';

const script = globalThis.process?.argv?.[1];
const lastSegment = (path: string) => path.replace(/\\/g, '/').split('/').pop() ?? '';
const self = decodeURIComponent(lastSegment(import.meta.url));

if (typeof script === 'string' && (lastSegment(script) === self || `${lastSegment(script)}.js` === self)) {
  void runIfMain(script);
}

async function runIfMain(script: string): Promise<void> {
  const fs = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  // Same file name is a hint, not proof (a bundler may have inlined us into another verify.js).
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return fs.realpathSync(`${p}.js`);
    }
  };
  try {
    if (real(script) !== real(fileURLToPath(import.meta.url))) return;
  } catch {
    return;
  }
  const { verifyCommand } = await import('./cli.js');
  const code = await verifyCommand(process.argv.slice(2), {
    readText: async (path) => fs.readFileSync(path, 'utf8'),
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  process.exitCode = code;
}
