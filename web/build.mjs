// Bundles the patient page offline from the pinned npm packages (no CDN, no network):
//   node web/build.mjs            -> src/careledger/node/page/{index.html,app.js,style.css}
//                                    and .build/page-testing.js (test-only helpers)
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const out = join(root, "src", "careledger", "node", "page");
mkdirSync(out, { recursive: true });
mkdirSync(join(root, ".build"), { recursive: true });

// The packaged ABI files also carry bytecode: the page needs only the ABI.
const abiOnly = {
  name: "abi-only",
  setup(b) {
    b.onLoad({ filter: /careledger[\\/]abi[\\/].*\.json$/ }, (args) => ({
      contents: JSON.stringify(JSON.parse(readFileSync(args.path, "utf8")).abi),
      loader: "json",
    }));
  },
};

const common = { bundle: true, minify: true, format: "iife", target: ["chrome120", "firefox120", "safari17"],
                 plugins: [abiOnly], logLevel: "warning", legalComments: "none" };
await build({ ...common, entryPoints: [join(here, "src", "main.js")], outfile: join(out, "app.js") });
await build({ ...common, entryPoints: [join(here, "src", "testing.js")],
              outfile: join(root, ".build", "page-testing.js") });
copyFileSync(join(here, "index.html"), join(out, "index.html"));
copyFileSync(join(here, "style.css"), join(out, "style.css"));
