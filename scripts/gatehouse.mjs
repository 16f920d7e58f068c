#!/usr/bin/env node
// The `gatehouse` bin: checks the Node.js version first (in JavaScript, which any Node can load), then
// loads the TypeScript entry point scripts/gatehouse.ts, which needs Node's type stripping (>= 22.18).
import { nodeVersionProblem } from "./node-version.mjs";

var problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(problem + "\n");
  process.exit(2);
}
import("./gatehouse.ts");
