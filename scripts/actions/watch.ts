#!/usr/bin/env node
// The watch workflow's step on one network: `gatehouse watch --once` (the CLI command itself, run in
// this process, so its sinks, ledger path and exit codes are exactly the CLI's), then the job summary
// of what was posted, a warning annotation per alert, and outputs. The ledger (checkpoint and post
// journal) is .gatehouse/watch-<network>.sqlite, which the workflow restores from and saves to the
// Actions cache. The chain is read through the network's `readRpc` endpoint of .github/gatehouse.json
// (not a secret) unless GATEHOUSE_RPC_URL is set. Secret (step env only): the token the policy's GitHub
// notification names (GITHUB_TOKEN by default).
// Outside Actions: node scripts/actions/watch.ts --network localhost
import type { Output } from "../../src/cli/output.ts";
import { actionsIO } from "../../src/actions/io.ts";
import { commandContext, maskSecrets, runAction } from "../../src/actions/run.ts";
import { watchSummaryMarkdown, type WatchRunResult } from "../../src/actions/watch-summary.ts";
import { readConfigOrDefaults } from "../../src/actions/config.ts";

const io = actionsIO();
maskSecrets(io);
await runAction(io, async () => {
  const network = io.input("network", { required: true });
  const readRpc = readConfigOrDefaults(process.cwd())?.readRpc[network];
  if (!process.env.GATEHOUSE_RPC_URL && readRpc) process.env.GATEHOUSE_RPC_URL = readRpc;
  // Imported only now: loading Hardhat reads the network's URL from GATEHOUSE_RPC_URL.
  const { main } = await import("../../src/cli/main.ts");
  const results: unknown[] = [];
  const out: Output = { ...commandContext(io, { network }).out, json: true, result: (v) => results.push(v) };
  const code = await main(["watch", "--once", "--network", network, "--json"], out);
  const r = results[0] as WatchRunResult | undefined;
  if (!r || (r.ok === false && r.error)) {
    io.fail(`gatehouse watch on '${network}': ${r?.error ? `${r.error.code}: ${r.error.message}` : `exit ${code}`}`, code || 1);
    return;
  }
  const alerts = r.posts.filter((p) => p.severity === "alert" && (p.action === "created" || p.action === "updated"));
  for (const a of alerts) io.annotate({ level: "warning", title: `gatehouse watch (${network}): alert`, message: `${a.key} posted to ${a.sink}` });
  io.output("checkpoint-block", r.checkpoint.block);
  io.output("posts", r.posts.filter((p) => p.action === "created" || p.action === "updated").length);
  io.output("alerts", alerts.length);
  await io.summary(watchSummaryMarkdown(network, r));
  if (r.sinkErrors.length) io.fail(`gatehouse watch on '${network}': ${r.sinkErrors.length} sink error(s): ${r.sinkErrors.join("; ")}`);
  else if (code !== 0) io.fail(`gatehouse watch on '${network}': ${alerts.length} new alert(s); see the posted issues`, code);
});
