import { defineConfig } from 'tsup';

// index and cli share chunks. dist/verify.js (the `dirchain/verify` entry) is
// built separately by tsup.tools.config.ts as one self-contained file.
export default defineConfig({
  entry: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  splitting: true,
});
