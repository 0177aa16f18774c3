// Against a real network: runs only when its environment variables are set (offline, the suite never leaves
// loopback). See docs/going-live.md, "Testing against a live network".
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Schedule } from "effect"
import { Chipi, Constants, Crypto, Paymaster, Sessions, StarknetRpc } from "starknet-session-keys"

const env = (name: string): string | undefined => process.env[name] === "" ? undefined : process.env[name]
const url = env("STARKNET_RPC_URL")

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

// A session-account wallet on the live network: its address, its encrypted owner key and the PIN.
const wallet = env("LIVE_WALLET_ADDRESS") !== undefined && env("LIVE_WALLET_ENCRYPTED_KEY") !== undefined
  ? { publicKey: env("LIVE_WALLET_ADDRESS")!, encryptedPrivateKey: env("LIVE_WALLET_ENCRYPTED_KEY")! }
  : undefined
const pin = env("LIVE_WALLET_PIN")

/** The whole lifecycle, a zero STRK transfer to the wallet itself as the session's call. */
const lifecycle = Effect.gen(function*() {
  const wait = { wait: { schedule: Schedule.spaced("3 seconds"), timeout: "5 minutes" as const } }
  const session = yield* Sessions.createSessionKey({ encryptKey: pin!, durationSeconds: 900 })
  yield* Sessions.registerAndWait({
    encryptKey: pin!,
    wallet: wallet!,
    sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 1, allowedEntrypoints: ["transfer"] }
  }, wait)
  const calls = [{ contractAddress: Constants.STARKNET_CONTRACTS.STRK.contractAddress, entrypoint: "transfer", calldata: [wallet!.publicKey, "0x0", "0x0"] }]
  const receipt = yield* Sessions.executeAndWait({ encryptKey: pin!, wallet: wallet!, session, calls }, wait)
  expect(receipt.executionStatus).toBe("SUCCEEDED")
  const used = yield* Sessions.getSessionData({ walletAddress: wallet!.publicKey, sessionPublicKey: session.publicKey })
  expect(used).toMatchObject({ callsUsed: 1, remainingCalls: 0 })
  // The second execute is refused locally: nothing is sent.
  expect((yield* Effect.flip(Sessions.execute({ encryptKey: pin!, wallet: wallet!, session, calls })))._tag).toBe("MaxCallsExceeded")
  yield* Sessions.revokeAndWait({ encryptKey: pin!, wallet: wallet!, sessionPublicKey: session.publicKey }, wait)
  expect((yield* Sessions.getSessionData({ walletAddress: wallet!.publicKey, sessionPublicKey: session.publicKey })).isActive).toBe(false)
})

const ready = url !== undefined && wallet !== undefined && pin !== undefined

describe.skipIf(!ready || env("PAYMASTER_URL") === undefined)("the lifecycle on a live network through a SNIP-29 paymaster", () => {
  it.live("register, execute, refuse locally, revoke (STARKNET_RPC_URL, PAYMASTER_URL, PAYMASTER_API_KEY?, LIVE_WALLET_*)", () =>
    lifecycle.pipe(Effect.provide(Layer.mergeAll(StarknetRpc.layerConfig, Paymaster.layerSnip29Config, Crypto.layer, Sessions.layer)))
  , 20 * 60_000)
})

describe.skipIf(!ready || env("CHIPI_PUBLIC_KEY") === undefined)("the lifecycle on a live network through Chipi's REST API", () => {
  it.live("register, execute, refuse locally, revoke (STARKNET_RPC_URL, CHIPI_PUBLIC_KEY, CHIPI_SECRET_KEY, LIVE_WALLET_*)", () =>
    lifecycle.pipe(Effect.provide(Layer.mergeAll(StarknetRpc.layerConfig, Chipi.layerConfig, Crypto.layer, Sessions.layer)))
  , 20 * 60_000)
})
