import path from "node:path";
import { GatehouseError } from "../../errors.ts";
import { buildSite, writeNetworksIndex } from "../../site/build.ts";
import type { Command } from "../main.ts";

const usage = "site --out DIR [--db FILE] [--repository URL] [--network-list A,B]";

/** The repository's web address for commit and compare links: the flag, else the one GitHub Actions sets. */
export function repositoryUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (flag !== undefined) {
    if (!/^https:\/\/[A-Za-z0-9.-]+\/[\w.-]+\/[\w.-]+$/.test(flag)) throw new GatehouseError("USAGE", { message: `--repository '${flag}': expected https://HOST/OWNER/NAME (usage: gatehouse ${usage})` });
    return flag;
  }
  const repo = env.GITHUB_REPOSITORY;
  const server = env.GITHUB_SERVER_URL ?? "https://github.com";
  return repo && /^[\w.-]+\/[\w.-]+$/.test(repo) && /^https:\/\/[A-Za-z0-9.-]+$/.test(server) ? `${server}/${repo}` : undefined;
}

const command: Command = {
  summary: "build the static community review site (index, one page per operation, Atom feed, operations.json) from the watcher's ledger",
  usage,
  options: { out: { type: "string" }, db: { type: "string" }, repository: { type: "string" }, "network-list": { type: "string" } },
  flags: {
    out: { value: "DIR", help: "the folder to write the site to (publishable as it is, e.g. on GitHub Pages)" },
    db: { value: "FILE", help: "the watcher's ledger (SQLite)", default: ".gatehouse/watch-<network>.sqlite" },
    repository: { value: "URL", help: "the repository's web address, for commit and compare links", default: "$GITHUB_SERVER_URL/$GITHUB_REPOSITORY in GitHub Actions, else none" },
    "network-list": { value: "A,B", help: "a site of several networks: this network's site goes to DIR/<network>/ and DIR/index.html links every listed network", default: "one network, in DIR" },
  },
  run: async (c) => {
    const out = c.flags.out as string | undefined;
    if (!out) throw new GatehouseError("USAGE", { message: `--out DIR is required (usage: gatehouse ${usage})` });
    const db = (c.flags.db as string | undefined) ?? path.join(c.root, ".gatehouse", `watch-${c.network}.sqlite`);
    const repository = repositoryUrl(c.flags.repository as string | undefined);
    const list = c.flags["network-list"] as string | undefined;
    const networks = list === undefined ? undefined : list.split(",").map((n) => n.trim()).filter((n) => n !== "");
    if (networks && (networks.length === 0 || networks.some((n) => !/^[\w.-]+$/.test(n) || n === "." || n === "..") || !networks.includes(c.network))) {
      throw new GatehouseError("USAGE", { message: `--network-list '${list}': expected comma-separated network names that include '${c.network}' (usage: gatehouse ${usage})` });
    }
    if (networks) writeNetworksIndex(out, networks);
    const r = buildSite({ ledger: db, root: c.root, network: c.network, out: networks ? path.join(out, c.network) : out, ...(repository ? { repository } : {}) });
    for (const p of r.problems) c.out.log(`signer packet not used: ${p}`);
    c.out.print(`wrote the review site of '${c.network}' to ${out}: ${r.entries} operation(s) and alert(s), ${r.written} file(s) written, ${r.unchanged} page(s) unchanged`);
    c.out.result({ ok: true, ...r });
    return 0;
  },
};
export default command;
