// The AWS cloud config (gcfg/INI text) that points the cloud controller manager and the
// cluster autoscaler at the zCompute API instead of AWS.

import { ZCOMPUTE_REGION, zcomputeServiceUrl } from "../infra/provider";

export { ZCOMPUTE_REGION };
export const ZCOMPUTE_ZONE = "us-east-1a";

/** One INI section; `subsection` renders as `[Name "subsection"]`. */
export interface IniSection {
    name: string;
    subsection?: string;
    entries: Record<string, string>;
}

export function serializeIni(sections: IniSection[]): string {
    const blocks = sections.map((section) => {
        const header = section.subsection === undefined ? `[${section.name}]` : `[${section.name} "${section.subsection}"]`;
        const lines = Object.entries(section.entries).map(([key, value]) => `${key} = ${value}`);
        return [header, ...lines].join("\n");
    });
    return blocks.join("\n\n") + "\n";
}

/** zCompute's AWS-compatible endpoint for one service (`ec2`, `elbv2`, `acm`, ...). */
export const zcomputeEndpoint = zcomputeServiceUrl;

// AWS service id -> zCompute path segment. zCompute serves both ELB APIs under `elbv2`.
const SERVICE_OVERRIDES: { service: string; path: string }[] = [
    { service: "ec2", path: "ec2" },
    { service: "autoscaling", path: "autoscaling" },
    { service: "elasticloadbalancing", path: "elbv2" },
];

export function cloudConfigSections(cloudApiUrl: string): IniSection[] {
    const sections: IniSection[] = [{ name: "Global", entries: { Zone: ZCOMPUTE_ZONE } }];
    SERVICE_OVERRIDES.forEach((override, index) => {
        sections.push({
            name: "ServiceOverride",
            subsection: String(index + 1),
            entries: {
                Service: override.service,
                Region: ZCOMPUTE_REGION,
                URL: zcomputeEndpoint(cloudApiUrl, override.path),
                SigningRegion: ZCOMPUTE_REGION,
                SigningMethod: "v4",
            },
        });
    });
    return sections;
}

/** The `cloud.conf` text stored in the `cloud-config` ConfigMap. */
export function buildCloudConfig(cloudApiUrl: string): string {
    return serializeIni(cloudConfigSections(cloudApiUrl));
}
