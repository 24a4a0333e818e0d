// Keeps the EKS-D release catalog (model/eksd-releases.json) in step with upstream.
//
//   npm run eksd-catalog -- <release page>...   read each saved EKS-D release page (the GitHub
//                                                release v1-XX-eks-N, or the repository's
//                                                docs/contents/releases/1-XX/N/index.md) and add
//                                                or replace its record, with the file as source
//   npm run eksd-catalog -- --source <url> <page> name the page's URL as the record's source
//   npm run eksd-catalog -- --check              exit 1 when the catalog is invalid or not in
//                                                its canonical one-release-per-line form
//
// cluster/versions.ts pins the highest release number of each minor, so a new release is one
// added line with its source, and `npm test` checks the rest.

import * as fs from "node:fs";
import * as path from "node:path";

import { EksdCatalogData, parseReleasePage, recordProblems, serializeCatalog, upsertRelease } from "../model/eksd-catalog";

export const CATALOG_FILE = path.resolve(__dirname, "../model/eksd-releases.json");

const USAGE = `usage: npm run eksd-catalog -- [--catalog <file>] [--source <url>] <release page>...
       npm run eksd-catalog -- [--catalog <file>] --check

Reads saved EKS-D release pages (image table: name | version | URI, and the manifest link
kubernetes-1-XX-eks-N.yaml) and records each release in model/eksd-releases.json.
--source names where the page was read (default: the file path).
--check verifies the catalog without writing.
`;

export interface CatalogRun {
    code: number;
    out: string;
}

export function runCatalog(argv: string[], catalogFile = CATALOG_FILE): CatalogRun {
    if (argv.includes("--help") || argv.includes("-h")) {
        return { code: 0, out: USAGE };
    }
    let file = catalogFile;
    let source: string | undefined;
    const pages: string[] = [];
    let check = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--check") {
            check = true;
        } else if (arg === "--catalog" || arg === "--source") {
            const value = argv[++i];
            if (value === undefined) {
                return { code: 2, out: `${arg} needs a value\n${USAGE}` };
            }
            if (arg === "--catalog") {
                file = value;
            } else {
                source = value;
            }
        } else if (arg.startsWith("--")) {
            return { code: 2, out: `unknown option ${arg}\n${USAGE}` };
        } else {
            pages.push(arg);
        }
    }
    if (!check && pages.length === 0) {
        return { code: 2, out: USAGE };
    }
    const text = fs.readFileSync(file, "utf8");
    let data = JSON.parse(text) as EksdCatalogData;
    if (check) {
        const problems = data.releases.flatMap(recordProblems);
        if (serializeCatalog(data) !== text) {
            problems.push(`${file} is not in canonical form: run npm run eksd-catalog with a release page to rewrite it`);
        }
        return problems.length > 0 ? { code: 1, out: `${problems.join("\n")}\n` } : { code: 0, out: `${data.releases.length} release(s) ok\n` };
    }
    const lines: string[] = [];
    for (const page of pages) {
        try {
            const record = parseReleasePage(fs.readFileSync(page, "utf8"), source ?? page);
            data = upsertRelease(data, record);
            lines.push(`${record.release}: Kubernetes ${record.kubernetes}, etcd ${record.etcd}, CoreDNS ${record.coredns}`);
        } catch (error) {
            return { code: 1, out: `${(error as Error).message}\n` };
        }
    }
    fs.writeFileSync(file, serializeCatalog(data));
    return { code: 0, out: `${lines.join("\n")}\nwrote ${file}\n` };
}

if (require.main === module) {
    const result = runCatalog(process.argv.slice(2));
    (result.code === 0 ? process.stdout : process.stderr).write(result.out);
    process.exitCode = result.code;
}
