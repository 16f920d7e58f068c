#!/usr/bin/env node
// Lists the networks CI acts on (policies/<network>.yaml with a committed deployments/<network>.json) as
// the JSON output `networks`, for a job matrix, and the protected branch as `protected-branch`. Input
// `networks` narrows the list (comma-separated or JSON). Input `protected-only: true` (the executor)
// refuses (GH260) a run on any other ref than the protected branch.
import { actionsIO } from "../../src/actions/io.ts";
import { protectedBranch, refuseUnlessProtectedRef } from "../../src/actions/config.ts";
import { configuredNetworks, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
await runAction(io, async () => {
  const root = process.cwd();
  if (io.input("protected-only") === "true") refuseUnlessProtectedRef(io.input("action", { fallback: "execute" }), root);
  const networks = configuredNetworks(root, io.input("networks"));
  io.output("networks", JSON.stringify(networks));
  io.output("protected-branch", protectedBranch(root));
  io.log(networks.length ? `networks: ${networks.join(", ")}` : "no configured network (policies/<network>.yaml with deployments/<network>.json)");
});
