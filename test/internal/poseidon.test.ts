import { describe, expect, it } from "@effect/vitest"
import { poseidonHash as scureHash, poseidonHashMany as scureHashMany, poseidonHashSingle as scureHashSingle, poseidonSmall } from "@scure/starknet"
import { FastCheck as fc } from "effect"
import { afterAll, beforeAll } from "vitest"
import { CHUNK } from "../../src/internal/crypto/poseidon-wasm.js"
import * as poseidon from "../../src/internal/crypto/poseidon.js"

const P = 2n ** 251n + 17n * 2n ** 192n + 1n
const felt = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 0n, max: P - 1n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 1n, 2n, P - 1n, P - 2n, 2n ** 251n) },
  // Not felts, but both implementations read any bigint modulo p: they must agree there too.
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 256n), max: 2n ** 256n }) }
)

describe("the Poseidon in use", () => {
  it("is the WebAssembly one (WebAssembly runs here, and its load-time check against @scure/starknet passed)", () => {
    expect(poseidon.specialised).toBe(true)
    expect(poseidon.implementation()).toBe("wasm")
  })

  it("hashes inputs longer than the WebAssembly module's input area (absorbed in several calls) as @scure/starknet does", () => {
    const values = Array.from({ length: 2 * CHUNK + 3 }, (_, i) => (BigInt(i) * 0x9e3779b97f4a7c15n + 12345n) % P)
    for (const n of [CHUNK - 2, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 2 * CHUNK + 3]) {
      expect(poseidon.poseidonHashMany(values.slice(0, n))).toBe(scureHashMany(values.slice(0, n)))
    }
    const prefix = values.slice(0, CHUNK + 2)
    expect(poseidon.hashManyFrom(poseidon.absorb(poseidon.EMPTY_SPONGE, prefix), values.slice(CHUNK + 2))).toBe(scureHashMany(values))
  })

  // The WebAssembly rounds keep their values reduced only as far as the next step needs (a product below 1.1p, the
  // matrix's output below 4p): a long chain of permutations, each fed the last one's output, and a long sponge, meet
  // states of every kind; the bigint rounds (themselves checked against @scure/starknet below) must give the same.
  it("agrees with the bigint rounds along a chain of 3,000 permutations and over a sponge of 4,000 felts", () => {
    const chain = (which: "wasm" | "bigint") => {
      poseidon._use(which)
      const outputs: Array<bigint> = []
      let state: [bigint, bigint, bigint] = [P - 1n, P - 1n, P - 1n]
      for (let i = 0; i < 3000; i++) {
        state = poseidon.permute(state[0], state[1], i % 7 === 0 ? P - 1n - BigInt(i) : state[2])
        outputs.push(...state)
      }
      const values = Array.from({ length: 4000 }, (_, i) => (i % 3 === 0 ? P - 1n - BigInt(i) : (BigInt(i) * 0x9e3779b97f4a7c15n) ** 3n % P))
      outputs.push(poseidon.poseidonHashMany(values))
      return outputs
    }
    try {
      const wasm = chain("wasm")
      expect(wasm).toEqual(chain("bigint"))
    } finally {
      poseidon._use("wasm")
    }
  })
})

// Each implementation the library may hash with: the WebAssembly one, and the bigint one it falls back to.
describe.each(["wasm", "bigint"] as const)("the specialised Poseidon (%s)", (which) => {
  beforeAll(() => poseidon._use(which))
  afterAll(() => poseidon._use("wasm"))

  it("is the one in use", () => {
    expect(poseidon.implementation()).toBe(which)
  })

  // Published vectors: the Cairo 0 program exercising the Poseidon builtin, lambdaclass/cairo-vm
  // cairo_programs/poseidon_builtin.cairo (its asserted values come from StarkWare's cairo-lang).
  it("gives the published Cairo vectors", () => {
    expect(poseidon.poseidonHashSingle(218676008889449692916464780911713710628115973574242889792891157041292792362n))
      .toBe(2835120893146788752888137145656423078969524407843035783270702964188823073934n)
    expect(poseidon.poseidonHash(1253795n, 18540013156130945068n))
      .toBe(37282360750367388068593128053386029947772104009544220786084510532118246655n)
    expect(poseidon.poseidonHashMany([
      84175983715088675913672849362079546n,
      9384720329467203286234076408512594689579283578028960384690n,
      291883989128409324823849293040390493094093n,
      5849589438543859348593485948598349584395839402940940290490324n,
      1836254780028456372728992049476335424263474849n
    ])).toBe(47102513329160951064697157194713013753695317629154835326726810042406974264n)
  })

  it("is bit-exact with @scure/starknet's permutation on random states", () => {
    fc.assert(
      fc.property(felt, felt, felt, (a, b, c) => {
        expect(poseidon.permute(a, b, c)).toEqual(poseidonSmall([a, b, c]))
      }),
      { numRuns: 1000 }
    )
  })

  it("is bit-exact with @scure/starknet's poseidonHashMany on 2,000 random inputs of 1 to 40 elements", () => {
    let run = 0
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 39 }), fc.infiniteStream(felt), (offset, stream) => {
        // Every length from 1 to 40 equally often, whatever the draw.
        const length = ((run++ + offset) % 40) + 1
        const values = [...stream.take(length)]
        expect(poseidon.poseidonHashMany(values)).toBe(scureHashMany(values))
      }),
      { numRuns: 2000 }
    )
    expect(poseidon.poseidonHashMany([])).toBe(scureHashMany([]))
  })

  it("resumed from an absorbed prefix, hashes as @scure/starknet hashes the whole input; also with its permutation", () => {
    fc.assert(
      fc.property(fc.array(felt, { maxLength: 20 }), fc.array(felt, { maxLength: 20 }), fc.boolean(), (head, rest, generic) => {
        const prefix = head.length % 2 === 0 ? head : head.slice(1)
        poseidon._use(generic ? "generic" : which)
        try {
          expect(poseidon.hashManyFrom(poseidon.absorb(poseidon.EMPTY_SPONGE, prefix), rest)).toBe(scureHashMany([...prefix, ...rest]))
        } finally {
          poseidon._use(which)
        }
      }),
      { numRuns: 500 }
    )
    expect(() => poseidon.absorb(poseidon.EMPTY_SPONGE, [1n])).toThrow("even")
  })

  it("poseidonHash and poseidonHashSingle agree with @scure/starknet's", () => {
    fc.assert(
      fc.property(felt, felt, (x, y) => {
        expect(poseidon.poseidonHash(x, y)).toBe(scureHash(x, y))
        expect(poseidon.poseidonHashSingle(x)).toBe(scureHashSingle(x))
      }),
      { numRuns: 300 }
    )
  })
})
