/**
 * The published Chipi SDK (`@chipi-stack/backend` 14.4, a dev dependency) against the served devnet in the `network`
 * profile: the guide's "Putting it together" code (shared/seed/session-keys-guide.md) as written, only its status
 * call adapted to SDK 14.4's `getTransactionStatus(hash)`, then the SDK's spending-policy calls. At 100 ms and 2 s
 * blocks; `CHIPI_SDK_SLOW_BLOCKS=1` adds 6 s blocks (about a minute more).
 */
import type { ChipiServerSDK as ChipiServerSDKType } from "@chipi-stack/backend"
import { STARKNET_CONTRACTS } from "@chipi-stack/types"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as http from "node:http"
import { Devnet } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"

// The SDK reads STARKNET_RPC_URL once, when it is loaded (@chipi-stack/shared WALLET_RPC_ENDPOINTS): it points at a
// loopback forwarder, set up before the SDK is imported, that each test aims at its own served devnet.
let target = ""
const forwarder = http.createServer((req, res) => {
  const forward = http.request(target + (req.url ?? "/"), { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  forward.on("error", () => res.destroy())
  req.pipe(forward)
})
await new Promise<void>((resolve) => forwarder.listen(0, "127.0.0.1", resolve))
forwarder.unref()
const address = forwarder.address()
process.env["STARKNET_RPC_URL"] = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`
const { ChipiServerSDK } = await import("@chipi-stack/backend")
type ChipiServerSDK = ChipiServerSDKType

const PIN = "2580"
const RECIPIENT = "0xb0b5"
const BLOCK_TIMES: ReadonlyArray<"100 millis" | "2 seconds" | "6 seconds"> = [
  "100 millis",
  "2 seconds",
  ...(process.env["CHIPI_SDK_SLOW_BLOCKS"] === "1" ? ["6 seconds" as const] : [])
]

/** What the status route answers (shared spec, Chipi's REST table), which SDK 14.4's `TransactionStatusResponse` types otherwise. */
type RouteStatus = { readonly finalityStatus?: string; readonly executionStatus?: string }

// ---- The guide's code, as written; its status call adapted to SDK 14.4: `getTransactionStatus(hash)`, whose
// declared answer (`{ transactionHash, status }`) lacks the `executionStatus` the guide reads. ----

async function timeboxedSendOnUsersBehalf(
  sdk: ChipiServerSDK,
  userPin: string,
  userWallet: { publicKey: string; encryptedPrivateKey: string },
  recipient: string,
  amountUsdc: bigint, // raw units (6 decimals)
) {
  // 1. Create + register a 1-hour session
  const session = sdk.sessions.createSessionKey({
    encryptKey: userPin,
    durationSeconds: 3600,
  });

  const registerTxHash = await sdk.sessions.addSessionKeyToContract(
    {
      encryptKey: userPin,
      wallet: userWallet,
      sessionConfig: {
        sessionPublicKey: session.publicKey,
        validUntil: session.validUntil,
        maxCalls: 1,
        allowedEntrypoints: [],
      },
    },
    process.env.CHIPI_SECRET_KEY!,
  );

  // 2. Wait for the register tx to confirm before executing — otherwise
  //    the session may not yet be active on-chain.
  await waitForTxConfirmed(sdk, registerTxHash);

  // 3. Use the session to send
  const usdc = STARKNET_CONTRACTS["USDC"];
  const txHash = await sdk.executeTransactionWithSession({
    params: {
      encryptKey: userPin,
      wallet: userWallet,
      session,
      calls: [
        {
          contractAddress: usdc.contractAddress,
          entrypoint: "transfer",
          calldata: [recipient, "0x" + amountUsdc.toString(16), "0x0"],
        },
      ],
    },
  });

  // 4. Revoke immediately
  await sdk.sessions.revokeSessionKey(
    {
      encryptKey: userPin,
      wallet: userWallet,
      sessionPublicKey: session.publicKey,
    },
    process.env.CHIPI_SECRET_KEY!,
  );

  return txHash;
}

// Helper: poll Starknet until a tx reaches a terminal status.
// Starknet blocks settle in ~20-40s, so plan for up to ~60s in practice.
async function waitForTxConfirmed(sdk: ChipiServerSDK, txHash: string) {
  const deadline = Date.now() + 90_000; // 90s budget
  while (Date.now() < deadline) {
    const status: RouteStatus = await sdk.getTransactionStatus(txHash) as never;
    if (status.executionStatus === "SUCCEEDED") return;
    if (status.executionStatus === "REVERTED") {
      throw new Error(`tx ${txHash} reverted`);
    }
    await new Promise((r) => setTimeout(r, 3_000));
  }
  throw new Error(`tx ${txHash} did not confirm within 90s`);
}

// ---- The test around it. ----

/** Polls `check` every 100 ms until it holds, at most `seconds`; fails naming `what`. */
const eventually = async <A>(what: string, seconds: number, read: () => Promise<A>, check: (a: A) => boolean): Promise<A> => {
  const deadline = Date.now() + seconds * 1000
  let last = await read()
  while (!check(last)) {
    if (Date.now() > deadline) throw new Error(`waited ${seconds} s for ${what}; last read ${JSON.stringify(last, (_, v) => typeof v === "bigint" ? v.toString() : v)}`)
    await new Promise((r) => setTimeout(r, 100))
    last = await read()
  }
  return last
}

describe("the published Chipi SDK 14.4 on the devnet's network profile", () => {
  for (const blockTime of BLOCK_TIMES) {
    it.live(`the guide's "Putting it together", then the spending-policy calls, at ${blockTime} blocks`, () =>
      Effect.gen(function*() {
        const { url } = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
        const devnet = yield* Devnet.Devnet
        target = url
        process.env["CHIPI_SECRET_KEY"] = "sk_dev_" + "1".repeat(32)
        const sdk = new ChipiServerSDK({ apiPublicKey: "pk_dev_" + "0".repeat(32), apiSecretKey: process.env["CHIPI_SECRET_KEY"]!, alphaUrl: url })
        const created = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 10_000_000n } })
        // SDK 14.4 runs sessions only for CHIPI wallets (spec: "Observed in SDK 14.4").
        const userWallet = { publicKey: created.publicKey, encryptedPrivateKey: created.encryptedPrivateKey, walletType: "CHIPI" as const }
        const usdc = STARKNET_CONTRACTS["USDC"]!.contractAddress
        expect(usdc).toBe("0x033068F6539f8e6e6b131e6B2B814e6c34A5224bC66947c47DaB9dFeE93b35fb")

        const txHash = yield* Effect.promise(() => timeboxedSendOnUsersBehalf(sdk, PIN, userWallet, RECIPIENT, 1_500_000n))
        yield* Effect.promise(() => waitForTxConfirmed(sdk, txHash))
        yield* Effect.promise(() =>
          eventually(`the transfer ${txHash} final`, 60, () => sdk.getTransactionStatus(txHash) as Promise<RouteStatus>, (s) => s.finalityStatus === "ACCEPTED_ON_L2" || s.finalityStatus === "ACCEPTED_ON_L1")
        )
        expect(yield* devnet.balanceOf(usdc, RECIPIENT)).toBe(1_500_000n)

        // The spending-policy calls, on a session of their own.
        const session = sdk.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 3600 })
        const register = yield* Effect.promise(() =>
          sdk.sessions.addSessionKeyToContract({
            encryptKey: PIN,
            wallet: userWallet,
            sessionConfig: { sessionPublicKey: session.publicKey, validUntil: session.validUntil, maxCalls: 5, allowedEntrypoints: [] }
          }, process.env["CHIPI_SECRET_KEY"]!)
        )
        yield* Effect.promise(() => waitForTxConfirmed(sdk, register))
        const config = { sessionPublicKey: session.publicKey, token: usdc, maxPerCall: 1_000_000n, maxPerWindow: 2_000_000n, windowSeconds: 86_400 }
        const set = yield* Effect.promise(() => sdk.sessions.setSpendingPolicy({ encryptKey: PIN, wallet: userWallet, spendingPolicyConfig: config }, process.env["CHIPI_SECRET_KEY"]!))
        yield* Effect.promise(() => waitForTxConfirmed(sdk, set))
        // The SDK reads at `latest`, which lags the pre-confirmed state the status reported: bounded wait.
        const query = { walletAddress: userWallet.publicKey, sessionPublicKey: session.publicKey, token: usdc }
        const policy = yield* Effect.promise(() => eventually("the policy readable at latest", 30, () => sdk.sessions.getSpendingPolicy(query), (p) => p.maxPerWindow > 0n))
        expect(policy).toMatchObject({ maxPerCall: 1_000_000n, maxPerWindow: 2_000_000n, windowSeconds: 86_400, spentInWindow: 0n })
        const removed = yield* Effect.promise(() =>
          sdk.sessions.removeSpendingPolicy({ encryptKey: PIN, wallet: userWallet, sessionPublicKey: session.publicKey, token: usdc }, process.env["CHIPI_SECRET_KEY"]!)
        )
        yield* Effect.promise(() => waitForTxConfirmed(sdk, removed))
        const after = yield* Effect.promise(() => eventually("the policy removed at latest", 30, () => sdk.sessions.getSpendingPolicy(query), (p) => p.maxPerWindow === 0n))
        expect(after).toMatchObject({ maxPerCall: 0n, maxPerWindow: 0n })
      }).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ profile: "network", blockTime })))), 180_000)
  }
})
