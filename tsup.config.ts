import { defineConfig } from 'tsup';

export default defineConfig({
  // index and cli share chunks; verify must stay free of LevelDB and node: imports
  // (a test checks the built file), so auditors and browsers can load it.
  entry: { index: 'src/index.ts', verify: 'src/verify.ts', cli: 'src/cli/main.ts' },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  dts: { entry: { index: 'src/index.ts', verify: 'src/verify.ts' } },
  sourcemap: true,
  clean: true,
  splitting: true,
});
