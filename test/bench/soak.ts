/**
 * Soak of the served devnet under abuse: the CLI in its own process; from this one, 1,000 concurrent clients
 * (each one request in flight at all times), clients sending 10,000-entry batches and clients sending 5 MB bodies,
 * for `SOAK_SECONDS` (default 60). A probe in a process of its own (so neither the load generator's event loop nor
 * its GC delays it) asks `starknet_blockNumber` every 100 ms. Before the clock starts, a few requests of each kind
 * and 2,000 small ones warm the server (its modules load and its code compiles on first use). Prints the server's
 * RSS over time, its CPU time per request, its own event-loop delay and GC pauses (from `_loop-delay.mjs`, preloaded
 * into it), and the probe's latencies with the worst ones' times.
 *
 * `SOAK_FLOOR=1` first runs the same soak against `_floor-server.mjs` (Node's http alone, no devnet): the floor
 * this machine allows, measured in the same run. `SOAK_PROFILE=DIR` writes a CPU profile of the server there.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const here = path.dirname(fileURLToPath(import.meta.url))
const root = path.resolve(here, "../..")

const rssMiB = (pid: number): number | undefined => {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]
    return kb === undefined ? undefined : Number(kb) / 1024
  } catch {
    return undefined
  }
}

/** User plus system CPU seconds of a process (Linux clock ticks, 100 a second). */
const cpuSeconds = (pid: number): number | undefined => {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** The probe: its own process, one `starknet_blockNumber` every 100 ms; prints `[msSinceStart, latencyMs, ok]` rows. */
const probeSource = `
const [url, millis] = process.argv.slice(1)
const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_blockNumber" })
const rows = []
let t0 = 0
;(async () => {
  // The first fetch of a process loads its HTTP client; that is the probe's own start, not the server's latency.
  await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body }).then((r) => r.json()).catch(() => undefined)
  t0 = performance.now()
  while (performance.now() - t0 < Number(millis)) {
    const start = performance.now()
    let ok = false
    try {
      const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body })
      ok = typeof (await r.json()).result === "number"
    } catch {}
    rows.push([Math.round(start - t0), performance.now() - start, ok])
    await new Promise((res) => setTimeout(res, 100))
  }
  process.stdout.write(JSON.stringify(rows))
})()
`

const started = (child: ReturnType<typeof spawn>) =>
  new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.on("exit", (code) => reject(new Error(`the server exited (${code})`)))
  })

const soak = async (label: string, argv: ReadonlyArray<string>, seconds: number, clients: number) => {
  const server = spawn(process.execPath, ["--import", path.join(here, "_loop-delay.mjs"), ...argv], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })
  let serverErr = ""
  server.stderr.on("data", (chunk: Buffer) => (serverErr += chunk.toString()))
  const url = await started(server)
  const pid = server.pid!

  const agent = new http.Agent({ keepAlive: true, maxSockets: clients + 64 })
  const post = (body: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("error", reject)
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }))
      })
      req.on("error", reject)
      req.end(body)
    })
  const small = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_chainId" })
  const batch = JSON.stringify(Array.from({ length: 10_000 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "starknet_blockNumber" })))
  const oversized = "x".repeat(5 * 1024 * 1024)
  // Warm-up before the clock starts (its modules load and its code is compiled on first use): a few of each kind,
  // then 2,000 small requests from 100 clients.
  for (const body of [small, batch, oversized, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_blockNumber" })]) {
    for (let i = 0; i < 5; i++) await post(body).catch(() => undefined)
  }
  await Promise.all(Array.from({ length: 100 }, async () => {
    for (let i = 0; i < 20; i++) await post(small).catch(() => undefined)
  }))

  // The load starts; the clock starts once every client has had its first answer (its connection is open), so
  // the ramp-up (1,000 connections opened at once, which even Node's http alone takes a few hundred ms to absorb)
  // is timed on its own.
  let stop = false
  const counts = { small: 0, smallFailed: 0, batches: 0, batchRefused: 0, oversized: 0, oversized413: 0 }
  let connected = 0
  let rampDone: () => void = () => undefined
  const ramped = new Promise<void>((resolve) => (rampDone = resolve))
  const rampStart = performance.now()
  const loop = async (send: () => Promise<void>, first?: () => void) => {
    while (!stop) {
      try {
        await send()
      } catch {
        // A refused or reset connection is part of the abuse; the next one goes on.
      }
      first?.()
      first = undefined
    }
  }
  const loops = [
    ...Array.from({ length: clients }, () =>
      loop(async () => {
        const r = await post(small).catch(() => undefined)
        counts.small++
        if (r === undefined || r.status !== 200) counts.smallFailed++
      }, () => {
        if (++connected === clients) rampDone()
      })),
    ...Array.from({ length: 4 }, () =>
      loop(async () => {
        const r = await post(batch)
        counts.batches++
        if ((JSON.parse(r.text) as { error?: { code: number } }).error?.code === -32600) counts.batchRefused++
      })),
    ...Array.from({ length: 4 }, () =>
      loop(async () => {
        counts.oversized++
        if ((await post(oversized)).status === 413) counts.oversized413++
      }))
  ]
  await ramped
  const rampMillis = performance.now() - rampStart
  for (const k of Object.keys(counts) as Array<keyof typeof counts>) counts[k] = 0

  const rss: Array<number> = [rssMiB(pid) ?? 0]
  const cpuStart = cpuSeconds(pid) ?? 0
  const probe = spawn(process.execPath, ["-e", probeSource, url, String(seconds * 1000)], { stdio: ["ignore", "pipe", "inherit"] })
  let probeOut = ""
  probe.stdout.on("data", (chunk: Buffer) => (probeOut += chunk.toString()))
  const probed = new Promise<Array<[number, number, boolean]>>((resolve) => probe.on("exit", () => resolve(JSON.parse(probeOut || "[]"))))

  const sampler = setInterval(() => rss.push(rssMiB(pid) ?? 0), 1000)
  const rows = await probed
  stop = true
  clearInterval(sampler)
  const cpu = (cpuSeconds(pid) ?? 0) - cpuStart
  await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 10_000))])
  const exited = new Promise((r) => server.once("exit", r))
  server.kill("SIGTERM")
  await exited
  agent.destroy()

  const latencies = rows.map((r) => r[1])
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  const worst = [...rows].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([t, ms]) => `${ms.toFixed(0)} ms at ${(t / 1000).toFixed(1)} s`)
  const requests = counts.small + counts.batches + counts.oversized
  const loopLine = /soak-server-loop (\{.*\})/.exec(serverErr)?.[1]
  console.log(`${label}: ${seconds} s, ${clients} concurrent clients, 4 clients of 10,000-entry batches, 4 of 5 MB bodies; ramp-up (every client answered once) ${rampMillis.toFixed(0)} ms`)
  console.log(`  small requests ${counts.small} (${counts.smallFailed} not 200), batches ${counts.batches} (${counts.batchRefused} refused -32600), 5 MB bodies ${counts.oversized} (${counts.oversized413} answered 413)`)
  console.log(`  server RSS MiB: start ${rss[0]!.toFixed(0)}, max ${Math.max(...rss).toFixed(0)}, end ${rss[rss.length - 1]!.toFixed(0)}; CPU ${cpu.toFixed(1)} s, ${(cpu * 1e6 / Math.max(1, requests)).toFixed(0)} µs a request`)
  if (loopLine !== undefined) console.log(`  server's own loop: ${loopLine}`)
  console.log(`  starknet_blockNumber probe: ${sorted.length} answers, ${rows.filter((r) => !r[2]).length} failed; p50 ${at(0.5).toFixed(1)} ms, p99 ${at(0.99).toFixed(1)} ms, max ${sorted[sorted.length - 1]?.toFixed(1)} ms; ${sorted.filter((ms) => ms > 100).length} above 100 ms; worst ${worst.join(", ")}`)
}

export const run = async () => {
  const seconds = Number(process.env["SOAK_SECONDS"] ?? "60")
  const clients = Number(process.env["SOAK_CLIENTS"] ?? "1000")
  if (process.env["SOAK_FLOOR"] === "1") await soak("floor (node:http alone)", [path.join(here, "_floor-server.mjs")], seconds, clients)
  // The built CLI when there is one (what `npx starknet-session-keys-devnet` runs), else the source through tsx.
  const built = path.join(root, "dist/devnet/cli.js")
  const dist = fs.existsSync(built)
  const profile = process.env["SOAK_PROFILE"] ? ["--cpu-prof", "--cpu-prof-dir=" + process.env["SOAK_PROFILE"]] : []
  const entry = [...profile, ...(dist ? [built] : ["--import", "tsx", path.join(root, "src/devnet/cli.ts")])]
  await soak(`devnet (${dist ? "dist" : "tsx"})`, [...entry, "--port", "0", "--block-time", "1000"], seconds, clients)
}
