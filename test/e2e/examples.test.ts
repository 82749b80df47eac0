import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempDir } from '../helpers.js';

describe('examples/city.ts (the README demo)', () => {
  it('runs the whole city story, every refusal where the rules demand one, and verifies', () => {
    const built = join(repoRoot, 'dist-examples/city.js');
    expect(existsSync(built), 'run `npm run build` first (npm test does)').toBe(true);
    const dir = tempDir();
    try {
      const r = spawnSync(process.execPath, [built, dir.path], { encoding: 'utf8', cwd: repoRoot });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      for (const code of [
        'E_REQUEST_REQUIRED',
        'E_COUNTERSIGNATURE_REQUIRED',
        'E_NOT_SHARED',
        'E_FIELD_NOT_GRANTED',
        'E_GRANT_REVOKED',
      ]) {
        expect(r.stdout).toContain(`→ ${code}`);
      }
      expect(r.stdout).not.toContain('should not have been');
      expect(r.stdout).toMatch(/→ verified/);
      expect(r.stdout).toMatch(/verified \d+ records in \d+ blocks/);
      expect(existsSync(join(dir.path, 'ledger', 'CURRENT'))).toBe(true);
    } finally {
      dir.cleanup();
    }
  });
});
