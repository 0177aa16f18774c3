/**
 * The served devnet through HTTP: JSON-RPC 2.0 as https://www.jsonrpc.org/specification states it (its section 7
 * examples are the fixtures), limits, keys, SNIP-29 error 156 as `@starknet-io/starknet-types-09`
 * (`snip-29/errors`) types it, Chipi's prepare-typed-data as SDK 14.4 sends it, and faults by wire method name.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as http from "node:http"
import { Devnet, Schemas, STARKNET_CONTRACTS } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

const USDC = STARKNET_CONTRACTS.USDC.contractAddress

const servedWith = (options: DevnetServer.ServeOptions = {}) =>
  Effect.gen(function*() {
    const server = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0, ...options })
    return { ...server, devnet: yield* Devnet.Devnet }
  }).pipe(Effect.provide(Devnet.layer({ blockTime: "50 millis" })))

type Http = { readonly status: number; readonly text: string; readonly json: any; readonly headers: Headers }

/** Sends a raw body; answers the status, the text and its JSON (undefined when empty or not JSON). */
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  Effect.promise(async (): Promise<Http> => {
    const r = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body })
    const text = await r.text()
    let json: unknown
    try {
      json = text === "" ? undefined : JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: r.status, text, json, headers: r.headers }
  })
const rpc = (url: string, method: string, params?: unknown, headers: Record<string, string> = {}) =>
  post(url, JSON.stringify({ jsonrpc: "2.0", id: 1, method, ...(params !== undefined ? { params } : {}) }), headers)

describe("JSON-RPC 2.0 as the specification states it", () => {
  it.live("parse error, invalid requests, unknown methods, and jsonrpc other than \"2.0\"", () =>
    Effect.gen(function*() {
      const { url } = yield* servedWith()
      // Section 7: rpc call with invalid JSON.
      const parse = yield* post(url, `{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]`)
      expect(parse.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } })
      // Section 7: invalid Request object.
      const invalid = yield* post(url, `{"jsonrpc": "2.0", "method": 1, "params": "bar"}`)
      expect(invalid.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } })
      const old = yield* post(url, `{"jsonrpc": "1.0", "id": 7, "method": "starknet_chainId"}`)
      expect(old.json).toMatchObject({ id: 7, error: { code: -32600 } })
      expect((yield* post(url, `{"id": 8, "method": "starknet_chainId"}`)).json).toMatchObject({ id: 8, error: { code: -32600 } })
      expect((yield* post(url, `{"jsonrpc": "2.0", "id": 9, "method": "starknet_chainId", "params": "x"}`)).json)
        .toMatchObject({ id: 9, error: { code: -32600 } })
      expect((yield* post(url, `{"jsonrpc": "2.0", "id": {"a": 1}, "method": "starknet_chainId"}`)).json)
        .toMatchObject({ id: null, error: { code: -32600 } })
      // Section 7: a non-existent method.
      expect((yield* rpc(url, "foobar")).json).toMatchObject({ jsonrpc: "2.0", id: 1, error: { code: -32601, message: "Method not found: foobar" } })
      expect((yield* rpc(url, "toString")).json).toMatchObject({ error: { code: -32601 } })
      expect((yield* rpc(url, "starknet_chainId")).json).toMatchObject({ jsonrpc: "2.0", id: 1, result: expect.stringMatching(/^0x/) })
    }).pipe(Effect.scoped))

  it.live("notifications are carried out and never answered; an empty batch is one -32600; a batch of non-requests one error each", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith()
      const note = yield* post(url, JSON.stringify({ jsonrpc: "2.0", method: "devnet_mint", params: { token: "USDC", to: "0xabc", amount: "0x5" } }))
      expect(note.status).toBe(204)
      expect(note.text).toBe("")
      expect(yield* devnet.balanceOf(USDC, "0xabc")).toBe(5n)
      // An unknown method in a notification is not answered either.
      expect((yield* post(url, JSON.stringify({ jsonrpc: "2.0", method: "nope" }))).text).toBe("")
      // Section 7: rpc call with an empty Array.
      const empty = yield* post(url, "[]")
      expect(empty.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: empty batch" } })
      // Section 7: an invalid batch (but not empty).
      const ones = yield* post(url, "[1,2,3]")
      expect(ones.json).toHaveLength(3)
      for (const a of ones.json) expect(a).toMatchObject({ id: null, error: { code: -32600 } })
      // Section 7: all notifications: nothing at all.
      const notes = yield* post(url, JSON.stringify([
        { jsonrpc: "2.0", method: "starknet_chainId" },
        { jsonrpc: "2.0", method: "starknet_blockNumber" }
      ]))
      expect([notes.status, notes.text]).toEqual([204, ""])
      // Section 7: a mixed batch answers the requests only, in order.
      const mixed = yield* post(url, JSON.stringify([
        { jsonrpc: "2.0", method: "starknet_chainId", id: "1" },
        { jsonrpc: "2.0", method: "starknet_blockNumber" },
        { foo: "boo" },
        { jsonrpc: "2.0", method: "foo.get", params: { name: "myself" }, id: "5" },
        { jsonrpc: "2.0", method: "starknet_blockNumber", id: "9" }
      ]))
      expect(mixed.json.map((a: any) => [a.id, a.error?.code ?? "ok"])).toEqual([["1", "ok"], [null, -32600], ["5", -32601], ["9", "ok"]])
    }).pipe(Effect.scoped))

  it.live("a batch is decoded whole before any entry runs: a bad entry is refused alone, the others run, nothing is half done", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith()
      const mint = (id: number, amount: unknown) => ({ jsonrpc: "2.0", id, method: "devnet_mint", params: { token: "USDC", to: "0xb0b", amount } })
      const batch = yield* post(url, JSON.stringify([
        mint(1, "0x5"),
        { jsonrpc: "2.0", id: 2, method: "starknet_call", params: { request: { contract_address: USDC, entry_point_selector: "0x1", calldata: ["zz"] }, block_id: "latest" } },
        mint(3, "lots"),
        mint(4, "0x7")
      ]))
      expect(batch.status).toBe(200)
      expect(batch.json.map((a: any) => [a.id, a.error?.code ?? a.result])).toEqual([[1, true], [2, -32602], [3, -32602], [4, true]])
      expect(batch.json[1].error.message).toContain("calldata")
      expect(yield* devnet.balanceOf(USDC, "0xb0b")).toBe(12n)
    }).pipe(Effect.scoped))

  it.live("the \"pending\" block id of RPC 0.8 and before (starknet.js 7.x sends it) is a readable -32602 naming pre_confirmed", () =>
    Effect.gen(function*() {
      const { url } = yield* servedWith()
      // As starknet.js 7.1's RpcProvider sends them (its default block identifier is "pending"), by name and by position.
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ["starknet_getNonce", { block_id: "pending", contract_address: USDC }],
        ["starknet_getNonce", ["pending", USDC]],
        ["starknet_call", { request: { contract_address: USDC, entry_point_selector: "0x1", calldata: [] }, block_id: "pending" }],
        ["starknet_getBlockWithTxHashes", { block_id: "pending" }],
        ["starknet_getEvents", { filter: { from_block: { block_number: 0 }, to_block: "pending", chunk_size: 10 } }]
      ]
      for (const [method, params] of cases) {
        const r = yield* rpc(url, method, params)
        expect([method, r.json?.error?.code]).toEqual([method, -32602])
        expect(r.json.error.message).toContain('"pending" is not a block id of JSON-RPC 0.9')
        expect(r.json.error.message).toContain('use "pre_confirmed"')
        expect(r.json.error.message).not.toContain("Expected")
      }
      // Any other bad block id keeps the Schema's own message.
      expect((yield* rpc(url, "starknet_getBlockWithTxHashes", { block_id: "yesterday" })).json.error.message).toContain("yesterday")
    }).pipe(Effect.scoped))

  it.live("malformed input is a -32602 (or a JSON error), never an empty HTTP 500", () =>
    Effect.gen(function*() {
      const { url } = yield* servedWith()
      const cases: ReadonlyArray<readonly [string, unknown]> = [
        ["starknet_call", { request: { contract_address: USDC, entry_point_selector: "0x1", calldata: ["not hex"] }, block_id: "latest" }],
        ["starknet_call", { request: { contract_address: "0xZZ", entry_point_selector: "0x1", calldata: [] }, block_id: "latest" }],
        ["starknet_getNonce", { block_id: "latest", contract_address: "nope" }],
        ["starknet_getNonce", ["latest", "0x1", "extra"]],
        ["starknet_getTransactionStatus", { transaction_hash: "0xnothex" }],
        ["starknet_getBlockWithTxHashes", { block_id: "yesterday" }],
        ["devnet_mint", { token: "DOGE", to: "0x1", amount: "0x1" }],
        ["devnet_balanceOf", { token: "0x1234", account: "0x1" }],
        ["paymaster_buildTransaction", { transaction: { type: "invoke", invoke: { user_address: "0x1", calls: [{ to: "0x1", selector: "x y", calldata: [] }] } } }],
        ["paymaster_executeTransaction", { transaction: { type: "invoke", invoke: { user_address: "0x1", typed_data: {}, signature: [] } } }]
      ]
      for (const [method, params] of cases) {
        const r = yield* rpc(url, method, params)
        expect([method, r.status, r.json?.error?.code]).toEqual([method, 200, -32602])
      }
      expect((yield* rpc(url, "devnet_mint", { token: "DOGE", to: "0x1", amount: "0x1" })).json.error.message).toContain("unknown token")
      // By position, as clients also send them.
      expect((yield* rpc(url, "starknet_getNonce", ["latest", USDC])).json.result).toBe("0x0")
      for (const path of ["/", "/rpc"]) {
        const get = yield* Effect.promise(() => fetch(url + path).then(async (r) => ({ status: r.status, allow: r.headers.get("allow"), json: await r.json() })))
        expect(get).toMatchObject({ status: 405, allow: "POST", json: { error: { code: -32600 } } })
      }
    }).pipe(Effect.scoped))
})

describe("bounded", () => {
  it.live("a body above the limit is HTTP 413; a batch above the limit one -32600; neither runs anything", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith({ maxBodyBytes: 4096, maxBatch: 10 })
      const big = yield* post(url, JSON.stringify({ jsonrpc: "2.0", id: 1, method: "devnet_mint", params: { token: "USDC", to: "0xc", amount: "0x1", pad: "x".repeat(5000) } }))
      expect(big.status).toBe(413)
      const batch = yield* post(url, JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "devnet_mint", params: { token: "USDC", to: "0xc", amount: "0x1" } }))))
      expect(batch.json).toMatchObject({ id: null, error: { code: -32600, message: expect.stringContaining("at most 10") } })
      expect(yield* devnet.balanceOf(USDC, "0xc")).toBe(0n)
      // A body sent in chunks without a length is cut off too.
      const streamed = yield* Effect.promise(() =>
        fetch(url, {
          method: "POST",
          body: new ReadableStream({
            start(c) {
              for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("x".repeat(1000)))
              c.close()
            }
          }),
          duplex: "half"
        } as RequestInit).then((r) => r.status, () => "closed")
      )
      expect([413, "closed"]).toContain(streamed)
      expect((yield* rpc(url, "starknet_blockNumber")).status).toBe(200)
    }).pipe(Effect.scoped))

  it.live("a body without a length is cut at the limit with 413, before it ends; a batch above the limit sent in pieces is one -32600", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith({ maxBodyBytes: 4096, maxBatch: 10 })
      // Chunked, never ended: the answer comes from what was read so far, and the connection closes.
      const cut = yield* Effect.promise(() =>
        new Promise<{ status: number; closed: boolean }>((resolve, reject) => {
          const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
            res.resume()
            res.on("close", () => resolve({ status: res.statusCode ?? 0, closed: true }))
          })
          req.on("error", reject)
          for (let i = 0; i < 5; i++) req.write("x".repeat(1000))
        })
      )
      expect(cut).toEqual({ status: 413, closed: true })
      // Eleven mints in pieces of 40 bytes, chunked: refused whole, none runs.
      const entries = JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "devnet_mint", params: { token: "USDC", to: "0xe", amount: "0x1" } })))
      const batch = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) => {
          const req = http.request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
            let text = ""
            res.on("data", (c: Buffer) => (text += c.toString()))
            res.on("end", () => resolve(text))
          })
          req.on("error", reject)
          for (let i = 0; i < entries.length; i += 40) req.write(entries.slice(i, i + 40))
          req.end()
        })
      )
      expect(JSON.parse(batch)).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600, message: expect.stringContaining("at most 10") } })
      expect(yield* devnet.balanceOf(USDC, "0xe")).toBe(0n)
      // Brackets and commas inside strings are not entries: ten entries whose params hold them run.
      const tricky = JSON.stringify(Array.from({ length: 10 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "starknet_chainId", params: { pad: "],[{,\\\"," } })))
      const ten = yield* post(url, tricky)
      expect(ten.json).toHaveLength(10)
    }).pipe(Effect.scoped))

  it.live("a large batch lets the event loop turn: a starknet_blockNumber sent after it is answered before it", () =>
    Effect.gen(function*() {
      const { url } = yield* servedWith()
      const order: Array<string> = []
      const body = JSON.stringify(Array.from({ length: 1000 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "starknet_getBlockWithTxs", params: ["latest"] })))
      yield* Effect.promise(() =>
        new Promise<void>((resolve, reject) => {
          const agent = new http.Agent({ keepAlive: false })
          const send = (text: string, label: (t: string) => string, done?: () => void) => {
            const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) } }, (res) => {
              let out = ""
              res.on("data", (c: Buffer) => (out += c.toString()))
              res.on("end", () => {
                order.push(label(out))
                if (order.length === 2) resolve()
              })
            })
            req.on("error", reject)
            req.end(text, done)
          }
          // The read leaves once the whole batch is handed to the socket, so it reaches the server no earlier.
          send(body, (t) => `batch:${(JSON.parse(t) as Array<unknown>).length}`, () =>
            send(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "starknet_blockNumber" }), (t) => `read:${typeof JSON.parse(t).result}`))
        })
      )
      expect(order).toEqual(["read:number", "batch:1000"])
    }).pipe(Effect.scoped))

  it.live("admin values out of bounds are -32602 and leave the chain as it was", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith()
      const before = yield* devnet.blockTimestamp
      const huge = yield* post(url, `{"jsonrpc":"2.0","id":1,"method":"devnet_advanceTime","params":{"seconds":1e309}}`)
      expect(huge.json.error.code).toBe(-32602)
      for (const faults of [{ readLagBlocks: 1e9 }, { holdBlocks: 1e9 }, { latency: 1e12 }, { failNext: 1e12 }, { faultMethods: ["starknet_nope"] }]) {
        const r = yield* rpc(url, "devnet_setFaults", faults)
        expect([Object.keys(faults)[0], r.json.error?.code]).toEqual([Object.keys(faults)[0], -32602])
      }
      expect(yield* devnet.faults).toEqual({})
      const ok = yield* rpc(url, "devnet_advanceTime", { seconds: 10 })
      expect(ok.json.result.timestamp).toBeGreaterThanOrEqual(before + 10)
      expect(ok.json.result.timestamp).toBeLessThan(before + 20)
    }).pipe(Effect.scoped))

  it.live("devnet_createWallet's scrypt runs off the event loop: a read sent after a batch of new-format wallets is answered first", () =>
    Effect.gen(function*() {
      const { url } = yield* servedWith()
      const order: Array<string> = []
      const wallets = post(url, JSON.stringify(Array.from({ length: 6 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "devnet_createWallet", params: { encryptKey: "1234", keyFormat: "v1" } }))))
        .pipe(Effect.tap((r) => Effect.sync(() => order.push(`wallets:${r.json.length}`))))
      const read = Effect.sleep("20 millis").pipe(
        Effect.zipRight(rpc(url, "starknet_blockNumber")),
        Effect.tap(() => Effect.sync(() => order.push("read")))
      )
      yield* Effect.all([wallets, read], { concurrency: "unbounded" })
      expect(order).toEqual(["read", "wallets:6"])
    }).pipe(Effect.scoped))

  it.live("devnet_createWallet's curve arithmetic is cut into turns of the event loop: other work runs between the key and each of the address's eight Pedersen hashes", () =>
    Effect.gen(function*() {
      const devnet = yield* Devnet.Devnet
      yield* devnet.createWallet({ encryptKey: "1234" })
      // Turns of the event loop counted while one legacy-format wallet (no scrypt) is made.
      let turns = 0
      let ticking = true
      const tick = () => {
        if (!ticking) return
        turns++
        setImmediate(tick)
      }
      setImmediate(tick)
      const wallet = yield* devnet.createWallet({ encryptKey: "1234" })
      ticking = false
      expect(wallet.publicKey).toMatch(/^0x[0-9a-f]+$/)
      expect(turns).toBeGreaterThanOrEqual(9)
    }).pipe(Effect.provide(Devnet.layer({ blockTime: "1 hour" }))))

  it.live("a request that takes longer than the timeout is answered 503 with -32603", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith({ requestTimeout: "200 millis" })
      // Answered by the timeout, not by the fault's hour of latency (the wait is bounded far below it).
      yield* devnet.setFaults({ latency: "1 hour" })
      const slow = yield* rpc(url, "starknet_chainId").pipe(
        Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("no answer within 30 s to a request held by an hour of latency") })
      )
      expect(slow.status).toBe(503)
      expect(slow.json.error.code).toBe(-32603)
      yield* devnet.clearFaults
      expect((yield* rpc(url, "starknet_blockNumber")).status).toBe(200)
    }).pipe(Effect.scoped))
})

describe("keys", () => {
  it.effect("a bind beyond loopback without an admin key is refused before it listens", () =>
    Effect.gen(function*() {
      const refused = yield* Effect.either(servedWith({ host: "0.0.0.0" }))
      expect(Either.isLeft(refused) && refused.left).toMatchObject({ _tag: "DevnetServeError", reason: "Unguarded" })
      const invalid = yield* Effect.either(servedWith({ port: 70000 }))
      expect(Either.isLeft(invalid) && invalid.left).toMatchObject({ reason: "InvalidOptions" })
    }).pipe(Effect.scoped))

  it.live("with an admin key, devnet_* want it; the paymaster key guards paymaster_* and the /v1 routes", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith({ adminKey: "admin-secret", paymasterApiKey: "pk_dev_guarded" })
      const mint = { token: "USDC", to: "0xd", amount: "0x3" }
      for (const headers of [{}, { "x-devnet-admin-key": "admin-secre" }, { "x-devnet-admin-key": "admin-secret-longer" }]) {
        const r = yield* rpc(url, "devnet_mint", mint, headers)
        expect(r.json.error).toMatchObject({ code: -32001 })
        expect(r.text).not.toContain("admin-secret")
      }
      expect((yield* rpc(url, "devnet_mint", mint, { "x-devnet-admin-key": "admin-secret" })).json.result).toBe(true)
      expect(yield* devnet.balanceOf(USDC, "0xd")).toBe(3n)
      // Reads stay open.
      expect((yield* rpc(url, "starknet_blockNumber")).json.result).toBeTypeOf("number")
      expect((yield* rpc(url, "paymaster_isAvailable")).json.error.code).toBe(163)
      expect((yield* rpc(url, "paymaster_isAvailable", undefined, { "x-paymaster-api-key": "pk_dev_guarded" })).json.result).toBe(true)
      const status = (headers: Record<string, string>) =>
        Effect.promise(() => fetch(`${url}/v1/transactions/0x1/status`, { headers: { authorization: "Bearer t", ...headers } }).then((r) => r.status))
      expect(yield* status({ "x-api-key": "pk_dev_other" })).toBe(401)
      expect(yield* status({ "x-api-key": "pk_dev_guarded" })).toBe(404)
    }).pipe(Effect.scoped))
})

describe("the paymaster's refusals", () => {
  const refusedExecute = (url: string) =>
    Effect.gen(function*() {
      const wallet = yield* rpc(url, "devnet_createWallet", { encryptKey: "1234" })
      const user = wallet.json.result.publicKey as string
      const built = yield* rpc(url, "paymaster_buildTransaction", {
        transaction: { type: "invoke", invoke: { user_address: user, calls: [{ to: USDC, selector: "0x83afd3f4caedc6eebf44246fe54e38c95e3179a5ec9ea81740eca5b482d12e", calldata: ["0x1", "0x1", "0x0"] }] } },
        parameters: { version: "0x1", fee_mode: { mode: "sponsored" } }
      })
      // An unknown session key with a signature valid_until of 0: refused as an unauthorized selector (spec, Corrections 5).
      const executed = yield* rpc(url, "paymaster_executeTransaction", {
        transaction: { type: "invoke", invoke: { user_address: user, typed_data: built.json.result.typed_data, signature: ["0x1", "0x2", "0x3", "0x0"] } },
        parameters: { version: "0x1", fee_mode: { mode: "sponsored" } }
      })
      return { user, error: executed.json.error }
    })

  it.live("error 156 in the nested CONTRACT_EXECUTION_ERROR_INNER shape, down to the sequencer-formatted panic", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith({ executionErrorShape: "nested" })
      const { error, user } = yield* refusedExecute(url)
      expect(error.code).toBe(156)
      expect(error.message).toBe("An error occurred (TRANSACTION_EXECUTION_ERROR)")
      expect(error.data).toMatchObject({
        contract_address: devnet.relayer,
        class_hash: expect.stringMatching(/^0x[0-9a-f]+$/),
        selector: Schemas.selectorOf("__execute__"),
        error: {
          contract_address: user,
          class_hash: expect.stringMatching(/^0x[0-9a-f]+$/),
          selector: Schemas.selectorOf("execute_from_outside_v2"),
          error: "(0x53657373696f6e3a20756e617574686f72697a65642073656c6563746f72 ('Session: unauthorized selector'), 0x454e545259504f494e545f4641494c4544 ('ENTRYPOINT_FAILED'))"
        }
      })
      expect((yield* devnet.transactions).length).toBe(0)
    }).pipe(Effect.scoped))

  it.live("the flat string and the wrapped shape stay options", () =>
    Effect.gen(function*() {
      const flat = yield* servedWith({ executionErrorShape: "flat" })
      expect((yield* refusedExecute(flat.url)).error).toMatchObject({ code: 156, message: "An error occurred (TRANSACTION_EXECUTION_ERROR)", data: "Session: unauthorized selector" })
      const wrapped = yield* servedWith({ executionErrorShape: "wrapped" })
      expect((yield* refusedExecute(wrapped.url)).error.data.execution_error.error.error).toContain("('Session: unauthorized selector')")
    }).pipe(Effect.scoped))
})

describe("Chipi's prepare-typed-data as SDK 14.4 sends it", () => {
  it.live("the owner-signed path sends no walletType: it is resolved from accountClassHash (spec, Corrections 10)", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith()
      const wallet = yield* devnet.createWallet({ encryptKey: "1234" })
      // SDK 14.4's addSessionKeyToContract / revokeSessionKey / set/removeSpendingPolicy body: no walletType.
      const answer = yield* post(`${url}/v1/transactions/prepare-typed-data`, JSON.stringify({
        publicKey: wallet.publicKey,
        calls: [{ contractAddress: wallet.publicKey, entrypoint: "revoke_session_key", calldata: ["0x1"] }],
        accountClassHash: "0x053f4f8791ed5bed0fddaa553d180c664e32cfaf8316bb232ae77bb08f459f2a"
      }), { "x-api-key": "pk_dev_a", authorization: "Bearer b" })
      expect(answer.status).toBe(200)
      expect(answer.json).toMatchObject({ walletType: "CHIPI", typedData: { primaryType: "OutsideExecution" } })
    }).pipe(Effect.scoped))

  it.live("accountClassHash must be the CHIPI class hash and walletType, when sent, CHIPI", () =>
    Effect.gen(function*() {
      const { devnet, url } = yield* servedWith()
      const wallet = yield* devnet.createWallet({ encryptKey: "1234" })
      const prepare = (body: Record<string, unknown>) =>
        post(`${url}/v1/transactions/prepare-typed-data`, JSON.stringify({
          publicKey: wallet.publicKey,
          calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x1", "0x1", "0x0"] }],
          ...body
        }), { "x-api-key": "pk_dev_a", authorization: "Bearer b" })
      const sdk = { accountClassHash: "0x053f4f8791ed5bed0fddaa553d180c664e32cfaf8316bb232ae77bb08f459f2a", walletType: "CHIPI" }
      expect((yield* prepare(sdk)).status).toBe(200)
      expect((yield* prepare({ ...sdk, accountClassHash: "0x1234" })).json).toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("accountClassHash") })
      expect((yield* prepare({ ...sdk, walletType: "READY" })).json).toMatchObject({ code: "INVALID_INPUT", message: expect.stringContaining("walletType") })
      expect((yield* prepare({ ...sdk, calls: [{ contractAddress: "0xZZ", entrypoint: "transfer", calldata: [] }] })).status).toBe(400)
      expect((yield* post(`${url}/v1/transactions/prepare-typed-data`, "{not json", { "x-api-key": "pk_dev_a", authorization: "Bearer b" })).status).toBe(400)
    }).pipe(Effect.scoped))
})

describe("faults by wire method name", () => {
  it.live("faultMethods names the method the client sent (starknet_blockNumber, not the service call behind it)", () =>
    Effect.gen(function*() {
      const { url } = yield* servedWith()
      expect((yield* rpc(url, "devnet_setFaults", { failNext: 1, faultMethods: ["starknet_blockNumber"] })).json.result).toBe(true)
      expect((yield* rpc(url, "starknet_getBlockWithTxHashes", { block_id: "latest" })).status).toBe(200)
      expect((yield* rpc(url, "starknet_blockNumber")).status).toBe(503)
      expect((yield* rpc(url, "starknet_blockNumber")).status).toBe(200)
    }).pipe(Effect.scoped))
})
