import { FetchHttpClient, HttpClient, HttpClientResponse } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Layer, Option } from "effect"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as JsonRpc from "../../src/internal/transport/jsonrpc.js"
import * as Http from "../../src/internal/transport/http.js"

interface Item {
  readonly id: number
  readonly method: string
  readonly params: unknown
}

/**
 * An HttpClient that answers JSON-RPC in memory and records every HTTP request it was sent.
 * `answer` returns the response items for one HTTP request's items (any order), or an HTTP status to fail with.
 */
const fakeServer = (answer: (items: ReadonlyArray<Item>) => ReadonlyArray<unknown> | number) => {
  const received: Array<ReadonlyArray<Item>> = []
  const layer = Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) =>
      Effect.sync(() => {
        const body = request.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(request.body.body)) : undefined
        const items: ReadonlyArray<Item> = Array.isArray(body) ? body : [body]
        received.push(items)
        const out = answer(items)
        const response = typeof out === "number"
          ? new Response("busy", { status: out, headers: { "retry-after": "3" } })
          : new Response(JSON.stringify(Array.isArray(body) ? out : out[0]), { status: 200, headers: { "content-type": "application/json" } })
        return HttpClientResponse.fromWeb(request, response)
      })
    )
  )
  return { received, layer }
}

const echo = (items: ReadonlyArray<Item>) => items.map((i) => ({ jsonrpc: "2.0", id: i.id, result: { method: i.method, params: i.params } }))

describe("the JSON-RPC client", () => {
  it.effect("requests batched by Effect (Effect.all with batching) go out as one HTTP request through the resolver", () => {
    const server = fakeServer(echo)
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc" })
      const results = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => Effect.request(client.call("starknet_getNonce", [i]), client.resolver)),
        { batching: true, concurrency: "unbounded" }
      )
      expect(results).toEqual(Array.from({ length: 10 }, (_, i) => ({ method: "starknet_getNonce", params: [i] })))
      expect(server.received.length).toBe(1)
      expect(server.received[0]!.length).toBe(10)
      expect(client.httpRequests()).toBe(1)
    }).pipe(Effect.provide(server.layer))
  })

  it.live("requests from separate fibers in one window share one HTTP request; larger batches are split", () => {
    const server = fakeServer(echo)
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc", maxBatchSize: 40 })
      const results = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        (i) => client.request("starknet_getTransactionStatus", { transaction_hash: i }),
        { concurrency: "unbounded" }
      )
      expect(results.map((r) => (r as { params: { transaction_hash: number } }).params.transaction_hash)).toEqual(
        Array.from({ length: 100 }, (_, i) => i)
      )
      expect(server.received.map((items) => items.length).sort((a, b) => a - b)).toEqual([20, 40, 40])
    }).pipe(Effect.provide(server.layer))
  })

  it.live("answers are matched by id, in any order; a missing answer or an error completes only its own request", () => {
    const server = fakeServer((items) =>
      items
        .filter((i) => i.params !== "lost")
        .map((i) =>
          i.params === "bad"
            ? { jsonrpc: "2.0", id: i.id, error: { code: 29, message: "Transaction hash not found" } }
            : { jsonrpc: "2.0", id: i.id, result: i.params }
        )
        .reverse()
    )
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc" })
      const [a, lost, bad, b] = yield* Effect.all(
        [
          Effect.either(client.request("m", "a")),
          Effect.either(client.request("m", "lost")),
          Effect.either(client.request("m", "bad")),
          Effect.either(client.request("m", "b"))
        ],
        { concurrency: "unbounded" }
      )
      expect(server.received.length).toBe(1)
      expect(a).toEqual(Either.right("a"))
      expect(b).toEqual(Either.right("b"))
      expect(Either.isLeft(lost) && lost.left).toMatchObject({ code: -32603, transient: true })
      expect(Either.isLeft(bad) && bad.left).toMatchObject({ code: 29, message: "Transaction hash not found", transient: false })
    }).pipe(Effect.provide(server.layer))
  })

  it.live("when the batch itself fails, every request in it fails with the HTTP status, transient, with Retry-After", () => {
    const server = fakeServer(() => 429)
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc" })
      const results = yield* Effect.all(
        Array.from({ length: 5 }, (_, i) => Effect.flip(client.request("m", i))),
        { concurrency: "unbounded" }
      )
      expect(server.received.length).toBe(1)
      for (const e of results) expect(e).toMatchObject({ _tag: "JsonRpcFailure", code: 429, transient: true, retryAfter: 3 })
    }).pipe(Effect.provide(server.layer))
  })

  it.live("request caching turned on by the caller never answers a poll with an old result", () => {
    let tick = 0
    const server = fakeServer((items) => items.map((i) => ({ jsonrpc: "2.0", id: i.id, result: ++tick })))
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc" })
      const first = yield* client.request("starknet_blockNumber", [])
      const second = yield* client.request("starknet_blockNumber", [])
      expect([first, second]).toEqual([1, 2])
    }).pipe(Effect.withRequestCaching(true), Effect.provide(server.layer))
  })
})

describe("the JSON-RPC client with a route (a WebSocket connection to the same node)", () => {
  /** A route that answers as `answer` says, or declines (`undefined`), recording what it was offered. */
  const route = (answer: (method: string, params: unknown) => unknown) => {
    const offered: Array<string> = []
    const carry: JsonRpc.Route = (method, params) =>
      Effect.sync(() => {
        offered.push(method)
        const out = answer(method, params)
        return out === undefined ? Option.none() : Option.some(out)
      })
    return { offered, carry }
  }

  it.live("what the route answers is not sent over HTTP, results and errors alike; what it declines goes in one HTTP batch", () => {
    const server = fakeServer(echo)
    const r = route((method, params) =>
      method === "starknet_getNonce"
        ? { jsonrpc: "2.0", id: 99, result: `route:${String(params)}` }
        : method === "starknet_getTransactionStatus"
        ? { jsonrpc: "2.0", id: 99, error: { code: 29, message: "Transaction hash not found", data: { x: 1 } } }
        : undefined
    )
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc", route: r.carry })
      const [nonce, status, call, block] = yield* Effect.all([
        client.request("starknet_getNonce", 7),
        Effect.either(client.request("starknet_getTransactionStatus", "0x1")),
        client.request("starknet_call", "c"),
        client.request("starknet_blockNumber", [])
      ], { concurrency: "unbounded" })
      expect(nonce).toBe("route:7")
      expect(Either.isLeft(status) && status.left).toMatchObject({ code: 29, message: "Transaction hash not found", data: { x: 1 } })
      expect(call).toEqual({ method: "starknet_call", params: "c" })
      expect(block).toEqual({ method: "starknet_blockNumber", params: [] })
      expect(server.received.map((items) => items.map((i) => i.method))).toEqual([["starknet_call", "starknet_blockNumber"]])
      expect(client.httpRequests()).toBe(1)
    }).pipe(Effect.provide(server.layer))
  })

  it.live("a method the route's server does not know (-32601) goes over HTTP, then is not offered to the route again", () => {
    const server = fakeServer(echo)
    const r = route(() => ({ jsonrpc: "2.0", id: 1, error: { code: -32601, message: "Method not found" } }))
    return Effect.gen(function*() {
      const client = yield* JsonRpc.make({ url: "http://127.0.0.1:1/rpc", route: r.carry })
      expect(yield* client.request("starknet_getNonce", 1)).toEqual({ method: "starknet_getNonce", params: 1 })
      expect(yield* client.request("starknet_getNonce", 2)).toEqual({ method: "starknet_getNonce", params: 2 })
      expect(yield* client.request("starknet_call", 3)).toEqual({ method: "starknet_call", params: 3 })
      expect(r.offered).toEqual(["starknet_getNonce", "starknet_call"])
      expect(client.httpRequests()).toBe(3)
    }).pipe(Effect.provide(server.layer))
  })
})

describe("the JSON-RPC client's transport failures", () => {
  /** A real HTTP server on a free port answering every request with `status`, `contentType` and `body`. */
  const serving = (status: number, contentType: string, body: string) =>
    Effect.acquireRelease(
      Effect.async<Server>((resume) => {
        const server = createServer((_, res) => res.writeHead(status, { "content-type": contentType }).end(body))
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
    ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

  it.live("a 200 answer that is not JSON (an HTML page) is named as such, with its status and content type, and is not transient", () =>
    Effect.gen(function*() {
      const origin = yield* serving(200, "text/html; charset=utf-8", "<!doctype html><html><body>Welcome (secret-in-page)</body></html>")
      const client = yield* JsonRpc.make({ url: `${origin}/rpc/key-in-path` })
      const failure = yield* Effect.flip(client.request("starknet_chainId", []))
      expect(failure.transient).toBe(false)
      expect(failure.message).toMatch(/not JSON/)
      expect(failure.message).toContain("HTTP 200")
      expect(failure.message).toContain("text/html")
      // Neither the page nor the URL (which may carry an API key) is echoed.
      expect(failure.message).not.toContain("secret-in-page")
      expect(failure.message).not.toContain("key-in-path")
    }).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)))

  it.live("a refused connection carries its cause (the system error), not the bare tag, and no URL path", () =>
    Effect.gen(function*() {
      // A port that was free a moment ago: nothing listens there.
      const origin = yield* Effect.scoped(serving(200, "application/json", "{}"))
      const client = yield* JsonRpc.make({ url: `${origin}/rpc/key-in-path?apikey=key-in-query` })
      const failure = yield* Effect.flip(client.request("starknet_chainId", []))
      expect(failure.transient).toBe(true)
      expect(failure.message).toMatch(/ECONNREFUSED/)
      expect(failure.message).not.toMatch(/key-in-(path|query)/)
      // Credentials in the URL: fetch refuses the request, and its message (which quotes the URL) is cut to the host.
      const withCredentials = yield* JsonRpc.make({ url: `http://user:key-in-userinfo@127.0.0.1:1/rpc/key-in-path` })
      const refused = yield* Effect.flip(withCredentials.request("starknet_chainId", []))
      expect(refused.message).toMatch(/^transport: /)
      expect(refused.message).not.toMatch(/key-in-(userinfo|path)/)
    }).pipe(Effect.provide(FetchHttpClient.layer)))

  it("describeCause keeps the messages of the causes and cuts every URL to its host", () => {
    const cause = new TypeError("fetch failed", { cause: new Error("request to https://u:p@node.example/v0_9/sekret?k=1 failed") })
    expect(Http.describeCause(cause)).toBe("fetch failed: request to https://node.example failed")
    const both = new AggregateError([new Error("connect ECONNREFUSED ::1:9545"), new Error("connect ECONNREFUSED 127.0.0.1:9545")], "")
    expect(Http.describeCause(new TypeError("fetch failed", { cause: both })))
      .toBe("fetch failed: connect ECONNREFUSED ::1:9545, connect ECONNREFUSED 127.0.0.1:9545")
  })
})
