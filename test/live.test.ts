// Against a real network: runs only when STARKNET_RPC_URL is set (offline, the suite never leaves loopback).
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Constants, StarknetRpc } from "starknet-sessions"

const url = process.env["STARKNET_RPC_URL"]

describe.skipIf(url === undefined)("a live Starknet node (STARKNET_RPC_URL)", () => {
  it.live("reads the chain id, the latest block and a token's decimals", () =>
    Effect.gen(function*() {
      const rpc = yield* StarknetRpc.StarknetRpc
      expect([Constants.SN_MAIN, Constants.SN_SEPOLIA]).toContain(yield* rpc.chainId)
      expect((yield* rpc.latestBlock).timestamp).toBeGreaterThan(1_700_000_000)
      expect(yield* rpc.call({ contractAddress: Constants.STARKNET_CONTRACTS.STRK.contractAddress, entrypoint: "decimals", calldata: [] }))
        .toEqual(["0x12"])
    }).pipe(Effect.provide(StarknetRpc.layerHttp({ url: url! }))))
})
