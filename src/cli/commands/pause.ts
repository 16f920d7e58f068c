import type { Command } from "../main.ts";
import { actorFor, withSetup } from "../chain.ts";
import { pause, pauseBuilder, pauseTargets } from "../../pipeline/pause.ts";
import { writeJsonAtomic } from "../../fs/atomic.ts";
import { resolveAccount } from "../../chain/context.ts";

const usage = "pause <contract…|--all> [--from account:N] [--builder-file FILE]";
const command: Command = {
  summary: "pause governed contracts at once as the guardian (only the timelock unpauses), or write the guardian Safe's Transaction Builder file",
  usage,
  options: { all: { type: "boolean" }, from: { type: "string" }, "builder-file": { type: "string" } },
  flags: {
    all: { help: "every governed contract of the deployment record", default: "only the named contracts" },
    from: { value: "account:N|0xADDR", help: "the account that acts (a key the network holds)", default: "$GATEHOUSE_SIGNER_KEY, else on a Hardhat dev network the guardian's default account" },
    "builder-file": { value: "FILE", help: "write the Safe Transaction Builder JSON of the pause calls instead of sending them", default: "send the pause" },
  },
  run: (c) =>
    withSetup(c, async (setup) => {
      const contracts = pauseTargets(setup, c.args, c.flags.all === true);
      const builderFile = c.flags["builder-file"] as string | undefined;
      if (builderFile) {
        const { file, states } = await pauseBuilder(setup, contracts);
        writeJsonAtomic(builderFile, file);
        for (const s of states) if (s.paused) c.out.print(`'${s.contract}' is already paused`);
        c.out.print(`wrote ${builderFile}: import it in the guardian Safe's Transaction Builder (${file.transactions.length} pause call(s))`);
        c.out.result({ ok: true, builderFile, calls: file.transactions.length });
        return 0;
      }
      const guardian = await actorFor(c, setup.ctx, "guardian", resolveAccount(setup.ctx, setup.policy.governance.guardian[0]!));
      const results = await pause({ setup, contracts, guardian });
      for (const r of results) c.out.print(r.alreadyPaused ? `'${r.contract}' (${r.proxy}) was already paused` : `paused '${r.contract}' (${r.proxy}, ${r.tx})`);
      c.out.result({ ok: true, results });
      return 0;
    }),
};
export default command;
