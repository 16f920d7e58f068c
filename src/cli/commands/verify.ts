import type { Command } from "../main.ts";
import { finding } from "../output.ts";
import { requireArg } from "../main.ts";
import { withSetup } from "../chain.ts";
import { verify } from "../../pipeline/verify.ts";
import { GatehouseError } from "../../errors.ts";

const usage = "verify <proposal|operationId> [--current-build]";
const command: Command = {
  summary: "recompute calldata, salt, operation id and Safe hashes, and compare each new implementation with the build at the proposal's commit",
  usage,
  options: { "current-build": { type: "boolean" } },
  flags: { "current-build": { help: "compare with the current build instead of the build at the proposal's commit", default: "off" } },
  run: (c) =>
    withSetup(c, async (setup) => {
      const ref = requireArg(c, 0, "the proposal (id, operation id or file)", usage);
      const r = await verify({ setup, proposal: ref, atCommit: !c.flags["current-build"] });
      for (const k of r.checks) c.out.print(`${k.ok ? "ok  " : "FAIL"} ${k.name}: ${k.detail}`);
      const failed = r.checks.filter((k) => !k.ok);
      c.out.result({ ok: failed.length === 0, proposal: r.record.id, checks: r.checks });
      if (failed.length === 0) return 0;
      return finding(new GatehouseError("VERIFY_FAILED", { count: failed.length, what: `proposal ${r.record.id}` }));
    }),
};
export default command;
