/**
 * The specialised Poseidon against @scure/starknet's generic one: the permutation and poseidonHashMany(20), in
 * WebAssembly (what hashes) and in bigints (its fallback), timed in interleaved rounds (median reported), and
 * bit-exactness on `POSEIDON_INPUTS` random inputs of 1 to 40 elements (default 10,000; 100,000 take minutes).
 */
import { poseidonHashMany as scureHashMany, poseidonSmall } from "@scure/starknet"
import { randomBytes } from "node:crypto"
import * as poseidon from "../../src/internal/crypto/poseidon.js"
import { fmt, msPerOp } from "./_measure.js"

const P = 2n ** 251n + 17n * 2n ** 192n + 1n
const randomFelt = () => BigInt("0x" + randomBytes(32).toString("hex")) % P

/** Median over interleaved rounds of ours / theirs, with both medians. */
const compare = (ours: () => unknown, theirs: () => unknown, rounds = 11) => {
  const results: Array<{ ours: number; theirs: number }> = []
  for (let round = 0; round < rounds; round++) {
    results.push({ ours: msPerOp(ours, { minMillis: 100 }), theirs: msPerOp(theirs, { minMillis: 100 }) })
  }
  const ratios = results.map((r) => r.ours / r.theirs).sort((a, b) => a - b)
  const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return {
    ours: median(results.map((r) => r.ours)),
    theirs: median(results.map((r) => r.theirs)),
    ratio: ratios[Math.floor(rounds / 2)]!,
    low: ratios[0]!,
    high: ratios[rounds - 1]!
  }
}

/** `f` with every hash going through one implementation. */
const using = <A>(which: "wasm" | "bigint", f: () => A) => () => {
  poseidon._use(which)
  try {
    return f()
  } finally {
    poseidon._use("wasm")
  }
}

export async function run(): Promise<void> {
  console.log(`hashing with: ${poseidon.implementation()}`)
  const [a, b, c] = [randomFelt(), randomFelt(), randomFelt()]
  const twenty = Array.from({ length: 20 }, randomFelt)
  for (const which of ["wasm", "bigint"] as const) {
    // Switched once per timed batch (msPerOp runs the function many times): the switch is not what is timed.
    poseidon._use(which)
    const permutation = compare(() => poseidon.permute(a, b, c), () => poseidonSmall([a, b, c]))
    console.log(
      `Poseidon permutation (${which}): ours ${fmt(permutation.ours)} ms, @scure/starknet ${fmt(permutation.theirs)} ms, ` +
        `ratio ${permutation.ratio.toFixed(2)} (rounds ${permutation.low.toFixed(2)}-${permutation.high.toFixed(2)}; goal <= 0.4)`
    )
    const many = compare(() => poseidon.poseidonHashMany(twenty), () => scureHashMany(twenty))
    console.log(
      `poseidonHashMany(20) (${which}): ours ${fmt(many.ours)} ms, @scure/starknet ${fmt(many.theirs)} ms, ` +
        `ratio ${many.ratio.toFixed(2)} (rounds ${many.low.toFixed(2)}-${many.high.toFixed(2)}; goal <= 0.4)`
    )
  }
  poseidon._use("wasm")
  // WebAssembly against bigints, side by side in the same rounds.
  const side = compare(() => poseidon.permute(a, b, c), using("bigint", () => poseidon.permute(a, b, c)))
  console.log(`the WebAssembly permutation / the bigint one: ${side.ratio.toFixed(2)} (rounds ${side.low.toFixed(2)}-${side.high.toFixed(2)})`)

  const inputs = Number(process.env["POSEIDON_INPUTS"] ?? 10_000)
  const start = performance.now()
  let mismatches = 0
  let elements = 0
  for (let i = 0; i < inputs; i++) {
    const values = Array.from({ length: (i % 40) + 1 }, randomFelt)
    elements += values.length
    if (poseidon.poseidonHashMany(values) !== scureHashMany(values)) mismatches++
    if ((i + 1) % 20_000 === 0 && i + 1 < inputs) {
      console.log(`  ... ${i + 1} inputs checked, ${mismatches} mismatches (${((performance.now() - start) / 1000).toFixed(0)} s)`)
    }
  }
  console.log(
    `bit-exact check: ${inputs} random inputs of 1 to 40 elements (${elements} felts): ${mismatches} mismatches ` +
      `(${((performance.now() - start) / 1000).toFixed(1)} s)`
  )
  if (mismatches > 0) throw new Error(`the specialised Poseidon disagreed with @scure/starknet on ${mismatches} inputs`)
}
