// What this stack needs from the cloud: images, key pairs, instance types, the volume type,
// room for the planned instances and addresses, and the bring-your-own VPC. Read-only.
import type { StackModel } from "../model";
import type { CheckOutcome, DoctorCheck } from "./types";

/** `1.30`, `1.30.4`, `v1.30.4-eks-1-30-20` → `1.30`. */
export function minorOf(text: string): string | undefined {
    const match = /(?:^|[^\d])(1\.\d{2})(?:[.-]|$)/.exec(text);
    return match ? match[1] : undefined;
}

/** Tags on an image that state its Kubernetes / EKS-D version (any key naming one of them and "version"). */
const VERSION_TAG = /(eks-?d|kubernetes|k8s).*version|version.*(eks-?d|kubernetes|k8s)/i;

/** Every image the stack names, with what it is for and whether it must be an EKS-D image. */
function imagesOf(stack: StackModel): Array<{ id: string; use: string; eksd: boolean }> {
    const images = [
        { id: stack.bastion.amiId, use: "bastionAmiId", eksd: false },
        { id: stack.cluster.controlPlane.amiId, use: "controlPlaneAmiId", eksd: true },
        ...Object.entries(stack.cluster.nodeGroups).map(([name, group]) => ({ id: group.amiId, use: `nodeGroups.${name}.amiId`, eksd: true })),
    ];
    const seen = new Map<string, { id: string; use: string; eksd: boolean }>();
    for (const image of images) {
        const known = seen.get(image.id);
        seen.set(image.id, known ? { ...known, use: `${known.use}, ${image.use}`, eksd: known.eksd || image.eksd } : image);
    }
    return [...seen.values()];
}

export const imagesCheck: DoctorCheck = {
    id: "images",
    assumption: "every AMI exists; EKS-D images are of the configured minor where their tags say",
    configKey: "bastionAmiId / controlPlaneAmiId / workerAmiId / nodeGroups.<name>.amiId",
    docs: "README.md#prerequisites-what-you-bring",
    needed: () => true,
    async run({ stack, cloud }) {
        const minor = minorOf(stack.cluster.kubernetesVersion) ?? stack.cluster.eksdVersion;
        const problems: string[] = [];
        const notes: string[] = [];
        for (const wanted of imagesOf(stack)) {
            const image = await cloud.image(wanted.id);
            if (!image) {
                problems.push(`${wanted.id} (${wanted.use}) does not exist`);
                continue;
            }
            if (!wanted.eksd) {
                continue;
            }
            const tag = Object.entries(image.tags).find(([key]) => VERSION_TAG.test(key));
            const tagged = tag ? minorOf(tag[1]) : undefined;
            if (tag && tagged && tagged !== minor) {
                problems.push(`${wanted.id} (${wanted.use}) is tagged ${tag[0]}=${tag[1]}, not EKS-D ${minor}`);
            } else if (!tagged) {
                notes.push(`${wanted.id} has no version tag`);
            }
        }
        const outcome: CheckOutcome =
            problems.length > 0
                ? { status: "fails", detail: problems.join("; "), programAction: "`pulumi up` fails at the first instance of that image" }
                : {
                      status: "holds",
                      detail: `all ${imagesOf(stack).length} image(s) exist${notes.length ? ` (${notes.join("; ")}: minor not checked)` : ""}`,
                      programAction: `nodes boot EKS-D ${minor}; the kubelet must match kubernetesVersion`,
                  };
        return outcome;
    },
};

export const keyPairsCheck: DoctorCheck = {
    id: "key-pairs",
    assumption: "the bastion's and the nodes' key pairs exist",
    configKey: "bastionKeyName / nodeKeyName",
    docs: "README.md#prerequisites-what-you-bring",
    needed: () => true,
    async run({ stack, cloud }) {
        const names = [...new Set([stack.bastion.keyName, stack.cluster.nodeKeyName])];
        const missing: string[] = [];
        for (const name of names) {
            if (!(await cloud.keyPairExists(name))) {
                missing.push(name);
            }
        }
        return missing.length === 0
            ? { status: "holds", detail: `key pair(s) ${names.join(", ")} exist`, programAction: "instances start with these key pairs" }
            : {
                  status: "fails",
                  detail: `no key pair named ${missing.join(", ")}`,
                  programAction: "instances cannot start: import the key pair or change the key",
              };
    },
};

export const instanceTypesCheck: DoctorCheck = {
    id: "instance-types",
    assumption: "every configured instance type exists",
    configKey: "bastionInstanceType / controlPlaneInstanceType / nodeGroups.<name>.instanceType",
    docs: "docs/config.md",
    needed: () => true,
    async run({ stack, cloud }) {
        const types = [
            ...new Set([
                stack.bastion.instanceType,
                stack.cluster.controlPlane.instanceType,
                ...Object.values(stack.cluster.nodeGroups).map((g) => g.instanceType),
            ]),
        ];
        let known: Set<string>;
        try {
            known = await cloud.knownInstanceTypes(types);
        } catch (error) {
            return {
                status: "cannot-tell",
                detail: `DescribeInstanceTypes is not answered: ${error instanceof Error ? error.message : String(error)}`,
                programAction: "an unknown type fails at the first instance",
            };
        }
        const missing = types.filter((t) => !known.has(t));
        return missing.length === 0
            ? { status: "holds", detail: `${types.join(", ")} exist`, programAction: "instances start with these types" }
            : {
                  status: "fails",
                  detail: `unknown instance type(s): ${missing.join(", ")}`,
                  programAction: "an unknown type fails at the first instance of it",
              };
    },
};

export const volumeTypeCheck: DoctorCheck = {
    id: "volume-type",
    assumption: "the VolumeType alias of the storage class exists (VSC-enabled)",
    configKey: "volumeType",
    docs: "README.md#load-balancers-and-storage",
    needed: () => true,
    async run({ stack, cloud }) {
        const type = stack.addons.volumeType;
        const action = `StorageClass ebs-sc provisions type ${type}`;
        const inUse = await cloud.volumeTypesInUse();
        if (inUse.has(type)) {
            return { status: "holds", detail: `volumes of type ${type} exist`, programAction: action };
        }
        return {
            status: "cannot-tell",
            detail: `no volume of type ${type} exists yet (types in use: ${[...inUse].join(", ") || "none"}); the acceptance run's PVC proves it`,
            programAction: action,
        };
    },
};

/** Instances at the worst moment of an update: bastion, control plane, every group at max plus its surge. */
export function plannedInstances(stack: StackModel): number {
    const groups = Object.values(stack.cluster.nodeGroups).reduce((sum, g) => sum + g.maxSize + g.maxSurge, 0);
    return 1 + stack.cluster.controlPlane.count + groups;
}

/** Elastic IPs the network allocates: the bastion's, and the NAT gateway's when it builds the VPC. */
export function plannedAddresses(stack: StackModel): number {
    return stack.network.existingVpc ? 1 : 2;
}

export const quotasCheck: DoctorCheck = {
    id: "quotas",
    assumption: "the account's limits leave room for the planned instances and addresses",
    configKey: "controlPlaneCount / nodeGroups.<name>.maxSize / maxSurge",
    docs: "docs/doctor.md#the-checks",
    needed: () => true,
    async run({ stack, cloud }) {
        const limits = await cloud.accountLimits();
        const instances = plannedInstances(stack);
        const addresses = plannedAddresses(stack);
        const action = `plans up to ${instances} instance(s) and ${addresses} elastic IP(s)`;
        if (limits["max-instances"] === undefined) {
            return { status: "cannot-tell", detail: "DescribeAccountAttributes names no max-instances", programAction: action };
        }
        const running = (await cloud.instances()).filter((i) => i.state !== "terminated" && i.state !== "shutting-down").length;
        const problems: string[] = [];
        if (running + instances > limits["max-instances"]) {
            problems.push(`${running} running + ${instances} planned instances > max-instances ${limits["max-instances"]}`);
        }
        const eipLimit = limits["vpc-max-elastic-ips"];
        const eips = eipLimit === undefined ? 0 : await cloud.addressCount();
        if (eipLimit !== undefined && eips + addresses > eipLimit) {
            problems.push(`${eips} allocated + ${addresses} planned elastic IPs > vpc-max-elastic-ips ${eipLimit}`);
        }
        return problems.length === 0
            ? {
                  status: "holds",
                  detail: `${running} + ${instances} ≤ ${limits["max-instances"]} instances${eipLimit === undefined ? "" : `, ${eips} + ${addresses} ≤ ${eipLimit} elastic IPs`}`,
                  programAction: action,
              }
            : { status: "fails", detail: problems.join("; "), programAction: `${action}: raise the limit or lower the counts` };
    },
};

export const existingVpcCheck: DoctorCheck = {
    id: "existing-vpc",
    assumption: "a bring-your-own VPC and its subnets exist, the subnets in that VPC",
    configKey: "existingVpc",
    docs: "README.md#bring-your-own-vpc",
    needed: (stack) => stack.network.existingVpc !== undefined,
    async run({ stack, cloud }) {
        const existing = stack.network.existingVpc;
        if (!existing) {
            return { status: "holds", detail: "existingVpc is not set", programAction: "creates its own VPC, subnets, gateways and routes" };
        }
        if (!(await cloud.vpcExists(existing.vpcId))) {
            return { status: "fails", detail: `VPC ${existing.vpcId} does not exist`, programAction: "`pulumi up` fails at the first subnet lookup" };
        }
        const subnets = await cloud.subnets([existing.publicSubnetId, existing.privateSubnetId]);
        const problems: string[] = [];
        for (const id of [existing.publicSubnetId, existing.privateSubnetId]) {
            const subnet = subnets.get(id);
            if (!subnet) {
                problems.push(`subnet ${id} does not exist`);
            } else if (subnet.vpcId !== existing.vpcId) {
                problems.push(`subnet ${id} is in ${subnet.vpcId}, not ${existing.vpcId}`);
            }
        }
        const zones = [...new Set([...subnets.values()].map((s) => s.zone))].join(", ");
        return problems.length === 0
            ? { status: "holds", detail: `VPC ${existing.vpcId} with both subnets (zone ${zones})`, programAction: "places the cluster in this VPC" }
            : { status: "fails", detail: problems.join("; "), programAction: "fix existingVpc" };
    },
};

export const STACK_CHECKS: DoctorCheck[] = [imagesCheck, keyPairsCheck, instanceTypesCheck, volumeTypeCheck, quotasCheck, existingVpcCheck];
