/**
 * `npm run bench`: runs every benchmark module in this folder (or those named on the command line) and prints
 * their figures. Benchmarks print numbers; they do not assert timings.
 */
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const wanted = process.argv.slice(2)
const modules = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "index.ts" && !file.startsWith("_"))
  .map((file) => file.replace(/\.ts$/, ""))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort()

for (const name of modules) {
  const module = (await import(`./${name}.ts`)) as { run?: () => Promise<void> }
  if (typeof module.run !== "function") continue
  console.log(`\n== ${name} ==`)
  await module.run()
}
