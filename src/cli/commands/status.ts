import type { Command } from "../main.ts";
import { withSetup } from "../chain.ts";
import { status } from "../../pipeline/status.ts";
import { formatDuration } from "../../timelock/calls.ts";

const command: Command = {
  summary: "every proposal with its Safe and timelock state",
  usage: "status [--network NAME] [--json]",
  run: (c) =>
    withSetup(c, async (setup) => {
      const rows = await status(setup);
      if (rows.length === 0) c.out.print(`no proposals on '${c.network}'`);
      for (const r of rows) {
        const safe = r.safeTxHash ? `Safe tx ${r.safeTxHash.slice(0, 10)}… ${r.approvals}/${r.threshold}${r.safeTxExecuted ? " executed" : ""}` : "not proposed";
        const eta = r.eta ? ` ETA ${r.eta}${r.operation === "Waiting" ? ` (${formatDuration(r.secondsLeft ?? 0)} left)` : ""}` : "";
        c.out.print(`${r.id}  ${r.operation.padEnd(9)} ${safe}${eta}  next: ${r.next}  ${r.proxies.join(", ")}`);
      }
      c.out.result({ ok: true, proposals: rows });
      return 0;
    }),
};
export default command;
