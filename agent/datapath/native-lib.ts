// Where the agent's small C libraries (./native, loaded through koffi) are: beside the sources, or, when
// running from dist/, in the checkout's agent/datapath/native/build (the image copies them there too).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnilabError } from '../../lib/errors.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The path of native/build/FILE, or a NOT_FOUND error naming what is missing and how to build it. */
export function nativeLibraryPath(file: string, what: string): string {
  const candidates = [resolve(here, 'native/build', file), resolve(here, '../../../agent/datapath/native/build', file)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new CnilabError('NOT_FOUND', `${what} is not built (${candidates[0]}): run \`make -C agent/datapath/native\` or scripts/bootstrap.sh`);
  return found;
}
