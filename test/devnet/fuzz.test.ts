/**
 * The served devnet under random and hostile JSON on every JSON-RPC method and REST route (test/helpers/hostile.ts):
 * no request overflows the stack, kills the process or gets an HTTP 500; each is answered as JSON-RPC 2.0
 * (https://www.jsonrpc.org/specification) or as a REST `{ message, code }` with a 4xx status, and the server keeps
 * answering. `npm run bench -- fuzz` sends 100,000 of them while a probe is timed.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as http from "node:http"
import { Devnet } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { generator, type HostileRequest, servedMethods } from "../helpers/hostile.js"
import { connect } from "../helpers/ws.js"

const COUNT = Number(process.env["FUZZ_REQUESTS"] ?? 2000)
const WS_COUNT = Number(process.env["FUZZ_WS_MESSAGES"] ?? 500)
const SEED = Number(process.env["FUZZ_SEED"] ?? 26)

const send = (agent: http.Agent, url: string, r: HostileRequest, extra: Record<string, string> = {}) =>
  new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(new URL(r.path, url), {
      method: r.method,
      agent,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(r.body), ...extra }
    }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.setTimeout(30_000, () => req.destroy(new Error(`no answer within 30 s to ${r.method} ${r.path} (${r.body.length} bytes)`)))
    req.on("error", reject)
    req.end(r.body)
  })

const isRpcAnswer = (v: unknown): boolean =>
  typeof v === "object" && v !== null && (v as { jsonrpc?: unknown }).jsonrpc === "2.0" && ("result" in v || "error" in v)

const served = Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))

describe("the served devnet under hostile JSON", () => {
  it.live(`${COUNT} random and hostile requests: no HTTP 500, no crash, every answer well-formed, the server still answers`, () =>
    Effect.gen(function*() {
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
      yield* Effect.addFinalizer(() => Effect.sync(() => agent.destroy()))
      const methods = yield* servedMethods
      expect(methods.length).toBeGreaterThan(30)
      const next = generator(SEED, methods)
      const requests = Array.from({ length: COUNT }, next)
      const bad: Array<string> = []
      yield* Effect.promise(async () => {
        let i = 0
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (i < requests.length) {
            const r = requests[i++]!
            const answer = await send(agent, url, r).catch((e: Error) => ({ status: -1, text: e.message }))
            const what = `${r.method} ${r.path} ${r.body.slice(0, 120)}… → ${answer.status} ${answer.text.slice(0, 160)}`
            if (answer.status === -1 || answer.status >= 500) bad.push(what)
            else if (answer.status === 200) {
              let json: unknown
              try {
                json = JSON.parse(answer.text)
              } catch {
                bad.push(`not JSON: ${what}`)
                continue
              }
              if (r.path === "/" && !(Array.isArray(json) ? json.every(isRpcAnswer) : isRpcAnswer(json))) bad.push(`not JSON-RPC 2.0: ${what}`)
            } else if (![204, 400, 401, 404, 405, 413].includes(answer.status)) bad.push(`unexpected status: ${what}`)
          }
        }))
      })
      expect(bad.slice(0, 10)).toEqual([])
      const probe = yield* Effect.promise(() => send(agent, url, { path: "/", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"starknet_blockNumber"}` }))
      expect(JSON.parse(probe.text)).toMatchObject({ jsonrpc: "2.0", id: 1, result: expect.any(Number) })
    }).pipe(Effect.scoped, Effect.provide(served)), 120_000)

  it.live("params nested 5,000 deep to starknet_call and starknet_getNonce, and a REST body as deep: refused, the server lives", () =>
    Effect.gen(function*() {
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const agent = new http.Agent({ keepAlive: false })
      const deep = "[".repeat(5000) + "]".repeat(5000)
      for (const method of ["starknet_call", "starknet_getNonce"]) {
        const r = yield* Effect.promise(() => send(agent, url, { path: "/", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"${method}","params":${deep}}` }))
        expect(r.status).toBe(200)
        expect(JSON.parse(r.text)).toMatchObject({ jsonrpc: "2.0", error: { code: -32600, message: expect.stringContaining("deeper than 64") } })
      }
      const rest = yield* Effect.promise(() => send(agent, url, { path: "/v1/transactions/prepare-typed-data", method: "POST", body: `{"calls":${deep}}` }))
      expect(rest.status).toBe(400)
      expect(JSON.parse(rest.text)).toMatchObject({ code: "INVALID_BODY" })
      const probe = yield* Effect.promise(() => send(agent, url, { path: "/", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"starknet_blockNumber"}` }))
      expect(JSON.parse(probe.text)).toMatchObject({ result: expect.any(Number) })
    }).pipe(Effect.scoped, Effect.provide(served)))

  it.live(`${WS_COUNT} of the same hostile JSON-RPC bodies over one WebSocket: each answer is JSON-RPC 2.0, the socket and the server live`, () =>
    Effect.gen(function*() {
      const { url, wsUrl } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const client = yield* connect(wsUrl)
      yield* Effect.addFinalizer(() => Effect.sync(() => client.terminate()))
      const next = generator(SEED + 1, yield* servedMethods)
      let sent = 0
      while (sent < WS_COUNT) {
        const r = next()
        // Messages past the size limit close the socket (1009), tested with the subscriptions: kept under it here.
        if (r.path !== "/" || r.method !== "POST" || r.body.length > 1_000_000) continue
        client.sendRaw(r.body)
        sent++
      }
      client.send({ jsonrpc: "2.0", id: "last", method: "starknet_blockNumber" })
      const last = yield* client.next("the answer to a read sent after the hostile messages", (m) => m?.id === "last", 60_000)
      expect(last.result).toEqual(expect.any(Number))
      // Answers (one, or an array for a batch), and the notifications of subscriptions the fuzz happened to open.
      const notification = (m: any) => typeof m?.method === "string" && m.method.startsWith("starknet_subscription")
      const bad = client.received().filter((m) => !(Array.isArray(m) ? m.every(isRpcAnswer) : isRpcAnswer(m) || notification(m)))
      expect(bad.slice(0, 5)).toEqual([])
      expect(client.received().length).toBeGreaterThan(WS_COUNT / 2)
      const agent = new http.Agent({ keepAlive: false })
      const probe = yield* Effect.promise(() => send(agent, url, { path: "/", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"starknet_blockNumber"}` }))
      expect(JSON.parse(probe.text)).toMatchObject({ result: expect.any(Number) })
    }).pipe(Effect.scoped, Effect.provide(served)), 120_000)

  it.live("over WebSocket too: params nested 100,000 deep are refused by the shape bounds before they are parsed, the server lives", () =>
    Effect.gen(function*() {
      const { url, wsUrl } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const client = yield* connect(wsUrl)
      yield* Effect.addFinalizer(() => Effect.sync(() => client.terminate()))
      const deep = "[".repeat(100_000) + "]".repeat(100_000)
      for (const method of ["starknet_call", "starknet_getNonce", "starknet_subscribeNewHeads"]) {
        client.sendRaw(`{"jsonrpc":"2.0","id":"${method}","method":"${method}","params":${deep}}`)
        // Refused whole: the id is not read from a body that is not parsed.
        const refusal = yield* client.next(`the refusal of deep params to ${method}`, (m) => m.error !== undefined && m.id === null, 10_000)
        expect(refusal.error).toMatchObject({ code: -32600, message: expect.stringContaining("deeper than 64") })
      }
      client.send({ jsonrpc: "2.0", id: 9, method: "starknet_blockNumber" })
      expect((yield* client.next("the block number over the same socket", (m) => m.id === 9, 10_000)).result).toEqual(expect.any(Number))
      const agent = new http.Agent({ keepAlive: false })
      const probe = yield* Effect.promise(() => send(agent, url, { path: "/", method: "POST", body: `{"jsonrpc":"2.0","id":1,"method":"starknet_blockNumber"}` }))
      expect(JSON.parse(probe.text)).toMatchObject({ result: expect.any(Number) })
    }).pipe(Effect.scoped, Effect.provide(served)))

  it.live("a refusal of params holding 10,000 members, or a string of 8 KB, is one short line naming the path, the value cut short (on JSON-RPC and REST)", () =>
    Effect.gen(function*() {
      const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
      const agent = new http.Agent({ keepAlive: false })
      const wide = `[${"0,".repeat(9_999)}0]`
      const long = JSON.stringify("x".repeat(8_000))
      const rpc = (method: string, params: string) =>
        Effect.promise(() => send(agent, url, { path: "/", method: "POST", body: `{"jsonrpc":"2.0","id":7,"method":"${method}","params":${params}}` }))
      const cases = [
        [yield* rpc("starknet_call", `{"request":{"contract_address":${wide},"entry_point_selector":"0x1","calldata":[]},"block_id":"latest"}`), `["request"]["contract_address"]`],
        [yield* rpc("starknet_simulateTransactions", `{"block_id":"latest","transactions":[${wide}],"simulation_flags":[]}`), `["transactions"][0]`],
        [yield* rpc("starknet_call", `{"request":{"contract_address":"0x1","entry_point_selector":${long},"calldata":[]},"block_id":"latest"}`), `["request"]["entry_point_selector"]`]
      ] as const
      for (const [answer, path] of cases) {
        expect(answer.status).toBe(200)
        const error = JSON.parse(answer.text).error as { code: number; message: string }
        expect(error.code).toBe(-32602)
        expect(error.message).toContain(path)
        expect(error.message).not.toContain("\n")
        expect(error.message.length).toBeLessThanOrEqual(700)
      }
      // The value is shown, cut short: its first members and how many more.
      expect(JSON.parse(cases[0][0].text).error.message).toMatch(/actual \[0,0,0,.*…\d+ more\]$/)
      const rest = yield* Effect.promise(() =>
        send(agent, url, { path: "/v1/transactions/prepare-typed-data", method: "POST", body: `{"publicKey":"0x1","calls":[${wide}],"accountClassHash":"0x1"}` }, {
          "x-api-key": "pk_dev_a",
          authorization: "Bearer b"
        }))
      expect(rest.status).toBe(400)
      const body = JSON.parse(rest.text) as { code: string; message: string }
      expect(body.code).toBe("INVALID_INPUT")
      expect(body.message).toContain(`["calls"][0]`)
      expect(body.message.length).toBeLessThanOrEqual(700)
    }).pipe(Effect.scoped, Effect.provide(served)))
})
