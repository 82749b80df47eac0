import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';
import { writeVerifierPage } from './src/web/build-page.js';

/** `node verify.js --version`: package.json's version, written into the file at build time. */
const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };

// Runs after tsup.config.ts (see the build script), so it may add to dist/.
export default defineConfig([
  // Examples, bundled to dist-examples/. They import the package by its own name
  // ('dirchain', 'dirchain/verify'), which Node resolves to dist/ through the
  // package's exports map, exactly as an app that installed dirchain would.
  {
    entry: {
      city: 'examples/city.ts',
      audit: 'examples/audit.ts',
      departments: 'examples/departments.ts',
      replicate: 'examples/replicate.ts',
      fork: 'examples/fork.ts',
    },
    outDir: 'dist-examples',
    format: ['esm'],
    target: 'node20',
    platform: 'node',
    external: ['dirchain', 'dirchain/verify'],
    skipNodeModulesBundle: true,
    clean: true,
    dts: false,
  },
  // dist/verify.js: the `dirchain/verify` entry as ONE file with noble and
  // msgpackr inside (an auditor copies just this file), runnable as a command.
  // Browser platform so msgpackr resolves to its pure-JS build (no native
  // addon); node: modules are only ever imported dynamically, when run by Node.
  {
    entry: { verify: 'src/verify/standalone.ts' },
    outDir: 'dist',
    format: ['esm'],
    target: 'es2022',
    platform: 'browser',
    noExternal: [/^(?!node:)/],
    external: ['node:fs', 'node:url'],
    removeNodeProtocol: false,
    splitting: false,
    sourcemap: true,
    clean: false,
    dts: { entry: { verify: 'src/verify/standalone.ts' } },
    define: { __DIRCHAIN_VERSION__: JSON.stringify(version) },
  },
  // The browser verifier page: the page script (with the verify library in it)
  // as one classic script, inlined with its CSS into dist/verifier.html.
  {
    entry: { verifier: 'src/web/page.ts' },
    outDir: 'dist-web',
    format: ['iife'],
    target: 'es2022',
    platform: 'browser',
    noExternal: [/.*/],
    minify: true,
    clean: true,
    dts: false,
    onSuccess: async () => {
      writeVerifierPage('dist-web/verifier.global.js', 'dist/verifier.html');
    },
  },
]);
