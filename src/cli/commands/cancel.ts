import type { Command } from "../main.ts";
import { requireArg, requireHash } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { cancel, cancelBuilder } from "../../pipeline/cancel.ts";
import { writeJsonAtomic } from "../../fs/atomic.ts";
import { resolveAccount } from "../../chain/context.ts";

const usage = "cancel <operationId> [--from account:N] [--builder-file FILE]";
const command: Command = {
  summary: "cancel a pending operation as the guardian, or write its Transaction Builder file",
  usage,
  options: { from: { type: "string" }, "builder-file": { type: "string" } },
  flags: { from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the role's default account" }, "builder-file": { value: "FILE", help: "write the Safe Transaction Builder JSON of the cancel instead of sending it", default: "send the cancel" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const operationId = requireHash(requireArg(c, 0, "the operation id", usage), "operation id");
      const builderFile = c.flags["builder-file"] as string | undefined;
      if (builderFile) {
        writeJsonAtomic(builderFile, await cancelBuilder(setup, operationId));
        c.out.print(`wrote ${builderFile}: import it in the guardian Safe's Transaction Builder`);
        c.out.result({ ok: true, builderFile });
        return 0;
      }
      const guardian = await actorFor(c, setup.ctx, "guardian", resolveAccount(setup.ctx, setup.policy.governance.guardian[0]!));
      const r = await cancel({ setup, operationId, guardian });
      c.out.print(r.alreadyCancelled ? `operation ${operationId} was already cancelled` : `cancelled operation ${operationId} (${r.tx})`);
      c.out.result({ ok: true, ...r });
      return 0;
    }),
};
export default command;
