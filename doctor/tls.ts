// The zCompute API's TLS chain, checked the way the program's clients will check it: against
// `rootCaCert` when set (what the provider gets through AWS_CA_BUNDLE, the cleanup and doctor
// through their agents), else against Node's default CA store.
import * as tls from "node:tls";

export interface TlsAnswer {
    /** "plain-http": nothing to check (tests, or a cloud without TLS). */
    result: "trusted" | "untrusted" | "plain-http" | "unreachable";
    detail: string;
}

export function checkTls(baseUrl: string, caCert: string | undefined, timeoutMs = 10_000): Promise<TlsAnswer> {
    const url = new URL(baseUrl);
    if (url.protocol !== "https:") {
        return Promise.resolve({ result: "plain-http", detail: `${baseUrl} is plain http: no certificate to check` });
    }
    const port = Number(url.port || 443);
    return new Promise((resolve) => {
        const socket = tls.connect({ host: url.hostname, port, servername: url.hostname, ca: caCert, rejectUnauthorized: false, timeout: timeoutMs }, () => {
            const cn: string | string[] | undefined = socket.getPeerCertificate().issuer?.CN;
            const issuer = Array.isArray(cn) ? cn.join(", ") : (cn ?? "?");
            const error = socket.authorizationError;
            socket.end();
            resolve(
                socket.authorized
                    ? { result: "trusted", detail: `certificate of ${url.host} verifies (issuer CN ${issuer})` }
                    : { result: "untrusted", detail: `certificate of ${url.host} does not verify: ${String(error)} (issuer CN ${issuer})` },
            );
        });
        socket.on("timeout", () => {
            socket.destroy();
            resolve({ result: "unreachable", detail: `no TLS answer from ${url.host} within ${timeoutMs / 1000} s` });
        });
        socket.on("error", (error: Error) => resolve({ result: "unreachable", detail: `cannot connect to ${url.host}: ${error.message}` }));
    });
}
