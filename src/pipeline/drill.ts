import { cpSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import hre from "hardhat";
import { Contract, ZeroHash, getAddress, id, parseEther, toBeHex } from "ethers";
import { resolveAccount, type ChainContext, type Connection } from "../chain/context.ts";
import { GatehouseError, isGatehouseError } from "../errors.ts";
import { incidentFile, readIncident } from "../incident/record.ts";
import { upgradeCall } from "../plan/plan.ts";
import { serveRpc, type Eip1193 } from "../simulate/serve.ts";
import { TIMELOCK_ABI } from "../timelock/calls.ts";
import { filesSink } from "../watch/sinks/files.ts";
import { containedAt, duration } from "../incident/plan.ts";
import { openIncident, type IncidentReport } from "./incident.ts";
import type { Setup } from "./setup.ts";

/**
 * `gatehouse drill <scenario>`: the incident runbook (`incident open`: cancel every pending operation,
 * pause, notify) rehearsed on an in-process EDR fork of the network, with the guardian's and the Safe's
 * addresses impersonated on the fork and the notices written to a scratch files sink. Nothing is sent to
 * the real chain, no key is needed, and no record of the project changes (the fork works on a copy).
 */
export const SCENARIOS: Record<string, string> = {
  "rogue-upgrade":
    "an upgrade nobody staged is queued on the timelock (as if the Safe's keys had been misused); the runbook cancels every pending operation and pauses every governed contract",
  "pause-all": "something is wrong in the governed contracts: the runbook cancels whatever is pending and pauses every governed contract",
};

export interface DrillReport {
  scenario: string;
  network: string;
  forkBlock: number;
  /** Where the scratch incident file and notices are. */
  dir: string;
  incident: IncidentReport["incident"];
  actions: string[];
  /** Wall-clock time from opening to the last containment step confirmed on the fork. */
  containmentMs: number;
  /** What the drill shows must be fixed before a real incident (a contract that cannot be paused, …). */
  findings: string[];
  /** The notices as the scratch files sink stored them (JSON; the .md page beside each). */
  notices: string[];
}

/** A ChainContext on an EDR fork of `url` at `blockNumber`: only what the incident runner uses is real. */
async function forkContext(base: ChainContext, url: string, blockNumber: number): Promise<ChainContext> {
  let connection: Connection;
  try {
    connection = await hre.network.create<"generic">({
      network: "default",
      override: { chainId: Number(base.chainId), forking: { url, blockNumber }, loggingEnabled: false },
    });
  } catch (e) {
    throw new GatehouseError("SIMULATION_FORK_FAILED", { network: base.network, block: blockNumber, reason: (e as Error).message.split("\n")[0] }, { cause: e });
  }
  return {
    ...base,
    network: base.network,
    connection,
    ethers: connection.ethers,
    safeProvider: connection.provider as ChainContext["safeProvider"],
    isDevNetwork: true,
    accounts: [],
    close: () => connection.close(),
  };
}

export async function drill(opts: { setup: Setup; scenario: string; dir: string; log?: (line: string) => void }): Promise<DrillReport> {
  const { setup, scenario } = opts;
  if (!SCENARIOS[scenario]) throw new GatehouseError("DRILL_UNKNOWN", { scenario, known: Object.keys(SCENARIOS).join(", ") });
  const log = opts.log ?? (() => {});
  const { ctx } = setup;
  const cfg = ctx.connection.networkConfig;
  const served = cfg.type === "http" ? undefined : await serveRpc(ctx.connection.provider as unknown as Eip1193);
  const forkBlock = await ctx.ethers.provider.getBlockNumber();
  const fork = await forkContext(ctx, cfg.type === "http" ? await cfg.url.getUrl() : served!.url, forkBlock);
  try {
    // The fork's own copy of the records: cancel marks proposal records, and a drill changes none.
    mkdirSync(opts.dir, { recursive: true });
    const proposals = path.join(setup.root, "proposals", ctx.network);
    if (existsSync(proposals)) cpSync(proposals, path.join(opts.dir, "proposals", ctx.network), { recursive: true });
    const rpc = fork.connection.provider;
    const impersonate = async (address: string) => {
      await rpc.request({ method: "hardhat_impersonateAccount", params: [address] });
      await rpc.request({ method: "hardhat_setBalance", params: [address, toBeHex(parseEther("10"))] });
      return fork.ethers.getSigner(address);
    };
    // EDR runs calls only in blocks it mined itself: one empty block on top of the fork point.
    await rpc.request({ method: "evm_mine", params: [] });
    const timelock = new Contract(getAddress(setup.deployment.timelock.address), TIMELOCK_ABI, fork.ethers.provider);
    const forkSetup: Setup = { ...setup, ctx: fork, root: opts.dir, timelock };
    const findings: string[] = [];

    if (scenario === "rogue-upgrade") {
      const [name, proxy] = Object.entries(setup.deployment.proxies)[0]!;
      const safe = await impersonate(setup.deployment.safe.address);
      const call = upgradeCall({ kind: proxy.kind, proxy: proxy.address, proxyAdmin: proxy.proxyAdmin }, getAddress("0x00000000000000000000000000000000000d0c0d"), "0x");
      const minDelay = (await timelock.getMinDelay!()) as bigint;
      await (await (timelock.connect(safe) as Contract).schedule!(call.target, call.value, call.data, ZeroHash, id(`gatehouse drill ${Date.now()}`), minDelay)).wait();
      log(`scenario: the Safe (impersonated on the fork) queued an upgrade of '${name}' nobody staged`);
    }

    const guardianAddress = resolveAccount(ctx, setup.policy.governance.guardian[0]!);
    const guardian = { address: guardianAddress, signer: await impersonate(guardianAddress), kitSigner: guardianAddress };
    const noticesDir = path.join(opts.dir, "notices");
    const sink = filesSink(noticesDir, { id: "files:drill" });
    const started = Date.now();
    const input = { title: `Drill: ${scenario}`, severity: "high" as const, pause: Object.keys(setup.deployment.proxies), detectedBy: `gatehouse drill ${scenario}`, id: `drill-${scenario}-${new Date(started).toISOString().replace(/\D/g, "").slice(0, 14)}` };
    let report: IncidentReport;
    try {
      report = await openIncident({ setup: forkSetup, sinks: [sink], guardian, log: (l) => log(`   ${l}`) }, input);
    } catch (e) {
      // A refusal is what the drill is for: the guardian could not have contained it. Say so, and what it left undone.
      if (!isGatehouseError(e, "NOT_PAUSER") && !isGatehouseError(e, "NOT_CANCELLER") && !isGatehouseError(e, "INCIDENT_INCOMPLETE")) throw e;
      findings.push(`the guardian ${guardianAddress} could not contain it: ${e.message}`);
      const incident = readIncident(incidentFile(opts.dir, input.id))!;
      report = { file: incidentFile(opts.dir, input.id), incident, actions: (e.details.actions as string[] | undefined) ?? [] };
    }
    const done = containedAt(report.incident);
    const containmentMs = done ? Math.max(0, Date.parse(done) - started) : Date.now() - started;
    for (const s of report.incident.steps) {
      if (s.result?.status === "skipped" || s.result?.status === "failed") findings.push(`${s.intent}: ${s.result.detail ?? s.result.status}`);
    }
    return {
      scenario,
      network: ctx.network,
      forkBlock,
      dir: opts.dir,
      incident: report.incident,
      actions: report.actions,
      containmentMs,
      findings,
      notices: report.incident.notices.map((n) => path.join(noticesDir, `incident-${report.incident.id}-${n.seq}.json`)),
    };
  } finally {
    await fork.close();
    await served?.close();
  }
}

/** The drill's report in words. */
export function renderDrill(r: DrillReport): string {
  const lines = [`Drill '${r.scenario}' on a fork of ${r.network} at block ${r.forkBlock}: ${SCENARIOS[r.scenario]}.`, "", "What would have happened:"];
  for (const a of r.actions.filter((x) => !x.startsWith("planned: "))) lines.push(`  - ${a}`);
  const took = r.containmentMs < 2000 ? `${r.containmentMs} ms` : duration(new Date(0).toISOString(), new Date(r.containmentMs).toISOString());
  lines.push("", r.findings.length ? `Not fully contained: ${r.findings.length} step(s) could not be done (below); the rest took ${took} (wall clock, on the fork).` : `Containment took ${took} (wall clock, on the fork).`);
  lines.push("Next, through the governed path: `gatehouse rollback <proposal>` for the recovery, and the unpause (only the timelock can).");
  if (r.findings.length) lines.push("", "To fix before a real incident:", ...r.findings.map((f) => `  - ${f}`));
  lines.push("", `Incident file and notices: ${r.dir}`);
  return lines.join("\n");
}
