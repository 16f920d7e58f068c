import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { withSetup } from "../chain.ts";
import { finding } from "../output.ts";
import { GatehouseError } from "../../errors.ts";
import { resolveProposal } from "../../records/proposal.ts";
import { simulateProposal } from "../../simulate/run.ts";
import { renderSimulation } from "../../simulate/render.ts";

const USAGE = "simulate <proposal|operationId> [--block N] [--network NAME] [--json]";

const command: Command = {
  summary: "run the proposal's Safe and timelock path on an in-process fork: state, permission and balance diff, probes",
  usage: USAGE,
  options: { block: { type: "string" } },
  flags: { block: { value: "N", help: "the block of the chain to fork at (pinned)", default: "the latest block" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const ref = requireArg(c, 0, "a proposal id, record path or operation id", USAGE);
      const block = c.flags.block as string | undefined;
      if (block !== undefined && !/^\d+$/.test(block)) throw new GatehouseError("USAGE", { message: `--block: expected a block number, got '${block}'` });
      const { record } = resolveProposal(c.root, c.network, ref);
      setup.progress?.(`simulating proposal ${record.id} on an in-process fork of '${c.network}' ${block !== undefined ? `at block ${block}` : "at its latest block"}...`);
      const report = await simulateProposal(setup, record, block !== undefined ? { blockNumber: Number(block) } : {});
      c.out.print(renderSimulation(report));
      c.out.result({ ok: report.findings.length === 0, ...report });
      if (report.findings.length === 0) return 0;
      return finding(new GatehouseError("SIMULATION_FINDINGS", { count: report.findings.length, what: `proposal ${record.id}` }));
    }),
};
export default command;
