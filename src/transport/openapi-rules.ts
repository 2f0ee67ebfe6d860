import { getOption, hasOption, isFieldSet, type DescField } from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import { field as validateField, Ignore, RepeatedRulesSchema, StringRulesSchema, type FieldRules } from "../../gen/buf/validate/validate_pb.js";

/**
 * A request field's `buf.validate` rules in JSON Schema terms, so that
 * /openapi.json states what the validator (rpc/request-validation.ts)
 * enforces: a fuzzer that keeps to the document is never refused with 400,
 * and one that breaks it always is.
 *
 * Translated: `required`; string `len`, `min_len`, `max_len`, `pattern`;
 * numeric `gt`, `gte`, `lt`, `lte`; enum `defined_only`, `in`, `not_in`;
 * repeated `min_items`, `max_items`, `unique` and the string or numeric
 * rules of their `items`. Other rules are enforced but not documented here.
 */
export interface FieldConstraints {
  /**
   * The field must be in the JSON body: its zero value breaks a rule (the
   * REST dialect reads an absent implicit-presence field as its zero value).
   */
  readonly required: boolean;
  /**
   * Keywords for the field's value: minLength, maxLength, pattern, minimum,
   * exclusiveMaximum…; for a repeated field minItems, maxItems, uniqueItems
   * and `items`, the keywords of each element.
   */
  readonly keywords: Readonly<Record<string, unknown>>;
  /** Enum fields only: the numbers the rules accept, in declaration order. */
  readonly enumNumbers?: readonly number[];
}

const NONE: FieldConstraints = { required: false, keywords: {} };

export function fieldConstraints(field: DescField): FieldConstraints {
  if (!hasOption(field, validateField)) return NONE;
  const rules = getOption(field, validateField);
  if (rules.ignore === Ignore.ALWAYS) return NONE;
  // Absent means the zero value only without explicit presence (not `optional`, not a message).
  const implicit = field.fieldKind !== "message" && field.presence === FeatureSet_FieldPresence.IMPLICIT;
  const keywords = rules.type.case === "repeated" ? repeatedKeywords(rules) : valueKeywords(rules, implicit);
  const enumNumbers = field.fieldKind === "enum" ? acceptedEnumNumbers(field, rules) : undefined;
  const zeroChecked = implicit && rules.ignore !== Ignore.IF_ZERO_VALUE;
  const required = rules.required || (zeroChecked && !zeroAccepted(keywords, enumNumbers));
  return { required, keywords, ...(enumNumbers && { enumNumbers }) };
}

/** Whether the zero value ("", 0, the first enum value) passes, as far as the keywords tell. */
function zeroAccepted(keywords: Record<string, unknown>, enumNumbers: readonly number[] | undefined): boolean {
  if (enumNumbers) return enumNumbers.includes(0);
  const n = (key: string) => keywords[key] as number | undefined;
  return !(
    (n("minLength") ?? 0) > 0 ||
    (n("minItems") ?? 0) > 0 ||
    !matchesEmpty(keywords["pattern"]) ||
    (n("minimum") ?? -Infinity) > 0 ||
    (n("exclusiveMinimum") ?? -Infinity) >= 0 ||
    (n("maximum") ?? Infinity) < 0 ||
    (n("exclusiveMaximum") ?? Infinity) <= 0
  );
}

/** Whether a pattern (RE2; the simple ones read the same in JavaScript) accepts "". Unreadable: assume so. */
function matchesEmpty(pattern: unknown): boolean {
  if (typeof pattern !== "string") return true;
  try {
    return new RegExp(pattern, "u").test("");
  } catch {
    return true;
  }
}

/** Keywords of one value (a field, or an element of a repeated field): string rules or a numeric range. */
function valueKeywords(rules: FieldRules, implicit: boolean): Record<string, unknown> {
  return rules.type.case === "string" ? stringKeywords(rules, implicit) : rangeKeywords(rules.type.value);
}

function repeatedKeywords(rules: FieldRules): Record<string, unknown> {
  if (rules.type.case !== "repeated") return {};
  const repeated = rules.type.value;
  const keywords: Record<string, unknown> = {};
  if (isFieldSet(repeated, RepeatedRulesSchema.field.minItems)) keywords["minItems"] = Number(repeated.minItems);
  if (isFieldSet(repeated, RepeatedRulesSchema.field.maxItems)) keywords["maxItems"] = Number(repeated.maxItems);
  if (repeated.unique) keywords["uniqueItems"] = true;
  // An element is always present, so `required` (not empty) and the zero value are checked like any value.
  const items = repeated.items ? valueKeywords(repeated.items, true) : {};
  if (Object.keys(items).length > 0) keywords["items"] = items;
  return keywords;
}

function stringKeywords(rules: FieldRules, implicit: boolean): Record<string, unknown> {
  if (rules.type.case !== "string") return {};
  const string = rules.type.value;
  const keywords: Record<string, unknown> = {};
  let minLength = 0;
  if (isFieldSet(string, StringRulesSchema.field.len)) {
    minLength = Number(string.len);
    keywords["maxLength"] = Number(string.len);
  }
  if (isFieldSet(string, StringRulesSchema.field.minLen)) minLength = Math.max(minLength, Number(string.minLen));
  if (isFieldSet(string, StringRulesSchema.field.maxLen)) keywords["maxLength"] = Number(string.maxLen);
  // `required` on a field without presence means "not the empty string".
  if (rules.required && implicit) minLength = Math.max(minLength, 1);
  if (minLength > 0) keywords["minLength"] = minLength;
  if (isFieldSet(string, StringRulesSchema.field.pattern)) keywords["pattern"] = string.pattern;
  return keywords;
}

/** The shape every numeric rule message (Int32Rules, DoubleRules, …) shares. */
interface RangeRules {
  readonly lessThan: { readonly case: "lt" | "lte"; readonly value: number | bigint } | { readonly case: undefined };
  readonly greaterThan: { readonly case: "gt" | "gte"; readonly value: number | bigint } | { readonly case: undefined };
}

function isRange(value: unknown): value is RangeRules {
  return typeof value === "object" && value !== null && "lessThan" in value && "greaterThan" in value;
}

function rangeKeywords(rules: unknown): Record<string, number> {
  if (!isRange(rules)) return {};
  const keywords: Record<string, number> = {};
  const upper = rules.lessThan.case === undefined ? undefined : Number(rules.lessThan.value);
  const lower = rules.greaterThan.case === undefined ? undefined : Number(rules.greaterThan.value);
  // A lower bound above the upper one means "outside the range", which these keywords cannot say.
  if (upper !== undefined && lower !== undefined && lower > upper) return {};
  if (rules.lessThan.case === "lt") keywords["exclusiveMaximum"] = Number(rules.lessThan.value);
  if (rules.lessThan.case === "lte") keywords["maximum"] = Number(rules.lessThan.value);
  if (rules.greaterThan.case === "gt") keywords["exclusiveMinimum"] = Number(rules.greaterThan.value);
  if (rules.greaterThan.case === "gte") keywords["minimum"] = Number(rules.greaterThan.value);
  return keywords;
}

function acceptedEnumNumbers(field: DescField, rules: FieldRules): number[] {
  if (field.fieldKind !== "enum") return [];
  const enumRules = rules.type.case === "enum" ? rules.type.value : undefined;
  return field.enum.values
    .map((v) => v.number)
    .filter((n) => !(enumRules?.notIn.includes(n) ?? false))
    .filter((n) => (enumRules?.in.length ? enumRules.in.includes(n) : true))
    .filter((n) => !(rules.required && n === 0));
}
