/**
 * The served devnet's admin methods (`devnet_*`), so that a backend in any language can drive it.
 */
import { Duration, Effect, Schema } from "effect"
import { STARKNET_CONTRACTS } from "../../Constants.js"
import { Devnet } from "../types.js"
import { Address, Felt } from "../../Schemas.js"
import { type Methods, paramsOf } from "./jsonrpc.js"

const exact = <A, I>(schema: Schema.Schema<A, I>) => Schema.optionalWith(schema, { exact: true })

/** The admin methods' params, checked at the boundary like everything else. */
const Amount = Schema.transform(Felt, Schema.BigIntFromSelf, { strict: true, decode: (f) => BigInt(f), encode: (b) => ("0x" + b.toString(16)) as Felt })
const CreateWalletParams = Schema.Struct({
  encryptKey: Schema.String.pipe(Schema.minLength(1)),
  fund: Schema.optional(Schema.Record({ key: Schema.String, value: Amount })),
  keyFormat: Schema.optional(Schema.Literal("legacy", "v1"))
})
const MintParams = Schema.Struct({ token: Schema.String, to: Address, amount: Amount })
const BalanceParams = Schema.Struct({ token: Schema.String, account: Address })
const AdvanceParams = Schema.Struct({ seconds: Schema.Number.pipe(Schema.nonNegative()) })
const FaultsParams = Schema.Struct({
  latency: exact(Schema.Number.pipe(Schema.nonNegative())),
  failNext: exact(Schema.Int.pipe(Schema.nonNegative())),
  failStatus: exact(Schema.Literal(429, 503)),
  retryAfterSeconds: exact(Schema.Number.pipe(Schema.nonNegative())),
  dropNext: exact(Schema.Int.pipe(Schema.nonNegative())),
  dropWhen: exact(Schema.Literal("before", "after")),
  faultMethods: exact(Schema.Array(Schema.String)),
  holdBlocks: exact(Schema.Int.pipe(Schema.nonNegative())),
  readLagBlocks: exact(Schema.Int.pipe(Schema.nonNegative())),
  alterTypedData: exact(Schema.Literal("calldata", "to", "selector", "chainId", "window", "caller"))
})
export const tokenAddress = (symbol: unknown) => {
  const token = STARKNET_CONTRACTS[String(symbol).toUpperCase() as keyof typeof STARKNET_CONTRACTS]
  return token?.contractAddress ?? String(symbol)
}

export const adminMethods = Effect.gen(function*() {
  const devnet = yield* Devnet
  const methods: Methods = {
    // Admin methods, so that a backend in any language can drive the devnet.
    devnet_createWallet: (params) =>
      Effect.flatMap(paramsOf(CreateWalletParams, params), (p) =>
        devnet.createWallet({
          encryptKey: p.encryptKey,
          fund: Object.fromEntries(Object.entries(p.fund ?? {}).map(([k, v]) => [k.toUpperCase(), v])),
          ...(p.keyFormat !== undefined ? { keyFormat: p.keyFormat } : {})
        })),
    devnet_mint: (params) =>
      Effect.flatMap(paramsOf(MintParams, params), (p) => devnet.mint(tokenAddress(p.token), p.to, p.amount).pipe(Effect.as(true))),
    devnet_balanceOf: (params) =>
      Effect.flatMap(paramsOf(BalanceParams, params), (p) =>
        devnet.balanceOf(tokenAddress(p.token), p.account).pipe(Effect.map((b) => "0x" + b.toString(16)))),
    devnet_advanceTime: (params) =>
      Effect.flatMap(paramsOf(AdvanceParams, params), (p) =>
        devnet.advanceTime(Duration.seconds(p.seconds)).pipe(
          Effect.zipRight(devnet.blockTimestamp),
          Effect.map((timestamp) => ({ timestamp }))
        )),
    devnet_mineBlock: () => devnet.mineBlock,
    devnet_setFaults: (params) =>
      Effect.flatMap(paramsOf(FaultsParams, params), ({ latency, ...rest }) =>
        devnet.setFaults({ ...rest, ...(latency !== undefined ? { latency: Duration.millis(latency) } : {}) }).pipe(Effect.as(true))),
    devnet_clearFaults: () => devnet.clearFaults.pipe(Effect.as(true))
  }
  return methods
})
