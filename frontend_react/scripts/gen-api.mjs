/**
 * Generates the app's API types from the services' OpenAPI documents.
 *
 *   node scripts/gen-api.mjs          (npm run gen:api)   writes src/types/generated/<api>.ts
 *   node scripts/gen-api.mjs --check  (npm run check:api) generates into a temporary directory
 *                                     and exits 1 when the checked-in files differ from it
 *
 * Plain Node (no shell), so it runs the same on Linux, macOS and Windows.
 */
import fs from 'node:fs/promises'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'

const APP_DIR = fileURLToPath(new URL('..', import.meta.url))
const SPEC_DIR = path.join(APP_DIR, '..', 'toy_platform', 'openapi')
const OUT_DIR = path.join(APP_DIR, 'src', 'types', 'generated')
const OUT_LABEL = 'src/types/generated/'

/** The APIs the app calls (the `Service` of src/lib/api-client.ts), one generated file each. */
const APIS = ['auth', 'middleware']

const GENERATOR_VERSION = createRequire(import.meta.url)('openapi-typescript/package.json').version

/** The TypeScript for one OpenAPI document, always with LF line endings. */
async function generate(api) {
  const spec = pathToFileURL(path.join(SPEC_DIR, `${api}.json`))
  const ast = await openapiTS(spec, { silent: true })
  const header = [
    '/**',
    ` * Generated from toy_platform/openapi/${api}.json by \`npm run gen:api\``,
    ` * (openapi-typescript ${GENERATOR_VERSION}). Do not edit: change the OpenAPI document`,
    ' * and run `npm run gen:api` again.',
    ' */',
    '',
    '',
  ].join('\n')
  return header + astToString(ast)
}

/** Writes every API's file into DIR; returns the file names. */
async function writeAll(dir) {
  await fs.mkdir(dir, { recursive: true })
  const names = []
  for (const api of APIS) {
    const name = `${api}.ts`
    await fs.writeFile(path.join(dir, name), await generate(api), 'utf8')
    names.push(name)
  }
  return names
}

async function readOrNull(file) {
  try {
    // A Windows checkout may have turned LF into CRLF; that is not a difference.
    return (await fs.readFile(file, 'utf8')).replace(/\r\n/g, '\n')
  } catch (error) {
    if (error.code === 'ENOENT') return null
    throw error
  }
}

async function tsFilesIn(dir) {
  try {
    return (await fs.readdir(dir)).filter((name) => name.endsWith('.ts'))
  } catch (error) {
    if (error.code === 'ENOENT') return []
    throw error
  }
}

/** The names of the checked-in files that differ from a fresh generation (or are stale). */
async function outdated() {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'toy-platform-api-'))
  try {
    const names = await writeAll(tmp)
    const differ = []
    for (const name of names) {
      const fresh = await readOrNull(path.join(tmp, name))
      if ((await readOrNull(path.join(OUT_DIR, name))) !== fresh) differ.push(name)
    }
    for (const name of await tsFilesIn(OUT_DIR)) {
      if (!names.includes(name)) differ.push(name)
    }
    return differ
  } finally {
    await fs.rm(tmp, { recursive: true, force: true })
  }
}

async function main() {
  if (process.argv.includes('--check')) {
    const differ = await outdated()
    if (differ.length > 0) {
      console.error(
        `${OUT_LABEL} is out of date with toy_platform/openapi/ (${differ.join(', ')}): run \`npm run gen:api\``,
      )
      process.exitCode = 1
    }
    return
  }
  const names = await writeAll(OUT_DIR)
  for (const name of await tsFilesIn(OUT_DIR)) {
    if (!names.includes(name)) await fs.rm(path.join(OUT_DIR, name))
  }
  console.log(`wrote ${names.map((name) => OUT_LABEL + name).join(', ')}`)
}

main().catch((error) => {
  console.error(`gen-api: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
})
