import { defineConfig } from 'tsup';

// Examples, bundled to dist-examples/. They import the package by its own name
// ('dirchain', 'dirchain/verify'), which Node resolves to dist/ through the
// package's exports map, exactly as an app that installed dirchain would.
export default defineConfig({
  entry: { city: 'examples/city.ts' },
  outDir: 'dist-examples',
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  external: ['dirchain', 'dirchain/verify'],
  skipNodeModulesBundle: true,
  clean: true,
  dts: false,
});
