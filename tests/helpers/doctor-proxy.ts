// A proxy that makes moto_server look like one particular zCompute: it serves the AWS APIs
// under /api/v2/aws/<service> and lets a test break one assumption at a time. A rule may answer
// a call with an error (a refused filter or option), rewrite the request (a cloud that ignores
// filters) or rewrite moto's answer (a field zCompute leaves out, a console the instance wrote).
// The cleanup tests keep their own smaller proxy (moto-proxy.ts), whose call, fault and error
// shapes this one shares.
import * as http from "node:http";
import * as net from "node:net";
import { errorXml, InjectedFault, ProxiedCall } from "./moto-proxy";

export type Call = ProxiedCall;
export type Fault = InjectedFault;
export interface ProxyRules {
    /** Answer with an error instead of moto. */
    faults: Array<(call: Call) => Fault | undefined>;
    /** Change the form parameters before moto sees them. */
    requests: Array<(call: Call) => URLSearchParams | undefined>;
    /** Change moto's answer (XML text) before the client sees it. */
    responses: Array<(call: Call, body: string) => string | undefined>;
}
export interface DoctorProxy extends ProxyRules {
    url: string;
    calls: Call[];
    clear(): void;
    stop(): Promise<void>;
}

export function startDoctorProxy(motoUrl: string): Promise<DoctorProxy> {
    const target = new URL(motoUrl);
    const calls: Call[] = [];
    const rules: ProxyRules = { faults: [], requests: [], responses: [] };
    const server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => {
            const match = /^\/api\/v2\/aws\/(ec2|elbv2|autoscaling|sts|iam)(\/.*)?$/.exec(req.url ?? "");
            if (!match) {
                res.writeHead(404).end(`not a zCompute AWS path: ${req.url}`);
                return;
            }
            let params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
            const call = { service: match[1], action: params.get("Action") ?? "", params };
            calls.push(call);
            for (const rule of rules.faults) {
                const fault = rule(call);
                if (fault) {
                    res.writeHead(fault.status, { "content-type": "text/xml" }).end(errorXml(call.service, fault));
                    return;
                }
            }
            for (const rule of rules.requests) {
                params = rule({ ...call, params }) ?? params;
            }
            const body = Buffer.from(params.toString());
            const headers = { ...req.headers, host: target.host, "content-length": String(body.length) };
            const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: match[2] || "/", headers }, (up) => {
                const answer: Buffer[] = [];
                up.on("data", (c) => answer.push(c));
                up.on("end", () => {
                    let text = Buffer.concat(answer).toString("utf8");
                    for (const rule of rules.responses) {
                        text = rule(call, text) ?? text;
                    }
                    const outHeaders = { ...up.headers, "content-length": String(Buffer.byteLength(text)) };
                    delete outHeaders["transfer-encoding"];
                    res.writeHead(up.statusCode ?? 502, outHeaders).end(text);
                });
            });
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
                ...rules,
                clear: () => {
                    calls.length = 0;
                    rules.faults.length = 0;
                    rules.requests.length = 0;
                    rules.responses.length = 0;
                },
                stop: () =>
                    new Promise((r) => {
                        server.closeAllConnections();
                        server.close(() => r());
                    }),
            });
        });
    });
}
