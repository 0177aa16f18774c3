import { Effect, Layer } from "effect"
import { Devnet } from "starknet-session-keys"
import * as DevnetServer from "starknet-session-keys/devnet/server"
import { createClient } from "starknet-session-keys/promise"
import * as keystore from "../dist/internal/crypto/keystore.js"
import { call, signOutside, USDC } from "../test/helpers/chain.ts"
const PIN = "2580"
const prog = Effect.gen(function*() {
  const served = yield* DevnetServer.serve({ host: "127.0.0.1", port: 0 })
  const devnet = yield* Devnet.Devnet
  const client = createClient({ rpcUrl: served.url, paymasterUrl: served.url })
  const session = client.sessions.createSessionKey({ encryptKey: PIN, durationSeconds: 86400 })
  const wallet = yield* devnet.createWallet({ encryptKey: PIN, fund: { USDC: 1_000_000n } })
  const owner = keystore.decryptLegacy(wallet.encryptedPrivateKey, PIN)
  const { calldata } = yield* signOutside(wallet.publicKey, [call(wallet.publicKey, "add_or_update_session_key", [session.publicKey, BigInt(session.validUntil), 1000n, 0n])], { key: owner })
  yield* devnet.submitOutside(wallet.publicKey, calldata)
  yield* devnet.mineBlock
  const w = { ...wallet, walletType: "CHIPI" }
  yield* Effect.promise(async () => {
    const once = (i) => client.executeTransactionWithSession({ params: { encryptKey: PIN, wallet: w, session, calls: [{ contractAddress: USDC, entrypoint: "transfer", calldata: ["0x" + (0xb000 + i).toString(16), "0x1", "0x0"] }] } })
    for (let i = 0; i < 5; i++) await once(i)
    const t = performance.now()
    for (let i = 5; i < 65; i++) await once(i)
    console.log(`ours: ${((performance.now() - t) / 60).toFixed(1)} ms per execute`)
    await client.close()
  })
}).pipe(Effect.scoped, Effect.provide(Layer.fresh(Devnet.layer({ blockTime: "1 hour" }))))
await Effect.runPromise(prog)
