/**
 * Soak of the served devnet under abuse: the CLI in its own process; from this one, 1,000 concurrent clients
 * (each one request in flight at all times), clients sending 10,000-entry batches and clients sending 5 MB bodies,
 * for `SOAK_SECONDS` (default 60). A probe in a worker thread (its own event loop, so the load generator's work
 * does not delay it) asks `starknet_blockNumber` every 100 ms. Prints the server's RSS over time and the probe's
 * latencies. `SOAK_PROFILE=DIR` writes a CPU profile of the server there.
 */
import { spawn } from "node:child_process"
import * as http from "node:http"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

const rssMiB = (pid: number): number | undefined => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

const probeSource = `
const { parentPort, workerData } = require("node:worker_threads")
const latencies = []
let failures = 0
let stop = false
parentPort.on("message", () => { stop = true })
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_blockNumber" })
;(async () => {
  while (!stop) {
    const start = performance.now()
    try {
      const r = await fetch(workerData.url, { method: "POST", headers: { "content-type": "application/json" }, body })
      const j = await r.json()
      if (typeof j.result !== "number") failures++
    } catch { failures++ }
    latencies.push(performance.now() - start)
    await new Promise((res) => setTimeout(res, 100))
  }
  parentPort.postMessage({ latencies, failures })
})()
`

export const run = async () => {
  const seconds = Number(process.env["SOAK_SECONDS"] ?? "60")
  const clients = Number(process.env["SOAK_CLIENTS"] ?? "1000")
  // The built CLI when there is one (what `npx starknet-session-keys-devnet` runs), else the source through tsx.
  const built = path.join(root, "dist/devnet/cli.js")
  const entry = fs.existsSync(built) ? [...(process.env["SOAK_PROFILE"] ? ["--cpu-prof", "--cpu-prof-dir=" + process.env["SOAK_PROFILE"]] : []), built] : ["--import", "tsx", path.join(root, "src/devnet/cli.ts")]
  const server = spawn(process.execPath, [...entry, "--port", "0", "--block-time", "1000"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"]
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ""
    server.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    server.on("exit", (code) => reject(new Error(`the devnet exited (${code})`)))
  })
  // Node's fetch opens as many sockets per origin as there are requests in flight: the 1,000 are really concurrent.
  const pid = server.pid!
  const rss: Array<number> = [rssMiB(pid) ?? 0]
  const probe = new Worker(probeSource, { eval: true, workerData: { url } })

  let stop = false
  const counts = { small: 0, smallFailed: 0, batches: 0, batchRefused: 0, oversized: 0, oversized413: 0 }
  const small = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_chainId" })
  const batch = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "starknet_blockNumber" })))
  const oversized = "x".repeat(5 * 1024 * 1024)
  const loop = async (send: () => Promise<void>) => {
    while (!stop) {
      try {
        await send()
      } catch {
        // A refused or reset connection is part of the abuse; the next one goes on.
      }
    }
  }
  // node:http with keep-alive sockets (cheaper than fetch, so the load this process makes is not its own bottleneck).
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients + 64 })
  const post = (body: string) =>
    new Promise<{ status: number; text: () => Promise<string>; json: () => Promise<unknown>; arrayBuffer: () => Promise<void> }>((resolve, reject) => {
      const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("error", reject)
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString()
          resolve({ status: res.statusCode ?? 0, text: async () => text, json: async () => JSON.parse(text), arrayBuffer: async () => undefined })
        })
      })
      req.on("error", reject)
      req.end(body)
    })
  const loops = [
    ...Array.from({ length: clients }, () =>
      loop(async () => {
        const r = await post(small).catch(() => undefined)
        if (r === undefined || r.status !== 200) counts.smallFailed++
        else await r.arrayBuffer()
        counts.small++
      })),
    ...Array.from({ length: 4 }, () =>
      loop(async () => {
        const r = await post(batch)
        const j = await r.json() as { error?: { code: number } }
        counts.batches++
        if (j.error?.code === -32600) counts.batchRefused++
      })),
    ...Array.from({ length: 4 }, () =>
      loop(async () => {
        counts.oversized++
        const r = await post(oversized)
        if (r.status === 413) counts.oversized413++
        await r.arrayBuffer().catch(() => undefined)
      }))
  ]
  const sampler = setInterval(() => rss.push(rssMiB(pid) ?? 0), 1000)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  stop = true
  clearInterval(sampler)
  const probed = await new Promise<{ latencies: Array<number>; failures: number }>((resolve) => {
    probe.once("message", resolve)
    probe.postMessage("stop")
  })
  await probe.terminate()
  await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 10_000))])
  server.kill("SIGTERM")
  agent.destroy()

  const sorted = [...probed.latencies].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  const over = sorted.filter((ms) => ms > 100).length
  console.log(`soak (${entry.length === 1 ? "dist" : "tsx"}): ${seconds} s, ${clients} concurrent clients, 4 clients of 10,000-entry batches, 4 of 5 MB bodies`)
  console.log(`  small requests ${counts.small} (${counts.smallFailed} not 200), batches ${counts.batches} (${counts.batchRefused} refused -32600), 5 MB bodies ${counts.oversized} (${counts.oversized413} answered 413)`)
  console.log(`  server RSS MiB: start ${rss[0]!.toFixed(0)}, max ${Math.max(...rss).toFixed(0)}, end ${rss[rss.length - 1]!.toFixed(0)}`)
  console.log(`  starknet_blockNumber probe: ${sorted.length} answers, ${probed.failures} failed; p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms; ${over} above 100 ms`)
}
