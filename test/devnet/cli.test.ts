/**
 * The devnet's command line (`starknet-session-keys-devnet`, from source through tsx), and the root entry
 * loading no HTTP server.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { parseArgs, UsageError } from "../../src/devnet/args.js"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
const tsx = path.join(root, "node_modules/.bin/tsx")
const cli = path.join(root, "src/devnet/cli.ts")

const run = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(tsx, [cli, ...args], { cwd: root, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr }))
  })

describe("the devnet's command line", () => {
  it("every flag is checked: a bad one is a UsageError naming it", () => {
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["--port", "abc"], "--port: expected an integer from 0 to 65535, got \"abc\""],
      [["--port", "70000"], "--port: expected an integer"],
      [["--port=1.5"], "--port: expected an integer"],
      [["--block-time", "-5"], "--block-time: expected an integer from 1 to 3600000, got \"-5\""],
      [["--block-time", "0"], "--block-time: expected an integer from 1"],
      [["--max-batch", "1e9"], "--max-batch: expected an integer"],
      [["--bogus"], "unknown option --bogus"],
      [["--port"], "--port needs a value"],
      [["--port", "1", "--port", "2"], "--port given twice"],
      [["--host", ""], "--host needs a value"],
      [["--execution-error", "deep"], "--execution-error: expected one of nested, wrapped, flat, avnu"],
      [["--caller-mode", "me"], "--caller-mode: expected one of any, relayer"],
      [["--profile", "mainnet"], "--profile: expected one of instant, network"],
      [["--latest-lag", "1.5"], "--latest-lag: expected an integer from 0 to 60000"],
      [["--duplicate-filter", "-1"], "--duplicate-filter: expected an integer"],
      [["--paymaster-errors", "starknet"], "--paymaster-errors: expected one of snip29, avnu"],
      [["--time-bounds", "block"], "--time-bounds: expected one of devnet, avnu"],
      [["stray"], "unexpected argument"]
    ]
    for (const [argv, message] of cases) {
      let thrown: unknown
      try {
        parseArgs(argv)
      } catch (e) {
        thrown = e
      }
      expect([argv, thrown instanceof UsageError && thrown.message]).toEqual([argv, expect.stringContaining(message)])
    }
    expect(parseArgs(["--port=0", "--host", "::1", "--max-body-bytes", "2048"])).toEqual({ help: false, flags: { port: 0, host: "::1", "max-body-bytes": 2048 } })
    expect(parseArgs(["--port", "x", "-h"])).toEqual({ help: true })
    expect(parseArgs(["--profile", "network", "--latest-lag", "2000", "--submission-hidden=0", "--candidate-for", "250", "--duplicate-filter", "0"])).toEqual({
      help: false,
      flags: { profile: "network", "latest-lag": 2000, "submission-hidden": 0, "candidate-for": 250, "duplicate-filter": 0 }
    })
  })

  it("--help prints the usage; a bad flag is one line on stderr and exit code 2, never a stack", async () => {
    const [help, bad] = await Promise.all([run(["--help"]), run(["--port", "abc"])])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain("Usage: starknet-session-keys-devnet")
    for (const flag of ["--port", "--host", "--block-time", "--admin-key", "--paymaster-api-key", "--max-body-bytes", "--max-batch", "--profile", "--latest-lag", "--submission-hidden", "--candidate-for", "--duplicate-filter", "--paymaster-errors", "--time-bounds"]) {
      expect(help.stdout).toContain(flag)
    }
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe("starknet-session-keys-devnet: --port: expected an integer from 0 to 65535, got \"abc\"\n")
  }, 60_000)

  it("a busy port, and a bind beyond loopback without an admin key, are one line and exit code 1", async () => {
    const busy = net.createServer()
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve))
    const port = (busy.address() as net.AddressInfo).port
    try {
      const [taken, open] = await Promise.all([run(["--port", String(port)]), run(["--host", "0.0.0.0", "--port", "0"])])
      expect(taken.code).toBe(1)
      expect(taken.stderr.trim()).toBe(`starknet-session-keys-devnet: port ${port} on 127.0.0.1 is already in use (choose another with --port, or --port 0 for a free one)`)
      expect(open.code).toBe(1)
      expect(open.stderr).toContain("without an admin key")
      expect(open.stderr.trim().split("\n")).toHaveLength(1)
    } finally {
      busy.close()
    }
  }, 60_000)
})

describe("entry points", () => {
  /** The relative imports reachable from a source file (static imports and re-exports). */
  const reachable = (entry: string) => {
    const seen = new Set<string>()
    const external = new Set<string>()
    const visit = (file: string) => {
      if (seen.has(file)) return
      seen.add(file)
      const text = fs.readFileSync(file, "utf8")
      for (const m of text.matchAll(/^(?:import|export)\s(?!type\b)[^"']*?from\s+["']([^"']+)["']/gm)) {
        const spec = m[1]!
        if (spec.startsWith(".")) visit(path.resolve(path.dirname(file), spec.replace(/\.js$/, ".ts")))
        else external.add(spec)
      }
    }
    visit(path.join(root, entry))
    return { files: [...seen].map((f) => path.relative(root, f)), external: [...external] }
  }

  it("the root entry reaches no HTTP server code and no @effect/platform-node; the server entry does the serving", () => {
    const lib = reachable("src/index.ts")
    expect(lib.files).toContain("src/Devnet.ts")
    expect(lib.files.filter((f) => f.startsWith("src/devnet/server/"))).toEqual([])
    expect(lib.external.filter((e) => e === "node:http" || e.startsWith("@effect/platform-node"))).toEqual([])
    const server = reachable("src/DevnetServer.ts")
    expect(server.files).toContain("src/devnet/server/http.ts")
    expect(server.external).toContain("node:http")
  })
})
