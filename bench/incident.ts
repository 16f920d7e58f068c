import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { ZeroHash, id, parseEther } from "ethers";
import { pausableDeployed } from "../test/helpers/pausable.ts";
import { execSafeTx } from "../test/helpers/watch-scenario.ts";
import { openIncident } from "../src/pipeline/incident.ts";
import { drill } from "../src/pipeline/drill.ts";
import { filesSink } from "../src/watch/sinks/files.ts";
import { TIMELOCK_ABI } from "../src/timelock/calls.ts";
import { Interface } from "ethers";
import type { Table } from "./table.ts";

/**
 * Time to contain, on Hardhat's in-process chain with the real Safe and timelock and the proxies at the
 * pausable V3: `incident open` cancelling N pending operations and pausing both contracts, with one
 * files sink; and the same runbook as `drill` on a fork. Wall clock, one run each.
 */
export async function incidentBenchmark(log: (line: string) => void, sizes = [1, 5]): Promise<Table[]> {
  const rows: string[][] = [];
  for (const n of sizes) {
    const d = await pausableDeployed();
    const scratch = mkdtempSync(path.join(tmpdir(), "gatehouse-bench-incident-"));
    try {
      const vault = d.setup.deployment.proxies.vault!.address;
      const tl = new Interface(TIMELOCK_ABI as never);
      for (let i = 0; i < n; i++) {
        const data = new Interface(["function setDepositCap(uint256)"]).encodeFunctionData("setDepositCap", [parseEther(String(i + 1))]);
        await execSafeTx(d, { to: d.setup.deployment.timelock.address, data: tl.encodeFunctionData("schedule", [vault, 0n, data, ZeroHash, id(`bench-${i}`), 3600n]) });
      }
      log(`incident bench: ${n} pending operation(s)`);
      const t0 = performance.now();
      const r = await openIncident({ setup: d.setup, sinks: [filesSink(path.join(scratch, "notices"))], guardian: d.actors.guardian }, { title: `bench ${n}`, severity: "high", pause: ["vault", "registry"], id: `bench-${n}` });
      const open = performance.now() - t0;
      const done = r.incident.steps.filter((s) => s.result?.status === "done").length;
      if (done !== n + 2 + 1) throw new Error(`incident open did ${done} steps, expected ${n + 3}`);
      const t1 = performance.now();
      await openIncident({ setup: d.setup, sinks: [filesSink(path.join(scratch, "notices"))], guardian: d.actors.guardian }, { title: `bench ${n}`, severity: "high", pause: ["vault", "registry"], id: `bench-${n}` });
      const rerun = performance.now() - t1;
      const t2 = performance.now();
      const dr = await drill({ setup: d.setup, scenario: "rogue-upgrade", dir: path.join(scratch, "drill") });
      const drillMs = performance.now() - t2;
      rows.push([String(n), `${open.toFixed(0)} ms`, `${rerun.toFixed(0)} ms`, `${drillMs.toFixed(0)} ms`, `${dr.containmentMs} ms`]);
    } finally {
      await d.close();
      rmSync(d.root, { recursive: true, force: true });
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  return [
    {
      title: "incident: time to contain (cancel N pending operations, pause 2 contracts, 1 notice)",
      columns: [{ header: "pending ops", align: "right" }, { header: "incident open", align: "right" }, { header: "re-run (nothing to do)", align: "right" }, { header: "drill rogue-upgrade (fork, total)", align: "right" }, { header: "drill containment", align: "right" }],
      rows,
      notes: ["In-process Hardhat chain, real Safe 1.5.0 and TimelockController, proxies upgraded V2 → V3 through the pipeline first (not timed).", "The drill forks the chain over loopback HTTP; its containment is from opening to the last confirmed pause or cancel."],
    },
  ];
}
