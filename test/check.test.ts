import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { createRequire } from "node:module";
import { solcInputOutputDecoder } from "@openzeppelin/upgrades-core";
import { isGatehouseError } from "../src/errors.ts";
import type { Policy, PolicyRules } from "../src/policy/schema.ts";
import {
  compilerSettings,
  findContractByRuntimeCode,
  findContractRefByRuntimeCode,
  fullyQualifiedName,
  hashBuildUnits,
  lineAtByte,
  lineStarts,
  loadBuild,
  locate,
  runtimeBytecode,
  solcStorageLayout,
  sourceFileOf,
  type AstNode,
  type Build,
  type CompilationUnit,
} from "../src/check/build.ts";
import { checkProxy, describeBuild, type ProxyCheck, type ProxyFacts } from "../src/pipeline/check.ts";
import { auditUpgrade, storageLayoutOf, type AuditInput, type AuditResult, type Finding } from "../src/check/audit.ts";
import { checkReportJson, renderCheckMarkdown } from "../src/check/report.ts";
import { diskCheckCache, type ValidationStore } from "../src/check/cache.ts";

// The npm solc wrapper (the compiler hardhat.config.ts uses), for the one in-test compile of an edited contract.
const solc = createRequire(import.meta.url)("solc") as { compile(input: string): string };

const root = fileURLToPath(new URL("..", import.meta.url));
const BUILD_INFO = `${root}artifacts/build-info`;

const RULES: PolicyRules = { minDelaySeconds: 3600, minThreshold: 2, maxCodeSize: 24576, forbidden: ["selfdestruct", "delegatecall"], unsafeAllow: [], allowedLibraryCalls: [] };
const COMPILER: Policy["compiler"] = { version: "0.8.28", optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" };

/** 1-based line of the first line of a project file that contains `needle`. */
function lineOf(file: string, needle: string): number {
  const lines = readFileSync(`${root}${file}`, "utf8").split("\n");
  const i = lines.findIndex((l) => l.includes(needle));
  if (i === -1) throw new Error(`${needle} not in ${file}`);
  return i + 1;
}

function byRule(result: AuditResult, rule: string): Finding[] {
  return result.findings.filter((f) => f.rule === rule);
}

describe("check: upgrade audit", () => {
  let build: Build;
  const audit = (reference: AuditInput["reference"], target: string, over: Partial<AuditInput> = {}): AuditResult =>
    auditUpgrade({ proxy: "vault", kind: "uups", reference, target, rules: RULES, compiler: COMPILER, build, ...over });

  before(() => {
    build = loadBuild(BUILD_INFO);
  });

  describe("build adapter", () => {
    it("names the project-relative file and fully-qualified name of a contract", () => {
      expect(sourceFileOf(build, "VaultV2")).to.equal("contracts/VaultV2.sol");
      expect(sourceFileOf(build, "VaultV2Inserted")).to.equal("test/fixtures/contracts/VaultV2Inserted.sol");
      expect(fullyQualifiedName(build, "VaultV2")).to.equal("project/contracts/VaultV2.sol:VaultV2");
    });

    it("reports the solc version and settings the contract was built with", () => {
      expect(compilerSettings(build, "VaultV2")).to.deep.include({ version: "0.8.28", optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" });
    });

    it("returns runtime bytecode and solc's storage layout", () => {
      expect(runtimeBytecode(build, "VaultV1")).to.match(/^0x[0-9a-f]{200,}$/);
      expect(solcStorageLayout(build, "VaultV1")?.storage.map((s) => s.label)).to.deep.equal(["balanceOf", "totalDeposits"]);
    });

    it("rejects an unknown contract name as bad input", () => {
      expect(() => sourceFileOf(build, "NoSuchContract")).to.throw().that.satisfies((e: unknown) => isGatehouseError(e, "UNKNOWN_CONTRACT"));
    });

    it("finds VaultV1 from its runtime code: exactly, with immutables filled in, and with other metadata", () => {
      const code = runtimeBytecode(build, "VaultV1");
      expect(findContractByRuntimeCode(build, code)).to.deep.include({ contract: "VaultV1", file: "contracts/VaultV1.sol", match: "exact" });

      // On chain, UUPSUpgradeable's immutable __self holds the implementation's address.
      const unit = build.units.find((u) => u.output.contracts["project/contracts/VaultV1.sol"]);
      const refs = unit!.output.contracts["project/contracts/VaultV1.sol"].VaultV1.evm.deployedBytecode.immutableReferences ?? {};
      const chars = code.slice(2).split("");
      for (const { start, length } of Object.values(refs).flat()) {
        for (let i = 0; i < length * 2; i++) chars[start * 2 + i] = "ab"[i % 2];
      }
      const deployed = `0x${chars.join("")}`;
      expect(Object.values(refs).flat()).to.have.length.greaterThan(0);
      expect(findContractByRuntimeCode(build, deployed)).to.deep.include({ contract: "VaultV1", match: "exact-except-immutables" });

      // Same code, different metadata hash (e.g. built from a checkout with other comments).
      const cborLength = Number.parseInt(code.slice(-4), 16);
      const metadataStart = code.length - (cborLength + 2) * 2;
      const otherMetadata = code.slice(0, metadataStart + 20) + (code[metadataStart + 20] === "0" ? "1" : "0") + code.slice(metadataStart + 21);
      expect(findContractByRuntimeCode(build, otherMetadata)).to.deep.include({ contract: "VaultV1", match: "metadata-stripped" });

      expect(findContractByRuntimeCode(build, "0x6001600101")).to.equal(undefined);
      expect(findContractByRuntimeCode(build, "0x")).to.equal(undefined);
    });

    it("turns solc byte offsets into lines even after multi-byte characters", () => {
      const text = "// é€😀\nline two\nline three";
      const starts = lineStarts(text);
      const endOfLineTwo = Buffer.byteLength("// é€😀\nline two"); // the byte offset of its newline
      expect(lineAtByte(starts, 0)).to.equal(1);
      expect(lineAtByte(starts, endOfLineTwo)).to.equal(2);
      expect(lineAtByte(starts, endOfLineTwo + 1)).to.equal(3);
      // upgrades-core's own decoder slices the text by UTF-16 index, so it lands a line late here.
      const ozDecode = solcInputOutputDecoder({ sources: { "a.sol": { content: text } } }, { contracts: {}, sources: { "a.sol": { id: 0, ast: {} as never } } });
      expect(ozDecode({ src: `${endOfLineTwo}:1:0` })).to.equal("a.sol:3");
    });
  });

  describe("good upgrades", () => {
    it("VaultV1 -> VaultV2 has no findings and marks depositCap appended", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2");
      expect(r.findings).to.deep.equal([]);
      expect(r.reference).to.equal("VaultV1");
      const main = r.layoutDiff.filter((row) => row.namespace === undefined);
      expect(main.map((row) => [row.label, row.slot, row.status])).to.deep.equal([
        ["balanceOf", "0", "kept"],
        ["totalDeposits", "1", "kept"],
        ["depositCap", "2", "appended"],
      ]);
      expect(main[2]).to.deep.include({ file: "contracts/VaultV2.sol", line: lineOf("contracts/VaultV2.sol", "uint256 public depositCap;") });
      // OZ 5 parents keep their state in ERC-7201 namespaces, which the diff shows too.
      expect(r.layoutDiff.find((row) => row.label === "_owner")).to.deep.include({ namespace: "erc7201:openzeppelin.storage.Ownable", status: "kept" });
    });

    it("RegistryV1 -> RegistryV2 (transparent) has no findings and marks transfersOf appended", () => {
      const r = audit({ contract: "RegistryV1" }, "RegistryV2", { proxy: "registry", kind: "transparent" });
      expect(r.findings).to.deep.equal([]);
      const appended = r.layoutDiff.filter((row) => row.status === "appended");
      expect(appended.map((row) => row.label)).to.deep.equal(["transfersOf"]);
      expect(appended[0]).to.deep.include({ slot: "3", file: "contracts/RegistryV2.sol", line: lineOf("contracts/RegistryV2.sol", "transfersOf;") });
    });
  });

  describe("storage layout", () => {
    it("an inserted variable is a storage-layout finding at its line", () => {
      const file = "test/fixtures/contracts/VaultV2Inserted.sol";
      const r = audit({ contract: "VaultV1" }, "VaultV2Inserted");
      const layout = byRule(r, "storage-layout");
      expect(layout).to.have.length(1);
      expect(layout[0]).to.deep.include({ proxy: "vault", file, line: lineOf(file, "uint256 public depositCap;") });
      expect(layout[0].message).to.contain("depositCap");
      expect(layout[0].remedy).to.not.equal("");
      expect(r.layoutDiff.filter((row) => row.namespace === undefined).map((row) => row.status)).to.deep.equal(["inserted", "moved", "moved"]);
    });

    it("a retyped variable is a storage-layout finding at its line", () => {
      const file = "test/fixtures/contracts/VaultV2Retyped.sol";
      const r = audit({ contract: "VaultV1" }, "VaultV2Retyped");
      const layout = byRule(r, "storage-layout");
      expect(layout).to.have.length(1);
      expect(layout[0]).to.deep.include({ file, line: lineOf(file, "address public totalDeposits;") });
      expect(layout[0].message).to.contain("uint256").and.contain("address");
      expect(r.layoutDiff.find((row) => row.label === "totalDeposits")).to.deep.include({ status: "retyped", type: "address" });
    });

    it("a deleted variable is a storage-layout finding at the target contract, and a deleted row in the diff", () => {
      const r = audit({ contract: "VaultV2" }, "VaultV1");
      expect(byRule(r, "storage-layout").map((f) => [f.file, f.line])).to.deep.equal([["contracts/VaultV1.sol", lineOf("contracts/VaultV1.sol", "contract VaultV1 is")]]);
      expect(r.layoutDiff.find((row) => row.status === "deleted")).to.deep.include({
        label: "depositCap",
        type: "uint256",
        slot: "2",
        file: "contracts/VaultV2.sol",
        line: lineOf("contracts/VaultV2.sol", "uint256 public depositCap;"),
      });
    });

    it("compares against a stored layout ({ layout }) the same way, after a JSON round trip", () => {
      const stored: unknown = JSON.parse(JSON.stringify(storageLayoutOf(build, "VaultV1")));
      expect(audit({ layout: stored }, "VaultV2").findings).to.deep.equal([]);
      const bad = audit({ layout: stored }, "VaultV2Inserted");
      expect(byRule(bad, "storage-layout").map((f) => f.line)).to.deep.equal([lineOf("test/fixtures/contracts/VaultV2Inserted.sol", "depositCap;")]);
      expect(bad.reference).to.contain("VaultV1");
    });

    it("rejects a malformed stored layout as bad input", () => {
      expect(() => audit({ layout: { storage: "nope" } }, "VaultV2")).to.throw().that.satisfies((e: unknown) => isGatehouseError(e, "FILE_INVALID"));
    });
  });

  describe("unsafe constructs", () => {
    const selfdestructFile = "test/fixtures/contracts/VaultV2Selfdestruct.sol";
    const delegatecallFile = "test/fixtures/contracts/RegistryV2Delegatecall.sol";

    it("selfdestruct is both unsafe-selfdestruct and forbidden-selfdestruct at the call's line", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2Selfdestruct");
      const line = lineOf(selfdestructFile, "selfdestruct(");
      expect(byRule(r, "unsafe-selfdestruct").map((f) => [f.file, f.line])).to.deep.equal([[selfdestructFile, line]]);
      expect(byRule(r, "forbidden-selfdestruct").map((f) => [f.file, f.line])).to.deep.equal([[selfdestructFile, line]]);
      expect(byRule(r, "storage-layout")).to.deep.equal([]);
    });

    it("delegatecall is both unsafe-delegatecall and forbidden-delegatecall at the call's line", () => {
      const r = audit({ contract: "RegistryV1" }, "RegistryV2Delegatecall", { proxy: "registry", kind: "transparent" });
      const line = lineOf(delegatecallFile, ".delegatecall(");
      expect(byRule(r, "unsafe-delegatecall").map((f) => [f.file, f.line])).to.deep.equal([[delegatecallFile, line]]);
      expect(byRule(r, "forbidden-delegatecall").map((f) => [f.file, f.line])).to.deep.equal([[delegatecallFile, line]]);
    });

    it("does not flag the delegatecall inside OpenZeppelin's ERC1967Utils/Address used by every UUPS contract", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2");
      expect(r.findings.filter((f) => f.rule.includes("delegatecall"))).to.deep.equal([]);
    });

    it("unsafeAllow silences unsafe-selfdestruct but not the policy's forbidden-selfdestruct", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2Selfdestruct", { rules: { ...RULES, unsafeAllow: ["selfdestruct"] } });
      expect(byRule(r, "unsafe-selfdestruct")).to.deep.equal([]);
      expect(byRule(r, "forbidden-selfdestruct")).to.have.length(1);

      const allowedBoth = audit({ contract: "VaultV1" }, "VaultV2Selfdestruct", { rules: { ...RULES, unsafeAllow: ["selfdestruct"], forbidden: ["delegatecall"] } });
      expect(allowedBoth.findings.filter((f) => f.rule.includes("selfdestruct"))).to.deep.equal([]);
    });

    it("a @custom:oz-upgrades-unsafe-allow NatSpec the policy does not allow silences nothing and is itself a finding", () => {
      // Same build, with the NatSpec added to destroy() in the AST (as if the fixture carried it).
      const annotated: Build = structuredClone(build);
      const unit = annotated.units.find((u) => u.output.sources[`project/${selfdestructFile}`])!;
      const destroy = findNode(unit.output.sources[`project/${selfdestructFile}`].ast, (n) => n.nodeType === "FunctionDefinition" && n.name === "destroy");
      destroy.documentation = { nodeType: "StructuredDocumentation", id: 9_999_999, src: destroy.src, text: "@custom:oz-upgrades-unsafe-allow selfdestruct" };
      const r = auditUpgrade({ proxy: "vault", kind: "uups", reference: { contract: "VaultV1" }, target: "VaultV2Selfdestruct", rules: RULES, compiler: COMPILER, build: annotated });
      expect(byRule(r, "unsafe-selfdestruct").map((f) => f.line)).to.deep.equal([lineOf(selfdestructFile, "selfdestruct(")]);
      expect(byRule(r, "forbidden-selfdestruct").map((f) => f.line)).to.deep.equal([lineOf(selfdestructFile, "selfdestruct(")]);
      expect(byRule(r, "inline-unsafe-allow").map((f) => f.line)).to.deep.equal([lineOf(selfdestructFile, "function destroy")]);
    });
  });

  describe("attacks on check (each refused with file:line, rule and remedy)", () => {
    const libFile = "test/fixtures/contracts/VaultV2LibraryDelegatecall.sol";
    const inlineFile = "test/fixtures/contracts/VaultV2InlineAllow.sol";
    const openFile = "test/fixtures/contracts/VaultV2OpenUpgrade.sol";

    it("a public function reaching delegatecall through an npm library (Address, ERC1967Utils) is forbidden-delegatecall at the project's call", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2LibraryDelegatecall");
      const hits = byRule(r, "forbidden-delegatecall");
      expect(hits.map((f) => [f.file, f.line])).to.deep.equal([
        [libFile, lineOf(libFile, "Address.functionDelegateCall(")],
        [libFile, lineOf(libFile, "ERC1967Utils.upgradeToAndCall(")],
      ]);
      expect(hits[0].message).to.contain("Address.functionDelegateCall").and.contain("npm/@openzeppelin/contracts@");
      expect(hits[0].remedy).to.contain("rules.allowedLibraryCalls").and.contain("@openzeppelin/contracts/utils/Address.sol:Address.functionDelegateCall");
      // upgrades-core alone does not see it: the check is the policy's.
      expect(byRule(r, "unsafe-delegatecall")).to.deep.equal([]);
      expect(r.findings.map((f) => f.rule)).to.deep.equal(["forbidden-delegatecall", "forbidden-delegatecall"]);
    });

    it("the policy can allowlist an exact library function with a reason; the report lists what it let through", () => {
      const allowedLibraryCalls = [{ function: "@openzeppelin/contracts/utils/Address.sol:Address.functionDelegateCall", reason: "reviewed: plugin calls" }];
      const r = audit({ contract: "VaultV1" }, "VaultV2LibraryDelegatecall", { rules: { ...RULES, allowedLibraryCalls } });
      expect(byRule(r, "forbidden-delegatecall")).to.deep.equal([]);
      expect(r.allowedCalls?.filter((a) => a.reason === "reviewed: plugin calls").map((a) => a.line)).to.include(lineOf(libFile, "Address.functionDelegateCall("));
      // Another function of the same library is not covered.
      const other = [{ function: "@openzeppelin/contracts/utils/Address.sol:Address.sendValue", reason: "x" }];
      expect(byRule(audit({ contract: "VaultV1" }, "VaultV2LibraryDelegatecall", { rules: { ...RULES, allowedLibraryCalls: other } }), "forbidden-delegatecall")).to.have.length(2);
    });

    it("the legitimate UUPS upgrade path (OZ's upgradeToAndCall -> ERC1967Utils) is exempt by name and shown as such", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2");
      expect(r.findings).to.deep.equal([]);
      expect(r.allowedCalls?.map((a) => a.function)).to.deep.equal(["@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol:ERC1967Utils.upgradeToAndCall"]);
      expect(r.allowedCalls?.[0].reason).to.contain("_authorizeUpgrade");
    });

    it("an empty _authorizeUpgrade is uups-authorize-upgrade at its line, for a UUPS or a transparent proxy", () => {
      for (const kind of ["uups", "transparent"] as const) {
        const r = audit({ contract: "VaultV1" }, "VaultV2OpenUpgrade", { kind });
        expect(r.findings.map((f) => [f.rule, f.file, f.line]), kind).to.deep.equal([["uups-authorize-upgrade", openFile, lineOf(openFile, "function _authorizeUpgrade")]]);
        expect(r.findings[0].remedy).to.contain("onlyOwner");
      }
    });

    it("an _authorizeUpgrade that never checks msg.sender is a finding; onlyOwner is not", () => {
      const weakened: Build = structuredClone(build);
      const unit = weakened.units.find((u) => u.output.sources[`project/${openFile}`])!;
      const auth = findNode(unit.output.sources[`project/${openFile}`].ast, (n) => n.nodeType === "FunctionDefinition" && n.name === "_authorizeUpgrade");
      // A body that can revert but never looks at the caller: require(true).
      (auth.body as AstNode).statements = [
        { nodeType: "ExpressionStatement", id: 9_999_990, src: auth.src, expression: { nodeType: "FunctionCall", id: 9_999_991, src: auth.src, arguments: [], typeDescriptions: { typeIdentifier: "t_tuple$__$", typeString: "tuple()" }, expression: { nodeType: "Identifier", id: 9_999_992, src: auth.src, name: "require", referencedDeclaration: -18, typeDescriptions: { typeIdentifier: "t_function_require_pure$_t_bool_$returns$__$", typeString: "function (bool) pure" } } } },
      ];
      const r = auditUpgrade({ proxy: "vault", kind: "uups", reference: { contract: "VaultV1" }, target: "VaultV2OpenUpgrade", rules: RULES, compiler: COMPILER, build: weakened });
      expect(byRule(r, "uups-authorize-upgrade")[0].message).to.contain("never checks the caller");
      expect(byRule(audit({ contract: "VaultV1" }, "VaultV2"), "uups-authorize-upgrade")).to.deep.equal([]);
    });

    it("inline unsafe-allow and unsafe-allow-reachable NatSpec the policy does not allow are findings and hide nothing", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2InlineAllow");
      expect(byRule(r, "inline-unsafe-allow").map((f) => [f.line, f.message.match(/`[^`]+`/)?.[0]])).to.deep.equal([
        [lineOf(inlineFile, "unsafe-allow constructor"), "`@custom:oz-upgrades-unsafe-allow constructor`"],
        [lineOf(inlineFile, "unsafe-allow delegatecall"), "`@custom:oz-upgrades-unsafe-allow delegatecall`"],
        [lineOf(inlineFile, "unsafe-allow-reachable selfdestruct"), "`@custom:oz-upgrades-unsafe-allow-reachable selfdestruct`"],
      ]);
      // What they tried to hide is still reported, by upgrades-core and by the policy.
      expect(byRule(r, "unsafe-constructor").map((f) => f.line)).to.deep.equal([lineOf(inlineFile, "constructor()")]);
      expect(byRule(r, "unsafe-delegatecall").map((f) => f.line)).to.deep.equal([lineOf(inlineFile, ".delegatecall(")]);
      expect(byRule(r, "unsafe-selfdestruct").map((f) => f.line)).to.deep.equal([lineOf(inlineFile, "selfdestruct(")]);
      expect(byRule(r, "forbidden-selfdestruct").map((f) => f.line)).to.deep.equal([lineOf(inlineFile, "selfdestruct(")]);
      // A kind the policy allows may be annotated.
      const allowed = audit({ contract: "VaultV1" }, "VaultV2InlineAllow", { rules: { ...RULES, unsafeAllow: ["delegatecall"] } });
      expect(byRule(allowed, "inline-unsafe-allow")).to.have.length(2);
      expect(byRule(allowed, "unsafe-delegatecall")).to.deep.equal([]);
    });
  });

  describe("policy rules", () => {
    it("a maxCodeSize of 100 gives max-code-size at the contract definition", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2", { rules: { ...RULES, maxCodeSize: 100 } });
      const size = byRule(r, "max-code-size");
      expect(size).to.have.length(1);
      expect(size[0]).to.deep.include({ file: "contracts/VaultV2.sol", line: lineOf("contracts/VaultV2.sol", "contract VaultV2 is") });
      expect(size[0].message).to.contain(String((runtimeBytecode(build, "VaultV2").length - 2) / 2));
    });

    it("a different pinned solc version, optimizer or evmVersion gives compiler-pin", () => {
      const r = audit({ contract: "VaultV1" }, "VaultV2", { compiler: { ...COMPILER, version: "0.8.27" } });
      const pin = byRule(r, "compiler-pin");
      expect(pin).to.have.length(1);
      expect(pin[0]).to.deep.include({ file: "hardhat.config.ts", line: 1 });
      expect(pin[0].message).to.contain("0.8.28").and.contain("0.8.27");

      const drift = audit({ contract: "VaultV1" }, "VaultV2", { compiler: { version: "0.8.28", optimizer: { enabled: true, runs: 1000 }, evmVersion: "paris" } });
      expect(byRule(drift, "compiler-pin").map((f) => f.message)).to.have.length(2);
    });

    it("a UUPS target without upgradeToAndCall gives one uups-upgrade-function finding (not also OZ's)", () => {
      const r = audit({ contract: "RegistryV1" }, "RegistryV2", { kind: "uups" });
      expect(byRule(r, "uups-upgrade-function")).to.have.length(1);
      expect(byRule(r, "unsafe-missing-public-upgradeto")).to.deep.equal([]);
      expect(audit({ contract: "RegistryV1" }, "RegistryV2", { kind: "transparent" }).findings).to.deep.equal([]);
    });

    it("every finding names a file, a line, a rule, a message and a remedy", () => {
      const all = ["VaultV2Inserted", "VaultV2Retyped", "VaultV2Selfdestruct"].flatMap((t) => audit({ contract: "VaultV1" }, t, { rules: { ...RULES, maxCodeSize: 100 } }).findings);
      for (const f of all) {
        expect(f.file, f.rule).to.match(/^(contracts|test\/fixtures\/contracts)\/\w+\.sol$|^hardhat\.config\.ts$/);
        expect(f.line, f.rule).to.be.greaterThan(0);
        expect(f.message, f.rule).to.not.equal("");
        expect(f.remedy, f.rule).to.not.equal("");
      }
    });
  });

  describe("report", () => {
    it("renders FAIL with file:line of the offending variable, and PASS for the good pair", () => {
      const insertedLine = lineOf("test/fixtures/contracts/VaultV2Inserted.sol", "uint256 public depositCap;");
      const bad = renderCheckMarkdown([audit({ contract: "VaultV1" }, "VaultV2Inserted")], { network: "localhost", commit: "abc1234" });
      expect(bad).to.contain(`test/fixtures/contracts/VaultV2Inserted.sol:${insertedLine}`);
      expect(bad).to.contain("Result: FAIL");
      expect(bad).to.contain("storage-layout");
      expect(bad).to.contain("abc1234");
      expect(bad).to.match(/\| `depositCap` \| `uint256` \| 0 \| 0 \| \*\*inserted\*\* \|/);

      const good = renderCheckMarkdown(
        [audit({ contract: "VaultV1" }, "VaultV2"), audit({ contract: "RegistryV1" }, "RegistryV2", { proxy: "registry", kind: "transparent" })],
        { network: "localhost" },
      );
      expect(good).to.contain("Result: PASS");
      expect(good).to.not.contain("FAIL");
      expect(good).to.contain("## vault: VaultV2 (reference: VaultV1)");
      expect(good).to.match(/\| `depositCap` \| `uint256` \| 2 \| 0 \| appended \|/);
    });

    it("produces plain JSON with ok, network, commit and the proxies", () => {
      const results = [audit({ contract: "VaultV1" }, "VaultV2"), audit({ contract: "VaultV1" }, "VaultV2Retyped")];
      const json = checkReportJson(results, { network: "localhost" });
      expect(JSON.parse(JSON.stringify(json))).to.deep.equal(json);
      expect(json).to.deep.include({ ok: false, network: "localhost", commit: null });
      expect(json.proxies.map((p) => p.ok)).to.deep.equal([true, false]);
      expect(checkReportJson(results.slice(0, 1), { network: "localhost", commit: "abc" })).to.deep.include({ ok: true, commit: "abc" });
    });
  });

  it("locates AST nodes by byte offset in the real build", () => {
    const unit = build.units.find((u) => u.output.sources["project/contracts/VaultV2.sol"])!;
    const def = findNode(unit.output.sources["project/contracts/VaultV2.sol"].ast, (n) => n.nodeType === "ContractDefinition" && n.name === "VaultV2");
    expect(locate(unit, def.src as string)).to.deep.equal({ file: "contracts/VaultV2.sol", line: lineOf("contracts/VaultV2.sol", "contract VaultV2 is") });
  });
});

function findNode(root: AstNode, match: (n: AstNode) => boolean): AstNode {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v !== "object" || v === null) continue;
    if (!Array.isArray(v) && match(v as AstNode)) return v as AstNode;
    stack.push(...Object.values(v));
  }
  throw new Error("node not found");
}

describe("check: stale builds", () => {
  const VAULT_V1 = "project/contracts/VaultV1.sol";
  const POLICY = { rules: RULES, compiler: COMPILER };
  let stale: CompilationUnit;
  let edited: CompilationUnit;
  let liveCode: string;

  // What Hardhat does after an in-place edit of VaultV1.sol: it compiles only that file into a new build unit
  // and keeps the old unit (still named by the other artifacts), which holds the live VaultV1 too.
  before(() => {
    stale = loadBuild(BUILD_INFO).units.find((u) => u.output.contracts[VAULT_V1])!;
    const closure = new Set<string>();
    const visit = (name: string): void => {
      if (closure.has(name)) return;
      closure.add(name);
      for (const n of stale.output.sources[name].ast.nodes as AstNode[]) if (n.nodeType === "ImportDirective") visit(n.absolutePath as string);
    };
    visit(VAULT_V1);
    const sources = Object.fromEntries([...closure].map((n) => [n, { content: stale.input.sources[n].content! }]));
    sources[VAULT_V1].content = sources[VAULT_V1].content.replace("    mapping(address account", "    uint256 public inserted;\n    mapping(address account");
    const input = { ...stale.input, sources };
    const output = JSON.parse(solc.compile(JSON.stringify(input)));
    expect((output.errors ?? []).filter((e: { severity: string }) => e.severity === "error")).to.deep.equal([]);
    edited = { ...stale, id: "solc-0_8_28-edited", input, output, roots: [VAULT_V1] };
    // On chain, UUPSUpgradeable's immutable __self holds the implementation's address.
    const deployed = stale.output.contracts[VAULT_V1].VaultV1.evm.deployedBytecode;
    const chars = deployed.object.split("");
    for (const { start, length } of Object.values(deployed.immutableReferences ?? {}).flat()) for (let i = 0; i < length * 2; i++) chars[start * 2 + i] = "ab"[i % 2];
    liveCode = `0x${chars.join("")}`;
  });

  function facts(unit: CompilationUnit): ProxyFacts {
    const out = unit.output.contracts[VAULT_V1].VaultV1.evm.deployedBytecode;
    return {
      name: "vault",
      kind: "uups",
      proxy: "0x" + "11".repeat(20),
      liveImplementation: "0x" + "22".repeat(20),
      liveCode,
      artifact: { contractName: "VaultV1", sourceName: "contracts/VaultV1.sol", inputSourceName: VAULT_V1, buildInfoId: unit.id, deployedBytecode: `0x${out.object}`, immutableReferences: out.immutableReferences },
      target: "VaultV1",
      policyFile: "policies/default.yaml",
    };
  }

  it("the attack: resolving by name, the edited VaultV1 is compared with itself and passes", () => {
    const both: Build = { dir: BUILD_INFO, units: [stale, edited] };
    expect(auditUpgrade({ proxy: "vault", kind: "uups", reference: { contract: "VaultV1" }, target: "VaultV1", rules: RULES, compiler: COMPILER, build: both }).findings).to.deep.equal([]);
  });

  it("refused: the target comes from the artifact's build unit and the reference from the unit of the live code", () => {
    for (const units of [[stale, edited], [edited, stale]]) {
      const r = checkProxy({ dir: BUILD_INFO, units }, facts(edited), POLICY);
      expect(r).to.deep.include({ upToDate: false, build: edited.id, liveBuild: stale.id, liveContract: "VaultV1" });
      expect(r.audit!.findings.map((f) => [f.rule, f.file, f.message.includes("`inserted`")])).to.deep.equal([["storage-layout", "contracts/VaultV1.sol", true]]);
    }
    // Unedited, the same live code is up to date.
    expect(checkProxy({ dir: BUILD_INFO, units: [stale, edited] }, facts(stale), POLICY)).to.deep.include({ upToDate: true });
  });

  it("persistent caches: an edited build under the same unit id and file names is validated again and still caught", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-check-cache-"));
    try {
      const buildDir = path.join(dir, "build-info");
      mkdirSync(buildDir);
      const id = "solc-0_8_28-same-name";
      const write = (unit: CompilationUnit) => {
        writeFileSync(path.join(buildDir, `${id}.json`), JSON.stringify({ _format: "hh3-sol-build-info-1", id, solcVersion: unit.solcVersion, solcLongVersion: unit.solcLongVersion, userSourceNameMap: { "contracts/VaultV1.sol": VAULT_V1 }, input: unit.input }));
        writeFileSync(path.join(buildDir, `${id}.output.json`), JSON.stringify({ _format: "hh3-sol-build-info-output-1", id, output: unit.output }));
      };
      const cache = diskCheckCache(path.join(dir, "cache"));
      const counted = { hits: 0, puts: 0 };
      const validations: ValidationStore = {
        get: (k) => {
          const v = cache.validations.get(k);
          if (v) counted.hits++;
          return v;
        },
        put: (k, v) => (counted.puts++, cache.validations.put(k, v)),
      };
      const auditFromDisk = () => {
        const unit = loadBuild(buildDir).units[0]!;
        expect(hashBuildUnits(buildDir)).to.deep.equal([{ file: `${id}.json`, contentHash: unit.contentHash }]);
        const target = { name: "VaultV1", sourceName: VAULT_V1, file: "contracts/VaultV1.sol", fullyQualifiedName: `${VAULT_V1}:VaultV1`, unit, output: unit.output.contracts[VAULT_V1]!.VaultV1! };
        const r = auditUpgrade({ proxy: "vault", kind: "uups", reference: { contract: findContractRefByRuntimeCode({ dir: BUILD_INFO, units: [stale] }, liveCode)!.ref }, target, rules: RULES, compiler: COMPILER, build: { dir: buildDir, units: [unit] }, validations });
        return { unit, findings: r.findings.map((f) => f.rule) };
      };
      write(stale);
      const honest = auditFromDisk();
      expect(honest.findings).to.deep.equal([]);
      // Another process, same bytes: the run comes from the cache.
      const again = auditFromDisk();
      expect(again.findings).to.deep.equal([]);
      expect(counted.hits).to.be.greaterThan(0);
      // The same id and file names, edited content (a variable inserted): a new key, validated again, caught.
      write(edited);
      const puts = counted.puts;
      const changed = auditFromDisk();
      expect(changed.unit.contentHash).to.not.equal(honest.unit.contentHash);
      expect(counted.puts).to.be.greaterThan(puts);
      expect(changed.findings).to.deep.equal(["storage-layout"]);
      // A corrupted entry is ignored, never trusted.
      for (const f of readdirSync(path.join(dir, "cache", "check-validations"))) writeFileSync(path.join(dir, "cache", "check-validations", f), "{}");
      expect(auditFromDisk().findings).to.deep.equal(["storage-layout"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refused with a remedy when the build of the live code or of the artifact is not in artifacts/", () => {
    const onlyEdited = checkProxy({ dir: BUILD_INFO, units: [edited] }, facts(edited), POLICY);
    expect(onlyEdited.audit!.findings.map((f) => [f.rule, f.file, f.line])).to.deep.equal([["build-unit-missing", "policies/default.yaml", 1]]);
    expect(onlyEdited.audit!.findings[0].remedy).to.contain("unchanged").and.contain("npx hardhat clean");

    const noArtifactBuild = checkProxy({ dir: BUILD_INFO, units: [stale] }, facts(edited), POLICY);
    expect(noArtifactBuild.audit!.findings.map((f) => f.rule)).to.deep.equal(["build-unit-missing"]);
    expect(noArtifactBuild.audit!.findings[0].message).to.contain(edited.id);
  });
});

describe("check: what it compiled", () => {
  it("names the sources compiled and the build each proxy was audited from", () => {
    const proxies = [{ name: "vault", target: "VaultV2", build: "solc-b", liveBuild: "solc-a" }] as ProxyCheck[];
    expect(describeBuild({ compiled: true, seconds: 5.25, units: [{ id: "solc-b", sources: ["contracts/VaultV2.sol"] }] }, proxies)).to.deep.equal([
      "Build: compiled in 5.3 s: contracts/VaultV2.sol -> solc-b",
      "Audited: vault: VaultV2 from build solc-b, live code from build solc-a",
    ]);
    expect(describeBuild({ compiled: true, seconds: 1, units: [] }, [])).to.deep.equal(["Build: compiled in 1.0 s, nothing changed since the last build"]);
    expect(describeBuild({ compiled: false, units: [] }, [])[0]).to.contain("not compiled");
  });
});
