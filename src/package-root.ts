import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

/**
 * The gatehouse package's own folder: this repository when run from source (src/…), or
 * node_modules/gatehouse when installed (dist/src/…). The files it ships (workflows, the policy schema,
 * docs/ templates) are found from here, whichever layout runs.
 */
export function packageRoot(from: string = import.meta.dirname): string {
  for (let dir = from; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "gatehouse") return dir;
  }
  throw new Error(`the gatehouse package's folder was not found above ${from}`);
}

/** `.ts` when running from source, `.js` in the installed package: for code that lists its own modules. */
export const MODULE_EXT = path.extname(new URL(import.meta.url).pathname);
