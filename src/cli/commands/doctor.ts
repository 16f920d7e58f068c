import type { Command } from "../main.ts";
import { finding } from "../output.ts";
import { withSetup } from "../chain.ts";
import { diagnose, expectationOf, pauseRoles, readTopology } from "../../pipeline/doctor.ts";
import { GatehouseError } from "../../errors.ts";

const command: Command = {
  summary: "verify the on-chain governance topology against the policy (exit 1 on drift)",
  usage: "doctor [--network NAME] [--json]",
  run: (c) =>
    withSetup(c, async (setup) => {
      const view = await readTopology(setup);
      const want = expectationOf(setup);
      const drifts = diagnose(want, view);
      const pause = pauseRoles(view, want.guardians);
      for (const line of pause) c.out.print(line);
      for (const d of drifts) c.out.print(`DRIFT ${d.rule}: ${d.message}\n      fix: ${d.remedy}`);
      if (drifts.length === 0) c.out.print(`governance on '${c.network}' matches the policy`);
      c.out.result({ ok: drifts.length === 0, drifts, pause });
      if (drifts.length === 0) return 0;
      return finding(new GatehouseError("DRIFT", { count: drifts.length, network: c.network }));
    }),
};
export default command;
