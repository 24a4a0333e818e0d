// A thin HTTP proxy that makes moto_server look like zCompute: it serves the AWS APIs under
// /api/v2/aws/<ec2|elbv2> (classic ELB calls too come in under elbv2), counts every call by
// Action, and can answer a call with an injected error instead (moto never raises, e.g.,
// DependencyViolation for a security group a load balancer holds).
import * as http from "node:http";
import { after, before } from "node:test";
import { MotoServer, startMoto } from "./moto-server";
import * as net from "node:net";

export interface ProxiedCall {
    service: string;
    action: string;
    params: URLSearchParams;
}
export interface InjectedFault {
    status: number;
    code: string;
    message: string;
}
export type FaultRule = (call: ProxiedCall) => InjectedFault | undefined;

export interface MotoProxy {
    url: string;
    calls: ProxiedCall[];
    faults: FaultRule[];
    stop(): Promise<void>;
}

/** The error body each AWS query protocol answers with (EC2's, and the ELB/STS/IAM one). */
export function errorXml(service: string, fault: InjectedFault): string {
    if (service === "ec2") {
        return `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${fault.code}</Code><Message>${fault.message}</Message></Error></Errors><RequestID>injected</RequestID></Response>`;
    }
    return `<ErrorResponse><Error><Type>Sender</Type><Code>${fault.code}</Code><Message>${fault.message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>`;
}

export function startMotoProxy(motoUrl: string): Promise<MotoProxy> {
    const target = new URL(motoUrl);
    const calls: ProxiedCall[] = [];
    const faults: FaultRule[] = [];
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            const body = Buffer.concat(chunks);
            const match = /^\/api\/v2\/aws\/(ec2|elbv2|autoscaling)(\/.*)?$/.exec(req.url ?? "");
            if (!match) {
                res.writeHead(404).end(`not a zCompute AWS path: ${req.url}`);
                return;
            }
            const params = new URLSearchParams(body.toString("utf8"));
            const call = { service: match[1], action: params.get("Action") ?? "", params };
            calls.push(call);
            for (const rule of faults) {
                const fault = rule(call);
                if (fault) {
                    res.writeHead(fault.status, { "content-type": "text/xml" }).end(errorXml(call.service, fault));
                    return;
                }
            }
            const upstream = http.request(
                {
                    host: target.hostname,
                    port: target.port,
                    method: req.method,
                    path: match[2] || "/",
                    headers: { ...req.headers, host: target.host, "content-length": String(body.length) },
                },
                (up) => {
                    res.writeHead(up.statusCode ?? 502, up.headers);
                    up.pipe(res);
                },
            );
            upstream.on("error", (error) => res.writeHead(502).end(String(error)));
            upstream.end(body);
        });
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            resolve({
                url: `http://127.0.0.1:${port}`,
                calls,
                faults,
                stop: () =>
                    new Promise((r) => {
                        server.closeAllConnections();
                        server.close(() => r());
                    }),
            });
        });
    });
}

/** moto_server and a proxy in front of it, for one test file: started before its tests, stopped after them. */
export interface MotoWithProxy<P> {
    readonly moto: MotoServer;
    readonly proxy: P;
    /** Empties moto and the proxy's record of the test before. */
    reset(): Promise<void>;
}

export function motoWithProxy<P extends { stop(): Promise<void> }>(
    startProxy: (motoUrl: string) => Promise<P>,
    clearProxy: (proxy: P) => void,
): MotoWithProxy<P> {
    let moto: MotoServer | undefined;
    let proxy: P | undefined;
    before(async () => {
        moto = await startMoto();
        proxy = await startProxy(moto.url);
    });
    after(async () => {
        await proxy?.stop();
        await moto?.stop();
    });
    const started = <T>(value: T | undefined, what: string): T => {
        if (value === undefined) {
            throw new Error(`${what} is not started: use it inside a test`);
        }
        return value;
    };
    return {
        get moto() {
            return started(moto, "moto_server");
        },
        get proxy() {
            return started(proxy, "the moto proxy");
        },
        async reset() {
            await started(moto, "moto_server").reset();
            clearProxy(started(proxy, "the moto proxy"));
        },
    };
}

/** moto_server behind this file's zCompute-paths proxy; reset() also forgets its calls and faults. */
export function motoBehindProxy(): MotoWithProxy<MotoProxy> {
    return motoWithProxy(startMotoProxy, (proxy) => {
        proxy.calls.length = 0;
        proxy.faults.length = 0;
    });
}
