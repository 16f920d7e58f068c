import type { Command } from "../main.ts";
import { actorFor, withChain } from "../chain.ts";
import { loadPolicy } from "../../policy/load.ts";
import { deployGovernance } from "../../../deploy/governance.ts";
import { deploymentPath } from "../../records/deployment.ts";
import { displayPath } from "../../fs/atomic.ts";

const command: Command = {
  summary: "deploy the Safe, the TimelockController and the governed proxies (idempotent)",
  usage: "deploy [--network NAME] [--from account:N]",
  options: { from: { type: "string" } },
  flags: { from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" } },
  run: (c) =>
    withChain(c, async (ctx) => {
      const policy = loadPolicy(c.root, c.network);
      const deployer = await actorFor(c, ctx, "deployer", "account:0");
      const result = await deployGovernance({ ctx, root: c.root, policy, deployer, log: (l) => c.out.log(l) });
      c.out.result({ ok: true, steps: result.steps, deployment: result.record });
      c.out.print(`deployment record: ${displayPath(deploymentPath(c.root, c.network))}`);
      return 0;
    }),
};
export default command;
