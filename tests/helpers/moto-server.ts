// Starts moto_server (an AWS API emulator; moto 5.2.1 on these machines) on a free loopback
// port and stops it by its PID. Fails with a clear message when moto is not installed.
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as http from "node:http";
import * as net from "node:net";

export interface MotoServer {
    url: string;
    port: number;
    pid: number;
    /** Clears every resource (moto's reset API). */
    reset(): Promise<void>;
    stop(): Promise<void>;
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

function request(url: string, method = "GET"): Promise<number> {
    return new Promise((resolve) => {
        const req = http.request(url, { method }, (res) => {
            res.resume();
            res.on("end", () => resolve(res.statusCode ?? 0));
        });
        req.on("error", () => resolve(0));
        req.end();
    });
}

const READY_POLLS = 150;
const POLL_MS = 100;

export async function startMoto(): Promise<MotoServer> {
    const check = spawnSync("python3", ["-c", "import moto.server, moto; print(moto.__version__)"], { encoding: "utf8" });
    if (check.status !== 0) {
        throw new Error(
            `moto_server is not installed (python3 -m moto.server failed: ${(check.stderr || check.error?.message || "").trim().split("\n").pop()}); install moto[server] 5.x to run the cleanup tests`,
        );
    }
    const port = await freePort();
    const child: ChildProcess = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: "true" },
    });
    let stderr = "";
    child.stderr?.on("data", (chunk) => {
        stderr = (stderr + String(chunk)).slice(-4000);
    });
    const url = `http://127.0.0.1:${port}`;
    // Bounded by a number of polls, not a wall-clock assertion.
    for (let i = 0; i < READY_POLLS; i++) {
        if (child.exitCode !== null) {
            throw new Error(`moto_server exited with ${child.exitCode}: ${stderr}`);
        }
        if ((await request(`${url}/moto-api/`)) === 200) {
            return {
                url,
                port,
                pid: child.pid!,
                reset: async () => {
                    await request(`${url}/moto-api/reset`, "POST");
                },
                stop: () =>
                    new Promise<void>((resolve) => {
                        if (child.exitCode !== null) {
                            resolve();
                            return;
                        }
                        child.once("exit", () => resolve());
                        process.kill(child.pid!, "SIGTERM");
                    }),
            };
        }
        await new Promise((r) => setTimeout(r, POLL_MS));
    }
    process.kill(child.pid!, "SIGKILL");
    throw new Error(`moto_server did not answer on ${url}: ${stderr}`);
}
