// Scratch directories for tests that are removed when the test file ends, whatever its outcome. Tests used
// to mkdtemp under /tmp and forget: hundreds of them piled up after a few CI runs. Importing this module
// registers one afterAll per test file (vitest evaluates a file's imports afresh for each file).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under the system's temp dir, named prefix + random; removed after the file's tests. */
export function testTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}
