import type { Command } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { stage } from "../../pipeline/stage.ts";
import { GatehouseError, isGatehouseError } from "../../errors.ts";

const command: Command = {
  summary: "deploy the implementations that changed and write a proposal record (never an unsafe upgrade)",
  usage: "stage [--network NAME] [--delay SECONDS] [--from account:N]",
  options: { delay: { type: "string" }, from: { type: "string" } },
  flags: { delay: { value: "SECONDS", help: "the timelock delay of the operation (at least the policy minimum)", default: "the policy's governance.delaySeconds" }, from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const delayFlag = c.flags.delay as string | undefined;
      if (delayFlag !== undefined && !/^\d+$/.test(delayFlag)) throw new GatehouseError("USAGE", { message: `--delay ${delayFlag}: expected a whole number of seconds` });
      const deployer = await actorFor(c, setup.ctx, "deployer", "account:0");
      try {
        const r = await stage({ setup, deployer, delaySeconds: delayFlag === undefined ? undefined : Number(delayFlag), log: (l) => c.out.log(l) });
        if (!r.proposal) c.out.print(`nothing to stage on '${c.network}': every proxy already runs its target contract`);
        else c.out.print(`${r.proposal.created ? "staged" : "already staged"}: ${r.proposal.file}\n  operation id ${r.proposal.record.operationId}\n  next: gatehouse propose ${r.proposal.record.id} --network ${c.network}`);
        c.out.result({ ok: true, proposal: r.proposal ?? null, deployed: r.deployed });
        return 0;
      } catch (e) {
        if (isGatehouseError(e, "CHECK_FAILED")) c.out.print(String(e.details.report));
        throw e;
      }
    }),
};
export default command;
