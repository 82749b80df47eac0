import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

/** `dirchain --version`: package.json's version, written into the code at build time. */
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

// index and cli share chunks. dist/verify.js (the `dirchain/verify` entry) is
// built separately by tsup.tools.config.ts as one self-contained file.
export default defineConfig({
  // The admission worker is loaded by URL from beside the chunk that starts it.
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli/main.ts',
    'admission-worker': 'src/sequencer/admission-worker.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: true,
  define: { __DIRCHAIN_VERSION__: JSON.stringify(version) },
});
