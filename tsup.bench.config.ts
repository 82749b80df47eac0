import { defineConfig } from 'tsup';

// The benchmark runner, bundled from source: bench/ imports the library through
// relative ../src/*.js paths, so the numbers measure the current source, not dist/.
// Packages from node_modules (classic-level, msgpackr, @noble/*) stay external.
// The CLI is bundled beside it (figure 4 runs `dirchain serve`, figure 7 `dirchain node`, as child
// processes; the node's admission workers load admission-worker.js beside it), so
// `npm run bench` needs no `npm run build` (its type declarations alone take ~15 s here).
export default defineConfig({
  entry: {
    run: 'bench/run.ts',
    cli: 'src/cli/main.ts',
    'admission-worker': 'src/sequencer/admission-worker.ts',
  },
  outDir: 'dist-bench',
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  skipNodeModulesBundle: true,
  sourcemap: true,
  clean: true,
  splitting: false,
  dts: false,
});
