/**
 * The served devnet (the CLI in its own process) under 100,000 hostile requests (test/helpers/hostile.ts: random
 * JSON, deep nesting, wide arrays, long strings, malformed bodies, on every method and REST route) from 32 clients,
 * while a probe in a third process asks `starknet_blockNumber` every 100 ms. Prints the answers by status, whether the
 * server lived, the probe's latencies (p50, p99, max), the server's CPU per request, its own event-loop delay and GC pauses (from
 * `_loop-delay.mjs`, preloaded), with its turns over 100 ms and how many of those it had under half the CPU in
 * (starved: the machine was not running it). A probe late while the server's loop was not, or in a starved turn, is
 * the machine, not the server.
 * `FUZZ_REQUESTS`, `FUZZ_CLIENTS`, `FUZZ_SEED` change the run; `FUZZ_PROFILE=<dir>` writes the server's CPU profile.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { generator, servedMethods } from "../helpers/hostile.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")

/** The probe: its own process, one `starknet_blockNumber` every 100 ms until SIGTERM; prints `[ms, latencyMs, ok]` rows. */
const probeSource = `
const url = process.argv[1]
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_blockNumber" })
const rows = []
let stop = false
process.on("SIGTERM", () => { stop = true })
;(async () => {
  await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body }).then((r) => r.json()).catch(() => undefined)
  const t0 = performance.now()
  while (!stop) {
    const start = performance.now()
    let ok = false
    try {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(5000) })
      ok = typeof (await r.json()).result === "number"
    } catch {}
    rows.push([Math.round(start - t0), performance.now() - start, ok])
    await new Promise((res) => setTimeout(res, 100))
  }
  process.stdout.write(JSON.stringify(rows))
})()
`

export const run = async () => {
  const total = Number(process.env["FUZZ_REQUESTS"] ?? "100000")
  const clients = Number(process.env["FUZZ_CLIENTS"] ?? "32")
  const next = generator(Number(process.env["FUZZ_SEED"] ?? "2026"), await Effect.runPromise(servedMethods))
  const built = path.join(root, "dist/devnet/cli.js")
  const profile = process.env["FUZZ_PROFILE"] ? ["--cpu-prof", "--cpu-prof-dir=" + process.env["FUZZ_PROFILE"]] : []
  const entry = [...profile, ...(fs.existsSync(built) ? [built] : ["--import", "tsx", path.join(root, "src/devnet/cli.ts")])]
  const server = spawn(process.execPath, ["--import", path.join(here, "_loop-delay.mjs"), ...entry, "--port", "0", "--block-time", "1000"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let serverErr = ""
  server.stderr.on("data", (c: Buffer) => (serverErr += c.toString()))
  let exitCode: number | null | undefined
  server.on("exit", (code) => (exitCode = code))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    server.stdout.on("data", (c: Buffer) => {
      out += c.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    server.on("exit", (code) => reject(new Error(`the server exited (${code})`)))
  })
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
  const probe = spawn(process.execPath, ["-e", probeSource, url], { stdio: ["ignore", "pipe", "inherit"] })
  let probeOut = ""
  probe.stdout.on("data", (c: Buffer) => (probeOut += c.toString()))
  const probed = new Promise<Array<[number, number, boolean]>>((resolve) => probe.on("exit", () => resolve(JSON.parse(probeOut || "[]"))))
  await new Promise((r) => setTimeout(r, 500))

  const statuses = new Map<string, number>()
  let sent = 0
  let bytes = 0
  const start = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    while (sent < total && exitCode === undefined) {
      sent++
      const r = next()
      bytes += r.body.length
      const status = await new Promise<string>((resolve) => {
        const req = http.request(new URL(r.path, url), { method: r.method, agent, headers: { "content-type": "application/json" } }, (res) => {
          res.resume()
          res.on("end", () => resolve(String(res.statusCode)))
          res.on("error", () => resolve("reset"))
        })
        req.setTimeout(30_000, () => req.destroy())
        req.on("error", () => resolve("reset"))
        req.end(r.body)
      })
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  }))
  const seconds = (performance.now() - start) / 1000
  probe.kill("SIGTERM")
  const rows = await probed
  const alive = exitCode === undefined
  const exited = new Promise((r) => (exitCode === undefined ? server.once("exit", r) : r(undefined)))
  server.kill("SIGTERM")
  await exited
  agent.destroy()

  const sorted = rows.map((r) => r[1]).sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  console.log(`${sent} hostile requests from ${clients} clients in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s, ${(bytes / 1e6).toFixed(0)} MB); server ${alive ? "alive" : `exited (${exitCode})`}`)
  console.log(`  answers by HTTP status: ${[...statuses].sort().map(([s, n]) => `${s} ${n}`).join(", ")}`)
  console.log(`  starknet_blockNumber probe: ${sorted.length} answers, ${rows.filter((r) => !r[2]).length} failed; p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms; ${sorted.filter((ms) => ms > 100).length} above 100 ms`)
  const late = rows.filter((r) => r[1] > 100).slice(0, 8).map((r) => `${(r[0] / 1000).toFixed(1)} s: ${r[1].toFixed(0)} ms`)
  if (late.length > 0) console.log(`  probe answers above 100 ms (time since the probe's start): ${late.join(", ")}`)
  const loopLine = /soak-server-loop (\{.*\})/.exec(serverErr)?.[1]
  if (loopLine !== undefined) {
    console.log(`  server's own loop: ${loopLine}`)
    const cpuMs = (JSON.parse(loopLine) as { cpuMs: number }).cpuMs
    console.log(`  server CPU per request: ${((cpuMs * 1000) / sent).toFixed(0)} µs`)
  }
  if (!alive) console.log(`  server stderr: ${serverErr.slice(-2000)}`)
}
