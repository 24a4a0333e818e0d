// The production rules as a Pulumi CrossGuard policy pack:
//   pulumi preview --policy-pack policy
// Every policy is mandatory and applies to production stacks only: a stack named prod*, or any
// stack tagged zadara-eksd:production=true (pulumi stack tag set zadara-eksd:production true);
// the tag set to false exempts a prod* stack. A platform team lowers one policy to advisory
// with Pulumi's own --policy-pack-config. The rules themselves are in ./rules.ts.
import { PolicyPack, StackValidationPolicy } from "@pulumi/policy";
import { isProductionStack, PRODUCTION_POLICIES, ProductionPolicy, stackOfUrn } from "./rules";

function stackPolicy(policy: ProductionPolicy): StackValidationPolicy {
    return {
        name: policy.name,
        description: policy.description,
        enforcementLevel: "mandatory",
        validateStack: (args, reportViolation) => {
            const first = args.resources[0];
            if (first === undefined || !isProductionStack(stackOfUrn(first.urn), args.stackTags)) {
                return;
            }
            for (const message of policy.check(args.resources)) {
                reportViolation(message);
            }
        },
    };
}

new PolicyPack("zadara-eksd-production", { policies: PRODUCTION_POLICIES.map(stackPolicy) });
