import { expect } from "chai";
import { readFileSync } from "node:fs";

describe("set-up a newcomer can trust", () => {
  it("package-lock.json lists every EDR platform package, so `npm ci` accepts it on a fresh machine", () => {
    // npm drops optional platform packages the registry cannot serve from the lock file, and `npm ci`
    // then refuses the lock as out of sync. Each must have an entry (only this platform's is installed).
    const lock = JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, { optionalDependencies?: Record<string, string>; version?: string }> };
    const edr = lock.packages["node_modules/@nomicfoundation/edr"]!;
    for (const [name, version] of Object.entries(edr.optionalDependencies ?? {})) {
      expect(lock.packages[`node_modules/${name}`]?.version, name).to.equal(version);
    }
  });

  it("asks for the Node that runs the .ts sources without a flag (22.18; Hardhat 3 alone needs 22.13)", () => {
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { engines: { node: string }; type: string };
    expect(pkg.engines.node).to.equal(">=22.18");
    expect(pkg.type).to.equal("module");
    expect(readFileSync(".nvmrc", "utf8").trim()).to.equal("24");
  });
});
