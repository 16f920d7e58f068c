import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Every temporary folder of the run (the tests' own, and those of the CLIs, nodes and builds they spawn,
 * which inherit TMPDIR) goes into one folder of this run, removed after the last test: a run leaves
 * nothing in the machine's temporary folder, even where a test forgot to clean up after itself.
 */
const scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-run-"));
process.env.TMPDIR = scratch;

// A root-level hook: it runs once, after every test of every file.
after(() => rmSync(scratch, { recursive: true, force: true }));
