#!/usr/bin/env node
// The `gatehouse` bin: checks the Node.js version first (in JavaScript, which any Node can load), then
// loads the CLI. In this repository that is the TypeScript entry point scripts/gatehouse.ts (Node's type
// stripping, >= 22.18); installed as a package (under node_modules, where Node refuses to strip types)
// it is the JavaScript that `npm pack` compiled into dist/.
import { nodeVersionProblem } from "./node-version.mjs";

var problem = nodeVersionProblem(process.versions.node);
if (problem) {
  process.stderr.write(problem + "\n");
  process.exit(2);
}
var installed = /[\\/]node_modules[\\/]/.test(import.meta.url.replace(/^file:\/\//, ""));
import(installed ? "../dist/scripts/gatehouse.js" : "./gatehouse.ts");
