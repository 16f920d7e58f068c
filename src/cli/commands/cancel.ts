import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { cancel, cancelBuilder } from "../../pipeline/cancel.ts";
import { writeJsonAtomic } from "../../fs/atomic.ts";
import { resolveAccount } from "../../chain/context.ts";

const usage = "cancel <operationId> [--from account:N] [--builder-file FILE]";
const command: Command = {
  summary: "cancel a pending operation as the guardian, or write its Transaction Builder file",
  usage,
  options: { from: { type: "string" }, "builder-file": { type: "string" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const operationId = requireArg(c, 0, "the operation id", usage);
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
