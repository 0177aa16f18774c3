/**
 * The package as a user's app meets it (test/helpers/app.ts): built, installed beside its peers, imported by its
 * published entry points from a project with `strict` and `declaration: true`. That app type-checks clean (no
 * TS2742: every type a call gives can be named from an entry point) and runs the guide; and every ```ts snippet of
 * README.md and docs/*.md compiles in it, the runnable ones run.
 *
 * A snippet is a complete program unless an HTML comment on the line before its fence says otherwise:
 *
 *     <!-- snippet: typecheck (why it is not run) [wrap=gen|wrap=async]
 *     code put before the snippet: the imports and `declare const`s of what it takes from the text around it
 *     -->
 *
 * `wrap=gen` puts the snippet inside `Effect.gen(function*() { … })` (a fragment with `yield*`), `wrap=async` inside
 * an async function (a fragment with `return`). `skip (why)` leaves a snippet out; keep those few.
 */
import { spawn } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type App, makeApp, root } from "./helpers/app.js"

interface Snippet {
  readonly name: string
  readonly where: string
  readonly mode: "run" | "typecheck" | "skip"
  readonly reason: string
  readonly source: string
}

/** Every ```ts block of README.md and docs/*.md, with what its marker says. */
const snippets = (): ReadonlyArray<Snippet> => {
  const files = ["README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)]
  return files.flatMap((file) => {
    const text = readFileSync(join(root, file), "utf8")
    return [...text.matchAll(/(?:<!-- snippet: ([^\n]*)\n?([\s\S]*?)-->\n)?```ts\n([\s\S]*?)^```/gm)].map((match): Snippet => {
      const line = text.slice(0, match.index! + match[0].indexOf("```ts")).split("\n").length
      const header = match[1]?.trim() ?? "run"
      const mode = header.startsWith("skip") ? "skip" : header.startsWith("typecheck") ? "typecheck" : "run"
      const prelude = match[2] ?? ""
      const body = match[3]!
      const wrapped = header.includes("wrap=gen")
        ? `export const fragment = Effect.gen(function*() {\n${body}})\n`
        : header.includes("wrap=async")
        ? `export async function fragment() {\n${body}}\n`
        : body
      const name = `${file.replace(/^docs\//, "").replace(/\.md$/, "")}-L${line}`
      return { name, where: `${file}:${line}`, mode, reason: header, source: `${prelude}${wrapped}\nexport {}\n` }
    })
  })
}

/** Runs a compiled file of the app with node; resolves with its exit code and output, killing it after `timeoutMs`. */
const run = (app: App, file: string, timeoutMs: number) =>
  new Promise<{ readonly code: number | null; readonly output: string }>((resolve) => {
    const child = spawn(process.execPath, [file], { cwd: app.dir, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const timer = setTimeout(() => {
      output += `\n(killed: still running after ${timeoutMs} ms)`
      child.kill("SIGKILL")
    }, timeoutMs)
    child.on("exit", (code) => {
      clearTimeout(timer)
      resolve({ code, output })
    })
  })

const all = snippets()
let app: App
let diagnostics: ReadonlyArray<string> = []

beforeAll(() => {
  app = makeApp()
  // The guide's "Putting it together", as docs/examples has it, and an Effect app exporting what it infers.
  app.write("src/putting-it-together.ts", readFileSync(join(root, "docs/examples/putting-it-together.ts"), "utf8"))
  app.write(
    "src/effect-app.ts",
    `import { Effect, Layer } from "effect"
import { Calls, Crypto, Devnet, Sessions, STARKNET_CONTRACTS, Transactions } from "starknet-session-keys"
import { serve } from "starknet-session-keys/devnet/server"

export const layer = Layer.mergeAll(Devnet.layer({ blockTime: "20 millis" }), Crypto.layer, Sessions.layer)
export const program = Effect.gen(function*() {
  const devnet = yield* Devnet.Devnet
  const wallet = yield* devnet.createWallet({ encryptKey: "1234", fund: { USDC: 5_000_000n } })
  const session = yield* Sessions.createSessionKey({ encryptKey: "1234", durationSeconds: 3600 })
  yield* Sessions.registerAndWait({
    encryptKey: "1234",
    wallet,
    sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5 }
  })
  const call = yield* Calls.transfer({ token: STARKNET_CONTRACTS.USDC.contractAddress, to: "0x123", amount: 1_000n })
  const receipt = yield* Sessions.executeAndWait({ encryptKey: "1234", wallet, session, calls: [call] })
  const data = yield* Sessions.getSessionData({ walletAddress: wallet.publicKey, sessionPublicKey: session.publicKey })
  const status = yield* Transactions.getStatus(receipt.transactionHash)
  return { wallet, session, receipt, data, status }
})
export const execute = Sessions.execute
export const waitFor = (txHash: string) => Transactions.wait(txHash)
export const served = serve({ port: 0 })
`
  )
  app.write(
    "src/promise-app.ts",
    `import { createClient } from "starknet-session-keys/promise"

export const sdk = createClient()
export const receiptOf = (txHash: string) => sdk.waitForTransaction(txHash)
export const statusOf = (txHash: string) => sdk.getTransactionStatus({ txHash })
export const sessionOf = (walletAddress: string, sessionPublicKey: string) => sdk.sessions.getSessionData({ walletAddress, sessionPublicKey })
export const newKey = () => sdk.sessions.createSessionKey({ encryptKey: "1234" })
export const wallet = () => sdk.devnet!.createWallet({ encryptKey: "1234" })
export const automations = () => sdk.automations({ serverKey: "k" })
`
  )
  for (const snippet of all) if (snippet.mode !== "skip") app.write(`src/snippets/${snippet.name}.ts`, snippet.source)
  diagnostics = app.compile()
}, 600_000)

afterAll(() => app?.remove())

describe("an app with strict and declaration: true", () => {
  it("type-checks clean: every inferred type of the API can be named from an entry point (no TS2742)", () => {
    expect(diagnostics.filter((d) => !d.startsWith("src/snippets/"))).toEqual([])
    const declarations = ["effect-app", "promise-app", "putting-it-together"].map((f) => readFileSync(join(app.dir, "out", `${f}.d.ts`), "utf8"))
    for (const text of declarations) expect(text).not.toContain("node_modules")
  })

  it("runs the guide's \"Putting it together\" on the embedded devnet from the built package", async () => {
    const { code, output } = await run(app, "out/putting-it-together.js", 90_000)
    expect(output).toMatch(/sent: 0x[0-9a-f]+ \(SUCCEEDED\)/)
    expect(code, output).toBe(0)
  }, 120_000)
})

describe("the docs' snippets", () => {
  it("are few that are skipped, each with a reason", () => {
    const skipped = all.filter((s) => s.mode === "skip")
    expect(skipped.length).toBeLessThanOrEqual(2)
    for (const s of skipped) expect(s.reason, s.where).toMatch(/^skip \(.+\)/)
    for (const s of all.filter((s) => s.mode === "typecheck")) expect(s.reason, s.where).toMatch(/^typecheck \(.+\)/)
    expect(all.length).toBeGreaterThan(20)
  })

  // Side by side: most of a run is waiting for the devnet's blocks.
  for (const snippet of all.filter((s) => s.mode !== "skip")) {
    it.concurrent(`${snippet.where} compiles${snippet.mode === "run" ? " and runs" : ""}`, async () => {
      expect(diagnostics.filter((d) => d.startsWith(`src/snippets/${snippet.name}.ts`))).toEqual([])
      if (snippet.mode !== "run") return
      const { code, output } = await run(app, `out/snippets/${snippet.name}.js`, 60_000)
      expect(code, output).toBe(0)
    }, 90_000)
  }
})
