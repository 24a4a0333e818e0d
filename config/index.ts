// Builds the typed StackModel from the raw stack configuration: schema (config/schema.ts) per
// key, then the rules across keys (config/rules.ts), then the computed defaults. Every problem
// is reported at once. This module reads nothing itself: index.ts hands it Pulumi's config.
import * as pulumi from "@pulumi/pulumi";
import { EKSD_RELEASES } from "../cluster/versions";
import type { EtcdBackupExportModel, NodeGroupModel, StackModel } from "../model";
import { describeIssue, meaningfulIssues } from "./issues";
import { placeholderFindings, placeholdersAcceptedByDefault } from "./placeholders";
import { jsonValueOf, plainTextSecretProblems, RawStackConfig, unknownKeyProblems } from "./raw";
import { ignoredProviderKeyProblems, inputProblems } from "./input-rules";
import { crossKeyProblems, groupSizes, ValidValues } from "./rules";
import { CONFIG_KEYS, NODE_GROUP_DEFAULTS, PROJECT_NAME, StackConfigValues } from "./schema";

export { PROJECT_NAME } from "./schema";
export type { RawStackConfig } from "./raw";
export { secretKeysFromEnvironment } from "./raw";
export { acceptPlaceholdersForOfflinePlan, placeholderFindings } from "./placeholders";
/** @deprecated the model's name is StackModel. */
export type StackConfig = StackModel;

export class ConfigValidationError extends Error {
    constructor(public readonly problems: string[]) {
        super(`Stack configuration has ${problems.length} problem${problems.length === 1 ? "" : "s"}:\n` + problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ConfigValidationError";
    }
}

function placeholdersAccepted(raw: RawStackConfig): boolean {
    return (raw.placeholders ?? (placeholdersAcceptedByDefault() ? "allow" : "refuse")) === "allow";
}

/** Builds the typed stack model, or throws ConfigValidationError listing every problem. */
export function loadStackConfig(raw: RawStackConfig): StackModel {
    const problems: string[] = [...unknownKeyProblems(raw.values), ...plainTextSecretProblems(raw)];
    if (!placeholdersAccepted(raw)) {
        problems.push(...placeholderFindings(raw.values).map((finding) => finding.problem));
    }
    const valid: Record<string, unknown> = {};
    const validKeys = new Set<string>();
    for (const definition of CONFIG_KEYS) {
        const input = jsonValueOf(definition.kind, raw.values[`${PROJECT_NAME}:${definition.key}`]);
        const result = definition.schema.safeParse(input, { reportInput: true });
        if (result.success) {
            valid[definition.key] = result.data;
            validKeys.add(definition.key);
        } else {
            for (const issue of meaningfulIssues(result.error.issues)) {
                problems.push(...describeIssue(definition.key, issue));
            }
        }
    }
    const v = valid as ValidValues;
    const has = (name: keyof StackConfigValues) => validKeys.has(name);

    const environment = v.environment ?? raw.stack.toLowerCase().replace(/[^a-z0-9-]/g, "-");
    if (has("environment") && v.environment === undefined && !/^[a-z][a-z0-9-]{0,19}$/.test(environment)) {
        problems.push(
            `${PROJECT_NAME}:environment: the stack name "${raw.stack}" gives "${environment}", which is not an environment name (a letter, then lowercase letters, digits, '-', at most 20). Fix: pulumi config set environment dev`,
        );
    }
    const production = v.production ?? /^prod/.test(raw.stack);
    problems.push(...crossKeyProblems(v, has, { stack: raw.stack, environment, production, env: raw.env ?? {} }));
    problems.push(...inputProblems(v, { offlinePlaceholders: placeholdersAccepted(raw) }), ...ignoredProviderKeyProblems(raw.values));
    if (problems.length > 0) {
        throw new ConfigValidationError(problems);
    }
    return buildModel(raw, v as StackConfigValues, environment, production);
}

function buildModel(raw: RawStackConfig, v: StackConfigValues, environment: string, production: boolean): StackModel {
    const env = raw.env ?? {};
    const secret = (value: string | undefined) => (value === undefined ? undefined : pulumi.secret(value));
    const apiHost = v.apiEndpoint.replace(/^https:\/\//i, "").replace(/\/$/, "");
    const nodeGroups: Record<string, NodeGroupModel> = {};
    for (const [name, group] of Object.entries(v.nodeGroups)) {
        nodeGroups[name] = {
            instanceType: group.instanceType ?? NODE_GROUP_DEFAULTS.instanceType,
            ...groupSizes(group),
            volumeSize: group.volumeSize ?? NODE_GROUP_DEFAULTS.volumeSize,
            amiId: group.amiId ?? v.workerAmiId,
            labels: group.labels ?? {},
            taints: group.taints ?? [],
            cooldown: group.cooldown ?? NODE_GROUP_DEFAULTS.cooldown,
            maxSurge: group.maxSurge ?? NODE_GROUP_DEFAULTS.maxSurge,
            maxUnavailable: group.maxUnavailable ?? NODE_GROUP_DEFAULTS.maxUnavailable,
            drainTimeoutSeconds: group.drainTimeoutSeconds ?? NODE_GROUP_DEFAULTS.drainTimeoutSeconds,
        };
    }
    return {
        stack: raw.stack,
        environment,
        production,
        tags: v.tags,
        cloud: {
            apiUrl: `https://${apiHost.toLowerCase()}`,
            accessKey: secret(v.accessKey ?? env.AWS_ACCESS_KEY_ID),
            secretKey: secret(v.secretKey ?? env.AWS_SECRET_ACCESS_KEY),
            insecure: v.insecure,
            rootCaCert: v.rootCaCert,
        },
        network: {
            vpcCidr: v.vpcCidr,
            publicSubnetCidr: v.publicSubnetCidr,
            privateSubnetCidr: v.privateSubnetCidr,
            dnsServers: v.dnsServers,
            dnsDomain: v.dnsDomain,
            existingVpc: v.existingVpc,
            apiPublic: v.apiPublic,
            apiAllowedCidrs: v.apiAllowedCidrs,
        },
        bastion: {
            amiId: v.bastionAmiId,
            instanceType: v.bastionInstanceType,
            keyName: v.bastionKeyName,
            sshUser: v.bastionSshUser,
            sshPrivateKey: pulumi.secret(v.bastionSshPrivateKey),
            sshCidrs: v.bastionSshCidrs,
        },
        cluster: {
            eksdVersion: v.eksdVersion,
            kubernetesVersion: v.kubernetesVersion ?? EKSD_RELEASES[v.eksdVersion].kubernetesVersion,
            podCidr: v.podCidr,
            serviceCidr: v.serviceCidr,
            controlPlane: {
                count: v.controlPlaneCount,
                mode: v.controlPlaneMode,
                instanceType: v.controlPlaneInstanceType,
                volumeSize: v.controlPlaneVolumeSize,
                amiId: v.controlPlaneAmiId,
                instanceProfile: v.controlPlaneInstanceProfile,
            },
            workerInstanceProfile: v.workerInstanceProfile,
            nodeGroups,
            nodeKeyName: v.nodeKeyName,
            nodeSshUser: v.nodeSshUser,
            nodeSshPrivateKey: pulumi.secret(v.nodeSshPrivateKey ?? v.bastionSshPrivateKey),
            kubeconfigTimeoutMinutes: v.kubeconfigTimeoutMinutes,
            etcdBackupRotation: v.etcdBackupRotation,
            etcdBackupExport: etcdBackupExportOf(v),
            adminCredentialValidityHours: v.adminCredentialValidityHours,
            // Workers the autoscaler starts join long after `pulumi up`: a week by default.
            workerJoinTokenTtlHours: v.workerJoinTokenTtlHours ?? (v.autoscaler ? 168 : 24),
            sshHostKeys: v.sshHostKeys,
        },
        hardening: {
            auditLog: v.auditLog,
            secretsEncryption: v.secretsEncryption,
            secretsEncryptionKeyVersion: v.secretsEncryptionKeyVersion,
            kubeletHardening: v.kubeletHardening,
            apiServerProfiling: v.apiServerProfiling,
            requireMetadataTokens: v.requireMetadataTokens,
        },
        addons: {
            cni: v.cni,
            volumeType: v.volumeType,
            ebsCsi: v.ebsCsi,
            loadBalancerController: v.loadBalancerController,
            autoscaler: v.autoscaler,
            kasten: v.kasten,
            metricsServer: v.metricsServer,
            autoscalerScaleDownUnneededTime: v.autoscalerScaleDownUnneededTime,
            autoscalerScaleDownDelayAfterAdd: v.autoscalerScaleDownDelayAfterAdd,
            overrides: Object.fromEntries(Object.entries(v.addonOverrides).filter(([, o]) => o !== undefined)),
        },
    };
}

/** The etcd backup export, when etcdBackupBucket is set. */
function etcdBackupExportOf(v: StackConfigValues): EtcdBackupExportModel | undefined {
    if (v.etcdBackupBucket === undefined) {
        return undefined;
    }
    const { etcdBackupAccessKeyId: accessKeyId, etcdBackupSecretAccessKey: secretAccessKey } = v;
    if (accessKeyId === undefined || secretAccessKey === undefined) {
        // crossKeyProblems rejects a bucket without both credentials before the model is built.
        throw new Error("buildModel: etcdBackupBucket is set without etcdBackupAccessKeyId and etcdBackupSecretAccessKey, which config/rules.ts requires");
    }
    return {
        bucket: v.etcdBackupBucket,
        endpoint: v.etcdBackupEndpoint,
        region: v.etcdBackupRegion,
        accessKeyId: pulumi.secret(accessKeyId),
        secretAccessKey: pulumi.secret(secretAccessKey),
    };
}
