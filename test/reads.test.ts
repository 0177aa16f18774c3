import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { StarknetRpc } from "starknet-session-keys"

/**
 * A stand-in node behind `fetch`: answers starknet_chainId (JSON-RPC 2.0, single or batched, as the Starknet JSON-RPC
 * spec's starknet_chainId result: a felt), failing the first `failFirst` requests with an HTTP 503.
 */
const fakeNode = (failFirst = 0) => {
  const methods: Array<string> = []
  let requests = 0
  const answer = (entry: { readonly id: number; readonly method: string }) => {
    methods.push(entry.method)
    return { jsonrpc: "2.0", id: entry.id, result: "0x534e5f5345504f4c4941" }
  }
  const fetch = (async (_input: unknown, init?: RequestInit) => {
    requests++
    if (requests <= failFirst) return new Response("busy", { status: 503 })
    const body = JSON.parse(await new Response(init?.body ?? null).text())
    return Response.json(Array.isArray(body) ? body.map(answer) : answer(body))
  }) as typeof globalThis.fetch
  const layer = Layer.effect(StarknetRpc.StarknetRpc, StarknetRpc.makeHttp({ url: "http://node.invalid/rpc" })).pipe(
    Layer.provide(FetchHttpClient.layer),
    Layer.provide(Layer.succeed(FetchHttpClient.Fetch, fetch))
  )
  return { layer, methods, requests: () => requests }
}

describe("reads not repeated needlessly", () => {
  it.effect("the chain id is read once per layer; a failed read is not kept", () =>
    Effect.gen(function*() {
      const node = fakeNode(1)
      yield* Effect.gen(function*() {
        const rpc = yield* StarknetRpc.StarknetRpc
        expect((yield* Effect.flip(rpc.chainId))._tag).toBe("RpcError")
        for (let i = 0; i < 3; i++) expect(yield* rpc.chainId).toBe("0x534e5f5345504f4c4941")
      }).pipe(Effect.provide(node.layer))
      expect(node.methods.filter((m) => m === "starknet_chainId")).toHaveLength(1)
      expect(node.requests()).toBe(2)
      // Another layer reads again.
      yield* Effect.flatMap(StarknetRpc.StarknetRpc, (rpc) => rpc.chainId).pipe(Effect.provide(node.layer))
      expect(node.methods.filter((m) => m === "starknet_chainId")).toHaveLength(2)
    }))
})
