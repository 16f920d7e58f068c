// Rebuilds the vendored Multicall3 artifact (src/watch/multicall/Multicall3.json) from its source.
import { writeFileSync } from "node:fs";
import { MULTICALL_ARTIFACT, buildMulticall } from "../src/watch/multicall-build.ts";

writeFileSync(MULTICALL_ARTIFACT, `${JSON.stringify(buildMulticall(), null, 2)}\n`);
console.log("wrote src/watch/multicall/Multicall3.json");
