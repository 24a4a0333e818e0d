// `--deep`: what only a running instance can tell. Starts ONE small instance (tagged
// `zadara-eksd-doctor=<env>`) in a temporary security group and always removes both again: in a
// `finally`, also when the caller aborts (the CLI aborts on Ctrl-C) or a step fails.
//
// What it learns:
//   - RunInstances with the metadataOptions the program sets for requireMetadataTokens: accepted?
//   - the instance's own view (metadata instance-id, host name), printed by its user data to the
//     serial console and read with GetConsoleOutput;
//   - whether that console shows the instance's SSH host keys (cloud-init prints them after the
//     user data ran): what `sshHostKeys: console` pins;
//   - the error code DeleteSecurityGroup gives for a group an instance still uses (the cleanup's
//     "in use" codes, cleanup/errors.ts);
//   - whether an ingress rule on the bastion's bundle port (8089) is accepted;
//   - whether termination protection (ModifyInstanceAttribute disableApiTermination) is accepted
//     and honoured: TerminateInstances must then be refused (a control-plane member's protection,
//     docs/lifecycle.md); lifted again before the probe is removed.
import * as EC2 from "@aws-sdk/client-ec2";
import type { StackModel } from "../model";
import { isInUse } from "../cleanup/errors";
import { CloudCallError } from "../cleanup/cloud";
import { ConsoleHostKeys, joinConsoleReads, parseConsoleHostKeys } from "../hostkeys/console";
import { DoctorCloud, errorCode } from "./cloud";
import type { Clock } from "../cleanup/types";

/** The bastion's boot bundle server port (infra/network.ts opens it to the VPC). */
export const BUNDLE_PORT = 8089;
export const DEEP_TAG = "zadara-eksd-doctor";
/** The line the user data prints; the doctor looks for it in the console output. */
export const CONSOLE_MARKER = "ZADARA-EKSD-DOCTOR";
export const DEFAULT_DEEP_TIMEOUT_SECONDS = 600;
const POLL_MS = 5_000;
/** cloud-init prints the host keys right after the user data: polls it gets once the probe's line is there. */
const HOST_KEY_POLLS_AFTER_MARKER = 12;

export interface DeepProbeResult {
    instanceId?: string;
    /** Undefined when RunInstances was never reached. */
    metadataOptionsAccepted?: boolean;
    metadataOptionsError?: string;
    /** What the instance printed about itself (undefined: nothing read before the deadline). */
    metadataInstanceId?: string;
    hostname?: string;
    privateDnsName?: string;
    /** What the console showed of the SSH host keys (undefined: never read). */
    consoleHostKeys?: ConsoleHostKeys;
    /** GetConsoleOutput's error, when the call failed. */
    consoleError?: string;
    /** The code DeleteSecurityGroup answered while the instance used the group. */
    inUseCode?: string;
    /** True when the cloud deleted a group an instance still used. */
    inUseDeleted?: boolean;
    bundlePortRuleAccepted?: boolean;
    bundlePortError?: string;
    /** ModifyInstanceAttribute disableApiTermination=true: accepted? (undefined: not tried) */
    terminationProtectionAccepted?: boolean;
    terminationProtectionError?: string;
    /** The code TerminateInstances answered while the protection was on (undefined: it terminated). */
    protectedTerminateCode?: string;
    /** What could not be removed (ids), empty when everything is gone. */
    leftovers: string[];
    /** The step that stopped the probe early, if any. */
    error?: string;
}

/** The user data: prints the instance's own id and host name to the console, nothing else. */
export function probeUserData(): string {
    const script = [
        "#!/bin/sh",
        "md=http://169.254.169.254/latest",
        // IMDSv2 where the instance requires it (metadataOptions accepted), v1 otherwise.
        'token=$(curl -s -m 5 -X PUT "$md/api/token" -H "X-aws-ec2-metadata-token-ttl-seconds: 60" || true)',
        'id=$(curl -s -m 5 ${token:+-H "X-aws-ec2-metadata-token: $token"} "$md/meta-data/instance-id")',
        `echo "${CONSOLE_MARKER} instance-id=$id hostname=$(hostname)" > /dev/console`,
        `echo "${CONSOLE_MARKER} instance-id=$id hostname=$(hostname)"`,
    ];
    return Buffer.from(script.join("\n") + "\n").toString("base64");
}

/** `ZADARA-EKSD-DOCTOR instance-id=i-1 hostname=h` → its fields (last marker line wins). */
export function parseConsole(text: string): { instanceId: string; hostname: string } | undefined {
    const matches = [...text.matchAll(new RegExp(`${CONSOLE_MARKER} instance-id=(\\S*) hostname=(\\S*)`, "g"))];
    const last = matches.at(-1);
    return last ? { instanceId: last[1], hostname: last[2] } : undefined;
}

export interface DeepProbeArgs {
    stack: StackModel;
    cloud: DoctorCloud;
    clock: Clock;
    signal: AbortSignal;
    timeoutSeconds: number;
    /** Subnet for the instance; default: the existing VPC's private subnet, else the first one listed. */
    subnetId?: string;
    log: (message: string) => void;
}

export class DeepProbe {
    constructor(private readonly args: DeepProbeArgs) {}

    async run(): Promise<DeepProbeResult> {
        const { cloud, stack, log } = this.args;
        const result: DeepProbeResult = { leftovers: [] };
        const deadline = this.args.clock.now() + this.args.timeoutSeconds * 1000;
        const name = `${stack.environment}-doctor`;
        let groupId: string | undefined;
        try {
            const subnet = await this.subnet();
            groupId = await this.step("CreateSecurityGroup", async () => {
                const out = await cloud.call("ec2:CreateSecurityGroup", () =>
                    cloud.ec2.send(
                        new EC2.CreateSecurityGroupCommand({
                            GroupName: `${name}-${this.args.clock.now().toString(36)}`,
                            Description: "zadara-eksd doctor --deep (removed when it ends)",
                            VpcId: subnet.vpcId,
                        }),
                    ),
                );
                return out.GroupId ?? "";
            });
            log(`created security group ${groupId}`);
            // zCompute rejects tags at CreateSecurityGroup: tag afterwards.
            await cloud.call("ec2:CreateTags", () => cloud.ec2.send(new EC2.CreateTagsCommand({ Resources: [groupId ?? ""], Tags: this.tags(name) })));
            await this.bundlePortRule(groupId, result);
            this.abortIfAsked();
            result.instanceId = await this.runInstance(subnet.id, groupId, name, result);
            log(`started instance ${result.instanceId}`);
            await this.deleteGroupInUse(groupId, result);
            if (result.inUseDeleted) {
                groupId = undefined;
            }
            await this.readConsole(result.instanceId, deadline, result);
            await this.terminationProtection(result.instanceId, result);
        } catch (error) {
            result.error = error instanceof Error ? error.message : String(error);
            log(`stopped early: ${result.error}`);
        } finally {
            await this.remove(result, groupId);
        }
        return result;
    }

    private tags(name: string): EC2.Tag[] {
        return [
            { Key: "Name", Value: name },
            { Key: DEEP_TAG, Value: this.args.stack.environment },
        ];
    }

    private abortIfAsked(): void {
        if (this.args.signal.aborted) {
            throw new Error("interrupted (Ctrl-C): removing what was created");
        }
    }

    private async step<T>(what: string, run: () => Promise<T>): Promise<T> {
        this.abortIfAsked();
        try {
            return await run();
        } catch (error) {
            throw new Error(`${what} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
    }

    private async subnet(): Promise<{ id: string; vpcId: string }> {
        const wanted = this.args.subnetId ?? this.args.stack.network.existingVpc?.privateSubnetId;
        if (wanted) {
            const found = await this.args.cloud.subnets([wanted]);
            const subnet = found.get(wanted);
            if (!subnet) {
                throw new Error(`subnet ${wanted} does not exist (pass --subnet-id <id>)`);
            }
            return { id: wanted, vpcId: subnet.vpcId };
        }
        const first = await this.args.cloud.firstSubnet();
        if (!first) {
            throw new Error("the cloud lists no subnet to start the probe instance in: pass --subnet-id <id>");
        }
        return first;
    }

    private async bundlePortRule(groupId: string, result: DeepProbeResult): Promise<void> {
        try {
            await this.args.cloud.call("ec2:AuthorizeSecurityGroupIngress", () =>
                this.args.cloud.ec2.send(
                    new EC2.AuthorizeSecurityGroupIngressCommand({
                        GroupId: groupId,
                        IpPermissions: [
                            { IpProtocol: "tcp", FromPort: BUNDLE_PORT, ToPort: BUNDLE_PORT, IpRanges: [{ CidrIp: this.args.stack.network.vpcCidr }] },
                        ],
                    }),
                ),
            );
            result.bundlePortRuleAccepted = true;
        } catch (error) {
            result.bundlePortRuleAccepted = false;
            result.bundlePortError = error instanceof Error ? error.message : String(error);
        }
    }

    /** First with the metadata options requireMetadataTokens sets; without them if refused. */
    private async runInstance(subnetId: string, groupId: string, name: string, result: DeepProbeResult): Promise<string> {
        const base: EC2.RunInstancesCommandInput = {
            ImageId: this.args.stack.cluster.controlPlane.amiId,
            InstanceType: this.args.stack.bastion.instanceType as EC2._InstanceType,
            MinCount: 1,
            MaxCount: 1,
            SubnetId: subnetId,
            SecurityGroupIds: [groupId],
            UserData: probeUserData(),
            // Only the instance: a volume TagSpecification is what zCompute rejects.
            TagSpecifications: [{ ResourceType: "instance", Tags: this.tags(name) }],
        };
        const start = async (input: EC2.RunInstancesCommandInput) => {
            const out = await this.args.cloud.call("ec2:RunInstances", () => this.args.cloud.ec2.send(new EC2.RunInstancesCommand(input)));
            const id = out.Instances?.[0]?.InstanceId;
            if (!id) {
                throw new Error("RunInstances answered without an instance id");
            }
            return id;
        };
        try {
            const id = await start({ ...base, MetadataOptions: { HttpEndpoint: "enabled", HttpTokens: "required", HttpPutResponseHopLimit: 1 } });
            result.metadataOptionsAccepted = true;
            return id;
        } catch (error) {
            result.metadataOptionsAccepted = false;
            result.metadataOptionsError = error instanceof Error ? error.message : String(error);
        }
        this.abortIfAsked();
        return this.step("RunInstances (without metadataOptions)", () => start(base));
    }

    /** Protection on, a terminate that must be refused, protection off again (remove() lifts it too). */
    private async terminationProtection(instanceId: string, result: DeepProbeResult): Promise<void> {
        this.abortIfAsked();
        try {
            await this.protect(instanceId, true);
            result.terminationProtectionAccepted = true;
        } catch (error) {
            result.terminationProtectionAccepted = false;
            result.terminationProtectionError = error instanceof Error ? error.message : String(error);
            return;
        }
        try {
            await this.args.cloud.call("ec2:TerminateInstances", () =>
                this.args.cloud.ec2.send(new EC2.TerminateInstancesCommand({ InstanceIds: [instanceId] })),
            );
        } catch (error) {
            result.protectedTerminateCode = errorCode(error);
        }
        await this.protect(instanceId, false).catch(() => undefined);
    }

    private async protect(instanceId: string, on: boolean): Promise<void> {
        await this.args.cloud.call("ec2:ModifyInstanceAttribute", () =>
            this.args.cloud.ec2.send(new EC2.ModifyInstanceAttributeCommand({ InstanceId: instanceId, DisableApiTermination: { Value: on } })),
        );
    }

    private async deleteGroupInUse(groupId: string, result: DeepProbeResult): Promise<void> {
        try {
            await this.args.cloud.call("ec2:DeleteSecurityGroup", () => this.args.cloud.ec2.send(new EC2.DeleteSecurityGroupCommand({ GroupId: groupId })));
            result.inUseDeleted = true;
        } catch (error) {
            result.inUseCode = errorCode(error);
        }
    }

    /** Until the probe's own line and the host-key block are both on the console (or the deadline). */
    private async readConsole(instanceId: string, deadline: number, result: DeepProbeResult): Promise<void> {
        const { cloud, clock } = this.args;
        let text = "";
        let pollsAfterMarker = 0;
        while (clock.now() < deadline) {
            this.abortIfAsked();
            const instance = await cloud.instance(instanceId);
            result.privateDnsName = instance?.privateDnsName;
            try {
                text = joinConsoleReads(text, await cloud.consoleOutput(instanceId));
            } catch (error) {
                result.consoleError = error instanceof Error ? error.message : String(error);
                throw error;
            }
            const seen = parseConsole(text);
            if (seen) {
                result.metadataInstanceId = seen.instanceId;
                result.hostname = seen.hostname;
            }
            result.consoleHostKeys = parseConsoleHostKeys(text);
            if (seen && (result.consoleHostKeys.kind !== "none" || pollsAfterMarker++ >= HOST_KEY_POLLS_AFTER_MARKER)) {
                return;
            }
            await clock.sleep(POLL_MS);
        }
    }

    /** Terminates the instance and deletes the group; never throws, lists what is left. */
    private async remove(result: DeepProbeResult, groupId: string | undefined): Promise<void> {
        const { cloud, clock, log } = this.args;
        // Removal gets its own budget: an interrupted or timed-out probe must still clean up.
        const deadline = clock.now() + 300_000;
        if (result.instanceId) {
            const id = result.instanceId;
            if (result.terminationProtectionAccepted) {
                // Lifted after the refused terminate already; once more in case that step was cut.
                await this.protect(id, false).catch(() => undefined);
            }
            try {
                await cloud.call("ec2:TerminateInstances", () => cloud.ec2.send(new EC2.TerminateInstancesCommand({ InstanceIds: [id] })));
                while (clock.now() < deadline && (await cloud.instance(id))?.state !== "terminated") {
                    await clock.sleep(POLL_MS);
                }
                log(`terminated instance ${id}`);
            } catch (error) {
                log(`could not terminate ${id}: ${error instanceof Error ? error.message : String(error)}`);
            }
            if ((await cloud.instance(id).catch(() => undefined))?.state !== "terminated") {
                result.leftovers.push(id);
            }
        }
        if (groupId) {
            const id = groupId;
            for (;;) {
                try {
                    await cloud.call("ec2:DeleteSecurityGroup", () => cloud.ec2.send(new EC2.DeleteSecurityGroupCommand({ GroupId: id })));
                    log(`deleted security group ${id}`);
                    break;
                } catch (error) {
                    const code = errorCode(error);
                    if (/NotFound/.test(code)) {
                        break;
                    }
                    const inUse = isInUse(new CloudCallError("ec2:DeleteSecurityGroup", code, ""));
                    if (!inUse || clock.now() >= deadline) {
                        log(`could not delete security group ${id}: ${code}`);
                        result.leftovers.push(id);
                        break;
                    }
                    await clock.sleep(POLL_MS);
                }
            }
        }
    }
}
