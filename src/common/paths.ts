import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The project root (where package.json and views/ are), from `src/` under ts-node/jest or `dist/src/` when built. */
export const PROJECT_ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
})();
