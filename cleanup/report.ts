// What the cleanup prints: one line per resource, the counts, and at the deadline a table of
// what remains with the command that removes each.
import { zcomputeServiceUrl } from "../infra/service-url";
import { ZCOMPUTE_REGION } from "./cloud";
import type { Action, FoundResource } from "./types";

export function resourceLine(resource: FoundResource, action: Action, detail?: string): string {
    const label = resource.name && resource.name !== resource.id && resource.kind !== "network-interface" ? ` (${resource.name})` : "";
    return `${resource.kind} ${resource.id}${label} ${resource.owner} ${action}${detail ? `: ${detail}` : ""}`;
}

export interface CommandContext {
    baseUrl: string;
    insecure?: boolean;
}

function aws(ctx: CommandContext, service: "ec2" | "elbv2", cli: string, args: string): string {
    const tls = ctx.insecure ? " --no-verify-ssl" : "";
    return `aws --region ${ZCOMPUTE_REGION} --endpoint-url ${zcomputeServiceUrl(ctx.baseUrl, service)}${tls} ${cli} ${args}`;
}

/** The command(s) an operator runs to remove one resource by hand. */
export function removalCommand(resource: FoundResource, ctx: CommandContext, attachedTo?: string[]): string {
    switch (resource.kind) {
        case "load-balancer":
            return aws(ctx, "elbv2", "elbv2", `delete-load-balancer --load-balancer-arn ${resource.id}`);
        case "classic-elb":
            // zCompute serves the classic ELB API under the elbv2 path.
            return aws(ctx, "elbv2", "elb", `delete-load-balancer --load-balancer-name ${resource.id}`);
        case "listener":
            return aws(ctx, "elbv2", "elbv2", `delete-listener --listener-arn ${resource.id}`);
        case "target-group":
            return aws(ctx, "elbv2", "elbv2", `delete-target-group --target-group-arn ${resource.id}`);
        case "security-group":
            return aws(ctx, "ec2", "ec2", `delete-security-group --group-id ${resource.id}`);
        case "volume": {
            const remove = aws(ctx, "ec2", "ec2", `delete-volume --volume-id ${resource.id}`);
            if (attachedTo && attachedTo.length > 0) {
                // Never forced: detach only once nothing on that node uses it.
                const detach = aws(ctx, "ec2", "ec2", `detach-volume --volume-id ${resource.id} --instance-id ${attachedTo[0]}`);
                return `${detach} && ${remove}`;
            }
            return remove;
        }
        case "snapshot":
            return aws(ctx, "ec2", "ec2", `delete-snapshot --snapshot-id ${resource.id}`);
        case "network-interface":
            return aws(ctx, "ec2", "ec2", `delete-network-interface --network-interface-id ${resource.id}`);
    }
}

export interface Remaining {
    resource: FoundResource;
    lastError?: string;
    attachedTo?: string[];
}

export function remainingTable(items: Remaining[], ctx: CommandContext): string[] {
    const lines = ["KIND               ID / NAME                                    OWNER TAG                       WHY IT REMAINS"];
    for (const { resource, lastError } of items) {
        const why = lastError ?? resource.waitingFor ?? "not deleted yet";
        lines.push(
            `${resource.kind.padEnd(18)} ${(resource.name && resource.kind !== "network-interface" ? `${resource.id} (${resource.name})` : resource.id).padEnd(44)} ${resource.owner.padEnd(31)} ${why}`,
        );
    }
    lines.push("", "Commands that remove them (in this order; security groups after the load balancers that hold them):");
    for (const { resource, attachedTo } of items) {
        lines.push(`  ${removalCommand(resource, ctx, attachedTo)}`);
    }
    return lines;
}
