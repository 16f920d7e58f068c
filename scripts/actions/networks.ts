#!/usr/bin/env node
// Lists the networks CI acts on (policies/<network>.yaml with a committed deployments/<network>.json) as
// the JSON output `networks`, for a job matrix. Input `networks` narrows it (comma-separated or JSON).
import { actionsIO } from "../../src/actions/io.ts";
import { configuredNetworks, runAction } from "../../src/actions/run.ts";

const io = actionsIO();
await runAction(io, async () => {
  const networks = configuredNetworks(process.cwd(), io.input("networks"));
  io.output("networks", JSON.stringify(networks));
  io.log(networks.length ? `networks: ${networks.join(", ")}` : "no configured network (policies/<network>.yaml with deployments/<network>.json)");
});
