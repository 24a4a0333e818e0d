// The JSON Schema of Pulumi.<stack>.yaml for editors (YAML language servers), generated from
// config/schema.ts with z.toJSONSchema. Top-level values may be written the way Pulumi stores
// them ("3", "true") and secrets as `{secure: ...}`; inside structured values types are exact.
import { z } from "zod";
import { CONFIG_KEYS, PROJECT_NAME } from "./schema";

type JsonSchema = Record<string, unknown>;

function keySchema(schema: z.ZodType): JsonSchema {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
    delete json.$schema;
    return json;
}

export function stackFileJsonSchema(): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    for (const definition of CONFIG_KEYS) {
        const base = keySchema(definition.schema);
        const { description, default: defaultValue, ...typed } = base;
        const variants: JsonSchema[] = [typed];
        if (definition.kind === "integer" || definition.kind === "number") {
            variants.push({ type: "string", pattern: definition.kind === "integer" ? "^-?[0-9]+$" : "^-?[0-9]+(\\.[0-9]+)?$" });
        } else if (definition.kind === "boolean") {
            variants.push({ type: "string", enum: ["true", "false"] });
        }
        if (definition.secret) {
            variants.push({ type: "object", properties: { secure: { type: "string" } }, required: ["secure"], additionalProperties: false });
        }
        properties[`${PROJECT_NAME}:${definition.key}`] = {
            description,
            ...(defaultValue !== undefined ? { default: defaultValue } : {}),
            ...(variants.length === 1 ? typed : { anyOf: variants }),
        };
    }
    return {
        $schema: "https://json-schema.org/draft/2020-12/schema",
        $id: "https://zadara-eksd.invalid/schema/stack-config.schema.json",
        title: "Pulumi.<stack>.yaml of zadara-eksd",
        description: "Generated from config/schema.ts by `npm run docs`: do not edit.",
        type: "object",
        properties: {
            config: {
                type: "object",
                properties,
                // Other namespaces (aws:, kubernetes:, ...) belong to providers; ours is closed.
                patternProperties: { [`^(?!${PROJECT_NAME}:)[^:]+:.+$`]: {} },
                additionalProperties: false,
            },
            secretsprovider: { type: "string" },
            encryptedkey: { type: "string" },
            encryptionsalt: { type: "string" },
            environment: {},
        },
        additionalProperties: false,
    };
}
