// Where zCompute serves each AWS API. Kept apart from provider.ts so that command-line tools
// (doctor, acceptance) use the same rule without loading the Pulumi AWS provider package.

/** `<api>/api/v2/aws/<service>`: where zCompute serves one AWS API. */
export function zcomputeServiceUrl(apiUrl: string, service: string): string {
    return `${apiUrl.replace(/\/+$/, "")}/api/v2/aws/${service}`;
}
