import { mkdirSync, renameSync, writeFileSync, rmSync, readFileSync, existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { GatehouseError } from "../errors.ts";

/** `.<name>.<12 hex>.tmp`: the temporary file `writeFileAtomic` renames over `<name>`. */
const TEMP = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** Write a file so that readers see either the old or the new content, never half of it (write + rename). */
export function writeFileAtomic(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    writeFileSync(tmp, content, { flag: "wx" });
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Remove the temporary files a process killed in the middle of `writeFileAtomic` left in `dir` (only
 * names of the writer's own pattern). Call it when the single writer of a folder starts, before it
 * writes: a temporary file is only ever live during one write of that writer. Returns the names removed.
 */
export function removeStaleTempFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const stale = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile() && TEMP.test(e.name)).map((e) => e.name);
  for (const name of stale) rmSync(path.join(dir, name), { force: true });
  return stale;
}

/** JSON as Gatehouse writes it: bigint as decimal strings, two-space indentation, trailing newline. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v), 2) + "\n";
}

export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, toJson(value));
}

/** A file as people read it in messages: relative to where the command runs. */
export function displayPath(file: string): string {
  return path.relative(process.cwd(), file) || file;
}

/** Parse a JSON file; undefined when it does not exist, and exit-2 FILE_INVALID when it is not JSON. */
export function readJsonIfExists(file: string): unknown | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new GatehouseError("FILE_INVALID", { file: displayPath(file), path: "(file)", expected: `valid JSON (${(e as Error).message})` });
  }
}
