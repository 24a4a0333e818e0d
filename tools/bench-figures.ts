// The benchmark figures the docs quote: recorded by `npm run bench -- --record` into
// docs/bench-figures.json and rendered into docs/contributing.md by `npm run docs`, so a figure
// in the docs is always one a benchmark run produced (tests/readme.test.ts compares them).
import * as fs from "node:fs";
import * as path from "node:path";

export const BENCH_FIGURES_FILE = path.resolve(__dirname, "..", "docs", "bench-figures.json");

export interface BenchFigures {
    /** CPU, memory and Node.js of the recording machine. */
    machine: string;
    runs: number;
    rows: Array<{ name: string; value: string; note: string }>;
}

export function readBenchFigures(): BenchFigures | undefined {
    return fs.existsSync(BENCH_FIGURES_FILE) ? (JSON.parse(fs.readFileSync(BENCH_FIGURES_FILE, "utf8")) as BenchFigures) : undefined;
}

function cell(text: string): string {
    return text.replace(/\|/g, "\\|");
}

/** The recorded figures as a Markdown table, with the machine they come from. */
export function renderBenchTable(figures: BenchFigures | undefined): string {
    if (!figures) {
        return "No figures recorded yet: run `npm run bench -- --record`, then `npm run docs`.";
    }
    const lines = [`Recorded on ${figures.machine} (plan figures: median of ${figures.runs}).`, "", "| figure | value | note |", "|---|---|---|"];
    for (const row of figures.rows) {
        lines.push(`| ${cell(row.name)} | ${cell(row.value)} | ${cell(row.note)} |`);
    }
    return lines.join("\n");
}
