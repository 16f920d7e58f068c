import type { Command } from "../main.ts";
import { requireArg } from "../main.ts";
import { withSetup } from "../chain.ts";
import { stageRollback } from "../../pipeline/rollback.ts";
import { GatehouseError } from "../../errors.ts";

const usage = "rollback <proposal> [--network NAME] [--delay SECONDS]";
const command: Command = {
  summary: "stage the rollback plan of an executed proposal as a new proposal (then propose, sign, execute as usual)",
  usage,
  options: { delay: { type: "string" } },
  flags: { delay: { value: "SECONDS", help: "the timelock delay of the rollback operation (at least the policy minimum)", default: "the policy's governance.delaySeconds" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const proposal = requireArg(c, 0, "the proposal to roll back (id, operation id or record path)", usage);
      const delayFlag = c.flags.delay as string | undefined;
      if (delayFlag !== undefined && !/^\d+$/.test(delayFlag)) throw new GatehouseError("USAGE", { message: `--delay ${delayFlag}: expected a whole number of seconds` });
      const r = await stageRollback({ setup, proposal, delaySeconds: delayFlag === undefined ? undefined : Number(delayFlag), log: (l) => c.out.log(l) });
      const left = Object.entries(r.leftInStorage).filter(([, rows]) => rows.length > 0);
      c.out.print(
        [
          `${r.created ? "staged" : "already staged"} rollback of proposal ${r.record.rollbackOf!.proposal}: ${r.file}`,
          `  operation id ${r.record.operationId}`,
          ...r.record.operations.map((o) => `  ${o.proxy}: back to ${o.newImplementation} (${o.contract})`),
          ...left.map(([proxy, rows]) => `  ${proxy}: left in storage, unused by the old code: ${rows.map((x) => `${x.label} (${x.type}, slot ${x.slot})`).join(", ")}`),
          `  next: gatehouse propose ${r.record.id} --network ${c.network}`,
        ].join("\n"),
      );
      c.out.result({ ok: true, proposal: { file: r.file, record: r.record, created: r.created }, leftInStorage: r.leftInStorage });
      return 0;
    }),
};
export default command;
