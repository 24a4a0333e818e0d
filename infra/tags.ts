// Tags are set per resource (zCompute rejects provider-level default tags); these helpers keep
// the common set in one place.

export type Tags = Record<string, string>;

/**
 * An environment names resources and the Kubernetes cluster; 20 characters keep every derived
 * name (`<env>-api-<6>` target group, `<env>-eksd-masters-…` NLB) within AWS's 32.
 */
export const ENVIRONMENT_NAME_PATTERN = /^[a-z][a-z0-9-]{0,19}$/;

/** Tags every taggable resource carries: Name, Environment and the user's extra tags. */
export function resourceTags(environment: string, name: string, extra: Tags = {}): Tags {
    return { ...extra, Name: name, Environment: environment };
}

/** The tag CCM and LBC use to find the cluster's subnets and security groups. */
export function clusterTagKey(clusterName: string): string {
    return `kubernetes.io/cluster/${clusterName}`;
}
