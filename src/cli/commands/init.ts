import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import type { Command } from "../main.ts";
import { finding } from "../output.ts";
import { connect, projectBuildConfig } from "../../chain/context.ts";
import { GatehouseError, isGatehouseError } from "../../errors.ts";
import { displayPath, writeFileAtomic } from "../../fs/atomic.ts";
import { discover } from "../../init/discover.ts";
import { adaptWorkflow, defaultEvmVersion, parseProxyFlags, renderPolicyYaml, renderWorkflowConfig, WORKFLOWS } from "../../init/render.ts";
import { loadSetup } from "../../pipeline/setup.ts";
import { doctor } from "../../pipeline/doctor.ts";

import { packageRoot } from "../../package-root.ts";

const command: Command = {
  summary: "add Gatehouse to this Hardhat 3 project: policy (read from the chain), workflows, .github/gatehouse.json; then doctor",
  usage: "init [--network NAME] [--safe ADDR --timelock ADDR] [--proxy NAME=ADDR ...] [--force]",
  options: { safe: { type: "string" }, timelock: { type: "string" }, proxy: { type: "string", multiple: true }, force: { type: "boolean" } },
  flags: {
    safe: { value: "ADDR", help: "the existing Safe that proposes (its owners and threshold are read from the chain)", default: "on a dev chain: Hardhat's accounts 1-3, deployed by `gatehouse deploy`" },
    timelock: { value: "ADDR", help: "the existing TimelockController (its delay and role holders are read from the chain)", default: "with --safe: required" },
    proxy: { value: "NAME=ADDR", help: "an existing governed proxy: kind, implementation and the project contract it runs are read from the chain", default: "the project's contracts with initialize(), as new proxies" },
    force: { help: "overwrite files that exist", default: "off: existing files are kept" },
  },
  run: async (c) => {
    const force = c.flags.force === true;
    const proxies = parseProxyFlags((c.flags.proxy as unknown as string[] | undefined) ?? [], (value, reason) => new GatehouseError("INIT_PROXY_FLAG", { value, reason }));
    for (const [flag, value] of [["--safe", c.flags.safe], ["--timelock", c.flags.timelock]] as const) {
      if (value !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(String(value))) throw new GatehouseError("ADDRESS_INVALID", { what: flag, value: String(value) });
    }
    const build = projectBuildConfig();
    const policyFile = path.join(c.root, "policies", `${c.network}.yaml`);

    // Each file: written when absent (or with --force), else kept; the run says which.
    const written: string[] = [];
    const kept: string[] = [];
    const put = (file: string, text: () => string) => {
      if (existsSync(file) && !force) {
        kept.push(file);
        c.out.log(`kept ${displayPath(file)} (exists; --force overwrites it)`);
        return;
      }
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, text());
      written.push(file);
      c.out.log(`wrote ${displayPath(file)}`);
    };

    const ctx = await connect(c.network);
    try {
      if (!existsSync(policyFile) || force) {
        const project = await discover({
          ctx,
          network: c.network,
          safe: c.flags.safe as string | undefined,
          timelock: c.flags.timelock as string | undefined,
          proxies,
          compiler: {
            version: build.compiler.version,
            optimizer: { enabled: build.compiler.optimizer?.enabled ?? false, runs: build.compiler.optimizer?.runs ?? 200 },
            evmVersion: build.compiler.evmVersion ?? defaultEvmVersion(build.compiler.version),
          },
        });
        put(policyFile, () => renderPolicyYaml(project));
      } else put(policyFile, () => "");
      const pkg = packageRoot();
      put(path.join(c.root, "policies", "policy.schema.json"), () => readFileSync(path.join(pkg, "policies", "policy.schema.json"), "utf8"));
      const workflowsDir = path.join(pkg, ".github", "workflows");
      const shipped = new Set(readdirSync(workflowsDir));
      for (const w of WORKFLOWS.filter((w) => shipped.has(w.source))) {
        put(path.join(c.root, ".github", "workflows", w.target), () => adaptWorkflow(readFileSync(path.join(workflowsDir, w.source), "utf8")));
      }
      put(path.join(c.root, ".github", "gatehouse.json"), () => renderWorkflowConfig({ network: c.network, chainId: Number(ctx.chainId), sources: build.sources }));

      // doctor: the policy against the chain, once the governance is deployed (or adopted) on this network.
      let doctorResult: { ran: boolean; drifts: { rule: string; message: string; remedy: string }[]; next?: string } = { ran: false, drifts: [] };
      try {
        const drifts = await doctor(loadSetup(ctx, c.root));
        doctorResult = { ran: true, drifts };
        for (const d of drifts) c.out.print(`DRIFT ${d.rule}: ${d.message}\n      fix: ${d.remedy}`);
        c.out.print(drifts.length === 0 ? `doctor: governance on '${c.network}' matches the policy` : `doctor: ${drifts.length} drift(s) on '${c.network}'`);
      } catch (e) {
        if (!isGatehouseError(e, "NOT_DEPLOYED")) throw e;
        doctorResult.next = `gatehouse deploy --network ${c.network}`;
        c.out.print(`doctor: nothing deployed on '${c.network}' yet; next: \`${doctorResult.next}\`${c.flags.safe ? " (it adopts the Safe, the timelock and the proxies of the policy)" : ""}`);
      }
      c.out.print(`init: wrote ${written.length} file(s), kept ${kept.length}`);
      c.out.result({ ok: doctorResult.drifts.length === 0, written: written.map(displayPath), kept: kept.map(displayPath), doctor: doctorResult });
      if (doctorResult.drifts.length > 0) return finding(new GatehouseError("DRIFT", { count: doctorResult.drifts.length, network: c.network }));
      return 0;
    } finally {
      await ctx.close();
    }
  },
};
export default command;
